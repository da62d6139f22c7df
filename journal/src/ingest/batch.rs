//! The batcher: messages are committed many to a transaction (one fsync for hundreds of
//! messages), and PUBACKed only after their transaction committed. [`Batcher`] decides when a
//! batch is due; [`after_commit`] says what the feed publishes once it is.

use super::Received;
use crate::store::{Batch, KioskAck};
use bytes::Bytes;
use otmetka_core::event::Event;
use otmetka_core::wire::{Ack, SCHEMA};
use otmetka_link::topics::{self, Id};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// When a batch is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most messages in one transaction.
    pub messages: usize,
    /// Most payload bytes held before a commit (a flood of large messages commits early
    /// rather than piling up in memory).
    pub bytes: usize,
    /// A batch is committed once no message came for this long…
    pub idle: Duration,
    /// …or once its first message has waited this long (a steady trickle still commits)…
    pub age: Duration,
    /// …or once it holds this many unacknowledged messages: the broker's window of messages in
    /// flight to the journal (Mosquitto's `max_inflight_messages`: 200 in the shipped config,
    /// 20 by Mosquitto's default), past which nothing more comes until the journal PUBACKs —
    /// waiting out `idle` then is only lost time.
    pub window: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            messages: 500,
            bytes: 8 << 20,
            idle: Duration::from_millis(2),
            age: Duration::from_millis(100),
            window: 200,
        }
    }
}

/// A batch taken for commit, with the broker acknowledgements that wait for it.
#[derive(Debug)]
pub struct Pending<T> {
    pub batch: Batch,
    pub tokens: Vec<T>,
}

/// Collects received messages into a batch. `T` is the broker's acknowledgement handle.
///
/// A deferred message is only a count that rides with the next commit: its PUBACK goes at
/// once (see [`Batcher::push`]), so a flood past a kiosk's allowance costs the journal no
/// commit per broker window and drains from the broker as fast as it comes. A count lost in a
/// crash before that commit is only a count (the kiosk publishes the messages again).
#[derive(Debug)]
pub struct Batcher<T> {
    limits: Limits,
    batch: Batch,
    tokens: Vec<T>,
    bytes: usize,
    /// Messages pushed that wait for the commit (not the deferred).
    count: usize,
    first: Option<Instant>,
    last: Option<Instant>,
}

impl<T> Batcher<T> {
    pub fn new(limits: Limits) -> Batcher<T> {
        Batcher {
            limits,
            batch: Batch::default(),
            tokens: Vec::new(),
            bytes: 0,
            count: 0,
            first: None,
            last: None,
        }
    }

    /// Adds a message received at `now`; `token` is PUBACKed after the commit, except a
    /// deferred message's, which is handed back to be PUBACKed now. Mosquitto frees an
    /// in-flight slot by packet id, so a PUBACK ahead of earlier ones it holds is taken.
    #[must_use = "a returned token is PUBACKed now"]
    pub fn push(&mut self, received: Received, token: Option<T>, now: Instant) -> Option<T> {
        self.first.get_or_insert(now);
        self.last = Some(now);
        match received {
            Received::Status(s) => {
                self.bytes += s.body.len();
                // Only the latest status of a kiosk matters.
                self.batch
                    .statuses
                    .retain(|o| (o.site.as_str(), o.kiosk.as_str()) != (&s.site, &s.kiosk));
                self.batch.statuses.push(s);
            }
            Received::Event(j) => {
                self.bytes += j.payload.len();
                self.batch.messages.push(j);
            }
            Received::Deferred(d) => {
                match self.batch.deferred.iter_mut().find(|o| {
                    (o.site.as_str(), o.kiosk.as_str(), o.kind) == (&d.site, &d.kiosk, d.kind)
                }) {
                    Some(o) => o.count += d.count,
                    None => self.batch.deferred.push(d),
                }
                return token;
            }
        }
        self.count += 1;
        self.tokens.extend(token);
        None
    }

    /// Whether the batch should be committed now.
    pub fn is_due(&self, now: Instant) -> bool {
        let Some(deadline) = self.next_deadline() else {
            return false;
        };
        self.count >= self.limits.messages
            || self.tokens.len() >= self.limits.window
            || self.bytes >= self.limits.bytes
            || now >= deadline
    }

    /// When the batch will be due if nothing else arrives (`None` when empty).
    pub fn next_deadline(&self) -> Option<Instant> {
        let (first, last) = (self.first?, self.last?);
        Some((last + self.limits.idle).min(first + self.limits.age))
    }

    /// Takes the batch (`None` when empty).
    pub fn take(&mut self) -> Option<Pending<T>> {
        if self.batch.is_empty() && self.tokens.is_empty() {
            return None;
        }
        self.bytes = 0;
        self.count = 0;
        self.first = None;
        self.last = None;
        Some(Pending {
            batch: std::mem::take(&mut self.batch),
            tokens: std::mem::take(&mut self.tokens),
        })
    }
}

