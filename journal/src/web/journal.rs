//! The journal (журнал учета социальных услуг): a site's month of sessions with their
//! participants and marks, the month's problems first; one session with its units, where staff
//! add a forgotten check-in or remove one, each with a reason; the head's sign-off of the month
//! and its reopening.

use super::auth::Staff;
use super::layout::{
    FormErrors, PageError, Section, csrf_field, date_label, month_label, month_select, page,
    weekday_label,
};
use super::{AppState, SiteView};
use crate::store::StoreError;
use crate::store::staff::{Actor, AddedCheckIn, SessionJournal, SignOff, VISIT_KIOSK, month_of};
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{Datelike, Months, NaiveDate};
use maud::{Markup, html};
use otmetka_core::people::RecipientId;
use otmetka_core::session::SessionId;
use otmetka_core::unit::UnitId;
use serde::Deserialize;

/// `?month=2026-12&site=demo`.
#[derive(Debug, Deserialize, Default)]
pub struct MonthQuery {
    #[serde(default)]
    pub month: Option<String>,
    #[serde(default)]
    pub site: Option<String>,
}

/// The journal's filters (`?day=…&group=…&service=…&instructor=…&recipient=…&kiosk=…`;
/// empty: all).
#[derive(Debug, Deserialize, Default)]
pub struct Filter {
    /// A date of the month, `2026-11-05`.
    #[serde(default)]
    day: String,
    /// A standing group: the sessions opened for it.
    #[serde(default)]
    group: String,
    #[serde(default)]
    service: String,
    #[serde(default)]
    instructor: String,
    #[serde(default)]
    recipient: String,
    #[serde(default)]
    kiosk: String,
}

impl Filter {
    /// The sessions opened for a standing group (the page's «Группа»): the group's own, whoever
    /// is in it today.
    pub fn for_group(group: &str) -> Filter {
        Filter {
            group: group.to_string(),
            ..Filter::default()
        }
    }

    /// The day asked for; `Err` for one that is not a date of `month`.
    fn day(&self, month: NaiveDate) -> Result<Option<NaiveDate>, PageError> {
        let day = self.day.trim();
        if day.is_empty() {
            return Ok(None);
        }
        match day.parse::<NaiveDate>() {
            Ok(d) if month_of(d) == month => Ok(Some(d)),
            _ => Err(PageError::bad_request(
                "День указан неверно: нужна дата выбранного месяца, например 05.11.2026.",
            )),
        }
    }

    fn keeps(&self, j: &SessionJournal, day: Option<NaiveDate>, site: &SiteView) -> bool {
        let s = &j.session;
        let who = || participants(j);
        day.is_none_or(|d| site.date(s.opened_at) == d)
            && (self.service.is_empty() || s.service == self.service)
            && (self.instructor.is_empty() || s.instructor == self.instructor)
            && (self.kiosk.is_empty() || s.kiosk == self.kiosk)
            && (self.recipient.is_empty() || who().iter().any(|r| r.to_string() == self.recipient))
            && (self.group.is_empty() || s.group.is_some_and(|g| g.0.to_string() == self.group))
    }

    /// The filters set, for the audit log: "; service 001, day 2026-11-05".
    fn describe(&self) -> String {
        let set: Vec<String> = [
            ("day", &self.day),
            ("group", &self.group),
            ("service", &self.service),
            ("instructor", &self.instructor),
            ("recipient", &self.recipient),
            ("kiosk", &self.kiosk),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k} {}", v.chars().take(64).collect::<String>()))
        .collect();
        if set.is_empty() {
            String::new()
        } else {
            format!("; {}", set.join(", "))
        }
    }

    fn is_set(&self) -> bool {
        !(self.day.is_empty()
            && self.group.is_empty()
            && self.service.is_empty()
            && self.instructor.is_empty()
            && self.recipient.is_empty()
            && self.kiosk.is_empty())
    }
}

/// Reads "2026-12" as its first day.
pub fn parse_month(s: &str) -> Option<NaiveDate> {
    let (y, m) = s.trim().split_once('-')?;
    NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, 1)
}

/// The month and site a page is about (the current month of the first site by default).
pub fn month_and_site(app: &AppState, q: &MonthQuery) -> Result<(NaiveDate, SiteView), PageError> {
    let site = app.site_or_404(q.site.as_deref())?;
    let month = match q.month.as_deref().filter(|m| !m.is_empty()) {
        Some(m) => parse_month(m)
            .ok_or_else(|| PageError::bad_request("Месяц указан неверно: нужен вид 2026-12."))?,
        None => month_of(site.date(app.now())),
    };
    Ok((month, site))
}

/// The next month's first day.
pub fn next_month(month: NaiveDate) -> NaiveDate {
    month + Months::new(1)
}

fn month_param(month: NaiveDate) -> String {
    format!("{:04}-{:02}", month.year(), month.month())
}

