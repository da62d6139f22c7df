//! The monthly act (акт о предоставлении социальных услуг, 001 l.41, 002 l.103): per recipient
//! and month, the services given with their dates and counts against the individual programme,
//! and the lines the provider and the recipient (or their representative) sign. A printable
//! page; opening one is recorded in the audit log (it shows a person's services).

use super::auth::Staff;
use super::journal::{MonthQuery, month_and_site, next_month, plural};
use super::layout::{PageError, Section, date_label, month_label, month_select, page};
use super::{AppState, SiteView};
use crate::plan::{self, Given, Judged};
use crate::store::people::Person;
use crate::store::staff::{Actor, UnitRecord};
use crate::store::{JournalStore, StoreError};
use axum::extract::{Path, Query, State};
use chrono::{Datelike, NaiveDate};
use maud::{Markup, html};
use otmetka_core::catalogue::{Catalogue, Period, ServiceCode};
use otmetka_core::people::{Programme, ProgrammeItem, RecipientId};
use std::collections::BTreeMap;

/// One line of an act: a service, the dates it was given on in the month, and its count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActLine {
    pub service: String,
    pub dates: Vec<NaiveDate>,
    pub count: usize,
    /// What the programmes in force in the month plan for the service, each judged over its
    /// days, oldest first (two where a programme was replaced mid-month and the plan changed);
    /// empty: not in them.
    pub plan: Vec<Planned>,
    /// The standard's minimum frequency for the recipient (a floor: 002 l.1197 «от 1 раза в
    /// день»), judged the same way, where the service is in the programme and has one.
    pub floor: Option<(u32, Judged)>,
}

/// What one programme plans for a service, judged over the days of the month it was in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    /// The days of the month the programme was in force.
    pub in_force: plan::Span,
    pub judged: Judged,
}

impl ActLine {
    /// Whether a judged period of the month fell short of the programme.
    pub fn is_short(&self) -> bool {
        self.plan.iter().any(|p| p.judged.is_short())
    }

    /// Whether the service is in a programme with a count (not only «as needed»).
    pub fn is_counted(&self) -> bool {
        self.plan.iter().any(|p| p.judged.count.is_some())
    }

    /// Whether the running period (this week, this month) has fewer so far than planned: not a
    /// shortfall yet, but what the specialist still has to give.
    pub fn is_behind_so_far(&self) -> bool {
        self.plan.iter().any(|p| {
            p.judged
                .ongoing
                .zip(p.judged.count)
                .is_some_and(|((_, n), count)| n < count)
        })
    }
}

