//! The site's timetable, kept in the journal's database (the timetable file is an import):
//!
//! - `GET /timetable`: the week, to approve, post and tell recipients about at least 3 days
//!   ahead (002 l.3191–3193): day by day, time, service, group, room and specialist, as the
//!   kiosks get it (days off left out). A printable page; below it (not printed) the planned
//!   sessions and the days off, with the forms that change them;
//! - `POST /timetable/sessions`: a session planned weekly on some days, or once on a date;
//! - `GET /timetable?edit={id}`, `POST /timetable/sessions/{id}`: a planned session changed;
//! - `POST /timetable/sessions/{id}/remove`: a planned session taken out;
//! - `POST /timetable/approve`: the head approves the week as it stands; a change afterwards
//!   shows as "changed since approval", and a week that starts in 3 days or less without an
//!   approval is flagged;
//! - `POST /timetable/days-off`: a day without the weekly sessions (a holiday).
//!
//! Each change raises the site's plan revision; the feed publishes the schedule again.

use super::auth::Staff;
use super::layout::{
    FormErrors, PageError, Section, csrf_field, date_label, notice, page, weekday_label,
};
use super::{AppState, SiteView};
use crate::store::people::{DayOff, PlannedSession, SitePlan, weekday_code, weekday_of};
use crate::store::staff::{Actor, Role};
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{Datelike, Duration, NaiveDate, NaiveTime, Weekday};
use maud::{Markup, html};
use otmetka_core::catalogue::ServiceCode;
use otmetka_core::people::{GroupId, InstructorId};
use otmetka_core::wire::ScheduleEntry;
use serde::Deserialize;
use sha2::{Digest, Sha256};

#[derive(Debug, Deserialize, Default)]
pub struct WeekQuery {
    #[serde(default)]
    site: Option<String>,
    /// Any day of the week to show ("2026-12-07"); this week by default.
    #[serde(default)]
    week: Option<String>,
    #[serde(default)]
    saved: Option<String>,
    #[serde(default)]
    error: Option<String>,
    /// The planned session whose form is open for changes.
    #[serde(default)]
    edit: Option<i64>,
}

/// How many days ahead recipients must be told of the timetable (002 l.3191–3193).
pub const NOTICE_DAYS: i64 = 3;

/// The week's sessions as one digest: an approval keeps it, so that a change of the week made
/// afterwards shows.
pub fn week_digest(entries: &[ScheduleEntry]) -> String {
    let mut h = Sha256::new();
    for e in entries {
        h.update(
            format!(
                "{}|{}|{}|{:?}|{:?}|{:?}|{}\n",
                e.date,
                e.start.format("%H:%M"),
                e.service.0,
                e.group,
                e.instructor,
                e.unit_kind,
                e.room
            )
            .as_bytes(),
        );
    }
    hex::encode(h.finalize())
}

/// The week from `monday`: the timetable and its sessions as the kiosks get them, by time.
async fn week_entries(
    app: &AppState,
    site: &SiteView,
    monday: NaiveDate,
) -> Result<(SitePlan, Vec<ScheduleEntry>), PageError> {
    let sunday = monday + Duration::days(6);
    let sid = site.id.clone();
    let plan = app.store.call(move |s| s.plan(&sid)).await?;
    let mut entries: Vec<_> = plan
        .to_file(1)
        .expand(monday)
        .entries
        .into_iter()
        .filter(|e| e.date >= monday && e.date <= sunday)
        .collect();
    entries.sort_by_key(|e| (e.date, e.start));
    Ok((plan, entries))
}

/// The week a query names (any day of it; this week by default): its Monday.
fn week_of(app: &AppState, site: &SiteView, week: Option<&str>) -> Result<NaiveDate, PageError> {
    let day = match week.filter(|w| !w.is_empty()) {
        Some(w) => w.parse::<NaiveDate>().map_err(|_| {
            PageError::bad_request("Неделя указана неверно: нужна дата вида 2026-12-07.")
        })?,
        None => site.date(app.now()),
    };
    Ok(monday_of(day))
}

/// The Monday of `d`'s week.
pub fn monday_of(d: NaiveDate) -> NaiveDate {
    d - Duration::days(i64::from(d.weekday().num_days_from_monday()))
}

const WEEKDAYS: [(Weekday, &str); 7] = [
    (Weekday::Mon, "пн"),
    (Weekday::Tue, "вт"),
    (Weekday::Wed, "ср"),
    (Weekday::Thu, "чт"),
    (Weekday::Fri, "пт"),
    (Weekday::Sat, "сб"),
    (Weekday::Sun, "вс"),
];

