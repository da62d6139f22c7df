//! What the kiosk answers: the replies of the worker and the control socket.

use super::*;

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
    /// Why the feed is not connected (a broker host that does not resolve, a refused
    /// connection), as the diagnostics screen shows it; empty while connected.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub feed_detail: String,
    /// The power supply: `fine`, `low` (under-voltage now), `was_low` (since the start),
    /// `not_measured` (not a Pi).
    #[serde(default)]
    pub power: crate::health::Power,
    /// The data partition's free space, where it could be asked.
    #[serde(default)]
    pub space: Option<crate::health::Space>,
    /// The sound device: `fine`, `missing`, `busy`, `failed`, `unchecked`, `not_used`.
    #[serde(default)]
    pub sound: crate::sound::SoundState,
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
