-- Data-subject erasure requests. A request names its subject only through the blind-index
-- digests of the number's aliases (kept after completion so a later access request by the same
-- number finds the erased entries and the request's history; useless without the master key).
-- Reference, requester and reasons are sealed under the system key.

CREATE TABLE erasure_requests (
    id             TEXT    PRIMARY KEY,
    details        BLOB    NOT NULL,
    received_at    INTEGER NOT NULL,
    due_at         INTEGER NOT NULL,
    extension      BLOB,
    state          TEXT    NOT NULL,
    completed_at   INTEGER,
    entries_erased INTEGER NOT NULL DEFAULT 0,
    counts         TEXT,
    subjects       TEXT,
    refused_by     TEXT,
    chain_seq      INTEGER,
    chain_hash     BLOB,
    created_at     INTEGER NOT NULL
);
CREATE INDEX erasure_requests_by_state ON erasure_requests (state, due_at);

CREATE TABLE erasure_lookup (
    digest     BLOB NOT NULL,
    request_id TEXT NOT NULL REFERENCES erasure_requests (id),
    PRIMARY KEY (digest, request_id)
);
CREATE INDEX erasure_lookup_by_request ON erasure_lookup (request_id);
