//! The feedback book on the quality page: an entry staff write down, a complaint without an
//! answer at the top until what was done is recorded.

use super::Site;
use axum::http::{Method, StatusCode};

#[test]
fn a_complaint_stays_at_the_top_of_the_quality_page_until_what_was_done_is_written() {
    let site = Site::new();
    let (cookie, csrf) = site.sign_in("specialist");
    let (who, name) = site.inst.recipients[4].clone();
    let book = |site: &Site| {
        site.rt
            .block_on(site.store.call(|s| {
                s.feedback(
                    otmetka_tests::institution::SITE,
                    "2026-12-01".parse().unwrap(),
                    "2026-12-31".parse().unwrap(),
                )
            }))
            .unwrap()
    };
    let post = |path: &str, fields: &[(&str, &str)]| {
        let mut form = format!("csrf={csrf}");
        for (k, v) in fields {
            form.push_str(&format!("&{k}={}", super::enc(v)));
        }
        site.send(Method::POST, path, Some(&cookie), Some(&form))
    };
    let who_s = who.to_string();
    let complaint = [
        ("received_on", "2026-12-10"),
        ("kind", "complaint"),
        ("author", "дочь получателя"),
        ("recipient", who_s.as_str()),
        ("service", "001"),
        (
            "text",
            "В зале было холодно, занятие начали на 20 минут позже.",
        ),
    ];
    for (left_out, message) in [
        ("author", "Укажите, от кого отзыв"),
        ("text", "Запишите отзыв"),
        ("received_on", "Укажите дату отзыва"),
    ] {
        let fields: Vec<_> = complaint
            .iter()
            .copied()
            .filter(|(k, _)| *k != left_out)
            .collect();
        let a = post("/quality/feedback", &fields);
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{left_out}");
        assert!(a.body.contains(message), "{left_out}");
        assert!(book(&site).is_empty(), "{left_out}: nothing saved");
    }
    let a = post("/quality/feedback", &complaint);
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let page = site.send(Method::GET, "/quality?month=2026-12", Some(&cookie), None);
    assert!(page.body.contains("Жалоб без ответа: 1"), "{}", page.body);
    assert!(page.body.contains("холодно") && page.body.contains(name.as_str()));
    let id = book(&site)[0].id;
    let answer = format!("/quality/feedback/{id}/answer?month=2026-12");
    let short = post(&answer, &[("answer", "да")]);
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    let done = post(
        &answer,
        &[(
            "answer",
            "Отопление в зале проверено; извинились перед семьёй.",
        )],
    );
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    let page = site.send(Method::GET, "/quality?month=2026-12", Some(&cookie), None);
    assert!(!page.body.contains("Жалоб без ответа"));
    assert!(page.body.contains("Отопление в зале проверено"));
    let again = post(&answer, &[("answer", "ещё раз")]);
    assert_eq!(again.status, StatusCode::NOT_FOUND, "answered once");
    let e = &book(&site)[0];
    assert_eq!(
        e.answer.as_ref().map(|a| a.reason.as_str()),
        Some("Отопление в зале проверено; извинились перед семьёй.")
    );
}
