-- Which keys a value is sealed under: 1, its subject's (or the system) key alone; 2, that key
-- combined with the key of its retention bucket (field kind and day), which a purge destroys once
-- the bucket is empty, so purged ciphertext left anywhere cannot be opened.
ALTER TABLE content ADD COLUMN key_scheme INTEGER NOT NULL DEFAULT 1;
