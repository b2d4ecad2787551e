-- Outbreak alerts and catch-up campaigns (issue #15). See the SQLite migration of the same
-- number for what each part is for; only the dialect differs.
CREATE TABLE alerts (
    id             BIGSERIAL PRIMARY KEY,
    name           TEXT NOT NULL,
    template       TEXT NOT NULL,
    as_of          DATE NOT NULL,
    provinces      TEXT NOT NULL DEFAULT '',
    communes       TEXT NOT NULL DEFAULT '',
    age_from       TEXT NOT NULL,
    age_to         TEXT NOT NULL,
    conditions     TEXT NOT NULL,
    outcome_days   INTEGER NOT NULL DEFAULT 30,
    status         TEXT NOT NULL,
    audience       BIGINT NOT NULL DEFAULT 0,
    created_by     TEXT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    submitted_by   TEXT,
    submitted_at   TIMESTAMPTZ,
    approved_by    TEXT,
    approved_at    TIMESTAMPTZ,
    cancelled_by   TEXT,
    cancelled_at   TIMESTAMPTZ,
    completed_at   TIMESTAMPTZ
);
CREATE INDEX alerts_status ON alerts (status, id);

CREATE TABLE alert_audience (
    alert_id      BIGINT NOT NULL,
    personal_id   TEXT NOT NULL,
    commune_code  TEXT NOT NULL,
    date_of_birth DATE NOT NULL,
    valid_doses   INTEGER NOT NULL,
    household     TEXT NOT NULL,
    recipient_id  TEXT,
    channel       TEXT,
    message_id    TEXT,
    PRIMARY KEY (alert_id, personal_id)
);
CREATE INDEX alert_audience_commune ON alert_audience (alert_id, commune_code, personal_id);
CREATE INDEX alert_audience_message ON alert_audience (message_id) WHERE message_id IS NOT NULL;

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
);

CREATE TABLE alert_log (
    id        BIGSERIAL PRIMARY KEY,
    alert_id  BIGINT NOT NULL,
    at        TIMESTAMPTZ NOT NULL,
    who       TEXT NOT NULL,
    role      TEXT NOT NULL,
    action    TEXT NOT NULL,
    detail    TEXT
);
CREATE INDEX alert_log_alert ON alert_log (alert_id, id);

CREATE TABLE alert_opt_outs (
    personal_id TEXT PRIMARY KEY,
    at          TIMESTAMPTZ NOT NULL,
    source      TEXT NOT NULL
);

ALTER TABLE messages ADD COLUMN alert_id BIGINT NOT NULL DEFAULT 0;
ALTER TABLE messages DROP CONSTRAINT messages_one_per_sender;
ALTER TABLE messages ADD CONSTRAINT messages_one_per_sender UNIQUE (recipient_id, channel, sender, day, alert_id);
CREATE INDEX messages_alert_ready ON messages (next_attempt_at, id) WHERE status = 'queued' AND alert_id > 0;
CREATE INDEX messages_alert ON messages (alert_id, status) WHERE alert_id > 0;
