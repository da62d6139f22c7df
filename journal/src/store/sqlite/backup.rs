//! Backup and restore of the SQLite journal (`otmetka-journal backup`, `restore`).
//!
//! - A backup is taken while the journal runs: SQLite's online backup API copies every page
//!   from one read snapshot (WAL lets the journal go on writing meanwhile) into `OUT.part`,
//!   which is checked (`integrity_check`), made a single file (rollback journal, no `-wal`),
//!   synced and renamed: a file under the name is a whole, consistent database.
//! - A restore needs the journal stopped: every `serve` holds a shared `flock` on
//!   `<database>.serve-lock` ([`ServeLock`]) and a restore takes it exclusively, or says the
//!   journal is running. The backup is checked before anything is touched (a database, intact,
//!   a journal's, not newer than this build); the database it replaces is kept beside it as
//!   `<database>.before-restore-<time>` (nothing is thrown away), and the backup is copied in
//!   through `<database>.restore-part` and renamed. The kiosks then send again what the
//!   restored journal lacks (they keep delivered rows for the audit period, `app::feed`).

use super::MIGRATION_SQL;
use crate::store::StoreError;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags, backup::StepResult};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A `serve` process's hold on its database: while any is held, no restore replaces it.
#[derive(Debug)]
pub struct ServeLock {
    _file: std::fs::File,
}

fn lock_path(db: &Path) -> PathBuf {
    with_suffix(db, ".serve-lock")
}

fn with_suffix(db: &Path, suffix: &str) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push(suffix);
    PathBuf::from(p)
}

fn io_err(path: &Path, what: &str) -> impl FnOnce(std::io::Error) -> StoreError {
    let path = path.display().to_string();
    let what = what.to_string();
    move |e| StoreError::Conflict(format!("{what} {path}: {e}"))
}

fn open_lock(db: &Path) -> Result<std::fs::File, StoreError> {
    let path = lock_path(db);
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io_err(&path, "cannot open the lock"))
}

impl ServeLock {
    /// Takes the shared hold of a `serve` on `db` (several journal processes may share it).
    pub fn take(db: &Path) -> Result<ServeLock, StoreError> {
        let file = open_lock(db)?;
        rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockShared).map_err(
            |_| {
                StoreError::Conflict(format!(
                    "{} is being restored: start the journal when the restore is done",
                    db.display()
                ))
            },
        )?;
        Ok(ServeLock { _file: file })
    }
}

/// What a backup wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupReport {
    pub pages: u64,
    pub bytes: u64,
    /// The schema's version (migrations applied).
    pub schema: u32,
}

/// Copies every page of `from` into `to` from one snapshot, waiting while a writer holds a lock.
fn copy(from: &Connection, to: &mut Connection) -> Result<u64, StoreError> {
    let b = rusqlite::backup::Backup::new(from, to)?;
    let mut waited = Duration::ZERO;
    loop {
        match b.step(-1)? {
            StepResult::Done => break,
            StepResult::More => {}
            StepResult::Busy | StepResult::Locked => {
                if waited > Duration::from_secs(60) {
                    return Err(StoreError::Conflict(
                        "the database stayed locked for a minute: the backup gave up".into(),
                    ));
                }
                std::thread::sleep(Duration::from_millis(50));
                waited += Duration::from_millis(50);
            }
            _ => {}
        }
    }
    Ok(u64::try_from(b.progress().pagecount).unwrap_or(0))
}

fn integrity(conn: &Connection, what: &Path) -> Result<(), StoreError> {
    let said: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    if said != "ok" {
        return Err(StoreError::Conflict(format!(
            "{} fails SQLite's integrity check: {said}",
            what.display()
        )));
    }
    Ok(())
}

fn sync_dir(path: &Path) {
    if let Some(dir) = path.parent() {
        if let Ok(d) = std::fs::File::open(if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        }) {
            let _ = d.sync_all();
        }
    }
}

fn sync_file(path: &Path) -> Result<(), StoreError> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(io_err(path, "cannot sync"))
}

/// Creates `path` empty, readable by its owner alone (a backup holds every person's data),
/// for SQLite to write into.
fn create_private(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map(drop)
        .map_err(io_err(path, "cannot create"))
}

