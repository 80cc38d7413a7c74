-- API bearer tokens for `serve`: the token is shown once; only the SHA-256 of its secret is kept.
CREATE TABLE tokens (
    id         TEXT    PRIMARY KEY,
    role       TEXT    NOT NULL,
    digest     BYTEA    NOT NULL,
    label      TEXT,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
