//! The rules of the standards, table by table. Each case cites the seed line its number comes
//! from (docs/standards/, 1-based lines).

#![allow(clippy::unwrap_used)]

mod support;

use otmetka_core::catalogue::Period;
use otmetka_core::decision::{Decision, DecisionKind, ProgrammeGap, Rule};
use otmetka_core::event::{CheckInMethod, CloseKind, CloseReason, Event};
use otmetka_core::people::{CardStatus, Consent};
use otmetka_core::rules::Policy;
use otmetka_core::session::{Session, Tapper};
use support::*;

/// Opens a session of `code` at `at` and applies the events of `n` accepted taps.
fn open_with(code: &str, at: &str, n: u128) -> Session {
    open_as(1, code, at, n)
}

/// [`open_with`] as session number `session`.
fn open_as(session: u128, code: &str, at: &str, n: u128) -> Session {
    open_form(session, code, at, n, false)
}

/// [`open_as`], opened as the service's event form where `event`.
fn open_form(session: u128, code: &str, at: &str, n: u128, event: bool) -> Session {
    let svc = service(code);
    let kind = (svc.unit == otmetka_core::catalogue::UnitRule::SessionChooses)
        .then_some(otmetka_core::catalogue::UnitKind::PerRecipient);
    let mut s = Session::plan(sid(session), &svc, kind, None, instructor()).unwrap();
    if event {
        s = s.as_event(&svc).unwrap();
    }
    let ev = s
        .open(
            t(at),
            otmetka_core::clock::ClockVerdict::Trusted,
            false,
            true,
        )
        .unwrap();
    s.apply(&ev).unwrap();
    tap_in(&mut s, &svc, at, n);
    s
}

/// Taps recipients 0..`n` into the open session `s` at `at`, each accepted, and applies them.
fn tap_in(s: &mut Session, svc: &otmetka_core::catalogue::Service, at: &str, n: u128) {
    let site = site();
    let policy = Policy::default();
    for i in 0..n {
        let r = recipient(i);
        let out = s.tap(
            Tapper::Known {
                recipient: &r,
                card: CardStatus::Active,
            },
            &inputs(svc, &[], &site, &policy),
            cid(i),
            id(i),
            t(at),
        );
        assert_eq!(
            out.decision.kind(),
            DecisionKind::Accepted,
            "tap {i}: {:?}",
            out.decision
        );
        s.apply(&out.event.unwrap()).unwrap();
    }
}

struct Case {
    /// What the case shows, with its source line.
    what: &'static str,
    service: &'static str,
    /// Past attendances of the recipient: (service, UTC time).
    history: &'static [(&'static str, &'static str)],
    /// The tap's time.
    at: &'static str,
    expect: DecisionKind,
}

const CASES: &[Case] = &[
    Case {
        what: "002 l.1197 «от 1 раза в день» is a floor: a second session on one day is accepted",
        service: "002-1.7.1",
        history: &[("002-1.7.1", "2026-11-24T04:00:00Z")],
        at: "2026-11-24T09:00:00Z",
        expect: DecisionKind::Accepted,
    },
    Case {
        what: "002 l.1197 «не более 2-х в неделю»: a third in one week is refused",
        service: "002-1.7.1",
        history: &[
            ("002-1.7.1", "2026-11-23T04:00:00Z"),
            ("002-1.7.1", "2026-11-24T04:00:00Z"),
        ],
        at: "2026-11-25T09:00:00Z",
        expect: DecisionKind::FrequencyLimit,
    },
    Case {
        what: "001 line 9: up to twice a week; a third visit in one calendar week is refused",
        service: "001",
        history: &[
            ("001", "2026-11-23T06:00:00Z"),
            ("001", "2026-11-25T06:00:00Z"),
        ],
        at: "2026-11-27T06:00:00Z",
        expect: DecisionKind::FrequencyLimit,
    },
    Case {
        what: "001 line 9: two visits last week do not count this week (Monday–Sunday, UTC+5)",
        service: "001",
        history: &[
            ("001", "2026-11-19T06:00:00Z"),
            ("001", "2026-11-22T06:00:00Z"),
        ],
        at: "2026-11-23T06:00:00Z",
        expect: DecisionKind::Accepted,
    },
    Case {
        what: "001 line 9: a visit to another club does not count",
        service: "001",
        history: &[
            ("001", "2026-11-23T06:00:00Z"),
            ("002-1.7.1", "2026-11-24T06:00:00Z"),
        ],
        at: "2026-11-25T06:00:00Z",
        expect: DecisionKind::Accepted,
    },
    Case {
        what: "000 line 19: up to 2 per 14-day course; a third within 14 days is refused",
        service: "000",
        history: &[
            ("000", "2026-11-12T06:00:00Z"),
            ("000", "2026-11-18T06:00:00Z"),
        ],
        at: "2026-11-23T06:00:00Z",
        expect: DecisionKind::FrequencyLimit,
    },
    Case {
        what: "000 line 19: the first of the two falls outside the 14 days: accepted",
        service: "000",
        history: &[
            ("000", "2026-11-05T06:00:00Z"),
            ("000", "2026-11-18T06:00:00Z"),
        ],
        at: "2026-11-23T06:00:00Z",
        expect: DecisionKind::Accepted,
    },
    Case {
        what: "002 §2.4 line 1909-1931: healthy lifestyle once a month; a second in the month",
        service: "002-2.4",
        history: &[("002-2.4", "2026-11-02T06:00:00Z")],
        at: "2026-11-23T06:00:00Z",
        expect: DecisionKind::FrequencyLimit,
    },
    Case {
        what: "004 §4.6.2 line 239-240: outings up to 3 a quarter; a fourth in Q4",
        service: "004-4.6.2",
        history: &[
            ("004-4.6.2", "2026-10-02T06:00:00Z"),
            ("004-4.6.2", "2026-10-20T06:00:00Z"),
            ("004-4.6.2", "2026-11-10T06:00:00Z"),
        ],
        at: "2026-11-23T06:00:00Z",
        expect: DecisionKind::FrequencyLimit,
    },
    Case {
        what: "002 l.1251 «не более 1 раза в месяц для группы получателей»: the group's cap, \
               not the recipient's; a second celebration in the month is not refused at the tap",
        service: "002-1.7.2",
        history: &[("002-1.7.2", "2026-11-02T06:00:00Z")],
        at: "2026-11-23T06:00:00Z",
        expect: DecisionKind::Accepted,
    },
];