/// What is wrong or worth a look in a session: each mark has its words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mark {
    StillOpen,
    BelowMinimum,
    OverLimit,
    HeadCount,
    OverNorm,
    ClockNotSynced,
    Corrected,
    AutoClosed,
    Cancelled,
    AfterSignOff,
}

impl Mark {
    pub fn label(self) -> &'static str {
        match self {
            Mark::StillOpen => "не закрыто",
            Mark::BelowMinimum => "меньше минимума группы",
            Mark::OverLimit => "сверх лимита (разрешил инструктор)",
            Mark::HeadCount => "число по головам ≠ отметкам",
            Mark::OverNorm => "дольше нормы времени",
            Mark::ClockNotSynced => "часы киоска не сверены",
            Mark::Corrected => "исправлено вручную",
            Mark::AutoClosed => "закрыто автоматически",
            Mark::Cancelled => "отменено",
            Mark::AfterSignOff => "пришло с киоска после подписи месяца",
        }
    }

    /// Whether the head should look at it before signing off.
    pub fn is_problem(self) -> bool {
        !matches!(self, Mark::Corrected | Mark::AutoClosed | Mark::Cancelled)
    }
}

/// The instructor's reason for closing despite the close's warnings, in the journal's words.
pub fn close_reason_label(r: otmetka_core::event::CloseReason) -> &'static str {
    use otmetka_core::event::CloseReason;
    match r {
        CloseReason::NoCard => "кто-то был без карты",
        CloseReason::LeftEarly => "кто-то ушёл раньше",
        CloseReason::SmallGroup => "пришло меньше минимума группы, занятие проведено",
        CloseReason::InstructorDecision => "решение инструктора",
    }
}

/// The marks of a session.
pub fn marks(j: &SessionJournal) -> Vec<Mark> {
    let s = &j.session;
    let counted: Vec<_> = j.units.iter().filter(|u| u.counts()).collect();
    let mut out = Vec::new();
    let cancelled = s.how.as_deref().is_some_and(|h| h.starts_with("Cancelled"));
    if cancelled {
        out.push(Mark::Cancelled);
    } else if s.closed_at.is_none() {
        out.push(Mark::StillOpen);
    }
    if s.how.as_deref() == Some("Auto") {
        out.push(Mark::AutoClosed);
    }
    if counted.iter().any(|u| u.unit.below_group_min) {
        out.push(Mark::BelowMinimum);
    }
    if counted.iter().any(|u| u.unit.over_limit()) {
        out.push(Mark::OverLimit);
    }
    if let Some(h) = s.head_count {
        if h as usize != participants(j).len() {
            out.push(Mark::HeadCount);
        }
    }
    // The kiosk flags each unit of a session that ran past its time norm (core's
    // `Unit::over_norm_minutes`).
    if counted.iter().any(|u| u.unit.over_norm_minutes.is_some()) {
        out.push(Mark::OverNorm);
    }
    if !counted.is_empty() && counted.iter().any(|u| !u.unit.clock_synced) {
        out.push(Mark::ClockNotSynced);
    }
    if j.units
        .iter()
        .any(|u| u.added.is_some() || u.removed.is_some())
    {
        out.push(Mark::Corrected);
    }
    if counted.iter().any(|u| u.after_signoff.is_some()) {
        out.push(Mark::AfterSignOff);
    }
    out
}

/// Who took part in a session, as its counted units say (per-recipient units, or the
/// participants of a per-group unit).
pub fn participants(j: &SessionJournal) -> Vec<RecipientId> {
    let mut out: Vec<RecipientId> = Vec::new();
    for u in j.units.iter().filter(|u| u.counts()) {
        match u.unit.recipient {
            Some(r) => out.push(r),
            None => out.extend(u.unit.participants.iter().copied()),
        }
    }
    out.sort();
    out.dedup();
    out
}

fn mark_list(marks: &[Mark]) -> Markup {
    html! {
        @for m in marks {
            span class={ "mark" @if !m.is_problem() { " info" } } { (m.label()) }
        }
    }
}

fn sign_off_box(
    staff: &Staff,
    site: &SiteView,
    month: NaiveDate,
    signed: Option<&SignOff>,
    problems: usize,
) -> Markup {
    let is_head = super::access::HEAD.contains(&staff.role());
    html! {
        @match signed {
            Some(s) => {
                div.allgood {
                    strong { "Месяц подписан заведующим: " }
                    (s.by) ", " (date_label(site.date(s.at))) " " (site.hm(s.at))
                    ". Изменения невозможны, пока месяц не открыт снова."
                    @if is_head {
                        details.noprint { summary { "Открыть месяц для исправлений…" }
                        form method="post" action="/journal/reopen" {
                            (csrf_field(&staff.0))
                            input type="hidden" name="site" value=(site.id);
                            input type="hidden" name="month" value=(month_param(month));
                            label for="reopen-reason" { "Причина, по которой месяц открывается снова" }
                            textarea id="reopen-reason" name="reason" required {}
                            p { button.danger type="submit" { "Открыть месяц для исправлений" } }
                        }
                        }
                    }
                }
            }
            None => {
                div.note {
                    strong { "Месяц не подписан." }
                    " Заведующий проверяет журнал и подписывает месяц; после подписи изменения невозможны."
                    @if is_head {
                        form method="post" action="/journal/sign-off" {
                            (csrf_field(&staff.0))
                            input type="hidden" name="site" value=(site.id);
                            input type="hidden" name="month" value=(month_param(month));
                            @if problems > 0 {
                                p.error { "Перед подписью просмотрите замечания выше (" (problems) ")." }
                            }
                            button.primary type="submit" { "Подписать журнал за " (month_label(month)) }
                        }
                    }
                }
            }
        }
    }
}

