//! The kiosk's whole flow through its control socket, on the real `otmetka-kiosk` binary with its
//! real (software-rendered, off-screen) Slint screens: sign in, start, 25 taps including an
//! unknown card, a repeat and a 26th person, an override, an undo, the instructor's screens, the
//! end with a head count. At each step the screen the kiosk says it shows is checked, and its
//! screenshot (`ctl screenshot`) is compared with the picture committed in
//! `docs/screens/flow/` (the kiosk's clock is frozen so the pictures are the same on every run).
//! `OTMETKA_UPDATE_SCREENS=1` rewrites the pictures; look at them before committing.

#![allow(clippy::unwrap_used)]

use otmetka_app::control::ExtraRequest;
use otmetka_app::kiosk::{Command, Internal, Reply, TapReply};
use otmetka_core::catalogue::ServiceCode;
use otmetka_core::decision::DecisionKind;
use otmetka_core::people::GroupId;
use otmetka_tests::screens::{Shots, screen_name};
use otmetka_tests::site::{KioskProcess, repo_root};
use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

/// 10:00 in Yekaterinburg on a Monday.
const FROZEN: &str = "2026-11-23T10:00:00+05:00";
const GROUP: &str = "00000000-0000-7000-8000-00000000c001";

fn card(n: u32) -> String {
    format!("0A0000{n:02X}")
}

fn tap(k: &KioskProcess, card: &str) -> TapReply {
    match k.call(Command::Tap { card: card.into() }).unwrap() {
        Reply::Tap(t) => t,
        other => panic!("{other:?}"),
    }
}

