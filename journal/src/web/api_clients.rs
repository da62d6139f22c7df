//! `GET/POST /api-clients`: the clients of the JSON API (1C, the regional system) for
//! administrators — each a name, its scopes, when it was last used; a new client's token is shown
//! once, when it is made (the journal keeps only its SHA-256); `POST /api-clients/{id}/revoke`
//! takes a token away. Every request a client makes is in the audit log ([`super::api`]).

use super::AppState;
use super::auth::{self, Staff};
use super::layout::{PageError, Section, csrf_field, date_label, page};
use crate::store::api::Scope;
use crate::store::staff::Actor;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};

/// The token a client is given: a prefix that says what it is, then 32 random bytes.
fn new_token() -> String {
    format!("otm_{}", auth::token())
}

async fn render(
    app: &AppState,
    staff: &Staff,
    made: Option<(&str, &str)>,
    error: Option<&str>,
) -> Result<Markup, PageError> {
    let clients = app.store.call(|s| s.api_clients()).await?;
    let site = app.site(None).cloned();
    let day = |t: chrono::DateTime<chrono::Utc>| {
        site.as_ref().map_or_else(
            || date_label(t.date_naive()),
            |s| format!("{} {}", date_label(s.date(t)), s.hm(t)),
        )
    };
    let body = html! {
        h1 { "Доступ других систем (API)" }
        p { "Ключи для программ, которые читают журнал: 1С, региональная информационная система. "
            "Каждый ключ — для одной программы, с тем, что ей можно читать; каждое обращение записывается в журнал доступа. "
            "Описание API: " a href="/api/v1/openapi.json" { "/api/v1/openapi.json" } "." }
        @if let Some((name, token)) = made {
            div.allgood role="status" {
                p { strong { "Ключ для «" (name) "» создан:" } }
                p { code data-token { (token) } }
                p { "Скопируйте его сейчас и передайте администратору той программы: он показывается один раз, журнал хранит только его отпечаток. "
                    "Программа передаёт его в заголовке «Authorization: Bearer КЛЮЧ»." }
            }
        }
        @if let Some(m) = error { p.error role="alert" { (m) } }
        @if clients.is_empty() {
            p.muted { "Ключей пока нет." }
        } @else {
            table {
                thead { tr { th { "Программа" } th { "Что можно читать" } th { "Создан" } th { "Последнее обращение" } th { "Состояние" } th.noprint {} } }
                tbody {
                    @for c in &clients {
                        tr data-client=(c.id) {
                            td { (c.name) }
                            td { (c.scopes.iter().map(|s| s.label()).collect::<Vec<_>>().join("; ")) }
                            td { (day(c.created_at)) ", " (c.created_by) }
                            td { @match c.last_used_at { Some(t) => (day(t)), None => "не было" } }
                            td { @match (c.revoked_at, &c.revoked_by) {
                                (Some(t), by) => { span.mark { "отозван" } " " (day(t)) @if let Some(b) = by { ", " (b) } },
                                _ => "действует",
                            } }
                            td.noprint {
                                @if c.revoked_at.is_none() {
                                    form method="post" action={ "/api-clients/" (c.id) "/revoke" } {
                                        (csrf_field(&staff.0))
                                        button.danger type="submit" { "Отозвать ключ" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Новый ключ" }
        form method="post" action="/api-clients" {
            (csrf_field(&staff.0))
            div { label for="name" { "Программа (например, «1С: Бухгалтерия, ГБУ КЦСОН»)" } input id="name" name="name" size="50"; }
            fieldset {
                legend { "Что ей можно читать" }
                @for s in Scope::ALL {
                    div { label { input type="checkbox" name="scope" value=(s.as_str()); " " (s.label()) } }
                }
            }
            p { button.primary type="submit" { "Создать ключ" } }
        }
    };
    Ok(page(
        "Доступ других систем",
        Section::Users,
        Some(&staff.0),
        body,
    ))
}

/// `GET /api-clients`.
pub async fn list(State(app): State<AppState>, staff: Staff) -> Result<Markup, PageError> {
    render(&app, &staff, None, None).await
}

/// `POST /api-clients`: a new client; its token on the page, once.
pub async fn add(
    State(app): State<AppState>,
    staff: Staff,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let name = f
        .iter()
        .find(|(k, _)| k == "name")
        .map_or("", |(_, v)| v.trim())
        .to_string();
    let mut scopes: Vec<Scope> = f
        .iter()
        .filter(|(k, _)| k == "scope")
        .filter_map(|(_, v)| Scope::parse(v))
        .collect();
    scopes.sort();
    scopes.dedup();
    let problem = if name.is_empty() || name.chars().count() > 200 {
        Some("Укажите программу, для которой ключ (до 200 знаков).")
    } else if scopes.is_empty() {
        Some("Отметьте, что программе можно читать.")
    } else if scopes.contains(&Scope::Personal) && !scopes.contains(&Scope::Recipients) {
        Some("Персональные данные выдаются только вместе со списком получателей: отметьте и его.")
    } else {
        None
    };
    if let Some(p) = problem {
        return match render(&app, &staff, None, Some(p)).await {
            Ok(page) => (StatusCode::UNPROCESSABLE_ENTITY, page).into_response(),
            Err(e) => e.into_response(),
        };
    }
    let token = new_token();
    let hash = auth::token_hash(&token);
    let (actor, now, n) = (Actor::of(&staff.0.user), app.now(), name.clone());
    match app
        .store
        .call(move |s| s.add_api_client(&actor, &n, &scopes, &hash, now))
        .await
    {
        Ok(_) => match render(&app, &staff, Some((&name, &token)), None).await {
            Ok(page) => page.into_response(),
            Err(e) => e.into_response(),
        },
        Err(e) => PageError::from(e).into_response(),
    }
}

/// `POST /api-clients/{id}/revoke`.
pub async fn revoke(
    State(app): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let id: i64 = id
        .parse()
        .map_err(|_| PageError::not_found("Такого ключа нет."))?;
    let (actor, now) = (Actor::of(&staff.0.user), app.now());
    app.store
        .call(move |s| s.revoke_api_client(&actor, id, now))
        .await?;
    Ok(Redirect::to("/api-clients").into_response())
}
