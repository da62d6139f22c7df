//! Units of service ("единица социальной услуги"): generated when a session closes.
//!
//! A unit's id is a name-based UUID (v5) of (session id, recipient id) — or of (session id) for a
//! per-group unit — so a resend or a regeneration can never make a second unit.

use crate::catalogue::{ServiceCode, UnitKind};
use crate::decision::Rule;
use crate::people::{GroupId, InstructorId, RecipientId};
use crate::session::SessionId;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A unit's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UnitId(pub Uuid);

impl UnitId {
    /// The id of a per-recipient unit.
    pub fn per_recipient(session: SessionId, recipient: RecipientId) -> Self {
        UnitId(Uuid::new_v5(&session.0, recipient.0.as_bytes()))
    }

    /// The id of a per-group unit.
    pub fn per_group(session: SessionId) -> Self {
        UnitId(Uuid::new_v5(&session.0, b"group"))
    }
}

/// One unit of service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unit {
    pub id: UnitId,
    pub session: SessionId,
    pub service: ServiceCode,
    pub kind: UnitKind,
    /// The recipient (per-recipient units); `None` for a per-group unit.
    #[serde(default)]
    pub recipient: Option<RecipientId>,
    /// For a per-group unit: the recipients who took part.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub participants: Vec<RecipientId>,
    #[serde(default)]
    pub group: Option<GroupId>,
    pub instructor: InstructorId,
    /// The local date of the session (the journal's date column).
    pub date: NaiveDate,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    /// Rules overridden for this unit (a unit given over a limit carries that flag).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overridden: Vec<Rule>,
    /// Checked in by the instructor rather than by card.
    #[serde(default)]
    pub manual: bool,
    /// The session ended with fewer participants than the service's minimum.
    #[serde(default)]
    pub below_group_min: bool,
    /// The kiosk's clock was synchronised when the session opened.
    #[serde(default)]
    pub clock_synced: bool,
}

impl Unit {
    /// Whether the unit was given over a limit (any overridden rule).
    pub fn over_limit(&self) -> bool {
        !self.overridden.is_empty()
    }
}
