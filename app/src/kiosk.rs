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

/// Wrong PINs in a row. From the [`PinAttempts::FREE`]th on, each wrong PIN locks PINs out for
/// twice as long as the one before (30 s, 1 min, 2 min … at most 15 min): a 10⁴ search on the
/// keypad then takes months, while a person who mistyped waits half a minute.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PinAttempts {
    pub failures: u32,
    pub locked_until: Option<DateTime<Utc>>,
}

impl PinAttempts {
    /// Wrong PINs taken without a pause.
    pub const FREE: u32 = 3;

    /// How long PINs are still refused at `now`, if they are.
    pub fn locked_for(&self, now: DateTime<Utc>) -> Option<chrono::Duration> {
        self.locked_until.filter(|t| *t > now).map(|t| t - now)
    }

    /// A wrong PIN at `now`; returns the failures in a row.
    pub fn failed(&mut self, now: DateTime<Utc>) -> u32 {
        self.failures += 1;
        if self.failures >= Self::FREE {
            let step = (self.failures - Self::FREE).min(5);
            let wait = (30i64 << step).min(15 * 60);
            self.locked_until = Some(now + chrono::Duration::seconds(wait));
        }
        self.failures
    }
}

/// An indexed roster, shared (see [`Command::UseRoster`]).
#[derive(Debug, Clone)]
pub struct PreparedRoster(pub Arc<RosterIndex>);

impl PartialEq for PreparedRoster {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for PreparedRoster {}

/// The site's usage by recipient, with its version.
fn index_usage(usage: &Usage) -> (u64, HashMap<RecipientId, Vec<UsageEntry>>) {
    let by = usage
        .recipients
        .iter()
        .map(|r| (r.id, r.given.clone()))
        .collect();
    (usage.version, by)
}

/// Indexes a roster, and says in the log which card forms it holds twice.
pub fn index_roster(roster: &Roster) -> RosterIndex {
    let index = RosterIndex::from_roster(roster);
    for c in index.collisions() {
        tracing::warn!(
            holders = c.holders.len(),
            "two cards share a card form: a truncated read of it cannot tell them apart"
        );
    }
    index
}

/// A command to the kiosk, from the reader, the screens or the control socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "cmd")]
pub enum Command {
    /// A card on the reader.
    Tap {
        card: String,
    },
    /// An instructor signs in with a staff card number or a PIN.
    SignIn {
        credential: String,
    },
    SignOut,
    /// Open a session.
    Start {
        service: ServiceCode,
        #[serde(default)]
        group: Option<GroupId>,
        #[serde(default)]
        unit_kind: Option<UnitKind>,
        #[serde(default)]
        safety_briefing: bool,
        /// The instructor confirms the date although the clock is not trusted.
        #[serde(default)]
        confirm_date: bool,
        /// Opened as the service's event form (a mass event, an excursion): its norm applies.
        #[serde(default)]
        event: bool,
    },
    /// Override the last refused tap, with a reason.
    Override {
        reason: String,
    },
    /// Check a recipient in by name, with a reason.
    Manual {
        recipient: RecipientId,
        reason: String,
    },
    /// A note on a participant of the open session ("left_early", ...).
    Note {
        recipient: RecipientId,
        note: String,
    },
    /// A recipient leaves: checks out, with the answer to "Как прошло занятие?" if given.
    CheckOut {
        recipient: RecipientId,
        #[serde(default)]
        satisfaction: Option<otmetka_core::event::Satisfaction>,
    },
    /// Undo a check-in (the last one if none is named).
    Undo {
        #[serde(default)]
        checkin: Option<CheckInId>,
    },
    /// End the session with the head count the instructor confirms, and the reason where the
    /// close warns (below the group minimum, head count ≠ check-ins: `Session::close_warnings`).
    End {
        #[serde(default)]
        head_count: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<CloseReason>,
    },
    /// What the kiosk is doing.
    Status,
    /// Only the reader's and the clock's state (cheap: no disk), for the feed's status message.
    Health,
    /// Let time-based rules act (automatic close).
    Tick,
    /// A roster the feed already stored (on its own connection) and indexed: the worker only
    /// swaps it in, so a large roster arriving never holds up a tap. Not for the control socket.
    #[serde(skip)]
    UseRoster {
        roster: PreparedRoster,
    },
    /// A schedule from the journal (taken if newer than the one held).
    PutSchedule {
        schedule: Box<Schedule>,
    },
    /// What the site's other kiosks gave each recipient, from the journal (taken if newer).
    PutUsage {
        usage: Box<Usage>,
    },
    /// The journal asks for a new card for a recipient: the next card on the reader becomes
    /// theirs (card enrolment mode, until the request expires or is cancelled).
    Enrol {
        request: Box<EnrolmentRequest>,
    },
    /// Leave card enrolment mode without a card.
    EnrolCancel,
    /// The feed says whether it is connected to the broker (sent when that changes); `detail`
    /// names the broker, or why there is no connection.
    FeedLink {
        connected: bool,
        #[serde(default)]
        detail: String,
    },
    /// The reader thread says whether the card reader works (sent when that changes).
    ReaderHealth {
        ok: bool,
        #[serde(default)]
        detail: String,
    },
}

impl Command {
    /// Whether a person or a script may send it on the control socket. The rest is the
    /// kiosk's own plumbing (the feed's link and documents, the reader's health, card requests
    /// from the journal, the clock's tick), which a local user must not be able to fake.
    pub fn is_for_people(&self) -> bool {
        match self {
            Command::Tap { .. }
            | Command::SignIn { .. }
            | Command::SignOut
            | Command::Start { .. }
            | Command::Override { .. }
            | Command::Manual { .. }
            | Command::Note { .. }
            | Command::CheckOut { .. }
            | Command::Undo { .. }
            | Command::End { .. }
            | Command::Status => true,
            Command::Health
            | Command::Tick
            | Command::UseRoster { .. }
            | Command::PutSchedule { .. }
            | Command::PutUsage { .. }
            | Command::Enrol { .. }
            | Command::EnrolCancel
            | Command::FeedLink { .. }
            | Command::ReaderHealth { .. } => false,
        }
    }

