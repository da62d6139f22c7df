//! `GET/POST /users`: the journal's users and their roles, for administrators. The first
//! administrator comes from `otmetka-journal add-user`. `POST /users/{login}/instructor` ties an
//! account to the instructor its owner is at the kiosks: disabling the account then takes their
//! PIN and card off the kiosks.

use super::AppState;
use super::auth::{self, Staff};
use super::layout::{PageError, Section, csrf_field, date_label, page};
use crate::store::StoreError;
use crate::store::staff::{Actor, NewUser, Role};
use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

#[derive(Debug, Deserialize, Default)]
pub struct AddUser {
    #[serde(default)]
    login: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    password: String,
}

/// What is wrong with a new user, field by field.
pub fn check(f: &AddUser) -> Result<(String, String, Role), (&'static str, String)> {
    let login = f.login.trim();
    if login.is_empty()
        || login.len() > 64
        || !login
            .chars()
            .all(|c| c.is_alphanumeric() || "._-".contains(c))
    {
        return Err((
            "login",
            "Имя пользователя: буквы, цифры, точка, дефис или подчёркивание, до 64 знаков.".into(),
        ));
    }
    let name = f.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err((
            "name",
            "Укажите фамилию, имя и отчество (до 200 знаков).".into(),
        ));
    }
    let role = Role::parse(&f.role).ok_or(("role", "Выберите роль.".to_string()))?;
    if let Some(p) = auth::password_problem(&f.password) {
        return Err(("password", p.into()));
    }
    Ok((login.to_string(), name.to_string(), role))
}