pub async fn show(
    State(app): State<AppState>,
    staff: Staff,
    Query(q): Query<WeekQuery>,
) -> Result<Markup, PageError> {
    week_page(&app, &staff, &q, None, &FormErrors::default()).await
}

async fn week_page(
    app: &AppState,
    staff: &Staff,
    q: &WeekQuery,
    posted: Option<&PlanForm>,
    errors: &FormErrors,
) -> Result<Markup, PageError> {
    let site = app.site_or_404(q.site.as_deref())?;
    let monday = week_of(app, &site, q.week.as_deref())?;
    let sunday = monday + Duration::days(6);
    let (plan, entries) = week_entries(app, &site, monday).await?;
    let people = app.people(&site.id).await?;
    let groups = &people.groups;
    let sid = site.id.clone();
    let approval = app
        .store
        .call(move |s| s.week_approval(&sid, monday))
        .await?;
    let today = site.date(app.now());
    let digest = week_digest(&entries);
    let approved = approval.as_ref().filter(|a| a.digest == digest);
    // The week is still to come or running, and the notice it needs is due.
    let due = sunday >= today && (monday - today).num_days() <= NOTICE_DAYS;
    let week = |d: NaiveDate| format!("/timetable?site={}&week={d}", site.id);
    let body = html! {
        p.noprint {
            a href=(week(monday - Duration::days(7))) { "← предыдущая неделя" } " · "
            a href=(week(monday + Duration::days(7))) { "следующая неделя →" }
            " · Напечатайте страницу (Ctrl+P), чтобы вывесить расписание."
        }
        h1 { "Расписание занятий с " (date_label(monday)) " по " (date_label(sunday)) }
        p { "Отделение: " strong { (site.id) } "." }
        @if let Some(s) = &q.saved { div.allgood.noprint role="status" { (s) } }
        @if let Some(e) = &q.error { p.error.noprint role="alert" { (e) } }
        @if !entries.is_empty() {
            @if let Some(a) = approved {
                div.allgood role="status" { strong { "Расписание утверждено" } ". Утвердил(а): " (a.by) ", " (date_label(site.date(a.at))) " " (site.hm(a.at)) "." }
            } @else if let Some(a) = &approval {
                div.problems role="alert" {
                    h2 { "Расписание изменено после утверждения" }
                    p { "Утвердил(а): " (a.by) ", " (date_label(site.date(a.at))) ". С тех пор занятия этой недели менялись: утвердите заново и известите получателей." }
                }
            } @else if due {
                div.problems role="alert" {
                    h2 { "Расписание на эту неделю не утверждено" }
                    p { "Получателей нужно известить о расписании не позднее чем за " (NOTICE_DAYS) " дня (стандарт 002: расписание утверждается, вывешивается и доводится до получателей)." }
                }
            }
            @if staff.0.user.role == Role::Head && approved.is_none() {
                form.noprint method="post" action={ "/timetable/approve?site=" (site.id) "&week=" (monday) } {
                    (csrf_field(&staff.0))
                    input type="hidden" name="digest" value=(digest);
                    button.primary type="submit" { "Утвердить расписание на неделю" }
                }
            }
        }
        @if plan.sessions.is_empty() {
            p.error { "Расписание для отделения не задано." }
        } @else if entries.is_empty() {
            p { "На этой неделе занятий по расписанию нет." }
        } @else {
            table {
                thead { tr { th { "День" } th { "Время" } th { "Занятие" } th { "Группа" } th { "Место" } th { "Специалист" } } }
                tbody {
                    @for e in &entries {
                        tr {
                            td.name { (weekday_label(e.date)) ", " (date_label(e.date)) }
                            td { (e.start.format("%H:%M")) }
                            td { (app.service_title(&e.service.0)) }
                            td { @if let Some(g) = e.group.and_then(|g| groups.iter().find(|x| x.id == g)) { (g.name) } }
                            td { (e.room) }
                            td { @if let Some(i) = e.instructor { (people.instructor_name(&i.to_string())) } }
                        }
                    }
                }
            }
            div.sign {
                div { @if let Some(a) = approved { "Утверждаю: " (a.by) ", " (date_label(site.date(a.at))) br; } "Заведующий отделением (подпись, расшифровка, дата)" }
                div { "Вывешено (дата)" }
            }
        }
        (plan_section(app, staff, &site, monday, &plan, &people, posted, q.edit, errors))
    };
    Ok(page("Расписание", Section::Timetable, Some(&staff.0), body))
}

