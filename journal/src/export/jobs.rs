//! Exports started from the pages: each runs on Tokio's blocking pool with a store connection
//! of its own (a year's export does not hold the pages' connection), reports its progress (rows
//! done of the total) for the page to show, and leaves its file in the exports directory for its
//! owner to download.
//!
//! **Where the files live and when they go.** The directory is `exports/` beside the journal's
//! database ([`crate::config::JournalConfig::export_dir`]), mode 0700: the files hold personal
//! data. An export is kept for [`KEEP`] (a day) after it was asked for; [`Jobs::sweep`] removes
//! older ones with their files, and every file of the directory that no held export names (one
//! left by a journal that restarted: its exports are held in memory only, so their links died
//! with it). The sweep runs each time the exports page is opened and before each new export,
//! so the directory never holds more than a day of exports plus what nobody looked at since.

use super::{Context, ExportError, Request, Summary};
use crate::config::JournalConfig;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use uuid::Uuid;

/// How long an export is kept after it was asked for.
pub const KEEP: chrono::Duration = chrono::Duration::hours(24);
/// Exports running at once (the journal's machine has two cores; the feed comes first).
pub const MAX_RUNNING: usize = 2;

/// How an export stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Counting the units, then writing them.
    Running,
    Done(Summary),
    /// What went wrong, in English for the log; the page says it in Russian.
    Failed(String),
}

/// One export asked for on the pages.
#[derive(Debug)]
pub struct Job {
    pub id: Uuid,
    /// The user who asked (only they see it).
    pub owner: i64,
    pub request: Request,
    pub asked_at: DateTime<Utc>,
    /// The units to write (known once counted; 0 until then).
    pub total: AtomicU64,
    pub done: AtomicU64,
    status: Mutex<Status>,
    file: PathBuf,
}

impl Job {
    /// A running export of `request`, to be written to `file`.
    pub(crate) fn new(
        id: Uuid,
        owner: i64,
        request: Request,
        asked_at: DateTime<Utc>,
        file: PathBuf,
    ) -> Job {
        Job {
            id,
            owner,
            request,
            asked_at,
            total: AtomicU64::new(0),
            done: AtomicU64::new(0),
            status: Mutex::new(Status::Running),
            file,
        }
    }

    pub fn status(&self) -> Status {
        self.status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub(crate) fn set(&self, status: Status) {
        *self.status.lock().unwrap_or_else(|p| p.into_inner()) = status;
    }

    /// The finished file (there only once [`Status::Done`]).
    pub fn file(&self) -> &Path {
        &self.file
    }

    pub fn is_running(&self) -> bool {
        self.status() == Status::Running
    }
}

/// Why an export was not started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The user has one running.
    OwnRunning,
    /// [`MAX_RUNNING`] are running.
    Busy,
    /// The directory cannot be made.
    NoDirectory,
}

/// The exports of the pages, held in memory, and their directory.
#[derive(Debug)]
pub struct Jobs {
    dir: PathBuf,
    held: Mutex<HashMap<Uuid, Arc<Job>>>,
}