    /// The command's name, as the control socket spells it (for logs).
    pub fn name(&self) -> &'static str {
        match self {
            Command::Tap { .. } => "tap",
            Command::SignIn { .. } => "sign_in",
            Command::SignOut => "sign_out",
            Command::Start { .. } => "start",
            Command::Override { .. } => "override",
            Command::Manual { .. } => "manual",
            Command::Note { .. } => "note",
            Command::CheckOut { .. } => "check_out",
            Command::Undo { .. } => "undo",
            Command::End { .. } => "end",
            Command::Status => "status",
            Command::Health => "health",
            Command::Tick => "tick",
            Command::UseRoster { .. } => "use_roster",
            Command::PutSchedule { .. } => "put_schedule",
            Command::PutUsage { .. } => "put_usage",
            Command::Enrol { .. } => "enrol",
            Command::EnrolCancel => "enrol_cancel",
            Command::FeedLink { .. } => "feed_link",
            Command::ReaderHealth { .. } => "reader_health",
        }
    }
}

/// The store's document holding the enrolment request the kiosk waits on (see
/// [`Command::Enrol`]).
const ENROLMENT_DOCUMENT: &str = "enrolment";

/// Frees a replaced roster index on a short-lived thread: a large home's index takes a few
/// milliseconds to free, which a tap queued behind the swap would otherwise wait for.
fn drop_elsewhere(old: Arc<RosterIndex>) {
    let spawned = std::thread::Builder::new()
        .name("roster-drop".into())
        .spawn(move || drop(old));
    if let Err(e) = spawned {
        // No thread (out of resources): the closure, and the index with it, was dropped here.
        tracing::warn!("freed the old roster on the worker: {e}");
    }
}

/// The answer to a tap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TapReply {
    pub decision: Decision,
    pub kind: DecisionKind,
    /// The check-in (or unidentified tap) is durably stored.
    pub committed: bool,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub checkin: Option<CheckInId>,
    pub present: u32,
    #[serde(default)]
    pub group_max: Option<u32>,
}

/// A snapshot of the kiosk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusReply {
    pub site: String,
    pub kiosk: String,
    pub instructor: Option<String>,
    pub session: Option<SessionStatus>,
    pub outbox_depth: u64,
    pub clock: ClockVerdict,
    pub roster_version: u64,
    /// The version of the schedule held; 0 for none.
    #[serde(default)]
    pub schedule_version: u64,
    /// The version of the site's usage held (the other kiosks' units); 0 for none.
    #[serde(default)]
    pub usage_version: u64,
    /// Whether the card reader works (the simulated one always does).
    #[serde(default = "yes")]
    pub reader_ok: bool,
    /// Why it does not, when it does not.
    #[serde(default)]
    pub reader_detail: String,
    /// Whether the feed is connected to the broker (`None`: no feed, or not yet known).
    #[serde(default)]
    pub feed_connected: Option<bool>,
}

fn yes() -> bool {
    true
}

/// The open session, briefly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionStatus {
    pub id: SessionId,
    pub service: ServiceCode,
    /// What people call it: the group's name, or the service's title without a group.
    pub title: String,
    /// Checked in now, in the order they came.
    pub present: Vec<PresentLine>,
    /// Members of the session's group not checked in.
    #[serde(default)]
    pub absent: Vec<MemberLine>,
    pub group_max: Option<u32>,
    pub opened_at: Option<DateTime<Utc>>,
}

/// Someone checked in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresentLine {
    pub checkin: CheckInId,
    pub recipient: RecipientId,
    pub name: String,
    pub at: DateTime<Utc>,
    /// The instructor's reason code of a check-in by name; `None` for a card.
    #[serde(default)]
    pub manual: Option<String>,
    /// A rule was overridden for this check-in.
    #[serde(default)]
    pub overridden: bool,
}

/// A member of the group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberLine {
    pub recipient: RecipientId,
    pub name: String,
}

