//! The journal's ingest loop: subscribe to every kiosk's events (persistent session, manual
//! PUBACK), judge each message, commit a batch in one transaction, then PUBACK the messages and
//! publish each kiosk's ack (retained, so a kiosk that reconnects learns it at once). A message is
//! PUBACKed only after its batch committed: a journal killed mid-batch gets it again from the broker.

use crate::config::JournalConfig;
use crate::ingest::{self, Incoming, Verdict};
use crate::schedule::ScheduleFile;
use crate::store::{JournalStore, Judged, SqliteJournal};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use otmetka_core::catalogue::Catalogue;
use otmetka_core::people::CardStatus;
use otmetka_core::wire::{Ack, CatalogueMessage, Roster, RosterCard, SCHEMA};
use otmetka_link::topics::{self, Id, Topic};
use otmetka_link::{Client, ClientOptions, Event, QoS, TlsOptions, Transport};
use std::collections::HashSet;
use std::time::Duration;

/// Most messages committed in one transaction.
const BATCH: usize = 500;

/// The largest packet the journal takes from the broker. A kiosk's events are at most
/// [`ingest::MAX_PAYLOAD`]; anything between that and this is received and recorded as too
/// large. A packet above it would break the connection, and the broker would deliver it again
/// on every reconnection, so the shipped `mosquitto.conf` sets the same `max_packet_size`: the
/// broker refuses such a packet from its sender instead.
pub const MAX_PACKET: usize = 16 << 20;

/// How often the set of revoked kiosks is read again (`revoke-kiosk` writes it from another
/// process).
const REVOKED_REFRESH: Duration = Duration::from_secs(1);

/// How often the timetables are expanded again: the published window moves with the date.
const SCHEDULE_REFRESH: Duration = Duration::from_secs(3600);

/// A site's timetable, as `serve` publishes it.
#[derive(Debug, Clone)]
pub struct SiteSchedule {
    pub site: Id,
    pub file: ScheduleFile,
}

/// The dated schedule of a site from `today` on (yesterday included: the site's local date may
/// still be yesterday in UTC terms), versioned by the store. Returns the message body.
pub fn schedule_body(
    store: &mut SqliteJournal,
    s: &SiteSchedule,
    now: DateTime<Utc>,
) -> anyhow::Result<Bytes> {
    let from = now.date_naive() - chrono::Duration::days(1);
    let mut schedule = s.file.expand(from);
    let unversioned = serde_json::to_string(&schedule.entries)?;
    schedule.version = store.publish_version(s.site.as_str(), "schedule", &unversioned, now)?;
    Ok(Bytes::from(serde_json::to_vec(&schedule)?))
}

/// A site's roster as the journal holds it: the roster file's, before the cards enrolled at
/// the site's kiosks are added.
#[derive(Debug, Clone)]
pub struct SiteRoster {
    pub site: Id,
    pub roster: Roster,
}

/// How often requests for cards (enrolment) are looked for and sent to their kiosks.
const ENROL_POLL: Duration = Duration::from_secs(1);

/// The roster of a site as published: the file's, with every card enrolled at the site's kiosks
/// added to its holder, versioned by the store (a new card is a new version, which every kiosk
/// of the site takes). Returns the message body.
pub fn roster_body(
    store: &mut SqliteJournal,
    s: &SiteRoster,
    now: DateTime<Utc>,
) -> anyhow::Result<Bytes> {
    let mut roster = s.roster.clone();
    for (recipient, hashes) in store.enrolled_cards(s.site.as_str())? {
        let Some(r) = roster.recipients.iter_mut().find(|r| r.id == recipient) else {
            tracing::warn!(%recipient, "a card was enrolled for someone not on the roster file");
            continue;
        };
        for hash in hashes {
            if !r.cards.iter().any(|c| c.hash == hash) {
                r.cards.push(RosterCard {
                    hash,
                    status: CardStatus::Active,
                });
            }
        }
    }
    roster.version = 0;
    let unversioned = serde_json::to_string(&roster)?;
    roster.version = store.publish_version(s.site.as_str(), "roster", &unversioned, now)?;
    Ok(Bytes::from(serde_json::to_vec(&roster)?))
}