fn schema_of(conn: &Connection) -> Result<u32, StoreError> {
    Ok(conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
}

/// Backs up the database `db` into `out` while the journal may run.
pub fn backup(db: &Path, out: &Path) -> Result<BackupReport, StoreError> {
    if !db.exists() {
        return Err(StoreError::NotFound(format!(
            "the database {}",
            db.display()
        )));
    }
    let from = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    from.busy_timeout(Duration::from_secs(5))?;
    let part = with_suffix(out, ".part");
    let _ = std::fs::remove_file(&part);
    let result = (|| {
        create_private(&part)?;
        let mut to = Connection::open(&part)?;
        let pages = copy(&from, &mut to)?;
        integrity(&to, &part)?;
        // One file that stands alone: no -wal beside it.
        to.query_row("PRAGMA journal_mode=DELETE", [], |_| Ok(()))?;
        let schema = schema_of(&to)?;
        drop(to);
        sync_file(&part)?;
        Ok::<_, StoreError>((pages, schema))
    })();
    let (pages, schema) = match result {
        Ok(r) => r,
        Err(e) => {
            let _ = std::fs::remove_file(&part);
            return Err(e);
        }
    };
    std::fs::rename(&part, out).map_err(io_err(out, "cannot write"))?;
    sync_dir(out);
    let bytes = std::fs::metadata(out).map(|m| m.len()).unwrap_or(0);
    Ok(BackupReport {
        pages,
        bytes,
        schema,
    })
}

/// A backup's name in a directory of backups: `journal-20261204T023000Z.db` (they sort by time).
pub fn file_name(at: DateTime<Utc>) -> String {
    format!("journal-{}.db", at.format("%Y%m%dT%H%M%SZ"))
}

/// Removes all but the newest `keep` backups named by [`file_name`] in `dir`; returns those
/// removed. Nothing else in the directory is touched.
pub fn prune(dir: &Path, keep: usize) -> Result<Vec<PathBuf>, StoreError> {
    let ours = |name: &str| {
        name.len() == "journal-20261204T023000Z.db".len()
            && name.starts_with("journal-")
            && name.ends_with("Z.db")
    };
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io_err(dir, "cannot read"))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(ours))
        .collect();
    found.sort();
    let old = found.len().saturating_sub(keep);
    let removed: Vec<PathBuf> = found.into_iter().take(old).collect();
    for p in &removed {
        std::fs::remove_file(p).map_err(io_err(p, "cannot remove"))?;
    }
    Ok(removed)
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreReport {
    /// Where the database it replaced was kept (none: there was none).
    pub previous: Option<PathBuf>,
    pub schema: u32,
}

/// Checks that `from` is an intact journal database this build can open.
fn check_backup(from: &Path) -> Result<Connection, StoreError> {
    if !from.is_file() {
        return Err(StoreError::NotFound(format!(
            "the backup {}",
            from.display()
        )));
    }
    let conn = Connection::open_with_flags(from, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let not_ours = || {
        StoreError::Conflict(format!(
            "{} is not a backup of an Otmetka journal",
            from.display()
        ))
    };
    // A file that is not SQLite fails here ("file is not a database").
    let tables: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN ('units', 'sessions')",
            [],
            |r| r.get(0),
        )
        .map_err(|e| {
            StoreError::Conflict(format!(
                "{} is not a backup of an Otmetka journal: {e}",
                from.display()
            ))
        })?;
    if tables != 2 {
        return Err(not_ours());
    }
    integrity(&conn, from)?;
    let schema = schema_of(&conn)?;
    if schema as usize > MIGRATION_SQL.len() {
        return Err(StoreError::Conflict(format!(
            "{} was made by a newer journal (schema {schema}; this one knows {}): restore it \
             with that version",
            from.display(),
            MIGRATION_SQL.len()
        )));
    }
    Ok(conn)
}

/// Folds `db`'s WAL into the file and leaves it a single file (rollback journal), or says why
/// not.
fn fold_wal(db: &Path) -> Result<(), StoreError> {
    let old = Connection::open(db)?;
    old.busy_timeout(Duration::from_secs(5))?;
    let busy: i64 = old.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
    let mode: String = old.query_row("PRAGMA journal_mode=DELETE", [], |r| r.get(0))?;
    if busy != 0 || !mode.eq_ignore_ascii_case("delete") {
        return Err(StoreError::Conflict(format!(
            "{} is in use (checkpoint busy {busy}, journal mode {mode})",
            db.display()
        )));
    }
    Ok(())
}

