//! The rules issue, points 5 and 8: norms that depend on the recipient (care group, minors) and
//! courses per year. Each case cites the seed line its rule stands on (002, 1-based lines), and
//! goes through the public `core` API: a tap on an open session, the session's close.

#![allow(clippy::unwrap_used)]

mod support;

use otmetka_core::catalogue::{UnitKind, UnitRule};
use otmetka_core::clock::ClockVerdict;
use otmetka_core::decision::{Decision, DecisionKind, ProgrammeGap};
use otmetka_core::event::Event;
use otmetka_core::people::{CardStatus, Recipient};
use otmetka_core::rules::{Attendance, Policy};
use otmetka_core::session::{Session, Tapper};
use support::*;

/// Who taps: a care group (or none on file) and, for a minor, the day they turn 18.
#[derive(Clone, Copy)]
struct Who {
    care_group: Option<u8>,
    adult_on: Option<&'static str>,
}

const ADULT: fn(u8) -> Who = |g| Who {
    care_group: Some(g),
    adult_on: None,
};
const MINOR: fn(u8) -> Who = |g| Who {
    care_group: Some(g),
    adult_on: Some("2030-05-01"),
};

fn person(n: u128, who: Who) -> Recipient {
    let mut r = recipient(n);
    r.care_group = who.care_group;
    r.adult_on = who.adult_on.map(|d| d.parse().unwrap());
    r
}

/// An open session of `code` at `at` (unit per recipient where the session chooses).
fn open(code: &str, at: &str) -> Session {
    open_as(code, at, false)
}

/// [`open`], opened as the service's event form where `event`.
fn open_as(code: &str, at: &str, event: bool) -> Session {
    let svc = service(code);
    let kind = (svc.unit == UnitRule::SessionChooses).then_some(UnitKind::PerRecipient);
    let mut s = Session::plan(sid(1), &svc, kind, None, instructor()).unwrap();
    if event {
        s = s.as_event(&svc).unwrap();
    }
    let ev = s.open(t(at), ClockVerdict::Trusted, false, true).unwrap();
    s.apply(&ev).unwrap();
    s
}

/// The decision for `r` tapping into a session of `code` at `at` with `history` (UTC times of
/// earlier units of the same service).
fn tap(code: &str, at: &str, r: &Recipient, history: &[&str]) -> Decision {
    let history: Vec<_> = history.iter().map(|h| (*h, false)).collect();
    tap_as(code, at, r, &history, false)
}

/// [`tap`] with the form of each earlier unit's session (`(UTC time, an event?)`), into a
/// session opened as the service's event form where `event`.
fn tap_as(code: &str, at: &str, r: &Recipient, history: &[(&str, bool)], event: bool) -> Decision {
    let svc = service(code);
    let s = open_as(code, at, event);
    let history: Vec<_> = history
        .iter()
        .enumerate()
        .map(|(i, (h, event))| Attendance {
            event: *event,
            ..attended(100 + i as u128, code, h)
        })
        .collect();
    let site = site();
    let policy = Policy::default();
    s.tap(
        Tapper::Known {
            recipient: r,
            card: CardStatus::Active,
        },
        &inputs(&svc, &history, &site, &policy),
        cid(1),
        id(1),
        t(at),
    )
    .decision
}

struct Case {
    what: &'static str,
    service: &'static str,
    who: Who,
    history: &'static [&'static str],
    at: &'static str,
    expect: DecisionKind,
}

const MON: &str = "2026-11-23T06:00:00Z";
const TUE: &str = "2026-11-24T06:00:00Z";
const WED: &str = "2026-11-25T06:00:00Z";
const THU: &str = "2026-11-26T06:00:00Z";
const FRI: &str = "2026-11-27T06:00:00Z";

