-- The key store: data keys wrapped under the master key, kept apart from the ledger so that a
-- ledger backup holds ciphertext only. Destroying a row here crypto-shreds its owner's values.

CREATE TABLE keystore_meta (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    key_check  BLOB    NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE data_keys (
    owner      TEXT    PRIMARY KEY,
    wrapped    BLOB    NOT NULL,
    created_at INTEGER NOT NULL
);
