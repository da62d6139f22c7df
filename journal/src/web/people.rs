//! The people of a site, kept in the journal's database (the roster file is an import):
//!
//! - `GET /people`: the recipients, with what is missing (consent, programme, card) first;
//! - `GET /people/new`, `POST /people/new`: a new recipient;
//! - `GET /people/{recipient}`, `POST /people/{recipient}`: their record — names, birth date
//!   (minors' norms), care group, legal representative, consents with the personal-data
//!   consent's date, groups, the individual programme (ИППСУ) service by service; opening it
//!   is audited (152-ФЗ);
//! - `POST /people/{recipient}/cards`: a card given by its number, as a desk USB reader types it
//!   into the focused field (temporary until a date, or kept by staff);
//! - `POST /people/{recipient}/cards/{card}`: a card lost, blocked, replaced, or active again;
//! - `POST /people/{recipient}/card`: "give a card at a kiosk" — the chosen kiosk waits for the
//!   next card on its reader (the `enrol-card` request, from a button);
//! - `POST /people/{recipient}/anonymise`: the name and details removed after the retention
//!   period, the units kept.
//!
//! Each change raises the site's revision; the feed publishes the roster to the site's kiosks.
//! A form that is wrong comes back with the field marked and a Russian message; nothing of it
//! is saved.

use super::auth::Staff;
use super::layout::{FormErrors, PageError, Section, csrf_field, date_label, notice, page};
use super::{AppState, SiteView};
use crate::store::StoreError;
use crate::store::people::{CARE_GROUPS, CardState, Holder, NewCard, Person, SitePeople};
use crate::store::staff::Actor;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{Datelike, NaiveDate};
use maud::{Markup, html};
use otmetka_core::catalogue::Period;
use otmetka_core::people::{Consent, GroupId, Programme, ProgrammeItem, RecipientId};
use otmetka_core::wire::{EnrolmentRequest, SCHEMA};
use serde::Deserialize;
use std::sync::Arc;

/// How long a kiosk waits for the card a page asked for.
pub const ENROL_MINUTES: i64 = 10;

/// How long a person's data is kept after their last unit before it may be anonymised (the
/// journal and acts are kept five years).
pub const RETENTION_YEARS: i32 = 5;

/// `?site=…&request=…&saved=…&q=…`.
#[derive(Debug, Deserialize, Default)]
pub struct PeopleQuery {
    #[serde(default)]
    site: Option<String>,
    #[serde(default)]
    request: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    saved: Option<String>,
    #[serde(default)]
    q: Option<String>,
}

/// The kiosks of a site the journal knows: provisioned (not revoked) or heard from.
async fn site_kiosks(app: &AppState, site: &str) -> Result<Vec<String>, PageError> {
    let (kiosks, statuses) = app.store.call(|s| Ok((s.kiosks()?, s.statuses()?))).await?;
    let mut out: Vec<String> = kiosks
        .into_iter()
        .filter(|k| k.site == site && k.revoked_at.is_none())
        .map(|k| k.kiosk)
        .chain(
            statuses
                .into_iter()
                .filter(|(r, _)| r.site == site)
                .map(|(r, _)| r.kiosk),
        )
        .collect();
    out.sort();
    out.dedup();
    Ok(out)
}

/// What is missing from a person's record on `today` that stops them checking in or being
/// counted, in words for the list.
fn missing(people: &SitePeople, p: &Person, today: NaiveDate) -> Vec<&'static str> {
    let mut out = Vec::new();
    if !p.consent.participation {
        out.push("нет согласия на участие");
    }
    match p.programme_for(today, today) {
        None => out.push("нет программы"),
        Some(pr) if !pr.in_force(today) => out.push("программа не действует"),
        Some(_) => {}
    }
    if !people
        .cards_of(Holder::Recipient(p.id))
        .any(|c| c.status_on(today) == otmetka_core::people::CardStatus::Active)
    {
        out.push("нет карты");
    }
    out
}

