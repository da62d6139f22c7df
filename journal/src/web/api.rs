//! The read-only JSON API for other systems (1C, the regional information system), under
//! `/api/v1`:
//!
//! - `GET /api/v1/units?from=…&to=…[&site=…][&cursor=…][&limit=…]`: the counted units of a
//!   period, in the journal's order (date, service, id);
//! - `GET /api/v1/sessions?from=…&to=…[&site=…]…`: the sessions opened in a period with their
//!   units and participants — the journal of the period;
//! - `GET /api/v1/recipients[?site=…]…`: the recipients by id; names, birth dates, СНИЛС and
//!   sex only for a client with the `personal` scope;
//! - `GET /api/v1/openapi.json`: this description (OpenAPI 3.1, made by utoipa from the
//!   handlers and types below, so it cannot drift from them).
//!
//! A client sends `Authorization: Bearer TOKEN`; an administrator makes and revokes tokens on
//! `/api-clients` ([`super::api_clients`]), each with its scopes. The guard
//! ([`super::auth::guard`], `Access::Api`) checks the token and the route's scope, and records
//! every answered request in the audit log (an answer whose record cannot be written is not
//! given). Pages are cursor-paged: an answer's
//! `next_cursor`, sent back as `cursor`, gives the next page; none means the last. Errors are
//! JSON `{"error": code, "message": Russian text}`.

use super::AppState;
use crate::store::api::{ApiClient, Scope};
use crate::store::people::Person;
use crate::store::staff::SessionJournal;
use crate::store::{JournalUnit, StoreError, UnitKey};
use axum::Json;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::{StatusCode, request::Parts};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::ops::ControlFlow;
use utoipa::{IntoParams, OpenApi, ToSchema};

/// The most items one page holds; the default.
pub const MAX_LIMIT: usize = 5000;
pub const DEFAULT_LIMIT: usize = 500;
/// The longest period the sessions are read for in one request (they are read whole).
pub const MAX_SESSION_DAYS: i64 = 62;

/// An error as the API answers it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiError {
    /// `unauthorized`, `forbidden`, `bad_request`, `not_found`, `internal`.
    pub error: String,
    /// What is wrong, in Russian.
    pub message: String,
    #[serde(skip)]
    pub status: StatusCode,
}

impl ApiError {
    pub fn new(status: StatusCode, message: &str) -> ApiError {
        let error = match status {
            StatusCode::UNAUTHORIZED => "unauthorized",
            StatusCode::FORBIDDEN => "forbidden",
            StatusCode::BAD_REQUEST => "bad_request",
            StatusCode::NOT_FOUND => "not_found",
            _ => "internal",
        };
        ApiError {
            error: error.into(),
            message: message.into(),
            status,
        }
    }

    fn bad(message: &str) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self)).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        tracing::error!("api: {e}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Ошибка базы данных журнала; повторите запрос позже.",
        )
    }
}

/// The client a request came from (put there by the guard).
#[derive(Debug, Clone)]
pub struct Client(pub ApiClient);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Client, ApiError> {
        parts
            .extensions
            .get::<Client>()
            .cloned()
            .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "Нужен ключ доступа к API."))
    }
}

/// The query of an API request: like axum's `Query`, but a query that does not parse is the
/// API's JSON error (a 1C client reads JSON), not axum's plain text.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<ApiQuery<T>, ApiError> {
        Query::<T>::try_from_uri(&parts.uri)
            .map(|Query(q)| ApiQuery(q))
            .map_err(|e| {
                ApiError::bad(&format!(
                    "Параметры запроса не разобраны: {}. Описание: /api/v1/openapi.json.",
                    e.body_text()
                ))
            })
    }
}

/// A period and a page.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PeriodQuery {
    /// The first day, `2026-11-01`.
    pub from: String,
    /// The last day, included.
    pub to: String,
    /// One site's only (default: every site).
    pub site: Option<String>,
    /// `next_cursor` of the page before.
    pub cursor: Option<String>,
    /// Items per page, 1–5000 (default 500).
    pub limit: Option<usize>,
}

