-- Version 5: failure handling.
-- When the endpoint's current streak of failed attempts began (NULL while it succeeds);
-- the delivery engine disables an endpoint whose streak is older than the configured period.
ALTER TABLE endpoints ADD COLUMN failing_since BIGINT;

-- Endpoint recoveries: background work that requeues an endpoint's failed deliveries in
-- batches, walking message ids from msg_lo (inclusive) to msg_hi (exclusive).
CREATE TABLE recovery_tasks (
    id           TEXT PRIMARY KEY NOT NULL,
    app_id       TEXT NOT NULL,
    endpoint_id  TEXT NOT NULL,
    since        BIGINT NOT NULL,
    until        BIGINT,
    msg_lo       TEXT NOT NULL,
    msg_hi       TEXT NOT NULL,
    status       SMALLINT NOT NULL,
    cursor       TEXT,
    recovered    BIGINT NOT NULL,
    lease_owner  TEXT,
    lease_until  BIGINT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX recovery_tasks_running ON recovery_tasks (id) WHERE status = 0;
-- Recovery walks an endpoint's failed deliveries in message id order.
CREATE INDEX destinations_failed_by_endpoint ON message_destinations (endpoint_id, msg_id)
    WHERE status = 2;