/// `GET /people`.
pub async fn list(
    State(app): State<AppState>,
    staff: Staff,
    Query(q): Query<PeopleQuery>,
) -> Result<Markup, PageError> {
    let site = app.site_or_404(q.site.as_deref())?;
    let people = app.people(&site.id).await?;
    let today = site.date(app.now());
    let needle = q.q.as_deref().unwrap_or("").trim().to_lowercase();
    let mut shown: Vec<(&Person, Vec<&str>)> = people
        .current()
        .filter(|p| {
            needle.is_empty()
                || p.display_name.to_lowercase().contains(&needle)
                || p.full_name.to_lowercase().contains(&needle)
        })
        .map(|p| {
            // Nothing is missing for someone who has left: they do not come any more.
            let m = if p.has_left(today) {
                Vec::new()
            } else {
                missing(&people, p, today)
            };
            (p, m)
        })
        .collect();
    // What needs doing first; those who left last.
    shown.sort_by_key(|(p, m)| (p.has_left(today), m.is_empty(), p.full_name.to_lowercase()));
    let gone = shown.iter().filter(|(p, _)| p.has_left(today)).count();
    let incomplete = shown.iter().filter(|(_, m)| !m.is_empty()).count();
    let body = html! {
        h1 { "Получатели услуг — отделение " (site.id) }
        @if let Some(e) = &q.error { p.error role="alert" { (e) } }
        @if let Some(s) = &q.saved { div.allgood role="status" { (s) } }
        p.noprint {
            @if staff.may_edit() { a href={ "/people/new?site=" (site.id) } { strong { "+ Добавить получателя" } } " · " }
            a href={ "/instructors?site=" (site.id) } { "Специалисты и их PIN-коды" }
        }
        form.filters.noprint method="get" action="/people" {
            input type="hidden" name="site" value=(site.id);
            div { label for="q" { "Найти по имени" } input #q type="search" name="q" value=[q.q.as_deref()]; }
            div { button type="submit" { "Найти" } }
        }
        @if incomplete > 0 {
            div.problems role="alert" {
                h2 { "Не хватает данных: " (incomplete) " из " (shown.len()) }
                p { "Эти строки наверху; откройте карточку, чтобы дополнить." }
            }
        }
        p { "Обслуживаются: " strong { (shown.len() - gone) } "."
            @if gone > 0 { " Выбыли: " (gone) " (внизу списка)." } }
        table {
            thead { tr {
                th { "Получатель" } th { "Дата рождения" } th { "Группа ухода" }
                th { "Программа" } th { "Карты" } th { "Чего не хватает" }
            } }
            tbody {
                @for (p, m) in &shown {
                    tr class=[(!m.is_empty()).then_some("problem").or(p.has_left(today).then_some("left"))] {
                        td {
                            a href={ "/people/" (p.id) } { (p.full_name) }
                            @if let (true, Some(d)) = (p.has_left(today), p.left_on) { br; span.mark.info { "выбытие " (date_label(d)) } }
                            @if p.display_name != p.full_name { br; span.muted { "на киоске: " (p.display_name) } }
                        }
                        td.name { @match p.birth_date {
                            Some(b) => { (date_label(b)) @if p.is_minor_on(today) { br; span.mark.info { "несовершеннолетний" } } }
                            None => { span.muted { "—" } }
                        } }
                        td.num { @match p.care_group { Some(g) => { (g) }, None => { span.muted { "—" } } } }
                        td { @match &p.programme {
                            Some(pr) => { "с " (date_label(pr.valid_from)) " по " (date_label(pr.valid_to)) ", услуг: " (pr.items.len()) }
                            None => { "—" }
                        } }
                        td { @for c in people.cards_of(Holder::Recipient(p.id)) {
                            (c.label()) " (" (card_state_label(c, today)) ")" br;
                        } }
                        td {
                            @for w in m { span.mark { (w) } }
                            @if p.data_consent_on.is_none() { span.mark.info { "нет даты согласия на обработку данных" } }
                        }
                    }
                }
            }
        }
    };
    Ok(page("Получатели", Section::People, Some(&staff.0), body))
}

fn card_state_label(c: &crate::store::people::CardRecord, today: NaiveDate) -> String {
    match (c.state, c.valid_until) {
        (CardState::Active, Some(d)) if d < today => {
            format!("временная, истекла {}", date_label(d))
        }
        (CardState::Active, Some(d)) => format!("временная до {}", date_label(d)),
        (s, _) => s.label().to_string(),
    }
}

/// The periods a programme item may count over, as the form offers them.
const PERIODS: &[(&str, &str)] = &[
    ("month", "в месяц"),
    ("week", "в неделю"),
    ("day", "в день"),
    ("quarter", "в квартал"),
    ("year", "в год"),
];

fn period_code(p: Period) -> String {
    match p {
        Period::Day => "day".into(),
        Period::Week => "week".into(),
        Period::Month => "month".into(),
        Period::Quarter => "quarter".into(),
        Period::Year => "year".into(),
        Period::Course { days } => format!("course-{days}"),
    }
}

fn period_of(code: &str) -> Option<Period> {
    Some(match code {
        "day" => Period::Day,
        "week" => Period::Week,
        "month" => Period::Month,
        "quarter" => Period::Quarter,
        "year" => Period::Year,
        other => Period::Course {
            days: other.strip_prefix("course-")?.parse().ok()?,
        },
    })
}

/// A recipient's form as posted: field name → values (check boxes repeat a name).
#[derive(Debug, Default)]
struct Posted(Vec<(String, String)>);

impl Posted {
    fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.trim())
    }

    fn all(&self, name: &str) -> impl Iterator<Item = &str> {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn checked(&self, name: &str) -> bool {
        !self.get(name).is_empty()
    }
}

/// A date a form field holds (blank: none).
fn date_field(posted: &Posted, name: &str, what: &str) -> Result<Option<NaiveDate>, FormErrors> {
    let v = posted.get(name);
    if v.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(v, "%d.%m.%Y"))
        .map(Some)
        .map_err(|_| FormErrors::at(name, &format!("{what}: дата вида 31.12.2026.")))
}

/// The first days of a service's courses, as typed in `field`: dates separated by commas,
/// spaces or semicolons (дд.мм.гггг or ISO), in order, once each.
fn course_starts(text: &str, field: &str) -> Result<Vec<NaiveDate>, FormErrors> {
    let mut starts = Vec::new();
    for word in text
        .split([',', ';', ' ', '\n', '\r', '\t'])
        .filter(|w| !w.is_empty())
    {
        let date = NaiveDate::parse_from_str(word, "%d.%m.%Y")
            .or_else(|_| NaiveDate::parse_from_str(word, "%Y-%m-%d"))
            .map_err(|_| {
                FormErrors::at(
                    field,
                    &format!("Даты начала курсов: «{word}» — не дата; пишите даты вида 01.03.2026 через запятую."),
                )
            })?;
        starts.push(date);
    }
    starts.sort_unstable();
    starts.dedup();
    Ok(starts)
}

