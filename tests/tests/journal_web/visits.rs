//! Patronage visits (seed 003) entered on the pages: each is a unit of service 003 in the
//! month's journal and in the recipient's act; a part over its norm is marked, not refused.

use super::Site;
use axum::http::{Method, StatusCode};

#[test]
fn a_home_visit_is_a_unit_in_the_journal_and_the_act_and_a_part_over_its_norm_is_marked() {
    let site = Site::new();
    let (cookie, csrf) = site.sign_in("specialist");
    let (who, name) = site.inst.recipients[6].clone();
    let instructor = site
        .rt
        .block_on(
            site.store
                .call(|s| s.people(otmetka_tests::institution::SITE)),
        )
        .unwrap()
        .instructors[0]
        .id
        .to_string();
    let who_s = who.to_string();
    let visit = |work: &'static str, prep: &'static str| {
        vec![
            ("recipient", who_s.clone()),
            ("instructor", instructor.clone()),
            ("kind", "primary".to_string()),
            ("date", "2026-12-09".to_string()),
            ("start", "11:00".to_string()),
            ("prep", prep.to_string()),
            ("work", work.to_string()),
            ("completion", "10".to_string()),
            ("document", "housing_act".to_string()),
            (
                "note",
                "Семья на месте, условия удовлетворительные".to_string(),
            ),
        ]
    };
    let post = |fields: &[(&str, String)]| {
        let mut form = format!("csrf={csrf}");
        for (k, v) in fields {
            form.push_str(&format!("&{k}={}", super::enc(v)));
        }
        site.send(
            Method::POST,
            "/visits?month=2026-12",
            Some(&cookie),
            Some(&form),
        )
    };
    let units = |site: &Site| {
        site.rt
            .block_on(site.store.call(|s| {
                s.unit_records("2026-12-01".parse().unwrap(), "2026-12-31".parse().unwrap())
            }))
            .unwrap()
            .into_iter()
            .filter(|u| u.unit.service.0 == "003" && u.counts())
            .count()
    };
    let bad = post(&visit("сорок", "30"));
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.body.contains("«работа с получателем»: минуты"),
        "{}",
        bad.body
    );
    assert_eq!(units(&site), 0, "nothing saved");
    let mut future = visit("35", "30");
    future[3].1 = "2027-01-05".into();
    assert_eq!(post(&future).status, StatusCode::UNPROCESSABLE_ENTITY);
    let ok = post(&visit("35", "75"));
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    assert_eq!(units(&site), 1);
    let page = site.send(Method::GET, "/visits?month=2026-12", Some(&cookie), None);
    assert!(page.body.contains(name.as_str()) && page.body.contains("акт обследования"));
    assert!(page.body.contains("Больше нормы времени: 1") && page.body.contains("больше нормы 60"));
    // In the month's journal, at home, with the recipient's name.
    let month = site.send(Method::GET, "/journal?month=2026-12", Some(&cookie), None);
    assert!(month.body.contains("на дому") && month.body.contains("Патронаж"));
    // In the act: the service and its date.
    let act = site.send(
        Method::GET,
        &format!("/acts/{who}?month=2026-12"),
        Some(&cookie),
        None,
    );
    assert!(
        act.body.contains("Патронаж") && act.body.contains("09.12"),
        "{}",
        act.body
    );
    assert!(act.body.contains("data-service=\"003\">1<"));
    // The kiosks are not offered it.
    let catalogue = site.documents().catalogue;
    let svc = catalogue
        .get(&otmetka_core::catalogue::ServiceCode("003".into()))
        .unwrap();
    assert!(svc.home_visit);
}
