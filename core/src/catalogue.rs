//! The service catalogue: each group service of the regional standards with its limits and its
//! source (seed, item, lines). Shipped as `config/services.toml`; [`Catalogue::from_toml`] turns
//! that text into values (the caller reads the file: `core` does no I/O).
//!
//! Every number the catalogue takes from a seed carries a [`Citation`]: the 1-based line of the
//! seed (`docs/standards/NNN_*.txt`) and the Russian words that stand there, so that a reader can
//! check the number against the standard and `core/tests/catalogue_sources.rs` can check it by
//! machine.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use toml::{Spanned, Value};

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
    /// Words that stand at that line (whitespace-normalised), in Russian, as in the seed. The
    /// fragment may run on into the next line.
    pub text: String,
}

/// "Not more than `max` per `period`".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrequencyLimit {
    /// The most sessions (units) a recipient may have in one period.
    pub max: u32,
    /// The period the limit counts over.
    #[serde(flatten)]
    pub period: Period,
    /// The seed's words for `max` (and, for a course, its days).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cite: Option<Citation>,
    /// The cap is on the group's sessions, not on each recipient's units (002 l.1251 «не более
    /// 1 раза в месяц для группы получателей услуг», `per = "group"`): a recipient is never
    /// refused for it; the group's sessions are counted against it ([`crate::rules::group_caps`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub per_group: bool,
    /// Whom the cap counts for (`applies_to`): all recipients unless the seed gives minors
    /// their own.
    #[serde(default, skip_serializing_if = "Applies::is_all")]
    pub applies: Applies,
    /// Which of the service's sessions the cap counts (`form`): all of them, or only its
    /// regular sessions or only its events where the seed gives each its own frequency (002
    /// l.3169 circles «3 раза в неделю», l.3171 excursions and cultural events «1 раз в месяц»).
    #[serde(default, skip_serializing_if = "Form::is_any")]
    pub form: Form,
}

/// Which sessions of a service a cap counts and applies to: a service with an event form
/// (`Service::event`) may have a frequency for each form (002 §4.5). Key `form` of a cap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Form {
    /// Every session of the service.
    #[default]
    Any,
    /// Its regular sessions (a circle, a class), not its events.
    Regular,
    /// Its events only (`Service::event`: an excursion, a mass event).
    Event,
}

impl Form {
    /// Whether a session opened as an event (or not) is one this cap counts.
    pub fn counts(self, event: bool) -> bool {
        match self {
            Form::Any => true,
            Form::Regular => !event,
            Form::Event => event,
        }
    }

    fn is_any(&self) -> bool {
        *self == Form::Any
    }
}

/// "Not less than `min` per `period`" (не реже, от N раз): a frequency the provider owes. It
/// never refuses a tap; plan vs fact shows where it was not met.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrequencyFloor {
    /// The fewest sessions (units) a recipient should have in one period.
    pub min: u32,
    /// The period the floor counts over.
    #[serde(flatten)]
    pub period: Period,
    /// The seed's words for `min`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cite: Option<Citation>,
    /// Whom the floor is owed to (`applies_to`).
    #[serde(default, skip_serializing_if = "Applies::is_all")]
    pub applies: Applies,
}

/// Whom a cap or a floor counts for: the seeds give minors their own frequencies (002 l.1197
/// «Для несовершеннолетних граждан по мере возникновения потребности»: no cap; l.3169 «для
/// несовершеннолетних до 7 раз в неделю»). Key `applies_to` of a cap or a floor.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Applies {
    /// Every recipient.
    #[default]
    All,
    /// Recipients who are not minors on the day.
    Adults,
    /// Minors only.
    Minors,
}

impl Applies {
    /// Whether it counts for a recipient who is (or is not) a minor on the day.
    pub fn to(self, minor: bool) -> bool {
        match self {
            Applies::All => true,
            Applies::Adults => !minor,
            Applies::Minors => minor,
        }
    }

    fn is_all(&self) -> bool {
        *self == Applies::All
    }
}

/// Recipients as a seed names them by care group (группа ухода) and age: «для 1-5 групп ухода,
/// а также для несовершеннолетних граждан» (002 l.1889) is `care_groups = [1, 5]`,
/// `minors = true`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Whom {
    /// The lowest and the highest care group named, inclusive.
    pub care_groups: [u8; 2],
    /// Minors are named too, whatever their care group.
    pub minors: bool,
    /// The seed's words.
    pub cite: Citation,
}

impl Whom {
    /// Whether a recipient of `care_group` (unknown: `None`) who is or is not a minor is named:
    /// `None` where it cannot be told (an adult whose care group is not on file).
    pub fn includes(&self, care_group: Option<u8>, minor: bool) -> Option<bool> {
        if minor && self.minors {
            return Some(true);
        }
        let [low, high] = self.care_groups;
        care_group.map(|g| (low..=high).contains(&g))
    }
}

/// A longer time norm for some recipients (002 l.1511 «для 3-5 группы ухода и для
/// несовершеннолетних до 150 мин.»): their units are judged by it, and a session with one of
/// them in it closes itself after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LongerNorm {
    pub minutes: u32,
    /// Whom it is for; its citation is the norm's.
    pub whom: Whom,
}

/// The courses a service is given in (002 l.1975 «В течение года до двух курсов реабилитации»,
/// l.3999 «курс – от 15 до 30 дней»). The courses' first days come from the recipient's
/// programme (`Programme::courses`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Courses {
    /// The most courses starting in one calendar year: a session in a later one is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_year: Option<u32>,
    /// The shortest and the longest course in days: a session after the longest course's last
    /// day, counted from the course's start, is refused (the shortest is for the programme).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<[u32; 2]>,
    /// The seed's words.
    pub cite: Citation,
}

impl Courses {
    /// The first pair of course starts (sorted) closer together than the shortest course
    /// (002 l.3999 «курс – от 15 до 30 дней»): the earlier course would end before its
    /// shortest length when the next one begins. The programme's form refuses it.
    pub fn too_close(
        &self,
        starts: &[chrono::NaiveDate],
    ) -> Option<(chrono::NaiveDate, chrono::NaiveDate)> {
        let [shortest, _] = self.days?;
        starts
            .windows(2)
            .map(|w| (w[0], w[1]))
            .find(|(a, b)| (*b - *a).num_days() < i64::from(shortest))
    }
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
    /// Always one unit per recipient per session.
    PerRecipient,
    /// Always one unit per session (event) for the group.
    PerGroup,
    /// The standard allows either (002 §1.7.1): the session chooses when it opens.
    SessionChooses,
}

impl UnitRule {
    /// Whether a session of this service may count its units as `kind`.
    pub fn allows(self, kind: UnitKind) -> bool {
        match self {
            UnitRule::PerRecipient => kind == UnitKind::PerRecipient,
            UnitRule::PerGroup => kind == UnitKind::PerGroup,
            UnitRule::SessionChooses => true,
        }
    }

    /// The unit kind when the rule leaves no choice; `None` for [`UnitRule::SessionChooses`].
    pub fn fixed(self) -> Option<UnitKind> {
        match self {
            UnitRule::PerRecipient => Some(UnitKind::PerRecipient),
            UnitRule::PerGroup => Some(UnitKind::PerGroup),
            UnitRule::SessionChooses => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            UnitRule::PerRecipient => "per_recipient",
            UnitRule::PerGroup => "per_group",
            UnitRule::SessionChooses => "session_chooses",
        }
    }
}

