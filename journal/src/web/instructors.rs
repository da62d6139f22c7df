//! The instructors of a site — the staff who sign in at the kiosks with a card or a PIN:
//!
//! - `GET /instructors`: who they are, whether each has a PIN and a card;
//! - `POST /instructors`: a new instructor, with a PIN;
//! - `POST /instructors/{id}`: a new PIN, a staff card given by its number, or "left" / "back".
//!
//! A PIN is kept only as its keyed hash with the site secret, as the kiosks check it. The head
//! of unit and administrators manage them.

use super::auth::Staff;
use super::layout::{FormErrors, PageError, Section, csrf_field, notice, page};
use super::{AppState, SiteView};
use crate::store::StoreError;
use crate::store::people::{Holder, InstructorRecord, NewCard, SitePeople};
use crate::store::staff::Actor;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use otmetka_core::cards::SiteSecret;
use otmetka_core::people::InstructorId;
use serde::Deserialize;

#[derive(Debug, Deserialize, Default)]
pub struct InstructorsQuery {
    #[serde(default)]
    site: Option<String>,
    #[serde(default)]
    saved: Option<String>,
}

/// What is wrong with a new PIN, if anything: 6 to 8 digits (`otmetka_core::pin`), not all the
/// same, not a run.
pub fn pin_problem(pin: &str) -> Option<&'static str> {
    use otmetka_core::pin::{MAX_PIN_DIGITS, NEW_PIN_DIGITS};
    if !(NEW_PIN_DIGITS..=MAX_PIN_DIGITS).contains(&pin.len())
        || !pin.chars().all(|c| c.is_ascii_digit())
    {
        return Some("PIN-код — от 6 до 8 цифр.");
    }
    let first = pin.chars().next();
    if pin.chars().all(|c| Some(c) == first) || "0123456789".contains(pin) {
        return Some("Такой PIN-код легко угадать (одинаковые цифры или подряд): выберите другой.");
    }
    None
}

