//! Ingest, sans I/O: what the journal makes of each message off the broker, and when a batch of
//! them is committed. The feed task (`crate::feed`) does the reading and the writing; nothing
//! here touches a socket, a database or the clock (instants are passed in).
//!
//! # Layout
//! - [`admission`]: each kiosk's allowance; what is past it is deferred unread.
//! - [`judge`]: one event message → accepted envelope or rejection with its reason.
//! - [`batch`]: the [`Batcher`] that collects judged messages and status reports into one
//!   transaction, and [`after_commit`], which says what to publish once it committed.

pub mod admission;
pub mod batch;
pub mod judge;
pub mod quiet;

pub use crate::store::Verdict;
pub use admission::{Admission, AdmissionLimits, Admit};
pub use batch::{Batcher, Published, after_commit};
pub use judge::{Incoming, MAX_PAYLOAD, judge};

use crate::documents::Documents;
use crate::store::{Judged, StatusReport};
use otmetka_core::wire::{Envelope, RejectReason};
use otmetka_link::QoS;
use otmetka_link::topics::{self, Topic};
use std::collections::HashSet;
use std::time::Instant;

/// One message off the broker, classified: a kiosk's status (recorded as the latest), an
/// event message, judged, or a message past its kiosk's allowance, deferred unread (only
/// counted: the kiosk publishes it again).
#[derive(Debug, Clone)]
pub enum Received {
    Status(StatusReport),
    Event(Judged),
    Deferred(Deferred),
}

/// Messages of one kiosk deferred by [`Admission`], by why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deferred {
    pub site: String,
    pub kiosk: String,
    /// [`Admit::kind`].
    pub kind: &'static str,
    pub count: u64,
}

/// The largest status message taken (a kiosk's is about 300 bytes): the journal keeps the last
/// one of every kiosk, and a credential must not make it keep megabytes.
pub const MAX_STATUS: usize = 16 * 1024;

/// Why a status message is not recorded, if it is not: too large, not a status, or another
/// kiosk's.
fn status_refusal(payload: &[u8], kiosk: &str) -> Option<RejectReason> {
    if payload.len() > MAX_STATUS {
        return Some(RejectReason::TooLarge {
            bytes: payload.len(),
            max: MAX_STATUS,
        });
    }
    match serde_json::from_slice::<otmetka_core::wire::Status>(payload) {
        Ok(s) if s.kiosk == kiosk => None,
        Ok(s) => Some(RejectReason::WrongTopic {
            topic: format!("a status of kiosk {:?} on kiosk {kiosk:?}'s topic", s.kiosk),
        }),
        Err(e) => Some(RejectReason::Malformed {
            detail: format!("not a status: {e}").chars().take(300).collect(),
        }),
    }
}

/// Kiosks whose credentials were revoked: (site, kiosk).
pub type Revoked = HashSet<(String, String)>;

/// What a message is checked against before it is read: the revoked kiosks and every kiosk's
/// allowance.
#[derive(Debug)]
pub struct Gate {
    pub revoked: Revoked,
    pub admission: Admission,
}

impl Gate {
    pub fn new(limits: AdmissionLimits) -> Gate {
        Gate {
            revoked: Revoked::new(),
            admission: Admission::new(limits),
        }
    }
}