/// The rules issue, point 4: 002 l.1251's cap counts the group's sessions of the month.
#[test]
fn a_groups_cap_counts_the_groups_sessions() {
    let site = site();
    let svc = service("002-1.7.2");
    let t0 = t("2026-11-23T06:00:00Z");
    let cases: [(&[&str], usize, &str); 4] = [
        (&[], 0, "l.1251: the month's first celebration"),
        (&["2026-11-02T06:00:00Z"], 1, "l.1251: a second in November"),
        (
            &["2026-10-28T06:00:00Z"],
            0,
            "l.1251: October's is another month",
        ),
        (
            &["2026-10-28T06:00:00Z", "2026-11-30T18:59:00Z"],
            1,
            "l.1251: 23:59 local on 30 November is November (UTC+5)",
        ),
    ];
    for (earlier, broken, what) in cases {
        let earlier: Vec<_> = earlier.iter().map(|at| t(at)).collect();
        let found = otmetka_core::rules::group_caps(&svc, &site, &earlier, t0);
        assert_eq!(found.len(), broken, "{what}: {found:?}");
        if let Some((limit, used)) = found.first() {
            assert_eq!(
                (limit.max, limit.period, *used),
                (1, Period::Month, 1),
                "{what}"
            );
        }
    }
    // A recipient's cap is never a group's: 001 l.9 «до двух раз в неделю».
    let club = service("001");
    let week = [t("2026-11-23T06:00:00Z"), t("2026-11-24T06:00:00Z")];
    assert!(otmetka_core::rules::group_caps(&club, &site, &week, t0).is_empty());
}

/// The rules issue, point 4, at the kiosk: a group's session over its cap opens only when the
/// instructor confirms it, never where the site makes frequency limits a hard stop; confirmed,
/// the opening says so and every unit it gives carries the override, for the journal's page.
#[test]
fn a_groups_session_over_its_cap_opens_only_confirmed_and_its_units_say_so() {
    use otmetka_core::people::GroupId;
    use otmetka_core::session::SessionError;
    let site = site();
    let svc = service("002-1.7.2");
    let group = Some(GroupId(uuid::Uuid::from_u128(0x6a01)));
    let at = "2026-11-23T06:00:00Z";
    let plan = || {
        Session::plan(
            sid(7),
            &svc,
            Some(otmetka_core::catalogue::UnitKind::PerRecipient),
            group,
            instructor(),
        )
        .unwrap()
    };
    let reached = otmetka_core::rules::group_caps(&svc, &site, &[t("2026-11-02T06:00:00Z")], t(at));
    assert_eq!(reached.len(), 1);

    // Nothing reached: it opens as any session does.
    let s = plan().within_group_caps(&[], false, true).unwrap();
    assert!(!s.over_group_cap);
    for (confirmed, overridable, what) in [
        (false, true, "not confirmed"),
        (true, false, "a hard stop at this site"),
        (false, false, "neither"),
    ] {
        match plan().within_group_caps(&reached, confirmed, overridable) {
            Err(SessionError::GroupCapReached {
                limit,
                used,
                overridable: o,
            }) => {
                assert_eq!(
                    (limit.max, limit.period, used),
                    (1, Period::Month, 1),
                    "{what}"
                );
                assert_eq!(o, overridable, "{what}");
            }
            other => panic!("{what}: {other:?}"),
        }
    }

    let mut s = plan().within_group_caps(&reached, true, true).unwrap();
    let ev = s
        .open(
            t(at),
            otmetka_core::clock::ClockVerdict::Trusted,
            false,
            true,
        )
        .unwrap();
    assert!(
        matches!(
            ev,
            Event::SessionOpened {
                over_group_cap: true,
                ..
            }
        ),
        "{ev:?}"
    );
    // Replayed from its opening event, the session still knows.
    assert!(Session::from_opened(&ev).unwrap().over_group_cap);
    s.apply(&ev).unwrap();
    tap_in(&mut s, &svc, at, 2);
    let units = s.units(t(at) + chrono::Duration::minutes(60), &svc, &site, true);
    assert_eq!(units.len(), 2);
    assert!(
        units
            .iter()
            .all(|u| u.overridden == vec![Rule::FrequencyLimit]),
        "{units:?}"
    );
}

