//! The journal's pages in-process, on a generated institution (a real SQLite journal filled
//! through the store's commit path): who may open what (a role × route matrix walked from the
//! router's own table), form tokens, the sign-in limiter, corrections with reasons, the head's
//! sign-off locking a month, and the act's figures against what the generator produced;
//! people, cards and the timetable kept on the pages in `people.rs`.

#![allow(clippy::unwrap_used)]

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use chrono::{Datelike, NaiveDate};
use otmetka_journal::clock::FixedClock;
use otmetka_journal::config::JournalConfig;
use otmetka_journal::documents::Documents;
use otmetka_journal::feed::FeedHealth;
use otmetka_journal::store::staff::{NewUser, Role};
use otmetka_journal::store::{self, Shared};
use otmetka_journal::web::auth::{Access, hash_password};
use otmetka_journal::web::{AppState, routes};
use otmetka_tests::institution::{self, Institution};
use std::sync::Arc;
use tower::ServiceExt;

mod account;
mod api;
mod egisso;
mod export;
mod feedback;
mod fleet;
mod pdf;
mod people;
mod sessions;
mod violations;
mod visits;

const PASSWORD: &str = "correct horse battery";

struct Site {
    _dir: tempfile::TempDir,
    inst: Institution,
    app: Router,
    store: Shared,
    rt: tokio::runtime::Runtime,
}

/// An answer: status, headers we look at, body.
struct Answer {
    status: StatusCode,
    location: Option<String>,
    cookie: Option<String>,
    body: String,
}

impl Site {
    fn new() -> Site {
        Site::with_config(|_| String::new())
    }

    /// A site whose `journal.toml` ends with what `extra` gives for the site's directory.
    fn with_config(extra: impl FnOnce(&std::path::Path) -> String) -> Site {
        let dir = tempfile::tempdir().unwrap();
        let from = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        let to = NaiveDate::from_ymd_opt(2026, 12, 11).unwrap();
        let inst = institution::generate(dir.path(), 30, from, to, 3, 20261202).unwrap();
        let more = extra(dir.path());
        if !more.is_empty() {
            let text = std::fs::read_to_string(&inst.config).unwrap();
            std::fs::write(&inst.config, format!("{text}\n{more}")).unwrap();
        }
        let cfg = JournalConfig::load(&inst.config).unwrap();
        let docs = Arc::new(Documents::load(&cfg).unwrap());
        let store = Shared::new(store::open(&cfg.database().unwrap()).unwrap());
        let clock = Arc::new(FixedClock::new("2026-12-11T14:00:00Z".parse().unwrap()));
        let state = AppState::new(&cfg, docs, store.clone(), FeedHealth::default(), clock);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let hash = hash_password(PASSWORD).unwrap();
        let mut db = store::open(&cfg.database().unwrap()).unwrap();
        otmetka_journal::documents::import_files(
            db.as_mut(),
            &Documents::load(&cfg).unwrap(),
            "2026-10-01T09:00:00Z".parse().unwrap(),
        )
        .unwrap();
        for role in Role::ALL {
            db.add_user(
                &NewUser {
                    login: role.as_str().into(),
                    name: format!("Сотрудник ({})", role.label()),
                    role,
                    password_hash: hash.clone(),
                },
                "2026-10-01T09:00:00Z".parse().unwrap(),
            )
            .unwrap();
        }
        Site {
            _dir: dir,
            inst,
            app: otmetka_journal::web::router(state),
            store,
            rt,
        }
    }

    fn send(&self, method: Method, path: &str, cookie: Option<&str>, form: Option<&str>) -> Answer {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, "127.0.0.1:8080");
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        let req = match form {
            Some(f) => req
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(f.to_string())),
            None => req.body(Body::empty()),
        }
        .unwrap();
        let app = self.app.clone();
        self.rt.block_on(async move {
            let res = app.oneshot(req).await.unwrap();
            let h = |name: header::HeaderName| {
                res.headers()
                    .get(name)
                    .map(|v| v.to_str().unwrap().to_string())
            };
            let location = h(header::LOCATION);
            let cookie = h(header::SET_COOKIE);
            let status = res.status();
            let body = axum::body::to_bytes(res.into_body(), 1 << 24)
                .await
                .unwrap();
            Answer {
                status,
                location,
                cookie,
                body: String::from_utf8_lossy(&body).into_owned(),
            }
        })
    }

    /// Signs in through the sign-in form; returns the cookie and the session's form token.
    fn sign_in(&self, login: &str) -> (String, String) {
        let a = self.send(
            Method::POST,
            "/signin",
            None,
            Some(&format!("login={login}&password={}", enc(PASSWORD))),
        );
        assert_eq!(a.status, StatusCode::SEE_OTHER, "{login}: {}", a.body);
        let set = a.cookie.expect("a session cookie");
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Strict"),
            "{set}"
        );
        let cookie = set.split(';').next().unwrap().to_string();
        let page = self.send(Method::GET, "/journal", Some(&cookie), None);
        assert_eq!(page.status, StatusCode::OK);
        (cookie, csrf_of(&page.body))
    }

    fn units_of(&self, session: &str) -> Vec<otmetka_journal::store::staff::UnitRecord> {
        let id = otmetka_core::session::SessionId(session.parse().unwrap());
        self.rt
            .block_on(self.store.call(move |s| s.session_journal(id)))
            .unwrap()
            .unwrap()
            .units
    }
}

