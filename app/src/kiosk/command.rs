//! What the kiosk's worker takes: the [`Command`]s of people (the control socket's wire type) and
//! the kiosk's own [`Internal`] plumbing (the feed's link and documents, the reader's health, card
//! requests from the journal, the clock's tick), which no one on the socket can send: it has no
//! wire form at all.

use super::PreparedRoster;
use otmetka_core::catalogue::{ServiceCode, UnitKind};
use otmetka_core::event::CloseReason;
use otmetka_core::people::{GroupId, RecipientId};
use otmetka_core::session::CheckInId;
use otmetka_core::wire::{EnrolmentRequest, Schedule, Usage};
use serde::{Deserialize, Serialize};

/// What a person or a script asks of the kiosk: a tap on the reader, a press on a screen, a line
/// on the control socket (`otmetka-kiosk ctl`). These, and only these, are the socket's commands.
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
        /// The instructor confirms opening it although the group reached a cap on its
        /// sessions (002 l.1251).
        #[serde(default)]
        over_group_cap: bool,
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
}

/// The kiosk's own messages to its worker, from the feed, the reader thread, the screens' card
/// enrolment and the worker's own clock. Not deserializable: the control socket cannot name them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Internal {
    /// Only the reader's and the clock's state (cheap: no disk), for the feed's status message.
    Health,
    /// Let time-based rules act (automatic close).
    Tick,
    /// A roster the feed already stored (on its own connection) and indexed: the worker only
    /// swaps it in, so a large roster arriving never holds up a tap.
    UseRoster { roster: PreparedRoster },
    /// A schedule from the journal (taken if newer than the one held).
    PutSchedule { schedule: Box<Schedule> },
    /// What the site's other kiosks gave each recipient, from the journal (taken if newer).
    PutUsage { usage: Box<Usage> },
    /// The journal asks for a new card for a recipient: the next card on the reader becomes
    /// theirs (card enrolment mode, until the request expires or is cancelled).
    Enrol { request: Box<EnrolmentRequest> },
    /// Leave card enrolment mode without a card.
    EnrolCancel,
    /// The feed says whether it is connected to the broker (sent when that changes); `detail`
    /// names the broker, or why there is no connection.
    FeedLink { connected: bool, detail: String },
    /// The reader thread says whether the card reader works (sent when that changes).
    ReaderHealth { ok: bool, detail: String },
}

/// What the worker takes: a person's command or the kiosk's own message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Command(Command),
    Internal(Internal),
}

impl From<Command> for Input {
    fn from(c: Command) -> Input {
        Input::Command(c)
    }
}

impl From<Internal> for Input {
    fn from(i: Internal) -> Input {
        Input::Internal(i)
    }
}

impl Command {
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
        }
    }
}

impl Internal {
    /// Every internal message's name (so the control socket can say that such a line names
    /// no command of its own, rather than an unknown one).
    pub const NAMES: [&'static str; 9] = [
        "health",
        "tick",
        "use_roster",
        "put_schedule",
        "put_usage",
        "enrol",
        "enrol_cancel",
        "feed_link",
        "reader_health",
    ];

    /// The message's name (for logs).
    pub fn name(&self) -> &'static str {
        match self {
            Internal::Health => Self::NAMES[0],
            Internal::Tick => Self::NAMES[1],
            Internal::UseRoster { .. } => Self::NAMES[2],
            Internal::PutSchedule { .. } => Self::NAMES[3],
            Internal::PutUsage { .. } => Self::NAMES[4],
            Internal::Enrol { .. } => Self::NAMES[5],
            Internal::EnrolCancel => Self::NAMES[6],
            Internal::FeedLink { .. } => Self::NAMES[7],
            Internal::ReaderHealth { .. } => Self::NAMES[8],
        }
    }
}

impl Input {
    /// The name of the command or message (for logs).
    pub fn name(&self) -> &'static str {
        match self {
            Input::Command(c) => c.name(),
            Input::Internal(i) => i.name(),
        }
    }
}
