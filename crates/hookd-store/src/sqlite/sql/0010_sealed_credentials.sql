-- Version 10: credentials sealed at rest (see crates/hookd-store/src/secrets/credentials.rs).
-- `sealed_headers` holds an endpoint's credential headers, sealed; `token` and
-- `previous_token` now hold sealed tokens, looked up by their keyed hashes. Rows written
-- before are converted at the next open (the main-key pass).
ALTER TABLE endpoints ADD COLUMN sealed_headers TEXT;
ALTER TABLE ingest_sources ADD COLUMN token_hash TEXT;
ALTER TABLE ingest_sources ADD COLUMN previous_token_hash TEXT;
CREATE UNIQUE INDEX ingest_sources_token_hash ON ingest_sources (token_hash);
CREATE UNIQUE INDEX ingest_sources_previous_token_hash ON ingest_sources (previous_token_hash);
