//! The journal store: one trait, [`JournalStore`], and one module per database engine behind it,
//! picked from the configured database (a path or `sqlite://PATH` for the embedded default;
//! `postgres://…` for a region, see the documents-and-region issue). A batch of messages commits
//! in one transaction, idempotently: a resent message (same kiosk and seq) or a unit already held
//! (same unit id) changes nothing.
//!
//! The trait is synchronous: the engines' clients are, and each caller that lives on the async
//! runtime goes through [`Shared`], which runs a call on Tokio's blocking pool.
//!
//! # Layout
//! - this file: the trait, its error type, the records it takes and gives, [`Database`] and
//!   [`open`].
//! - [`staff`]: the staff pages' records and their trait, [`StaffStore`].
//! - [`sqlite`]: the SQLite engine (WAL, one writer) and its numbered migrations
//!   (`sqlite/migrations/NNNN_*.sql`).

pub mod api;
pub mod people;
pub mod rules;
pub mod sqlite;
pub mod staff;

use chrono::{DateTime, NaiveDate, Utc};
use otmetka_core::wire::{EnrolmentRequest, RejectReason, Rejection};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub use people::PeopleStore;
pub use sqlite::SqliteJournal;
pub use staff::StaffStore;

/// Why the journal store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("journal database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("journal database: a stored record does not read back: {0}")]
    Json(#[from] serde_json::Error),
    #[error("journal database: migration failed: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    #[error(
        "journal database: {url:?} names an engine this build does not have \
         (it has SQLite: a file path or sqlite://PATH)"
    )]
    UnsupportedEngine { url: String },
    #[error("journal database: a call on the blocking pool did not finish: {0}")]
    Blocking(String),
    /// The change conflicts with what is held (a login taken, a unit already counted).
    #[error("{0}")]
    Conflict(String),
    /// What the change names is not held.
    #[error("not found: {0}")]
    NotFound(String),
    /// The month is signed off by the head: nothing in it changes until it is reopened.
    #[error("the month {month} of site {site} is signed off")]
    MonthSignedOff { site: String, month: NaiveDate },
}

/// What ingest makes of a message (`crate::ingest::judge`); defined here, with the other
/// records the store takes, so that the store depends on nothing else of the journal.
#[derive(Debug, Clone)]
pub enum Verdict {
    Accept(Box<otmetka_core::wire::Envelope>),
    Reject {
        seq: Option<u64>,
        reason: RejectReason,
    },
}

/// One message of a batch, judged.
#[derive(Debug, Clone)]
pub struct Judged {
    pub site: String,
    pub kiosk: String,
    pub topic: String,
    pub payload: Vec<u8>,
    pub verdict: Verdict,
}

/// A kiosk's retained status message, as received (recorded with the batch it came in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReport {
    pub site: String,
    pub kiosk: String,
    pub body: String,
}

/// What one transaction commits: judged event messages, status reports, and the counts of
/// messages deferred past their kiosk's allowance (kept with the rejections' counts).
#[derive(Debug, Clone, Default)]
pub struct Batch {
    pub messages: Vec<Judged>,
    pub statuses: Vec<StatusReport>,
    pub deferred: Vec<crate::ingest::Deferred>,
}

impl Batch {
    /// A batch of event messages only.
    pub fn of(messages: Vec<Judged>) -> Batch {
        Batch {
            messages,
            ..Batch::default()
        }
    }

    pub fn is_empty(&self) -> bool {
        self.messages.is_empty() && self.statuses.is_empty() && self.deferred.is_empty()
    }

    pub fn len(&self) -> usize {
        self.messages.len() + self.statuses.len()
    }
}

/// What to answer one kiosk after a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KioskAck {
    pub site: String,
    pub kiosk: String,
    /// The kiosk's installation the ack is for (`None`: a kiosk that does not say it).
    pub installation: Option<uuid::Uuid>,
    pub committed_seq: u64,
    pub rejected: Vec<Rejection>,
}

/// A unit as the journal holds it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct JournalUnit {
    pub site: String,
    pub kiosk: String,
    pub unit: otmetka_core::unit::Unit,
}

/// A unit's place in the journal's order (date, service, id): where a page of units ends.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct UnitKey {
    pub date: NaiveDate,
    pub service: String,
    pub id: String,
}

