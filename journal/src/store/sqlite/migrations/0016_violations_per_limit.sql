-- A unit can break two caps of one rule (a day's and a week's, or the recipient's and the
-- group's): each is its own violation. `limit_key` names which (the cap's period and whose it
-- is; '' for a rule with one verdict, such as the programme's count).
CREATE TABLE violations_new (
    unit TEXT NOT NULL, recipient TEXT NOT NULL, site TEXT NOT NULL, service TEXT NOT NULL,
    date TEXT NOT NULL,
    rule TEXT NOT NULL, limit_key TEXT NOT NULL DEFAULT '', decision TEXT NOT NULL,
    overridden INTEGER NOT NULL,
    found_at TEXT NOT NULL,
    PRIMARY KEY (unit, recipient, rule, limit_key)
);
INSERT INTO violations_new (unit, recipient, site, service, date, rule, decision, overridden,
                            found_at)
    SELECT unit, recipient, site, service, date, rule, decision, overridden, found_at
    FROM violations;
DROP TABLE violations;
ALTER TABLE violations_new RENAME TO violations;
CREATE INDEX violations_site_date ON violations(site, date);
CREATE INDEX violations_pair ON violations(site, recipient, service);
-- Judge every pair again, so that a unit's second cap is found.
INSERT OR IGNORE INTO recheck_queue (site, recipient, service)
    SELECT site, recipient, service FROM given WHERE removed_at IS NULL;
