//! Property tests of the session state machine: whatever the sequence of taps, undos, manual
//! check-ins, overrides, check-outs and closes, a session never yields two units for one recipient,
//! more check-ins than the group maximum without a recorded override, or a unit for an undone
//! check-in; and every decision kind occurs in the generated runs.

#![allow(clippy::unwrap_used)]

mod support;

use otmetka_core::catalogue::{UnitKind, UnitRule};
use otmetka_core::clock::ClockVerdict;
use otmetka_core::decision::{DecisionKind, Rule};
use otmetka_core::event::{CheckInMethod, CloseKind, CloseReason, Event, Satisfaction};
use otmetka_core::people::RecipientId;
use otmetka_core::people::{CardStatus, Recipient};
use otmetka_core::rules::Policy;
use otmetka_core::session::CheckInId;
use otmetka_core::session::{Session, Tapper};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use std::collections::{BTreeSet, HashMap, HashSet};
use support::*;

#[derive(Debug, Clone)]
enum Op {
    Tap {
        who: usize,
        card: u8,
        clock_bad: bool,
    },
    UnknownTap,
    Undo {
        nth: usize,
    },
    Manual {
        who: usize,
    },
    Override {
        who: usize,
    },
    CheckOut {
        nth: usize,
        answer: Option<u8>,
    },
    Close,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        12 => (0usize..14, 0u8..20, proptest::bool::weighted(0.03))
            .prop_map(|(who, card, clock_bad)| Op::Tap { who, card, clock_bad }),
        1 => Just(Op::UnknownTap),
        2 => (0usize..20).prop_map(|nth| Op::Undo { nth }),
        1 => (0usize..14).prop_map(|who| Op::Manual { who }),
        3 => (0usize..14).prop_map(|who| Op::Override { who }),
        1 => (0usize..20, proptest::option::of(0u8..3)).prop_map(|(nth, answer)| Op::CheckOut { nth, answer }),
        1 => Just(Op::Close),
    ]
}

/// Services the runs use: a small group (computer literacy, 5–8), a per-group one, 001, and
/// one for care groups 0–3 and minors (002-5.1).
const SERVICES: &[&str] = &["002-7.4", "001", "002-1.7.1", "002-5.1"];

fn people() -> Vec<Recipient> {
    (0..14u128)
        .map(|i| {
            let mut r = recipient(i);
            match i {
                11 => r.consent.participation = false,
                12 => r.programme = None,
                // 002-5.1 is for care groups 0–3 (002 l.3357): NotEligible there.
                13 => r.care_group = Some(5),
                _ => {}
            }
            r
        })
        .collect()
}

/// Keeps the test's own model of who is present from the events the session recorded.
fn record(
    model: &mut HashMap<RecipientId, bool>,
    by_checkin: &mut HashMap<CheckInId, RecipientId>,
    ev: &Event,
) {
    match ev {
        Event::CheckedIn {
            checkin,
            recipient,
            overridden,
            ..
        } => {
            by_checkin.insert(*checkin, *recipient);
            model.insert(*recipient, overridden.contains(&Rule::GroupFull));
        }
        Event::CheckInUndone { checkin, .. } => {
            if let Some(r) = by_checkin.get(checkin) {
                model.remove(r);
            }
        }
        _ => {}
    }
}

