-- The staff's pages (session 7): users and roles, browser sessions, failed sign-ins, the audit
-- log, the head's monthly sign-off, and staff corrections of units (who, when, why; the kiosk's
-- row is kept, a removed unit is only marked).
CREATE TABLE users (
    id INTEGER PRIMARY KEY, login TEXT NOT NULL UNIQUE COLLATE NOCASE, name TEXT NOT NULL,
    role TEXT NOT NULL, password_hash TEXT NOT NULL, created_at TEXT NOT NULL, disabled_at TEXT
);
CREATE TABLE web_sessions (
    token_hash TEXT PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id),
    csrf TEXT NOT NULL, created_at TEXT NOT NULL, expires_at TEXT NOT NULL
);
CREATE TABLE sign_in_failures (login TEXT NOT NULL COLLATE NOCASE, peer TEXT NOT NULL, at TEXT NOT NULL);
CREATE INDEX sign_in_failures_at ON sign_in_failures(at);
CREATE TABLE audit (
    id INTEGER PRIMARY KEY, at TEXT NOT NULL, user_id INTEGER, login TEXT NOT NULL,
    action TEXT NOT NULL, subject TEXT NOT NULL, detail TEXT NOT NULL
);
CREATE TABLE month_signoffs (
    site TEXT NOT NULL, month TEXT NOT NULL, signed_by TEXT NOT NULL, signed_at TEXT NOT NULL,
    PRIMARY KEY (site, month)
);
ALTER TABLE units ADD COLUMN added_by TEXT;
ALTER TABLE units ADD COLUMN added_at TEXT;
ALTER TABLE units ADD COLUMN added_reason TEXT;
ALTER TABLE units ADD COLUMN removed_by TEXT;
ALTER TABLE units ADD COLUMN removed_at TEXT;
ALTER TABLE units ADD COLUMN removed_reason TEXT;
CREATE INDEX units_session ON units(session);
CREATE INDEX sessions_opened ON sessions(opened_at);
CREATE INDEX checkins_session ON checkins(session);