fn enc(s: &str) -> String {
    otmetka_journal::web::auth::urlencode(s)
}

fn csrf_of(body: &str) -> String {
    let at = body
        .find("name=\"csrf\" value=\"")
        .expect("a form token on the page");
    let rest = &body[at + 19..];
    rest[..rest.find('"').unwrap()].to_string()
}

/// Who the matrix expects to be let in, per (method, path). A route the router has and this
/// table lacks fails the test: the access of every new route is decided here, on purpose.
const MATRIX: &[(&str, &str, &str)] = &[
    ("GET", "/healthz", "public"),
    ("GET", "/style.css", "public"),
    ("GET", "/signin", "public"),
    ("POST", "/signin", "public"),
    ("POST", "/signout", "admin head specialist auditor"),
    ("GET", "/account", "admin head specialist auditor"),
    ("POST", "/account/password", "admin head specialist auditor"),
    ("GET", "/", "admin head specialist auditor"),
    ("GET", "/journal", "admin head specialist auditor"),
    ("GET", "/journal/pdf", "admin head specialist auditor"),
    (
        "GET",
        "/journal/sessions/{id}",
        "admin head specialist auditor",
    ),
    (
        "POST",
        "/journal/sessions/{id}/checkins",
        "admin head specialist",
    ),
    (
        "POST",
        "/journal/units/{id}/remove",
        "admin head specialist",
    ),
    (
        "POST",
        "/journal/units/{id}/correct",
        "admin head specialist",
    ),
    (
        "POST",
        "/journal/sessions/{id}/correct",
        "admin head specialist",
    ),
    ("POST", "/journal/sign-off", "head"),
    ("POST", "/journal/reopen", "head"),
    ("GET", "/journal/taps", "admin head specialist auditor"),
    ("POST", "/journal/taps/{tap}/match", "admin head specialist"),
    ("GET", "/acts", "admin head specialist auditor"),
    ("GET", "/acts/{recipient}", "admin head specialist auditor"),
    (
        "GET",
        "/acts/{recipient}/pdf",
        "admin head specialist auditor",
    ),
    ("GET", "/timetable", "admin head specialist auditor"),
    ("POST", "/timetable/sessions", "admin head specialist"),
    ("POST", "/timetable/sessions/{id}", "admin head specialist"),
    ("POST", "/timetable/approve", "head"),
    (
        "POST",
        "/timetable/sessions/{id}/remove",
        "admin head specialist",
    ),
    ("POST", "/timetable/days-off", "admin head specialist"),
    ("GET", "/quality", "admin head specialist auditor"),
    ("POST", "/quality/feedback", "admin head specialist"),
    (
        "POST",
        "/quality/feedback/{id}/answer",
        "admin head specialist",
    ),
    ("GET", "/people", "admin head specialist auditor"),
    ("GET", "/people/new", "admin head specialist"),
    ("POST", "/people/new", "admin head specialist"),
    (
        "GET",
        "/people/{recipient}",
        "admin head specialist auditor",
    ),
    ("POST", "/people/{recipient}", "admin head specialist"),
    ("POST", "/people/{recipient}/cards", "admin head specialist"),
    (
        "POST",
        "/people/{recipient}/cards/{card}",
        "admin head specialist",
    ),
    ("POST", "/people/{recipient}/card", "admin head specialist"),
    ("POST", "/people/{recipient}/anonymise", "admin"),
    ("GET", "/instructors", "admin head specialist auditor"),
    ("POST", "/instructors", "admin head"),
    ("POST", "/instructors/{id}", "admin head"),
    ("GET", "/visits", "admin head specialist auditor"),
    ("GET", "/violations", "admin head specialist auditor"),
    ("POST", "/visits", "admin head specialist"),
    ("GET", "/exports", "head specialist"),
    ("POST", "/exports", "head specialist"),
    ("GET", "/exports/egisso", "head specialist"),
    ("GET", "/exports/egisso/file", "head specialist"),
    ("GET", "/exports/{id}", "head specialist"),
    ("GET", "/exports/{id}/file", "head specialist"),
    ("GET", "/fleet", "admin head specialist auditor"),
    ("POST", "/fleet/provision", "admin"),
    ("POST", "/fleet/{site}/{kiosk}/revoke", "admin"),
    ("GET", "/users", "admin"),
    ("POST", "/users", "admin"),
    ("POST", "/users/{login}/disable", "admin"),
    ("POST", "/users/{login}/instructor", "admin"),
    ("GET", "/audit", "admin"),
    ("GET", "/api-clients", "admin"),
    ("POST", "/api-clients", "admin"),
    ("POST", "/api-clients/{id}/revoke", "admin"),
    ("GET", "/api/v1/openapi.json", "public"),
    ("GET", "/api/v1/units", "token"),
    ("GET", "/api/v1/sessions", "token"),
    ("GET", "/api/v1/recipients", "token"),
];

