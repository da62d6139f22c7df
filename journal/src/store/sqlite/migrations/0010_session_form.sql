-- What the kiosk says of how a session was held and closed (rules issue, points 6 and 14):
-- `event`: opened as the service's event form (a mass event, an excursion: its longer norm);
-- `close_reason`: why the instructor closed a session the close warned about (a group below its
-- minimum, a head count other than the check-ins), core's CloseReason code, NULL where nothing
-- was warned.
ALTER TABLE sessions ADD COLUMN event INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN close_reason TEXT;
