//! The kiosk store against real SQLite files: migrations, replay of an open session, the
//! attendance history, a full disk and a corrupt file.

#![allow(clippy::unwrap_used)]

use chrono::{DateTime, Utc};
use otmetka_core::catalogue::{ServiceCode, UnitKind};
use otmetka_core::event::{CheckInMethod, Event};
use otmetka_core::people::{InstructorId, RecipientId};
use otmetka_core::session::{CheckInId, SessionId};
use otmetka_kiosk_store::{KioskIdentity, Store, StoreError};
use uuid::Uuid;

fn identity() -> KioskIdentity {
    KioskIdentity {
        site: "site-1".into(),
        kiosk: "kiosk-1".into(),
    }
}

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn opened(session: SessionId) -> Event {
    Event::SessionOpened {
        session,
        service: ServiceCode::from("001"),
        unit_kind: UnitKind::PerRecipient,
        group: None,
        instructor: InstructorId(Uuid::from_u128(1)),
        at: t("2026-11-23T06:00:00Z"),
        safety_briefing: false,
        date_confirmed: false,
        event: false,
        over_group_cap: false,
    }
}

fn checked_in(session: SessionId, n: u128) -> Event {
    Event::CheckedIn {
        norm_minutes: None,
        session,
        checkin: CheckInId(Uuid::from_u128(100 + n)),
        recipient: RecipientId(Uuid::from_u128(n)),
        at: t("2026-11-23T06:01:00Z"),
        method: CheckInMethod::Card,
        overridden: Vec::new(),
        override_reason: None,
    }
}

#[test]
fn an_open_session_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kiosk.db");
    let session = SessionId(Uuid::from_u128(7));
    {
        let mut store = Store::open(&db, identity()).unwrap();
        let seqs = store
            .record(
                &[opened(session), checked_in(session, 1)],
                t("2026-11-23T06:01:00Z"),
                true,
            )
            .unwrap();
        assert_eq!(seqs, vec![1, 2]);
        store
            .record(&[checked_in(session, 2)], t("2026-11-23T06:02:00Z"), true)
            .unwrap();
        let undo = Event::CheckInUndone {
            session,
            checkin: CheckInId(Uuid::from_u128(101)),
            at: t("2026-11-23T06:03:00Z"),
        };
        store
            .record(&[undo], t("2026-11-23T06:03:00Z"), true)
            .unwrap();
    }
    let store = Store::open(&db, identity()).unwrap();
    let sessions = store.open_sessions().unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].present_count(), 1);
    assert_eq!(store.last_seen().unwrap(), Some(t("2026-11-23T06:03:00Z")));
    // The undone check-in is not attendance.
    assert!(
        store
            .attendance(
                RecipientId(Uuid::from_u128(1)),
                t("2026-11-01T00:00:00Z"),
                None
            )
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .attendance(
                RecipientId(Uuid::from_u128(2)),
                t("2026-11-01T00:00:00Z"),
                None
            )
            .unwrap()
            .len(),
        1
    );
    let (depth, oldest) = store.backlog().unwrap();
    assert_eq!((depth, oldest), (4, Some(t("2026-11-23T06:01:00Z"))));
}

/// The rules issue, point 2: a cancelled session gave no service, so its check-ins count toward
/// no limit; a closed session's do.
#[test]
fn a_cancelled_sessions_check_ins_are_not_attendance() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("kiosk.db"), identity()).unwrap();
    let (kept, cancelled) = (SessionId(Uuid::from_u128(7)), SessionId(Uuid::from_u128(8)));
    let at = t("2026-11-23T06:01:00Z");
    let mut second_check_in = checked_in(cancelled, 1);
    if let Event::CheckedIn { checkin, .. } = &mut second_check_in {
        *checkin = CheckInId(Uuid::from_u128(999));
    }
    store
        .record(&[opened(kept), checked_in(kept, 1)], at, true)
        .unwrap();
    store
        .record(&[opened(cancelled), second_check_in], at, true)
        .unwrap();
    let cancel = Event::SessionCancelled {
        session: cancelled,
        at: t("2026-11-23T06:10:00Z"),
        reason: "пожарная тревога".into(),
    };
    store
        .record(&[cancel], t("2026-11-23T06:10:00Z"), true)
        .unwrap();
    let history = store
        .attendance(
            RecipientId(Uuid::from_u128(1)),
            t("2026-11-01T00:00:00Z"),
            None,
        )
        .unwrap();
    assert_eq!(history.len(), 1, "{history:?}");
    assert_eq!(history[0].session, Some(kept));
}

