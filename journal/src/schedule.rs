//! The site's timetable (`config/schedule.sample.toml`): how a centre plans its week (a club on
//! Monday and Wednesday at 10:00 in the hall, adaptive PE on Tuesday and Thursday), the term it
//! holds for, the days without sessions (public holidays), and one-off sessions. The journal
//! expands it to the dated [`Schedule`] the kiosks receive, for the coming weeks, and publishes
//! that retained on the site's `schedule` topic.
//!
//! Pure: parsing, checking against the catalogue, expansion over a date passed in.

use chrono::{Datelike, Duration, NaiveDate, NaiveTime, Weekday};
use otmetka_core::catalogue::{Catalogue, ServiceCode, UnitKind};
use otmetka_core::people::{GroupId, InstructorId};
use otmetka_core::wire::{SCHEMA, Schedule, ScheduleEntry};
use serde::Deserialize;
use uuid::Uuid;

/// Weeks published ahead when the file does not say: a month of planned sessions lets a kiosk
/// that lost its link keep showing the timetable for weeks.
pub const DEFAULT_WEEKS_AHEAD: u32 = 4;

/// The longest horizon a file may ask for (a year): the schedule is one retained message.
pub const MAX_WEEKS_AHEAD: u32 = 52;

/// Namespace of the entries' name-based ids (UUID v5): the same planned session keeps its id
/// from one published version to the next.
const ENTRY_NAMESPACE: Uuid = Uuid::from_u128(0x6f74_6d65_746b_6173_6368_6564_756c_6531);

/// A timetable file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleFile {
    /// The site this timetable is for (checked against the journal's `[[sites]]` entry).
    pub site: String,
    #[serde(default = "default_weeks")]
    pub weeks_ahead: u32,
    /// First day the timetable holds (e.g. the start of term).
    #[serde(default)]
    pub valid_from: Option<NaiveDate>,
    /// Last day it holds.
    #[serde(default)]
    pub valid_to: Option<NaiveDate>,
    /// Days without the weekly sessions (public holidays, closures).
    #[serde(default)]
    pub no_sessions: Vec<NaiveDate>,
    /// Sessions that repeat every week.
    #[serde(default)]
    pub weekly: Vec<WeeklySession>,
    /// One-off sessions (a concert, a trip).
    #[serde(default)]
    pub once: Vec<OneOffSession>,
}

fn default_weeks() -> u32 {
    DEFAULT_WEEKS_AHEAD
}

/// A session that repeats on some weekdays.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeeklySession {
    pub service: ServiceCode,
    #[serde(default)]
    pub group: Option<GroupId>,
    #[serde(default)]
    pub instructor: Option<InstructorId>,
    /// "mon", "tue", … "sun".
    pub days: Vec<String>,
    /// Local time, "10:00".
    #[serde(deserialize_with = "hh_mm")]
    pub start: NaiveTime,
    #[serde(default)]
    pub room: String,
    #[serde(default)]
    pub unit_kind: Option<UnitKind>,
    /// This session's own first and last day, inside the file's term.
    #[serde(default)]
    pub from: Option<NaiveDate>,
    #[serde(default)]
    pub to: Option<NaiveDate>,
}

/// A session on one date.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OneOffSession {
    pub service: ServiceCode,
    #[serde(default)]
    pub group: Option<GroupId>,
    #[serde(default)]
    pub instructor: Option<InstructorId>,
    pub date: NaiveDate,
    /// Local time, "11:00".
    #[serde(deserialize_with = "hh_mm")]
    pub start: NaiveTime,
    #[serde(default)]
    pub room: String,
    #[serde(default)]
    pub unit_kind: Option<UnitKind>,
}