#[test]
fn frequency_limits_table() {
    let site = site();
    let policy = Policy::default();
    for case in CASES {
        let svc = service(case.service);
        let s = open_with(case.service, case.at, 0);
        let history: Vec<_> = case
            .history
            .iter()
            .enumerate()
            .map(|(i, (code, at))| attended(100 + i as u128, code, at))
            .collect();
        let r = recipient(1);
        let out = s.tap(
            Tapper::Known {
                recipient: &r,
                card: CardStatus::Active,
            },
            &inputs(&svc, &history, &site, &policy),
            cid(1),
            id(1),
            t(case.at),
        );
        assert_eq!(
            out.decision.kind(),
            case.expect,
            "{}: {:?}",
            case.what,
            out.decision
        );
        if case.expect != DecisionKind::Accepted {
            assert!(
                out.event.is_none(),
                "{}: a refusal records no check-in",
                case.what
            );
        }
    }
}

#[test]
fn the_26th_check_in_to_a_25_person_group_needs_an_override() {
    // 000 line 16: a group of 10 to 25.
    let svc = service("000");
    assert_eq!(svc.group_max, Some(25));
    let s = open_with("000", "2026-11-23T06:00:00Z", 25);
    let (site, policy) = (site(), Policy::default());
    let r = recipient(26);
    let now = t("2026-11-23T06:05:00Z");
    let out = s.tap(
        Tapper::Known {
            recipient: &r,
            card: CardStatus::Active,
        },
        &inputs(&svc, &[], &site, &policy),
        cid(26),
        id(26),
        now,
    );
    assert_eq!(
        out.decision,
        Decision::GroupFull {
            recipient: r.id,
            max: 25
        }
    );
    let inp = inputs(&svc, &[], &site, &policy);
    let missing_reason = s.check_in_overriding(
        &r,
        CardStatus::Active,
        CheckInMethod::Card,
        " ",
        &inp,
        cid(26),
        now,
    );
    assert!(missing_reason.is_err(), "an override needs a reason");
    let over = s
        .check_in_overriding(
            &r,
            CardStatus::Active,
            CheckInMethod::Card,
            "замена",
            &inp,
            cid(26),
            now,
        )
        .unwrap();
    assert_eq!(
        over.decision,
        Decision::Accepted {
            recipient: r.id,
            overridden: vec![Rule::GroupFull]
        }
    );
    let mut s = s;
    s.apply(&over.event.unwrap()).unwrap();
    let [_, units] = s
        .close(
            now,
            CloseKind::Instructor,
            Some(26),
            None,
            &svc,
            &site,
            true,
        )
        .unwrap();
    let Event::Units { units, .. } = units else {
        panic!()
    };
    assert_eq!(units.len(), 26);
    assert_eq!(units.iter().filter(|u| u.over_limit()).count(), 1);
    // A site that makes the group maximum a hard stop refuses the override.
    let hard = Policy {
        hard: [Rule::GroupFull].into(),
        ..Policy::default()
    };
    let mut open = open_with("000", "2026-11-23T06:00:00Z", 25);
    let inp = inputs(&svc, &[], &site, &hard);
    let res = open.check_in_overriding(
        &r,
        CardStatus::Active,
        CheckInMethod::Card,
        "x",
        &inp,
        cid(26),
        now,
    );
    assert!(matches!(
        res,
        Err(otmetka_core::session::SessionError::HardRule(
            Rule::GroupFull
        ))
    ));
    open.checkins.clear();
}

