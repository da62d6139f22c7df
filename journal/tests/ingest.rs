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

/// Kiosk-1's recorded messages, judged: seq 1 (schema 1, a session opened), 2 (schema 1, its
/// unit) and 3 (schema 2, a unit of another session).
fn recorded(cat: &Catalogue) -> Vec<Judged> {
    [
        "schema1_session_opened.json",
        "schema1_units.json",
        "schema2_units.json",
    ]
    .iter()
    .map(|f| judged(cat, incoming("kiosk-1", &data(f))))
    .collect()
}

#[test]
fn recorded_messages_of_both_schemas_land_once() {
    let cat = catalogue();
    let dir = tempfile::tempdir().unwrap();
    let mut j = SqliteJournal::open(&dir.path().join("j.db")).unwrap();
    let batch = recorded(&cat);
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
                .replace("7e26d16d-b445-50b4-b6e2-f6c5e230361b", &{
                    // A new recipient, and the unit id that session and recipient give.
                    let session = "0190a000-0000-7000-8000-0000000000bb".parse().unwrap();
                    let recipient = format!("00000000-0000-7000-8000-{:012x}", 0x5000 + good_seq);
                    otmetka_core::unit::UnitId::per_recipient(
                        otmetka_core::session::SessionId(session),
                        otmetka_core::people::RecipientId(recipient.parse().unwrap()),
                    )
                    .0
                    .to_string()
                })
                .replace(
                    "00000000-0000-7000-8000-000000000102",
                    &format!("00000000-0000-7000-8000-{:012x}", 0x5000 + good_seq),
                );
            batch.push(judged(&cat, incoming("kiosk-2", g.as_bytes())));
        }
        if batch.len() >= 200 {
            j.commit_batch(&Batch::of(batch.clone()), now()).unwrap();
            batch.clear();
        }
    }
    j.commit_batch(&Batch::of(batch.clone()), now()).unwrap();
    // Every bad message is counted with its reason kind; a sample of the latest of each kind
    // is kept whole (so a flood cannot fill the disk).
    let counts = j.rejection_counts().unwrap();
    let counted: u64 = counts.iter().map(|c| c.count).sum();
    assert_eq!(counted, expected_bad as u64, "every bad message is counted");
    let rejections = j.rejections().unwrap();
    for c in &counts {
        let kept = rejections
            .iter()
            .filter(|r| r.site == c.site && r.kiosk == c.kiosk && r.reason.kind() == c.kind)
            .count();
        assert_eq!(
            kept as u64,
            c.count
                .min(u64::from(otmetka_journal::store::sqlite::REJECTED_SAMPLE)),
            "{c:?}"
        );
    }
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
    println!(
        "{expected_bad} bad messages counted in {} kinds ({} kept as samples), {good_seq} good \
         units landed",
        counts.len(),
        rejections.len()
    );
}

#[test]
fn a_flood_of_bad_messages_from_one_kiosk_is_counted_and_only_a_sample_is_kept() {
    let cat = catalogue();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.db");
    let mut j = SqliteJournal::open(&path).unwrap();
    // 10,000 garbage messages of 4 KiB from one credential, in the journal's batches of 500.
    let garbage = vec![b'x'; 4096];
    for _ in 0..20 {
        let batch: Vec<_> = (0..500)
            .map(|_| judged(&cat, incoming("kiosk-1", &garbage)))
            .collect();
        j.commit_batch(&Batch::of(batch), now()).unwrap();
    }
    let counts = j.rejection_counts().unwrap();
    assert_eq!(counts.len(), 1, "{counts:?}");
    assert_eq!(
        (counts[0].kiosk.as_str(), counts[0].kind.as_str()),
        ("kiosk-1", "malformed")
    );
    assert_eq!(counts[0].count, 10_000);
    let kept = j.rejections().unwrap().len() as u32;
    assert_eq!(kept, otmetka_journal::store::sqlite::REJECTED_SAMPLE);
    // The file holds the sample, not the flood (40 MiB of payloads came in).
    drop(j);
    let size = std::fs::metadata(&path).unwrap().len()
        + std::fs::metadata(dir.path().join("j.db-wal")).map_or(0, |m| m.len());
    assert!(size < 8 << 20, "{size} bytes");
}

