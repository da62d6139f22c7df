//! A flood from one kiosk credential through the shipped Mosquitto config (TLS, password file,
//! the shipped ACL) into the real `otmetka-journal`, with small allowances in its `[ingest]`
//! section: a provisioned kiosk's credential publishes thousands of valid messages as fast as the
//! broker takes them, while a real provisioned kiosk runs two sessions. The journal stores no
//! more of the flooder than its allowance (`burst + rate × t`), counts the rest as deferred, and
//! stays up; the real kiosk, whose own messages went past the small burst too, publishes its
//! deferred ones again and every unit of it lands once.

#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use otmetka_journal::store::{JournalStore, SqliteJournal};
use otmetka_link::{Client, ClientOptions, Event, QoS, TlsOptions, Transport};
use otmetka_tests::site::{
    JournalProcess, KioskProcess, localize_kiosk_config, run_binary, secure_broker,
    secure_journal_toml, wait_for,
};
use std::ffi::OsStr;
use std::path::Path;
use std::time::{Duration, Instant};

const BURST: u64 = 10;
const RATE: f64 = 1.0;

/// A valid message of `kiosk` with seq `seq` and one unit of a fresh session (one unit lands).
fn units_message(kiosk: &str, seq: u64) -> Vec<u8> {
    let (session, event) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    otmetka_tests::site::one_unit_message(kiosk, seq, session, event)
        .to_string()
        .into_bytes()
}

