-- A kiosk's messages are numbered per installation (its database): a kiosk whose database was
-- replaced numbers from 1 again. '' is the one installation of kiosks that do not say theirs
-- (before session 6). `seq_reuse` keeps a message that came under a seq already held with
-- another event id: applied (its records are idempotent by their own ids), and kept for staff.
CREATE TABLE messages_new (
    site TEXT NOT NULL, kiosk TEXT NOT NULL, installation TEXT NOT NULL DEFAULT '',
    seq INTEGER NOT NULL, event_id TEXT NOT NULL, kind TEXT NOT NULL, received_at TEXT NOT NULL,
    payload TEXT NOT NULL,
    PRIMARY KEY (site, kiosk, installation, seq)
);
INSERT INTO messages_new (site, kiosk, seq, event_id, kind, received_at, payload)
    SELECT site, kiosk, seq, event_id, kind, received_at, payload FROM messages;
DROP TABLE messages;
ALTER TABLE messages_new RENAME TO messages;

CREATE TABLE progress_new (
    site TEXT NOT NULL, kiosk TEXT NOT NULL, installation TEXT NOT NULL DEFAULT '',
    committed_seq INTEGER NOT NULL,
    PRIMARY KEY (site, kiosk, installation)
);
INSERT INTO progress_new (site, kiosk, committed_seq)
    SELECT site, kiosk, committed_seq FROM progress;
DROP TABLE progress;
ALTER TABLE progress_new RENAME TO progress;

CREATE TABLE gaps_new (
    site TEXT NOT NULL, kiosk TEXT NOT NULL, installation TEXT NOT NULL DEFAULT '',
    from_seq INTEGER NOT NULL, to_seq INTEGER NOT NULL, seen_at TEXT NOT NULL,
    PRIMARY KEY (site, kiosk, installation, from_seq)
);
INSERT INTO gaps_new (site, kiosk, from_seq, to_seq, seen_at)
    SELECT site, kiosk, from_seq, to_seq, seen_at FROM gaps;
DROP TABLE gaps;
ALTER TABLE gaps_new RENAME TO gaps;

CREATE TABLE seq_reuse (
    id INTEGER PRIMARY KEY, site TEXT NOT NULL, kiosk TEXT NOT NULL,
    installation TEXT NOT NULL, seq INTEGER NOT NULL, held_event_id TEXT NOT NULL,
    event_id TEXT NOT NULL, received_at TEXT NOT NULL, payload TEXT NOT NULL
);