/// A page of recipients.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// One site's only (default: every site).
    pub site: Option<String>,
    /// `next_cursor` of the page before.
    pub cursor: Option<String>,
    /// Items per page, 1–5000 (default 500).
    pub limit: Option<usize>,
}

fn limit(asked: Option<usize>) -> Result<usize, ApiError> {
    match asked {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::bad("limit: от 1 до 5000.")),
    }
}

fn date(name: &str, value: &str) -> Result<NaiveDate, ApiError> {
    value
        .parse()
        .map_err(|_| ApiError::bad(&format!("{name}: дата в виде 2026-11-01.")))
}

fn period(app: &AppState, q: &PeriodQuery) -> Result<(NaiveDate, NaiveDate), ApiError> {
    let (from, to) = (date("from", &q.from)?, date("to", &q.to)?);
    if from > to {
        return Err(ApiError::bad("from позже, чем to."));
    }
    if let Some(site) = &q.site {
        if app.site(Some(site)).is_none() {
            return Err(ApiError::bad(&format!("site: отделения «{site}» нет.")));
        }
    }
    Ok((from, to))
}

/// A cursor: the last item's key, its parts joined by `|`, as hex (opaque to clients).
fn cursor_of(parts: &[&str]) -> String {
    hex::encode(parts.join("|"))
}

fn cursor_parts(cursor: &str, n: usize) -> Result<Vec<String>, ApiError> {
    let bad = || ApiError::bad("cursor: не тот, что дал ответ; начните с первой страницы.");
    let text = String::from_utf8(hex::decode(cursor).map_err(|_| bad())?).map_err(|_| bad())?;
    let parts: Vec<String> = text.split('|').map(str::to_string).collect();
    if parts.len() == n {
        Ok(parts)
    } else {
        Err(bad())
    }
}

/// The page of `all` (sorted by `key`) after the cursor's key `after`, at most `limit` items,
/// and whether more follow it: the paging of the answers read whole (the units page in the
/// database instead).
fn page_after<T, K: Ord>(
    all: &[T],
    after: Option<K>,
    limit: usize,
    key: impl Fn(&T) -> K,
) -> (&[T], bool) {
    let start = after.map_or(0, |a| all.partition_point(|x| key(x) <= a));
    let end = start.saturating_add(limit).min(all.len());
    (&all[start..end], end < all.len())
}

/// A unit of service, as the journal counts it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiUnit {
    pub id: uuid::Uuid,
    pub session: uuid::Uuid,
    pub site: String,
    pub kiosk: String,
    /// The service's code in the regional standard (`002-2.4`).
    pub service: String,
    /// `per_recipient` (one unit for one recipient) or `per_group` (one for the group).
    pub kind: String,
    /// The recipient of a per-recipient unit.
    pub recipient: Option<uuid::Uuid>,
    /// The recipients who took part in a per-group unit.
    pub participants: Vec<uuid::Uuid>,
    pub group: Option<uuid::Uuid>,
    pub instructor: String,
    /// The session's local date at its site.
    pub date: NaiveDate,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    /// Rules overridden for this unit (a limit the instructor confirmed past).
    pub overridden: Vec<String>,
    /// Checked in by the instructor rather than by card.
    pub manual: bool,
    pub below_group_min: bool,
    /// Minutes past the service's time norm.
    pub over_norm_minutes: Option<u32>,
    pub clock_synced: bool,
}

impl From<&JournalUnit> for ApiUnit {
    fn from(ju: &JournalUnit) -> ApiUnit {
        let u = &ju.unit;
        ApiUnit {
            id: u.id.0,
            session: u.session.0,
            site: ju.site.clone(),
            kiosk: ju.kiosk.clone(),
            service: u.service.0.clone(),
            kind: match u.kind {
                otmetka_core::catalogue::UnitKind::PerRecipient => "per_recipient",
                otmetka_core::catalogue::UnitKind::PerGroup => "per_group",
            }
            .into(),
            recipient: u.recipient.map(|r| r.0),
            participants: u.participants.iter().map(|r| r.0).collect(),
            group: u.group.map(|g| g.0),
            instructor: u.instructor.to_string(),
            date: u.date,
            started_at: u.started_at,
            ended_at: u.ended_at,
            overridden: u.overridden.iter().map(|r| format!("{r:?}")).collect(),
            manual: u.manual,
            below_group_min: u.below_group_min,
            over_norm_minutes: u.over_norm_minutes,
            clock_synced: u.clock_synced,
        }
    }
}