/// The lines of a recipient's act for `month`: their counted units (`given`, which may reach
/// back before the month for the periods the programme counts in) by service, and the
/// programme's services with none, each judged against the programme as of `today`.
pub fn act_lines(
    given: &Given,
    recipient: &Person,
    catalogue: &Catalogue,
    month: NaiveDate,
    today: NaiveDate,
) -> Vec<ActLine> {
    let span = plan::month_span(month);
    // The programmes in force in the month (a replaced one for a past month, or two where one
    // replaced the other), each cut to its days; someone who left is judged up to their last day.
    let programmes = programmes_of_month(recipient, month);
    let mut services: BTreeMap<&str, ()> = given
        .iter()
        .filter(|(_, dates)| dates.iter().any(|d| span.first <= *d && *d <= span.last))
        .map(|(s, _)| (s.as_str(), ()))
        .collect();
    for p in &programmes {
        for item in &p.items {
            services.insert(item.service.0.as_str(), ());
        }
    }
    let minor = recipient.is_minor_on(span.last.min(today));
    services
        .into_keys()
        .map(|service| {
            let mut dates: Vec<NaiveDate> = given
                .get(service)
                .into_iter()
                .flatten()
                .copied()
                .filter(|d| span.first <= *d && *d <= span.last)
                .collect();
            dates.sort();
            let count = dates.len();
            dates.dedup();
            let items: Vec<(&Programme, &ProgrammeItem)> = programmes
                .iter()
                .filter_map(|p| Some((p, p.items.iter().find(|i| i.service.0 == service)?)))
                .collect();
            // A renewal with the same plan is one plan: its week across the change is judged.
            let plan: Vec<Planned> = joined(&items, |a, b| a == b)
                .into_iter()
                .map(|(p, item)| Planned {
                    in_force: plan::Span {
                        first: p.valid_from.max(span.first),
                        last: p.valid_to.min(span.last),
                    },
                    judged: plan::judge(&p, &item, given, month, today),
                })
                .collect();
            // A floor is owed to whom it applies on the month's last day judged, and only where
            // the recipient's own caps allow it: 002 l.1197 «от 1 раза в день, не более 2-х в
            // неделю» cannot mean a session a day for each recipient (7 a week over a cap of
            // 2), so it is read as the service's schedule, not what each one is owed.
            let floor = catalogue
                .get(&ServiceCode::from(service))
                .filter(|_| !items.is_empty())
                .and_then(|svc| {
                    let f = svc.floors.iter().find(|f| f.applies.to(minor))?;
                    let capped = svc.limits.iter().any(|l| {
                        !l.per_group
                            && l.applies.to(minor)
                            && u64::from(f.min) * days_in(l.period)
                                > u64::from(l.max) * days_in(f.period)
                    });
                    if capped {
                        return None;
                    }
                    let owed = ProgrammeItem {
                        courses: Vec::new(),
                        service: svc.code.clone(),
                        count: Some(f.min),
                        period: f.period,
                    };
                    // The standard's floor does not change with the programme.
                    let mut judged = joined(&items, |_, _| true)
                        .into_iter()
                        .map(|(p, _)| plan::judge(&p, &owed, given, month, today));
                    let mut first = judged.next()?;
                    judged.for_each(|j| merge(&mut first, j));
                    Some((f.min, first))
                });
            ActLine {
                service: service.to_string(),
                dates,
                count,
                plan,
                floor,
            }
        })
        .collect()
}

/// The programmes in force on some day of `month`, each cut to its days (see
/// [`Person::programmes_in_force`]); looked for from a year before, for the periods that end in
/// the month and began before it.
pub fn programmes_of_month(person: &Person, month: NaiveDate) -> Vec<Programme> {
    let span = plan::month_span(month);
    let from = span.first - chrono::Days::new(366);
    person
        .programmes_in_force(from, span.last)
        .into_iter()
        .filter(|p| p.valid_to >= span.first)
        .collect()
}

/// «действует с 01.01.2026 по 31.12.2026», or, where one replaced another in the month, «с
/// 01.01.2026 по 14.11.2026, затем с 15.11.2026 по 14.11.2027»: the act's programme line.
pub fn programme_words(person: &Person, month: NaiveDate) -> Option<String> {
    let runs: Vec<String> = programmes_of_month(person, month)
        .iter()
        .map(|p| {
            format!(
                "с {} по {}",
                date_label(p.valid_from),
                date_label(p.valid_to)
            )
        })
        .collect();
    match runs.as_slice() {
        [] => None,
        [one] => Some(format!("действует {one}")),
        many => Some(format!(
            "сменилась в этом месяце: {}",
            many.join(", затем ")
        )),
    }
}

/// The programmes of `items` joined where one follows the other without a gap and their items
/// agree by `same`: one programme over both validities, with the earlier one's item.
fn joined(
    items: &[(&Programme, &ProgrammeItem)],
    same: impl Fn(&ProgrammeItem, &ProgrammeItem) -> bool,
) -> Vec<(Programme, ProgrammeItem)> {
    let mut out: Vec<(Programme, ProgrammeItem)> = Vec::new();
    for (p, item) in items {
        match out.last_mut() {
            Some((prev, prev_item))
                if prev.valid_to.succ_opt() == Some(p.valid_from) && same(prev_item, item) =>
            {
                prev.valid_to = p.valid_to;
            }
            _ => out.push(((*p).clone(), (*item).clone())),
        }
    }
    out
}