#[test]
fn every_route_admits_exactly_the_roles_of_the_matrix_and_nothing_but_sign_in_is_open() {
    let site = Site::new();
    let (session, _) = site.inst.sessions[0];
    let unit = site.units_of(&session.to_string())[0].unit.id.0;
    let recipient = site.inst.recipients[0].0;
    let signed: Vec<(Role, (String, String))> = Role::ALL
        .iter()
        .map(|r| (*r, site.sign_in(r.as_str())))
        .collect();
    let mut table = routes::table();
    // Sign-out ends the session the rest of the walk uses: last.
    table.sort_by_key(|r| r.path == "/signout");
    let mut seen = Vec::new();
    for r in &table {
        let method = r.method.as_str();
        let entry = MATRIX
            .iter()
            .find(|(m, p, _)| *m == method && *p == r.path)
            .unwrap_or_else(|| {
                panic!(
                    "{method} {} has no entry in the access matrix of this test: decide who may \
                     use it and add it",
                    r.path
                )
            });
        seen.push((method, r.path));
        let public = entry.2 == "public";
        assert_eq!(public, r.access == Access::Public, "{method} {}", r.path);
        let path = r
            .path
            .replace(
                "{id}",
                &if r.path.contains("units") {
                    unit.to_string()
                } else {
                    session.to_string()
                },
            )
            .replace("{recipient}", &recipient.to_string())
            .replace("{tap}", &uuid::Uuid::nil().to_string())
            .replace("{card}", "999999")
            .replace("{login}", "nobody-such")
            .replace("{site}", "demo")
            .replace("{kiosk}", "nobody-such");
        // Forms that an admitted role sends are invalid on purpose: the walk changes nothing.
        let form = |csrf: &str| {
            format!("csrf={csrf}&month=never&reason=&login=&recipient=&site=demo&kiosk=")
        };
        // Another system's routes: a token, never a staff session.
        if entry.2 == "token" {
            assert!(matches!(r.access, Access::Api(_)), "{method} {}", r.path);
            let a = site.send(r.method.clone(), &path, None, None);
            assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{method} {path}");
            for (role, (cookie, _)) in &signed {
                let a = site.send(r.method.clone(), &path, Some(cookie), None);
                assert_eq!(
                    a.status,
                    StatusCode::UNAUTHORIZED,
                    "{} is no API client of {method} {path}",
                    role.as_str()
                );
            }
            continue;
        }
        // Not signed in.
        let a = site.send(
            r.method.clone(),
            &path,
            None,
            (method == "POST").then(|| form("x")).as_deref(),
        );
        if public {
            assert!(
                !matches!(a.status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN)
                    || r.path == "/signin",
                "{method} {path} is public: {}",
                a.status
            );
        } else if method == "GET" {
            assert_eq!(
                a.status,
                StatusCode::SEE_OTHER,
                "{method} {path} without signing in"
            );
            assert!(
                a.location.as_deref().unwrap().starts_with("/signin?next="),
                "{:?}",
                a.location
            );
            assert!(!a.body.contains("Ольга"), "nothing of the page leaks");
        } else {
            assert_eq!(
                a.status,
                StatusCode::UNAUTHORIZED,
                "{method} {path} without signing in"
            );
        }
        if public {
            continue;
        }
        for (role, (cookie, csrf)) in &signed {
            let a = site.send(
                r.method.clone(),
                &path,
                Some(cookie),
                (method == "POST").then(|| form(csrf)).as_deref(),
            );
            let admitted = entry.2.split(' ').any(|w| w == role.as_str());
            if admitted {
                assert!(
                    !matches!(a.status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN)
                        && !a
                            .location
                            .as_deref()
                            .is_some_and(|l| l.starts_with("/signin?")),
                    "{} must be let in to {method} {path}: {} {}",
                    role.as_str(),
                    a.status,
                    a.body.chars().take(300).collect::<String>()
                );
                assert!(!a.status.is_server_error(), "{method} {path}: {}", a.body);
            } else {
                assert_eq!(
                    a.status,
                    StatusCode::FORBIDDEN,
                    "{} must not use {method} {path}",
                    role.as_str()
                );
                assert!(a.body.contains("недоступна для вашей роли"), "{}", a.body);
            }
        }
    }
    for (m, p, _) in MATRIX {
        assert!(
            seen.contains(&(*m, *p)),
            "the matrix names {m} {p}, which the router does not have"
        );
    }
    // The walk changed nothing.
    let session_units = site.units_of(&session.to_string());
    assert!(
        session_units
            .iter()
            .all(|u| u.added.is_none() && u.removed.is_none())
    );
}

