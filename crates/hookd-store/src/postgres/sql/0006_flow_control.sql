-- Flow control (throttle, concurrency cap, FIFO) per endpoint.
ALTER TABLE endpoints ADD COLUMN max_concurrency BIGINT;
ALTER TABLE endpoints ADD COLUMN fifo BOOLEAN NOT NULL DEFAULT false;

-- Exactly the flow-controlled endpoints, with the node that paces each (`owner`, holding
-- it until `lease_until`). Normally small or empty: writes probe it for every destination.
CREATE TABLE flow_endpoints (
    endpoint_id  TEXT COLLATE "C" PRIMARY KEY,
    app_id       TEXT COLLATE "C" NOT NULL,
    owner        TEXT,
    lease_until  BIGINT
);
CREATE INDEX flow_endpoints_by_app ON flow_endpoints (app_id);
-- A throttle set before this version makes an endpoint flow-controlled; a stored 0 meant
-- none (and now reads so).
UPDATE endpoints SET rate_limit = NULL WHERE rate_limit = 0;
INSERT INTO flow_endpoints (endpoint_id, app_id)
    SELECT id, app_id FROM endpoints WHERE rate_limit IS NOT NULL;

-- Destinations of a flow-controlled endpoint are marked (`flow = 1`) and leave the generic
-- due index: only the endpoint's owner claims them, in message order.
ALTER TABLE message_destinations ADD COLUMN flow SMALLINT NOT NULL DEFAULT 0;
UPDATE message_destinations SET flow = 1
    WHERE status = 1 AND endpoint_id IN (SELECT endpoint_id FROM flow_endpoints);
DROP INDEX destinations_due;
CREATE INDEX destinations_due ON message_destinations (next_attempt_at)
    WHERE status = 1 AND flow = 0;
CREATE INDEX destinations_flow ON message_destinations (endpoint_id, msg_id)
    WHERE status = 1 AND flow = 1;
