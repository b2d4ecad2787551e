-- Scheduling and delivery (issue #4): runs with checkpoints, the event ledger, notices and
-- the outbox. Unique keys make every step idempotent: re-running a day creates nothing new.

-- One row per run date. The lease lets one instance scan while others wait; the checkpoint is
-- the last personal ID whose page was committed, so a killed run resumes after it.
CREATE TABLE runs (
    as_of        TEXT PRIMARY KEY,
    status       TEXT NOT NULL,          -- scanning, finished
    checkpoint   TEXT,
    lease_owner  TEXT,
    lease_until  TEXT,
    started_at   TEXT NOT NULL,
    finished_at  TEXT,
    evaluated    BIGINT NOT NULL DEFAULT 0,
    notices      BIGINT NOT NULL DEFAULT 0
);

-- The event ledger: a row per citizen and lifecycle item once the item is actionable
-- (eligible, due, overdue) or notified — not a row for every future milestone.
CREATE TABLE events (
    personal_id  TEXT NOT NULL,
    item         TEXT NOT NULL,          -- rules' stable key: vaccination/dtp/2, id-card/14, school/grade-1
    status       TEXT NOT NULL,
    earliest     TEXT,
    due          TEXT,
    overdue      TEXT,
    expires      TEXT,
    completed_on TEXT,
    changed_on   TEXT NOT NULL,            -- the run date that last changed the row
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (personal_id, item)
) WITHOUT ROWID;

-- A notice fired: unique per (citizen, item, template, notice date), whoever runs the day.
CREATE TABLE notices (
    personal_id  TEXT NOT NULL,
    item         TEXT NOT NULL,
    template     TEXT NOT NULL,
    notice_date  TEXT NOT NULL,
    run_date     TEXT NOT NULL,
    recipient_id TEXT,                   -- NULL: nobody to tell (no contact, or opted out)
    channel      TEXT,
    address      TEXT,
    language     TEXT NOT NULL,
    line_sms     TEXT NOT NULL,          -- this notice's sentence, rendered for SMS
    line_email   TEXT NOT NULL,          -- and for email (diacritics kept)
    subject      TEXT NOT NULL,
    message_id   TEXT,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (personal_id, item, template, notice_date)
) WITHOUT ROWID;
CREATE INDEX notices_unsent ON notices (run_date, recipient_id, channel) WHERE message_id IS NULL AND recipient_id IS NOT NULL;

-- The outbox: one message per recipient, channel and day (twins due the same week: one SMS).
CREATE TABLE messages (
    id              TEXT PRIMARY KEY,    -- derived from (recipient, channel, day): stable across retries and instances
    recipient_id    TEXT NOT NULL,
    channel         TEXT NOT NULL,       -- sms, email
    address         TEXT NOT NULL,
    day             TEXT NOT NULL,
    language        TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body            TEXT NOT NULL,
    encoding        TEXT,
    segments        INTEGER,
    status          TEXT NOT NULL,       -- queued, sending, sent, delivered, failed, dead
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT,
    provider_id     TEXT,
    lease_owner     TEXT,
    lease_until     TEXT,
    created_at      TEXT NOT NULL,
    sent_at         TEXT,
    UNIQUE (recipient_id, channel, day)
);
CREATE INDEX messages_ready ON messages (status, next_attempt_at);
