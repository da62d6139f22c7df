-- A check-in's first check-out, kept on it as the check-out arrives (session 19, after review):
-- the same card at two kiosks at once is judged by it without reading the message log. Filled
-- in for the check-ins held, from the check-outs in the message log.
ALTER TABLE checkins ADD COLUMN checked_out_at TEXT;
UPDATE checkins SET checked_out_at = (
    SELECT strftime('%Y-%m-%dT%H:%M:%fZ', MIN(julianday(json_extract(m.payload, '$.event.at'))))
    FROM messages m
    WHERE m.kind = 'checked_out' AND m.site = checkins.site AND m.kiosk = checkins.kiosk
      AND json_extract(m.payload, '$.event.checkin') = checkins.id
);
CREATE INDEX checkins_site_at ON checkins(site, at);