fn revoked_set(store: &SqliteJournal) -> anyhow::Result<HashSet<(String, String)>> {
    Ok(store
        .kiosks()?
        .into_iter()
        .filter(|k| k.revoked_at.is_some())
        .map(|k| (k.site, k.kiosk))
        .collect())
}

#[allow(clippy::disallowed_methods)] // received_at is wall-clock by nature
fn now() -> DateTime<Utc> {
    Utc::now()
}

fn client_options(cfg: &JournalConfig) -> anyhow::Result<ClientOptions> {
    let (host, port) = cfg
        .broker
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h.to_string(), p.parse::<u16>().ok()?)))
        .ok_or_else(|| anyhow::anyhow!("broker must be host:port, not {:?}", cfg.broker))?;
    let mut o = ClientOptions::new(host, port, cfg.client_id.clone());
    o.manual_ack = true;
    o.session.username = Some(
        cfg.username
            .clone()
            .unwrap_or_else(|| cfg.client_id.clone()),
    );
    if let Some(pw) = &cfg.password_file {
        let pw =
            std::fs::read(pw).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", pw.display()))?;
        o.session.password = Some(Bytes::from(pw.trim_ascii().to_vec()));
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

/// Runs the ingest until the client stops.
pub async fn run(
    cfg: &JournalConfig,
    catalogue: &Catalogue,
    rosters: &[SiteRoster],
    schedules: &[SiteSchedule],
) -> anyhow::Result<()> {
    let mut enrol_tick = tokio::time::interval(ENROL_POLL);
    enrol_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut store = SqliteJournal::open(&cfg.database)?;
    let mut revoked = revoked_set(&store)?;
    let mut revoked_at = tokio::time::Instant::now();
    let mut schedule_tick = tokio::time::interval(SCHEDULE_REFRESH);
    schedule_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick is immediate: the connection publishes the schedules anyway.
    schedule_tick.tick().await;
    let mut connected = false;
    let (handle, mut events) = Client::start(client_options(cfg)?)?;
    let catalogue_body = Bytes::from(serde_json::to_vec(&CatalogueMessage {
        schema: SCHEMA,
        version: 1,
        catalogue: catalogue.clone(),
    })?);
    loop {
        let first = tokio::select! {
            ev = events.recv() => ev,
            _ = schedule_tick.tick() => {
                if connected {
                    for sch in schedules {
                        let body = schedule_body(&mut store, sch, now())?;
                        handle.publish(topics::schedule(&sch.site), body, QoS::AtLeastOnce, true).await?;
                    }
                }
                continue;
            }
            _ = enrol_tick.tick() => {
                if connected {
                    publish_enrolments(&handle, &mut store).await?;
                }
                continue;
            }
        };
        let Some(first) = first else {
            return Ok(());
        };
        if revoked_at.elapsed() >= REVOKED_REFRESH {
            revoked = revoked_set(&store)?;
            revoked_at = tokio::time::Instant::now();
        }
        let mut batch_events = vec![first];
        while batch_events.len() < BATCH {
            match tokio::time::timeout(Duration::from_millis(2), events.recv()).await {
                Ok(Some(e)) => batch_events.push(e),
                Ok(None) | Err(_) => break,
            }
        }
        let mut judged = Vec::new();
        let mut acks = Vec::new();
        for ev in batch_events {
            match ev {
                Event::Connected { .. } => {
                    connected = true;
                    tracing::info!("journal connected to the broker");
                    let _ = handle
                        .subscribe(&[
                            (topics::ALL_EVENTS_FILTER, QoS::AtLeastOnce),
                            (topics::ALL_STATUS_FILTER, QoS::AtLeastOnce),
                        ])
                        .await?;
                    for site in cfg.sites.iter().filter_map(|s| Id::new(&s.id)) {
                        handle
                            .publish(
                                topics::catalogue(&site),
                                catalogue_body.clone(),
                                QoS::AtLeastOnce,
                                true,
                            )
                            .await?;
                    }
                    for r in rosters {
                        let body = roster_body(&mut store, r, now())?;
                        handle
                            .publish(topics::roster(&r.site), body, QoS::AtLeastOnce, true)
                            .await?;
                    }
                    for sch in schedules {
                        let body = schedule_body(&mut store, sch, now())?;
                        handle
                            .publish(topics::schedule(&sch.site), body, QoS::AtLeastOnce, true)
                            .await?;
                    }
                }
                Event::Disconnected { reason } => {
                    connected = false;
                    tracing::warn!("journal disconnected: {reason:?}")
                }
                Event::Message(m) => {
                    let parsed = topics::parse_topic(&m.topic);
                    if let Some(Topic::Status { site, kiosk }) = &parsed {
                        store.put_status(
                            site.as_str(),
                            kiosk.as_str(),
                            &String::from_utf8_lossy(&m.payload),
                            now(),
                        )?;
                        if let Some(a) = m.ack {
                            acks.push(a);
                        }
                        continue;
                    }
                    let from = match &parsed {
                        Some(Topic::Events { site, kiosk }) => {
                            Some((site.as_str().to_string(), kiosk.as_str().to_string()))
                        }
                        _ => None,
                    };
                    let incoming = Incoming {
                        topic: m.topic.clone(),
                        from: from.clone(),
                        payload: m.payload.to_vec(),
                    };
                    let verdict = match &from {
                        Some((site, kiosk)) if revoked.contains(&(site.clone(), kiosk.clone())) => {
                            ingest::revoked(site, kiosk)
                        }
                        _ => ingest::judge(&incoming, catalogue),
                    };
                    if let Verdict::Reject { reason, .. } = &verdict {
                        tracing::warn!(topic = %m.topic, ?reason, "rejected a message");
                    }
                    let (site, kiosk) = from.unwrap_or_default();
                    judged.push(Judged {
                        site,
                        kiosk,
                        topic: m.topic,
                        payload: incoming.payload,
                        verdict,
                    });
                    if let Some(a) = m.ack {
                        acks.push(a);
                    }
                }
            }
        }
        let kiosk_acks = if judged.is_empty() {
            Vec::new()
        } else {
            store.commit_batch(&judged, now())?
        };
        // A card enrolled at a kiosk: every kiosk of its site gets the new roster.
        let enrolled_at: HashSet<&str> = judged
            .iter()
            .filter(|j| {
                matches!(&j.verdict, Verdict::Accept(env)
                    if matches!(env.event, otmetka_core::event::Event::CardEnrolled { .. }))
            })
            .map(|j| j.site.as_str())
            .collect();
        for r in rosters
            .iter()
            .filter(|r| enrolled_at.contains(r.site.as_str()))
        {
            let body = roster_body(&mut store, r, now())?;
            tracing::info!(site = %r.site.as_str(), "a card was enrolled: the roster goes out again");
            handle
                .publish(topics::roster(&r.site), body, QoS::AtLeastOnce, true)
                .await?;
        }
        // Committed: now the broker may forget them.
        for a in acks {
            handle.ack(a).await?;
        }
        for k in kiosk_acks {
            let (Some(site), Some(kiosk)) = (Id::new(&k.site), Id::new(&k.kiosk)) else {
                continue;
            };
            let ack = Ack {
                schema: SCHEMA,
                committed_seq: k.committed_seq,
                rejected: k.rejected,
            };
            handle
                .publish(
                    topics::acks(&site, &kiosk),
                    Bytes::from(serde_json::to_vec(&ack)?),
                    QoS::AtLeastOnce,
                    true,
                )
                .await?;
        }
    }
}

/// Sends each waiting request for a card to its kiosk (QoS 1; the kiosk's persistent session
/// keeps it while the kiosk is offline, and the kiosk ignores it once expired).
async fn publish_enrolments(
    handle: &otmetka_link::ClientHandle,
    store: &mut SqliteJournal,
) -> anyhow::Result<()> {
    for e in store.enrolments_to_publish(now())? {
        let (Some(site), Some(kiosk)) = (Id::new(&e.site), Id::new(&e.kiosk)) else {
            continue;
        };
        handle
            .publish(
                topics::enrol(&site, &kiosk),
                Bytes::from(serde_json::to_vec(&e.request)?),
                QoS::AtLeastOnce,
                false,
            )
            .await?;
        store.enrolment_published(e.request.request, now())?;
        tracing::info!(request = %e.request.request, site = %e.site, kiosk = %e.kiosk, "asked the kiosk for a card");
    }
    Ok(())
}
