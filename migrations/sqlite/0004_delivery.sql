-- Delivery reports (issue #4): when the gateway confirmed a message reached the phone.
ALTER TABLE messages ADD COLUMN delivered_at TEXT;
-- Officials list messages by status (what failed, dead letters) and by day.
CREATE INDEX messages_day ON messages (day, channel);
CREATE INDEX messages_provider ON messages (provider_id) WHERE provider_id IS NOT NULL;
