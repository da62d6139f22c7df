//! The SQLite engine of the journal store: one file, WAL, `synchronous=FULL` (an ack tells a
//! kiosk it may forget a row: the commit behind it must survive a power cut). The schema is a
//! list of numbered migrations (`migrations/NNNN_*.sql`) applied with
//! `rusqlite_migration`, which keeps the version in SQLite's `user_version`.
//!
//! Every write transaction begins `IMMEDIATE`: it takes the write lock first and waits for it
//! (the busy timeout), where a deferred one that read first would fail at once with
//! `SQLITE_BUSY` when another connection (the feed, the pages, a command) wrote in between.

use super::{
    Batch, Enrolment, JournalStore, JournalUnit, KioskAck, KioskRecord, RejectionCount,
    StatusReport, StoreError, StoredRejection, UnidentifiedTap, UnitKey, Verdict,
};
use chrono::{DateTime, Utc};
use otmetka_core::event::{CloseReason, Event};
use otmetka_core::wire::{Envelope, RejectReason, Rejection};
use rusqlite::{Connection, OptionalExtension, params};
use rusqlite_migration::{M, Migrations};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::LazyLock;

mod api;
pub mod backup;
mod people;
mod rules;
mod staff;

use crate::store::people as people_rec;

/// The schema, in order. Never edit a migration that has shipped: add the next one.
const MIGRATION_SQL: &[&str] = &[
    include_str!("migrations/0001_initial.sql"),
    include_str!("migrations/0002_installations.sql"),
    include_str!("migrations/0003_staff.sql"),
    include_str!("migrations/0004_matched_taps.sql"),
    include_str!("migrations/0005_satisfaction_index.sql"),
    include_str!("migrations/0006_after_signoff.sql"),
    include_str!("migrations/0007_people.sql"),
    include_str!("migrations/0008_feedback_visits.sql"),
    include_str!("migrations/0009_recheck.sql"),
    include_str!("migrations/0010_session_form.sql"),
    include_str!("migrations/0011_rejected_bounded.sql"),
    include_str!("migrations/0012_left_on.sql"),
    include_str!("migrations/0013_timetable_approved.sql"),
    include_str!("migrations/0014_programme_history.sql"),
    include_str!("migrations/0015_violations_pair.sql"),
    include_str!("migrations/0016_violations_per_limit.sql"),
    include_str!("migrations/0017_recheck_cascade.sql"),
    include_str!("migrations/0018_session_group.sql"),
    include_str!("migrations/0019_user_instructor.sql"),
    include_str!("migrations/0020_snils_sex.sql"),
    include_str!("migrations/0021_api_clients.sql"),
    include_str!("migrations/0022_checkins_recipient.sql"),
    include_str!("migrations/0023_checked_out.sql"),
];

/// The latest refusals kept of each site, kiosk and reason kind (the rest are counted only).
pub const REJECTED_SAMPLE: u32 = 20;
/// The most of a refused message's payload kept in the sample.
const REJECTED_PAYLOAD: usize = 16 * 1024;

#[cfg(test)]
const MIGRATIONS_COUNT: usize = MIGRATION_SQL.len();

static MIGRATIONS: LazyLock<Migrations<'static>> =
    LazyLock::new(|| Migrations::new(MIGRATION_SQL.iter().map(|sql| M::up(sql)).collect()));

/// The SQLite journal store.
#[derive(Debug)]
pub struct SqliteJournal {
    conn: Connection,
}

use otmetka_core::timestamp::{from_text, to_text as ts};

