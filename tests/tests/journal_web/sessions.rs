//! A session's page tells staff how it was held and closed, as the kiosk reported it (the rules
//! issue, points 6, 11 and 14): opened as the service's event (002 l.1199 «проведение
//! культурно-массового мероприятия - до 120 минут»), past its time norm (l.1199 «кружковая
//! работа – до 60 мин.»), and the reason the instructor named for a group below its minimum
//! (l.1197 «группа не менее 5 человек»).

use super::Site;
use axum::http::{Method, StatusCode};
use chrono::NaiveDate;
use otmetka_core::event::CloseReason;
use otmetka_tests::institution::{LateSession, late_session_as};

#[test]
fn the_session_page_says_event_over_norm_and_close_reason() {
    let site = Site::new();
    let who: Vec<_> = site.inst.recipients[..2].iter().map(|(r, _)| *r).collect();
    let (cookie, _) = site.sign_in("head");
    let page = |date: u32, how: LateSession| {
        let day = NaiveDate::from_ymd_opt(2026, 12, date).unwrap();
        let session = late_session_as(&site.inst, day, &who, &how).unwrap();
        let units = site.units_of(&session.to_string());
        assert_eq!(units.len(), 2, "{how:?}");
        let a = site.send(
            Method::GET,
            &format!("/journal/sessions/{session}"),
            Some(&cookie),
            None,
        );
        assert_eq!(a.status, StatusCode::OK, "{how:?}");
        a.body
    };
    // A club session of 100 minutes: 40 over «до 60 мин.», two of a group of at least five.
    let club = page(
        7,
        LateSession {
            service: "002-1.7.1".into(),
            minutes: 100,
            event: false,
            reason: Some(CloseReason::SmallGroup),
            ..LateSession::default()
        },
    );
    assert!(club.contains("Дольше нормы времени на 40 мин."), "{club}");
    assert!(
        club.contains(
            "Причина, названная при закрытии: пришло меньше минимума группы, занятие проведено."
        ),
        "{club}"
    );
    assert!(!club.contains("Проведено как мероприятие"));
    // The same 100 minutes as a mass event: within its 120, and the page says what it was.
    let event = page(
        8,
        LateSession {
            service: "002-1.7.1".into(),
            minutes: 100,
            event: true,
            reason: Some(CloseReason::InstructorDecision),
            ..LateSession::default()
        },
    );
    assert!(
        event
            .contains("Проведено как мероприятие: <strong>Культурно-массовое мероприятие</strong>"),
        "{event}"
    );
    assert!(event.contains("до 120 мин."));
    assert!(!event.contains("Дольше нормы времени"), "{event}");
    assert!(event.contains("решение инструктора"));
}
