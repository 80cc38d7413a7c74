-- Data-subject erasure requests. A request names its subject only through the blind-index
-- digests of the number's aliases (kept after completion so a later access request by the same
-- number finds the erased entries and the request's history; useless without the master key).
-- Reference, requester and reasons are sealed under the system key.

CREATE TABLE erasure_requests (
    id             TEXT    PRIMARY KEY,
    details        BYTEA    NOT NULL,
    received_at    BIGINT NOT NULL,
    due_at         BIGINT NOT NULL,
    extension      BYTEA,
    state          TEXT    NOT NULL,
    completed_at   BIGINT,
    entries_erased BIGINT NOT NULL DEFAULT 0,
    counts         TEXT,
    subjects       TEXT,
    refused_by     TEXT,
    chain_seq      BIGINT,
    chain_hash     BYTEA,
    created_at     BIGINT NOT NULL
);
CREATE INDEX erasure_requests_by_state ON erasure_requests (state, due_at);

CREATE TABLE erasure_lookup (
    digest     BYTEA NOT NULL,
    request_id TEXT NOT NULL REFERENCES erasure_requests (id),
    PRIMARY KEY (digest, request_id)
);
CREATE INDEX erasure_lookup_by_request ON erasure_lookup (request_id);
