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
fn a_kiosk_whose_messages_the_journal_refuses_or_defers_is_an_alert_with_the_count() {
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
            let batch = Batch {
                // And k5, past its allowance: counted, not read.
                deferred: vec![otmetka_journal::ingest::Deferred {
                    site: otmetka_tests::institution::SITE.into(),
                    kiosk: "k5".into(),
                    kind: "deferred_rate",
                    count: 41_000,
                }],
                ..Batch::of((1..=3).map(broken).collect())
            };
            s.commit_batch(&batch, now).map(drop)
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
    assert!(
        page.body.contains(
            "demo/k5: шлёт больше, чем журнал принимает от одного киоска — 41000 сообщ. отложено."
        ) && page.body.contains("41000</span> — отложены: слишком часто"),
        "{}",
        page.body
    );
}

#[test]
fn a_kiosk_that_says_some_events_will_never_come_is_an_alert_naming_them() {
    use otmetka_journal::store::{Batch, StatusReport};
    let site = Site::new();
    let now: chrono::DateTime<chrono::Utc> = "2026-12-11T13:00:00Z".parse().unwrap();
    // The status a kiosk sends after a restored journal asked it again for rows it had pruned.
    let body = r#"{"schema":2,"kiosk":"k4","presence":"online","outbox_depth":0,"reader_ok":true,
        "clock_synced":true,"at":"2026-12-11T13:00:00Z",
        "lost":[{"from":7,"to":7},{"from":12,"to":40}]}"#;
    site.rt
        .block_on(site.store.call(move |s| {
            s.commit_batch(
                &Batch {
                    statuses: vec![StatusReport {
                        site: otmetka_tests::institution::SITE.into(),
                        kiosk: "k4".into(),
                        body: body.into(),
                    }],
                    ..Batch::default()
                },
                now,
            )
            .map(drop)
        }))
        .unwrap();
    let (head, _) = site.sign_in("head");
    let page = site.send(Method::GET, "/fleet", Some(&head), None);
    assert!(
        page.body
            .contains("demo/k4: 30 сообщ. киоска не придут никогда (№ 7, 12–40)"),
        "{}",
        page.body
    );
    assert!(page.body.contains("по бумажному журналу"));
}

#[test]
fn an_administrator_provisions_a_kiosk_from_the_page_and_its_bundle_stays_on_the_journals_machine()
{
    let site = Site::with_config(|dir| {
        std::fs::write(dir.join("passwd"), "").unwrap();
        std::fs::copy(
            otmetka_tests::site::repo_root().join("config/mosquitto/acl"),
            dir.join("acl"),
        )
        .unwrap();
        std::fs::write(
            dir.join("ca.crt"),
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        format!(
            "[provisioning]\nbroker_password_file = {:?}\nbroker_acl_file = {:?}\nca_file = {:?}\n",
            dir.join("passwd"),
            dir.join("acl"),
            dir.join("ca.crt")
        )
    });
    let (admin, csrf) = site.sign_in("admin");
    let page = site.send(Method::GET, "/fleet", Some(&admin), None);
    assert!(page.body.contains("Выдать новый киоск"));
    let post = |kiosk: &str| {
        site.send(
            Method::POST,
            "/fleet/provision",
            Some(&admin),
            Some(&format!("csrf={csrf}&site=demo&kiosk={kiosk}")),
        )
    };
    // A name a kiosk id cannot be: refused, nothing issued.
    let bad = post("%D0%9A3");
    assert!(bad.location.unwrap().contains("error="));
    let kiosks = || site.rt.block_on(site.store.call(|s| s.kiosks())).unwrap();
    assert!(kiosks().is_empty());
    // k3: its credential, ACL block and record, and a bundle beside journal.toml.
    let done = post("k3");
    let at = done.location.unwrap();
    assert!(at.contains("done="), "{at}");
    let shown = site.send(Method::GET, &at, Some(&admin), None);
    assert!(shown.body.contains("Киоск demo/k3 выдан"), "{}", shown.body);
    assert!(shown.body.contains("otmetka-kiosk enroll"));
    assert!(kiosks().iter().any(|k| k.site == "demo" && k.kiosk == "k3"));
    // Its name again: the live password is not changed without "issue again" ticked.
    let passwd_before =
        std::fs::read_to_string(site.inst.config.parent().unwrap().join("passwd")).unwrap();
    let again = post("k3");
    let at2 = again.location.unwrap();
    assert!(at2.contains("error="), "{at2}");
    let shown2 = site.send(Method::GET, &at2, Some(&admin), None);
    assert!(shown2.body.contains("уже выдавался"), "{}", shown2.body);
    assert_eq!(
        std::fs::read_to_string(site.inst.config.parent().unwrap().join("passwd")).unwrap(),
        passwd_before
    );
    let base = site.inst.config.parent().unwrap().to_path_buf();
    let passwd = std::fs::read_to_string(base.join("passwd")).unwrap();
    assert!(
        passwd.lines().any(|l| l.starts_with("demo/kiosk/k3:")),
        "{passwd}"
    );
    assert!(
        std::fs::read_to_string(base.join("acl"))
            .unwrap()
            .contains("user demo/kiosk/k3")
    );
    let bundles: Vec<_> = std::fs::read_dir(base.join("bundles"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(bundles.len(), 1);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&bundles[0]).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "the bundle is the journal user's alone");
    let toml = std::fs::read_to_string(bundles[0].join("kiosk.toml")).unwrap();
    assert!(toml.contains("k3"));
    // The page never shows the password or the secret.
    let password = std::fs::read_to_string(bundles[0].join("mqtt-password")).unwrap();
    assert!(password.trim().len() >= 32 && !shown.body.contains(password.trim()));
    assert!(
        site.rt
            .block_on(site.store.call(|s| s.audit_log(50)))
            .unwrap()
            .iter()
            .any(|e| e.action == "provision_kiosk" && e.subject == "kiosk demo/k3")
    );
}
