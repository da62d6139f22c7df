//! The session state machine: planned → open → closed (or cancelled).
//!
//! Commands (`tap`, `check_in_overriding`, `undo`, `close`, …) look at the state and return the
//! [`Event`]s they would record, without changing anything; the kiosk stores those events durably
//! and then [`Session::apply`]s them. So the state after a restart is the fold of the stored events,
//! and a command whose events were not stored left no trace.

use crate::catalogue::{FrequencyLimit, Service, ServiceCode, UnitKind, UnitRule, minutes_over};
use crate::clock::ClockVerdict;
use crate::decision::{Decision, Rule};
use crate::event::{Assessment, CheckInMethod, CloseKind, CloseReason, Event, Satisfaction};
use crate::people::{CardStatus, GroupId, InstructorId, Recipient, RecipientId};
use crate::period::SiteTime;
use crate::rules::{Attendance, Joining, Policy};
use crate::unit::{Unit, UnitId};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A session's id (UUID v7, made by the kiosk).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionId(pub Uuid);

/// A check-in's id (UUID v7, made by the kiosk).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CheckInId(pub Uuid);

impl std::fmt::Display for SessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::fmt::Display for CheckInId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A command that does not fit the session's state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    #[error("the session is not open")]
    NotOpen,
    #[error("the session is not planned (it was opened, closed or cancelled already)")]
    NotPlanned,
    #[error("the clock is not trusted: the instructor must confirm the date")]
    ClockNotTrusted,
    #[error(
        "service {0} begins with the safety briefing: the instructor must confirm it was given"
    )]
    SafetyBriefingMissing(ServiceCode),
    #[error("service {0} lets the session choose per-recipient or per-group units: choose one")]
    UnitKindNotChosen(ServiceCode),
    #[error("service {service} counts units {fixed:?}, not {asked:?}")]
    UnitKindFixed {
        service: ServiceCode,
        fixed: UnitKind,
        asked: UnitKind,
    },
    #[error("no such check-in in this session: {0}")]
    NoSuchCheckIn(CheckInId),
    #[error("the check-in {0} was undone")]
    Undone(CheckInId),
    #[error("the recipient is already checked in")]
    AlreadyCheckedIn,
    #[error("the rule {0:?} is a hard stop at this site and cannot be overridden")]
    HardRule(Rule),
    #[error("an override needs a reason")]
    ReasonMissing,
    #[error("nothing to override: the recipient may join")]
    NothingToOverride,
    #[error("the event belongs to another session")]
    WrongSession,
    #[error("the service {0} has no event form (a mass event, an excursion)")]
    NoEventForm(ServiceCode),
    #[error("the close needs a reason: {0:?}")]
    CloseNeedsReason(Vec<CloseWarning>),
    /// The group already had as many sessions of the service as its cap allows in the cap's
    /// period (002 l.1251 «не более 1 раза в месяц для группы получателей услуг»): the session
    /// opens only when the instructor confirms going over it.
    /// `overridable` is false where the site makes frequency limits a hard stop: the
    /// instructor cannot go over it either.
    #[error("the group already had {used} of {max} sessions of the service in the period", max = limit.max)]
    GroupCapReached {
        limit: FrequencyLimit,
        used: u32,
        overridable: bool,
    },
}

/// What the end of a session warns the instructor about: each needs a reason to close.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "warning")]
pub enum CloseWarning {
    /// Fewer present than the service's group minimum (not an individual session).
    BelowGroupMin { present: u32, min: u32 },
    /// The head count the instructor confirms is not the number checked in.
    HeadCount { head_count: u32, present: u32 },
}

/// Where a session is in its life.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum SessionState {
    Planned,
    Open,
    Closed {
        at: DateTime<Utc>,
        how: CloseKind,
        head_count: Option<u32>,
    },
    Cancelled {
        at: DateTime<Utc>,
        reason: String,
    },
}

/// One recipient's check-in to a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckIn {
    pub id: CheckInId,
    pub recipient: RecipientId,
    pub at: DateTime<Utc>,
    pub method: CheckInMethod,
    pub overridden: Vec<Rule>,
    pub override_reason: Option<String>,
    pub undone_at: Option<DateTime<Utc>>,
    pub checked_out_at: Option<DateTime<Utc>>,
    pub satisfaction: Option<Satisfaction>,
    /// The recipient's own, longer time norm (`Service::time_norm_longer`), where they have one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub norm_minutes: Option<u32>,
}