#[test]
fn a_form_without_this_sessions_token_is_refused_and_changes_nothing() {
    let site = Site::new();
    let (cookie, csrf) = site.sign_in("specialist");
    let (session, _) = site.inst.sessions[2];
    let present: Vec<_> = site
        .units_of(&session.to_string())
        .iter()
        .filter_map(|u| u.unit.recipient)
        .collect();
    let absent = site
        .inst
        .recipients
        .iter()
        .find(|(r, _)| !present.contains(r))
        .unwrap()
        .0;
    let path = format!("/journal/sessions/{session}/checkins");
    let body = |token: Option<&str>| {
        let mut f = format!(
            "recipient={absent}&reason={}",
            enc("Забыла карту дома, была на занятии")
        );
        if let Some(t) = token {
            f = format!("csrf={t}&{f}");
        }
        f
    };
    for (what, token) in [
        ("none", None),
        ("another", Some("0".repeat(64))),
        ("empty", Some(String::new())),
    ] {
        let a = site.send(
            Method::POST,
            &path,
            Some(&cookie),
            Some(&body(token.as_deref())),
        );
        assert_eq!(a.status, StatusCode::FORBIDDEN, "token {what}");
        assert!(a.body.contains("Форма устарела"), "{}", a.body);
    }
    assert_eq!(
        site.units_of(&session.to_string()).len(),
        present.len(),
        "nothing added"
    );
    // Another session's token is no better.
    let (_, other_csrf) = site.sign_in("head");
    let a = site.send(
        Method::POST,
        &path,
        Some(&cookie),
        Some(&body(Some(&other_csrf))),
    );
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    // Its own token: added, with the reason, by the specialist.
    let a = site.send(Method::POST, &path, Some(&cookie), Some(&body(Some(&csrf))));
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let units = site.units_of(&session.to_string());
    let added = units
        .iter()
        .find(|u| u.unit.recipient == Some(absent))
        .unwrap();
    let change = added.added.as_ref().unwrap();
    assert_eq!(
        (change.by.as_str(), change.reason.as_str()),
        (
            "Сотрудник (Специалист)",
            "Забыла карту дома, была на занятии"
        )
    );
    assert!(added.unit.manual && added.counts());
    // A sign-in form posted from another site is refused before the password is looked at.
    let req = Request::builder()
        .method(Method::POST)
        .uri("/signin")
        .header(header::HOST, "127.0.0.1:8080")
        .header(header::ORIGIN, "http://evil.example")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    let app = site.app.clone();
    let status = site.rt.block_on(async move {
        app.oneshot(
            req.body(Body::from(format!(
                "login=admin&password={}",
                enc(PASSWORD)
            )))
            .unwrap(),
        )
        .await
        .unwrap()
        .status()
    });
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[test]
fn sign_in_is_refused_after_five_failures_and_each_is_in_the_audit_log() {
    let site = Site::new();
    for _ in 0..5 {
        let a = site.send(
            Method::POST,
            "/signin",
            None,
            Some("login=head&password=wrong-password"),
        );
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
        assert!(
            a.body.contains("Неверное имя пользователя или пароль"),
            "{}",
            a.body
        );
    }
    let a = site.send(
        Method::POST,
        "/signin",
        None,
        Some(&format!("login=head&password={}", enc(PASSWORD))),
    );
    assert_eq!(
        a.status,
        StatusCode::TOO_MANY_REQUESTS,
        "the right password is refused too while locked"
    );
    assert!(a.body.contains("Слишком много неудачных попыток"));
    // Another login is not locked by it.
    site.sign_in("specialist");
    let log = site
        .rt
        .block_on(site.store.call(|s| s.audit_log(50)))
        .unwrap();
    assert_eq!(
        log.iter()
            .filter(|e| e.action == "sign_in_failed" && e.login == "head")
            .count(),
        5
    );
    assert!(
        log.iter()
            .any(|e| e.action == "sign_in_refused" && e.login == "head")
    );
    // Unknown logins get the same answer as wrong passwords.
    let a = site.send(
        Method::POST,
        "/signin",
        None,
        Some("login=nobody&password=whatever-it-is"),
    );
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert!(a.body.contains("Неверное имя пользователя или пароль"));
}

#[test]
fn a_signed_off_month_cannot_be_changed_until_the_head_reopens_it_with_a_reason() {
    let site = Site::new();
    let (spec, spec_csrf) = site.sign_in("specialist");
    let (head, head_csrf) = site.sign_in("head");
    let (session, date) = *site
        .inst
        .sessions
        .iter()
        .find(|(_, d)| d.month() == 11)
        .unwrap();
    let units = site.units_of(&session.to_string());
    let unit = units[0].unit.id.0;
    // A correction without a reason: the form back, the field marked, nothing saved.
    let remove = format!("/journal/units/{unit}/remove");
    let a = site.send(
        Method::POST,
        &remove,
        Some(&spec),
        Some(&format!("csrf={spec_csrf}&reason=")),
    );
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        a.body.contains("Укажите причину исправления.") && a.body.contains("field-error"),
        "{}",
        a.body
    );
    assert!(
        site.units_of(&session.to_string())
            .iter()
            .all(|u| u.counts())
    );
    // The head signs off November.
    let a = site.send(
        Method::POST,
        "/journal/sign-off",
        Some(&head),
        Some(&format!("csrf={head_csrf}&site=demo&month=2026-11")),
    );
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let page = site.send(Method::GET, "/journal?month=2026-11", Some(&spec), None);
    assert!(
        page.body.contains("Месяц подписан заведующим"),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains("/journal/sign-off"),
        "the specialist gets no sign-off button"
    );
    // Every route that changes a unit is refused for it now.
    let reason = enc("Ошибочно отмечен, был на другом занятии");
    let a = site.send(
        Method::POST,
        &remove,
        Some(&spec),
        Some(&format!("csrf={spec_csrf}&reason={reason}")),
    );
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.body);
    assert!(a.body.contains("подписан заведующим"));
    let present: Vec<_> = units.iter().filter_map(|u| u.unit.recipient).collect();
    let absent = site
        .inst
        .recipients
        .iter()
        .find(|(r, _)| !present.contains(r))
        .unwrap()
        .0;
    let add = format!("/journal/sessions/{session}/checkins");
    let a = site.send(
        Method::POST,
        &add,
        Some(&spec),
        Some(&format!(
            "csrf={spec_csrf}&recipient={absent}&reason={reason}"
        )),
    );
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.body);
    let a = site.send(
        Method::POST,
        &format!("/journal/units/{unit}/correct"),
        Some(&spec),
        Some(&format!(
            "csrf={spec_csrf}&recipient={absent}&reason={reason}"
        )),
    );
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.body);
    let after = site.units_of(&session.to_string());
    assert_eq!(after, units, "nothing changed in {date}");
    // The session page offers no correction while signed off.
    let page = site.send(
        Method::GET,
        &format!("/journal/sessions/{session}"),
        Some(&spec),
        None,
    );
    assert!(
        !page.body.contains("/remove\""),
        "no remove form on a signed-off month"
    );
    // Reopening needs a reason; with one, the correction goes through and everything is audited.
    let a = site.send(
        Method::POST,
        "/journal/reopen",
        Some(&head),
        Some(&format!("csrf={head_csrf}&site=demo&month=2026-11&reason=")),
    );
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    let why = enc("Специалист нашёл ошибку в отметках за 5 ноября");
    let a = site.send(
        Method::POST,
        "/journal/reopen",
        Some(&head),
        Some(&format!(
            "csrf={head_csrf}&site=demo&month=2026-11&reason={why}"
        )),
    );
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    let a = site.send(
        Method::POST,
        &remove,
        Some(&spec),
        Some(&format!("csrf={spec_csrf}&reason={reason}")),
    );
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let removed = site
        .units_of(&session.to_string())
        .into_iter()
        .find(|u| u.unit.id.0 == unit)
        .unwrap();
    assert_eq!(
        removed.removed.as_ref().unwrap().reason,
        "Ошибочно отмечен, был на другом занятии"
    );
    assert_eq!(
        removed.unit, units[0].unit,
        "the kiosk's unit is kept as it came"
    );
    let log = site
        .rt
        .block_on(site.store.call(|s| s.audit_log(100)))
        .unwrap();
    for action in ["sign_off_month", "reopen_month", "remove_unit"] {
        assert!(
            log.iter().any(|e| e.action == action),
            "{action} in the audit log"
        );
    }
    assert!(
        log.iter()
            .any(|e| e.action == "reopen_month" && e.detail.contains("5 ноября"))
    );
}