/// Replaces the database `db` with the backup `from`; the journal must be stopped.
pub fn restore(db: &Path, from: &Path, now: DateTime<Utc>) -> Result<RestoreReport, StoreError> {
    let source = check_backup(from)?;
    let lock = open_lock(db)?;
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive).map_err(
        |_| {
            StoreError::Conflict(format!(
                "the journal is running on {}: stop it first (systemctl stop otmetka-journal), \
                 then restore",
                db.display()
            ))
        },
    )?;
    let owner = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(db).ok().map(|m| (m.uid(), m.gid()))
    };
    let part = with_suffix(db, ".restore-part");
    let _ = std::fs::remove_file(&part);
    let schema = (|| {
        create_private(&part)?;
        let mut to = Connection::open(&part)?;
        copy(&source, &mut to)?;
        integrity(&to, &part)?;
        to.query_row("PRAGMA journal_mode=WAL", [], |_| Ok(()))?;
        let schema = schema_of(&to)?;
        drop(to);
        sync_file(&part)?;
        Ok::<_, StoreError>(schema)
    })()
    .inspect_err(|_| {
        let _ = std::fs::remove_file(&part);
    })?;
    // The database replaced is kept, whole, under a second name (a hard link: the path keeps
    // it until the rename below puts the backup in its place in one step, so a kill at any
    // moment leaves a database at the path). Its WAL is folded in first; a database too broken
    // for that keeps its -wal and -shm beside the kept name, as they were.
    let previous = (|| {
        if !db.exists() {
            return Ok(None);
        }
        let kept = with_suffix(
            db,
            &format!(".before-restore-{}", now.format("%Y%m%dT%H%M%SZ")),
        );
        // Linked before SQLite opens it: opening a broken database may delete its -wal.
        std::fs::hard_link(db, &kept).map_err(io_err(&kept, "cannot keep the database as"))?;
        for suffix in ["-wal", "-shm"] {
            let from = with_suffix(db, suffix);
            if from.exists() {
                let to = with_suffix(&kept, suffix);
                std::fs::hard_link(&from, &to).map_err(io_err(&to, "cannot keep"))?;
            }
        }
        match fold_wal(db) {
            // The kept file is the same file, its WAL folded in: the copies are stale.
            Ok(()) => {
                for suffix in ["-wal", "-shm"] {
                    let _ = std::fs::remove_file(with_suffix(&kept, suffix));
                }
            }
            Err(e) => tracing::warn!(
                "the database replaced could not be checkpointed ({e}): its -wal and -shm are \
                 kept beside {}",
                kept.display()
            ),
        }
        // No -wal or -shm of the old database may stay beside the restored one: SQLite would
        // apply it to the new file.
        for suffix in ["-wal", "-shm"] {
            let stale = with_suffix(db, suffix);
            if stale.exists() {
                std::fs::remove_file(&stale).map_err(io_err(&stale, "cannot remove"))?;
            }
        }
        Ok::<_, StoreError>(Some(kept))
    })()
    .inspect_err(|_| {
        let _ = std::fs::remove_file(&part);
    })?;
    // The restored file belongs to whoever owned the one it replaces (a restore run as root
    // must not leave the journal's user a database it cannot open).
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(&part, Some(uid), Some(gid)).map_err(io_err(
            &part,
            "cannot give the restored database to the journal's user: run the restore as that user;",
        ))?;
    }
    std::fs::rename(&part, db).map_err(io_err(db, "cannot write"))?;
    sync_dir(db);
    drop(lock);
    Ok(RestoreReport { previous, schema })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_newest_backups_are_kept_and_nothing_else_is_touched() {
        let dir = tempfile::tempdir().unwrap();
        let at = |d: u32| {
            chrono::NaiveDate::from_ymd_opt(2026, 11, d)
                .unwrap()
                .and_hms_opt(2, 30, 0)
                .unwrap()
                .and_utc()
        };
        for d in [3, 1, 5, 2, 4] {
            std::fs::write(dir.path().join(file_name(at(d))), "x").unwrap();
        }
        std::fs::write(dir.path().join("journal-by-hand.db"), "x").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "x").unwrap();
        let removed = prune(dir.path(), 2).unwrap();
        let names = |v: &[PathBuf]| -> Vec<String> {
            v.iter()
                .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
                .collect()
        };
        assert_eq!(
            names(&removed),
            [
                "journal-20261101T023000Z.db",
                "journal-20261102T023000Z.db",
                "journal-20261103T023000Z.db"
            ]
        );
        let mut left: Vec<PathBuf> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        left.sort();
        assert_eq!(
            names(&left),
            [
                "journal-20261104T023000Z.db",
                "journal-20261105T023000Z.db",
                "journal-by-hand.db",
                "notes.txt"
            ]
        );
    }
}