#[test]
fn the_last_good_time_is_kept_only_from_a_synchronised_clock_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kiosk.db");
    let mut store = Store::open(&path, identity()).unwrap();
    assert_eq!(store.last_good_time().unwrap(), None);
    let s = SessionId(Uuid::from_u128(7));
    store
        .record(&[opened(s)], t("2026-11-23T06:00:00Z"), true)
        .unwrap();
    // A later record on an unsynchronised clock (it may be wrong) does not move it.
    store
        .record(&[checked_in(s, 1)], t("2031-01-01T00:00:00Z"), false)
        .unwrap();
    assert_eq!(
        store.last_good_time().unwrap(),
        Some(t("2026-11-23T06:00:00Z"))
    );
    // The feed's word that the clock is synchronised moves it forward, never back.
    store.saw_good_time(t("2026-11-24T08:00:00Z")).unwrap();
    store.saw_good_time(t("2026-11-01T00:00:00Z")).unwrap();
    drop(store);
    let store = Store::open(&path, identity()).unwrap();
    assert_eq!(
        store.last_good_time().unwrap(),
        Some(t("2026-11-24T08:00:00Z"))
    );
}

#[test]
fn delivery_marks_and_prunes_but_keeps_open_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("k.db"), identity()).unwrap();
    let s = SessionId(Uuid::from_u128(7));
    store
        .record(
            &[opened(s), checked_in(s, 1), checked_in(s, 2)],
            t("2026-11-23T06:01:00Z"),
            true,
        )
        .unwrap();
    let rows = store.undelivered(0, 10).unwrap();
    assert_eq!(
        rows.iter().map(|r| r.seq).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    let env: otmetka_core::wire::Envelope = serde_json::from_str(&rows[1].payload).unwrap();
    assert_eq!((env.seq, env.kiosk.as_str()), (2, "kiosk-1"));
    assert_eq!(
        store.mark_delivered(2, t("2026-11-23T06:02:00Z")).unwrap(),
        2
    );
    assert_eq!(store.undelivered(0, 10).unwrap().len(), 1);
    // The session is still open: its events stay for replay even after the audit period.
    assert_eq!(store.prune_delivered(t("2027-01-01T00:00:00Z")).unwrap(), 0);
    assert_eq!(store.open_sessions().unwrap()[0].present_count(), 2);
}

#[test]
fn a_full_disk_is_a_clear_error_and_loses_nothing_committed() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("k.db"), identity()).unwrap();
    let s = SessionId(Uuid::from_u128(7));
    store
        .record(&[opened(s)], t("2026-11-23T06:00:00Z"), true)
        .unwrap();
    let page_count: u64 = 16;
    store.limit_pages(page_count).unwrap();
    let mut committed = 0u128;
    let err = loop {
        match store.record(
            &[checked_in(s, committed + 1)],
            t("2026-11-23T06:01:00Z"),
            true,
        ) {
            Ok(_) => committed += 1,
            Err(e) => break e,
        }
        assert!(committed < 10_000, "the page limit never bit");
    };
    assert!(matches!(err, StoreError::DiskFull), "{err:?}");
    assert!(err.to_string().contains("full"), "{err}");
    drop(store);
    let store = Store::open(&dir.path().join("k.db"), identity()).unwrap();
    store.integrity_check().unwrap();
    assert_eq!(
        store.open_sessions().unwrap()[0].present_count() as u128,
        committed
    );
}