/// Brings the schema to the latest version. `rusqlite_migration` reads the version before its
/// transaction takes the write lock, so an opener racing another on a new file (the service
/// starting while a command or a test opens it) runs migrations the other has just committed and
/// fails ("table … already exists"). Where the version moved while it ran, it looks again; an
/// error with the version unmoved is the migration's own and is returned.
fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let version = |c: &Connection| c.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0));
    let mut moved = 0;
    loop {
        let before = version(conn)?;
        match MIGRATIONS.to_latest(conn) {
            Ok(()) => return Ok(()),
            Err(_) if version(conn)? != before && moved < MIGRATION_SQL.len() => moved += 1,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Whether SQLite refused at once with `SQLITE_BUSY`: it does so without waiting for the busy
/// timeout where waiting could deadlock (two connections setting a new file's journal mode),
/// and the caller is to try again.
fn refused_busy(e: &StoreError) -> bool {
    let sqlite = match e {
        StoreError::Sqlite(e) => e,
        StoreError::Migration(rusqlite_migration::Error::RusqliteError { err, .. }) => err,
        _ => return false,
    };
    sqlite.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy)
}

impl SqliteJournal {
    /// A write transaction: `IMMEDIATE`, so it takes the write lock first and waits for it
    /// (see the module's documentation).
    fn write(&mut self) -> rusqlite::Result<rusqlite::Transaction<'_>> {
        self.conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
    }

    /// Opens (and creates, and migrates) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut tries = 0;
        loop {
            match Self::open_once(path) {
                Err(e) if refused_busy(&e) && tries < 100 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                r => return r,
            }
        }
    }

    fn open_once(path: &Path) -> Result<Self, StoreError> {
        let mut conn = Connection::open(path)?;
        // The journal holds names' ids, card hashes and the audit trail: the service user's
        // alone (SQLite gives the -wal and -shm files the database file's mode).
        restrict_to_owner(path);
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.query_row("PRAGMA journal_mode=WAL", [], |_| Ok(()))?;
        conn.execute_batch("PRAGMA synchronous=FULL;")?;
        migrate(&mut conn)?;
        Ok(SqliteJournal { conn })
    }

    /// Applies an accepted message. Every change is scoped to the kiosk that sent it: what
    /// would touch another kiosk's session, check-in or unit is not applied, and is returned
    /// (the caller records it as a refusal and tells the kiosk).
    fn apply(
        tx: &rusqlite::Transaction<'_>,
        env: &Envelope,
    ) -> Result<Vec<RejectReason>, StoreError> {
        let (site, kiosk) = (env.site.as_str(), env.kiosk.as_str());
        let mut refused = Vec::new();
        // Whose record `id` of `table` is, if it is held and not this kiosk's.
        let foreign = |table: &str, id: &str| -> Result<Option<String>, StoreError> {
            let owner: Option<(String, String)> = tx
                .query_row(
                    &format!("SELECT site, kiosk FROM {table} WHERE id = ?1"),
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            Ok(owner
                .filter(|(s, k)| (s.as_str(), k.as_str()) != (site, kiosk))
                .map(|(s, k)| format!("{s}/{k}")))
        };
        let mut refuse = |what: String| refused.push(RejectReason::Foreign { detail: what });
        match &env.event {
            Event::SessionOpened {
                session,
                service,
                instructor,
                at,
                event,
                group,
                ..
            } => {
                let id = session.to_string();
                if let Some(owner) = foreign("sessions", &id)? {
                    refuse(format!("session {id} was opened by kiosk {owner}"));
                } else {
                    tx.execute(
                        "INSERT OR IGNORE INTO sessions (id, site, kiosk, service, instructor,
                         opened_at, event, study_group) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                        params![
                            id,
                            site,
                            kiosk,
                            service.0,
                            instructor.to_string(),
                            ts(*at),
                            event,
                            group.map(|g| g.0.to_string())
                        ],
                    )?;
                }
            }
            Event::SessionClosed {
                session,
                at,
                how,
                head_count,
                reason,
            } => {
                let id = session.to_string();
                if let Some(owner) = foreign("sessions", &id)? {
                    refuse(format!("closing session {id} of kiosk {owner}"));
                } else {
                    tx.execute(
                        "UPDATE sessions SET closed_at = ?4, how = ?5, head_count = ?6,
                         close_reason = ?7
                         WHERE id = ?1 AND site = ?2 AND kiosk = ?3",
                        params![
                            id,
                            site,
                            kiosk,
                            ts(*at),
                            format!("{how:?}"),
                            head_count,
                            reason.map(CloseReason::code)
                        ],
                    )?;
                }
            }
            Event::CheckedIn {
                session,
                checkin,
                recipient,
                at,
                ..
            } => {
                let (id, sid) = (checkin.to_string(), session.to_string());
                if let Some(owner) = foreign("sessions", &sid)? {
                    refuse(format!("a check-in into session {sid} of kiosk {owner}"));
                } else if let Some(owner) = foreign("checkins", &id)? {
                    refuse(format!("check-in {id} was recorded by kiosk {owner}"));
                } else {
                    tx.execute(
                        "INSERT OR IGNORE INTO checkins (id, site, kiosk, session, recipient, at, body)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                        params![
                            id,
                            site,
                            kiosk,
                            sid,
                            recipient.to_string(),
                            ts(*at),
                            serde_json::to_string(&env.event)?
                        ],
                    )?;
                }
            }
            Event::CheckInUndone { checkin, at, .. } => {
                let id = checkin.to_string();
                if let Some(owner) = foreign("checkins", &id)? {
                    refuse(format!("undoing check-in {id} of kiosk {owner}"));
                } else {
                    tx.execute(
                        "UPDATE checkins SET undone_at = ?4 WHERE id = ?1 AND site = ?2 AND kiosk = ?3",
                        params![id, site, kiosk, ts(*at)],
                    )?;
                }
            }
            Event::CheckedOut { checkin, at, .. } => {
                // Kept on the check-in (the first check-out counts): the same card at two
                // kiosks at once is judged by it (`RulesStore::double_taps`).
                tx.execute(
                    "UPDATE checkins SET checked_out_at = ?4
                     WHERE id = ?1 AND site = ?2 AND kiosk = ?3 AND checked_out_at IS NULL",
                    params![checkin.to_string(), site, kiosk, ts(*at)],
                )?;
            }
            Event::UnidentifiedTap {
                session,
                tap,
                card_hash,
                at,
            } => {
                tx.execute(
                    "INSERT OR IGNORE INTO unidentified_taps (tap, site, kiosk, session, card_hash, at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![tap.to_string(), site, kiosk, session.map(|s| s.to_string()), card_hash, ts(*at)],
                )?;
            }
            Event::CardEnrolled {
                request,
                recipient,
                card_hashes,
                at,
            } => {
                if let Some(why) =
                    Self::enrolment_refusal(tx, env, *request, *recipient, card_hashes, *at)?
                {
                    refused.push(why);
                    return Ok(refused);
                }
                let fulfilled = tx.execute(
                    "UPDATE enrolments SET card_hashes = ?2, enrolled_at = ?3
                     WHERE request = ?1 AND enrolled_at IS NULL",
                    params![
                        request.to_string(),
                        serde_json::to_string(card_hashes)?,
                        ts(*at)
                    ],
                )?;
                // The card becomes its holder's in the journal's people: the roster goes out
                // again with it (`after_commit`). A resend of the same card changes nothing.
                if fulfilled == 1 {
                    people::insert_card(
                        tx,
                        &people_rec::NewCard {
                            site: site.to_string(),
                            holder: people_rec::Holder::Recipient(*recipient),
                            hashes: card_hashes.clone(),
                            tail: None,
                            state: people_rec::CardState::Active,
                            valid_until: None,
                            kept_by_staff: false,
                            note: String::new(),
                        },
                        &format!("kiosk {kiosk}"),
                        *at,
                    )?;
                }
            }
            Event::Units { session, units } => {
                let sid = session.to_string();
                if let Some(owner) = foreign("sessions", &sid)? {
                    refuse(format!("units of session {sid} of kiosk {owner}"));
                    return Ok(refused);
                }
                let mut stmt = tx.prepare_cached(
                    "INSERT OR IGNORE INTO units (id, site, kiosk, session, service, recipient, date,
                     over_limit, below_group_min, body, after_signoff) VALUES (?1, ?2, ?3, ?4, ?5, ?6,
                     ?7, ?8, ?9, ?10,
                     (SELECT signed_at FROM month_signoffs WHERE site = ?2 AND month = ?11))",
                )?;
                for u in units {
                    let id = u.id.0.to_string();
                    match foreign("units", &id)? {
                        // The day's one unit (002 l.1513 «в сутки – 1 услуга»), given already
                        // by a session on another kiosk of the site: not a second unit.
                        Some(owner)
                            if u.is_per_day()
                                && owner.split_once('/').is_some_and(|(s, _)| s == site) =>
                        {
                            continue;
                        }
                        Some(owner) => {
                            refuse(format!("unit {id} was recorded by kiosk {owner}"));
                            continue;
                        }
                        None => {}
                    }
                    stmt.execute(params![
                        id,
                        site,
                        kiosk,
                        u.session.to_string(),
                        u.service.0,
                        u.recipient.map(|r| r.to_string()),
                        u.date.to_string(),
                        u.over_limit(),
                        u.below_group_min,
                        serde_json::to_string(u)?,
                        crate::store::staff::month_of(u.date).to_string(),
                    ])?;
                }
                let ids: Vec<String> = units.iter().map(|u| u.id.0.to_string()).collect();
                rules::units_changed(tx, &ids)?;
            }
            Event::SessionCancelled {
                session,
                at,
                reason,
            } => {
                let id = session.to_string();
                if let Some(owner) = foreign("sessions", &id)? {
                    refuse(format!("cancelling session {id} of kiosk {owner}"));
                } else {
                    tx.execute(
                        "UPDATE sessions SET closed_at = ?4, how = ?5
                         WHERE id = ?1 AND site = ?2 AND kiosk = ?3",
                        params![id, site, kiosk, ts(*at), format!("Cancelled: {reason}")],
                    )?;
                }
            }
            _ => {}
        }
        Ok(refused)
    }
}

