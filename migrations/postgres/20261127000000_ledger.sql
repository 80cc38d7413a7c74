-- The ledger: a hash chain of non-personal metadata, the sealed content it commits to, and the
-- blind index that finds a data subject without storing a phone number. Times: Unix seconds.

CREATE TABLE chain_head (
    id   SMALLINT PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash BYTEA    NOT NULL
);
INSERT INTO chain_head (id, seq, hash) VALUES (1, 0, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea);

CREATE TABLE chain (
    seq            BIGINT PRIMARY KEY,
    entry_id       BYTEA    NOT NULL,
    kind           TEXT    NOT NULL,
    message_digest BYTEA,
    message_key    BIGINT,
    direction      TEXT,
    field          TEXT,
    category       TEXT,
    occurred_at    BIGINT NOT NULL,
    recorded_at    BIGINT NOT NULL,
    content_digest BYTEA,
    detail         TEXT,
    prev_hash      BYTEA    NOT NULL,
    hash           BYTEA    NOT NULL
);
-- Lookups go through small integer keys (a prefix of the digest, a hash of the subject id):
-- a B-tree of 8-byte keys is a third of the size of one of 32-byte digests or 36-character ids.
CREATE INDEX chain_by_message ON chain (message_key) WHERE message_key IS NOT NULL;

CREATE TABLE content (
    seq        BIGINT PRIMARY KEY,
    subject_id TEXT,
    subject_key BIGINT,
    state      TEXT    NOT NULL,
    sealed     BYTEA
);
CREATE INDEX content_by_subject ON content (subject_key) WHERE subject_key IS NOT NULL;

CREATE TABLE subjects (
    id         TEXT    PRIMARY KEY,
    created_at BIGINT NOT NULL
);

CREATE TABLE subject_index (
    digest     BYTEA PRIMARY KEY,
    subject_id TEXT NOT NULL REFERENCES subjects (id)
);
CREATE INDEX subject_index_by_subject ON subject_index (subject_id);

CREATE TABLE envelopes (
    digest      BYTEA    PRIMARY KEY,
    subject_id  TEXT,
    recorded_at BIGINT NOT NULL
);

CREATE TABLE checkpoints (
    seq        BIGINT PRIMARY KEY,
    hash       BYTEA    NOT NULL,
    signed_at  BIGINT NOT NULL,
    public_key BYTEA    NOT NULL,
    signature  BYTEA    NOT NULL
);
