-- Delivery reports (issue #4): when the gateway confirmed a message reached the phone.
ALTER TABLE messages ADD COLUMN delivered_at TIMESTAMPTZ;
-- Officials list messages by status (what failed, dead letters) and by day.
CREATE INDEX messages_day ON messages (day, channel);
CREATE INDEX messages_provider ON messages (provider_id) WHERE provider_id IS NOT NULL;
-- Composing walks the unsent notices in recipient order, a page at a time: an index in that
-- order (the one of 0002 led with run_date, so each page sorted every unsent notice again:
-- 2 s a page on a catch-up run of 246,000 notices).
DROP INDEX notices_unsent;
CREATE INDEX notices_unsent ON notices (recipient_id, channel, personal_id, item) WHERE message_id IS NULL AND recipient_id IS NOT NULL;
-- The outbox worker claims ready messages in (next_attempt_at, id) order: the index holds the
-- whole order, so a claim reads its batch and stops.
DROP INDEX messages_ready;
CREATE INDEX messages_ready ON messages (status, next_attempt_at, id);
