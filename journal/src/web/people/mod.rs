//! The people of a site, kept in the journal's database (the roster file is an import):
//!
//! - `GET /people`: the recipients, with what is missing (consent, programme, card) first;
//! - `GET /people/new`, `POST /people/new`: a new recipient;
//! - `GET /people/{recipient}`, `POST /people/{recipient}`: their record — names, birth date
//!   (minors' norms), care group, legal representative, consents with the personal-data
//!   consent's date, groups, the individual programme (ИППСУ) service by service; opening it
//!   is audited (152-ФЗ);
//! - `POST /people/{recipient}/cards`: a card given by its number, as a desk USB reader types it
//!   into the focused field (temporary until a date, or kept by staff);
//! - `POST /people/{recipient}/cards/{card}`: a card lost, blocked, replaced, or active again;
//! - `POST /people/{recipient}/card`: "give a card at a kiosk" — the chosen kiosk waits for the
//!   next card on its reader (the `enrol-card` request, from a button);
//! - `POST /people/{recipient}/anonymise`: the name and details removed after the retention
//!   period, the units kept.
//!
//! Each change raises the site's revision; the feed publishes the roster to the site's kiosks.
//! A form that is wrong comes back with the field marked and a Russian message; nothing of it
//! is saved.

use super::auth::Staff;
use super::layout::{FormErrors, PageError, Section, csrf_field, date_label, notice, page};
use super::{AppState, SiteView};
use crate::store::StoreError;
use crate::store::people::{CARE_GROUPS, CardState, Holder, NewCard, Person, SitePeople};
use crate::store::staff::Actor;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{Datelike, NaiveDate};
use maud::{Markup, html};
use otmetka_core::catalogue::Period;
use otmetka_core::people::{Consent, GroupId, Programme, ProgrammeItem, RecipientId};
use otmetka_core::wire::{EnrolmentRequest, SCHEMA};
use serde::Deserialize;
use std::sync::Arc;

mod cards;
mod form;

pub use cards::{CardNumberForm, CardStateForm, KioskCardForm, add_card, card_state, request_card};
use form::{Posted, person_form, person_from};

/// How long a kiosk waits for the card a page asked for.
pub const ENROL_MINUTES: i64 = 10;

/// How long a person's data is kept after their last unit before it may be anonymised (the
/// journal and acts are kept five years).
pub const RETENTION_YEARS: i32 = 5;

/// `?site=…&request=…&saved=…&q=…`.
#[derive(Debug, Deserialize, Default)]
pub struct PeopleQuery {
    #[serde(default)]
    site: Option<String>,
    #[serde(default)]
    request: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    saved: Option<String>,
    #[serde(default)]
    q: Option<String>,
}

/// The kiosks of a site the journal knows: provisioned (not revoked) or heard from.
async fn site_kiosks(app: &AppState, site: &str) -> Result<Vec<String>, PageError> {
    let (kiosks, statuses) = app.store.call(|s| Ok((s.kiosks()?, s.statuses()?))).await?;
    let mut out: Vec<String> = kiosks
        .into_iter()
        .filter(|k| k.site == site && k.revoked_at.is_none())
        .map(|k| k.kiosk)
        .chain(
            statuses
                .into_iter()
                .filter(|(r, _)| r.site == site)
                .map(|(r, _)| r.kiosk),
        )
        .collect();
    out.sort();
    out.dedup();
    Ok(out)
}

/// What is missing from a person's record on `today` that stops them checking in or being
/// counted, in words for the list.
fn missing(people: &SitePeople, p: &Person, today: NaiveDate) -> Vec<&'static str> {
    let mut out = Vec::new();
    if !p.consent.participation {
        out.push("нет согласия на участие");
    }
    match p.programme_for(today, today) {
        None => out.push("нет программы"),
        Some(pr) if !pr.in_force(today) => out.push("программа не действует"),
        Some(_) => {}
    }
    if !people
        .cards_of(Holder::Recipient(p.id))
        .any(|c| c.status_on(today) == otmetka_core::people::CardStatus::Active)
    {
        out.push("нет карты");
    }
    out
}

