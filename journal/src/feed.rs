//! The feed: the thin MQTT task between the broker and the journal store. Subscribe to every
//! kiosk's events and status (persistent session, manual PUBACK), hand each message to
//! [`ingest`] and the batcher, commit a due batch in one transaction, then PUBACK its messages
//! and publish each kiosk's ack (retained, so a kiosk that reconnects learns it at once). A
//! message is PUBACKed only after its batch committed: a journal killed mid-batch gets it again
//! from the broker. It also publishes the documents ([`crate::documents`]) and card requests.

use crate::clock::SharedClock;
use crate::config::{IngestConfig, JournalConfig};
use crate::documents::{Documents, roster_body, schedule_body, usage_body};
use crate::error::Error;
use crate::ingest::batch::{Limits, Pending};
use crate::ingest::quiet::Quiet;
use crate::ingest::{self, Batcher, Gate, after_commit};
use crate::shutdown::Shutdown;
use crate::store::{self, Shared};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use otmetka_link::topics::{self, Id};
use otmetka_link::{AckId, Client, ClientHandle, ClientOptions, Event, QoS, TlsOptions, Transport};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The largest packet the journal takes from the broker. A kiosk's events are at most
/// [`ingest::MAX_PAYLOAD`]; anything between that and this is received and recorded as too
/// large. A packet above it would break the connection, and the broker would deliver it again
/// on every reconnection, so the shipped `mosquitto.conf` sets the same `max_packet_size`: the
/// broker refuses such a packet from its sender instead.
pub const MAX_PACKET: usize = 16 << 20;

/// How often the set of revoked kiosks is read again (`revoke-kiosk` writes it from another
/// process).
const REVOKED_REFRESH: Duration = Duration::from_secs(1);

/// The fewest seconds between two log lines about one kiosk's refused or deferred messages.
const QUIET_LOG: Duration = Duration::from_secs(10);

/// How often the timetables are expanded again: the published window moves with the date.
const SCHEDULE_REFRESH: Duration = Duration::from_secs(3600);

/// How often requests for cards (enrolment) are looked for and sent to their kiosks, and the
/// sites' people and plans looked at for a change made on the pages (published again then).
const ENROL_POLL: Duration = Duration::from_secs(1);

/// The fewest seconds between two usages of one site: a usage is rebuilt from the site's units,
/// and a busy site's units arrive many a second.
const USAGE_MIN_INTERVAL: Duration = Duration::from_secs(3);

/// The most (recipient, service) pairs re-checked in one transaction (the rest on the next tick).
const RECHECK_BATCH: usize = 100;

/// The first pause before a failed commit is tried again; it doubles up to the second.
const STORE_RETRY_FIRST: Duration = Duration::from_millis(500);
const STORE_RETRY_MAX: Duration = Duration::from_secs(30);

/// What the feed says of itself (for the health page).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedState {
    /// Connected and subscribed: the broker has granted the feed's topics (a journal that is
    /// connected but not yet subscribed would miss what a kiosk sends in that moment).
    pub connected: bool,
    /// Which connection `connected` speaks of (a late grant for a lost one changes nothing).
    link: u64,
    /// When the link last changed (connected or lost).
    pub since: Option<DateTime<Utc>>,
    /// Messages committed since the process started.
    pub committed: u64,
    pub last_commit: Option<DateTime<Utc>>,
    /// The store's error while a batch waits to be committed again.
    pub store_error: Option<String>,
}

/// The feed's state, shared with the web server.
#[derive(Debug, Clone, Default)]
pub struct FeedHealth(Arc<Mutex<FeedState>>);