/// A service's source in the seeds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// Seed number: "000" … "004".
    pub seed: String,
    /// Item in the seed ("§1.7.1"), empty where the seed is a single SOP.
    #[serde(default)]
    pub item: String,
    /// First and last line of the service's text in the seed (1-based, inclusive).
    pub lines: [u32; 2],
}

/// One service of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    /// The service's code, e.g. `002-1.7.1`.
    pub code: ServiceCode,
    /// The service's name as the seed gives it.
    pub title_ru: String,
    /// Our translation of the name.
    pub title_en: String,
    /// The smallest group the seed allows (e.g. "группа не менее 5 человек").
    #[serde(default)]
    pub group_min: Option<u32>,
    /// The largest group the seed allows.
    #[serde(default)]
    pub group_max: Option<u32>,
    /// The time norm in minutes ("up to 40 min").
    #[serde(default)]
    pub time_norm_minutes: Option<u32>,
    /// Frequency caps per recipient; empty where the seed sets none ("as needed").
    #[serde(default)]
    pub limits: Vec<FrequencyLimit>,
    /// Minimum frequencies (не реже, от N раз): owed, never a refusal.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub floors: Vec<FrequencyFloor>,
    /// How a session's attendance becomes units.
    pub unit: UnitRule,
    /// True where the seed states no unit and we count one per recipient per session.
    #[serde(default)]
    pub unit_assumed: bool,
    /// One unit a day, however many sessions (002 l.1513 «в сутки – 1 услуга»): every session
    /// of the service on one local date gives the recipient (or the group) the same unit.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unit_per_day: bool,
    /// Given at the recipient's home (patronage, 003): staff record it on the journal's pages;
    /// a kiosk does not offer it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub home_visit: bool,
    /// Where in the seeds the service is described.
    pub source: Source,
    /// The seed's words for `group_min`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_min_cite: Option<Citation>,
    /// The seed's words for `group_max`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_max_cite: Option<Citation>,
    /// The seed's words for `time_norm_minutes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_norm_cite: Option<Citation>,
    /// The seed's words allowing an individual session besides the group ("либо индивидуальное
    /// занятие"): a session of one is then not below the group minimum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub individual_cite: Option<Citation>,
    /// The seed's words requiring a safety briefing before the session (000 l.56 "проведение
    /// инструктажа по соблюдению техники безопасности"): where present, a session opens only
    /// once the instructor confirms the briefing was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safety_briefing_cite: Option<Citation>,
    /// The seed's words for the unit of service (absent where `unit_assumed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_cite: Option<Citation>,
    /// The service's other form with a longer norm (002 l.1199 «проведение культурно-массового
    /// мероприятия - до 120 минут», l.3171 excursions up to 4 hours): a session may be opened
    /// as such an event, and then its norm is the event's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<EventForm>,
    /// Whom the seed gives the service to, by care group and age (`for_whom`, 002 l.1889,
    /// l.3357): a recipient it does not name is refused, overridably.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub for_whom: Option<Whom>,
    /// A longer time norm for some recipients (`time_norm_longer`, 002 l.1511).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_norm_longer: Option<LongerNorm>,
    /// The courses the service is given in (`courses`, 002 l.1975, l.3999).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub courses: Option<Courses>,
    /// What the numbers leave out: other norms of the same item, "as needed" frequencies, our
    /// readings of unclear wording. For people, not for rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// An event form of a service: a mass event, an excursion — its name and its own time norm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventForm {
    /// The seed's name of the form ("культурно-массовое мероприятие").
    pub title_ru: String,
    pub title_en: String,
    pub time_norm_minutes: u32,
    /// The seed's words for the event's norm.
    pub time_norm_cite: Citation,
}

impl Service {
    /// Every citation of the service, with the key it belongs to (`limits.cite` for each limit).
    pub fn citations(&self) -> Vec<(&'static str, &Citation)> {
        let fields = [
            ("group_min_cite", &self.group_min_cite),
            ("group_max_cite", &self.group_max_cite),
            ("time_norm_cite", &self.time_norm_cite),
            ("unit_cite", &self.unit_cite),
            ("individual_cite", &self.individual_cite),
            ("safety_briefing_cite", &self.safety_briefing_cite),
        ];
        let mut out: Vec<(&'static str, &Citation)> = fields
            .into_iter()
            .filter_map(|(key, cite)| cite.as_ref().map(|c| (key, c)))
            .collect();
        out.extend(
            self.event
                .iter()
                .map(|e| ("event.time_norm_cite", &e.time_norm_cite)),
        );
        out.extend(self.for_whom.iter().map(|w| ("for_whom.cite", &w.cite)));
        out.extend(
            self.time_norm_longer
                .iter()
                .map(|l| ("time_norm_longer.cite", &l.whom.cite)),
        );
        out.extend(self.courses.iter().map(|c| ("courses.cite", &c.cite)));
        out.extend(
            self.limits
                .iter()
                .filter_map(|l| l.cite.as_ref().map(|c| ("limits.cite", c))),
        );
        out.extend(
            self.floors
                .iter()
                .filter_map(|f| f.cite.as_ref().map(|c| ("floors.cite", c))),
        );
        out
    }

    /// Whether a session must begin with the safety briefing (the seed says so: see
    /// `safety_briefing_cite`).
    pub fn needs_safety_briefing(&self) -> bool {
        self.safety_briefing_cite.is_some()
    }

    /// The time norm of a session of the service, or of its event form where `event`.
    pub fn time_norm(&self, event: bool) -> Option<u32> {
        match (&self.event, event) {
            (Some(form), true) => Some(form.time_norm_minutes),
            _ => self.time_norm_minutes,
        }
    }

    /// The time norm for one recipient of a session: the longer norm where the seed gives
    /// them one (`time_norm_longer`: their care group or being a minor on the day), else
    /// [`Service::time_norm`]. An event form keeps its own norm.
    pub fn time_norm_for(&self, event: bool, care_group: Option<u8>, minor: bool) -> Option<u32> {
        let base = self.time_norm(event);
        if event && self.event.is_some() {
            return base;
        }
        match &self.time_norm_longer {
            Some(longer) if longer.whom.includes(care_group, minor) == Some(true) => {
                Some(base.map_or(longer.minutes, |b| b.max(longer.minutes)))
            }
            _ => base,
        }
    }

    /// How many whole minutes a session from `start` to `end` ran past the time norm (of the
    /// event form where `event`); `None` within it, or where the service has no norm.
    pub fn minutes_over_norm(
        &self,
        event: bool,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Option<u32> {
        minutes_over(self.time_norm(event)?, start, end)
    }

    /// Whether a session of `present` people is below the group minimum: a session of one is
    /// not, where the seed allows an individual session.
    pub fn below_group_min(&self, present: usize) -> bool {
        let individual = present == 1 && self.individual_cite.is_some();
        !individual
            && self
                .group_min
                .is_some_and(|min| (present as u64) < u64::from(min))
    }
}

/// How many whole minutes a session from `start` to `end` ran past a norm of `norm` minutes;
/// `None` within it.
pub fn minutes_over(norm: u32, start: DateTime<Utc>, end: DateTime<Utc>) -> Option<u32> {
    let over = (end - start).num_minutes() - i64::from(norm);
    (over > 0).then(|| u32::try_from(over).unwrap_or(u32::MAX))
}

/// The catalogue.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalogue {
    /// The services, in the order of the file.
    pub services: Vec<Service>,
}

impl Catalogue {
    /// The service with this code.
    pub fn get(&self, code: &ServiceCode) -> Option<&Service> {
        self.services.iter().find(|s| &s.code == code)
    }