/// `GET /people`.
pub async fn list(
    State(app): State<AppState>,
    staff: Staff,
    Query(q): Query<PeopleQuery>,
) -> Result<Markup, PageError> {
    let site = app.site_or_404(q.site.as_deref())?;
    let people = app.people(&site.id).await?;
    let today = site.date(app.now());
    let needle = q.q.as_deref().unwrap_or("").trim().to_lowercase();
    let mut shown: Vec<(&Person, Vec<&str>)> = people
        .current()
        .filter(|p| {
            needle.is_empty()
                || p.display_name.to_lowercase().contains(&needle)
                || p.full_name.to_lowercase().contains(&needle)
        })
        .map(|p| {
            // Nothing is missing for someone who has left: they do not come any more.
            let m = if p.has_left(today) {
                Vec::new()
            } else {
                missing(&people, p, today)
            };
            (p, m)
        })
        .collect();
    // What needs doing first; those who left last.
    shown.sort_by_key(|(p, m)| (p.has_left(today), m.is_empty(), p.full_name.to_lowercase()));
    let gone = shown.iter().filter(|(p, _)| p.has_left(today)).count();
    let incomplete = shown.iter().filter(|(_, m)| !m.is_empty()).count();
    let body = html! {
        h1 { "Получатели услуг — отделение " (site.id) }
        @if let Some(e) = &q.error { p.error role="alert" { (e) } }
        @if let Some(s) = &q.saved { div.allgood role="status" { (s) } }
        p.noprint {
            @if staff.may_edit() { a href={ "/people/new?site=" (site.id) } { strong { "+ Добавить получателя" } } " · " }
            a href={ "/instructors?site=" (site.id) } { "Специалисты и их PIN-коды" }
        }
        form.filters.noprint method="get" action="/people" {
            input type="hidden" name="site" value=(site.id);
            div { label for="q" { "Найти по имени" } input #q type="search" name="q" value=[q.q.as_deref()]; }
            div { button type="submit" { "Найти" } }
        }
        @if incomplete > 0 {
            div.problems role="alert" {
                h2 { "Не хватает данных: " (incomplete) " из " (shown.len()) }
                p { "Эти строки наверху; откройте карточку, чтобы дополнить." }
            }
        }
        p { "Обслуживаются: " strong { (shown.len() - gone) } "."
            @if gone > 0 { " Выбыли: " (gone) " (внизу списка)." } }
        table {
            thead { tr {
                th { "Получатель" } th { "Дата рождения" } th { "Группа ухода" }
                th { "Программа" } th { "Карты" } th { "Чего не хватает" }
            } }
            tbody {
                @for (p, m) in &shown {
                    tr class=[(!m.is_empty()).then_some("problem").or(p.has_left(today).then_some("left"))] {
                        td {
                            a href={ "/people/" (p.id) } { (p.full_name) }
                            @if let (true, Some(d)) = (p.has_left(today), p.left_on) { br; span.mark.info { "выбытие " (date_label(d)) } }
                            @if p.display_name != p.full_name { br; span.muted { "на киоске: " (p.display_name) } }
                        }
                        td.name { @match p.birth_date {
                            Some(b) => { (date_label(b)) @if p.is_minor_on(today) { br; span.mark.info { "несовершеннолетний" } } }
                            None => { span.muted { "—" } }
                        } }
                        td.num { @match p.care_group { Some(g) => { (g) }, None => { span.muted { "—" } } } }
                        td { @match &p.programme {
                            Some(pr) => { "с " (date_label(pr.valid_from)) " по " (date_label(pr.valid_to)) ", услуг: " (pr.items.len()) }
                            None => { "—" }
                        } }
                        td { @for c in people.cards_of(Holder::Recipient(p.id)) {
                            (c.label()) " (" (card_state_label(c, today)) ")" br;
                        } }
                        td {
                            @for w in m { span.mark { (w) } }
                            @if p.data_consent_on.is_none() { span.mark.info { "нет даты согласия на обработку данных" } }
                        }
                    }
                }
            }
        }
    };
    Ok(page("Получатели", Section::People, Some(&staff.0), body))
}

fn card_state_label(c: &crate::store::people::CardRecord, today: NaiveDate) -> String {
    match (c.state, c.valid_until) {
        (CardState::Active, Some(d)) if d < today => {
            format!("временная, истекла {}", date_label(d))
        }
        (CardState::Active, Some(d)) => format!("временная до {}", date_label(d)),
        (s, _) => s.label().to_string(),
    }
}

/// `GET /people/new`.
pub async fn new_form(
    State(app): State<AppState>,
    staff: Staff,
    Query(q): Query<PeopleQuery>,
) -> Result<Markup, PageError> {
    let site = app.site_or_404(q.site.as_deref())?;
    let people = app.people(&site.id).await?;
    let blank = Person::new(&site.id, "", "");
    Ok(new_page(
        &app,
        &staff,
        &site,
        &people,
        &blank,
        None,
        &FormErrors::default(),
    ))
}

fn new_page(
    app: &AppState,
    staff: &Staff,
    site: &SiteView,
    people: &SitePeople,
    p: &Person,
    posted: Option<&Posted>,
    errors: &FormErrors,
) -> Markup {
    let body = html! {
        p.noprint { a href={ "/people?site=" (site.id) } { "← Все получатели" } }
        h1 { "Новый получатель — отделение " (site.id) }
        (person_form(app, staff, people, p, posted, errors, &format!("/people/new?site={}", site.id)))
    };
    page("Новый получатель", Section::People, Some(&staff.0), body)
}

/// `POST /people/new`.
pub async fn create(
    State(app): State<AppState>,
    staff: Staff,
    Query(q): Query<PeopleQuery>,
    Form(posted): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let site = app.site_or_404(q.site.as_deref())?;
    let people = app.people(&site.id).await?;
    let posted = Posted(posted);
    let today = site.date(app.now());
    let person = match person_from(&posted, Person::new(&site.id, "", ""), &app, &people, today) {
        Ok(p) => p,
        Err(e) => {
            let blank = Person::new(&site.id, "", "");
            let page = new_page(&app, &staff, &site, &people, &blank, Some(&posted), &e);
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
    };
    saved(
        &app,
        &staff,
        person,
        "Получатель добавлен. Выдайте ему карту.",
    )
    .await
}

fn recipient_id(id: &str) -> Result<RecipientId, PageError> {
    id.parse()
        .map(RecipientId)
        .map_err(|_| PageError::not_found("Такого получателя нет."))
}

/// The person a path names, with their site and its people.
async fn held(app: &AppState, id: &str) -> Result<(SiteView, Arc<SitePeople>, Person), PageError> {
    let id = recipient_id(id)?;
    let (site, people) = app
        .person(id)
        .await?
        .ok_or_else(|| PageError::not_found("Такого получателя нет."))?;
    let person = people
        .recipient(id)
        .cloned()
        .ok_or_else(|| PageError::not_found("Такого получателя нет."))?;
    Ok((site, people, person))
}

/// `GET /people/{recipient}`.
pub async fn show(
    State(app): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Query(q): Query<PeopleQuery>,
) -> Result<Markup, PageError> {
    let (site, people, person) = held(&app, &id).await?;
    let (actor, now, pid) = (Actor::of(&staff.0.user), app.now(), person.id);
    app.store
        .call(move |s| s.audit(&actor, "view_person", &pid.to_string(), "record", now))
        .await?;
    person_page(
        &app,
        &staff,
        &site,
        &people,
        &person,
        None,
        &FormErrors::default(),
        &q,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn person_page(
    app: &AppState,
    staff: &Staff,
    site: &SiteView,
    people: &SitePeople,
    person: &Person,
    posted: Option<&Posted>,
    errors: &FormErrors,
    q: &PeopleQuery,
) -> Result<Markup, PageError> {
    let today = site.date(app.now());
    let kiosks = site_kiosks(app, &site.id).await?;
    let request = match q
        .request
        .as_deref()
        .and_then(|r| r.parse::<uuid::Uuid>().ok())
    {
        Some(r) => app.store.call(move |s| s.enrolment(r)).await?,
        None => None,
    }
    .filter(|e| e.request.recipient == person.id && e.site == site.id);
    let cards: Vec<_> = people.cards_of(Holder::Recipient(person.id)).collect();
    let gone = person.anonymised_at.is_some();
    let card_error = errors
        .field
        .as_deref()
        .is_some_and(|f| f.starts_with("card"));
    let record_errors = if card_error {
        &FormErrors::default()
    } else {
        errors
    };
    let body = html! {
        p.noprint { a href={ "/people?site=" (site.id) } { "← Все получатели" } " · " a href={ "/acts/" (person.id) "?site=" (site.id) } { "Акт за месяц" } }
        @if gone {
            h1 { (people.recipient_name(person.id)) }
            p.note { "Данные обезличены " (person.anonymised_at.map(|t| date_label(site.date(t))).unwrap_or_default()) ". Услуги остаются в журнале под номером получателя." }
        } @else {
            h1 { (person.full_name) }
            @if let Some(s) = &q.saved { div.allgood role="status" { (s) } }
            @if let Some(e) = &q.error { p.error role="alert" { (e) } }
            @let m = if person.has_left(today) { Vec::new() } else { missing(people, person, today) };
            @if !m.is_empty() { div.problems role="alert" { strong { "Не хватает: " } @for w in &m { span.mark { (w) } } } }
            @if person.data_consent_on.is_none() { p.note { "Не указана дата согласия на обработку персональных данных." } }
            @if person.is_minor_on(today) { p.note { "Несовершеннолетний: для него действуют нормы для детей." } }
            @if let Some(d) = person.left_on {
                p.note { @if person.has_left(today) { "Выбытие: последний день обслуживания — " } @else { "Назначено выбытие: последний день обслуживания — " } (date_label(d))
                    ". После этого дня киоски не принимают карты получателя; записи и услуги остаются." }
            }
            h2 { "Карты" }
            @if let Some(r) = &request {
                @if r.enrolled_at.is_some() {
                    div.allgood role="status" { "Карта выдана на киоске " (r.kiosk) "." }
                } @else {
                    div.note role="status" {
                        "Киоск " strong { (r.kiosk) } " ждёт новую карту для " strong { (r.request.display_name) }
                        " до " (site.hm(r.request.expires_at)) ". Приложите карту к считывателю этого киоска; "
                        "обновите страницу, чтобы увидеть, что карта выдана."
                    }
                }
            }
            @if cards.is_empty() { p { span.mark { "нет карты" } } } @else {
                table {
                    thead { tr { th { "Карта" } th { "Состояние" } th { "Выдана" } th { "Примечание" } @if staff.may_edit() { th.noprint { "Изменить" } } } }
                    tbody {
                        @for c in &cards {
                            tr class=[(c.status_on(today) != otmetka_core::people::CardStatus::Active).then_some("removed")] {
                                td.name { (c.label()) @if c.kept_by_staff { br; span.mark.info { "хранится у специалиста" } } }
                                td { (card_state_label(c, today)) }
                                td { (date_label(site.date(c.issued_at))) ", " (c.issued_by) }
                                td { (c.note) }
                                @if staff.may_edit() {
                                    td.noprint {
                                        form.inline method="post" action={ "/people/" (person.id) "/cards/" (c.id) } {
                                            (csrf_field(&staff.0))
                                            select name="state" aria-label="Новое состояние" {
                                                @for s in CardState::ALL { option value=(s.as_str()) selected[s == c.state] { (s.label()) } }
                                            }
                                            " " input name="note" placeholder="почему" size="14" aria-label="Почему";
                                            " " button type="submit" { "Изменить" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if staff.may_edit() {
                div.noprint {
                    h2 { "Выдать карту" }
                    @if card_error { @if let Some(m) = &errors.message { p.error role="alert" { (m) } } }
                    form method="post" action={ "/people/" (person.id) "/cards" } {
                        (csrf_field(&staff.0))
                        div.filters {
                            div class=[errors.class("card_number")] {
                                label for="card_number" { "Номер карты" }
                                input #card_number name="card_number" size="20" autocomplete="off" autofocus[q.request.is_none() && !card_error || errors.field.as_deref() == Some("card_number")]; (errors.at_field("card_number"))
                            }
                            div class=[errors.class("card_until")] {
                                label for="card_until" { "Временная, до (необязательно)" }
                                input #card_until type="date" name="card_until"; (errors.at_field("card_until"))
                            }
                            div { label { input type="checkbox" name="card_kept" value="1"; " Хранится у специалиста" } }
                            @let active: Vec<_> = cards.iter().filter(|c| c.status_on(today) == otmetka_core::people::CardStatus::Active).collect();
                            @if !active.is_empty() {
                                div class=[errors.class("card_replaces")] {
                                    label for="card_replaces" { "Вместо старой карты" }
                                    select #card_replaces name="card_replaces" {
                                        option value="" { "нет, ещё одна карта" }
                                        @for c in &active {
                                            option value={ (c.id) ":lost" } { "вместо " (c.label()) " — утеряна" }
                                            option value={ (c.id) ":replaced" } { "вместо " (c.label()) " — сломана или заменена" }
                                        }
                                    }
                                    (errors.at_field("card_replaces"))
                                }
                            }
                            div { button.primary type="submit" { "Выдать карту" } }
                        }
                        p.muted { "Приложите карту к настольному считывателю: номер впишется в поле сам. Или введите номер с карты." }
                    }
                    @if !kiosks.is_empty() {
                        form method="post" action={ "/people/" (person.id) "/card" } {
                            (csrf_field(&staff.0))
                            input type="hidden" name="site" value=(site.id);
                            div.filters {
                                div {
                                    label for="kiosk" { "Или на киоске" }
                                    select #kiosk name="kiosk" { @for k in &kiosks { option value=(k) { (k) } } }
                                }
                                div { button type="submit" { "Ждать карту на киоске" } }
                            }
                        }
                    }
                }
            }
            h2 { "Данные получателя" }
            (person_form(app, staff, people, person, posted, record_errors, &format!("/people/{}", person.id)))
            @if !person.past_programmes.is_empty() {
                h2 { "Прежние программы" }
                p.muted { "Акты и выполнение программы за месяцы, когда действовала прежняя программа, считаются по ней." }
                table {
                    thead { tr { th { "Срок по документу" } th { "Услуги" } th { "Заменена" } } }
                    tbody {
                        @for old in &person.past_programmes {
                            tr {
                                td.name { "с " (date_label(old.programme.valid_from)) " по " (date_label(old.programme.valid_to)) }
                                td { @for (k, i) in old.programme.items.iter().enumerate() {
                                    @if k > 0 { "; " }
                                    (app.service_title(&i.service.0)) " — " (crate::plan::count_words(i.count, i.period))
                                } }
                                td { (date_label(site.date(old.replaced_at))) ", " (old.replaced_by) }
                            }
                        }
                    }
                }
            }
            @if staff.0.user.role == crate::store::staff::Role::Admin {
                details.noprint {
                    summary { "Обезличить данные (после срока хранения)" }
                    form method="post" action={ "/people/" (person.id) "/anonymise" } {
                        (csrf_field(&staff.0))
                        p { "Имя, дата рождения, представитель и номера карт будут удалены; услуги останутся в журнале под номером получателя. "
                            "Это можно сделать, когда с последней услуги прошло " (RETENTION_YEARS) " лет. Отменить нельзя." }
                        label { input type="checkbox" name="confirm" value="1"; " Да, обезличить" }
                        button.danger type="submit" { "Обезличить" }
                    }
                }
            }
        }
    };
    Ok(page(
        &person.display_name,
        Section::People,
        Some(&staff.0),
        body,
    ))
}

/// `POST /people/{recipient}`.
pub async fn save(
    State(app): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Form(posted): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let (site, people, person) = held(&app, &id).await?;
    if person.anonymised_at.is_some() {
        return Err(PageError::bad_request(
            "Данные этого получателя обезличены.",
        ));
    }
    let posted = Posted(posted);
    let today = site.date(app.now());
    let changed = match person_from(&posted, person.clone(), &app, &people, today) {
        Ok(p) => p,
        Err(e) => {
            let page = person_page(
                &app,
                &staff,
                &site,
                &people,
                &person,
                Some(&posted),
                &e,
                &PeopleQuery::default(),
            )
            .await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
    };
    saved(
        &app,
        &staff,
        changed,
        "Сохранено. Киоски получат изменения в течение минуты.",
    )
    .await
}

/// Saves `person` (audited, the roster goes out again) and goes back to their page with
/// `message`.
async fn saved(
    app: &AppState,
    staff: &Staff,
    person: Person,
    message: &str,
) -> Result<Response, PageError> {
    let (actor, now, id) = (Actor::of(&staff.0.user), app.now(), person.id);
    app.store
        .call(move |s| s.save_recipient(&actor, &person, now))
        .await?;
    Ok(notice(&format!("/people/{id}"), "saved", message))
}

#[derive(Debug, Deserialize, Default)]
pub struct AnonymiseForm {
    #[serde(default)]
    confirm: String,
}

/// `POST /people/{recipient}/anonymise`.
pub async fn anonymise(
    State(app): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Form(f): Form<AnonymiseForm>,
) -> Result<Response, PageError> {
    let (site, _, person) = held(&app, &id).await?;
    let back = |e: &str| notice(&format!("/people/{}", person.id), "error", e);
    if f.confirm.is_empty() {
        return Ok(back("Отметьте «Да, обезличить», чтобы подтвердить."));
    }
    let pid = person.id;
    let last = app.store.call(move |s| s.last_unit_date(pid)).await?;
    let today = site.date(app.now());
    if let Some(last) = last {
        let until = last
            .checked_add_months(chrono::Months::new(12 * RETENTION_YEARS as u32))
            .unwrap_or(last);
        if until > today {
            return Ok(back(&format!(
                "Последняя услуга — {}: данные хранятся до {}.",
                date_label(last),
                date_label(until)
            )));
        }
    }
    let (actor, now, sid) = (Actor::of(&staff.0.user), app.now(), site.id.clone());
    app.store
        .call(move |s| s.anonymise(&actor, &sid, pid, now))
        .await?;
    Ok(notice(
        &format!("/people?site={}", site.id),
        "saved",
        "Данные получателя обезличены.",
    ))
}
