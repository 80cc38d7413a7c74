-- The ledger: a hash chain of non-personal metadata, the sealed content it commits to, and the
-- blind index that finds a data subject without storing a phone number. Times: Unix seconds.

CREATE TABLE chain_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash BLOB    NOT NULL
);
INSERT INTO chain_head (id, seq, hash) VALUES (1, 0, zeroblob(32));

CREATE TABLE chain (
    seq            INTEGER PRIMARY KEY,
    entry_id       BLOB    NOT NULL,
    kind           TEXT    NOT NULL,
    message_digest BLOB,
    message_key    INTEGER,
    direction      TEXT,
    field          TEXT,
    category       TEXT,
    occurred_at    INTEGER NOT NULL,
    recorded_at    INTEGER NOT NULL,
    content_digest BLOB,
    detail         TEXT,
    prev_hash      BLOB    NOT NULL,
    hash           BLOB    NOT NULL
);
-- Lookups go through small integer keys (a prefix of the digest, a hash of the subject id):
-- a B-tree of 8-byte keys is a third of the size of one of 32-byte digests or 36-character ids.
CREATE INDEX chain_by_message ON chain (message_key) WHERE message_key IS NOT NULL;

CREATE TABLE content (
    seq        INTEGER PRIMARY KEY,
    subject_id TEXT,
    subject_key INTEGER,
    state      TEXT    NOT NULL,
    sealed     BLOB
);
CREATE INDEX content_by_subject ON content (subject_key) WHERE subject_key IS NOT NULL;

CREATE TABLE subjects (
    id         TEXT    PRIMARY KEY,
    created_at INTEGER NOT NULL
);

CREATE TABLE subject_index (
    digest     BLOB PRIMARY KEY,
    subject_id TEXT NOT NULL REFERENCES subjects (id)
);
CREATE INDEX subject_index_by_subject ON subject_index (subject_id);

CREATE TABLE envelopes (
    digest      BLOB    PRIMARY KEY,
    subject_id  TEXT,
    recorded_at INTEGER NOT NULL
);

CREATE TABLE checkpoints (
    seq        INTEGER PRIMARY KEY,
    hash       BLOB    NOT NULL,
    signed_at  INTEGER NOT NULL,
    public_key BLOB    NOT NULL,
    signature  BLOB    NOT NULL
);
