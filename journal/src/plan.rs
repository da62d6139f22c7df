//! Plan vs fact (the staff journal, point 6): what a recipient's individual programme plans for
//! each service against what was given, over the periods the programme counts in — a day, a
//! calendar week (Monday to Sunday), a month, a quarter, a year, or the course from the
//! programme's course start. Pure: the pages pass the units and the dates.
//!
//! A month's act judges every period of an item whose last day falls in that month, that has
//! ended by today, and that lies wholly inside the programme's validity (a programme that starts
//! mid-week is not "short" for that week). Daily items are judged on the days the recipient came
//! (got any unit at the site): a day centre is not open every day, and a day the recipient was
//! away is not a shortfall of a session. A week is always the calendar week here, even where the
//! site counts its caps over a rolling week: a programme says "twice a week" of calendar weeks.

use chrono::{Datelike, Days, Months, NaiveDate, Weekday};
use otmetka_core::catalogue::Period;
use otmetka_core::people::{Programme, ProgrammeItem, RecipientId};
use std::collections::{BTreeMap, BTreeSet};

/// The dates of a recipient's counted units, per service code: one date per unit.
pub type Given = BTreeMap<String, Vec<NaiveDate>>;

/// A period the programme counts in, inclusive of both days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span {
    pub first: NaiveDate,
    pub last: NaiveDate,
}

impl Span {
    fn contains(&self, d: NaiveDate) -> bool {
        self.first <= d && d <= self.last
    }
}

/// A judged period with fewer units than the programme plans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shortfall {
    pub span: Span,
    pub given: u32,
}

/// One programme item judged over one month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judged {
    /// Units per period; `None` = as needed (nothing to fall short of).
    pub count: Option<u32>,
    pub period: Period,
    /// How many periods were judged.
    pub judged: usize,
    /// The judged periods with fewer units than planned, oldest first.
    pub short: Vec<Shortfall>,
    /// A period of the month that has not ended yet, with what it has so far.
    pub ongoing: Option<(Span, u32)>,
}

impl Judged {
    /// Whether any judged period fell short.
    pub fn is_short(&self) -> bool {
        !self.short.is_empty()
    }
}

fn add_days(d: NaiveDate, n: u64) -> NaiveDate {
    d.checked_add_days(Days::new(n)).unwrap_or(d)
}

fn sub_days(d: NaiveDate, n: u64) -> NaiveDate {
    d.checked_sub_days(Days::new(n)).unwrap_or(d)
}

/// The month `[first, last]` that starts at `month` (any day of it).
pub fn month_span(month: NaiveDate) -> Span {
    let first = month.with_day(1).unwrap_or(month);
    let last = (first + Months::new(1)).pred_opt().unwrap_or(first);
    Span { first, last }
}

/// The periods of `period` whose last day falls in `month`, oldest first. A course is the one
/// that starts at `course_start` (none without it).
pub fn periods_ending_in(
    period: Period,
    month: Span,
    course_start: Option<NaiveDate>,
) -> Vec<Span> {
    let days = || {
        month
            .first
            .iter_days()
            .take_while(move |d| *d <= month.last)
    };
    match period {
        Period::Day => days().map(|d| Span { first: d, last: d }).collect(),
        Period::Week => days()
            .filter(|d| d.weekday() == Weekday::Sun)
            .map(|d| Span {
                first: sub_days(d, 6),
                last: d,
            })
            .collect(),
        Period::Month => vec![month],
        Period::Quarter => (month.last.month() % 3 == 0)
            .then(|| Span {
                first: month.first - Months::new(2),
                last: month.last,
            })
            .into_iter()
            .collect(),
        Period::Year => (month.last.month() == 12)
            .then(|| Span {
                first: month.first - Months::new(11),
                last: month.last,
            })
            .into_iter()
            .collect(),
        Period::Course { days } => course_start
            .map(|first| Span {
                first,
                last: add_days(first, u64::from(days.max(1)) - 1),
            })
            .filter(|s| month.contains(s.last))
            .into_iter()
            .collect(),
    }
}

/// The period of `period` that is running on `today`, if it ends in `month` or later and
/// started by the end of `month` (the act's "so far").
fn ongoing_in(
    period: Period,
    month: Span,
    today: NaiveDate,
    course_start: Option<NaiveDate>,
) -> Option<Span> {
    if !month.contains(today) {
        return None;
    }
    let span = match period {
        Period::Day => return None,
        Period::Week => {
            let first = sub_days(today, u64::from(today.weekday().num_days_from_monday()));
            Span {
                first,
                last: add_days(first, 6),
            }
        }
        Period::Month => month,
        Period::Quarter => {
            let first = NaiveDate::from_ymd_opt(today.year(), today.month0() / 3 * 3 + 1, 1)?;
            Span {
                first,
                last: (first + Months::new(3)).pred_opt()?,
            }
        }
        Period::Year => Span {
            first: NaiveDate::from_ymd_opt(today.year(), 1, 1)?,
            last: NaiveDate::from_ymd_opt(today.year(), 12, 31)?,
        },
        Period::Course { days } => {
            let first = course_start?;
            Span {
                first,
                last: add_days(first, u64::from(days.max(1)) - 1),
            }
        }
    };
    (span.contains(today)).then_some(span)
}

