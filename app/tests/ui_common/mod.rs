//! Sample views of every screen and every decision kind, for the UI tests.
#![allow(dead_code)]

use chrono::NaiveDate;
use otmetka_app::texts::{Lang, Texts};
use otmetka_app::ui::*;
use otmetka_core::decision::{Decision, DecisionKind};
use otmetka_core::people::RecipientId;

pub const SIZES: [(u32, u32); 2] = [(800, 480), (1280, 800)];

pub fn rid(n: u128) -> RecipientId {
    RecipientId(uuid::Uuid::from_u128(n))
}

/// One decision of each kind, in `DecisionKind::ALL` order.
pub fn decisions() -> Vec<Decision> {
    Decision::one_of_each(rid(1))
}

pub fn tap(kind: DecisionKind, texts: &Texts) -> TapView {
    let d = decisions()
        .into_iter()
        .find(|d| d.kind() == kind)
        .expect("a decision per kind");
    tap_view(&d, Some("Мария Ивановна"), texts)
}

fn person(id: &str, name: &str, detail: &str) -> PersonLine {
    PersonLine {
        id: id.into(),
        name: name.into(),
        detail: detail.into(),
    }
}

/// Every screen (the tap result once, with an accepted tap), with plausible data.
pub fn screens(texts: &Texts) -> Vec<ScreenView> {
    let today = NaiveDate::from_ymd_opt(2026, 11, 23).expect("date");
    let choice = |service: &str, group: &str, title: &str, detail: &str| SessionChoice {
        service: service.into(),
        group: group.into(),
        title: title.into(),
        detail: detail.into(),
        // As config/services.toml says: 000 begins with the safety briefing (000 l.56).
        needs_safety_briefing: service == "000",
        as_event: false,
    };
    vec![
        ScreenView::Idle(IdleView {
            time: "10:42".into(),
            date: format_date(today, texts),
            session: Some(SessionLine {
                title: "Клуб общения «Собеседник»".into(),
                count: count_text(12, Some(25), texts),
            }),
            notice: String::new(),
        }),
        ScreenView::TapResult(tap(DecisionKind::Accepted, texts)),
        ScreenView::SignIn(SignInView {
            message: String::new(),
            error: texts.get("signin.wrong_pin"),
        }),
        ScreenView::StartSession(StartSessionView {
            instructor: "Ольга Сергеевна".into(),
            schedule: vec![
                choice(
                    "001",
                    "g1",
                    "10:00 Клуб «Собеседник»",
                    "Клуб общения, до 25 человек",
                ),
                choice(
                    "000",
                    "g2",
                    "11:00 Мастерская",
                    "Трудовые навыки, 10–25 человек",
                ),
            ],
            services: vec![
                choice(
                    "002-1.7.1",
                    "",
                    "Кружковая работа",
                    "от 5 человек, до 60 мин",
                ),
                // 002 §1.7.1 may be held as a mass event, up to 120 min (002 l.1199).
                SessionChoice {
                    as_event: true,
                    ..choice(
                        "002-1.7.1",
                        "",
                        "Мероприятие: Кружковая работа",
                        "культурно-массовое мероприятие, от 5 человек, до 120 мин",
                    )
                },
                choice("002-5.1", "", "Трудовые навыки", "до 40 мин"),
                choice("002-7.4", "", "Компьютерная грамотность", "5–8 человек"),
            ],
            error: String::new(),
        }),
        ScreenView::InSession(InSessionView {
            title: "Клуб «Собеседник»".into(),
            count: 3,
            max: Some(25),
            instructor: "Ольга Сергеевна".into(),
            present: vec![
                person("c3", "Пётр Петрович", "10:07"),
                person("c2", "Мария Ивановна", "10:03"),
                person("c1", "Анна Павловна", "10:01, вручную: забыл карту"),
            ],
            absent: vec![
                person("r4", "Иван Степанович", ""),
                person("r5", "Галина Фёдоровна", ""),
                person("r6", "Нина Васильевна", ""),
            ],
            message: String::new(),
        }),
        ScreenView::EndSession(EndSessionView {
            title: "Клуб «Собеседник»".into(),
            summary: texts.format(
                "end.summary",
                &[("start", "10:00"), ("end", "10:55"), ("count", "3")],
            ),
            counted: 3,
            notes: vec![
                (person("r1", "Пётр Петрович", ""), ParticipantNote::None),
                (
                    person("r2", "Мария Ивановна", ""),
                    ParticipantNote::LeftEarly,
                ),
                (person("r3", "Анна Павловна", ""), ParticipantNote::None),
            ],
            units: 3,
            // The club's minimum is 4: the close asks for a reason.
            below_min: Some((3, 4)),
        }),
        ScreenView::CheckOut(CheckOutView {
            name: Some("Мария Ивановна".into()),
        }),
        ScreenView::Enrol(EnrolView {
            name: "Иван Степанович".into(),
            message: String::new(),
        }),
        ScreenView::ConfirmDate(ConfirmDateView { date: today }),
        ScreenView::Diagnostics(DiagnosticsView {
            lines: vec![
                DiagnosticLine {
                    label: "Считыватель".into(),
                    value: "MFRC522, версия 0x92".into(),
                    ok: true,
                },
                DiagnosticLine {
                    label: "Питание".into(),
                    value: "напряжение падало ниже нормы: проверьте блок питания".into(),
                    ok: false,
                },
                DiagnosticLine {
                    label: "Карта памяти".into(),
                    value: "свободно 21,4 ГБ из 29,1 ГБ".into(),
                    ok: true,
                },
                DiagnosticLine {
                    label: "Сеть".into(),
                    value: "нет связи с брокером 2 мин".into(),
                    ok: false,
                },
                DiagnosticLine {
                    label: "Очередь в журнал".into(),
                    value: "14 сообщений".into(),
                    ok: false,
                },
                DiagnosticLine {
                    label: "Часы".into(),
                    value: "NTP, сверены".into(),
                    ok: true,
                },
                DiagnosticLine {
                    label: "Получатели".into(),
                    value: "от 30.11.2026 15:03".into(),
                    ok: true,
                },
            ],
            version: "0.1.0".into(),
        }),
        ScreenView::ConfirmGroupCap(ConfirmGroupCapView {
            message: "У группы «Клуб «Рукодельница»» уже 1 из 1 за месяц. Начать ещё одно \
                      занятие? Журнал отметит превышение."
                .into(),
        }),
    ]
}

pub fn ru() -> Texts {
    Texts::bundled(Lang::Ru)
}