/// The planned sessions and the days off, with the forms that change them (not printed).
#[allow(clippy::too_many_arguments)]
fn plan_section(
    app: &AppState,
    staff: &Staff,
    site: &SiteView,
    monday: NaiveDate,
    plan: &SitePlan,
    people: &crate::store::people::SitePeople,
    posted: Option<&PlanForm>,
    edit: Option<i64>,
    errors: &FormErrors,
) -> Markup {
    let editing = edit.and_then(|id| plan.sessions.iter().find(|s| s.id == id));
    let f = posted
        .cloned()
        .or_else(|| editing.map(PlanForm::of))
        .unwrap_or_default();
    let action = match editing {
        Some(s) => format!(
            "/timetable/sessions/{}?site={}&week={monday}",
            s.id, site.id
        ),
        None => format!("/timetable/sessions?site={}&week={monday}", site.id),
    };
    let days_of = |s: &PlannedSession| -> String {
        match s.date {
            Some(d) => format!("{} {}", weekday_label(d), date_label(d)),
            None => WEEKDAYS
                .iter()
                .filter(|(d, _)| s.days.contains(d))
                .map(|(_, l)| *l)
                .collect::<Vec<_>>()
                .join(", "),
        }
    };
    let term = |s: &PlannedSession| match (s.from, s.to) {
        (Some(a), Some(b)) => format!("с {} по {}", date_label(a), date_label(b)),
        (Some(a), None) => format!("с {}", date_label(a)),
        (None, Some(b)) => format!("по {}", date_label(b)),
        (None, None) => String::new(),
    };
    html! {
        div.noprint {
            h2 { "Запланированные занятия" }
            @if plan.sessions.is_empty() { p { "Пока ничего не запланировано." } } @else {
                table {
                    thead { tr { th { "Дни" } th { "Время" } th { "Занятие" } th { "Группа" } th { "Место" } th { "Специалист" } th { "Срок" } @if staff.may_edit() { th {} } } }
                    tbody {
                        @for s in &plan.sessions {
                            tr {
                                td { (days_of(s)) }
                                td { (s.start.format("%H:%M")) }
                                td { (app.service_title(&s.service.0)) }
                                td { @if let Some(g) = s.group.and_then(|g| people.groups.iter().find(|x| x.id == g)) { (g.name) } }
                                td { (s.room) }
                                td { @if let Some(i) = s.instructor { (people.instructor_name(&i.to_string())) } }
                                td { (term(s)) }
                                @if staff.may_edit() {
                                    td { a href={ "/timetable?site=" (site.id) "&week=" (monday) "&edit=" (s.id) "#plan" } { "Изменить" } " "
                                        form.inline method="post" action={ "/timetable/sessions/" (s.id) "/remove?site=" (site.id) } {
                                        (csrf_field(&staff.0))
                                        button.danger type="submit" { "Убрать" }
                                    } }
                                }
                            }
                        }
                    }
                }
            }
            @if staff.may_edit() {
                h2 #plan { @if editing.is_some() { "Изменить занятие" } @else { "Запланировать занятие" } }
                @if let Some(m) = &errors.message { p.error role="alert" { (m) @if let Some(f) = &errors.field { " " a href={ "#" (f) } { "Перейти к полю" } } } }
                form method="post" action=(action) {
                    (csrf_field(&staff.0))
                    div.filters {
                        div class=[errors.class("service")] {
                            label for="service" { "Занятие" }
                            select #service name="service" {
                                option value="" { "— выберите —" }
                                @for s in &app.docs.catalogue.services { option value=(s.code.0) selected[f.service == s.code.0] { (s.title_ru) } }
                            }
                            (errors.at_field("service"))
                        }
                        div class=[errors.class("group")] {
                            label for="group" { "Группа" }
                            select #group name="group" {
                                option value="" { "без группы" }
                                @for g in &people.groups { option value=(g.id) selected[f.group == g.id.to_string()] { (g.name) } }
                            }
                            (errors.at_field("group"))
                        }
                        div class=[errors.class("instructor")] {
                            label for="instructor" { "Специалист" }
                            select #instructor name="instructor" {
                                option value="" { "любой" }
                                @for i in people.instructors.iter().filter(|i| i.active) { option value=(i.id) selected[f.instructor == i.id.to_string()] { (i.display_name) } }
                            }
                            (errors.at_field("instructor"))
                        }
                        div class=[errors.class("room")] {
                            label for="room" { "Место" }
                            input #room name="room" size="14" value=(f.room); (errors.at_field("room"))
                        }
                    }
                    fieldset class=[errors.class("days")] {
                        legend { "Каждую неделю по дням" }
                        @for (d, l) in WEEKDAYS {
                            label style="display:inline-block;margin-right:14px" { input type="checkbox" name=(format!("day_{}", weekday_code(d))) value="1" checked[f.days().contains(&d)]; " " (l) }
                        }
                        (errors.at_field("days"))
                    }
                    div.filters {
                        div class=[errors.class("date")] {
                            label for="date" { "Или один раз, дата" }
                            input #date type="date" name="date" value=(f.date); (errors.at_field("date"))
                        }
                        div class=[errors.class("start")] {
                            label for="start" { "Начало" }
                            input #start type="time" name="start" value=(f.start) required; (errors.at_field("start"))
                        }
                        div class=[errors.class("from")] {
                            label for="from" { "С (необязательно)" }
                            input #from type="date" name="from" value=(f.from); (errors.at_field("from"))
                        }
                        div class=[errors.class("to")] {
                            label for="to" { "По (необязательно)" }
                            input #to type="date" name="to" value=(f.to); (errors.at_field("to"))
                        }
                        @if editing.is_some() {
                            div { button.primary type="submit" { "Сохранить изменения" } }
                            div { a href={ "/timetable?site=" (site.id) "&week=" (monday) } { "Отменить" } }
                        } @else {
                            div { button.primary type="submit" { "Запланировать" } }
                        }
                    }
                }
                h2 { "Дни без занятий" }
                @if !plan.days_off.is_empty() {
                    p { @for d in &plan.days_off { span.mark.info { (date_label(d.date)) @if !d.reason.is_empty() { " — " (d.reason) } } " " } }
                }
                form method="post" action={ "/timetable/days-off?site=" (site.id) } {
                    (csrf_field(&staff.0))
                    div.filters {
                        div class=[errors.class("day_off")] { label for="day_off" { "Дата" } input #day_off type="date" name="day_off" required;  (errors.at_field("day_off")) }
                        div { label for="day_off_reason" { "Почему" } input #day_off_reason name="reason" size="24" placeholder="праздник"; }
                        div { button type="submit" { "Добавить день без занятий" } }
                    }
                }
            }
        }
    }
}

