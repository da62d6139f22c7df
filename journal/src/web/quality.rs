//! `GET /quality`: the quality indicator the standards measure by (002 l.1223: satisfaction of
//! recipients with the services): per service and month, the answers recipients gave at the
//! kiosk at check-out, and the share satisfied, in %. Below it, the month's feedback book
//! (книга отзывов и предложений): thanks, suggestions and complaints staff write down, with
//! what was done about each; a complaint without an answer is a problem at the top.
//!
//! - `POST /quality/feedback`: an entry;
//! - `POST /quality/feedback/{id}/answer`: what was done about it.

use super::AppState;
use super::auth::Staff;
use super::journal::{MonthQuery, month_and_site, next_month};
use super::layout::{
    FormErrors, PageError, Section, csrf_field, date_label, month_label, month_select, page,
};
use crate::store::staff::{Actor, FeedbackKind, NewFeedback, month_of};
use axum::Form;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{Datelike, NaiveDate};
use maud::{Markup, html};
use otmetka_core::event::Satisfaction;
use otmetka_core::people::RecipientId;
use serde::Deserialize;
use std::collections::BTreeMap;

/// One service's answers in a month.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Answers {
    pub good: usize,
    pub neutral: usize,
    pub bad: usize,
}

impl Answers {
    pub fn total(&self) -> usize {
        self.good + self.neutral + self.bad
    }

    /// The share satisfied, in whole per cent (rounded half up), where anyone answered.
    pub fn satisfied_percent(&self) -> Option<usize> {
        let t = self.total();
        (t > 0).then(|| (self.good * 200 + t) / (2 * t))
    }
}

/// Counts answers by service.
pub fn by_service(answers: &[(String, Satisfaction)]) -> BTreeMap<String, Answers> {
    let mut out: BTreeMap<String, Answers> = BTreeMap::new();
    for (service, a) in answers {
        let e = out.entry(service.clone()).or_default();
        match a {
            Satisfaction::Good => e.good += 1,
            Satisfaction::Neutral => e.neutral += 1,
            Satisfaction::Bad => e.bad += 1,
        }
    }
    out
}

pub async fn show(
    State(app): State<AppState>,
    staff: Staff,
    axum::extract::Query(q): axum::extract::Query<MonthQuery>,
) -> Result<Markup, PageError> {
    quality_page(&app, &staff, &q, None, &FormErrors::default()).await
}

