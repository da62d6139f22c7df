//! The schedule, journal → kiosk, with real parts: the journal expands the shipped sample
//! timetable (`config/schedule.sample.toml`) and publishes it retained through Mosquitto; the real
//! kiosk stores it and still holds it after a restart without a broker.

#![allow(clippy::unwrap_used)]

use otmetka_app::config::KioskConfig;
use otmetka_app::kiosk::Kiosk;
use otmetka_app::store::{KioskIdentity, Store};
use otmetka_core::cards::SiteSecret;
use otmetka_core::catalogue::Catalogue;
use otmetka_core::people::GroupId;
use otmetka_core::wire::Schedule;
use otmetka_link::testing::Broker;
use otmetka_tests::site::{JournalProcess, KioskProcess, feed_toml, repo_root, wait_for};
use std::path::Path;

/// The schedule document in a kiosk's store, read as another process would.
fn stored_schedule(db: &Path) -> Option<(u64, Schedule)> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .ok()?;
    let (v, body): (u64, String) = conn
        .query_row(
            "SELECT version, body FROM documents WHERE name = 'schedule'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .ok()?;
    Some((v, serde_json::from_str(&body).ok()?))
}

#[test]
fn the_kiosk_holds_the_journals_schedule_and_keeps_it_across_a_restart_without_a_broker() {
    let dir = tempfile::tempdir().unwrap();
    let mut broker = Broker::start(otmetka_tests::site::BROKER_SETTINGS).unwrap();
    let root = repo_root();
    let jdir = dir.path().join("journal");
    std::fs::create_dir_all(&jdir).unwrap();
    let secret = jdir.join("demo.secret");
    std::fs::write(&secret, "demo-demo-secret-not-for-production\n").unwrap();
    let jtext = format!(
        "database = {db:?}\ncatalogue = {cat:?}\nbroker = \"127.0.0.1:{port}\"\n\n\
         [[sites]]\nid = \"demo\"\nroster_file = {roster:?}\nsite_secret_file = {secret:?}\n\
         schedule_file = {schedule:?}\n",
        db = jdir.join("journal.db"),
        cat = root.join("config/services.toml"),
        port = broker.port,
        roster = root.join("config/roster.sample.toml"),
        schedule = root.join("config/schedule.sample.toml"),
    );
    let mut journal = JournalProcess::start_with_config(&jdir, &jtext).unwrap();
    let kdir = dir.path().join("k1");
    let mut k = KioskProcess::start(&kdir, "demo", "kiosk-1", &feed_toml(broker.port)).unwrap();
    let db = kdir.join("kiosk.db");
    let (version, schedule) = wait_for("the schedule in the kiosk's store", 60, || {
        stored_schedule(&db)
    });
    assert_eq!(schedule.site, "demo");
    assert_eq!(schedule.version, version);
    assert!(version >= 1);
    // The sample's club c001 meets twice a week: 4 weeks ahead hold at least 6 of its sessions
    // (fewer only when public holidays fall in the window), each on a Monday or a Wednesday.
    let c001 = GroupId("00000000-0000-7000-8000-00000000c001".parse().unwrap());
    let club: Vec<_> = schedule
        .entries
        .iter()
        .filter(|e| e.group == Some(c001))
        .collect();
    use chrono::Datelike;
    #[allow(clippy::disallowed_methods)]
    // the journal expands from the real date: so does the check
    let today = chrono::Utc::now().date_naive();
    let in_term = today >= chrono::NaiveDate::from_ymd_opt(2026, 8, 25).unwrap()
        && today <= chrono::NaiveDate::from_ymd_opt(2027, 6, 1).unwrap();
    if in_term {
        assert!(club.len() >= 6, "{} sessions of c001", club.len());
    }
    assert!(club.iter().all(|e| matches!(
        e.date.weekday(),
        chrono::Weekday::Mon | chrono::Weekday::Wed
    )));
    assert!(
        club.iter()
            .all(|e| e.date >= today - chrono::Duration::days(1))
    );
    journal.kill();

    // Restart the kiosk with no broker at all: it starts, and holds the same schedule.
    broker.stop().unwrap();
    k.kill();
    k.spawn().unwrap();
    k.kill();
    let cfg = KioskConfig::load(&k.config).unwrap();
    let store = Store::open(
        &cfg.database,
        KioskIdentity {
            site: cfg.site.clone(),
            kiosk: cfg.kiosk.clone(),
        },
    )
    .unwrap();
    let catalogue = Catalogue::from_toml(
        "services.toml",
        &std::fs::read_to_string(&cfg.catalogue).unwrap(),
    )
    .unwrap();
    let kiosk = Kiosk::new(
        store,
        catalogue,
        SiteSecret::new(std::fs::read(&cfg.site_secret_file).unwrap()),
        cfg.site_time(),
        cfg.policy.clone(),
        Box::new(otmetka_app::clock::SystemClock {
            assume_synced: true,
        }),
        &cfg.site,
        &cfg.kiosk,
    )
    .unwrap();
    assert_eq!(kiosk.schedule(), Some(&schedule));
}
