//! Card enrolment end to end, with real parts: `otmetka-journal enrol-card` asks kiosk-1 (through
//! the journal and a real Mosquitto) for a new card for Нина Васильевна; the kiosk shows the
//! enrolment screen, refuses a card someone already holds, and takes a new one; the journal
//! records it and publishes the roster again, and kiosk-2 of the same site then knows the card.
//! A second request is cancelled on the kiosk's screen.

#![allow(clippy::unwrap_used)]

use otmetka_app::control::ExtraRequest;
use otmetka_app::kiosk::{Command, Reply, StatusReply};
use otmetka_core::decision::DecisionKind;
use otmetka_link::testing::Broker;
use otmetka_tests::screens::Shots;
use otmetka_tests::site::{JournalProcess, KioskProcess, feed_toml, run_binary, wait_for};

const NINA: &str = "00000000-0000-7000-8000-000000000105";
const NEW_CARD: &str = "C0FFEE01";

fn status(k: &KioskProcess) -> StatusReply {
    match k.call(Command::Status).unwrap() {
        Reply::Status(s) => *s,
        other => panic!("{other:?}"),
    }
}

fn screen(k: &KioskProcess) -> String {
    match k.extra(ExtraRequest::Screen).unwrap() {
        Reply::Screen { name } => name,
        other => panic!("{other:?}"),
    }
}

fn tap(k: &KioskProcess, card: &str) -> Reply {
    k.call(Command::Tap { card: card.into() }).unwrap()
}

