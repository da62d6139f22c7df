//! Ingest, sans I/O: what the journal makes of each message off the broker, and when a batch of
//! them is committed. The feed task (`crate::feed`) does the reading and the writing; nothing
//! here touches a socket, a database or the clock (instants are passed in).
//!
//! # Layout
//! - [`judge`]: one event message → accepted envelope or rejection with its reason.
//! - [`batch`]: the [`Batcher`] that collects judged messages and status reports into one
//!   transaction, and [`after_commit`], which says what to publish once it committed.

pub mod batch;
pub mod judge;

pub use batch::{Batcher, Published, after_commit};
pub use judge::{Incoming, MAX_PAYLOAD, Verdict, judge};

use crate::store::{Judged, StatusReport};
use otmetka_core::catalogue::Catalogue;
use otmetka_link::topics::{self, Topic};
use std::collections::HashSet;

/// One message off the broker, classified: a kiosk's status (recorded as the latest) or an
/// event message, judged.
#[derive(Debug, Clone)]
pub enum Received {
    Status(StatusReport),
    Event(Judged),
}

/// Kiosks whose credentials were revoked: (site, kiosk).
pub type Revoked = HashSet<(String, String)>;

/// Classifies and judges a message from `topic`.
pub fn receive(topic: &str, payload: &[u8], revoked: &Revoked, catalogue: &Catalogue) -> Received {
    let parsed = topics::parse_topic(topic);
    if let Some(Topic::Status { site, kiosk }) = &parsed {
        return Received::Status(StatusReport {
            site: site.as_str().to_string(),
            kiosk: kiosk.as_str().to_string(),
            body: String::from_utf8_lossy(payload).into_owned(),
        });
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
        _ => judge(&incoming, catalogue),
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