/// `GET /journal`: the month.
pub async fn month(
    State(app): State<AppState>,
    staff: Staff,
    Query(q): Query<MonthQuery>,
    Query(filter): Query<Filter>,
) -> Result<Markup, PageError> {
    let (month, site) = month_and_site(&app, &q)?;
    let people = app.people(&site.id).await?;
    let (from, to) = (site.start_of(month), site.start_of(next_month(month)));
    let sid = site.id.clone();
    let (sessions, signed, taps) = app
        .store
        .call(move |s| {
            Ok((
                s.sessions(from, to)?,
                s.sign_off(&sid, month)?,
                s.unmatched_taps(&sid)?.len(),
            ))
        })
        .await?;
    let sessions: Vec<_> = sessions
        .into_iter()
        .filter(|j| j.session.site == site.id)
        .collect();
    // What the filters offer: what the month holds.
    let mut services: Vec<&str> = sessions
        .iter()
        .map(|j| j.session.service.as_str())
        .collect();
    let mut instructors: Vec<&str> = sessions
        .iter()
        .map(|j| j.session.instructor.as_str())
        .collect();
    let mut kiosks: Vec<&str> = sessions.iter().map(|j| j.session.kiosk.as_str()).collect();
    for v in [&mut services, &mut instructors, &mut kiosks] {
        v.sort_unstable();
        v.dedup();
    }
    let services: Vec<(String, String)> = services
        .iter()
        .map(|c| (c.to_string(), app.service_title(c)))
        .collect();
    let instructors: Vec<(String, String)> = instructors
        .iter()
        .map(|i| (i.to_string(), people.instructor_name(i)))
        .collect();
    let kiosks: Vec<String> = kiosks.iter().map(|k| k.to_string()).collect();
    let day = filter.day(month)?;
    // Who looked at the journal, and at whose attendance where one recipient is picked.
    let (actor, now) = (Actor::of(&staff.0.user), app.now());
    let subject = match filter.recipient.parse::<uuid::Uuid>() {
        Ok(r) => r.to_string(),
        Err(_) => format!("site {}", site.id),
    };
    let detail = format!("journal for {}{}", month_label(month), filter.describe());
    app.store
        .call(move |s| s.audit(&actor, "view_journal", &subject, &detail, now))
        .await?;
    let rows = kept_sessions(sessions, &filter, day, &site);
    let units: usize = rows
        .iter()
        .map(|(j, _)| j.units.iter().filter(|u| u.counts()).count())
        .sum();
    let mut problems: Vec<(Mark, Vec<&SessionJournal>)> = Vec::new();
    for (j, ms) in &rows {
        for m in ms.iter().filter(|m| m.is_problem()) {
            match problems.iter_mut().find(|(k, _)| k == m) {
                Some((_, list)) => list.push(j),
                None => problems.push((*m, vec![j])),
            }
        }
    }
    problems.sort_by_key(|(m, _)| *m);
    let problem_sessions = rows
        .iter()
        .filter(|(_, m)| m.iter().any(|m| m.is_problem()))
        .count();
    let prev = month - Months::new(1);
    let body = html! {
        h1 { "Журнал учёта социальных услуг — " (month_label(month)) }
        p { "Отделение: " strong { (site.id) } ". Занятий: " strong { (rows.len()) } ", услуг (единиц): " strong { (units) } "." }
        @if taps > 0 {
            div.problems role="alert" {
                strong { "Неопознанные карты: " (taps) "." }
                " Кто-то приложил карту, которой нет в списке: "
                a href={ "/journal/taps?site=" (site.id) } { "укажите, чья это карта" }
                " — иначе услуга не будет учтена."
            }
        }
        @if problems.is_empty() {
            div.allgood { strong { "Замечаний за месяц нет." } }
        } @else {
            div.problems role="alert" {
                h2 { "Требует внимания: " (problem_sessions) " " (plural(problem_sessions, "занятие", "занятия", "занятий")) }
                ul {
                    @for (m, list) in &problems {
                        li {
                            strong { (m.label()) } ": "
                            @for (i, j) in list.iter().enumerate() {
                                @if i > 0 { ", " }
                                a href={ "#s-" (j.session.id) } {
                                    (date_label(site.date(j.session.opened_at))) " " (site.hm(j.session.opened_at))
                                }
                            }
                        }
                    }
                }
            }
        }
        (sign_off_box(&staff, &site, month, signed.as_ref(), problem_sessions))
        form.filters method="get" action="/journal" {
            div { (month_select(month, month_of(site.date(app.now())))) }
            @if app.sites.len() > 1 {
                div { label for="site" { "Отделение" }
                    select id="site" name="site" {
                        @for s in app.sites.iter() { option value=(s.id) selected[s.id == site.id] { (s.id) } }
                    }
                }
            }
            div { label for="f-day" { "День" }
                input id="f-day" type="date" name="day" value=(filter.day)
                    min=(month.format("%Y-%m-%d")) max=(next_month(month).pred_opt().unwrap_or(month).format("%Y-%m-%d"));
            }
            @if !people.groups.is_empty() {
                div { label for="f-group" { "Группа" }
                    select id="f-group" name="group" {
                        option value="" { "все" }
                        @for g in &people.groups { option value=(g.id.0) selected[filter.group == g.id.0.to_string()] { (g.name) } }
                    }
                }
            }
            div { label for="f-service" { "Услуга" }
                select id="f-service" name="service" {
                    option value="" { "все" }
                    @for (code, title) in &services { option value=(code) selected[filter.service == *code] { (title.chars().take(60).collect::<String>()) } }
                }
            }
            div { label for="f-instructor" { "Специалист" }
                select id="f-instructor" name="instructor" {
                    option value="" { "все" }
                    @for (id, name) in &instructors { option value=(id) selected[filter.instructor == *id] { (name) } }
                }
            }
            div { label for="f-recipient" { "Получатель" }
                select id="f-recipient" name="recipient" {
                    option value="" { "все" }
                    @for r in people.current() { option value=(r.id) selected[filter.recipient == r.id.to_string()] { (r.display_name) } }
                }
            }
            @if kiosks.len() > 1 {
                div { label for="f-kiosk" { "Киоск" }
                    select id="f-kiosk" name="kiosk" {
                        option value="" { "все" }
                        @for k in &kiosks { option value=(k) selected[filter.kiosk == *k] { @if k == VISIT_KIOSK { "патронаж на дому" } @else { (k) } } }
                    }
                }
            }
            div { button type="submit" { "Показать" } }
            @if filter.is_set() { div.noprint { a href={ "/journal?month=" (month_param(month)) "&site=" (site.id) } { "Сбросить отбор" } } }
            @if super::access::may_open(staff.role(), "/exports") {
                div.noprint {
                    a href={ "/exports?site=" (site.id) "&from=" (month.format("%Y-%m-%d")) "&to=" (next_month(month).pred_opt().unwrap_or(month).format("%Y-%m-%d")) } { "Выгрузить месяц в Excel или CSV" }
                }
            }
            @if !people.groups.is_empty() {
                div.noprint {
                    "Журнал группы за месяц в PDF: "
                    @for (i, g) in people.groups.iter().enumerate() {
                        @if i > 0 { " · " }
                        a href={ "/journal/pdf?month=" (month_param(month)) "&site=" (site.id) "&group=" (g.id.0) } { "Скачать PDF — " (g.name) }
                    }
                }
            }
            div.noprint {
                a href={ "/journal?month=" (month_param(prev)) "&site=" (site.id) } { "← " (month_label(prev)) }
                " · "
                a href={ "/journal?month=" (month_param(next_month(month))) "&site=" (site.id) } { (month_label(next_month(month))) " →" }
            }
        }
        @if rows.is_empty() {
            p { "За этот месяц занятий нет." }
        } @else {
            table {
                thead { tr {
                    th { "Дата" } th { "Время" } th { "Услуга" } th { "Специалист" }
                    th { "Участники" } th.num { "Услуг" } th { "Отметки" }
                } }
                tbody {
                    @for (j, ms) in &rows {
                        @let s = &j.session;
                        @let who = participants(j);
                        tr id={ "s-" (s.id) } class=[ms.iter().any(|m| m.is_problem()).then_some("problem")] {
                            td { (date_label(site.date(s.opened_at))) " " span.muted { (weekday_label(site.date(s.opened_at))) } }
                            td {
                                (site.hm(s.opened_at)) "–"
                                @if let Some(c) = s.closed_at { (site.hm(c)) } @else { "…" }
                            }
                            td { a href={ "/journal/sessions/" (s.id) } { (app.service_title(&s.service)) }
                                @if s.kiosk == VISIT_KIOSK { br; span.mark.info { "на дому" } } }
                            td { (people.instructor_name(&s.instructor)) }
                            td {
                                @for (i, r) in who.iter().enumerate() {
                                    @if i > 0 { ", " }
                                    (people.recipient_name(*r))
                                }
                                @if let Some(h) = s.head_count { br; span.muted { "по головам: " (h) } }
                            }
                            td.num { (j.units.iter().filter(|u| u.counts()).count()) }
                            td { (mark_list(ms)) }
                        }
                    }
                }
            }
        }
    };
    Ok(page("Журнал", Section::Journal, Some(&staff.0), body))
}

