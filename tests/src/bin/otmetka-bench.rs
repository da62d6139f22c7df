//! `./run bench [NAME]`: the benchmarks. Each prints its figures with the machine it ran on;
//! `docs/performance.md` records them with this command.
//!
//! - `kiosk`: see the `kiosk` module: start to the idle screen, resident memory idle and in a
//!   session, tap-to-pixels p50/p99 over 1,000 taps.
//! - `feed`: see the `feed` module: broker vs journal rates, backlog drain, live taps during it.
//! - `store`: p50/p99 of one durable check-in (`Store::record`: outbox row + derived rows, one
//!   transaction, WAL + synchronous=FULL) against one plain INSERT of a row of the same size in
//!   its own transaction with the same pragmas, side by side in one run; and fsyncs per check-in
//!   (counted by re-running a fixed number of check-ins under `strace -c`).
//! - `pages`: see the `pages` module: the journal's pages on 300 recipients and a year of units.
//! - `pdf`: see the `pdf` module: the monthly act and a 300-session group journal as PDF.
//! - `flood`: see the `flood` module: a good kiosk's delivery latency while another kiosk's
//!   credential floods the journal, the journal's peak memory and its database's growth.

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

#[path = "otmetka-bench/flood.rs"]
mod flood;
#[path = "otmetka-bench/pages.rs"]
mod pages;
#[path = "otmetka-bench/pdf.rs"]
mod pdf;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None => {
            bench_store()?;
            feed::run()?;
            kiosk::run()?;
            pages::run()?;
            pdf::run()?;
            flood::run()?;
            bench_pin()
        }
        Some("store") => bench_store(),
        Some("kiosk") => kiosk::run(),
        Some("feed") => feed::run(),
        Some("pages") => pages::run(),
        Some("pdf") => pdf::run(),
        Some("pin") => bench_pin(),
        Some("flood") => flood::run(),
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
        Some(other) => {
            bail!("unknown benchmark {other:?}; known: store, feed, kiosk, pages, pdf, pin, flood")
        }
    }
}

/// A sign-in by PIN on a site of 20 instructors, whose PINs are argon2id hashes each with its own
/// salt: the kiosk tries them in turn, so the worst case (the last instructor's PIN, or a wrong
/// one) is 20 hashes. Also one hash alone, which is what an offline search pays per guess and
/// per instructor.
fn bench_pin() -> Result<()> {
    use otmetka_core::cards::SiteSecret;
    use otmetka_core::people::{Instructor, InstructorId};
    use otmetka_core::roster::RosterIndex;
    use otmetka_core::wire::{Roster, RosterInstructor};
    const INSTRUCTORS: u128 = 20;
    let secret = SiteSecret::from_file_bytes(b"bench-secret-not-for-production")?;
    let started = std::time::Instant::now();
    let instructors: Vec<RosterInstructor> = (0..INSTRUCTORS)
        .map(|n| {
            let id = InstructorId(uuid::Uuid::from_u128(n + 1));
            RosterInstructor {
                instructor: Instructor {
                    id,
                    display_name: format!("Инструктор {n}"),
                },
                card_hashes: Vec::new(),
                pin_hash: Some(otmetka_core::pin::hash(
                    &secret,
                    &id.0.to_string(),
                    &format!("{:06}", 100_000 + n),
                )),
            }
        })
        .collect();
    let one_hash = started.elapsed() / INSTRUCTORS as u32;
    let roster = Roster {
        schema: otmetka_core::wire::SCHEMA,
        site: "bench".into(),
        version: 1,
        recipients: Vec::new(),
        instructors,
        groups: Vec::new(),
    };
    let index = RosterIndex::from_roster(&roster);
    let times = |pin: &str, expect: bool| {
        let mut v: Vec<std::time::Duration> = (0..5)
            .map(|_| {
                let t = std::time::Instant::now();
                let found = index.instructor_by_pin(&secret, pin);
                assert_eq!(found.is_some(), expect, "{pin}");
                t.elapsed()
            })
            .collect();
        v.sort();
        v[v.len() / 2]
    };
    let first = times("100000", true);
    let last = times(&format!("{:06}", 100_000 + INSTRUCTORS - 1), true);
    let wrong = times("999999", false);
    println!(
        "pin: one argon2id PIN hash (8 MiB, 1 pass) {:.1} ms; sign-in by PIN among {INSTRUCTORS} instructors: first {:.1} ms, last {:.1} ms, wrong PIN {:.1} ms (median of 5)",
        one_hash.as_secs_f64() * 1e3,
        first.as_secs_f64() * 1e3,
        last.as_secs_f64() * 1e3,
        wrong.as_secs_f64() * 1e3
    );
    Ok(())
}

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-23T06:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

fn checkin(session: SessionId, i: u64) -> Event {
    Event::CheckedIn {
        norm_minutes: None,
        session,
        checkin: CheckInId(Uuid::now_v7()),
        recipient: RecipientId(Uuid::now_v7()),
        at: t0() + Duration::milliseconds(i as i64),
        method: CheckInMethod::Card,
        overridden: Vec::new(),
        override_reason: None,
    }
}