impl FeedHealth {
    pub fn get(&self) -> FeedState {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn update(&self, f: impl FnOnce(&mut FeedState)) {
        f(&mut self.0.lock().unwrap_or_else(|p| p.into_inner()));
    }
}

/// The broker connection the config describes.
pub fn client_options(cfg: &JournalConfig) -> Result<ClientOptions, Error> {
    let (host, port) = cfg
        .broker
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h.to_string(), p.parse::<u16>().ok()?)))
        .ok_or_else(|| Error::Config(format!("broker must be host:port, not {:?}", cfg.broker)))?;
    let mut o = ClientOptions::new(host, port, cfg.client_id.clone());
    o.manual_ack = true;
    o.session.username = Some(
        cfg.username
            .clone()
            .unwrap_or_else(|| cfg.client_id.clone()),
    );
    if let Some(pw) = &cfg.password_file {
        let pw = std::fs::read(pw).map_err(Error::io(format!("cannot read {}", pw.display())))?;
        o.session.password = Some(Bytes::from(pw.trim_ascii().to_vec()));
    }
    if cfg.plain_tcp {
        tracing::warn!(
            broker = %cfg.broker,
            "the journal talks to the broker in plain TCP (plain_tcp = true): unencrypted, and the broker is not authenticated"
        );
    }
    if let Some(ca) = &cfg.ca_file {
        o.transport = Transport::Tls(TlsOptions::new(ca));
    }
    o.session.max_inflight = 1000;
    o.max_packet_size = MAX_PACKET;
    o.backoff_initial = Duration::from_millis(200);
    o.backoff_max = Duration::from_secs(10);
    o.session.keep_alive = Duration::from_secs(10);
    o.session.response_timeout = Duration::from_secs(5);
    Ok(o)
}

/// The feed task's parts.
#[derive(Debug)]
pub struct Feed {
    pub options: ClientOptions,
    pub documents: Arc<Documents>,
    pub store: Shared,
    pub clock: SharedClock,
    pub health: FeedHealth,
    pub ingest: IngestConfig,
}

/// The running feed: the link, the batch, what it last read of the store.
struct Running {
    feed: Feed,
    handle: ClientHandle,
    batcher: Batcher<AckId>,
    /// The revoked kiosks and every kiosk's allowance.
    gate: Gate,
    revoked_read: Option<Instant>,
    quiet: Quiet,
    connected: bool,
    /// The revision of each site's `people`, `plan` and `usage` last published.
    published: std::collections::HashMap<(String, &'static str), u64>,
    /// When each site's usage was last published.
    usage_at: std::collections::HashMap<String, Instant>,
}

/// Runs the feed until `shutdown` fires (the batch in hand is committed and acknowledged, then
/// the client disconnects) or the client stops.
pub async fn run(feed: Feed, mut shutdown: Shutdown) -> Result<(), Error> {
    let (handle, mut events) = Client::start(feed.options.clone())?;
    let mut enrol_tick = tokio::time::interval(ENROL_POLL);
    enrol_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut schedule_tick = tokio::time::interval(SCHEDULE_REFRESH);
    schedule_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick is immediate: the connection publishes the schedules anyway.
    schedule_tick.tick().await;
    let limits = Limits {
        window: feed.ingest.broker_inflight,
        ..Limits::default()
    };
    let gate = Gate::new(feed.ingest.admission());
    let mut r = Running {
        feed,
        handle,
        batcher: Batcher::new(limits),
        gate,
        revoked_read: None,
        quiet: Quiet::new(QUIET_LOG),
        connected: false,
        published: std::collections::HashMap::new(),
        usage_at: std::collections::HashMap::new(),
    };
    // systemd's watchdog is pinged from this loop, the ingest, and from nowhere else: an ingest
    // stuck on the store stops the pings and systemd restarts the journal.
    let mut watchdog = otmetka_link::systemd::Watchdog::from_env();
    loop {
        watchdog.pet();
        let deadline = r
            .batcher
            .next_deadline()
            .map(tokio::time::Instant::from_std);
        let ping = watchdog.due().map(tokio::time::Instant::from_std);
        tokio::select! {
            biased;
            _ = shutdown.fired() => {
                r.commit_due(true).await?;
                let _ = r.handle.disconnect().await;
                tracing::info!("feed stopped: shutdown");
                return Ok(());
            }
            ev = events.recv() => match ev {
                Some(ev) => r.on_event(ev).await?,
                None => {
                    r.commit_due(true).await?;
                    return Ok(());
                }
            },
            _ = tokio::time::sleep_until(deadline.unwrap_or_else(tokio::time::Instant::now)),
                if deadline.is_some() => {}
            _ = tokio::time::sleep_until(ping.unwrap_or_else(tokio::time::Instant::now)),
                if ping.is_some() => {}
            _ = schedule_tick.tick(), if r.connected => {
                r.publish_schedules().await?;
                // A temporary card's last day passes without any change to the site's people.
                let documents = Arc::clone(&r.feed.documents);
                for site in &documents.sites {
                    r.publish_roster(&site.id).await?;
                    // The windows move on with the days: the usage shrinks to what they count.
                    r.publish_usage(site).await?;
                }
            }
            _ = enrol_tick.tick(), if r.connected => {
                r.publish_enrolments().await?;
                // A store that is busy for a moment: the next tick tries again.
                if let Err(e) = r.recheck().await {
                    tracing::warn!("could not re-check the rules, trying again: {e}");
                }
                if let Err(e) = r.publish_changed().await {
                    tracing::warn!("could not publish the changed documents, trying again: {e}");
                }
            }
        }
        r.commit_due(false).await?;
    }
}

impl Running {
    fn now(&self) -> DateTime<Utc> {
        self.feed.clock.now()
    }