#[test]
fn a_seq_beyond_what_the_database_holds_is_refused_and_does_not_stop_the_batch() {
    let cat = catalogue();
    let dir = tempfile::tempdir().unwrap();
    let mut j = SqliteJournal::open(&dir.path().join("j.db")).unwrap();
    let huge = String::from_utf8(data("schema2_units.json"))
        .unwrap()
        .replace("\"seq\":3", &format!("\"seq\":{}", u64::MAX));
    let bad = judged(&cat, incoming("kiosk-1", huge.as_bytes()));
    assert!(
        matches!(&bad.verdict, Verdict::Reject { seq: None, reason: RejectReason::Invalid { detail } }
            if detail.contains("above")),
        "{:?}",
        bad.verdict
    );
    let good = judged(
        &cat,
        incoming("kiosk-2", &data("schema1_session_opened.json")).with_kiosk("kiosk-2"),
    );
    let acks = j.commit_batch(&Batch::of(vec![bad, good]), now()).unwrap();
    assert_eq!(j.rejections().unwrap().len(), 1);
    let k2 = acks.iter().find(|a| a.kiosk == "kiosk-2").unwrap();
    assert_eq!(k2.committed_seq, 1);
}

/// The same message about another session (…a2 instead of …aa).
fn other_session(payload: &[u8]) -> Vec<u8> {
    String::from_utf8_lossy(payload)
        .replace("0000000000aa", "0000000000a2")
        .into_bytes()
}

trait WithKiosk {
    fn with_kiosk(self, kiosk: &str) -> Incoming;
}

impl WithKiosk for Incoming {
    /// The same message as `kiosk` sent it (envelope and topic).
    fn with_kiosk(mut self, kiosk: &str) -> Incoming {
        let text = String::from_utf8(self.payload)
            .unwrap()
            .replace("\"kiosk\":\"kiosk-1\"", &format!("\"kiosk\":\"{kiosk}\""));
        self.payload = text.into_bytes();
        self.topic = format!("otmetka/v1/demo/kiosk/{kiosk}/events");
        self.from = Some(("demo".into(), kiosk.into()));
        self
    }
}

#[test]
fn a_message_the_store_cannot_take_is_rejected_alone_and_the_rest_of_its_batch_lands() {
    let cat = catalogue();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.db");
    let mut j = SqliteJournal::open(&path).unwrap();
    // A real SQLite failure on one message: a trigger refuses units of one session.
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(
            "CREATE TRIGGER refuse BEFORE INSERT ON units
             WHEN NEW.session = '0190a000-0000-7000-8000-0000000000bb'
             BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
        )
        .unwrap();
    let batch = Batch::of(vec![
        judged(
            &cat,
            incoming("kiosk-1", &data("schema1_session_opened.json")),
        ),
        judged(&cat, incoming("kiosk-1", &data("schema1_units.json"))),
        // seq 3, its units of the refused session.
        judged(&cat, incoming("kiosk-1", &data("schema2_units.json"))),
        judged(
            &cat,
            incoming(
                "kiosk-2",
                &other_session(&data("schema1_session_opened.json")),
            )
            .with_kiosk("kiosk-2"),
        ),
    ]);
    assert!(
        j.commit_batch(&batch, now()).is_err(),
        "the whole batch fails"
    );
    let acks = otmetka_journal::store::commit_isolating(&mut j, &batch, now()).unwrap();
    let k1 = acks.iter().find(|a| a.kiosk == "kiosk-1").unwrap();
    assert_eq!(k1.committed_seq, 3, "the refused seq is answered");
    assert_eq!(k1.rejected.len(), 1);
    assert_eq!(k1.rejected[0].seq, Some(3));
    let k2 = acks.iter().find(|a| a.kiosk == "kiosk-2").unwrap();
    assert_eq!(k2.committed_seq, 1);
    assert_eq!(all_units(&j), 1, "the other message's unit landed");
    let r = j.rejections().unwrap();
    assert_eq!(r.len(), 1);
    assert!(
        matches!(&r[0].reason, RejectReason::Invalid { detail } if detail.contains("injected failure")),
        "{:?}",
        r[0].reason
    );
}