    /// Parses and validates the catalogue from the text of `services.toml`. `file_name` is used
    /// only in error messages (`config/services.toml:42: key "group_max": ...`).
    pub fn from_toml(file_name: &str, text: &str) -> Result<Catalogue, CatalogueError> {
        let ctx = Ctx {
            file: file_name,
            text,
        };
        let raw: RawCatalogue = toml::from_str(text).map_err(|e| ctx.toml_error(&e))?;
        let mut first_line_of: HashMap<String, usize> = HashMap::new();
        let mut services = Vec::with_capacity(raw.services.len());
        for raw_service in raw.services {
            let span = raw_service.span();
            let raw_service = raw_service.into_inner();
            // The code's own line, for the duplicate message.
            let line = raw_service
                .code
                .as_ref()
                .map_or_else(|| ctx.line(span.start), |c| ctx.line(c.span().start));
            let service = ctx.service(raw_service, span)?;
            if let Some(first_line) = first_line_of.get(&service.code.0) {
                return Err(ctx.at_line(
                    line,
                    "code",
                    CatalogueProblem::DuplicateCode {
                        code: service.code.0.clone(),
                        first_line: *first_line,
                    },
                ));
            }
            first_line_of.insert(service.code.0.clone(), line);
            services.push(service);
        }
        Ok(Catalogue { services })
    }
}

/// A catalogue that cannot be loaded: where (file, line, key) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}", location(.file, *.line, .key.as_deref()), .problem)]
pub struct CatalogueError {
    /// The file name given to [`Catalogue::from_toml`].
    pub file: String,
    /// 1-based line of the offending key or value, where known.
    pub line: Option<usize>,
    /// The key at fault, dotted inside a service (`source.lines`, `limits.max`), where known.
    pub key: Option<String>,
    /// What is wrong.
    pub problem: CatalogueProblem,
}

fn location(file: &str, line: Option<usize>, key: Option<&str>) -> String {
    let mut out = String::from(file);
    if let Some(line) = line {
        out.push_str(&format!(":{line}"));
    }
    out.push_str(": ");
    if let Some(key) = key {
        out.push_str(&format!("key \"{key}\": "));
    }
    out
}

/// What is wrong with a catalogue entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogueProblem {
    /// The TOML parser's own message (syntax error, unknown key, wrong shape).
    #[error("{0}")]
    Toml(String),
    /// A value of the wrong type or range.
    #[error("expected {expected}, found {found}")]
    Expected {
        /// What the key takes.
        expected: &'static str,
        /// The value found, as TOML.
        found: String,
    },
    /// A required key is absent.
    #[error("missing; expected {expected}")]
    Missing {
        /// What the key takes.
        expected: &'static str,
    },
    /// Two services with one code.
    #[error(
        "duplicate service code \"{code}\", first defined at line {first_line}; expected each code once"
    )]
    DuplicateCode {
        /// The code.
        code: String,
        /// Line of the first definition.
        first_line: usize,
    },
    /// `group_min` above `group_max`.
    #[error("group_min {min} is greater than group_max {max}; expected group_min <= group_max")]
    GroupMinAboveMax {
        /// The minimum given.
        min: u32,
        /// The maximum given.
        max: u32,
    },
    /// A period name we do not know.
    #[error(
        "expected one of \"day\", \"week\", \"month\", \"quarter\", \"year\", \"course\", found {found}"
    )]
    UnknownPeriod {
        /// The value found, as TOML.
        found: String,
    },
    /// `days` given with a period other than a course.
    #[error("expected \"days\" only with period = \"course\", found period = \"{period}\"")]
    DaysWithoutCourse {
        /// The period given.
        period: String,
    },
    /// `unit_assumed = true` with a unit other than per recipient.
    #[error(
        "unit_assumed = true (the seed states no unit) requires unit = \"per_recipient\", found \"{found}\""
    )]
    AssumedUnitNotPerRecipient {
        /// The unit given.
        found: &'static str,
    },
    /// `source.lines` with the first line after the last.
    #[error("lines reversed: first {first} is after last {last}; expected [first, last]")]
    LinesReversed {
        /// First line given.
        first: u32,
        /// Last line given.
        last: u32,
    },
    /// A citation outside the service's source lines.
    #[error(
        "citation line {line} lies outside the service's source lines [{first}, {last}]; expected a line within them"
    )]
    CitationOutsideSource {
        /// The cited line.
        line: u32,
        /// First source line.
        first: u32,
        /// Last source line.
        last: u32,
    },
    /// A minimum in the caps' table or a maximum in the floors'.
    #[error(
        "a frequency's {key} belongs in [[services.{table}]]: limits are caps (max), floors are minimums (min)"
    )]
    CapOrFloor {
        /// Where the key belongs.
        table: &'static str,
        /// The key found.
        key: &'static str,
    },
    /// A code that does not name its source seed.
    #[error("expected the source seed \"{seed}\" or \"{seed}-<item>\", found \"{found}\"")]
    CodeNotOfSeed {
        /// The seed of `source.seed`.
        seed: String,
        /// The code given.
        found: String,
    },
}

// ---- The raw shape of the file: every scalar spanned, so that an error can name its line. ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename = "catalogue")]
struct RawCatalogue {
    #[serde(default)]
    services: Vec<Spanned<RawService>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename = "service")]
struct RawService {
    code: Option<Spanned<Value>>,
    title_ru: Option<Spanned<Value>>,
    title_en: Option<Spanned<Value>>,
    group_min: Option<Spanned<Value>>,
    group_max: Option<Spanned<Value>>,
    time_norm_minutes: Option<Spanned<Value>>,
    unit: Option<Spanned<Value>>,
    unit_assumed: Option<Spanned<Value>>,
    unit_per_day: Option<Spanned<Value>>,
    home_visit: Option<Spanned<Value>>,
    note: Option<Spanned<Value>>,
    group_min_cite: Option<Spanned<RawCite>>,
    group_max_cite: Option<Spanned<RawCite>>,
    time_norm_cite: Option<Spanned<RawCite>>,
    unit_cite: Option<Spanned<RawCite>>,
    individual_cite: Option<Spanned<RawCite>>,
    safety_briefing_cite: Option<Spanned<RawCite>>,
    event: Option<Spanned<RawEvent>>,
    for_whom: Option<Spanned<RawWhom>>,
    time_norm_longer: Option<Spanned<RawWhom>>,
    courses: Option<Spanned<RawCourses>>,
    #[serde(default)]
    limits: Vec<Spanned<RawLimit>>,
    #[serde(default)]
    floors: Vec<Spanned<RawLimit>>,
    source: Option<Spanned<RawSource>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename = "citation")]
