//! Nothing lost, nothing doubled: 3 kiosks × 2,000 check-ins through `ctl tap`, with the broker
//! stopped and restarted 10 times, the journal killed with SIGKILL 10 times and each kiosk killed
//! with SIGKILL 10 times at random moments (also in the middle of a tap). At the end the journal
//! holds exactly one unit for every check-in that `ctl tap` reported committed, and nothing else —
//! compared with this driver's own list, not with the kiosks' databases.

#![allow(clippy::unwrap_used)]

use otmetka_app::kiosk::{Command, Reply};
use otmetka_core::catalogue::ServiceCode;
use otmetka_core::decision::DecisionKind;
use otmetka_link::testing::Broker;
use otmetka_tests::site::{
    JournalProcess, KioskProcess, feed_toml, load_card, load_recipient_id, load_roster_toml,
};
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

const KIOSKS: usize = 3;
const PER_KIOSK: usize = 2000;
const SERVICE: &str = "004-5.1"; // no group maximum, no frequency limit: every tap is a check-in

fn card(i: usize) -> String {
    load_card(i)
}

fn recipient_id(i: usize) -> String {
    load_recipient_id(i)
}

fn roster_toml() -> String {
    load_roster_toml("load", KIOSKS * PER_KIOSK, SERVICE)
}

fn start_session(k: &KioskProcess) {
    k.call(Command::SignIn {
        credential: "1234".into(),
    })
    .unwrap();
    let start = Command::Start {
        service: ServiceCode::from(SERVICE),
        group: None,
        unit_kind: None,
        safety_briefing: false,
        confirm_date: false,
        event: false,
        over_group_cap: false,
    };
    k.call(start).unwrap();
}

