-- Two-way messaging (issue #16). See the SQLite migration of the same number for what each
-- part is for; only the dialect differs.
CREATE TABLE inbound_messages (
    id           BIGSERIAL PRIMARY KEY,
    provider_key TEXT NOT NULL UNIQUE,
    from_number  TEXT NOT NULL,
    body         TEXT NOT NULL,
    received_at  TIMESTAMPTZ NOT NULL,
    stored_at    TIMESTAMPTZ NOT NULL,
    action       TEXT NOT NULL,
    keyword      TEXT,
    citizen_id   TEXT,
    child_id     TEXT,
    answers      TEXT,
    commune_code TEXT NOT NULL DEFAULT '',
    status       TEXT NOT NULL,
    done_at      TIMESTAMPTZ,
    done_by      TEXT
);
CREATE INDEX inbound_inbox ON inbound_messages (commune_code, status, received_at);
CREATE INDEX inbound_from ON inbound_messages (from_number, received_at);
CREATE INDEX inbound_received ON inbound_messages (received_at, id);
-- An alert's reach counts the households that answered its messages.
CREATE INDEX inbound_answers ON inbound_messages (answers) WHERE answers IS NOT NULL;

CREATE TABLE inbound_replies (
    id          BIGSERIAL PRIMARY KEY,
    inbound_id  BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    body        TEXT NOT NULL,
    message_id  TEXT NOT NULL,
    by_account  TEXT,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX inbound_replies_of ON inbound_replies (inbound_id);

CREATE TABLE reported_doses (
    id           BIGSERIAL PRIMARY KEY,
    inbound_id   BIGINT NOT NULL,
    personal_id  TEXT NOT NULL,
    commune_code TEXT NOT NULL,
    item         TEXT NOT NULL,
    series       TEXT NOT NULL,
    reported_at  TIMESTAMPTZ NOT NULL,
    status       TEXT NOT NULL,
    decided_by   TEXT,
    decided_at   TIMESTAMPTZ,
    vaccine      TEXT,
    date_given   DATE,
    UNIQUE (inbound_id, personal_id)
);
CREATE INDEX reported_doses_commune ON reported_doses (commune_code, status, id);
-- A national account's lists: every commune, newest first / oldest pending first.
CREATE INDEX reported_doses_status ON reported_doses (status, id);

CREATE INDEX citizens_phone ON citizens (phone) WHERE phone IS NOT NULL;
-- The children a message is about (what a reply answers), and a dead letter's notices for its
-- fallback: without it both read every notice ever written (a reply took 200 ms at 1,000,000
-- citizens on SQLite).
CREATE INDEX notices_message ON notices (message_id) WHERE message_id IS NOT NULL;

ALTER TABLE messages ADD COLUMN reply_id BIGINT NOT NULL DEFAULT 0;
ALTER TABLE messages DROP CONSTRAINT messages_one_per_sender;
ALTER TABLE messages ADD CONSTRAINT messages_one_per_sender UNIQUE (recipient_id, channel, sender, day, alert_id, reply_id);
CREATE INDEX messages_address ON messages (address, sent_at) WHERE sent_at IS NOT NULL;