#[test]
fn a_000_session_of_9_is_flagged_at_close() {
    // 000 line 16: a group of 10 to 25.
    let svc = service("000");
    let site = site();
    let s = open_with("000", "2026-11-23T06:00:00Z", 9);
    let [closed, units] = s
        .close(
            t("2026-11-23T06:40:00Z"),
            CloseKind::Instructor,
            Some(9),
            Some(CloseReason::SmallGroup),
            &svc,
            &site,
            true,
        )
        .unwrap();
    assert!(matches!(
        closed,
        Event::SessionClosed {
            head_count: Some(9),
            ..
        }
    ));
    let Event::Units { units, .. } = units else {
        panic!()
    };
    assert_eq!(units.len(), 9);
    assert!(units.iter().all(|u| u.below_group_min));
    let s10 = open_with("000", "2026-11-23T06:00:00Z", 10);
    let units = s10.units(t("2026-11-23T06:40:00Z"), &svc, &site, true);
    assert!(units.iter().all(|u| !u.below_group_min));
}

/// The rules issue, point 14: the instructor's close warns where the group is below its minimum
/// or the head count is not the check-ins, and then needs a reason; the automatic close does not.
#[test]
fn a_close_that_warns_needs_a_reason() {
    use otmetka_core::session::{CloseWarning, SessionError};
    let site = site();
    let at = "2026-11-23T06:00:00Z";
    let end = t("2026-11-23T06:40:00Z");
    /// (service, present, head count, the warnings, what the case shows)
    type Case = (
        &'static str,
        u128,
        Option<u32>,
        Vec<CloseWarning>,
        &'static str,
    );
    let cases: [Case; 6] = [
        (
            "000",
            12,
            Some(12),
            vec![],
            "l.16: 12 of 10–25, counted as checked in",
        ),
        ("000", 12, None, vec![], "no head count given"),
        (
            "000",
            9,
            Some(9),
            vec![CloseWarning::BelowGroupMin {
                present: 9,
                min: 10,
            }],
            "l.16: 9 is below 10",
        ),
        (
            "000",
            12,
            Some(14),
            vec![CloseWarning::HeadCount {
                head_count: 14,
                present: 12,
            }],
            "two more in the room than checked in",
        ),
        (
            "000",
            9,
            Some(8),
            vec![
                CloseWarning::BelowGroupMin {
                    present: 9,
                    min: 10,
                },
                CloseWarning::HeadCount {
                    head_count: 8,
                    present: 9,
                },
            ],
            "both",
        ),
        (
            "002-1.7.1",
            1,
            Some(1),
            vec![],
            "l.1197: an individual session is not below the minimum",
        ),
    ];
    for (code, n, head, warnings, what) in cases {
        let svc = service(code);
        let s = open_with(code, at, n);
        assert_eq!(s.close_warnings(&svc, head), warnings, "{code}: {what}");
        let res = s.close(end, CloseKind::Instructor, head, None, &svc, &site, true);
        if warnings.is_empty() {
            assert!(res.is_ok(), "{code}: {what}: {res:?}");
        } else {
            assert!(
                matches!(&res, Err(SessionError::CloseNeedsReason(w)) if *w == warnings),
                "{code}: {what}: {res:?}"
            );
            // With a reason it closes, and the reason travels in the close event.
            let [closed, _] = s
                .close(
                    end,
                    CloseKind::Instructor,
                    head,
                    Some(CloseReason::InstructorDecision),
                    &svc,
                    &site,
                    true,
                )
                .unwrap();
            assert!(
                matches!(
                    closed,
                    Event::SessionClosed {
                        reason: Some(CloseReason::InstructorDecision),
                        ..
                    }
                ),
                "{code}: {what}"
            );
            // The automatic close never waits for a reason (the journal marks the session).
            let auto = s.close(end, CloseKind::Auto, None, None, &svc, &site, true);
            assert!(auto.is_ok(), "{code}: {what}: auto {auto:?}");
        }
    }
}

#[test]
fn a_40_minute_session_closes_itself() {
    // 000 line 23: up to 40 minutes.
    let svc = service("000");
    assert_eq!(svc.time_norm_minutes, Some(40));
    let site = site();
    let policy = Policy {
        auto_close_grace_minutes: 0,
        ..Policy::default()
    };
    let s = open_with("000", "2026-11-23T06:00:00Z", 10);
    assert!(
        s.tick(t("2026-11-23T06:39:59Z"), &svc, &policy, &site, true)
            .is_none()
    );
    // Found the next morning: dated at the deadline, not at the moment it was noticed.
    let [closed, units] = s
        .tick(t("2026-11-24T03:00:00Z"), &svc, &policy, &site, true)
        .unwrap();
    assert_eq!(
        closed,
        Event::SessionClosed {
            session: s.id,
            at: t("2026-11-23T06:40:00Z"),
            how: CloseKind::Auto,
            head_count: None,
            reason: None,
        }
    );
    let Event::Units { units, .. } = units else {
        panic!()
    };
    assert!(
        units
            .iter()
            .all(|u| u.ended_at == t("2026-11-23T06:40:00Z"))
    );
}

