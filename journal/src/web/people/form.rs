//! The person form: what `POST /people/new` and `POST /people/{recipient}` send, read field by
//! field into a [`Person`] (a wrong field comes back marked, nothing saved), and the form
//! itself, with the individual programme service by service.

use super::*;
use crate::store::people::{Sex, Snils};

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
pub(super) struct Posted(pub(super) Vec<(String, String)>);

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
pub(super) fn person_from(
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
    person.snils = match posted.get("snils").trim() {
        "" => None,
        text => Some(Snils::parse(text).map_err(|e| FormErrors::at("snils", &e.to_string()))?),
    };
    if let Some(other) = person.snils.as_ref().and_then(|s| {
        people
            .recipients
            .iter()
            .find(|o| o.id != person.id && o.snils.as_ref() == Some(s))
    }) {
        return Err(FormErrors::at(
            "snils",
            &format!(
                "Этот СНИЛС уже записан у получателя «{}»: у двух людей он не бывает одним.",
                people.recipient_name(other.id)
            ),
        ));
    }
    person.sex = match posted.get("sex") {
        "" => None,
        s => Some(
            Sex::parse(s)
                .ok_or_else(|| FormErrors::at("sex", "Пол: женский, мужской или «не указан»."))?,
        ),
    };
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
            Some(c) => {
                let starts = course_starts(posted.get(&courses_field), &courses_field)?;
                if let (Some((a, b)), Some([shortest, _])) = (c.too_close(&starts), c.days) {
                    return Err(FormErrors::at(
                        &courses_field,
                        &format!(
                            "«{}»: курс длится не меньше {shortest} дней, поэтому курс, начатый {}, \
                             не может смениться следующим {}: следующий курс — не раньше {}.",
                            s.title_ru,
                            a.format("%d.%m.%Y"),
                            b.format("%d.%m.%Y"),
                            (a + chrono::Days::new(u64::from(shortest))).format("%d.%m.%Y")
                        ),
                    ));
                }
                starts
            }
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
pub(super) fn person_form(
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
                div class=[errors.class("snils")] {
                    label for="snils" { "СНИЛС (для выгрузки в ЕГИССО)" }
                    input #snils name="snils" size="16" inputmode="numeric" placeholder="112-233-445 95" value=(val("snils", p.snils.as_ref().map(ToString::to_string).unwrap_or_default())) disabled[disabled]; (errors.at_field("snils"))
                }
                div class=[errors.class("sex")] {
                    label for="sex" { "Пол" }
                    @let held = val("sex", p.sex.map(|s| s.as_str().to_string()).unwrap_or_default());
                    select #sex name="sex" disabled[disabled] {
                        option value="" selected[held.is_empty()] { "не указан" }
                        @for s in Sex::ALL { option value=(s.as_str()) selected[held == s.as_str()] { (s.label()) } }
                    }
                    (errors.at_field("sex"))
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
