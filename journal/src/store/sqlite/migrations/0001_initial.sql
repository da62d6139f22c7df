-- The journal's first schema (sessions 1-5). IF NOT EXISTS: a database made before numbered
-- migrations (user_version 0, these tables present) takes this migration without change.
CREATE TABLE IF NOT EXISTS messages (
    site TEXT NOT NULL, kiosk TEXT NOT NULL, seq INTEGER NOT NULL,
    event_id TEXT NOT NULL, kind TEXT NOT NULL, received_at TEXT NOT NULL, payload TEXT NOT NULL,
    PRIMARY KEY (site, kiosk, seq)
);
CREATE TABLE IF NOT EXISTS rejected (
    id INTEGER PRIMARY KEY, site TEXT, kiosk TEXT, topic TEXT NOT NULL, seq INTEGER,
    reason TEXT NOT NULL, payload BLOB NOT NULL, received_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS units (
    id TEXT PRIMARY KEY, site TEXT NOT NULL, kiosk TEXT NOT NULL, session TEXT NOT NULL,
    service TEXT NOT NULL, recipient TEXT, date TEXT NOT NULL, over_limit INTEGER NOT NULL,
    below_group_min INTEGER NOT NULL, body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS units_date ON units(date);
CREATE INDEX IF NOT EXISTS units_recipient ON units(recipient, service, date);
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY, site TEXT NOT NULL, kiosk TEXT NOT NULL, service TEXT NOT NULL,
    instructor TEXT NOT NULL, opened_at TEXT NOT NULL, closed_at TEXT, how TEXT, head_count INTEGER
);
CREATE TABLE IF NOT EXISTS checkins (
    id TEXT PRIMARY KEY, site TEXT NOT NULL, kiosk TEXT NOT NULL, session TEXT NOT NULL,
    recipient TEXT NOT NULL, at TEXT NOT NULL, undone_at TEXT, body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS unidentified_taps (
    tap TEXT PRIMARY KEY, site TEXT NOT NULL, kiosk TEXT NOT NULL, session TEXT,
    card_hash TEXT NOT NULL, at TEXT NOT NULL, recipient TEXT
);
CREATE TABLE IF NOT EXISTS progress (
    site TEXT NOT NULL, kiosk TEXT NOT NULL, committed_seq INTEGER NOT NULL,
    PRIMARY KEY (site, kiosk)
);
CREATE TABLE IF NOT EXISTS gaps (
    site TEXT NOT NULL, kiosk TEXT NOT NULL, from_seq INTEGER NOT NULL, to_seq INTEGER NOT NULL,
    seen_at TEXT NOT NULL, PRIMARY KEY (site, kiosk, from_seq)
);
CREATE TABLE IF NOT EXISTS kiosks (
    site TEXT NOT NULL, kiosk TEXT NOT NULL, issued_at TEXT NOT NULL, revoked_at TEXT,
    PRIMARY KEY (site, kiosk)
);
CREATE TABLE IF NOT EXISTS published (
    site TEXT NOT NULL, name TEXT NOT NULL, version INTEGER NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (site, name)
);
CREATE TABLE IF NOT EXISTS enrolments (
    request TEXT PRIMARY KEY, site TEXT NOT NULL, kiosk TEXT NOT NULL, recipient TEXT NOT NULL,
    body TEXT NOT NULL, requested_at TEXT NOT NULL, expires_at TEXT NOT NULL, published_at TEXT,
    card_hashes TEXT, enrolled_at TEXT
);
CREATE TABLE IF NOT EXISTS kiosk_status (
    site TEXT NOT NULL, kiosk TEXT NOT NULL, body TEXT NOT NULL, updated_at TEXT NOT NULL,
    PRIMARY KEY (site, kiosk)
);
