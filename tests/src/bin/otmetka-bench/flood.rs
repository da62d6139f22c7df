//! `flood`: one kiosk credential floods the journal while a good kiosk goes on sending, in one
//! run against one journal (the release binary) and one Mosquitto: the good kiosk's delivery
//! latency (publish → the journal's ack of that seq) idle, then during each flood; the rate the
//! flooder got through the broker; how long the journal took to catch up after it; the
//! journal's peak resident memory (`VmHWM`) and its database's growth.
//!
//! All of it twice, with the broker's in-flight window to the journal at Mosquitto's default (20)
//! and at the shipped config's (200): the journal PUBACKs a stored message after its commit, so
//! the window bounds how fast it drains the broker's queue while it stores a burst.
//!
//! Floods, [`FLOOD_SECS`] s each, as fast as the broker takes them (500 QoS 1 publishes in
//! flight):
//! - `garbage`: 4 KiB that is not JSON, on the flooder's own events topic (what a broken or
//!   hostile kiosk can send; refused, counted, a capped sample kept);
//! - `valid`: well-formed check-ins with fresh seqs (what a stolen kiosk's credential can send:
//!   the journal stores up to the credential's allowance, `[ingest]` in journal.toml, and counts
//!   the rest as deferred without reading them).
//!
//! After each flood the bench reads from the journal's database what became of the flooder's
//! messages: how many were stored, how many counted by kind.
//!
//! The good kiosk sends a check-in every [`GOOD_EVERY`] throughout.

use super::feed::{client, envelope};
use super::{bench_journal, checkin, machine, percentile};
use anyhow::{Context, Result};
use bytes::Bytes;
use otmetka_core::wire::Ack;
use otmetka_link::testing::Broker;
use otmetka_link::topics::{self, Id};
use otmetka_link::{Event as LinkEvent, QoS};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const FLOOD_SECS: u64 = 5;
const IDLE_SECS: u64 = 10;
const GOOD_EVERY: Duration = Duration::from_millis(100);
const IN_FLIGHT: usize = 500;
/// How long a phase waits for its last ack (a seq the broker dropped is never acked: the bench
/// does not send again as a kiosk would).
const ACK_WAIT_SECS: u64 = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flood {
    Garbage,
    Valid,
}

/// Every ack the good kiosk got: (committed seq, when).
type Acks = Arc<Mutex<Vec<(u64, Instant)>>>;

/// The broker's in-flight windows to the journal measured (Mosquitto's `max_inflight_messages`,
/// the journal's `[ingest] broker_inflight`): Mosquitto's default, then the shipped config's.
const WINDOWS: [usize; 2] = [20, otmetka_tests::site::BROKER_INFLIGHT];

pub fn run() -> Result<()> {
    println!("flood bench: machine: {}", machine());
    for window in WINDOWS {
        println!("broker in-flight window to the journal: {window}");
        run_with(window)?;
    }
    Ok(())
}

