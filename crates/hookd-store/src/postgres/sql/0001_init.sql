-- hookd PostgreSQL schema, version 1 (the same tables as SQLite's, in PostgreSQL types).
-- Ids, event-type names and the other keys that are paged or compared by order are
-- COLLATE "C": ids are base62 with both letter cases and must sort bytewise (keyset
-- paging, time order), whatever the database's default collation.
-- Times are BIGINT milliseconds since the epoch; structured fields are JSON text, stored
-- byte for byte as given. Unique constraints are named: errors are mapped by name.
-- No foreign keys: deletes cascade explicitly in code, as with SQLite.

CREATE TABLE applications (
    id          TEXT COLLATE "C" PRIMARY KEY,
    uid         TEXT,
    name        TEXT NOT NULL,
    rate_limit  BIGINT,
    metadata    TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    CONSTRAINT applications_uid_key UNIQUE (uid)
);

CREATE TABLE event_types (
    name          TEXT COLLATE "C" NOT NULL,
    description   TEXT NOT NULL,
    archived      BOOLEAN NOT NULL,
    deprecated    BOOLEAN NOT NULL,
    schemas       TEXT,
    feature_flag  TEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    CONSTRAINT event_types_name_key PRIMARY KEY (name)
);

CREATE TABLE endpoints (
    id           TEXT COLLATE "C" PRIMARY KEY,
    app_id       TEXT COLLATE "C" NOT NULL,
    uid          TEXT,
    url          TEXT NOT NULL,
    description  TEXT NOT NULL,
    version      INTEGER NOT NULL,
    rate_limit   BIGINT,
    disabled     BOOLEAN NOT NULL,
    event_types  TEXT,
    channels     TEXT,
    metadata     TEXT NOT NULL,
    secret       TEXT NOT NULL,
    headers      TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    CONSTRAINT endpoints_app_uid_key UNIQUE (app_id, uid)
);
CREATE INDEX endpoints_by_app ON endpoints (app_id, id);

CREATE TABLE messages (
    id          TEXT COLLATE "C" PRIMARY KEY,
    app_id      TEXT COLLATE "C" NOT NULL,
    event_id    TEXT,
    event_type  TEXT COLLATE "C" NOT NULL,
    payload     TEXT,
    channels    TEXT,
    tags        TEXT,
    created_at  BIGINT NOT NULL,
    CONSTRAINT messages_app_event_id_key UNIQUE (app_id, event_id)
);
CREATE INDEX messages_by_app ON messages (app_id, id);

-- The queue: one small row per (message, endpoint).
CREATE TABLE message_destinations (
    msg_id           TEXT COLLATE "C" NOT NULL,
    endpoint_id      TEXT COLLATE "C" NOT NULL,
    app_id           TEXT COLLATE "C" NOT NULL,
    status           SMALLINT NOT NULL,
    attempt_count    BIGINT NOT NULL,
    next_attempt_at  BIGINT,
    last_attempt_at  BIGINT,
    trigger          SMALLINT NOT NULL,
    lease_owner      TEXT,
    PRIMARY KEY (msg_id, endpoint_id)
);
-- Due work is an index range scan in due order; settled rows leave the index.
CREATE INDEX destinations_due ON message_destinations (next_attempt_at) WHERE status = 1;
CREATE INDEX destinations_by_endpoint ON message_destinations (endpoint_id);

CREATE TABLE attempts (
    id                    TEXT COLLATE "C" PRIMARY KEY,
    msg_id                TEXT COLLATE "C" NOT NULL,
    endpoint_id           TEXT COLLATE "C" NOT NULL,
    app_id                TEXT COLLATE "C" NOT NULL,
    url                   TEXT NOT NULL,
    status                SMALLINT NOT NULL,
    response_status_code  INTEGER NOT NULL,
    response              TEXT NOT NULL,
    response_duration_ms  BIGINT NOT NULL,
    trigger               SMALLINT NOT NULL,
    created_at            BIGINT NOT NULL
);
CREATE INDEX attempts_by_msg ON attempts (app_id, msg_id, id);
CREATE INDEX attempts_by_endpoint ON attempts (app_id, endpoint_id, id);
