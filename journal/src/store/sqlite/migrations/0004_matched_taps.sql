-- Unidentified taps matched to a person by staff (session 7): who and when.
ALTER TABLE unidentified_taps ADD COLUMN matched_by TEXT;
ALTER TABLE unidentified_taps ADD COLUMN matched_at TEXT;