/// The rules issue, point 6: a session opened as the service's event has the event's norm — its
/// automatic close and its over-norm flag follow it, not the club's 60 minutes plus the grace.
#[test]
fn an_event_runs_to_its_own_norm() {
    let site = site();
    let policy = Policy::default();
    let grace = i64::from(policy.auto_close_grace_minutes);
    let at = "2026-11-23T06:00:00Z";
    let cases = [
        (
            "002-1.7.1",
            false,
            60,
            "l.1199: кружковая работа – до 60 мин.",
        ),
        (
            "002-1.7.1",
            true,
            120,
            "l.1199: культурно-массовое мероприятие – до 120 минут",
        ),
        ("002-4.5", false, 60, "l.3165: кружок – до 60 минут"),
        (
            "002-4.5",
            true,
            240,
            "l.3171: экскурсия, культурное мероприятие – до 4 часов",
        ),
    ];
    for (code, event, norm, what) in cases {
        let svc = service(code);
        assert_eq!(svc.time_norm(event), Some(norm), "{code} {what}");
        let s = open_form(1, code, at, 5, event);
        assert_eq!(s.event, event);
        let due = t(at) + chrono::Duration::minutes(i64::from(norm) + grace);
        assert_eq!(s.auto_close_at(&svc, &policy), Some(due), "{code} {what}");
        assert!(
            s.tick(
                due - chrono::Duration::seconds(1),
                &svc,
                &policy,
                &site,
                true
            )
            .is_none(),
            "{code} {what}: open until its norm and grace"
        );
        // 100 minutes: within an event's norm, 40 over a club's.
        let units = s.units(t("2026-11-23T07:40:00Z"), &svc, &site, true);
        let over = (norm < 100).then(|| 100 - norm);
        assert!(
            units.iter().all(|u| u.over_norm_minutes == over),
            "{code} {what}: {units:?}"
        );
        // The opening event carries the form, so a restarted kiosk keeps the norm.
        let mut planned =
            Session::plan(sid(2), &svc, s.unit_kind.into(), None, instructor()).unwrap();
        if event {
            planned = planned.as_event(&svc).unwrap();
        }
        let opened = planned
            .open(
                t(at),
                otmetka_core::clock::ClockVerdict::Trusted,
                false,
                true,
            )
            .unwrap();
        assert!(
            matches!(opened, Event::SessionOpened { event: e, .. } if e == event),
            "{code} {what}"
        );
        assert_eq!(Session::from_opened(&opened).unwrap().event, event);
    }
    // 000 has no event form (its norm is «до 40 минут», l.23): it cannot be opened as one.
    let svc = service("000");
    let planned = Session::plan(sid(2), &svc, None, None, instructor()).unwrap();
    assert!(matches!(
        planned.as_event(&svc),
        Err(otmetka_core::session::SessionError::NoEventForm(_))
    ));
}

/// The rules issue, point 11: a session that ran past its time norm is flagged on its units
/// (the journal shows it). 000 l.23 «до 40 минут»; an auto-close dated at the deadline is over
/// by the grace; 004 §4.4 states no norm, so it is never over one.
#[test]
fn a_session_past_its_time_norm_flags_its_units() {
    let site = site();
    let cases = [
        (
            "000",
            "2026-11-23T06:40:00Z",
            None,
            "l.23: 40 min is within «до 40 минут»",
        ),
        (
            "000",
            "2026-11-23T06:40:59Z",
            None,
            "l.23: not a whole minute over",
        ),
        (
            "000",
            "2026-11-23T06:55:00Z",
            Some(15),
            "l.23: 55 min is 15 over",
        ),
    ];
    for (code, end, over, what) in cases {
        let svc = service(code);
        let s = open_with(code, "2026-11-23T06:00:00Z", 10);
        let units = s.units(t(end), &svc, &site, true);
        assert_eq!(units.len(), 10);
        assert!(
            units.iter().all(|u| u.over_norm_minutes == over),
            "{code} {what}: {:?}",
            units[0].over_norm_minutes
        );
    }
    // The default grace is 15 minutes: an auto-closed 000 session ran 55 minutes.
    let svc = service("000");
    let s = open_with("000", "2026-11-23T06:00:00Z", 10);
    let [_, units] = s
        .tick(
            t("2026-11-23T09:00:00Z"),
            &svc,
            &Policy::default(),
            &site,
            true,
        )
        .unwrap();
    let Event::Units { units, .. } = units else {
        panic!()
    };
    let grace = Policy::default().auto_close_grace_minutes;
    assert!(units.iter().all(|u| u.over_norm_minutes == Some(grace)));
    // A service without a time norm is never over it.
    let none = service("004-4.4");
    assert_eq!(none.time_norm_minutes, None, "004 §4.4 states no norm");
    assert_eq!(
        none.minutes_over_norm(false, t("2026-11-23T06:00:00Z"), t("2026-11-23T10:00:00Z")),
        None
    );
}