const CASES: &[Case] = &[
    // Eligibility by care group.
    Case {
        what: "002 l.1889 «для 1-5 групп ухода, а также для несовершеннолетних»: care group 0 is not named",
        service: "002-2.3.3",
        who: Who {
            care_group: Some(0),
            adult_on: None,
        },
        history: &[],
        at: MON,
        expect: DecisionKind::NotEligible,
    },
    Case {
        what: "002 l.1889: a minor of care group 0 is named («а также для несовершеннолетних»)",
        service: "002-2.3.3",
        who: Who {
            care_group: Some(0),
            adult_on: Some("2030-05-01"),
        },
        history: &[],
        at: MON,
        expect: DecisionKind::Accepted,
    },
    Case {
        what: "002 l.1889: care group 3 is named",
        service: "002-2.3.3",
        who: Who {
            care_group: Some(3),
            adult_on: None,
        },
        history: &[],
        at: MON,
        expect: DecisionKind::Accepted,
    },
    Case {
        what: "002 l.1889: an adult whose care group is not on file is not refused (the kiosk cannot tell)",
        service: "002-2.3.3",
        who: Who {
            care_group: None,
            adult_on: None,
        },
        history: &[],
        at: MON,
        expect: DecisionKind::Accepted,
    },
    Case {
        what: "002 l.3357 «1 раз в месяц для 0-3 группы ухода»: care group 4 is not named",
        service: "002-5.1",
        who: Who {
            care_group: Some(4),
            adult_on: None,
        },
        history: &[],
        at: MON,
        expect: DecisionKind::NotEligible,
    },
    Case {
        what: "002 l.3357: care group 3 is named",
        service: "002-5.1",
        who: Who {
            care_group: Some(3),
            adult_on: None,
        },
        history: &[],
        at: MON,
        expect: DecisionKind::Accepted,
    },
    Case {
        what: "002 l.3357: a minor of care group 5 is named",
        service: "002-5.1",
        who: Who {
            care_group: Some(5),
            adult_on: Some("2030-05-01"),
        },
        history: &[],
        at: MON,
        expect: DecisionKind::Accepted,
    },
    Case {
        what: "002 l.3357: the day they turn 18 they are an adult: care group 5 is no longer named",
        service: "002-5.1",
        who: Who {
            care_group: Some(5),
            adult_on: Some("2026-11-23"),
        },
        history: &[],
        at: MON,
        expect: DecisionKind::NotEligible,
    },
    // Minors' own frequencies.
    Case {
        what: "002 l.3169 «3 раза в неделю»: an adult's fourth of the week is refused",
        service: "002-4.5",
        who: Who {
            care_group: Some(2),
            adult_on: None,
        },
        history: &[MON, TUE, WED],
        at: THU,
        expect: DecisionKind::FrequencyLimit,
    },
    Case {
        what: "002 l.3169 «для несовершеннолетних до 7 раз в неделю»: a minor's fourth is accepted",
        service: "002-4.5",
        who: Who {
            care_group: Some(2),
            adult_on: Some("2030-05-01"),
        },
        history: &[MON, TUE, WED],
        at: THU,
        expect: DecisionKind::Accepted,
    },
    Case {
        what: "002 l.3169: a minor's eighth of the week is refused (two a day from Monday)",
        service: "002-4.5",
        who: Who {
            care_group: Some(2),
            adult_on: Some("2030-05-01"),
        },
        history: &[
            "2026-11-23T04:00:00Z",
            MON,
            "2026-11-24T04:00:00Z",
            TUE,
            "2026-11-25T04:00:00Z",
            WED,
            "2026-11-26T04:00:00Z",
        ],
        at: THU,
        expect: DecisionKind::FrequencyLimit,
    },
    Case {
        what: "002 l.1197 «Для несовершеннолетних граждан по мере возникновения потребности»: \
               a minor's third of the week is accepted",
        service: "002-1.7.1",
        who: Who {
            care_group: Some(1),
            adult_on: Some("2030-05-01"),
        },
        history: &[MON, TUE],
        at: WED,
        expect: DecisionKind::Accepted,
    },
    Case {
        what: "002 l.1197 «не более 2-х в неделю … для 0-5 группы ухода»: an adult's third is refused",
        service: "002-1.7.1",
        who: Who {
            care_group: Some(1),
            adult_on: None,
        },
        history: &[MON, TUE],
        at: FRI,
        expect: DecisionKind::FrequencyLimit,
    },
];

