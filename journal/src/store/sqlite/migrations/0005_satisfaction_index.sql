-- The quality page reads a month of satisfaction answers out of the messages (session 7): an
-- index on the answer's own time, for those messages only.
CREATE INDEX messages_satisfaction_at ON messages(site, json_extract(payload, '$.event.at'))
    WHERE kind = 'satisfaction';