fn render(
    staff: &Staff,
    site: &SiteView,
    people: &SitePeople,
    errors: &FormErrors,
    saved: Option<&str>,
) -> Markup {
    let body = html! {
        p.noprint { a href={ "/people?site=" (site.id) } { "← Получатели" } }
        h1 { "Специалисты на киосках — отделение " (site.id) }
        p { "Специалист входит на киоске своей картой или PIN-кодом и начинает занятие." }
        @if let Some(s) = saved { div.allgood role="status" { (s) } }
        @if let Some(m) = &errors.message { p.error role="alert" { (m) } }
        @let legacy = people.instructors.iter().filter(|i| i.active && i.pin_hash.as_deref().is_some_and(otmetka_core::pin::is_legacy)).count();
        @if legacy > 0 {
            div.problems role="alert" {
                strong { "PIN-коды старого вида: " (legacy) "." }
                " Они хранятся слабее и могут быть короче 6 цифр; задайте этим специалистам новые PIN-коды."
            }
        }
        table {
            thead { tr { th { "Специалист" } th { "PIN-код" } th { "Карта" } th { "Работает" } th.noprint { "Изменить" } } }
            tbody {
                @for i in &people.instructors {
                    @let cards: Vec<_> = people.cards_of(Holder::Instructor(i.id)).collect();
                    tr class=[(!i.active).then_some("removed")] {
                        td { (i.display_name) }
                        td { @match i.pin_hash.as_deref() {
                            Some(h) if otmetka_core::pin::is_legacy(h) => {
                                "задан" br; span.mark { "старого вида: задайте новый (от 6 цифр)" }
                            }
                            Some(_) => { "задан" }
                            None => { span.mark { "нет" } }
                        } }
                        td { @for c in &cards { (c.label()) " (" (c.state.label()) ")" br; } @if cards.is_empty() { "—" } }
                        td { @if i.active { "да" } @else { "нет (уволен)" } }
                        td.noprint {
                            details {
                                summary { "Изменить…" }
                                form method="post" action={ "/instructors/" (i.id) } {
                                    (csrf_field(&staff.0))
                                    div class=[errors.class(&format!("pin-{}", i.id))] {
                                        label for={ "pin-" (i.id) } { "Новый PIN-код" }
                                        input id={ "pin-" (i.id) } name="pin" type="password" inputmode="numeric" autocomplete="new-password" size="8"; (errors.at_field(&format!("pin-{}", i.id)))
                                    }
                                    div class=[errors.class(&format!("card-{}", i.id))] {
                                        label for={ "card-" (i.id) } { "Выдать карту (номер)" }
                                        input id={ "card-" (i.id) } name="card_number" autocomplete="off" size="16"; (errors.at_field(&format!("card-{}", i.id)))
                                    }
                                    label { input type="checkbox" name="left" value="1" checked[!i.active]; " Не работает (уволен): на киосках не входит" }
                                    button.primary type="submit" { "Сохранить" }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Новый специалист" }
        form method="post" action={ "/instructors?site=" (site.id) } {
            (csrf_field(&staff.0))
            div.filters {
                div class=[errors.class("name")] {
                    label for="name" { "Как обращаться (имя и отчество)" }
                    input #name name="name" size="30" required; (errors.at_field("name"))
                }
                div class=[errors.class("pin")] {
                    label for="pin" { "PIN-код для киоска" }
                    input #pin name="pin" type="password" inputmode="numeric" autocomplete="new-password" size="8" required; (errors.at_field("pin"))
                }
                div { button.primary type="submit" { "Добавить" } }
            }
        }
    };
    page("Специалисты", Section::People, Some(&staff.0), body)
}

/// `GET /instructors`.
pub async fn list(
    State(app): State<AppState>,
    staff: Staff,
    Query(q): Query<InstructorsQuery>,
) -> Result<Markup, PageError> {
    let site = app.site_or_404(q.site.as_deref())?;
    let people = app.people(&site.id).await?;
    Ok(render(
        &staff,
        &site,
        &people,
        &FormErrors::default(),
        q.saved.as_deref(),
    ))
}

/// A PIN's stored hash (argon2id, slow on purpose: made off the async threads).
async fn pin_hash(secret: SiteSecret, id: InstructorId, pin: String) -> Result<String, PageError> {
    tokio::task::spawn_blocking(move || otmetka_core::pin::hash(&secret, &id.0.to_string(), &pin))
        .await
        .map_err(|e| PageError::internal(&format!("the PIN hash was not made: {e}")))
}

fn secret(app: &AppState, site: &SiteView) -> Result<SiteSecret, FormErrors> {
    app.docs
        .site(&site.id)
        .and_then(|d| d.secret.clone())
        .ok_or_else(|| {
            FormErrors::at(
                "pin",
                "Нет секрета отделения (site_secret_file в настройках журнала): PIN-коды и карты задать нельзя.",
            )
        })
}

async fn refused(
    app: &AppState,
    staff: &Staff,
    site: &SiteView,
    e: FormErrors,
) -> Result<Response, PageError> {
    let people = app.people(&site.id).await?;
    Ok((
        StatusCode::UNPROCESSABLE_ENTITY,
        render(staff, site, &people, &e, None),
    )
        .into_response())
}

fn done(site: &SiteView, message: &str) -> Response {
    notice(&format!("/instructors?site={}", site.id), "saved", message)
}

#[derive(Debug, Deserialize, Default)]
pub struct NewInstructor {
    #[serde(default)]
    name: String,
    #[serde(default)]
    pin: String,
}

/// `POST /instructors`.
pub async fn add(
    State(app): State<AppState>,
    staff: Staff,
    Query(q): Query<InstructorsQuery>,
    Form(f): Form<NewInstructor>,
) -> Result<Response, PageError> {
    let site = app.site_or_404(q.site.as_deref())?;
    let name = f.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return refused(
            &app,
            &staff,
            &site,
            FormErrors::at("name", "Укажите имя и отчество (до 100 знаков)."),
        )
        .await;
    }
    if let Some(p) = pin_problem(&f.pin) {
        return refused(&app, &staff, &site, FormErrors::at("pin", p)).await;
    }
    let secret = match secret(&app, &site) {
        Ok(s) => s,
        Err(e) => return refused(&app, &staff, &site, e).await,
    };
    let id = InstructorId(uuid::Uuid::now_v7());
    let record = InstructorRecord {
        id,
        site: site.id.clone(),
        display_name: name.to_string(),
        pin_hash: Some(pin_hash(secret, id, f.pin.clone()).await?),
        active: true,
    };
    let (actor, now) = (Actor::of(&staff.0.user), app.now());
    app.store
        .call(move |s| s.save_instructor(&actor, &record, now))
        .await?;
    Ok(done(&site, &format!("Специалист {name} добавлен.")))
}

#[derive(Debug, Deserialize, Default)]
pub struct ChangeInstructor {
    #[serde(default)]
    pin: String,
    #[serde(default)]
    card_number: String,
    #[serde(default)]
    left: String,
}

/// `POST /instructors/{id}`.
pub async fn change(
    State(app): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Form(f): Form<ChangeInstructor>,
) -> Result<Response, PageError> {
    let id: InstructorId = id
        .parse()
        .map(InstructorId)
        .map_err(|_| PageError::not_found("Такого специалиста нет."))?;
    let mut found = None;
    for site in app.sites.iter() {
        let people = app.people(&site.id).await?;
        if let Some(i) = people.instructors.iter().find(|i| i.id == id) {
            found = Some((site.clone(), i.clone()));
            break;
        }
    }
    let (site, mut record) =
        found.ok_or_else(|| PageError::not_found("Такого специалиста нет."))?;
    let secret = match secret(&app, &site) {
        Ok(s) => s,
        Err(e) => return refused(&app, &staff, &site, e).await,
    };
    if !f.pin.is_empty() {
        if let Some(p) = pin_problem(&f.pin) {
            return refused(&app, &staff, &site, FormErrors::at(&format!("pin-{id}"), p)).await;
        }
        record.pin_hash = Some(pin_hash(secret.clone(), record.id, f.pin.clone()).await?);
    }
    record.active = f.left.is_empty();
    let card = match f.card_number.trim() {
        "" => None,
        n => match NewCard::from_number(&site.id, Holder::Instructor(id), n, &secret) {
            Some(c) => Some(c),
            None => {
                return refused(
                    &app,
                    &staff,
                    &site,
                    FormErrors::at(&format!("card-{id}"), "Это не номер карты."),
                )
                .await;
            }
        },
    };
    let (actor, now) = (Actor::of(&staff.0.user), app.now());
    let saved = app
        .store
        .call(move |s| {
            if let Some(c) = &card {
                s.add_card(&actor, c, now)?;
            }
            s.save_instructor(&actor, &record, now)
        })
        .await;
    match saved {
        Ok(()) => Ok(done(
            &site,
            "Сохранено. Киоски получат изменения в течение минуты.",
        )),
        Err(StoreError::Conflict(m)) => {
            refused(
                &app,
                &staff,
                &site,
                FormErrors::at(&format!("card-{id}"), &m),
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::pin_problem;

    #[test]
    fn new_pins_are_six_to_eight_digits_and_not_the_obvious_ones() {
        assert!(pin_problem("123456").is_some(), "digits in a row");
        assert!(pin_problem("000000").is_some());
        assert!(pin_problem("12a456").is_some());
        assert!(
            pin_problem("4831").is_some(),
            "four digits fall to a search at once"
        );
        assert!(pin_problem("123456789").is_some());
        assert!(pin_problem("483170").is_none());
        assert!(pin_problem("90210577").is_none());
    }
}
