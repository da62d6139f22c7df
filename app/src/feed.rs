//! The feed, kiosk side: drains the outbox to the journal over MQTT and takes the journal's
//! documents (roster, schedule) back.
//!
//! The outbox is the store's event log. Rows go out in `seq` order, at most `window` of them
//! ahead of the journal's last ack; a row is marked delivered only when the journal's ack says it
//! is committed (never on the broker's PUBACK). On every (re)connection, and when acks stall, the
//! drain starts again after the last ack: a resend is harmless because the journal is idempotent.
//! The feed has its own database connection and thread, so a backlog never delays a live tap:
//! the thread runs at a lower CPU priority, and before each read or write of the outbox it
//! waits (a bounded while) for the worker to finish the tap or press it is handling.

use crate::clock::build_time;
use crate::config::FeedConfig;
use crate::kiosk::{Internal, PreparedRoster, Reply, index_roster};
use crate::store::{KioskIdentity, Store, StoreError};
use crate::worker::WorkerHandle;
use bytes::Bytes;
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use otmetka_core::wire::{
    Ack, EnrolmentRequest, Presence, Roster, SCHEMA, Schedule, Status, Usage,
};
use otmetka_link::DisconnectReason;
use otmetka_link::topics::{self, Id};
use otmetka_link::{Client, ClientOptions, Event, LastWill, QoS, TlsOptions, Transport};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How the feed runs.
#[derive(Debug, Clone)]
pub struct FeedOptions {
    pub config: FeedConfig,
    pub identity: KioskIdentity,
    pub database: PathBuf,
    /// Rows published ahead of the journal's ack.
    pub window: u64,
    /// With no ack progress for this long, publish again from the last ack.
    pub resend_after: Duration,
    pub version: String,
}

/// The drain's state, without I/O: what to publish next and what the acks allow.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Drain {
    /// Highest seq the journal acknowledged as committed.
    pub acked: u64,
    /// Highest seq published on the current connection.
    pub sent: u64,
}

impl Drain {
    /// How many more rows may go out now.
    pub fn room(&self, window: u64) -> u64 {
        window.saturating_sub(self.sent.saturating_sub(self.acked))
    }

    /// A new connection (or stalled acks): start again after the last ack.
    pub fn rewind(&mut self) {
        self.sent = self.acked;
    }

    /// The journal acknowledged up to `seq`. Returns whether that is progress.
    pub fn on_ack(&mut self, seq: u64) -> bool {
        if seq > self.acked {
            self.acked = seq;
            self.sent = self.sent.max(seq);
            true
        } else {
            false
        }
    }
}

/// How often at most the feed writes the journal's acks into the ack log while a drain runs.
/// The journal acks every ~100 rows; one write per ack was ~100 small transactions in a 10,000-row
/// drain, each taking the write lock a tap needs and adding to the WAL its commit syncs (and to an
/// SD card's wear). An ack not yet written costs only a resend after a restart, which the journal
/// acknowledges without applying it twice.
const MARK_EVERY: Duration = Duration::from_millis(500);

/// The acks received but not yet written to the ack log.
#[derive(Debug)]
struct Marks {
    /// Highest seq written to the ack log.
    written: u64,
    last: Instant,
}

impl Marks {
    fn new(store: &Store) -> Result<Self, StoreError> {
        Ok(Marks {
            written: store.acked()?,
            last: Instant::now(),
        })
    }

    /// Whether to write now: an ack is pending and either the drain has caught up (everything
    /// published is acked: a live tap's mark goes in within a tick) or [`MARK_EVERY`] has passed.
    fn due(&self, drain: &Drain) -> bool {
        drain.acked > self.written
            && (drain.acked >= drain.sent || self.last.elapsed() >= MARK_EVERY)
    }

