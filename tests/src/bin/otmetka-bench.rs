//! `./run bench [NAME]`: the benchmarks. Each prints its figures with the machine it ran on;
//! `docs/performance.md` records them with this command.
//!
//! - `store`: p50/p99 of one durable check-in (`Store::record`: outbox row + derived rows, one
//!   transaction, WAL + synchronous=FULL) against one plain INSERT of a row of the same size in
//!   its own transaction with the same pragmas, side by side in one run; and fsyncs per check-in
//!   (counted by re-running a fixed number of check-ins under `strace -c`).

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Duration, Utc};
use otmetka_app::store::{KioskIdentity, Store};
use otmetka_core::catalogue::{ServiceCode, UnitKind};
use otmetka_core::event::{CheckInMethod, Event};
use otmetka_core::people::{InstructorId, RecipientId};
use otmetka_core::session::{CheckInId, SessionId};
use std::path::Path;
use std::time::Instant;
use uuid::Uuid;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None | Some("store") => bench_store(),
        Some("store-fsync-child") => {
            let n: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(200);
            let db = args.get(1).context("db path")?;
            let (mut store, session) = open_store(Path::new(db))?;
            for i in 0..n {
                store.record(
                    &[checkin(session, i)],
                    t0() + Duration::milliseconds(i as i64),
                    true,
                )?;
            }
            Ok(())
        }
        Some(other) => bail!("unknown benchmark {other:?}; known: store"),
    }
}

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-23T06:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

fn checkin(session: SessionId, i: u64) -> Event {
    Event::CheckedIn {
        session,
        checkin: CheckInId(Uuid::now_v7()),
        recipient: RecipientId(Uuid::now_v7()),
        at: t0() + Duration::milliseconds(i as i64),
        method: CheckInMethod::Card,
        overridden: Vec::new(),
        override_reason: None,
    }
}

fn open_store(db: &Path) -> Result<(Store, SessionId)> {
    let mut store = Store::open(
        db,
        KioskIdentity {
            site: "bench".into(),
            kiosk: "k1".into(),
        },
    )?;
    let session = SessionId(Uuid::now_v7());
    store.record(
        &[Event::SessionOpened {
            session,
            service: ServiceCode::from("001"),
            unit_kind: UnitKind::PerRecipient,
            group: None,
            instructor: InstructorId(Uuid::now_v7()),
            at: t0(),
            safety_briefing: false,
            date_confirmed: false,
        }],
        t0(),
        true,
    )?;
    Ok((store, session))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    format!("{cpu}, {cores} cores, {}", std::env::consts::ARCH)
}

fn bench_store() -> Result<()> {
    const N: usize = 2000;
    let dir = tempfile::tempdir()?;
    let (mut store, session) = open_store(&dir.path().join("kiosk.db"))?;
    // The plain INSERT: a row as large as the check-in's outbox payload, same pragmas.
    let payload = serde_json::to_string(&checkin(session, 0))?;
    let row_bytes = payload.len() + 200;
    let plain = rusqlite::Connection::open(dir.path().join("plain.db"))?;
    plain.query_row("PRAGMA journal_mode=WAL", [], |_| Ok(()))?;
    plain.execute_batch(
        "PRAGMA synchronous=FULL; CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL);",
    )?;
    let body = "x".repeat(row_bytes);
    let (mut durable, mut insert) = (Vec::with_capacity(N), Vec::with_capacity(N));
    // Interleaved, so both meet the same disk and the same background load.
    for i in 0..N {
        let ev = checkin(session, i as u64);
        let t = Instant::now();
        store.record(&[ev], t0() + Duration::milliseconds(i as i64), true)?;
        durable.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        let tx = plain.unchecked_transaction()?;
        tx.execute("INSERT INTO t (body) VALUES (?1)", [&body])?;
        tx.commit()?;
        insert.push(t.elapsed().as_secs_f64() * 1e3);
    }
    durable.sort_by(f64::total_cmp);
    insert.sort_by(f64::total_cmp);
    let (d50, d99) = (percentile(&durable, 0.5), percentile(&durable, 0.99));
    let (i50, i99) = (percentile(&insert, 0.5), percentile(&insert, 0.99));
    println!(
        "store bench: {N} iterations each, interleaved; machine: {}",
        machine()
    );
    println!("  durable check-in (Store::record)          p50 {d50:.3} ms  p99 {d99:.3} ms");
    println!("  plain INSERT, {row_bytes} B row, own transaction p50 {i50:.3} ms  p99 {i99:.3} ms");
    println!(
        "  ratio durable/plain                        p50 {:.2}  p99 {:.2}",
        d50 / i50,
        d99 / i99
    );

    // fsyncs per check-in: a fixed number of check-ins under strace -c.
    let n = 200;
    let exe = std::env::current_exe()?;
    let db = dir.path().join("fsync.db");
    let trace = dir.path().join("strace.txt");
    let status = std::process::Command::new("strace")
        .args(["-f", "-c", "-e", "trace=fsync,fdatasync", "-o"])
        .arg(&trace)
        .arg(&exe)
        .arg("store-fsync-child")
        .arg(&db)
        .arg(n.to_string())
        .status()
        .context("strace (apt-get install strace)")?;
    if !status.success() {
        bail!("the strace run failed");
    }
    let summary = std::fs::read_to_string(&trace)?;
    let calls: u64 = summary
        .lines()
        .filter(|l| l.trim_end().ends_with("fsync") || l.trim_end().ends_with("fdatasync"))
        .filter_map(|l| {
            l.split_whitespace()
                .nth(3)
                .and_then(|c| c.parse::<u64>().ok())
        })
        .sum();
    // The child also opens the store and records the session: subtract nothing, say so.
    println!(
        "  fsync+fdatasync calls: {calls} for {n} check-ins (+ open and one session event) = {:.2} per check-in",
        calls as f64 / n as f64
    );
    Ok(())
}
