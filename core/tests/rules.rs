//! The rules of the standards, table by table. Each case cites the seed line its number comes
//! from (docs/standards/, 1-based lines).

#![allow(clippy::unwrap_used)]

mod support;

use otmetka_core::catalogue::Period;
use otmetka_core::decision::{Decision, DecisionKind, ProgrammeGap, Rule};
use otmetka_core::event::{CheckInMethod, CloseKind, Event};
use otmetka_core::people::{CardStatus, Consent};
use otmetka_core::rules::Policy;
use otmetka_core::session::{Session, Tapper};
use support::*;

/// Opens a session of `code` at `at` and applies the events of `n` accepted taps.
fn open_with(code: &str, at: &str, n: u128) -> Session {
    let svc = service(code);
    let kind = (svc.unit == otmetka_core::catalogue::UnitRule::SessionChooses)
        .then_some(otmetka_core::catalogue::UnitKind::PerRecipient);
    let mut s = Session::plan(sid(1), &svc, kind, None, instructor()).unwrap();
    let ev = s
        .open(
            t(at),
            otmetka_core::clock::ClockVerdict::Trusted,
            false,
            true,
        )
        .unwrap();
    s.apply(&ev).unwrap();
    let site = site();
    let policy = Policy::default();
    for i in 0..n {
        let r = recipient(i);
        let out = s.tap(
            Tapper::Known {
                recipient: &r,
                card: CardStatus::Active,
            },
            &inputs(&svc, &[], &site, &policy),
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
    s
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
];

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
        .close(now, CloseKind::Instructor, Some(26), &svc, &site, true)
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
            head_count: None
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
    let policy = Policy::default();
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
    for i in 0..6 {
        let r = recipient(i);
        let out = s.tap(
            Tapper::Known {
                recipient: &r,
                card: CardStatus::Active,
            },
            &inputs(&svc, &[], &site, &policy),
            cid(i),
            id(i),
            t("2026-11-23T06:01:00Z"),
        );
        s.apply(&out.event.unwrap()).unwrap();
    }
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
    };
    let tue = Given {
        session: sid(11),
        at: t("2026-11-24T06:00:00Z"),
    };
    let wed = Given {
        session: sid(12),
        at: t("2026-11-25T06:00:00Z"),
    };
    let next_mon = Given {
        session: sid(13),
        at: t("2026-11-30T06:00:00Z"),
    };
    for given in [
        vec![mon.clone(), tue.clone(), wed.clone(), next_mon.clone()],
        vec![wed.clone(), next_mon.clone(), mon.clone(), tue.clone()],
    ] {
        let verdicts = recheck(&svc, &r, &site(), &given);
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
            count: 1,
        },
        UsageEntry {
            service: "001".into(),
            date: "2026-11-24".parse().unwrap(),
            kiosk: Some("kiosk-a".into()),
            count: 1,
        },
    ];
    let site = site();
    // Kiosk A: B's unit from the usage, its own from its store (here: one in history).
    let mut history = Usage::attendance(&entries, "kiosk-a", &site);
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
