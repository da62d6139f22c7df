//! `GET /account`, `POST /account/password`: a member of staff changes their own password (the
//! current one first). Their other browser sessions end; this one stays.

use super::AppState;
use super::auth::{self, Staff};
use super::layout::{FormErrors, PageError, Section, csrf_field, page};
use crate::store::staff::Actor;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

#[derive(Debug, Deserialize, Default)]
pub struct AccountQuery {
    #[serde(default)]
    saved: Option<String>,
}

fn render(staff: &Staff, errors: &FormErrors, saved: bool) -> Markup {
    let u = &staff.0.user;
    let body = html! {
        h1 { "Моя учётная запись" }
        p { strong { (u.name) } " (" (u.login) "), " (u.role.label()) "." }
        @if saved { div.allgood role="status" { "Пароль изменён. Другие входы под этой учётной записью завершены." } }
        h2 { "Сменить пароль" }
        @if let Some(m) = &errors.message { p.error role="alert" { (m) } }
        form method="post" action="/account/password" {
            (csrf_field(&staff.0))
            div class=[errors.class("current")] {
                label for="current" { "Нынешний пароль" }
                input #current type="password" name="current" autocomplete="current-password" required; (errors.at_field("current"))
            }
            div class=[errors.class("new")] {
                label for="new" { "Новый пароль (не короче 10 символов)" }
                input #new type="password" name="new" autocomplete="new-password" required; (errors.at_field("new"))
            }
            div class=[errors.class("again")] {
                label for="again" { "Новый пароль ещё раз" }
                input #again type="password" name="again" autocomplete="new-password" required; (errors.at_field("again"))
            }
            p { button.primary type="submit" { "Сменить пароль" } }
        }
    };
    page("Учётная запись", Section::None, Some(&staff.0), body)
}

/// `GET /account`.
pub async fn show(staff: Staff, Query(q): Query<AccountQuery>) -> Markup {
    render(&staff, &FormErrors::default(), q.saved.is_some())
}

#[derive(Debug, Deserialize, Default)]
pub struct PasswordForm {
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
    #[serde(default)]
    again: String,
}

/// `POST /account/password`.
pub async fn change_password(
    State(app): State<AppState>,
    staff: Staff,
    Form(f): Form<PasswordForm>,
) -> Result<Response, PageError> {
    let refused = |e: FormErrors| {
        (StatusCode::UNPROCESSABLE_ENTITY, render(&staff, &e, false)).into_response()
    };
    let (current, phc) = (f.current.clone(), staff.0.user.password_hash.clone());
    let right = tokio::task::spawn_blocking(move || auth::verify_password(&current, &phc))
        .await
        .map_err(|e| PageError::internal(&e.to_string()))?;
    if !right {
        return Ok(refused(FormErrors::at(
            "current",
            "Нынешний пароль введён неверно.",
        )));
    }
    if let Some(p) = auth::password_problem(&f.new) {
        return Ok(refused(FormErrors::at("new", p)));
    }
    if f.new != f.again {
        return Ok(refused(FormErrors::at(
            "again",
            "Новый пароль введён по-разному.",
        )));
    }
    if f.new == f.current {
        return Ok(refused(FormErrors::at(
            "new",
            "Новый пароль совпадает с нынешним.",
        )));
    }
    let new = f.new.clone();
    let hash = tokio::task::spawn_blocking(move || auth::hash_password(&new))
        .await
        .map_err(|e| PageError::internal(&e.to_string()))?
        .map_err(|e| PageError::internal(&e))?;
    let (actor, now) = (Actor::of(&staff.0.user), app.now());
    let (user, keep) = (staff.0.user.id, staff.0.token_hash.clone());
    app.store
        .call(move |s| s.set_password(user, &hash, &keep, &actor, now))
        .await?;
    Ok(Redirect::to("/account?saved=1").into_response())
}
