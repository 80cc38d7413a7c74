-- API bearer tokens for `serve`: the token is shown once; only the SHA-256 of its secret is kept.
CREATE TABLE tokens (
    id         TEXT    PRIMARY KEY,
    role       TEXT    NOT NULL,
    digest     BLOB    NOT NULL,
    label      TEXT,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