#[test]
fn norms_by_care_group_and_age_table() {
    for case in CASES {
        let r = person(1, case.who);
        let d = tap(case.service, case.at, &r, case.history);
        assert_eq!(d.kind(), case.expect, "{}: {d:?}", case.what);
    }
    // What the screen is told: the care groups the seed names, and the recipient's.
    let d = tap("002-5.1", MON, &person(1, ADULT(4)), &[]);
    let Decision::NotEligible {
        care_group,
        care_groups,
        minors,
        ..
    } = d
    else {
        panic!("{d:?}")
    };
    assert_eq!((care_group, care_groups, minors), (Some(4), [0, 3], true));
    // Overridable with a reason, like the other rules.
    assert!(Policy::default().overridable(d.rule().unwrap()));
}

/// 002 l.1511 «для отделения милосердия – 60 мин., для 3-5 группы ухода и для
/// несовершеннолетних до 150 мин.»: a walk with a recipient of care group 4 (or a minor) runs to
/// 150 minutes; the session closes itself after the longest norm of those present, and each
/// recipient's unit is judged by their own norm.
#[test]
fn a_walk_with_care_group_4_runs_to_150_minutes() {
    let svc = service("002-1.12");
    let site = site();
    let policy = Policy::default();
    let grace = i64::from(policy.auto_close_grace_minutes);
    let start = t(MON);
    let mut s = open("002-1.12", MON);
    assert_eq!(
        s.auto_close_at(&svc, &policy),
        Some(start + chrono::Duration::minutes(60 + grace)),
        "l.1511: 60 min by default"
    );
    let people = [
        person(1, ADULT(1)),
        person(2, ADULT(4)),
        person(3, MINOR(1)),
    ];
    for (i, r) in people.iter().enumerate() {
        let out = s.tap(
            Tapper::Known {
                recipient: r,
                card: CardStatus::Active,
            },
            &inputs(&svc, &[], &site, &policy),
            cid(i as u128),
            id(i as u128),
            start,
        );
        assert_eq!(out.decision.kind(), DecisionKind::Accepted);
        let ev = out.event.unwrap();
        let Event::CheckedIn { norm_minutes, .. } = &ev else {
            panic!()
        };
        let own = if i == 0 { None } else { Some(150) };
        assert_eq!(*norm_minutes, own, "l.1511: recipient {i}'s own norm");
        s.apply(&ev).unwrap();
    }
    assert_eq!(
        s.auto_close_at(&svc, &policy),
        Some(start + chrono::Duration::minutes(150 + grace)),
        "l.1511: up to 150 min with care group 3-5 or a minor present"
    );
    // A 100-minute walk: over the norm only for the recipient of care group 1.
    let units = s.units(start + chrono::Duration::minutes(100), &svc, &site, true);
    let over: Vec<_> = people
        .iter()
        .map(|r| {
            units
                .iter()
                .find(|u| u.recipient == Some(r.id))
                .unwrap()
                .over_norm_minutes
        })
        .collect();
    assert_eq!(
        over,
        [Some(40), None, None],
        "l.1511: each by their own norm"
    );
}

