//! Every route of the web server with its handler; each takes its access rule from
//! [`super::access`] (a route that table does not name admits nobody). The router is built from
//! [`table`] and nothing else; the access test walks the same table.

use super::access::{self, Access};
use super::auth::{self, Guarded};
use super::{
    AppState, account, acts, api, api_clients, audit, egisso, exports, fleet, health, instructors,
    journal, layout, pdf, people, quality, signin, taps, timetable, users, violations, visits,
};
use axum::Router;
use axum::http::{Method, header};
use axum::middleware;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{MethodRouter, get, post};

/// One route.
#[derive(Debug)]
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    pub handler: MethodRouter<AppState>,
}

fn route(method: Method, path: &'static str, handler: MethodRouter<AppState>) -> Route {
    Route {
        access: access::of(method.as_str(), path),
        method,
        path,
        handler,
    }
}

/// The routes, with their access.
pub fn table() -> Vec<Route> {
    let (g, p) = (Method::GET, Method::POST);
    vec![
        route(g.clone(), "/healthz", get(health::page)),
        route(g.clone(), "/style.css", get(style)),
        route(g.clone(), "/signin", get(signin::form)),
        route(p.clone(), "/signin", post(signin::submit)),
        route(p.clone(), "/signout", post(signin::sign_out)),
        route(g.clone(), "/account", get(account::show)),
        route(
            p.clone(),
            "/account/password",
            post(account::change_password),
        ),
        route(g.clone(), "/", get(home)),
        route(g.clone(), "/journal", get(journal::month)),
        route(g.clone(), "/journal/pdf", get(pdf::group_month)),
        route(g.clone(), "/journal/sessions/{id}", get(journal::session)),
        route(
            p.clone(),
            "/journal/sessions/{id}/checkins",
            post(journal::add_checkin),
        ),
        route(
            p.clone(),
            "/journal/units/{id}/remove",
            post(journal::remove_unit),
        ),
        route(
            p.clone(),
            "/journal/units/{id}/correct",
            post(journal::correct_unit),
        ),
        route(
            p.clone(),
            "/journal/sessions/{id}/correct",
            post(journal::correct_in_session),
        ),
        route(p.clone(), "/journal/sign-off", post(journal::sign_off)),
        route(p.clone(), "/journal/reopen", post(journal::reopen)),
        route(g.clone(), "/journal/taps", get(taps::list)),
        route(
            p.clone(),
            "/journal/taps/{tap}/match",
            post(taps::match_tap),
        ),
        route(g.clone(), "/acts", get(acts::list)),
        route(g.clone(), "/acts/{recipient}", get(acts::act)),
        route(g.clone(), "/acts/{recipient}/pdf", get(pdf::act)),
        route(g.clone(), "/timetable", get(timetable::show)),
        route(p.clone(), "/timetable/sessions", post(timetable::plan)),
        route(
            p.clone(),
            "/timetable/sessions/{id}",
            post(timetable::replan),
        ),
        route(p.clone(), "/timetable/approve", post(timetable::approve)),
        route(
            p.clone(),
            "/timetable/sessions/{id}/remove",
            post(timetable::unplan),
        ),
        route(p.clone(), "/timetable/days-off", post(timetable::day_off)),
        route(g.clone(), "/quality", get(quality::show)),
        route(p.clone(), "/quality/feedback", post(quality::add_feedback)),
        route(
            p.clone(),
            "/quality/feedback/{id}/answer",
            post(quality::answer_feedback),
        ),
        route(g.clone(), "/people", get(people::list)),
        route(g.clone(), "/people/new", get(people::new_form)),
        route(p.clone(), "/people/new", post(people::create)),
        route(g.clone(), "/people/{recipient}", get(people::show)),
        route(p.clone(), "/people/{recipient}", post(people::save)),
        route(
            p.clone(),
            "/people/{recipient}/cards",
            post(people::add_card),
        ),
        route(
            p.clone(),
            "/people/{recipient}/cards/{card}",
            post(people::card_state),
        ),
        route(
            p.clone(),
            "/people/{recipient}/card",
            post(people::request_card),
        ),
        route(
            p.clone(),
            "/people/{recipient}/anonymise",
            post(people::anonymise),
        ),
        route(g.clone(), "/instructors", get(instructors::list)),
        route(p.clone(), "/instructors", post(instructors::add)),
        route(p.clone(), "/instructors/{id}", post(instructors::change)),
        route(g.clone(), "/visits", get(visits::list)),
        route(g.clone(), "/violations", get(violations::list)),
        route(p.clone(), "/visits", post(visits::record)),
        route(g.clone(), "/exports", get(exports::list)),
        route(p.clone(), "/exports", post(exports::start)),
        route(g.clone(), "/exports/egisso", get(egisso::show)),
        route(g.clone(), "/exports/egisso/file", get(egisso::file)),
        route(g.clone(), "/exports/{id}", get(exports::show)),
        route(g.clone(), "/exports/{id}/file", get(exports::download)),
        route(g.clone(), "/fleet", get(fleet::show)),
        route(p.clone(), "/fleet/provision", post(fleet::provision)),
        route(
            p.clone(),
            "/fleet/{site}/{kiosk}/revoke",
            post(fleet::revoke),
        ),
        route(g.clone(), "/users", get(users::list)),
        route(p.clone(), "/users", post(users::add)),
        route(p.clone(), "/users/{login}/disable", post(users::disable)),
        route(
            p.clone(),
            "/users/{login}/instructor",
            post(users::link_instructor),
        ),
        route(g.clone(), "/audit", get(audit::show)),
        route(g.clone(), "/api-clients", get(api_clients::list)),
        route(p.clone(), "/api-clients", post(api_clients::add)),
        route(p, "/api-clients/{id}/revoke", post(api_clients::revoke)),
        route(g.clone(), "/api/v1/openapi.json", get(api::openapi)),
        route(g.clone(), "/api/v1/units", get(api::units)),
        route(g.clone(), "/api/v1/sessions", get(api::sessions)),
        route(g, "/api/v1/recipients", get(api::recipients)),
    ]
}

/// The router: each route behind the guard with its access rule.
pub fn build(state: AppState) -> Router {
    let mut router = Router::new();
    for r in table() {
        let guarded = Guarded {
            app: state.clone(),
            access: r.access,
        };
        router = router.route(
            r.path,
            r.handler
                .route_layer(middleware::from_fn_with_state(guarded, auth::guard)),
        );
    }
    router.fallback(not_found).with_state(state)
}

async fn home() -> Redirect {
    Redirect::to("/journal")
}

async fn style() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        layout::CSS,
    )
}

async fn not_found(uri: axum::http::Uri) -> axum::response::Response {
    if uri.path().starts_with("/api/") {
        return api::ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "Такого адреса в API нет; описание: /api/v1/openapi.json.",
        )
        .into_response();
    }
    layout::PageError::not_found("Такой страницы нет.").into_response()
}