    /// The link came up or went down: for the ticks and for the health page (which says
    /// "connected" only once the subscription is granted, see [`Running::subscribed`]).
    fn set_link(&mut self, connected: bool) -> u64 {
        self.connected = connected;
        let now = self.now();
        let mut link = 0;
        self.feed.health.update(|s| {
            s.link += 1;
            link = s.link;
            if s.connected {
                s.since = Some(now);
            }
            s.connected = false;
        });
        link
    }

    /// Marks the health "connected" when the broker grants the subscription of connection
    /// `link` (waited for off the loop: the loop must go on taking the client's events).
    fn subscribed(&self, link: u64, token: otmetka_link::SubscribeToken) {
        let (health, clock) = (self.feed.health.clone(), self.feed.clock.clone());
        tokio::spawn(async move {
            match token.wait().await {
                Ok(_) => health.update(|s| {
                    if s.link == link {
                        s.connected = true;
                        s.since = Some(clock.now());
                    }
                }),
                Err(e) => tracing::error!("the broker did not grant the feed's topics: {e}"),
            }
        });
    }

    async fn on_event(&mut self, ev: Event) -> Result<(), Error> {
        match ev {
            Event::Connected { .. } => {
                // What was received before is committed first: its PUBACKs belong to the old
                // connection's packet ids.
                self.commit_due(true).await?;
                let link = self.set_link(true);
                tracing::info!("journal connected to the broker");
                let token = self
                    .handle
                    .subscribe(&[
                        (topics::ALL_EVENTS_FILTER, QoS::AtLeastOnce),
                        (topics::ALL_STATUS_FILTER, QoS::AtLeastOnce),
                    ])
                    .await?;
                self.subscribed(link, token);
                let catalogue = self.feed.documents.catalogue_body()?;
                let documents = Arc::clone(&self.feed.documents);
                for site in &documents.sites {
                    self.publish(topics::catalogue(&site.id), catalogue.clone())
                        .await?;
                    self.publish_roster(&site.id).await?;
                }
                self.publish_schedules().await?;
            }
            Event::Disconnected { reason } => {
                self.set_link(false);
                tracing::warn!("journal disconnected: {reason:?}");
            }
            Event::Message(m) => {
                self.refresh_revoked().await?;
                let now = Instant::now();
                let received = ingest::receive(
                    &m.topic,
                    &m.payload,
                    m.qos,
                    &mut self.gate,
                    &self.feed.documents,
                    now,
                );
                match &received {
                    ingest::Received::Event(j) => {
                        if let ingest::Verdict::Reject { reason, .. } = &j.verdict {
                            if let Some(unsaid) =
                                self.quiet.speak(&j.site, &j.kiosk, reason.kind(), now)
                            {
                                tracing::warn!(topic = %m.topic, ?reason, unsaid, "rejected a message (and `unsaid` more of its kind from this kiosk since the last line)");
                            }
                        }
                    }
                    ingest::Received::Deferred(d) => {
                        if let Some(unsaid) = self.quiet.speak(&d.site, &d.kiosk, d.kind, now) {
                            tracing::warn!(site = %d.site, kiosk = %d.kiosk, kind = d.kind, unsaid,
                                "a kiosk is past its allowance: its messages are deferred unread (it publishes them again); `unsaid` more since the last line");
                        }
                    }
                    ingest::Received::Status(_) => {}
                }
                if let Some(now_ack) = self.batcher.push(received, m.ack, now) {
                    self.handle.ack(now_ack).await?;
                }
            }
        }
        Ok(())
    }

    /// Reads the revoked kiosks again when the last read is older than [`REVOKED_REFRESH`].
    async fn refresh_revoked(&mut self) -> Result<(), Error> {
        if self
            .revoked_read
            .is_some_and(|at| at.elapsed() < REVOKED_REFRESH)
        {
            return Ok(());
        }
        self.gate.revoked = self
            .feed
            .store
            .call(|s| {
                Ok(s.kiosks()?
                    .into_iter()
                    .filter(|k| k.revoked_at.is_some())
                    .map(|k| (k.site, k.kiosk))
                    .collect())
            })
            .await?;
        self.revoked_read = Some(Instant::now());
        Ok(())
    }

