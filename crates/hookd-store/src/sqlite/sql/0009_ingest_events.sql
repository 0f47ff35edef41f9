-- Version 9: events received through ingest sources.
-- `messages.forward` says how an ingest event is forwarded (opaque JSON written by the
-- ingest gateway; NULL for every other message). `ingest_dedup` remembers each source's
-- provider event ids until `expires_at`, so a provider's retry is not forwarded twice.
-- `ingest_rejections` is the log of refused requests (headers as a JSON array of
-- [name, value], at most the first 4096 body bytes), kept for a bounded time.
ALTER TABLE messages ADD COLUMN forward TEXT;

CREATE TABLE ingest_dedup (
    source_id   TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    msg_id      TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,
    PRIMARY KEY (source_id, event_id)
) WITHOUT ROWID;
CREATE INDEX ingest_dedup_expiry ON ingest_dedup (expires_at);

CREATE TABLE ingest_rejections (
    id           TEXT PRIMARY KEY NOT NULL,
    source_id    TEXT NOT NULL,
    code         TEXT NOT NULL,
    detail       TEXT NOT NULL,
    headers      TEXT NOT NULL,
    body         BLOB NOT NULL,
    body_size    INTEGER NOT NULL,
    received_at  INTEGER NOT NULL
);
CREATE INDEX ingest_rejections_by_source ON ingest_rejections (source_id, id);
CREATE INDEX ingest_rejections_by_time ON ingest_rejections (received_at);
