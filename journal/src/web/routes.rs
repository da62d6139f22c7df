//! Every route of the web server and who may use it. The router is built from [`table`] and
//! nothing else, so a route cannot be added without its access rule; the access test
//! (`journal/tests/web.rs`) walks the same table against its own expected matrix, so a new route
//! without an entry there fails it.

use super::auth::{self, Access, Guarded};
use super::{AppState, acts, audit, fleet, health, journal, layout, people, signin, taps, users};
use crate::store::staff::Role;
use axum::Router;
use axum::http::{Method, header};
use axum::middleware;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{MethodRouter, get, post};

/// Every signed-in role: what can be read.
pub const READ: &[Role] = &Role::ALL;
/// Who may change the journal (not the auditor).
pub const EDIT: &[Role] = &[Role::Admin, Role::Head, Role::Specialist];
/// The head of unit alone: signing off and reopening a month.
pub const HEAD: &[Role] = &[Role::Head];
/// Administrators alone: users and the audit log.
pub const ADMIN: &[Role] = &[Role::Admin];

/// One route.
#[derive(Debug)]
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    pub handler: MethodRouter<AppState>,
}

fn route(
    method: Method,
    path: &'static str,
    access: Access,
    handler: MethodRouter<AppState>,
) -> Route {
    Route {
        method,
        path,
        access,
        handler,
    }
}

/// The routes, with their access.
pub fn table() -> Vec<Route> {
    use Access::{Public, Roles};
    let (g, p) = (Method::GET, Method::POST);
    vec![
        route(g.clone(), "/healthz", Public, get(health::page)),
        route(g.clone(), "/style.css", Public, get(style)),
        route(g.clone(), "/signin", Public, get(signin::form)),
        route(p.clone(), "/signin", Public, post(signin::submit)),
        route(p.clone(), "/signout", Roles(READ), post(signin::sign_out)),
        route(g.clone(), "/", Roles(READ), get(home)),
        route(g.clone(), "/journal", Roles(READ), get(journal::month)),
        route(
            g.clone(),
            "/journal/sessions/{id}",
            Roles(READ),
            get(journal::session),
        ),
        route(
            p.clone(),
            "/journal/sessions/{id}/checkins",
            Roles(EDIT),
            post(journal::add_checkin),
        ),
        route(
            p.clone(),
            "/journal/units/{id}/remove",
            Roles(EDIT),
            post(journal::remove_unit),
        ),
        route(
            p.clone(),
            "/journal/sign-off",
            Roles(HEAD),
            post(journal::sign_off),
        ),
        route(
            p.clone(),
            "/journal/reopen",
            Roles(HEAD),
            post(journal::reopen),
        ),
        route(g.clone(), "/journal/taps", Roles(READ), get(taps::list)),
        route(
            p.clone(),
            "/journal/taps/{tap}/match",
            Roles(EDIT),
            post(taps::match_tap),
        ),
        route(g.clone(), "/acts", Roles(READ), get(acts::list)),
        route(g.clone(), "/acts/{recipient}", Roles(READ), get(acts::act)),
        route(g.clone(), "/people", Roles(READ), get(people::list)),
        route(
            p.clone(),
            "/people/{recipient}/card",
            Roles(EDIT),
            post(people::request_card),
        ),
        route(g.clone(), "/fleet", Roles(READ), get(fleet::show)),
        route(g.clone(), "/users", Roles(ADMIN), get(users::list)),
        route(p.clone(), "/users", Roles(ADMIN), post(users::add)),
        route(g, "/audit", Roles(ADMIN), get(audit::show)),
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

/// Whether `role` may open the page at `path` (for the navigation).
pub fn may_open(role: Role, path: &str) -> bool {
    table().iter().any(|r| {
        r.method == Method::GET
            && r.path == path
            && match r.access {
                Access::Public => true,
                Access::Roles(roles) => roles.contains(&role),
            }
    })
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

async fn not_found() -> layout::PageError {
    layout::PageError::not_found("Такой страницы нет.")
}
