//! Backup and restore of the journal's SQLite database (the region issue, point 7), with the
//! real `otmetka-journal backup` and `restore` on a generated institution: the backup holds
//! every table as the database did, one taken while a writer commits is a whole snapshot, a
//! restore brings every table back and keeps the database it replaced, and a restore is refused
//! — touching nothing — while the journal runs or when the file is not a whole journal backup.
//! (That the kiosks then send again what a restored journal lacks is `feed_e2e`'s
//! `a_journal_restored_from_a_backup_gets_again_what_it_lost_and_nothing_stalls`, through these
//! same commands.)

#![allow(clippy::unwrap_used)]

use chrono::NaiveDate;
use otmetka_link::testing::Broker;
use otmetka_tests::institution;
use otmetka_tests::site::{JournalProcess, wait_for};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use std::collections::BTreeMap;
use std::path::Path;

/// Every table of a database: its rows as text, sorted (a table's order is not its content).
type Tables = BTreeMap<String, Vec<String>>;

fn tables(db: &Path) -> Tables {
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let names: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut out = Tables::new();
    for name in names {
        let mut stmt = conn.prepare(&format!("SELECT * FROM \"{name}\"")).unwrap();
        let n = stmt.column_count();
        let mut rows: Vec<String> = stmt
            .query_map([], |r| {
                Ok((0..n)
                    .map(|i| match r.get_ref(i).unwrap() {
                        ValueRef::Text(t) => format!("{:?}", String::from_utf8_lossy(t)),
                        other => format!("{other:?}"),
                    })
                    .collect::<Vec<_>>()
                    .join("|"))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        rows.sort();
        out.insert(name, rows);
    }
    let version: u32 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    out.insert("(schema)".into(), vec![version.to_string()]);
    out
}

/// Where two sets of tables differ: each table that does, with its rows on each side.
#[track_caller]
fn assert_same(got: &Tables, want: &Tables, what: &str) {
    let names: std::collections::BTreeSet<&String> = got.keys().chain(want.keys()).collect();
    let differ: Vec<String> = names
        .into_iter()
        .filter(|n| got.get(*n) != want.get(*n))
        .map(|n| {
            let (g, w) = (got.get(n), want.get(n));
            let first = g.zip(w).and_then(|(g, w)| {
                g.iter()
                    .find(|r| !w.contains(r))
                    .or_else(|| w.iter().find(|r| !g.contains(r)))
            });
            format!(
                "{n}: {} rows, wanted {}; first differing: {:.300}",
                g.map_or(0, Vec::len),
                w.map_or(0, Vec::len),
                first.map_or("", String::as_str)
            )
        })
        .collect();
    assert!(differ.is_empty(), "{what}:\n{}", differ.join("\n"));
}

/// `tables` without the audit log's entries of `actions` (what backup and restore add).
fn without(mut t: Tables, actions: &[&str]) -> Tables {
    if let Some(rows) = t.get_mut("audit") {
        rows.retain(|r| !actions.iter().any(|a| r.contains(&format!("\"{a}\""))));
    }
    t
}

fn journal(config: &Path, args: &[&str]) -> (bool, String) {
    otmetka_tests::site::journal_command(config, args).unwrap()
}

const OPS: &[&str] = &["backup_database", "restore_database"];

#[test]
fn a_backup_holds_every_table_and_a_restore_brings_them_back_keeping_what_it_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let from = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
    let to = NaiveDate::from_ymd_opt(2026, 12, 11).unwrap();
    let inst = institution::generate(dir.path(), 30, from, to, 3, 20261204).unwrap();
    let db = inst.config.with_file_name("journal.db");
    let backup = dir.path().join("nightly.db");
    let before = tables(&db);
    assert!(
        before["units"].len() > 500,
        "{} units",
        before["units"].len()
    );
    let (ok, said) = journal(&inst.config, &["backup", "--out", backup.to_str().unwrap()]);
    assert!(ok, "{said}");
    assert!(said.contains("backed sqlite://"), "{said}");
    assert!(!dir.path().join("nightly.db-wal").exists(), "one file");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777,
        0o600,
        "a backup holds everyone's data: its owner's alone"
    );
    assert_same(&tables(&backup), &before, "every table, as it was");
    let after_backup = tables(&db);
    assert_same(
        &without(after_backup.clone(), OPS),
        &before,
        "the backup changed nothing",
    );
    assert_eq!(
        after_backup["audit"].len(),
        before["audit"].len() + 1,
        "the backup is in the audit log"
    );

    // Work goes on after the backup: a late session's units, which the backup lacks.
    let who: Vec<_> = inst.recipients.iter().take(3).map(|(r, _)| *r).collect();
    institution::late_session(&inst, to, &who).unwrap();
    let worked = tables(&db);
    assert_eq!(worked["units"].len(), before["units"].len() + 3);

    // Restored: every table as the backup has it; what it replaced is kept, whole.
    let (ok, said) = journal(
        &inst.config,
        &["restore", "--from", backup.to_str().unwrap()],
    );
    assert!(ok, "{said}");
    let kept = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains("journal.db.before-restore-"))
        .expect("the replaced database is kept");
    assert!(
        said.contains(&format!("kept as {}", kept.display())),
        "{said}"
    );
    assert_same(&tables(&kept), &worked, "the replaced database, whole");
    assert_same(&without(tables(&db), OPS), &before, "every table, restored");
    assert!(
        tables(&db)["audit"]
            .iter()
            .any(|r| r.contains("restore_database")),
        "the restore is in the audit log"
    );

    // The nightly timer's way: into a directory, the newest kept.
    let nightly = dir.path().join("backups");
    std::fs::create_dir_all(&nightly).unwrap();
    let old = nightly.join("journal-20200101T023000Z.db");
    std::fs::write(&old, "an old backup").unwrap();
    let (ok, said) = journal(
        &inst.config,
        &["backup", "--dir", nightly.to_str().unwrap(), "--keep", "1"],
    );
    assert!(ok, "{said}");
    assert!(
        said.contains(&format!("removed the old backup {}", old.display())),
        "{said}"
    );
    let left: Vec<_> = std::fs::read_dir(&nightly).unwrap().collect();
    assert_eq!(left.len(), 1, "{said}");
    let (ok, said) = journal(&inst.config, &["backup"]);
    assert!(!ok && said.contains("--out"), "{said}");
}

