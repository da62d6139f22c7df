//! `GET/POST /signin`, `POST /signout`: signing in with a login and password, and out.

use super::AppState;
use super::auth::{self, Peer, Staff};
use super::layout::{PageError, Section, page};
use crate::store::staff::Actor;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar};
use maud::{Markup, html};
use serde::Deserialize;

#[derive(Debug, Deserialize, Default)]
pub struct Next {
    #[serde(default)]
    next: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct SignIn {
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: Option<String>,
}

/// Where to go after signing in: a path of this server only.
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n,
        _ => "/journal",
    }
}

fn form_page(login: &str, next: &str, error: Option<&str>) -> Markup {
    let body = html! {
        div.signin {
            h1 { "Вход в журнал" }
            p.muted { "Журнал учёта социальных услуг" }
            @if let Some(e) = error { p.error role="alert" { (e) } }
            form method="post" action="/signin" {
                input type="hidden" name="next" value=(next);
                label for="login" { "Имя пользователя" }
                input id="login" name="login" value=(login) autocomplete="username" required autofocus;
                label for="password" { "Пароль" }
                input id="password" name="password" type="password" autocomplete="current-password" required;
                p { button.primary type="submit" { "Войти" } }
            }
        }
    };
    page("Вход", Section::None, None, body)
}

pub async fn form(Query(q): Query<Next>) -> Markup {
    form_page("", safe_next(q.next.as_deref()), None)
}

pub async fn submit(
    State(app): State<AppState>,
    Peer(peer): Peer,
    jar: CookieJar,
    Form(f): Form<SignIn>,
) -> Result<Response, PageError> {
    let now = app.now();
    let login = f.login.trim().to_string();
    let next = safe_next(f.next.as_deref()).to_string();
    let since = now - chrono::Duration::minutes(auth::LOCK_MINUTES);
    let (l, p) = (login.clone(), peer.clone());
    let (by_login, by_peer) = app
        .store
        .call(move |s| s.sign_in_failures(&l, &p, since))
        .await?;
    let actor = Actor {
        user: None,
        login: login.clone(),
        name: login.clone(),
    };
    if by_login >= auth::MAX_FAILURES_PER_LOGIN || by_peer >= auth::MAX_FAILURES_PER_PEER {
        tracing::warn!(%login, %peer, by_login, by_peer, "sign-in refused: too many failures");
        let a = actor.clone();
        let detail =
            format!("from {peer}: {by_login} failures for the login, {by_peer} from the address");
        app.store
            .call(move |s| s.audit(&a, "sign_in_refused", &a.login, &detail, now))
            .await?;
        let msg = format!(
            "Слишком много неудачных попыток входа. Подождите {} минут и попробуйте снова \
             или обратитесь к администратору.",
            auth::LOCK_MINUTES
        );
        return Ok((
            StatusCode::TOO_MANY_REQUESTS,
            form_page(&login, &next, Some(&msg)),
        )
            .into_response());
    }
    let l = login.clone();
    let user = app.store.call(move |s| s.user_by_login(&l)).await?;
    let password = f.password;
    // An unknown login costs the same time as a wrong password: the answer tells nothing.
    let phc = user
        .as_ref()
        .filter(|u| u.disabled_at.is_none())
        .map(|u| u.password_hash.clone());
    let ok = tokio::task::spawn_blocking(move || match phc {
        Some(h) => auth::verify_password(&password, &h),
        None => {
            let _ = auth::hash_password(&password);
            false
        }
    })
    .await
    .map_err(|e| PageError::internal(&e.to_string()))?;
    let Some(user) = user.filter(|_| ok) else {
        tracing::warn!(%login, %peer, "sign-in failed");
        let (a, p) = (actor.clone(), peer.clone());
        app.store
            .call(move |s| {
                s.sign_in_failed(&a.login, &p, now)?;
                s.audit(&a, "sign_in_failed", &a.login, &format!("from {p}"), now)
            })
            .await?;
        return Ok((
            StatusCode::UNAUTHORIZED,
            form_page(&login, &next, Some("Неверное имя пользователя или пароль.")),
        )
            .into_response());
    };
    let token = auth::token();
    let (hash, csrf) = (auth::token_hash(&token), auth::token());
    let expires = now + chrono::Duration::hours(auth::SESSION_HOURS);
    let a = Actor::of(&user);
    let id = user.id;
    app.store
        .call(move |s| {
            s.start_session(&hash, id, &csrf, expires, now)?;
            s.audit(&a, "sign_in", &a.login, &format!("from {peer}"), now)
        })
        .await?;
    tracing::info!(login = %user.login, role = user.role.as_str(), "signed in");
    let jar = jar.add(auth::session_cookie(token, app.secure_cookies));
    Ok((jar, Redirect::to(&next)).into_response())
}

pub async fn sign_out(
    State(app): State<AppState>,
    Staff(s): Staff,
    jar: CookieJar,
) -> Result<Response, PageError> {
    let now = app.now();
    let actor = Actor::of(&s.user);
    let hash = s.token_hash.clone();
    app.store
        .call(move |st| {
            st.end_session(&hash, now)?;
            st.audit(&actor, "sign_out", &actor.login, "", now)
        })
        .await?;
    let jar = jar.remove(Cookie::build(auth::COOKIE).path("/").build());
    Ok((jar, Redirect::to("/signin")).into_response())
}