/// Classifies and judges a message from `topic`, delivered with `qos` at `now`, against what
/// the journal publishes (`documents`: the catalogue, and the rosters whose cards an enrolment
/// must not take). A message from a kiosk past its allowance is deferred before its payload is
/// looked at. An event must come with QoS 1: a QoS 0 message has no ack to hold back until it
/// is committed, so the journal could lose it without a word; it is refused.
pub fn receive(
    topic: &str,
    payload: &[u8],
    qos: QoS,
    gate: &mut Gate,
    documents: &Documents,
    now: Instant,
) -> Received {
    let parsed = topics::parse_topic(topic);
    if let Some(Topic::Status { site, kiosk } | Topic::Events { site, kiosk }) = &parsed {
        let admit = gate.admission.admit(site.as_str(), kiosk.as_str(), now);
        if let Some(kind) = admit.kind() {
            return Received::Deferred(Deferred {
                site: site.as_str().to_string(),
                kiosk: kiosk.as_str().to_string(),
                kind,
                count: 1,
            });
        }
    }
    let revoked = &gate.revoked;
    if let Some(Topic::Status { site, kiosk }) = &parsed {
        let (site, kiosk) = (site.as_str().to_string(), kiosk.as_str().to_string());
        return match status_refusal(payload, &kiosk) {
            None => Received::Status(StatusReport {
                site,
                kiosk,
                body: String::from_utf8_lossy(payload).into_owned(),
            }),
            Some(reason) => Received::Event(Judged {
                site,
                kiosk,
                topic: topic.to_string(),
                payload: payload[..payload.len().min(MAX_STATUS)].to_vec(),
                verdict: Verdict::Reject { seq: None, reason },
            }),
        };
    }
    let from = match &parsed {
        Some(Topic::Events { site, kiosk }) => {
            Some((site.as_str().to_string(), kiosk.as_str().to_string()))
        }
        _ => None,
    };
    let incoming = Incoming {
        topic: topic.to_string(),
        from,
        payload: payload.to_vec(),
    };
    let verdict = match &incoming.from {
        Some((site, kiosk)) if revoked.contains(&(site.clone(), kiosk.clone())) => {
            judge::revoked(site, kiosk)
        }
        Some(_) if qos == QoS::AtMostOnce => Verdict::Reject {
            seq: Envelope::peek_seq(payload),
            reason: RejectReason::Invalid {
                detail: "an event must be published with QoS 1 (at least once), not QoS 0".into(),
            },
        },
        _ => judge(&incoming, &documents.catalogue),
    };
    let (site, kiosk) = incoming.from.unwrap_or_default();
    Received::Event(Judged {
        site,
        kiosk,
        topic: incoming.topic,
        payload: incoming.payload,
        verdict,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn documents() -> Documents {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../config/services.toml"
        ))
        .unwrap();
        Documents {
            catalogue: otmetka_core::catalogue::Catalogue::from_toml("s", &text).unwrap(),
            sites: Vec::new(),
        }
    }

    fn gate() -> Gate {
        Gate::new(AdmissionLimits::default())
    }

    #[test]
    fn a_status_is_recorded_only_when_it_is_a_small_status_of_its_own_kiosk() {
        let topic = "otmetka/v1/demo/kiosk/k1/status";
        let docs = documents();
        let good = br#"{"schema":2,"kiosk":"k1","presence":"online","outbox_depth":3}"#;
        assert!(matches!(
            receive(
                topic,
                good,
                QoS::AtLeastOnce,
                &mut gate(),
                &docs,
                Instant::now()
            ),
            Received::Status(_)
        ));
        let refused = |payload: &[u8]| match receive(
            topic,
            payload,
            QoS::AtLeastOnce,
            &mut gate(),
            &docs,
            Instant::now(),
        ) {
            Received::Event(Judged {
                verdict: Verdict::Reject { reason, .. },
                payload,
                ..
            }) => {
                assert!(payload.len() <= MAX_STATUS);
                serde_json::to_value(reason).unwrap()["reason"]
                    .as_str()
                    .unwrap()
                    .to_string()
            }
            other => panic!("{other:?}"),
        };
        let mut big = good.to_vec();
        big.resize(4 << 20, b' ');
        assert_eq!(refused(&big), "too_large");
        assert_eq!(refused(b"{\"hello\":1}"), "malformed");
        assert_eq!(
            refused(br#"{"schema":2,"kiosk":"k2","presence":"online"}"#),
            "wrong_topic"
        );
    }

    #[test]
    fn an_event_sent_with_qos_0_is_refused() {
        let docs = documents();
        let topic = "otmetka/v1/demo/kiosk/k1/events";
        let payload = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/schema2_units.json"
        ))
        .unwrap();
        let verdict = |qos| match receive(topic, &payload, qos, &mut gate(), &docs, Instant::now())
        {
            Received::Event(j) => j.verdict,
            other => panic!("{other:?}"),
        };
        assert!(matches!(
            verdict(QoS::AtMostOnce),
            Verdict::Reject { reason: RejectReason::Invalid { detail }, .. } if detail.contains("QoS 1")
        ));
        assert!(!matches!(
            verdict(QoS::AtLeastOnce),
            Verdict::Reject { reason: RejectReason::Invalid { detail }, .. } if detail.contains("QoS")
        ));
    }
}
