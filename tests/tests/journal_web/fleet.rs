//! The fleet page's alerts, and revoking a kiosk from it.

use super::Site;
use axum::http::{Method, StatusCode};

#[test]
fn a_kiosk_never_heard_from_is_an_alert_and_revoking_needs_a_confirmation_and_a_broker_config() {
    let site = Site::new();
    site.rt
        .block_on(site.store.call(|s| {
            s.issue_kiosk(
                otmetka_tests::institution::SITE,
                "k9",
                "2026-12-01T08:00:00Z".parse().unwrap(),
            )
        }))
        .unwrap();
    let (admin, csrf) = site.sign_in("admin");
    let page = site.send(Method::GET, "/fleet", Some(&admin), None);
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Требуют внимания"), "{}", page.body);
    assert!(page.body.contains("demo/k9: ни разу не выходил на связь"));
    assert!(
        page.body.contains("Отозвать…"),
        "an administrator may revoke"
    );
    let path = "/fleet/demo/k9/revoke";
    let unconfirmed = site.send(
        Method::POST,
        path,
        Some(&admin),
        Some(&format!("csrf={csrf}")),
    );
    assert_eq!(unconfirmed.status, StatusCode::SEE_OTHER);
    assert!(unconfirmed.location.unwrap().contains("error="));
    // This journal has no [provisioning]: the page says so, and nothing is revoked.
    let refused = site.send(
        Method::POST,
        path,
        Some(&admin),
        Some(&format!("csrf={csrf}&confirm=1")),
    );
    let at = refused.location.unwrap();
    let shown = site.send(Method::GET, &at, Some(&admin), None);
    assert!(
        shown.body.contains("Не удалось отозвать киоск") && shown.body.contains("[provisioning]"),
        "{}",
        shown.body
    );
    let kiosks = site.rt.block_on(site.store.call(|s| s.kiosks())).unwrap();
    assert!(kiosks.iter().all(|k| k.revoked_at.is_none()));
    let (head, _) = site.sign_in("head");
    let page = site.send(Method::GET, "/fleet", Some(&head), None);
    assert!(
        !page.body.contains("Отозвать…"),
        "only administrators revoke"
    );
}

#[test]
fn a_kiosk_whose_messages_the_journal_refuses_is_an_alert_with_the_count() {
    use otmetka_journal::store::{Batch, Judged, Verdict};
    let site = Site::new();
    // Three broken messages from k7 (an out-of-date or damaged kiosk), committed as ingest does.
    let broken = |n: u64| Judged {
        site: otmetka_tests::institution::SITE.into(),
        kiosk: "k7".into(),
        topic: "otmetka/v1/demo/kiosk/k7/events".into(),
        payload: b"{not json".to_vec(),
        verdict: Verdict::Reject {
            seq: Some(n),
            reason: otmetka_core::wire::RejectReason::Malformed {
                detail: "not JSON".into(),
            },
        },
    };
    // An hour before the pages' clock.
    let now: chrono::DateTime<chrono::Utc> = "2026-12-11T13:00:00Z".parse().unwrap();
    site.rt
        .block_on(site.store.call(move |s| {
            s.commit_batch(&Batch::of((1..=3).map(broken).collect()), now)
                .map(drop)
        }))
        .unwrap();
    let (admin, _) = site.sign_in("admin");
    let page = site.send(Method::GET, "/fleet", Some(&admin), None);
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains("demo/k7: журнал отклоняет его сообщения — 3 (повреждённые)"),
        "{}",
        page.body
    );
    assert!(page.body.contains("Отклонено"));
}
