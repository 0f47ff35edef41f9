-- Version 7: the id of the main key every endpoint secret is encrypted with (one row), so
-- a node configured with another key refuses to start instead of writing secrets that the
-- other nodes cannot read. Set by the first node with a key; moved to a new main key by
-- the node that finished re-encrypting every secret under it.
CREATE TABLE main_key_check (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    key_id TEXT NOT NULL
);
