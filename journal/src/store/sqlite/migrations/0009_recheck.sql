-- The journal's own re-check of the rules across kiosks (the rules issue, point 1): which
-- recipient's units of which service are to be judged again, and what the judging found. A
-- violation is recorded, never a reason to reject a unit.
CREATE TABLE recheck_queue (
    site TEXT NOT NULL, recipient TEXT NOT NULL, service TEXT NOT NULL,
    PRIMARY KEY (site, recipient, service)
);
CREATE TABLE violations (
    unit TEXT NOT NULL, recipient TEXT NOT NULL, site TEXT NOT NULL, service TEXT NOT NULL,
    date TEXT NOT NULL,
    -- The rule broken (snake_case `Rule`) and the decision with its figures (JSON).
    rule TEXT NOT NULL, decision TEXT NOT NULL,
    -- Whether the kiosk's instructor overrode that rule for this unit (with a reason).
    overridden INTEGER NOT NULL,
    found_at TEXT NOT NULL,
    PRIMARY KEY (unit, recipient, rule)
);
CREATE INDEX violations_site_date ON violations(site, date);
-- Each unit for each recipient it counts for: its own, or every participant of a group's.
CREATE VIEW given AS
    SELECT id AS unit, site, kiosk, session, service, recipient, date, body, added_by, removed_at
    FROM units WHERE recipient IS NOT NULL
    UNION ALL
    SELECT u.id, u.site, u.kiosk, u.session, u.service, p.value, u.date, u.body, u.added_by,
           u.removed_at
    FROM units u, json_each(u.body, '$.participants') p WHERE u.recipient IS NULL;
-- The units held before this migration get their first re-check.
INSERT OR IGNORE INTO recheck_queue (site, recipient, service)
    SELECT site, recipient, service FROM given WHERE removed_at IS NULL;
