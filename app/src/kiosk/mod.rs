//! The kiosk's logic: reader → rules → store → reply. One `Kiosk` owns the store and the open
//! session; it runs on a worker thread (see [`crate::worker`]) so that neither the screen nor the
//! control socket ever waits on the disk. A reply that says "committed" is sent only after the
//! store's transaction committed.

use crate::clock::{Clock, build_time};
use crate::store::{Store, StoreError};
use chrono::{DateTime, Duration, Utc};
use otmetka_core::card::CardRead;
use otmetka_core::cards::{Lookup, SiteSecret};
use otmetka_core::catalogue::{Catalogue, ServiceCode, UnitKind, UnitRule};
use otmetka_core::clock::{ClockFacts, ClockVerdict};
use otmetka_core::decision::{Decision, DecisionKind};
use otmetka_core::event::{CheckInMethod, CloseKind, CloseReason, Event};
use otmetka_core::people::{CardStatus, GroupId, InstructorId, RecipientId};
use otmetka_core::period::SiteTime;
use otmetka_core::roster::{Holder, RosterIndex};
use otmetka_core::rules::Policy;
use otmetka_core::session::{
    CheckInId, CloseWarning, RuleInputs, Session, SessionError, SessionId, Tapper,
};
use otmetka_core::unit::Unit;
use otmetka_core::wire::{EnrolmentRequest, Roster, RosterCard, Schedule, Usage, UsageEntry};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;

mod command;
mod documents;
mod enrol;
mod facts;
mod reply;
mod session;
mod sign_in;
mod status;
mod tap;

pub use command::{Command, Input, Internal};
use documents::index_usage;
pub use documents::{PreparedRoster, index_roster};
use enrol::ENROLMENT_DOCUMENT;
pub use facts::Facts;
pub use reply::{
    MemberLine, PresentLine, Reply, SessionStatus, StartChoice, StatusReply, TapReply,
};
pub use sign_in::PinAttempts;

/// Why a command was refused.
#[derive(Debug, thiserror::Error)]
pub enum KioskError {
    #[error("no instructor is signed in")]
    NotSignedIn,
    #[error("not a staff card or PIN")]
    BadCredential,
    /// Too many wrong PINs in a row: PINs are refused for a while (a staff card still works).
    #[error("too many wrong PINs: wait {seconds} s, or use the staff card")]
    TooManyPins { seconds: u64 },
    /// A read from the reader that is not a card number (a garbled or partial read).
    #[error("the read is not a card number")]
    UnreadableCard,
    #[error("unknown service {0}")]
    UnknownService(ServiceCode),
    #[error("unknown recipient {0}")]
    UnknownRecipient(RecipientId),
    #[error("a session is already open")]
    SessionOpen,
    #[error("no session is open")]
    NoSession,
    #[error("there is no refused tap to override")]
    NothingToOverride,
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The refused tap an instructor may override.
#[derive(Debug, Clone)]
struct Refusal {
    recipient: RecipientId,
    card: CardStatus,
}

/// The kiosk.
#[derive(Debug)]
pub struct Kiosk {
    store: Store,
    catalogue: Catalogue,
    roster: Arc<RosterIndex>,
    secret: SiteSecret,
    site: SiteTime,
    policy: Policy,
    clock: Box<dyn Clock>,
    session: Option<Session>,
    schedule: Option<Schedule>,
    /// The site's units from the journal, by recipient (see [`Kiosk::history`]).
    usage: documents::HeldUsage,
    instructor: Option<InstructorId>,
    refusal: Option<Refusal>,
    names: (String, String),
    /// The card reader works; if not, why (from the reader thread).
    reader: (bool, String),
    /// Wrong PINs in a row, and until when PINs are refused (a 4-digit PIN falls to 10⁴ tries
    /// on the keypad without this).
    pins: PinAttempts,
    /// The feed's link to the broker, if the kiosk has a feed: connected, and the broker or why
    /// not.
    feed: Option<(bool, String)>,
    /// Card enrolment mode: the journal's request waiting for a card (also on disk, see
    /// [`Kiosk::set_enrolment`]).
    enrolment: Option<EnrolmentRequest>,
    /// The power and the space, as last read on a tick by `health_probe`.
    health: crate::health::Health,
    health_probe: Option<crate::health::Probe>,
}

impl Kiosk {
    /// A kiosk over an opened store; resumes the open session, if any.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: Store,
        catalogue: Catalogue,
        secret: SiteSecret,
        site: SiteTime,
        policy: Policy,
        clock: Box<dyn Clock>,
        site_id: &str,
        kiosk_id: &str,
    ) -> Result<Self, KioskError> {
        let roster = Arc::new(match store.document("roster")? {
            Some((_, body)) => serde_json::from_str::<Roster>(&body)
                .map(|r| RosterIndex::from_roster(&r))
                .unwrap_or_default(),
            None => RosterIndex::default(),
        });
        let session = store.open_sessions()?.into_iter().next();
        // A card enrolment the kiosk was waiting for when it stopped (dropped by `tick` below if
        // it has expired since).
        let enrolment = store
            .document(ENROLMENT_DOCUMENT)?
            .and_then(|(_, body)| serde_json::from_str::<EnrolmentRequest>(&body).ok());
        if let Some(r) = &enrolment {
            tracing::info!(request = %r.request, recipient = %r.recipient, "card enrolment resumed: waiting for a card");
        }
        let schedule = match store.document("schedule")? {
            Some((_, body)) => serde_json::from_str::<Schedule>(&body).ok(),
            None => None,
        };
        let usage = match store.document("usage")? {
            Some((_, body)) => serde_json::from_str::<Usage>(&body)
                .map(|u| index_usage(&u, kiosk_id, store.installation()))
                .unwrap_or_default(),
            None => Default::default(),
        };
        // Wrong PINs before a restart still count: a restart is no way around the lock-out.
        let pins = store.pin_attempts()?;
        let mut k = Kiosk {
            store,
            catalogue,
            roster,
            secret,
            site,
            policy,
            clock,
            session,
            schedule,
            usage,
            instructor: None,
            refusal: None,
            names: (site_id.to_string(), kiosk_id.to_string()),
            reader: (true, String::new()),
            pins: PinAttempts {
                failures: pins.0,
                locked_until: pins.1,
            },
            feed: None,
            enrolment,
            health: crate::health::Health::default(),
            health_probe: None,
        };
        // An open session survives a restart; its instructor's sign-in does not: whoever
        // ends it signs in again (PIN or staff card).
        // A session that passed its time while the kiosk was off closes itself now.
        k.tick()?;
        Ok(k)
    }