/// Adds what `more` judged (the same count and period, under a later programme) to `judged`.
fn merge(judged: &mut Judged, more: Judged) {
    judged.judged += more.judged;
    judged.short.extend(more.short);
    judged.ongoing = judged.ongoing.or(more.ongoing);
}

/// The most days a period can hold (a month 31, a quarter 92): for comparing a floor and a cap.
fn days_in(period: Period) -> u64 {
    match period {
        Period::Day => 1,
        Period::Week => 7,
        Period::Month => 31,
        Period::Quarter => 92,
        Period::Year => 366,
        Period::Course { days } => u64::from(days),
    }
}

/// The site's counted units from `from` to the end of `month`, by recipient.
async fn given_since(
    app: &AppState,
    site: &SiteView,
    from: NaiveDate,
    month: NaiveDate,
) -> Result<BTreeMap<RecipientId, Given>, PageError> {
    let to = next_month(month).pred_opt().unwrap_or(month);
    let units = app.store.call(move |s| s.unit_records(from, to)).await?;
    Ok(given_of(&units, &site.id))
}

/// The units of `site` that count, by recipient (a per-group unit for each participant).
pub fn given_of(units: &[UnitRecord], site: &str) -> BTreeMap<RecipientId, Given> {
    plan::given_by_recipient(
        units
            .iter()
            .filter(|u| u.counts() && u.site == site)
            .map(|u| {
                (
                    u.unit.recipient,
                    u.unit.participants.as_slice(),
                    u.unit.service.0.as_str(),
                    u.unit.date,
                )
            }),
    )
}

/// One recipient's act for a month: its lines and their total, as the page and the PDF show
/// them.
#[derive(Debug, Clone)]
pub struct Act {
    pub person: Person,
    pub month: NaiveDate,
    pub lines: Vec<ActLine>,
    pub total: usize,
}

/// Reads what `person`'s act for `month` needs from the store and judges its lines as of
/// `today`: the one computation behind the act's page, its PDF and `otmetka-journal act`.
pub fn act_of(
    store: &dyn JournalStore,
    person: &Person,
    catalogue: &Catalogue,
    site: &str,
    month: NaiveDate,
    today: NaiveDate,
) -> Result<Act, StoreError> {
    let from = needed_from(std::iter::once(person), month, today);
    let to = next_month(month).pred_opt().unwrap_or(month);
    let given = given_of(&store.unit_records(from, to)?, site);
    let none = Given::new();
    let lines = act_lines(
        given.get(&person.id).unwrap_or(&none),
        person,
        catalogue,
        month,
        today,
    );
    Ok(Act {
        person: person.clone(),
        month,
        total: lines.iter().map(|l| l.count).sum(),
        lines,
    })
}

/// An act line's plan in words: the programme's count, the periods that fell short, the
/// running one, the standard's floor missed. The page's cell and the PDF's use these words.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanWords {
    /// «2 в неделю»; `None`: the service is not in the programme.
    pub plan: Option<String>,
    /// «меньше плана на 2», «меньше плана: 02.11–08.11 — 1».
    pub short: Option<String>,
    /// «идёт 07.12–13.12: 1 из 2».
    pub ongoing: Option<String>,
    /// «по стандарту не реже 1 раза в день: без занятия 6 дней из 8».
    pub floor: Option<String>,
}

impl PlanWords {
    /// The notes under the plan, in the page's order.
    pub fn notes(&self) -> Vec<String> {
        [&self.short, &self.ongoing, &self.floor]
            .into_iter()
            .flatten()
            .cloned()
            .collect()
    }
}