    /// Commits the batch if it is due (or whatever it holds, with `now_or_never`), then
    /// acknowledges it: PUBACKs to the broker, acks to the kiosks, rosters where a card was
    /// enrolled.
    async fn commit_due(&mut self, whatever_it_holds: bool) -> Result<(), Error> {
        if !whatever_it_holds && !self.batcher.is_due(Instant::now()) {
            return Ok(());
        }
        let Some(Pending { batch, tokens }) = self.batcher.take() else {
            return Ok(());
        };
        let batch = Arc::new(batch);
        let mut pause = STORE_RETRY_FIRST;
        let acks = loop {
            let (b, now) = (Arc::clone(&batch), self.now());
            let tried = self
                .feed
                .store
                .call(move |s| {
                    if b.is_empty() {
                        Ok(Vec::new())
                    } else {
                        store::commit_isolating(s, &b, now)
                    }
                })
                .await;
            match tried {
                Ok(acks) => break acks,
                Err(e) => {
                    // Not one message's fault (a full disk, a lost database): nothing is
                    // acknowledged, and the batch is tried again until the store takes it.
                    tracing::error!("the journal store failed; retrying in {pause:?}: {e}");
                    self.feed
                        .health
                        .update(|s| s.store_error = Some(e.to_string()));
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(STORE_RETRY_MAX);
                }
            }
        };
        let now = self.now();
        self.feed.health.update(|s| s.store_error = None);
        let messages = batch.messages.len() as u64;
        self.feed.health.update(|s| {
            s.committed += messages;
            s.last_commit = Some(now);
        });
        let after = after_commit(&batch, &acks)?;
        // A card enrolled at a kiosk: every kiosk of its site gets the new roster.
        let documents = Arc::clone(&self.feed.documents);
        for site in documents
            .sites
            .iter()
            .filter(|s| after.rosters.contains(s.id.as_str()))
        {
            tracing::info!(site = %site.id.as_str(), "a card was enrolled: the roster goes out again");
            self.publish_roster(&site.id).await?;
        }
        // Committed: now the broker may forget them.
        for t in tokens {
            self.handle.ack(t).await?;
        }
        for p in after.acks {
            self.handle
                .publish(p.topic, p.body, QoS::AtLeastOnce, p.retain)
                .await?;
        }
        Ok(())
    }

    async fn publish(&self, topic: String, body: Bytes) -> Result<(), Error> {
        self.handle
            .publish(topic, body, QoS::AtLeastOnce, true)
            .await?;
        Ok(())
    }

    /// Publishes a site's roster from its people (nothing for a site that holds nobody yet),
    /// and remembers the revision it was built from.
    async fn publish_roster(&mut self, site: &Id) -> Result<(), Error> {
        let (id, now) = (site.as_str().to_string(), self.now());
        let (revision, body) = self
            .feed
            .store
            .call(move |s| {
                let revision = s.revision(&id, "people")?;
                Ok((revision, roster_body(s, &id, now)?))
            })
            .await?;
        self.published
            .insert((site.as_str().to_string(), "people"), revision);
        match body {
            Some(body) => self.publish(topics::roster(site), body).await,
            None => Ok(()),
        }
    }

    async fn publish_schedules(&mut self) -> Result<(), Error> {
        let documents = Arc::clone(&self.feed.documents);
        for site in &documents.sites {
            self.publish_schedule(site).await?;
        }
        Ok(())
    }

    async fn publish_schedule(
        &mut self,
        site: &crate::documents::SiteDocuments,
    ) -> Result<(), Error> {
        let (sd, now) = (site.clone(), self.now());
        let (revision, body) = self
            .feed
            .store
            .call(move |s| {
                let revision = s.revision(sd.id.as_str(), "plan")?;
                Ok((revision, schedule_body(s, &sd, now)?))
            })
            .await?;
        self.published
            .insert((site.id.as_str().to_string(), "plan"), revision);
        match body {
            Some(body) => self.publish(topics::schedule(&site.id), body).await,
            None => Ok(()),
        }
    }