    /// Writes the ack log up to `acked` (if that is news), after the worker's current call.
    async fn write(
        &mut self,
        store: &mut Store,
        worker: &WorkerHandle,
        acked: u64,
    ) -> Result<(), StoreError> {
        if acked <= self.written {
            return Ok(());
        }
        yield_to_worker(worker).await;
        store.mark_delivered(acked, now())?;
        self.written = acked;
        self.last = Instant::now();
        Ok(())
    }
}

/// Starts the feed on its own thread (a current-thread tokio runtime).
pub fn spawn(opts: FeedOptions, worker: WorkerHandle) {
    let spawned = std::thread::Builder::new()
        .name("feed".into())
        .spawn(move || {
            lower_priority();
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!("the feed cannot start its runtime: {e}");
                    return;
                }
            };
            let mut last_error = String::new();
            if crate::crash::injected("panic-feed") {
                std::thread::sleep(Duration::from_secs(1));
                panic!("injected fault: panic-feed");
            }
            loop {
                if let Err(e) = rt.block_on(run(&opts, &worker)) {
                    let e = format!("{e:#}");
                    // Logged once per new reason (a broker host that does not resolve would
                    // otherwise fill the log every 5 s); the diagnostics screen and `ctl status`
                    // show it all the while.
                    if e != last_error {
                        tracing::error!("feed stopped: {e}; retrying every 5 s");
                        last_error.clone_from(&e);
                    }
                    let _ = worker.call(Internal::FeedLink {
                        connected: false,
                        detail: e,
                    });
                }
                std::thread::sleep(Duration::from_secs(5));
            }
        });
    if let Err(e) = spawned {
        tracing::error!("cannot start the feed thread: {e}");
    }
}

/// The feed thread's nice value: below the worker's, so a tap and the screen get the CPU first
/// when both want it (about 3:1 at nice 5). Nice 19 starved the drain when taps came back to back.
const FEED_NICE: i32 = 5;

/// How long the feed holds back its disk work for the worker at most, before going ahead anyway
/// (taps back to back must not stop the drain).
const YIELD_AT_MOST: Duration = Duration::from_millis(5);

/// Rows published between two looks at the worker: the feed's CPU bursts stay short (about a
/// millisecond), so a tap that arrives during one waits little.
const PUMP_CHUNK: u64 = 64;

/// Lowers this thread's CPU priority (on Linux, `setpriority` on a thread id affects that thread
/// alone).
fn lower_priority() {
    let tid = rustix::thread::gettid();
    if let Err(e) = rustix::process::setpriority_process(Some(tid), FEED_NICE) {
        tracing::warn!("the feed thread keeps its priority: {e}");
    }
}

/// Sends a message to the worker and waits for its reply off this runtime (the worker owns the
/// kiosk; a call blocks).
async fn call_worker(worker: &WorkerHandle, cmd: Internal) -> Result<Reply, String> {
    let worker = worker.clone();
    tokio::task::spawn_blocking(move || worker.call(cmd))
        .await
        .map_err(|e| format!("the call to the kiosk worker failed: {e}"))?
}

/// Tells the kiosk (its diagnostics screen, `ctl status`) whether the feed is connected.
async fn tell_link(worker: &WorkerHandle, connected: bool, detail: String) {
    if let Err(e) = call_worker(worker, Internal::FeedLink { connected, detail }).await {
        tracing::warn!("cannot tell the kiosk about the feed's link: {e}");
    }
}

/// Waits while the worker handles a call (a tap), for at most [`YIELD_AT_MOST`].
async fn yield_to_worker(worker: &WorkerHandle) {
    let deadline = Instant::now() + YIELD_AT_MOST;
    while worker.busy() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_micros(500)).await;
    }
}

#[allow(clippy::disallowed_methods)] // the feed's timestamps are wall-clock by nature
fn now() -> DateTime<Utc> {
    Utc::now()
}

