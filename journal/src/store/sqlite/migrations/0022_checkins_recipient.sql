-- A recipient's check-ins at a site by time: the same card at two kiosks at once (session 19).
CREATE INDEX checkins_recipient ON checkins(site, recipient, at);