#[test]
fn a_corrupt_file_is_a_clear_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.db");
    std::fs::write(
        &db,
        b"this is not a database, it is a shopping list: milk, bread",
    )
    .unwrap();
    let err = Store::open(&db, identity()).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("k.db") && msg.contains("damaged"), "{msg}");

    // A real database whose pages were overwritten in the middle.
    let db2 = dir.path().join("k2.db");
    {
        let mut store = Store::open(&db2, identity()).unwrap();
        let s = SessionId(Uuid::from_u128(7));
        let events: Vec<Event> = std::iter::once(opened(s))
            .chain((1..300).map(|n| checked_in(s, n)))
            .collect();
        store
            .record(&events, t("2026-11-23T06:00:00Z"), true)
            .unwrap();
        store.record(&[], t("2026-11-23T06:00:00Z"), true).unwrap();
    }
    // Checkpoint the WAL into the main file, then damage it.
    {
        let c = rusqlite::Connection::open(&db2).unwrap();
        c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap();
    }
    let mut bytes = std::fs::read(&db2).unwrap();
    let len = bytes.len();
    for b in &mut bytes[len / 3..len / 3 + 8192] {
        *b = 0xA5;
    }
    std::fs::write(&db2, &bytes).unwrap();
    match Store::open(&db2, identity()) {
        Err(StoreError::Corrupt { detail, .. }) => assert!(!detail.is_empty()),
        Ok(store) => {
            let err = store.integrity_check().unwrap_err();
            assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
        }
        Err(other) => panic!("expected a corrupt-store error, got {other:?}"),
    }
}

#[test]
fn a_store_whose_rows_were_marked_delivered_one_by_one_keeps_its_place_after_the_upgrade() {
    // A kiosk's database from before the ack log (schema 1): rows 1–3 marked delivered, 4–5 not.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kiosk.db");
    {
        let mut store = Store::open(&db, identity()).unwrap();
        let s = SessionId(Uuid::from_u128(9));
        store
            .record(
                &[
                    opened(s),
                    checked_in(s, 1),
                    checked_in(s, 2),
                    checked_in(s, 3),
                    checked_in(s, 4),
                ],
                t("2026-11-23T06:01:00Z"),
                true,
            )
            .unwrap();
    }
    let c = rusqlite::Connection::open(&db).unwrap();
    c.execute_batch(
        "DROP TABLE acks;
         CREATE INDEX outbox_undelivered ON outbox(seq) WHERE delivered_at IS NULL;
         UPDATE outbox SET delivered_at = '2026-11-23T06:02:00Z' WHERE seq <= 3;
         ALTER TABLE sessions DROP COLUMN study_group;
         ALTER TABLE sessions DROP COLUMN event;
         PRAGMA user_version = 1;",
    )
    .unwrap();
    drop(c);
    let mut store = Store::open(&db, identity()).unwrap();
    let rows: Vec<u64> = store
        .undelivered(0, 10)
        .unwrap()
        .iter()
        .map(|r| r.seq)
        .collect();
    assert_eq!(rows, vec![4, 5]);
    assert_eq!(store.backlog().unwrap().0, 2);
    // The next ack goes on from there, and an old ack changes nothing.
    assert_eq!(
        store.mark_delivered(2, t("2026-11-23T06:03:00Z")).unwrap(),
        0
    );
    assert_eq!(
        store.mark_delivered(4, t("2026-11-23T06:03:00Z")).unwrap(),
        1
    );
    assert_eq!(store.backlog().unwrap().0, 1);
    // Once the session is closed and its events acknowledged, the audit period ends them.
    store
        .record(
            &[Event::SessionClosed {
                session: SessionId(Uuid::from_u128(9)),
                at: t("2026-11-23T07:00:00Z"),
                how: otmetka_core::event::CloseKind::Instructor,
                head_count: None,
                reason: None,
            }],
            t("2026-11-23T07:00:00Z"),
            true,
        )
        .unwrap();
    assert_eq!(
        store.mark_delivered(6, t("2026-11-23T07:01:00Z")).unwrap(),
        2
    );
    assert_eq!(
        store.prune_delivered(t("2026-11-23T06:30:00Z")).unwrap(),
        4,
        "rows 1–4 (delivered at 06:02 and 06:03); not 5–6, acknowledged after the cut"
    );
    assert_eq!(store.prune_delivered(t("2027-01-01T00:00:00Z")).unwrap(), 2);
    assert_eq!(store.undelivered(0, 10).unwrap().len(), 0);
}

