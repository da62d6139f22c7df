//! The month's export for the regional information system (ЕГИССО) on the pages:
//!
//! - `GET /exports/egisso?month=…&site=…`: what the package of the month will hold — facts,
//!   recipients, units — and, before anyone sends it, what it leaves out and why, each recipient
//!   linked to their card where the fix is (a СНИЛС to enter, a sex to choose);
//! - `GET /exports/egisso/file?month=…&site=…`: the XML, made afresh, audited.
//!
//! The package holds names, СНИЛС and birth dates: the roles of `access::EXPORT` only, as the
//! other exports. The mapping is [`crate::export::egisso`]'s.

use super::auth::Staff;
use super::exports::thousands;
use super::journal::{MonthQuery, month_and_site, plural};
use super::layout::{PageError, Section, date_label, month_label, month_select, page};
use super::{AppState, SiteView};
use crate::export::egisso::{self, Package};
use crate::store::staff::{Actor, month_of};
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use maud::{Markup, html};

/// The month the page opens at: the one asked for, else the last whole month (the one a
/// specialist sends at the start of the next).
fn month_asked(app: &AppState, q: &MonthQuery) -> Result<(NaiveDate, SiteView), PageError> {
    let (month, site) = month_and_site(app, q)?;
    if q.month.as_deref().is_some_and(|m| !m.is_empty()) {
        return Ok((month, site));
    }
    let this = month_of(site.date(app.now()));
    Ok((
        this.checked_sub_months(chrono::Months::new(1))
            .unwrap_or(this),
        site,
    ))
}

async fn package_of(
    app: &AppState,
    site: &SiteView,
    month: NaiveDate,
) -> Result<Package, PageError> {
    let (docs, config, sid, now) = (
        app.docs.clone(),
        app.config.clone(),
        site.id.clone(),
        app.now(),
    );
    let made = app
        .store
        .call(move |s| {
            Ok(egisso::package(
                s,
                &config,
                &docs.catalogue,
                &sid,
                month,
                now,
            ))
        })
        .await?;
    made.map_err(|e| match e {
        egisso::EgissoError::NoOszCode(_) => PageError::bad_request(
            "Для выгрузки в ЕГИССО не задан код учреждения: osz_code в разделе [egisso] \
             настроек журнала или у отделения в [[sites]]. Обратитесь к администратору.",
        ),
        e => PageError::internal(&e.to_string()),
    })
}

