//! The kiosk's store: SQLite (WAL, `synchronous=FULL`), the source of truth.
//!
//! Every event a kiosk records goes, in one transaction, into the outbox (the event log the feed
//! delivers, numbered by `seq`) and into the derived tables the rules read (check-ins for the
//! attendance history, sessions). The transaction commits — the WAL is fsynced — before anyone is
//! told "отмечено". An open session is rebuilt after a restart from its events in the outbox.

use chrono::{DateTime, Utc};
use otmetka_core::event::Event;
use otmetka_core::rules::Attendance;
use otmetka_core::session::{Session, SessionId};
use otmetka_core::wire::{Envelope, SCHEMA, SeqRange};
use rusqlite::{Connection, ErrorCode, OptionalExtension, params};
use std::path::{Path, PathBuf};
use uuid::Uuid;

/// Why the store failed. Each says what to do next.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "the kiosk database {path} is damaged ({detail}); the kiosk will not write to it. \
         Copy the file for recovery, then move it aside and restart: a new database is created"
    )]
    Corrupt { path: PathBuf, detail: String },
    #[error(
        "the disk holding the kiosk database is full; nothing new was recorded. Free space \
         (old logs, delivered rows are pruned automatically) and try again"
    )]
    DiskFull,
    #[error("the kiosk database {path} cannot be opened: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(
        "the kiosk database was written by a newer version (schema {found}, this build reads up to {supported})"
    )]
    TooNew { found: i64, supported: i64 },
    #[error("a stored event could not be read back: {0}")]
    Decode(#[from] serde_json::Error),
    #[error("database error: {0}")]
    Sqlite(rusqlite::Error),
    #[error(
        "another otmetka-kiosk{holder} already runs on the database {path}: one kiosk per data \
         directory (stop it first, e.g. `systemctl stop otmetka-kiosk`)"
    )]
    InUse { path: PathBuf, holder: String },
    #[error("cannot lock {path}: {source}")]
    Lock {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The one kiosk process of a data directory: an exclusive `flock` on `<database>.lock`, held
/// while this lives (the kernel lets go when the process dies, however it dies). A second
/// kiosk on the same config would unlink and re-bind the control socket and write the same
/// database; it is refused at start instead.
#[derive(Debug)]
pub struct InstanceLock {
    _file: std::fs::File,
}

impl InstanceLock {
    /// Takes the lock of the kiosk whose database is `database`, or says who holds it.
    pub fn take(database: &Path) -> Result<InstanceLock, StoreError> {
        use std::io::{Read, Seek, Write};
        let path = database.with_extension("lock");
        let lock_err = |source| StoreError::Lock {
            path: path.clone(),
            source,
        };
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(lock_err)?;
        match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(e) if e == rustix::io::Errno::WOULDBLOCK => {
                let mut pid = String::new();
                let _ = file.read_to_string(&mut pid);
                let pid = pid.trim();
                return Err(StoreError::InUse {
                    path: database.to_path_buf(),
                    holder: if pid.is_empty() {
                        String::new()
                    } else {
                        format!(" (pid {pid})")
                    },
                });
            }
            Err(e) => return Err(lock_err(e.into())),
        }
        // Who holds it, for the message a second kiosk gives.
        file.set_len(0).map_err(lock_err)?;
        file.rewind().map_err(lock_err)?;
        write!(file, "{}", std::process::id()).map_err(lock_err)?;
        Ok(InstanceLock { _file: file })
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(ErrorCode::DiskFull) => StoreError::DiskFull,
            Some(ErrorCode::DatabaseCorrupt) | Some(ErrorCode::NotADatabase) => {
                StoreError::Corrupt {
                    path: PathBuf::new(),
                    detail: e.to_string(),
                }
            }
            _ => StoreError::Sqlite(e),
        }
    }
}

/// Who this kiosk is, stamped on every envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KioskIdentity {
    pub site: String,
    pub kiosk: String,
}

/// One outbox row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    pub seq: u64,
    pub payload: String,
    pub recorded_at: DateTime<Utc>,
}