impl CheckIn {
    /// Not undone.
    pub fn active(&self) -> bool {
        self.undone_at.is_none()
    }
}

/// A note or assessment per participant (000 step 4.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParticipantNote {
    pub recipient: RecipientId,
    pub note: String,
    pub assessment: Option<Assessment>,
}

/// Who tapped: a card the roster knows, or one it does not.
#[derive(Debug, Clone, Copy)]
pub enum Tapper<'a> {
    /// A card on the roster, with its status.
    Known {
        recipient: &'a Recipient,
        card: CardStatus,
    },
    /// A card not on the roster: its keyed hash, kept as an unidentified tap.
    Unknown { card_hash: &'a str },
}

/// What the rules need besides the session: the service, the recipient's history, the site.
#[derive(Debug, Clone, Copy)]
pub struct RuleInputs<'a> {
    pub service: &'a Service,
    pub history: &'a [Attendance],
    pub site: &'a SiteTime,
    pub policy: &'a Policy,
    pub clock: ClockVerdict,
}

/// A decision and the event to record for it (none for a refusal that changes nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapOutcome {
    pub decision: Decision,
    pub event: Option<Event>,
}

/// A session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub id: SessionId,
    pub service: ServiceCode,
    pub unit_kind: UnitKind,
    pub group: Option<GroupId>,
    pub instructor: InstructorId,
    pub state: SessionState,
    pub opened_at: Option<DateTime<Utc>>,
    pub safety_briefing: bool,
    /// The service begins with the safety briefing ([`Service::needs_safety_briefing`]): the
    /// session opens only once the instructor confirms it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub safety_briefing_required: bool,
    pub date_confirmed: bool,
    /// Opened as the service's event form ([`Service::event`]): the event's norm applies.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub event: bool,
    /// The instructor opened it knowing its group had reached a cap on the group's sessions
    /// ([`Session::within_group_caps`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub over_group_cap: bool,
    pub checkins: Vec<CheckIn>,
    pub notes: Vec<ParticipantNote>,
    pub unidentified_taps: u32,
}

impl Session {
    /// A planned session of a service. `unit_kind` must be given where the service lets the
    /// session choose (002 §1.7.1) and must match where it does not.
    pub fn plan(
        id: SessionId,
        service: &Service,
        unit_kind: Option<UnitKind>,
        group: Option<GroupId>,
        instructor: InstructorId,
    ) -> Result<Session, SessionError> {
        let kind = match (service.unit, unit_kind) {
            (UnitRule::PerRecipient, None) => UnitKind::PerRecipient,
            (UnitRule::PerGroup, None) => UnitKind::PerGroup,
            (UnitRule::SessionChooses, Some(k)) => k,
            (UnitRule::SessionChooses, None) => {
                return Err(SessionError::UnitKindNotChosen(service.code.clone()));
            }
            (fixed, Some(asked)) => {
                let fixed = match fixed {
                    UnitRule::PerGroup => UnitKind::PerGroup,
                    _ => UnitKind::PerRecipient,
                };
                if fixed != asked {
                    return Err(SessionError::UnitKindFixed {
                        service: service.code.clone(),
                        fixed,
                        asked,
                    });
                }
                fixed
            }
        };
        Ok(Session {
            id,
            service: service.code.clone(),
            unit_kind: kind,
            group,
            instructor,
            state: SessionState::Planned,
            opened_at: None,
            safety_briefing: false,
            safety_briefing_required: service.needs_safety_briefing(),
            date_confirmed: false,
            event: false,
            over_group_cap: false,
            checkins: Vec::new(),
            notes: Vec::new(),
            unidentified_taps: 0,
        })
    }

    /// The planned session as the service's event form (002 l.1199: a mass event up to 120 min;
    /// l.3171: an excursion up to 4 hours): its norm and its automatic close are the event's.
    pub fn as_event(mut self, service: &Service) -> Result<Session, SessionError> {
        if service.event.is_none() {
            return Err(SessionError::NoEventForm(service.code.clone()));
        }
        if self.state != SessionState::Planned {
            return Err(SessionError::NotPlanned);
        }
        self.event = true;
        Ok(self)
    }