/// The person a form describes, or the first thing wrong with it.
fn person_from(
    posted: &Posted,
    mut person: Person,
    app: &AppState,
    people: &SitePeople,
    today: NaiveDate,
) -> Result<Person, FormErrors> {
    let text = |name: &str, max: usize, what: &str, required: bool| {
        let v = posted.get(name);
        if (required && v.is_empty()) || v.chars().count() > max {
            return Err(FormErrors::at(
                name,
                &format!(
                    "{what}: {}до {max} знаков.",
                    if required {
                        "обязательно, "
                    } else {
                        ""
                    }
                ),
            ));
        }
        Ok(v.to_string())
    };
    person.full_name = text("full_name", 200, "Фамилия, имя, отчество", true)?;
    person.display_name = text("display_name", 100, "Как обращаться (имя и отчество)", true)?;
    person.birth_date = date_field(posted, "birth_date", "Дата рождения")?;
    if person
        .birth_date
        .is_some_and(|b| b > today || b < NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(b))
    {
        return Err(FormErrors::at(
            "birth_date",
            "Дата рождения не может быть в будущем или раньше 1900 года.",
        ));
    }
    person.care_group = match posted.get("care_group") {
        "" => None,
        g => match g.parse::<u8>() {
            Ok(g) if CARE_GROUPS.contains(&g) => Some(g),
            _ => {
                return Err(FormErrors::at(
                    "care_group",
                    "Группа ухода — число от 0 до 5 или «не установлена».",
                ));
            }
        },
    };
    person.representative = text("representative", 300, "Законный представитель", false)?;
    person.left_on = date_field(posted, "left_on", "Дата выбытия")?;
    if person
        .left_on
        .is_some_and(|d| person.birth_date.is_some_and(|b| d < b))
    {
        return Err(FormErrors::at(
            "left_on",
            "Дата выбытия не может быть раньше даты рождения.",
        ));
    }
    person.consent = Consent {
        participation: posted.checked("consent_participation"),
        photo_video: posted.checked("consent_photo_video"),
    };
    person.data_consent_on = date_field(
        posted,
        "data_consent_on",
        "Дата согласия на обработку данных",
    )?;
    if person.data_consent_on.is_some_and(|d| d > today) {
        return Err(FormErrors::at(
            "data_consent_on",
            "Согласие не может быть дано в будущем.",
        ));
    }
    let mut groups = Vec::new();
    for g in posted.all("group") {
        let id = g
            .parse()
            .ok()
            .map(GroupId)
            .filter(|id| people.groups.iter().any(|x| x.id == *id))
            .ok_or_else(|| FormErrors::at("group", "Такой группы нет."))?;
        groups.push(id);
    }
    person.groups = groups;
    let mut items = Vec::new();
    for s in &app.docs.catalogue.services {
        let code = &s.code.0;
        if !posted.checked(&format!("svc.{code}.on")) {
            continue;
        }
        let count_field = format!("svc.{code}.count");
        let count = match posted.get(&count_field) {
            "" => None,
            c => match c.parse::<u32>() {
                Ok(n) if (1..=999).contains(&n) => Some(n),
                _ => {
                    return Err(FormErrors::at(
                        &count_field,
                        &format!(
                            "«{}»: сколько раз — число от 1 до 999, или пусто (по мере необходимости).",
                            s.title_ru
                        ),
                    ));
                }
            },
        };
        let period_field = format!("svc.{code}.period");
        let period = period_of(posted.get(&period_field))
            .ok_or_else(|| FormErrors::at(&period_field, "Выберите период."))?;
        // The first days of its courses, where the service is given in courses.
        let courses_field = format!("svc.{code}.courses");
        let courses = match &s.courses {
            Some(_) => course_starts(posted.get(&courses_field), &courses_field)?,
            None => Vec::new(),
        };
        items.push(ProgrammeItem {
            courses,
            service: s.code.clone(),
            count,
            period,
        });
    }
    let from = date_field(posted, "valid_from", "Программа действует с")?;
    let to = date_field(posted, "valid_to", "Программа действует по")?;
    // The programme-wide course start of older records stays for older kiosks; the form
    // edits each service's own courses.
    let course_start = person.programme.as_ref().and_then(|p| p.course_start);
    person.programme = match (from, to, items.is_empty()) {
        (None, None, true) => None,
        (Some(from), Some(to), _) if from <= to => Some(Programme {
            valid_from: from,
            valid_to: to,
            items,
            course_start,
        }),
        (Some(_), Some(_), _) => {
            return Err(FormErrors::at(
                "valid_to",
                "Программа должна заканчиваться не раньше, чем начинается.",
            ));
        }
        (None, _, _) => {
            return Err(FormErrors::at(
                "valid_from",
                "Укажите, с какого дня действует индивидуальная программа.",
            ));
        }
        (_, None, _) => {
            return Err(FormErrors::at(
                "valid_to",
                "Укажите, по какой день действует индивидуальная программа.",
            ));
        }
    };
    // A course may have begun under the programme this one renewed, in the same year (the
    // year's courses count toward «до двух курсов в год»), not after this one ends.
    if let Some(p) = &person.programme {
        let year_start = NaiveDate::from_ymd_opt(p.valid_from.year(), 1, 1).unwrap_or(p.valid_from);
        let outside = p.items.iter().find_map(|i| {
            i.courses
                .iter()
                .find(|c| **c < year_start || **c > p.valid_to)
                .map(|c| (i, *c))
        });
        if let Some((item, out)) = outside {
            return Err(FormErrors::at(
                &format!("svc.{}.courses", item.service.0),
                &format!(
                    "Курс с {} — вне года начала программы и её срока.",
                    out.format("%d.%m.%Y")
                ),
            ));
        }
    }
    Ok(person)
}

