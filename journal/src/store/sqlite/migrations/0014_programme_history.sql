-- A recipient's individual programme (ИППСУ) is replaced, not overwritten: each programme a save
-- replaces is kept with who replaced it and when, so that a past month's act and plan vs fact are
-- judged against the programme that was in force then.
CREATE TABLE programme_history (
    id INTEGER PRIMARY KEY, site TEXT NOT NULL, recipient TEXT NOT NULL,
    programme TEXT NOT NULL,                 -- the replaced ИППСУ (Programme JSON)
    replaced_at TEXT NOT NULL, replaced_by TEXT NOT NULL
);
CREATE INDEX programme_history_recipient ON programme_history(site, recipient);
