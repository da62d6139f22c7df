//! The rules issue's acceptance, with real parts: Mosquitto on a free port, the real journal and
//! three real kiosks of one site. 001 (seed 001 l.9, «до двух раз в неделю») caps a recipient at
//! 2 sessions a week, at the site, whichever kiosk they tap on.
//!
//! - Online: a session on kiosk A, one on kiosk B; the third on A is refused, because the
//!   journal's usage told A of B's unit.
//! - Offline: kiosk C cannot reach the broker. A session on A, one on C, the third on A is
//!   accepted (A cannot know). When C comes back, its unit reaches the journal, and the journal's
//!   re-check records A's third unit as a violation the kiosk did not see.
//!
//! The three sessions of each part fall in one calendar week unless the test runs across a
//! Sunday midnight in Yekaterinburg.

#![allow(clippy::unwrap_used)]

use otmetka_app::kiosk::{Command, Reply};
use otmetka_core::decision::{DecisionKind, Rule};
use otmetka_journal::store::rules::RulesStore;
use otmetka_link::testing::Broker;
use otmetka_tests::site::{
    JournalProcess, KioskProcess, SAMPLE_GROUP, feed_toml, sample_roster_with, session_of_one,
    start_of, wait_for,
};

/// Signs in, starts 001, taps `card`; ends the session. Returns the tap's decision and the
/// units the session gave.
fn session(k: &KioskProcess, card: &str) -> (DecisionKind, usize) {
    k.sign_in().unwrap();
    let (_, tap, units) =
        session_of_one(&mut |c| k.call(c), start_of("001", None, false), card).unwrap();
    (tap.kind, units.len())
}

fn usage_version(k: &KioskProcess) -> u64 {
    match k.call(Command::Status).unwrap() {
        Reply::Status(s) => s.usage_version,
        other => panic!("{other:?}"),
    }
}

/// The site's usage as the journal last published it (what versions it): its version, its
/// recipients and its group sessions.
fn published_usage(
    journal: &JournalProcess,
) -> Option<(
    u64,
    Vec<otmetka_core::wire::UsageRecipient>,
    Vec<otmetka_core::wire::UsageGroupSession>,
)> {
    let db = rusqlite::Connection::open(&journal.database).ok()?;
    let (version, body): (u64, String) = db
        .query_row(
            "SELECT version, body FROM published WHERE site = 'demo' AND name = 'usage'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .ok()?;
    let mut body: serde_json::Value = serde_json::from_str(&body).ok()?;
    Some((
        version,
        serde_json::from_value(body["recipients"].take()).ok()?,
        serde_json::from_value(body["group_sessions"].take()).ok()?,
    ))
}

/// Waits until the journal has published a usage that holds a unit of `kiosk` for `recipient`,
/// and then until `k` holds that usage (or a newer one).
fn told_of(journal: &JournalProcess, kiosk: &str, recipient: &str, k: &KioskProcess) {
    let version = wait_for(&format!("a usage with {kiosk}'s unit"), 60, || {
        let (version, recipients, _) = published_usage(journal)?;
        recipients
            .iter()
            .any(|r| {
                r.id.to_string() == recipient
                    && r.given.iter().any(|g| g.kiosk.as_deref() == Some(kiosk))
            })
            .then_some(version)
    });
    wait_for("the kiosk to hold it", 60, || {
        (usage_version(k) >= version).then_some(())
    });
}

const MARIA: &str = "00000000-0000-7000-8000-000000000101";
const ANNA: &str = "00000000-0000-7000-8000-000000000102";

#[test]
fn a_weekly_cap_holds_across_kiosks_and_the_journal_finds_what_an_offline_kiosk_hid() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(otmetka_tests::site::BROKER_SETTINGS).unwrap();
    let journal =
        JournalProcess::start(&dir.path().join("journal"), broker.port, &["demo"], None).unwrap();
    let start = |name: &str, port: u16| {
        KioskProcess::start(&dir.path().join(name), "demo", name, &feed_toml(port)).unwrap()
    };
    let a = start("kiosk-a", broker.port);
    let b = start("kiosk-b", broker.port);
    // Kiosk C's broker is a port nobody listens on: it works offline.
    let dead = otmetka_link::testing::free_port().unwrap();
    let mut c = start("kiosk-c", dead);

    // Online: Мария Ивановна (0A000001) on A, then on B, then on A again.
    assert_eq!(session(&a, "0A000001"), (DecisionKind::Accepted, 1));
    told_of(&journal, "kiosk-a", MARIA, &b);
    assert_eq!(session(&b, "0A000001"), (DecisionKind::Accepted, 1));
    told_of(&journal, "kiosk-b", MARIA, &a);
    assert_eq!(
        session(&a, "0A000001"),
        (DecisionKind::FrequencyLimit, 0),
        "the third of the week is refused on A: B's session counts"
    );

    // Offline: Анна Петровна (0A000002) on A, on C (offline), then on A again.
    assert_eq!(session(&a, "0A000002"), (DecisionKind::Accepted, 1));
    assert_eq!(session(&c, "0A000002"), (DecisionKind::Accepted, 1));
    assert_eq!(
        session(&a, "0A000002"),
        (DecisionKind::Accepted, 1),
        "A cannot know of C's session"
    );
    wait_for("4 units in the journal", 60, || {
        (journal.units().ok()?.len() >= 4).then_some(())
    });
    // Nothing is a violation yet: the journal has seen two of Анна Петровна's units.
    let violations = || {
        let store = otmetka_journal::store::SqliteJournal::open(&journal.database).unwrap();
        let (from, to) = (
            chrono::NaiveDate::from_ymd_opt(2000, 1, 1).unwrap(),
            chrono::NaiveDate::from_ymd_opt(2100, 1, 1).unwrap(),
        );
        store.violations("demo", from, to).unwrap()
    };
    assert!(violations().is_empty(), "{:?}", violations());

    // C comes back: its unit is delivered, and the re-check finds A's last one over the cap.
    c.kill();
    let text = std::fs::read_to_string(&c.config).unwrap();
    std::fs::write(
        &c.config,
        text.replace(
            &format!("127.0.0.1:{dead}"),
            &format!("127.0.0.1:{}", broker.port),
        ),
    )
    .unwrap();
    c.spawn().unwrap();
    wait_for("5 units in the journal", 60, || {
        (journal.units().ok()?.len() >= 5).then_some(())
    });
    let found = wait_for("the journal's violation", 60, || {
        let v = violations();
        (!v.is_empty()).then_some(v)
    });
    assert_eq!(found.len(), 1, "{found:?}");
    let v = &found[0];
    assert_eq!(v.kiosk, "kiosk-a");
    assert_eq!(v.rule, Rule::FrequencyLimit);
    assert!(!v.overridden, "the kiosk did not know: no override");
    assert_eq!(v.recipient.to_string(), ANNA);
    // The unit stays: a violation is recorded, the unit is not rejected.
    assert_eq!(journal.units().unwrap().len(), 5);
    // And B, which holds none of Анна Петровна's sessions itself, now refuses a third.
    told_of(&journal, "kiosk-c", ANNA, &b);
    assert_eq!(session(&b, "0A000002"), (DecisionKind::FrequencyLimit, 0));
}

