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

    /// The id of the one unit a day of a service that counts "в сутки – 1 услуга" (002 l.1513):
    /// of (service, local date, recipient) — or of the group, for a group's unit — so that every
    /// session of the service that day, on any kiosk of the site, gives the same unit, and the
    /// journal keeps the first.
    pub fn per_day(service: &ServiceCode, date: NaiveDate, whose: Uuid) -> Self {
        let name = format!("{}/{date}/{whose}", service.0);
        UnitId(Uuid::new_v5(&PER_DAY, name.as_bytes()))
    }
}

/// The namespace of per-day unit ids (a fixed random UUID: never change it, or a day's unit
/// sent before and after the change would count twice).
const PER_DAY: Uuid = Uuid::from_u128(0x6f1c_2a4e_93d0_4b7a_a1e5_0c8f_3d29_b6e4);

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
    /// How many minutes the session ran past the service's time norm ("до 40 минут"): `None`
    /// within the norm or where the service has none. An auto-closed session ran its grace
    /// past the norm, so it carries the flag too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub over_norm_minutes: Option<u32>,
    /// The kiosk's clock was synchronised when the session opened.
    #[serde(default)]
    pub clock_synced: bool,
}

impl Unit {
    /// The per-day id this unit would have ([`UnitId::per_day`]): of its recipient, or of its
    /// group for a group's unit; `None` for a group's unit without a group.
    pub fn day_id(&self) -> Option<UnitId> {
        let whose = self.recipient.map(|r| r.0).or(self.group.map(|g| g.0))?;
        Some(UnitId::per_day(&self.service, self.date, whose))
    }

    /// Whether this is the one unit of its day (its id is its per-day id).
    pub fn is_per_day(&self) -> bool {
        self.day_id() == Some(self.id)
    }

    /// Whether the unit was given over a limit (any overridden rule).
    pub fn over_limit(&self) -> bool {
        !self.overridden.is_empty()
    }
}