/// The periods of `item` that end in `month`: for a course, each of the item's courses that
/// ends in it (002 l.1975: up to two a year).
fn spans_ending_in(item: &ProgrammeItem, month: Span, programme: &Programme) -> Vec<Span> {
    match item.period {
        Period::Course { .. } => programme
            .course_starts(&item.service)
            .into_iter()
            .flat_map(|start| periods_ending_in(item.period, month, Some(start)))
            .collect(),
        _ => periods_ending_in(item.period, month, None),
    }
}

/// The period of `item` running on `today` in `month`: for a course, the one begun by then.
fn running(
    item: &ProgrammeItem,
    month: Span,
    today: NaiveDate,
    programme: &Programme,
) -> Option<Span> {
    let course = programme.course_at(&item.service, today);
    ongoing_in(item.period, month, today, course)
}

/// The first date whose units plan vs fact needs for `programme` in `month` as of `today`: the
/// periods that end in the month, and the one running today (a quarter begun in October, for
/// November's "so far").
pub fn needed_from(programme: &Programme, month: NaiveDate, today: NaiveDate) -> NaiveDate {
    let month = month_span(month);
    programme
        .items
        .iter()
        .flat_map(|i| {
            spans_ending_in(i, month, programme)
                .into_iter()
                .chain(running(i, month, today, programme))
                .map(|s| s.first)
        })
        .chain([month.first])
        .min()
        .unwrap_or(month.first)
}

/// Judges one programme item over `month` with the recipient's units (`given`, all services, so
/// that a daily item knows the days they came), as of `today`.
pub fn judge(
    programme: &Programme,
    item: &ProgrammeItem,
    given: &Given,
    month: NaiveDate,
    today: NaiveDate,
) -> Judged {
    let month = month_span(month);
    let of_service: &[NaiveDate] = given.get(&item.service.0).map_or(&[], Vec::as_slice);
    let in_span = |s: Span| of_service.iter().filter(|d| s.contains(**d)).count() as u32;
    let came: BTreeSet<NaiveDate> = given.values().flatten().copied().collect();
    let valid = Span {
        first: programme.valid_from,
        last: programme.valid_to,
    };
    let mut judged = Judged {
        count: item.count,
        period: item.period,
        judged: 0,
        short: Vec::new(),
        ongoing: None,
    };
    let Some(count) = item.count else {
        return judged;
    };
    for span in spans_ending_in(item, month, programme) {
        let whole = valid.contains(span.first) && valid.contains(span.last);
        let ended = span.last < today;
        let day_away = item.period == Period::Day && !came.contains(&span.first);
        if !whole || !ended || day_away {
            continue;
        }
        judged.judged += 1;
        let n = in_span(span);
        if n < count {
            judged.short.push(Shortfall { span, given: n });
        }
    }
    // Running, and the programme in force today (not for someone who has left since).
    judged.ongoing = running(item, month, today, programme)
        .filter(|s| valid.contains(s.first) && valid.contains(today))
        .map(|s| (s, in_span(s)));
    judged
}

/// Each recipient's counted units, by service: a unit for one recipient is theirs; a unit of a
/// per-group service counts for each of its participants. `units` is
/// `(recipient, participants, service, date)`.
pub fn given_by_recipient<'a>(
    units: impl IntoIterator<Item = (Option<RecipientId>, &'a [RecipientId], &'a str, NaiveDate)>,
) -> BTreeMap<RecipientId, Given> {
    let mut out: BTreeMap<RecipientId, Given> = BTreeMap::new();
    for (recipient, participants, service, date) in units {
        let whose: Vec<RecipientId> = match recipient {
            Some(r) => vec![r],
            None => participants.to_vec(),
        };
        for r in whose {
            out.entry(r)
                .or_default()
                .entry(service.to_string())
                .or_default()
                .push(date);
        }
    }
    out
}

/// "8 в месяц", "2 в неделю", "12 за курс (14 дней)": a programme item's count in words.
pub fn count_words(count: Option<u32>, period: Period) -> String {
    let Some(n) = count else {
        return "по мере необходимости".into();
    };
    match period {
        Period::Day => format!("{n} в день"),
        Period::Week => format!("{n} в неделю"),
        Period::Month => format!("{n} в месяц"),
        Period::Quarter => format!("{n} в квартал"),
        Period::Year => format!("{n} в год"),
        Period::Course { days } => format!("{n} за курс ({days} дн.)"),
    }
}