/// The record form, filled from `p` (or from what was posted, when it came back wrong).
fn person_form(
    app: &AppState,
    staff: &Staff,
    people: &SitePeople,
    p: &Person,
    posted: Option<&Posted>,
    errors: &FormErrors,
    action: &str,
) -> Markup {
    // What the field shows: what was posted, when the form came back.
    let val =
        |name: &str, held: String| -> String { posted.map_or(held, |f| f.get(name).to_string()) };
    let on = |name: &str, held: bool| posted.map_or(held, |f| f.checked(name));
    let date = |d: Option<NaiveDate>| d.map(|d| d.to_string()).unwrap_or_default();
    let programme = p.programme.as_ref();
    let disabled = !staff.may_edit();
    html! {
        @if let Some(m) = &errors.message { p.error role="alert" { (m) @if let Some(f) = &errors.field { " " a href={ "#" (f) } { "Перейти к полю" } } } }
        form method="post" action=(action) {
            (csrf_field(&staff.0))
            fieldset {
                legend { "Получатель" }
                div class=[errors.class("full_name")] {
                    label for="full_name" { "Фамилия, имя, отчество" }
                    input #full_name name="full_name" size="40" required value=(val("full_name", p.full_name.clone())) disabled[disabled]; (errors.at_field("full_name"))
                }
                div class=[errors.class("display_name")] {
                    label for="display_name" { "Как обращаться на киоске (имя и отчество)" }
                    input #display_name name="display_name" size="30" required value=(val("display_name", p.display_name.clone())) disabled[disabled]; (errors.at_field("display_name"))
                }
                div class=[errors.class("birth_date")] {
                    label for="birth_date" { "Дата рождения" }
                    input #birth_date type="date" name="birth_date" value=(val("birth_date", date(p.birth_date))) disabled[disabled]; (errors.at_field("birth_date"))
                }
                div class=[errors.class("care_group")] {
                    label for="care_group" { "Группа ухода" }
                    @let held = val("care_group", p.care_group.map(|g| g.to_string()).unwrap_or_default());
                    select #care_group name="care_group" disabled[disabled] {
                        option value="" selected[held.is_empty()] { "не установлена" }
                        @for g in CARE_GROUPS { option value=(g) selected[held == g.to_string()] { (g) } }
                    }
                    (errors.at_field("care_group"))
                }
                div class=[errors.class("representative")] {
                    label for="representative" { "Законный представитель (ФИО, кем приходится, телефон)" }
                    input #representative name="representative" size="60" value=(val("representative", p.representative.clone())) disabled[disabled]; (errors.at_field("representative"))
                }
                div class=[errors.class("left_on")] {
                    label for="left_on" { "Дата выбытия: последний день обслуживания (пусто — обслуживается)" }
                    input #left_on type="date" name="left_on" value=(val("left_on", date(p.left_on))) disabled[disabled]; (errors.at_field("left_on"))
                }
            }
            fieldset {
                legend { "Согласия" }
                label { input type="checkbox" name="consent_participation" value="1" checked[on("consent_participation", p.consent.participation)] disabled[disabled]; " Согласие на участие в групповых занятиях" }
                label { input type="checkbox" name="consent_photo_video" value="1" checked[on("consent_photo_video", p.consent.photo_video)] disabled[disabled]; " Согласие на фото- и видеосъёмку" }
                div class=[errors.class("data_consent_on")] {
                    label for="data_consent_on" { "Дата согласия на обработку персональных данных" }
                    input #data_consent_on type="date" name="data_consent_on" value=(val("data_consent_on", date(p.data_consent_on))) disabled[disabled]; (errors.at_field("data_consent_on"))
                }
            }
            @if !people.groups.is_empty() {
                fieldset class=[errors.class("group")] {
                    legend { "Группы" }
                    @for g in &people.groups {
                        @let held = posted.map_or(p.groups.contains(&g.id), |f| f.all("group").any(|v| v == g.id.to_string()));
                        label { input type="checkbox" name="group" value=(g.id) checked[held] disabled[disabled]; " " (g.name) " (" (app.service_title(&g.service.0)) ")" }
                    }
                    (errors.at_field("group"))
                }
            }
            fieldset {
                legend { "Индивидуальная программа (ИППСУ)" }
                div.filters {
                    div class=[errors.class("valid_from")] {
                        label for="valid_from" { "Действует с" }
                        input #valid_from type="date" name="valid_from" value=(val("valid_from", date(programme.map(|p| p.valid_from)))) disabled[disabled]; (errors.at_field("valid_from"))
                    }
                    div class=[errors.class("valid_to")] {
                        label for="valid_to" { "по" }
                        input #valid_to type="date" name="valid_to" value=(val("valid_to", date(programme.map(|p| p.valid_to)))) disabled[disabled]; (errors.at_field("valid_to"))
                    }
                }
                table {
                    thead { tr { th { "В программе" } th { "Услуга" } th { "Сколько раз (пусто — по мере необходимости)" } th { "За период" } th { "Даты начала курсов (для услуг курсами)" } } }
                    tbody {
                        @for s in &app.docs.catalogue.services {
                            @let code = &s.code.0;
                            @let item = programme.and_then(|p| p.item(&s.code));
                            @let on_name = format!("svc.{code}.on");
                            @let count_name = format!("svc.{code}.count");
                            @let period_name = format!("svc.{code}.period");
                            @let period = val(&period_name, item.map_or_else(|| "month".to_string(), |i| period_code(i.period)));
                            tr {
                                td { input type="checkbox" id=(on_name) name=(on_name) value="1" checked[on(&on_name, item.is_some())] disabled[disabled]; }
                                td { label for=(on_name) style="font-weight:normal;margin:0" { (s.title_ru) } span.muted { " (" (code) ")" } }
                                td class=[errors.class(&count_name)] { input id=(count_name) name=(count_name) size="4" inputmode="numeric" value=(val(&count_name, item.and_then(|i| i.count).map(|c| c.to_string()).unwrap_or_default())) disabled[disabled];  (errors.at_field(&count_name)) }
                                td class=[errors.class(&period_name)] {
                                    select id=(period_name) name=(period_name) disabled[disabled] {
                                        @for (v, l) in PERIODS { option value=(v) selected[period == *v] { (l) } }
                                        @if period.starts_with("course-") { option value=(period) selected { "за курс, дней: " (period.trim_start_matches("course-")) } }
                                    }
                                    (errors.at_field(&period_name))
                                }
                                @let courses_name = format!("svc.{code}.courses");
                                td class=[errors.class(&courses_name)] {
                                    @if s.courses.is_some() {
                                        @let held = programme.map(|p| p.course_starts(&s.code).iter().map(|d| d.format("%d.%m.%Y").to_string()).collect::<Vec<_>>().join(", ")).unwrap_or_default();
                                        input id=(courses_name) name=(courses_name) size="24" placeholder="01.03.2026, 01.09.2026" aria-label={ "Даты начала курсов: " (s.title_ru) } value=(val(&courses_name, held)) disabled[disabled];
                                        (errors.at_field(&courses_name))
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if staff.may_edit() {
                p { button.primary type="submit" { "Сохранить" } }
            }
        }
    }
}

/// `GET /people/new`.
pub async fn new_form(
    State(app): State<AppState>,
    staff: Staff,
    Query(q): Query<PeopleQuery>,
) -> Result<Markup, PageError> {
    let site = app.site_or_404(q.site.as_deref())?;
    let people = app.people(&site.id).await?;
    let blank = Person::new(&site.id, "", "");
    Ok(new_page(
        &app,
        &staff,
        &site,
        &people,
        &blank,
        None,
        &FormErrors::default(),
    ))
}

fn new_page(
    app: &AppState,
    staff: &Staff,
    site: &SiteView,
    people: &SitePeople,
    p: &Person,
    posted: Option<&Posted>,
    errors: &FormErrors,
) -> Markup {
    let body = html! {
        p.noprint { a href={ "/people?site=" (site.id) } { "← Все получатели" } }
        h1 { "Новый получатель — отделение " (site.id) }
        (person_form(app, staff, people, p, posted, errors, &format!("/people/new?site={}", site.id)))
    };
    page("Новый получатель", Section::People, Some(&staff.0), body)
}

/// `POST /people/new`.
pub async fn create(
    State(app): State<AppState>,
    staff: Staff,
    Query(q): Query<PeopleQuery>,
    Form(posted): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let site = app.site_or_404(q.site.as_deref())?;
    let people = app.people(&site.id).await?;
    let posted = Posted(posted);
    let today = site.date(app.now());
    let person = match person_from(&posted, Person::new(&site.id, "", ""), &app, &people, today) {
        Ok(p) => p,
        Err(e) => {
            let blank = Person::new(&site.id, "", "");
            let page = new_page(&app, &staff, &site, &people, &blank, Some(&posted), &e);
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
    };
    let (actor, now, p) = (Actor::of(&staff.0.user), app.now(), person.clone());
    app.store
        .call(move |s| s.save_recipient(&actor, &p, now))
        .await?;
    Ok(notice(
        &format!("/people/{}", person.id),
        "saved",
        "Получатель добавлен. Выдайте ему карту.",
    ))
}

fn recipient_id(id: &str) -> Result<RecipientId, PageError> {
    id.parse()
        .map(RecipientId)
        .map_err(|_| PageError::not_found("Такого получателя нет."))
}

/// The person a path names, with their site and its people.
async fn held(app: &AppState, id: &str) -> Result<(SiteView, Arc<SitePeople>, Person), PageError> {
    let id = recipient_id(id)?;
    let (site, people) = app
        .person(id)
        .await?
        .ok_or_else(|| PageError::not_found("Такого получателя нет."))?;
    let person = people
        .recipient(id)
        .cloned()
        .ok_or_else(|| PageError::not_found("Такого получателя нет."))?;
    Ok((site, people, person))
}

/// `GET /people/{recipient}`.
pub async fn show(
    State(app): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Query(q): Query<PeopleQuery>,
) -> Result<Markup, PageError> {
    let (site, people, person) = held(&app, &id).await?;
    let (actor, now, pid) = (Actor::of(&staff.0.user), app.now(), person.id);
    app.store
        .call(move |s| s.audit(&actor, "view_person", &pid.to_string(), "record", now))
        .await?;
    person_page(
        &app,
        &staff,
        &site,
        &people,
        &person,
        None,
        &FormErrors::default(),
        &q,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn person_page(
    app: &AppState,
    staff: &Staff,
    site: &SiteView,
    people: &SitePeople,
    person: &Person,
    posted: Option<&Posted>,
    errors: &FormErrors,
    q: &PeopleQuery,
) -> Result<Markup, PageError> {
    let today = site.date(app.now());
    let kiosks = site_kiosks(app, &site.id).await?;
    let request = match q
        .request
        .as_deref()
        .and_then(|r| r.parse::<uuid::Uuid>().ok())
    {
        Some(r) => app.store.call(move |s| s.enrolment(r)).await?,
        None => None,
    }
    .filter(|e| e.request.recipient == person.id && e.site == site.id);
    let cards: Vec<_> = people.cards_of(Holder::Recipient(person.id)).collect();
    let gone = person.anonymised_at.is_some();
    let card_error = errors
        .field
        .as_deref()
        .is_some_and(|f| f.starts_with("card"));
    let record_errors = if card_error {
        &FormErrors::default()
    } else {
        errors
    };
    let body = html! {
        p.noprint { a href={ "/people?site=" (site.id) } { "← Все получатели" } " · " a href={ "/acts/" (person.id) "?site=" (site.id) } { "Акт за месяц" } }
        @if gone {
            h1 { (people.recipient_name(person.id)) }
            p.note { "Данные обезличены " (person.anonymised_at.map(|t| date_label(site.date(t))).unwrap_or_default()) ". Услуги остаются в журнале под номером получателя." }
        } @else {
            h1 { (person.full_name) }
            @if let Some(s) = &q.saved { div.allgood role="status" { (s) } }
            @if let Some(e) = &q.error { p.error role="alert" { (e) } }
            @let m = if person.has_left(today) { Vec::new() } else { missing(people, person, today) };
            @if !m.is_empty() { div.problems role="alert" { strong { "Не хватает: " } @for w in &m { span.mark { (w) } } } }
            @if person.data_consent_on.is_none() { p.note { "Не указана дата согласия на обработку персональных данных." } }
            @if person.is_minor_on(today) { p.note { "Несовершеннолетний: для него действуют нормы для детей." } }
            @if let Some(d) = person.left_on {
                p.note { @if person.has_left(today) { "Выбытие: последний день обслуживания — " } @else { "Назначено выбытие: последний день обслуживания — " } (date_label(d))
                    ". После этого дня киоски не принимают карты получателя; записи и услуги остаются." }
            }
            h2 { "Карты" }
            @if let Some(r) = &request {
                @if r.enrolled_at.is_some() {
                    div.allgood role="status" { "Карта выдана на киоске " (r.kiosk) "." }
                } @else {
                    div.note role="status" {
                        "Киоск " strong { (r.kiosk) } " ждёт новую карту для " strong { (r.request.display_name) }
                        " до " (site.hm(r.request.expires_at)) ". Приложите карту к считывателю этого киоска; "
                        "обновите страницу, чтобы увидеть, что карта выдана."
                    }
                }
            }
            @if cards.is_empty() { p { span.mark { "нет карты" } } } @else {
                table {
                    thead { tr { th { "Карта" } th { "Состояние" } th { "Выдана" } th { "Примечание" } @if staff.may_edit() { th.noprint { "Изменить" } } } }
                    tbody {
                        @for c in &cards {
                            tr class=[(c.status_on(today) != otmetka_core::people::CardStatus::Active).then_some("removed")] {
                                td.name { (c.label()) @if c.kept_by_staff { br; span.mark.info { "хранится у специалиста" } } }
                                td { (card_state_label(c, today)) }
                                td { (date_label(site.date(c.issued_at))) ", " (c.issued_by) }
                                td { (c.note) }
                                @if staff.may_edit() {
                                    td.noprint {
                                        form.inline method="post" action={ "/people/" (person.id) "/cards/" (c.id) } {
                                            (csrf_field(&staff.0))
                                            select name="state" aria-label="Новое состояние" {
                                                @for s in CardState::ALL { option value=(s.as_str()) selected[s == c.state] { (s.label()) } }
                                            }
                                            " " input name="note" placeholder="почему" size="14" aria-label="Почему";
                                            " " button type="submit" { "Изменить" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if staff.may_edit() {
                div.noprint {
                    h2 { "Выдать карту" }
                    @if card_error { @if let Some(m) = &errors.message { p.error role="alert" { (m) } } }
                    form method="post" action={ "/people/" (person.id) "/cards" } {
                        (csrf_field(&staff.0))
                        div.filters {
                            div class=[errors.class("card_number")] {
                                label for="card_number" { "Номер карты" }
                                input #card_number name="card_number" size="20" autocomplete="off" autofocus[q.request.is_none() && !card_error || errors.field.as_deref() == Some("card_number")]; (errors.at_field("card_number"))
                            }
                            div class=[errors.class("card_until")] {
                                label for="card_until" { "Временная, до (необязательно)" }
                                input #card_until type="date" name="card_until"; (errors.at_field("card_until"))
                            }
                            div { label { input type="checkbox" name="card_kept" value="1"; " Хранится у специалиста" } }
                            @let active: Vec<_> = cards.iter().filter(|c| c.status_on(today) == otmetka_core::people::CardStatus::Active).collect();
                            @if !active.is_empty() {
                                div class=[errors.class("card_replaces")] {
                                    label for="card_replaces" { "Вместо старой карты" }
                                    select #card_replaces name="card_replaces" {
                                        option value="" { "нет, ещё одна карта" }
                                        @for c in &active {
                                            option value={ (c.id) ":lost" } { "вместо " (c.label()) " — утеряна" }
                                            option value={ (c.id) ":replaced" } { "вместо " (c.label()) " — сломана или заменена" }
                                        }
                                    }
                                    (errors.at_field("card_replaces"))
                                }
                            }
                            div { button.primary type="submit" { "Выдать карту" } }
                        }
                        p.muted { "Приложите карту к настольному считывателю: номер впишется в поле сам. Или введите номер с карты." }
                    }
                    @if !kiosks.is_empty() {
                        form method="post" action={ "/people/" (person.id) "/card" } {
                            (csrf_field(&staff.0))
                            input type="hidden" name="site" value=(site.id);
                            div.filters {
                                div {
                                    label for="kiosk" { "Или на киоске" }
                                    select #kiosk name="kiosk" { @for k in &kiosks { option value=(k) { (k) } } }
                                }
                                div { button type="submit" { "Ждать карту на киоске" } }
                            }
                        }
                    }
                }
            }
            h2 { "Данные получателя" }
            (person_form(app, staff, people, person, posted, record_errors, &format!("/people/{}", person.id)))
            @if !person.past_programmes.is_empty() {
                h2 { "Прежние программы" }
                p.muted { "Акты и выполнение программы за месяцы, когда действовала прежняя программа, считаются по ней." }
                table {
                    thead { tr { th { "Срок по документу" } th { "Услуги" } th { "Заменена" } } }
                    tbody {
                        @for old in &person.past_programmes {
                            tr {
                                td.name { "с " (date_label(old.programme.valid_from)) " по " (date_label(old.programme.valid_to)) }
                                td { @for (k, i) in old.programme.items.iter().enumerate() {
                                    @if k > 0 { "; " }
                                    (app.service_title(&i.service.0)) " — " (crate::plan::count_words(i.count, i.period))
                                } }
                                td { (date_label(site.date(old.replaced_at))) ", " (old.replaced_by) }
                            }
                        }
                    }
                }
            }
            @if staff.0.user.role == crate::store::staff::Role::Admin {
                details.noprint {
                    summary { "Обезличить данные (после срока хранения)" }
                    form method="post" action={ "/people/" (person.id) "/anonymise" } {
                        (csrf_field(&staff.0))
                        p { "Имя, дата рождения, представитель и номера карт будут удалены; услуги останутся в журнале под номером получателя. "
                            "Это можно сделать, когда с последней услуги прошло " (RETENTION_YEARS) " лет. Отменить нельзя." }
                        label { input type="checkbox" name="confirm" value="1"; " Да, обезличить" }
                        button.danger type="submit" { "Обезличить" }
                    }
                }
            }
        }
    };
    Ok(page(
        &person.display_name,
        Section::People,
        Some(&staff.0),
        body,
    ))
}

/// `POST /people/{recipient}`.
pub async fn save(
    State(app): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Form(posted): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let (site, people, person) = held(&app, &id).await?;
    if person.anonymised_at.is_some() {
        return Err(PageError::bad_request(
            "Данные этого получателя обезличены.",
        ));
    }
    let posted = Posted(posted);
    let today = site.date(app.now());
    let changed = match person_from(&posted, person.clone(), &app, &people, today) {
        Ok(p) => p,
        Err(e) => {
            let page = person_page(
                &app,
                &staff,
                &site,
                &people,
                &person,
                Some(&posted),
                &e,
                &PeopleQuery::default(),
            )
            .await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
    };
    let (actor, now, p) = (Actor::of(&staff.0.user), app.now(), changed.clone());
    app.store
        .call(move |s| s.save_recipient(&actor, &p, now))
        .await?;
    Ok(notice(
        &format!("/people/{}", person.id),
        "saved",
        "Сохранено. Киоски получат изменения в течение минуты.",
    ))
}

#[derive(Debug, Deserialize, Default)]
pub struct CardNumberForm {
    #[serde(default)]
    card_number: String,
    #[serde(default)]
    card_until: String,
    #[serde(default)]
    card_kept: String,
    /// `{card id}:lost` or `{card id}:replaced`: the new card takes that one's place.
    #[serde(default)]
    card_replaces: String,
}

/// `POST /people/{recipient}/cards`.
pub async fn add_card(
    State(app): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Form(f): Form<CardNumberForm>,
) -> Result<Response, PageError> {
    let (site, people, person) = held(&app, &id).await?;
    let today = site.date(app.now());
    let again = |e: FormErrors| {
        let (app, staff, site, people, person) = (&app, &staff, &site, &people, &person);
        async move {
            let page = person_page(
                app,
                staff,
                site,
                people,
                person,
                None,
                &e,
                &PeopleQuery::default(),
            )
            .await?;
            Ok::<_, PageError>((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    };
    if person.anonymised_at.is_some() {
        return again(FormErrors::at(
            "card_number",
            "Данные этого получателя обезличены.",
        ))
        .await;
    }
    let secret = app.docs.site(&site.id).and_then(|d| d.secret.clone());
    let Some(secret) = secret else {
        return again(FormErrors::at(
            "card_number",
            "Нет секрета отделения (site_secret_file): выдайте карту на киоске.",
        ))
        .await;
    };
    let Some(mut card) = NewCard::from_number(
        &site.id,
        Holder::Recipient(person.id),
        &f.card_number,
        &secret,
    ) else {
        return again(FormErrors::at(
            "card_number",
            "Это не номер карты: приложите карту к считывателю или введите цифры с карты.",
        ))
        .await;
    };
    card.kept_by_staff = !f.card_kept.is_empty();
    if !f.card_until.trim().is_empty() {
        match NaiveDate::parse_from_str(f.card_until.trim(), "%Y-%m-%d") {
            Ok(d) if d >= today => card.valid_until = Some(d),
            _ => {
                return again(FormErrors::at(
                    "card_until",
                    "Временная карта: последний день — сегодня или позже.",
                ))
                .await;
            }
        }
    }
    let replaces = match f.card_replaces.trim() {
        "" => None,
        r => {
            let old = r.split_once(':').and_then(|(id, state)| {
                let id: i64 = id.parse().ok()?;
                let state = CardState::parse(state)
                    .filter(|s| matches!(s, CardState::Lost | CardState::Replaced))?;
                people
                    .cards_of(Holder::Recipient(person.id))
                    .any(|c| {
                        c.id == id && c.status_on(today) == otmetka_core::people::CardStatus::Active
                    })
                    .then_some((id, state))
            });
            match old {
                Some(o) => Some(o),
                None => {
                    return again(FormErrors::at(
                        "card_replaces",
                        "Выберите действующую карту этого получателя, которую заменяет новая.",
                    ))
                    .await;
                }
            }
        }
    };
    let (actor, now) = (Actor::of(&staff.0.user), app.now());
    match app
        .store
        .call(move |s| match replaces {
            Some((old, state)) => s.replace_card(&actor, &card, old, state, now),
            None => s.add_card(&actor, &card, now),
        })
        .await
    {
        Ok(_) => Ok(notice(
            &format!("/people/{}", person.id),
            "saved",
            if replaces.is_some() {
                "Карта заменена: старая больше не действует, новую киоски узнают в течение минуты."
            } else {
                "Карта выдана. Киоски узнают её в течение минуты."
            },
        )),
        Err(StoreError::Conflict(m)) => again(FormErrors::at("card_number", &m)).await,
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct CardStateForm {
    #[serde(default)]
    state: String,
    #[serde(default)]
    note: String,
}

/// `POST /people/{recipient}/cards/{card}`.
pub async fn card_state(
    State(app): State<AppState>,
    staff: Staff,
    Path((id, card)): Path<(String, i64)>,
    Form(f): Form<CardStateForm>,
) -> Result<Response, PageError> {
    let (site, people, person) = held(&app, &id).await?;
    if !people
        .cards_of(Holder::Recipient(person.id))
        .any(|c| c.id == card)
    {
        return Err(PageError::not_found("У этого получателя нет такой карты."));
    }
    let Some(state) = CardState::parse(&f.state) else {
        return Err(PageError::bad_request("Выберите состояние карты."));
    };
    let note: String = f.note.trim().chars().take(200).collect();
    let (actor, now, sid) = (Actor::of(&staff.0.user), app.now(), site.id.clone());
    app.store
        .call(move |s| s.set_card_state(&actor, &sid, card, state, &note, now))
        .await?;
    Ok(notice(
        &format!("/people/{}", person.id),
        "saved",
        &format!("Карта теперь: {}.", state.label()),
    ))
}

#[derive(Debug, Deserialize, Default)]
pub struct AnonymiseForm {
    #[serde(default)]
    confirm: String,
}

/// `POST /people/{recipient}/anonymise`.
pub async fn anonymise(
    State(app): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Form(f): Form<AnonymiseForm>,
) -> Result<Response, PageError> {
    let (site, _, person) = held(&app, &id).await?;
    let back = |e: &str| notice(&format!("/people/{}", person.id), "error", e);
    if f.confirm.is_empty() {
        return Ok(back("Отметьте «Да, обезличить», чтобы подтвердить."));
    }
    let pid = person.id;
    let last = app.store.call(move |s| s.last_unit_date(pid)).await?;
    let today = site.date(app.now());
    if let Some(last) = last {
        let until = last
            .checked_add_months(chrono::Months::new(12 * RETENTION_YEARS as u32))
            .unwrap_or(last);
        if until > today {
            return Ok(back(&format!(
                "Последняя услуга — {}: данные хранятся до {}.",
                date_label(last),
                date_label(until)
            )));
        }
    }
    let (actor, now, sid) = (Actor::of(&staff.0.user), app.now(), site.id.clone());
    app.store
        .call(move |s| s.anonymise(&actor, &sid, pid, now))
        .await?;
    Ok(notice(
        &format!("/people?site={}", site.id),
        "saved",
        "Данные получателя обезличены.",
    ))
}

#[derive(Debug, Deserialize)]
pub struct KioskCardForm {
    #[serde(default)]
    site: String,
    #[serde(default)]
    kiosk: String,
}

/// `POST /people/{recipient}/card`: the kiosk waits for the person's new card.
pub async fn request_card(
    State(app): State<AppState>,
    staff: Staff,
    Path(recipient): Path<String>,
    Form(f): Form<KioskCardForm>,
) -> Result<Response, PageError> {
    let (site, _, person) = held(&app, &recipient).await?;
    let back = |error: &str| notice(&format!("/people/{}", person.id), "error", error);
    if f.site != site.id || person.anonymised_at.is_some() {
        return Ok(back("Такого получателя нет в списке отделения."));
    }
    if !site_kiosks(&app, &site.id).await?.contains(&f.kiosk) {
        return Ok(back("Выберите киоск этого отделения."));
    }
    let now = app.now();
    let request = EnrolmentRequest {
        schema: SCHEMA,
        request: uuid::Uuid::now_v7(),
        recipient: person.id,
        display_name: person.display_name.clone(),
        expires_at: now + chrono::Duration::minutes(ENROL_MINUTES),
    };
    let id = request.request;
    let (actor, sid, kiosk) = (Actor::of(&staff.0.user), site.id.clone(), f.kiosk.clone());
    app.store
        .call(move |s| {
            s.request_enrolment(&sid, &kiosk, &request, now)?;
            s.audit(
                &actor,
                "request_card",
                &request.recipient.to_string(),
                &format!("kiosk {kiosk}"),
                now,
            )
        })
        .await?;
    Ok(Redirect::to(&format!("/people/{}?request={id}", person.id)).into_response())
}