/// The sessions of `site` that `filter` keeps (and `day`, where given), each with its marks:
/// the rows of the month's page, and of a group's month in PDF.
pub fn kept_sessions(
    sessions: Vec<SessionJournal>,
    filter: &Filter,
    day: Option<NaiveDate>,
    site: &SiteView,
) -> Vec<(SessionJournal, Vec<Mark>)> {
    sessions
        .into_iter()
        .filter(|j| j.session.site == site.id && filter.keeps(j, day, site))
        .map(|j| {
            let m = marks(&j);
            (j, m)
        })
        .collect()
}

/// The sessions `site` opened in `month` (its local days), with their units.
pub fn month_sessions(
    store: &dyn crate::store::JournalStore,
    site: &SiteView,
    month: NaiveDate,
) -> Result<Vec<SessionJournal>, StoreError> {
    let (from, to) = (site.start_of(month), site.start_of(next_month(month)));
    Ok(store
        .sessions(from, to)?
        .into_iter()
        .filter(|j| j.session.site == site.id)
        .collect())
}

/// Russian plural forms: 1 занятие, 2 занятия, 5 занятий.
pub fn plural<'a>(n: usize, one: &'a str, few: &'a str, many: &'a str) -> &'a str {
    match (n % 10, n % 100) {
        (1, 11) => many,
        (1, _) => one,
        (2..=4, 12..=14) => many,
        (2..=4, _) => few,
        _ => many,
    }
}