#[test]
fn kiosk_b_cannot_close_or_fill_kiosk_as_session_and_the_attempt_is_recorded() {
    let cat = catalogue();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.db");
    let mut j = SqliteJournal::open(&path).unwrap();
    // Kiosk A (kiosk-1) opens session …aa.
    let opened = judged(
        &cat,
        incoming("kiosk-1", &data("schema1_session_opened.json")),
    );
    j.commit_batch(&Batch::of(vec![opened]), now()).unwrap();
    // Kiosk B closes it, and sends units for it.
    let close = r#"{"schema":2,"site":"demo","kiosk":"kiosk-2","seq":1,
        "event_id":"0190a000-0000-7000-8000-0000000000f1","recorded_at":"2026-03-02T08:00:00Z",
        "clock_synced":true,"event":{"type":"session_closed",
        "session":"0190a000-0000-7000-8000-0000000000aa","at":"2026-03-02T08:00:00Z",
        "how":"instructor","head_count":3}}"#
        .replace(char::is_whitespace, "");
    let units = String::from_utf8(data("schema1_units.json")).unwrap();
    let batch = Batch::of(vec![
        judged(&cat, incoming("kiosk-2", close.as_bytes())),
        judged(
            &cat,
            incoming("kiosk-1", units.as_bytes()).with_kiosk("kiosk-2"),
        ),
    ]);
    for b in &batch.messages {
        assert!(matches!(b.verdict, Verdict::Accept(_)), "{:?}", b.verdict);
    }
    let acks = j.commit_batch(&batch, now()).unwrap();
    let b = acks.iter().find(|a| a.kiosk == "kiosk-2").unwrap();
    assert_eq!(b.committed_seq, 2, "B's messages are answered");
    assert_eq!(b.rejected.len(), 2, "{:?}", b.rejected);
    assert!(
        b.rejected
            .iter()
            .all(|r| matches!(&r.reason, RejectReason::Foreign { detail } if detail.contains("kiosk demo/kiosk-1"))),
        "{:?}",
        b.rejected
    );
    let conn = rusqlite::Connection::open(&path).unwrap();
    let closed: Option<String> = conn
        .query_row(
            "SELECT closed_at FROM sessions WHERE id = '0190a000-0000-7000-8000-0000000000aa'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(closed, None, "A's session stays open");
    assert_eq!(all_units(&j), 0, "no units for another kiosk's session");
    assert_eq!(
        j.rejections()
            .unwrap()
            .iter()
            .filter(|r| r.kiosk == "kiosk-2")
            .count(),
        2,
        "the attempts are recorded"
    );
}

#[test]
fn a_new_installation_numbering_from_one_is_delivered_next_to_the_old_one() {
    let cat = catalogue();
    let dir = tempfile::tempdir().unwrap();
    let mut j = SqliteJournal::open(&dir.path().join("j.db")).unwrap();
    // The old database of kiosk-1 (recorded messages, no installation): seqs 1–3.
    let old = recorded(&cat);
    let acks = j.commit_batch(&Batch::of(old), now()).unwrap();
    assert_eq!((acks[0].installation, acks[0].committed_seq), (None, 3));
    // A fresh database on the same kiosk: another installation, seq 1 again, new events.
    let installation = "0190b000-0000-4000-8000-00000000000e";
    let fresh = String::from_utf8(other_session(&data("schema1_units.json")))
        .unwrap()
        .replace(
            "\"seq\":2",
            &format!("\"installation\":\"{installation}\",\"seq\":1"),
        )
        .replace("000000000002\",\"at\"", "0000000000f2\",\"at\"")
        .replace("3aaa8524-1736-52b8-9ad7-fa3ad7294cb2", &{
            let s = "0190a000-0000-7000-8000-0000000000a2".parse().unwrap();
            let r = "00000000-0000-7000-8000-000000000101".parse().unwrap();
            otmetka_core::unit::UnitId::per_recipient(
                otmetka_core::session::SessionId(s),
                otmetka_core::people::RecipientId(r),
            )
            .0
            .to_string()
        });
    let msg = judged(&cat, incoming("kiosk-1", fresh.as_bytes()));
    assert!(
        matches!(msg.verdict, Verdict::Accept(_)),
        "{:?}",
        msg.verdict
    );
    let acks = j.commit_batch(&Batch::of(vec![msg]), now()).unwrap();
    assert_eq!(acks.len(), 1);
    assert_eq!(
        (
            acks[0].installation.map(|i| i.to_string()),
            acks[0].committed_seq
        ),
        (Some(installation.to_string()), 1),
        "the new installation's own ack"
    );
    assert_eq!(all_units(&j), 3, "its unit lands next to the old ones");
}

#[test]
fn a_seq_that_comes_again_with_another_event_is_applied_and_kept_not_taken_for_a_resend() {
    let cat = catalogue();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.db");
    let mut j = SqliteJournal::open(&path).unwrap();
    let first = judged(
        &cat,
        incoming("kiosk-1", &data("schema1_session_opened.json")),
    );
    j.commit_batch(&Batch::of(vec![first.clone()]), now())
        .unwrap();
    // A resend: the same event id. Nothing changes, nothing is kept.
    j.commit_batch(&Batch::of(vec![first]), now()).unwrap();
    // A kiosk of before session 6 whose database was replaced: seq 1 again, another event.
    let again = String::from_utf8(other_session(&data("schema1_session_opened.json")))
        .unwrap()
        .replace("000000000001\",\"at\"", "0000000000e1\",\"at\"");
    let acks = j
        .commit_batch(
            &Batch::of(vec![judged(&cat, incoming("kiosk-1", again.as_bytes()))]),
            now(),
        )
        .unwrap();
    assert_eq!(acks[0].committed_seq, 1);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let sessions: i64 = conn
        .query_row("SELECT COUNT(*) FROM sessions", [], |r| r.get(0))
        .unwrap();
    assert_eq!(sessions, 2, "the second event under seq 1 was applied");
    let kept: i64 = conn
        .query_row("SELECT COUNT(*) FROM seq_reuse", [], |r| r.get(0))
        .unwrap();
    assert_eq!(kept, 1, "and kept for staff; the resend was not");
}

