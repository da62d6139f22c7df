//! Who is asking: passwords, browser sessions, the sign-in limiter, and the guard every route
//! runs behind ([`guard`]).
//!
//! - Passwords are argon2id PHC strings (the `argon2` crate's defaults: 19 MiB, 2 passes),
//!   hashed and checked on Tokio's blocking pool.
//! - A session is a random 256-bit token in an `HttpOnly`, `SameSite=Strict` cookie; the store
//!   keeps only its SHA-256, so a copy of the database signs no one in. It ends after
//!   [`SESSION_HOURS`] or at sign-out.
//! - Every form carries the session's own random form token (`csrf`), checked by the guard for
//!   every request that is not a GET, before the handler sees the form: a page of another site
//!   cannot post in a signed-in specialist's name. The sign-in form, which has no session yet,
//!   is checked by its `Origin` instead.
//! - Sign-in is refused for [`LOCK_MINUTES`] after [`MAX_FAILURES_PER_LOGIN`] failures for one
//!   login, or [`MAX_FAILURES_PER_PEER`] from one address; each failure and refusal is logged
//!   and audited.

use super::AppState;
pub use super::access::Access;
use super::layout::{self, PageError};
use crate::store::api::Scope;
use crate::store::staff::{Role, WebSession};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header, request::Parts};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// The session cookie's name.
pub const COOKIE: &str = "otmetka_session";
/// How long a sign-in lasts: a working day and some.
pub const SESSION_HOURS: i64 = 10;
/// Failed sign-ins for one login, within [`LOCK_MINUTES`], after which it is refused.
pub const MAX_FAILURES_PER_LOGIN: u32 = 5;
/// Failed sign-ins from one address, within [`LOCK_MINUTES`], after which it is refused.
pub const MAX_FAILURES_PER_PEER: u32 = 20;
pub const LOCK_MINUTES: i64 = 15;
/// The largest form the guard reads (the longest is a correction's reason).
const MAX_FORM: usize = 64 * 1024;

/// An argon2id hash of `password`, as a PHC string. Slow on purpose: call off the async threads.
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Whether `password` matches `phc`. Slow on purpose: call off the async threads.
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// What a password must be: long enough that the limiter is not the only guard.
pub fn password_problem(password: &str) -> Option<&'static str> {
    (password.chars().count() < 10).then_some("Пароль должен быть не короче 10 символов.")
}

/// A fresh random token, hex.
pub fn token() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

/// What the store keeps of a token.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The session cookie for `token`.
pub fn session_cookie(token: String, secure: bool) -> Cookie<'static> {
    Cookie::build((COOKIE, token))
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .path("/")
        .max_age(time_hours(SESSION_HOURS))
        .build()
}

fn time_hours(h: i64) -> cookie::time::Duration {
    cookie::time::Duration::hours(h)
}

/// The signed-in member of staff, as the guard found them.
#[derive(Debug, Clone)]
pub struct Staff(pub WebSession);

impl Staff {
    pub fn role(&self) -> Role {
        self.0.user.role
    }

    pub fn may_edit(&self) -> bool {
        super::access::EDIT.contains(&self.role())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Staff {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<WebSession>()
            .cloned()
            .map(Staff)
            .ok_or_else(|| PageError::internal("a page that needs a session ran without the guard"))
    }
}

/// The address a request came from (for the sign-in limiter and the log).
#[derive(Debug, Clone)]
pub struct Peer(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Peer(
            parts
                .extensions
                .get::<ConnectInfo<std::net::SocketAddr>>()
                .map_or_else(|| "unknown".into(), |c| c.0.ip().to_string()),
        ))
    }
}

/// The guard's state: the app and the route's rule.
#[derive(Debug, Clone)]
pub struct Guarded {
    pub app: AppState,
    pub access: Access,
}

/// Runs before every route: finds the session, checks the role and, for anything but a GET,
/// the form token; puts the session where the handler's [`Staff`] finds it. Every answer gets
/// headers that keep personal data out of caches and frames.
pub async fn guard(State(g): State<Guarded>, req: Request, next: Next) -> Response {
    let mut response = match check(&g, req).await {
        Ok(req) => {
            // An API request is recorded once it has been answered with data (a refused or
            // wrong one says nothing of anyone); a record that cannot be written withholds the
            // answer.
            let api = req.extensions().get::<super::api::Client>().map(|c| {
                let what = req
                    .uri()
                    .path_and_query()
                    .map_or_else(|| req.uri().path().to_string(), |p| p.as_str().to_string());
                (c.0.clone(), what)
            });
            let response = next.run(req).await;
            match api {
                Some((client, what)) if response.status().is_success() => {
                    let now = g.app.now();
                    match g
                        .app
                        .store
                        .call(move |s| s.api_used(&client, &what, now))
                        .await
                    {
                        Ok(()) => response,
                        Err(e) => super::api::ApiError::from(e).into_response(),
                    }
                }
                _ => response,
            }
        }
        Err(refused) => refused,
    };
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; form-action 'self'; frame-ancestors 'none'"),
    );
    response
}