impl Jobs {
    pub fn new(dir: PathBuf) -> Jobs {
        Jobs {
            dir,
            held: Mutex::default(),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn held(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Arc<Job>>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `owner`'s export `id`; `None` for one that is not held or is another user's (the same
    /// answer, so an id says nothing of other people's exports).
    pub fn get(&self, owner: i64, id: Uuid) -> Option<Arc<Job>> {
        self.held().get(&id).filter(|j| j.owner == owner).cloned()
    }

    /// `owner`'s exports, the newest first.
    pub fn of(&self, owner: i64) -> Vec<Arc<Job>> {
        let mut list: Vec<_> = self
            .held()
            .values()
            .filter(|j| j.owner == owner)
            .cloned()
            .collect();
        list.sort_by_key(|j| std::cmp::Reverse(j.asked_at));
        list
    }

    /// Forgets the exports asked for more than [`KEEP`] before `now` (not one still running)
    /// and removes their files, and every file of the directory no held export names.
    pub fn sweep(&self, now: DateTime<Utc>) {
        let keep: Vec<PathBuf> = {
            let mut held = self.held();
            held.retain(|_, j| j.is_running() || now - j.asked_at <= KEEP);
            held.values().map(|j| j.file.clone()).collect()
        };
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let part_of = |f: &PathBuf| {
                let mut part = f.as_os_str().to_owned();
                part.push(".part");
                path == *f || path.as_os_str() == part
            };
            if !keep.iter().any(part_of) {
                match std::fs::remove_file(&path) {
                    Ok(()) => tracing::info!("export {} removed (kept a day)", path.display()),
                    Err(e) => tracing::warn!("export {}: cannot remove: {e}", path.display()),
                }
            }
        }
    }

    /// Records an export of `request` for `owner` and starts it on the blocking pool: its own
    /// store connection, the names of `cfg`'s sites, the titles of `docs`' catalogue.
    pub fn start(
        self: &Arc<Self>,
        owner: i64,
        request: Request,
        now: DateTime<Utc>,
        cfg: Arc<JournalConfig>,
        docs: Arc<crate::documents::Documents>,
    ) -> Result<Arc<Job>, Refused> {
        self.sweep(now);
        make_private_dir(&self.dir).map_err(|e| {
            tracing::error!("exports directory {}: {e}", self.dir.display());
            Refused::NoDirectory
        })?;
        let job = {
            let mut held = self.held();
            let running: Vec<_> = held.values().filter(|j| j.is_running()).collect();
            if running.iter().any(|j| j.owner == owner) {
                return Err(Refused::OwnRunning);
            }
            if running.len() >= MAX_RUNNING {
                return Err(Refused::Busy);
            }
            let id = Uuid::new_v4();
            let file = self
                .dir
                .join(format!("{id}.{}", request.format.extension()));
            let job = Arc::new(Job::new(id, owner, request, now, file));
            held.insert(id, Arc::clone(&job));
            job
        };
        let run = Arc::clone(&job);
        tokio::task::spawn_blocking(move || {
            let status = match run_job(&run, &cfg, &docs.catalogue) {
                Ok(summary) => {
                    tracing::info!(
                        "export {}: {} rows to {}",
                        run.id,
                        summary.rows,
                        run.file.display()
                    );
                    Status::Done(summary)
                }
                Err(e) => {
                    tracing::error!("export {} failed: {e}", run.id);
                    Status::Failed(e.to_string())
                }
            };
            run.set(status);
        });
        Ok(job)
    }
}

/// The export itself, on the blocking pool.
fn run_job(
    job: &Job,
    cfg: &JournalConfig,
    catalogue: &otmetka_core::catalogue::Catalogue,
) -> Result<Summary, ExportError> {
    let store = crate::store::open(&cfg.database()?)?;
    let req = &job.request;
    job.total.store(
        store.count_units(req.from, req.to, req.site.as_deref())?,
        Ordering::Relaxed,
    );
    let ctx = Context::load(store.as_ref(), cfg, catalogue)?;
    super::export(store.as_ref(), &ctx, req, &job.file, &mut |done| {
        job.done.store(done, Ordering::Relaxed)
    })
}

/// Makes `dir` (and its parents) readable by this user alone.
fn make_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::Format;
    use chrono::NaiveDate;

    fn job(jobs: &Jobs, owner: i64, at: DateTime<Utc>, status: Status) -> Arc<Job> {
        let id = Uuid::new_v4();
        let job = Arc::new(Job {
            id,
            owner,
            request: Request {
                from: NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
                to: NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
                site: None,
                format: Format::Csv,
            },
            asked_at: at,
            total: AtomicU64::new(0),
            done: AtomicU64::new(0),
            status: Mutex::new(status),
            file: jobs.dir.join(format!("{id}.csv")),
        });
        std::fs::write(&job.file, "x").unwrap();
        jobs.held().insert(id, Arc::clone(&job));
        job
    }

    #[test]
    fn a_day_old_export_goes_with_its_file_and_so_do_files_nobody_holds() {
        let dir = tempfile::tempdir().unwrap();
        let jobs = Jobs::new(dir.path().to_path_buf());
        let now: DateTime<Utc> = "2026-12-11T14:00:00Z".parse().unwrap();
        let done = || {
            Status::Done(Summary {
                rows: 1,
                sheets: Vec::new(),
            })
        };
        let old = job(&jobs, 1, now - KEEP - chrono::Duration::minutes(1), done());
        let young = job(&jobs, 1, now - KEEP + chrono::Duration::minutes(1), done());
        let running = job(&jobs, 2, now - KEEP * 2, Status::Running);
        let orphan = dir.path().join("left-by-a-restart.xlsx");
        std::fs::write(&orphan, "x").unwrap();
        jobs.sweep(now);
        assert!(jobs.get(1, old.id).is_none() && !old.file.exists());
        assert!(jobs.get(1, young.id).is_some() && young.file.exists());
        assert!(jobs.get(2, running.id).is_some() && running.file.exists());
        assert!(!orphan.exists());
        // Another user's export is not found by its id.
        assert!(jobs.get(2, young.id).is_none());
    }
}