/// The rules issue, point 9: 002 l.1513 «прогулки с одним получателем … в сутки – 1 услуга»:
/// two walks on one day give each recipient one unit (the same id, whichever session or kiosk
/// sends it); the next day's walk is another unit; 001 (no unit stated: one a session, as
/// `unit_assumed`) counts each session.
#[test]
fn a_unit_a_day_however_many_sessions() {
    use otmetka_core::unit::UnitId;
    let site = site();
    let ids = |session: u128, code: &str, at: &str| -> Vec<UnitId> {
        let s = open_as(session, code, at, 3);
        let mut ids: Vec<UnitId> = s
            .units(
                t(at) + chrono::Duration::minutes(30),
                &service(code),
                &site,
                true,
            )
            .iter()
            .map(|u| {
                assert_eq!(u.is_per_day(), code == "002-1.12", "{code}: {u:?}");
                u.id
            })
            .collect();
        ids.sort();
        ids
    };
    let cases = [
        // (service, first walk, second walk, same units?, what)
        (
            "002-1.12",
            "2026-11-24T04:00:00Z",
            "2026-11-24T10:00:00Z",
            true,
            "l.1513: one day",
        ),
        (
            "002-1.12",
            "2026-11-24T04:00:00Z",
            "2026-11-24T19:30:00Z",
            false,
            "l.1513: 00:30 local (UTC+5) is the next day",
        ),
        (
            "002-1.12",
            "2026-11-24T04:00:00Z",
            "2026-11-25T04:00:00Z",
            false,
            "l.1513: two days",
        ),
        (
            "001",
            "2026-11-24T04:00:00Z",
            "2026-11-24T10:00:00Z",
            false,
            "001: a unit a session",
        ),
    ];
    for (code, first, second, same, what) in cases {
        let (a, b) = (ids(11, code, first), ids(12, code, second));
        assert_eq!(a.len(), 3, "{code} {what}");
        assert_eq!(a == b, same, "{code} {what}: {a:?} / {b:?}");
        if !same {
            assert!(a.iter().all(|id| !b.contains(id)), "{code} {what}");
        }
    }
    // A group's walk ("прогулка с группой в сутки – 1 услуга"): one unit for the group a day.
    use otmetka_core::catalogue::UnitKind;
    let svc = service("002-1.12");
    let group = otmetka_core::people::GroupId(id(77));
    let walk = |n: u128, at: &str| {
        let s = Session::plan(
            sid(n),
            &svc,
            Some(UnitKind::PerGroup),
            Some(group),
            instructor(),
        )
        .unwrap();
        let mut s = s;
        s.apply(
            &s.open(
                t(at),
                otmetka_core::clock::ClockVerdict::Trusted,
                false,
                false,
            )
            .unwrap(),
        )
        .unwrap();
        let r = recipient(1);
        let out = s.tap(
            Tapper::Known {
                recipient: &r,
                card: CardStatus::Active,
            },
            &inputs(&svc, &[], &site, &Policy::default()),
            cid(n),
            id(n),
            t(at),
        );
        s.apply(&out.event.unwrap()).unwrap();
        s.units(t(at) + chrono::Duration::minutes(30), &svc, &site, true)[0].id
    };
    assert_eq!(
        walk(21, "2026-11-24T04:00:00Z"),
        walk(22, "2026-11-24T09:00:00Z")
    );
    assert_ne!(
        walk(21, "2026-11-24T04:00:00Z"),
        walk(23, "2026-11-25T04:00:00Z")
    );
}

#[test]
fn consent_programme_and_cards() {
    let svc = service("001");
    let (site, policy) = (site(), Policy::default());
    let s = open_with("001", "2026-11-23T06:00:00Z", 0);
    let now = t("2026-11-23T06:01:00Z");
    let tap = |r: &otmetka_core::people::Recipient, card| {
        s.tap(
            Tapper::Known { recipient: r, card },
            &inputs(&svc, &[], &site, &policy),
            cid(9),
            id(9),
            now,
        )
        .decision
    };
    let mut r = recipient(1);
    r.consent = Consent::default();
    assert_eq!(tap(&r, CardStatus::Active).kind(), DecisionKind::NoConsent);
    let mut r = recipient(2);
    r.programme
        .as_mut()
        .unwrap()
        .items
        .retain(|i| i.service.0 != "001");
    assert!(matches!(
        tap(&r, CardStatus::Active),
        Decision::NotInProgramme {
            gap: ProgrammeGap::ServiceNotListed,
            ..
        }
    ));
    let mut r = recipient(3);
    r.programme.as_mut().unwrap().valid_to = "2026-10-31".parse().unwrap();
    assert!(matches!(
        tap(&r, CardStatus::Active),
        Decision::NotInProgramme {
            gap: ProgrammeGap::NotInForce,
            ..
        }
    ));
    let mut r = recipient(4);
    for item in &mut r.programme.as_mut().unwrap().items {
        item.count = Some(0);
        item.period = Period::Month;
    }
    assert!(matches!(
        tap(&r, CardStatus::Active),
        Decision::NotInProgramme {
            gap: ProgrammeGap::CountUsed {
                allowed: 0,
                used: 0
            },
            ..
        }
    ));
    let r = recipient(5);
    assert_eq!(
        tap(&r, CardStatus::Blocked).kind(),
        DecisionKind::CardBlocked
    );
    assert_eq!(
        tap(&r, CardStatus::Replaced).kind(),
        DecisionKind::CardReplaced
    );
    let unknown = s.tap(
        Tapper::Unknown { card_hash: "ab12" },
        &inputs(&svc, &[], &site, &policy),
        cid(9),
        id(9),
        now,
    );
    assert_eq!(unknown.decision, Decision::UnknownCard);
    assert!(matches!(
        unknown.event,
        Some(Event::UnidentifiedTap {
            session: Some(_),
            ..
        })
    ));
}