/// The calendar weeks that end in November 2026 (Sundays 1 to 29) in which a recipient had
/// fewer units of a service than `count`: (Monday, Sunday, given).
fn short_weeks(
    site: &Site,
    who: otmetka_core::people::RecipientId,
    service: &str,
    count: u32,
) -> Vec<(NaiveDate, NaiveDate, usize)> {
    (1..=30)
        .filter_map(|d| NaiveDate::from_ymd_opt(2026, 11, d))
        .filter(|d| d.weekday() == chrono::Weekday::Sun)
        .filter_map(|sun| {
            let mon = sun - chrono::Duration::days(6);
            let given = site
                .inst
                .units
                .iter()
                .filter(|(r, s, d)| *r == who && s == service && mon <= *d && *d <= sun)
                .count();
            (given < count as usize).then_some((mon, sun, given))
        })
        .collect()
}

#[test]
fn the_act_and_its_totals_are_what_the_generator_produced() {
    let site = Site::new();
    let (cookie, _) = site.sign_in("auditor");
    let month = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
    let cfg = JournalConfig::load(&site.inst.config).unwrap();
    let docs = Documents::load(&cfg).unwrap();
    for (who, name) in site.inst.recipients.iter().take(8) {
        let a = site.send(
            Method::GET,
            &format!("/acts/{who}?month=2026-11"),
            Some(&cookie),
            None,
        );
        assert_eq!(a.status, StatusCode::OK);
        assert!(a.body.contains(name.as_str()), "the act names {name}");
        let mut total = 0;
        let mut short_lines = 0;
        for (service, plan) in &site.inst.planned[who] {
            let given = site.inst.given(*who, service, month);
            total += given;
            let cell = format!("data-service=\"{service}\">{given}<");
            assert!(
                a.body.contains(&cell),
                "{name}, {service}: {given} expected\n{}",
                a.body
            );
            // Plan vs fact in the act: the month's shortfall, or each short calendar week.
            let expected = if plan.weekly {
                let weeks = short_weeks(&site, *who, service, plan.count);
                assert!(
                    a.body.contains(&format!("{} в неделю", plan.count)),
                    "{name}, {service}: weekly"
                );
                (!weeks.is_empty()).then(|| {
                    let listed: Vec<String> = weeks
                        .iter()
                        .map(|(mon, sun, g)| {
                            format!("{}–{} — {g}", mon.format("%d.%m"), sun.format("%d.%m"))
                        })
                        .collect();
                    format!("меньше плана: {}", listed.join("; "))
                })
            } else {
                assert!(a.body.contains(&format!("{} в месяц", plan.count)));
                (given < plan.count as usize)
                    .then(|| format!("меньше плана на {}", plan.count as usize - given))
            };
            short_lines += usize::from(expected.is_some());
            if let Some(words) = expected {
                assert!(
                    a.body.contains(&words),
                    "{name}, {service}: {words}\n{}",
                    a.body
                );
            }
            let svc = docs
                .catalogue
                .get(&otmetka_core::catalogue::ServiceCode(service.clone()))
                .unwrap();
            assert!(
                a.body.contains(svc.title_ru.split('"').next().unwrap()),
                "{}",
                svc.title_ru
            );
        }
        assert_eq!(
            a.body.matches("меньше плана").count(),
            short_lines,
            "{name}: no shortfall shown that the generator did not make"
        );
        assert!(
            a.body
                .contains(&format!("id=\"total\"><strong>{total}</strong>")),
            "{name}: total {total}"
        );
    }
    // Plan vs fact: the head's count of recipients given fewer than planned.
    let short = site
        .inst
        .planned
        .iter()
        .filter(|(who, plan)| {
            plan.iter().any(|(svc, p)| {
                if p.weekly {
                    !short_weeks(&site, **who, svc, p.count).is_empty()
                } else {
                    site.inst.given(**who, svc, month) < p.count as usize
                }
            })
        })
        .count();
    assert!(short > 0, "the generator under-delivers someone");
    let list = site.send(Method::GET, "/acts?month=2026-11", Some(&cookie), None);
    assert!(
        list.body.contains(&format!("<h2>{short} получател")),
        "{short} short of plan:\n{}",
        list.body
    );
    // Opening an act is in the audit log, with whose it was.
    let log = site
        .rt
        .block_on(site.store.call(|s| s.audit_log(100)))
        .unwrap();
    let first = site.inst.recipients[0].0.to_string();
    assert!(
        log.iter()
            .any(|e| e.action == "view_act" && e.subject == first && e.login == "auditor")
    );
    // The month's journal names people and services, not ids.
    let page = site.send(Method::GET, "/journal?month=2026-11", Some(&cookie), None);
    assert!(page.body.contains(site.inst.name(site.inst.units[0].0)));
    assert!(page.body.contains("Ольга Петровна Смирнова"));
    assert!(
        page.body.contains("Требует внимания"),
        "the generated month has marks"
    );
}