/// The rules issue, point 1: the usage holds every unit the journal counts, a kiosk's own
/// included, with how far the journal held each kiosk's messages; a kiosk adds only its own
/// sessions past that. So a unit staff removed on the journal's pages no longer counts on the
/// kiosk that gave it, and a kiosk whose database was replaced (a new SD card) still counts
/// what its old one gave.
#[test]
fn a_unit_removed_on_the_pages_stops_counting_and_a_replaced_database_still_counts_the_old_units() {
    use otmetka_journal::store::staff::{Actor, StaffStore};
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(otmetka_tests::site::BROKER_SETTINGS).unwrap();
    let journal =
        JournalProcess::start(&dir.path().join("journal"), broker.port, &["demo"], None).unwrap();
    let mut a = KioskProcess::start(
        &dir.path().join("kiosk-a"),
        "demo",
        "kiosk-a",
        &feed_toml(broker.port),
    )
    .unwrap();
    assert_eq!(session(&a, "0A000001"), (DecisionKind::Accepted, 1));
    assert_eq!(session(&a, "0A000001"), (DecisionKind::Accepted, 1));
    told_of(&journal, "kiosk-a", MARIA, &a);
    assert_eq!(
        session(&a, "0A000001"),
        (DecisionKind::FrequencyLimit, 0),
        "001 l.9: a third of the week"
    );

    // Staff remove the first unit (a mistaken check-in): the kiosk counts one, and admits her.
    let before = usage_version(&a);
    let first = journal.units().unwrap()[0].unit.id;
    let mut store = otmetka_journal::store::SqliteJournal::open(&journal.database).unwrap();
    let actor = Actor {
        user: None,
        login: "test".into(),
        name: "test".into(),
    };
    // The journal process runs on the real clock: so does the removal.
    #[allow(clippy::disallowed_methods)]
    let now = chrono::Utc::now();
    store
        .remove_unit(first, "ошибочная отметка", &actor, now)
        .unwrap();
    wait_for("a usage after the removal", 60, || {
        (usage_version(&a) > before).then_some(())
    });
    assert_eq!(
        session(&a, "0A000001"),
        (DecisionKind::Accepted, 1),
        "the removed unit no longer counts on the kiosk that gave it"
    );
    // The journal's usage holds two of hers (the second and this one; not the removed one).
    let version = wait_for("a usage with two of her units", 60, || {
        let (version, recipients, _) = published_usage(&journal)?;
        let hers: u32 = recipients
            .iter()
            .filter(|r| r.id.to_string() == MARIA)
            .flat_map(|r| r.given.iter().map(|g| g.count))
            .sum();
        (hers == 2).then_some(version)
    });

    // A new SD card: kiosk A starts on an empty database, a new installation. The journal holds
    // two of her units from the old one, and the new one counts them.
    a.kill();
    for f in ["kiosk.db", "kiosk.db-wal", "kiosk.db-shm"] {
        let _ = std::fs::remove_file(a.dir.join(f));
    }
    a.spawn().unwrap();
    wait_for("the new database to hold that usage", 60, || {
        (usage_version(&a) >= version).then_some(())
    });
    assert_eq!(
        session(&a, "0A000001"),
        (DecisionKind::FrequencyLimit, 0),
        "the old installation's two units count on the new one"
    );
}

