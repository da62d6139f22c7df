//! The read-only JSON API (the region issue, point 3): an administrator makes a client's token
//! on `/api-clients` (shown once) and revokes it; the token's scopes decide what it reads and
//! whether names come with the recipients; pages through a period give every unit once, as the
//! store holds them; every use is in the audit log; the OpenAPI description served names every
//! API route and describes the fields the answers carry.

use super::{Site, csrf_of};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::Value;
use std::collections::BTreeSet;
use tower::ServiceExt;

/// A GET of the API with `token` (none: no header): the status and the JSON.
fn api(site: &Site, path: &str, token: Option<&str>) -> (StatusCode, Value) {
    let mut req = Request::builder()
        .method(Method::GET)
        .uri(path)
        .header(header::HOST, "127.0.0.1:8080");
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let req = req.body(Body::empty()).unwrap();
    let app = site.app.clone();
    site.rt.block_on(async move {
        let res = app.oneshot(req).await.unwrap();
        let status = res.status();
        assert!(
            res.headers()[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("application/json"),
            "{path}: JSON"
        );
        let body = axum::body::to_bytes(res.into_body(), 1 << 26)
            .await
            .unwrap();
        (status, serde_json::from_slice(&body).unwrap())
    })
}

/// Makes a client with `scopes` as the administrator; returns its token, read off the page.
fn make_client(site: &Site, admin: &(String, String), name: &str, scopes: &[&str]) -> String {
    let mut fields = vec![("name", name)];
    fields.extend(scopes.iter().map(|s| ("scope", *s)));
    let a = site.post("/api-clients", &admin.0, &admin.1, &fields);
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let at = a
        .body
        .find("<code data-token>")
        .expect("the token is shown")
        + 17;
    let token = a.body[at..at + a.body[at..].find('<').unwrap()].to_string();
    assert!(token.starts_with("otm_") && token.len() == 68, "{token}");
    token
}

/// Every page of `path` (which has its query), following `next_cursor`.
fn every_page(site: &Site, path: &str, token: &str) -> (Vec<Value>, usize) {
    let (mut items, mut pages, mut cursor) = (Vec::new(), 0, None::<String>);
    loop {
        let url = match &cursor {
            None => path.to_string(),
            Some(c) => format!("{path}&cursor={c}"),
        };
        let (status, page) = api(site, &url, Some(token));
        assert_eq!(status, StatusCode::OK, "{url}: {page}");
        pages += 1;
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return (items, pages),
        }
    }
}