    /// Judges again the units queued for a re-check (see `store::rules`).
    async fn recheck(&mut self) -> Result<(), Error> {
        let documents = Arc::clone(&self.feed.documents);
        let now = self.now();
        let started = std::time::Instant::now();
        let done = self
            .feed
            .store
            .call(move |s| {
                let time = |site: &str| {
                    documents
                        .sites
                        .iter()
                        .find(|d| d.id.as_str() == site)
                        .map_or_else(
                            || {
                                otmetka_core::period::SiteTime::new(0, Default::default())
                                    .expect("UTC")
                            },
                            |d| d.time,
                        )
                };
                s.recheck(&documents.catalogue, &time, RECHECK_BATCH, now)
            })
            .await?;
        if done.pairs > 0 {
            tracing::debug!(
                ms = started.elapsed().as_millis() as u64,
                pairs = done.pairs,
                violations = done.violations,
                "rules re-checked"
            );
        }
        Ok(())
    }

    /// Publishes a site's usage and remembers the revision it was built from.
    async fn publish_usage(&mut self, site: &crate::documents::SiteDocuments) -> Result<(), Error> {
        let (sd, now) = (site.clone(), self.now());
        let documents = Arc::clone(&self.feed.documents);
        let (revision, people, body) = self
            .feed
            .store
            .call(move |s| {
                let revision = s.revision(sd.id.as_str(), "usage")?;
                let people = s.revision(sd.id.as_str(), "people")?;
                Ok((
                    revision,
                    people,
                    usage_body(s, &documents.catalogue, &sd, now)?,
                ))
            })
            .await?;
        let key = site.id.as_str().to_string();
        self.published.insert((key.clone(), "usage"), revision);
        // People change what is counted too (a programme's count).
        self.published.insert((key.clone(), "usage-people"), people);
        self.usage_at.insert(key, Instant::now());
        self.publish(topics::usage(&site.id), body).await
    }

    /// Publishes again the roster or schedule of each site whose people or plan changed (on
    /// the pages, or by another process) since they were last published.
    async fn publish_changed(&mut self) -> Result<(), Error> {
        let documents = Arc::clone(&self.feed.documents);
        let ids: Vec<String> = documents
            .sites
            .iter()
            .map(|s| s.id.as_str().to_string())
            .collect();
        let revisions = self
            .feed
            .store
            .call(move |s| {
                ids.iter()
                    .map(|id| {
                        Ok((
                            s.revision(id, "people")?,
                            s.revision(id, "plan")?,
                            s.revision(id, "usage")?,
                        ))
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .await?;
        for (site, (people, plan, usage)) in documents.sites.iter().zip(revisions) {
            let key = |name| (site.id.as_str().to_string(), name);
            let held_people = self.published.get(&key("people")).copied();
            let held_plan = self.published.get(&key("plan")).copied();
            if held_people != Some(people) {
                tracing::info!(site = %site.id.as_str(), "the site's people changed: the roster goes out again");
                self.publish_roster(&site.id).await?;
            }
            if held_plan != Some(plan) {
                tracing::info!(site = %site.id.as_str(), "the site's timetable changed: the schedule goes out again");
                self.publish_schedule(site).await?;
            }
            let recent = self
                .usage_at
                .get(site.id.as_str())
                .is_some_and(|at| at.elapsed() < USAGE_MIN_INTERVAL);
            let stale = self.published.get(&key("usage")).copied() != Some(usage)
                || self.published.get(&key("usage-people")).copied() != Some(people);
            if stale && !recent {
                self.publish_usage(site).await?;
            }
        }
        Ok(())
    }

    /// Sends each waiting request for a card to its kiosk (QoS 1, not retained; the kiosk's
    /// persistent session keeps it while the kiosk is offline, and the kiosk ignores it once
    /// expired).
    async fn publish_enrolments(&self) -> Result<(), Error> {
        let now = self.now();
        let waiting = self
            .feed
            .store
            .call(move |s| s.enrolments_to_publish(now))
            .await?;
        for e in waiting {
            let (Some(site), Some(kiosk)) = (Id::new(&e.site), Id::new(&e.kiosk)) else {
                continue;
            };
            self.handle
                .publish(
                    topics::enrol(&site, &kiosk),
                    Bytes::from(serde_json::to_vec(&e.request)?),
                    QoS::AtLeastOnce,
                    false,
                )
                .await?;
            let (request, now) = (e.request.request, self.now());
            self.feed
                .store
                .call(move |s| s.enrolment_published(request, now))
                .await?;
            tracing::info!(%request, site = %e.site, kiosk = %e.kiosk, "asked the kiosk for a card");
        }
        Ok(())
    }
}
