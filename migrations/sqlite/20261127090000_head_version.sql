-- Every transaction that takes the chain head's lock moves `version`, whether or not it appends:
-- an append that looked up duplicates and subjects without the lock can then write with one
-- guarded statement, which writes nothing if anything else held the lock since (PostgreSQL).
ALTER TABLE chain_head ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
