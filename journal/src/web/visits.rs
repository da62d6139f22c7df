//! Patronage visits (seed 003: home visits to families and children), which no kiosk can see:
//!
//! - `GET /visits`: the month's visits, each with its three parts against their norms —
//!   preparation and travel up to 60 min, work with the client up to 40 min, completion up to
//!   10 min (003 l.21, 29, 31) — and the document it ended with (l.30, 41);
//! - `POST /visits`: a visit staff enter. It becomes a session of the journal with one unit for
//!   the recipient (service 003), so it is in the month's journal and in the monthly act with
//!   the services from the kiosks. A part over its norm is recorded and marked, not refused.

use super::auth::Staff;
use super::journal::{MonthQuery, month_and_site, next_month};
use super::layout::{
    FormErrors, PageError, Section, csrf_field, date_label, month_label, month_select, page,
};
use super::{AppState, SiteView};
use crate::store::staff::{
    Actor, VISIT_NORMS, Visit, VisitDocument, VisitKind, VisitRecord, month_of,
};
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{Datelike, NaiveDate, NaiveTime};
use maud::{Markup, html};
use otmetka_core::people::RecipientId;
use serde::Deserialize;

/// The parts of a visit, as the pages name them.
const PARTS: [&str; 3] = ["подготовка и путь", "работа с получателем", "завершение"];

/// The visit form as posted.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct VisitForm {
    #[serde(default)]
    recipient: String,
    #[serde(default)]
    instructor: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    date: String,
    #[serde(default)]
    start: String,
    #[serde(default)]
    prep: String,
    #[serde(default)]
    work: String,
    #[serde(default)]
    completion: String,
    #[serde(default)]
    document: String,
    #[serde(default)]
    note: String,
}

impl VisitForm {
    /// The visit the form describes, or the first thing wrong with it.
    fn visit(
        &self,
        site: &SiteView,
        people: &crate::store::people::SitePeople,
        today: NaiveDate,
    ) -> Result<Visit, FormErrors> {
        let recipient = self
            .recipient
            .trim()
            .parse()
            .ok()
            .map(RecipientId)
            .filter(|id| people.current().any(|p| p.id == *id))
            .ok_or_else(|| FormErrors::at("recipient", "Выберите получателя."))?;
        let instructor = people
            .instructors
            .iter()
            .find(|i| i.id.to_string() == self.instructor.trim())
            .ok_or_else(|| {
                FormErrors::at("instructor", "Выберите специалиста, который выходил.")
            })?;
        let kind = VisitKind::parse(&self.kind)
            .ok_or_else(|| FormErrors::at("kind", "Выберите: первичный или плановый."))?;
        let date: NaiveDate = self
            .date
            .trim()
            .parse()
            .ok()
            .filter(|d| *d <= today)
            .ok_or_else(|| {
                FormErrors::at("date", "Укажите дату патронажа (не позже сегодняшней).")
            })?;
        let start = NaiveTime::parse_from_str(self.start.trim(), "%H:%M").map_err(|_| {
            FormErrors::at(
                "start",
                "Укажите, когда началась работа с получателем, например 11:00.",
            )
        })?;
        let mut minutes = [0u32; 3];
        for (i, (field, value)) in [
            ("prep", &self.prep),
            ("work", &self.work),
            ("completion", &self.completion),
        ]
        .into_iter()
        .enumerate()
        {
            minutes[i] = value
                .trim()
                .parse()
                .ok()
                .filter(|m| (if i == 1 { 1..=600 } else { 0..=600 }).contains(m))
                .ok_or_else(|| {
                    FormErrors::at(
                        field,
                        &format!("«{}»: минуты, от {} до 600.", PARTS[i], u32::from(i == 1)),
                    )
                })?;
        }
        let document = VisitDocument::parse(&self.document).ok_or_else(|| {
            FormErrors::at("document", "Выберите, каким документом оформлен патронаж.")
        })?;
        let note: String = self.note.trim().chars().take(2000).collect();
        let started_at = date
            .and_time(start)
            .and_local_timezone(site.offset)
            .single()
            .map(|t| t.to_utc())
            .ok_or_else(|| FormErrors::at("start", "Такого времени в этот день нет."))?;
        Ok(Visit {
            site: site.id.clone(),
            recipient,
            instructor: instructor.id.to_string(),
            kind,
            date,
            started_at,
            minutes,
            document,
            note,
        })
    }
}

/// `GET /visits`.
pub async fn list(
    State(app): State<AppState>,
    staff: Staff,
    Query(q): Query<MonthQuery>,
) -> Result<Markup, PageError> {
    visits_page(&app, &staff, &q, None, &FormErrors::default()).await
}

fn minutes_cell(v: &Visit, i: usize) -> Markup {
    html! {
        td.num {
            (v.minutes[i])
            @if v.minutes[i] > VISIT_NORMS[i] { br; span.mark { "больше нормы " (VISIT_NORMS[i]) } }
        }
    }
}

