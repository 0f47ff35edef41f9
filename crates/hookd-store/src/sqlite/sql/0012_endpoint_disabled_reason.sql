-- Version 12: why an endpoint is disabled: 'manual' (a user), 'gone' (it answered 410) or
-- 'failing' (every attempt failed for the auto-disable period). NULL while enabled, and for
-- endpoints disabled before this version.
ALTER TABLE endpoints ADD COLUMN disabled_reason TEXT;
