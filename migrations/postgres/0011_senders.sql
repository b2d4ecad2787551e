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
ALTER TABLE notices ADD COLUMN due DATE;
ALTER TABLE notices ADD COLUMN overdue DATE;
UPDATE notices SET sender = 'police' WHERE item LIKE 'id-card/%';
UPDATE notices SET sender = 'school' WHERE item LIKE 'school/%';
DROP INDEX notices_unsent;
CREATE INDEX notices_unsent ON notices (recipient_id, channel, sender, personal_id, item) WHERE message_id IS NULL AND recipient_id IS NOT NULL;

-- A message is one recipient's, on one channel, from one sender, on one day; `sender_name` is
-- the facility's name as the family reads it (the email's From display name).
ALTER TABLE messages ADD COLUMN sender TEXT NOT NULL DEFAULT 'health';
ALTER TABLE messages ADD COLUMN sender_name TEXT NOT NULL DEFAULT '';
ALTER TABLE messages DROP CONSTRAINT messages_recipient_id_channel_day_key;
ALTER TABLE messages ADD CONSTRAINT messages_one_per_sender UNIQUE (recipient_id, channel, sender, day);
