-- Reports read metadata only, and fast: each value's direction sits on its content row so one
-- covering index answers "recorded, held, purged, erased per flow" for a period; a daily rollup
-- of recorded values (kept by every append) and an index of the chain's non-field records
-- (purges, erasures, holds) give the series over time without scanning the chain.

ALTER TABLE content ADD COLUMN direction TEXT;
UPDATE content SET direction = (SELECT c.direction FROM chain c WHERE c.seq = content.seq);
CREATE INDEX content_flows ON content (field, direction, state, occurred_at);
CREATE INDEX chain_events ON chain (kind, recorded_at) WHERE kind <> 'field';

CREATE TABLE flow_days (
    day       BIGINT NOT NULL,
    field     TEXT    NOT NULL,
    direction TEXT    NOT NULL,
    recorded  BIGINT NOT NULL,
    PRIMARY KEY (day, field, direction)
);
INSERT INTO flow_days (day, field, direction, recorded)
    SELECT occurred_at / 86400, field, direction, count(*) FROM content
    WHERE field IS NOT NULL AND direction IS NOT NULL GROUP BY 1, 2, 3;

-- Every `verify` run, so a report can state the ledger's integrity without re-reading it.
CREATE TABLE verifications (
    verified_at     BIGINT NOT NULL,
    ok              BIGINT NOT NULL,
    entries_checked BIGINT NOT NULL,
    head_seq        BIGINT NOT NULL,
    first_bad_seq   BIGINT,
    reason          TEXT
);
CREATE INDEX verifications_by_time ON verifications (verified_at);
