//! Who may use each route: the one access table. The router (`routes.rs`) takes each route's
//! rule from here; a route this table does not name admits nobody (it fails closed), and the
//! access test (`tests/tests/journal_web.rs`) walks the router's routes against its own matrix,
//! so a new route without a decided rule fails it. The navigation asks [`may_open`].

use crate::store::api::Scope;
use crate::store::staff::Role;

/// Every signed-in role: what can be read.
pub const READ: &[Role] = &Role::ALL;
/// Who may change the journal (not the auditor).
pub const EDIT: &[Role] = &[Role::Admin, Role::Head, Role::Specialist];
/// The head of unit alone: signing off and reopening a month.
pub const HEAD: &[Role] = &[Role::Head];
/// The head of unit and administrators: the instructors and their PINs.
pub const MANAGE: &[Role] = &[Role::Admin, Role::Head];
/// Who may export the units of a period (every recipient's attendance, with names, in one
/// file that leaves the journal): the specialists who report the services and the head who
/// signs them. Not the auditor, who reads on the pages, each view audited, and takes nothing
/// away; not the administrator, who keeps accounts and kiosks and needs no one's attendance.
pub const EXPORT: &[Role] = &[Role::Head, Role::Specialist];
/// Administrators alone: users and the audit log.
pub const ADMIN: &[Role] = &[Role::Admin];

/// Who may use a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone: the sign-in page, the health answer, the style sheet.
    Public,
    /// Signed-in staff of these roles.
    Roles(&'static [Role]),
    /// Another system with an API token of this scope (`/api/v1`); staff's sessions do not
    /// count.
    Api(Scope),
}

use Access::{Api, Public, Roles};

/// (method, path, access) of every route.
pub const TABLE: &[(&str, &str, Access)] = &[
    ("GET", "/healthz", Public),
    ("GET", "/style.css", Public),
    ("GET", "/signin", Public),
    ("POST", "/signin", Public),
    ("POST", "/signout", Roles(READ)),
    ("GET", "/account", Roles(READ)),
    ("POST", "/account/password", Roles(READ)),
    ("GET", "/", Roles(READ)),
    ("GET", "/journal", Roles(READ)),
    ("GET", "/journal/pdf", Roles(READ)),
    ("GET", "/journal/sessions/{id}", Roles(READ)),
    ("POST", "/journal/sessions/{id}/checkins", Roles(EDIT)),
    ("POST", "/journal/units/{id}/remove", Roles(EDIT)),
    ("POST", "/journal/units/{id}/correct", Roles(EDIT)),
    ("POST", "/journal/sessions/{id}/correct", Roles(EDIT)),
    ("POST", "/journal/sign-off", Roles(HEAD)),
    ("POST", "/journal/reopen", Roles(HEAD)),
    ("GET", "/journal/taps", Roles(READ)),
    ("POST", "/journal/taps/{tap}/match", Roles(EDIT)),
    ("GET", "/acts", Roles(READ)),
    ("GET", "/acts/{recipient}", Roles(READ)),
    ("GET", "/acts/{recipient}/pdf", Roles(READ)),
    ("GET", "/timetable", Roles(READ)),
    ("POST", "/timetable/sessions", Roles(EDIT)),
    ("POST", "/timetable/sessions/{id}", Roles(EDIT)),
    ("POST", "/timetable/approve", Roles(HEAD)),
    ("POST", "/timetable/sessions/{id}/remove", Roles(EDIT)),
    ("POST", "/timetable/days-off", Roles(EDIT)),
    ("GET", "/quality", Roles(READ)),
    ("POST", "/quality/feedback", Roles(EDIT)),
    ("POST", "/quality/feedback/{id}/answer", Roles(EDIT)),
    ("GET", "/people", Roles(READ)),
    ("GET", "/people/new", Roles(EDIT)),
    ("POST", "/people/new", Roles(EDIT)),
    ("GET", "/people/{recipient}", Roles(READ)),
    ("POST", "/people/{recipient}", Roles(EDIT)),
    ("POST", "/people/{recipient}/cards", Roles(EDIT)),
    ("POST", "/people/{recipient}/cards/{card}", Roles(EDIT)),
    ("POST", "/people/{recipient}/card", Roles(EDIT)),
    ("POST", "/people/{recipient}/anonymise", Roles(ADMIN)),
    ("GET", "/instructors", Roles(READ)),
    ("POST", "/instructors", Roles(MANAGE)),
    ("POST", "/instructors/{id}", Roles(MANAGE)),
    ("GET", "/visits", Roles(READ)),
    ("GET", "/violations", Roles(READ)),
    ("POST", "/visits", Roles(EDIT)),
    ("GET", "/exports", Roles(EXPORT)),
    ("POST", "/exports", Roles(EXPORT)),
    ("GET", "/exports/egisso", Roles(EXPORT)),
    ("GET", "/exports/egisso/file", Roles(EXPORT)),
    ("GET", "/exports/{id}", Roles(EXPORT)),
    ("GET", "/exports/{id}/file", Roles(EXPORT)),
    ("GET", "/fleet", Roles(READ)),
    ("POST", "/fleet/provision", Roles(ADMIN)),
    ("POST", "/fleet/{site}/{kiosk}/revoke", Roles(ADMIN)),
    ("GET", "/users", Roles(ADMIN)),
    ("POST", "/users", Roles(ADMIN)),
    ("POST", "/users/{login}/disable", Roles(ADMIN)),
    ("POST", "/users/{login}/instructor", Roles(ADMIN)),
    ("GET", "/audit", Roles(ADMIN)),
    ("GET", "/api-clients", Roles(ADMIN)),
    ("POST", "/api-clients", Roles(ADMIN)),
    ("POST", "/api-clients/{id}/revoke", Roles(ADMIN)),
    ("GET", "/api/v1/openapi.json", Public),
    ("GET", "/api/v1/units", Api(Scope::Units)),
    ("GET", "/api/v1/sessions", Api(Scope::Sessions)),
    ("GET", "/api/v1/recipients", Api(Scope::Recipients)),
];

/// The rule of a route; one the table does not name admits nobody.
pub fn of(method: &str, path: &str) -> Access {
    TABLE
        .iter()
        .find(|(m, p, _)| *m == method && *p == path)
        .map_or(Roles(&[]), |(_, _, a)| *a)
}

/// Whether `role` may open the page at `path` (for the navigation).
pub fn may_open(role: Role, path: &str) -> bool {
    match of("GET", path) {
        Public => true,
        Roles(roles) => roles.contains(&role),
        Api(_) => false,
    }
}