#[test]
fn after_a_prune_that_empties_the_outbox_the_next_event_gets_a_new_seq_and_is_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kiosk.db");
    let mut store = Store::open(&db, identity()).unwrap();
    let session = SessionId(Uuid::from_u128(7));
    let close = Event::SessionCancelled {
        session,
        at: t("2026-11-23T06:05:00Z"),
        reason: "нет группы".into(),
    };
    let seqs = store
        .record(
            &[opened(session), checked_in(session, 1), close],
            t("2026-11-23T06:05:00Z"),
            true,
        )
        .unwrap();
    assert_eq!(seqs, vec![1, 2, 3]);
    store.mark_delivered(3, t("2026-11-23T06:06:00Z")).unwrap();
    // The audit period passes: the outbox is emptied, the ack log keeps the last ack (3).
    assert_eq!(store.prune_delivered(t("2027-01-01T00:00:00Z")).unwrap(), 3);
    assert_eq!(store.backlog().unwrap().0, 0);
    drop(store);
    let mut store = Store::open(&db, identity()).unwrap();
    let next = SessionId(Uuid::from_u128(8));
    let seqs = store
        .record(&[opened(next)], t("2027-01-02T06:00:00Z"), true)
        .unwrap();
    assert_eq!(seqs, vec![4], "a seq never comes again");
    let due = store.undelivered(store.acked().unwrap(), 10).unwrap();
    assert_eq!(due.len(), 1, "the new event is due for delivery");
    assert_eq!(store.backlog().unwrap().0, 1);
}

#[test]
fn a_journal_that_asks_again_for_pruned_rows_is_told_they_are_gone_and_the_store_remembers() {
    use otmetka_core::wire::SeqRange;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kiosk.db");
    let mut store = Store::open(&db, identity()).unwrap();
    let s1 = SessionId(Uuid::from_u128(7));
    let cancel = |session| Event::SessionCancelled {
        session,
        at: t("2026-11-23T06:05:00Z"),
        reason: "нет группы".into(),
    };
    store
        .record(
            &[opened(s1), checked_in(s1, 1), cancel(s1)],
            t("2026-11-23T06:05:00Z"),
            true,
        )
        .unwrap();
    store.mark_delivered(3, t("2026-11-23T06:06:00Z")).unwrap();
    assert_eq!(store.prune_delivered(t("2027-01-01T00:00:00Z")).unwrap(), 3);
    let s2 = SessionId(Uuid::from_u128(8));
    store
        .record(&[opened(s2), cancel(s2)], t("2027-01-02T06:00:00Z"), true)
        .unwrap();
    store.mark_delivered(5, t("2027-01-02T06:06:00Z")).unwrap();
    // The journal comes back from a backup holding seq 1 only: 2 and 3 are gone, 4 and 5 are
    // sent again.
    assert_eq!(
        store.rewind_acks(1, t("2027-01-03T00:00:00Z")).unwrap(),
        Some(SeqRange { from: 2, to: 3 })
    );
    assert_eq!(store.undelivered(1, 10).unwrap().len(), 2, "4 and 5 again");
    // Asked again from 0 (an older backup still): 1 is gone too, and the two become one range.
    assert_eq!(
        store.rewind_acks(0, t("2027-01-03T00:01:00Z")).unwrap(),
        Some(SeqRange { from: 1, to: 3 })
    );
    drop(store);
    let store = Store::open(&db, identity()).unwrap();
    assert_eq!(
        store.lost().unwrap(),
        vec![SeqRange { from: 1, to: 3 }],
        "kept across a restart"
    );
    // A rewind with nothing pruned above it loses nothing.
    let mut fresh = Store::open(&dir.path().join("b.db"), identity()).unwrap();
    fresh
        .record(&[opened(s1)], t("2026-11-23T06:00:00Z"), true)
        .unwrap();
    fresh.mark_delivered(1, t("2026-11-23T06:01:00Z")).unwrap();
    assert_eq!(
        fresh.rewind_acks(0, t("2026-11-23T06:02:00Z")).unwrap(),
        None
    );
    assert!(fresh.lost().unwrap().is_empty());
    // Everything above the journal's seq pruned, none held: up to the counter is gone.
    let mut empty = Store::open(&dir.path().join("c.db"), identity()).unwrap();
    empty
        .record(&[opened(s1), cancel(s1)], t("2026-11-23T06:00:00Z"), true)
        .unwrap();
    empty.mark_delivered(2, t("2026-11-23T06:01:00Z")).unwrap();
    empty.prune_delivered(t("2027-01-01T00:00:00Z")).unwrap();
    assert_eq!(
        empty.rewind_acks(0, t("2027-01-03T00:00:00Z")).unwrap(),
        Some(SeqRange { from: 1, to: 2 })
    );
}

