-- Version 8: ingest sources. `config` holds the provider's secrets, sealed under the main
-- key like endpoint secrets; `token` is the receive URL's path segment, and the previous
-- token stays accepted until `previous_token_expires_at` after a rotation.
CREATE TABLE ingest_sources (
    id                         TEXT COLLATE "C" PRIMARY KEY,
    uid                        TEXT,
    name                       TEXT NOT NULL,
    source_type                TEXT NOT NULL,
    config                     TEXT NOT NULL,
    metadata                   TEXT NOT NULL,
    token                      TEXT NOT NULL,
    previous_token             TEXT,
    previous_token_expires_at  BIGINT,
    created_at                 BIGINT NOT NULL,
    updated_at                 BIGINT NOT NULL,
    CONSTRAINT ingest_sources_uid_key UNIQUE (uid),
    CONSTRAINT ingest_sources_token_key UNIQUE (token),
    CONSTRAINT ingest_sources_previous_token_key UNIQUE (previous_token)
);