/// 002 l.1975 «В течение года до двух курсов реабилитации»: the courses' first days come from
/// the programme; a session in a third course of a year is refused. 002 l.3999 «курс – от 15 до
/// 30 дней»: a session after a course's 30th day is refused.
#[test]
fn courses_per_year_and_their_length() {
    let with_courses = |code: &str, starts: &[&str]| {
        let mut r = person(1, ADULT(2));
        let p = r.programme.as_mut().unwrap();
        p.valid_from = "2025-01-01".parse().unwrap();
        p.valid_to = "2027-12-31".parse().unwrap();
        let item = p.items.iter_mut().find(|i| i.service.0 == code).unwrap();
        item.courses = starts.iter().map(|d| d.parse().unwrap()).collect();
        r
    };
    let d = |s: &str| s.parse::<chrono::NaiveDate>().unwrap();
    let three = &["2026-02-01", "2026-06-01", "2026-10-01"][..];
    // (what, service, course starts, the tap, the gap expected or none).
    type CourseCase<'a> = (
        &'a str,
        &'a str,
        &'a [&'a str],
        &'a str,
        Option<ProgrammeGap>,
    );
    let cases: [CourseCase; 9] = [
        (
            "l.1975: a session in the second course of 2026",
            "002-2.5",
            three,
            "2026-06-05T06:00:00Z",
            None,
        ),
        (
            "l.1975: a session in the third course of 2026 is refused",
            "002-2.5",
            three,
            "2026-10-05T06:00:00Z",
            Some(ProgrammeGap::CourseLimit { max: 2, nth: 3 }),
        ),
        (
            "l.1975: after the third course's 18 days no course runs (not «a third course» in 2027)",
            "002-2.5",
            three,
            "2027-01-15T06:00:00Z",
            Some(ProgrammeGap::CourseOver { days: 18, day: 107 }),
        ),
        (
            "l.1975: before the first course none runs",
            "002-2.5",
            &["2026-10-01"],
            "2026-09-05T06:00:00Z",
            Some(ProgrammeGap::NoCourse {
                first: d("2026-10-01"),
            }),
        ),
        (
            "l.1975: a course begun in 2025 does not count in 2026",
            "002-2.5",
            &["2025-10-01", "2026-02-01", "2026-06-01"],
            "2026-06-05T06:00:00Z",
            None,
        ),
        (
            "l.1975: the same course entered twice is one course",
            "002-2.5",
            &["2026-02-01", "2026-02-01", "2026-06-01"],
            "2026-06-05T06:00:00Z",
            None,
        ),
        (
            "l.1975: no course in the programme: nothing to count",
            "002-2.5",
            &[],
            "2026-06-05T06:00:00Z",
            None,
        ),
        (
            "l.3999: day 30 of a computer course is within «до 30 дней»",
            "002-7.4",
            &["2026-11-01"],
            "2026-11-30T06:00:00Z",
            None,
        ),
        (
            "l.3999: day 31 is after the course",
            "002-7.4",
            &["2026-11-01"],
            "2026-12-01T06:00:00Z",
            Some(ProgrammeGap::CourseOver { days: 30, day: 31 }),
        ),
    ];
    for (what, code, starts, at, gap) in cases {
        let r = with_courses(code, starts);
        let d = tap(code, at, &r, &[]);
        match gap {
            None => assert_eq!(d.kind(), DecisionKind::Accepted, "{what}: {d:?}"),
            Some(gap) => assert_eq!(
                d,
                Decision::NotInProgramme {
                    recipient: r.id,
                    service: code.into(),
                    gap,
                },
                "{what}"
            ),
        }
    }
    // One service's courses are not another's: a rehabilitation course does not bound the
    // computer course (002-7.4 has none in the programme here).
    let r = with_courses("002-2.5", &["2026-02-01"]);
    let d = tap("002-7.4", "2026-11-05T06:00:00Z", &r, &[]);
    assert_eq!(d.kind(), DecisionKind::Accepted, "{d:?}");
}

/// 002 l.3999 «курс – от 15 до 30 дней»: a course is at least 15 days, so the next course of the
/// service cannot begin before the 15th day after the last one began; 002 l.1975 with the
/// 18-day courses of 002-2.5: 18 days apart at the least. The programme's form refuses what this
/// finds.
#[test]
fn a_course_shorter_than_the_shortest_is_found_in_the_programme() {
    let cat = catalogue();
    let courses = |code: &str| {
        cat.get(&otmetka_core::catalogue::ServiceCode::from(code))
            .and_then(|s| s.courses.clone())
            .unwrap()
    };
    let d = |s: &str| -> chrono::NaiveDate { s.parse().unwrap() };
    // (what, service, starts, the pair too close or none)
    type Case = (
        &'static str,
        &'static str,
        &'static [&'static str],
        Option<(&'static str, &'static str)>,
    );
    let cases: &[Case] = &[
        (
            "l.3999: 15 days apart, the first course ran its 15 days",
            "002-7.4",
            &["2026-03-01", "2026-03-16"],
            None,
        ),
        (
            "l.3999: 14 days apart, the first course would run 14",
            "002-7.4",
            &["2026-03-01", "2026-03-15"],
            Some(("2026-03-01", "2026-03-15")),
        ),
        (
            "l.3999: the second pair too close, the first fine",
            "002-7.4",
            &["2026-01-10", "2026-03-01", "2026-03-10"],
            Some(("2026-03-01", "2026-03-10")),
        ),
        ("l.3999: one course alone", "002-7.4", &["2026-03-01"], None),
        (
            "l.1975: 002-2.5's courses are 18 days: 17 apart is too close",
            "002-2.5",
            &["2026-03-01", "2026-03-18"],
            Some(("2026-03-01", "2026-03-18")),
        ),
        (
            "l.1975: 18 days apart",
            "002-2.5",
            &["2026-03-01", "2026-03-19"],
            None,
        ),
    ];
    for (what, code, starts, expected) in cases {
        let starts: Vec<_> = starts.iter().map(|s| d(s)).collect();
        assert_eq!(
            courses(code).too_close(&starts),
            expected.map(|(a, b)| (d(a), d(b))),
            "{what}"
        );
    }
}