/// The words of an act line's plan. Where the plan changed in the month, each part names its
/// days («01.11–14.11: 2 в неделю»).
pub fn plan_words(line: &ActLine) -> PlanWords {
    if line.plan.is_empty() {
        return PlanWords::default();
    }
    let span_words = |s: &plan::Span| {
        if s.first == s.last {
            s.first.format("%d.%m").to_string()
        } else {
            format!("{}–{}", s.first.format("%d.%m"), s.last.format("%d.%m"))
        }
    };
    let several = line.plan.len() > 1;
    let part = |p: &Planned, words: String| {
        if several {
            format!("{}: {words}", span_words(&p.in_force))
        } else {
            words
        }
    };
    let in_one = |parts: Vec<String>| Some(parts.join("; ")).filter(|w| !w.is_empty());
    let mut plans = Vec::new();
    // The periods short of the plan, and the months short of a monthly plan.
    let mut shorts = Vec::new();
    let mut month_shorts = Vec::new();
    let mut ongoings = Vec::new();
    for p in &line.plan {
        let j = &p.judged;
        plans.push(part(p, plan::count_words(j.count, j.period)));
        match (j.is_short(), j.count) {
            (true, Some(count)) if j.period == Period::Month => month_shorts.push(format!(
                "меньше плана на {}",
                count.saturating_sub(j.short[0].given)
            )),
            (true, Some(_)) => shorts.extend(
                j.short
                    .iter()
                    .map(|s| format!("{} — {}", span_words(&s.span), s.given)),
            ),
            _ => {}
        }
        let ongoing = match (j.ongoing, j.count) {
            (Some((s, n)), Some(count)) if j.period != Period::Month || n < count => {
                Some(format!("идёт {}: {n} из {count}", span_words(&s)))
            }
            _ => None,
        };
        ongoings.extend(ongoing);
    }
    let floor = line
        .floor
        .as_ref()
        .filter(|(_, f)| f.is_short())
        .map(|(min, f)| {
            let missed = if f.period == Period::Day {
                format!(
                    "без занятия {} {} из {}",
                    f.short.len(),
                    plural(f.short.len(), "день", "дня", "дней"),
                    f.judged
                )
            } else {
                format!("меньше нормы в {} из {}", f.short.len(), f.judged)
            };
            format!(
                "по стандарту {}: {missed}",
                plan::floor_words(*min, f.period)
            )
        });
    PlanWords {
        plan: in_one(plans),
        short: in_one(
            (!shorts.is_empty())
                .then(|| format!("меньше плана: {}", shorts.join("; ")))
                .into_iter()
                .chain(month_shorts)
                .collect(),
        ),
        ongoing: in_one(ongoings),
        floor,
    }
}