/// The planning form as posted.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PlanForm {
    #[serde(default)]
    service: String,
    #[serde(default)]
    group: String,
    #[serde(default)]
    instructor: String,
    #[serde(default)]
    room: String,
    #[serde(default)]
    date: String,
    #[serde(default)]
    start: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    day_mon: String,
    #[serde(default)]
    day_tue: String,
    #[serde(default)]
    day_wed: String,
    #[serde(default)]
    day_thu: String,
    #[serde(default)]
    day_fri: String,
    #[serde(default)]
    day_sat: String,
    #[serde(default)]
    day_sun: String,
}

impl PlanForm {
    /// The form filled in with a planned session, to change it.
    fn of(s: &PlannedSession) -> PlanForm {
        let on = |d: Weekday| if s.days.contains(&d) { "1" } else { "" }.to_string();
        let date = |d: Option<NaiveDate>| d.map(|d| d.to_string()).unwrap_or_default();
        PlanForm {
            service: s.service.0.clone(),
            group: s.group.map(|g| g.to_string()).unwrap_or_default(),
            instructor: s.instructor.map(|i| i.to_string()).unwrap_or_default(),
            room: s.room.clone(),
            date: date(s.date),
            start: s.start.format("%H:%M").to_string(),
            from: date(s.from),
            to: date(s.to),
            day_mon: on(Weekday::Mon),
            day_tue: on(Weekday::Tue),
            day_wed: on(Weekday::Wed),
            day_thu: on(Weekday::Thu),
            day_fri: on(Weekday::Fri),
            day_sat: on(Weekday::Sat),
            day_sun: on(Weekday::Sun),
        }
    }

    fn days(&self) -> Vec<Weekday> {
        [
            (&self.day_mon, "mon"),
            (&self.day_tue, "tue"),
            (&self.day_wed, "wed"),
            (&self.day_thu, "thu"),
            (&self.day_fri, "fri"),
            (&self.day_sat, "sat"),
            (&self.day_sun, "sun"),
        ]
        .into_iter()
        .filter(|(v, _)| !v.is_empty())
        .filter_map(|(_, c)| weekday_of(c))
        .collect()
    }

