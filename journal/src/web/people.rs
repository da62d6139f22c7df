//! `GET /people`: the recipients of a site with their consents, programme and cards. Read from
//! the roster the journal publishes (the roster file, with the cards enrolled at kiosks); editing
//! people in the journal is the next step of the staff-journal issue.
//!
//! `POST /people/{recipient}/card`: "give a card" — the chosen kiosk of the site goes into card
//! enrolment for that person (the `enrol-card` command's request, from a button): the next card
//! on its reader becomes theirs, and the roster goes to every kiosk of the site with it.

use super::AppState;
use super::auth::Staff;
use super::layout::{PageError, Section, csrf_field, date_label, page};
use crate::store::staff::Actor;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use otmetka_core::people::RecipientId;
use otmetka_core::wire::{EnrolmentRequest, SCHEMA};
use serde::Deserialize;

/// How long a kiosk waits for the card a page asked for.
pub const ENROL_MINUTES: i64 = 10;

/// `?site=…&request=…`: the people page, and the card request just made.
#[derive(Debug, Deserialize, Default)]
pub struct PeopleQuery {
    #[serde(default)]
    site: Option<String>,
    #[serde(default)]
    request: Option<String>,
    #[serde(default)]
    error: Option<String>,
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

pub async fn list(
    State(app): State<AppState>,
    staff: Staff,
    Query(q): Query<PeopleQuery>,
) -> Result<Markup, PageError> {
    let site = app.site_or_404(q.site.as_deref())?;
    let id = site.id.clone();
    let enrolled = app.store.call(move |s| s.enrolled_cards(&id)).await?;
    let kiosks = site_kiosks(&app, &site.id).await?;
    let request = match q
        .request
        .as_deref()
        .and_then(|r| r.parse::<uuid::Uuid>().ok())
    {
        Some(r) => app.store.call(move |s| s.enrolment(r)).await?,
        None => None,
    };
    let today = site.date(app.now());
    let people = app.recipients(&site.id);
    let body = html! {
        h1 { "Получатели услуг — отделение " (site.id) }
        @if let Some(e) = &q.error { p.error role="alert" { (e) } }
        @if let Some(r) = &request {
            @if r.enrolled_at.is_some() {
                div.allgood role="status" { "Карта выдана: " strong { (r.request.display_name) } " (киоск " (r.kiosk) ")." }
            } @else {
                div.note role="status" {
                    "Киоск " strong { (r.kiosk) } " ждёт новую карту для " strong { (r.request.display_name) }
                    " до " (site.hm(r.request.expires_at)) ". Приложите карту к считывателю этого киоска; "
                    "обновите страницу, чтобы увидеть, что карта выдана."
                }
            }
        }
        p { "Всего: " strong { (people.len()) } ". Список ведётся в файле списка отделения; карты, выданные на киоске, добавляются к нему." }
        table {
            thead { tr {
                th { "Получатель" } th { "Согласие на участие" } th { "Фото и видео" }
                th { "Индивидуальная программа" } th { "Карта" }
                @if staff.may_edit() && !kiosks.is_empty() { th.noprint { "Выдать карту" } }
            } }
            tbody {
                @for r in people {
                    // The roster holds each card as the keyed hashes of its lookup forms, several a
                    // card: what it says is whether there is one; the kiosks' count their own.
                    @let given = enrolled.iter().filter(|(who, _)| *who == r.id).count();
                    @let cards = usize::from(!r.cards.is_empty()) + given;
                    @let valid = r.programme.as_ref().is_some_and(|p| p.valid_from <= today && today <= p.valid_to);
                    tr class=[(!r.consent.participation || !valid || cards == 0).then_some("problem")] {
                        td { (r.display_name) }
                        td { @if r.consent.participation { "есть" } @else { span.mark { "нет согласия" } } }
                        td { @if r.consent.photo_video { "есть" } @else { "нет" } }
                        td {
                            @match &r.programme {
                                Some(p) => {
                                    "с " (date_label(p.valid_from)) " по " (date_label(p.valid_to))
                                    ", услуг: " (p.items.len())
                                    @if !valid { " " span.mark { "не действует сегодня" } }
                                }
                                None => { span.mark { "нет программы" } }
                            }
                        }
                        td {
                            @if cards == 0 { span.mark { "нет карты" } }
                            @else if r.cards.is_empty() { "выдана на киоске" }
                            @else { "есть" @if given > 0 { ", ещё " (given) " выдано на киоске" } }
                        }
                        @if staff.may_edit() && !kiosks.is_empty() {
                            td.noprint {
                                details {
                                    summary { "Выдать карту…" }
                                    form method="post" action={ "/people/" (r.id) "/card" } {
                                        (csrf_field(&staff.0))
                                        input type="hidden" name="site" value=(site.id);
                                        label for={ "kiosk-" (r.id) } { "На киоске" }
                                        select id={ "kiosk-" (r.id) } name="kiosk" {
                                            @for k in &kiosks { option value=(k) { (k) } }
                                        }
                                        " " button type="submit" { "Ждать карту" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(page("Получатели", Section::People, Some(&staff.0), body))
}

#[derive(Debug, Deserialize)]
pub struct CardForm {
    #[serde(default)]
    site: String,
    #[serde(default)]
    kiosk: String,
}

/// `POST /people/{recipient}/card`.
pub async fn request_card(
    State(app): State<AppState>,
    staff: Staff,
    Path(recipient): Path<String>,
    Form(f): Form<CardForm>,
) -> Result<Response, PageError> {
    let site = app
        .site(Some(&f.site))
        .cloned()
        .ok_or_else(|| PageError::bad_request("Такого отделения нет."))?;
    // The page again with the reason at the top (a redirect, so a reload does not post again).
    let back = |error: &str| {
        Redirect::to(&format!(
            "/people?site={}&error={}",
            site.id,
            super::auth::urlencode(error)
        ))
        .into_response()
    };
    let Some(person) = recipient.parse().ok().map(RecipientId).and_then(|id| {
        app.recipients(&site.id)
            .iter()
            .find(|r| r.id == id)
            .cloned()
    }) else {
        return Ok(back("Такого получателя нет в списке отделения."));
    };
    if !site_kiosks(&app, &site.id).await?.contains(&f.kiosk) {
        return Ok(back("Выберите киоск этого отделения."));
    }
    let now = app.now();
    let request = EnrolmentRequest {
        schema: SCHEMA,
        request: uuid::Uuid::now_v7(),
        recipient: person.id,
        display_name: person.display_name.clone(),
        expires_at: now + chrono::Duration::minutes(ENROL_MINUTES),
    };
    let id = request.request;
    let (actor, sid, kiosk) = (Actor::of(&staff.0.user), site.id.clone(), f.kiosk.clone());
    app.store
        .call(move |s| {
            s.request_enrolment(&sid, &kiosk, &request, now)?;
            s.audit(
                &actor,
                "request_card",
                &request.recipient.to_string(),
                &format!("kiosk {kiosk}"),
                now,
            )
        })
        .await?;
    Ok(Redirect::to(&format!("/people?site={}&request={id}", site.id)).into_response())
}
