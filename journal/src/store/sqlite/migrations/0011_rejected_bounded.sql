-- A flood of bad messages from one kiosk credential must not fill the journal's disk (hardening
-- issue, point 7): every refusal is counted per site, kiosk and reason kind, and `rejected`
-- keeps only a sample of the latest few of each (their payloads cut to 16 KiB).
CREATE TABLE rejected_counts (
    site TEXT NOT NULL, kiosk TEXT NOT NULL, kind TEXT NOT NULL,
    count INTEGER NOT NULL, first_at TEXT NOT NULL, last_at TEXT NOT NULL,
    PRIMARY KEY (site, kiosk, kind)
);
ALTER TABLE rejected ADD COLUMN kind TEXT NOT NULL DEFAULT '';
UPDATE rejected SET kind = COALESCE(json_extract(reason, '$.reason'), '');
INSERT INTO rejected_counts (site, kiosk, kind, count, first_at, last_at)
    SELECT COALESCE(site, ''), COALESCE(kiosk, ''), kind, COUNT(*), MIN(received_at),
           MAX(received_at)
    FROM rejected GROUP BY 1, 2, 3;
CREATE INDEX rejected_sample ON rejected (site, kiosk, kind, id);