struct RawCite {
    line: Option<Spanned<Value>>,
    text: Option<Spanned<Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename = "event")]
struct RawEvent {
    title_ru: Option<Spanned<Value>>,
    title_en: Option<Spanned<Value>>,
    time_norm_minutes: Option<Spanned<Value>>,
    time_norm_cite: Option<Spanned<RawCite>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename = "limit")]
struct RawLimit {
    max: Option<Spanned<Value>>,
    min: Option<Spanned<Value>>,
    period: Option<Spanned<Value>>,
    days: Option<Spanned<Value>>,
    per: Option<Spanned<Value>>,
    applies_to: Option<Spanned<Value>>,
    form: Option<Spanned<Value>>,
    cite: Option<Spanned<RawCite>>,
}

/// `for_whom` and `time_norm_longer` (with `minutes`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename = "whom")]
struct RawWhom {
    minutes: Option<Spanned<Value>>,
    care_groups: Option<Spanned<Value>>,
    minors: Option<Spanned<Value>>,
    cite: Option<Spanned<RawCite>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename = "courses")]
struct RawCourses {
    per_year: Option<Spanned<Value>>,
    days: Option<Spanned<Value>>,
    cite: Option<Spanned<RawCite>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename = "source")]
struct RawSource {
    seed: Option<Spanned<Value>>,
    item: Option<Spanned<Value>>,
    lines: Option<Spanned<Value>>,
}

const POSITIVE: &str = "a positive integer";
const TEXT: &str = "a non-empty string";

/// The file being parsed: turns spans into lines and builds errors.
struct Ctx<'a> {
    file: &'a str,
    text: &'a str,
}