fn client_options(
    opts: &FeedOptions,
    site: &Id,
    kiosk: &Id,
    last_good: Option<DateTime<Utc>>,
) -> anyhow::Result<ClientOptions> {
    let (host, port) = opts
        .config
        .broker
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h.to_string(), p.parse::<u16>().ok()?)))
        .ok_or_else(|| {
            anyhow::anyhow!(
                "feed.broker must be host:port, not {:?}",
                opts.config.broker
            )
        })?;
    let username = opts
        .config
        .username
        .clone()
        .unwrap_or_else(|| topics::kiosk_username(site, kiosk));
    let mut o = ClientOptions::new(host, port, username.clone());
    o.session.username = Some(username);
    if let Some(pw) = &opts.config.password_file {
        let pw =
            std::fs::read(pw).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", pw.display()))?;
        o.session.password = Some(Bytes::from(pw.trim_ascii().to_vec()));
    }
    match &opts.config.ca_file {
        Some(ca) => {
            let mut tls = TlsOptions::new(ca);
            // A Pi without a real-time clock boots in 1970: the broker's certificate is checked
            // at the latest time known good (the build, or the last synchronised record).
            let known = last_good.map_or(build_time(), |t| t.max(build_time()));
            tls.last_known_good = Some(known.into());
            o.transport = Transport::Tls(tls);
        }
        // The config allows this only for a broker on this machine, or with plain_tcp = true.
        None if opts.config.plain_tcp => tracing::warn!(
            broker = %opts.config.broker,
            "the feed talks to the broker in plain TCP (plain_tcp = true): unencrypted, and the broker is not authenticated"
        ),
        None => {}
    }
    let offline = Status {
        schema: SCHEMA,
        kiosk: kiosk.as_str().to_string(),
        presence: Presence::Offline,
        version: opts.version.clone(),
        outbox_depth: 0,
        oldest_undelivered_s: None,
        reader_ok: false,
        clock_synced: false,
        pin_failures: 0,
        at: None,
        lost: Vec::new(),
    };
    o.session.last_will = Some(LastWill {
        topic: topics::status(site, kiosk),
        payload: Bytes::from(serde_json::to_vec(&offline)?),
        qos: QoS::AtLeastOnce,
        retain: true,
    });
    // A site's roster comes as one retained message: ~0.6 KiB a recipient, so a large home's
    // roster is megabytes.
    o.max_packet_size = 16 << 20;
    o.backoff_initial = Duration::from_millis(200);
    o.backoff_max = Duration::from_secs(10);
    o.session.keep_alive = Duration::from_secs(10);
    o.session.response_timeout = Duration::from_secs(5);
    Ok(o)
}

