-- Key rotation. The root secret (wrapped under the master key) is what the blind indexes and the
-- signing key derive from, so a new master key re-wraps it instead of changing every lookup.
-- Each data key records the generation of the master key that wraps it; while a rotation is in
-- flight `next_check` names the key it moves to, and rows move one batch per transaction.

ALTER TABLE keystore_meta ADD COLUMN root BYTEA;
ALTER TABLE keystore_meta ADD COLUMN generation BIGINT NOT NULL DEFAULT 0;
ALTER TABLE keystore_meta ADD COLUMN next_check BYTEA;
ALTER TABLE data_keys ADD COLUMN generation BIGINT NOT NULL DEFAULT 0;
CREATE INDEX data_keys_by_generation ON data_keys (generation);