/// A journal for site "bench" in `jdir`, with a small roster of its own written into `dir` (the
/// sample roster is site "demo"'s, which the journal refuses for "bench").
/// A journal for site "bench" with ten people, `extra_toml` appended to its config.
fn bench_journal(
    dir: &Path,
    jdir: &Path,
    port: u16,
    extra_toml: &str,
) -> Result<otmetka_tests::site::JournalProcess> {
    let roster = dir.join("roster.toml");
    std::fs::write(
        &roster,
        otmetka_tests::site::load_roster_toml("bench", 10, "004-5.1"),
    )?;
    let text =
        otmetka_tests::site::JournalProcess::config_text(jdir, port, &["bench"], Some(&roster))?;
    otmetka_tests::site::JournalProcess::start_with_config(jdir, &format!("{text}\n{extra_toml}"))
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
            event: false,
            over_group_cap: false,
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

mod feed {
    //! `feed`: in one run, (1) the rate at which Mosquitto delivers QoS 1 messages to a subscriber
    //! that discards them, (2) the rate at which the journal ingests and commits messages of the
    //! same size and count (acked end to end), and units/s separately, (3) the time a kiosk takes
    //! to drain a 10,000-unit backlog, and live-tap p99 on that kiosk during the drain against its
    //! idle p99. Settings, [`ROUNDS`] drains each, pooled: k1 everything on both cores; k2 the
    //! kiosk apart from journal and broker, taps back to back; k3 the same, a tap every 10 ms;
    //! k4 and k5 the controls of k2 and k3: the backlog is another kiosk's (on the server's
    //! core), so the tapped kiosk's feed is idle and only the busy machine remains. The last
    //! lines set each against its control.
    //!
    //! Environment: `OTMETKA_BENCH_ROUNDS=N` drains per setting; `OTMETKA_BENCH_ONLY=k1..k5`
    //! one setting; `OTMETKA_BENCH_WINDOW=N` the kiosks' feed window (1000 unless set); `OTMETKA_BENCH_KEEP=DIR` keeps the run's directories (with
    //! `RUST_LOG=info,otmetka::timing=trace` each kiosk's log times every command and commit).

    use super::{checkin, percentile, t0};
    use anyhow::{Context, Result, bail};
    use bytes::Bytes;
    use otmetka_app::kiosk::{Command, Reply};
    use otmetka_app::store::{KioskIdentity, Store};
    use otmetka_core::catalogue::{ServiceCode, UnitKind};
    use otmetka_core::event::{CloseKind, Event, UNITS_PER_EVENT};
    use otmetka_core::people::{InstructorId, RecipientId};
    use otmetka_core::session::{CheckInId, SessionId};
    use otmetka_core::unit::{Unit, UnitId};
    use otmetka_core::wire::{Ack, Envelope, SCHEMA};
    use otmetka_link::testing::Broker;
    use otmetka_link::topics::{self, Id};
    use otmetka_link::{Client, ClientOptions, Event as LinkEvent, QoS};
    use otmetka_tests::site::{
        JournalProcess, KioskProcess, feed_toml, load_card, load_roster_toml,
    };
    use std::time::{Duration, Instant};
    use uuid::Uuid;

    const N: usize = 10_000;

    pub(crate) fn envelope(kiosk: &str, seq: u64, event: Event) -> Result<Bytes> {
        let env = Envelope {
            schema: SCHEMA,
            site: "bench".into(),
            kiosk: kiosk.into(),
            installation: None,
            seq,
            event_id: Uuid::now_v7(),
            recorded_at: t0(),
            clock_synced: true,
            event,
        };
        Ok(Bytes::from(serde_json::to_vec(&env)?))
    }

    fn unit(session: SessionId, i: usize) -> Unit {
        let recipient = RecipientId(Uuid::from_u128(0x1000_0000 + i as u128));
        Unit {
            id: UnitId::per_recipient(session, recipient),
            session,
            service: ServiceCode::from("004-5.1"),
            kind: UnitKind::PerRecipient,
            recipient: Some(recipient),
            participants: Vec::new(),
            group: None,
            instructor: InstructorId(Uuid::from_u128(1)),
            date: t0().date_naive(),
            started_at: t0(),
            ended_at: t0(),
            overridden: Vec::new(),
            manual: false,
            below_group_min: false,
            over_norm_minutes: None,
            clock_synced: true,
        }
    }

    pub(crate) async fn client(
        port: u16,
        id: &str,
    ) -> Result<(otmetka_link::ClientHandle, otmetka_link::EventStream)> {
        let mut o = ClientOptions::new("127.0.0.1", port, id);
        o.session.clean_session = true;
        let (h, mut ev) = Client::start(o)?;
        loop {
            match tokio::time::timeout(Duration::from_secs(10), ev.recv())
                .await
                .with_context(|| format!("client {id} did not connect"))?
            {
                Some(LinkEvent::Connected { .. }) => return Ok((h, ev)),
                Some(_) => {}
                None => bail!("client {id} stopped"),
            }
        }
    }

    async fn publish_all(
        h: &otmetka_link::ClientHandle,
        topic: &str,
        payloads: &[Bytes],
    ) -> Result<()> {
        let mut tokens = Vec::with_capacity(payloads.len());
        for p in payloads {
            tokens.push(
                h.publish(topic.to_string(), p.clone(), QoS::AtLeastOnce, false)
                    .await?,
            );
        }
        for t in tokens {
            t.wait().await?;
        }
        Ok(())
    }

    /// Waits for an ack of `seq` on `acks`.
    async fn wait_ack(ev: &mut otmetka_link::EventStream, seq: u64) -> Result<()> {
        loop {
            match tokio::time::timeout(Duration::from_secs(120), ev.recv())
                .await
                .with_context(|| format!("no ack of {seq} within 120 s"))?
            {
                Some(LinkEvent::Message(m)) => {
                    if let Ok(a) = serde_json::from_slice::<Ack>(&m.payload) {
                        if a.committed_seq >= seq {
                            return Ok(());
                        }
                    }
                }
                Some(_) => {}
                None => bail!("ack stream ended"),
            }
        }
    }

    pub fn run() -> Result<()> {
        let dir = tempfile::tempdir()?;
        println!("feed bench: run directory {}", dir.path().display());
        if let Some(keep) = std::env::var_os("OTMETKA_BENCH_KEEP") {
            return run_in(std::path::Path::new(&keep));
        }
        run_in(dir.path())
    }

    fn run_in(dir: &std::path::Path) -> Result<()> {
        std::fs::create_dir_all(dir)?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let broker = Broker::start_quiet(otmetka_tests::site::BROKER_SETTINGS)?;
        let site = Id::new("bench").context("id")?;
        let session = SessionId(Uuid::now_v7());
        let checkins: Vec<Bytes> = (0..N)
            .map(|i| envelope("b1", i as u64 + 1, checkin(session, i as u64)))
            .collect::<Result<_>>()?;
        let size = checkins[0].len();
        let (mosq_rate, journal_rate, units_rate) = rt.block_on(async {
            // (1) Mosquitto to a discarding subscriber.
            let (sub, mut sub_ev) = client(broker.port, "bench-sub").await?;
            let topic = topics::events(&site, &Id::new("b0").context("id")?);
            sub.subscribe(&[(topic.as_str(), QoS::AtLeastOnce)])
                .await?
                .wait()
                .await?;
            let (publ, _pub_ev) = client(broker.port, "bench-pub").await?;
            let t = Instant::now();
            let counter = tokio::spawn(async move {
                let mut n = 0;
                while n < N {
                    if let Some(LinkEvent::Message(_)) = sub_ev.recv().await {
                        n += 1;
                    }
                }
            });
            publish_all(&publ, &topic, &checkins).await?;
            counter.await?;
            let mosq = N as f64 / t.elapsed().as_secs_f64();
            // (2) The journal: the same messages, timed until its ack says all are committed.
            let jdir = dir.join("journal");
            let journal = super::bench_journal(dir, &jdir, broker.port, "")?;
            tokio::time::sleep(Duration::from_secs(2)).await;
            let (acks, mut acks_ev) = client(broker.port, "bench-acks").await?;
            let f1 = topics::acks(&site, &Id::new("b1").context("id")?);
            let f2 = topics::acks(&site, &Id::new("b2").context("id")?);
            acks.subscribe(&[(f1.as_str(), QoS::AtLeastOnce)])
                .await?
                .wait()
                .await?;
            let t = Instant::now();
            publish_all(
                &publ,
                &topics::events(&site, &Id::new("b1").context("id")?),
                &checkins,
            )
            .await?;
            wait_ack(&mut acks_ev, N as u64).await?;
            let jrate = N as f64 / t.elapsed().as_secs_f64();
            // Units: 10,000 units in messages of 50.
            let s2 = SessionId(Uuid::now_v7());
            let units: Vec<Unit> = (0..N).map(|i| unit(s2, i)).collect();
            let msgs: Vec<Bytes> = units
                .chunks(UNITS_PER_EVENT)
                .enumerate()
                .map(|(i, c)| {
                    envelope(
                        "b2",
                        i as u64 + 1,
                        Event::Units {
                            session: s2,
                            units: c.to_vec(),
                        },
                    )
                })
                .collect::<Result<_>>()?;
            acks.subscribe(&[(f2.as_str(), QoS::AtLeastOnce)])
                .await?
                .wait()
                .await?;
            let t = Instant::now();
            publish_all(
                &publ,
                &topics::events(&site, &Id::new("b2").context("id")?),
                &msgs,
            )
            .await?;
            wait_ack(&mut acks_ev, msgs.len() as u64).await?;
            let urate = N as f64 / t.elapsed().as_secs_f64();
            drop(journal);
            Ok::<_, anyhow::Error>((mosq, jrate, urate))
        })?;
        println!(
            "feed bench: {N} QoS 1 messages of {size} B; machine: {}",
            super::machine()
        );
        println!("  mosquitto → discarding subscriber      {mosq_rate:>9.0} msg/s");
        println!("  journal ingest + commit + ack          {journal_rate:>9.0} msg/s");
        println!(
            "  ratio journal/mosquitto                {:>9.2}",
            journal_rate / mosq_rate
        );
        println!("  journal units (50 per message)         {units_rate:>9.0} units/s");

        let paced = Some(Duration::from_millis(10));
        let (here, elsewhere) = (Backlog::Here, Backlog::Elsewhere);
        setting(dir, &broker, Setting::new("k1", false, None, here))?;
        let k2 = setting(dir, &broker, Setting::new("k2", true, None, here))?;
        // People do not tap back to back: a card every 10 ms is still a hundred times a queue's
        // pace, and gives a hundred taps or more during each drain.
        let k3 = setting(dir, &broker, Setting::new("k3", true, paced, here))?;
        // The controls: the same drains, but of another kiosk's backlog. The tapped kiosk's own
        // feed has nothing to drain; what its taps still meet is the rest of this machine busy.
        let k4 = setting(dir, &broker, Setting::new("k4", true, None, elsewhere))?;
        let k5 = setting(dir, &broker, Setting::new("k5", true, paced, elsewhere))?;
        against_control("taps back to back (k2 against k4)", &k2, &k4);
        against_control("a tap every 10 ms (k3 against k5)", &k3, &k5);
        Ok(())
    }

    /// Drains per setting (`OTMETKA_BENCH_ROUNDS` overrides). One drain gives a few hundred
    /// taps, whose p99 is its third-worst tap: one slow fsync of the disk decides it. Pooled over
    /// rounds, each drain followed by its idle taps, the p99 is the 10th–30th worst tap.
    const ROUNDS: usize = 5;

    /// What one drain measured.
    struct DrainRun {
        drain_time: Duration,
        /// Tap latencies during the drain (ms), in order.
        during: Vec<f64>,
        /// Tap latencies afterwards, idle (ms).
        idle: Vec<f64>,
        /// (latency ms, seconds after the link came up) of every tap during the drain.
        when: Vec<(f64, f64)>,
    }

    fn sorted(v: impl IntoIterator<Item = f64>) -> Vec<f64> {
        let mut v: Vec<f64> = v.into_iter().collect();
        v.sort_by(f64::total_cmp);
        v
    }

    /// The 5th and 95th percentiles of p99(during)/p99(idle) over 2,000 bootstrap resamples of
    /// both samples: how far the pooled ratio itself can be trusted.
    fn ratio_interval(during: &[f64], idle: &[f64]) -> (f64, f64) {
        // xorshift64*: a fixed seed, so the interval is reproducible from the same samples.
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move |n: usize| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            (state.wrapping_mul(0x2545_F491_4F6C_DD1D) % n as u64) as usize
        };
        let mut resample = |v: &[f64]| sorted((0..v.len()).map(|_| v[next(v.len())]));
        let ratios = sorted((0..2000).map(|_| {
            let (d, i) = (resample(during), resample(idle));
            percentile(&d, 0.99) / percentile(&i, 0.99)
        }));
        (percentile(&ratios, 0.05), percentile(&ratios, 0.95))
    }

    /// Which kiosk holds the 10,000-unit backlog that drains.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Backlog {
        /// The kiosk being tapped (what the issue asks).
        Here,
        /// Another kiosk of the site, on the server's core (a control).
        Elsewhere,
    }

    /// How one drain runs.
    #[derive(Debug, Clone)]
    struct Setting {
        /// The tapped kiosk's id (with the round's number).
        kiosk_id: String,
        /// Kiosk and driver on core 0, journal and broker on core 1, journal database on tmpfs.
        pinned: bool,
        /// A tap every `pace`, or back to back.
        pace: Option<Duration>,
        backlog: Backlog,
    }

    impl Setting {
        fn new(kiosk_id: &str, pinned: bool, pace: Option<Duration>, backlog: Backlog) -> Self {
            Setting {
                kiosk_id: kiosk_id.to_string(),
                pinned,
                pace,
                backlog,
            }
        }
    }

    /// [`ROUNDS`] drains of one setting: each round's figures, then the pooled ones.
    fn setting(
        dir: &std::path::Path,
        broker: &Broker,
        setting: Setting,
    ) -> Result<Option<Vec<f64>>> {
        let Setting {
            ref kiosk_id,
            pinned,
            pace,
            backlog,
        } = setting;
        if let Ok(only) = std::env::var("OTMETKA_BENCH_ONLY") {
            if &only != kiosk_id {
                return Ok(None);
            }
        }
        println!(
            "  {}, {}{}:",
            if pinned {
                "kiosk + driver on core 0, journal + broker on core 1, journal database on tmpfs (as on separate machines)"
            } else {
                "everything sharing both cores"
            },
            match pace {
                Some(p) => format!("a tap every {} ms", p.as_millis()),
                None => "taps back to back".to_string(),
            },
            match backlog {
                Backlog::Here => "",
                Backlog::Elsewhere => {
                    "; CONTROL: the backlog is another kiosk's (on core 1), this kiosk's feed idle"
                }
            }
        );
        let rounds = std::env::var("OTMETKA_BENCH_ROUNDS")
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(ROUNDS);
        let mut runs = Vec::new();
        for round in 1..=rounds {
            let round_setting = Setting {
                kiosk_id: format!("{kiosk_id}r{round}"),
                ..setting.clone()
            };
            let r = drain(dir, broker, &round_setting)?;
            let (d, i) = (sorted(r.during.clone()), sorted(r.idle.clone()));
            let mut slowest = r.when.clone();
            slowest.sort_by(|a, b| b.0.total_cmp(&a.0));
            let slowest: Vec<String> = slowest
                .iter()
                .take(3)
                .map(|(ms, at)| format!("{ms:.1} ms at {at:.2} s"))
                .collect();
            println!(
                "    round {round}: drain {:.2} s; during: {} taps, p50 {:.2} p99 {:.2} ms; idle: {} taps, p50 {:.2} p99 {:.2} ms; ratio {:.2}; slowest {}",
                r.drain_time.as_secs_f64(),
                d.len(),
                percentile(&d, 0.5),
                percentile(&d, 0.99),
                i.len(),
                percentile(&i, 0.5),
                percentile(&i, 0.99),
                percentile(&d, 0.99) / percentile(&i, 0.99),
                slowest.join(", ")
            );
            runs.push(r);
        }
        let times = sorted(runs.iter().map(|r| r.drain_time.as_secs_f64()));
        let during = sorted(runs.iter().flat_map(|r| r.during.iter().copied()));
        let idle = sorted(runs.iter().flat_map(|r| r.idle.iter().copied()));
        let (d99, i99) = (percentile(&during, 0.99), percentile(&idle, 0.99));
        let (lo, hi) = ratio_interval(&during, &idle);
        println!(
            "  drain of a 10,000-unit backlog (+10,000 check-ins) after the link comes up: {:.2}–{:.2} s over {} drains",
            times[0],
            times[times.len() - 1],
            times.len()
        );
        println!(
            "  pooled live tap during the drains: {} taps, p50 {:.2} ms, p99 {d99:.2} ms",
            during.len(),
            percentile(&during, 0.5)
        );
        println!(
            "  pooled live tap idle:              {} taps, p50 {:.2} ms, p99 {i99:.2} ms",
            idle.len(),
            percentile(&idle, 0.5)
        );
        println!(
            "  pooled ratio p99 during/idle: {:.2} (bootstrap 90% interval {lo:.2}–{hi:.2})",
            d99 / i99
        );
        Ok(Some(during))
    }

    /// A setting against its control, side by side: p99 of taps during the kiosk's own drain
    /// over p99 during another kiosk's drain (both pooled, sorted).
    fn against_control(what: &str, own: &Option<Vec<f64>>, control: &Option<Vec<f64>>) {
        if let (Some(own), Some(control)) = (own, control) {
            let (lo, hi) = ratio_interval(own, control);
            println!(
                "  {what}: p99 during its own drain / during another kiosk's drain: {:.2} (bootstrap 90% interval {lo:.2}–{hi:.2})",
                percentile(own, 0.99) / percentile(control, 0.99)
            );
        }
    }

    /// The calling thread alone on `cpus` (`taskset` on its thread id).
    fn pin_thread(cpus: &str) -> Result<()> {
        let me = std::fs::read_link("/proc/thread-self")?;
        let tid = me
            .file_name()
            .and_then(|t| t.to_str())
            .ok_or_else(|| anyhow::anyhow!("no thread id in {}", me.display()))?
            .to_string();
        let ok = std::process::Command::new("taskset")
            .args(["-p", "-c", cpus, &tid])
            .stdout(std::process::Stdio::null())
            .status()?
            .success();
        if !ok {
            bail!("taskset -p -c {cpus} {tid} failed");
        }
        Ok(())
    }

    /// Every thread of `pid` on `cpus` (`taskset`, util-linux).
    /// A thread that ends while taskset walks the list (the kiosk starts short-lived ones) fails
    /// the call: it is tried again, a few times.
    fn pin(pid: Option<u32>, cpus: &str) -> Result<()> {
        let pid = pid.context("no pid to pin")?;
        for _ in 0..5 {
            let ok = std::process::Command::new("taskset")
                .args(["-a", "-p", "-c", cpus, &pid.to_string()])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()?
                .success();
            if ok {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        bail!("taskset -a -p -c {cpus} {pid} failed 5 times")
    }

    /// (3) A kiosk with a 10,000-unit backlog reconnects; live taps during the drain.
    /// Taps before the kiosk's link comes up (see the gate in [`drain`]).
    const WARM_UP: usize = 50;

    /// Writes a closed session of [`N`] units into the store in `kdir`: the backlog.
    fn fill_backlog(kdir: &std::path::Path, kiosk_id: &str) -> Result<()> {
        let mut store = Store::open(
            &kdir.join("kiosk.db"),
            KioskIdentity {
                site: "bench".into(),
                kiosk: kiosk_id.into(),
            },
        )?;
        let s = SessionId(Uuid::now_v7());
        let mut events = vec![Event::SessionOpened {
            session: s,
            service: ServiceCode::from("004-5.1"),
            unit_kind: UnitKind::PerRecipient,
            group: None,
            instructor: InstructorId(Uuid::from_u128(1)),
            at: t0(),
            safety_briefing: false,
            date_confirmed: false,
            event: false,
            over_group_cap: false,
        }];
        let units: Vec<Unit> = (0..N).map(|i| unit(s, i)).collect();
        for u in &units {
            events.push(Event::CheckedIn {
                norm_minutes: None,
                session: s,
                checkin: CheckInId(Uuid::now_v7()),
                recipient: u.recipient.unwrap_or(RecipientId(Uuid::nil())),
                at: t0(),
                method: otmetka_core::event::CheckInMethod::Card,
                overridden: Vec::new(),
                override_reason: None,
            });
        }
        events.push(Event::SessionClosed {
            session: s,
            at: t0(),
            how: CloseKind::Instructor,
            head_count: None,
            reason: None,
        });
        events.extend(Event::Units { session: s, units }.split_units(UNITS_PER_EVENT));
        store.record(&events, t0(), true)?;
        Ok(())
    }

    /// One drain with live taps: back to back, or one every `pace`.
    fn drain(dir: &std::path::Path, broker: &Broker, setting: &Setting) -> Result<DrainRun> {
        let Setting {
            ref kiosk_id,
            pinned,
            pace,
            backlog,
        } = *setting;
        let mut next = Instant::now();
        let mut wait_turn = move || {
            if let Some(p) = pace {
                let now = Instant::now();
                let target = next + p;
                if target > now {
                    std::thread::sleep(target - now);
                    next = target;
                } else {
                    // Late (a slow tap, or the first one): start the beat again from now.
                    next = now;
                }
            }
        };
        let roster = dir.join("roster.toml");
        std::fs::write(&roster, load_roster_toml("bench", 3000, "004-5.1"))?;
        // As on separate machines, the journal also gets its own disk: a tmpfs (its fsyncs then
        // cost nothing, as the server's fsyncs cost the kiosk nothing).
        let shm = tempfile::tempdir_in("/dev/shm")?;
        let jdir = if pinned {
            shm.path().join("journal")
        } else {
            dir.join(format!("journal-{kiosk_id}"))
        };
        let journal = JournalProcess::start(&jdir, broker.port, &["bench"], Some(&roster))?;
        if pinned {
            // The journal and the broker run on a server in production: here they get core 1,
            // the kiosk and the driver (its reader) core 0.
            pin(journal.pid(), "1")?;
            pin(broker.pid(), "1")?;
            pin(Some(std::process::id()), "0")?;
        }
        let kdir = dir.join(kiosk_id);
        std::fs::create_dir_all(&kdir)?;
        // The kiosk whose link comes up (through the gate) with 10,000 units to send: the tapped
        // one, or in the control another kiosk on the server's core.
        let (drainer_id, drainer_dir) = match backlog {
            Backlog::Here => (kiosk_id.to_string(), kdir.clone()),
            Backlog::Elsewhere => {
                let id = format!("{kiosk_id}b");
                let d = dir.join(&id);
                std::fs::create_dir_all(&d)?;
                (id, d)
            }
        };
        fill_backlog(&drainer_dir, &drainer_id)?;
        // The kiosk reaches the broker through a gate that holds its connection (TCP is
        // accepted by the kernel, the MQTT CONNECT waits) until the kiosk has warmed up: what
        // is measured is a running kiosk whose link comes back, not a process starting.
        let gate = std::net::TcpListener::bind("127.0.0.1:0")?;
        let gate_port = gate.local_addr()?.port();
        let window = std::env::var("OTMETKA_BENCH_WINDOW").unwrap_or_else(|_| "1000".into());
        let gated = format!("{}window = {window}\n", feed_toml(gate_port));
        let direct = format!("{}window = {window}\n", feed_toml(broker.port));
        let kiosk = KioskProcess::start_with_roster(
            &kdir,
            "bench",
            kiosk_id,
            Some(&roster),
            if backlog == Backlog::Here {
                &gated
            } else {
                &direct
            },
        )?;
        if pinned {
            pin(kiosk.pid(), "0")?;
        }
        // The control's drainer: a kiosk on the server's core, never tapped.
        let _drainer = match backlog {
            Backlog::Here => None,
            Backlog::Elsewhere => {
                let k = KioskProcess::start_with_roster(
                    &drainer_dir,
                    "bench",
                    &drainer_id,
                    Some(&roster),
                    &gated,
                )?;
                if pinned {
                    pin(k.pid(), "1")?;
                }
                Some(k)
            }
        };
        kiosk.sign_in_and_start("004-5.1")?;
        // Recipients the drain's taps do not reach; their 50 units join the backlog.
        for j in 0..WARM_UP {
            kiosk.call(Command::Tap {
                card: load_card(2900 + j),
            })?;
        }
        kiosk.call(Command::End {
            head_count: None,
            reason: None,
        })?;
        kiosk.sign_in_and_start("004-5.1")?;
        let broker_port = broker.port;
        std::thread::spawn(move || {
            for client in gate.incoming().flatten() {
                let Ok(upstream) = std::net::TcpStream::connect(("127.0.0.1", broker_port)) else {
                    continue;
                };
                for (mut from, mut to) in [
                    (client.try_clone(), upstream.try_clone()),
                    (upstream.try_clone(), client.try_clone()),
                ]
                .into_iter()
                .filter_map(|(a, b)| Some((a.ok()?, b.ok()?)))
                {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        let t_start = Instant::now();
        // The journal is watched from a thread of its own, on the journal's core when pinned,
        // so that watching it does not take CPU from the kiosk's taps on core 0.
        let drained = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let watcher = {
            let drained = drained.clone();
            let db = jdir.join("journal.db");
            let drainer = drainer_id.clone();
            // The tapped kiosk's warm-up units join its backlog when it is the drainer.
            let expect = N + if backlog == Backlog::Here { WARM_UP } else { 0 };
            std::thread::spawn(move || -> Result<Duration> {
                // Whatever happens here, the taps stop when this thread does.
                let result = (|| -> Result<Duration> {
                    if pinned {
                        pin_thread("1")?;
                    }
                    let count = || -> Result<i64> {
                        Ok(rusqlite::Connection::open(&db)?.query_row(
                            "SELECT COUNT(*) FROM units WHERE kiosk = ?1",
                            [&drainer],
                            |r| r.get(0),
                        )?)
                    };
                    let mut last_error = None;
                    loop {
                        // Done when the backlog's 10,000 units are committed in the journal
                        // (the live taps keep the outbox from ever being empty for long). A
                        // failed read (the journal busy creating its tables) is tried again.
                        match count() {
                            Ok(n) if n as usize >= expect => return Ok(t_start.elapsed()),
                            Ok(_) => {}
                            Err(e) => last_error = Some(e),
                        }
                        if t_start.elapsed() > Duration::from_secs(120) {
                            bail!(
                                "the backlog did not drain in 120 s (last error: {last_error:?})"
                            );
                        }
                        std::thread::sleep(Duration::from_millis(20));
                    }
                })();
                drained.store(true, std::sync::atomic::Ordering::SeqCst);
                result
            })
        };
        let mut during = Vec::new();
        // When each tap started, from the link coming up (to place the slow ones).
        let mut when = Vec::new();
        let mut i = 0;
        while !drained.load(std::sync::atomic::Ordering::SeqCst) {
            wait_turn();
            let t = Instant::now();
            let r = kiosk.call(Command::Tap { card: load_card(i) })?;
            during.push(t.elapsed().as_secs_f64() * 1e3);
            when.push(t.duration_since(t_start).as_secs_f64());
            i += 1;
            if !matches!(r, Reply::Tap(ref t) if t.committed) {
                bail!("a live tap was not committed: {r:?}");
            }
        }
        let drain_time = match watcher.join() {
            Ok(Ok(t)) => t,
            Ok(Err(e)) => {
                let log = std::fs::read_to_string(kdir.join("kiosk.log")).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(15).collect();
                bail!("{e}; kiosk log:\n{}", tail.join("\n"));
            }
            Err(_) => bail!("the journal watcher panicked"),
        };
        // The idle taps go into a new session, as the drain's did: a tap's cost grows with the
        // people already present (the screen lists them), so both phases start from none.
        kiosk.call(Command::End {
            head_count: Some(i as u32),
            reason: None,
        })?;
        kiosk.sign_in_and_start("004-5.1")?;
        // Let the end of session's units go out: idle means nothing left to send.
        std::thread::sleep(Duration::from_secs(2));
        let mut idle = Vec::new();
        for j in 0..during.len().max(300) {
            wait_turn();
            let t = Instant::now();
            let r = kiosk.call(Command::Tap { card: load_card(j) })?;
            idle.push(t.elapsed().as_secs_f64() * 1e3);
            if !matches!(r, Reply::Tap(ref t) if t.committed) {
                bail!("an idle tap was not committed: {r:?}");
            }
        }
        if pinned {
            pin(broker.pid(), "0,1")?;
            pin(Some(std::process::id()), "0,1")?;
        }
        Ok(DrainRun {
            drain_time,
            when: during.iter().copied().zip(when).collect(),
            during,
            idle,
        })
    }
}

mod kiosk {
    //! `kiosk`: the real `otmetka-kiosk` (release build, headless: Slint's software renderer at
    //! 800×480, the screen of the 7" panel), driven from outside through its control socket.
    //!
    //! 1. Start to idle: from spawning the process until `ctl frame` answers with the idle screen
    //!    rendered (socket polled every 1 ms); the first start creates the database, the next
    //!    four open it.
    //! 2. Resident memory (`VmRSS` of /proc) idle after start, and after 1,000 check-ins in an
    //!    open session (with the peak, `VmHWM`).
    //! 3. Tap to pixels: `ctl tap` (answers once the store committed the check-in and the tap
    //!    result was handed to the screens), then `ctl frame` (renders the screen on the UI thread
    //!    and answers with it); the frame must be the tap result. 1,000 check-ins, p50/p99, with
    //!    the commit alone (the `ctl tap` answer) and the render alone beside it.

    use super::{machine, percentile};
    use anyhow::{Context, Result, bail};
    use otmetka_app::control::{Answer, ControlClient, ExtraRequest, Request};
    use otmetka_app::kiosk::{Command, Reply};
    use otmetka_core::catalogue::ServiceCode;
    use otmetka_core::decision::DecisionKind;
    use otmetka_tests::site::{KioskProcess, load_card, load_roster_toml, sibling_binary};
    use std::path::Path;
    use std::process::{Child, Stdio};
    use std::time::{Duration, Instant};

    const TAPS: usize = 1000;

    fn request(socket: &Path, req: &Request) -> Result<Reply> {
        match ControlClient::connect(socket)?.request(req)? {
            Answer::Ok(r) => Ok(r),
            Answer::Error(e) => bail!("{e}"),
        }
    }

    fn frame(socket: &Path) -> Result<(String, [u8; 4], u64)> {
        match request(socket, &Request::Extra(ExtraRequest::Frame))? {
            Reply::Frame {
                name,
                top,
                render_us,
                ..
            } => Ok((name, top, render_us)),
            other => bail!("not a frame: {other:?}"),
        }
    }

    /// Kilobytes of a `/proc/PID/status` field.
    fn status_kb(pid: u32, field: &str) -> Result<u64> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        text.lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .with_context(|| format!("no {field} in /proc/{pid}/status"))
    }

    /// Spawns the kiosk and waits for its first idle frame; returns the child and the time.
    fn start(config: &Path, socket: &Path, log: &Path) -> Result<(Child, Duration)> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)?;
        let t = Instant::now();
        let mut child = std::process::Command::new(sibling_binary("otmetka-kiosk")?)
            .args(["run", "--headless", "--config"])
            .arg(config)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()?;
        while t.elapsed() < Duration::from_secs(30) {
            if let Ok((name, _, _)) = frame(socket) {
                if name == "idle" {
                    return Ok((child, t.elapsed()));
                }
            }
            if let Some(status) = child.try_wait()? {
                bail!("the kiosk exited at start: {status}");
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let _ = child.kill();
        bail!("no idle screen within 30 s")
    }

    pub fn run() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let roster = dir.path().join("roster.toml");
        std::fs::write(&roster, load_roster_toml("bench", TAPS + 10, "004-5.1"))?;
        // Writes the config (the shipped one with local paths, sound silent), then steps aside.
        let mut k =
            KioskProcess::start_with_roster(dir.path(), "bench", "kiosk-1", Some(&roster), "")?;
        k.kill();
        let (config, socket, log) = (
            k.config.clone(),
            k.socket.clone(),
            dir.path().join("bench.log"),
        );
        std::fs::remove_file(dir.path().join("kiosk.db")).ok();
        for ext in ["-wal", "-shm"] {
            std::fs::remove_file(dir.path().join(format!("kiosk.db{ext}"))).ok();
        }

        let mut starts = Vec::new();
        let mut child = None;
        for _ in 0..5 {
            if let Some(mut c) = child.take() {
                let _: Result<(), _> = Child::kill(&mut c);
                let _ = c.wait();
            }
            let (c, took) = start(&config, &socket, &log)?;
            starts.push(took);
            child = Some(c);
        }
        let mut child = child.context("no kiosk")?;
        let pid = child.id();
        std::thread::sleep(Duration::from_secs(1));
        let rss_idle = status_kb(pid, "VmRSS:")?;

        request(
            &socket,
            &Request::Kiosk(Command::SignIn {
                credential: "1234".into(),
            }),
        )?;
        request(
            &socket,
            &Request::Kiosk(Command::Start {
                service: ServiceCode::from("004-5.1"),
                group: None,
                unit_kind: None,
                safety_briefing: false,
                confirm_date: false,
                event: false,
                over_group_cap: false,
            }),
        )?;
        let (_, idle_top, _) = frame(&socket)?;
        let (mut total, mut commit, mut render) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..TAPS {
            let t = Instant::now();
            let reply = request(
                &socket,
                &Request::Kiosk(Command::Tap { card: load_card(i) }),
            )?;
            let committed = t.elapsed();
            match reply {
                Reply::Tap(tap) if tap.committed && tap.kind == DecisionKind::Accepted => {}
                other => bail!("tap {i}: {other:?}"),
            }
            let (name, top, render_us) = frame(&socket)?;
            let took = t.elapsed();
            if name != "tap_result" || top == idle_top {
                bail!("tap {i}: the frame shows {name} (top pixel {top:?}), not the tap result");
            }
            total.push(took.as_secs_f64() * 1e3);
            commit.push(committed.as_secs_f64() * 1e3);
            render.push(render_us as f64 / 1e3);
        }
        let rss_session = status_kb(pid, "VmRSS:")?;
        let hwm = status_kb(pid, "VmHWM:")?;
        let _ = child.kill();
        let _ = child.wait();

        let ms = |d: &Duration| d.as_secs_f64() * 1e3;
        let mut later: Vec<f64> = starts[1..].iter().map(ms).collect();
        later.sort_by(f64::total_cmp);
        for v in [&mut total, &mut commit, &mut render] {
            v.sort_by(f64::total_cmp);
        }
        println!(
            "== kiosk: otmetka-kiosk --headless (release), 800x480 software renderer; {}",
            machine()
        );
        println!(
            "start to idle frame: first (new database) {:.0} ms; restarts median {:.0} ms, max {:.0} ms (goal < 1000 ms)",
            ms(&starts[0]),
            later[later.len() / 2],
            later[later.len() - 1]
        );
        println!(
            "resident memory: idle {:.1} MB; after {TAPS} check-ins in a session {:.1} MB, peak {:.1} MB (goal < 60 MB)",
            rss_idle as f64 / 1024.0,
            rss_session as f64 / 1024.0,
            hwm as f64 / 1024.0
        );
        println!(
            "tap to pixels over {TAPS} check-ins: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms (goal p99 < 50 ms)",
            percentile(&total, 0.50),
            percentile(&total, 0.99),
            total[total.len() - 1]
        );
        println!(
            "  of which ctl tap (decided + committed): p50 {:.2} ms, p99 {:.2} ms; frame render: p50 {:.2} ms, p99 {:.2} ms",
            percentile(&commit, 0.50),
            percentile(&commit, 0.99),
            percentile(&render, 0.50),
            percentile(&render, 0.99)
        );
        Ok(())
    }
}