#[test]
fn a_client_reads_what_its_scopes_allow_page_by_page_and_each_use_is_audited() {
    let site = Site::new();
    let admin = site.sign_in("admin");
    let token = make_client(&site, &admin, "1С: Бухгалтерия", &["units", "recipients"]);

    // The units of November, 100 a page: each unit once, exactly the store's.
    let from = chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
    let to = chrono::NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
    let held: Vec<String> = site
        .rt
        .block_on(site.store.call(move |s| s.units(from, to)))
        .unwrap()
        .iter()
        .map(|u| u.unit.id.0.to_string())
        .collect();
    assert!(held.len() > 300, "{} units", held.len());
    let audit_before = site.audit().len();
    let (units, pages) = every_page(
        &site,
        "/api/v1/units?from=2026-11-01&to=2026-11-30&site=demo&limit=100",
        &token,
    );
    let ids: Vec<String> = units
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, held, "every unit once, in the journal's order");
    assert_eq!(pages, held.len().div_ceil(100));
    assert!(
        units
            .iter()
            .all(|u| u["date"].as_str().unwrap().starts_with("2026-11"))
    );
    // Each request is in the audit log, under the client's name.
    let log = site.audit();
    let used: Vec<_> = log
        .iter()
        .filter(|e| e.action == "api_read" && e.subject == "1С: Бухгалтерия")
        .collect();
    assert_eq!(used.len(), pages);
    assert_eq!(log.len(), audit_before + pages);
    assert!(
        used.iter()
            .any(|e| e.detail.contains("/api/v1/units?from=2026-11-01"))
    );
    // The audit page keeps the staff's actions apart from a client's reads.
    let staff_page = site.send(Method::GET, "/audit", Some(&admin.0), None);
    assert_eq!(staff_page.status, StatusCode::OK);
    assert!(!staff_page.body.contains("обращение другой системы (API)"));
    assert!(
        staff_page.body.contains("выдан ключ API"),
        "the token's making is staff's"
    );
    let api_page = site.send(Method::GET, "/audit?api=1", Some(&admin.0), None);
    assert_eq!(
        api_page
            .body
            .matches("обращение другой системы (API)")
            .count(),
        pages,
        "each read on the API tab"
    );

    // Recipients by id only: no names without the `personal` scope.
    let (people, _) = every_page(&site, "/api/v1/recipients?limit=7", &token);
    assert_eq!(people.len(), site.inst.recipients.len());
    assert!(people.iter().all(|p| p.get("full_name").is_none()
        && p.get("snils").is_none()
        && p.get("birth_date").is_none()));
    let named = make_client(
        &site,
        &admin,
        "Региональная система",
        &["recipients", "personal"],
    );
    let (people, _) = every_page(&site, "/api/v1/recipients?limit=500", &named);
    let (who, name) = &site.inst.recipients[0];
    let p = people
        .iter()
        .find(|p| p["id"] == who.to_string())
        .expect("listed");
    assert_eq!(p["full_name"], name.as_str());

    // Outside its scopes, without a token, with a wrong or revoked one: refused, in Russian.
    let (status, e) = api(
        &site,
        "/api/v1/sessions?from=2026-11-01&to=2026-11-30",
        Some(&token),
    );
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(e["error"], "forbidden");
    assert!(e["message"].as_str().unwrap().contains("sessions"), "{e}");
    let (status, e) = api(&site, "/api/v1/units?from=2026-11-01&to=2026-11-30", None);
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("Authorization: Bearer")
    );
    let (status, _) = api(
        &site,
        "/api/v1/units?from=2026-11-01&to=2026-11-30",
        Some("otm_0000"),
    );
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A staff member's session is no token.
    let (cookie, _) = site.sign_in("head");
    let a = site.send(
        Method::GET,
        "/api/v1/units?from=2026-11-01&to=2026-11-30",
        Some(&cookie),
        None,
    );
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    // Wrong parameters say which.
    for (query, says) in [
        ("from=2026-13-01&to=2026-11-30", "from: дата"),
        ("from=2026-11-30&to=2026-11-01", "from позже"),
        ("from=2026-11-01&to=2026-11-30&limit=0", "limit"),
        ("from=2026-11-01&to=2026-11-30&cursor=zz", "cursor"),
        ("from=2026-11-01&to=2026-11-30&site=nowhere", "site"),
    ] {
        let (status, e) = api(&site, &format!("/api/v1/units?{query}"), Some(&token));
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert!(
            e["message"].as_str().unwrap().contains(says),
            "{query}: {e}"
        );
    }
    // A query that does not parse, and an address the API does not have: JSON errors too (the
    // helper checks the type), and neither is recorded as a read.
    let audited = site.audit().len();
    for (path, status) in [
        (
            "/api/v1/units?from=2026-11-01&to=2026-11-30&limit=abc",
            StatusCode::BAD_REQUEST,
        ),
        ("/api/v1/units?to=2026-11-30", StatusCode::BAD_REQUEST),
        ("/api/v1/nothing", StatusCode::NOT_FOUND),
    ] {
        let (got, e) = api(&site, path, Some(&token));
        assert_eq!(got, status, "{path}: {e}");
        assert!(!e["message"].as_str().unwrap().is_empty(), "{path}");
    }
    assert_eq!(site.audit().len(), audited, "refused requests read nothing");
    // The scheme's name in any case (RFC 7235).
    let req = Request::builder()
        .uri("/api/v1/recipients?limit=1")
        .header(header::HOST, "127.0.0.1:8080")
        .header(header::AUTHORIZATION, format!("bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let app = site.app.clone();
    let status = site
        .rt
        .block_on(async move { app.oneshot(req).await.unwrap().status() });
    assert_eq!(status, StatusCode::OK);
    // Revoked on the page: refused from the next request on.
    let page = site.send(Method::GET, "/api-clients", Some(&admin.0), None);
    assert!(page.body.contains("1С: Бухгалтерия") && page.body.contains("действует"));
    let id = {
        let at = page.body.find("data-client=\"").unwrap() + 13;
        // The newest first: the regional system's, then 1C's.
        let rest = &page.body[at..];
        let second = rest.find("data-client=\"").unwrap() + 13;
        rest[second..second + rest[second..].find('"').unwrap()].to_string()
    };
    let a = site.post(
        &format!("/api-clients/{id}/revoke"),
        &admin.0,
        &admin.1,
        &[],
    );
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let (status, e) = api(
        &site,
        "/api/v1/units?from=2026-11-01&to=2026-11-30",
        Some(&token),
    );
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(e["message"].as_str().unwrap().contains("отозван"), "{e}");
    assert!(site.audit().iter().any(|e| e.action == "revoke_api_client"));
    // Only an administrator makes clients.
    let (cookie, csrf) = site.sign_in("specialist");
    let a = site.post(
        "/api-clients",
        &cookie,
        &csrf,
        &[("name", "x"), ("scope", "units")],
    );
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let _ = csrf_of;
}

#[test]
fn the_journal_of_a_period_gives_each_session_once_with_its_units() {
    let site = Site::new();
    let admin = site.sign_in("admin");
    let token = make_client(&site, &admin, "Журнал для области", &["sessions"]);
    let (sessions, pages) = every_page(
        &site,
        "/api/v1/sessions?from=2026-11-01&to=2026-11-30&limit=25",
        &token,
    );
    assert!(pages > 1);
    let ids: BTreeSet<&str> = sessions.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), sessions.len(), "each session once");
    let november: BTreeSet<String> = site
        .inst
        .sessions
        .iter()
        .filter(|(_, d)| d.format("%Y-%m").to_string() == "2026-11")
        .map(|(s, _)| s.to_string())
        .collect();
    assert_eq!(
        ids.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>(),
        november,
        "exactly November's sessions"
    );
    // A session's units are its counted units in the store.
    let first = &sessions[0];
    let held: BTreeSet<String> = site
        .units_of(first["id"].as_str().unwrap())
        .iter()
        .filter(|u| u.counts())
        .map(|u| u.unit.id.0.to_string())
        .collect();
    let given: BTreeSet<String> = first["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap().to_string())
        .collect();
    assert_eq!(given, held);
    let (status, e) = api(
        &site,
        "/api/v1/sessions?from=2026-01-01&to=2026-11-30",
        Some(&token),
    );
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(e["message"].as_str().unwrap().contains("62 дней"), "{e}");
}