/// A message the feed publishes (QoS 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub topic: String,
    pub body: Bytes,
    pub retain: bool,
}

/// What to do once a batch committed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AfterCommit {
    /// Sites at whose kiosks a card was enrolled: their roster goes out again.
    pub rosters: BTreeSet<String>,
    /// Each kiosk's ack (retained, so a kiosk that reconnects learns it at once).
    pub acks: Vec<Published>,
}

/// What a committed batch asks the feed to publish.
pub fn after_commit(batch: &Batch, acks: &[KioskAck]) -> Result<AfterCommit, serde_json::Error> {
    let rosters = batch
        .messages
        .iter()
        .filter(|j| {
            matches!(&j.verdict, super::Verdict::Accept(env)
                if matches!(env.event, Event::CardEnrolled { .. }))
        })
        .map(|j| j.site.clone())
        .collect();
    let mut out = Vec::new();
    for k in acks {
        let (Some(site), Some(kiosk)) = (Id::new(&k.site), Id::new(&k.kiosk)) else {
            continue;
        };
        let ack = Ack {
            schema: SCHEMA,
            installation: k.installation,
            committed_seq: k.committed_seq,
            rejected: k.rejected.clone(),
        };
        out.push(Published {
            topic: topics::acks(&site, &kiosk),
            body: Bytes::from(serde_json::to_vec(&ack)?),
            retain: true,
        });
    }
    Ok(AfterCommit { rosters, acks: out })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StatusReport;

    fn status(kiosk: &str, body: &str) -> Received {
        Received::Status(StatusReport {
            site: "demo".into(),
            kiosk: kiosk.into(),
            body: body.into(),
        })
    }

    #[test]
    fn a_batch_is_due_when_the_feed_goes_quiet_when_it_is_old_or_when_it_is_full() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut b: Batcher<u32> = Batcher::new(Limits {
            messages: 3,
            bytes: 1000,
            idle: ms(2),
            age: ms(10),
            window: 100,
        });
        assert!(!b.is_due(t0) && b.next_deadline().is_none() && b.take().is_none());
        assert_eq!(b.push(status("k1", "a"), Some(1), t0), None);
        assert_eq!(b.next_deadline(), Some(t0 + ms(2)));
        assert!(!b.is_due(t0 + ms(1)));
        assert!(b.is_due(t0 + ms(2)), "quiet for 2 ms");
        // A trickle every millisecond keeps it open until it is 10 ms old.
        for i in 1..12 {
            assert_eq!(
                b.push(status("k1", "a"), Some(i), t0 + ms(u64::from(i))),
                None
            );
        }
        assert_eq!(b.next_deadline(), Some(t0 + ms(10)));
        let p = b.take().unwrap();
        assert_eq!(
            p.batch.statuses.len(),
            1,
            "the latest status of a kiosk only"
        );
        assert_eq!(p.tokens.len(), 12, "every PUBACK waits for the commit");
        for k in ["k1", "k2", "k3"] {
            let _ = b.push(status(k, "a"), None, t0);
        }
        assert!(b.is_due(t0), "full");
        b.take();
        let _ = b.push(status("k1", &"x".repeat(1000)), None, t0);
        assert!(b.is_due(t0), "full in bytes");
    }

    #[test]
    fn a_batch_is_due_when_it_holds_the_brokers_window_and_deferred_messages_are_counts_acked_now()
    {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut b: Batcher<u32> = Batcher::new(Limits {
            window: 3,
            ..Limits::default()
        });
        let deferred = |kiosk: &str| {
            Received::Deferred(crate::ingest::Deferred {
                site: "demo".into(),
                kiosk: kiosk.into(),
                kind: "deferred_rate",
                count: 1,
            })
        };
        // A flood past the allowance: each PUBACK at once, none fills the window, and the
        // counts commit on the batch's age.
        for (i, k) in ["k1", "k1", "k2", "k1"].into_iter().enumerate() {
            assert_eq!(b.push(deferred(k), Some(i as u32), t0), Some(i as u32));
        }
        assert!(!b.is_due(t0), "deferred messages hold no window");
        assert!(
            b.is_due(t0 + ms(100)),
            "their counts commit on the batch's age"
        );
        let _ = b.push(status("k3", "a"), Some(10), t0);
        let _ = b.push(status("k4", "a"), Some(11), t0);
        assert!(!b.is_due(t0), "two of a window of three");
        let _ = b.push(status("k5", "a"), Some(12), t0);
        assert!(
            b.is_due(t0),
            "the broker sends no more until these are PUBACKed"
        );
        let p = b.take().unwrap();
        assert_eq!(p.tokens, [10, 11, 12], "only what the commit holds waits");
        assert!(p.batch.messages.is_empty() && !p.batch.is_empty());
        let counts: Vec<_> = p
            .batch
            .deferred
            .iter()
            .map(|d| (d.kiosk.as_str(), d.count))
            .collect();
        assert_eq!(counts, [("k1", 3), ("k2", 1)]);
        assert!(b.take().is_none());
    }
}