    /// The planned session against the caps its group has reached (`reached`, from
    /// [`crate::rules::group_caps`]): refused with the first of them unless the instructor
    /// `confirmed` going over and the site lets frequency limits be overridden (`overridable`),
    /// in which case the opening says so (`over_group_cap`), its units carry the override, and
    /// the journal's re-check records the violation all the same.
    pub fn within_group_caps(
        mut self,
        reached: &[(FrequencyLimit, u32)],
        confirmed: bool,
        overridable: bool,
    ) -> Result<Session, SessionError> {
        if self.state != SessionState::Planned {
            return Err(SessionError::NotPlanned);
        }
        match reached.first() {
            None => Ok(self),
            Some((limit, used)) if !confirmed || !overridable => {
                Err(SessionError::GroupCapReached {
                    limit: limit.clone(),
                    used: *used,
                    overridable,
                })
            }
            Some(_) => {
                self.over_group_cap = true;
                Ok(self)
            }
        }
    }

    /// The session as its opening event describes it (for replay after a restart).
    pub fn from_opened(event: &Event) -> Option<Session> {
        match event {
            Event::SessionOpened {
                session,
                service,
                unit_kind,
                group,
                instructor,
                at,
                safety_briefing,
                date_confirmed,
                event,
                over_group_cap,
            } => Some(Session {
                id: *session,
                service: service.clone(),
                unit_kind: *unit_kind,
                group: *group,
                instructor: *instructor,
                state: SessionState::Open,
                opened_at: Some(*at),
                safety_briefing: *safety_briefing,
                // Opened already: what it required was checked when it opened.
                safety_briefing_required: false,
                date_confirmed: *date_confirmed,
                event: *event,
                over_group_cap: *over_group_cap,
                checkins: Vec::new(),
                notes: Vec::new(),
                unidentified_taps: 0,
            }),
            _ => None,
        }
    }