/// The schema an answer's page refers to, resolved in `components.schemas`.
fn schema<'a>(doc: &'a Value, of: &'a Value) -> &'a Value {
    match of["$ref"].as_str() {
        Some(r) => &doc["components"]["schemas"][r.trim_start_matches("#/components/schemas/")],
        None => of,
    }
}

#[test]
fn the_openapi_description_names_every_api_route_and_the_fields_the_answers_carry() {
    let site = Site::new();
    let (status, doc) = api(&site, "/api/v1/openapi.json", None);
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(
        doc["components"]["securitySchemes"]["token"]["scheme"],
        "bearer"
    );
    let described: BTreeSet<String> = doc["paths"].as_object().unwrap().keys().cloned().collect();
    let routed: BTreeSet<String> = otmetka_journal::web::routes::table()
        .iter()
        .filter(|r| r.path.starts_with("/api/v1/") && r.path != "/api/v1/openapi.json")
        .map(|r| r.path.to_string())
        .collect();
    assert_eq!(
        described, routed,
        "every API route described, and only those"
    );
    // Each answer's fields are the schema's properties, and its required ones are there.
    let admin = site.sign_in("admin");
    let token = make_client(
        &site,
        &admin,
        "Проверка описания",
        &["units", "sessions", "recipients", "personal"],
    );
    for (path, query) in [
        ("/api/v1/units", "?from=2026-11-01&to=2026-11-30&limit=50"),
        (
            "/api/v1/sessions",
            "?from=2026-11-01&to=2026-11-30&limit=50",
        ),
        ("/api/v1/recipients", "?limit=50"),
    ] {
        let op = &doc["paths"][path]["get"];
        let page_schema = schema(
            &doc,
            &op["responses"]["200"]["content"]["application/json"]["schema"],
        );
        let item_schema = schema(&doc, &page_schema["properties"]["items"]["items"]);
        let props: BTreeSet<&str> = item_schema["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("{path}: {item_schema}"))
            .keys()
            .map(String::as_str)
            .collect();
        let required: BTreeSet<&str> = item_schema["required"]
            .as_array()
            .map(|r| r.iter().map(|v| v.as_str().unwrap()).collect())
            .unwrap_or_default();
        let params: BTreeSet<&str> = op["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        for q in query.trim_start_matches('?').split('&') {
            let name = q.split('=').next().unwrap();
            assert!(
                params.contains(name),
                "{path}: parameter {name} is described"
            );
        }
        let (status, page) = api(&site, &format!("{path}{query}"), Some(&token));
        assert_eq!(status, StatusCode::OK, "{path}: {page}");
        let items = page["items"].as_array().unwrap();
        assert!(!items.is_empty(), "{path}");
        for item in items {
            let fields: BTreeSet<&str> = item
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            assert!(
                fields.is_subset(&props),
                "{path}: undescribed {:?}",
                fields.difference(&props).collect::<Vec<_>>()
            );
            assert!(
                required.is_subset(&fields),
                "{path}: missing {:?}",
                required.difference(&fields).collect::<Vec<_>>()
            );
        }
    }
}
