//! The feed end to end with real parts: Mosquitto on a free loopback port, the real
//! `otmetka-journal` and `otmetka-kiosk` binaries, real SQLite files.

#![allow(clippy::unwrap_used)]

use otmetka_app::kiosk::{Command, Reply};
use otmetka_core::catalogue::ServiceCode;
use otmetka_core::decision::DecisionKind;
use otmetka_link::testing::Broker;
use otmetka_tests::site::{JournalProcess, KioskProcess, feed_toml, wait_for};

#[test]
fn units_of_a_session_reach_the_journal_once_even_when_the_broker_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let mut broker = Broker::start(otmetka_tests::site::BROKER_SETTINGS).unwrap();
    let journal =
        JournalProcess::start(&dir.path().join("journal"), broker.port, &["demo"], None).unwrap();
    let k = KioskProcess::start(
        &dir.path().join("k1"),
        "demo",
        "kiosk-1",
        &feed_toml(broker.port),
    )
    .unwrap();
    k.call(Command::SignIn {
        credential: "1234".into(),
    })
    .unwrap();
    let start = Command::Start {
        service: ServiceCode::from("001"),
        group: None,
        unit_kind: None,
        safety_briefing: false,
        confirm_date: false,
        event: false,
        over_group_cap: false,
    };
    k.call(start).unwrap();
    for i in 1..=4 {
        let Reply::Tap(t) = k
            .call(Command::Tap {
                card: format!("0A0000{i:02X}"),
            })
            .unwrap()
        else {
            panic!()
        };
        assert_eq!(t.kind, DecisionKind::Accepted);
    }
    // The broker goes away while the session goes on.
    broker.stop().unwrap();
    for i in 5..=8 {
        let Reply::Tap(t) = k
            .call(Command::Tap {
                card: format!("0A0000{i:02X}"),
            })
            .unwrap()
        else {
            panic!()
        };
        assert!(t.committed, "a tap is committed with the broker down");
    }
    let Reply::Ended { units, .. } = k
        .call(Command::End {
            head_count: Some(8),
            reason: None,
        })
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(units.len(), 8);
    broker.restart().unwrap();
    let got = wait_for("8 units in the journal", 60, || {
        let u = journal.units().ok()?;
        (u.len() >= 8).then_some(u)
    });
    assert_eq!(got.len(), 8);
    let mut ids: Vec<_> = got.iter().map(|u| u.unit.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 8, "no unit twice");
    // The kiosk marks the rows delivered once the journal acked them.
    wait_for("an empty outbox", 30, || {
        let Reply::Status(s) = k.call(Command::Status).ok()? else {
            return None;
        };
        (s.outbox_depth == 0).then_some(())
    });
}

/// One session of `n` taps (cards 0A000001…) on `k`, ended; returns its units' count.
fn session_of(k: &KioskProcess, n: u8) -> usize {
    session_of_cards(k, 1..=n)
}

/// One session of taps of the cards `cards` (0A0000xx) on `k`, ended; returns its units' count.
fn session_of_cards(k: &KioskProcess, cards: std::ops::RangeInclusive<u8>) -> usize {
    let n = cards.clone().count() as u8;
    k.sign_in_and_start("001").unwrap();
    for i in cards {
        let Reply::Tap(t) = k
            .call(Command::Tap {
                card: format!("0A0000{i:02X}"),
            })
            .unwrap()
        else {
            panic!()
        };
        assert_eq!(t.kind, DecisionKind::Accepted);
    }
    let Reply::Ended { units, .. } = k
        .call(Command::End {
            head_count: Some(u32::from(n)),
            reason: None,
        })
        .unwrap()
    else {
        panic!()
    };
    units.len()
}

