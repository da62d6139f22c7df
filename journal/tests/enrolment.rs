//! Card enrolment from the journal's side against a real SQLite journal: a `CardEnrolled` is
//! taken only for a request the journal holds, sent to that kiosk, for that recipient, not
//! expired, with hashes of a card's form that are no one else's; anything else is refused with
//! its reason and changes no one's cards.

#![allow(clippy::unwrap_used)]

use chrono::{DateTime, Duration, Utc};
use otmetka_core::event::Event;
use otmetka_core::people::RecipientId;
use otmetka_core::wire::{EnrolmentRequest, Envelope, RejectReason, SCHEMA};
use otmetka_journal::ingest::{Incoming, Verdict, judge};
use otmetka_journal::store::{Batch, JournalStore, Judged, SqliteJournal};
use uuid::Uuid;

fn catalogue() -> otmetka_core::catalogue::Catalogue {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../config/services.toml"
    ))
    .unwrap();
    otmetka_core::catalogue::Catalogue::from_toml("services.toml", &text).unwrap()
}

fn t0() -> DateTime<Utc> {
    "2026-11-23T10:00:00Z".parse().unwrap()
}

fn hash(n: u8) -> String {
    format!("{n:02x}").repeat(32)
}

const ANNA: RecipientId = RecipientId(Uuid::from_u128(0xa));
const BORIS: RecipientId = RecipientId(Uuid::from_u128(0xb));

/// A `CardEnrolled` from `kiosk`, judged.
fn enrolled(
    kiosk: &str,
    seq: u64,
    request: Uuid,
    recipient: RecipientId,
    hashes: Vec<String>,
    at: DateTime<Utc>,
) -> Judged {
    let env = Envelope {
        schema: SCHEMA,
        site: "demo".into(),
        kiosk: kiosk.into(),
        installation: None,
        seq,
        event_id: Uuid::now_v7(),
        recorded_at: at,
        clock_synced: true,
        event: Event::CardEnrolled {
            request,
            recipient,
            card_hashes: hashes,
            at,
        },
    };
    let msg = Incoming {
        topic: format!("otmetka/v1/demo/kiosk/{kiosk}/events"),
        from: Some(("demo".into(), kiosk.into())),
        payload: serde_json::to_vec(&env).unwrap(),
    };
    Judged {
        site: "demo".into(),
        kiosk: kiosk.into(),
        topic: msg.topic.clone(),
        verdict: judge(&msg, &catalogue()),
        payload: msg.payload,
    }
}

fn ask(j: &mut SqliteJournal, kiosk: &str, recipient: RecipientId) -> Uuid {
    let request = Uuid::now_v7();
    j.request_enrolment(
        "demo",
        kiosk,
        &EnrolmentRequest {
            schema: SCHEMA,
            request,
            recipient,
            display_name: "Анна".into(),
            expires_at: t0() + Duration::minutes(10),
        },
        t0(),
    )
    .unwrap();
    request
}

/// Commits one message and returns the refusal the kiosk is told, if any.
fn refusal(j: &mut SqliteJournal, m: Judged) -> Option<RejectReason> {
    let judged = match &m.verdict {
        Verdict::Reject { reason, .. } => Some(reason.clone()),
        Verdict::Accept(_) => None,
    };
    let acks = j.commit_batch(&Batch::of(vec![m]), t0()).unwrap();
    if judged.is_some() {
        return judged;
    }
    acks.into_iter()
        .flat_map(|a| a.rejected)
        .next()
        .map(|r| r.reason)
}

/// The cards the site's kiosks enrolled: (holder, keyed hashes), oldest first.
fn enrolled_cards(j: &SqliteJournal) -> Vec<(RecipientId, Vec<String>)> {
    use otmetka_journal::store::PeopleStore;
    use otmetka_journal::store::people::Holder;
    j.people("demo")
        .unwrap()
        .cards
        .into_iter()
        .filter(|c| c.issued_by.starts_with("kiosk "))
        .filter_map(|c| match c.holder {
            Holder::Recipient(r) => Some((r, c.hashes)),
            Holder::Instructor(_) => None,
        })
        .collect()
}

#[test]
fn only_the_asked_kiosk_may_give_the_asked_person_a_card_in_time() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = SqliteJournal::open(&dir.path().join("j.db")).unwrap();
    let request = ask(&mut j, "kiosk-1", ANNA);
    let at = t0() + Duration::minutes(1);
    let cases = [
        (
            "another kiosk",
            enrolled("kiosk-2", 1, request, ANNA, vec![hash(1)], at),
            "was asked of kiosk demo/kiosk-1",
        ),
        (
            "no such request",
            enrolled("kiosk-1", 1, Uuid::now_v7(), ANNA, vec![hash(1)], at),
            "no such request",
        ),
        (
            "another person",
            enrolled("kiosk-1", 2, request, BORIS, vec![hash(1)], at),
            "another recipient",
        ),
        (
            "too late",
            enrolled(
                "kiosk-1",
                3,
                request,
                ANNA,
                vec![hash(1)],
                t0() + Duration::minutes(20),
            ),
            "expired",
        ),
        (
            "not a hash",
            enrolled("kiosk-1", 4, request, ANNA, vec!["DEADBEEF".into()], at),
            "not a card hash",
        ),
        (
            "no hash",
            enrolled("kiosk-1", 5, request, ANNA, vec![], at),
            "1 to 8 hashes",
        ),
    ];
    for (what, m, why) in cases {
        let r = refusal(&mut j, m);
        let text = format!("{r:?}");
        assert!(text.contains(why), "{what}: {text}");
    }
    assert!(enrolled_cards(&j).is_empty(), "no card was given");
    // The asked kiosk, in time, for Anna: taken; the same card again changes nothing.
    assert_eq!(
        refusal(
            &mut j,
            enrolled("kiosk-1", 6, request, ANNA, vec![hash(1), hash(2)], at)
        ),
        None
    );
    assert_eq!(
        refusal(
            &mut j,
            enrolled("kiosk-1", 7, request, ANNA, vec![hash(1), hash(2)], at)
        ),
        None
    );
    let another = refusal(
        &mut j,
        enrolled("kiosk-1", 8, request, ANNA, vec![hash(3)], at),
    );
    assert!(
        format!("{another:?}").contains("fulfilled already"),
        "{another:?}"
    );
    // Boris's request cannot take Anna's card.
    let boris = ask(&mut j, "kiosk-1", BORIS);
    let taken = refusal(
        &mut j,
        enrolled("kiosk-1", 9, boris, BORIS, vec![hash(2)], at),
    );
    assert!(format!("{taken:?}").contains("already"), "{taken:?}");
    assert_eq!(enrolled_cards(&j), vec![(ANNA, vec![hash(1), hash(2)])]);
    let recorded = j.rejections().unwrap();
    assert_eq!(recorded.len(), 8, "every refusal is recorded: {recorded:?}");
}
