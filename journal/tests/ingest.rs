//! Ingest against a real SQLite journal: recorded messages of the current and the previous
//! schema land; resends change nothing; thousands of malformed, truncated, oversized,
//! wrong-schema and wrong-topic messages are each recorded with their reason while the good
//! messages around them land; a gap in a kiosk's seq is detected and the ack waits for it.

#![allow(clippy::unwrap_used)]

use chrono::{DateTime, NaiveDate, Utc};
use otmetka_core::catalogue::Catalogue;
use otmetka_core::wire::RejectReason;
use otmetka_journal::ingest::{Incoming, MAX_PAYLOAD, Verdict, judge};
use otmetka_journal::store::{Batch, JournalStore, Judged, SqliteJournal};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

fn catalogue() -> Catalogue {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../config/services.toml"
    ))
    .unwrap();
    Catalogue::from_toml("services.toml", &text).unwrap()
}

fn now() -> DateTime<Utc> {
    "2026-11-23T10:00:00Z".parse().unwrap()
}

fn incoming(topic_kiosk: &str, payload: &[u8]) -> Incoming {
    Incoming {
        topic: format!("otmetka/v1/demo/kiosk/{topic_kiosk}/events"),
        from: Some(("demo".into(), topic_kiosk.into())),
        payload: payload.to_vec(),
    }
}

fn judged(cat: &Catalogue, msg: Incoming) -> Judged {
    let verdict = judge(&msg, cat);
    let (site, kiosk) = msg.from.clone().unwrap_or_default();
    Judged {
        site,
        kiosk,
        topic: msg.topic,
        payload: msg.payload,
        verdict,
    }
}

fn data(name: &str) -> Vec<u8> {
    let text = std::fs::read_to_string(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR")))
        .unwrap();
    text.trim_end().as_bytes().to_vec()
}

fn all_units(j: &SqliteJournal) -> usize {
    j.units(
        NaiveDate::from_ymd_opt(2000, 1, 1).unwrap(),
        NaiveDate::from_ymd_opt(2100, 1, 1).unwrap(),
    )
    .unwrap()
    .len()
}

#[test]
fn recorded_messages_of_both_schemas_land_once() {
    let cat = catalogue();
    let dir = tempfile::tempdir().unwrap();
    let mut j = SqliteJournal::open(&dir.path().join("j.db")).unwrap();
    let batch: Vec<_> = [
        "schema1_session_opened.json",
        "schema1_units.json",
        "schema2_units.json",
    ]
    .iter()
    .map(|f| judged(&cat, incoming("kiosk-1", &data(f))))
    .collect();
    for b in &batch {
        assert!(matches!(b.verdict, Verdict::Accept(_)), "{:?}", b.verdict);
    }
    let acks = j.commit_batch(&Batch::of(batch.clone()), now()).unwrap();
    assert_eq!(acks[0].committed_seq, 3);
    assert_eq!(all_units(&j), 2);
    // A resend is acknowledged and changes nothing.
    let acks = j.commit_batch(&Batch::of(batch.clone()), now()).unwrap();
    assert_eq!(acks[0].committed_seq, 3);
    assert_eq!(all_units(&j), 2);
    let units = j
        .units(
            NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
            NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
        )
        .unwrap();
    assert_eq!(units.len(), 1);
    assert!(units[0].unit.over_limit() && units[0].unit.below_group_min);
}

#[test]
fn a_gap_in_seq_is_detected_and_the_ack_waits_for_it() {
    let cat = catalogue();
    let dir = tempfile::tempdir().unwrap();
    let mut j = SqliteJournal::open(&dir.path().join("j.db")).unwrap();
    let first = judged(
        &cat,
        incoming("kiosk-1", &data("schema1_session_opened.json")),
    );
    let third = judged(&cat, incoming("kiosk-1", &data("schema2_units.json")));
    let acks = j
        .commit_batch(&Batch::of(vec![first, third]), now())
        .unwrap();
    assert_eq!(acks[0].committed_seq, 1, "seq 2 is missing");
    assert_eq!(j.gaps("demo", "kiosk-1").unwrap(), vec![(2, 2)]);
    let second = judged(&cat, incoming("kiosk-1", &data("schema1_units.json")));
    let acks = j.commit_batch(&Batch::of(vec![second]), now()).unwrap();
    assert_eq!(acks[0].committed_seq, 3);
}

/// A bad message of one of the kinds the feed can meet.
fn bad_message() -> impl Strategy<Value = (String, Vec<u8>, &'static str)> {
    let good = String::from_utf8(data("schema2_units.json")).unwrap();
    let g1 = good.clone();
    let g2 = good.clone();
    let g3 = good.clone();
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..600).prop_map(|b| (
            "kiosk-1".to_string(),
            b,
            "malformed"
        )),
        (1usize..200).prop_map(move |cut| (
            "kiosk-1".to_string(),
            g1.as_bytes()[..g1.len() - cut].to_vec(),
            "malformed"
        )),
        (3u32..1000).prop_map(move |v| (
            "kiosk-1".to_string(),
            g2.replace("\"schema\":2", &format!("\"schema\":{v}"))
                .into_bytes(),
            "unsupported_schema"
        )),
        Just(("kiosk-9".to_string(), g3.into_bytes(), "wrong_topic")),
        Just((
            "kiosk-1".to_string(),
            vec![b' '; MAX_PAYLOAD + 1],
            "too_large"
        )),
        "[a-z_]{1,12}".prop_map(|field| {
            let v =
                format!(r#"{{"schema":2,"site":"demo","kiosk":"kiosk-1","seq":1,"{field}":1}}"#);
            ("kiosk-1".to_string(), v.into_bytes(), "malformed")
        }),
    ]
}