fn run(
    service_ix: usize,
    per_group: bool,
    ops: &[Op],
    seen: &mut BTreeSet<DecisionKind>,
) -> Result<(), TestCaseError> {
    let svc = service(SERVICES[service_ix]);
    let kind = match svc.unit {
        UnitRule::SessionChooses => Some(if per_group {
            UnitKind::PerGroup
        } else {
            UnitKind::PerRecipient
        }),
        _ => None,
    };
    let site = site();
    let policy = Policy::default();
    let people = people();
    // Recipient 13 has used up the service's frequency limit this week/course/month.
    let history: Vec<_> = (0..10)
        .map(|i| attended(900 + i, &svc.code.0, "2026-11-23T04:00:00Z"))
        .collect();
    let mut s = Session::plan(sid(1), &svc, kind, None, instructor()).unwrap();
    let now = t("2026-11-23T06:00:00Z");
    s.apply(&s.open(now, ClockVerdict::Trusted, false, false).unwrap())
        .unwrap();
    let mut n = 0u128;
    let mut units_seen = None;
    // An independent model of who is present, kept from the events alone: recipient → whether
    // the check-in carries a recorded group-maximum override.
    let mut model: HashMap<RecipientId, bool> = HashMap::new();
    let mut by_checkin: HashMap<CheckInId, RecipientId> = HashMap::new();
    for op in ops {
        n += 1;
        let hist = |who: usize| if who == 13 { &history[..] } else { &[][..] };
        let mut inp = inputs(&svc, &[], &site, &policy);
        match op {
            Op::Tap {
                who,
                card,
                clock_bad,
            } => {
                inp.history = hist(*who);
                if *clock_bad {
                    inp.clock = ClockVerdict::BeforeBuild { build_time: now };
                }
                let card = match card {
                    0 => CardStatus::Blocked,
                    1 => CardStatus::Replaced,
                    _ => CardStatus::Active,
                };
                let out = s.tap(
                    Tapper::Known {
                        recipient: &people[*who],
                        card,
                    },
                    &inp,
                    cid(n),
                    id(n),
                    now,
                );
                seen.insert(out.decision.kind());
                if let Some(ev) = out.event {
                    prop_assert_eq!(out.decision.kind(), DecisionKind::Accepted);
                    s.apply(&ev).unwrap();
                    record(&mut model, &mut by_checkin, &ev);
                }
            }
            Op::UnknownTap => {
                let out = s.tap(
                    Tapper::Unknown { card_hash: "ff" },
                    &inp,
                    cid(n),
                    id(n),
                    now,
                );
                seen.insert(out.decision.kind());
                prop_assert!(
                    matches!(out.event, Some(Event::UnidentifiedTap { .. })),
                    "an unknown tap is kept"
                );
                s.apply(&out.event.unwrap()).ok();
            }
            Op::Undo { nth } => {
                if let Some(c) = s.checkins.get(*nth).map(|c| c.id) {
                    if let Ok(ev) = s.undo(c, now) {
                        s.apply(&ev).unwrap();
                        record(&mut model, &mut by_checkin, &ev);
                    }
                }
            }
            Op::Manual { who } | Op::Override { who } => {
                inp.history = hist(*who);
                let method = match op {
                    Op::Manual { .. } => CheckInMethod::Manual {
                        reason: "забыл карту".into(),
                    },
                    _ => CheckInMethod::Card,
                };
                if let Ok(out) = s.check_in_overriding(
                    &people[*who],
                    CardStatus::Active,
                    method,
                    "решение инструктора",
                    &inp,
                    cid(n),
                    now,
                ) {
                    let ev = out.event.unwrap();
                    s.apply(&ev).unwrap();
                    record(&mut model, &mut by_checkin, &ev);
                }
            }
            Op::CheckOut { nth, answer } => {
                if let Some(c) = s.checkins.get(*nth).map(|c| c.id) {
                    if let Ok(ev) = s.check_out(c, now) {
                        s.apply(&ev).unwrap();
                        if let Some(a) = answer {
                            let a = [Satisfaction::Good, Satisfaction::Neutral, Satisfaction::Bad]
                                [*a as usize];
                            s.apply(&s.answer(c, a, now).unwrap()).unwrap();
                        }
                    }
                }
            }
            Op::Close => {
                if let Ok([closed, units]) = s.close(
                    now,
                    CloseKind::Instructor,
                    None,
                    Some(CloseReason::InstructorDecision),
                    &svc,
                    &site,
                    true,
                ) {
                    s.apply(&closed).unwrap();
                    let Event::Units { units, .. } = units else {
                        unreachable!()
                    };
                    units_seen = Some(units);
                }
            }
        }
        // The group maximum holds at every step, but for recorded overrides.
        if let Some(max) = svc.group_max {
            let plain = model.values().filter(|overridden| !**overridden).count();
            prop_assert!(
                plain as u32 <= max,
                "{} plain check-ins over a maximum of {}",
                plain,
                max
            );
        }
    }
    let units = units_seen.unwrap_or_else(|| s.units(now, &svc, &site, true));
    let ids: HashSet<_> = units.iter().map(|u| u.id).collect();
    prop_assert_eq!(ids.len(), units.len(), "unit ids are unique");
    let present: HashSet<_> = model.keys().copied().collect();
    let mut per_recipient = HashSet::new();
    for u in &units {
        for r in u.recipient.iter().chain(u.participants.iter()) {
            prop_assert!(
                per_recipient.insert((u.session, *r)),
                "two units for one recipient"
            );
            prop_assert!(
                present.contains(r),
                "a unit for a recipient not present (undone?)"
            );
        }
    }
    prop_assert_eq!(per_recipient.len(), present.len());
    Ok(())
}

#[test]
fn sessions_never_double_count_or_overfill() {
    let seed: u64 = std::env::var("OTMETKA_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20261123);
    println!("seed {seed}");
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let config = Config {
        cases: 2000,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes));
    let seen = std::cell::RefCell::new(BTreeSet::new());
    let strategy = (
        0..SERVICES.len(),
        any::<bool>(),
        proptest::collection::vec(op(), 1..60),
    );
    runner
        .run(&strategy, |(svc, per_group, ops)| {
            run(svc, per_group, &ops, &mut seen.borrow_mut())
        })
        .unwrap();
    let seen = seen.into_inner();
    let missing: Vec<_> = DecisionKind::ALL
        .iter()
        .filter(|k| !seen.contains(k))
        .collect();
    assert!(
        missing.is_empty(),
        "decision kinds never produced: {missing:?}"
    );
}
