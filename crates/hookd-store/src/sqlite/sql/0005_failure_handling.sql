-- Version 5: failure handling.
-- When the endpoint's current streak of failed attempts began (NULL while it succeeds);
-- the delivery engine disables an endpoint whose streak is older than the configured period.
ALTER TABLE endpoints ADD COLUMN failing_since INTEGER;

-- Endpoint recoveries: background work that requeues an endpoint's failed deliveries in
-- batches, walking message ids from msg_lo (inclusive) to msg_hi (exclusive).
CREATE TABLE recovery_tasks (
    id           TEXT PRIMARY KEY NOT NULL,
    app_id       TEXT NOT NULL,
    endpoint_id  TEXT NOT NULL,
    since        INTEGER NOT NULL,
    until        INTEGER,
    msg_lo       TEXT NOT NULL,
    msg_hi       TEXT NOT NULL,
    status       INTEGER NOT NULL,
    cursor       TEXT,
    recovered    INTEGER NOT NULL,
    lease_owner  TEXT,
    lease_until  INTEGER,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX recovery_tasks_running ON recovery_tasks (id) WHERE status = 0;