/// How durable a commit is. Check-ins are always recorded by a `Full` connection; `Off` exists
/// so the crash test can show that it notices a store that reports "committed" before the WAL is
/// synced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// `synchronous=FULL`: the WAL is synced at every commit.
    Full,
    /// `synchronous=NORMAL` (WAL synced at checkpoints), no checkpoints of its own: for the
    /// feed's connection, which writes the ack log and the documents the journal sends. A power
    /// cut may lose the last acks (those events are sent again, and the journal acknowledges a
    /// resend without applying it twice) or a document (it comes again, retained). Not syncing keeps
    /// the feed's writes (and so the write lock) short, so that a live tap never waits behind
    /// one (docs/performance.md, "live taps during the drain").
    Normal,
    Off,
}

/// Waits for SQLite's write lock in steps of 200 µs, at most 5 s. SQLite's own busy timeout
/// sleeps 1, 2, 5, 10, 15, 20... ms between tries, so a tap that meets a write of a fraction of
/// a millisecond would wait ten or more.
fn busy_wait(attempt: i32) -> bool {
    if attempt >= 25_000 {
        return false;
    }
    std::thread::sleep(std::time::Duration::from_micros(200));
    true
}

const MIGRATIONS: &[&str] = &[
    // 1: the outbox (event log), sessions, check-ins, synced documents.
    "CREATE TABLE outbox (
        seq          INTEGER PRIMARY KEY,
        event_id     TEXT NOT NULL UNIQUE,
        session      TEXT,
        payload      TEXT NOT NULL,
        recorded_at  TEXT NOT NULL,
        delivered_at TEXT
     );
     CREATE INDEX outbox_session ON outbox(session);
     CREATE INDEX outbox_undelivered ON outbox(seq) WHERE delivered_at IS NULL;
     CREATE TABLE sessions (
        id        TEXT PRIMARY KEY,
        service   TEXT NOT NULL,
        opened_at TEXT NOT NULL,
        state     TEXT NOT NULL CHECK (state IN ('open', 'closed', 'cancelled'))
     );
     CREATE TABLE checkins (
        id        TEXT PRIMARY KEY,
        session   TEXT NOT NULL,
        recipient TEXT NOT NULL,
        service   TEXT NOT NULL,
        at        TEXT NOT NULL,
        undone_at TEXT
     );
     CREATE INDEX checkins_recipient ON checkins(recipient, service, at);
     CREATE TABLE documents (
        name    TEXT PRIMARY KEY,
        version INTEGER NOT NULL,
        body    TEXT NOT NULL
     );
     CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
    // 2: delivery as a log of the journal's acks instead of a mark on every row. An ack covers
    // every row up to its seq, so one tiny row per ack says it all: the feed writes ~100× less
    // than when it marked each row, and so the WAL that a tap's commit syncs stays small while
    // a backlog drains (docs/performance.md). `outbox.delivered_at` stays for rows marked before.
    "CREATE TABLE acks (seq INTEGER PRIMARY KEY, at TEXT NOT NULL);
     INSERT INTO acks (seq, at)
        SELECT seq, delivered_at FROM outbox
        WHERE seq = (SELECT MAX(seq) FROM outbox WHERE delivered_at IS NOT NULL);
     DROP INDEX outbox_undelivered;",
    // 3: the seq counter, which never goes back. It was MAX(seq) of the outbox, and pruning can
    // empty the outbox while the ack log keeps the journal's last ack N: the next event took
    // seq 1, below N, and was never sent. The installation id is written at open (it is random).
    "INSERT OR REPLACE INTO meta (key, value) SELECT 'last_seq', MAX(
        (SELECT COALESCE(MAX(seq), 0) FROM outbox), (SELECT COALESCE(MAX(seq), 0) FROM acks));",
    // 4: a session's standing group and its form (an event: 002 §4.5's events have their own
    // «1 раз в месяц», l.3171), which the rules count by; filled from the opening events the
    // outbox still holds (a pruned one was delivered long ago: the journal's usage counts it).
    "ALTER TABLE sessions ADD COLUMN study_group TEXT;
     ALTER TABLE sessions ADD COLUMN event INTEGER NOT NULL DEFAULT 0;
     UPDATE sessions SET
        study_group = (SELECT json_extract(o.payload, '$.event.group') FROM outbox o
            WHERE o.session = sessions.id AND json_extract(o.payload, '$.event.type') = 'session_opened'),
        event = COALESCE((SELECT json_extract(o.payload, '$.event.event') FROM outbox o
            WHERE o.session = sessions.id AND json_extract(o.payload, '$.event.type') = 'session_opened'), 0);",
];

