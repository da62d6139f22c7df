//! `GET /timetable`: the week's timetable of a site, to approve, post and tell recipients about
//! at least 3 days ahead (002 l.3191–3193): day by day, time, service, group, room and specialist,
//! from the site's timetable file as the kiosks get it (holidays left out). A printable page.

use super::AppState;
use super::auth::Staff;
use super::layout::{PageError, Section, date_label, page, weekday_label};
use axum::extract::{Query, State};
use chrono::{Datelike, Duration, NaiveDate};
use maud::{Markup, html};
use serde::Deserialize;

#[derive(Debug, Deserialize, Default)]
pub struct WeekQuery {
    #[serde(default)]
    site: Option<String>,
    /// Any day of the week to show ("2026-12-07"); this week by default.
    #[serde(default)]
    week: Option<String>,
}

/// The Monday of `d`'s week.
pub fn monday_of(d: NaiveDate) -> NaiveDate {
    d - Duration::days(i64::from(d.weekday().num_days_from_monday()))
}

pub async fn show(
    State(app): State<AppState>,
    staff: Staff,
    Query(q): Query<WeekQuery>,
) -> Result<Markup, PageError> {
    let site = app.site_or_404(q.site.as_deref())?;
    let day = match q.week.as_deref().filter(|w| !w.is_empty()) {
        Some(w) => w.parse::<NaiveDate>().map_err(|_| {
            PageError::bad_request("Неделя указана неверно: нужна дата вида 2026-12-07.")
        })?,
        None => site.date(app.now()),
    };
    let monday = monday_of(day);
    let sunday = monday + Duration::days(6);
    let file = app
        .docs
        .schedules
        .iter()
        .find(|s| s.site.as_str() == site.id);
    let groups = app
        .roster(&site.id)
        .map(|r| r.groups.clone())
        .unwrap_or_default();
    let mut entries: Vec<_> = file
        .map(|f| f.file.expand(monday).entries)
        .unwrap_or_default()
        .into_iter()
        .filter(|e| e.date >= monday && e.date <= sunday)
        .collect();
    entries.sort_by_key(|e| (e.date, e.start));
    let week = |d: NaiveDate| format!("/timetable?site={}&week={d}", site.id);
    let body = html! {
        p.noprint {
            a href=(week(monday - Duration::days(7))) { "← предыдущая неделя" } " · "
            a href=(week(monday + Duration::days(7))) { "следующая неделя →" }
            " · Напечатайте страницу (Ctrl+P), чтобы вывесить расписание."
        }
        h1 { "Расписание занятий с " (date_label(monday)) " по " (date_label(sunday)) }
        p { "Отделение: " strong { (site.id) } "." }
        @if file.is_none() {
            p.error { "Расписание для отделения не задано (schedule_file в настройках журнала)." }
        } @else if entries.is_empty() {
            p { "На этой неделе занятий по расписанию нет." }
        } @else {
            table {
                thead { tr { th { "День" } th { "Время" } th { "Занятие" } th { "Группа" } th { "Место" } th { "Специалист" } } }
                tbody {
                    @for e in &entries {
                        tr {
                            td.name { (weekday_label(e.date)) ", " (date_label(e.date)) }
                            td { (e.start.format("%H:%M")) }
                            td { (app.service_title(&e.service.0)) }
                            td { @if let Some(g) = e.group.and_then(|g| groups.iter().find(|x| x.id == g)) { (g.name) } }
                            td { (e.room) }
                            td { @if let Some(i) = e.instructor { (app.instructor_name(&site.id, &i.to_string())) } }
                        }
                    }
                }
            }
            div.sign { div { "Утверждаю: заведующий отделением (подпись, расшифровка, дата)" } div { "Вывешено (дата)" } }
        }
    };
    Ok(page("Расписание", Section::Timetable, Some(&staff.0), body))
}