#[test]
fn a_card_enrolled_at_one_kiosk_works_at_every_kiosk_of_the_site() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(otmetka_tests::site::BROKER_SETTINGS).unwrap();
    let jdir = dir.path().join("journal");
    let _journal = JournalProcess::start(&jdir, broker.port, &["demo"], None).unwrap();
    let feed = feed_toml(broker.port);
    let mut k1 = KioskProcess::start(&dir.path().join("k1"), "demo", "kiosk-1", &feed).unwrap();
    let k2 = KioskProcess::start(&dir.path().join("k2"), "demo", "kiosk-2", &feed).unwrap();
    // Both hold the journal's roster (published versions are the journal's, above the file's).
    let v2 = wait_for("kiosk-2 holds the journal's roster", 60, || {
        let v = status(&k2).roster_version;
        (v > 1).then_some(v)
    });
    wait_for("kiosk-1 holds the journal's roster", 60, || {
        (status(&k1).roster_version > 1).then_some(())
    });
    assert_eq!(
        status(&k1).feed_connected,
        Some(true),
        "ctl status says the link is up"
    );
    assert_eq!(
        start_and_tap(&k2, NEW_CARD),
        DecisionKind::UnknownCard,
        "before enrolment the card is nobody's"
    );

    // Staff ask kiosk-1 for a card for Нина Васильевна, and wait for it.
    let config = jdir.join("journal.toml");
    let cli = {
        let config = config.clone();
        std::thread::spawn(move || enrol_card(&config, &[NINA, "--minutes", "5", "--wait"]))
    };
    wait_for("kiosk-1 shows the enrolment screen", 60, || {
        (screen(&k1) == "enrol").then_some(())
    });
    let mut shots = Shots::new(&dir.path().join("k1"), "enrol");
    shots.take(&k1, "01-waiting", "enrol");
    // Мария Ивановна's card is hers: refused, and the kiosk keeps waiting.
    match tap(&k1, "0A000001") {
        Reply::EnrolRefused { holder } => assert_eq!(holder.as_deref(), Some("Мария Ивановна")),
        other => panic!("{other:?}"),
    }
    shots.take(&k1, "02-refused", "tap_result");
    wait_for("the enrolment screen again after the refusal", 20, || {
        (screen(&k1) == "enrol").then_some(())
    });
    // The kiosk is killed while it waits (the journal asked once, and does not ask again): it
    // comes back still waiting for Нина Васильевна's card.
    k1.kill();
    k1.spawn().unwrap();
    wait_for("the enrolment screen after a SIGKILL", 20, || {
        (screen(&k1) == "enrol").then_some(())
    });
    match tap(&k1, NEW_CARD) {
        Reply::Enrolled { name, committed } => {
            assert_eq!(name, "Нина Васильевна");
            assert!(committed);
        }
        other => panic!("{other:?}"),
    }
    shots.take(&k1, "03-enrolled", "tap_result");
    assert!(shots.mismatches.is_empty(), "{:#?}", shots.mismatches);
    let (ok, out) = cli.join().unwrap();
    assert!(ok, "{out}");
    assert!(out.contains("Карта выдана"), "{out}");

    // Kiosk-1 knows the card at once; kiosk-2 once the journal's new roster comes.
    k1.sign_in_and_start("001").unwrap();
    match tap(&k1, NEW_CARD) {
        Reply::Tap(t) => {
            assert_eq!(t.kind, DecisionKind::Accepted);
            assert_eq!(t.display_name.as_deref(), Some("Нина Васильевна"));
        }
        other => panic!("{other:?}"),
    }
    wait_for("kiosk-2 takes the roster with the new card", 60, || {
        (status(&k2).roster_version > v2).then_some(())
    });
    match tap(&k2, NEW_CARD) {
        Reply::Tap(t) => {
            assert_eq!(t.kind, DecisionKind::Accepted, "{t:?}");
            assert_eq!(t.display_name.as_deref(), Some("Нина Васильевна"));
        }
        other => panic!("{other:?}"),
    }
    // Kiosk-1 keeps it across a SIGKILL (its roster document was amended on disk).
    k1.kill();
    k1.spawn().unwrap();
    match tap(&k1, NEW_CARD) {
        Reply::Tap(t) => assert_eq!(t.kind, DecisionKind::AlreadyCheckedIn, "{t:?}"),
        other => panic!("{other:?}"),
    }

    // A second request, cancelled on the kiosk: the next tap is an ordinary tap again.
    let (ok, out) = enrol_card(&config, &["нина вас"]);
    assert!(ok, "{out}");
    wait_for("kiosk-1 shows the enrolment screen again", 60, || {
        (screen(&k1) == "enrol").then_some(())
    });
    let pressed = k1
        .extra(ExtraRequest::Press {
            action: "cancel_enrol".into(),
        })
        .unwrap();
    assert!(
        matches!(pressed, Reply::Screen { ref name } if name == "idle"),
        "{pressed:?}"
    );
    // The cancellation is on disk too: after a SIGKILL the next tap is still an ordinary one.
    k1.kill();
    k1.spawn().unwrap();
    match tap(&k1, "0A000002") {
        Reply::Tap(t) => assert_eq!(t.kind, DecisionKind::Accepted),
        other => panic!("{other:?}"),
    }
    // Bad requests are refused with a reason, not sent.
    let (ok, out) = enrol_card(&config, &["Несуществующий Человек"]);
    assert!(!ok && out.contains("nobody"), "{out}");
}

/// `otmetka-journal enrol-card --config CONFIG demo kiosk-1 ARGS…`: (success, output).
fn enrol_card(config: &std::path::Path, args: &[&str]) -> (bool, String) {
    let mut all: Vec<&std::ffi::OsStr> = vec![
        "enrol-card".as_ref(),
        "--config".as_ref(),
        config.as_os_str(),
        "demo".as_ref(),
        "kiosk-1".as_ref(),
    ];
    all.extend(args.iter().map(|a| std::ffi::OsStr::new(*a)));
    run_binary("otmetka-journal", &all).unwrap()
}

/// Signs in, starts a session if none is open, taps; the decision's kind.
fn start_and_tap(k: &KioskProcess, card: &str) -> DecisionKind {
    if status(k).session.is_none() {
        k.sign_in_and_start("001").unwrap();
    }
    match tap(k, card) {
        Reply::Tap(t) => t.kind,
        other => panic!("{other:?}"),
    }
}
