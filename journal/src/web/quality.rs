//! `GET /quality`: the quality indicator the standards measure by (002 l.1223: satisfaction of
//! recipients with the services): per service and month, the answers recipients gave at the
//! kiosk at check-out, and the share satisfied, in %.

use super::AppState;
use super::auth::Staff;
use super::journal::{MonthQuery, month_and_site, next_month};
use super::layout::{PageError, Section, month_label, month_select, page};
use crate::store::staff::month_of;
use maud::{Markup, html};
use otmetka_core::event::Satisfaction;
use std::collections::BTreeMap;

/// One service's answers in a month.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Answers {
    pub good: usize,
    pub neutral: usize,
    pub bad: usize,
}

impl Answers {
    pub fn total(&self) -> usize {
        self.good + self.neutral + self.bad
    }

    /// The share satisfied, in whole per cent (rounded half up), where anyone answered.
    pub fn satisfied_percent(&self) -> Option<usize> {
        let t = self.total();
        (t > 0).then(|| (self.good * 200 + t) / (2 * t))
    }
}

/// Counts answers by service.
pub fn by_service(answers: &[(String, Satisfaction)]) -> BTreeMap<String, Answers> {
    let mut out: BTreeMap<String, Answers> = BTreeMap::new();
    for (service, a) in answers {
        let e = out.entry(service.clone()).or_default();
        match a {
            Satisfaction::Good => e.good += 1,
            Satisfaction::Neutral => e.neutral += 1,
            Satisfaction::Bad => e.bad += 1,
        }
    }
    out
}

pub async fn show(
    State(app): State<AppState>,
    staff: Staff,
    axum::extract::Query(q): axum::extract::Query<MonthQuery>,
) -> Result<Markup, PageError> {
    let (month, site) = month_and_site(&app, &q)?;
    let (from, to) = (site.start_of(month), site.start_of(next_month(month)));
    let id = site.id.clone();
    let answers = app
        .store
        .call(move |s| s.satisfaction(&id, from, to))
        .await?;
    let rows = by_service(&answers);
    let all = by_service(
        &answers
            .iter()
            .map(|(_, a)| (String::new(), *a))
            .collect::<Vec<_>>(),
    )
    .remove("")
    .unwrap_or_default();
    let body = html! {
        h1 { "Удовлетворённость получателей — " (month_label(month)) }
        form.filters method="get" action="/quality" {
            div { (month_select(month, month_of(site.date(app.now())))) }
            input type="hidden" name="site" value=(site.id);
            div { button type="submit" { "Показать" } }
        }
        p { "Ответы на вопрос киоска при уходе с занятия («Как прошло занятие?»). "
            "Показатель качества — доля удовлетворённых." }
        @if rows.is_empty() {
            p { "За этот месяц ответов нет." }
        } @else {
            p { "Всего ответов: " strong { (all.total()) } ", удовлетворены: " strong { (all.satisfied_percent().unwrap_or(0)) " %" } "." }
            table {
                thead { tr {
                    th { "Услуга" } th.num { "Ответов" } th.num { "Хорошо" } th.num { "Нормально" }
                    th.num { "Плохо" } th.num { "Удовлетворены, %" }
                } }
                tbody {
                    @for (service, a) in &rows {
                        tr {
                            td { (app.service_title(service)) }
                            td.num { (a.total()) }
                            td.num { (a.good) }
                            td.num { (a.neutral) }
                            td.num { (a.bad) }
                            td.num data-service=(service) { (a.satisfied_percent().unwrap_or(0)) }
                        }
                    }
                }
            }
        }
    };
    Ok(page("Качество", Section::Quality, Some(&staff.0), body))
}

use axum::extract::State;