    /// The planned session the form describes, or the first thing wrong with it.
    fn session(
        &self,
        app: &AppState,
        site: &SiteView,
        people: &crate::store::people::SitePeople,
    ) -> Result<PlannedSession, FormErrors> {
        let service = ServiceCode(self.service.trim().to_string());
        if app.docs.catalogue.get(&service).is_none() {
            return Err(FormErrors::at("service", "Выберите занятие."));
        }
        let group = match self.group.trim() {
            "" => None,
            g => Some(
                g.parse()
                    .ok()
                    .map(GroupId)
                    .filter(|id| people.groups.iter().any(|x| x.id == *id))
                    .ok_or_else(|| FormErrors::at("group", "Такой группы нет."))?,
            ),
        };
        let instructor = match self.instructor.trim() {
            "" => None,
            i => Some(
                i.parse()
                    .ok()
                    .map(InstructorId)
                    .filter(|id| people.instructors.iter().any(|x| x.id == *id))
                    .ok_or_else(|| FormErrors::at("instructor", "Такого специалиста нет."))?,
            ),
        };
        let date_of = |v: &str, field: &str| -> Result<Option<NaiveDate>, FormErrors> {
            match v.trim() {
                "" => Ok(None),
                v => v
                    .parse()
                    .map(Some)
                    .map_err(|_| FormErrors::at(field, "Дата указана неверно.")),
            }
        };
        let start = NaiveTime::parse_from_str(self.start.trim(), "%H:%M")
            .map_err(|_| FormErrors::at("start", "Укажите время начала, например 10:00."))?;
        let date = date_of(&self.date, "date")?;
        let days = self.days();
        match (date, days.is_empty()) {
            (None, true) => {
                return Err(FormErrors::at(
                    "days",
                    "Отметьте дни недели или укажите дату одного занятия.",
                ));
            }
            (Some(_), false) => {
                return Err(FormErrors::at(
                    "date",
                    "Либо дни недели, либо одна дата — не то и другое сразу.",
                ));
            }
            (Some(d), true) if d < site.date(app.now()) => {
                return Err(FormErrors::at("date", "Эта дата уже прошла."));
            }
            _ => {}
        }
        let (from, to) = (date_of(&self.from, "from")?, date_of(&self.to, "to")?);
        if let (Some(a), Some(b)) = (from, to) {
            if b < a {
                return Err(FormErrors::at("to", "«По» не может быть раньше, чем «с»."));
            }
        }
        let room = self.room.trim();
        if room.chars().count() > 60 {
            return Err(FormErrors::at("room", "Место — до 60 знаков."));
        }
        Ok(PlannedSession {
            id: 0,
            site: site.id.clone(),
            service,
            group,
            instructor,
            days,
            date,
            start,
            room: room.to_string(),
            unit_kind: None,
            from: if date.is_some() { None } else { from },
            to: if date.is_some() { None } else { to },
        })
    }
}

fn saved(site: &SiteView, message: &str) -> Response {
    notice(&format!("/timetable?site={}", site.id), "saved", message)
}