/// The rules issue, point 4, across kiosks: 002 l.1251 «не более 1 раза в месяц для группы
/// получателей услуг». Kiosk A holds the group's celebration; the journal's usage tells kiosk
/// B of that session, so B's start of a second one this month is refused until the instructor
/// confirms it; confirmed, its unit carries the override, and the journal's re-check records
/// the excess as one the kiosk knew of.
#[test]
fn a_groups_monthly_cap_holds_across_kiosks_and_a_confirmed_excess_is_recorded_as_known() {
    use otmetka_core::people::GroupId;
    let dir = tempfile::tempdir().unwrap();
    // Мария Ивановна's programme gains celebrations.
    let roster = dir.path().join("roster.toml");
    std::fs::write(&roster, sample_roster_with("002-1.7.2").unwrap()).unwrap();
    let broker = Broker::start(otmetka_tests::site::BROKER_SETTINGS).unwrap();
    let journal = JournalProcess::start(
        &dir.path().join("journal"),
        broker.port,
        &["demo"],
        Some(&roster),
    )
    .unwrap();
    let start = |name: &str| {
        KioskProcess::start_with_roster(
            &dir.path().join(name),
            "demo",
            name,
            Some(&roster),
            &feed_toml(broker.port),
        )
        .unwrap()
    };
    let (a, b) = (start("kiosk-a"), start("kiosk-b"));
    let group = GroupId(SAMPLE_GROUP.parse().unwrap());
    let celebrate = |k: &KioskProcess, over_group_cap| {
        k.sign_in().unwrap();
        let (session, tap, units) = session_of_one(
            &mut |c| k.call(c),
            start_of("002-1.7.2", Some(group), over_group_cap),
            "0A000001",
        )
        .unwrap();
        assert_eq!(tap.kind, DecisionKind::Accepted, "{tap:?}");
        (session, units)
    };

    let (first, units) = celebrate(&a, false);
    assert_eq!(units.len(), 1);
    // The journal's usage lists A's session; B takes it.
    let version = wait_for("a usage with A's celebration", 60, || {
        let (version, _, sessions) = published_usage(&journal)?;
        sessions
            .iter()
            .any(|s| s.session == first && s.group == group)
            .then_some(version)
    });
    wait_for("B to hold it", 60, || {
        (usage_version(&b) >= version).then_some(())
    });
    b.sign_in().unwrap();
    let refused = b
        .call(start_of("002-1.7.2", Some(group), false))
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("the group already had 1 of 1 sessions"),
        "{refused}"
    );
    let (_, units) = celebrate(&b, true);
    assert_eq!(units[0].overridden, vec![Rule::FrequencyLimit]);

    let found = wait_for("the journal's violation", 60, || {
        let store = otmetka_journal::store::SqliteJournal::open(&journal.database).ok()?;
        let v = store
            .violations(
                "demo",
                chrono::NaiveDate::from_ymd_opt(2000, 1, 1).unwrap(),
                chrono::NaiveDate::from_ymd_opt(2100, 1, 1).unwrap(),
            )
            .ok()?;
        (!v.is_empty()).then_some(v)
    });
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        (found[0].kiosk.as_str(), found[0].rule, found[0].overridden),
        ("kiosk-b", Rule::FrequencyLimit, true)
    );
}