/// The rules issue, point 9: 002 l.1513 «в сутки – 1 услуга». A recipient walks on kiosk-1 in
/// the morning and on kiosk-2 in the afternoon: both kiosks send the day's unit (one id); the
/// journal keeps the first and refuses nothing, while another service's unit of the same id
/// from another kiosk is still refused as foreign.
#[test]
fn the_days_one_unit_from_two_kiosks_lands_once_and_is_not_foreign() {
    use otmetka_core::catalogue::{ServiceCode, UnitKind};
    use otmetka_core::event::Event;
    use otmetka_core::people::{InstructorId, RecipientId};
    use otmetka_core::session::SessionId;
    use otmetka_core::unit::{Unit, UnitId};
    use otmetka_core::wire::{Envelope, SCHEMA};
    let cat = catalogue();
    let dir = tempfile::tempdir().unwrap();
    let mut j = SqliteJournal::open(&dir.path().join("j.db")).unwrap();
    let walk: ServiceCode = "002-1.12".into();
    let date = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
    let recipient = RecipientId(uuid::Uuid::from_u128(0x102));
    let at = |h: u32| now().date_naive().and_hms_opt(h, 0, 0).unwrap().and_utc();
    let message = |kiosk: &str, seq: u64, event: Event| {
        let env = Envelope {
            schema: SCHEMA,
            site: "demo".into(),
            kiosk: kiosk.into(),
            installation: None,
            seq,
            event_id: uuid::Uuid::from_u128(u128::from(seq) << 8 | u128::from(kiosk.len() as u8)),
            recorded_at: at(8),
            clock_synced: true,
            event,
        };
        judged(
            &cat,
            incoming(kiosk, &serde_json::to_vec(&env).unwrap()).with_kiosk(kiosk),
        )
    };
    let session_of = |kiosk: &str, n: u128, hour: u32, service: &ServiceCode, id: UnitId| {
        let session = SessionId(uuid::Uuid::from_u128(0xa000 + n));
        let opened = Event::SessionOpened {
            session,
            service: service.clone(),
            unit_kind: UnitKind::PerRecipient,
            group: None,
            instructor: InstructorId(uuid::Uuid::from_u128(0xaa01)),
            at: at(hour),
            safety_briefing: false,
            date_confirmed: false,
            event: false,
            over_group_cap: false,
        };
        let unit = Unit {
            id,
            session,
            service: service.clone(),
            kind: UnitKind::PerRecipient,
            recipient: Some(recipient),
            participants: Vec::new(),
            group: None,
            instructor: InstructorId(uuid::Uuid::from_u128(0xaa01)),
            date,
            started_at: at(hour),
            ended_at: at(hour + 1),
            overridden: Vec::new(),
            manual: false,
            below_group_min: false,
            over_norm_minutes: None,
            clock_synced: true,
        };
        vec![
            message(kiosk, 1 + 2 * (n as u64 % 2), opened),
            message(
                kiosk,
                2 + 2 * (n as u64 % 2),
                Event::Units {
                    session,
                    units: vec![unit],
                },
            ),
        ]
    };
    let day = UnitId::per_day(&walk, date, recipient.0);
    let mut all = session_of("kiosk-1", 0, 4, &walk, day);
    all.extend(session_of("kiosk-2", 2, 10, &walk, day));
    let acks = j.commit_batch(&Batch::of(all), now()).unwrap();
    for a in &acks {
        assert_eq!(a.committed_seq, 2, "{a:?}");
        assert!(a.rejected.is_empty(), "{a:?}");
    }
    assert_eq!(all_units(&j), 1, "the day's one unit");
    assert_eq!(
        j.units(date, date).unwrap()[0].unit.session.0,
        uuid::Uuid::from_u128(0xa000)
    );
    // The same id on another service is no day's unit of its own: foreign, as before.
    let forged = session_of("kiosk-2", 3, 12, &"001".into(), day);
    let acks = j.commit_batch(&Batch::of(forged), now()).unwrap();
    assert_eq!(acks[0].rejected.len(), 1, "{acks:?}");
    assert_eq!(all_units(&j), 1);
}