#[test]
fn an_unidentified_tap_matched_to_a_person_becomes_their_unit_once_with_the_match_recorded() {
    let site = Site::new();
    let (session, _) = site.inst.sessions[5];
    let units = site.units_of(&session.to_string());
    let at = units[0].unit.started_at + chrono::Duration::minutes(3);
    let tap = institution::unidentified_tap(&site.inst, Some(session), at).unwrap();
    let (cookie, csrf) = site.sign_in("specialist");
    let month = format!("/journal?month={}", units[0].unit.date.format("%Y-%m"));
    let page = site.send(Method::GET, &month, Some(&cookie), None);
    assert!(
        page.body.contains("Неопознанные карты: 1"),
        "the month says so first"
    );
    let list = site.send(Method::GET, "/journal/taps", Some(&cookie), None);
    assert!(list.body.contains(&format!("/journal/taps/{tap}/match")));
    let present: Vec<_> = units.iter().filter_map(|u| u.unit.recipient).collect();
    let (who, name) = site
        .inst
        .recipients
        .iter()
        .find(|(r, _)| !present.contains(r))
        .unwrap()
        .clone();
    let path = format!("/journal/taps/{tap}/match");
    // Nobody chosen: refused, nothing recorded.
    let a = site.send(
        Method::POST,
        &path,
        Some(&cookie),
        Some(&format!("csrf={csrf}&recipient=")),
    );
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert!(a.location.unwrap().contains("error="));
    assert_eq!(site.units_of(&session.to_string()).len(), units.len());
    let a = site.send(
        Method::POST,
        &path,
        Some(&cookie),
        Some(&format!("csrf={csrf}&recipient={who}")),
    );
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert!(a.location.unwrap().contains("done="));
    let after = site.units_of(&session.to_string());
    let added = after
        .iter()
        .find(|u| u.unit.recipient == Some(who))
        .expect("their unit");
    assert!(added.added.as_ref().unwrap().reason.contains(name.as_str()));
    // Matching again changes nothing.
    let a = site.send(
        Method::POST,
        &path,
        Some(&cookie),
        Some(&format!("csrf={csrf}&recipient={who}")),
    );
    assert!(a.location.unwrap().contains("error="));
    assert_eq!(site.units_of(&session.to_string()).len(), units.len() + 1);
    let list = site.send(Method::GET, "/journal/taps", Some(&cookie), None);
    assert!(list.body.contains("Неопознанных карт нет"));
    let log = site
        .rt
        .block_on(site.store.call(|s| s.audit_log(20)))
        .unwrap();
    assert!(
        log.iter()
            .any(|e| e.action == "match_tap" && e.subject == who.to_string())
    );
}

#[test]
fn the_quality_page_shows_the_share_satisfied_per_service_as_the_generator_answered() {
    let site = Site::new();
    let (cookie, _) = site.sign_in("auditor");
    let a = site.send(Method::GET, "/quality?month=2026-11", Some(&cookie), None);
    assert_eq!(a.status, StatusCode::OK);
    let mut by: std::collections::BTreeMap<&str, (usize, usize)> = Default::default();
    for (service, answer, date) in &site.inst.answers {
        if date.month() == 11 {
            let e = by.entry(service.as_str()).or_default();
            e.1 += 1;
            if *answer == otmetka_core::event::Satisfaction::Good {
                e.0 += 1;
            }
        }
    }
    assert!(!by.is_empty());
    for (service, (good, total)) in by {
        let percent = (good * 200 + total) / (2 * total);
        let cell = format!("data-service=\"{service}\">{percent}<");
        assert!(
            a.body.contains(&cell),
            "{service}: {good}/{total} = {percent} %\n{}",
            a.body
        );
    }
}