/// `provision-kiosk` then `enroll` into `dir/etc`; the config made runnable here.
fn provisioned(jconf: &Path, kiosk: &str, dir: &Path) -> std::path::PathBuf {
    let bundle = dir.join("bundle");
    let (ok, out) = run_binary(
        "otmetka-journal",
        &[
            OsStr::new("provision-kiosk"),
            OsStr::new("--config"),
            jconf.as_os_str(),
            OsStr::new("demo"),
            OsStr::new(kiosk),
            OsStr::new("--out"),
            bundle.as_os_str(),
        ],
    )
    .unwrap();
    assert!(ok, "provision-kiosk: {out}");
    let etc = dir.join("etc");
    let (ok, out) = run_binary(
        "otmetka-kiosk",
        &[
            OsStr::new("enroll"),
            bundle.as_os_str(),
            OsStr::new("--into"),
            etc.as_os_str(),
        ],
    )
    .unwrap();
    assert!(ok, "enroll: {out}");
    let config = etc.join("kiosk.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    // A deferred message comes again after a second without ack progress (10 s shipped).
    let text =
        localize_kiosk_config(&text, dir).replacen("[feed]\n", "[feed]\nresend_after_s = 1\n", 1);
    assert!(text.contains("resend_after_s = 1"), "{text}");
    std::fs::write(&config, text).unwrap();
    config
}

fn session_of(k: &KioskProcess, cards: std::ops::RangeInclusive<u8>) -> usize {
    use otmetka_app::kiosk::{Command, Reply};
    k.sign_in_and_start("001").unwrap();
    let n = cards.clone().count();
    for c in cards {
        let Reply::Tap(t) = k
            .call(Command::Tap {
                card: format!("0A0000{c:02X}"),
            })
            .unwrap()
        else {
            panic!("not a tap reply")
        };
        assert!(t.committed, "card {c}: {t:?}");
    }
    let Reply::Ended { units, .. } = k
        .call(Command::End {
            head_count: Some(n as u32),
            reason: None,
        })
        .unwrap()
    else {
        panic!("not an end reply")
    };
    units.len()
}

#[test]
fn a_flooding_credential_is_held_to_its_allowance_and_a_real_kiosk_still_delivers_everything() {
    let dir = tempfile::tempdir().unwrap();
    let broker = secure_broker("").unwrap();
    let jdir = dir.path().join("journal");
    let mut jtext = secure_journal_toml(&jdir, &broker, &["demo"], "").unwrap();
    jtext.push_str(&format!(
        "\n[ingest]\nkiosk_burst = {BURST}\nkiosk_rate = {RATE}\nkiosk_daily = 100000\n"
    ));
    let jconf = jdir.join("journal.toml");
    std::fs::write(&jconf, &jtext).unwrap();
    let good_conf = provisioned(&jconf, "kiosk-1", &dir.path().join("k1"));
    let flooder_conf = provisioned(&jconf, "flooder", &dir.path().join("flooder"));
    let mut journal = JournalProcess::start_with_config(&jdir, &jtext).unwrap();
    wait_for("the journal's subscription", 60, || {
        broker
            .log()
            .contains("otmetka/v1/+/kiosk/+/events")
            .then_some(())
    });
    let good = KioskProcess::start_from_config(
        &dir.path().join("k1"),
        &good_conf,
        &dir.path().join("k1/kiosk.sock"),
    )
    .unwrap();
    // The roster (with the instructor's PIN) comes from the journal through the broker.
    wait_for("the journal's roster on the kiosk", 60, || {
        let otmetka_app::kiosk::Reply::Status(s) =
            good.call(otmetka_app::kiosk::Command::Status).ok()?
        else {
            return None;
        };
        (s.roster_version >= 1).then_some(())
    });

    // The flooder: the stolen credential of kiosk "flooder", straight through the link client.
    let password = std::fs::read_to_string(flooder_conf.with_file_name("mqtt-password")).unwrap();
    let id = |s| otmetka_link::topics::Id::new(s).unwrap();
    let user = otmetka_link::topics::kiosk_username(&id("demo"), &id("flooder"));
    let started = Instant::now();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stopper = std::sync::Arc::clone(&stop);
    let flood = rt.spawn(async move {
        let mut o = ClientOptions::new("127.0.0.1", broker.port, &user);
        o.session.username = Some(user.clone());
        o.session.password = Some(Bytes::from(password.trim().to_string()));
        o.transport = Transport::Tls(TlsOptions::new(broker.dir().join("ca.crt")));
        o.session.max_inflight = 500;
        let (handle, mut ev) = Client::start(o).unwrap();
        loop {
            match tokio::time::timeout(Duration::from_secs(30), ev.recv()).await {
                Ok(Some(Event::Connected { .. })) => break,
                Ok(Some(_)) => continue,
                other => panic!("the flooder did not connect: {other:?}"),
            }
        }
        tokio::spawn(async move { while ev.recv().await.is_some() {} });
        let topic = "otmetka/v1/demo/kiosk/flooder/events".to_string();
        let mut tokens = std::collections::VecDeque::new();
        let mut seq = 0;
        // 5,000 a second, a kiosk broken in a loop (the as-fast-as-the-broker-takes flood is
        // `./run bench flood`): below the broker's queue for the journal, which drops the
        // excess of a faster flood (the journal can count only what it is given).
        let mut pace = tokio::time::interval(Duration::from_millis(10));
        while !stopper.load(std::sync::atomic::Ordering::Relaxed) {
            if seq % 50 == 0 {
                pace.tick().await;
            }
            seq += 1;
            let payload = Bytes::from(units_message("flooder", seq));
            tokens.push_back(
                handle
                    .publish(topic.clone(), payload, QoS::AtLeastOnce, false)
                    .await
                    .unwrap(),
            );
            if tokens.len() >= 400 {
                tokens.pop_front().unwrap().wait().await.unwrap();
            }
        }
        for t in tokens {
            t.wait().await.unwrap();
        }
        let _ = handle.disconnect().await;
        (broker, seq)
    });
    // The real kiosk works through the flood, which goes on until all of it has landed: two
    // sessions, more messages than its burst.
    let mut units = session_of(&good, 1..=8);
    units += session_of(&good, 9..=16);
    let got = wait_for("every unit of the real kiosk in the journal", 120, || {
        let u: Vec<_> = journal
            .units()
            .ok()?
            .into_iter()
            .filter(|u| u.kiosk == "kiosk-1")
            .collect();
        (u.len() >= units).then_some(u)
    });
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (broker, flood) = rt.block_on(flood).unwrap();
    let flooded_in = started.elapsed();
    println!(
        "{flood} flooder messages through the broker in {flooded_in:?}, while the real kiosk ran its sessions and delivered them"
    );

    let mut ids: Vec<_> = got.iter().map(|u| u.unit.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!((got.len(), ids.len()), (units, units), "each unit once");
    wait_for("the real kiosk's outbox delivered", 60, || {
        let otmetka_app::kiosk::Reply::Status(s) =
            good.call(otmetka_app::kiosk::Command::Status).ok()?
        else {
            return None;
        };
        (s.outbox_depth == 0).then_some(())
    });
    let elapsed = started.elapsed().as_secs_f64();
    assert!(
        journal.is_running(),
        "the journal stopped:\n{}",
        journal.log()
    );

    // The flooder got no more stored than its allowance over the whole run.
    let stored = journal
        .units()
        .unwrap()
        .iter()
        .filter(|u| u.kiosk == "flooder")
        .count() as u64;
    let allowance = BURST + (RATE * elapsed).ceil() as u64;
    // The journal takes the last of the flood off its queue.
    let counts = wait_for("every flooder message stored or counted", 60, || {
        let c = SqliteJournal::open(&journal.database)
            .ok()?
            .rejection_counts()
            .ok()?;
        let deferred: u64 = c
            .iter()
            .filter(|c| c.kiosk == "flooder")
            .map(|c| c.count)
            .sum();
        (deferred + stored >= flood).then_some(c)
    });
    let deferred = |kiosk: &str| {
        counts
            .iter()
            .filter(|c| c.kiosk == kiosk && c.kind == "deferred_rate")
            .map(|c| c.count)
            .sum::<u64>()
    };
    println!(
        "flooder: {stored} units stored (allowance {allowance} over {elapsed:.1} s), {} messages \
         deferred; the real kiosk: {units} units landed, {} of its messages deferred and sent again",
        deferred("flooder"),
        deferred("kiosk-1"),
    );
    assert!(
        stored <= allowance,
        "the flooder stored {stored} units, past its allowance of {allowance}"
    );
    assert!(
        deferred("flooder") + stored >= flood,
        "every flooder message is stored or counted as deferred: {counts:?}"
    );
    assert!(
        deferred("kiosk-1") > 0,
        "the real kiosk went past its burst of {BURST} too (so its resend was exercised): {counts:?}"
    );
    // One line per kiosk and kind every 10 s, not one per message.
    let lines = journal
        .log()
        .lines()
        .filter(|l| l.contains("past its allowance"))
        .count();
    assert!(
        (1..=20).contains(&lines),
        "{lines} log lines about deferred messages"
    );
    drop(broker);
}
