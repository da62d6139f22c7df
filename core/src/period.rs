//! Counting windows for frequency limits, in the site's local time.
//!
//! Russian time zones have had fixed UTC offsets since 26 October 2014 (no daylight saving), so
//! a site's zone is a [`FixedOffset`] and `core` needs no time-zone database.

use crate::catalogue::Period;
use chrono::{DateTime, Datelike, Days, FixedOffset, Months, NaiveDate, NaiveTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// How a "week" counts: the calendar week Monday–Sunday (the default), or the last 7 days.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WeekRule {
    #[default]
    Calendar,
    Rolling,
}

/// The site's notion of local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SiteTime {
    pub offset: FixedOffset,
    pub week: WeekRule,
}

impl SiteTime {
    /// A site at a fixed offset from UTC in whole minutes (Moscow: +180).
    pub fn new(offset_minutes: i32, week: WeekRule) -> Option<Self> {
        Some(SiteTime {
            offset: FixedOffset::east_opt(offset_minutes * 60)?,
            week,
        })
    }

    /// The local date of an instant.
    pub fn local_date(&self, at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&self.offset).date_naive()
    }

    /// The instant a local date begins.
    pub fn start_of(&self, date: NaiveDate) -> DateTime<Utc> {
        let local = date.and_time(NaiveTime::MIN);
        // A fixed offset maps every local time to exactly one instant.
        self.offset
            .from_local_datetime(&local)
            .single()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| local.and_utc())
    }

    /// The half-open window `[from, to)` of local dates that `period` counts over at `at`.
    /// `course_start` is the first day of the recipient's current course, where known.
    pub fn window(
        &self,
        period: Period,
        at: DateTime<Utc>,
        course_start: Option<NaiveDate>,
    ) -> (NaiveDate, NaiveDate) {
        let d = self.local_date(at);
        let next =
            |from: NaiveDate, days: u64| from.checked_add_days(Days::new(days)).unwrap_or(from);
        let back = |days: u64| d.checked_sub_days(Days::new(days)).unwrap_or(d);
        match period {
            Period::Day => (d, next(d, 1)),
            Period::Week => match self.week {
                WeekRule::Calendar => {
                    let monday = back(u64::from(d.weekday().num_days_from_monday()));
                    (monday, next(monday, 7))
                }
                WeekRule::Rolling => (back(6), next(d, 1)),
            },
            Period::Month => {
                let first = d.with_day(1).unwrap_or(d);
                (
                    first,
                    first.checked_add_months(Months::new(1)).unwrap_or(first),
                )
            }
            Period::Quarter => {
                let month0 = d.month0() / 3 * 3;
                let first = NaiveDate::from_ymd_opt(d.year(), month0 + 1, 1).unwrap_or(d);
                (
                    first,
                    first.checked_add_months(Months::new(3)).unwrap_or(first),
                )
            }
            Period::Year => {
                let first = NaiveDate::from_ymd_opt(d.year(), 1, 1).unwrap_or(d);
                (
                    first,
                    first.checked_add_months(Months::new(12)).unwrap_or(first),
                )
            }
            Period::Course { days } => {
                let days = u64::from(days.max(1));
                match course_start {
                    Some(start) if start <= d => {
                        let since = (d - start).num_days().unsigned_abs();
                        let from = next(start, since / days * days);
                        (from, next(from, days))
                    }
                    // No course start known (or it lies ahead): a rolling window of N days.
                    _ => (back(days - 1), next(d, 1)),
                }
            }
        }
    }
}

/// Russia's zones and their fixed offsets (no daylight saving since 26 October 2014).
const ZONES: &[(&str, i32)] = &[
    ("Europe/Kaliningrad", 120),
    ("Europe/Moscow", 180),
    ("Europe/Simferopol", 180),
    ("Europe/Kirov", 180),
    ("Europe/Volgograd", 180),
    ("Europe/Samara", 240),
    ("Europe/Astrakhan", 240),
    ("Europe/Saratov", 240),
    ("Europe/Ulyanovsk", 240),
    ("Asia/Yekaterinburg", 300),
    ("Asia/Omsk", 360),
    ("Asia/Novosibirsk", 420),
    ("Asia/Barnaul", 420),
    ("Asia/Tomsk", 420),
    ("Asia/Novokuznetsk", 420),
    ("Asia/Krasnoyarsk", 420),
    ("Asia/Irkutsk", 480),
    ("Asia/Chita", 540),
    ("Asia/Yakutsk", 540),
    ("Asia/Khandyga", 540),
    ("Asia/Vladivostok", 600),
    ("Asia/Ust-Nera", 600),
    ("Asia/Magadan", 660),
    ("Asia/Sakhalin", 660),
    ("Asia/Srednekolymsk", 660),
    ("Asia/Kamchatka", 720),
    ("Asia/Anadyr", 720),
    ("UTC", 0),
];

/// The offset in minutes of a zone name or a "+HH:MM" offset.
pub fn zone_offset_minutes(zone: &str) -> Option<i32> {
    if let Some((_, m)) = ZONES.iter().find(|(z, _)| *z == zone) {
        return Some(*m);
    }
    let (sign, rest) = match zone.as_bytes().first()? {
        b'+' => (1, &zone[1..]),
        b'-' => (-1, &zone[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':')?;
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    (h <= 14 && m < 60).then_some(sign * (h * 60 + m))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> SiteTime {
        SiteTime::new(5 * 60, WeekRule::Calendar).unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn calendar_week_is_monday_to_sunday_in_local_time() {
        // 2026-11-22 is a Sunday; 20:00 UTC is already Monday 01:00 at UTC+5.
        let (from, to) = site().window(Period::Week, utc("2026-11-22T20:00:00Z"), None);
        assert_eq!((from, to), (date("2026-11-23"), date("2026-11-30")));
        let (from, _) = site().window(Period::Week, utc("2026-11-22T18:00:00Z"), None);
        assert_eq!(from, date("2026-11-16"));
    }

    #[test]
    fn rolling_week_and_calendar_periods() {
        let s = SiteTime::new(180, WeekRule::Rolling).unwrap();
        let at = utc("2026-11-23T10:00:00Z");
        assert_eq!(
            s.window(Period::Week, at, None),
            (date("2026-11-17"), date("2026-11-24"))
        );
        assert_eq!(
            s.window(Period::Month, at, None),
            (date("2026-11-01"), date("2026-12-01"))
        );
        assert_eq!(
            s.window(Period::Quarter, at, None),
            (date("2026-10-01"), date("2027-01-01"))
        );
        assert_eq!(
            s.window(Period::Year, at, None),
            (date("2026-01-01"), date("2027-01-01"))
        );
    }

    #[test]
    fn course_windows_follow_the_course_start_or_roll() {
        let at = utc("2026-11-23T10:00:00Z");
        let course = Period::Course { days: 14 };
        let w = site().window(course, at, Some(date("2026-11-01")));
        assert_eq!(w, (date("2026-11-15"), date("2026-11-29")));
        assert_eq!(
            site().window(course, at, None),
            (date("2026-11-10"), date("2026-11-24"))
        );
    }
}
