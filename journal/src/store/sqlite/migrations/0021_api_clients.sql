-- The clients of the read-only JSON API (1C, the regional system), session 19: one token each,
-- kept as its SHA-256 (the token itself is shown once, when made), with its scopes; revoked,
-- never deleted, so that the audit log's entries keep naming a client.
CREATE TABLE api_clients (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    scopes TEXT NOT NULL,                -- space-separated: units sessions recipients personal
    created_at TEXT NOT NULL, created_by TEXT NOT NULL,
    revoked_at TEXT, revoked_by TEXT,
    last_used_at TEXT
);
-- The API pages through the units in the journal's order (date, service, id) from a cursor.
CREATE INDEX units_order ON units(date, service, id);