#[test]
fn the_journal_filters_by_recipient_and_by_service_keep_exactly_their_sessions() {
    let site = Site::new();
    let (cookie, _) = site.sign_in("specialist");
    let (who, name) = site.inst.recipients[3].clone();
    let rows = |body: &str| body.matches("<tr id=\"s-").count();
    let mine = site
        .inst
        .units
        .iter()
        .filter(|(r, _, d)| *r == who && d.month() == 11)
        .count();
    let a = site.send(
        Method::GET,
        &format!("/journal?month=2026-11&recipient={who}"),
        Some(&cookie),
        None,
    );
    assert_eq!(rows(&a.body), mine, "{name}'s sessions in November");
    assert!(a.body.contains("Сбросить отбор"));
    // Who looked at whose attendance is in the audit log (152-ФЗ).
    let log = site
        .rt
        .block_on(site.store.call(|s| s.audit_log(100)))
        .unwrap();
    assert!(
        log.iter().any(|e| e.action == "view_journal"
            && e.subject == who.to_string()
            && e.login == "specialist"
            && e.detail.contains("ноябр")),
        "{log:?}"
    );
    let service = &site.inst.units[0].1;
    let theirs = site
        .inst
        .sessions
        .iter()
        .filter(|(s, d)| {
            d.month() == 11
                && site
                    .inst
                    .units
                    .iter()
                    .any(|(_, svc, ud)| svc == service && ud == d)
                && site
                    .units_of(&s.to_string())
                    .first()
                    .is_some_and(|u| &u.unit.service.0 == service)
        })
        .count();
    let a = site.send(
        Method::GET,
        &format!("/journal?month=2026-11&service={service}"),
        Some(&cookie),
        None,
    );
    assert_eq!(rows(&a.body), theirs, "sessions of {service} in November");
    let all = site.send(Method::GET, "/journal?month=2026-11", Some(&cookie), None);
    assert!(rows(&all.body) > theirs && rows(&all.body) > mine);
}

#[test]
fn the_weeks_timetable_lists_the_planned_sessions_and_leaves_out_holidays() {
    let site = Site::new();
    let (cookie, _) = site.sign_in("specialist");
    // 28 December – 3 January: Tuesday 29th and Friday 1st; Thursday 31st is a holiday.
    let a = site.send(
        Method::GET,
        "/timetable?week=2026-12-30",
        Some(&cookie),
        None,
    );
    assert_eq!(a.status, StatusCode::OK);
    assert!(
        a.body
            .contains("Расписание занятий с 28.12.2026 по 03.01.2027"),
        "{}",
        a.body
    );
    // The week itself, above the planned sessions and days off (which name the holiday).
    let week = &a.body[..a.body.find("Запланированные занятия").unwrap()];
    assert!(week.contains("29.12.2026") && week.contains("01.01.2027"));
    assert!(!week.contains("31.12.2026"), "no sessions on a holiday");
    assert!(a.body.contains("Зал ЛФК") && a.body.contains("Дмитрий Сергеевич Козлов"));
    let bad = site.send(Method::GET, "/timetable?week=someday", Some(&cookie), None);
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("Неделя указана неверно"));
}

#[test]
fn a_late_kiosk_unit_for_a_signed_off_month_is_kept_counted_and_marked() {
    let site = Site::new();
    let (head, head_csrf) = site.sign_in("head");
    let a = site.send(
        Method::POST,
        "/journal/sign-off",
        Some(&head),
        Some(&format!("csrf={head_csrf}&site=demo&month=2026-11")),
    );
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    let who: Vec<_> = site
        .inst
        .recipients
        .iter()
        .take(3)
        .map(|(r, _)| *r)
        .collect();
    let day = NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
    let session = institution::late_session(&site.inst, day, &who).unwrap();
    let units = site.units_of(&session.to_string());
    assert_eq!(
        units.len(),
        3,
        "confirmed units are never lost, signed month or not"
    );
    assert!(
        units
            .iter()
            .all(|u| u.after_signoff.is_some() && u.counts())
    );
    let page = site.send(Method::GET, "/journal?month=2026-11", Some(&head), None);
    assert!(
        page.body.contains("пришло с киоска после подписи месяца"),
        "the head sees it first"
    );
    // And it is in the act.
    let before = site.inst.given(who[0], "001", day);
    let act = site.send(
        Method::GET,
        &format!("/acts/{}?month=2026-11", who[0]),
        Some(&head),
        None,
    );
    assert!(
        act.body
            .contains(&format!("data-service=\"001\">{}<", before + 1)),
        "{}",
        act.body
    );
}

#[test]
fn a_disabled_user_is_signed_out_at_once_and_cannot_sign_in_again() {
    let site = Site::new();
    let (admin, csrf) = site.sign_in("admin");
    let (spec, _) = site.sign_in("specialist");
    let a = site.send(
        Method::POST,
        "/users/admin/disable",
        Some(&admin),
        Some(&format!("csrf={csrf}")),
    );
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "not oneself");
    let a = site.send(
        Method::POST,
        "/users/specialist/disable",
        Some(&admin),
        Some(&format!("csrf={csrf}")),
    );
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    let page = site.send(Method::GET, "/journal", Some(&spec), None);
    assert_eq!(page.status, StatusCode::SEE_OTHER, "their session ended");
    let again = site.send(
        Method::POST,
        "/signin",
        None,
        Some(&format!("login=specialist&password={}", enc(PASSWORD))),
    );
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
    let users = site.send(Method::GET, "/users", Some(&admin), None);
    assert!(users.body.contains("отключён"));
    let log = site
        .rt
        .block_on(site.store.call(|s| s.audit_log(20)))
        .unwrap();
    assert!(
        log.iter()
            .any(|e| e.action == "disable_user" && e.subject == "specialist")
    );
}

