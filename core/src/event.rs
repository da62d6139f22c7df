//! Domain events: what happened on a kiosk, as facts. A session's state is the fold of its
//! events ([`crate::session::Session::apply`]); the kiosk stores each event durably with its
//! outbox row and the feed carries them to the journal in an envelope ([`crate::wire`]).

use crate::catalogue::{ServiceCode, UnitKind};
use crate::decision::Rule;
use crate::people::{GroupId, InstructorId, RecipientId};
use crate::session::{CheckInId, SessionId};
use crate::unit::Unit;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// How a recipient was checked in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "method")]
pub enum CheckInMethod {
    /// By tapping a card.
    Card,
    /// By the instructor, by name (forgot the card...), with a reason.
    Manual { reason: String },
}

/// How a session was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseKind {
    /// The instructor ended it.
    Instructor,
    /// It passed its time norm plus grace and closed itself (or was found so after a restart).
    Auto,
}

/// Why an instructor closes a session the close warned about (the kiosk offers these; the
/// journal shows them beside the session's marks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseReason {
    /// Some came without a card and were not checked in by hand.
    NoCard,
    /// Some left before the end (or were counted and went).
    LeftEarly,
    /// Fewer came than the group's minimum; the session was held.
    SmallGroup,
    /// The instructor's decision, to be explained to the head.
    InstructorDecision,
}

impl CloseReason {
    pub const ALL: [CloseReason; 4] = [
        CloseReason::NoCard,
        CloseReason::LeftEarly,
        CloseReason::SmallGroup,
        CloseReason::InstructorDecision,
    ];

    /// The stable code (as serialised; the kiosk's text key `close.<code>`).
    pub fn code(self) -> &'static str {
        match self {
            CloseReason::NoCard => "no_card",
            CloseReason::LeftEarly => "left_early",
            CloseReason::SmallGroup => "small_group",
            CloseReason::InstructorDecision => "instructor_decision",
        }
    }

    pub fn from_code(code: &str) -> Option<CloseReason> {
        CloseReason::ALL.into_iter().find(|r| r.code() == code)
    }
}

/// The satisfaction question at check-out (the standards measure quality by satisfaction).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Satisfaction {
    Good,
    Neutral,
    Bad,
}

/// A participant's assessment at the end (000 step 4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Assessment {
    Active,
    Passive,
    NeedsHelp,
}

/// A fact recorded by a kiosk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Event {
    SessionOpened {
        session: SessionId,
        service: ServiceCode,
        unit_kind: UnitKind,
        #[serde(default)]
        group: Option<GroupId>,
        instructor: InstructorId,
        at: DateTime<Utc>,
        /// The instructor confirmed that the safety briefing was given (000 step 3.3).
        #[serde(default)]
        safety_briefing: bool,
        /// The instructor confirmed the date because the clock was not trusted.
        #[serde(default)]
        date_confirmed: bool,
        /// Opened as the service's event form (a mass event, an excursion): its norm applies.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        event: bool,
        /// The instructor confirmed opening it although its group had reached a cap on the
        /// group's sessions (002 l.1251); absent from kiosks before the warning.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        over_group_cap: bool,
    },
    CheckedIn {
        session: SessionId,
        checkin: CheckInId,
        recipient: RecipientId,
        at: DateTime<Utc>,
        #[serde(flatten)]
        method: CheckInMethod,
        /// Rules the instructor overrode for this check-in.
        #[serde(default)]
        overridden: Vec<Rule>,
        #[serde(default)]
        override_reason: Option<String>,
        /// The recipient's own, longer time norm where the seed gives them one (002 l.1511:
        /// care groups 3–5 and minors up to 150 min): their unit is judged by it, and the
        /// session closes itself after it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        norm_minutes: Option<u32>,
    },
    CheckInUndone {
        session: SessionId,
        checkin: CheckInId,
        at: DateTime<Utc>,
    },
    CheckedOut {
        session: SessionId,
        checkin: CheckInId,
        at: DateTime<Utc>,
    },
    SatisfactionAnswered {
        session: SessionId,
        checkin: CheckInId,
        answer: Satisfaction,
        at: DateTime<Utc>,
    },
    /// A tap of a card the kiosk does not know (kept for reconciliation in the journal).
    UnidentifiedTap {
        session: Option<SessionId>,
        tap: Uuid,
        /// The keyed hash of the card's lookup form (never the raw UID).
        card_hash: String,
        at: DateTime<Utc>,
    },
    ParticipantNote {
        session: SessionId,
        recipient: RecipientId,
        #[serde(default)]
        note: String,
        #[serde(default)]
        assessment: Option<Assessment>,
        at: DateTime<Utc>,
    },
    SessionClosed {
        session: SessionId,
        at: DateTime<Utc>,
        how: CloseKind,
        /// The head count the instructor confirmed (None for an automatic close).
        #[serde(default)]
        head_count: Option<u32>,
        /// Why the instructor closed a session that the close warned about (a group below its
        /// minimum, a head count other than the check-ins): see `Session::close_warnings`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<CloseReason>,
    },
    SessionCancelled {
        session: SessionId,
        at: DateTime<Utc>,
        reason: String,
    },
    /// The units of service of a closed session.
    Units {
        session: SessionId,
        units: Vec<Unit>,
    },
    /// A card enrolled for a recipient at the journal's request.
    CardEnrolled {
        request: Uuid,
        recipient: RecipientId,
        /// The keyed hashes of every lookup form of the new card (as a roster lists them).
        card_hashes: Vec<String>,
        at: DateTime<Utc>,
    },
}