/// The dates of an act line, «02.11, 05.11».
pub fn dates_words(line: &ActLine) -> String {
    line.dates
        .iter()
        .map(|d| d.format("%d.%m").to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The plan cell of an act line: the count in words, and the periods that fell short.
fn plan_cell(line: &ActLine) -> Markup {
    let w = plan_words(line);
    let Some(plan) = &w.plan else {
        return html! { span.muted { "нет в программе" } };
    };
    html! {
        (plan)
        @if let Some(short) = &w.short { br; span.short { (short) } }
        @if let Some(ongoing) = &w.ongoing { br; span.muted { (ongoing) } }
        @if let Some(floor) = &w.floor { br; span.short { (floor) } }
    }
}

/// The first date the month's plan vs fact needs, over the people given.
fn needed_from<'a>(
    people: impl Iterator<Item = &'a Person>,
    month: NaiveDate,
    today: NaiveDate,
) -> NaiveDate {
    people
        .flat_map(|p| programmes_of_month(p, month))
        .map(|p| plan::needed_from(&p, month, today))
        .min()
        .unwrap_or(month)
        .min(month)
}

/// `GET /acts`: the month's acts, one line per recipient.
pub async fn list(
    State(app): State<AppState>,
    staff: Staff,
    Query(q): Query<MonthQuery>,
) -> Result<Markup, PageError> {
    let (month, site) = month_and_site(&app, &q)?;
    let people = app.people(&site.id).await?;
    let today = site.date(app.now());
    let given = given_since(
        &app,
        &site,
        needed_from(people.current(), month, today),
        month,
    )
    .await?;
    let none = Given::new();
    let m = format!("{:04}-{:02}", month.year(), month.month());
    let in_progress = next_month(month) > today;
    // Those who had left before the month have no act for it; each act's lines, judged once.
    let listed: Vec<(&Person, Vec<ActLine>)> = people
        .current()
        .filter(|r| !r.has_left(month))
        .map(|r| {
            let lines = act_lines(
                given.get(&r.id).unwrap_or(&none),
                r,
                &app.docs.catalogue,
                month,
                today,
            );
            (r, lines)
        })
        .collect();
    let count_where = |f: fn(&ActLine) -> bool| {
        listed
            .iter()
            .filter(|(_, lines)| lines.iter().any(f))
            .count()
    };
    let short_people = count_where(ActLine::is_short);
    let behind_people = count_where(ActLine::is_behind_so_far);
    // Whether any period of the month has ended yet (on the 1st, none has).
    let judged_any = count_where(|l| l.plan.iter().any(|p| p.judged.judged > 0)) > 0;
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
                p { "Строки отмечены в таблице; в акте видно, каких услуг и за какие недели или дни не хватает."
                    @if in_progress { " Месяц ещё идёт: сравниваются только закончившиеся периоды." } }
            }
        } @else if in_progress && !judged_any {
            div.note { strong { "Ни один период программ в этом месяце ещё не закончился:" } " недели сравниваются после воскресенья, месячный план — после конца месяца." }
        } @else if in_progress {
            div.allgood { strong { "За закончившиеся недели и дни всем получателям оказано не меньше, чем по программе." } }
        } @else {
            div.allgood { strong { "Всем получателям услуги оказаны не меньше, чем по программе." } }
        }
        @if in_progress && behind_people > 0 {
            div.note role="status" {
                strong { "Месяц ещё идёт: " (behind_people) " " (plural(behind_people, "получатель пока получил", "получателя пока получили", "получателей пока получили")) " меньше, чем по программе за текущий период (неделю, месяц, квартал, курс)." }
                " Их строки помечены «пока меньше»: эти услуги ещё можно оказать."
            }
        }
        table {
            thead { tr { th { "Получатель" } th.num { "Услуг за месяц" } th.num { "Услуг ниже плана (видов)" } th { "Акт" } } }
            tbody {
                @for (r, lines) in &listed {
                    @let total: usize = lines.iter().map(|l| l.count).sum();
                    @let short = lines.iter().filter(|l| l.is_short()).count();
                    tr class=[(short > 0).then_some("problem")] {
                        td { (r.display_name)
                            @if in_progress && lines.iter().any(ActLine::is_behind_so_far) { " " span.mark.info { "пока меньше" } } }
                        td.num { (total) }
                        td.num { @if short > 0 { (short) " из " (lines.iter().filter(|l| l.is_counted()).count()) } @else { "—" } }
                        td { a href={ "/acts/" (r.id) "?month=" (m) "&site=" (site.id) } { "Открыть акт" }
                            " · " a href={ "/acts/" (r.id) "/pdf?month=" (m) "&site=" (site.id) } { "Скачать PDF" } }
                    }
                }
            }
        }
    };
    Ok(page("Акты", Section::Acts, Some(&staff.0), body))
}

