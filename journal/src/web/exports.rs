//! Exports of a period's units for a specialist's spreadsheet or another system (`export`):
//!
//! - `GET /exports`: the form (period, site, format; a month's journal links here with its
//!   month filled in) and the user's own exports of the last day, with their progress;
//! - `POST /exports`: starts one in the background (`export::jobs`) and goes to its page;
//! - `GET /exports/{id}`: its progress (rows written of the total; the page reloads itself every
//!   two seconds while it runs, no script) and, when done, the download link;
//! - `GET /exports/{id}/file`: the file, with its type and a Russian file name.
//!
//! An export holds every recipient's attendance with names: only the roles of
//! `access::EXPORT`, only the user who asked sees it (another's id is "not found", as an id that
//! never was), each one asked for and each download is in the audit log, and the file is kept a
//! day.

use super::auth::Staff;
use super::layout::{FormErrors, PageError, Section, csrf_field, date_label, page_refreshed};
use super::{AppState, SiteView};
use crate::export::jobs::{Job, Refused, Status};
use crate::export::{Format, Request};
use crate::store::staff::{Actor, month_of};
use axum::Form;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use maud::{Markup, html};
use serde::Deserialize;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// The longest period one export from the pages takes (a year, a leap one included).
pub const MAX_DAYS: i64 = 366;
/// How often a running export's page reloads itself.
const REFRESH_SECONDS: u32 = 2;

/// The form, as posted or as the journal's link fills it in (`?from=…&to=…&site=…`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ExportForm {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    site: String,
    #[serde(default)]
    format: String,
}

impl ExportForm {
    /// The export asked for, or the field that is wrong and why.
    fn request(&self, app: &AppState) -> Result<Request, FormErrors> {
        let date = |field: &str, v: &str| {
            v.trim().parse::<NaiveDate>().map_err(|_| {
                FormErrors::at(
                    field,
                    "Укажите дату, например 01.11.2026 (в календаре поля).",
                )
            })
        };
        let from = date("from", &self.from)?;
        let to = date("to", &self.to)?;
        if to < from {
            return Err(FormErrors::at(
                "to",
                "Конец периода раньше его начала: поменяйте даты местами.",
            ));
        }
        if (to - from).num_days() >= MAX_DAYS {
            return Err(FormErrors::at(
                "to",
                "Период длиннее года: выгрузите его по частям (например, по годам).",
            ));
        }
        let site = app
            .site(Some(self.site.as_str()).filter(|s| !s.is_empty()))
            .ok_or_else(|| FormErrors::at("site", "Такого отделения нет: выберите из списка."))?;
        let format = self
            .format
            .parse::<Format>()
            .map_err(|_| FormErrors::at("format", "Выберите формат: Excel или CSV."))?;
        Ok(Request {
            from,
            to,
            site: Some(site.id.clone()),
            format,
        })
    }
}

/// The period as the pages say it: «01.11.2026 — 30.11.2026».
fn period(req: &Request) -> String {
    format!("{} — {}", date_label(req.from), date_label(req.to))
}

/// The file's name as the browser saves it: «Услуги demo 01.11.2026–30.11.2026.xlsx».
fn file_name(req: &Request) -> String {
    format!(
        "Услуги {} {}–{}.{}",
        req.site.as_deref().unwrap_or("все отделения"),
        date_label(req.from),
        date_label(req.to),
        req.format.extension()
    )
}

/// The name old clients that do not read `filename*` save it as: ASCII only.
fn ascii_file_name(req: &Request) -> String {
    let site: String = req
        .site
        .as_deref()
        .unwrap_or("all")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "otmetka-units-{site}-{}-{}.{}",
        req.from,
        req.to,
        req.format.extension()
    )
}

/// `Content-Disposition` for `name`: `ascii` in `filename` for old clients and the UTF-8 name
/// in `filename*` (RFC 6266, RFC 8187), which every current browser takes.
pub fn content_disposition(name: &str, ascii: &str) -> String {
    let mut encoded = String::new();
    for b in name.bytes() {
        // RFC 8187 attr-char: ALPHA / DIGIT / "!#$&+-.^_`|~".
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// Rows done of the total, and the percentage, as the page shows them.
fn progress(job: &Job) -> (u64, u64, u64) {
    let (done, total) = (
        job.done.load(Ordering::Relaxed),
        job.total.load(Ordering::Relaxed),
    );
    let percent = (done.min(total) * 100).checked_div(total).unwrap_or(0);
    (done, total, percent)
}

fn status_cell(job: &Job) -> Markup {
    html! {
        @match job.status() {
            Status::Running => {
                @let (done, total, percent) = progress(job);
                progress max="100" value=(percent) { (percent) " %" }
                " Готово строк: " (thousands(done)) " из " (thousands(total)) " (" (percent) " %)"
            }
            Status::Done(s) => {
                a href={ "/exports/" (job.id) "/file" } { "Скачать" } " "
                span.muted { "строк: " (thousands(s.rows))
                    @if !s.sheets.is_empty() { ", листов: " (s.sheets.len()) } }
            }
            Status::Failed(_) => {
                span.error { "Не получилось. Попробуйте ещё раз; если повторится, сообщите администратору." }
            }
        }
    }
}

/// 1234567 as «1 234 567».
pub(super) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push('\u{a0}');
        }
        out.push(c);
    }
    out
}