#[test]
fn nothing_lost_nothing_doubled_under_faults() {
    let seed: u64 = std::env::var("OTMETKA_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20261123);
    println!("seed {seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let t0 = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let roster = dir.path().join("roster.toml");
    std::fs::write(&roster, roster_toml()).unwrap();
    let mut broker = Broker::start_quiet(otmetka_tests::site::BROKER_SETTINGS).unwrap();
    let mut journal = JournalProcess::start(
        &dir.path().join("journal"),
        broker.port,
        &["load"],
        Some(&roster),
    )
    .unwrap();
    let mut kiosks: Vec<KioskProcess> = (0..KIOSKS)
        .map(|k| {
            let kp = KioskProcess::start_with_roster(
                &dir.path().join(format!("k{k}")),
                "load",
                &format!("k{k}"),
                Some(&roster),
                &feed_toml(broker.port),
            )
            .unwrap();
            start_session(&kp);
            kp
        })
        .collect();

    // The fault schedule: tap indices (over all kiosks' taps) at which each fault strikes.
    let total = KIOSKS * PER_KIOSK;
    let pick = |rng: &mut rand::rngs::StdRng, n: usize| -> BTreeSet<usize> {
        let mut s = BTreeSet::new();
        while s.len() < n {
            s.insert(rng.gen_range(50..total - 200));
        }
        s
    };
    // Broker outages must not overlap: one in each tenth of the run, lasting 30–150 taps.
    let tenth = total / 10;
    let broker_stops: BTreeSet<usize> = (0..10)
        .map(|i| i * tenth + rng.gen_range(20..tenth - 160))
        .collect();
    let journal_kills = pick(&mut rng, 10);
    // Per kiosk: indices into that kiosk's own taps.
    let kiosk_kills: Vec<BTreeSet<usize>> = (0..KIOSKS)
        .map(|_| {
            let mut s = BTreeSet::new();
            while s.len() < 10 {
                s.insert(rng.gen_range(20..PER_KIOSK - 20));
            }
            s
        })
        .collect();
    let mut broker_down_until: Option<usize> = None;
    let mut committed: Vec<BTreeSet<String>> = vec![BTreeSet::new(); KIOSKS];
    let mut faults: BTreeMap<&str, usize> = BTreeMap::new();

    for n in 0..total {
        let k = n % KIOSKS;
        let i = k * PER_KIOSK + n / KIOSKS;
        if broker_stops.contains(&n) && broker_down_until.is_none() {
            broker.stop().unwrap();
            broker_down_until = Some(n + rng.gen_range(30..150));
            *faults.entry("broker stopped").or_default() += 1;
        }
        if broker_down_until == Some(n) {
            broker.restart().unwrap();
            broker_down_until = None;
        }
        if journal_kills.contains(&n) {
            journal.kill();
            journal.spawn().unwrap();
            *faults.entry("journal SIGKILL").or_default() += 1;
        }
        // A kiosk kill lands at a random moment, often in the middle of this tap.
        let killer = kiosk_kills[k].contains(&(n / KIOSKS)).then(|| {
            let pid = kiosks[k].pid().unwrap();
            let delay = Duration::from_micros(rng.gen_range(0..3000));
            std::thread::spawn(move || {
                std::thread::sleep(delay);
                std::process::Command::new("kill")
                    .args(["-9", &pid.to_string()])
                    .status()
                    .unwrap();
            })
        });
        let mut answer = kiosks[k].call(Command::Tap { card: card(i) });
        if let Some(h) = killer {
            h.join().unwrap();
            *faults.entry("kiosk SIGKILL").or_default() += 1;
        }
        // If the kiosk died, start it again and tap the same card again, as a person would.
        for _ in 0..5 {
            if answer.is_ok() {
                break;
            }
            assert!(
                kiosks[k].ensure_running(Duration::from_secs(5)).unwrap(),
                "a tap failed but the kiosk is alive: {answer:?}"
            );
            answer = kiosks[k].call(Command::Tap { card: card(i) });
        }
        let Reply::Tap(t) = answer.unwrap() else {
            panic!("not a tap reply")
        };
        match t.kind {
            DecisionKind::Accepted => {
                assert!(t.committed);
                committed[k].insert(recipient_id(i));
            }
            // It was committed before the kiosk died, only the answer was lost.
            DecisionKind::AlreadyCheckedIn => {
                committed[k].insert(recipient_id(i));
            }
            other => panic!("tap {n}: unexpected {other:?}"),
        }
        // Kills that landed after the answer: notice them now.
        kiosks[k].ensure_running(Duration::ZERO).unwrap();
    }
    if broker_down_until.is_some() {
        broker.restart().unwrap();
    }
    println!("{} taps in {:?}; faults: {faults:?}", total, t0.elapsed());
    assert_eq!(faults.get("kiosk SIGKILL"), Some(&(10 * KIOSKS)));
    assert_eq!(faults.get("journal SIGKILL"), Some(&10));
    assert_eq!(faults.get("broker stopped"), Some(&10));
    for (k, kp) in kiosks.iter().enumerate() {
        // A restart does not sign the instructor back in: the one who ends the session does.
        kp.call(Command::SignIn {
            credential: "1234".into(),
        })
        .unwrap();
        let Reply::Ended { units, .. } = kp
            .call(Command::End {
                head_count: None,
                reason: None,
            })
            .unwrap()
        else {
            panic!()
        };
        assert_eq!(
            units.len(),
            committed[k].len(),
            "kiosk k{k}: units at close = committed check-ins"
        );
    }
    let expected: usize = committed.iter().map(BTreeSet::len).sum();
    assert_eq!(expected, total, "every tap ended committed");
    let deadline = Instant::now() + Duration::from_secs(240);
    let units = loop {
        let units = journal.units().unwrap_or_default();
        if units.len() >= expected || Instant::now() > deadline {
            break units;
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    println!(
        "journal holds {} units after {:?}",
        units.len(),
        t0.elapsed()
    );
    let mut by_kiosk: HashMap<String, BTreeSet<String>> = HashMap::new();
    let mut ids = BTreeSet::new();
    for u in &units {
        assert!(ids.insert(u.unit.id), "unit {:?} twice", u.unit.id);
        let r = u.unit.recipient.unwrap().to_string();
        assert!(
            by_kiosk.entry(u.kiosk.clone()).or_default().insert(r),
            "two units for one check-in"
        );
    }
    for (k, want) in committed.iter().enumerate() {
        let got = by_kiosk.remove(&format!("k{k}")).unwrap_or_default();
        let missing: Vec<_> = want.difference(&got).take(5).collect();
        let extra: Vec<_> = got.difference(want).take(5).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "kiosk k{k}: missing {missing:?}, extra {extra:?}"
        );
    }
    assert!(
        by_kiosk.is_empty(),
        "units from kiosks the driver does not know: {:?}",
        by_kiosk.keys()
    );
    assert_eq!(units.len(), expected);
    journal.kill();
}
