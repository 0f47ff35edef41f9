-- Version 8: ingest sources. `config` holds the provider's secrets, sealed under the main
-- key like endpoint secrets; `token` is the receive URL's path segment, and the previous
-- token stays accepted until `previous_token_expires_at` after a rotation.
CREATE TABLE ingest_sources (
    id                         TEXT PRIMARY KEY NOT NULL,
    uid                        TEXT UNIQUE,
    name                       TEXT NOT NULL,
    source_type                TEXT NOT NULL,
    config                     TEXT NOT NULL,
    metadata                   TEXT NOT NULL,
    token                      TEXT NOT NULL UNIQUE,
    previous_token             TEXT UNIQUE,
    previous_token_expires_at  INTEGER,
    created_at                 INTEGER NOT NULL,
    updated_at                 INTEGER NOT NULL
);