impl Ctx<'_> {
    fn line(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        1 + self.text.as_bytes()[..end]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
    }

    fn at(&self, span: &Range<usize>, key: &str, problem: CatalogueProblem) -> CatalogueError {
        self.at_line(self.line(span.start), key, problem)
    }

    fn at_line(&self, line: usize, key: &str, problem: CatalogueProblem) -> CatalogueError {
        CatalogueError {
            file: self.file.to_string(),
            line: Some(line),
            key: Some(key.to_string()),
            problem,
        }
    }

    fn toml_error(&self, e: &toml::de::Error) -> CatalogueError {
        let span = e.span();
        let message = e.message().trim().to_string();
        let key =
            key_in_message(&message).or_else(|| span.as_ref().and_then(|s| key_at(self.text, s)));
        CatalogueError {
            file: self.file.to_string(),
            line: span.map(|s| self.line(s.start)),
            key,
            problem: CatalogueProblem::Toml(message),
        }
    }

    fn required<'v, T>(
        &self,
        value: &'v Option<Spanned<T>>,
        whole: &Range<usize>,
        key: &str,
        expected: &'static str,
    ) -> Result<&'v Spanned<T>, CatalogueError> {
        value
            .as_ref()
            .ok_or_else(|| self.at(whole, key, CatalogueProblem::Missing { expected }))
    }

    fn positive(&self, value: &Spanned<Value>, key: &str) -> Result<u32, CatalogueError> {
        match value.get_ref() {
            Value::Integer(i) if *i > 0 => u32::try_from(*i)
                .map_err(|_| self.at(&value.span(), key, expected(POSITIVE, value.get_ref()))),
            other => Err(self.at(&value.span(), key, expected(POSITIVE, other))),
        }
    }

    fn opt_positive(
        &self,
        value: &Option<Spanned<Value>>,
        key: &str,
    ) -> Result<Option<u32>, CatalogueError> {
        value.as_ref().map(|v| self.positive(v, key)).transpose()
    }

    /// A `true`/`false` key; absent is false.
    fn flag(&self, value: &Option<Spanned<Value>>, key: &str) -> Result<bool, CatalogueError> {
        match value.as_ref().map(|v| (v.get_ref(), v.span())) {
            None => Ok(false),
            Some((Value::Boolean(b), _)) => Ok(*b),
            Some((other, span)) => Err(self.at(&span, key, expected("true or false", other))),
        }
    }

    fn string(&self, value: &Spanned<Value>, key: &str) -> Result<String, CatalogueError> {
        match value.get_ref() {
            Value::String(s) if !s.trim().is_empty() => Ok(s.clone()),
            other => Err(self.at(&value.span(), key, expected(TEXT, other))),
        }
    }

    /// A citation that must be there (`whole`: the table it belongs in, for the message).
    fn required_cite(
        &self,
        raw: &Option<Spanned<RawCite>>,
        whole: &Range<usize>,
        key: &str,
    ) -> Result<Citation, CatalogueError> {
        self.cite(raw, key)?.ok_or_else(|| {
            self.at(
                whole,
                key,
                CatalogueProblem::Missing {
                    expected: "a table { line, text }",
                },
            )
        })
    }

    fn cite(
        &self,
        raw: &Option<Spanned<RawCite>>,
        key: &str,
    ) -> Result<Option<Citation>, CatalogueError> {
        let Some(raw) = raw else { return Ok(None) };
        let whole = raw.span();
        let raw = raw.get_ref();
        let line_key = format!("{key}.line");
        let text_key = format!("{key}.text");
        let line = self.required(&raw.line, &whole, &line_key, POSITIVE)?;
        let text = self.required(&raw.text, &whole, &text_key, TEXT)?;
        Ok(Some(Citation {
            line: self.positive(line, &line_key)?,
            text: self.string(text, &text_key)?,
        }))
    }

    /// A cap; `has_event`: the service has an event form, which a cap's `form` may name.
    fn limit(
        &self,
        raw: &Spanned<RawLimit>,
        has_event: bool,
    ) -> Result<FrequencyLimit, CatalogueError> {
        let (max, period, cite) = self.frequency(raw, "limits")?;
        let per_group = self.opt_word(
            raw.get_ref().per.as_ref(),
            "limits.per",
            "one of \"recipient\", \"group\"",
            false,
            &[("recipient", false), ("group", true)],
        )?;
        let form = self.opt_word(
            raw.get_ref().form.as_ref(),
            "limits.form",
            "one of \"any\", \"regular\", \"event\"",
            Form::Any,
            &[
                ("any", Form::Any),
                ("regular", Form::Regular),
                ("event", Form::Event),
            ],
        )?;
        if let Some(v) = &raw.get_ref().form
            && form != Form::Any
        {
            if per_group {
                let wrong =
                    "no `form` with per = \"group\" (a group's cap counts all its sessions)";
                return Err(self.at(&v.span(), "limits.form", expected(wrong, v.get_ref())));
            }
            if !has_event {
                let wrong = "no `form` for a service without an `event` form";
                return Err(self.at(&v.span(), "limits.form", expected(wrong, v.get_ref())));
            }
        }
        Ok(FrequencyLimit {
            max,
            period,
            cite,
            per_group,
            applies: self.applies(raw, "limits.applies_to")?,
            form,
        })
    }

    fn applies(&self, raw: &Spanned<RawLimit>, key: &str) -> Result<Applies, CatalogueError> {
        self.opt_word(
            raw.get_ref().applies_to.as_ref(),
            key,
            "one of \"all\", \"adults\", \"minors\"",
            Applies::All,
            &[
                ("all", Applies::All),
                ("adults", Applies::Adults),
                ("minors", Applies::Minors),
            ],
        )
    }

    /// A value that is one of a few words (`choices`; `what` names them for the error).
    fn word<T: Copy>(
        &self,
        value: &Spanned<Value>,
        key: &str,
        what: &'static str,
        choices: &[(&str, T)],
    ) -> Result<T, CatalogueError> {
        let chosen = match value.get_ref() {
            Value::String(s) => choices.iter().find(|(w, _)| w == s).map(|(_, t)| *t),
            _ => None,
        };
        chosen.ok_or_else(|| self.at(&value.span(), key, expected(what, value.get_ref())))
    }

    /// [`Ctx::word`] of an optional key, `default` where it is absent.
    fn opt_word<T: Copy>(
        &self,
        value: Option<&Spanned<Value>>,
        key: &str,
        what: &'static str,
        default: T,
        choices: &[(&str, T)],
    ) -> Result<T, CatalogueError> {
        value.map_or(Ok(default), |v| self.word(v, key, what, choices))
    }

    /// A pair `[low, high]` of positive (or, with `zero`, non-negative) integers, low ≤ high.
    fn pair(
        &self,
        value: &Spanned<Value>,
        key: &str,
        zero: bool,
    ) -> Result<[u32; 2], CatalogueError> {
        const PAIR: &str = "[low, high]: two integers, low not above high";
        let least = i64::from(!zero);
        let pair = match value.get_ref() {
            Value::Array(a) => match a.as_slice() {
                [Value::Integer(low), Value::Integer(high)] if least <= *low && low <= high => {
                    u32::try_from(*low).ok().zip(u32::try_from(*high).ok())
                }
                _ => None,
            },
            _ => None,
        };
        pair.map(|(l, h)| [l, h])
            .ok_or_else(|| self.at(&value.span(), key, expected(PAIR, value.get_ref())))
    }

    /// `for_whom` or `time_norm_longer`: care groups (0–5) and minors, with a citation.
    fn whom(
        &self,
        raw: &Spanned<RawWhom>,
        key: &str,
    ) -> Result<(Whom, Option<u32>), CatalogueError> {
        let whole = raw.span();
        let w = raw.get_ref();
        let groups_key = format!("{key}.care_groups");
        let groups = self.required(
            &w.care_groups,
            &whole,
            &groups_key,
            "[low, high]: care groups 0-5",
        )?;
        let [low, high] = self.pair(groups, &groups_key, true)?;
        let care_group = |g: u32| u8::try_from(g).ok().filter(|g| *g <= 5);
        let (Some(low), Some(high)) = (care_group(low), care_group(high)) else {
            return Err(self.at(
                &groups.span(),
                &groups_key,
                expected("care groups 0-5", groups.get_ref()),
            ));
        };
        let cite = self.required_cite(&w.cite, &whole, &format!("{key}.cite"))?;
        let minutes_key = format!("{key}.minutes");
        let minutes = match (&w.minutes, key) {
            (Some(m), "time_norm_longer") => Some(self.positive(m, &minutes_key)?),
            (None, "time_norm_longer") => {
                return Err(self.at(
                    &whole,
                    &minutes_key,
                    CatalogueProblem::Missing { expected: POSITIVE },
                ));
            }
            (Some(m), _) => {
                return Err(self.at(
                    &m.span(),
                    &minutes_key,
                    expected("no `minutes` (only time_norm_longer has them)", m.get_ref()),
                ));
            }
            (None, _) => None,
        };
        let whom = Whom {
            care_groups: [low, high],
            minors: self.flag(&w.minors, &format!("{key}.minors"))?,
            cite,
        };
        Ok((whom, minutes))
    }

    /// `courses`: `per_year`, `days` or both, with a citation.
    fn courses(&self, raw: &Spanned<RawCourses>) -> Result<Courses, CatalogueError> {
        let whole = raw.span();
        let c = raw.get_ref();
        let per_year = self.opt_positive(&c.per_year, "courses.per_year")?;
        let days = c
            .days
            .as_ref()
            .map(|d| self.pair(d, "courses.days", false))
            .transpose()?;
        if per_year.is_none() && days.is_none() {
            return Err(self.at(
                &whole,
                "courses",
                CatalogueProblem::Missing {
                    expected: "per_year or days",
                },
            ));
        }
        let cite = self.required_cite(&c.cite, &whole, "courses.cite")?;
        Ok(Courses {
            per_year,
            days,
            cite,
        })
    }

    fn floor(&self, raw: &Spanned<RawLimit>) -> Result<FrequencyFloor, CatalogueError> {
        if let Some(per) = &raw.get_ref().per {
            let problem = expected("no `per` (a floor is the recipient's)", per.get_ref());
            return Err(self.at(&per.span(), "floors.per", problem));
        }
        if let Some(form) = &raw.get_ref().form {
            let problem = expected("no `form` (a floor counts every session)", form.get_ref());
            return Err(self.at(&form.span(), "floors.form", problem));
        }
        let (min, period, cite) = self.frequency(raw, "floors")?;
        Ok(FrequencyFloor {
            min,
            period,
            cite,
            applies: self.applies(raw, "floors.applies_to")?,
        })
    }

    /// A cap (`[[services.limits]]`, with `max`) or a floor (`[[services.floors]]`, with `min`):
    /// its number, period and citation.
    fn frequency(
        &self,
        raw: &Spanned<RawLimit>,
        table: &str,
    ) -> Result<(u32, Period, Option<Citation>), CatalogueError> {
        let whole = raw.span();
        let raw = raw.get_ref();
        let (count, wrong, count_name, wrong_name) = match table {
            "limits" => (&raw.max, &raw.min, "max", "min"),
            _ => (&raw.min, &raw.max, "min", "max"),
        };
        let key = |k: &str| format!("{table}.{k}");
        if let Some(wrong) = wrong {
            return Err(self.at(
                &wrong.span(),
                &key(wrong_name),
                CatalogueProblem::CapOrFloor {
                    table: if table == "limits" {
                        "floors"
                    } else {
                        "limits"
                    },
                    key: wrong_name,
                },
            ));
        }
        let count = self.required(count, &whole, &key(count_name), POSITIVE)?;
        let count = self.positive(count, &key(count_name))?;
        let period_key = key("period");
        let period_value = self.required(&raw.period, &whole, &period_key, "a period name")?;
        let period_name = match period_value.get_ref() {
            Value::String(s) => s.as_str(),
            other => {
                return Err(self.at(
                    &period_value.span(),
                    &period_key,
                    CatalogueProblem::UnknownPeriod {
                        found: other.to_string(),
                    },
                ));
            }
        };
        let period = match period_name {
            "day" => Period::Day,
            "week" => Period::Week,
            "month" => Period::Month,
            "quarter" => Period::Quarter,
            "year" => Period::Year,
            "course" => {
                let days = self.required(&raw.days, &whole, &key("days"), POSITIVE)?;
                Period::Course {
                    days: self.positive(days, &key("days"))?,
                }
            }
            _ => {
                return Err(self.at(
                    &period_value.span(),
                    &period_key,
                    CatalogueProblem::UnknownPeriod {
                        found: period_value.get_ref().to_string(),
                    },
                ));
            }
        };
        if let (Some(days), false) = (&raw.days, matches!(period, Period::Course { .. })) {
            return Err(self.at(
                &days.span(),
                &key("days"),
                CatalogueProblem::DaysWithoutCourse {
                    period: period_name.to_string(),
                },
            ));
        }
        Ok((count, period, self.cite(&raw.cite, &key("cite"))?))
    }

    fn source(&self, raw: &Spanned<RawSource>) -> Result<Source, CatalogueError> {
        let whole = raw.span();
        let raw = raw.get_ref();
        let seed = self.required(
            &raw.seed,
            &whole,
            "source.seed",
            "a seed number such as \"002\"",
        )?;
        let seed_text = match seed.get_ref() {
            Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => s.clone(),
            other => {
                return Err(self.at(
                    &seed.span(),
                    "source.seed",
                    expected("a seed number such as \"002\"", other),
                ));
            }
        };
        let item = match &raw.item {
            None => String::new(),
            Some(item) => match item.get_ref() {
                Value::String(s) => s.clone(),
                other => {
                    return Err(self.at(&item.span(), "source.item", expected("a string", other)));
                }
            },
        };
        const LINES: &str = "[first, last]: two positive line numbers";
        let lines = self.required(&raw.lines, &whole, "source.lines", LINES)?;
        let pair = match lines.get_ref() {
            Value::Array(a) => match a.as_slice() {
                [Value::Integer(first), Value::Integer(last)] => {
                    match (u32::try_from(*first), u32::try_from(*last)) {
                        (Ok(f), Ok(l)) if f > 0 && l > 0 => Some([f, l]),
                        _ => None,
                    }
                }
                _ => None,
            },
            _ => None,
        };
        let Some([first, last]) = pair else {
            return Err(self.at(
                &lines.span(),
                "source.lines",
                expected(LINES, lines.get_ref()),
            ));
        };
        if first > last {
            return Err(self.at(
                &lines.span(),
                "source.lines",
                CatalogueProblem::LinesReversed { first, last },
            ));
        }
        Ok(Source {
            seed: seed_text,
            item,
            lines: [first, last],
        })
    }

    fn service(&self, raw: RawService, whole: Range<usize>) -> Result<Service, CatalogueError> {
        let code_value = self.required(&raw.code, &whole, "code", TEXT)?;
        let code = ServiceCode(self.string(code_value, "code")?);
        let title_ru = self.string(
            self.required(&raw.title_ru, &whole, "title_ru", TEXT)?,
            "title_ru",
        )?;
        let title_en = self.string(
            self.required(&raw.title_en, &whole, "title_en", TEXT)?,
            "title_en",
        )?;
        let group_min = self.opt_positive(&raw.group_min, "group_min")?;
        let group_max = self.opt_positive(&raw.group_max, "group_max")?;
        if let (Some(min), Some(max), Some(at)) = (group_min, group_max, &raw.group_min) {
            if min > max {
                return Err(self.at(
                    &at.span(),
                    "group_min",
                    CatalogueProblem::GroupMinAboveMax { min, max },
                ));
            }
        }
        let time_norm_minutes = self.opt_positive(&raw.time_norm_minutes, "time_norm_minutes")?;

        const UNITS: &str = "one of \"per_recipient\", \"per_group\", \"session_chooses\"";
        let unit_value = self.required(&raw.unit, &whole, "unit", UNITS)?;
        let unit = self.word(
            unit_value,
            "unit",
            UNITS,
            &[
                ("per_recipient", UnitRule::PerRecipient),
                ("per_group", UnitRule::PerGroup),
                ("session_chooses", UnitRule::SessionChooses),
            ],
        )?;
        let unit_assumed = self.flag(&raw.unit_assumed, "unit_assumed")?;
        let unit_per_day = self.flag(&raw.unit_per_day, "unit_per_day")?;
        if let (true, UnitRule::PerGroup | UnitRule::SessionChooses) = (unit_assumed, unit) {
            let at = raw
                .unit_assumed
                .as_ref()
                .map_or(unit_value.span(), |v| v.span());
            return Err(self.at(
                &at,
                "unit_assumed",
                CatalogueProblem::AssumedUnitNotPerRecipient {
                    found: unit.as_str(),
                },
            ));
        }
        let home_visit = self.flag(&raw.home_visit, "home_visit")?;
        let note = raw
            .note
            .as_ref()
            .map(|n| self.string(n, "note"))
            .transpose()?;
        let limits = raw
            .limits
            .iter()
            .map(|l| self.limit(l, raw.event.is_some()))
            .collect::<Result<Vec<_>, _>>()?;
        let floors = raw
            .floors
            .iter()
            .map(|f| self.floor(f))
            .collect::<Result<Vec<_>, _>>()?;
        let source_value = self.required(
            &raw.source,
            &whole,
            "source",
            "a table { seed, item, lines }",
        )?;
        let source = self.source(source_value)?;
        if code.0 != source.seed && !code.0.starts_with(&format!("{}-", source.seed)) {
            return Err(self.at(
                &code_value.span(),
                "code",
                CatalogueProblem::CodeNotOfSeed {
                    seed: source.seed.clone(),
                    found: code.0.clone(),
                },
            ));
        }
        let service = Service {
            code,
            title_ru,
            title_en,
            group_min,
            group_max,
            time_norm_minutes,
            limits,
            floors,
            unit,
            unit_assumed,
            unit_per_day,
            home_visit,
            source,
            group_min_cite: self.cite(&raw.group_min_cite, "group_min_cite")?,
            group_max_cite: self.cite(&raw.group_max_cite, "group_max_cite")?,
            time_norm_cite: self.cite(&raw.time_norm_cite, "time_norm_cite")?,
            unit_cite: self.cite(&raw.unit_cite, "unit_cite")?,
            individual_cite: self.cite(&raw.individual_cite, "individual_cite")?,
            safety_briefing_cite: self.cite(&raw.safety_briefing_cite, "safety_briefing_cite")?,
            event: raw.event.as_ref().map(|e| self.event(e)).transpose()?,
            for_whom: raw
                .for_whom
                .as_ref()
                .map(|w| self.whom(w, "for_whom").map(|(w, _)| w))
                .transpose()?,
            time_norm_longer: raw
                .time_norm_longer
                .as_ref()
                .map(|w| {
                    self.whom(w, "time_norm_longer")
                        .map(|(whom, minutes)| LongerNorm {
                            minutes: minutes.unwrap_or_default(),
                            whom,
                        })
                })
                .transpose()?,
            courses: raw.courses.as_ref().map(|c| self.courses(c)).transpose()?,
            note,
        };
        self.check_citations_in_source(&service, &raw)?;
        Ok(service)
    }

    /// The `[services.event]` table: every key required.
    fn event(&self, raw: &Spanned<RawEvent>) -> Result<EventForm, CatalogueError> {
        let whole = raw.span();
        let e = raw.get_ref();
        let text = |v: &Option<Spanned<Value>>, key: &str| {
            self.string(self.required(v, &whole, key, TEXT)?, key)
        };
        let minutes = self.required(
            &e.time_norm_minutes,
            &whole,
            "event.time_norm_minutes",
            POSITIVE,
        )?;
        let cite = self.required_cite(&e.time_norm_cite, &whole, "event.time_norm_cite")?;
        Ok(EventForm {
            title_ru: text(&e.title_ru, "event.title_ru")?,
            title_en: text(&e.title_en, "event.title_en")?,
            time_norm_minutes: self.positive(minutes, "event.time_norm_minutes")?,
            time_norm_cite: cite,
        })
    }

    /// Every cited line must lie within the service's source lines.
    fn check_citations_in_source(
        &self,
        service: &Service,
        raw: &RawService,
    ) -> Result<(), CatalogueError> {
        let [first, last] = service.source.lines;
        let spans = [
            ("group_min_cite", &raw.group_min_cite),
            ("group_max_cite", &raw.group_max_cite),
            ("time_norm_cite", &raw.time_norm_cite),
            ("unit_cite", &raw.unit_cite),
            ("individual_cite", &raw.individual_cite),
            ("safety_briefing_cite", &raw.safety_briefing_cite),
        ]
        .into_iter()
        .filter_map(|(k, c)| c.as_ref().map(|c| (k.to_string(), c)))
        .chain(raw.event.iter().filter_map(|e| {
            e.get_ref()
                .time_norm_cite
                .as_ref()
                .map(|c| ("event.time_norm_cite".to_string(), c))
        }))
        .chain(
            [
                ("for_whom", &raw.for_whom),
                ("time_norm_longer", &raw.time_norm_longer),
            ]
            .into_iter()
            .filter_map(|(k, w)| {
                w.as_ref()
                    .and_then(|w| w.get_ref().cite.as_ref())
                    .map(|c| (format!("{k}.cite"), c))
            }),
        )
        .chain(raw.courses.iter().filter_map(|c| {
            c.get_ref()
                .cite
                .as_ref()
                .map(|c| ("courses.cite".to_string(), c))
        }))
        .chain(raw.limits.iter().filter_map(|l| {
            l.get_ref()
                .cite
                .as_ref()
                .map(|c| ("limits.cite".to_string(), c))
        }))
        .chain(raw.floors.iter().filter_map(|f| {
            f.get_ref()
                .cite
                .as_ref()
                .map(|c| ("floors.cite".to_string(), c))
        }));
        for (key, raw_cite) in spans {
            let Some(line_value) = &raw_cite.get_ref().line else {
                continue;
            };
            let line = self.positive(line_value, &format!("{key}.line"))?;
            if line < first || line > last {
                return Err(self.at(
                    &line_value.span(),
                    &format!("{key}.line"),
                    CatalogueProblem::CitationOutsideSource { line, first, last },
                ));
            }
        }
        Ok(())
    }
}