    /// Rebuilds a session from its stored events, in order.
    pub fn replay<'e>(events: impl IntoIterator<Item = &'e Event>) -> Option<Session> {
        let mut it = events.into_iter();
        let mut s = Session::from_opened(it.next()?)?;
        for e in it {
            // A stored event that does not fit was never produced by a command: skip it rather
            // than lose the session (the journal sees the event log as it is).
            let _ = s.apply(e);
        }
        Some(s)
    }

    /// Whether the session is open.
    pub fn is_open(&self) -> bool {
        self.state == SessionState::Open
    }

    /// The active (not undone) check-ins.
    pub fn present(&self) -> impl Iterator<Item = &CheckIn> {
        self.checkins.iter().filter(|c| c.active())
    }

    /// How many are checked in now.
    pub fn present_count(&self) -> u32 {
        u32::try_from(self.present().count()).unwrap_or(u32::MAX)
    }

    fn active_checkin_of(&self, r: RecipientId) -> Option<&CheckIn> {
        self.present().find(|c| c.recipient == r)
    }

    fn checkin(&self, id: CheckInId) -> Result<&CheckIn, SessionError> {
        self.checkins
            .iter()
            .find(|c| c.id == id)
            .ok_or(SessionError::NoSuchCheckIn(id))
    }

    fn require_open(&self) -> Result<(), SessionError> {
        if self.is_open() {
            Ok(())
        } else {
            Err(SessionError::NotOpen)
        }
    }

    /// Open a planned session. Refused while the clock is implausible, unless the instructor
    /// confirmed the date, and, for a service that begins with the safety briefing (000 l.56),
    /// until the instructor confirms it was given.
    pub fn open(
        &self,
        now: DateTime<Utc>,
        clock: ClockVerdict,
        date_confirmed: bool,
        safety_briefing: bool,
    ) -> Result<Event, SessionError> {
        if self.state != SessionState::Planned {
            return Err(SessionError::NotPlanned);
        }
        if !clock.plausible() && !date_confirmed {
            return Err(SessionError::ClockNotTrusted);
        }
        if self.safety_briefing_required && !safety_briefing {
            return Err(SessionError::SafetyBriefingMissing(self.service.clone()));
        }
        Ok(Event::SessionOpened {
            session: self.id,
            service: self.service.clone(),
            unit_kind: self.unit_kind,
            group: self.group,
            instructor: self.instructor,
            at: now,
            safety_briefing,
            date_confirmed: date_confirmed && !clock.plausible(),
            event: self.event,
            over_group_cap: self.over_group_cap,
        })
    }

    /// The decision for a card tap, and the event to record for it.
    pub fn tap(
        &self,
        who: Tapper<'_>,
        inputs: &RuleInputs<'_>,
        checkin: CheckInId,
        tap_id: Uuid,
        now: DateTime<Utc>,
    ) -> TapOutcome {
        let refuse = |decision| TapOutcome {
            decision,
            event: None,
        };
        if !self.is_open() {
            // An unknown card is still kept (it may be a new card to reconcile).
            if let Tapper::Unknown { card_hash } = who {
                return TapOutcome {
                    decision: Decision::NoOpenSession,
                    event: Some(Event::UnidentifiedTap {
                        session: None,
                        tap: tap_id,
                        card_hash: card_hash.to_string(),
                        at: now,
                    }),
                };
            }
            return refuse(Decision::NoOpenSession);
        }
        if !inputs.clock.plausible() && !self.date_confirmed {
            return refuse(Decision::ClockNotTrusted);
        }
        let recipient = match who {
            Tapper::Unknown { card_hash } => {
                return TapOutcome {
                    decision: Decision::UnknownCard,
                    event: Some(Event::UnidentifiedTap {
                        session: Some(self.id),
                        tap: tap_id,
                        card_hash: card_hash.to_string(),
                        at: now,
                    }),
                };
            }
            Tapper::Known { recipient, card } => {
                if let Some(c) = self.active_checkin_of(recipient.id) {
                    return refuse(Decision::AlreadyCheckedIn {
                        recipient: recipient.id,
                        at: c.at,
                    });
                }
                match card {
                    CardStatus::Active => {}
                    CardStatus::Blocked => {
                        return refuse(Decision::CardBlocked {
                            recipient: recipient.id,
                        });
                    }
                    CardStatus::Replaced => {
                        return refuse(Decision::CardReplaced {
                            recipient: recipient.id,
                        });
                    }
                }
                recipient
            }
        };
        let broken = self.joining(recipient, inputs, now).broken();
        match broken.into_iter().next() {
            Some(refusal) => refuse(refusal),
            None => TapOutcome {
                decision: Decision::Accepted {
                    recipient: recipient.id,
                    overridden: Vec::new(),
                },
                event: Some(Event::CheckedIn {
                    session: self.id,
                    checkin,
                    recipient: recipient.id,
                    at: now,
                    method: CheckInMethod::Card,
                    overridden: Vec::new(),
                    override_reason: None,
                    norm_minutes: self.norm_for(recipient, inputs, now),
                }),
            },
        }
    }

    /// The recipient's own time norm where it is longer than the session's (002 l.1511).
    fn norm_for(
        &self,
        recipient: &Recipient,
        inputs: &RuleInputs<'_>,
        now: DateTime<Utc>,
    ) -> Option<u32> {
        let minor = recipient.minor_on(inputs.site.local_date(now));
        let own = inputs
            .service
            .time_norm_for(self.event, recipient.care_group, minor)?;
        (Some(own) != inputs.service.time_norm(self.event)).then_some(own)
    }

    /// The session's norm: the service's, or the longest of its present recipients' own.
    fn norm(&self, service: &Service) -> Option<u32> {
        let own = self.present().filter_map(|c| c.norm_minutes).max();
        match (service.time_norm(self.event), own) {
            (Some(base), Some(own)) => Some(base.max(own)),
            (base, own) => base.or(own),
        }
    }

    fn joining<'a>(
        &self,
        recipient: &'a Recipient,
        inputs: &RuleInputs<'a>,
        now: DateTime<Utc>,
    ) -> Joining<'a> {
        Joining {
            service: inputs.service,
            recipient,
            history: inputs.history,
            session: self.id,
            site: inputs.site,
            now,
            present: self.present_count(),
            event: self.event,
        }
    }

    /// A check-in by the instructor: a manual check-in by name (`method` = Manual), or an
    /// override of the rules a tap broke (with `reason`). Every broken rule is recorded on the
    /// check-in; a hard rule refuses. `card` is the card status where the person tapped a card.
    #[allow(clippy::too_many_arguments)]
    pub fn check_in_overriding(
        &self,
        recipient: &Recipient,
        card: CardStatus,
        method: CheckInMethod,
        reason: &str,
        inputs: &RuleInputs<'_>,
        checkin: CheckInId,
        now: DateTime<Utc>,
    ) -> Result<TapOutcome, SessionError> {
        self.require_open()?;
        if !inputs.clock.plausible() && !self.date_confirmed {
            return Err(SessionError::ClockNotTrusted);
        }
        if self.active_checkin_of(recipient.id).is_some() {
            return Err(SessionError::AlreadyCheckedIn);
        }
        let mut rules: Vec<Rule> = self
            .joining(recipient, inputs, now)
            .broken()
            .iter()
            .filter_map(Decision::rule)
            .collect();
        if card != CardStatus::Active && method == CheckInMethod::Card {
            rules.insert(0, Rule::CardBlocked);
        }
        let manual = matches!(method, CheckInMethod::Manual { .. });
        if rules.is_empty() && !manual {
            return Err(SessionError::NothingToOverride);
        }
        if let Some(hard) = rules.iter().find(|r| !inputs.policy.overridable(**r)) {
            return Err(SessionError::HardRule(*hard));
        }
        let reason = reason.trim();
        let method_reason = match &method {
            CheckInMethod::Manual { reason } => reason.trim(),
            CheckInMethod::Card => "",
        };
        if (!rules.is_empty() && reason.is_empty()) || (manual && method_reason.is_empty()) {
            return Err(SessionError::ReasonMissing);
        }
        rules.sort();
        rules.dedup();
        Ok(TapOutcome {
            decision: Decision::Accepted {
                recipient: recipient.id,
                overridden: rules.clone(),
            },
            event: Some(Event::CheckedIn {
                session: self.id,
                checkin,
                recipient: recipient.id,
                at: now,
                norm_minutes: self.norm_for(recipient, inputs, now),
                method,
                override_reason: (!rules.is_empty()).then(|| reason.to_string()),
                overridden: rules,
            }),
        })
    }

    /// Undo a check-in (a wrong card, a mistaken tap).
    pub fn undo(&self, checkin: CheckInId, now: DateTime<Utc>) -> Result<Event, SessionError> {
        self.require_open()?;
        let c = self.checkin(checkin)?;
        if !c.active() {
            return Err(SessionError::Undone(checkin));
        }
        Ok(Event::CheckInUndone {
            session: self.id,
            checkin,
            at: now,
        })
    }

    /// Check out (the actual end of one participant's session).
    pub fn check_out(&self, checkin: CheckInId, now: DateTime<Utc>) -> Result<Event, SessionError> {
        self.require_open()?;
        let c = self.checkin(checkin)?;
        if !c.active() {
            return Err(SessionError::Undone(checkin));
        }
        Ok(Event::CheckedOut {
            session: self.id,
            checkin,
            at: now,
        })
    }

    /// The answer to the satisfaction question (at check-out or at the end).
    pub fn answer(
        &self,
        checkin: CheckInId,
        answer: Satisfaction,
        now: DateTime<Utc>,
    ) -> Result<Event, SessionError> {
        let c = self.checkin(checkin)?;
        if !c.active() {
            return Err(SessionError::Undone(checkin));
        }
        Ok(Event::SatisfactionAnswered {
            session: self.id,
            checkin,
            answer,
            at: now,
        })
    }

    /// A note or assessment for a participant.
    pub fn note(
        &self,
        recipient: RecipientId,
        note: &str,
        assessment: Option<Assessment>,
        now: DateTime<Utc>,
    ) -> Result<Event, SessionError> {
        if self.active_checkin_of(recipient).is_none() {
            return Err(SessionError::NoSuchCheckIn(CheckInId(recipient.0)));
        }
        Ok(Event::ParticipantNote {
            session: self.id,
            recipient,
            note: note.to_string(),
            assessment,
            at: now,
        })
    }

    /// Cancel a planned or open session: no units.
    pub fn cancel(&self, reason: &str, now: DateTime<Utc>) -> Result<Event, SessionError> {
        match self.state {
            SessionState::Planned | SessionState::Open => Ok(Event::SessionCancelled {
                session: self.id,
                at: now,
                reason: reason.to_string(),
            }),
            _ => Err(SessionError::NotOpen),
        }
    }

    /// What the close warns about with this head count: a group below its minimum (not an
    /// individual session where the seed allows one) and a head count other than the check-ins.
    pub fn close_warnings(&self, service: &Service, head_count: Option<u32>) -> Vec<CloseWarning> {
        let present = self.present_count();
        let mut out = Vec::new();
        if let Some(min) = service
            .group_min
            .filter(|_| service.below_group_min(present as usize))
        {
            out.push(CloseWarning::BelowGroupMin { present, min });
        }
        if let Some(head_count) = head_count.filter(|h| *h != present) {
            out.push(CloseWarning::HeadCount {
                head_count,
                present,
            });
        }
        out
    }

    /// Close the session: the close event and its units. An instructor's close that
    /// [`Session::close_warnings`] warns about needs a reason; an automatic close does not (the
    /// journal marks it).
    #[allow(clippy::too_many_arguments)]
    pub fn close(
        &self,
        now: DateTime<Utc>,
        how: CloseKind,
        head_count: Option<u32>,
        reason: Option<CloseReason>,
        service: &Service,
        site: &SiteTime,
        clock_synced: bool,
    ) -> Result<[Event; 2], SessionError> {
        self.require_open()?;
        let warnings = self.close_warnings(service, head_count);
        if how == CloseKind::Instructor && !warnings.is_empty() && reason.is_none() {
            return Err(SessionError::CloseNeedsReason(warnings));
        }
        let units = self.units(now, service, site, clock_synced);
        Ok([
            Event::SessionClosed {
                session: self.id,
                at: now,
                how,
                head_count,
                reason: reason.filter(|_| !warnings.is_empty()),
            },
            Event::Units {
                session: self.id,
                units,
            },
        ])
    }

    /// When an open session closes itself: its time norm plus the grace, or the site's limit
    /// for services without a norm.
    pub fn auto_close_at(&self, service: &Service, policy: &Policy) -> Option<DateTime<Utc>> {
        let opened = self.opened_at.filter(|_| self.is_open())?;
        let minutes = match self.norm(service) {
            Some(norm) => norm + policy.auto_close_grace_minutes,
            None => policy.auto_close_without_norm_minutes,
        };
        Some(opened + Duration::minutes(i64::from(minutes)))
    }

    /// The events of an automatic close, if it is due at `now`. The close is dated at the
    /// deadline, not at `now` (a kiosk that was off for a night must not report a 14-hour session).
    pub fn tick(
        &self,
        now: DateTime<Utc>,
        service: &Service,
        policy: &Policy,
        site: &SiteTime,
        clock_synced: bool,
    ) -> Option<[Event; 2]> {
        let due = self.auto_close_at(service, policy)?;
        if now < due {
            return None;
        }
        self.close(
            due,
            CloseKind::Auto,
            None,
            None,
            service,
            site,
            clock_synced,
        )
        .ok()
    }

    /// The units the session gives if it closes at `now`: one per present recipient, or one for
    /// the group, as the session's unit kind says. Undone check-ins give none.
    pub fn units(
        &self,
        now: DateTime<Utc>,
        service: &Service,
        site: &SiteTime,
        clock_synced: bool,
    ) -> Vec<Unit> {
        let started_at = self.opened_at.unwrap_or(now);
        let present: Vec<&CheckIn> = self.present().collect();
        let below_group_min = service.below_group_min(present.len());
        // Each recipient's unit by their own norm; the group's unit by the session's.
        let over = |norm: Option<u32>, end| norm.and_then(|n| minutes_over(n, started_at, end));
        let session_norm = self.norm(service);
        let date = site.local_date(started_at);
        // "в сутки – 1 услуга" (002 l.1513): the day's unit, whichever session gives it.
        let per_day = |whose: Uuid| {
            service
                .unit_per_day
                .then(|| UnitId::per_day(&self.service, date, whose))
        };
        let base =
            |id, recipient, participants, overridden: Vec<Rule>, manual, ended_at, norm| Unit {
                id,
                session: self.id,
                service: self.service.clone(),
                kind: self.unit_kind,
                recipient,
                participants,
                group: self.group,
                instructor: self.instructor,
                date,
                started_at,
                ended_at,
                // Opened over the group's cap: each unit is given over it, knowingly.
                overridden: if self.over_group_cap && !overridden.contains(&Rule::FrequencyLimit) {
                    let mut o = overridden;
                    o.push(Rule::FrequencyLimit);
                    o.sort();
                    o
                } else {
                    overridden
                },
                manual,
                below_group_min,
                over_norm_minutes: over(norm, now),
                clock_synced,
            };
        match self.unit_kind {
            UnitKind::PerRecipient => present
                .iter()
                .map(|c| {
                    base(
                        per_day(c.recipient.0)
                            .unwrap_or_else(|| UnitId::per_recipient(self.id, c.recipient)),
                        Some(c.recipient),
                        Vec::new(),
                        c.overridden.clone(),
                        matches!(c.method, CheckInMethod::Manual { .. }),
                        c.checked_out_at.unwrap_or(now),
                        c.norm_minutes.or(service.time_norm(self.event)),
                    )
                })
                .collect(),
            UnitKind::PerGroup if present.is_empty() => Vec::new(),
            UnitKind::PerGroup => {
                let mut overridden: Vec<Rule> = present
                    .iter()
                    .flat_map(|c| c.overridden.iter().copied())
                    .collect();
                overridden.sort();
                overridden.dedup();
                vec![base(
                    self.group
                        .and_then(|g| per_day(g.0))
                        .unwrap_or_else(|| UnitId::per_group(self.id)),
                    None,
                    present.iter().map(|c| c.recipient).collect(),
                    overridden,
                    present
                        .iter()
                        .any(|c| matches!(c.method, CheckInMethod::Manual { .. })),
                    now,
                    session_norm,
                )]
            }
        }
    }

    /// Applies a recorded event to the state.
    pub fn apply(&mut self, event: &Event) -> Result<(), SessionError> {
        if event.session() != Some(self.id) {
            return Err(SessionError::WrongSession);
        }
        match event {
            Event::SessionOpened {
                at,
                safety_briefing,
                date_confirmed,
                event,
                over_group_cap,
                ..
            } => {
                if self.state != SessionState::Planned {
                    return Err(SessionError::NotPlanned);
                }
                self.state = SessionState::Open;
                self.opened_at = Some(*at);
                self.safety_briefing = *safety_briefing;
                self.date_confirmed = *date_confirmed;
                self.event = *event;
                self.over_group_cap = *over_group_cap;
            }
            Event::CheckedIn {
                checkin,
                recipient,
                at,
                method,
                overridden,
                override_reason,
                norm_minutes,
                ..
            } => {
                self.require_open()?;
                if self.active_checkin_of(*recipient).is_some() {
                    return Err(SessionError::AlreadyCheckedIn);
                }
                self.checkins.push(CheckIn {
                    id: *checkin,
                    recipient: *recipient,
                    at: *at,
                    method: method.clone(),
                    overridden: overridden.clone(),
                    override_reason: override_reason.clone(),
                    undone_at: None,
                    checked_out_at: None,
                    satisfaction: None,
                    norm_minutes: *norm_minutes,
                });
            }
            Event::CheckInUndone { checkin, at, .. } => {
                self.require_open()?;
                let c = self.checkin_mut(*checkin)?;
                c.undone_at = Some(*at);
            }
            Event::CheckedOut { checkin, at, .. } => {
                let c = self.checkin_mut(*checkin)?;
                c.checked_out_at = Some(*at);
            }
            Event::SatisfactionAnswered {
                checkin, answer, ..
            } => {
                let c = self.checkin_mut(*checkin)?;
                c.satisfaction = Some(*answer);
            }
            Event::ParticipantNote {
                recipient,
                note,
                assessment,
                ..
            } => {
                self.notes.retain(|n| n.recipient != *recipient);
                self.notes.push(ParticipantNote {
                    recipient: *recipient,
                    note: note.clone(),
                    assessment: *assessment,
                });
            }
            Event::UnidentifiedTap { .. } => self.unidentified_taps += 1,
            Event::SessionClosed {
                at,
                how,
                head_count,
                ..
            } => {
                self.require_open()?;
                self.state = SessionState::Closed {
                    at: *at,
                    how: *how,
                    head_count: *head_count,
                };
            }
            Event::SessionCancelled { at, reason, .. } => {
                self.state = SessionState::Cancelled {
                    at: *at,
                    reason: reason.clone(),
                };
            }
            Event::Units { .. } | Event::CardEnrolled { .. } => {}
        }
        Ok(())
    }

    fn checkin_mut(&mut self, id: CheckInId) -> Result<&mut CheckIn, SessionError> {
        self.checkins
            .iter_mut()
            .find(|c| c.id == id)
            .ok_or(SessionError::NoSuchCheckIn(id))
    }
}