/// A page of units.
#[derive(Debug, Serialize, ToSchema)]
pub struct UnitPage {
    pub items: Vec<ApiUnit>,
    /// Give it as `cursor` for the next page; none: this was the last.
    pub next_cursor: Option<String>,
}

/// The counted units of a period.
#[utoipa::path(get, path = "/api/v1/units", params(PeriodQuery),
    security(("token" = [])),
    responses(
        (status = 200, description = "A page of units", body = UnitPage),
        (status = 400, description = "A wrong parameter", body = ApiError),
        (status = 401, description = "No token, or a revoked one", body = ApiError),
        (status = 403, description = "The token's scopes do not include `units`", body = ApiError),
    ))]
pub async fn units(
    State(app): State<AppState>,
    ApiQuery(q): ApiQuery<PeriodQuery>,
) -> Result<Json<UnitPage>, ApiError> {
    let (from, to) = period(&app, &q)?;
    let limit = limit(q.limit)?;
    let after = match &q.cursor {
        None => None,
        Some(c) => {
            let p = cursor_parts(c, 3)?;
            Some(UnitKey {
                date: date("cursor", &p[0])?,
                service: p[1].clone(),
                id: p[2].clone(),
            })
        }
    };
    let site = q.site.clone();
    let mut items: Vec<JournalUnit> = app
        .store
        .call(move |s| {
            let mut out = Vec::new();
            s.each_unit(from, to, site.as_deref(), after.as_ref(), &mut |ju| {
                out.push(ju);
                if out.len() > limit {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })?;
            Ok(out)
        })
        .await?;
    // One more than the page was read: whether there is a next page.
    let more = items.len() > limit;
    items.truncate(limit);
    let next_cursor = more.then(|| items.last()).flatten().map(|ju| {
        let k = UnitKey::of(&ju.unit);
        cursor_of(&[&k.date.to_string(), &k.service, &k.id])
    });
    Ok(Json(UnitPage {
        items: items.iter().map(ApiUnit::from).collect(),
        next_cursor,
    }))
}

/// A session with its units: one line of the journal.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiSession {
    pub id: uuid::Uuid,
    pub site: String,
    pub kiosk: String,
    pub service: String,
    pub instructor: String,
    pub opened_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    /// How it closed, as the kiosk said (`normal`, `auto`, `cancelled`, …).
    pub how: Option<String>,
    /// The standing group it was opened for.
    pub group: Option<uuid::Uuid>,
    /// Opened as the service's event form (a mass event, an excursion).
    pub event: bool,
    /// Its counted units.
    pub units: Vec<uuid::Uuid>,
    /// Who took part (counted units' recipients and participants), once each.
    pub recipients: Vec<uuid::Uuid>,
}

impl From<&SessionJournal> for ApiSession {
    fn from(j: &SessionJournal) -> ApiSession {
        let s = &j.session;
        let counted: Vec<_> = j.units.iter().filter(|u| u.counts()).collect();
        let mut recipients: Vec<uuid::Uuid> = counted
            .iter()
            .flat_map(|u| {
                u.unit
                    .recipient
                    .into_iter()
                    .chain(u.unit.participants.iter().copied())
            })
            .map(|r| r.0)
            .collect();
        recipients.sort();
        recipients.dedup();
        ApiSession {
            id: s.id.0,
            site: s.site.clone(),
            kiosk: s.kiosk.clone(),
            service: s.service.clone(),
            instructor: s.instructor.clone(),
            opened_at: s.opened_at,
            closed_at: s.closed_at,
            how: s.how.clone(),
            group: s.group.map(|g| g.0),
            event: s.event,
            units: counted.iter().map(|u| u.unit.id.0).collect(),
            recipients,
        }
    }
}

