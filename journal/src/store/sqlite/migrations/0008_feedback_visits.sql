-- The feedback book (книга отзывов и предложений, session 8): what recipients and their
-- families say, entered by staff, with what was done about it.
CREATE TABLE feedback (
    id INTEGER PRIMARY KEY, site TEXT NOT NULL, received_on TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('thanks', 'suggestion', 'complaint')),
    author TEXT NOT NULL, recipient TEXT, service TEXT, text TEXT NOT NULL,
    entered_by TEXT NOT NULL, entered_at TEXT NOT NULL,
    answer TEXT, answered_by TEXT, answered_at TEXT
);
CREATE INDEX feedback_site ON feedback(site, received_on);
-- Patronage visits (seed 003), entered by staff: each is a session of the journal (kiosk
-- '~visit', no kiosk has that id) with one unit for the recipient, and these details.
CREATE TABLE visits (
    session TEXT PRIMARY KEY, site TEXT NOT NULL, recipient TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('primary', 'repeat')),
    prep_minutes INTEGER NOT NULL, work_minutes INTEGER NOT NULL,
    completion_minutes INTEGER NOT NULL,
    document TEXT NOT NULL CHECK (document IN ('housing_act', 'patronage_act', 'report')),
    note TEXT NOT NULL DEFAULT '', entered_by TEXT NOT NULL, entered_at TEXT NOT NULL
);
CREATE INDEX visits_site ON visits(site);