/// Makes `path` readable and writable by its owner only (a file made by someone else, such as
/// a test's copy, is left as it is).
fn restrict_to_owner(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Err(e) = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)) {
        tracing::warn!("cannot make {} private: {e}", path.display());
    }
}

/// How far a kiosk's clock may be behind the journal's when it enrols a card at the last moment.
const ENROLMENT_SKEW: chrono::Duration = chrono::Duration::minutes(2);

impl SqliteJournal {
    /// Why a kiosk's `CardEnrolled` is not taken, if it is not: the request must be held, have
    /// been sent to that kiosk, name that recipient and not have expired, and the card must not
    /// be another person's already. A credential of one kiosk must not give any card to anyone.
    fn enrolment_refusal(
        tx: &rusqlite::Transaction<'_>,
        env: &Envelope,
        request: uuid::Uuid,
        recipient: otmetka_core::people::RecipientId,
        card_hashes: &[String],
        at: DateTime<Utc>,
    ) -> Result<Option<RejectReason>, StoreError> {
        let invalid = |detail: String| Ok(Some(RejectReason::Invalid { detail }));
        let held: Option<(String, String, String, String, Option<String>)> = tx
            .query_row(
                "SELECT site, kiosk, recipient, expires_at, card_hashes FROM enrolments
                 WHERE request = ?1",
                [request.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()?;
        let Some((site, kiosk, wanted, expires, done)) = held else {
            return invalid(format!("card enrolment {request}: no such request"));
        };
        if (site.as_str(), kiosk.as_str()) != (env.site.as_str(), env.kiosk.as_str()) {
            return Ok(Some(RejectReason::Foreign {
                detail: format!("card enrolment {request} was asked of kiosk {site}/{kiosk}"),
            }));
        }
        if wanted != recipient.to_string() {
            return invalid(format!(
                "card enrolment {request} is for another recipient than {recipient}"
            ));
        }
        if let Some(done) = done {
            let done: Vec<String> = serde_json::from_str(&done)?;
            return if done == card_hashes {
                Ok(None) // the same card again: a resend of a new event id, changes nothing
            } else {
                invalid(format!("card enrolment {request} was fulfilled already"))
            };
        }
        if from_text(&expires).is_some_and(|e| at > e + ENROLMENT_SKEW) {
            return invalid(format!("card enrolment {request} expired at {expires}"));
        }
        if let Some(holder) = people::card_holder(tx, &env.site, card_hashes)? {
            return invalid(format!(
                "card enrolment {request}: the card is {}'s already",
                holder.id
            ));
        }
        Ok(None)
    }
}

impl JournalStore for SqliteJournal {
    fn commit_batch(
        &mut self,
        batch: &Batch,
        now: DateTime<Utc>,
    ) -> Result<Vec<KioskAck>, StoreError> {
        let tx = self.write()?;
        for StatusReport { site, kiosk, body } in &batch.statuses {
            tx.execute(
                "INSERT INTO kiosk_status (site, kiosk, body, updated_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (site, kiosk) DO UPDATE SET body = excluded.body,
                 updated_at = excluded.updated_at",
                params![site, kiosk, body, ts(now)],
            )?;
        }
        // (site, kiosk, installation) → the refusals to tell that kiosk.
        let mut touched: BTreeMap<(String, String, String), Vec<Rejection>> = BTreeMap::new();
        // (site, kiosk, kind) → messages refused or deferred in this batch.
        let mut refusals: BTreeMap<(String, String, &'static str), u64> = BTreeMap::new();
        for d in &batch.deferred {
            *refusals
                .entry((d.site.clone(), d.kiosk.clone(), d.kind))
                .or_default() += d.count;
        }
        for m in &batch.messages {
            let installation = match &m.verdict {
                Verdict::Accept(env) => env.installation,
                Verdict::Reject { .. } => Envelope::peek_installation(&m.payload),
            }
            .map(|i| i.to_string())
            .unwrap_or_default();
            let key = (m.site.clone(), m.kiosk.clone(), installation.clone());
            // Counted always (once per kind and kiosk in the batch, below); kept as one of
            // the latest REJECTED_SAMPLE of its kind (the sample trimmed once per batch).
            let mut keep = |reason: &RejectReason, seq: Option<u64>| {
                let kind = reason.kind();
                *refusals
                    .entry((m.site.clone(), m.kiosk.clone(), kind))
                    .or_default() += 1;
                tx.execute(
                    "INSERT INTO rejected
                     (site, kiosk, topic, seq, reason, payload, received_at, kind)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    params![
                        m.site,
                        m.kiosk,
                        m.topic,
                        seq,
                        serde_json::to_string(reason)?,
                        &m.payload[..m.payload.len().min(REJECTED_PAYLOAD)],
                        ts(now),
                        kind
                    ],
                )?;
                Ok::<_, StoreError>(())
            };
            match &m.verdict {
                Verdict::Accept(env) => {
                    let event_id = env.event_id.to_string();
                    let inserted = tx.execute(
                        "INSERT OR IGNORE INTO messages
                         (site, kiosk, installation, seq, event_id, kind, received_at, payload)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                        params![
                            env.site,
                            env.kiosk,
                            installation,
                            env.seq,
                            event_id,
                            event_kind(&env.event),
                            ts(now),
                            String::from_utf8_lossy(&m.payload)
                        ],
                    )?;
                    let apply = inserted == 1
                        || {
                            // The seq is held: a resend (the same event) changes nothing; another
                            // event under it (a kiosk that numbered again without saying it is a new
                            // installation) is applied — its records are idempotent by their own
                            // ids — and kept for staff, so nothing it confirmed is lost.
                            let held: String = tx.query_row(
                                "SELECT event_id FROM messages
                             WHERE site = ?1 AND kiosk = ?2 AND installation = ?3 AND seq = ?4",
                                params![env.site, env.kiosk, installation, env.seq],
                                |r| r.get(0),
                            )?;
                            let other = held != event_id;
                            if other {
                                tracing::warn!(site = %env.site, kiosk = %env.kiosk, seq = env.seq, %held, %event_id,
                                "a seq came again with another event: applied and kept");
                                tx.execute(
                                "INSERT INTO seq_reuse (site, kiosk, installation, seq, held_event_id,
                                 event_id, received_at, payload) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                                params![
                                    env.site,
                                    env.kiosk,
                                    installation,
                                    env.seq,
                                    held,
                                    event_id,
                                    ts(now),
                                    String::from_utf8_lossy(&m.payload)
                                ],
                            )?;
                            }
                            other
                        };
                    let refused = if apply {
                        Self::apply(&tx, env)?
                    } else {
                        Vec::new()
                    };
                    for reason in &refused {
                        tracing::warn!(site = %m.site, kiosk = %m.kiosk, seq = env.seq, ?reason,
                            "refused part of a message");
                        keep(reason, Some(env.seq))?;
                    }
                    touched
                        .entry(key)
                        .or_default()
                        .extend(refused.into_iter().map(|reason| Rejection {
                            seq: Some(env.seq),
                            reason,
                        }));
                }
                Verdict::Reject { seq, reason } => {
                    keep(reason, *seq)?;
                    // A rejection with a seq is that seq's answer: record it so the seq counts
                    // as processed (the kiosk must not resend it forever).
                    if let Some(seq) = seq {
                        tx.execute(
                            "INSERT OR IGNORE INTO messages
                             (site, kiosk, installation, seq, event_id, kind, received_at, payload)
                             VALUES (?1, ?2, ?3, ?4, '', 'rejected', ?5, '')",
                            params![m.site, m.kiosk, installation, seq, ts(now)],
                        )?;
                    }
                    touched.entry(key).or_default().push(Rejection {
                        seq: *seq,
                        reason: reason.clone(),
                    });
                }
            }
        }
        for ((site, kiosk, kind), n) in &refusals {
            tx.execute(
                "INSERT INTO rejected_counts (site, kiosk, kind, count, first_at, last_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5)
                 ON CONFLICT (site, kiosk, kind) DO UPDATE
                 SET count = count + excluded.count, last_at = excluded.last_at",
                params![site, kiosk, kind, n, ts(now)],
            )?;
            tx.execute(
                "DELETE FROM rejected WHERE site = ?1 AND kiosk = ?2 AND kind = ?3
                 AND id <= (SELECT id FROM rejected WHERE site = ?1 AND kiosk = ?2
                            AND kind = ?3 ORDER BY id DESC LIMIT 1 OFFSET ?4)",
                params![site, kiosk, kind, REJECTED_SAMPLE],
            )?;
        }
        let mut acks = Vec::new();
        for ((site, kiosk, installation), rejected) in touched {
            let mut committed: u64 = tx
                .query_row(
                    "SELECT committed_seq FROM progress
                     WHERE site = ?1 AND kiosk = ?2 AND installation = ?3",
                    params![site, kiosk, installation],
                    |r| r.get(0),
                )
                .optional()?
                .unwrap_or(0);
            {
                // Advance over the contiguous run of processed seqs; a hole ends it and is
                // recorded as a gap (the ack waits until the kiosk fills it).
                let mut next = tx.prepare_cached(
                    "SELECT MIN(seq) FROM messages
                     WHERE site = ?1 AND kiosk = ?2 AND installation = ?3 AND seq > ?4",
                )?;
                loop {
                    let s: Option<u64> = next
                        .query_row(params![site, kiosk, installation, committed], |r| r.get(0))?;
                    match s {
                        Some(s) if s == committed + 1 => committed = s,
                        Some(s) => {
                            tx.execute(
                                "INSERT OR IGNORE INTO gaps
                                 (site, kiosk, installation, from_seq, to_seq, seen_at)
                                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                                params![site, kiosk, installation, committed + 1, s - 1, ts(now)],
                            )?;
                            break;
                        }
                        None => break,
                    }
                }
            }
            tx.execute(
                "INSERT INTO progress (site, kiosk, installation, committed_seq)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (site, kiosk, installation)
                 DO UPDATE SET committed_seq = excluded.committed_seq",
                params![site, kiosk, installation, committed],
            )?;
            acks.push(KioskAck {
                site,
                kiosk,
                installation: installation.parse().ok(),
                committed_seq: committed,
                rejected,
            });
        }
        tx.commit()?;
        Ok(acks)
    }

    fn check(&self) -> Result<(), StoreError> {
        self.conn.query_row("SELECT 1", [], |_| Ok(()))?;
        Ok(())
    }

    fn statuses(&self) -> Result<Vec<(StatusReport, DateTime<Utc>)>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT site, kiosk, body, updated_at FROM kiosk_status ORDER BY site, kiosk",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                StatusReport {
                    site: r.get(0)?,
                    kiosk: r.get(1)?,
                    body: r.get(2)?,
                },
                r.get::<_, String>(3)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (report, at) = row?;
            out.push((report, from_text(&at).unwrap_or_default()));
        }
        Ok(out)
    }

    fn units(
        &self,
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
    ) -> Result<Vec<JournalUnit>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT site, kiosk, body FROM units WHERE date >= ?1 AND date <= ?2 AND removed_at IS NULL
             ORDER BY date, service, id",
        )?;
        let rows = stmt.query_map(params![from.to_string(), to.to_string()], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (site, kiosk, body) = row?;
            out.push(JournalUnit {
                site,
                kiosk,
                unit: serde_json::from_str(&body)?,
            });
        }
        Ok(out)
    }

    fn count_units(
        &self,
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
        site: Option<&str>,
    ) -> Result<u64, StoreError> {
        Ok(self.conn.query_row(
            "SELECT count(*) FROM units WHERE date >= ?1 AND date <= ?2 AND removed_at IS NULL
             AND (?3 IS NULL OR site = ?3)",
            params![from.to_string(), to.to_string(), site],
            |r| r.get(0),
        )?)
    }

    fn each_unit(
        &self,
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
        site: Option<&str>,
        after: Option<&UnitKey>,
        f: &mut dyn FnMut(JournalUnit) -> std::ops::ControlFlow<()>,
    ) -> Result<(), StoreError> {
        // Two statements, so that a page after a cursor is a range of the (date, service, id)
        // index from the cursor on, not a read from `from` again.
        let (mut stmt, after) = match after {
            None => (
                self.conn.prepare_cached(
                    "SELECT site, kiosk, body FROM units WHERE date >= ?1 AND date <= ?2
                     AND removed_at IS NULL AND (?3 IS NULL OR site = ?3)
                     ORDER BY date, service, id",
                )?,
                None,
            ),
            Some(k) => (
                self.conn.prepare_cached(
                    "SELECT site, kiosk, body FROM units WHERE (date, service, id) > (?4, ?5, ?6)
                     AND date >= ?1 AND date <= ?2
                     AND removed_at IS NULL AND (?3 IS NULL OR site = ?3)
                     ORDER BY date, service, id",
                )?,
                Some(k),
            ),
        };
        let (from, to) = (from.to_string(), to.to_string());
        let mut rows = match after {
            None => stmt.query(params![from, to, site])?,
            Some(k) => stmt.query(params![from, to, site, k.date.to_string(), k.service, k.id])?,
        };
        while let Some(r) = rows.next()? {
            let body: String = r.get(2)?;
            let unit = JournalUnit {
                site: r.get(0)?,
                kiosk: r.get(1)?,
                unit: serde_json::from_str(&body)?,
            };
            if f(unit).is_break() {
                break;
            }
        }
        Ok(())
    }

    fn rejection_counts(&self) -> Result<Vec<RejectionCount>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT site, kiosk, kind, count, last_at FROM rejected_counts
             ORDER BY site, kiosk, kind",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, u64>(3)?,
                r.get::<_, String>(4)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (site, kiosk, kind, count, last) = row?;
            out.push(RejectionCount {
                site,
                kiosk,
                kind,
                count,
                last: from_text(&last).unwrap_or_default(),
            });
        }
        Ok(out)
    }

    fn rejections(&self) -> Result<Vec<StoredRejection>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT site, kiosk, topic, seq, reason FROM rejected ORDER BY id")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, Option<String>>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<u64>>(3)?,
                r.get::<_, String>(4)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (site, kiosk, topic, seq, reason) = row?;
            out.push(StoredRejection {
                site: site.unwrap_or_default(),
                kiosk: kiosk.unwrap_or_default(),
                topic,
                seq,
                reason: serde_json::from_str(&reason)?,
            });
        }
        Ok(out)
    }

    fn gaps(&self, site: &str, kiosk: &str) -> Result<Vec<(u64, u64)>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT from_seq, to_seq FROM gaps WHERE site = ?1 AND kiosk = ?2
             ORDER BY installation, from_seq",
        )?;
        let rows = stmt.query_map(params![site, kiosk], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn unidentified(&self) -> Result<Vec<UnidentifiedTap>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT site, kiosk, card_hash, at FROM unidentified_taps WHERE recipient IS NULL ORDER BY at",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (s, k, h, at) = row?;
            let at = from_text(&at).unwrap_or_default();
            out.push((s, k, h, at));
        }
        Ok(out)
    }

    fn issue_kiosk(
        &mut self,
        site: &str,
        kiosk: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO kiosks (site, kiosk, issued_at, revoked_at) VALUES (?1, ?2, ?3, NULL)
             ON CONFLICT (site, kiosk) DO UPDATE SET issued_at = excluded.issued_at, revoked_at = NULL",
            params![site, kiosk, ts(now)],
        )?;
        Ok(())
    }

    fn revoke_kiosk(
        &mut self,
        site: &str,
        kiosk: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<KioskRecord>, StoreError> {
        // A second revocation keeps the first date: that is when the kiosk lost its rights.
        self.conn.execute(
            "UPDATE kiosks SET revoked_at = ?3 WHERE site = ?1 AND kiosk = ?2 AND revoked_at IS NULL",
            params![site, kiosk, ts(now)],
        )?;
        Ok(self
            .conn
            .query_row(
                "SELECT site, kiosk, issued_at, revoked_at FROM kiosks WHERE site = ?1 AND kiosk = ?2",
                params![site, kiosk],
                |r| Ok(kiosk_record(r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?)
    }

    fn kiosks(&self) -> Result<Vec<KioskRecord>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT site, kiosk, issued_at, revoked_at FROM kiosks ORDER BY site, kiosk",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(kiosk_record(r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn publish_version(
        &mut self,
        site: &str,
        name: &str,
        body: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let tx = self.write()?;
        let held: Option<(u64, String)> = tx
            .query_row(
                "SELECT version, body FROM published WHERE site = ?1 AND name = ?2",
                params![site, name],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let clock = u64::try_from(now.timestamp()).unwrap_or(0);
        let version = match held {
            Some((v, b)) if b == body => v,
            Some((v, _)) => clock.max(v + 1),
            None => clock.max(1),
        };
        tx.execute(
            "INSERT INTO published (site, name, version, body) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (site, name) DO UPDATE SET version = excluded.version, body = excluded.body",
            params![site, name, version, body],
        )?;
        tx.commit()?;
        Ok(version)
    }

    fn request_enrolment(
        &mut self,
        site: &str,
        kiosk: &str,
        request: &otmetka_core::wire::EnrolmentRequest,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO enrolments (request, site, kiosk, recipient, body, requested_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                request.request.to_string(),
                site,
                kiosk,
                request.recipient.to_string(),
                serde_json::to_string(request)?,
                ts(now),
                ts(request.expires_at)
            ],
        )?;
        Ok(())
    }

    fn enrolment(&self, request: uuid::Uuid) -> Result<Option<Enrolment>, StoreError> {
        let mut stmt = self.conn.prepare(&format!(
            "{ENROLMENT_COLUMNS} FROM enrolments WHERE request = ?1"
        ))?;
        let mut rows = stmt.query_map([request.to_string()], enrolment_row)?;
        rows.next().transpose()?.map(parse_enrolment).transpose()
    }

    fn enrolments_to_publish(&self, now: DateTime<Utc>) -> Result<Vec<Enrolment>, StoreError> {
        let mut stmt = self.conn.prepare(&format!(
            "{ENROLMENT_COLUMNS} FROM enrolments WHERE published_at IS NULL AND enrolled_at IS NULL
             AND expires_at > ?1 ORDER BY requested_at"
        ))?;
        let rows = stmt.query_map([ts(now)], enrolment_row)?;
        rows.map(|r| parse_enrolment(r?)).collect()
    }

    fn enrolment_published(
        &mut self,
        request: uuid::Uuid,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE enrolments SET published_at = ?2 WHERE request = ?1",
            params![request.to_string(), ts(now)],
        )?;
        Ok(())
    }
}

const ENROLMENT_COLUMNS: &str = "SELECT site, kiosk, body, published_at, card_hashes, enrolled_at";

type EnrolmentRow = (
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn enrolment_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<EnrolmentRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

fn parse_enrolment(
    (site, kiosk, body, published, hashes, enrolled): EnrolmentRow,
) -> Result<Enrolment, StoreError> {
    let time = |t: Option<String>| t.and_then(|t| from_text(&t));
    Ok(Enrolment {
        site,
        kiosk,
        request: serde_json::from_str(&body)?,
        published_at: time(published),
        card_hashes: match hashes {
            Some(h) => serde_json::from_str(&h)?,
            None => Vec::new(),
        },
        enrolled_at: time(enrolled),
    })
}

fn kiosk_record(
    site: String,
    kiosk: String,
    issued_at: String,
    revoked_at: Option<String>,
) -> KioskRecord {
    KioskRecord {
        site,
        kiosk,
        issued_at: from_text(&issued_at).unwrap_or_default(),
        revoked_at: revoked_at.map(|t| from_text(&t).unwrap_or_default()),
    }
}

fn event_kind(e: &Event) -> &'static str {
    match e {
        Event::SessionOpened { .. } => "session_opened",
        Event::CheckedIn { .. } => "checked_in",
        Event::CheckInUndone { .. } => "checkin_undone",
        Event::CheckedOut { .. } => "checked_out",
        Event::SatisfactionAnswered { .. } => "satisfaction",
        Event::UnidentifiedTap { .. } => "unidentified_tap",
        Event::ParticipantNote { .. } => "note",
        Event::SessionClosed { .. } => "session_closed",
        Event::SessionCancelled { .. } => "session_cancelled",
        Event::Units { .. } => "units",
        Event::CardEnrolled { .. } => "card_enrolled",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_made_before_numbered_migrations_opens_with_its_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            // What sessions 1–5 wrote: the tables, no user_version.
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(include_str!("migrations/0001_initial.sql"))
                .unwrap();
            conn.execute(
                "INSERT INTO progress (site, kiosk, committed_seq) VALUES ('demo', 'k1', 7)",
                [],
            )
            .unwrap();
            let v: i64 = conn
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .unwrap();
            assert_eq!(v, 0);
        }
        let j = SqliteJournal::open(&path).unwrap();
        let seq: u64 = j
            .conn
            .query_row("SELECT committed_seq FROM progress", [], |r| r.get(0))
            .unwrap();
        assert_eq!(seq, 7);
        let v: i64 = j
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v as usize, MIGRATIONS_COUNT);
        assert!(MIGRATIONS.validate().is_ok());
    }

    /// Migration 18 gives the sessions already held the group the kiosk opened them for, from
    /// the messages the journal keeps.
    #[test]
    fn sessions_held_before_migration_18_get_their_group_from_the_messages() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.db");
        let club = "00000000-0000-7000-8000-00000000c0c1";
        {
            let mut conn = Connection::open(&path).unwrap();
            MIGRATIONS.to_version(&mut conn, 17).unwrap();
            for (id, group) in [("s-club", Some(club)), ("s-alone", None)] {
                conn.execute(
                    "INSERT INTO sessions (id, site, kiosk, service, instructor, opened_at)
                     VALUES (?1, 'demo', 'k1', '000', 'i', '2026-11-02T10:00:00Z')",
                    [id],
                )
                .unwrap();
                let payload = serde_json::json!({
                    "event": {"type": "session_opened", "session": id, "group": group}
                });
                conn.execute(
                    "INSERT INTO messages (site, kiosk, seq, event_id, kind, received_at, payload)
                     VALUES ('demo', 'k1', ?1, ?2, 'session_opened', '', ?3)",
                    params![id.len(), id, payload.to_string()],
                )
                .unwrap();
            }
        }
        let j = SqliteJournal::open(&path).unwrap();
        let group = |id: &str| -> Option<String> {
            j.conn
                .query_row(
                    "SELECT study_group FROM sessions WHERE id = ?1",
                    [id],
                    |r| r.get(0),
                )
                .unwrap()
        };
        assert_eq!(group("s-club").as_deref(), Some(club));
        assert_eq!(group("s-alone"), None);
    }

    #[test]
    fn check_ins_held_before_migration_23_get_their_check_out_from_the_messages() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.db");
        {
            let mut conn = Connection::open(&path).unwrap();
            MIGRATIONS.to_version(&mut conn, 22).unwrap();
            for id in ["c-left", "c-stayed"] {
                conn.execute(
                    "INSERT INTO checkins (id, site, kiosk, session, recipient, at, body)
                     VALUES (?1, 'demo', 'k1', 's', 'r', '2026-11-02T10:01:00.000000Z', '{}')",
                    [id],
                )
                .unwrap();
            }
            // Two check-outs of one check-in (a resend with another time): the first counts.
            for (seq, at) in [(1, "2026-11-02T10:20:00Z"), (2, "2026-11-02T10:15:30Z")] {
                let payload = serde_json::json!({
                    "event": {"type": "checked_out", "session": "s", "checkin": "c-left", "at": at}
                });
                conn.execute(
                    "INSERT INTO messages (site, kiosk, seq, event_id, kind, received_at, payload)
                     VALUES ('demo', 'k1', ?1, ?2, 'checked_out', '', ?3)",
                    params![seq, format!("e{seq}"), payload.to_string()],
                )
                .unwrap();
            }
        }
        let j = SqliteJournal::open(&path).unwrap();
        let out = |id: &str| -> Option<String> {
            j.conn
                .query_row(
                    "SELECT checked_out_at FROM checkins WHERE id = ?1",
                    [id],
                    |r| r.get(0),
                )
                .unwrap()
        };
        let left = out("c-left").expect("filled in");
        assert_eq!(
            otmetka_core::timestamp::from_text(&left),
            Some("2026-11-02T10:15:30Z".parse().unwrap()),
            "{left}"
        );
        assert_eq!(out("c-stayed"), None);
    }

    /// Two processes that open a new database at once (the service starting while an
    /// administrator's command or a test reads it) both open it: the one that finds the
    /// schema migrated by the other while it waited for the lock does not fail.
    #[test]
    fn openers_racing_on_a_new_database_all_open_it() {
        for round in 0..20 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("journal.db");
            let start = std::sync::Barrier::new(4);
            std::thread::scope(|s| {
                let openers: Vec<_> = (0..4)
                    .map(|_| {
                        s.spawn(|| {
                            start.wait();
                            SqliteJournal::open(&path).map(|_| ())
                        })
                    })
                    .collect();
                for o in openers {
                    let r = o.join().unwrap();
                    assert!(r.is_ok(), "round {round}: {r:?}");
                }
            });
        }
    }
}