fn the_form(app: &AppState, staff: &Staff, f: &ExportForm, errors: &FormErrors) -> Markup {
    let site = app.site(Some(f.site.as_str()).filter(|s| !s.is_empty()));
    html! {
        form method="post" action="/exports" {
            (csrf_field(&staff.0))
            div.filters {
                div class=[errors.class("from")] {
                    label for="from" { "С" }
                    input id="from" type="date" name="from" value=(f.from) required;
                    (errors.at_field("from"))
                }
                div class=[errors.class("to")] {
                    label for="to" { "По (включительно)" }
                    input id="to" type="date" name="to" value=(f.to) required;
                    (errors.at_field("to"))
                }
                @if app.sites.len() > 1 {
                    div class=[errors.class("site")] {
                        label for="site" { "Отделение" }
                        select id="site" name="site" {
                            @for s in app.sites.iter() {
                                option value=(s.id) selected[site.is_some_and(|x| x.id == s.id)] { (s.id) }
                            }
                        }
                        (errors.at_field("site"))
                    }
                } @else if let Some(s) = app.sites.first() {
                    input type="hidden" name="site" value=(s.id);
                }
                div class=[errors.class("format")] {
                    label for="format" { "Формат" }
                    select id="format" name="format" {
                        @for format in [Format::Xlsx, Format::Csv] {
                            option value=(format.extension()) selected[f.format == format.extension()] { (format.label()) }
                        }
                    }
                    (errors.at_field("format"))
                }
                div { button.primary type="submit" { "Выгрузить" } }
            }
        }
    }
}

async fn exports_page(
    app: &AppState,
    staff: &Staff,
    f: &ExportForm,
    errors: &FormErrors,
    notice: Option<&str>,
) -> Markup {
    app.exports.sweep(app.now());
    let mine = app.exports.of(staff.0.user.id);
    let running = mine.iter().any(|j| j.is_running());
    let site = |req: &Request| req.site.clone().unwrap_or_default();
    let body = html! {
        h1 { "Выгрузка услуг" }
        p { "Все услуги (единицы) за период — по строке на каждую: дата, услуга, получатель, специалист, время, отметки. "
            "Excel: по листу на каждый месяц; CSV открывается в Excel (разделитель «;»)." }
        div.note { "В файле персональные данные получателей. Храните его только там, где это разрешено; "
            "выгрузка записывается в журнал доступа, а на сервере файл удаляется через сутки." }
        @if let Some(n) = notice { p.error role="alert" { (n) } }
        (the_form(app, staff, f, errors))
        p { a href="/exports/egisso" { "Выгрузка в ЕГИССО" } " — сведения за месяц для региональной информационной системы (XML)." }
        h2 { "Ваши выгрузки за сутки" }
        @if mine.is_empty() {
            p.muted { "Выгрузок пока нет." }
        } @else {
            table {
                thead { tr { th { "Заказана" } th { "Период" } th { "Отделение" } th { "Формат" } th { "Состояние" } } }
                tbody {
                    @for j in &mine {
                        tr {
                            @let at = app.site(j.request.site.as_deref()).map_or_else(
                                || format!("{} {} UTC", date_label(j.asked_at.date_naive()), j.asked_at.format("%H:%M")),
                                |s| format!("{} {}", date_label(s.date(j.asked_at)), s.hm(j.asked_at)),
                            );
                            td { a href={ "/exports/" (j.id) } { (at) } }
                            td { (period(&j.request)) }
                            td { (site(&j.request)) }
                            td { (j.request.format.extension().to_uppercase()) }
                            td { (status_cell(j)) }
                        }
                    }
                }
            }
        }
    };
    page_refreshed(
        "Выгрузка",
        Section::Exports,
        Some(&staff.0),
        body,
        running.then_some(REFRESH_SECONDS),
    )
}

