//! Recipients, instructors, groups, the recipient's individual programme (ИППСУ) and consent.
//!
//! A kiosk holds the least it needs (152-ФЗ): a display name, card forms (hashed by the app),
//! consent flags and the programme. The feed carries ids, never names.

use crate::catalogue::{Period, ServiceCode};
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// A recipient of social services (получатель социальных услуг).
    RecipientId
);
id_type!(
    /// An instructor (staff member who runs sessions).
    InstructorId
);
id_type!(
    /// A standing group (a club, a workshop group).
    GroupId
);

/// Consent on file for a recipient. A flag not given is "no consent".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Consent {
    /// Agreement to take part in group sessions (000: "по согласованию с получателями").
    pub participation: bool,
    /// Written consent to photo and video (001 line 32). The kiosk never takes pictures; the
    /// flag is shown to the instructor.
    pub photo_video: bool,
}

/// One service in an individual programme: how many per period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgrammeItem {
    pub service: ServiceCode,
    /// How many per period; `None` = as needed (по мере необходимости).
    #[serde(default)]
    pub count: Option<u32>,
    #[serde(flatten)]
    pub period: Period,
    /// The first days of this service's courses, earlier ones included, where the service is
    /// given in courses (002 l.1975 «до двух курсов реабилитации в год», l.3999 «курс – от 15
    /// до 30 дней»). Empty: the programme's `course_start`, if any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub courses: Vec<NaiveDate>,
}

/// The recipient's individual programme of social services (ИППСУ).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Programme {
    pub valid_from: NaiveDate,
    pub valid_to: NaiveDate,
    pub items: Vec<ProgrammeItem>,
    /// The first day of the current rehabilitation course, where the programme has courses
    /// (000: "a 14-calendar-day rehabilitation course"; 002 §2.5: an 18-day course).
    #[serde(default)]
    pub course_start: Option<NaiveDate>,
}

impl Programme {
    /// Whether the programme is in force on `date`.
    pub fn in_force(&self, date: NaiveDate) -> bool {
        self.valid_from <= date && date <= self.valid_to
    }

    /// The programme's item for a service.
    pub fn item(&self, service: &ServiceCode) -> Option<&ProgrammeItem> {
        self.items.iter().find(|i| &i.service == service)
    }

    /// The first days of `service`'s courses, in order, once each: its item's, or else the
    /// programme's `course_start` (older rosters, one course for every service).
    pub fn course_starts(&self, service: &ServiceCode) -> Vec<NaiveDate> {
        let mut starts: Vec<NaiveDate> = match self.item(service) {
            Some(i) if !i.courses.is_empty() => i.courses.clone(),
            _ => self.course_start.into_iter().collect(),
        };
        starts.sort_unstable();
        starts.dedup();
        starts
    }

    /// The latest of `service`'s courses begun on or before `date`.
    pub fn course_at(&self, service: &ServiceCode, date: NaiveDate) -> Option<NaiveDate> {
        self.course_starts(service)
            .into_iter()
            .rfind(|s| *s <= date)
    }

    /// Which of its calendar year's courses of `service` the one begun by `date` is (1 for the
    /// first), and its start; `None` before the first.
    pub fn course_of_year(
        &self,
        service: &ServiceCode,
        date: NaiveDate,
    ) -> Option<(u32, NaiveDate)> {
        let start = self.course_at(service, date)?;
        let nth = self
            .course_starts(service)
            .into_iter()
            .filter(|s| s.year() == start.year() && *s <= start)
            .count();
        Some((u32::try_from(nth).unwrap_or(u32::MAX), start))
    }
}

/// The state of a card on the roster.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardStatus {
    #[default]
    Active,
    Blocked,
    /// Replaced by a newer card (the old one was lost).
    Replaced,
}

/// A recipient as the kiosk knows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipient {
    pub id: RecipientId,
    /// First name and patronymic, as they are addressed ("Мария Ивановна").
    pub display_name: String,
    #[serde(default)]
    pub consent: Consent,
    /// `None`: no programme on file (the rule NotInProgramme then refuses, overridably).
    #[serde(default)]
    pub programme: Option<Programme>,
    #[serde(default)]
    pub groups: Vec<GroupId>,
    /// The recipient's care group (группа ухода, 0–5), where assessed: the seeds set some
    /// norms and whom a service is for by it (002 l.1511, l.1889, l.3357).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub care_group: Option<u8>,
    /// For a minor, the day they turn 18: norms for minors apply before it (002 l.1197,
    /// l.1511, l.3169). The roster carries nothing for adults (152-ФЗ: the least it needs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adult_on: Option<NaiveDate>,
}

impl Recipient {
    /// Whether the recipient is a minor on `date`.
    pub fn minor_on(&self, date: NaiveDate) -> bool {
        self.adult_on.is_some_and(|adult| date < adult)
    }
}

/// An instructor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instructor {
    pub id: InstructorId,
    pub display_name: String,
}

/// A standing group: a club or workshop group with its members and its service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    pub id: GroupId,
    pub name: String,
    pub service: ServiceCode,
    pub members: Vec<RecipientId>,
}
