//! Bad messages through a LIVE broker into the real `otmetka-journal`: thousands of generated
//! random bytes, truncated JSON, oversized payloads (one beyond the 1 MiB the journal's client
//! once read), seqs above `i64::MAX`, schemas 3–999, wrong topics, wrong fields and messages of a revoked kiosk, published
//! on kiosk event topics between good messages by a test user the ACL lets write there, through
//! the shipped Mosquitto config (TLS, password file, ACL, `max_packet_size`). The journal must not crash, must record each bad
//! message with its reason, and every good one must land.
//!
//! Seed: `OTMETKA_TEST_SEED` (default 20261123), printed so that a failure can be replayed.

#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use otmetka_journal::store::{JournalStore, SqliteJournal};
use otmetka_link::{Client, ClientOptions, Event, QoS, TlsOptions, Transport};
use otmetka_tests::site::{
    JournalProcess, mosquitto_passwd_add, secure_broker, secure_journal_toml, wait_for,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const GOOD: usize = 300;
const BAD: usize = 3000;
/// The journal's limit (`otmetka_journal::ingest::MAX_PAYLOAD`).
const MAX_PAYLOAD: usize = 256 * 1024;

fn uuid(rng: &mut StdRng) -> String {
    uuid::Uuid::from_u128(rng.r#gen::<u128>()).to_string()
}

/// A units message of `kiosk` with one unit of a fresh id (it lands as one unit).
fn units_message(rng: &mut StdRng, kiosk: &str, seq: u64) -> serde_json::Value {
    let session = uuid::Uuid::from_u128(rng.r#gen::<u128>());
    let event = uuid::Uuid::from_u128(rng.r#gen::<u128>());
    otmetka_tests::site::one_unit_message(kiosk, seq, session, event)
}

fn events(kiosk: &str) -> String {
    format!("otmetka/v1/demo/kiosk/{kiosk}/events")
}

/// One bad message: (topic, payload, the reason the journal must record).
fn bad_message(rng: &mut StdRng, i: usize) -> (String, Vec<u8>, &'static str) {
    // Bad messages come on their own kiosks' topics: a rejected message that carries a seq
    // answers that seq (by design), so it must not take a good message's seq.
    let noise = format!("noise-{}", i % 7);
    let seq = 1 + i as u64;
    match rng.gen_range(0..100) {
        0..=19 => {
            let len = rng.gen_range(0..300);
            let bytes: Vec<u8> = (0..len).map(|_| rng.r#gen::<u8>()).collect();
            (events(&noise), bytes, "malformed")
        }
        20..=39 => {
            let text = units_message(rng, &noise, seq).to_string();
            // Cut anywhere before the final brace: never a whole JSON value.
            let cut = rng.gen_range(0..text.len() - 1);
            (events(&noise), text.as_bytes()[..cut].to_vec(), "malformed")
        }
        40..=41 => {
            // Mostly just over the limit; now and then 2 MiB, beyond the 1 MiB packets the
            // journal's client used to read (such a packet broke its connection for good).
            let size = if rng.gen_bool(0.2) {
                2 << 20
            } else {
                MAX_PAYLOAD + rng.gen_range(1..4096)
            };
            let mut v = units_message(rng, &noise, seq).to_string().into_bytes();
            v.resize(size, b' ');
            (events(&noise), v, "too_large")
        }
        42..=59 => {
            let mut v = units_message(rng, &noise, seq);
            v["schema"] = rng.gen_range(3..=999u32).into();
            (
                events(&noise),
                v.to_string().into_bytes(),
                "unsupported_schema",
            )
        }
        60..=69 => {
            // The envelope names another kiosk than the topic.
            let v = units_message(rng, "good", seq + 1_000_000);
            (events(&noise), v.to_string().into_bytes(), "wrong_topic")
        }
        70..=74 => {
            // A topic the journal's subscription matches but that is not a valid kiosk topic.
            let topic = if rng.gen_bool(0.5) {
                "otmetka/v1/Demo/kiosk/k1/events".to_string()
            } else {
                "otmetka/v1/demo/kiosk/k_1/events".to_string()
            };
            let v = units_message(rng, "k1", seq);
            (topic, v.to_string().into_bytes(), "wrong_topic")
        }
        75..=89 => {
            let mut v = units_message(rng, &noise, seq);
            match rng.gen_range(0..5) {
                0 => v["seq"] = "three".into(),
                1 => v["event"]["units"][0]["date"] = 20261123.into(),
                2 => {
                    v.as_object_mut().unwrap().remove("event");
                }
                3 => v["event"]["type"] = "teleported".into(),
                _ => v["schema"] = serde_json::Value::Null,
            }
            (events(&noise), v.to_string().into_bytes(), "malformed")
        }
        90..=94 => {
            let mut v = units_message(rng, &noise, seq);
            match rng.gen_range(0..3) {
                0 => v["event"]["units"][0]["service"] = "999-no-such".into(),
                1 => v["event"]["units"][0]["session"] = uuid(rng).into(),
                _ => v["seq"] = 0.into(),
            }
            (events(&noise), v.to_string().into_bytes(), "invalid")
        }
        95..=96 => {
            // A seq beyond what a database integer holds: once a crash loop of the journal
            // (the store's conversion failed, the error ended ingest, the broker redelivered).
            let mut v = units_message(rng, &noise, seq);
            v["seq"] = rng.gen_range(i64::MAX as u64 + 1..=u64::MAX).into();
            (events(&noise), v.to_string().into_bytes(), "invalid")
        }
        _ => {
            // A well-formed message of a kiosk the journal revoked.
            let v = units_message(rng, "gone", seq);
            (events("gone"), v.to_string().into_bytes(), "revoked")
        }
    }
}

#[test]
fn thousands_of_bad_messages_through_a_live_broker_are_recorded_and_good_ones_land() {
    let seed: u64 = std::env::var("OTMETKA_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20261123);
    println!("OTMETKA_TEST_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    // A test user with write rights on every kiosk's events topic.
    let broker = secure_broker("\nuser fuzzer\ntopic write otmetka/v1/+/kiosk/+/events\n").unwrap();
    let jdir = dir.path().join("journal");
    let jtext = secure_journal_toml(&jdir, &broker, &["demo"], "").unwrap();
    // A kiosk the journal provisioned and then revoked.
    {
        let mut store = SqliteJournal::open(&jdir.join("journal.db")).unwrap();
        let t = "2026-11-01T00:00:00Z".parse().unwrap();
        store.issue_kiosk("demo", "gone", t).unwrap();
        store.revoke_kiosk("demo", "gone", t).unwrap();
    }
    let mut journal = JournalProcess::start_with_config(&jdir, &jtext).unwrap();
    // The journal's persistent session must exist before the flood, or the broker would not
    // queue for it: wait for its subscription in the broker's log.
    wait_for("the journal's subscription", 60, || {
        broker
            .log()
            .contains("otmetka/v1/+/kiosk/+/events")
            .then_some(())
    });

    mosquitto_passwd_add(&broker.dir().join("passwd"), "fuzzer", "fuzzer-password").unwrap();
    // The broker reads the new user on SIGHUP (what provisioning does too).
    let pid = broker.pid().unwrap().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap()
            .success()
    );
    let mut expected: BTreeMap<(String, &str), usize> = BTreeMap::new();
    let mut messages = Vec::with_capacity(GOOD + BAD);
    let mut good_seq = 0u64;
    for i in 0..BAD {
        // About one good message in ten bad ones, spread through the flood.
        if i % (BAD / GOOD) == 0 && good_seq < GOOD as u64 {
            good_seq += 1;
            let v = units_message(&mut rng, "good", good_seq);
            messages.push((events("good"), v.to_string().into_bytes()));
        }
        let (topic, payload, kind) = bad_message(&mut rng, i);
        // The journal counts refusals by the kiosk its topic names, and the reason's kind.
        let kiosk = match otmetka_link::topics::parse_topic(&topic) {
            Some(otmetka_link::topics::Topic::Events { kiosk, .. }) => kiosk.as_str().to_string(),
            _ => String::new(),
        };
        *expected.entry((kiosk, kind)).or_default() += 1;
        messages.push((topic, payload));
    }
    assert_eq!(good_seq, GOOD as u64);
    let started = Instant::now();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut o = ClientOptions::new("127.0.0.1", broker.port, "fuzzer");
        o.session.username = Some("fuzzer".into());
        o.session.password = Some("fuzzer-password".into());
        o.transport = Transport::Tls(TlsOptions::new(broker.dir().join("ca.crt")));
        o.max_packet_size = 4 << 20;
        let (handle, mut ev) = Client::start(o).unwrap();
        loop {
            match tokio::time::timeout(Duration::from_secs(30), ev.recv()).await {
                Ok(Some(Event::Connected { .. })) => break,
                Ok(Some(_)) => continue,
                other => panic!("the test client did not connect: {other:?}"),
            }
        }
        let mut tokens = Vec::new();
        for (topic, payload) in messages {
            tokens.push(
                handle
                    .publish(topic, Bytes::from(payload), QoS::AtLeastOnce, false)
                    .await
                    .unwrap(),
            );
        }
        for t in tokens {
            tokio::time::timeout(Duration::from_secs(60), t.wait())
                .await
                .expect("PUBACK in time")
                .unwrap();
        }
        let _ = handle.disconnect().await;
    });
    let published = started.elapsed();

    let units = wait_for("every good unit in the journal", 120, || {
        let n = journal.units().ok()?.len();
        (n == GOOD).then_some(n)
    });
    let bad_total: usize = expected.values().sum();
    // Every bad message is counted (the journal keeps only a sample of the latest of each kind).
    let counted = wait_for("every bad message counted", 120, || {
        let store = SqliteJournal::open(&journal.database).ok()?;
        let c = store.rejection_counts().ok()?;
        (c.iter().map(|c| c.count as usize).sum::<usize>() >= bad_total).then_some(c)
    });
    let got = SqliteJournal::open(&journal.database)
        .unwrap()
        .rejections()
        .unwrap();
    let mut recorded: BTreeMap<(String, &str), usize> = BTreeMap::new();
    for c in &counted {
        *recorded
            .entry((c.kiosk.clone(), c.kind.as_str()))
            .or_default() += c.count as usize;
    }
    let reconnected = journal.log().contains("journal disconnected");
    println!(
        "{} good + {bad_total} bad messages published in {published:?}; {units} units landed; \
         {} refusals kept as samples; journal reconnected: {reconnected}",
        GOOD,
        got.len()
    );
    for ((kiosk, kind), n) in &expected {
        println!("  {n:5} {kind:18} {kiosk}");
    }
    assert!(
        journal.is_running(),
        "the journal crashed:\n{}",
        journal.log()
    );
    if reconnected {
        // A broken connection may deliver a message twice (QoS 1); each is still recorded.
        for (k, n) in &expected {
            assert!(recorded.get(k).copied().unwrap_or(0) >= *n, "{k:?}");
        }
    } else {
        assert_eq!(
            recorded, expected,
            "each bad message recorded once, with its reason"
        );
    }
    let gone: Vec<_> = got.iter().filter(|r| r.kiosk == "gone").collect();
    assert!(
        !gone.is_empty()
            && gone.iter().all(|r| matches!(
                &r.reason,
                otmetka_core::wire::RejectReason::Revoked { kiosk, .. } if kiosk == "gone"
            )),
        "messages of a revoked kiosk are refused as such"
    );
    journal.kill();
}