/// A session the instructor may start: a line of today's schedule or a service of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartChoice {
    pub service: ServiceCode,
    pub group: Option<GroupId>,
    /// The group's name or the service's title.
    pub title: String,
    pub group_min: Option<u32>,
    pub group_max: Option<u32>,
    pub time_norm_minutes: Option<u32>,
    /// The session begins with the safety briefing (the catalogue says so).
    pub safety_briefing: bool,
    /// The service's event form, where it has one: its name and its norm in minutes.
    pub event: Option<(String, u32)>,
    /// How the session counts units where the service lets it choose (the schedule's choice,
    /// else one per recipient: "one session for one recipient = one service").
    pub unit_kind: Option<UnitKind>,
    /// The planned start, for a schedule line.
    pub start: Option<chrono::NaiveTime>,
    pub room: String,
}

/// What the screens show of the kiosk, taken on the worker thread after each command.
#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    pub instructor: Option<String>,
    pub session: Option<SessionStatus>,
    /// Units the open session would send if it ended now.
    pub units_if_ended: u32,
    /// The open session is below its group's minimum: (present, minimum).
    pub below_group_min: Option<(u32, u32)>,
    pub choices: Vec<StartChoice>,
    pub clock: ClockVerdict,
    /// Events not yet acknowledged by the journal; read only when asked (a disk query).
    pub outbox_depth: Option<u64>,
    pub roster_version: u64,
    /// The card reader works; if not, why.
    pub reader: (bool, String),
    /// Card enrolment mode: whose card the next one will be.
    pub enrolment: Option<String>,
    /// The feed's link: connected, and the broker or why not (`None`: no feed).
    pub feed: Option<(bool, String)>,
}

impl Default for Facts {
    fn default() -> Facts {
        Facts {
            instructor: None,
            session: None,
            units_if_ended: 0,
            below_group_min: None,
            choices: Vec::new(),
            clock: ClockVerdict::Unsynced,
            outbox_depth: None,
            roster_version: 0,
            reader: (true, String::new()),
            enrolment: None,
            feed: None,
        }
    }
}

impl Facts {
    /// The facts of `kiosk` at `now`; `with_outbox` also counts the outbox.
    pub fn of(kiosk: &Kiosk, now: DateTime<Utc>, with_outbox: bool) -> Facts {
        let open = kiosk
            .session
            .as_ref()
            .and_then(|s| Some((s, kiosk.catalogue.get(&s.service)?)));
        let units_if_ended = open
            .map(|(s, svc)| s.units(now, svc, &kiosk.site, true).len() as u32)
            .unwrap_or(0);
        let below_group_min = open.and_then(|(s, svc)| {
            s.close_warnings(svc, None)
                .into_iter()
                .find_map(|w| match w {
                    CloseWarning::BelowGroupMin { present, min } => Some((present, min)),
                    CloseWarning::HeadCount { .. } => None,
                })
        });
        Facts {
            instructor: kiosk.instructor_name(),
            session: kiosk.session_status(),
            units_if_ended,
            below_group_min,
            choices: kiosk.start_choices(now),
            clock: kiosk.verdict().unwrap_or(ClockVerdict::Unsynced),
            outbox_depth: with_outbox
                .then(|| kiosk.store.backlog().ok().map(|(d, _)| d))
                .flatten(),
            roster_version: kiosk.roster.version,
            reader: kiosk.reader.clone(),
            enrolment: kiosk.enrolment_name(),
            feed: kiosk.feed.clone(),
        }
    }
}

