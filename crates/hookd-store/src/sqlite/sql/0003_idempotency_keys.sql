-- Version 3: idempotency keys of API requests. A row is a reservation while `status` is
-- NULL (held until `locked_until`, then free to take over), a stored response after.
CREATE TABLE idempotency_keys (
    key           TEXT PRIMARY KEY NOT NULL,
    fingerprint   TEXT NOT NULL,
    token         TEXT NOT NULL,
    status        INTEGER,
    response      BLOB,
    locked_until  INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