async fn quality_page(
    app: &AppState,
    staff: &Staff,
    q: &MonthQuery,
    posted: Option<&FeedbackForm>,
    errors: &FormErrors,
) -> Result<Markup, PageError> {
    let (month, site) = month_and_site(app, q)?;
    let last = next_month(month).pred_opt().unwrap_or(month);
    let sid = site.id.clone();
    let book = app
        .store
        .call(move |s| s.feedback(&sid, month, last))
        .await?;
    let people = app.people(&site.id).await?;
    let open_complaints = book
        .iter()
        .filter(|f| f.entry.kind == FeedbackKind::Complaint && f.answer.is_none())
        .count();
    let f = posted.cloned().unwrap_or_default();
    let m = format!("{:04}-{:02}", month.year(), month.month());
    let today = site.date(app.now());
    let (from, to) = (site.start_of(month), site.start_of(next_month(month)));
    let id = site.id.clone();
    let answers = app
        .store
        .call(move |s| s.satisfaction(&id, from, to))
        .await?;
    let rows = by_service(&answers);
    let all = by_service(
        &answers
            .iter()
            .map(|(_, a)| (String::new(), *a))
            .collect::<Vec<_>>(),
    )
    .remove("")
    .unwrap_or_default();
    let body = html! {
        h1 { "Удовлетворённость получателей — " (month_label(month)) }
        @if open_complaints > 0 {
            div.problems role="alert" {
                h2 { "Жалоб без ответа: " (open_complaints) }
                p { a href="#book" { "Книга отзывов и предложений" } ": запишите, что сделано по каждой." }
            }
        }
        form.filters method="get" action="/quality" {
            div { (month_select(month, month_of(site.date(app.now())))) }
            input type="hidden" name="site" value=(site.id);
            div { button type="submit" { "Показать" } }
        }
        p { "Ответы на вопрос киоска при уходе с занятия («Как прошло занятие?»). "
            "Показатель качества — доля удовлетворённых." }
        @if rows.is_empty() {
            p { "За этот месяц ответов нет." }
        } @else {
            p { "Всего ответов: " strong { (all.total()) } ", удовлетворены: " strong { (all.satisfied_percent().unwrap_or(0)) " %" } "." }
            table {
                thead { tr {
                    th { "Услуга" } th.num { "Ответов" } th.num { "Хорошо" } th.num { "Нормально" }
                    th.num { "Плохо" } th.num { "Удовлетворены, %" }
                } }
                tbody {
                    @for (service, a) in &rows {
                        tr {
                            td { (app.service_title(service)) }
                            td.num { (a.total()) }
                            td.num { (a.good) }
                            td.num { (a.neutral) }
                            td.num { (a.bad) }
                            td.num data-service=(service) { (a.satisfied_percent().unwrap_or(0)) }
                        }
                    }
                }
            }
        }
        h2 #book { "Книга отзывов и предложений" }
        @if book.is_empty() { p { "За этот месяц записей нет." } } @else {
            table {
                thead { tr { th { "Дата" } th { "Что" } th { "От кого" } th { "Услуга" } th { "Отзыв" } th { "Что сделано" } } }
                tbody {
                    @for e in &book {
                        tr class=[(e.entry.kind == FeedbackKind::Complaint && e.answer.is_none()).then_some("problem")] {
                            td.name { (date_label(e.entry.received_on)) }
                            td { (e.entry.kind.label()) }
                            td { (e.entry.author) @if let Some(r) = e.entry.recipient { br; span.muted { (people.recipient_name(r)) } } }
                            td { @if let Some(s) = &e.entry.service { (app.service_title(s)) } }
                            td { (e.entry.text) br; span.muted { "записал(а) " (e.entered_by) } }
                            td {
                                @match &e.answer {
                                    Some(a) => { (a.reason) br; span.muted { (a.by) ", " (date_label(site.date(a.at))) } }
                                    None if staff.may_edit() => {
                                        form method="post" action={ "/quality/feedback/" (e.id) "/answer?site=" (site.id) "&month=" (m) } {
                                            (csrf_field(&staff.0))
                                            textarea name="answer" aria-label="Что сделано" required {}
                                            button type="submit" { "Записать" }
                                        }
                                    }
                                    None => { span.mark { "нет ответа" } }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if staff.may_edit() {
            div.noprint {
                h2 { "Записать отзыв" }
                @if let Some(msg) = &errors.message { p.error role="alert" { (msg) } }
                form method="post" action={ "/quality/feedback?site=" (site.id) "&month=" (m) } {
                    (csrf_field(&staff.0))
                    div.filters {
                        div class=[errors.class("received_on")] {
                            label for="received_on" { "Дата" }
                            input #received_on type="date" name="received_on" value=(if f.received_on.is_empty() { today.to_string() } else { f.received_on.clone() }); (errors.at_field("received_on"))
                        }
                        div class=[errors.class("kind")] {
                            label for="kind" { "Что это" }
                            select #kind name="kind" {
                                @for k in FeedbackKind::ALL { option value=(k.as_str()) selected[f.kind == k.as_str()] { (k.label()) } }
                            }
                        }
                        div class=[errors.class("author")] {
                            label for="author" { "От кого" }
                            input #author name="author" size="28" placeholder="получатель, дочь получателя…" value=(f.author); (errors.at_field("author"))
                        }
                        div {
                            label for="fb_recipient" { "Получатель (если о нём)" }
                            select #fb_recipient name="recipient" {
                                option value="" { "—" }
                                @for r in people.current() { option value=(r.id) selected[f.recipient == r.id.to_string()] { (r.full_name) } }
                            }
                        }
                        div {
                            label for="fb_service" { "Услуга" }
                            select #fb_service name="service" {
                                option value="" { "—" }
                                @for s in &app.docs.catalogue.services { option value=(s.code.0) selected[f.service == s.code.0] { (s.title_ru) } }
                            }
                        }
                    }
                    div class=[errors.class("text")] {
                        label for="text" { "Отзыв (как сказано)" }
                        textarea #text name="text" { (f.text) } (errors.at_field("text"))
                    }
                    p { button.primary type="submit" { "Записать в книгу" } }
                }
            }
        }
    };
    Ok(page("Качество", Section::Quality, Some(&staff.0), body))
}

/// The feedback form as posted.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct FeedbackForm {
    #[serde(default)]
    received_on: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    author: String,
    #[serde(default)]
    recipient: String,
    #[serde(default)]
    service: String,
    #[serde(default)]
    text: String,
}

/// `POST /quality/feedback`.
pub async fn add_feedback(
    State(app): State<AppState>,
    staff: Staff,
    axum::extract::Query(q): axum::extract::Query<MonthQuery>,
    Form(f): Form<FeedbackForm>,
) -> Result<Response, PageError> {
    let (_, site) = month_and_site(&app, &q)?;
    let people = app.people(&site.id).await?;
    let today = site.date(app.now());
    let checked = (|| {
        let received_on: NaiveDate = f
            .received_on
            .trim()
            .parse()
            .ok()
            .filter(|d| *d <= today)
            .ok_or_else(|| {
                FormErrors::at("received_on", "Укажите дату отзыва (не позже сегодняшней).")
            })?;
        let kind = FeedbackKind::parse(&f.kind)
            .ok_or_else(|| FormErrors::at("kind", "Выберите, что это."))?;
        let author = f.author.trim();
        if author.is_empty() || author.chars().count() > 200 {
            return Err(FormErrors::at(
                "author",
                "Укажите, от кого отзыв (до 200 знаков).",
            ));
        }
        let text = f.text.trim();
        if text.chars().count() < 3 || text.chars().count() > 4000 {
            return Err(FormErrors::at(
                "text",
                "Запишите отзыв (от 3 до 4000 знаков).",
            ));
        }
        let recipient = match f.recipient.trim() {
            "" => None,
            r => Some(
                r.parse()
                    .ok()
                    .map(RecipientId)
                    .filter(|id| people.recipient(*id).is_some())
                    .ok_or_else(|| FormErrors::at("recipient", "Такого получателя нет."))?,
            ),
        };
        let service = match f.service.trim() {
            "" => None,
            s if app
                .docs
                .catalogue
                .get(&otmetka_core::catalogue::ServiceCode(s.to_string()))
                .is_some() =>
            {
                Some(s.to_string())
            }
            _ => return Err(FormErrors::at("service", "Такой услуги нет.")),
        };
        Ok(NewFeedback {
            site: site.id.clone(),
            received_on,
            kind,
            author: author.to_string(),
            recipient,
            service,
            text: text.to_string(),
        })
    })();
    let entry = match checked {
        Ok(e) => e,
        Err(e) => {
            let page = quality_page(&app, &staff, &q, Some(&f), &e).await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
    };
    let month = month_of(entry.received_on);
    let (actor, now) = (Actor::of(&staff.0.user), app.now());
    app.store
        .call(move |s| s.add_feedback(&actor, &entry, now))
        .await?;
    Ok(Redirect::to(&format!(
        "/quality?site={}&month={:04}-{:02}#book",
        site.id,
        month.year(),
        month.month()
    ))
    .into_response())
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct AnswerForm {
    #[serde(default)]
    answer: String,
}

/// `POST /quality/feedback/{id}/answer`.
pub async fn answer_feedback(
    State(app): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    axum::extract::Query(q): axum::extract::Query<MonthQuery>,
    Form(f): Form<AnswerForm>,
) -> Result<Response, PageError> {
    let (month, site) = month_and_site(&app, &q)?;
    let answer: String = f.answer.trim().chars().take(4000).collect();
    if answer.chars().count() < 3 {
        let e = FormErrors::at("answer", "Запишите, что сделано (от 3 знаков).");
        let page = quality_page(&app, &staff, &q, None, &e).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    }
    let (actor, now, sid) = (Actor::of(&staff.0.user), app.now(), site.id.clone());
    app.store
        .call(move |s| s.answer_feedback(&actor, &sid, id, &answer, now))
        .await?;
    Ok(Redirect::to(&format!(
        "/quality?site={}&month={:04}-{:02}#book",
        site.id,
        month.year(),
        month.month()
    ))
    .into_response())
}

use axum::extract::State;