fn run_with(window: usize) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let broker = Broker::start_quiet(&format!(
        "max_queued_messages 100000\nmax_inflight_messages {window}\n"
    ))?;
    let jdir = dir.path().join("journal");
    let mut journal = bench_journal(
        dir.path(),
        &jdir,
        broker.port,
        &format!("[ingest]\nbroker_inflight = {window}\n"),
    )?;
    let pid = journal.pid().context("the journal's pid")?;
    rt.block_on(async {
        // The journal subscribes as it starts: give it the moment.
        tokio::time::sleep(Duration::from_secs(2)).await;
        if !journal.is_running() {
            anyhow::bail!("the journal stopped as it started:\n{}", journal.log());
        }
        let site = Id::new("bench").context("id")?;
        let good_id = Id::new("good").context("id")?;
        let (listen, mut listen_ev) = client(broker.port, "bench-good-acks").await?;
        listen
            .subscribe(&[(topics::acks(&site, &good_id).as_str(), QoS::AtLeastOnce)])
            .await?
            .wait()
            .await?;
        let acks: Acks = Arc::default();
        let seen = Arc::clone(&acks);
        tokio::spawn(async move {
            while let Some(e) = listen_ev.recv().await {
                if let LinkEvent::Message(m) = e {
                    if let Ok(a) = serde_json::from_slice::<Ack>(&m.payload) {
                        seen.lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push((a.committed_seq, Instant::now()));
                    }
                }
            }
        });
        let (good_pub, _good_ev) = client(broker.port, "bench-good").await?;
        let mut good = GoodKiosk {
            topic: topics::events(&site, &good_id),
            kiosk: good_id,
            publish: good_pub,
            session: otmetka_core::session::SessionId(uuid::Uuid::now_v7()),
            seq: 0,
            sent: Vec::new(),
        };
        let before = db_bytes(&jdir);
        // Idle: the good kiosk alone.
        let idle = good.send_for(Duration::from_secs(IDLE_SECS)).await?;
        let idle_lat = latencies(&acks, &good.sent[idle]).await;
        report("idle (no flood)", &idle_lat, None);
        for (n, kind) in [Flood::Garbage, Flood::Valid].into_iter().enumerate() {
            let flooder = Id::new(&format!("flood{n}")).context("id")?;
            let (fpub, _fev) = client(broker.port, &format!("bench-flood{n}")).await?;
            let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let stopper = Arc::clone(&stop);
            let ftopic = topics::events(&site, &flooder);
            let fkiosk = flooder.as_str().to_string();
            let flood = tokio::spawn(async move {
                let t = Instant::now();
                let mut tokens = std::collections::VecDeque::new();
                let mut n = 0u64;
                let fsession = otmetka_core::session::SessionId(uuid::Uuid::now_v7());
                let garbage = Bytes::from(vec![b'{'; 4096]);
                while !stopper.load(std::sync::atomic::Ordering::Relaxed) {
                    n += 1;
                    let payload = match kind {
                        Flood::Garbage => garbage.clone(),
                        Flood::Valid => envelope(&fkiosk, n, checkin(fsession, n))?,
                    };
                    tokens.push_back(
                        fpub.publish(ftopic.clone(), payload, QoS::AtLeastOnce, false)
                            .await?,
                    );
                    if tokens.len() >= IN_FLIGHT {
                        if let Some(t) = tokens.pop_front() {
                            t.wait().await?;
                        }
                    }
                }
                for t in tokens {
                    t.wait().await?;
                }
                Ok::<_, anyhow::Error>((n, t.elapsed()))
            });
            let during = good.send_for(Duration::from_secs(FLOOD_SECS)).await?;
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            let (flooded, took) = flood.await??;
            // Caught up: a probe sent after the flood's last PUBACK is acknowledged.
            let probe = good.send_for(Duration::from_millis(1)).await?;
            let caught_up = latencies(&acks, &good.sent[probe]).await;
            let lat = latencies(&acks, &good.sent[during]).await;
            let label = match kind {
                Flood::Garbage => "garbage flood (4 KiB, not JSON)",
                Flood::Valid => "valid flood (check-ins with fresh seqs)",
            };
            report(
                label,
                &lat,
                Some(format!(
                    "flooder got {flooded} messages through the broker in {:.1} s ({:.0} msg/s); {}",
                    took.as_secs_f64(),
                    flooded as f64 / took.as_secs_f64(),
                    match caught_up.first().copied().filter(|l| !l.is_nan()) {
                        Some(ms) => format!(
                            "a probe sent after the flood's last PUBACK was acked in {:.2} s",
                            ms / 1000.0
                        ),
                        None => format!(
                            "a probe sent after the flood's last PUBACK was NOT acked within \
                             {ACK_WAIT_SECS} s"
                        ),
                    }
                )),
            );
            let (stored, counted) = flooder_fate(&jdir, flooder.as_str())?;
            println!(
                "    the flooder's messages in the journal: {stored} stored; counted, not stored: {}",
                if counted.is_empty() {
                    "none".to_string()
                } else {
                    counted
                        .iter()
                        .map(|(k, n)| format!("{n} {k}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            );
            let hwm = peak_kib(pid);
            println!(
                "    journal peak resident memory so far {:.1} MiB; database + WAL {:.1} MiB (was {:.1} MiB before the floods)",
                hwm as f64 / 1024.0,
                db_bytes(&jdir) as f64 / (1 << 20) as f64,
                before as f64 / (1 << 20) as f64
            );
        }
        Ok::<_, anyhow::Error>(())
    })?;
    drop(journal);
    Ok(())
}

/// The kiosk that is not flooding: what it has sent, `(seq, when)`, in order.
struct GoodKiosk {
    publish: otmetka_link::ClientHandle,
    kiosk: Id,
    topic: String,
    session: otmetka_core::session::SessionId,
    seq: u64,
    sent: Vec<(u64, Instant)>,
}

impl GoodKiosk {
    /// Sends a check-in every [`GOOD_EVERY`] for `how_long` (at least one); returns the range
    /// of `sent` it added.
    async fn send_for(&mut self, how_long: Duration) -> Result<std::ops::Range<usize>> {
        let start = self.sent.len();
        let t = Instant::now();
        loop {
            self.seq += 1;
            let payload = envelope(
                self.kiosk.as_str(),
                self.seq,
                checkin(self.session, self.seq),
            )?;
            self.sent.push((self.seq, Instant::now()));
            // Not waited for: the kiosk's feed keeps a window in flight.
            drop(
                self.publish
                    .publish(self.topic.clone(), payload, QoS::AtLeastOnce, false)
                    .await?,
            );
            if t.elapsed() >= how_long {
                break;
            }
            tokio::time::sleep(GOOD_EVERY).await;
        }
        Ok(start..self.sent.len())
    }
}

/// Each sent seq's delay (ms) until the first ack covering it; waits up to [`ACK_WAIT_SECS`] for the
/// last. A seq never acknowledged fails the bench (nothing may be lost).
async fn latencies(acks: &Acks, sent: &[(u64, Instant)]) -> Vec<f64> {
    let last = sent.last().map_or(0, |s| s.0);
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(ACK_WAIT_SECS) {
        let done = acks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .any(|a| a.0 >= last);
        if done {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let acks = acks.lock().unwrap_or_else(|p| p.into_inner());
    sent.iter()
        .map(|(seq, at)| {
            acks.iter()
                .filter(|a| a.0 >= *seq && a.1 >= *at)
                .map(|a| (a.1 - *at).as_secs_f64() * 1000.0)
                .fold(f64::NAN, f64::min)
        })
        .collect()
}

fn report(what: &str, lat: &[f64], extra: Option<String>) {
    let lost = lat.iter().filter(|l| l.is_nan()).count();
    let mut ok: Vec<f64> = lat.iter().copied().filter(|l| !l.is_nan()).collect();
    ok.sort_by(f64::total_cmp);
    println!("  {what}:");
    if ok.is_empty() {
        println!("    good kiosk: no acks at all ({lost} sent)");
    } else {
        println!(
            "    good kiosk: {} check-ins, ack p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms{}",
            lat.len(),
            percentile(&ok, 0.5),
            percentile(&ok, 0.99),
            ok[ok.len() - 1],
            if lost > 0 {
                format!("; {lost} NOT acknowledged within {ACK_WAIT_SECS} s")
            } else {
                String::new()
            }
        );
    }
    if let Some(e) = extra {
        println!("    {e}");
    }
}

/// `VmHWM` of `pid`, KiB.
fn peak_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// What became of one flooder's messages, read from the journal's database: how many it stored
/// and, by kind, how many it counted without storing (refused or deferred past the allowance).
fn flooder_fate(dir: &std::path::Path, kiosk: &str) -> Result<(u64, Vec<(String, u64)>)> {
    let db = rusqlite::Connection::open_with_flags(
        dir.join("journal.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )?;
    let stored = db.query_row(
        "SELECT count(*) FROM messages WHERE kiosk = ?1",
        [kiosk],
        |r| r.get(0),
    )?;
    let mut q =
        db.prepare("SELECT kind, count FROM rejected_counts WHERE kiosk = ?1 ORDER BY count DESC")?;
    let counted = q
        .query_map([kiosk], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    Ok((stored, counted))
}

/// Bytes of the journal's database files (`journal.db`, `-wal`, `-shm`).
fn db_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().starts_with("journal.db"))
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}