async fn check(g: &Guarded, req: Request) -> Result<Request, Response> {
    let roles = match g.access {
        Access::Public => {
            if req.method() != Method::GET && !same_origin(req.headers()) {
                tracing::warn!(path = %req.uri().path(), "a cross-site form refused");
                return Err(PageError::forbidden(layout::STALE_FORM).into_response());
            }
            return Ok(req);
        }
        Access::Roles(roles) => roles,
        Access::Api(scope) => return api_client(g, req, scope).await,
    };
    let jar = CookieJar::from_headers(req.headers());
    let session = match jar.get(COOKIE) {
        Some(c) => {
            let hash = token_hash(c.value());
            let now = g.app.now();
            g.app
                .store
                .call(move |s| s.session(&hash, now))
                .await
                .map_err(|e| PageError::from(e).into_response())?
        }
        None => None,
    };
    let Some(session) = session else {
        if req.method() == Method::GET {
            let next = req
                .uri()
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .to_string();
            let to = format!("/signin?next={}", urlencode(&next));
            return Err(Redirect::to(&to).into_response());
        }
        return Err(PageError::unauthorised().into_response());
    };
    if !roles.contains(&session.user.role) {
        tracing::warn!(
            login = %session.user.login,
            path = %req.uri().path(),
            "a page refused to the role {}",
            session.user.role.as_str()
        );
        return Err(PageError::forbidden(layout::NOT_YOUR_ROLE).into_response());
    }
    let req = if req.method() == Method::GET || req.method() == Method::HEAD {
        req
    } else {
        let (parts, body) = req.into_parts();
        let bytes: Bytes = axum::body::to_bytes(body, MAX_FORM)
            .await
            .map_err(|_| PageError::bad_request("Форма слишком большая.").into_response())?;
        let given = form_field(&bytes, "csrf");
        if !given.is_some_and(|t| constant_time_eq(t.as_bytes(), session.csrf.as_bytes())) {
            tracing::warn!(
                login = %session.user.login,
                path = %parts.uri.path(),
                "a form without this session's token refused"
            );
            return Err(PageError::forbidden(layout::STALE_FORM).into_response());
        }
        Request::from_parts(parts, Body::from(bytes))
    };
    let mut req = req;
    req.extensions_mut().insert(session);
    Ok(req)
}

/// An API request: the client of its bearer token, if the token is one, not revoked, and has
/// `scope` (its use is recorded by [`guard`] once answered).
async fn api_client(g: &Guarded, req: Request, scope: Scope) -> Result<Request, Response> {
    use super::api::{ApiError, Client};
    let refuse = |status, message: &str| ApiError::new(status, message).into_response();
    let Some(token) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        // The scheme's name is case-insensitive (RFC 7235).
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|t| !t.is_empty())
    else {
        return Err(refuse(
            StatusCode::UNAUTHORIZED,
            "Нужен ключ доступа: заголовок «Authorization: Bearer КЛЮЧ». Ключ выдаёт администратор журнала.",
        ));
    };
    let hash = token_hash(token);
    let found = g
        .app
        .store
        .call(move |s| s.api_client(&hash))
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    let Some(client) = found else {
        tracing::warn!(path = %req.uri().path(), "an API request with an unknown token refused");
        return Err(refuse(
            StatusCode::UNAUTHORIZED,
            "Такого ключа доступа нет.",
        ));
    };
    if client.revoked_at.is_some() {
        tracing::warn!(client = %client.name, "an API request with a revoked token refused");
        return Err(refuse(
            StatusCode::UNAUTHORIZED,
            "Ключ доступа отозван администратором журнала.",
        ));
    }
    if !client.may(scope) {
        tracing::warn!(client = %client.name, scope = scope.as_str(), "an API request outside the token's scopes refused");
        return Err(refuse(
            StatusCode::FORBIDDEN,
            &format!(
                "Этому ключу не разрешено читать: {} (область «{}»).",
                scope.label(),
                scope.as_str()
            ),
        ));
    }
    let mut req = req;
    req.extensions_mut().insert(Client(client));
    Ok(req)
}

/// Whether a form was posted from this server's own page: a browser says so in `Origin` (or,
/// failing that, `Sec-Fetch-Site`); a request that says neither (a script, curl) is let through
/// to the login and password check.
fn same_origin(h: &HeaderMap) -> bool {
    let host = h.get(header::HOST).and_then(|v| v.to_str().ok());
    if let Some(origin) = h.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        let bare = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
            .unwrap_or(origin);
        return Some(bare) == host;
    }
    match h.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        Some(site) => site == "same-origin" || site == "none",
        None => true,
    }
}

/// One field of a urlencoded form.
pub fn form_field(body: &[u8], name: &str) -> Option<String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `s` for a query string.
pub fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("", s)])
        .map(|q| q.trim_start_matches('=').to_string())
        .unwrap_or_default()
}