/// A page of sessions.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionPage {
    pub items: Vec<ApiSession>,
    /// Give it as `cursor` for the next page; none: this was the last.
    pub next_cursor: Option<String>,
}

/// The sessions opened in a period (at most 62 days), with their units: the journal.
#[utoipa::path(get, path = "/api/v1/sessions", params(PeriodQuery),
    security(("token" = [])),
    responses(
        (status = 200, description = "A page of sessions, oldest first", body = SessionPage),
        (status = 400, description = "A wrong parameter, or a period over 62 days", body = ApiError),
        (status = 401, description = "No token, or a revoked one", body = ApiError),
        (status = 403, description = "The token's scopes do not include `sessions`", body = ApiError),
    ))]
pub async fn sessions(
    State(app): State<AppState>,
    ApiQuery(q): ApiQuery<PeriodQuery>,
) -> Result<Json<SessionPage>, ApiError> {
    let (from, to) = period(&app, &q)?;
    if (to - from).num_days() >= MAX_SESSION_DAYS {
        return Err(ApiError::bad(
            "Сессии отдаются за период не длиннее 62 дней: разбейте запрос.",
        ));
    }
    let limit = limit(q.limit)?;
    let after = match &q.cursor {
        None => None,
        Some(c) => {
            let p = cursor_parts(c, 2)?;
            let at: DateTime<Utc> = p[0]
                .parse()
                .map_err(|_| ApiError::bad("cursor: не тот, что дал ответ."))?;
            Some((at, p[1].clone()))
        }
    };
    // The sites' local days: a day's sessions are those opened from its midnight at the site,
    // give or take the widest Russian offset (+12) on either side, then kept by their units'
    // date or, without units, their local opening day.
    let start = from
        .and_hms_opt(0, 0, 0)
        .map_or(DateTime::UNIX_EPOCH, |t| t.and_utc())
        - chrono::Duration::hours(12);
    let end = to
        .succ_opt()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map_or(DateTime::UNIX_EPOCH, |t| t.and_utc())
        + chrono::Duration::hours(12);
    let site = q.site.clone();
    let sites = app.sites.clone();
    let mut all: Vec<SessionJournal> = app
        .store
        .call(move |s| s.sessions(start, end))
        .await?
        .into_iter()
        .filter(|j| site.as_ref().is_none_or(|s| *s == j.session.site))
        .filter(|j| {
            let day = sites
                .iter()
                .find(|s| s.id == j.session.site)
                .map_or(j.session.opened_at.date_naive(), |s| {
                    s.date(j.session.opened_at)
                });
            from <= day && day <= to
        })
        .collect();
    all.sort_by(|a, b| {
        (a.session.opened_at, a.session.id.0).cmp(&(b.session.opened_at, b.session.id.0))
    });
    let (page, more) = page_after(&all, after, limit, |j| {
        (j.session.opened_at, j.session.id.0.to_string())
    });
    let next_cursor = more.then(|| page.last()).flatten().map(|j| {
        cursor_of(&[
            &j.session.opened_at.to_rfc3339(),
            &j.session.id.0.to_string(),
        ])
    });
    Ok(Json(SessionPage {
        items: page.iter().map(ApiSession::from).collect(),
        next_cursor,
    }))
}

/// A recipient of services.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiRecipient {
    pub id: uuid::Uuid,
    pub site: String,
    /// The standing groups they belong to.
    pub groups: Vec<uuid::Uuid>,
    /// The individual programme (ИППСУ) in force: its first and last day.
    pub programme_from: Option<NaiveDate>,
    pub programme_to: Option<NaiveDate>,
    /// Their last day served, where they left.
    pub left_on: Option<NaiveDate>,
    /// Their data was anonymised after the retention period.
    pub anonymised: bool,
    /// Фамилия, имя, отчество (`personal` scope).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub full_name: Option<String>,
    /// As the kiosk addresses them (`personal` scope).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// (`personal` scope)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<NaiveDate>,
    /// 11 digits (`personal` scope).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snils: Option<String>,
    /// `female` or `male` (`personal` scope).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sex: Option<String>,
}

