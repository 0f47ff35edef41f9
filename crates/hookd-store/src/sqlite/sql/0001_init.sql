-- hookd SQLite schema, version 1.
-- Ids are time-ordered TEXT keys; times are INTEGER milliseconds since the epoch;
-- structured fields are JSON text. No foreign keys: deletes cascade explicitly in code.

CREATE TABLE applications (
    id          TEXT PRIMARY KEY NOT NULL,
    uid         TEXT UNIQUE,
    name        TEXT NOT NULL,
    rate_limit  INTEGER,
    metadata    TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE event_types (
    name          TEXT PRIMARY KEY NOT NULL,
    description   TEXT NOT NULL,
    archived      INTEGER NOT NULL,
    deprecated    INTEGER NOT NULL,
    schemas       TEXT,
    feature_flag  TEXT,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE endpoints (
    id           TEXT PRIMARY KEY NOT NULL,
    app_id       TEXT NOT NULL,
    uid          TEXT,
    url          TEXT NOT NULL,
    description  TEXT NOT NULL,
    version      INTEGER NOT NULL,
    rate_limit   INTEGER,
    disabled     INTEGER NOT NULL,
    event_types  TEXT,
    channels     TEXT,
    metadata     TEXT NOT NULL,
    secret       TEXT NOT NULL,
    headers      TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    UNIQUE (app_id, uid)
);
CREATE INDEX endpoints_by_app ON endpoints (app_id, id);

-- Payloads can be large, so messages keep a rowid table (small index pages).
CREATE TABLE messages (
    id          TEXT PRIMARY KEY NOT NULL,
    app_id      TEXT NOT NULL,
    event_id    TEXT,
    event_type  TEXT NOT NULL,
    payload     TEXT,
    channels    TEXT,
    tags        TEXT,
    created_at  INTEGER NOT NULL,
    UNIQUE (app_id, event_id)
);
CREATE INDEX messages_by_app ON messages (app_id, id);

-- The queue: one small row per (message, endpoint).
CREATE TABLE message_destinations (
    msg_id           TEXT NOT NULL,
    endpoint_id      TEXT NOT NULL,
    app_id           TEXT NOT NULL,
    status           INTEGER NOT NULL,
    attempt_count    INTEGER NOT NULL,
    next_attempt_at  INTEGER,
    last_attempt_at  INTEGER,
    trigger          INTEGER NOT NULL,
    lease_owner      TEXT,
    PRIMARY KEY (msg_id, endpoint_id)
) WITHOUT ROWID;
-- Due work is an index range scan; settled rows leave the index.
CREATE INDEX destinations_due ON message_destinations (next_attempt_at) WHERE status = 1;
CREATE INDEX destinations_by_endpoint ON message_destinations (endpoint_id);

CREATE TABLE attempts (
    id                    TEXT PRIMARY KEY NOT NULL,
    msg_id                TEXT NOT NULL,
    endpoint_id           TEXT NOT NULL,
    app_id                TEXT NOT NULL,
    url                   TEXT NOT NULL,
    status                INTEGER NOT NULL,
    response_status_code  INTEGER NOT NULL,
    response              TEXT NOT NULL,
    response_duration_ms  INTEGER NOT NULL,
    trigger               INTEGER NOT NULL,
    created_at            INTEGER NOT NULL
);
CREATE INDEX attempts_by_msg ON attempts (app_id, msg_id, id);
CREATE INDEX attempts_by_endpoint ON attempts (app_id, endpoint_id, id);