#[test]
fn a_kiosk_whose_database_is_replaced_delivers_its_new_units_next_to_the_old_ones() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(otmetka_tests::site::BROKER_SETTINGS).unwrap();
    let journal =
        JournalProcess::start(&dir.path().join("journal"), broker.port, &["demo"], None).unwrap();
    let kdir = dir.path().join("k1");
    let mut k = KioskProcess::start(&kdir, "demo", "kiosk-1", &feed_toml(broker.port)).unwrap();
    assert_eq!(session_of(&k, 3), 3);
    wait_for("the first 3 units in the journal", 60, || {
        (journal.units().ok()?.len() == 3).then_some(())
    });
    wait_for("the kiosk's outbox delivered", 60, || {
        match k.call(Command::Status) {
            Ok(Reply::Status(s)) if s.outbox_depth == 0 => Some(()),
            _ => None,
        }
    });
    // A new SD card: the same kiosk, its database gone. It numbers from 1 again, and the
    // retained ack of its old database says "committed up to" the old numbers.
    k.kill();
    for f in ["kiosk.db", "kiosk.db-wal", "kiosk.db-shm"] {
        let _ = std::fs::remove_file(kdir.join(f));
    }
    k.spawn().unwrap();
    assert_eq!(session_of(&k, 2), 2);
    let units = wait_for("the new database's 2 units next to the old 3", 60, || {
        let u = journal.units().ok()?;
        (u.len() == 5).then_some(u)
    });
    let mut ids: Vec<_> = units.iter().map(|u| u.unit.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 5, "no unit twice");
    wait_for("the new database's outbox delivered", 60, || {
        match k.call(Command::Status) {
            Ok(Reply::Status(s)) if s.outbox_depth == 0 => Some(()),
            _ => None,
        }
    });
}

/// Runs `otmetka-journal ARGS --config CONFIG`; panics with what it said when it fails.
fn journal_command(config: &std::path::Path, args: &[&str]) -> String {
    let (ok, said) = otmetka_tests::site::journal_command(config, args).unwrap();
    assert!(ok, "otmetka-journal {args:?}: {said}");
    said
}

#[test]
fn a_journal_restored_from_a_backup_gets_again_what_it_lost_and_nothing_stalls() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(otmetka_tests::site::BROKER_SETTINGS).unwrap();
    let jdir = dir.path().join("journal");
    let mut journal = JournalProcess::start(&jdir, broker.port, &["demo"], None).unwrap();
    let k = KioskProcess::start(
        &dir.path().join("k1"),
        "demo",
        "kiosk-1",
        &feed_toml(broker.port),
    )
    .unwrap();
    let delivered = |what: &str| {
        wait_for(what, 60, || match k.call(Command::Status) {
            Ok(Reply::Status(s)) if s.outbox_depth == 0 => Some(()),
            _ => None,
        })
    };
    let units = |n: usize, what: &str| {
        wait_for(what, 60, || (journal_units(&jdir) == n).then_some(()));
    };
    assert_eq!(session_of_cards(&k, 1..=3), 3);
    units(3, "the first session's 3 units");
    delivered("the first session delivered");
    // Last night's backup, taken while the journal runs.
    let backup = dir.path().join("nightly.db");
    journal_command(
        &journal.config,
        &["backup", "--out", backup.to_str().unwrap()],
    );
    assert_eq!(session_of_cards(&k, 4..=5), 2);
    units(5, "the second session's units");
    delivered("the second session delivered");
    // The journal's disk fails; it is restored from the backup: the second session is gone
    // from it, while the kiosk holds it as acknowledged.
    journal.kill();
    journal_command(
        &journal.config,
        &["restore", "--from", backup.to_str().unwrap()],
    );
    journal.spawn().unwrap();
    assert_eq!(journal_units(&jdir), 3);
    assert_eq!(session_of_cards(&k, 6..=6), 1);
    units(
        6,
        "what the restored journal lost, sent again, and the new session",
    );
    delivered("everything delivered to the restored journal");
    assert!(
        k.log()
            .contains("the journal holds less than it acknowledged before"),
        "the kiosk says so in its log"
    );
}

fn journal_units(jdir: &std::path::Path) -> usize {
    use otmetka_journal::store::JournalStore;
    let Ok(store) = otmetka_journal::store::SqliteJournal::open(&jdir.join("journal.db")) else {
        return 0;
    };
    let from = chrono::NaiveDate::from_ymd_opt(2000, 1, 1).unwrap();
    let to = chrono::NaiveDate::from_ymd_opt(2100, 1, 1).unwrap();
    store.units(from, to).map(|u| u.len()).unwrap_or(0)
}
