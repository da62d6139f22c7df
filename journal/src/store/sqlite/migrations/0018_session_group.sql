-- The standing group a session was opened for (the kiosk's `group` of SessionOpened; NULL for a
-- session opened for a service alone): the journal's «Группа» filter and a group's month in PDF
-- show the group's own sessions, not whoever is in the group today. Filled from the messages
-- the journal holds.
ALTER TABLE sessions ADD COLUMN study_group TEXT;
UPDATE sessions SET study_group = o.grp
    FROM (SELECT json_extract(payload, '$.event.session') AS session,
                 json_extract(payload, '$.event.group') AS grp
            FROM messages
           WHERE kind = 'session_opened' AND json_extract(payload, '$.event.group') IS NOT NULL) AS o
    WHERE o.session = sessions.id;