    /// Reads the power and the space on every tick from now on (and once now).
    pub fn watch_health(&mut self, mut probe: crate::health::Probe) {
        self.health = probe.read();
        self.health_probe = Some(probe);
    }

    /// Reads the power and the space again: on the worker's timer, not on the way of a tap
    /// (`tick` runs before every command).
    pub fn refresh_health(&mut self) {
        if let Some(probe) = self.health_probe.as_mut() {
            self.health = probe.read();
        }
    }

    /// The power and the space, as last read.
    pub fn health(&self) -> crate::health::Health {
        self.health
    }

    /// The open session.
    pub fn session(&self) -> Option<&Session> {
        self.session.as_ref()
    }

    fn verdict(&self) -> Result<ClockVerdict, KioskError> {
        Ok(ClockVerdict::of(&ClockFacts {
            now: self.clock.now(),
            synced: self.clock.synced(),
            build_time: build_time(),
            last_seen: self.store.last_seen()?,
        }))
    }

    /// Records events durably, then applies them to the session.
    fn record(&mut self, events: &[Event]) -> Result<(), KioskError> {
        let now = self.clock.now();
        let events: Vec<Event> = events
            .iter()
            .cloned()
            .flat_map(|e| e.split_units(otmetka_core::event::UNITS_PER_EVENT))
            .collect();
        self.store.record(&events, now, self.clock.synced())?;
        for e in &events {
            if let Event::SessionOpened { .. } = e {
                self.session = Session::from_opened(e);
            } else if let Some(s) = self.session.as_mut().filter(|s| Some(s.id) == e.session()) {
                s.apply(e)?;
            }
        }
        if self.session.as_ref().is_some_and(|s| !s.is_open()) {
            self.session = None;
        }
        Ok(())
    }

    /// Handles a person's command or the kiosk's own message.
    pub fn handle(&mut self, input: impl Into<Input>) -> Result<Reply, KioskError> {
        match input.into() {
            Input::Command(cmd) => self.command(cmd),
            Input::Internal(msg) => self.internal(msg),
        }
    }