/// `GET /exports/egisso`.
pub async fn show(
    State(app): State<AppState>,
    staff: Staff,
    Query(q): Query<MonthQuery>,
) -> Result<Markup, PageError> {
    let (month, site) = month_asked(&app, &q)?;
    let pkg = package_of(&app, &site, month).await?;
    let (sid, m) = (site.id.clone(), month);
    let signed = app.store.call(move |s| s.sign_off(&sid, m)).await?;
    let title = |code: &str| {
        app.docs
            .catalogue
            .services
            .iter()
            .find(|s| s.code.0 == code)
            .map_or_else(|| code.to_string(), |s| s.title_ru.clone())
    };
    let month_param = month.format("%Y-%m").to_string();
    let left_out = pkg.held.len() + pkg.unplanned.len() + pkg.unmapped.len();
    let (facts, recipients, units) = (pkg.facts.len(), pkg.recipients(), pkg.units());
    let body = html! {
        h1 { "Выгрузка в ЕГИССО" }
        p { "Сведения о социальных услугах за месяц для региональной информационной системы: "
            "по одной записи (факту назначения) на каждого получателя и услугу, с числом услуг, как в акте за месяц." }
        form.filters method="get" action="/exports/egisso" {
            div { (month_select(month, month_of(site.date(app.now())))) }
            @if app.sites.len() > 1 {
                div {
                    label for="site" { "Отделение" }
                    select id="site" name="site" {
                        @for s in app.sites.iter() { option value=(s.id) selected[s.id == site.id] { (s.id) } }
                    }
                }
            } @else {
                input type="hidden" name="site" value=(site.id);
            }
            div { button type="submit" { "Показать" } }
        }
        @if facts == 0 && left_out == 0 {
            p { "За " (month_label(month)) " услуг нет: выгружать нечего." }
        } @else if facts == 0 {
            div.problems role="alert" {
                p.error { "В выгрузке за " (month_label(month)) " нет ни одной записи: отправлять нечего." }
                @if left_out > 0 { p { "Ниже — почему услуги месяца в неё не вошли." } }
            }
        } @else {
            div.allgood {
                p { strong { (month_label(month)) ": " }
                    span data-figure="facts" { (thousands(facts as u64)) } " " (plural(facts, "запись", "записи", "записей"))
                    " по " span data-figure="recipients" { (thousands(recipients as u64)) } " " (plural(recipients, "получателю", "получателям", "получателям"))
                    ", " span data-figure="units" { (thousands(units)) } " " (plural(units as usize, "услуга", "услуги", "услуг"))
                    ". Код учреждения в ЕГИССО: " (pkg.osz_code) "." }
                p { a.button href={ "/exports/egisso/file?month=" (month_param) "&site=" (site.id) } download { "Скачать XML для ЕГИССО" } }
            }
        }
        @match &signed {
            Some(s) => p { "Месяц подписан заведующим: " (s.by) ", " (date_label(site.date(s.at))) "." },
            None => div.note { strong { "Месяц не подписан заведующим." }
                " Данные ещё могут измениться; обычно в ЕГИССО отправляют подписанный месяц." },
        }
        h2 { "Не войдут в выгрузку" }
        @if left_out == 0 && facts > 0 {
            p { "Все услуги месяца войдут в выгрузку." }
        } @else if left_out > 0 {
            p { "Услуг, которые не войдут: " strong data-figure="left-out" { (thousands(pkg.units_left_out())) } ". Исправьте данные и откройте страницу снова." }
            table {
                thead { tr { th { "Получатель или услуга" } th { "Почему" } th.num { "Услуг" } } }
                tbody {
                    @for h in &pkg.held {
                        tr data-left-out=(h.recipient) {
                            td { a href={ "/people/" (h.recipient) "?site=" (site.id) } { (h.name) } }
                            td { (h.lacks.iter().map(|l| l.words()).collect::<Vec<_>>().join(", ")) }
                            td.num { (h.units) }
                        }
                    }
                    @for u in &pkg.unplanned {
                        tr data-left-out=(u.recipient) {
                            td { a href={ "/people/" (u.recipient) "?site=" (site.id) } { (u.name) } }
                            td { "услуга «" (title(&u.service)) "» дана не по ИППСУ: её нет в программе на эти дни, или получатель уже выбыл" }
                            td.num { (u.units) }
                        }
                    }
                    @for u in &pkg.unmapped {
                        tr data-left-out=(u.service) {
                            td { (u.service) " " (title(&u.service)) }
                            td { "для услуги не задан код меры (ЛМСЗ) в настройках журнала — обратитесь к администратору" }
                            td.num { (u.units) }
                        }
                    }
                }
            }
        }
        div.note { "В файле СНИЛС, ФИО и даты рождения получателей. Храните его только там, где это разрешено; "
            "каждое скачивание записывается в журнал доступа." }
    };
    Ok(page(
        "Выгрузка в ЕГИССО",
        Section::Exports,
        Some(&staff.0),
        body,
    ))
}

/// `GET /exports/egisso/file`: the package as XML, audited.
pub async fn file(
    State(app): State<AppState>,
    staff: Staff,
    Query(q): Query<MonthQuery>,
) -> Result<Response, PageError> {
    let (month, site) = month_asked(&app, &q)?;
    let pkg = package_of(&app, &site, month).await?;
    let mut bytes = Vec::new();
    pkg.write(&mut bytes)
        .map_err(|e| PageError::internal(&format!("egisso: {e}")))?;
    let (actor, now) = (Actor::of(&staff.0.user), app.now());
    let (subject, detail) = (format!("site {}", site.id), pkg.audit_words("the browser"));
    app.store
        .call(move |s| s.audit(&actor, "export_egisso", &subject, &detail, now))
        .await?;
    let name = pkg.file_name();
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/xml; charset=utf-8".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                super::exports::content_disposition(&name, &name),
            ),
        ],
        bytes,
    )
        .into_response())
}