#[test]
fn a_backup_taken_while_units_are_committed_is_a_whole_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let from = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
    let to = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
    let inst = institution::generate(dir.path(), 30, from, to, 3, 7).unwrap();
    let db = inst.config.with_file_name("journal.db");
    let who: Vec<_> = inst.recipients.iter().take(4).map(|(r, _)| *r).collect();
    let base = tables(&db);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (stop, who, inst) = (stop.clone(), who.clone(), inst.clone());
        std::thread::spawn(move || {
            let mut n = 0usize;
            let mut day = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                institution::late_session(&inst, day, &who).unwrap();
                day = day.succ_opt().unwrap();
                n += 1;
            }
            n
        })
    };
    let mut backups = Vec::new();
    for i in 0..3 {
        let out = dir.path().join(format!("during-{i}.db"));
        let (ok, said) = journal(&inst.config, &["backup", "--out", out.to_str().unwrap()]);
        assert!(ok, "{said}");
        backups.push(out);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written = writer.join().unwrap();
    let last = tables(&db);
    assert_eq!(
        last["sessions"].len(),
        base["sessions"].len() + written,
        "the writer committed {written} sessions"
    );
    for b in &backups {
        let t = tables(b);
        // Each a snapshot between two commits: whole sessions (4 units each), nothing of a
        // commit half-way, every row one the database has.
        let late = t["units"].len() - base["units"].len();
        let sessions = t["sessions"].len() - base["sessions"].len();
        assert_eq!(late, 4 * sessions, "{}: {late} late units", b.display());
        for (name, rows) in &t {
            if name != "audit" && name != "(schema)" {
                assert!(
                    rows.iter()
                        .all(|r| last[name].contains(r) || name == "revisions"),
                    "{}: {name} has a row the database never had",
                    b.display()
                );
            }
        }
    }
    assert!(written > 0, "the writer ran during the backups");
}