#[test]
fn each_database_is_its_own_installation_and_says_so_in_every_envelope() {
    let dir = tempfile::tempdir().unwrap();
    let a = Store::open(&dir.path().join("a.db"), identity()).unwrap();
    let again = Store::open(&dir.path().join("a.db"), identity()).unwrap();
    let b = Store::open(&dir.path().join("b.db"), identity()).unwrap();
    assert_eq!(a.installation(), again.installation(), "kept across opens");
    assert_ne!(
        a.installation(),
        b.installation(),
        "a new database is a new one"
    );
    drop((a, again));
    let mut a = Store::open(&dir.path().join("a.db"), identity()).unwrap();
    a.record(
        &[opened(SessionId(Uuid::from_u128(9)))],
        t("2026-11-23T06:00:00Z"),
        true,
    )
    .unwrap();
    let row = &a.undelivered(0, 1).unwrap()[0];
    let env = otmetka_core::wire::Envelope::decode(row.payload.as_bytes()).unwrap();
    assert_eq!(env.installation, Some(a.installation()));
}

#[test]
fn one_kiosk_per_database_a_second_is_told_who_holds_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kiosk.db");
    let first = otmetka_kiosk_store::InstanceLock::take(&db).unwrap();
    let err = otmetka_kiosk_store::InstanceLock::take(&db)
        .unwrap_err()
        .to_string();
    assert!(err.contains("already runs"), "{err}");
    assert!(
        err.contains(&format!("pid {}", std::process::id())),
        "{err}"
    );
    drop(first);
    otmetka_kiosk_store::InstanceLock::take(&db).expect("free once the first is gone");
}

#[test]
fn the_database_is_the_kiosk_users_alone() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kiosk.db");
    let mut store = Store::open(&db, identity()).unwrap();
    store
        .record(
            &[opened(SessionId(Uuid::from_u128(3)))],
            t("2026-11-23T06:00:00Z"),
            true,
        )
        .unwrap();
    for f in ["kiosk.db", "kiosk.db-wal"] {
        let mode = std::fs::metadata(dir.path().join(f))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{f}");
    }
}