fn session_id(id: &str) -> Result<SessionId, PageError> {
    id.parse()
        .map(SessionId)
        .map_err(|_| PageError::not_found("Такого занятия нет."))
}

async fn session_page(
    app: &AppState,
    staff: &Staff,
    id: SessionId,
    errors: &FormErrors,
    saved: bool,
) -> Result<Markup, PageError> {
    let journal = app.store.call(move |s| s.session_journal(id)).await?;
    let j = journal.ok_or_else(|| PageError::not_found("Такого занятия нет."))?;
    let s = &j.session;
    let site = app.site_or_404(Some(&s.site))?;
    let people = app.people(&s.site).await?;
    let date = j
        .units
        .first()
        .map_or_else(|| site.date(s.opened_at), |u| u.unit.date);
    let sid = s.site.clone();
    let signed = app.store.call(move |st| st.sign_off(&sid, date)).await?;
    let ms = marks(&j);
    let over_norm = j
        .units
        .iter()
        .filter_map(|u| u.unit.over_norm_minutes)
        .max();
    let editable = staff.may_edit() && signed.is_none();
    let present: Vec<RecipientId> = participants(&j);
    let addable: Vec<_> = people
        .current()
        .filter(|r| !present.contains(&r.id))
        .collect();
    let per_group = j.units.iter().any(|u| u.unit.recipient.is_none());
    let mut units: Vec<_> = j.units.iter().collect();
    units.sort_by_cached_key(|u| u.unit.recipient.map(|r| people.recipient_name(r)));
    let event_form = app
        .docs
        .catalogue
        .get(&otmetka_core::catalogue::ServiceCode(s.service.clone()))
        .and_then(|svc| svc.event.as_ref())
        .filter(|_| s.event);
    let body = html! {
        p.noprint { a href={ "/journal?month=" (month_param(month_of(date))) "&site=" (s.site) } { "← Журнал за " (month_label(month_of(date))) } }
        h1 { (app.service_title(&s.service)) }
        @if let Some(e) = event_form {
            p.note { "Проведено как мероприятие: " strong { (e.title_ru) } ", норма времени — до " (e.time_norm_minutes) " мин." }
        }
        p {
            (date_label(date)) " (" (weekday_label(date)) "), "
            (site.hm(s.opened_at)) "–" @if let Some(c) = s.closed_at { (site.hm(c)) } @else { "не закрыто" }
            ". Специалист: " strong { (people.instructor_name(&s.instructor)) }
            @if s.kiosk == VISIT_KIOSK { ". Патронаж на дому (записан на странице «Патронаж»)." } @else { ". Киоск: " (s.kiosk) "." }
            @if let Some(h) = s.head_count { " Число по головам: " (h) "." }
            @if let Some(over) = over_norm { " Дольше нормы времени на " (over) " мин." }
            @if let Some(r) = s.close_reason { " Причина, названная при закрытии: " (close_reason_label(r)) "." }
        }
        p { (mark_list(&ms)) }
        @if let Some(m) = &errors.message { p.error role="alert" { (m) } }
        @if saved { div.allgood role="status" { "Исправление сохранено. Кто, когда и почему — в строке получателя и в журнале доступа." } }
        @if signed.is_some() {
            div.note { "Месяц подписан заведующим: исправления невозможны, пока он не открыт снова." }
        }
        h2 { "Участники и услуги" }
        table {
            thead { tr { th { "Получатель" } th { "Как отмечен" } th { "Исправления" } @if editable { th.noprint { "Исправить" } } } }
            tbody {
                @for u in &units {
                    tr class=[u.removed.is_some().then_some("removed")] {
                        td.name {
                            @match u.unit.recipient {
                                Some(r) => { (people.recipient_name(r)) }
                                None => {
                                    "Группа: "
                                    @for (i, r) in u.unit.participants.iter().enumerate() {
                                        @if i > 0 { ", " } (people.recipient_name(*r))
                                    }
                                }
                            }
                        }
                        td {
                            @if u.added.is_some() { "добавлен вручную" }
                            @else if u.unit.manual { "отмечен инструктором на киоске" }
                            @else { "картой на киоске" }
                            @if u.unit.over_limit() { br; span.mark { "сверх лимита" } }
                        }
                        td {
                            @if let Some(a) = &u.added { "Добавил " (a.by) ", " (date_label(site.date(a.at))) ": " (a.reason) br; }
                            @if let Some(r) = &u.removed { "Убрал " (r.by) ", " (date_label(site.date(r.at))) ": " (r.reason) }
                        }
                        @if editable {
                            td.noprint {
                                @if u.counts() {
                                    @let field = format!("remove-{}", u.unit.id.0);
                                    details open[errors.field.as_deref() == Some(field.as_str())] {
                                        summary { "Убрать…" }
                                        form method="post" action={ "/journal/units/" (u.unit.id.0) "/remove" } class=[errors.class(&field)] {
                                            (csrf_field(&staff.0))
                                            label for={ "reason-" (u.unit.id.0) } { "Причина" }
                                            input id={ "reason-" (u.unit.id.0) } name="reason" required;
                                            " " button.danger type="submit" { "Убрать отметку" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if j.units.is_empty() { p { "Услуг по этому занятию нет." @if s.closed_at.is_none() { " Занятие ещё идёт на киоске." } } }
        // One form for the page (a select of every recipient per unit made the page of a
        // 25-person session a quarter of a megabyte).
        @let correctable: Vec<_> = units.iter().filter(|u| u.counts() && u.unit.recipient.is_some()).collect();
        @if editable && !correctable.is_empty() && !addable.is_empty() {
            h2 { "Отмечен не тот человек" }
            form method="post" action={ "/journal/sessions/" (s.id) "/correct" } class=[errors.class("correct")] {
                (csrf_field(&staff.0))
                div.filters {
                    div {
                        label for="correct-unit" { "Чья отметка неверна" }
                        select #correct-unit name="unit" required {
                            option value="" { "— выберите —" }
                            @for u in &correctable {
                                option value=(u.unit.id.0) { (u.unit.recipient.map(|r| people.recipient_name(r)).unwrap_or_default()) }
                            }
                        }
                    }
                    div {
                        label for="correct-to" { "На самом деле был(а)" }
                        select #correct-to name="recipient" required {
                            option value="" { "— выберите —" }
                            @for r in &addable { option value=(r.id) { (r.display_name) } }
                        }
                    }
                    div {
                        label for="correct-why" { "Причина (обязательно)" }
                        input #correct-why name="reason" size="40" required;
                    }
                }
                (errors.at_field("correct"))
                p { button type="submit" { "Исправить отметку" } }
            }
        }
        @if editable && !per_group && s.closed_at.is_some() {
            h2 { "Добавить забытую отметку" }
            form method="post" action={ "/journal/sessions/" (s.id) "/checkins" } {
                (csrf_field(&staff.0))
                div class=[errors.class("recipient")] {
                    label for="recipient" { "Получатель" }
                    select id="recipient" name="recipient" {
                        option value="" { "— выберите —" }
                        @for r in &addable { option value=(r.id) { (r.display_name) } }
                    }
                }
                div class=[errors.class("reason")] {
                    label for="reason" { "Причина исправления (обязательно)" }
                    textarea id="reason" name="reason" {}
                }
                p { button.primary type="submit" { "Добавить отметку" } }
            }
        }
    };
    Ok(page("Занятие", Section::Journal, Some(&staff.0), body))
}

/// `GET /journal/sessions/{id}`.
/// `?saved=1`: the page after a correction went through.
#[derive(Debug, Deserialize, Default)]
pub struct Saved {
    #[serde(default)]
    saved: Option<String>,
}

pub async fn session(
    State(app): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Query(q): Query<Saved>,
) -> Result<Markup, PageError> {
    let id = session_id(&id)?;
    let page = session_page(&app, &staff, id, &FormErrors::default(), q.saved.is_some()).await?;
    // Who looked at whose attendance (152-ФЗ): the session's participants are named there.
    let (actor, now) = (Actor::of(&staff.0.user), app.now());
    app.store
        .call(move |s| s.audit(&actor, "view_session", &id.0.to_string(), "journal", now))
        .await?;
    Ok(page)
}

#[derive(Debug, Deserialize)]
pub struct AddForm {
    #[serde(default)]
    recipient: String,
    #[serde(default)]
    reason: String,
}

/// A correction's reason: said, and not a word or two of nothing.
fn reason_problem(reason: &str) -> Option<&'static str> {
    let r = reason.trim();
    if r.is_empty() {
        Some("Укажите причину исправления.")
    } else if r.chars().count() < 5 {
        Some("Причина слишком короткая: опишите, что произошло.")
    } else if r.chars().count() > 1000 {
        Some("Причина слишком длинная: не больше 1000 знаков.")
    } else {
        None
    }
}

/// The answer to a refused correction: the session page again, with the reason at the field.
async fn refused(
    app: &AppState,
    staff: &Staff,
    id: SessionId,
    errors: FormErrors,
    code: StatusCode,
) -> Response {
    match session_page(app, staff, id, &errors, false).await {
        Ok(p) => (code, p).into_response(),
        Err(e) => e.into_response(),
    }
}

/// `POST /journal/sessions/{id}/checkins`: a forgotten check-in.
pub async fn add_checkin(
    State(app): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Form(f): Form<AddForm>,
) -> Response {
    let id = match session_id(&id) {
        Ok(id) => id,
        Err(e) => return e.into_response(),
    };
    let recipient = f.recipient.parse().ok().map(RecipientId);
    let Some(recipient) = recipient else {
        return refused(
            &app,
            &staff,
            id,
            FormErrors::at("recipient", "Выберите получателя."),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    if let Some(p) = reason_problem(&f.reason) {
        return refused(
            &app,
            &staff,
            id,
            FormErrors::at("reason", p),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let now = app.now();
    let actor = Actor::of(&staff.0.user);
    let reason = f.reason.trim().to_string();
    let journal = match app.store.call(move |s| s.session_journal(id)).await {
        Ok(Some(j)) => j,
        Ok(None) => return PageError::not_found("Такого занятия нет.").into_response(),
        Err(e) => return PageError::from(e).into_response(),
    };
    // Someone of the session's own site whose data is held.
    let listed = match app.people(&journal.session.site).await {
        Ok(p) => p.current().any(|p| p.id == recipient),
        Err(e) => return e.into_response(),
    };
    if !listed {
        return refused(
            &app,
            &staff,
            id,
            FormErrors::at("recipient", "Такого получателя нет в списке."),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let local_date = app
        .site(Some(&journal.session.site))
        .map_or(journal.session.opened_at.date_naive(), |s| {
            s.date(journal.session.opened_at)
        });
    let add = AddedCheckIn {
        session: id,
        recipient,
        reason,
        local_date,
    };
    match app
        .store
        .call(move |s| s.add_checkin(&add, &actor, now))
        .await
    {
        Ok(_) => Redirect::to(&format!("/journal/sessions/{id}?saved=1")).into_response(),
        Err(e) => correction_refused(&app, &staff, id, e, "recipient").await,
    }
}

async fn correction_refused(
    app: &AppState,
    staff: &Staff,
    id: SessionId,
    e: StoreError,
    field: &str,
) -> Response {
    let message = match &e {
        StoreError::MonthSignedOff { month, .. } => format!(
            "Месяц {} подписан заведующим: исправление не сохранено.",
            month_label(*month)
        ),
        StoreError::Conflict(why) => {
            tracing::info!("correction refused: {why}");
            "Исправление не сохранено: у получателя уже есть услуга по этому занятию, \
             или занятие отменено, или оно ещё идёт."
                .to_string()
        }
        _ => return PageError::from(e).into_response(),
    };
    refused(
        app,
        staff,
        id,
        FormErrors::at(field, &message),
        StatusCode::CONFLICT,
    )
    .await
}

#[derive(Debug, Deserialize)]
pub struct RemoveForm {
    #[serde(default)]
    reason: String,
}

/// The unit a correction's path names.
async fn held_unit(app: &AppState, id: &str) -> Result<crate::store::staff::UnitRecord, PageError> {
    let unit = id
        .parse()
        .map(UnitId)
        .map_err(|_| PageError::not_found("Такой услуги нет."))?;
    app.store
        .call(move |s| s.unit_record(unit))
        .await?
        .ok_or_else(|| PageError::not_found("Такой услуги нет."))
}

/// `POST /journal/units/{id}/remove`: a unit that should not count.
pub async fn remove_unit(
    State(app): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Form(f): Form<RemoveForm>,
) -> Response {
    let (unit, session) = match held_unit(&app, &id).await {
        Ok(u) => (u.unit.id, u.unit.session),
        Err(e) => return e.into_response(),
    };
    let field = format!("remove-{}", unit.0);
    if let Some(p) = reason_problem(&f.reason) {
        return refused(
            &app,
            &staff,
            session,
            FormErrors::at(&field, p),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let now = app.now();
    let actor = Actor::of(&staff.0.user);
    let reason = f.reason.trim().to_string();
    match app
        .store
        .call(move |s| s.remove_unit(unit, &reason, &actor, now))
        .await
    {
        Ok(()) => Redirect::to(&format!("/journal/sessions/{session}?saved=1")).into_response(),
        Err(e) => correction_refused(&app, &staff, session, e, &field).await,
    }
}

#[derive(Debug, Deserialize)]
pub struct CorrectForm {
    /// The unit, where the form is the session page's (`POST /journal/sessions/{id}/correct`).
    #[serde(default)]
    unit: String,
    #[serde(default)]
    recipient: String,
    #[serde(default)]
    reason: String,
}

/// `POST /journal/units/{id}/correct`: the check-in was the wrong person's; the right one gets
/// it, in one step (the original is kept, removed with the reason).
pub async fn correct_unit(
    State(app): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Form(f): Form<CorrectForm>,
) -> Response {
    correct(app, staff, &id, None, f).await
}

/// `POST /journal/sessions/{id}/correct`: the session page's one correction form, naming the
/// unit (of that session) in its fields.
pub async fn correct_in_session(
    State(app): State<AppState>,
    staff: Staff,
    Path(session): Path<String>,
    Form(f): Form<CorrectForm>,
) -> Response {
    let unit = f.unit.clone();
    correct(app, staff, &unit, Some(&session), f).await
}

/// A correction of unit `id`; `session`, where the form is the session page's, must be its.
async fn correct(
    app: AppState,
    staff: Staff,
    id: &str,
    in_session: Option<&str>,
    f: CorrectForm,
) -> Response {
    let held = match held_unit(&app, id).await {
        Ok(u) if in_session.is_none_or(|s| s == u.unit.session.to_string()) => u,
        Ok(_) => {
            return PageError::not_found("Такой отметки в этом занятии нет.").into_response();
        }
        Err(e) => return e.into_response(),
    };
    let (unit, session) = (held.unit.id, held.unit.session);
    let field = if in_session.is_some() {
        "correct".to_string()
    } else {
        format!("correct-{}", unit.0)
    };
    let people = match app.people(&held.site).await {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    // Only a person of the unit's own site, whose data is held.
    let to = f
        .recipient
        .trim()
        .parse()
        .ok()
        .map(RecipientId)
        .filter(|r| people.current().any(|p| p.id == *r));
    let problem = match to {
        None => Some("Выберите, кто был на занятии на самом деле."),
        Some(_) => reason_problem(&f.reason),
    };
    let (Some(to), None) = (to, problem) else {
        let message = problem.unwrap_or("Выберите, кто был на занятии на самом деле.");
        return refused(
            &app,
            &staff,
            session,
            FormErrors::at(&field, message),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let (now, actor, reason) = (
        app.now(),
        Actor::of(&staff.0.user),
        f.reason.trim().to_string(),
    );
    match app
        .store
        .call(move |s| s.correct_unit(unit, to, &reason, &actor, now))
        .await
    {
        Ok(_) => Redirect::to(&format!("/journal/sessions/{session}?saved=1")).into_response(),
        Err(e) => correction_refused(&app, &staff, session, e, &field).await,
    }
}

#[derive(Debug, Deserialize)]
pub struct MonthForm {
    #[serde(default)]
    site: String,
    #[serde(default)]
    month: String,
    #[serde(default)]
    reason: String,
}

fn month_form(app: &AppState, f: &MonthForm) -> Result<(SiteView, NaiveDate), PageError> {
    let site = app
        .site(Some(&f.site))
        .cloned()
        .ok_or_else(|| PageError::bad_request("Такого отделения нет."))?;
    let month = parse_month(&f.month)
        .ok_or_else(|| PageError::bad_request("Месяц указан неверно: нужен вид 2026-12."))?;
    Ok((site, month))
}

/// `POST /journal/sign-off`: the head signs off a month.
pub async fn sign_off(
    State(app): State<AppState>,
    staff: Staff,
    Form(f): Form<MonthForm>,
) -> Result<Response, PageError> {
    let (site, month) = month_form(&app, &f)?;
    let (now, actor, id) = (app.now(), Actor::of(&staff.0.user), site.id.clone());
    match app
        .store
        .call(move |s| s.sign_off_month(&id, month, &actor, now))
        .await
    {
        Ok(()) | Err(StoreError::MonthSignedOff { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(Redirect::to(&format!(
        "/journal?month={}&site={}",
        month_param(month),
        site.id
    ))
    .into_response())
}

/// `POST /journal/reopen`: the head reopens a signed-off month, with the reason.
pub async fn reopen(
    State(app): State<AppState>,
    staff: Staff,
    Form(f): Form<MonthForm>,
) -> Result<Response, PageError> {
    let (site, month) = month_form(&app, &f)?;
    if let Some(p) = reason_problem(&f.reason) {
        return Err(PageError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: format!("Месяц не открыт. {p}"),
        });
    }
    let (now, actor, id, reason) = (
        app.now(),
        Actor::of(&staff.0.user),
        site.id.clone(),
        f.reason.trim().to_string(),
    );
    match app
        .store
        .call(move |s| s.reopen_month(&id, month, &reason, &actor, now))
        .await
    {
        Ok(()) | Err(StoreError::Conflict(_)) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(Redirect::to(&format!(
        "/journal?month={}&site={}",
        month_param(month),
        site.id
    ))
    .into_response())
}
