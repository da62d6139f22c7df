//! The service catalogue: each group service of the regional standards with its limits and its
//! source (seed, item, lines). Loaded from `config/services.toml`.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A service's code: the seed and item, e.g. `000`, `002-1.7.1`, `004-7.5.2`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ServiceCode(pub String);

impl fmt::Display for ServiceCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for ServiceCode {
    fn from(s: &str) -> Self {
        ServiceCode(s.to_string())
    }
}

/// The period a frequency limit counts over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "period")]
pub enum Period {
    /// A calendar day in the site's time zone.
    Day,
    /// A calendar week, Monday to Sunday, in the site's time zone.
    Week,
    /// A calendar month.
    Month,
    /// A calendar quarter.
    Quarter,
    /// A calendar year.
    Year,
    /// A course of N days: from the course start in the recipient's programme, or a rolling
    /// window of N days ending today where no course start is known.
    Course { days: u32 },
}

/// Where a number in the catalogue comes from: a line of a seed and the words that stand there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Citation {
    /// 1-based line in the seed file.
    pub line: u32,
    /// Words that stand at that line (whitespace-normalised), in Russian, as in the seed.
    pub text: String,
}

/// "Not more than `max` per `period`".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrequencyLimit {
    pub max: u32,
    #[serde(flatten)]
    pub period: Period,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cite: Option<Citation>,
}

/// How a session's attendance turns into units of service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitKind {
    /// One session for one recipient = one unit.
    PerRecipient,
    /// One session (event) for the group = one unit.
    PerGroup,
}

/// The unit rule of a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitRule {
    PerRecipient,
    PerGroup,
    /// The standard allows either (002 §1.7.1): the session chooses when it opens.
    SessionChooses,
}

/// A service's source in the seeds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// Seed number: "000" … "004".
    pub seed: String,
    /// Item in the seed ("§1.7.1"), empty where the seed is a single SOP.
    #[serde(default)]
    pub item: String,
    /// First and last line of the service's text in the seed.
    pub lines: [u32; 2],
}

/// One service of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    pub code: ServiceCode,
    pub title_ru: String,
    pub title_en: String,
    #[serde(default)]
    pub group_min: Option<u32>,
    #[serde(default)]
    pub group_max: Option<u32>,
    /// The time norm in minutes ("up to 40 min").
    #[serde(default)]
    pub time_norm_minutes: Option<u32>,
    #[serde(default)]
    pub limits: Vec<FrequencyLimit>,
    pub unit: UnitRule,
    /// True where the seed states no unit and we count one per recipient per session.
    #[serde(default)]
    pub unit_assumed: bool,
    pub source: Source,
}

/// The catalogue.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalogue {
    pub services: Vec<Service>,
}

impl Catalogue {
    /// The service with this code.
    pub fn get(&self, code: &ServiceCode) -> Option<&Service> {
        self.services.iter().find(|s| &s.code == code)
    }
}
