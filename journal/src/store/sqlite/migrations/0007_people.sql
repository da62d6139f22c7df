-- People, cards and the timetable live in the journal's database (session 8): the roster and
-- timetable files become imports. Every change of a site's people or plan raises that site's
-- revision, which the feed watches to publish the roster or the schedule again.
CREATE TABLE recipients (
    id TEXT PRIMARY KEY, site TEXT NOT NULL,
    display_name TEXT NOT NULL,          -- as the kiosk addresses them ("Мария Ивановна")
    full_name TEXT NOT NULL,             -- as the act names them (ФИО)
    birth_date TEXT, care_group INTEGER, representative TEXT NOT NULL DEFAULT '',
    consent_participation INTEGER NOT NULL, consent_photo_video INTEGER NOT NULL,
    consent_data_on TEXT,                -- the date of the consent to process personal data
    programme TEXT,                      -- the ИППСУ as JSON (otmetka_core::people::Programme)
    groups TEXT NOT NULL DEFAULT '[]',   -- JSON array of group ids
    anonymised_at TEXT, updated_at TEXT NOT NULL
);
CREATE INDEX recipients_site ON recipients(site);
CREATE TABLE instructors (
    id TEXT PRIMARY KEY, site TEXT NOT NULL, display_name TEXT NOT NULL,
    pin_hash TEXT, active INTEGER NOT NULL DEFAULT 1, updated_at TEXT NOT NULL
);
CREATE TABLE study_groups (
    id TEXT PRIMARY KEY, site TEXT NOT NULL, name TEXT NOT NULL, service TEXT NOT NULL
);
CREATE TABLE cards (
    id INTEGER PRIMARY KEY, site TEXT NOT NULL,
    recipient TEXT, instructor TEXT,
    hashes TEXT NOT NULL,                -- JSON array: the keyed hashes of the card's lookup forms
    first_hash TEXT NOT NULL,            -- hashes[0], for the "whose card is this" check
    tail TEXT,                           -- the last digits of the number, to tell cards apart
    state TEXT NOT NULL CHECK (state IN ('active', 'blocked', 'lost', 'replaced')),
    valid_until TEXT,                    -- a temporary card's last day
    kept_by_staff INTEGER NOT NULL DEFAULT 0,
    issued_at TEXT NOT NULL, issued_by TEXT NOT NULL, note TEXT NOT NULL DEFAULT '',
    changed_at TEXT NOT NULL,
    CHECK ((recipient IS NULL) <> (instructor IS NULL))
);
CREATE INDEX cards_site ON cards(site);
CREATE UNIQUE INDEX cards_first_hash ON cards(site, first_hash);
CREATE TABLE planned_sessions (
    id INTEGER PRIMARY KEY, site TEXT NOT NULL, service TEXT NOT NULL,
    study_group TEXT, instructor TEXT,
    days TEXT NOT NULL DEFAULT '',       -- "mon,wed" for a weekly session; '' for a one-off
    on_date TEXT,                        -- a one-off session's date
    start TEXT NOT NULL, room TEXT NOT NULL DEFAULT '', unit_kind TEXT,
    valid_from TEXT, valid_to TEXT, created_at TEXT NOT NULL
);
CREATE INDEX planned_sessions_site ON planned_sessions(site);
CREATE TABLE days_off (
    site TEXT NOT NULL, day TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (site, day)
);
CREATE TABLE revisions (
    site TEXT NOT NULL, name TEXT NOT NULL, revision INTEGER NOT NULL,
    PRIMARY KEY (site, name)
);
CREATE TABLE imports (
    site TEXT NOT NULL, name TEXT NOT NULL, sha256 TEXT NOT NULL, at TEXT NOT NULL,
    PRIMARY KEY (site, name)
);
-- The cards enrolled at kiosks so far become the holders' cards.
INSERT OR IGNORE INTO cards (site, recipient, hashes, first_hash, state, issued_at, issued_by, changed_at)
    SELECT site, recipient, card_hashes, json_extract(card_hashes, '$[0]'), 'active', enrolled_at,
           'kiosk ' || kiosk, enrolled_at
    FROM enrolments WHERE enrolled_at IS NOT NULL AND json_array_length(card_hashes) > 0;