/// A reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "reply")]
pub enum Reply {
    Tap(TapReply),
    SignedIn {
        instructor: String,
    },
    SignedOut,
    Started {
        session: SessionId,
    },
    Ended {
        session: SessionId,
        units: Vec<Unit>,
        below_group_min: bool,
    },
    Undone {
        checkin: CheckInId,
    },
    CheckedOut {
        checkin: CheckInId,
    },
    Status(Box<StatusReply>),
    /// The card reader works; the clock is trusted.
    Health {
        reader_ok: bool,
        clock_synced: bool,
        /// Wrong PINs in a row (told to the journal in the status).
        #[serde(default)]
        pin_failures: u32,
    },
    /// Card enrolment mode is on: the next card becomes `name`'s.
    EnrolWaiting {
        name: String,
    },
    /// The card is now `name`'s; `committed`: the enrolment is durably in the outbox.
    Enrolled {
        name: String,
        committed: bool,
    },
    /// The card cannot be given: it is `holder`'s already (None: blocked or shared).
    EnrolRefused {
        holder: Option<String>,
    },
    /// The screen shown (`idle`, `tap_result`, `in_session`...), for `ctl screen`.
    Screen {
        name: String,
    },
    /// A frame rendered for `ctl frame`: the screen's name, a hash of its pixels, the colour
    /// of the pixel at the centre of its top edge (the state's colour) and the render time.
    Frame {
        name: String,
        pixels_hash: u64,
        top: [u8; 4],
        render_us: u64,
    },
    Ok,
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
    usage: (u64, HashMap<RecipientId, Vec<UsageEntry>>),
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
                .map(|u| index_usage(&u))
                .unwrap_or_default(),
            None => Default::default(),
        };
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
            pins: PinAttempts::default(),
            feed: None,
            enrolment,
        };
        // An open session survives a restart; its instructor's sign-in does not: whoever
        // ends it signs in again (PIN or staff card).
        // A session that passed its time while the kiosk was off closes itself now.
        k.tick()?;
        Ok(k)
    }

    /// Installs a roster if it is newer than the one held. Returns whether it was taken.
    pub fn put_roster(&mut self, roster: &Roster) -> Result<bool, KioskError> {
        let body = serde_json::to_string(roster).map_err(StoreError::from)?;
        let taken = self.store.put_document("roster", roster.version, &body)?;
        if taken {
            self.use_roster(Arc::new(index_roster(roster)));
        }
        Ok(taken)
    }

    /// Installs a schedule if it is newer than the one held. Returns whether it was taken.
    pub fn put_schedule(&mut self, schedule: &Schedule) -> Result<bool, KioskError> {
        let body = serde_json::to_string(schedule).map_err(StoreError::from)?;
        let taken = self
            .store
            .put_document("schedule", schedule.version, &body)?;
        if taken {
            self.schedule = Some(schedule.clone());
        }
        Ok(taken)
    }

    /// Installs the site's usage if it is newer than the one held. Returns whether it was taken.
    pub fn put_usage(&mut self, usage: &Usage) -> Result<bool, KioskError> {
        let body = serde_json::to_string(usage).map_err(StoreError::from)?;
        let taken = self.store.put_document("usage", usage.version, &body)?;
        if taken {
            self.usage = index_usage(usage);
        }
        Ok(taken)
    }

    /// A recipient's attendance as the limits count it: this kiosk's own check-ins from its
    /// store (delivered or not), and the other kiosks' and the journal's units from the last
    /// usage the journal sent. Offline, the kiosk counts with what it last had.
    fn history(
        &self,
        recipient: RecipientId,
        now: DateTime<Utc>,
    ) -> Result<Vec<otmetka_core::rules::Attendance>, KioskError> {
        let mut history = self
            .store
            .attendance(recipient, now - Duration::days(400))?;
        if let Some(entries) = self.usage.1.get(&recipient) {
            history.extend(Usage::attendance(entries, &self.names.1, &self.site));
        }
        Ok(history)
    }

    /// The schedule held, if the journal sent one.
    pub fn schedule(&self) -> Option<&Schedule> {
        self.schedule.as_ref()
    }

    /// Puts `index` in place of the roster in use; the old one is freed off this thread.
    fn use_roster(&mut self, index: Arc<RosterIndex>) {
        drop_elsewhere(std::mem::replace(&mut self.roster, index));
    }

    /// The roster held.
    pub fn roster(&self) -> &RosterIndex {
        &self.roster
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

    /// Handles one command.
    pub fn handle(&mut self, cmd: Command) -> Result<Reply, KioskError> {
        // Time-based rules first: a session past its time norm closes itself before what a
        // person does now is judged, so a tap after the deadline belongs to no session, however
        // busy the kiosk has been (the worker's idle tick alone once left it open for minutes).
        if cmd.is_for_people() {
            self.tick()?;
        }
        match cmd {
            Command::Tap { card } => {
                let read = CardRead::parse(&card).map_err(|_| KioskError::UnreadableCard)?;
                match self.enrolment()? {
                    Some(request) => self.enrol_card(request, &read),
                    None => self.tap(&read),
                }
            }
            Command::Enrol { request } => {
                if request.expires_at <= self.clock.now() {
                    tracing::warn!(request = %request.request, "an enrolment request that has expired: ignored");
                    return Ok(Reply::Ok);
                }
                tracing::info!(request = %request.request, recipient = %request.recipient, "card enrolment: waiting for a card");
                let name = request.display_name.clone();
                self.set_enrolment(Some(*request))?;
                Ok(Reply::EnrolWaiting { name })
            }
            Command::EnrolCancel => {
                if let Some(r) = self.set_enrolment(None)? {
                    tracing::info!(request = %r.request, "card enrolment cancelled at the kiosk");
                }
                Ok(Reply::Ok)
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
            } => self.start(
                service,
                group,
                unit_kind,
                safety_briefing,
                confirm_date,
                event,
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
            Command::Health => Ok(Reply::Health {
                reader_ok: self.reader.0,
                clock_synced: self.verdict()? == ClockVerdict::Trusted,
                pin_failures: self.pins.failures,
            }),
            Command::Tick => self.tick().map(|_| Reply::Ok),
            Command::UseRoster { roster } => {
                if roster.0.version > self.roster.version {
                    self.use_roster(roster.0);
                }
                Ok(Reply::Ok)
            }
            Command::PutSchedule { schedule } => self.put_schedule(&schedule).map(|_| Reply::Ok),
            Command::PutUsage { usage } => self.put_usage(&usage).map(|_| Reply::Ok),
            Command::FeedLink { connected, detail } => {
                self.feed = Some((connected, detail));
                Ok(Reply::Ok)
            }
            Command::ReaderHealth { ok, detail } => {
                self.reader = (ok, detail);
                Ok(Reply::Ok)
            }
        }
    }

    fn sign_in(&mut self, credential: &str) -> Result<Reply, KioskError> {
        let by_card = CardRead::parse(credential).ok().and_then(|read| {
            match self.roster.lookup(&self.secret, &read) {
                Lookup::Found(Holder::Instructor(id)) => Some(id),
                _ => None,
            }
        });
        // A staff card always works; a PIN only while PINs are not locked out.
        let id = match by_card {
            Some(id) => id,
            None => {
                let now = self.clock.now();
                if let Some(wait) = self.pins.locked_for(now) {
                    return Err(KioskError::TooManyPins {
                        seconds: wait.num_seconds().max(1) as u64,
                    });
                }
                match self
                    .roster
                    .instructor_by_pin(&self.secret, credential.trim())
                {
                    Some(id) => id,
                    None => {
                        let n = self.pins.failed(now);
                        tracing::warn!(failures = n, "a wrong PIN at the kiosk");
                        return Err(KioskError::BadCredential);
                    }
                }
            }
        };
        self.pins = PinAttempts::default();
        self.instructor = Some(id);
        let name = self
            .roster
            .instructors
            .get(&id)
            .map(|i| i.display_name.clone())
            .unwrap_or_default();
        Ok(Reply::SignedIn { instructor: name })
    }

    fn start(
        &mut self,
        service: ServiceCode,
        group: Option<GroupId>,
        unit_kind: Option<UnitKind>,
        safety_briefing: bool,
        confirm_date: bool,
        event: bool,
    ) -> Result<Reply, KioskError> {
        let instructor = self.instructor.ok_or(KioskError::NotSignedIn)?;
        if self.session.is_some() {
            return Err(KioskError::SessionOpen);
        }
        // A home visit (patronage) is recorded on the journal's pages, never at a kiosk.
        let svc = self
            .catalogue
            .get(&service)
            .filter(|s| !s.home_visit)
            .ok_or(KioskError::UnknownService(service))?;
        let id = SessionId(Uuid::now_v7());
        let mut planned = Session::plan(id, svc, unit_kind, group, instructor)?;
        if event {
            planned = planned.as_event(svc)?;
        }
        let opened = planned.open(
            self.clock.now(),
            self.verdict()?,
            confirm_date,
            safety_briefing,
        )?;
        self.record(&[opened])?;
        Ok(Reply::Started { session: id })
    }

    /// The enrolment request waiting for a card, if it has not expired (an expired one is
    /// dropped here).
    fn enrolment(&mut self) -> Result<Option<EnrolmentRequest>, KioskError> {
        let now = self.clock.now();
        if self.enrolment.as_ref().is_some_and(|r| r.expires_at <= now) {
            if let Some(r) = self.set_enrolment(None)? {
                tracing::info!(request = %r.request, "card enrolment expired without a card");
            }
        }
        Ok(self.enrolment.clone())
    }

    /// Starts or ends card enrolment mode, on disk as well (the `enrolment` document), so that
    /// a kiosk restarted while it waits for the card still waits: the journal asks only once.
    /// Returns the request it replaces.
    fn set_enrolment(
        &mut self,
        request: Option<EnrolmentRequest>,
    ) -> Result<Option<EnrolmentRequest>, KioskError> {
        if request.is_none() && self.enrolment.is_none() {
            // Nothing to end (a cancel with no request): no write, no sync.
            return Ok(None);
        }
        let body = request
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(StoreError::from)?;
        self.store
            .set_local_document(ENROLMENT_DOCUMENT, body.as_deref())?;
        Ok(std::mem::replace(&mut self.enrolment, request))
    }

    /// Whose enrolment is waiting (for the screens), if any.
    pub fn enrolment_name(&self) -> Option<String> {
        self.enrolment.as_ref().map(|r| r.display_name.clone())
    }

    /// Gives the card on the reader to the request's recipient: a card someone holds already
    /// is refused (the request keeps waiting for another card); otherwise `CardEnrolled` is
    /// recorded, and the kiosk's roster knows the card at once (the journal's next roster
    /// includes it).
    fn enrol_card(
        &mut self,
        request: EnrolmentRequest,
        read: &CardRead,
    ) -> Result<Reply, KioskError> {
        let holder = match self.roster.lookup(&self.secret, read) {
            Lookup::Found(Holder::Recipient(id, CardStatus::Active)) => Some(
                self.roster
                    .recipients
                    .get(&id)
                    .map(|r| r.display_name.clone()),
            ),
            Lookup::Found(Holder::Instructor(id)) => Some(
                self.roster
                    .instructors
                    .get(&id)
                    .map(|i| i.display_name.clone()),
            ),
            Lookup::Found(Holder::Recipient(_, _)) | Lookup::Ambiguous(_) => Some(None),
            Lookup::Unknown => None,
        };
        if let Some(holder) = holder {
            return Ok(Reply::EnrolRefused { holder });
        }
        let card_hashes = match read {
            CardRead::Uid(key) => self.secret.card_hashes(key),
            CardRead::Truncated { .. } => vec![self.secret.read_hash(read)],
        };
        let event = Event::CardEnrolled {
            request: request.request,
            recipient: request.recipient,
            card_hashes: card_hashes.clone(),
            at: self.clock.now(),
        };
        self.record(std::slice::from_ref(&event))?;
        self.set_enrolment(None)?;
        // Durable in the outbox; now the local roster, so the card works before the journal's
        // new roster comes (if the kiosk stops between the two, it works once that comes).
        if let Some((_, body)) = self.store.document("roster")? {
            if let Ok(mut roster) = serde_json::from_str::<Roster>(&body) {
                if let Some(r) = roster
                    .recipients
                    .iter_mut()
                    .find(|r| r.id == request.recipient)
                {
                    r.cards
                        .extend(card_hashes.into_iter().map(|hash| RosterCard {
                            hash,
                            status: CardStatus::Active,
                        }));
                    let body = serde_json::to_string(&roster).map_err(StoreError::from)?;
                    self.store.amend_document("roster", &body)?;
                    self.use_roster(Arc::new(RosterIndex::from_roster(&roster)));
                }
            }
        }
        tracing::info!(request = %request.request, recipient = %request.recipient, "card enrolled");
        Ok(Reply::Enrolled {
            name: request.display_name,
            committed: true,
        })
    }

    fn tap(&mut self, read: &CardRead) -> Result<Reply, KioskError> {
        let now = self.clock.now();
        let lookup = self.roster.lookup(&self.secret, read);
        if let Lookup::Found(Holder::Instructor(_)) = lookup {
            // A staff card on the reader signs the instructor in.
            return self.sign_in(&read.to_string());
        }
        let verdict = self.verdict()?;
        let card_hash = self.secret.read_hash(read);
        let (recipient, card) = match lookup {
            Lookup::Found(Holder::Recipient(id, status)) => match self.roster.recipients.get(&id) {
                Some(r) => (Some(r.clone()), status),
                None => (None, status),
            },
            _ => (None, CardStatus::Active),
        };
        let who = match &recipient {
            Some(r) => Tapper::Known { recipient: r, card },
            None => Tapper::Unknown {
                card_hash: &card_hash,
            },
        };
        let outcome = match self.session.as_ref() {
            Some(session) => {
                let svc = self
                    .catalogue
                    .get(&session.service)
                    .ok_or_else(|| KioskError::UnknownService(session.service.clone()))?;
                let history = match &recipient {
                    Some(r) => self.history(r.id, now)?,
                    None => Vec::new(),
                };
                let inputs = RuleInputs {
                    service: svc,
                    history: &history,
                    site: &self.site,
                    policy: &self.policy,
                    clock: verdict,
                };
                session.tap(who, &inputs, CheckInId(Uuid::now_v7()), Uuid::now_v7(), now)
            }
            None => {
                // No session: nothing to decide but an unknown card is still kept.
                let unknown = matches!(who, Tapper::Unknown { .. });
                otmetka_core::session::TapOutcome {
                    decision: Decision::NoOpenSession,
                    event: unknown.then(|| Event::UnidentifiedTap {
                        session: None,
                        tap: Uuid::now_v7(),
                        card_hash: card_hash.clone(),
                        at: now,
                    }),
                }
            }
        };
        let committed = match &outcome.event {
            Some(ev) => {
                self.record(std::slice::from_ref(ev))?;
                true
            }
            None => false,
        };
        self.refusal = match (&outcome.decision.rule(), &recipient) {
            (Some(_), Some(r)) => Some(Refusal {
                recipient: r.id,
                card,
            }),
            _ => None,
        };
        Ok(Reply::Tap(self.tap_reply(
            outcome.decision,
            outcome.event.as_ref(),
            committed,
        )))
    }

    fn tap_reply(&self, decision: Decision, event: Option<&Event>, committed: bool) -> TapReply {
        let display_name = decision
            .recipient()
            .and_then(|id| self.roster.recipients.get(&id))
            .map(|r| r.display_name.clone());
        let checkin = match event {
            Some(Event::CheckedIn { checkin, .. }) => Some(*checkin),
            _ => None,
        };
        let (present, group_max) = match &self.session {
            Some(s) => (
                s.present_count(),
                self.catalogue.get(&s.service).and_then(|svc| svc.group_max),
            ),
            None => (0, None),
        };
        TapReply {
            kind: decision.kind(),
            decision,
            committed,
            display_name,
            checkin,
            present,
            group_max,
        }
    }

    fn check_in_by_instructor(
        &mut self,
        recipient: RecipientId,
        card: CardStatus,
        method: CheckInMethod,
        reason: &str,
    ) -> Result<TapReply, KioskError> {
        if self.instructor.is_none() {
            return Err(KioskError::NotSignedIn);
        }
        let now = self.clock.now();
        let verdict = self.verdict()?;
        let session = self.session.as_ref().ok_or(KioskError::NoSession)?;
        let r = self
            .roster
            .recipients
            .get(&recipient)
            .cloned()
            .ok_or(KioskError::UnknownRecipient(recipient))?;
        let svc = self
            .catalogue
            .get(&session.service)
            .ok_or_else(|| KioskError::UnknownService(session.service.clone()))?;
        let history = self.history(r.id, now)?;
        let inputs = RuleInputs {
            service: svc,
            history: &history,
            site: &self.site,
            policy: &self.policy,
            clock: verdict,
        };
        let outcome = session.check_in_overriding(
            &r,
            card,
            method,
            reason,
            &inputs,
            CheckInId(Uuid::now_v7()),
            now,
        )?;
        if let Some(ev) = &outcome.event {
            self.record(std::slice::from_ref(ev))?;
        }
        self.refusal = None;
        Ok(self.tap_reply(
            outcome.decision,
            outcome.event.as_ref(),
            outcome.event.is_some(),
        ))
    }

    fn override_last(&mut self, reason: &str) -> Result<TapReply, KioskError> {
        let refusal = self.refusal.clone().ok_or(KioskError::NothingToOverride)?;
        self.check_in_by_instructor(refusal.recipient, refusal.card, CheckInMethod::Card, reason)
    }

    fn manual(&mut self, recipient: RecipientId, reason: &str) -> Result<TapReply, KioskError> {
        let method = CheckInMethod::Manual {
            reason: reason.to_string(),
        };
        self.check_in_by_instructor(recipient, CardStatus::Active, method, reason)
    }

    fn undo(&mut self, checkin: Option<CheckInId>) -> Result<Reply, KioskError> {
        if self.instructor.is_none() {
            return Err(KioskError::NotSignedIn);
        }
        let session = self.session.as_ref().ok_or(KioskError::NoSession)?;
        let id = match checkin {
            Some(id) => id,
            None => session
                .present()
                .last()
                .map(|c| c.id)
                .ok_or(KioskError::NoSession)?,
        };
        let ev = session.undo(id, self.clock.now())?;
        self.record(&[ev])?;
        Ok(Reply::Undone { checkin: id })
    }

    /// The recipient's own action on the screen: no instructor needed.
    fn check_out(
        &mut self,
        recipient: RecipientId,
        satisfaction: Option<otmetka_core::event::Satisfaction>,
    ) -> Result<Reply, KioskError> {
        let session = self.session.as_ref().ok_or(KioskError::NoSession)?;
        let checkin = session
            .present()
            .find(|c| c.recipient == recipient && c.checked_out_at.is_none())
            .map(|c| c.id)
            .ok_or(KioskError::UnknownRecipient(recipient))?;
        let now = self.clock.now();
        let mut events = Vec::new();
        if let Some(answer) = satisfaction {
            events.push(session.answer(checkin, answer, now)?);
        }
        events.push(session.check_out(checkin, now)?);
        self.record(&events)?;
        Ok(Reply::CheckedOut { checkin })
    }

    fn note(&mut self, recipient: RecipientId, note: &str) -> Result<Reply, KioskError> {
        if self.instructor.is_none() {
            return Err(KioskError::NotSignedIn);
        }
        let session = self.session.as_ref().ok_or(KioskError::NoSession)?;
        let ev = session.note(recipient, note, None, self.clock.now())?;
        self.record(&[ev])?;
        Ok(Reply::Ok)
    }

    fn end(
        &mut self,
        head_count: Option<u32>,
        reason: Option<CloseReason>,
    ) -> Result<Reply, KioskError> {
        if self.instructor.is_none() {
            return Err(KioskError::NotSignedIn);
        }
        let session = self.session.as_ref().ok_or(KioskError::NoSession)?;
        let svc = self
            .catalogue
            .get(&session.service)
            .ok_or_else(|| KioskError::UnknownService(session.service.clone()))?;
        let events = session.close(
            self.clock.now(),
            CloseKind::Instructor,
            head_count,
            reason,
            svc,
            &self.site,
            self.clock.synced(),
        )?;
        let id = session.id;
        let units = match &events[1] {
            Event::Units { units, .. } => units.clone(),
            _ => Vec::new(),
        };
        self.record(&events)?;
        let below_group_min = units.iter().any(|u| u.below_group_min);
        Ok(Reply::Ended {
            session: id,
            units,
            below_group_min,
        })
    }

    /// Housekeeping while no one is tapping: a passive WAL checkpoint.
    pub fn idle(&mut self) {
        if let Err(e) = self.store.checkpoint() {
            tracing::warn!("WAL checkpoint failed: {e}");
        }
    }

    /// Closes the open session if it passed its time norm plus grace; ends card enrolment
    /// mode whose request expired.
    pub fn tick(&mut self) -> Result<(), KioskError> {
        // An enrolment request that expired leaves enrolment mode.
        self.enrolment()?;
        let Some(session) = self.session.as_ref() else {
            return Ok(());
        };
        let Some(svc) = self.catalogue.get(&session.service) else {
            return Ok(());
        };
        if let Some(events) = session.tick(
            self.clock.now(),
            svc,
            &self.policy,
            &self.site,
            self.clock.synced(),
        ) {
            self.record(&events)?;
        }
        Ok(())
    }

    /// The open session as the screens and `ctl status` show it (no disk).
    pub fn session_status(&self) -> Option<SessionStatus> {
        let s = self.session.as_ref()?;
        let name = |r: &RecipientId| {
            self.roster
                .recipients
                .get(r)
                .map(|r| r.display_name.clone())
                .unwrap_or_default()
        };
        let group = s.group.and_then(|g| self.roster.groups.get(&g));
        let present: Vec<PresentLine> = s
            .present()
            .map(|c| PresentLine {
                checkin: c.id,
                recipient: c.recipient,
                name: name(&c.recipient),
                at: c.at,
                manual: match &c.method {
                    CheckInMethod::Manual { reason } => Some(reason.clone()),
                    CheckInMethod::Card => None,
                },
                overridden: !c.overridden.is_empty(),
            })
            .collect();
        let absent = group
            .map(|g| {
                g.members
                    .iter()
                    .filter(|m| !present.iter().any(|p| p.recipient == **m))
                    .map(|m| MemberLine {
                        recipient: *m,
                        name: name(m),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let svc = self.catalogue.get(&s.service);
        Some(SessionStatus {
            id: s.id,
            service: s.service.clone(),
            title: {
                let title = group
                    .map(|g| g.name.clone())
                    .or_else(|| svc.map(|x| x.title_ru.clone()))
                    .unwrap_or_else(|| s.service.0.clone());
                // An event says so: «Культурно-массовое мероприятие: Клуб «Собеседник»».
                match svc.and_then(|x| x.event.as_ref()).filter(|_| s.event) {
                    Some(e) => format!("{}: {title}", e.title_ru),
                    None => title,
                }
            },
            present,
            absent,
            group_max: svc.and_then(|x| x.group_max),
            opened_at: s.opened_at,
        })
    }

    /// The signed-in instructor's name.
    pub fn instructor_name(&self) -> Option<String> {
        self.instructor
            .and_then(|i| self.roster.instructors.get(&i))
            .map(|i| i.display_name.clone())
    }

    /// What an instructor may start at `now`: today's schedule lines (for this instructor or
    /// anyone), then each group of the roster, then each service of the catalogue without a group.
    pub fn start_choices(&self, now: DateTime<Utc>) -> Vec<StartChoice> {
        let today = self.site.local_date(now);
        let choice = |service: &ServiceCode, group: Option<GroupId>| {
            // Home visits (patronage) are recorded on the journal's pages, not at a kiosk.
            let svc = self.catalogue.get(service).filter(|s| !s.home_visit)?;
            let g = group.and_then(|g| self.roster.groups.get(&g));
            Some(StartChoice {
                service: service.clone(),
                group,
                title: g
                    .map(|g| g.name.clone())
                    .unwrap_or_else(|| svc.title_ru.clone()),
                group_min: svc.group_min,
                group_max: svc.group_max,
                time_norm_minutes: svc.time_norm_minutes,
                safety_briefing: svc.needs_safety_briefing(),
                event: svc
                    .event
                    .as_ref()
                    .map(|e| (e.title_ru.clone(), e.time_norm_minutes)),
                unit_kind: match svc.unit {
                    UnitRule::SessionChooses => Some(UnitKind::PerRecipient),
                    _ => None,
                },
                start: None,
                room: String::new(),
            })
        };
        let mut out = Vec::new();
        if let Some(schedule) = &self.schedule {
            let mut today_lines: Vec<_> = schedule
                .entries
                .iter()
                .filter(|e| e.date == today)
                .filter(|e| e.instructor.is_none() || e.instructor == self.instructor)
                .collect();
            today_lines.sort_by_key(|e| e.start);
            for e in today_lines {
                if let Some(mut c) = choice(&e.service, e.group) {
                    c.start = Some(e.start);
                    c.unit_kind = e.unit_kind.or(c.unit_kind);
                    c.room = e.room.clone();
                    out.push(c);
                }
            }
        }
        let mut groups: Vec<_> = self.roster.groups.values().collect();
        groups.sort_by(|a, b| a.name.cmp(&b.name));
        out.extend(groups.iter().filter_map(|g| choice(&g.service, Some(g.id))));
        out.extend(
            self.catalogue
                .services
                .iter()
                .filter_map(|svc| choice(&svc.code, None)),
        );
        out
    }

    /// A snapshot for `ctl status` and the diagnostics screen.
    pub fn status(&self) -> Result<StatusReply, KioskError> {
        let (outbox_depth, _) = self.store.backlog()?;
        Ok(StatusReply {
            site: self.names.0.clone(),
            kiosk: self.names.1.clone(),
            instructor: self.instructor_name(),
            session: self.session_status(),
            outbox_depth,
            clock: self.verdict()?,
            roster_version: self.roster.version,
            schedule_version: self.schedule.as_ref().map_or(0, |s| s.version),
            usage_version: self.usage.0,
            reader_ok: self.reader.0,
            reader_detail: self.reader.1.clone(),
            feed_connected: self.feed.as_ref().map(|f| f.0),
        })
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
            Command::Health,
            Command::Tick,
            Command::PutSchedule {
                schedule: Box::new(Schedule {
                    schema: 1,
                    site: "s".into(),
                    version: 1,
                    entries: vec![],
                }),
            },
            Command::Enrol {
                request: Box::new(EnrolmentRequest {
                    schema: 1,
                    request: Uuid::nil(),
                    recipient,
                    display_name: "Иванова А. П.".into(),
                    expires_at: DateTime::UNIX_EPOCH,
                }),
            },
            Command::EnrolCancel,
            Command::FeedLink {
                connected: true,
                detail: String::new(),
            },
            Command::ReaderHealth {
                ok: true,
                detail: String::new(),
            },
        ];
        for cmd in cmds {
            let json = serde_json::to_value(&cmd).expect("a command serializes");
            assert_eq!(json["cmd"], cmd.name(), "{json}");
        }
    }
}