/// 002 §4.5 has a frequency for each of its forms: circles and classes «3 раза в неделю» (for
/// minors up to 7, l.3169), excursions and cultural events «1 раз в месяц» (l.3171). Each cap
/// counts its own form's sessions and refuses only a session of its form: an excursion is not a
/// fourth circle of the week, and a circle is not a second event of the month. The journal's
/// re-check reads the same caps.
#[test]
fn circles_and_events_of_leisure_have_their_own_frequencies() {
    use otmetka_core::catalogue::Form;
    use otmetka_core::rules::{Given, recheck};
    let code = "002-4.5";
    let tap = |r: &Recipient, history: &[(&str, bool)], at: &str, event: bool| {
        tap_as(code, at, r, history, event)
    };
    const EARLY_NOV: &str = "2026-11-05T06:00:00Z";
    let (adult, minor) = (person(1, ADULT(2)), person(1, MINOR(2)));
    let circles = [(MON, false), (TUE, false), (WED, false)];
    // An excursion after three circles of the week: the week's cap is the circles'.
    let d = tap(&adult, &circles, THU, true);
    assert_eq!(d.kind(), DecisionKind::Accepted, "{d:?}");
    // A fourth circle is still refused, by the adults' cap of circles.
    let d = tap(&adult, &circles, THU, false);
    let Decision::FrequencyLimit { limit, used, .. } = &d else {
        panic!("{d:?}")
    };
    assert_eq!((limit.max, limit.form, *used), (3, Form::Regular, 3));
    // A second event of the month is refused, for an adult and a minor alike ...
    for r in [&adult, &minor] {
        let d = tap(r, &[(EARLY_NOV, true)], THU, true);
        let Decision::FrequencyLimit { limit, used, .. } = &d else {
            panic!("{d:?}")
        };
        assert_eq!((limit.max, limit.form, *used), (1, Form::Event, 1));
    }
    // ... while last month's event, or this week's circles, leave this month's event free ...
    let d = tap(
        &adult,
        &[("2026-10-28T06:00:00Z", true), (MON, false)],
        THU,
        true,
    );
    assert_eq!(d.kind(), DecisionKind::Accepted, "{d:?}");
    // ... and an event earlier in the week is not one of its three circles.
    let d = tap(
        &adult,
        &[(MON, true), (TUE, false), (WED, false)],
        THU,
        false,
    );
    assert_eq!(d.kind(), DecisionKind::Accepted, "{d:?}");
    // The journal's re-check over all kiosks: the second event of November, and no circle.
    let given = |n: u128, at: &str, event: bool| Given {
        session: sid(n),
        at: t(at),
        event,
    };
    let units = [
        given(10, EARLY_NOV, true),
        given(11, MON, false),
        given(12, TUE, false),
        given(13, WED, false),
        given(14, THU, true),
    ];
    let (svc, site) = (service(code), site());
    let verdicts = recheck(&svc, &adult, &[], &site, &units);
    let broken: Vec<_> = units
        .iter()
        .zip(&verdicts)
        .filter(|(_, v)| !v.is_empty())
        .map(|(g, _)| g.session)
        .collect();
    assert_eq!(broken, vec![sid(14)], "{verdicts:?}");
}