impl UnitKey {
    pub fn of(unit: &otmetka_core::unit::Unit) -> UnitKey {
        UnitKey {
            date: unit.date,
            service: unit.service.0.clone(),
            id: unit.id.0.to_string(),
        }
    }
}

/// A stored rejection (for the staff pages and the tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRejection {
    pub site: String,
    pub kiosk: String,
    pub topic: String,
    pub seq: Option<u64>,
    pub reason: RejectReason,
}

/// How many messages of one site, kiosk and reason kind were refused ([`JournalStore::rejections`]
/// keeps a sample of the latest only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectionCount {
    pub site: String,
    pub kiosk: String,
    /// [`RejectReason::kind`].
    pub kind: String,
    pub count: u64,
    pub last: DateTime<Utc>,
}

/// An unidentified tap awaiting reconciliation: (site, kiosk, card hash, when).
pub type UnidentifiedTap = (String, String, String, DateTime<Utc>);

/// A provisioned kiosk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KioskRecord {
    pub site: String,
    pub kiosk: String,
    pub issued_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A request for a kiosk to read a new card for a recipient (card enrolment), and what came of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolment {
    pub site: String,
    pub kiosk: String,
    pub request: EnrolmentRequest,
    /// When it went out to the kiosk.
    pub published_at: Option<DateTime<Utc>>,
    /// The card, once the kiosk enrolled one: its keyed hashes, and when.
    pub card_hashes: Vec<String>,
    pub enrolled_at: Option<DateTime<Utc>>,
}

