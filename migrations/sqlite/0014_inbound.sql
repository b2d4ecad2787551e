-- Two-way messaging (issue #16): what families text back, what vongdoi did with it, the
-- answers sent, and the doses families report for a nurse to confirm.
--
-- One row per inbound SMS. `provider_key` is the gateway's own id with the shape it came in
-- ('generic:ID', 'esms:SMSID'): a gateway that posts the same message twice (they retry on a
-- timeout) adds nothing the second time. `from_number` is E.164 and is shown masked.
CREATE TABLE inbound_messages (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    provider_key TEXT NOT NULL UNIQUE,
    from_number  TEXT NOT NULL,
    body         TEXT NOT NULL,
    received_at  TEXT NOT NULL,
    stored_at    TEXT NOT NULL,
    -- opt-out | opt-in | reported-dose | ask-child | for-staff | unknown-number
    action       TEXT NOT NULL,
    keyword      TEXT,
    -- The person the number belongs to (a guardian, or the adult themself), when known.
    citizen_id   TEXT,
    -- The child it is about, when one can be told; the message it answers (the latest one
    -- sent to this number within the reply window).
    child_id     TEXT,
    answers      TEXT,
    -- The commune whose inbox it lands in ('' when the number is nobody's).
    commune_code TEXT NOT NULL DEFAULT '',
    -- open (waits for staff) | done (answered or closed) | handled (a keyword did it)
    status       TEXT NOT NULL,
    done_at      TEXT,
    done_by      TEXT
);
CREATE INDEX inbound_inbox ON inbound_messages (commune_code, status, received_at);
CREATE INDEX inbound_from ON inbound_messages (from_number, received_at);
CREATE INDEX inbound_received ON inbound_messages (received_at, id);
-- An alert's reach counts the households that answered its messages.
CREATE INDEX inbound_answers ON inbound_messages (answers) WHERE answers IS NOT NULL;

-- What was sent back: the keyword's confirmation, or a staff member's answer from the inbox.
-- Each goes through the outbox as a message of its own (`messages.reply_id`).
CREATE TABLE inbound_replies (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    inbound_id  INTEGER NOT NULL,
    kind        TEXT NOT NULL,          -- confirmation | staff
    body        TEXT NOT NULL,
    message_id  TEXT NOT NULL,
    by_account  TEXT,
    created_at  TEXT NOT NULL
);
CREATE INDEX inbound_replies_of ON inbound_replies (inbound_id);

-- "Đã tiêm": a dose a family says was given. It is not a dose until a nurse confirms it on
-- the worklist (then it is recorded as any dose is) or rejects it.
CREATE TABLE reported_doses (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    inbound_id   INTEGER NOT NULL,
    personal_id  TEXT NOT NULL,
    commune_code TEXT NOT NULL,
    item         TEXT NOT NULL,         -- the item the answered message was about ('' if none)
    series       TEXT NOT NULL,
    reported_at  TEXT NOT NULL,
    status       TEXT NOT NULL,         -- pending | confirmed | rejected
    decided_by   TEXT,
    decided_at   TEXT,
    vaccine      TEXT,
    date_given   TEXT,
    UNIQUE (inbound_id, personal_id)
);
CREATE INDEX reported_doses_commune ON reported_doses (commune_code, status, id);
-- A national account's lists: every commune, newest first / oldest pending first.
CREATE INDEX reported_doses_status ON reported_doses (status, id);

-- A reply is traced to the family by its number, and to what it answers by the latest
-- message sent to that number.
CREATE INDEX citizens_phone ON citizens (phone) WHERE phone IS NOT NULL;
-- The children a message is about (what a reply answers), and a dead letter's notices for its
-- fallback: without it both read every notice ever written (a reply took 200 ms at 1,000,000
-- citizens on SQLite).
CREATE INDEX notices_message ON notices (message_id) WHERE message_id IS NOT NULL;

-- An answer to a reply is a message of its own, never merged with the day's reminder to the
-- same person: the outbox's key gains the reply (0 for every other message). SQLite cannot
-- change a UNIQUE constraint in place: the table is rebuilt with the same rows (as in 0013).
CREATE TABLE messages_with_replies (
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
    reply_id        BIGINT NOT NULL DEFAULT 0,
    UNIQUE (recipient_id, channel, sender, day, alert_id, reply_id)
);
INSERT INTO messages_with_replies (id, recipient_id, channel, address, day, language, subject, body, encoding, segments, status, attempts, next_attempt_at, last_error, provider_id, lease_owner, lease_until, created_at, sent_at, delivered_at, sender, sender_name, alert_id)
    SELECT id, recipient_id, channel, address, day, language, subject, body, encoding, segments, status, attempts, next_attempt_at, last_error, provider_id, lease_owner, lease_until, created_at, sent_at, delivered_at, sender, sender_name, alert_id FROM messages;
DROP TABLE messages;
ALTER TABLE messages_with_replies RENAME TO messages;
CREATE INDEX messages_ready ON messages (status, next_attempt_at, id);
CREATE INDEX messages_day ON messages (day, channel);
CREATE INDEX messages_provider ON messages (provider_id) WHERE provider_id IS NOT NULL;
CREATE INDEX messages_alert_ready ON messages (next_attempt_at, id) WHERE status = 'queued' AND alert_id > 0;
CREATE INDEX messages_alert ON messages (alert_id, status) WHERE alert_id > 0;
-- The latest message sent to a number (what a reply answers).
CREATE INDEX messages_address ON messages (address, sent_at) WHERE sent_at IS NOT NULL;