    /// What a person or a script asks.
    fn command(&mut self, cmd: Command) -> Result<Reply, KioskError> {
        // Time-based rules first: a session past its time norm closes itself before what a
        // person does now is judged, so a tap after the deadline belongs to no session, however
        // busy the kiosk has been (the worker's idle tick alone once left it open for minutes).
        self.tick()?;
        match cmd {
            Command::Tap { card } => {
                let read = CardRead::parse(&card).map_err(|_| KioskError::UnreadableCard)?;
                match self.enrolment()? {
                    Some(request) => self.enrol_card(request, &read),
                    None => self.tap(&read),
                }
            }
            Command::SignIn { credential } => self.sign_in(&credential),
            Command::SignOut => {
                self.instructor = None;
                Ok(Reply::SignedOut)
            }
            Command::Start {
                service,
                group,
                unit_kind,
                safety_briefing,
                confirm_date,
                event,
                over_group_cap,
            } => self.start(
                service,
                group,
                unit_kind,
                event,
                session::Confirmed {
                    safety_briefing,
                    date: confirm_date,
                    over_group_cap,
                },
            ),
            Command::Override { reason } => self.override_last(&reason).map(Reply::Tap),
            Command::Manual { recipient, reason } => {
                self.manual(recipient, &reason).map(Reply::Tap)
            }
            Command::Undo { checkin } => self.undo(checkin),
            Command::Note { recipient, note } => self.note(recipient, &note),
            Command::CheckOut {
                recipient,
                satisfaction,
            } => self.check_out(recipient, satisfaction),
            Command::End { head_count, reason } => self.end(head_count, reason),
            Command::Status => self.status().map(|s| Reply::Status(Box::new(s))),
        }
    }

    /// The kiosk's own plumbing.
    fn internal(&mut self, msg: Internal) -> Result<Reply, KioskError> {
        match msg {
            Internal::Enrol { request } => {
                if request.expires_at <= self.clock.now() {
                    tracing::warn!(request = %request.request, "an enrolment request that has expired: ignored");
                    return Ok(Reply::Ok);
                }
                tracing::info!(request = %request.request, recipient = %request.recipient, "card enrolment: waiting for a card");
                let name = request.display_name.clone();
                self.set_enrolment(Some(*request))?;
                Ok(Reply::EnrolWaiting { name })
            }
            Internal::EnrolCancel => {
                if let Some(r) = self.set_enrolment(None)? {
                    tracing::info!(request = %r.request, "card enrolment cancelled at the kiosk");
                }
                Ok(Reply::Ok)
            }
            Internal::Health => Ok(Reply::Health {
                reader_ok: self.reader.0,
                clock_synced: self.verdict()? == ClockVerdict::Trusted,
                pin_failures: self.pins.failures,
            }),
            Internal::Tick => self.tick().map(|_| Reply::Ok),
            Internal::UseRoster { roster } => {
                if roster.0.version > self.roster.version {
                    self.use_roster(roster.0);
                }
                Ok(Reply::Ok)
            }
            Internal::PutSchedule { schedule } => self.put_schedule(&schedule).map(|_| Reply::Ok),
            Internal::PutUsage { usage } => self.put_usage(&usage).map(|_| Reply::Ok),
            Internal::FeedLink { connected, detail } => {
                self.feed = Some((connected, detail));
                Ok(Reply::Ok)
            }
            Internal::ReaderHealth { ok, detail } => {
                self.reader = (ok, detail);
                Ok(Reply::Ok)
            }
        }
    }

    /// Housekeeping while no one is tapping: a passive WAL checkpoint.
    pub fn idle(&mut self) {
        if let Err(e) = self.store.checkpoint() {
            tracing::warn!("WAL checkpoint failed: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Command::name` (for logs) spells each command as the control socket does.
    #[test]
    fn a_commands_name_is_its_control_socket_tag() {
        let recipient = RecipientId(Uuid::nil());
        let cmds = [
            Command::Tap { card: "1".into() },
            Command::SignIn {
                credential: "1".into(),
            },
            Command::SignOut,
            Command::Start {
                service: ServiceCode("000".into()),
                group: None,
                unit_kind: None,
                safety_briefing: false,
                confirm_date: false,
                event: false,
                over_group_cap: false,
            },
            Command::Override { reason: "r".into() },
            Command::Manual {
                recipient,
                reason: "r".into(),
            },
            Command::Note {
                recipient,
                note: "left_early".into(),
            },
            Command::CheckOut {
                recipient,
                satisfaction: None,
            },
            Command::Undo { checkin: None },
            Command::End {
                head_count: None,
                reason: None,
            },
            Command::Status,
        ];
        for cmd in cmds {
            let json = serde_json::to_value(&cmd).expect("a command serializes");
            assert_eq!(json["cmd"], cmd.name(), "{json}");
        }
    }

    /// No internal message has a wire form the socket could parse as a command.
    #[test]
    fn no_internal_message_reads_as_a_command() {
        for name in Internal::NAMES {
            let line = serde_json::json!({ "cmd": name });
            assert!(serde_json::from_value::<Command>(line).is_err(), "{name}");
        }
        let tick = Input::from(Internal::Tick);
        assert_eq!(tick.name(), "tick");
    }
}