/// The highest seq the journal acknowledged (0 for none), as SQL.
const ACKED: &str = "(SELECT COALESCE(MAX(seq), 0) FROM acks)";

/// The kiosk store.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
    identity: KioskIdentity,
    /// This database's installation id (`Envelope::installation`), made at its first open.
    installation: Uuid,
}

use otmetka_core::timestamp::{from_text as parse_ts, to_text as ts};

/// Whether the journal held a session whose last outbox message is `last` (`None`: it sent
/// none) when it built a usage: then that usage counts the session, and the kiosk must not
/// count it again from its own store.
fn journal_holds(held: Option<&otmetka_core::wire::UsageCommitted>, last: Option<i64>) -> bool {
    held.is_some_and(|h| last.is_none_or(|s| h.holds(u64::try_from(s).unwrap_or(0))))
}

impl Store {
    /// Opens (creating if needed) the store, migrates it and checks its integrity.
    pub fn open(path: &Path, identity: KioskIdentity) -> Result<Store, StoreError> {
        Self::open_with(path, identity, Durability::Full)
    }

    /// As [`Store::open`], with a durability mode (tests only use `Off`).
    pub fn open_with(
        path: &Path,
        identity: KioskIdentity,
        durability: Durability,
    ) -> Result<Store, StoreError> {
        let corrupt = |detail: String| StoreError::Corrupt {
            path: path.to_path_buf(),
            detail,
        };
        let conn = Connection::open(path).map_err(|source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        // Check-ins and card hashes: the kiosk user's alone (SQLite gives the -wal and -shm
        // files the database file's mode).
        {
            use std::os::unix::fs::PermissionsExt;
            if let Err(e) = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)) {
                tracing::warn!("cannot make {} private: {e}", path.display());
            }
        }
        let map = |e: rusqlite::Error| match StoreError::from(e) {
            StoreError::Corrupt { detail, .. } => corrupt(detail),
            other => other,
        };
        conn.busy_handler(Some(busy_wait)).map_err(map)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(map)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(corrupt(format!(
                "cannot switch to WAL (journal_mode={mode})"
            )));
        }
        let sync = match durability {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
            Durability::Off => "OFF",
        };
        // Checkpoints (copying the WAL into the database, with an fsync) are done on the
        // worker's idle ticks (`checkpoint`), not by a commit: the connection that records
        // check-ins checkpoints by itself only past 10,000 pages (~40 MB of WAL).
        let autocheckpoint = match durability {
            Durability::Full => 10_000,
            // The feed's connection writes one small row per ack: it never checkpoints (that
            // writes megabytes and syncs the database file, which a tap's commit then queues
            // behind). The worker checkpoints when no one is tapping; the tap's own connection
            // past 10,000 pages bounds the WAL.
            Durability::Normal => 0,
            Durability::Off => 1_000,
        };
        conn.execute_batch(&format!(
            "PRAGMA synchronous={sync}; PRAGMA foreign_keys=ON; \
             PRAGMA wal_autocheckpoint={autocheckpoint};"
        ))
        .map_err(map)?;
        let check: String = conn
            .query_row("PRAGMA quick_check", [], |r| r.get(0))
            .map_err(map)?;
        if check != "ok" {
            return Err(corrupt(check));
        }
        let mut store = Store {
            conn,
            path: path.to_path_buf(),
            identity,
            installation: Uuid::nil(),
        };
        store.migrate().map_err(|e| match e {
            StoreError::Corrupt { detail, .. } => corrupt(detail),
            other => other,
        })?;
        store.installation = store.installation_id().map_err(map)?;
        Ok(store)
    }

    /// The installation id, made (random) and kept at the first open of a new database.
    fn installation_id(&mut self) -> rusqlite::Result<Uuid> {
        let made = Uuid::new_v4().to_string();
        self.conn.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('installation', ?1)",
            [&made],
        )?;
        let held: String = self.conn.query_row(
            "SELECT value FROM meta WHERE key = 'installation'",
            [],
            |r| r.get(0),
        )?;
        Ok(held.parse().unwrap_or_else(|_| {
            tracing::error!(%held, "the store's installation id does not read: using the nil id");
            Uuid::nil()
        }))
    }

    /// This database's installation id.
    pub fn installation(&self) -> Uuid {
        self.installation
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let latest = MIGRATIONS.len() as i64;
        if version > latest {
            return Err(StoreError::TooNew {
                found: version,
                supported: latest,
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = self.conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))?;
            tx.commit()?;
        }
        Ok(())
    }

    /// The full integrity check (slower than the `quick_check` run at open).
    pub fn integrity_check(&self) -> Result<(), StoreError> {
        let check: String = self
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        if check == "ok" {
            Ok(())
        } else {
            Err(StoreError::Corrupt {
                path: self.path.clone(),
                detail: check,
            })
        }
    }

    /// Limits the database to `pages` pages: lets tests meet a full disk for real.
    pub fn limit_pages(&self, pages: u64) -> Result<(), StoreError> {
        self.conn
            .query_row(&format!("PRAGMA max_page_count = {pages}"), [], |_| Ok(()))?;
        Ok(())
    }

    /// Records events durably: one transaction, committed (WAL fsynced) before returning.
    /// Returns each event's `seq`. Nothing is recorded if anything fails.
    pub fn record(
        &mut self,
        events: &[Event],
        now: DateTime<Utc>,
        clock_synced: bool,
    ) -> Result<Vec<u64>, StoreError> {
        // IMMEDIATE: take the write lock at BEGIN (waiting out the feed's connection under the
        // busy timeout) instead of upgrading a read snapshot later, which fails at once.
        let started = std::time::Instant::now();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // The counter, not the outbox: pruning may empty the outbox, and a seq must never
        // come again (the journal would take it for a resend).
        let mut seq: u64 = tx.query_row(
            "SELECT MAX((SELECT COALESCE(MAX(seq), 0) FROM outbox),
                        (SELECT COALESCE(MAX(CAST(value AS INTEGER)), 0) FROM meta
                         WHERE key = 'last_seq'))",
            [],
            |r| r.get(0),
        )?;
        let mut seqs = Vec::with_capacity(events.len());
        for event in events {
            seq += 1;
            let event_id = Uuid::now_v7();
            let envelope = Envelope {
                schema: SCHEMA,
                site: self.identity.site.clone(),
                kiosk: self.identity.kiosk.clone(),
                installation: Some(self.installation),
                seq,
                event_id,
                recorded_at: now,
                clock_synced,
                event: event.clone(),
            };
            let payload = serde_json::to_string(&envelope)?;
            tx.execute(
                "INSERT INTO outbox (seq, event_id, session, payload, recorded_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    seq,
                    event_id.to_string(),
                    event.session().map(|s| s.to_string()),
                    payload,
                    ts(now)
                ],
            )?;
            Self::derive(&tx, event)?;
            seqs.push(seq);
        }
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('last_seen', ?1)
             ON CONFLICT (key) DO UPDATE SET value = MAX(value, excluded.value)",
            params![ts(now)],
        )?;
        if clock_synced {
            // The latest time known from a synchronised clock: what TLS checks certificates at
            // when the kiosk boots without a clock (see `Store::last_good_time`).
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('last_good_time', ?1)
                 ON CONFLICT (key) DO UPDATE SET value = MAX(value, excluded.value)",
                params![ts(now)],
            )?;
        }
        tx.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('last_seq', ?1)",
            params![seq.to_string()],
        )?;
        let written = started.elapsed();
        tx.commit()?;
        tracing::trace!(
            target: "otmetka::timing",
            "record: lock+write {} µs, commit {} µs",
            written.as_micros(),
            (started.elapsed() - written).as_micros()
        );
        Ok(seqs)
    }

    /// Keeps the tables the rules read in step with the events.
    fn derive(tx: &rusqlite::Transaction<'_>, event: &Event) -> Result<(), StoreError> {
        match event {
            Event::SessionOpened {
                session,
                service,
                at,
                group,
                event,
                ..
            } => {
                tx.execute(
                    "INSERT INTO sessions (id, service, opened_at, state, study_group, event)
                     VALUES (?1, ?2, ?3, 'open', ?4, ?5)",
                    params![
                        session.to_string(),
                        service.0,
                        ts(*at),
                        group.map(|g| g.to_string()),
                        event
                    ],
                )?;
            }
            Event::SessionClosed { session, .. } => {
                tx.execute(
                    "UPDATE sessions SET state = 'closed' WHERE id = ?1",
                    params![session.to_string()],
                )?;
            }
            Event::SessionCancelled { session, .. } => {
                tx.execute(
                    "UPDATE sessions SET state = 'cancelled' WHERE id = ?1",
                    params![session.to_string()],
                )?;
            }
            Event::CheckedIn {
                session,
                checkin,
                recipient,
                at,
                ..
            } => {
                tx.execute(
                    "INSERT INTO checkins (id, session, recipient, service, at)
                     SELECT ?1, ?2, ?3, service, ?4 FROM sessions WHERE id = ?2",
                    params![
                        checkin.to_string(),
                        session.to_string(),
                        recipient.to_string(),
                        ts(*at)
                    ],
                )?;
            }
            Event::CheckInUndone { checkin, at, .. } => {
                tx.execute(
                    "UPDATE checkins SET undone_at = ?2 WHERE id = ?1",
                    params![checkin.to_string(), ts(*at)],
                )?;
            }
            _ => {}
        }
        Ok(())
    }

    /// The open sessions, rebuilt from their events.
    pub fn open_sessions(&self) -> Result<Vec<Session>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id FROM sessions WHERE state = 'open'")?;
        let ids: Vec<String> = stmt
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let mut out = Vec::new();
        for id in ids {
            let events = self.session_events(&id)?;
            if let Some(s) = Session::replay(events.iter()) {
                out.push(s);
            }
        }
        Ok(out)
    }

    fn session_events(&self, id: &str) -> Result<Vec<Event>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT payload FROM outbox WHERE session = ?1 ORDER BY seq")?;
        let rows: Vec<String> = stmt
            .query_map([id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        rows.iter()
            .map(|p| {
                serde_json::from_str::<Envelope>(p)
                    .map(|e| e.event)
                    .map_err(Into::into)
            })
            .collect()
    }

    /// A recipient's attendance since `since`: check-ins not undone, of sessions not cancelled
    /// (a cancelled session gave no service, so it counts toward no limit).
    ///
    /// With `held` (what the journal held of this database's messages when it built the site's
    /// usage, which then carries those units), only the sessions it did not hold: the open
    /// ones, and the closed ones whose last message (their units) it did not hold. A session
    /// whose messages were pruned was delivered long ago.
    pub fn attendance(
        &self,
        recipient: otmetka_core::people::RecipientId,
        since: DateTime<Utc>,
        held: Option<&otmetka_core::wire::UsageCommitted>,
    ) -> Result<Vec<Attendance>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT c.session, c.service, c.at, s.state = 'open',
                    (SELECT MAX(o.seq) FROM outbox o WHERE o.session = c.session),
                    COALESCE(s.event, 0)
             FROM checkins c LEFT JOIN sessions s ON s.id = c.session
             WHERE c.recipient = ?1 AND c.at >= ?2 AND c.undone_at IS NULL
               AND s.state IS NOT 'cancelled'
             ORDER BY c.at",
        )?;
        let rows = stmt.query_map(params![recipient.to_string(), ts(since)], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<bool>>(3)?.unwrap_or(false),
                r.get::<_, Option<i64>>(4)?,
                r.get::<_, bool>(5)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (session, service, at, open, last, event) = row?;
            if !open && journal_holds(held, last) {
                continue;
            }
            if let (Ok(session), Some(at)) = (Uuid::parse_str(&session), parse_ts(&at)) {
                out.push(Attendance {
                    session: Some(SessionId(session)),
                    service: otmetka_core::catalogue::ServiceCode(service),
                    at,
                    event,
                });
            }
        }
        Ok(out)
    }

    /// The sessions of `group` of `service` opened since `since` that gave a service, with when
    /// each began: closed (not cancelled, not open) with a check-in not undone — what the
    /// journal counts of them against a cap on the group's sessions — leaving out those whose
    /// messages the journal held (`held`) when it built the usage that lists them.
    pub fn group_sessions(
        &self,
        group: otmetka_core::people::GroupId,
        service: &otmetka_core::catalogue::ServiceCode,
        since: DateTime<Utc>,
        held: Option<&otmetka_core::wire::UsageCommitted>,
    ) -> Result<Vec<(SessionId, DateTime<Utc>)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT s.id, s.opened_at,
                    (SELECT MAX(o.seq) FROM outbox o WHERE o.session = s.id)
             FROM sessions s
             WHERE s.study_group = ?1 AND s.service = ?2 AND s.opened_at >= ?3
               AND s.state = 'closed'
               AND EXISTS (SELECT 1 FROM checkins c WHERE c.session = s.id AND c.undone_at IS NULL)
             ORDER BY s.opened_at",
        )?;
        let rows = stmt.query_map(params![group.to_string(), service.0, ts(since)], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<i64>>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, at, last) = row?;
            if journal_holds(held, last) {
                continue;
            }
            if let (Ok(id), Some(at)) = (Uuid::parse_str(&id), parse_ts(&at)) {
                out.push((SessionId(id), at));
            }
        }
        Ok(out)
    }

    /// Whether a check-in with this id is committed (the crash test's question).
    pub fn has_checkin(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT 1 FROM checkins WHERE id = ?1", [id], |_| Ok(()))
            .optional()?
            .is_some())
    }

    /// The latest time the store has seen (for clock sanity).
    pub fn last_seen(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let v: Option<String> = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'last_seen'", [], |r| {
                r.get(0)
            })
            .optional()?;
        Ok(v.as_deref().and_then(parse_ts))
    }

    /// The latest time this store recorded on a synchronised clock, if any. A Pi without a
    /// real-time clock boots in 1970: TLS checks the broker's certificate at this time or later
    /// (`TlsOptions::last_known_good`), so it still connects, and learns the time, offline of NTP.
    pub fn last_good_time(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let v: Option<String> = self
            .conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'last_good_time'",
                [],
                |r| r.get(0),
            )
            .optional()?;
        Ok(v.as_deref().and_then(parse_ts))
    }

    /// The wrong PINs in a row and until when PINs are refused, as last kept (a restart must
    /// not give a PIN search a fresh count).
    pub fn pin_attempts(&self) -> Result<(u32, Option<DateTime<Utc>>), StoreError> {
        let v: Option<String> = self
            .conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'pin_attempts'",
                [],
                |r| r.get(0),
            )
            .optional()?;
        let Some(v) = v else { return Ok((0, None)) };
        let (n, until) = v.split_once(' ').unwrap_or((v.as_str(), ""));
        Ok((n.parse().unwrap_or(0), parse_ts(until)))
    }

    /// Keeps the wrong PINs in a row (0 clears them), synced like a check-in.
    pub fn set_pin_attempts(
        &mut self,
        failures: u32,
        locked_until: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        if failures == 0 {
            self.conn
                .execute("DELETE FROM meta WHERE key = 'pin_attempts'", [])?;
        } else {
            let until = locked_until.map(ts).unwrap_or_default();
            self.conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('pin_attempts', ?1)",
                params![format!("{failures} {until}")],
            )?;
        }
        Ok(())
    }

    /// Records that the clock was synchronised at `now` (the feed, on connecting).
    pub fn saw_good_time(&mut self, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES ('last_good_time', ?1)
             ON CONFLICT (key) DO UPDATE SET value = MAX(value, excluded.value)",
            params![ts(now)],
        )?;
        Ok(())
    }

    /// Up to `limit` undelivered outbox rows after `after_seq`, in order.
    pub fn undelivered(&self, after_seq: u64, limit: usize) -> Result<Vec<OutboxRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT seq, payload, recorded_at FROM outbox
             WHERE seq > ?1 AND seq > {ACKED} ORDER BY seq LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![after_seq, limit as i64], |r| {
            Ok((
                r.get::<_, u64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, payload, at) = row?;
            out.push(OutboxRow {
                seq,
                payload,
                recorded_at: parse_ts(&at).unwrap_or_default(),
            });
        }
        Ok(out)
    }

    /// The journal acknowledged every row up to `seq` as committed (never called on a broker's
    /// PUBACK): one row in the ack log. Returns how many outbox rows that delivered.
    pub fn mark_delivered(
        &mut self,
        up_to_seq: u64,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let acked = self.acked()?;
        if up_to_seq <= acked {
            return Ok(0);
        }
        let n: u64 = self.conn.query_row(
            "SELECT COUNT(*) FROM outbox WHERE seq > ?1 AND seq <= ?2",
            params![acked, up_to_seq],
            |r| r.get(0),
        )?;
        self.conn.execute(
            "INSERT OR IGNORE INTO acks (seq, at) VALUES (?1, ?2)",
            params![up_to_seq, ts(now)],
        )?;
        Ok(n)
    }

    /// The journal says it holds only up to `seq`, below what it acknowledged before (its
    /// database was restored from a backup): the ack log goes back to `seq`, so every row above
    /// it that the store still keeps (delivered rows stay for the audit period) is sent again.
    /// Returns the seqs above `seq` the store no longer holds, if some were pruned: those will
    /// never reach the journal. They are kept (`Store::lost`) so that the kiosk's status says so
    /// to the journal's staff for as long as the store lives, not only in this moment's log.
    pub fn rewind_acks(
        &mut self,
        seq: u64,
        now: DateTime<Utc>,
    ) -> Result<Option<SeqRange>, StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM acks WHERE seq > ?1", params![seq])?;
        tx.execute(
            "INSERT OR IGNORE INTO acks (seq, at) VALUES (?1, ?2)",
            params![seq, ts(now)],
        )?;
        // Rows are pruned from the lowest up, so the rows held above `seq` run without a hole
        // from the lowest of them to the counter; below that lowest (or up to the counter, when
        // none is held) they are gone.
        let (lowest, last): (Option<u64>, u64) = tx.query_row(
            "SELECT (SELECT MIN(seq) FROM outbox WHERE seq > ?1),
                    (SELECT COALESCE(MAX(CAST(value AS INTEGER)), 0) FROM meta WHERE key = 'last_seq')",
            params![seq],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let to = lowest.map_or(last, |l| l - 1);
        let lost = (to > seq).then_some(SeqRange { from: seq + 1, to });
        if let Some(range) = lost {
            let mut held = Self::lost_in(&tx)?;
            held.push(range);
            held.sort();
            // Ranges that touch or overlap become one (a second restore may ask again).
            let mut merged: Vec<SeqRange> = Vec::with_capacity(held.len());
            for r in held {
                match merged.last_mut() {
                    Some(m) if r.from <= m.to.saturating_add(1) => m.to = m.to.max(r.to),
                    _ => merged.push(r),
                }
            }
            tx.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('lost_seqs', ?1)",
                params![serde_json::to_string(&merged)?],
            )?;
        }
        tx.commit()?;
        Ok(lost)
    }

    /// The seqs this store was asked for again after it had pruned them (see
    /// [`Store::rewind_acks`]), in order.
    pub fn lost(&self) -> Result<Vec<SeqRange>, StoreError> {
        Self::lost_in(&self.conn)
    }

    fn lost_in(conn: &Connection) -> Result<Vec<SeqRange>, StoreError> {
        let text: Option<String> = conn
            .query_row("SELECT value FROM meta WHERE key = 'lost_seqs'", [], |r| {
                r.get(0)
            })
            .optional()?;
        Ok(match text {
            Some(t) => serde_json::from_str(&t)?,
            None => Vec::new(),
        })
    }

    /// The highest seq the ack log holds (0 before the first ack).
    pub fn acked(&self) -> Result<u64, StoreError> {
        Ok(self
            .conn
            .query_row(&format!("SELECT {ACKED}"), [], |r| r.get(0))?)
    }

    /// Deletes rows delivered before `before` (the audit period has passed), but never the
    /// events of a session that is still open; forgets the acks older than that, but the last.
    pub fn prune_delivered(&mut self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        // Rows up to the last ack older than the cut (a range of the primary key). Rows marked
        // one by one before the ack log count from the ack the upgrade made of the last of them.
        // Looked at first without the write lock: most of the time there is nothing to delete,
        // and a DELETE holds the lock (and so a tap) for as long as it scans.
        let upto: u64 = self.conn.query_row(
            "SELECT COALESCE(MAX(seq), 0) FROM acks WHERE at < ?1",
            params![ts(before)],
            |r| r.get(0),
        )?;
        let any: bool = self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM outbox WHERE seq <= ?1)",
            params![upto],
            |r| r.get(0),
        )?;
        if !any {
            return Ok(0);
        }
        let tx = self.conn.transaction()?;
        let n = tx.execute(
            "DELETE FROM outbox WHERE seq <= ?1
             AND (session IS NULL OR session NOT IN (SELECT id FROM sessions WHERE state = 'open'))",
            params![upto],
        )?;
        tx.execute(
            "DELETE FROM acks WHERE at < ?1 AND seq < (SELECT MAX(seq) FROM acks)",
            params![ts(before)],
        )?;
        tx.commit()?;
        Ok(n as u64)
    }

    /// Copies what it can of the WAL into the database without waiting for readers (a passive
    /// checkpoint); the worker calls it when no one is tapping. Returns the WAL pages left.
    pub fn checkpoint(&mut self) -> Result<u64, StoreError> {
        let (_, log, done): (i64, i64, i64) =
            self.conn
                .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?;
        Ok((log - done).max(0) as u64)
    }

    /// Outbox depth and the time of the oldest undelivered row.
    pub fn backlog(&self) -> Result<(u64, Option<DateTime<Utc>>), StoreError> {
        let (n, oldest): (u64, Option<String>) = self.conn.query_row(
            &format!("SELECT COUNT(*), MIN(recorded_at) FROM outbox WHERE seq > {ACKED}"),
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok((n, oldest.as_deref().and_then(parse_ts)))
    }

    /// Stores a synced document (roster, schedule, catalogue) if it is newer than the one held.
    pub fn put_document(
        &mut self,
        name: &str,
        version: u64,
        body: &str,
    ) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "INSERT INTO documents (name, version, body) VALUES (?1, ?2, ?3)
             ON CONFLICT (name) DO UPDATE SET version = excluded.version, body = excluded.body
             WHERE excluded.version > documents.version",
            params![name, version as i64, body],
        )?;
        Ok(n > 0)
    }

    /// Changes a document's body and keeps its version: a local amendment (a card enrolled
    /// here) that the journal's next version will include. Returns whether the document exists.
    pub fn amend_document(&mut self, name: &str, body: &str) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "UPDATE documents SET body = ?2 WHERE name = ?1",
            params![name, body],
        )?;
        Ok(n > 0)
    }

    /// Stores a document of the kiosk's own (no version: the new body replaces the old), or with
    /// `None` removes it.
    pub fn set_local_document(&mut self, name: &str, body: Option<&str>) -> Result<(), StoreError> {
        match body {
            Some(body) => self.conn.execute(
                "INSERT INTO documents (name, version, body) VALUES (?1, 0, ?2)
                 ON CONFLICT (name) DO UPDATE SET body = excluded.body",
                params![name, body],
            )?,
            None => self
                .conn
                .execute("DELETE FROM documents WHERE name = ?1", [name])?,
        };
        Ok(())
    }

    /// A synced document and its version.
    pub fn document(&self, name: &str) -> Result<Option<(u64, String)>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT version, body FROM documents WHERE name = ?1",
                [name],
                |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)),
            )
            .optional()?)
    }
}