/// The rules issue, point 1: with what the journal held of this database's messages, the
/// kiosk's own attendance is only what the site's usage does not carry: an open session, a
/// closed one whose last message (its units) the journal did not hold; not one it held, below
/// its committed seq or in a range past a hole.
#[test]
fn own_attendance_leaves_out_what_the_journal_held() {
    use otmetka_core::event::CloseKind;
    use otmetka_core::wire::UsageCommitted;
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("kiosk.db"), identity()).unwrap();
    let who = RecipientId(Uuid::from_u128(1));
    let at = t("2026-11-23T06:01:00Z");
    // Three closed sessions (seqs 1–3, 4–6, 7–9), then an open one (10–11).
    for n in 0..4u128 {
        let session = SessionId(Uuid::from_u128(70 + n));
        let mut check_in = checked_in(session, 1);
        if let Event::CheckedIn { checkin, .. } = &mut check_in {
            *checkin = CheckInId(Uuid::from_u128(900 + n));
        }
        let mut events = vec![opened(session), check_in];
        if n < 3 {
            events.push(Event::SessionClosed {
                session,
                at: t("2026-11-23T06:30:00Z"),
                how: CloseKind::Instructor,
                head_count: None,
                reason: None,
            });
        }
        store.record(&events, at, true).unwrap();
    }
    let since = t("2026-11-01T00:00:00Z");
    let count = |held: Option<&UsageCommitted>| store.attendance(who, since, held).unwrap().len();
    let held = |seq, ranges: Vec<[u64; 2]>| UsageCommitted {
        kiosk: "kiosk-1".into(),
        installation: Some(store.installation()),
        seq,
        held: ranges,
    };
    assert_eq!(
        count(None),
        4,
        "a journal that does not say: all of its own"
    );
    assert_eq!(count(Some(&held(0, vec![]))), 4, "the journal holds none");
    assert_eq!(
        count(Some(&held(6, vec![]))),
        2,
        "the first two are in the usage"
    );
    assert_eq!(
        count(Some(&held(3, vec![[7, 11]]))),
        2,
        "past a hole at 4–6: the third is held, the second is not, the open one counts"
    );
    assert_eq!(
        count(Some(&held(99, vec![]))),
        1,
        "an open session always counts"
    );
}

/// A store from before sessions kept their form (migration 4): the sessions it holds take
/// their event form from the opening events in the outbox, so an excursion held before the
/// upgrade still counts toward the month's cap of events (002 l.3171), and not toward the
/// week's cap of circles.
#[test]
fn an_upgraded_store_knows_which_of_its_sessions_were_events() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kiosk.db");
    let circle = SessionId(Uuid::from_u128(9));
    let excursion = SessionId(Uuid::from_u128(10));
    {
        let mut store = Store::open(&db, identity()).unwrap();
        let mut events = vec![opened(circle), checked_in(circle, 1)];
        let mut as_event = opened(excursion);
        if let Event::SessionOpened { event, .. } = &mut as_event {
            *event = true;
        }
        let mut tapped = checked_in(excursion, 1);
        if let Event::CheckedIn { checkin, .. } = &mut tapped {
            *checkin = CheckInId(Uuid::from_u128(201));
        }
        events.extend([as_event, tapped]);
        store
            .record(&events, t("2026-11-23T06:01:00Z"), true)
            .unwrap();
    }
    let c = rusqlite::Connection::open(&db).unwrap();
    c.execute_batch(
        "ALTER TABLE sessions DROP COLUMN study_group;
         ALTER TABLE sessions DROP COLUMN event;
         PRAGMA user_version = 3;",
    )
    .unwrap();
    drop(c);
    let store = Store::open(&db, identity()).unwrap();
    let mut seen: Vec<(SessionId, bool)> = store
        .attendance(
            RecipientId(Uuid::from_u128(1)),
            t("2026-11-01T00:00:00Z"),
            None,
        )
        .unwrap()
        .iter()
        .map(|a| (a.session.unwrap(), a.event))
        .collect();
    seen.sort_by_key(|(s, _)| s.0);
    assert_eq!(seen, vec![(circle, false), (excursion, true)]);
}
