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
CREATE INDEX chain_by_message ON chain (message_digest) WHERE message_digest IS NOT NULL;

CREATE TABLE content (
    seq        INTEGER PRIMARY KEY,
    subject_id TEXT,
    state      TEXT    NOT NULL,
    sealed     BLOB
);
CREATE INDEX content_by_subject ON content (subject_id) WHERE subject_id IS NOT NULL;

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