/// `POST /timetable/sessions/{id}`: a planned session changed.
pub async fn replan(
    State(app): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Query(mut q): Query<WeekQuery>,
    Form(f): Form<PlanForm>,
) -> Result<Response, PageError> {
    let site = app.site_or_404(q.site.as_deref())?;
    let people = app.people(&site.id).await?;
    let mut session = match f.session(&app, &site, &people) {
        Ok(s) => s,
        Err(e) => {
            q.edit = Some(id);
            let page = week_page(&app, &staff, &q, Some(&f), &e).await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
    };
    session.id = id;
    let today = site.date(app.now());
    let sid = site.id.clone();
    let old = app
        .store
        .call(move |s| s.plan(&sid))
        .await?
        .sessions
        .into_iter()
        .find(|s| s.id == id)
        .ok_or_else(|| PageError::not_found("Такого занятия в расписании нет."))?;
    // A weekly session that has already taken place keeps its past weeks as they were.
    let began = old.date.is_none() && old.from.is_none_or(|f| f < today);
    let from = (began && session.date.is_none()).then_some(today);
    let (actor, now) = (Actor::of(&staff.0.user), app.now());
    app.store
        .call(move |s| s.replan_session(&actor, &session, from, now))
        .await?;
    let back = format!(
        "/timetable?site={}&week={}",
        site.id,
        week_of(&app, &site, q.week.as_deref())?
    );
    Ok(notice(
        &back,
        "saved",
        if from.is_some() {
            "Занятие изменено с сегодняшнего дня; прошедшие недели остались как были. Киоски получат расписание в течение минуты."
        } else {
            "Занятие изменено. Киоски получат расписание в течение минуты."
        },
    ))
}

#[derive(Debug, Deserialize, Default)]
pub struct ApproveForm {
    /// The week's digest as the head saw it: a week changed meanwhile is not approved unseen.
    #[serde(default)]
    digest: String,
}

/// `POST /timetable/approve?week=…`: the head approves the week's timetable as it stands.
pub async fn approve(
    State(app): State<AppState>,
    staff: Staff,
    Query(q): Query<WeekQuery>,
    Form(f): Form<ApproveForm>,
) -> Result<Response, PageError> {
    let site = app.site_or_404(q.site.as_deref())?;
    let monday = week_of(&app, &site, q.week.as_deref())?;
    let (_, entries) = week_entries(&app, &site, monday).await?;
    let digest = week_digest(&entries);
    let back = format!("/timetable?site={}&week={monday}", site.id);
    if entries.is_empty() {
        return Ok(notice(
            &back,
            "error",
            "На этой неделе нет занятий: утверждать нечего.",
        ));
    }
    if f.digest != digest {
        return Ok(notice(
            &back,
            "error",
            "Расписание недели изменилось, пока страница была открыта: проверьте его и утвердите снова.",
        ));
    }
    let (actor, now, sid) = (Actor::of(&staff.0.user), app.now(), site.id.clone());
    app.store
        .call(move |s| s.approve_week(&actor, &sid, monday, &digest, now))
        .await?;
    Ok(notice(
        &back,
        "saved",
        &format!("Расписание на неделю с {} утверждено.", date_label(monday)),
    ))
}

/// `POST /timetable/sessions`.
pub async fn plan(
    State(app): State<AppState>,
    staff: Staff,
    Query(q): Query<WeekQuery>,
    Form(f): Form<PlanForm>,
) -> Result<Response, PageError> {
    let site = app.site_or_404(q.site.as_deref())?;
    let people = app.people(&site.id).await?;
    let session = match f.session(&app, &site, &people) {
        Ok(s) => s,
        Err(e) => {
            let page = week_page(&app, &staff, &q, Some(&f), &e).await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
    };
    let (actor, now) = (Actor::of(&staff.0.user), app.now());
    app.store
        .call(move |s| s.plan_session(&actor, &session, now))
        .await?;
    Ok(saved(
        &site,
        "Занятие добавлено в расписание. Киоски получат его в течение минуты.",
    ))
}

/// `POST /timetable/sessions/{id}/remove`.
pub async fn unplan(
    State(app): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Query(q): Query<WeekQuery>,
) -> Result<Response, PageError> {
    let site = app.site_or_404(q.site.as_deref())?;
    let (actor, now, sid) = (Actor::of(&staff.0.user), app.now(), site.id.clone());
    app.store
        .call(move |s| s.unplan_session(&actor, &sid, id, now))
        .await?;
    Ok(saved(&site, "Занятие убрано из расписания."))
}

#[derive(Debug, Deserialize, Default)]
pub struct DayOffForm {
    #[serde(default)]
    day_off: String,
    #[serde(default)]
    reason: String,
}

/// `POST /timetable/days-off`.
pub async fn day_off(
    State(app): State<AppState>,
    staff: Staff,
    Query(q): Query<WeekQuery>,
    Form(f): Form<DayOffForm>,
) -> Result<Response, PageError> {
    let site = app.site_or_404(q.site.as_deref())?;
    let Ok(date) = f.day_off.trim().parse::<NaiveDate>() else {
        let e = FormErrors::at("day_off", "Укажите дату дня без занятий.");
        let page = week_page(&app, &staff, &q, None, &e).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    };
    let day = DayOff {
        date,
        reason: f.reason.trim().chars().take(100).collect(),
    };
    let (actor, now, sid) = (Actor::of(&staff.0.user), app.now(), site.id.clone());
    app.store
        .call(move |s| s.add_day_off(&actor, &sid, &day, now))
        .await?;
    Ok(saved(
        &site,
        &format!("{}: занятий не будет.", date_label(date)),
    ))
}