/// The recipient an act's path names, among the site's people whose data is held.
pub(super) async fn act_person(
    app: &AppState,
    site: &SiteView,
    recipient: &str,
) -> Result<Person, PageError> {
    let id = recipient
        .parse()
        .map(RecipientId)
        .map_err(|_| PageError::not_found("Такого получателя нет."))?;
    app.people(&site.id)
        .await?
        .recipient(id)
        .filter(|p| p.anonymised_at.is_none())
        .cloned()
        .ok_or_else(|| PageError::not_found("Такого получателя нет."))
}

/// `GET /acts/{recipient}`: one act, ready to print.
pub async fn act(
    State(app): State<AppState>,
    staff: Staff,
    Path(recipient): Path<String>,
    Query(q): Query<MonthQuery>,
) -> Result<Markup, PageError> {
    let (month, site) = month_and_site(&app, &q)?;
    let person = act_person(&app, &site, &recipient).await?;
    let id = person.id;
    let today = site.date(app.now());
    let (docs, sid) = (app.docs.clone(), site.id.clone());
    let act = app
        .store
        .call(move |s| act_of(s, &person, &docs.catalogue, &sid, month, today))
        .await?;
    let (person, lines, total) = (&act.person, &act.lines, act.total);
    let (now, actor) = (app.now(), Actor::of(&staff.0.user));
    let detail = format!("act for {}", month_label(month));
    app.store
        .call(move |s| s.audit(&actor, "view_act", &id.to_string(), &detail, now))
        .await?;
    let last = next_month(month).pred_opt().unwrap_or(month);
    let body = html! {
        p.noprint { a href={ "/acts?month=" (format!("{:04}-{:02}", month.year(), month.month())) "&site=" (site.id) } { "← Все акты за " (month_label(month)) } " · Напечатайте страницу (Ctrl+P) или "
            a href={ "/acts/" (person.id) "/pdf?month=" (format!("{:04}-{:02}", month.year(), month.month())) "&site=" (site.id) } { "скачайте акт в PDF" } "." }
        h1 { "Акт о предоставлении социальных услуг" }
        p { "за период с " (date_label(month)) " по " (date_label(last)) }
        p { "Поставщик социальных услуг: "
            @if app.config.documents.institution.trim().is_empty() { "отделение " strong { (site.id) } }
            @else { strong { (app.config.provider(&site.id)) } } }
        p { "Получатель социальных услуг: " strong { (person.full_name) }
            @if let Some(b) = person.birth_date { ", дата рождения " (date_label(b)) } }
        @if !person.representative.is_empty() {
            p { "Законный представитель: " strong { (person.representative) } }
        }
        @if let Some(words) = programme_words(person, month) {
            p { "Индивидуальная программа " (words) "." }
        } @else {
            p.error { "Индивидуальной программы в списке нет." }
        }
        table {
            thead { tr { th.num { "№" } th { "Наименование социальной услуги" } th { "Даты оказания" } th.num { "Оказано" } th { "По программе" } } }
            tbody {
                @for (i, l) in lines.iter().enumerate() {
                    tr class=[l.is_short().then_some("problem")] {
                        td.num { (i + 1) }
                        td { (app.service_title(&l.service)) }
                        td { (dates_words(l)) }
                        td.num data-service=(l.service) { (l.count) }
                        td.plan { (plan_cell(l)) }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::people::PastProgramme;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn weekly(service: &str, count: u32, from: &str, to: &str) -> Programme {
        Programme {
            valid_from: d(from),
            valid_to: d(to),
            items: vec![ProgrammeItem {
                service: ServiceCode::from(service),
                count: Some(count),
                period: Period::Week,
                courses: Vec::new(),
            }],
            course_start: None,
        }
    }

    /// A person whose programme `old` was replaced by `new`.
    fn replaced(old: Programme, new: Programme) -> Person {
        let mut p = Person::new("demo", "Анна", "Иванова Анна Петровна");
        p.programme = Some(new);
        p.past_programmes.push(PastProgramme {
            programme: old,
            replaced_at: chrono::DateTime::UNIX_EPOCH,
            replaced_by: "test".into(),
        });
        p
    }

    fn catalogue() -> Catalogue {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../config/services.toml");
        Catalogue::from_toml(path, &std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn given(dates: &[&str]) -> Given {
        Given::from([("001".to_string(), dates.iter().map(|s| d(s)).collect())])
    }

    #[test]
    fn a_month_whose_programme_changed_is_judged_by_each_over_its_days() {
        let person = replaced(
            weekly("001", 2, "2026-01-01", "2026-12-31"),
            weekly("001", 3, "2026-11-18", "2027-11-17"),
        );
        // Weeks ending in November 2026 (Monday to Sunday): 26.10–01.11, 2 of 2 (old);
        // 02.11–08.11, 1 of 2 (old: short); 09.11–15.11, 2 of 2 (old); 16.11–22.11 has the
        // change (judged by neither); 23.11–29.11, 2 of 3 (new: short).
        let g = given(&[
            "2026-10-27",
            "2026-10-29",
            "2026-11-04",
            "2026-11-10",
            "2026-11-12",
            "2026-11-17",
            "2026-11-24",
            "2026-11-26",
        ]);
        let lines = act_lines(&g, &person, &catalogue(), d("2026-11-01"), d("2026-12-05"));
        let line = lines.iter().find(|l| l.service == "001").unwrap();
        assert_eq!(line.count, 6);
        assert_eq!(line.plan.len(), 2, "{:?}", line.plan);
        let short: Vec<(NaiveDate, u32)> = line
            .plan
            .iter()
            .flat_map(|p| p.judged.short.iter().map(|s| (s.span.first, s.given)))
            .collect();
        assert_eq!(short, [(d("2026-11-02"), 1), (d("2026-11-23"), 2)]);
        assert_eq!(
            line.plan
                .iter()
                .map(|p| p.judged.judged)
                .collect::<Vec<_>>(),
            [3, 1],
            "old: the weeks ending 01.11, 08.11 and 15.11; new: 29.11"
        );
        let words = plan_words(line);
        assert_eq!(
            words.plan.as_deref(),
            Some("01.11–17.11: 2 в неделю; 18.11–30.11: 3 в неделю")
        );
        assert_eq!(
            words.short.as_deref(),
            Some("меньше плана: 02.11–08.11 — 1; 23.11–29.11 — 2")
        );
        assert_eq!(
            programme_words(&person, d("2026-11-01")).as_deref(),
            Some(
                "сменилась в этом месяце: с 01.01.2026 по 17.11.2026, затем с 18.11.2026 по 17.11.2027"
            )
        );
        // December: the new programme alone.
        assert_eq!(
            programme_words(&person, d("2026-12-01")).as_deref(),
            Some("действует с 18.11.2026 по 17.11.2027")
        );
    }

    #[test]
    fn a_programme_renewed_with_the_same_plan_reads_as_one() {
        let person = replaced(
            weekly("001", 2, "2026-01-01", "2026-12-31"),
            weekly("001", 2, "2026-11-18", "2027-11-17"),
        );
        // The week of the change, 16.11–22.11, is judged as one: 1 of 2.
        let g = given(&[
            "2026-10-27",
            "2026-10-29",
            "2026-11-03",
            "2026-11-05",
            "2026-11-10",
            "2026-11-12",
            "2026-11-20",
            "2026-11-24",
            "2026-11-26",
        ]);
        let lines = act_lines(&g, &person, &catalogue(), d("2026-11-01"), d("2026-12-05"));
        let line = lines.iter().find(|l| l.service == "001").unwrap();
        assert_eq!(line.plan.len(), 1);
        assert_eq!(line.plan[0].judged.judged, 5);
        let words = plan_words(line);
        assert_eq!(words.plan.as_deref(), Some("2 в неделю"));
        assert_eq!(
            words.short.as_deref(),
            Some("меньше плана: 16.11–22.11 — 1")
        );
    }
}