async fn render(
    app: &AppState,
    staff: &Staff,
    f: &AddUser,
    error: Option<(&str, &str)>,
) -> Result<Markup, PageError> {
    let users = app.store.call(|s| s.users()).await?;
    let site = app.site(None).cloned();
    let instructors = match &site {
        Some(s) => app.people(&s.id).await?.instructors.clone(),
        None => Vec::new(),
    };
    let instructor_name = |id: otmetka_core::people::InstructorId| {
        instructors
            .iter()
            .find(|i| i.id == id)
            .map_or_else(|| id.to_string(), |i| i.display_name.clone())
    };
    let bad = |field: &str| error.filter(|(f, _)| *f == field).map(|_| "field-error");
    let body = html! {
        h1 { "Пользователи" }
        p { a href="/api-clients" { "Доступ других систем (API): ключи для 1С и региональной системы" } }
        table {
            thead { tr { th { "Имя пользователя" } th { "ФИО" } th { "Роль" } th { "Инструктор на киосках" } th { "Добавлен" } th { "Состояние" } th.noprint {} } }
            tbody {
                @for u in &users {
                    tr {
                        td { (u.login) } td { (u.name) } td { (u.role.label()) }
                        td {
                            @if u.disabled_at.is_some() || instructors.is_empty() {
                                @if let Some(i) = u.instructor { (instructor_name(i)) } @else { "—" }
                            } @else {
                                form.inline method="post" action={ "/users/" (u.login) "/instructor" } {
                                    (csrf_field(&staff.0))
                                    select name="instructor" aria-label={ "Инструктор на киосках: " (u.login) } {
                                        option value="" selected[u.instructor.is_none()] { "— не инструктор —" }
                                        @for i in instructors.iter().filter(|i| i.active || Some(i.id) == u.instructor) {
                                            option value=(i.id) selected[Some(i.id) == u.instructor] { (i.display_name) }
                                        }
                                    }
                                    " "
                                    button type="submit" { "Сохранить" }
                                }
                            }
                        }
                        td { @if let Some(s) = &site { (date_label(s.date(u.created_at))) } }
                        td { @if u.disabled_at.is_some() { span.mark { "отключён" } } @else { "действует" } }
                        td.noprint {
                            @if u.disabled_at.is_none() && u.id != staff.0.user.id {
                                form method="post" action={ "/users/" (u.login) "/disable" } {
                                    (csrf_field(&staff.0))
                                    button.danger type="submit" { "Отключить" }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Добавить пользователя" }
        @if let Some((_, m)) = error { p.error role="alert" { (m) } }
        form method="post" action="/users" {
            (csrf_field(&staff.0))
            div class=[bad("login")] { label for="login" { "Имя пользователя (для входа)" } input id="login" name="login" value=(f.login) autocomplete="off"; }
            div class=[bad("name")] { label for="name" { "Фамилия, имя, отчество" } input id="name" name="name" value=(f.name); }
            div class=[bad("role")] {
                label for="role" { "Роль" }
                select id="role" name="role" {
                    option value="" { "— выберите —" }
                    @for r in Role::ALL { option value=(r.as_str()) selected[f.role == r.as_str()] { (r.label()) } }
                }
            }
            div class=[bad("password")] { label for="password" { "Пароль (не короче 10 символов)" } input id="password" name="password" type="password" autocomplete="new-password"; }
            p { button.primary type="submit" { "Добавить" } }
        }
    };
    Ok(page("Пользователи", Section::Users, Some(&staff.0), body))
}

pub async fn list(State(app): State<AppState>, staff: Staff) -> Result<Markup, PageError> {
    render(&app, &staff, &AddUser::default(), None).await
}

pub async fn add(State(app): State<AppState>, staff: Staff, Form(f): Form<AddUser>) -> Response {
    let (login, name, role) = match check(&f) {
        Ok(v) => v,
        Err((field, msg)) => {
            return match render(&app, &staff, &f, Some((field, &msg))).await {
                Ok(p) => (StatusCode::UNPROCESSABLE_ENTITY, p).into_response(),
                Err(e) => e.into_response(),
            };
        }
    };
    let password = f.password.clone();
    let hash = match tokio::task::spawn_blocking(move || auth::hash_password(&password)).await {
        Ok(Ok(h)) => h,
        Ok(Err(e)) => return PageError::internal(&e).into_response(),
        Err(e) => return PageError::internal(&e.to_string()).into_response(),
    };
    let user = NewUser {
        login,
        name,
        role,
        password_hash: hash,
    };
    let (now, actor) = (app.now(), Actor::of(&staff.0.user));
    let added = app
        .store
        .call(move |s| {
            let u = s.add_user(&user, now)?;
            s.audit(&actor, "add_user", &u.login, u.role.as_str(), now)?;
            Ok(u)
        })
        .await;
    match added {
        Ok(_) => Redirect::to("/users").into_response(),
        Err(StoreError::Conflict(_)) => match render(
            &app,
            &staff,
            &f,
            Some(("login", "Такое имя пользователя уже есть.")),
        )
        .await
        {
            Ok(p) => (StatusCode::CONFLICT, p).into_response(),
            Err(e) => e.into_response(),
        },
        Err(e) => PageError::from(e).into_response(),
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct LinkInstructor {
    #[serde(default)]
    instructor: String,
}

/// `POST /users/{login}/instructor`: ties the account to an instructor of the kiosks (an empty
/// field: to none). An instructor is one account's; a forged id is a Russian 404.
pub async fn link_instructor(
    State(app): State<AppState>,
    staff: Staff,
    axum::extract::Path(login): axum::extract::Path<String>,
    Form(f): Form<LinkInstructor>,
) -> Result<Response, PageError> {
    let instructor = match f.instructor.trim() {
        "" => None,
        id => Some(otmetka_core::people::InstructorId(
            id.parse()
                .map_err(|_| PageError::not_found("Такого инструктора нет."))?,
        )),
    };
    let (now, actor) = (app.now(), Actor::of(&staff.0.user));
    match app
        .store
        .call(move |s| s.link_instructor(&login, instructor, &actor, now))
        .await
    {
        Ok(()) => Ok(Redirect::to("/users").into_response()),
        Err(StoreError::NotFound(what)) if what.starts_with("instructor") => {
            Err(PageError::not_found("Такого инструктора нет."))
        }
        Err(StoreError::NotFound(_)) => Err(PageError::not_found(
            "Такого действующего пользователя нет.",
        )),
        Err(e) => Err(e.into()),
    }
}

/// `POST /users/{login}/disable`: the user cannot sign in any more and is signed out now. An
/// administrator cannot disable themselves (someone must be left to manage the journal).
pub async fn disable(
    State(app): State<AppState>,
    staff: Staff,
    axum::extract::Path(login): axum::extract::Path<String>,
) -> Result<Response, PageError> {
    if login.eq_ignore_ascii_case(&staff.0.user.login) {
        return Err(PageError::bad_request("Нельзя отключить самого себя."));
    }
    let (now, actor) = (app.now(), Actor::of(&staff.0.user));
    match app
        .store
        .call(move |s| s.disable_user(&login, &actor, now))
        .await
    {
        Ok(()) => Ok(Redirect::to("/users").into_response()),
        Err(StoreError::NotFound(_)) => Err(PageError::not_found(
            "Такого действующего пользователя нет.",
        )),
        Err(e) => Err(e.into()),
    }
}
