//! Unidentified taps (`GET /journal/taps`): cards no roster knew, tapped at a kiosk, listed for
//! staff to say whose they were (`POST /journal/taps/{tap}/match`). A match is recorded with who
//! made it and when; a tap that came in a closed session becomes the person's check-in and unit
//! there, with the match as its reason (and is refused, like any correction, in a signed-off
//! month).

use super::AppState;
use super::auth::Staff;
use super::layout::{PageError, Section, csrf_field, date_label, notice, page};
use crate::store::StoreError;
use crate::store::staff::Actor;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use maud::{Markup, html};
use otmetka_core::people::RecipientId;
use serde::Deserialize;

#[derive(Debug, Deserialize, Default)]
pub struct TapsQuery {
    #[serde(default)]
    site: Option<String>,
    #[serde(default)]
    done: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

pub async fn list(
    State(app): State<AppState>,
    staff: Staff,
    Query(q): Query<TapsQuery>,
) -> Result<Markup, PageError> {
    let site = app.site_or_404(q.site.as_deref())?;
    let id = site.id.clone();
    let taps = app.store.call(move |s| s.unmatched_taps(&id)).await?;
    let mut sessions = Vec::new();
    for t in &taps {
        if let Some(sid) = t.session {
            if let Some(j) = app.store.call(move |s| s.session_journal(sid)).await? {
                sessions.push(j.session);
            }
        }
    }
    let people = app.people(&site.id).await?;
    let body = html! {
        h1 { "Неопознанные карты" }
        p { "Карты, которых не было в списке, когда их приложили к киоску. Укажите, чья это была карта: "
            "если это было на занятии, отметка и услуга добавятся этому получателю." }
        @if let Some(e) = &q.error { p.error role="alert" { (e) } }
        @if let Some(d) = &q.done { div.allgood role="status" { (d) } }
        @if taps.is_empty() {
            div.allgood { strong { "Неопознанных карт нет." } }
        } @else {
            table {
                thead { tr { th { "Когда" } th { "Киоск" } th { "Занятие" } th { "Карта" } @if staff.may_edit() { th.noprint { "Чья это карта" } } } }
                tbody {
                    @for t in &taps {
                        @let session = t.session.and_then(|sid| sessions.iter().find(|s| s.id == sid));
                        tr {
                            td.name { (date_label(site.date(t.at))) " " (site.hm(t.at)) }
                            td { (t.kiosk) }
                            td {
                                @match session {
                                    Some(s) => { a href={ "/journal/sessions/" (s.id) } { (app.service_title(&s.service)) } ", " (site.hm(s.opened_at)) }
                                    None => { "вне занятия" }
                                }
                            }
                            td { code { (t.card_hash.get(..8).unwrap_or(&t.card_hash)) } }
                            @if staff.may_edit() {
                                td.noprint {
                                    form method="post" action={ "/journal/taps/" (t.tap) "/match" } {
                                        (csrf_field(&staff.0))
                                        label for={ "who-" (t.tap) } { "Получатель" }
                                        select id={ "who-" (t.tap) } name="recipient" {
                                            option value="" { "— выберите —" }
                                            @for r in people.current() { option value=(r.id) { (r.display_name) } }
                                        }
                                        " " button type="submit" { "Сопоставить" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(page(
        "Неопознанные карты",
        Section::Journal,
        Some(&staff.0),
        body,
    ))
}

#[derive(Debug, Deserialize)]
pub struct MatchForm {
    #[serde(default)]
    recipient: String,
}

pub async fn match_tap(
    State(app): State<AppState>,
    staff: Staff,
    Path(tap): Path<String>,
    Form(f): Form<MatchForm>,
) -> Result<Response, PageError> {
    let back = |key: &str, msg: &str| notice("/journal/taps", key, msg);
    let tap: uuid::Uuid = tap
        .parse()
        .map_err(|_| PageError::not_found("Такой отметки нет."))?;
    let site = app.site_or_404(None)?;
    let people = app.people(&site.id).await?;
    let Some(person) = f
        .recipient
        .parse()
        .ok()
        .map(RecipientId)
        .and_then(|id| people.recipient(id))
        .filter(|p| p.anonymised_at.is_none())
        .cloned()
    else {
        return Ok(back("error", "Выберите получателя из списка."));
    };
    let now = app.now();
    let reason = format!(
        "неопознанная карта сопоставлена: это {}",
        person.display_name
    );
    let (actor, id) = (Actor::of(&staff.0.user), person.id);
    let local_date = site.date(now);
    let matched = app
        .store
        .call(move |s| {
            let at = s
                .unmatched_taps(&site.id)?
                .into_iter()
                .find(|t| t.tap == tap)
                .map(|t| site.date(t.at));
            s.match_tap(tap, id, &reason, at.unwrap_or(local_date), &actor, now)
        })
        .await;
    match matched {
        Ok(Some(_)) => Ok(back(
            "done",
            &format!(
                "Сопоставлено: {}. Отметка и услуга добавлены в занятие.",
                person.display_name
            ),
        )),
        Ok(None) => Ok(back(
            "done",
            &format!("Сопоставлено: {}.", person.display_name),
        )),
        Err(StoreError::Conflict(_)) => Ok(back("error", "Эта отметка уже сопоставлена.")),
        Err(e @ StoreError::MonthSignedOff { .. }) => Err(e.into()),
        Err(e) => Err(e.into()),
    }
}