#[test]
fn clock_sanity_blocks_opening_until_the_date_is_confirmed() {
    use otmetka_core::clock::{ClockFacts, ClockVerdict};
    let svc = service("001");
    let s = Session::plan(sid(7), &svc, None, None, instructor()).unwrap();
    let verdict = ClockVerdict::of(&ClockFacts {
        now: t("1970-01-01T00:01:00Z"),
        synced: false,
        build_time: t("2026-11-01T00:00:00Z"),
        last_seen: None,
    });
    assert!(
        s.open(t("1970-01-01T00:01:00Z"), verdict, false, false)
            .is_err()
    );
    let ev = s
        .open(t("2026-11-23T06:00:00Z"), verdict, true, false)
        .unwrap();
    assert!(matches!(
        ev,
        Event::SessionOpened {
            date_confirmed: true,
            ..
        }
    ));
}

/// The rules issue, point 10: the safety briefing is a rule of the catalogue, checked when the
/// session opens. 000 l.56 «проведение инструктажа по соблюдению техники безопасности» requires
/// it; 002 §5.1 (l.3343–3363, labour skills) has no such wording, so it opens without; 001 too.
#[test]
fn a_session_that_begins_with_the_safety_briefing_opens_only_once_it_is_confirmed() {
    use otmetka_core::session::SessionError;
    let cases = [
        (
            "000",
            false,
            false,
            "l.56: the briefing is a step of the procedure",
        ),
        ("000", true, true, "l.56: confirmed, the session opens"),
        ("002-5.1", false, true, "l.3343–3363: no briefing in §5.1"),
        ("001", false, true, "001: no briefing"),
    ];
    for (code, briefed, opens, what) in cases {
        let svc = service(code);
        assert_eq!(svc.needs_safety_briefing(), code == "000", "{code} {what}");
        let kind = (svc.unit == otmetka_core::catalogue::UnitRule::SessionChooses)
            .then_some(otmetka_core::catalogue::UnitKind::PerRecipient);
        let s = Session::plan(sid(9), &svc, kind, None, instructor()).unwrap();
        let opened = s.open(
            t("2026-11-23T06:00:00Z"),
            otmetka_core::clock::ClockVerdict::Trusted,
            false,
            briefed,
        );
        match (opens, opened) {
            (
                true,
                Ok(Event::SessionOpened {
                    safety_briefing, ..
                }),
            ) => {
                assert_eq!(safety_briefing, briefed, "{code} {what}");
            }
            (false, Err(SessionError::SafetyBriefingMissing(c))) => {
                assert_eq!(c.0, code, "{what}");
            }
            (_, other) => panic!("{code} {what}: {other:?}"),
        }
    }
    let cite = service("000").safety_briefing_cite.unwrap();
    assert_eq!(cite.line, 56);
}

#[test]
fn session_chooses_its_unit_kind_where_the_standard_allows_either() {
    use otmetka_core::catalogue::{UnitKind, UnitRule};
    // 002 §1.7.1: "1 service for a group or for 1 recipient".
    let svc = service("002-1.7.1");
    assert_eq!(svc.unit, UnitRule::SessionChooses);
    assert!(Session::plan(sid(1), &svc, None, None, instructor()).is_err());
    let s = Session::plan(sid(1), &svc, Some(UnitKind::PerGroup), None, instructor()).unwrap();
    let mut s = s;
    let site = site();
    s.apply(
        &s.open(
            t("2026-11-23T06:00:00Z"),
            otmetka_core::clock::ClockVerdict::Trusted,
            false,
            false,
        )
        .unwrap(),
    )
    .unwrap();
    tap_in(&mut s, &svc, "2026-11-23T06:01:00Z", 6);
    let units = s.units(t("2026-11-23T07:00:00Z"), &svc, &site, true);
    assert_eq!(units.len(), 1);
    assert_eq!(units[0].participants.len(), 6);
    assert_eq!(units[0].id, otmetka_core::unit::UnitId::per_group(s.id));
}

