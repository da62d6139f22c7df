//! The page shell every page shares, the style sheet, the error page, and small pieces pages
//! share (Russian month names, the form token field).
//!
//! The pages are for a tired specialist at the end of a day and for a head printing a month:
//! large type (18 px body, 16 px tables), dark text on white, problems in a red box at the top
//! of the page, no colour that carries meaning alone (each mark has a word), no script. On paper
//! the navigation and the forms are left out.

use crate::store::StoreError;
use crate::store::staff::WebSession;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{Datelike, NaiveDate};
use maud::{DOCTYPE, Markup, html};

/// Said when a form is refused for its token.
pub const STALE_FORM: &str =
    "Форма устарела или открыта не с этой страницы. Откройте страницу заново и повторите.";
/// Said when a page is not for the signed-in role.
pub const NOT_YOUR_ROLE: &str = "Эта страница недоступна для вашей роли.";

/// The style sheet (`GET /style.css`).
pub const CSS: &str = r#"
:root { --ink: #111; --muted: #444; --line: #999; --bad: #a40000; --bad-bg: #fde8e8;
        --ok: #0b5d1e; --ok-bg: #e6f4ea; --note-bg: #fff6d6; --accent: #0b4f9c; }
* { box-sizing: border-box; }
body { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 18px; line-height: 1.45;
       color: var(--ink); background: #fff; margin: 0; }
header.top { background: #0b3d73; color: #fff; padding: 10px 24px; display: flex;
             align-items: center; gap: 16px; flex-wrap: wrap; }
header.top .brand { font-weight: bold; font-size: 20px; }
header.top nav a { color: #fff; margin-right: 14px; text-decoration: none; font-size: 18px; }
header.top nav a.here { text-decoration: underline; font-weight: bold; }
header.top .who { margin-left: auto; font-size: 16px; }
header.top .who a { color: #fff; }
header.top form { display: inline; }
header.top button { font-size: 16px; padding: 4px 12px; }
main { padding: 16px 24px 48px; max-width: 1320px; }
h1 { font-size: 28px; margin: 8px 0 12px; }
h2 { font-size: 22px; margin: 24px 0 8px; }
a { color: var(--accent); }
table { border-collapse: collapse; width: 100%; font-size: 16px; }
th, td { border: 1px solid var(--line); padding: 6px 8px; text-align: left; vertical-align: top; }
th { background: #eef1f5; }
td.num, th.num { text-align: right; }
td.num, td.name { white-space: nowrap; }
details summary { cursor: pointer; color: var(--accent); }
tr.problem td { background: var(--bad-bg); }
tr.removed td { color: var(--muted); text-decoration: line-through; }
tr.left td { color: var(--muted); background: #f4f4f4; }
.problems { border: 3px solid var(--bad); background: var(--bad-bg); padding: 10px 16px; margin: 12px 0; }
.problems h2 { margin-top: 0; color: var(--bad); }
.allgood { border: 2px solid var(--ok); background: var(--ok-bg); padding: 10px 16px; margin: 12px 0; }
.note { background: var(--note-bg); border: 1px solid #c9a400; padding: 8px 12px; margin: 12px 0; }
.mark { display: inline-block; border: 1px solid var(--bad); color: var(--bad); padding: 0 6px;
        margin: 1px 4px 1px 0; font-size: 14px; border-radius: 3px; background: #fff; }
.mark.info { border-color: var(--muted); color: var(--muted); }
.error { color: var(--bad); font-weight: bold; }
.field-error input, .field-error textarea, .field-error select { border: 3px solid var(--bad); }
input, select, textarea { scroll-margin-top: 5em; }
.field-message { display: block; color: var(--bad); font-weight: bold; font-size: 16px; margin-top: 2px; }
form.inline { display: inline; }
label { display: block; font-weight: bold; margin-top: 10px; }
input, select, textarea, button { font-size: 18px; padding: 6px 8px; font-family: inherit; }
textarea { width: 100%; max-width: 640px; min-height: 64px; }
button { cursor: pointer; }
button.primary { background: #0b4f9c; color: #fff; border: 0; padding: 8px 18px; }
a.button { display: inline-block; background: #0b4f9c; color: #fff; padding: 8px 18px;
           text-decoration: none; font-weight: bold; }
button.danger { background: #fff; color: var(--bad); border: 2px solid var(--bad); }
.filters { display: flex; gap: 16px; align-items: end; flex-wrap: wrap; margin: 8px 0 16px; }
.filters label { margin: 0; }
.filters select { max-width: 20em; }
.signin { max-width: 460px; margin: 48px auto; border: 1px solid var(--line); padding: 24px 32px; }
.signin input { width: 100%; }
.sign { margin-top: 48px; display: grid; grid-template-columns: 1fr 1fr; gap: 48px; }
.sign div { border-top: 1px solid var(--ink); padding-top: 4px; font-size: 15px; }
.muted { color: var(--muted); }
.short { color: var(--bad); font-weight: bold; font-size: 15px; }
@page { size: A4; margin: 15mm; }
@media print {
  header.top, form, .noprint { display: none !important; }
  main { padding: 0; max-width: none; }
  body { font-size: 12pt; }
  table { font-size: 11pt; }
  tr.problem td { background: none; }
  a { color: inherit; text-decoration: none; }
}
"#;

/// Which part of the navigation a page is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Journal,
    Timetable,
    Acts,
    Quality,
    People,
    Visits,
    Violations,
    Exports,
    Fleet,
    Users,
    Audit,
    None,
}

/// A whole page: the top bar (what the role may open, who is signed in, sign-out) and `body`.
pub fn page(title: &str, section: Section, staff: Option<&WebSession>, body: Markup) -> Markup {
    page_refreshed(title, section, staff, body, None)
}

/// A page that the browser loads again every `refresh` seconds (an export in progress): a
/// `<meta http-equiv="refresh">`, no script.
pub fn page_refreshed(
    title: &str,
    section: Section,
    staff: Option<&WebSession>,
    body: Markup,
    refresh: Option<u32>,
) -> Markup {
    let nav: &[(Section, &str, &str)] = &[
        (Section::Journal, "/journal", "Журнал"),
        (Section::Timetable, "/timetable", "Расписание"),
        (Section::Acts, "/acts", "Акты"),
        (Section::Quality, "/quality", "Качество"),
        (Section::People, "/people", "Получатели"),
        (Section::Visits, "/visits", "Патронаж"),
        (Section::Violations, "/violations", "Нарушения"),
        (Section::Exports, "/exports", "Выгрузка"),
        (Section::Fleet, "/fleet", "Киоски"),
        (Section::Users, "/users", "Пользователи"),
        (Section::Audit, "/audit", "Журнал доступа"),
    ];
    html! {
        (DOCTYPE)
        html lang="ru" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                @if let Some(seconds) = refresh {
                    meta http-equiv="refresh" content=(seconds);
                }
                title { (title) " — Отметка" }
                link rel="stylesheet" href="/style.css";
            }
            body {
                header.top {
                    span.brand { "Отметка" }
                    @if let Some(s) = staff {
                        nav {
                            @for (sec, href, label) in nav {
                                @if super::access::may_open(s.user.role, href) {
                                    a class=[(section == *sec).then_some("here")] href=(href) { (label) }
                                }
                            }
                        }
                        span.who {
                            a href="/account" { (s.user.name) } " · " (s.user.role.label()) " "
                            form method="post" action="/signout" {
                                (csrf_field(s))
                                button type="submit" { "Выйти" }
                            }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// The answer to a form that worked (or was turned away without its fields to show again): a
/// redirect to `path` with a notice the page shows (`saved`, `error`, `done`, …), so a reload
/// does not post the form again.
pub fn notice(path: &str, key: &str, message: &str) -> axum::response::Response {
    use axum::response::IntoResponse;
    let sep = if path.contains('?') { '&' } else { '?' };
    axum::response::Redirect::to(&format!(
        "{path}{sep}{key}={}",
        super::auth::urlencode(message)
    ))
    .into_response()
}

/// The hidden form-token field every form of a signed-in page carries.
pub fn csrf_field(s: &WebSession) -> Markup {
    html! { input type="hidden" name="csrf" value=(s.csrf); }
}

/// The month picker of the journal's and the acts' filters: Russian month names (a browser's
/// own `type=month` speaks its own language), two years back and two months ahead of `current`.
pub fn month_select(selected: NaiveDate, current: NaiveDate) -> Markup {
    let mut months: Vec<NaiveDate> = (-2..=24)
        .filter_map(|back: i32| {
            if back < 0 {
                current.checked_add_months(chrono::Months::new(back.unsigned_abs()))
            } else {
                current.checked_sub_months(chrono::Months::new(back.unsigned_abs()))
            }
        })
        .collect();
    if !months.contains(&selected) {
        months.push(selected);
        months.sort_by(|a, b| b.cmp(a));
    }
    html! {
        label for="month" { "Месяц" }
        select id="month" name="month" {
            @for m in months {
                option value=(format!("{:04}-{:02}", m.year(), m.month())) selected[m == selected] { (month_label(m)) }
            }
        }
    }
}

/// Russian month names, nominative ("декабрь 2026").
pub fn month_label(month: NaiveDate) -> String {
    const NAMES: [&str; 12] = [
        "январь",
        "февраль",
        "март",
        "апрель",
        "май",
        "июнь",
        "июль",
        "август",
        "сентябрь",
        "октябрь",
        "ноябрь",
        "декабрь",
    ];
    format!("{} {}", NAMES[month.month0() as usize], month.year())
}

/// A date as "02.12.2026".
pub fn date_label(d: NaiveDate) -> String {
    d.format("%d.%m.%Y").to_string()
}

/// Weekday abbreviations, Monday first.
pub fn weekday_label(d: NaiveDate) -> &'static str {
    ["пн", "вт", "ср", "чт", "пт", "сб", "вс"][d.weekday().num_days_from_monday() as usize]
}

/// A page that cannot be shown: a Russian page for the person, the English reason in the log.
#[derive(Debug)]
pub struct PageError {
    pub status: StatusCode,
    pub message: String,
}

impl PageError {
    pub fn internal(log: &str) -> PageError {
        tracing::error!("page failed: {log}");
        PageError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: "Страница не открылась из-за ошибки сервера. Попробуйте ещё раз; \
                      если повторится, сообщите администратору."
                .into(),
        }
    }

    pub fn forbidden(message: &str) -> PageError {
        PageError {
            status: StatusCode::FORBIDDEN,
            message: message.into(),
        }
    }

    pub fn unauthorised() -> PageError {
        PageError {
            status: StatusCode::UNAUTHORIZED,
            message: "Вы не вошли или время входа истекло. Войдите заново.".into(),
        }
    }

    pub fn bad_request(message: &str) -> PageError {
        PageError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    pub fn not_found(message: &str) -> PageError {
        PageError {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
        }
    }
}

impl From<StoreError> for PageError {
    fn from(e: StoreError) -> PageError {
        match e {
            StoreError::MonthSignedOff { month, .. } => PageError {
                status: StatusCode::CONFLICT,
                message: format!(
                    "Месяц {} подписан заведующим: изменить его нельзя, пока заведующий не \
                     откроет его снова.",
                    month_label(month)
                ),
            },
            StoreError::NotFound(what) => {
                tracing::info!("page: not found: {what}");
                PageError::not_found("Такой записи нет.")
            }
            // The store words a conflict for staff (an instructor already another's).
            StoreError::Conflict(message) => PageError {
                status: StatusCode::CONFLICT,
                message,
            },
            other => PageError::internal(&other.to_string()),
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let title = match self.status {
            StatusCode::FORBIDDEN => "Нет доступа",
            StatusCode::UNAUTHORIZED => "Нужно войти",
            StatusCode::NOT_FOUND => "Не найдено",
            StatusCode::CONFLICT => "Изменение невозможно",
            s if s.is_client_error() => "Запрос не принят",
            _ => "Ошибка",
        };
        let body = html! {
            h1 { (title) }
            p.error { (self.message) }
            p { a href="/journal" { "К журналу" } " · " a href="/signin" { "Вход" } }
        };
        (self.status, page(title, Section::None, None, body)).into_response()
    }
}

/// A form field's problem, shown at the field.
#[derive(Debug, Default, Clone)]
pub struct FormErrors {
    pub field: Option<String>,
    pub message: Option<String>,
}

impl FormErrors {
    pub fn at(field: &str, message: &str) -> FormErrors {
        FormErrors {
            field: Some(field.to_string()),
            message: Some(message.to_string()),
        }
    }

    /// The message under the field it is about (nothing for other fields), so the field is
    /// found with its reason even far down a long form.
    pub fn at_field(&self, field: &str) -> Markup {
        html! {
            @if self.field.as_deref() == Some(field) {
                @if let Some(m) = &self.message { span.field-message role="alert" { (m) } }
            }
        }
    }

    pub fn class(&self, field: &str) -> Option<&'static str> {
        (self.field.as_deref() == Some(field)).then_some("field-error")
    }
}
