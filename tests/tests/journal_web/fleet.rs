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
