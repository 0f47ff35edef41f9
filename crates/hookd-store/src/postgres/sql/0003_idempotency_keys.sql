-- Version 3: idempotency keys of API requests. A row is a reservation while `status` is
-- NULL (held until `locked_until`, then free to take over), a stored response after.
CREATE TABLE idempotency_keys (
    key           TEXT COLLATE "C" PRIMARY KEY,
    fingerprint   TEXT NOT NULL,
    token         TEXT NOT NULL,
    status        INTEGER,
    response      BYTEA,
    locked_until  BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
