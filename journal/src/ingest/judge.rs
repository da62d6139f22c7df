//! Judging, pure: a message from a kiosk's events topic becomes an accepted envelope or a
//! rejection with its reason. Nothing a kiosk sends is trusted before it passes here.

use crate::store::Verdict;
use otmetka_core::catalogue::{Catalogue, UnitKind};
use otmetka_core::event::Event;
use otmetka_core::unit::UnitId;
use otmetka_core::wire::{DecodeError, Envelope, RejectReason};

/// The largest payload the journal takes (a units message of a 25-person session is ~12 KiB).
pub const MAX_PAYLOAD: usize = 256 * 1024;

/// Most lookup forms a card has (the whole UID and its truncations; `core::card`): a
/// `CardEnrolled` with more hashes is not a card.
pub const MAX_CARD_HASHES: usize = 8;

/// Whether `h` has the form of a keyed card hash (HMAC-SHA256, hex).
pub fn is_card_hash(h: &str) -> bool {
    h.len() == 64
        && h.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A message as it came off the broker.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub topic: String,
    /// Site and kiosk from the topic (`None` where the topic is not a kiosk's events topic).
    pub from: Option<(String, String)>,
    pub payload: Vec<u8>,
}

/// Validates one message.
pub fn judge(msg: &Incoming, catalogue: &Catalogue) -> Verdict {
    let seq = || Envelope::peek_seq(&msg.payload);
    if msg.payload.len() > MAX_PAYLOAD {
        return Verdict::Reject {
            seq: None,
            reason: RejectReason::TooLarge {
                bytes: msg.payload.len(),
                max: MAX_PAYLOAD,
            },
        };
    }
    let Some((site, kiosk)) = &msg.from else {
        return Verdict::Reject {
            seq: seq(),
            reason: RejectReason::WrongTopic {
                topic: msg.topic.clone(),
            },
        };
    };
    let env = match Envelope::decode(&msg.payload) {
        Ok(env) => env,
        Err(DecodeError::UnsupportedSchema(schema)) => {
            return Verdict::Reject {
                seq: seq(),
                reason: RejectReason::UnsupportedSchema { schema },
            };
        }
        Err(e) => {
            return Verdict::Reject {
                seq: seq(),
                reason: RejectReason::Malformed {
                    detail: truncate(&e.to_string()),
                },
            };
        }
    };
    if &env.site != site || &env.kiosk != kiosk {
        return Verdict::Reject {
            seq: Some(env.seq),
            reason: RejectReason::WrongTopic {
                topic: msg.topic.clone(),
            },
        };
    }
    let invalid = |detail: String| Verdict::Reject {
        seq: Some(env.seq),
        reason: RejectReason::Invalid { detail },
    };
    if env.seq == 0 {
        return invalid("seq starts at 1".into());
    }
    if i64::try_from(env.seq).is_err() {
        // Beyond what a database integer holds: refused without its seq (it could not be
        // recorded as answered), and never a reason to stop ingest.
        return Verdict::Reject {
            seq: None,
            reason: RejectReason::Invalid {
                detail: format!("seq {} is above {}", env.seq, i64::MAX),
            },
        };
    }
    match &env.event {
        Event::SessionOpened { service, .. } if catalogue.get(service).is_none() => {
            return invalid(format!("unknown service {service}"));
        }
        Event::Units { session, units } => {
            for u in units {
                let Some(svc) = catalogue.get(&u.service) else {
                    return invalid(format!("unit {} of unknown service {}", u.id.0, u.service));
                };
                if u.session != *session {
                    return invalid(format!("unit {} belongs to another session", u.id.0));
                }
                // A unit's id is derived from its session (and recipient): a resend can never
                // make a second unit, and a forged id cannot take another unit's place.
                let derived = match (u.kind, u.recipient) {
                    (UnitKind::PerRecipient, Some(r)) => UnitId::per_recipient(u.session, r),
                    (UnitKind::PerGroup, None) => UnitId::per_group(u.session),
                    (kind, _) => {
                        return invalid(format!(
                            "unit {} is {kind:?} but {} a recipient",
                            u.id.0,
                            if u.recipient.is_some() {
                                "names"
                            } else {
                                "has no"
                            }
                        ));
                    }
                };
                // A service of one unit a day (002 l.1513) gives the day's id instead: of the
                // service, the date and the recipient (or the group), the same in every session.
                let a_days_unit = svc.unit_per_day && u.is_per_day();
                if u.id != derived && !a_days_unit {
                    return invalid(format!(
                        "unit {} is not the id its session and recipient give ({})",
                        u.id.0, derived.0
                    ));
                }
                if u.ended_at < u.started_at {
                    return invalid(format!("unit {} ends before it starts", u.id.0));
                }
            }
        }
        Event::CardEnrolled { card_hashes, .. } => {
            if card_hashes.is_empty() || card_hashes.len() > MAX_CARD_HASHES {
                return invalid(format!(
                    "a card comes with 1 to {MAX_CARD_HASHES} hashes, not {}",
                    card_hashes.len()
                ));
            }
            if let Some(bad) = card_hashes.iter().find(|h| !is_card_hash(h)) {
                return invalid(format!(
                    "{:?} is not a card hash (64 lowercase hex digits)",
                    truncate(bad)
                ));
            }
        }
        _ => {}
    }
    Verdict::Accept(Box::new(env))
}

/// The verdict on anything from a revoked kiosk (`revoke-kiosk`): recorded as rejected with
/// the reason, but without its seq, so that the seq is not taken as answered: should the kiosk
/// be provisioned again, what it sends then still lands.
pub fn revoked(site: &str, kiosk: &str) -> Verdict {
    Verdict::Reject {
        seq: None,
        reason: RejectReason::Revoked {
            site: site.to_string(),
            kiosk: kiosk.to_string(),
        },
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(300).collect()
}