#[test]
fn thousands_of_bad_messages_are_recorded_and_good_ones_around_them_land() {
    let cat = catalogue();
    let dir = tempfile::tempdir().unwrap();
    let mut j = SqliteJournal::open(&dir.path().join("j.db")).unwrap();
    let seed: u64 = std::env::var("OTMETKA_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20261123);
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &bytes),
    );
    let strategy = bad_message();
    let good = String::from_utf8(data("schema2_units.json")).unwrap();
    let mut batch = Vec::new();
    let mut expected_bad = 0;
    let mut good_seq = 0u64;
    for i in 0..3000 {
        let (kiosk, payload, kind) = strategy.new_tree(&mut runner).unwrap().current();
        let b = judged(&cat, incoming(&kiosk, &payload));
        match (&b.verdict, kind) {
            (Verdict::Reject { reason, .. }, _) => {
                let name = serde_json::to_value(reason).unwrap()["reason"]
                    .as_str()
                    .unwrap()
                    .to_string();
                if kind != "malformed" {
                    assert_eq!(name, kind, "message {i}");
                }
                expected_bad += 1;
            }
            (Verdict::Accept(_), k) => panic!(
                "a {k} message was accepted: {:?}",
                String::from_utf8_lossy(&payload)
            ),
        }
        batch.push(b);
        if i % 10 == 0 {
            // A good message: a new unit with the next seq.
            good_seq += 1;
            let g = good
                .replace("\"kiosk\":\"kiosk-1\"", "\"kiosk\":\"kiosk-2\"")
                .replace("\"seq\":3", &format!("\"seq\":{}", 100_000 + good_seq))
                .replace(
                    "6f1c2a4e-8a0f-5d5b-9a55-3c1f7d7a0b02",
                    &format!("6f1c2a4e-8a0f-5d5b-9a55-{:012x}", good_seq),
                );
            batch.push(judged(&cat, incoming("kiosk-2", g.as_bytes())));
        }
        if batch.len() >= 200 {
            j.commit_batch(&Batch::of(batch.clone()), now()).unwrap();
            batch.clear();
        }
    }
    j.commit_batch(&Batch::of(batch.clone()), now()).unwrap();
    let rejections = j.rejections().unwrap();
    assert_eq!(
        rejections.len(),
        expected_bad,
        "every bad message is recorded with its reason"
    );
    assert!(
        rejections
            .iter()
            .any(|r| matches!(r.reason, RejectReason::TooLarge { .. }))
    );
    assert_eq!(
        all_units(&j),
        good_seq as usize,
        "every good message landed"
    );
    println!("{expected_bad} bad messages recorded, {good_seq} good units landed");
}
