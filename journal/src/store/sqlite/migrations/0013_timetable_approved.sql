-- The head approves each week's timetable before it is posted (002 l.3191–3193: approved, posted,
-- recipients told at least 3 days ahead). The approval keeps a digest of the week as approved,
-- so a change made afterwards shows as "changed since approval".
CREATE TABLE timetable_approvals (
    site TEXT NOT NULL, week TEXT NOT NULL,  -- the week's Monday
    digest TEXT NOT NULL,                    -- sha256 of the week's sessions as approved
    approved_by TEXT NOT NULL, approved_at TEXT NOT NULL,
    PRIMARY KEY (site, week)
);
