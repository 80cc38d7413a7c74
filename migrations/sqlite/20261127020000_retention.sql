-- Retention: what purge needs to find due values fast, legal holds, and the job history.

-- The due-time inputs sit on the content row too, so a purge reads one partial index of held
-- values ordered by time instead of joining the whole chain. The subject key makes the index
-- covering for the plan (count, oldest, subjects, holds) without touching the table.
ALTER TABLE content ADD COLUMN field TEXT;
ALTER TABLE content ADD COLUMN occurred_at INTEGER;
CREATE INDEX content_due ON content (field, occurred_at, subject_key) WHERE state = 'held';

-- Subjects get the same small integer key their content rows are indexed by.
ALTER TABLE subjects ADD COLUMN key INTEGER;

-- Legal holds: the subject only by id; the reason sealed under the system key.
CREATE TABLE holds (
    id          TEXT    PRIMARY KEY,
    subject_id  TEXT    NOT NULL,
    reason      BLOB    NOT NULL,
    created_at  INTEGER NOT NULL,
    until       INTEGER,
    released_at INTEGER
);
CREATE INDEX holds_by_subject ON holds (subject_id);

-- One row per scheduled run: (job, scheduled_for) is claimed once, by one instance.
CREATE TABLE job_runs (
    job           TEXT    NOT NULL,
    scheduled_for INTEGER NOT NULL,
    instance      TEXT    NOT NULL,
    started_at    INTEGER NOT NULL,
    lease_until   INTEGER NOT NULL,
    finished_at   INTEGER,
    outcome       TEXT,
    counts        TEXT,
    PRIMARY KEY (job, scheduled_for)
);
