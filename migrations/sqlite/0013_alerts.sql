-- Outbreak alerts and catch-up campaigns (issue #15).
--
-- An alert is drafted by one account and approved by another; its audience (the children the
-- rule engine finds in its area, age band and dose conditions) is saved with it as a cohort,
-- and so are the messages it will send, one per household, so that the approver approves
-- exactly what the preview showed.
CREATE TABLE alerts (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    name           TEXT NOT NULL,
    template       TEXT NOT NULL,            -- an [[alert]] of the rule files
    as_of          TEXT NOT NULL,            -- the day ages and doses are judged on
    provinces      TEXT NOT NULL DEFAULT '', -- comma-separated codes
    communes       TEXT NOT NULL DEFAULT '',
    age_from       TEXT NOT NULL,            -- "1 year": included
    age_to         TEXT NOT NULL,            -- "10 years": excluded
    conditions     TEXT NOT NULL,            -- JSON list of {series, valid_doses_below | overdue}
    outcome_days   INTEGER NOT NULL DEFAULT 30,
    status         TEXT NOT NULL,            -- building (audience being found), draft, pending-approval, sending, completed, cancelled
    audience       BIGINT NOT NULL DEFAULT 0,
    created_by     TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    submitted_by   TEXT,
    submitted_at   TEXT,
    approved_by    TEXT,
    approved_at    TEXT,
    cancelled_by   TEXT,
    cancelled_at   TEXT,
    completed_at   TEXT
);
CREATE INDEX alerts_status ON alerts (status, id);

-- The cohort: one row per child targeted, with the household and the person the message goes
-- to (NULL: nobody to tell).
CREATE TABLE alert_audience (
    alert_id      BIGINT NOT NULL,
    personal_id   TEXT NOT NULL,
    commune_code  TEXT NOT NULL,
    date_of_birth TEXT NOT NULL,
    valid_doses   INTEGER NOT NULL,
    household     TEXT NOT NULL,
    recipient_id  TEXT,
    channel       TEXT,
    message_id    TEXT,
    PRIMARY KEY (alert_id, personal_id)
) WITHOUT ROWID;
CREATE INDEX alert_audience_commune ON alert_audience (alert_id, commune_code, personal_id);
CREATE INDEX alert_audience_message ON alert_audience (message_id) WHERE message_id IS NOT NULL;

-- The messages an alert will send, rendered at draft time (the preview shows their texts,
-- parts and cost); approval copies them into the outbox.
CREATE TABLE alert_messages (
    alert_id      BIGINT NOT NULL,
    id            TEXT NOT NULL,
    recipient_id  TEXT NOT NULL,
    channel       TEXT NOT NULL,
    address       TEXT NOT NULL,
    language      TEXT NOT NULL,
    subject       TEXT NOT NULL,
    body          TEXT NOT NULL,
    encoding      TEXT,
    segments      INTEGER,
    sender_name   TEXT NOT NULL,
    commune_code  TEXT NOT NULL,
    children      INTEGER NOT NULL,
    PRIMARY KEY (alert_id, id)
) WITHOUT ROWID;

-- Every step of an alert: who drafted, submitted, approved, was refused, cancelled.
CREATE TABLE alert_log (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id  BIGINT NOT NULL,
    at        TEXT NOT NULL,
    who       TEXT NOT NULL,
    role      TEXT NOT NULL,
    action    TEXT NOT NULL,
    detail    TEXT
);
CREATE INDEX alert_log_alert ON alert_log (alert_id, id);

-- Families who asked for no outbreak alerts: separate from routine reminders' opt-outs.
CREATE TABLE alert_opt_outs (
    personal_id TEXT PRIMARY KEY,
    at          TEXT NOT NULL,
    source      TEXT NOT NULL
) WITHOUT ROWID;

-- An alert's messages are its own: never merged with a routine notice of the same day and
-- sender, so the outbox's one-per-(recipient, channel, sender, day) key gains the alert
-- (0 for routine messages). SQLite cannot change a UNIQUE constraint in place: the table is
-- rebuilt with the same rows (as in 0011).
CREATE TABLE messages_with_alerts (
    id              TEXT PRIMARY KEY,
    recipient_id    TEXT NOT NULL,
    channel         TEXT NOT NULL,
    address         TEXT NOT NULL,
    day             TEXT NOT NULL,
    language        TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body            TEXT NOT NULL,
    encoding        TEXT,
    segments        INTEGER,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT,
    provider_id     TEXT,
    lease_owner     TEXT,
    lease_until     TEXT,
    created_at      TEXT NOT NULL,
    sent_at         TEXT,
    delivered_at    TEXT,
    sender          TEXT NOT NULL DEFAULT 'health',
    sender_name     TEXT NOT NULL DEFAULT '',
    alert_id        BIGINT NOT NULL DEFAULT 0,
    UNIQUE (recipient_id, channel, sender, day, alert_id)
);
INSERT INTO messages_with_alerts (id, recipient_id, channel, address, day, language, subject, body, encoding, segments, status, attempts, next_attempt_at, last_error, provider_id, lease_owner, lease_until, created_at, sent_at, delivered_at, sender, sender_name)
    SELECT id, recipient_id, channel, address, day, language, subject, body, encoding, segments, status, attempts, next_attempt_at, last_error, provider_id, lease_owner, lease_until, created_at, sent_at, delivered_at, sender, sender_name FROM messages;
DROP TABLE messages;
ALTER TABLE messages_with_alerts RENAME TO messages;
CREATE INDEX messages_ready ON messages (status, next_attempt_at, id);
CREATE INDEX messages_day ON messages (day, channel);
CREATE INDEX messages_provider ON messages (provider_id) WHERE provider_id IS NOT NULL;
-- Alert messages go before routine ones: the outbox worker claims from this index first.
CREATE INDEX messages_alert_ready ON messages (next_attempt_at, id) WHERE status = 'queued' AND alert_id > 0;
-- An alert's progress and reach: its messages by status.
CREATE INDEX messages_alert ON messages (alert_id, status) WHERE alert_id > 0;