/// The journal's storage: the feed's part here, the staff pages' part in [`StaffStore`].
pub trait JournalStore:
    StaffStore + PeopleStore + rules::RulesStore + api::ApiStore + Send + std::fmt::Debug
{
    /// Commits a batch and says what to acknowledge to each kiosk whose events it held.
    fn commit_batch(
        &mut self,
        batch: &Batch,
        now: DateTime<Utc>,
    ) -> Result<Vec<KioskAck>, StoreError>;
    /// Whether the database answers (for the health page).
    fn check(&self) -> Result<(), StoreError>;
    /// Every unit with a date in `[from, to]`.
    fn units(&self, from: NaiveDate, to: NaiveDate) -> Result<Vec<JournalUnit>, StoreError>;
    /// How many units [`JournalStore::each_unit`] gives for the same period and site (the
    /// exports' progress).
    fn count_units(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        site: Option<&str>,
    ) -> Result<u64, StoreError>;
    /// The units of `[from, to]` (of one site, or of all), in date, service and id order, one at
    /// a time from the database's cursor: an export of a million units never holds them all.
    /// `after`: only those after this place in that order (the API's pages). `f` says whether
    /// to go on; the read is one snapshot (one statement).
    fn each_unit(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        site: Option<&str>,
        after: Option<&UnitKey>,
        f: &mut dyn FnMut(JournalUnit) -> std::ops::ControlFlow<()>,
    ) -> Result<(), StoreError>;
    /// Every stored rejection.
    fn rejections(&self) -> Result<Vec<StoredRejection>, StoreError>;
    /// Every refusal counted, per site, kiosk and reason kind.
    fn rejection_counts(&self) -> Result<Vec<RejectionCount>, StoreError>;
    /// Gaps seen in a kiosk's seq (from, to inclusive).
    fn gaps(&self, site: &str, kiosk: &str) -> Result<Vec<(u64, u64)>, StoreError>;
    /// Unidentified taps not yet reconciled: (site, kiosk, card hash, at).
    fn unidentified(&self) -> Result<Vec<UnidentifiedTap>, StoreError>;
    /// Records that a kiosk was (re-)issued credentials now: it is not revoked any more.
    fn issue_kiosk(
        &mut self,
        site: &str,
        kiosk: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Marks a kiosk revoked. Returns the record, or `None` for a kiosk never provisioned.
    fn revoke_kiosk(
        &mut self,
        site: &str,
        kiosk: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<KioskRecord>, StoreError>;
    /// Every provisioned kiosk.
    fn kiosks(&self) -> Result<Vec<KioskRecord>, StoreError>;
    /// The last status message of each kiosk that sent one: (site, kiosk, body, when received).
    fn statuses(&self) -> Result<Vec<(StatusReport, DateTime<Utc>)>, StoreError>;
    /// The version under which `body` goes out as the site's document `name`: the version held
    /// when the body is unchanged, else a new one (recorded): the Unix time `now`, or the held
    /// version + 1 if that is larger. Versions only grow, so a kiosk that takes "newer only"
    /// takes each change once, and a journal whose database was replaced still publishes
    /// versions above the ones its kiosks hold (as long as its clock is right).
    fn publish_version(
        &mut self,
        site: &str,
        name: &str,
        body: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError>;
    /// Records a request for a card (published by `serve` to the kiosk).
    fn request_enrolment(
        &mut self,
        site: &str,
        kiosk: &str,
        request: &EnrolmentRequest,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// One enrolment by its request id.
    fn enrolment(&self, request: uuid::Uuid) -> Result<Option<Enrolment>, StoreError>;
    /// Requests not yet sent to their kiosk and not expired at `now`.
    fn enrolments_to_publish(&self, now: DateTime<Utc>) -> Result<Vec<Enrolment>, StoreError>;
    /// Marks a request as sent.
    fn enrolment_published(
        &mut self,
        request: uuid::Uuid,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
}

/// Commits a batch; when the transaction fails, finds the messages that make it fail by
/// committing each alone, and records each of those as rejected with the store's error as its
/// reason (with its seq, so the kiosk moves past it; the payload is kept for staff). One message
/// never stops ingest for everyone. An error that is not any one message's (a full disk, a
/// lost database) is returned: the caller keeps the batch unacknowledged and tries again.
pub fn commit_isolating(
    store: &mut dyn JournalStore,
    batch: &Batch,
    now: DateTime<Utc>,
) -> Result<Vec<KioskAck>, StoreError> {
    let whole = match store.commit_batch(batch, now) {
        Ok(acks) => return Ok(acks),
        Err(e) => e,
    };
    if batch.messages.len() <= 1 && batch.statuses.is_empty() && batch.deferred.is_empty() {
        if let Some(m) = batch.messages.first() {
            return reject_alone(store, m, &whole, now);
        }
        return Err(whole);
    }
    tracing::warn!(
        "a batch of {} did not commit ({whole}): one message at a time",
        batch.len()
    );
    if !batch.statuses.is_empty() || !batch.deferred.is_empty() {
        // Status reports are only the latest word of each kiosk, and the deferred only counts:
        // what fails is dropped.
        let statuses = Batch {
            statuses: batch.statuses.clone(),
            deferred: batch.deferred.clone(),
            ..Batch::default()
        };
        if let Err(e) = store.commit_batch(&statuses, now) {
            tracing::warn!("status reports not recorded: {e}");
        }
    }
    let mut acks: Vec<KioskAck> = Vec::new();
    for m in &batch.messages {
        let one = Batch::of(vec![m.clone()]);
        let got = match store.commit_batch(&one, now) {
            Ok(a) => a,
            Err(e) => reject_alone(store, m, &e, now)?,
        };
        for a in got {
            match acks.iter_mut().find(|k| {
                (k.site.as_str(), k.kiosk.as_str(), k.installation)
                    == (&a.site, &a.kiosk, a.installation)
            }) {
                Some(k) => {
                    k.committed_seq = k.committed_seq.max(a.committed_seq);
                    k.rejected.extend(a.rejected);
                }
                None => acks.push(a),
            }
        }
    }
    Ok(acks)
}

/// Records `m` as rejected because storing it failed with `error`.
fn reject_alone(
    store: &mut dyn JournalStore,
    m: &Judged,
    error: &StoreError,
    now: DateTime<Utc>,
) -> Result<Vec<KioskAck>, StoreError> {
    let seq = match &m.verdict {
        Verdict::Accept(env) => Some(env.seq),
        Verdict::Reject { seq, .. } => *seq,
    };
    tracing::error!(topic = %m.topic, ?seq, "a message the store cannot take: {error}");
    let rejected = Judged {
        verdict: Verdict::Reject {
            seq,
            reason: RejectReason::Invalid {
                detail: format!("the journal could not store it: {error}")
                    .chars()
                    .take(300)
                    .collect(),
            },
        },
        ..m.clone()
    };
    store.commit_batch(&Batch::of(vec![rejected]), now)
}

/// Where the journal's data lives, as `journal.toml` names it (`database = …`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// An SQLite file: a path (relative to the config file) or `sqlite://PATH`.
    Sqlite(PathBuf),
}

impl Database {
    /// Reads a `database` value; a relative SQLite path is taken relative to `base`.
    pub fn parse(value: &str, base: &Path) -> Result<Database, StoreError> {
        let path = match value.split_once("://") {
            None => value,
            Some(("sqlite", rest)) => rest,
            Some(_) => {
                return Err(StoreError::UnsupportedEngine { url: redact(value) });
            }
        };
        let path = Path::new(path);
        Ok(Database::Sqlite(if path.is_relative() {
            base.join(path)
        } else {
            path.to_path_buf()
        }))
    }

    /// The SQLite file, where this is one (the commands that read the file directly).
    pub fn sqlite_path(&self) -> Option<&Path> {
        match self {
            Database::Sqlite(p) => Some(p),
        }
    }
}

impl std::fmt::Display for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Database::Sqlite(p) => write!(f, "sqlite://{}", p.display()),
        }
    }
}

/// A URL as it may be logged: no password.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://…@{}", &url[..s], &url[at + 1..]),
        _ => url.to_string(),
    }
}