/// Waits until the sound sink wrote a file whose name contains `label`; panics with what it did
/// write and the kiosk's log otherwise.
fn played(k: &KioskProcess, dir: &Path, label: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let names = || -> Vec<String> {
        std::fs::read_dir(dir)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    while Instant::now() < deadline {
        if names().iter().any(|n| n.contains(label)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = std::fs::read_to_string(k.dir.join("kiosk.log")).unwrap_or_default();
    panic!(
        "no {label} played; played: {:?}\nkiosk log:\n{log}",
        names()
    );
}

#[test]
fn the_whole_flow_through_the_control_socket_matches_its_screens() {
    let dir = tempfile::tempdir().unwrap();
    let played_dir = dir.path().join("played");
    let extra = format!(
        "frozen_clock = {FROZEN:?}\n[sound]\nsink = \"dir\"\ndir = {:?}\nsounds_dir = {:?}\nspeak_names = false\n",
        played_dir,
        repo_root().join("config/sounds"),
    );
    let k = KioskProcess::start(dir.path(), "demo", "kiosk-1", &extra).unwrap();
    let mut shots = Shots::new(dir.path(), "flow");
    shots.take(&k, "01-idle", "idle");

    // The instructor signs in with a PIN and lands on the start screen.
    assert!(
        k.call(Command::SignIn {
            credential: "0000".into()
        })
        .is_err()
    );
    shots.take(&k, "02-wrong-pin", "sign_in");
    k.call(Command::SignIn {
        credential: "1234".into(),
    })
    .unwrap();
    shots.take(&k, "03-start", "start_session");

    // Labour training (000, 10–25 people) for the group, with the safety briefing done.
    let Reply::Started { .. } = k
        .call(Command::Start {
            service: ServiceCode::from("000"),
            group: Some(GroupId(GROUP.parse().unwrap())),
            unit_kind: None,
            safety_briefing: true,
            confirm_date: false,
            event: false,
            over_group_cap: false,
        })
        .unwrap()
    else {
        panic!("not started")
    };
    shots.take(&k, "04-session-open", "idle");

    // 24 people of the group tap in.
    let mut checkins = Vec::new();
    for n in 1..=24 {
        let t = tap(&k, &card(n));
        assert_eq!(t.kind, DecisionKind::Accepted, "recipient {n}");
        assert!(t.committed);
        assert_eq!(t.present, n);
        checkins.push((n, t.checkin.unwrap()));
    }
    shots.take(&k, "05-accepted", "tap_result");
    played(&k, &played_dir, "ru-accepted");

    // A card nobody knows: refused, kept for reconciliation, said aloud.
    let unknown = tap(&k, "FFFF0001");
    assert_eq!(unknown.kind, DecisionKind::UnknownCard);
    assert!(unknown.committed);
    shots.take(&k, "06-unknown-card", "tap_result");
    played(&k, &played_dir, "ru-unknown_card");

    // A second tap: the kiosk takes it for leaving and asks how it went; no answer, nothing
    // changes.
    let again = tap(&k, &card(5));
    assert_eq!(again.kind, DecisionKind::AlreadyCheckedIn);
    assert_eq!(again.present, 24);
    shots.take(&k, "07-leaving", "check_out");

    // The 25th fills the group; the 26th is refused, with the instructor's "allow" shown.
    assert_eq!(tap(&k, &card(25)).present, 25);
    let full = tap(&k, &card(26));
    assert_eq!(full.kind, DecisionKind::GroupFull);
    assert!(!full.committed);
    shots.take(&k, "08-group-full", "tap_result");
    played(&k, &played_dir, "ru-group_full");

    // The instructor allows it, with a reason: the unit will carry the override.
    let allowed = match k
        .call(Command::Override {
            reason: "instructor_decision".into(),
        })
        .unwrap()
    {
        Reply::Tap(t) => t,
        other => panic!("{other:?}"),
    };
    assert_eq!(allowed.kind, DecisionKind::Accepted);
    assert_eq!(allowed.present, 26);

    // Recipient 7 leaves and answers: checked out with the answer, still counted.
    assert_eq!(tap(&k, &card(7)).kind, DecisionKind::AlreadyCheckedIn);
    let shown = screen_name(
        k.extra(ExtraRequest::Press {
            action: "good".into(),
        })
        .unwrap(),
    );
    assert_eq!(shown, "idle");
    shots.take(&k, "08a-thanks", "idle");

    // The instructor's screen of the session: who is here, who is not.
    let shown = screen_name(
        k.extra(ExtraRequest::Press {
            action: "instructor".into(),
        })
        .unwrap(),
    );
    assert_eq!(shown, "in_session");
    shots.take(&k, "09-in-session", "in_session");

    // Recipient 3 was checked in by mistake: undo that one.
    let (_, third) = checkins[2];
    let Reply::Undone { checkin } = k
        .call(Command::Undo {
            checkin: Some(third),
        })
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(checkin, third);
    shots.take(&k, "10-undone", "in_session");

    // The end: the summary, then the instructor confirms the head count.
    k.extra(ExtraRequest::Press {
        action: "finish".into(),
    })
    .unwrap();
    shots.take(&k, "11-end", "end_session");
    let Reply::Ended {
        units,
        below_group_min,
        ..
    } = k
        .call(Command::End {
            head_count: Some(25),
            reason: None,
        })
        .unwrap()
    else {
        panic!("not ended")
    };
    shots.take(&k, "12-ended", "idle");
    assert!(!below_group_min);

    // One unit for each of 1–26 but 3, the 26th with the override and its reason.
    let Reply::Status(status) = k.call(Command::Status).unwrap() else {
        panic!()
    };
    assert!(status.session.is_none());
    assert_eq!(units.len(), 25);
    let ids: BTreeSet<String> = units
        .iter()
        .map(|u| u.recipient.unwrap().0.to_string())
        .collect();
    let expected: BTreeSet<String> = (1..=26u32)
        .filter(|n| *n != 3)
        .map(|n| format!("00000000-0000-7000-8000-000000000{}", 100 + n))
        .collect();
    assert_eq!(ids, expected);
    let overridden: Vec<_> = units.iter().filter(|u| !u.overridden.is_empty()).collect();
    assert_eq!(overridden.len(), 1, "{overridden:?}");
    assert_eq!(
        overridden[0].recipient.unwrap().0.to_string(),
        "00000000-0000-7000-8000-000000000126"
    );

    assert!(
        shots.mismatches.is_empty(),
        "screens differ from docs/screens/flow:\n{}",
        shots.mismatches.join("\n")
    );
}

/// A kiosk in this process on a clock the test moves (no worker, no idle tick).
fn kiosk_on(
    clock: &otmetka_app::clock::ManualClock,
    dir: &std::path::Path,
) -> otmetka_app::kiosk::Kiosk {
    let sample = otmetka_tests::site::repo_root().join("config/roster.sample.toml");
    kiosk_with(clock, dir, &std::fs::read_to_string(sample).unwrap())
}

/// [`kiosk_on`] with the roster `roster` (a roster file's text).
fn kiosk_with(
    clock: &otmetka_app::clock::ManualClock,
    dir: &std::path::Path,
    roster: &str,
) -> otmetka_app::kiosk::Kiosk {
    use otmetka_app::store::{KioskIdentity, Store};
    let root = otmetka_tests::site::repo_root();
    let secret =
        otmetka_core::cards::SiteSecret::new(b"demo-demo-secret-not-for-production".to_vec());
    let roster = otmetka_core::roster::RosterFile::parse("roster.toml", roster)
        .unwrap()
        .to_roster("roster.toml", &secret)
        .unwrap();
    let mut store = Store::open(
        &dir.join("kiosk.db"),
        KioskIdentity {
            site: "demo".into(),
            kiosk: "kiosk-1".into(),
        },
    )
    .unwrap();
    store
        .put_document(
            "roster",
            roster.version,
            &serde_json::to_string(&roster).unwrap(),
        )
        .unwrap();
    let catalogue = otmetka_core::catalogue::Catalogue::from_toml(
        "services.toml",
        &std::fs::read_to_string(root.join("config/services.toml")).unwrap(),
    )
    .unwrap();
    otmetka_app::kiosk::Kiosk::new(
        store,
        catalogue,
        secret,
        otmetka_core::period::SiteTime::new(300, Default::default()).unwrap(),
        Default::default(),
        Box::new(clock.clone()),
        "demo",
        "kiosk-1",
    )
    .unwrap()
}

#[test]
fn a_home_visit_service_is_neither_offered_nor_started_at_a_kiosk() {
    let dir = tempfile::tempdir().unwrap();
    let clock = otmetka_app::clock::ManualClock::new("2026-11-23T05:00:00Z".parse().unwrap(), true);
    let mut k = kiosk_on(&clock, dir.path());
    k.handle(Command::SignIn {
        credential: "1234".into(),
    })
    .unwrap();
    let now = "2026-11-23T05:00:00Z".parse().unwrap();
    let offered = k.start_choices(now);
    assert!(offered.iter().any(|c| c.service.0 == "001"));
    assert!(
        !offered.iter().any(|c| c.service.0 == "003"),
        "patronage is entered on the journal's pages"
    );
    let refused = k.handle(Command::Start {
        service: ServiceCode::from("003"),
        group: None,
        unit_kind: None,
        safety_briefing: false,
        confirm_date: false,
        event: false,
        over_group_cap: false,
    });
    assert!(refused.is_err(), "{refused:?}");
    assert!(k.session().is_none());
}

#[test]
fn a_tap_after_the_time_norm_belongs_to_no_session_even_on_a_busy_kiosk() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = "2026-11-23T05:00:00Z".parse().unwrap();
    let clock = otmetka_app::clock::ManualClock::new(t0, true);
    let mut k = kiosk_on(&clock, dir.path());
    k.handle(Command::SignIn {
        credential: "1234".into(),
    })
    .unwrap();
    k.handle(Command::Start {
        service: ServiceCode::from("001"),
        group: None,
        unit_kind: None,
        safety_briefing: false,
        confirm_date: false,
        event: false,
        over_group_cap: false,
    })
    .unwrap();
    let tap = |k: &mut otmetka_app::kiosk::Kiosk, card: &str| match k
        .handle(Command::Tap { card: card.into() })
        .unwrap()
    {
        Reply::Tap(t) => t,
        other => panic!("{other:?}"),
    };
    assert_eq!(tap(&mut k, "0A000001").kind, DecisionKind::Accepted);
    // Long past the norm and its grace, with commands all the while and never an idle tick.
    for _ in 0..12 {
        clock.advance(chrono::Duration::minutes(10));
        k.handle(Command::Status).unwrap();
    }
    assert_eq!(tap(&mut k, "0A000002").kind, DecisionKind::NoOpenSession);
    assert!(
        k.session().is_none(),
        "the session closed itself at its deadline"
    );
}

/// The rules issue, point 4, at the kiosk: 002 l.1251 «не более 1 раза в месяц для группы
/// получателей услуг». The group's second celebration of November is refused until the
/// instructor confirms it (with how many the group had); the journal's usage adds the site's
/// other sessions of the group, each session once however many sources list it; confirmed,
/// the session opens and its units carry the override; December's first opens unasked.
#[test]
fn a_groups_second_celebration_of_a_month_waits_for_the_instructors_word() {
    use otmetka_app::kiosk::KioskError;
    use otmetka_core::decision::Rule;
    use otmetka_core::session::{SessionError, SessionId};
    use otmetka_core::wire::{SCHEMA, Usage, UsageGroupSession};
    let dir = tempfile::tempdir().unwrap();
    let t0: chrono::DateTime<chrono::Utc> = "2026-11-23T05:00:00Z".parse().unwrap();
    let clock = otmetka_app::clock::ManualClock::new(t0, true);
    // Мария Ивановна's programme gains celebrations.
    let roster = otmetka_tests::site::sample_roster_with("002-1.7.2").unwrap();
    let mut k = kiosk_with(&clock, dir.path(), &roster);
    k.handle(Command::SignIn {
        credential: "1234".into(),
    })
    .unwrap();
    let group = GroupId(GROUP.parse().unwrap());
    let start = |over| otmetka_tests::site::start_of("002-1.7.2", Some(group), over);
    let celebrate = |k: &mut otmetka_app::kiosk::Kiosk, over| {
        let (session, tap, units) =
            otmetka_tests::site::session_of_one(&mut |c| Ok(k.handle(c)?), start(over), "0A000001")
                .unwrap();
        assert_eq!(tap.kind, DecisionKind::Accepted, "{tap:?}");
        (session, units)
    };
    let refused = |k: &mut otmetka_app::kiosk::Kiosk| match k.handle(start(false)) {
        Err(KioskError::Session(SessionError::GroupCapReached {
            limit,
            used,
            overridable,
        })) => {
            assert_eq!((limit.max, overridable), (1, true));
            used
        }
        other => panic!("a group cap: {other:?}"),
    };

    let (first, units) = celebrate(&mut k, false);
    assert!(units.iter().all(|u| u.overridden.is_empty()), "{units:?}");
    clock.advance(chrono::Duration::hours(3));
    assert_eq!(refused(&mut k), 1, "its own session of the month");

    // A journal that held all of this kiosk's messages and lists no session of the group (staff
    // removed its units): it counts no more.
    let installation: uuid::Uuid = rusqlite::Connection::open(dir.path().join("kiosk.db"))
        .unwrap()
        .query_row(
            "SELECT value FROM meta WHERE key = 'installation'",
            [],
            |r| r.get::<_, String>(0),
        )
        .unwrap()
        .parse()
        .unwrap();
    let held = otmetka_core::wire::UsageCommitted {
        kiosk: "kiosk-1".into(),
        installation: Some(installation),
        seq: 1_000,
        held: Vec::new(),
    };

    // The journal's usage lists that very session (from a journal that does not say what it
    // committed): still one; then another kiosk's of 10 November too: two.
    let usage =
        |version, committed: Option<Vec<_>>, sessions: &[(SessionId, &str)]| Internal::PutUsage {
            usage: Box::new(Usage {
                schema: SCHEMA,
                site: "demo".into(),
                version,
                built_at: otmetka_app::clock::Clock::now(&clock),
                recipients: Vec::new(),
                committed,
                group_sessions: Some(
                    sessions
                        .iter()
                        .map(|(session, at)| UsageGroupSession {
                            group,
                            service: ServiceCode::from("002-1.7.2"),
                            session: *session,
                            at: at.parse().unwrap(),
                        })
                        .collect(),
                ),
            }),
        };
    k.handle(usage(1, Some(vec![held]), &[])).unwrap();
    // It opens; nobody comes, and a session that gave nothing does not count either.
    k.handle(start(false)).unwrap();
    k.handle(Command::End {
        head_count: None,
        reason: None,
    })
    .unwrap();
    k.handle(usage(2, None, &[(first, "2026-11-23T05:00:00Z")]))
        .unwrap();
    assert_eq!(refused(&mut k), 1, "one session, listed twice");
    let elsewhere = SessionId(uuid::Uuid::from_u128(0xe15e));
    k.handle(usage(
        3,
        None,
        &[
            (elsewhere, "2026-11-10T06:00:00Z"),
            (first, "2026-11-23T05:00:00Z"),
        ],
    ))
    .unwrap();
    assert_eq!(refused(&mut k), 2, "another kiosk's counts too");

    // Confirmed: it opens, and its unit says it was given over the cap.
    let (_, units) = celebrate(&mut k, true);
    assert_eq!(units.len(), 1);
    assert_eq!(units[0].overridden, vec![Rule::FrequencyLimit]);

    // December is another month.
    clock.advance(chrono::Duration::days(8));
    let (_, units) = celebrate(&mut k, false);
    assert!(units[0].overridden.is_empty());
}

#[test]
fn wrong_pins_lock_pins_out_for_longer_and_longer_but_never_the_staff_card() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = "2026-11-23T05:00:00Z".parse().unwrap();
    let clock = otmetka_app::clock::ManualClock::new(t0, true);
    let mut k = kiosk_on(&clock, dir.path());
    let pin = |k: &mut otmetka_app::kiosk::Kiosk, p: &str| {
        k.handle(Command::SignIn {
            credential: p.into(),
        })
        .map_err(|e| e.to_string())
    };
    for _ in 0..3 {
        assert_eq!(pin(&mut k, "0000").unwrap_err(), "not a staff card or PIN");
    }
    // The third wrong PIN locked PINs out for 30 s: even the right one is refused now.
    let err = pin(&mut k, "1234").unwrap_err();
    assert!(err.contains("too many wrong PINs: wait 30 s"), "{err}");
    clock.advance(chrono::Duration::seconds(31));
    assert_eq!(pin(&mut k, "0000").unwrap_err(), "not a staff card or PIN");
    let err = pin(&mut k, "1234").unwrap_err();
    assert!(err.contains("wait 60 s"), "twice as long: {err}");
    assert!(matches!(
        k.handle(Internal::Health).unwrap(),
        Reply::Health {
            pin_failures: 4,
            ..
        }
    ));
    // A restart is no way around it: the count and the lock-out are kept in the store.
    drop(k);
    let mut k = kiosk_on(&clock, dir.path());
    assert!(
        pin(&mut k, "1234").unwrap_err().contains("wait"),
        "locked after a restart"
    );
    assert!(matches!(
        k.handle(Internal::Health).unwrap(),
        Reply::Health {
            pin_failures: 4,
            ..
        }
    ));
    // After the pause the right PIN works, and the count starts again.
    clock.advance(chrono::Duration::seconds(61));
    assert!(matches!(
        pin(&mut k, "1234").unwrap(),
        Reply::SignedIn { .. }
    ));
    k.handle(Command::SignOut).unwrap();
    // Locked out again; the staff card is not a PIN: it signs in during the lock-out.
    for _ in 0..3 {
        let _ = pin(&mut k, "0000");
    }
    assert!(pin(&mut k, "1234").unwrap_err().contains("wait 30 s"));
    assert!(matches!(
        pin(&mut k, "5A000001").unwrap(),
        Reply::SignedIn { .. }
    ));
    assert!(matches!(
        k.handle(Internal::Health).unwrap(),
        Reply::Health {
            pin_failures: 0,
            ..
        }
    ));
}