#[test]
fn the_journal_filters_by_day_and_by_group_keep_exactly_their_sessions() {
    let site = Site::new();
    let (cookie, _) = site.sign_in("specialist");
    let rows = |body: &str| body.matches("<tr id=\"s-").count();
    // One day: the sessions the generator opened that local date.
    let day = NaiveDate::from_ymd_opt(2026, 11, 5).unwrap();
    let that_day = site.inst.sessions.iter().filter(|(_, d)| *d == day).count();
    assert!(that_day > 0);
    let a = site.send(
        Method::GET,
        "/journal?month=2026-11&day=2026-11-05",
        Some(&cookie),
        None,
    );
    assert_eq!(rows(&a.body), that_day, "sessions of 5 November");
    assert!(
        a.body.contains("value=\"2026-11-05\""),
        "the day stays in its field"
    );
    // A day that is not one of the month's: a clear refusal, not an empty journal.
    for bad in ["2026-12-05", "5 ноября"] {
        let a = site.send(
            Method::GET,
            &format!("/journal?month=2026-11&day={}", enc(bad)),
            Some(&cookie),
            None,
        );
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(a.body.contains("День указан неверно"), "{}", a.body);
    }
    // The club: the sessions opened for it, not those its members (every third recipient)
    // went to on their own.
    let of_club = site
        .inst
        .sessions
        .iter()
        .filter(|(s, d)| d.month() == 11 && site.inst.club_sessions.contains(s))
        .count();
    assert!(of_club > 0);
    let all = site.send(Method::GET, "/journal?month=2026-11", Some(&cookie), None);
    assert!(
        all.body.contains("Клуб «Рукодельница»"),
        "the group is offered"
    );
    let a = site.send(
        Method::GET,
        &format!("/journal?month=2026-11&group={}", institution::CLUB),
        Some(&cookie),
        None,
    );
    assert_eq!(rows(&a.body), of_club, "the club's sessions in November");
    assert!(of_club < rows(&all.body), "the filter leaves some out");
}

#[test]
fn a_check_in_of_the_wrong_person_is_corrected_in_one_step_and_both_sides_are_kept() {
    let site = Site::new();
    let (spec, csrf) = site.sign_in("specialist");
    let (session, _) = *site
        .inst
        .sessions
        .iter()
        .find(|(s, d)| d.month() == 11 && site.units_of(&s.to_string()).len() >= 2)
        .unwrap();
    let units = site.units_of(&session.to_string());
    let (unit, wrong) = (units[0].unit.id.0, units[0].unit.recipient.unwrap());
    let present: Vec<_> = units.iter().filter_map(|u| u.unit.recipient).collect();
    let right = site
        .inst
        .recipients
        .iter()
        .find(|(r, _)| !present.contains(r))
        .unwrap()
        .0;
    let path = format!("/journal/units/{unit}/correct");
    let page = site.send(
        Method::GET,
        &format!("/journal/sessions/{session}"),
        Some(&spec),
        None,
    );
    assert!(page.body.contains("Отмечен не тот человек"));
    // One correction form for the page, not a list of everyone per unit.
    assert!(
        page.body.matches("name=\"recipient\"").count() <= 2,
        "{} bytes",
        page.body.len()
    );
    let reason = enc("Карту Ивановой приложила её соседка");
    // Someone who is not on the list, someone already in the session, no reason: refused, and
    // nothing changes.
    for (to, why, status) in [
        (
            uuid::Uuid::nil().to_string(),
            reason.clone(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (present[1].to_string(), reason.clone(), StatusCode::CONFLICT),
        (
            right.to_string(),
            String::new(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let a = site.send(
            Method::POST,
            &path,
            Some(&spec),
            Some(&format!("csrf={csrf}&recipient={to}&reason={why}")),
        );
        assert_eq!(a.status, status, "{to}: {}", a.body);
        assert_eq!(
            site.units_of(&session.to_string()),
            units,
            "nothing changed"
        );
    }
    // The page's form names the unit; one of another session is not taken.
    let form = format!("/journal/sessions/{session}/correct");
    let other = site
        .inst
        .sessions
        .iter()
        .map(|(s, _)| *s)
        .find(|s| *s != session && !site.units_of(&s.to_string()).is_empty())
        .unwrap();
    let foreign = site.units_of(&other.to_string())[0].unit.id.0;
    let a = site.send(
        Method::POST,
        &form,
        Some(&spec),
        Some(&format!(
            "csrf={csrf}&unit={foreign}&recipient={right}&reason={reason}"
        )),
    );
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.body);
    let a = site.send(
        Method::POST,
        &form,
        Some(&spec),
        Some(&format!(
            "csrf={csrf}&unit={unit}&recipient={right}&reason={reason}"
        )),
    );
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let after = site.units_of(&session.to_string());
    let old = after.iter().find(|u| u.unit.id.0 == unit).unwrap();
    assert_eq!(
        old.removed.as_ref().unwrap().reason,
        "Карту Ивановой приложила её соседка"
    );
    assert_eq!(
        old.unit, units[0].unit,
        "the kiosk's unit is kept as it came"
    );
    let new = after
        .iter()
        .find(|u| u.unit.recipient == Some(right))
        .unwrap();
    assert!(new.counts() && new.added.is_some());
    assert_eq!(
        after.iter().filter(|u| u.counts()).count(),
        units.len(),
        "one unit moved, none added or lost"
    );
    let log = site
        .rt
        .block_on(site.store.call(|s| s.audit_log(100)))
        .unwrap();
    assert!(log.iter().any(|e| e.action == "correct_unit"
        && e.subject == right.to_string()
        && e.detail.contains(&wrong.to_string())));
}
