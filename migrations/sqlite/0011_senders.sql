-- One sender per message (issue #13): a health station, a police post and a school each
-- speak under their own name, and their notices never share a message. A notice keeps its
-- sender, the commune whose facility signs it, the person it is about as the message names
-- them ("bé Nguyễn Văn An") and how the recipient is greeted ("chị Trần Thị Bình").
ALTER TABLE notices ADD COLUMN sender TEXT NOT NULL DEFAULT 'health';
ALTER TABLE notices ADD COLUMN commune_code TEXT NOT NULL DEFAULT '';
ALTER TABLE notices ADD COLUMN about TEXT NOT NULL DEFAULT '';
ALTER TABLE notices ADD COLUMN salutation TEXT NOT NULL DEFAULT '';
-- The item's due and overdue dates: a message's next session is the first one on or after
-- the due date; a preview shows how late the item is.
ALTER TABLE notices ADD COLUMN due TEXT;
ALTER TABLE notices ADD COLUMN overdue TEXT;
UPDATE notices SET sender = 'police' WHERE item LIKE 'id-card/%';
UPDATE notices SET sender = 'school' WHERE item LIKE 'school/%';
DROP INDEX notices_unsent;
CREATE INDEX notices_unsent ON notices (recipient_id, channel, sender, personal_id, item) WHERE message_id IS NULL AND recipient_id IS NOT NULL;

-- A message is one recipient's, on one channel, from one sender, on one day; `sender_name` is
-- the facility's name as the family reads it (the email's From display name). SQLite cannot
-- change a UNIQUE constraint in place: the table is rebuilt with the same rows.
CREATE TABLE messages_by_sender (
    id              TEXT PRIMARY KEY,    -- derived from (recipient, channel, sender, day): stable across retries and instances
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
    UNIQUE (recipient_id, channel, sender, day)
);
INSERT INTO messages_by_sender (id, recipient_id, channel, address, day, language, subject, body, encoding, segments, status, attempts, next_attempt_at, last_error, provider_id, lease_owner, lease_until, created_at, sent_at, delivered_at)
    SELECT id, recipient_id, channel, address, day, language, subject, body, encoding, segments, status, attempts, next_attempt_at, last_error, provider_id, lease_owner, lease_until, created_at, sent_at, delivered_at FROM messages;
DROP TABLE messages;
ALTER TABLE messages_by_sender RENAME TO messages;
CREATE INDEX messages_ready ON messages (status, next_attempt_at, id);
CREATE INDEX messages_day ON messages (day, channel);
CREATE INDEX messages_provider ON messages (provider_id) WHERE provider_id IS NOT NULL;
