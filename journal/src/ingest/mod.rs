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

pub use crate::store::Verdict;
pub use batch::{Batcher, Published, after_commit};
pub use judge::{Incoming, MAX_PAYLOAD, judge};

use crate::documents::Documents;
use crate::store::{Judged, StatusReport};
use otmetka_core::event::Event;
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

/// Classifies and judges a message from `topic` against what the journal publishes
/// (`documents`: the catalogue, and the rosters whose cards an enrolment must not take).
pub fn receive(topic: &str, payload: &[u8], revoked: &Revoked, documents: &Documents) -> Received {
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
        _ => taken_card(judge(&incoming, &documents.catalogue), documents),
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

/// Refuses a card enrolment whose card is on the roster as another person's (a kiosk that
/// could give a victim's card to someone else would make that card ambiguous).
fn taken_card(verdict: Verdict, documents: &Documents) -> Verdict {
    let Verdict::Accept(env) = &verdict else {
        return verdict;
    };
    let Event::CardEnrolled {
        recipient,
        card_hashes,
        request,
        ..
    } = &env.event
    else {
        return verdict;
    };
    let Some(roster) = documents
        .rosters
        .iter()
        .find(|r| r.site.as_str() == env.site)
    else {
        return verdict;
    };
    let holder = roster
        .roster
        .recipients
        .iter()
        .filter(|r| r.id != *recipient)
        .find(|r| r.cards.iter().any(|c| card_hashes.contains(&c.hash)))
        .map(|r| r.id.to_string())
        .or_else(|| {
            roster
                .roster
                .instructors
                .iter()
                .find(|i| i.card_hashes.iter().any(|h| card_hashes.contains(h)))
                .map(|i| format!("instructor {}", i.instructor.id.0))
        });
    match holder {
        Some(holder) => Verdict::Reject {
            seq: Some(env.seq),
            reason: otmetka_core::wire::RejectReason::Invalid {
                detail: format!("card enrolment {request}: the card is {holder}'s on the roster"),
            },
        },
        None => verdict,
    }
}
