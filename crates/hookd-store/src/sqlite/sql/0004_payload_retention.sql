-- Version 4: per-message payload retention. Messages written before keep Svix's default
-- of 90 days from their creation.
ALTER TABLE messages ADD COLUMN payload_expires_at INTEGER;
UPDATE messages SET payload_expires_at = created_at + 7776000000 WHERE payload IS NOT NULL;
-- Only payloads still held are in the index; expunging takes a row out.
CREATE INDEX messages_payload_expiry ON messages (payload_expires_at)
    WHERE payload_expires_at IS NOT NULL;