/// The form filled in: the month of the journal's link, else the last whole month.
fn prefilled(app: &AppState, q: ExportForm) -> ExportForm {
    if !q.from.is_empty() || !q.to.is_empty() {
        return ExportForm {
            format: if q.format.is_empty() {
                "xlsx".into()
            } else {
                q.format
            },
            ..q
        };
    }
    let site: Option<&SiteView> = app.site(Some(q.site.as_str()).filter(|s| !s.is_empty()));
    let today = site.map_or(app.now().date_naive(), |s| s.date(app.now()));
    let this_month = month_of(today);
    let last = this_month
        .checked_sub_months(chrono::Months::new(1))
        .unwrap_or(this_month);
    ExportForm {
        from: last.to_string(),
        to: this_month.pred_opt().unwrap_or(last).to_string(),
        site: q.site,
        format: "xlsx".into(),
    }
}

/// `GET /exports`.
pub async fn list(
    State(app): State<AppState>,
    staff: Staff,
    Query(q): Query<ExportForm>,
) -> Markup {
    let f = prefilled(&app, q);
    exports_page(&app, &staff, &f, &FormErrors::default(), None).await
}

/// `POST /exports`: starts the export, audited, and goes to its page.
pub async fn start(
    State(app): State<AppState>,
    staff: Staff,
    Form(f): Form<ExportForm>,
) -> Result<Response, PageError> {
    let req = match f.request(&app) {
        Ok(r) => r,
        Err(e) => {
            let page = exports_page(&app, &staff, &f, &e, None).await;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
    };
    let now = app.now();
    let job = match app.exports.start(
        staff.0.user.id,
        req.clone(),
        now,
        Arc::clone(&app.config),
        Arc::clone(&app.docs),
    ) {
        Ok(job) => job,
        Err(refused) => {
            let why = match refused {
                Refused::OwnRunning => {
                    "Ваша предыдущая выгрузка ещё идёт: дождитесь её окончания и повторите."
                }
                Refused::Busy => "Сейчас идут другие выгрузки. Повторите через минуту.",
                Refused::NoDirectory => {
                    "Выгрузку негде сохранить на сервере. Сообщите администратору."
                }
            };
            let page = exports_page(&app, &staff, &f, &FormErrors::default(), Some(why)).await;
            return Ok((StatusCode::CONFLICT, page).into_response());
        }
    };
    let actor = Actor::of(&staff.0.user);
    let subject = format!("site {}", req.site.as_deref().unwrap_or("all"));
    let detail = format!(
        "units {}..{}, {}, export {}",
        req.from,
        req.to,
        req.format.extension(),
        job.id
    );
    app.store
        .call(move |s| s.audit(&actor, "export_units", &subject, &detail, now))
        .await?;
    Ok(Redirect::to(&format!("/exports/{}", job.id)).into_response())
}

/// The user's export `id`, or the page that says there is none (the same for another user's).
fn own_job(app: &AppState, staff: &Staff, id: &str) -> Result<Arc<Job>, PageError> {
    id.parse::<uuid::Uuid>()
        .ok()
        .and_then(|id| app.exports.get(staff.0.user.id, id))
        .ok_or_else(|| {
            PageError::not_found(
                "Такой выгрузки нет. Выгрузка видна только тому, кто её заказал, и хранится \
                 сутки; закажите её заново на странице «Выгрузка».",
            )
        })
}

/// `GET /exports/{id}`: progress, then the download link.
pub async fn show(
    State(app): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<Markup, PageError> {
    let job = own_job(&app, &staff, &id)?;
    let (body, refresh) = job_body(&job);
    Ok(page_refreshed(
        "Выгрузка",
        Section::Exports,
        Some(&staff.0),
        body,
        refresh,
    ))
}

/// An export's page body, and how often it reloads (while it runs).
fn job_body(job: &Job) -> (Markup, Option<u32>) {
    let status = job.status();
    let (done, total, percent) = progress(job);
    let req = &job.request;
    let body = html! {
        h1 { "Выгрузка услуг: " (period(req)) }
        p { "Отделение: " strong { (req.site.as_deref().unwrap_or("все")) } ". Формат: " strong { (req.format.label()) } "." }
        @match &status {
            Status::Running => {
                div.note role="status" {
                    p { strong { "Выгрузка идёт." } " Страница обновляется сама." }
                    p { progress max="100" value=(percent) style="width: 100%; max-width: 480px; height: 24px;" { (percent) " %" } }
                    p { "Готово строк: " strong { (thousands(done)) } " из " strong { (thousands(total)) } " (" (percent) " %)." }
                }
            }
            Status::Done(s) => {
                div.allgood role="status" {
                    p { strong { "Выгрузка готова." } " Строк: " (thousands(s.rows))
                        @if !s.sheets.is_empty() { ", листов: " (s.sheets.len()) " (" (s.sheets.join(", ")) ")" } "." }
                    p { a href={ "/exports/" (job.id) "/file" } { "Скачать «" (file_name(req)) "»" } }
                    p.muted { "Файл хранится на сервере сутки." }
                }
            }
            Status::Failed(_) => {
                div.problems role="alert" {
                    p { strong { "Выгрузка не получилась." } " Попробуйте ещё раз; если повторится, сообщите администратору (причина записана в журнал сервера)." }
                }
            }
        }
        p { a href="/exports" { "← Все выгрузки" } }
    };
    (body, (status == Status::Running).then_some(REFRESH_SECONDS))
}

/// `GET /exports/{id}/file`: the finished file, audited.
pub async fn download(
    State(app): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let job = own_job(&app, &staff, &id)?;
    let Status::Done(summary) = job.status() else {
        return Err(PageError::not_found(
            "Выгрузка ещё не готова: дождитесь её окончания на её странице.",
        ));
    };
    let file = tokio::fs::File::open(job.file())
        .await
        .map_err(|e| PageError::internal(&format!("export {}: {e}", job.file().display())))?;
    let length = file
        .metadata()
        .await
        .map_err(|e| PageError::internal(&format!("export {}: {e}", job.file().display())))?
        .len();
    let (actor, now) = (Actor::of(&staff.0.user), app.now());
    let req = &job.request;
    let subject = format!("site {}", req.site.as_deref().unwrap_or("all"));
    let detail = format!(
        "units {}..{}, {}, {} rows, export {}",
        req.from,
        req.to,
        req.format.extension(),
        summary.rows,
        job.id
    );
    app.store
        .call(move |s| s.audit(&actor, "download_export", &subject, &detail, now))
        .await?;
    Ok((
        [
            (header::CONTENT_TYPE, req.format.content_type().to_string()),
            (
                header::CONTENT_DISPOSITION,
                content_disposition(&file_name(req), &ascii_file_name(req)),
            ),
            (header::CONTENT_LENGTH, length.to_string()),
        ],
        Body::from_stream(tokio_util::io::ReaderStream::new(file)),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_running_export_shows_rows_done_of_the_total_and_reloads_until_done() {
        let job = Job::new(
            uuid::Uuid::new_v4(),
            1,
            Request {
                from: NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
                to: NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
                site: Some("demo".into()),
                format: Format::Xlsx,
            },
            "2026-12-11T14:00:00Z".parse().unwrap(),
            "/nonexistent/x.xlsx".into(),
        );
        job.total.store(12_345, Ordering::Relaxed);
        job.done.store(1_000, Ordering::Relaxed);
        let (body, refresh) = job_body(&job);
        let text = body.into_string();
        assert_eq!(refresh, Some(REFRESH_SECONDS));
        assert!(text.contains("Выгрузка идёт."), "{text}");
        assert!(
            text.contains(
                "Готово строк: <strong>1\u{a0}000</strong> из <strong>12\u{a0}345</strong> (8 %)."
            ),
            "{text}"
        );
        job.set(Status::Done(crate::export::Summary {
            rows: 12_345,
            sheets: vec!["2026-11".into()],
        }));
        let (body, refresh) = job_body(&job);
        let text = body.into_string();
        assert_eq!(refresh, None);
        assert!(text.contains("Выгрузка готова."), "{text}");
        assert!(
            text.contains(&format!("/exports/{}/file", job.id)),
            "{text}"
        );
    }

    #[test]
    fn the_file_name_is_ascii_for_old_clients_and_utf8_for_the_rest() {
        let req = Request {
            from: NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
            to: NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
            site: Some("demo".into()),
            format: Format::Xlsx,
        };
        assert_eq!(file_name(&req), "Услуги demo 01.11.2026–30.11.2026.xlsx");
        let cd = content_disposition(&file_name(&req), &ascii_file_name(&req));
        assert!(
            cd.starts_with(
                "attachment; filename=\"otmetka-units-demo-2026-11-01-2026-11-30.xlsx\"; "
            ),
            "{cd}"
        );
        assert!(
            cd.ends_with("filename*=UTF-8''%D0%A3%D1%81%D0%BB%D1%83%D0%B3%D0%B8%20demo%2001.11.2026%E2%80%9330.11.2026.xlsx"),
            "{cd}"
        );
        assert_eq!(thousands(1_234_567), "1\u{a0}234\u{a0}567");
        assert_eq!(thousands(999), "999");
    }
}