/// Most units in one `Units` event: keeps a message well under the journal's size limit
/// (a unit is ~0.5 KiB of JSON).
pub const UNITS_PER_EVENT: usize = 50;

impl Event {
    /// Splits a `Units` event into events of at most `max` units each (other events pass).
    pub fn split_units(self, max: usize) -> Vec<Event> {
        match self {
            Event::Units { session, units } if units.len() > max.max(1) => units
                .chunks(max.max(1))
                .map(|c| Event::Units {
                    session,
                    units: c.to_vec(),
                })
                .collect(),
            other => vec![other],
        }
    }

    /// The session an event belongs to, if any.
    pub fn session(&self) -> Option<SessionId> {
        match self {
            Event::SessionOpened { session, .. }
            | Event::CheckedIn { session, .. }
            | Event::CheckInUndone { session, .. }
            | Event::CheckedOut { session, .. }
            | Event::SatisfactionAnswered { session, .. }
            | Event::ParticipantNote { session, .. }
            | Event::SessionClosed { session, .. }
            | Event::SessionCancelled { session, .. }
            | Event::Units { session, .. } => Some(*session),
            Event::UnidentifiedTap { session, .. } => *session,
            Event::CardEnrolled { .. } => None,
        }
    }

    /// When it happened.
    pub fn at(&self) -> Option<DateTime<Utc>> {
        match self {
            Event::SessionOpened { at, .. }
            | Event::CheckedIn { at, .. }
            | Event::CheckInUndone { at, .. }
            | Event::CheckedOut { at, .. }
            | Event::SatisfactionAnswered { at, .. }
            | Event::UnidentifiedTap { at, .. }
            | Event::ParticipantNote { at, .. }
            | Event::SessionClosed { at, .. }
            | Event::SessionCancelled { at, .. }
            | Event::CardEnrolled { at, .. } => Some(*at),
            Event::Units { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::{ServiceCode, UnitKind};
    use crate::people::InstructorId;
    use crate::unit::UnitId;

    #[test]
    fn a_large_units_event_is_split_and_nothing_is_lost() {
        let session = SessionId(Uuid::from_u128(1));
        let unit = |n: u128| Unit {
            id: UnitId(Uuid::from_u128(n)),
            session,
            service: ServiceCode::from("001"),
            kind: UnitKind::PerRecipient,
            recipient: Some(RecipientId(Uuid::from_u128(n))),
            participants: Vec::new(),
            group: None,
            instructor: InstructorId(Uuid::from_u128(9)),
            date: "2026-11-23".parse().unwrap(),
            started_at: "2026-11-23T06:00:00Z".parse().unwrap(),
            ended_at: "2026-11-23T07:00:00Z".parse().unwrap(),
            overridden: Vec::new(),
            manual: false,
            below_group_min: false,
            over_norm_minutes: None,
            clock_synced: true,
        };
        let ev = Event::Units {
            session,
            units: (0..120).map(unit).collect(),
        };
        let parts = ev.split_units(UNITS_PER_EVENT);
        assert_eq!(parts.len(), 3);
        let n: usize = parts
            .iter()
            .map(|e| match e {
                Event::Units { units, .. } => units.len(),
                _ => 0,
            })
            .sum();
        assert_eq!(n, 120);
    }
}