/// The rules issue, point 7: 002 l.1197 «либо индивидуальное занятие» and l.3995 «индивидуально
/// либо в группе»: a session of one is not below the group minimum; a session of two is; 000
/// (l.16, «от 10 до 25», no individual form) flags a session of one.
#[test]
fn an_individual_session_is_not_below_the_group_minimum() {
    let cases = [
        ("002-1.7.1", 1, false, "l.1197: an individual session"),
        (
            "002-1.7.1",
            2,
            true,
            "l.1197: two are neither a group of 5 nor individual",
        ),
        ("002-7.4", 1, false, "l.3995: individually"),
        ("002-7.4", 4, true, "l.3995: a group is 5 to 8"),
        ("000", 1, true, "l.16: a group of 10 to 25 only"),
    ];
    for (code, n, below, what) in cases {
        let svc = service(code);
        assert_eq!(svc.below_group_min(n), below, "{code} {what}");
        let s = open_with(code, "2026-11-24T04:00:00Z", n as u128);
        let units = s.units(t("2026-11-24T04:30:00Z"), &svc, &site(), true);
        assert!(!units.is_empty(), "{code}: units");
        assert!(
            units.iter().all(|u| u.below_group_min == below),
            "{code} {what}: {units:?}"
        );
    }
}

/// The rules issue, point 1: the journal's re-check over all kiosks is independent of the order
/// the units arrived in. 001 l.9 «до двух раз в неделю»: Monday (kiosk A), Tuesday (kiosk B),
/// Wednesday (kiosk A) — the Wednesday unit is the third, whichever came first.
#[test]
fn the_journal_recheck_finds_the_third_unit_of_a_week_in_any_order() {
    use otmetka_core::rules::{Given, recheck};
    let svc = service("001");
    let r = recipient(1);
    let mon = Given {
        session: sid(10),
        at: t("2026-11-23T06:00:00Z"),
        event: false,
    };
    let tue = Given {
        session: sid(11),
        at: t("2026-11-24T06:00:00Z"),
        event: false,
    };
    let wed = Given {
        session: sid(12),
        at: t("2026-11-25T06:00:00Z"),
        event: false,
    };
    let next_mon = Given {
        session: sid(13),
        at: t("2026-11-30T06:00:00Z"),
        event: false,
    };
    for given in [
        vec![mon.clone(), tue.clone(), wed.clone(), next_mon.clone()],
        vec![wed.clone(), next_mon.clone(), mon.clone(), tue.clone()],
    ] {
        let verdicts = recheck(&svc, &r, &[], &site(), &given);
        for (g, v) in given.iter().zip(&verdicts) {
            if g.session == wed.session {
                assert!(
                    matches!(v.as_slice(), [Decision::FrequencyLimit { used: 2, .. }]),
                    "Wednesday is the third: {v:?}"
                );
            } else {
                assert!(v.is_empty(), "{:?}: {v:?}", g.session);
            }
        }
    }
}

/// A unit the journal reports from another kiosk (no session) counts toward the cap; the kiosk
/// counts its own sessions from its own store.
#[test]
fn another_kiosks_units_count_toward_the_cap() {
    use otmetka_core::wire::{Usage, UsageEntry};
    let svc = service("001");
    let entries = [
        UsageEntry {
            service: "001".into(),
            date: "2026-11-23".parse().unwrap(),
            kiosk: Some("kiosk-b".into()),
            event: false,
            count: 1,
        },
        UsageEntry {
            service: "001".into(),
            date: "2026-11-24".parse().unwrap(),
            kiosk: Some("kiosk-a".into()),
            event: false,
            count: 1,
        },
    ];
    let site = site();
    // From a journal that says what it committed, every entry counts: the kiosk adds only its
    // own sessions past that seq (its store's query).
    assert_eq!(Usage::attendance(&entries, None, &site).len(), 2);
    // From an older journal: kiosk A takes B's unit from the usage, its own from its store
    // (here: one in history).
    let mut history = Usage::attendance(&entries, Some("kiosk-a"), &site);
    assert_eq!(history.len(), 1, "its own entry is left to its store");
    history.push(attended(50, "001", "2026-11-24T06:00:00Z"));
    let s = open_with("001", "2026-11-25T06:00:00Z", 0);
    let r = recipient(1);
    let out = s.tap(
        Tapper::Known {
            recipient: &r,
            card: CardStatus::Active,
        },
        &inputs(&svc, &history, &site, &Policy::default()),
        cid(1),
        id(1),
        t("2026-11-25T06:00:00Z"),
    );
    assert_eq!(
        out.decision.kind(),
        DecisionKind::FrequencyLimit,
        "{:?}",
        out.decision
    );
}