/// "не реже 1 раза в день", "не реже 2 раз в неделю": a floor of the standard in words.
pub fn floor_words(min: u32, period: Period) -> String {
    let times = if min % 10 == 1 && min % 100 != 11 {
        "раза"
    } else {
        "раз"
    };
    let per = match period {
        Period::Day => "в день".to_string(),
        Period::Week => "в неделю".to_string(),
        Period::Month => "в месяц".to_string(),
        Period::Quarter => "в квартал".to_string(),
        Period::Year => "в год".to_string(),
        Period::Course { days } => format!("за курс ({days} дн.)"),
    };
    format!("не реже {min} {times} {per}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use otmetka_core::catalogue::ServiceCode;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn programme(items: Vec<ProgrammeItem>) -> Programme {
        Programme {
            valid_from: d("2026-01-01"),
            valid_to: d("2026-12-31"),
            items,
            course_start: Some(d("2026-11-10")),
        }
    }

    fn item(service: &str, count: u32, period: Period) -> ProgrammeItem {
        ProgrammeItem {
            courses: Vec::new(),
            service: ServiceCode(service.into()),
            count: Some(count),
            period,
        }
    }

    fn given(rows: &[(&str, &str)]) -> Given {
        let mut g = Given::new();
        for (s, date) in rows {
            g.entry((*s).into()).or_default().push(d(date));
        }
        g
    }

    #[test]
    fn weeks_ending_in_the_month_are_judged_calendar_weeks() {
        // November 2026: Sundays 1, 8, 15, 22, 29; the week of 26 Oct–1 Nov ends in November.
        let weeks = periods_ending_in(Period::Week, month_span(d("2026-11-01")), None);
        assert_eq!(weeks.len(), 5);
        assert_eq!(
            weeks[0],
            Span {
                first: d("2026-10-26"),
                last: d("2026-11-01")
            }
        );
        assert_eq!(weeks[4].last, d("2026-11-29"));
    }

    #[test]
    fn a_weekly_item_is_short_in_the_weeks_with_fewer() {
        let p = programme(vec![item("001", 2, Period::Week)]);
        // Two in the week of 2–8 Nov, one in 9–15, none after; 28 Oct counts for 26 Oct–1 Nov.
        let g = given(&[
            ("001", "2026-10-28"),
            ("001", "2026-10-30"),
            ("001", "2026-11-03"),
            ("001", "2026-11-05"),
            ("001", "2026-11-10"),
        ]);
        let j = judge(&p, &p.items[0], &g, d("2026-11-01"), d("2026-12-11"));
        assert_eq!(j.judged, 5);
        let short: Vec<_> = j.short.iter().map(|s| (s.span.first, s.given)).collect();
        assert_eq!(
            short,
            vec![
                (d("2026-11-09"), 1),
                (d("2026-11-16"), 0),
                (d("2026-11-23"), 0)
            ]
        );
        assert_eq!(
            needed_from(&p, d("2026-11-01"), d("2026-12-11")),
            d("2026-10-26")
        );
        assert!(j.ongoing.is_none(), "November has ended by 11 December");
    }

    #[test]
    fn periods_not_ended_or_not_wholly_in_the_programme_are_not_judged() {
        let mut p = programme(vec![
            item("001", 2, Period::Week),
            item("002", 8, Period::Month),
        ]);
        p.valid_from = d("2026-11-04");
        let g = given(&[("001", "2026-11-10")]);
        // Today is Wednesday 18 November: weeks ending 8 Nov (starts before the programme) and
        // 22 Nov (running) are not judged; 9–15 Nov is, and is short.
        let j = judge(&p, &p.items[0], &g, d("2026-11-01"), d("2026-11-18"));
        assert_eq!(j.judged, 1);
        assert_eq!(j.short[0].span.first, d("2026-11-09"));
        assert_eq!(
            j.ongoing,
            Some((
                Span {
                    first: d("2026-11-16"),
                    last: d("2026-11-22")
                },
                0
            ))
        );
        // The month is running and began before the programme: nothing to judge, nothing short.
        let m = judge(&p, &p.items[1], &g, d("2026-11-01"), d("2026-11-18"));
        assert_eq!((m.judged, m.is_short()), (0, false));
    }

    #[test]
    fn a_daily_item_is_judged_on_the_days_the_recipient_came() {
        let p = programme(vec![item("002-5.1", 1, Period::Day)]);
        // Came on 2 and 3 November (a unit of 001 on the 3rd), 002-5.1 only on the 2nd.
        let g = given(&[("002-5.1", "2026-11-02"), ("001", "2026-11-03")]);
        let j = judge(&p, &p.items[0], &g, d("2026-11-01"), d("2026-12-01"));
        assert_eq!(j.judged, 2);
        assert_eq!(j.short.len(), 1);
        assert_eq!(j.short[0].span.first, d("2026-11-03"));
    }

    #[test]
    fn courses_quarters_and_years_end_in_one_month() {
        let p = programme(vec![
            item("c", 10, Period::Course { days: 14 }),
            item("q", 3, Period::Quarter),
            item("y", 20, Period::Year),
        ]);
        // The course 10–23 November ends in November; the quarter and the year do not.
        let nov = month_span(d("2026-11-01"));
        assert_eq!(
            periods_ending_in(Period::Course { days: 14 }, nov, p.course_start),
            vec![Span {
                first: d("2026-11-10"),
                last: d("2026-11-23")
            }]
        );
        assert!(periods_ending_in(Period::Quarter, nov, None).is_empty());
        let dec = month_span(d("2026-12-01"));
        assert_eq!(
            periods_ending_in(Period::Quarter, dec, None),
            vec![Span {
                first: d("2026-10-01"),
                last: d("2026-12-31")
            }]
        );
        assert_eq!(
            periods_ending_in(Period::Year, dec, None)[0].first,
            d("2026-01-01")
        );
        assert_eq!(
            needed_from(&p, d("2026-12-01"), d("2027-01-05")),
            d("2026-01-01")
        );
        // In November, the quarter that began in October is running: its units from 1 October.
        let q = programme(vec![item("q", 3, Period::Quarter)]);
        assert_eq!(
            needed_from(&q, d("2026-11-01"), d("2026-11-18")),
            d("2026-10-01")
        );
        let g = given(&[("q", "2026-10-05"), ("q", "2026-11-02")]);
        let j = judge(&q, &q.items[0], &g, d("2026-11-01"), d("2026-11-18"));
        assert_eq!(
            j.ongoing.map(|(_, n)| n),
            Some(2),
            "October's unit counts so far"
        );
        // Someone whose programme ended (they left) has nothing running.
        let mut left = q.clone();
        left.valid_to = d("2026-11-10");
        let j = judge(&left, &left.items[0], &g, d("2026-11-01"), d("2026-11-18"));
        assert!(j.ongoing.is_none());
        let g = given(&[("c", "2026-11-10"), ("c", "2026-11-24")]);
        let j = judge(&p, &p.items[0], &g, d("2026-11-01"), d("2026-12-01"));
        assert_eq!(
            j.short,
            vec![Shortfall {
                span: periods_ending_in(Period::Course { days: 14 }, nov, p.course_start)[0],
                given: 1
            }]
        );
    }

    /// 002 l.1975: up to two courses a year, each judged as its own period: a course of 14 days
    /// from 2 November ends in November; one from 23 November runs on into December.
    #[test]
    fn each_course_of_the_programme_is_its_own_period() {
        let mut p = programme(vec![item("002-2.5", 3, Period::Course { days: 14 })]);
        p.course_start = None;
        p.items[0].courses = vec![d("2026-11-02"), d("2026-11-23")];
        let g = given(&[("002-2.5", "2026-11-03"), ("002-2.5", "2026-11-24")]);
        let nov = judge(&p, &p.items[0], &g, d("2026-11-01"), d("2026-11-30"));
        assert_eq!(nov.judged, 1, "the first course ended in November");
        assert_eq!(nov.short[0].span.first, d("2026-11-02"));
        assert_eq!(nov.short[0].given, 1);
        assert_eq!(
            nov.ongoing.map(|(s, n)| (s.first, n)),
            Some((d("2026-11-23"), 1)),
            "the second runs"
        );
        let dec = judge(&p, &p.items[0], &g, d("2026-12-01"), d("2026-12-31"));
        assert_eq!(dec.judged, 1, "the second course ends in December");
        assert_eq!(dec.short[0].span.first, d("2026-11-23"));
    }

    #[test]
    fn as_needed_is_never_short_and_group_units_count_for_each_participant() {
        let p = programme(vec![ProgrammeItem {
            courses: Vec::new(),
            service: ServiceCode("001".into()),
            count: None,
            period: Period::Month,
        }]);
        let j = judge(
            &p,
            &p.items[0],
            &Given::new(),
            d("2026-11-01"),
            d("2026-12-01"),
        );
        assert!(!j.is_short());
        assert_eq!(count_words(None, Period::Month), "по мере необходимости");
        let (a, b) = (
            RecipientId(uuid::Uuid::from_u128(1)),
            RecipientId(uuid::Uuid::from_u128(2)),
        );
        let both = [a, b];
        let g = given_by_recipient([
            (Some(a), &[][..], "001", d("2026-11-02")),
            (None, &both[..], "004", d("2026-11-03")),
        ]);
        assert_eq!(g[&a]["004"], vec![d("2026-11-03")]);
        assert_eq!(g[&b].len(), 1);
    }
}