/// A local time written "HH:MM" (as on a timetable) or "HH:MM:SS".
fn hh_mm<'de, D: serde::Deserializer<'de>>(d: D) -> Result<NaiveTime, D::Error> {
    let s = String::deserialize(d)?;
    NaiveTime::parse_from_str(&s, "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(&s, "%H:%M:%S"))
        .map_err(|_| {
            serde::de::Error::custom(format!("expected a time such as \"10:00\", found {s:?}"))
        })
}

/// Why a timetable file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {detail}")]
pub struct ScheduleFileError {
    pub file: String,
    pub detail: String,
}

fn weekday(s: &str) -> Option<Weekday> {
    Some(match s.to_ascii_lowercase().as_str() {
        "mon" | "monday" | "пн" => Weekday::Mon,
        "tue" | "tuesday" | "вт" => Weekday::Tue,
        "wed" | "wednesday" | "ср" => Weekday::Wed,
        "thu" | "thursday" | "чт" => Weekday::Thu,
        "fri" | "friday" | "пт" => Weekday::Fri,
        "sat" | "saturday" | "сб" => Weekday::Sat,
        "sun" | "sunday" | "вс" => Weekday::Sun,
        _ => return None,
    })
}

impl ScheduleFile {
    /// Parses a timetable (`name` is for messages) and checks every service against the catalogue
    /// and every weekday name.
    pub fn parse(name: &str, text: &str, catalogue: &Catalogue) -> Result<Self, ScheduleFileError> {
        let err = |detail: String| ScheduleFileError {
            file: name.to_string(),
            detail,
        };
        let file: ScheduleFile =
            toml::from_str(text).map_err(|e| err(e.to_string().trim().to_string()))?;
        if file.weeks_ahead == 0 || file.weeks_ahead > MAX_WEEKS_AHEAD {
            return Err(err(format!(
                "weeks_ahead must be 1 to {MAX_WEEKS_AHEAD}, not {}",
                file.weeks_ahead
            )));
        }
        if let (Some(a), Some(b)) = (file.valid_from, file.valid_to) {
            if b < a {
                return Err(err(format!("valid_to {b} is before valid_from {a}")));
            }
        }
        for (i, w) in file.weekly.iter().enumerate() {
            let what = format!("weekly session {} (service {})", i + 1, w.service);
            if catalogue.get(&w.service).is_none() {
                return Err(err(format!("{what}: no such service in the catalogue")));
            }
            if w.days.is_empty() {
                return Err(err(format!("{what}: days is empty")));
            }
            for d in &w.days {
                if weekday(d).is_none() {
                    return Err(err(format!(
                        "{what}: {d:?} is not a weekday (mon, tue, wed, thu, fri, sat, sun)"
                    )));
                }
            }
        }
        for (i, o) in file.once.iter().enumerate() {
            if catalogue.get(&o.service).is_none() {
                return Err(err(format!(
                    "one-off session {} (service {}): no such service in the catalogue",
                    i + 1,
                    o.service
                )));
            }
        }
        Ok(file)
    }

    /// The dated entries from `from` for `weeks_ahead` weeks (`from` itself included), sorted by
    /// date, time and room. `version` is left 0: the journal's store numbers what it publishes.
    pub fn expand(&self, from: NaiveDate) -> Schedule {
        let to = from + Duration::days(i64::from(self.weeks_ahead) * 7);
        let in_term = |d: NaiveDate| {
            self.valid_from.is_none_or(|f| d >= f) && self.valid_to.is_none_or(|t| d <= t)
        };
        let mut entries = Vec::new();
        let mut d = from;
        while d <= to {
            if in_term(d) && !self.no_sessions.contains(&d) {
                for w in &self.weekly {
                    let on_day = w.days.iter().any(|s| weekday(s) == Some(d.weekday()));
                    let in_own = w.from.is_none_or(|f| d >= f) && w.to.is_none_or(|t| d <= t);
                    if on_day && in_own {
                        entries.push(self.entry(
                            &w.service,
                            w.group,
                            w.instructor,
                            d,
                            w.start,
                            &w.room,
                            w.unit_kind,
                        ));
                    }
                }
            }
            d += Duration::days(1);
        }
        for o in &self.once {
            if o.date >= from && o.date <= to {
                entries.push(self.entry(
                    &o.service,
                    o.group,
                    o.instructor,
                    o.date,
                    o.start,
                    &o.room,
                    o.unit_kind,
                ));
            }
        }
        entries.sort_by(|a, b| (a.date, a.start, &a.room).cmp(&(b.date, b.start, &b.room)));
        entries.dedup_by_key(|e| e.id);
        Schedule {
            schema: SCHEMA,
            site: self.site.clone(),
            version: 0,
            entries,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn entry(
        &self,
        service: &ServiceCode,
        group: Option<GroupId>,
        instructor: Option<InstructorId>,
        date: NaiveDate,
        start: NaiveTime,
        room: &str,
        unit_kind: Option<UnitKind>,
    ) -> ScheduleEntry {
        let key = format!(
            "{}/{}/{}/{}/{}/{}",
            self.site,
            service,
            group.map(|g| g.to_string()).unwrap_or_default(),
            date,
            start.format("%H:%M"),
            room
        );
        ScheduleEntry {
            id: Uuid::new_v5(&ENTRY_NAMESPACE, key.as_bytes()),
            service: service.clone(),
            unit_kind,
            group,
            instructor,
            date,
            start,
            room: room.to_string(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn catalogue() -> Catalogue {
        let text = include_str!("../../config/services.toml");
        Catalogue::from_toml("services.toml", text).unwrap()
    }

    fn sample() -> ScheduleFile {
        let text = include_str!("../../config/schedule.sample.toml");
        ScheduleFile::parse("schedule.sample.toml", text, &catalogue()).unwrap()
    }

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn the_sample_expands_to_dated_sessions_of_group_c001() {
        let f = sample();
        assert_eq!(f.site, "demo");
        // Monday 2026-11-23: four weeks ahead, 4 November (a holiday) is not in the window.
        let s = f.expand(date("2026-11-23"));
        assert!(!s.entries.is_empty());
        let c001: GroupId = GroupId("00000000-0000-7000-8000-00000000c001".parse().unwrap());
        let club: Vec<_> = s.entries.iter().filter(|e| e.group == Some(c001)).collect();
        assert!(club.iter().all(|e| e.service == ServiceCode::from("000")));
        assert!(
            club.iter()
                .all(|e| matches!(e.date.weekday(), Weekday::Mon | Weekday::Wed)),
            "the club meets on Monday and Wednesday"
        );
        // 23 Nov .. 21 Dec inclusive: Mondays 23, 30 Nov, 7, 14, 21 Dec; Wednesdays 25 Nov, 2, 9, 16 Dec.
        assert_eq!(club.len(), 9);
        assert!(
            s.entries
                .windows(2)
                .all(|w| (w[0].date, w[0].start) <= (w[1].date, w[1].start))
        );
        // Ids are stable from one expansion to the next.
        let later = f.expand(date("2026-11-25"));
        let first_wed = s
            .entries
            .iter()
            .find(|e| e.date == date("2026-11-25"))
            .unwrap();
        assert!(later.entries.iter().any(|e| e.id == first_wed.id));
    }

    #[test]
    fn holidays_and_the_term_limit_the_weekly_sessions() {
        let f = sample();
        let s = f.expand(date("2026-11-02"));
        assert!(
            !s.entries.iter().any(|e| e.date == date("2026-11-04")),
            "4 November is a public holiday in the sample"
        );
        assert!(s.entries.iter().any(|e| e.date == date("2026-11-02")));
        let after_term = f.expand(f.valid_to.unwrap() + Duration::days(1));
        assert!(
            after_term
                .entries
                .iter()
                .all(|e| f.once.iter().any(|o| o.date == e.date)),
            "after the term only one-off sessions remain"
        );
    }

    #[test]
    fn unknown_services_and_weekdays_are_refused_with_their_place() {
        let cat = catalogue();
        let bad =
            "site = \"s\"\n[[weekly]]\nservice = \"nope\"\ndays = [\"mon\"]\nstart = \"10:00\"\n";
        let e = ScheduleFile::parse("f.toml", bad, &cat)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("f.toml") && e.contains("weekly session 1") && e.contains("nope"),
            "{e}"
        );
        let bad =
            "site = \"s\"\n[[weekly]]\nservice = \"001\"\ndays = [\"funday\"]\nstart = \"10:00\"\n";
        let e = ScheduleFile::parse("f.toml", bad, &cat)
            .unwrap_err()
            .to_string();
        assert!(e.contains("funday"), "{e}");
        let bad = "site = \"s\"\nweeks_ahead = 0\n";
        assert!(ScheduleFile::parse("f.toml", bad, &cat).is_err());
    }
}