/// Backs the store up into the file `out` while the journal runs (SQLite's online backup
/// API; see [`sqlite::backup`]).
pub fn backup(db: &Database, out: &Path) -> Result<sqlite::backup::BackupReport, StoreError> {
    match db {
        Database::Sqlite(path) => sqlite::backup::backup(path, out),
    }
}

/// Replaces the store with the backup `from` (the journal stopped); the database it replaces
/// is kept beside it.
pub fn restore(
    db: &Database,
    from: &Path,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<sqlite::backup::RestoreReport, StoreError> {
    match db {
        Database::Sqlite(path) => sqlite::backup::restore(path, from, now),
    }
}

/// What a `serve` holds while it runs, so that no restore replaces the store under it.
pub fn hold_for_serve(db: &Database) -> Result<sqlite::backup::ServeLock, StoreError> {
    match db {
        Database::Sqlite(path) => sqlite::backup::ServeLock::take(path),
    }
}

/// Opens the store the configuration names, migrated to this build's schema.
pub fn open(db: &Database) -> Result<Box<dyn JournalStore>, StoreError> {
    match db {
        Database::Sqlite(path) => Ok(Box::new(SqliteJournal::open(path)?)),
    }
}

/// A store shared by async tasks: each call runs on Tokio's blocking pool, so a slow commit or
/// a page's query never holds up the runtime's threads (the feed and the web server share two).
#[derive(Debug, Clone)]
pub struct Shared(Arc<Mutex<Box<dyn JournalStore>>>);

impl Shared {
    pub fn new(store: Box<dyn JournalStore>) -> Shared {
        Shared(Arc::new(Mutex::new(store)))
    }

    /// Runs `f` on the store off the async threads.
    pub async fn call<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        F: FnOnce(&mut dyn JournalStore) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        let store = Arc::clone(&self.0);
        tokio::task::spawn_blocking(move || {
            // A panic in an earlier call poisons the lock; the store itself is still sound
            // (every write is one transaction), so the next call goes on.
            let mut guard = store.lock().unwrap_or_else(|p| p.into_inner());
            f(guard.as_mut())
        })
        .await
        .map_err(|e| StoreError::Blocking(e.to_string()))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_engine_is_picked_from_the_database_value() {
        let base = Path::new("/etc/otmetka");
        assert_eq!(
            Database::parse("journal.db", base).unwrap(),
            Database::Sqlite("/etc/otmetka/journal.db".into())
        );
        assert_eq!(
            Database::parse("sqlite:///var/lib/otmetka/j.db", base).unwrap(),
            Database::Sqlite("/var/lib/otmetka/j.db".into())
        );
        let err = Database::parse("postgres://journal:secret@db.local/otmetka", base)
            .unwrap_err()
            .to_string();
        assert!(err.contains("postgres://…@db.local/otmetka"), "{err}");
        assert!(!err.contains("secret"), "the password is not logged: {err}");
    }
}