#[test]
fn a_restore_is_refused_while_the_journal_runs_and_for_a_file_that_is_not_a_whole_backup() {
    let dir = tempfile::tempdir().unwrap();
    let from = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
    let to = NaiveDate::from_ymd_opt(2026, 11, 15).unwrap();
    let inst = institution::generate(dir.path(), 20, from, to, 2, 11).unwrap();
    let db = inst.config.with_file_name("journal.db");
    let backup = dir.path().join("b.db");
    assert!(journal(&inst.config, &["backup", "--out", backup.to_str().unwrap()]).0);
    let held = tables(&db);
    let refused = |file: &Path, says: &str| {
        let (ok, said) = journal(&inst.config, &["restore", "--from", file.to_str().unwrap()]);
        assert!(!ok, "{} restored", file.display());
        assert!(said.contains(says), "{}: {says}\n{said}", file.display());
        assert_same(&tables(&db), &held, "nothing touched");
    };
    // Not a database; a database, not a journal's; half a backup.
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, "это не база данных".repeat(400)).unwrap();
    refused(&junk, "is not a backup of an Otmetka journal");
    let other = dir.path().join("other.db");
    Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
        .unwrap();
    refused(&other, "is not a backup of an Otmetka journal");
    let half = dir.path().join("half.db");
    let bytes = std::fs::read(&backup).unwrap();
    std::fs::write(&half, &bytes[..bytes.len() / 2]).unwrap();
    refused(&half, "half.db");
    refused(&dir.path().join("missing.db"), "not found");
    // The journal running on it: stop it first.
    let broker = Broker::start("").unwrap();
    let mut running =
        JournalProcess::start_with_config(dir.path(), &inst.journal_toml(broker.port).unwrap())
            .unwrap();
    wait_for("the journal's pages", 30, || {
        std::net::TcpStream::connect(("127.0.0.1", running.web_port)).ok()
    });
    // As it starts, the journal takes in its roster and schedule and publishes them, after its
    // pages are up: what the restore must not touch is the database once that is done.
    let held = wait_for("the journal done with its start", 30, || {
        let before = tables(&db);
        std::thread::sleep(std::time::Duration::from_millis(500));
        let published = before.get("published").is_some_and(|rows| !rows.is_empty());
        (published && tables(&db) == before).then_some(before)
    });
    let (ok, said) = journal(
        &inst.config,
        &["restore", "--from", backup.to_str().unwrap()],
    );
    assert!(!ok && said.contains("the journal is running"), "{said}");
    assert_same(&tables(&db), &held, "nothing touched");
    // A backup while it runs is fine.
    let online = dir.path().join("online.db");
    let (ok, said) = journal(&inst.config, &["backup", "--out", online.to_str().unwrap()]);
    assert!(ok, "{said}");
    running.kill();
    let (ok, said) = journal(
        &inst.config,
        &["restore", "--from", online.to_str().unwrap()],
    );
    assert!(ok, "{said}");
}

#[test]
fn a_database_too_broken_to_open_is_replaced_by_the_backup_and_kept_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let from = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
    let to = NaiveDate::from_ymd_opt(2026, 11, 10).unwrap();
    let inst = institution::generate(dir.path(), 10, from, to, 2, 3).unwrap();
    let db = inst.config.with_file_name("journal.db");
    let backup = dir.path().join("b.db");
    assert!(journal(&inst.config, &["backup", "--out", backup.to_str().unwrap()]).0);
    let good = tables(&backup);
    // The disk fails: the database is garbage now, and a stray WAL is beside it.
    std::fs::write(&db, "испорчено ".repeat(1000)).unwrap();
    std::fs::write(with(&db, "-wal"), "not a wal").unwrap();
    let (ok, said) = journal(
        &inst.config,
        &["restore", "--from", backup.to_str().unwrap()],
    );
    assert!(ok, "{said}");
    assert_same(&without(tables(&db), OPS), &good, "restored");
    let kept = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            let n = p.to_string_lossy();
            n.contains("journal.db.before-restore-") && !n.ends_with("-wal")
        })
        .expect("kept");
    assert_eq!(
        std::fs::read_to_string(&kept).unwrap(),
        "испорчено ".repeat(1000),
        "kept as it was"
    );
    assert_eq!(
        std::fs::read_to_string(with(&kept, "-wal")).unwrap(),
        "not a wal",
        "its WAL beside it"
    );
}

fn with(p: &Path, suffix: &str) -> std::path::PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    s.into()
}
