//! The monthly act (акт о предоставлении социальных услуг, 001 l.41, 002 l.103): per recipient
//! and month, the services given with their dates and counts against the individual programme,
//! and the lines the provider and the recipient (or their representative) sign. A printable
//! page; opening one is recorded in the audit log (it shows a person's services).

use super::auth::Staff;
use super::journal::{MonthQuery, month_and_site, next_month, plural};
use super::layout::{PageError, Section, date_label, month_label, month_select, page};
use super::{AppState, SiteView};
use crate::store::people::Person;
use crate::store::staff::{Actor, UnitRecord};
use axum::extract::{Path, Query, State};
use chrono::{Datelike, NaiveDate};
use maud::{Markup, html};
use otmetka_core::catalogue::Period;
use otmetka_core::people::RecipientId;
use std::collections::BTreeMap;

/// One line of an act: a service, the dates it was given on, and its count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActLine {
    pub service: String,
    pub dates: Vec<NaiveDate>,
    pub count: usize,
    /// What the programme plans for the month, where it says a number per month.
    pub planned: Option<u32>,
}

/// The lines of a recipient's act: every counted unit of theirs in the month, by service (a
/// per-group unit counts for each of its participants), and the programme's services with none.
pub fn act_lines(units: &[UnitRecord], recipient: &Person, site: &str) -> Vec<ActLine> {
    let mut by_service: BTreeMap<String, Vec<NaiveDate>> = BTreeMap::new();
    for u in units.iter().filter(|u| u.counts() && u.site == site) {
        let theirs = u.unit.recipient == Some(recipient.id)
            || (u.unit.recipient.is_none() && u.unit.participants.contains(&recipient.id));
        if theirs {
            by_service
                .entry(u.unit.service.0.clone())
                .or_default()
                .push(u.unit.date);
        }
    }
    let planned = |code: &str| {
        recipient.programme.as_ref().and_then(|p| {
            p.items
                .iter()
                .find(|i| i.service.0 == code && i.period == Period::Month)
                .and_then(|i| i.count)
        })
    };
    if let Some(p) = &recipient.programme {
        for item in &p.items {
            by_service.entry(item.service.0.clone()).or_default();
        }
    }
    by_service
        .into_iter()
        .map(|(service, mut dates)| {
            dates.sort();
            let count = dates.len();
            dates.dedup();
            ActLine {
                planned: planned(&service),
                service,
                dates,
                count,
            }
        })
        .collect()
}

async fn month_units(
    app: &AppState,
    site: &SiteView,
    month: NaiveDate,
) -> Result<Vec<UnitRecord>, PageError> {
    let to = next_month(month).pred_opt().unwrap_or(month);
    let id = site.id.clone();
    let units = app.store.call(move |s| s.unit_records(month, to)).await?;
    Ok(units.into_iter().filter(|u| u.site == id).collect())
}

/// `GET /acts`: the month's acts, one line per recipient.
pub async fn list(
    State(app): State<AppState>,
    staff: Staff,
    Query(q): Query<MonthQuery>,
) -> Result<Markup, PageError> {
    let (month, site) = month_and_site(&app, &q)?;
    let units = month_units(&app, &site, month).await?;
    let m = format!("{:04}-{:02}", month.year(), month.month());
    let in_progress = next_month(month) > site.date(app.now());
    let people = app.people(&site.id).await?;
    let short_people = people
        .current()
        .filter(|r| {
            act_lines(&units, r, &site.id)
                .iter()
                .any(|l| l.planned.is_some_and(|p| (l.count as u32) < p))
        })
        .count();
    let body = html! {
        h1 { "Акты и выполнение программ — " (month_label(month)) }
        form.filters method="get" action="/acts" {
            div { (month_select(month, crate::store::staff::month_of(site.date(app.now())))) }
            input type="hidden" name="site" value=(site.id);
            div { button type="submit" { "Показать" } }
        }
        @if short_people > 0 {
            div.problems role="alert" {
                h2 { (short_people) " " (plural(short_people, "получатель получил", "получателя получили", "получателей получили")) " меньше услуг, чем по программе" }
                p { "Строки отмечены в таблице; в акте видно, каких услуг не хватает."
                    @if in_progress { " Месяц ещё идёт: это оказанное на сегодня." } }
            }
        } @else {
            div.allgood { strong { "Всем получателям услуги оказаны не меньше, чем по программе." } }
        }
        table {
            thead { tr { th { "Получатель" } th.num { "Услуг за месяц" } th.num { "Услуг ниже плана (видов)" } th { "Акт" } } }
            tbody {
                @for r in people.current() {
                    @let lines = act_lines(&units, r, &site.id);
                    @let total: usize = lines.iter().map(|l| l.count).sum();
                    @let short = lines.iter().filter(|l| l.planned.is_some_and(|p| (l.count as u32) < p)).count();
                    tr class=[(short > 0).then_some("problem")] {
                        td { (r.display_name) }
                        td.num { (total) }
                        td.num { @if short > 0 { (short) " из " (lines.iter().filter(|l| l.planned.is_some()).count()) } @else { "—" } }
                        td { a href={ "/acts/" (r.id) "?month=" (m) "&site=" (site.id) } { "Открыть акт" } }
                    }
                }
            }
        }
    };
    Ok(page("Акты", Section::Acts, Some(&staff.0), body))
}