impl ApiRecipient {
    fn of(p: &Person, personal: bool) -> ApiRecipient {
        let personal = personal && p.anonymised_at.is_none();
        let some = |s: &str| (personal && !s.is_empty()).then(|| s.to_string());
        ApiRecipient {
            id: p.id.0,
            site: p.site.clone(),
            groups: p.groups.iter().map(|g| g.0).collect(),
            programme_from: p.programme.as_ref().map(|x| x.valid_from),
            programme_to: p.programme.as_ref().map(|x| x.valid_to),
            left_on: p.left_on,
            anonymised: p.anonymised_at.is_some(),
            full_name: some(&p.full_name),
            display_name: some(&p.display_name),
            birth_date: p.birth_date.filter(|_| personal),
            snils: p
                .snils
                .as_ref()
                .filter(|_| personal)
                .map(|s| s.digits().to_string()),
            sex: p.sex.filter(|_| personal).map(|s| s.as_str().to_string()),
        }
    }
}

/// A page of recipients.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecipientPage {
    pub items: Vec<ApiRecipient>,
    /// Give it as `cursor` for the next page; none: this was the last.
    pub next_cursor: Option<String>,
}

/// The recipients, by site and id; their personal data only with the `personal` scope.
#[utoipa::path(get, path = "/api/v1/recipients", params(PageQuery),
    security(("token" = [])),
    responses(
        (status = 200, description = "A page of recipients", body = RecipientPage),
        (status = 400, description = "A wrong parameter", body = ApiError),
        (status = 401, description = "No token, or a revoked one", body = ApiError),
        (status = 403, description = "The token's scopes do not include `recipients`", body = ApiError),
    ))]
pub async fn recipients(
    State(app): State<AppState>,
    client: Client,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<RecipientPage>, ApiError> {
    let limit = limit(q.limit)?;
    let sites: Vec<String> = match &q.site {
        Some(s) if app.site(Some(s)).is_none() => {
            return Err(ApiError::bad(&format!("site: отделения «{s}» нет.")));
        }
        Some(s) => vec![s.clone()],
        None => app.sites.iter().map(|s| s.id.clone()).collect(),
    };
    let after = match &q.cursor {
        None => None,
        Some(c) => {
            let p = cursor_parts(c, 2)?;
            Some((p[0].clone(), p[1].clone()))
        }
    };
    let mut all: Vec<Person> = Vec::new();
    for site in sites {
        let people = app.store.call(move |s| s.people(&site)).await?;
        all.extend(people.recipients);
    }
    all.sort_by(|a, b| (&a.site, a.id.0).cmp(&(&b.site, b.id.0)));
    let (page, more) = page_after(&all, after, limit, |p| (p.site.clone(), p.id.0.to_string()));
    let next_cursor = more
        .then(|| page.last())
        .flatten()
        .map(|p| cursor_of(&[&p.site, &p.id.0.to_string()]));
    let personal = client.0.may(Scope::Personal);
    Ok(Json(RecipientPage {
        items: page.iter().map(|p| ApiRecipient::of(p, personal)).collect(),
        next_cursor,
    }))
}

struct TokenScheme;

impl utoipa::Modify for TokenScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A client's token, made by an administrator on /api-clients",
                    ))
                    .build(),
            ),
        );
    }
}

/// The API's description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Otmetka journal API",
        version = "1",
        description = "Read-only: the units, sessions and recipients of an Otmetka journal, for 1C and the regional information system."
    ),
    paths(units, sessions, recipients),
    components(schemas(UnitPage, ApiUnit, SessionPage, ApiSession, RecipientPage, ApiRecipient, ApiError)),
    modifiers(&TokenScheme)
)]
#[derive(Debug)]
pub struct ApiDoc;

/// `GET /api/v1/openapi.json`.
pub async fn openapi() -> Response {
    Json(ApiDoc::openapi()).into_response()
}