fn expected(what: &'static str, found: &Value) -> CatalogueProblem {
    let mut found = found.to_string();
    if found.chars().count() > 60 {
        found = found.chars().take(60).collect::<String>() + "…";
    }
    CatalogueProblem::Expected {
        expected: what,
        found,
    }
}

/// The key a serde message names: "missing field `x`", "unknown field `x`, expected …".
fn key_in_message(message: &str) -> Option<String> {
    if !(message.starts_with("missing field") || message.starts_with("unknown field")) {
        return None;
    }
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(message[start..start + len].to_string())
}

/// The key whose value starts at `span`: the bare key before the last `=` on that line before
/// the span, or the key the span itself starts with.
fn key_at(text: &str, span: &Range<usize>) -> Option<String> {
    let start = span.start.min(text.len());
    if !text.is_char_boundary(start) {
        return None;
    }
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let before = &text[line_start..start];
    let is_key_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.';
    if let Some(eq) = before.rfind('=') {
        let key: String = before[..eq]
            .trim_end()
            .chars()
            .rev()
            .take_while(|c| is_key_char(*c))
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        if !key.is_empty() {
            return Some(key);
        }
    }
    let key: String = text[start..]
        .chars()
        .take_while(|c| is_key_char(*c))
        .collect();
    (!key.is_empty()).then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "config/services.toml";

    /// A valid one-service catalogue; tests break one line of it at a time.
    const GOOD: &str = r#"
[[services]]
code = "000"
title_ru = "занятие"
title_en = "session"
group_min = 10
group_max = 25
time_norm_minutes = 40
unit = "per_recipient"
group_min_cite = { line = 16, text = "с группой от 10 до 25 человек" }
source = { seed = "000", item = "", lines = [16, 23] }

[[services.limits]]
max = 2
period = "course"
days = 14
cite = { line = 19, text = "до 2 раз" }
"#;

    fn load(text: &str) -> Result<Catalogue, CatalogueError> {
        Catalogue::from_toml(FILE, text)
    }

    fn error_of(text: &str) -> String {
        match load(text) {
            Ok(_) => panic!("expected an error for:\n{text}"),
            Err(e) => e.to_string(),
        }
    }

    /// The 1-based line of the first occurrence of `needle` in `text`.
    fn line_of(text: &str, needle: &str) -> usize {
        text.lines()
            .position(|l| l.contains(needle))
            .expect("needle in text")
            + 1
    }

    fn assert_names(message: &str, line: usize, key: &str) {
        let head = format!("{FILE}:{line}: key \"{key}\": ");
        assert!(
            message.starts_with(&head),
            "message {message:?} should start with {head:?}"
        );
    }

    #[test]
    fn good_catalogue_loads() {
        let c = load(GOOD).unwrap();
        assert_eq!(c.services.len(), 1);
        let s = c.get(&ServiceCode::from("000")).unwrap();
        assert_eq!(s.group_min, Some(10));
        assert_eq!(s.group_max, Some(25));
        assert_eq!(s.time_norm_minutes, Some(40));
        assert_eq!(s.limits[0].period, Period::Course { days: 14 });
        assert_eq!(s.limits[0].max, 2);
        assert_eq!(s.source.lines, [16, 23]);
        assert_eq!(s.citations().len(), 2);
        assert!(c.get(&ServiceCode::from("001")).is_none());
    }

    #[test]
    fn wrong_type_names_file_line_key_and_expectation() {
        let text = GOOD.replace("group_max = 25", "group_max = \"abc\"");
        let m = error_of(&text);
        assert_eq!(
            m,
            format!(
                "{FILE}:{}: key \"group_max\": expected a positive integer, found \"abc\"",
                line_of(&text, "group_max")
            )
        );
    }

    #[test]
    fn toml_syntax_error_names_line_and_key() {
        let text = GOOD.replace("time_norm_minutes = 40", "time_norm_minutes = 4 0");
        let m = error_of(&text);
        assert_names(&m, line_of(&text, "time_norm_minutes"), "time_norm_minutes");
    }

    #[test]
    fn unknown_key_is_named() {
        let text = GOOD.replace("group_max = 25", "grup_max = 25");
        let m = error_of(&text);
        assert_names(&m, line_of(&text, "grup_max"), "grup_max");
        assert!(m.contains("unknown field"), "{m}");
    }

    #[test]
    fn missing_key_is_named() {
        let text = GOOD.replace("title_en = \"session\"\n", "");
        let m = error_of(&text);
        // A missing key has no line of its own: the error points at its table's header.
        assert_names(&m, line_of(&text, "[[services]]"), "title_en");
        assert!(m.ends_with("missing; expected a non-empty string"), "{m}");
    }

    #[test]
    fn duplicate_code() {
        let second = GOOD.replace("[[services.limits]]", "# second\n[[services.limits]]");
        let text = format!("{GOOD}\n{}", &second[..second.find("# second").unwrap()]);
        let m = error_of(&text);
        let second_line = text
            .lines()
            .enumerate()
            .filter(|(_, l)| l.starts_with("code ="))
            .nth(1)
            .unwrap()
            .0
            + 1;
        assert_names(&m, second_line, "code");
        assert!(
            m.contains("duplicate service code \"000\", first defined at line 3"),
            "{m}"
        );
    }

    #[test]
    fn group_min_above_max() {
        let text = GOOD.replace("group_min = 10", "group_min = 30");
        let m = error_of(&text);
        assert_names(&m, line_of(&text, "group_min = 30"), "group_min");
        assert!(
            m.contains("group_min 30 is greater than group_max 25"),
            "{m}"
        );
    }

    #[test]
    fn zero_max_in_limit() {
        let text = GOOD.replace("max = 2\n", "max = 0\n");
        let m = error_of(&text);
        assert_eq!(
            m,
            format!(
                "{FILE}:{}: key \"limits.max\": expected a positive integer, found 0",
                line_of(&text, "max = 0")
            )
        );
    }

    #[test]
    fn course_of_zero_days() {
        let text = GOOD.replace("days = 14", "days = 0");
        let m = error_of(&text);
        assert_names(&m, line_of(&text, "days = 0"), "limits.days");
        assert!(m.ends_with("expected a positive integer, found 0"), "{m}");
    }

    #[test]
    fn course_without_days() {
        let text = GOOD.replace("days = 14\n", "");
        let m = error_of(&text);
        assert!(
            m.contains("key \"limits.days\": missing; expected a positive integer"),
            "{m}"
        );
    }

    #[test]
    fn days_with_a_calendar_period() {
        let text = GOOD.replace("period = \"course\"", "period = \"week\"");
        let m = error_of(&text);
        assert_names(&m, line_of(&text, "days = 14"), "limits.days");
        assert!(m.contains("only with period = \"course\""), "{m}");
    }

    /// A cap's `form` names a form of the service: refused where it has no event form, on a
    /// group's cap (which counts all the group's sessions), and where it is not a form.
    #[test]
    fn a_caps_form_needs_an_event_form() {
        let text = GOOD.replace("days = 14\n", "days = 14\nform = \"event\"\n");
        let m = error_of(&text);
        assert_names(&m, line_of(&text, "form = "), "limits.form");
        assert!(m.contains("without an `event` form"), "{m}");
        let event = "source = { seed = \"000\", item = \"\", lines = [16, 23] }\n\
            event = { title_ru = \"экскурсия\", title_en = \"excursion\", time_norm_minutes = 240, \
            time_norm_cite = { line = 19, text = \"до 2 раз\" } }";
        let with_event = text.replace(
            "source = { seed = \"000\", item = \"\", lines = [16, 23] }",
            event,
        );
        let cat = load(&with_event).unwrap();
        let s = cat.get(&ServiceCode::from("000")).unwrap();
        assert_eq!(s.limits[0].form, Form::Event);
        let group = with_event.replace("form = \"event\"", "form = \"event\"\nper = \"group\"");
        let m = error_of(&group);
        assert_names(&m, line_of(&group, "form = "), "limits.form");
        assert!(m.contains("per = \"group\""), "{m}");
        let odd = with_event.replace("form = \"event\"", "form = \"excursion\"");
        let m = error_of(&odd);
        assert_names(&m, line_of(&odd, "form = "), "limits.form");
        assert!(m.contains("one of \"any\", \"regular\", \"event\""), "{m}");
    }

    #[test]
    fn unknown_period() {
        let text = GOOD.replace("period = \"course\"", "period = \"fortnight\"");
        let m = error_of(&text);
        assert_names(&m, line_of(&text, "fortnight"), "limits.period");
        assert!(m.contains("expected one of \"day\""), "{m}");
        assert!(m.ends_with("found \"fortnight\""), "{m}");
    }

    #[test]
    fn assumed_unit_must_be_per_recipient() {
        let text = GOOD.replace(
            "unit = \"per_recipient\"",
            "unit = \"per_group\"\nunit_assumed = true",
        );
        let m = error_of(&text);
        assert_names(&m, line_of(&text, "unit_assumed"), "unit_assumed");
        assert!(
            m.contains("requires unit = \"per_recipient\", found \"per_group\""),
            "{m}"
        );
        // The same with per_recipient is fine.
        let ok = GOOD.replace(
            "unit = \"per_recipient\"",
            "unit = \"per_recipient\"\nunit_assumed = true",
        );
        assert!(load(&ok).unwrap().services[0].unit_assumed);
    }

    #[test]
    fn unknown_unit() {
        let text = GOOD.replace("unit = \"per_recipient\"", "unit = \"per_person\"");
        let m = error_of(&text);
        assert_names(&m, line_of(&text, "per_person"), "unit");
        assert!(m.ends_with("found \"per_person\""), "{m}");
    }

    #[test]
    fn lines_reversed() {
        let text = GOOD.replace("lines = [16, 23]", "lines = [23, 16]");
        let m = error_of(&text);
        assert_names(&m, line_of(&text, "lines = [23, 16]"), "source.lines");
        assert!(
            m.contains("lines reversed: first 23 is after last 16"),
            "{m}"
        );
    }

    #[test]
    fn lines_not_a_pair() {
        let text = GOOD.replace("lines = [16, 23]", "lines = [16]");
        let m = error_of(&text);
        assert_names(&m, line_of(&text, "lines = [16]"), "source.lines");
        assert!(m.ends_with("found [16]"), "{m}");
    }

    #[test]
    fn citation_outside_source_lines() {
        let text = GOOD.replace("line = 19,", "line = 40,");
        let m = error_of(&text);
        assert_names(&m, line_of(&text, "line = 40"), "limits.cite.line");
        assert!(
            m.contains("outside the service's source lines [16, 23]"),
            "{m}"
        );
    }

    #[test]
    fn code_must_name_its_seed() {
        let text = GOOD.replace("code = \"000\"", "code = \"002-1.7.1\"");
        let m = error_of(&text);
        assert_names(&m, line_of(&text, "code ="), "code");
        assert!(m.contains("expected the source seed \"000\""), "{m}");
    }

    #[test]
    fn empty_file_is_an_empty_catalogue() {
        assert_eq!(load("").unwrap(), Catalogue::default());
    }

    #[test]
    fn unit_rule_allows() {
        assert!(UnitRule::SessionChooses.allows(UnitKind::PerGroup));
        assert!(UnitRule::SessionChooses.allows(UnitKind::PerRecipient));
        assert!(!UnitRule::PerRecipient.allows(UnitKind::PerGroup));
        assert!(!UnitRule::PerGroup.allows(UnitKind::PerRecipient));
        assert_eq!(UnitRule::PerGroup.fixed(), Some(UnitKind::PerGroup));
        assert_eq!(UnitRule::SessionChooses.fixed(), None);
    }

    #[test]
    fn serialises_to_json_and_back() {
        let c = load(GOOD).unwrap();
        let json = serde_json::to_string(&c).unwrap();
        let back: Catalogue = serde_json::from_str(&json).unwrap();
        assert_eq!(back, c);
    }
}
