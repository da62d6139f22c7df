//! `GET /violations`: the journal's own re-check of the rules over all of a site's kiosks (the
//! rules issue, point 1; the staff journal, point 7), for a month. Each row is a unit that
//! broke a cap or the programme's count once every kiosk's units are counted: either the
//! kiosk's instructor overrode the rule with a reason (known at the time), or the kiosk could
//! not know (another kiosk was offline). The units stay in the journal and the acts: the page
//! is for the head to look into, not a list of what was refused.

use super::AppState;
use super::auth::Staff;
use super::journal::{MonthQuery, month_and_site, next_month};
use super::layout::{PageError, Section, date_label, month_label, month_select, page};
use crate::store::rules::{DoubleTap, Violation};
use crate::store::staff::month_of;
use axum::extract::{Query, State};
use chrono::Datelike;
use maud::{Markup, html};
use otmetka_core::catalogue::{Form, Period};
use otmetka_core::decision::{Decision, ProgrammeGap};

/// "в неделю", "за курс 14 дней": the period as a cap's sentence ends.
fn per(period: Period) -> String {
    match period {
        Period::Day => "в день".into(),
        Period::Week => "в неделю".into(),
        Period::Month => "в месяц".into(),
        Period::Quarter => "в квартал".into(),
        Period::Year => "в год".into(),
        Period::Course { days } => format!("за курс {days} дней"),
    }
}

/// What the unit broke, in a sentence with its figures.
fn what(v: &Violation) -> String {
    match &v.decision {
        Decision::FrequencyLimit { limit, used, .. } if limit.per_group => format!(
            "Не более {} {} для группы: до этого занятия у группы уже было {used}",
            limit.max,
            per(limit.period)
        ),
        Decision::FrequencyLimit { limit, used, .. } => format!(
            "{} {} {}: до этой услуги уже было {used}",
            match limit.form {
                Form::Any => "Не более",
                Form::Regular => "Занятия (без мероприятий): не более",
                Form::Event => "Мероприятия и экскурсии: не более",
            },
            limit.max,
            per(limit.period)
        ),
        Decision::NotInProgramme {
            gap: ProgrammeGap::CountUsed { allowed, used },
            ..
        } => format!("По программе {allowed} за период: до этой услуги уже было {used}"),
        other => format!("{:?}", other.kind()),
    }
}

pub async fn list(
    State(app): State<AppState>,
    staff: Staff,
    Query(q): Query<MonthQuery>,
) -> Result<Markup, PageError> {
    let (month, site) = month_and_site(&app, &q)?;
    let sid = site.id.clone();
    let found: Vec<Violation> = app
        .store
        .call(move |s| s.violations(&sid, month, next_month(month)))
        .await?;
    // The month's days at the site, as instants: its first midnight to the next month's.
    let (from, to, sid) = (
        site.start_of(month),
        site.start_of(next_month(month)),
        site.id.clone(),
    );
    let doubles: Vec<DoubleTap> = app
        .store
        .call(move |s| s.double_taps(&sid, from, to))
        .await?;
    let people = app.people(&site.id).await?;
    let today = site.date(app.now());
    let at =
        |t: chrono::DateTime<chrono::Utc>| format!("{} {}", date_label(site.date(t)), site.hm(t));
    let unseen = found.iter().filter(|v| !v.overridden).count();
    let body = html! {
        h1 { "Нарушения правил — " (month_label(month)) }
        form.filters method="get" action="/violations" {
            div { (month_select(month, month_of(today))) }
            input type="hidden" name="site" value=(site.id);
            div { button type="submit" { "Показать" } }
        }
        p { "Журнал проверяет каждую услугу по правилам стандарта, считая все киоски учреждения. "
            "Здесь — услуги сверх ограничения частоты или сверх количества по программе. "
            "Услуги остаются в журнале и в актах: проверьте, было ли так нужно." }
        @if !doubles.is_empty() {
            div.problems role="alert" {
                h2 { "Одна карта на двух киосках сразу: " (doubles.len()) }
                p { "Карту приложили на втором киоске, когда её владелец уже был отмечен на занятии первого и не уходил с него. "
                    "Так бывает, если карту скопировали или отдали другому человеку. Проверьте по журналам занятий, кто был на них; "
                    "если карта чужая, заблокируйте её на странице получателя и выдайте новую." }
                table {
                    thead { tr { th { "Получатель" } th { "Первая отметка" } th { "Вторая отметка" } } }
                    tbody {
                        @for d in &doubles {
                            tr data-double=(d.recipient) {
                                td { a href={ "/people/" (d.recipient) "?site=" (site.id) } { (people.recipient_name(d.recipient)) } }
                                td { (at(d.first.2)) ", киоск " (d.first.0) " · " a href={ "/journal/sessions/" (d.first.1) } { "занятие" } }
                                td { (at(d.second.2)) ", киоск " (d.second.0) " · " a href={ "/journal/sessions/" (d.second.1) } { "занятие" } }
                            }
                        }
                    }
                }
            }
        }
        @if found.is_empty() {
            p { @if doubles.is_empty() { "За этот месяц нарушений нет." } @else { "Услуг сверх ограничений частоты и сверх программы за этот месяц нет." } }
        } @else {
            @if unseen > 0 {
                div.problems role="alert" {
                    h2 { "Киоск не знал: " (unseen) }
                    p { "Эти услуги дали на одном киоске, пока другой был без связи: превышение видно только теперь." }
                }
            }
            table {
                thead { tr {
                    th { "Дата" } th { "Получатель" } th { "Услуга" } th { "Что нарушено" }
                    th { "Киоск" } th { "Решение на киоске" } th { "Занятие" }
                } }
                tbody {
                    @for v in &found {
                        tr {
                            td.name { (date_label(v.date)) }
                            td { (people.recipient_name(v.recipient)) }
                            td { (app.service_title(&v.service.0)) }
                            td { (what(v)) }
                            td { (v.kiosk) }
                            td { @if v.overridden { "разрешено инструктором с причиной" } @else { span.mark { "киоск не знал" } } }
                            td { a href={ "/journal/sessions/" (v.session) } { "открыть" } }
                        }
                    }
                }
            }
        }
    };
    let title = format!("Нарушения {:02}.{}", month.month(), month.year());
    Ok(page(&title, Section::Violations, Some(&staff.0), body))
}
