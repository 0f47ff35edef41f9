-- Version 13: an application's messages by event type, newest first, for the message log
-- filtered by event type (without it, a type with few messages scans the whole log).
CREATE INDEX messages_by_event_type ON messages (app_id, event_type, id);