/// `GET /acts/{recipient}`: one act, ready to print.
pub async fn act(
    State(app): State<AppState>,
    staff: Staff,
    Path(recipient): Path<String>,
    Query(q): Query<MonthQuery>,
) -> Result<Markup, PageError> {
    let (month, site) = month_and_site(&app, &q)?;
    let id = recipient
        .parse()
        .map(RecipientId)
        .map_err(|_| PageError::not_found("Такого получателя нет."))?;
    let people = app.people(&site.id).await?;
    let person = people
        .recipient(id)
        .filter(|p| p.anonymised_at.is_none())
        .cloned()
        .ok_or_else(|| PageError::not_found("Такого получателя нет."))?;
    let units = month_units(&app, &site, month).await?;
    let lines = act_lines(&units, &person, &site.id);
    let total: usize = lines.iter().map(|l| l.count).sum();
    let (now, actor) = (app.now(), Actor::of(&staff.0.user));
    let detail = format!("act for {}", month_label(month));
    app.store
        .call(move |s| s.audit(&actor, "view_act", &id.to_string(), &detail, now))
        .await?;
    let last = next_month(month).pred_opt().unwrap_or(month);
    let body = html! {
        p.noprint { a href={ "/acts?month=" (format!("{:04}-{:02}", month.year(), month.month())) "&site=" (site.id) } { "← Все акты за " (month_label(month)) } " · Напечатайте страницу (Ctrl+P)." }
        h1 { "Акт о предоставлении социальных услуг" }
        p { "за период с " (date_label(month)) " по " (date_label(last)) }
        p { "Поставщик социальных услуг: отделение " strong { (site.id) } }
        p { "Получатель социальных услуг: " strong { (person.full_name) }
            @if let Some(b) = person.birth_date { ", дата рождения " (date_label(b)) } }
        @if !person.representative.is_empty() {
            p { "Законный представитель: " strong { (person.representative) } }
        }
        @if let Some(p) = &person.programme {
            p { "Индивидуальная программа действует с " (date_label(p.valid_from)) " по " (date_label(p.valid_to)) "." }
        } @else {
            p.error { "Индивидуальной программы в списке нет." }
        }
        table {
            thead { tr { th.num { "№" } th { "Наименование социальной услуги" } th { "Даты оказания" } th.num { "Оказано" } th.num { "По программе в месяц" } } }
            tbody {
                @for (i, l) in lines.iter().enumerate() {
                    tr class=[l.planned.is_some_and(|p| (l.count as u32) < p).then_some("problem")] {
                        td.num { (i + 1) }
                        td { (app.service_title(&l.service)) }
                        td { @for (k, d) in l.dates.iter().enumerate() { @if k > 0 { ", " } (d.format("%d.%m")) } }
                        td.num data-service=(l.service) { (l.count) }
                        td.num { @match l.planned { Some(p) => { (p) }, None => { "по мере необходимости" } } }
                    }
                }
                tr { td {} td { strong { "Итого" } } td {} td.num #total { strong { (total) } } td {} }
            }
        }
        p { "Услуги оказаны в полном объёме, своевременно и качественно; претензий нет (при наличии претензий — указать): ____________" }
        div.sign {
            div { "Поставщик социальных услуг (должность, подпись, расшифровка)" }
            div { "Получатель социальных услуг или его законный представитель (подпись, расшифровка)" }
        }
        p.muted { "Составлено " (date_label(site.date(now))) ". Отметка, журнал учёта социальных услуг." }
    };
    Ok(page("Акт", Section::Acts, Some(&staff.0), body))
}