async fn run(opts: &FeedOptions, worker: &WorkerHandle) -> anyhow::Result<()> {
    let site = Id::new(&opts.identity.site).ok_or_else(|| anyhow::anyhow!("bad site id"))?;
    let kiosk = Id::new(&opts.identity.kiosk).ok_or_else(|| anyhow::anyhow!("bad kiosk id"))?;
    // Marks of delivery need not be synced: see `Durability::Normal`.
    let mut store = Store::open_with(
        &opts.database,
        opts.identity.clone(),
        crate::store::Durability::Normal,
    )?;
    let last_good = store.last_good_time()?;
    let (handle, mut events) = Client::start(client_options(opts, &site, &kiosk, last_good)?)?;
    let events_topic = topics::events(&site, &kiosk);
    let acks_topic = topics::acks(&site, &kiosk);
    let roster_topic = topics::roster(&site);
    let schedule_topic = topics::schedule(&site);
    let usage_topic = topics::usage(&site);
    let enrol_topic = topics::enrol(&site, &kiosk);
    let mut drain = Drain::default();
    let mut marks = Marks::new(&store)?;
    let mut connected = false;
    // The last reason a connection attempt failed, logged once per change (a refused kiosk
    // retries every few seconds; its log says why without filling the disk).
    let mut last_refusal: Option<String> = None;
    let mut last_progress = Instant::now();
    let mut last_status = Instant::now() - Duration::from_secs(3600);
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            ev = events.recv() => {
                let Some(ev) = ev else { return Ok(()) };
                match ev {
                    Event::Connected { .. } => {
                        connected = true;
                        last_refusal = None;
                        drain.rewind();
                        last_progress = Instant::now();
                        let subs = [
                            (acks_topic.as_str(), QoS::AtLeastOnce),
                            (roster_topic.as_str(), QoS::AtLeastOnce),
                            (schedule_topic.as_str(), QoS::AtLeastOnce),
                            (usage_topic.as_str(), QoS::AtLeastOnce),
                            (enrol_topic.as_str(), QoS::AtLeastOnce),
                        ];
                        // The token resolves on SUBACK; the client re-subscribes by itself later.
                        let _ = handle.subscribe(&subs).await?;
                        last_status = Instant::now() - Duration::from_secs(3600);
                        tracing::info!("feed connected");
                        tell_link(worker, true, opts.config.broker.clone()).await;
                    }
                    Event::Disconnected { reason } => {
                        if connected {
                            tracing::warn!("feed disconnected: {reason:?}");
                            tell_link(worker, false, format!("{reason:?}")).await;
                        }
                        if let DisconnectReason::ConnectFailed(why) = &reason {
                            if last_refusal.as_deref() != Some(why.as_str()) {
                                tell_link(worker, false, why.clone()).await;
                                tracing::error!(
                                    "feed cannot connect to the broker: {why}; events stay in the outbox and go out once it connects"
                                );
                                last_refusal = Some(why.clone());
                            }
                        }
                        connected = false;
                        marks.write(&mut store, worker, drain.acked).await?;
                    }
                    Event::Message(m) if m.topic == acks_topic => match serde_json::from_slice::<Ack>(&m.payload) {
                        Ok(ack) if ack.installation.is_some_and(|i| i != store.installation()) => {
                            // The retained ack of the database this one replaced: its seqs are
                            // not ours, and taking it would mark our new events delivered.
                            tracing::info!(installation = ?ack.installation, committed_seq = ack.committed_seq,
                                "an ack for another installation of this kiosk: ignored");
                        }
                        Ok(ack) => {
                            for r in &ack.rejected {
                                tracing::error!(seq = ?r.seq, reason = ?r.reason, "the journal rejected an event");
                            }
                            let held = drain.acked.max(marks.written);
                            if ack.committed_seq < held {
                                // The journal went back in time (restored from a backup): send
                                // again what it no longer has, from what it says it holds.
                                let from = ack.committed_seq + 1;
                                tracing::warn!(journal = ack.committed_seq, acked = held,
                                    "the journal holds less than it acknowledged before (restored from a backup?): sending again from seq {from}");
                                yield_to_worker(worker).await;
                                if let Some(lost) = store.rewind_acks(ack.committed_seq, now())? {
                                    tracing::error!(from = lost.from, to = lost.to,
                                        "rows {}..={} were pruned (after the audit period) before the journal lost them: they will never reach it; the kiosk's status says so to the journal's staff",
                                        lost.from, lost.to);
                                }
                                marks.written = ack.committed_seq;
                                drain.acked = ack.committed_seq;
                                drain.sent = ack.committed_seq;
                                tell_link(worker, connected, format!(
                                    "the journal was restored: sending again from seq {from}")).await;
                                last_progress = Instant::now();
                                if connected {
                                    pump(&handle, &store, worker, &mut drain, opts.window, &events_topic).await?;
                                }
                            } else if drain.on_ack(ack.committed_seq) {
                                last_progress = Instant::now();
                                // Marked in the ack log on a tick (`marks`), not here.
                                // The window has room again: do not wait for the next tick.
                                if connected {
                                    pump(&handle, &store, worker, &mut drain, opts.window, &events_topic).await?;
                                }
                            }
                        }
                        Err(e) => tracing::warn!("an ack that does not parse: {e}"),
                    },
                    Event::Message(m) if m.topic == roster_topic => match serde_json::from_slice::<Roster>(&m.payload) {
                        Ok(roster) => {
                            // Stored on this connection and indexed on this thread (a roster is
                            // megabytes): the worker only swaps the index in, and a tap never
                            // waits for the roster. A power cut may lose this unsynced write: the
                            // retained roster comes again at the next connection.
                            let body = String::from_utf8_lossy(&m.payload);
                            if store.put_document("roster", roster.version, &body)? {
                                let index = PreparedRoster(Arc::new(index_roster(&roster)));
                                tracing::info!(version = roster.version, "roster received");
                                if let Err(e) = call_worker(worker, Internal::UseRoster { roster: index }).await {
                                    tracing::warn!("the roster was not taken: {e}");
                                }
                            }
                        }
                        Err(e) => tracing::warn!("a roster that does not parse: {e}"),
                    },
                    Event::Message(m) if m.topic == schedule_topic => match serde_json::from_slice::<Schedule>(&m.payload) {
                        Ok(schedule) if schedule.site != site.as_str() => {
                            tracing::warn!(site = %schedule.site, "a schedule of another site: ignored");
                        }
                        Ok(schedule) => {
                            let version = schedule.version;
                            match call_worker(worker, Internal::PutSchedule { schedule: Box::new(schedule) }).await {
                                Err(e) => tracing::warn!("the schedule was not taken: {e}"),
                                Ok(_) => tracing::info!(version, "schedule received"),
                            }
                        }
                        Err(e) => tracing::warn!("a schedule that does not parse: {e}"),
                    },
                    Event::Message(m) if m.topic == usage_topic => match serde_json::from_slice::<Usage>(&m.payload) {
                        Ok(usage) if usage.site != site.as_str() => {
                            tracing::warn!(site = %usage.site, "a usage of another site: ignored");
                        }
                        Ok(usage) => {
                            let version = usage.version;
                            match call_worker(worker, Internal::PutUsage { usage: Box::new(usage) }).await {
                                Err(e) => tracing::warn!("the site's usage was not taken: {e}"),
                                Ok(_) => tracing::debug!(version, "site usage received"),
                            }
                        }
                        Err(e) => tracing::warn!("a usage message that does not parse: {e}"),
                    },
                    Event::Message(m) if m.topic == enrol_topic => match serde_json::from_slice::<EnrolmentRequest>(&m.payload) {
                        Ok(request) => {
                            tracing::info!(request = %request.request, "the journal asks for a card");
                            if let Err(e) = call_worker(worker, Internal::Enrol { request: Box::new(request) }).await {
                                tracing::warn!("the enrolment request was not taken: {e}");
                            }
                        }
                        Err(e) => tracing::warn!("an enrolment request that does not parse: {e}"),
                    },
                    Event::Message(_) => {}
                }
            }
            _ = tick.tick() => {
                if marks.due(&drain) {
                    marks.write(&mut store, worker, drain.acked).await?;
                }
                if !connected {
                    continue;
                }
                if drain.sent > drain.acked && last_progress.elapsed() > opts.resend_after {
                    tracing::warn!(acked = drain.acked, sent = drain.sent, "no ack progress: publishing again from the last ack");
                    drain.rewind();
                    last_progress = Instant::now();
                }
                pump(&handle, &store, worker, &mut drain, opts.window, &events_topic).await?;
                if last_status.elapsed() > Duration::from_secs(10) {
                    last_status = Instant::now();
                    publish_status(&handle, &mut store, worker, opts, &site, &kiosk).await?;
                    let keep = ChronoDuration::days(i64::from(opts.config.audit_days));
                    store.prune_delivered(now() - keep)?;
                }
            }
        }
    }
}

