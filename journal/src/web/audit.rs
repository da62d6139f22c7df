//! `GET /audit`: the audit log (152-ФЗ: who viewed or changed whose records), for
//! administrators, newest first.

use super::AppState;
use super::auth::Staff;
use super::layout::{PageError, Section, page};
use crate::store::people::SitePeople;
use axum::extract::{Query, State};
use maud::{Markup, html};
use std::sync::Arc;

/// How many lines the page shows.
pub const LINES: u32 = 500;

/// The Russian words for an action.
pub fn action_label(action: &str) -> &str {
    match action {
        "sign_in" => "вход",
        "sign_in_failed" => "неудачный вход",
        "sign_in_refused" => "вход запрещён (много попыток)",
        "sign_out" => "выход",
        "view_act" => "просмотр акта",
        "add_checkin" => "добавлена отметка",
        "remove_unit" => "убрана отметка",
        "sign_off_month" => "месяц подписан",
        "reopen_month" => "месяц открыт снова",
        "add_user" => "добавлен пользователь",
        "disable_user" => "пользователь отключён",
        "request_card" => "запрошена карта на киоске",
        "match_tap" => "неопознанная карта сопоставлена",
        "add_recipient" => "добавлен получатель",
        "edit_recipient" => "изменены данные получателя",
        "add_instructor" => "добавлен специалист",
        "edit_instructor" => "изменены данные специалиста",
        "add_card" => "выдана карта",
        "card_state" => "изменено состояние карты",
        "anonymise" => "данные обезличены",
        "import_people" => "загружен список из файла",
        "plan_session" => "занятие добавлено в расписание",
        "unplan_session" => "занятие убрано из расписания",
        "day_off" => "день без занятий",
        "import_plan" => "загружено расписание из файла",
        "view_person" => "просмотр карточки получателя",
        "add_feedback" => "запись в книге отзывов",
        "answer_feedback" => "ответ на отзыв",
        "record_visit" => "записан патронаж",
        "revoke_kiosk" => "киоск отозван",
        "change_password" => "пароль изменён",
        "export_units" => "выгрузка услуг",
        "download_export" => "выгрузка скачана",
        "export_egisso" => "выгрузка в ЕГИССО",
        "backup_database" => "резервная копия базы",
        "restore_database" => "база восстановлена из копии",
        "add_api_client" => "выдан ключ API",
        "revoke_api_client" => "ключ API отозван",
        "api_read" => "обращение другой системы (API)",
        other => other,
    }
}

/// `?api=1`: other systems' API reads instead of everything else.
#[derive(Debug, Default, serde::Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    api: Option<String>,
}

pub async fn show(
    State(app): State<AppState>,
    staff: Staff,
    Query(q): Query<AuditQuery>,
) -> Result<Markup, PageError> {
    let api = q.api.as_deref().is_some_and(|v| !v.is_empty() && v != "0");
    let log = app.store.call(move |s| s.audit_log_of(api, LINES)).await?;
    let mut people = Vec::new();
    for s in app.sites.iter() {
        people.push(app.people(&s.id).await?);
    }
    let site = app.site(None).cloned();
    let body = html! {
        h1 { "Журнал доступа" }
        p {
            @if api {
                a href="/audit" { "Действия сотрудников" } " · " strong { "Обращения других систем (API)" }
            } @else {
                strong { "Действия сотрудников" } " · " a href="/audit?api=1" { "Обращения других систем (API)" }
            }
        }
        p { @if api { "Какая программа что читала через API (ключи — на странице «Доступ других систем»)." }
            @else { "Кто и когда входил, смотрел и менял записи." }
            " Последние " (LINES) " записей." }
        table {
            thead { tr { th { "Когда" } th { "Кто" } th { "Действие" } th { "Чья запись" } th { "Подробности" } } }
            tbody {
                @for e in &log {
                    tr {
                        td { @match &site { Some(s) => { (super::layout::date_label(s.date(e.at))) " " (s.hm(e.at)) }, None => { (e.at) } } }
                        td { (e.login) }
                        td { (action_label(&e.action)) }
                        td { (subject(&people, &e.subject)) }
                        td { (e.detail) }
                    }
                }
            }
        }
    };
    Ok(page("Журнал доступа", Section::Audit, Some(&staff.0), body))
}

/// Whose record a line is about: a recipient's name where the subject is one of theirs.
fn subject(people: &[Arc<SitePeople>], subject: &str) -> String {
    match subject.parse().map(otmetka_core::people::RecipientId) {
        Ok(id) => people
            .iter()
            .find(|p| p.recipient(id).is_some())
            .map_or_else(|| subject.to_string(), |p| p.recipient_name(id)),
        Err(_) => subject.to_string(),
    }
}