async fn visits_page(
    app: &AppState,
    staff: &Staff,
    q: &MonthQuery,
    posted: Option<&VisitForm>,
    errors: &FormErrors,
) -> Result<Markup, PageError> {
    let (month, site) = month_and_site(app, q)?;
    let last = next_month(month).pred_opt().unwrap_or(month);
    let sid = site.id.clone();
    let visits: Vec<VisitRecord> = app.store.call(move |s| s.visits(&sid, month, last)).await?;
    let people = app.people(&site.id).await?;
    let today = site.date(app.now());
    let f = posted.cloned().unwrap_or_default();
    let over = visits
        .iter()
        .filter(|v| v.counts && !v.visit.over_norm().is_empty())
        .count();
    let m = format!("{:04}-{:02}", month.year(), month.month());
    let body = html! {
        h1 { "Патронаж — " (month_label(month)) }
        form.filters method="get" action="/visits" {
            div { (month_select(month, month_of(today))) }
            input type="hidden" name="site" value=(site.id);
            div { button type="submit" { "Показать" } }
        }
        p { "Выходы к получателям на дом. Каждый патронаж — услуга в журнале и в акте получателя. "
            "Нормы: подготовка и путь до 60 минут, работа с получателем до 40 минут, завершение до 10 минут." }
        @if over > 0 {
            div.problems role="alert" { h2 { "Больше нормы времени: " (over) } p { "Отмечены в таблице." } }
        }
        @if visits.is_empty() { p { "За этот месяц патронажей нет." } } @else {
            table {
                thead { tr {
                    th { "Дата" } th { "Получатель" } th { "Специалист" } th { "Патронаж" }
                    th.num { "Подготовка и путь, мин" } th.num { "Работа, мин" } th.num { "Завершение, мин" }
                    th { "Документ" } th { "В журнале" }
                } }
                tbody {
                    @for r in &visits {
                        @let v = &r.visit;
                        tr class=[(!r.counts).then_some("removed")] {
                            td.name { (date_label(v.date)) " " (site.hm(v.started_at)) }
                            td { (people.recipient_name(v.recipient)) }
                            td { (people.instructor_name(&v.instructor)) }
                            td { (v.kind.label()) }
                            (minutes_cell(v, 0)) (minutes_cell(v, 1)) (minutes_cell(v, 2))
                            td { (v.document.label()) @if !v.note.is_empty() { br; span.muted { (v.note) } } }
                            td { a href={ "/journal/sessions/" (r.session) } { @if r.counts { "открыть" } @else { "убран" } } }
                        }
                    }
                }
            }
        }
        @if staff.may_edit() {
            div.noprint {
                h2 { "Записать патронаж" }
                @if let Some(msg) = &errors.message { p.error role="alert" { (msg) } }
                form method="post" action={ "/visits?site=" (site.id) "&month=" (m) } {
                    (csrf_field(&staff.0))
                    div.filters {
                        div class=[errors.class("recipient")] {
                            label for="recipient" { "Получатель" }
                            select #recipient name="recipient" {
                                option value="" { "— выберите —" }
                                @for p in people.current() { option value=(p.id) selected[f.recipient == p.id.to_string()] { (p.full_name) } }
                            }
                            (errors.at_field("recipient"))
                        }
                        div class=[errors.class("instructor")] {
                            label for="instructor" { "Специалист" }
                            select #instructor name="instructor" {
                                option value="" { "— выберите —" }
                                @for i in people.instructors.iter().filter(|i| i.active) { option value=(i.id) selected[f.instructor == i.id.to_string()] { (i.display_name) } }
                            }
                            (errors.at_field("instructor"))
                        }
                        div class=[errors.class("kind")] {
                            label for="kind" { "Патронаж" }
                            select #kind name="kind" {
                                @for k in [VisitKind::Primary, VisitKind::Repeat] { option value=(k.as_str()) selected[f.kind == k.as_str()] { (k.label()) } }
                            }
                        }
                        div class=[errors.class("date")] {
                            label for="date" { "Дата" }
                            input #date type="date" name="date" value=(if f.date.is_empty() { today.to_string() } else { f.date.clone() }); (errors.at_field("date"))
                        }
                        div class=[errors.class("start")] {
                            label for="start" { "Начало работы" }
                            input #start type="time" name="start" value=(f.start); (errors.at_field("start"))
                        }
                    }
                    div.filters {
                        @for (i, (name, value)) in [("prep", &f.prep), ("work", &f.work), ("completion", &f.completion)].into_iter().enumerate() {
                            div class=[errors.class(name)] {
                                label for=(name) { (PARTS[i]) ", мин (норма до " (VISIT_NORMS[i]) ")" }
                                input id=(name) name=(name) size="5" inputmode="numeric" value=(value); (errors.at_field(name))
                            }
                        }
                        div class=[errors.class("document")] {
                            label for="document" { "Документ" }
                            select #document name="document" {
                                @for d in VisitDocument::ALL { option value=(d.as_str()) selected[f.document == d.as_str()] { (d.label()) } }
                            }
                        }
                    }
                    div { label for="note" { "Примечание" } textarea #note name="note" { (f.note) } }
                    p { button.primary type="submit" { "Записать патронаж" } }
                }
            }
        }
    };
    Ok(page("Патронаж", Section::Visits, Some(&staff.0), body))
}

/// `POST /visits`.
pub async fn record(
    State(app): State<AppState>,
    staff: Staff,
    Query(q): Query<MonthQuery>,
    Form(f): Form<VisitForm>,
) -> Result<Response, PageError> {
    let (_, site) = month_and_site(&app, &q)?;
    let people = app.people(&site.id).await?;
    let visit = match f.visit(&site, &people, site.date(app.now())) {
        Ok(v) => v,
        Err(e) => {
            let page = visits_page(&app, &staff, &q, Some(&f), &e).await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
    };
    let month = month_of(visit.date);
    let (actor, now) = (Actor::of(&staff.0.user), app.now());
    app.store
        .call(move |s| s.record_visit(&actor, &visit, now))
        .await?;
    Ok(Redirect::to(&format!(
        "/visits?site={}&month={:04}-{:02}",
        site.id,
        month.year(),
        month.month()
    ))
    .into_response())
}