/// Publishes the next undelivered rows the window has room for.
async fn pump(
    handle: &otmetka_link::ClientHandle,
    store: &Store,
    worker: &WorkerHandle,
    drain: &mut Drain,
    window: u64,
    topic: &str,
) -> anyhow::Result<()> {
    loop {
        let room = drain.room(window).min(PUMP_CHUNK);
        if room == 0 {
            return Ok(());
        }
        yield_to_worker(worker).await;
        let rows = store.undelivered(drain.sent, room as usize)?;
        if rows.is_empty() {
            return Ok(());
        }
        for row in rows {
            handle
                .publish(
                    topic.to_string(),
                    Bytes::from(row.payload),
                    QoS::AtLeastOnce,
                    false,
                )
                .await?;
            drain.sent = row.seq;
        }
    }
}

async fn publish_status(
    handle: &otmetka_link::ClientHandle,
    store: &mut Store,
    worker: &WorkerHandle,
    opts: &FeedOptions,
    site: &Id,
    kiosk: &Id,
) -> anyhow::Result<()> {
    let (depth, oldest) = store
        .backlog()
        .map_err(|e: StoreError| anyhow::anyhow!(e))?;
    let lost = store.lost().map_err(|e: StoreError| anyhow::anyhow!(e))?;
    // The reader's health and the clock's verdict are the kiosk's: ask the worker, off this
    // runtime. A worker that does not answer is reported as neither.
    let (reader_ok, clock_synced, pin_failures) = match call_worker(worker, Internal::Health).await
    {
        Ok(Reply::Health {
            reader_ok,
            clock_synced,
            pin_failures,
        }) => (reader_ok, clock_synced, pin_failures),
        other => {
            tracing::warn!("no status from the kiosk for the feed's status: {other:?}");
            (false, false, 0)
        }
    };
    if clock_synced {
        // Kept for the next boot without a clock (the broker's certificate is checked at it).
        if let Err(e) = store.saw_good_time(now()) {
            tracing::warn!("cannot keep the last good time: {e}");
        }
    }
    let status = Status {
        schema: SCHEMA,
        kiosk: kiosk.as_str().to_string(),
        presence: Presence::Online,
        version: opts.version.clone(),
        outbox_depth: depth,
        oldest_undelivered_s: oldest.map(|t| (now() - t).num_seconds().max(0) as u64),
        reader_ok,
        clock_synced,
        pin_failures,
        at: Some(now()),
        lost,
    };
    handle
        .publish(
            topics::status(site, kiosk),
            Bytes::from(serde_json::to_vec(&status)?),
            QoS::AtLeastOnce,
            true,
        )
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_drain_keeps_a_window_and_rewinds_to_the_last_ack() {
        let mut d = Drain::default();
        assert_eq!(d.room(100), 100);
        d.sent = 100;
        assert_eq!(d.room(100), 0);
        assert!(d.on_ack(40));
        assert_eq!(d.room(100), 40);
        assert!(!d.on_ack(30), "an older ack is no progress");
        d.rewind();
        assert_eq!(d.sent, 40);
        assert!(
            d.on_ack(120),
            "an ack beyond what this connection sent (an earlier one did)"
        );
        assert_eq!((d.acked, d.sent), (120, 120));
    }

    #[test]
    fn acks_are_written_when_the_drain_catches_up_or_every_so_often() {
        let drain = |acked, sent| Drain { acked, sent };
        let fresh = Marks {
            written: 100,
            last: Instant::now(),
        };
        assert!(!fresh.due(&drain(100, 100)), "nothing new");
        assert!(fresh.due(&drain(101, 101)), "caught up: a live tap's ack");
        assert!(
            !fresh.due(&drain(200, 300)),
            "mid-drain, just written: wait"
        );
        let stale = Marks {
            written: 100,
            last: Instant::now() - MARK_EVERY,
        };
        assert!(stale.due(&drain(200, 300)), "mid-drain, a while ago");
        assert!(!stale.due(&drain(100, 300)), "nothing new, however long");
    }
}
