//! People, cards, instructors and the timetable kept on the pages: what a form saves is what
//! the kiosks get (the roster and schedule built from the database), a wrong form saves
//! nothing, and the roster file is taken in once.

use super::{Site, enc};
use axum::http::{Method, StatusCode};
use otmetka_core::card::CardKey;
use otmetka_core::cards::SiteSecret;
use otmetka_journal::config::JournalConfig;
use otmetka_journal::documents::{Documents, import_files, roster_body, schedule_body};
use otmetka_journal::store::StoreError;
use otmetka_journal::store::people::SitePeople;
use otmetka_journal::store::staff::AuditEntry;
use otmetka_tests::institution::SITE;
use serde_json::Value;

/// The page's clock (`Site::new`).
const NOW: &str = "2026-12-11T14:00:00Z";

impl Site {
    pub(crate) fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn otmetka_journal::store::JournalStore) -> Result<R, StoreError>
        + Send
        + 'static,
    ) -> R {
        self.rt.block_on(self.store.call(f)).unwrap()
    }

    pub(crate) fn people(&self) -> SitePeople {
        self.call(|s| s.people(SITE))
    }

    /// The roster the kiosks would get at `at`.
    pub(crate) fn roster(&self, at: &str) -> Value {
        let at = at.parse().unwrap();
        let body = self.call(move |s| roster_body(s, SITE, at)).unwrap();
        serde_json::from_slice(&body).unwrap()
    }

    pub(crate) fn audit(&self) -> Vec<AuditEntry> {
        self.call(|s| s.audit_log(100))
    }

    pub(crate) fn secret(&self) -> SiteSecret {
        SiteSecret::from_file_bytes(&self.inst.secret().unwrap()).unwrap()
    }

    pub(crate) fn documents(&self) -> Documents {
        Documents::load(&JournalConfig::load(&self.inst.config).unwrap()).unwrap()
    }

    /// Posts a form with the session's token.
    pub(crate) fn post(
        &self,
        path: &str,
        cookie: &str,
        csrf: &str,
        fields: &[(&str, &str)],
    ) -> super::Answer {
        let mut form = format!("csrf={csrf}");
        for (k, v) in fields {
            form.push_str(&format!("&{}={}", enc(k), enc(v)));
        }
        self.send(Method::POST, path, Some(cookie), Some(&form))
    }
}

/// The roster's entry for a recipient.
fn entry<'a>(roster: &'a Value, id: &str) -> Option<&'a Value> {
    roster["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
}

/// The status the roster gives a card number.
fn card_status(roster: &Value, id: &str, secret: &SiteSecret, number: &str) -> Option<String> {
    // The whole number's form (the first): cards may share a 24-bit truncation.
    let whole = secret.card_hashes(&CardKey::from_hex(number).unwrap())[0].clone();
    entry(roster, id)?["cards"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["hash"] == whole.as_str())
        .map(|c| c["status"].as_str().unwrap().to_string())
}

const NEW: &[(&str, &str)] = &[
    ("full_name", "Новикова Зинаида Фёдоровна"),
    ("display_name", "Зинаида Фёдоровна"),
    ("birth_date", "2010-05-01"),
    ("snils", "112-233-445 95"),
    ("sex", "female"),
    ("care_group", "3"),
    ("representative", "Новиков Пётр Ильич, отец"),
    ("consent_participation", "1"),
    ("data_consent_on", "2026-12-01"),
    ("svc.001.on", "1"),
    ("svc.001.count", "8"),
    ("svc.001.period", "month"),
    ("valid_from", "2026-12-01"),
    ("valid_to", "2027-11-30"),
    ("svc.002-2.5.on", "1"),
    ("svc.002-2.5.period", "month"),
    ("svc.002-2.5.courses", "01.06.2027, 2026-12-01"),
];

/// `NEW` with `name` set to `value` (or left out, for an empty value).
fn new_with(name: &str, value: &str) -> Vec<(&'static str, String)> {
    NEW.iter()
        .filter(|(k, _)| *k != name || !value.is_empty())
        .map(|(k, v)| (*k, if *k == name { value } else { v }.to_string()))
        .collect()
}

fn fields<'a>(v: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    v.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// Adds the recipient of `NEW` through the form; returns their id.
fn add_new(site: &Site, cookie: &str, csrf: &str) -> String {
    let a = site.post("/people/new", cookie, csrf, NEW);
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let at = a.location.unwrap();
    at.trim_start_matches("/people/")
        .split('?')
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn a_recipient_added_on_the_page_goes_to_the_kiosks_with_their_programme_and_a_wrong_form_saves_nothing()
 {
    let site = Site::new();
    let (cookie, csrf) = site.sign_in("specialist");
    let before = site.people().recipients.len();
    let form = site.send(Method::GET, "/people/new", Some(&cookie), None);
    assert_eq!(form.status, StatusCode::OK);
    for (field, value, message) in [
        ("full_name", "", "Фамилия, имя, отчество: обязательно"),
        ("birth_date", "2030-01-01", "не может быть в будущем"),
        ("care_group", "7", "Группа ухода — число от 0 до 5"),
        (
            "snils",
            "112-233-445 96",
            "Контрольное число СНИЛС не сходится",
        ),
        (
            "snils",
            "112-233-44",
            "СНИЛС — 11 цифр, например 112-233-445 95.",
        ),
        ("sex", "unknown", "Пол: женский, мужской или «не указан»."),
        (
            "svc.002-2.5.courses",
            "01.13.2027",
            "«01.13.2027» — не дата",
        ),
        (
            "svc.002-2.5.courses",
            "01.03.2025",
            "Курс с 01.03.2025 — вне года начала программы и её срока",
        ),
        // 002 l.1975: the 18-day course begun on 1 December cannot give way on the 10th.
        (
            "svc.002-2.5.courses",
            "01.12.2026, 10.12.2026",
            "курс длится не меньше 18 дней, поэтому курс, начатый 01.12.2026, не может смениться следующим 10.12.2026: следующий курс — не раньше 19.12.2026.",
        ),
        ("svc.001.count", "много", "сколько раз — число от 1 до 999"),
        (
            "valid_from",
            "",
            "Укажите, с какого дня действует индивидуальная программа.",
        ),
        ("valid_to", "2026-01-01", "не раньше, чем начинается"),
    ] {
        let a = site.post(
            "/people/new",
            &cookie,
            &csrf,
            &fields(&new_with(field, value)),
        );
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{field}");
        assert!(a.body.contains(message), "{field}: {message}\n{}", a.body);
        assert!(
            a.body.contains("class=\"field-error\""),
            "{field} is marked"
        );
        // What was typed comes back (but the wrong field's value, where left out).
        assert!(a.body.contains("Новиков Пётр Ильич"), "{field}");
        assert_eq!(
            site.people().recipients.len(),
            before,
            "{field}: nothing saved"
        );
    }
    let id = add_new(&site, &cookie, &csrf);
    let people = site.people();
    assert_eq!(people.recipients.len(), before + 1);
    let p = people.current().find(|p| p.id.to_string() == id).unwrap();
    assert_eq!(p.full_name, "Новикова Зинаида Фёдоровна");
    assert_eq!(p.care_group, Some(3));
    assert_eq!(p.snils.as_ref().map(|s| s.digits()), Some("11223344595"));
    assert_eq!(p.sex, Some(otmetka_journal::store::people::Sex::Female));
    assert!(p.is_minor_on("2026-12-11".parse().unwrap()));
    assert!(p.consent.participation && !p.consent.photo_video);
    // The kiosks get them: the roster carries the programme, and no card yet.
    let roster = site.roster(NOW);
    let e = entry(&roster, &id).expect("on the roster");
    assert_eq!(e["display_name"], "Зинаида Фёдоровна");
    assert_eq!(e["programme"]["items"][0]["service"], "001");
    assert_eq!(e["programme"]["items"][0]["count"], 8);
    assert_eq!(e["cards"].as_array().unwrap().len(), 0);
    // The rules' norms by care group and age (002 l.1511, l.3169), and the courses (l.1975).
    assert_eq!(e["care_group"], 3);
    assert_eq!(e["adult_on"], "2028-05-01", "the day she turns 18");
    assert_eq!(e["programme"]["items"][1]["service"], "002-2.5");
    assert_eq!(
        e["programme"]["items"][1]["courses"],
        serde_json::json!(["2026-12-01", "2027-06-01"])
    );
    let page = site.send(Method::GET, &format!("/people/{id}"), Some(&cookie), None);
    assert!(
        page.body.contains("value=\"01.12.2026, 01.06.2027\""),
        "the courses shown in order"
    );
    assert!(page.body.contains("нет карты") && page.body.contains("Несовершеннолетний"));
    assert!(
        site.audit()
            .iter()
            .any(|e| e.action == "add_recipient" && e.subject == id)
    );
    assert!(
        site.audit()
            .iter()
            .any(|e| e.action == "view_person" && e.subject == id),
        "opening a person's record is in the audit log"
    );
}

#[test]
fn a_card_typed_by_the_desk_reader_works_at_the_kiosks_until_it_is_lost_or_its_last_day_passes() {
    let site = Site::new();
    let (cookie, csrf) = site.sign_in("specialist");
    let id = add_new(&site, &cookie, &csrf);
    let secret = site.secret();
    let cards = format!("/people/{id}/cards");
    let bad = site.post(&cards, &cookie, &csrf, &[("card_number", "не карта")]);
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("Это не номер карты"));
    let given = site.post(&cards, &cookie, &csrf, &[("card_number", "0A0000F1")]);
    assert_eq!(given.status, StatusCode::SEE_OTHER, "{}", given.body);
    let v1 = site.roster(NOW)["version"].as_u64().unwrap();
    assert_eq!(
        card_status(&site.roster(NOW), &id, &secret, "0A0000F1").as_deref(),
        Some("active")
    );
    // Someone else's card is refused, with its holder's name.
    let other = site.inst.recipients[0].0;
    let taken = site.post(
        &format!("/people/{other}/cards"),
        &cookie,
        &csrf,
        &[("card_number", "0A0000F1")],
    );
    assert_eq!(taken.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        taken
            .body
            .contains("Эта карта уже выдана: Зинаида Фёдоровна."),
        "{}",
        taken.body
    );
    // A card already on the roster file is someone's too.
    let file_card = otmetka_tests::site::load_card(0);
    let theirs = site.post(&cards, &cookie, &csrf, &[("card_number", &file_card)]);
    assert_eq!(theirs.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Lost: the kiosks refuse it from the next roster on.
    let card = site
        .people()
        .cards
        .iter()
        .find(|c| c.tail.as_deref() == Some("00F1"))
        .unwrap()
        .id;
    let lost = site.post(
        &format!("/people/{id}/cards/{card}"),
        &cookie,
        &csrf,
        &[("state", "lost"), ("note", "потеряла в автобусе")],
    );
    assert_eq!(lost.status, StatusCode::SEE_OTHER);
    let roster = site.roster(NOW);
    assert!(roster["version"].as_u64().unwrap() > v1, "a new version");
    assert_eq!(
        card_status(&roster, &id, &secret, "0A0000F1").as_deref(),
        Some("blocked")
    );
    // A temporary card, kept by staff, until tomorrow.
    let temp = site.post(
        &cards,
        &cookie,
        &csrf,
        &[
            ("card_number", "0A0000F2"),
            ("card_until", "2026-12-12"),
            ("card_kept", "1"),
        ],
    );
    assert_eq!(temp.status, StatusCode::SEE_OTHER, "{}", temp.body);
    assert_eq!(
        card_status(&site.roster(NOW), &id, &secret, "0A0000F2").as_deref(),
        Some("active")
    );
    assert_eq!(
        card_status(
            &site.roster("2026-12-13T08:00:00Z"),
            &id,
            &secret,
            "0A0000F2"
        )
        .as_deref(),
        Some("blocked"),
        "refused after its last day"
    );
    let past = site.post(
        &cards,
        &cookie,
        &csrf,
        &[("card_number", "0A0000F3"), ("card_until", "2026-12-01")],
    );
    assert_eq!(past.status, StatusCode::UNPROCESSABLE_ENTITY);
    let page = site.send(Method::GET, &format!("/people/{id}"), Some(&cookie), None);
    assert!(page.body.contains("…00F1") && page.body.contains("утеряна"));
    assert!(
        page.body.contains("временная до 12.12.2026")
            && page.body.contains("хранится у специалиста")
    );
    assert!(
        !page.body.contains("0A0000F1"),
        "the number itself is not kept"
    );
    assert!(
        site.audit()
            .iter()
            .any(|e| e.action == "card_state" && e.detail.contains("потеряла в автобусе"))
    );
    // The auditor reads the record and changes nothing.
    let (auditor, _) = site.sign_in("auditor");
    let read = site.send(Method::GET, &format!("/people/{id}"), Some(&auditor), None);
    assert_eq!(read.status, StatusCode::OK);
    assert!(!read.body.contains("Выдать карту") && !read.body.contains(">Сохранить<"));
}

#[test]
fn a_planned_session_goes_into_the_kiosks_schedule_and_a_day_off_takes_it_out() {
    let site = Site::new();
    let (cookie, csrf) = site.sign_in("specialist");
    let docs = site.documents();
    let sd = docs.site(SITE).unwrap().clone();
    let schedule = |site: &Site| -> Value {
        let sd = sd.clone();
        let at = NOW.parse().unwrap();
        let body = site.call(move |s| schedule_body(s, &sd, at)).unwrap();
        serde_json::from_slice(&body).unwrap()
    };
    let ours = |v: &Value| -> Vec<String> {
        v["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["room"] == "Кабинет 5")
            .map(|e| e["date"].as_str().unwrap().to_string())
            .collect()
    };
    let before = schedule(&site);
    for (form, message) in [
        (
            vec![("service", "001"), ("start", "11:30")],
            "Отметьте дни недели или укажите дату",
        ),
        (
            vec![
                ("service", "001"),
                ("start", "11:30"),
                ("day_wed", "1"),
                ("date", "2026-12-20"),
            ],
            "не то и другое сразу",
        ),
        (
            vec![("service", "999"), ("start", "11:30"), ("day_wed", "1")],
            "Выберите занятие",
        ),
        (
            vec![("service", "001"), ("start", "утром"), ("day_wed", "1")],
            "Укажите время начала",
        ),
    ] {
        let a = site.post("/timetable/sessions", &cookie, &csrf, &form);
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{message}");
        assert!(a.body.contains(message), "{message}");
        assert_eq!(schedule(&site), before, "{message}: nothing planned");
    }
    let instructor = site.people().instructors[0].id.to_string();
    let planned = site.post(
        "/timetable/sessions",
        &cookie,
        &csrf,
        &[
            ("service", "001"),
            ("start", "11:30"),
            ("day_wed", "1"),
            ("room", "Кабинет 5"),
            ("instructor", &instructor),
        ],
    );
    assert_eq!(planned.status, StatusCode::SEE_OTHER, "{}", planned.body);
    let after = schedule(&site);
    assert!(after["version"].as_u64() > before["version"].as_u64());
    let dates = ours(&after);
    assert!(
        dates.contains(&"2026-12-16".to_string()) && dates.contains(&"2026-12-23".to_string()),
        "{dates:?}"
    );
    let week = site.send(
        Method::GET,
        "/timetable?week=2026-12-16",
        Some(&cookie),
        None,
    );
    assert!(week.body.contains("Кабинет 5") && week.body.contains("11:30"));
    let off = site.post(
        "/timetable/days-off",
        &cookie,
        &csrf,
        &[("day_off", "2026-12-16"), ("reason", "санитарный день")],
    );
    assert_eq!(off.status, StatusCode::SEE_OTHER);
    let dates = ours(&schedule(&site));
    assert!(!dates.contains(&"2026-12-16".to_string()), "{dates:?}");
    assert!(dates.contains(&"2026-12-23".to_string()), "{dates:?}");
    let id = site
        .call(|s| s.plan(SITE))
        .sessions
        .into_iter()
        .find(|s| s.room == "Кабинет 5")
        .unwrap()
        .id;
    let gone = site.post(
        &format!("/timetable/sessions/{id}/remove"),
        &cookie,
        &csrf,
        &[],
    );
    assert_eq!(gone.status, StatusCode::SEE_OTHER);
    assert!(ours(&schedule(&site)).is_empty());
    for action in ["plan_session", "day_off", "unplan_session"] {
        assert!(site.audit().iter().any(|e| e.action == action), "{action}");
    }
}

#[test]
fn the_roster_file_is_taken_in_once_and_what_only_the_pages_record_survives_a_new_file() {
    let site = Site::new();
    let (cookie, csrf) = site.sign_in("specialist");
    let docs = site.documents();
    let at: chrono::DateTime<chrono::Utc> = NOW.parse().unwrap();
    let again = {
        let docs = docs.clone();
        site.call(move |s| import_files(s, &docs, at))
    };
    assert!(
        again.is_empty(),
        "the same files are not taken again: {again:?}"
    );
    // A person's record edited on the page.
    let (who, name) = site.inst.recipients[2].clone();
    let mut form: Vec<(&str, String)> = vec![
        ("full_name", format!("Иванова {name}")),
        ("display_name", name.clone()),
        ("care_group", "4".into()),
        ("consent_participation", "1".into()),
    ];
    let held = site.people().recipient(who).unwrap().clone();
    if let Some(p) = &held.programme {
        form.push(("valid_from", p.valid_from.to_string()));
        form.push(("valid_to", p.valid_to.to_string()));
        for i in &p.items {
            form.push((
                Box::leak(format!("svc.{}.on", i.service.0).into_boxed_str()),
                "1".into(),
            ));
            form.push((
                Box::leak(format!("svc.{}.period", i.service.0).into_boxed_str()),
                "month".into(),
            ));
            if let Some(c) = i.count {
                form.push((
                    Box::leak(format!("svc.{}.count", i.service.0).into_boxed_str()),
                    c.to_string(),
                ));
            }
        }
    }
    let saved = site.post(&format!("/people/{who}"), &cookie, &csrf, &fields(&form));
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let edited = site.people().recipient(who).unwrap().clone();
    assert_eq!(edited.care_group, Some(4));
    assert_eq!(edited.programme, held.programme, "the programme as it was");
    // The file changes (a line added): taken in again; the page's care group and full name stay.
    let cfg = JournalConfig::load(&site.inst.config).unwrap();
    let file = cfg.sites[0].roster_file.clone().unwrap();
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str("\n# edited\n");
    std::fs::write(&file, text).unwrap();
    let docs = site.documents();
    let taken = site.call(move |s| import_files(s, &docs, at));
    assert_eq!(taken.len(), 1, "{taken:?}");
    let after = site.people().recipient(who).unwrap().clone();
    assert_eq!(after.care_group, Some(4));
    assert_eq!(after.full_name, format!("Иванова {name}"));
    assert_eq!(site.people().recipients.len(), site.inst.recipients.len());
    // Someone anonymised stays anonymised when the file changes again and still names them.
    let (admin, admin_csrf) = site.sign_in("admin");
    let (gone, _) = site.inst.recipients[1].clone();
    site.call(move |s| {
        s.anonymise(
            &otmetka_journal::store::staff::Actor {
                user: None,
                login: "test".into(),
                name: "test".into(),
            },
            SITE,
            gone,
            at,
        )
    });
    let _ = (admin, admin_csrf);
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str("\n# edited again\n");
    std::fs::write(&file, text).unwrap();
    let docs = site.documents();
    site.call(move |s| import_files(s, &docs, at));
    let p = site.people().recipient(gone).unwrap().clone();
    assert!(p.anonymised_at.is_some() && p.display_name.is_empty());
    assert!(entry(&site.roster(NOW), &gone.to_string()).is_none());
}

#[test]
fn a_person_is_anonymised_only_after_the_retention_period_and_their_units_stay() {
    let site = Site::new();
    let (admin, csrf) = site.sign_in("admin");
    let (with_units, name) = site.inst.recipients[0].clone();
    let units_before = site
        .call(|s| s.unit_records("2026-11-01".parse().unwrap(), "2026-12-31".parse().unwrap()))
        .len();
    let refused = site.post(
        &format!("/people/{with_units}/anonymise"),
        &admin,
        &csrf,
        &[("confirm", "1")],
    );
    assert_eq!(refused.status, StatusCode::SEE_OTHER);
    assert!(refused.location.unwrap().contains("error="));
    assert!(
        site.people()
            .recipient(with_units)
            .unwrap()
            .anonymised_at
            .is_none()
    );
    let id = add_new(&site, &admin, &csrf);
    let unconfirmed = site.post(&format!("/people/{id}/anonymise"), &admin, &csrf, &[]);
    assert!(unconfirmed.location.unwrap().contains("error="));
    let done = site.post(
        &format!("/people/{id}/anonymise"),
        &admin,
        &csrf,
        &[("confirm", "1")],
    );
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    let p = site
        .people()
        .recipients
        .into_iter()
        .find(|p| p.id.to_string() == id)
        .unwrap();
    assert!(p.anonymised_at.is_some() && p.full_name.is_empty() && p.birth_date.is_none());
    assert!(entry(&site.roster(NOW), &id).is_none(), "not on the kiosks");
    let list = site.send(Method::GET, "/people", Some(&admin), None);
    assert!(
        !list.body.contains(&format!("/people/{id}\"")) && list.body.contains(name.as_str()),
        "{}",
        list.body
    );
    let act = site.send(Method::GET, &format!("/acts/{id}"), Some(&admin), None);
    assert_eq!(act.status, StatusCode::NOT_FOUND);
    let units_after = site
        .call(|s| s.unit_records("2026-11-01".parse().unwrap(), "2026-12-31".parse().unwrap()))
        .len();
    assert_eq!(units_before, units_after);
}

#[test]
fn an_instructor_added_by_the_head_signs_in_at_the_kiosks_with_their_pin() {
    let site = Site::new();
    let (head, csrf) = site.sign_in("head");
    let easy = site.post(
        "/instructors",
        &head,
        &csrf,
        &[("name", "Светлана Игоревна"), ("pin", "111111")],
    );
    assert_eq!(easy.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(easy.body.contains("легко угадать"));
    // Four digits, which a kiosk's disk gives away at once, are not taken for a new PIN.
    let short = site.post(
        "/instructors",
        &head,
        &csrf,
        &[("name", "Светлана Игоревна"), ("pin", "4831")],
    );
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(short.body.contains("от 6 до 8 цифр"), "{}", short.body);
    let added = site.post(
        "/instructors",
        &head,
        &csrf,
        &[("name", "Светлана Игоревна"), ("pin", "483170")],
    );
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
    let roster = site.roster(NOW);
    let i = roster["instructors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["display_name"] == "Светлана Игоревна")
        .expect("on the roster")
        .clone();
    // Stored and published as a salted argon2id hash that only her PIN matches.
    let hash = i["pin_hash"].as_str().unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(otmetka_core::pin::matches(&site.secret(), hash, "483170"));
    assert!(!otmetka_core::pin::matches(&site.secret(), hash, "483171"));
    // A PIN of the old kind (a keyed HMAC, as before argon2id) is flagged until a new one is set.
    let page = site.send(Method::GET, "/instructors", Some(&head), None);
    assert!(
        !page.body.contains("PIN-коды старого вида"),
        "{}",
        page.body
    );
    let mut old = site
        .people()
        .instructors
        .into_iter()
        .find(|r| r.display_name == "Светлана Игоревна")
        .unwrap();
    old.pin_hash = Some("0123abcd".repeat(8));
    let actor = otmetka_journal::store::staff::Actor {
        user: None,
        login: "test".into(),
        name: "test".into(),
    };
    site.call(move |s| s.save_instructor(&actor, &old, NOW.parse().unwrap()));
    let page = site.send(Method::GET, "/instructors", Some(&head), None);
    assert!(
        page.body.contains("PIN-коды старого вида: 1."),
        "{}",
        page.body
    );
    assert!(page.body.contains("старого вида: задайте новый"));
    // Gone from the kiosks when she leaves.
    let id = i["id"].as_str().unwrap();
    let left = site.post(
        &format!("/instructors/{id}"),
        &head,
        &csrf,
        &[("left", "1")],
    );
    assert_eq!(left.status, StatusCode::SEE_OTHER);
    assert!(
        !site.roster(NOW)["instructors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"] == id)
    );
}

#[test]
fn a_card_replaced_in_one_step_stops_working_and_a_refused_new_card_leaves_the_old_one() {
    let site = Site::new();
    let (cookie, csrf) = site.sign_in("specialist");
    let id = add_new(&site, &cookie, &csrf);
    let secret = site.secret();
    let cards = format!("/people/{id}/cards");
    let given = site.post(&cards, &cookie, &csrf, &[("card_number", "0A0000E1")]);
    assert_eq!(given.status, StatusCode::SEE_OTHER, "{}", given.body);
    let old = site
        .people()
        .cards
        .iter()
        .find(|c| c.tail.as_deref() == Some("00E1"))
        .unwrap()
        .id;
    let page = site.send(Method::GET, &format!("/people/{id}"), Some(&cookie), None);
    assert!(
        page.body.contains("Вместо старой карты"),
        "the choice is offered"
    );
    // A new card that is someone else's: refused, and the old card still works.
    let theirs = otmetka_tests::site::load_card(0);
    let refused = site.post(
        &cards,
        &cookie,
        &csrf,
        &[
            ("card_number", &theirs),
            ("card_replaces", &format!("{old}:lost")),
        ],
    );
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        card_status(&site.roster(NOW), &id, &secret, "0A0000E1").as_deref(),
        Some("active"),
        "nothing half-done"
    );
    // A card that is not theirs to replace: the field is marked.
    let other = site
        .people()
        .cards
        .iter()
        .find(|c| c.tail.as_deref() != Some("00E1"))
        .unwrap()
        .id;
    let forged = site.post(
        &cards,
        &cookie,
        &csrf,
        &[
            ("card_number", "0A0000E2"),
            ("card_replaces", &format!("{other}:lost")),
        ],
    );
    assert_eq!(forged.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        forged
            .body
            .contains("Выберите действующую карту этого получателя")
    );
    // Lost: the new card works, the old one is refused, in one roster version.
    let v1 = site.roster(NOW)["version"].as_u64().unwrap();
    let replaced = site.post(
        &cards,
        &cookie,
        &csrf,
        &[
            ("card_number", "0A0000E2"),
            ("card_replaces", &format!("{old}:lost")),
        ],
    );
    assert_eq!(replaced.status, StatusCode::SEE_OTHER, "{}", replaced.body);
    let roster = site.roster(NOW);
    assert!(roster["version"].as_u64().unwrap() > v1);
    assert_eq!(
        card_status(&roster, &id, &secret, "0A0000E1").as_deref(),
        Some("blocked")
    );
    assert_eq!(
        card_status(&roster, &id, &secret, "0A0000E2").as_deref(),
        Some("active")
    );
    let page = site.send(Method::GET, &format!("/people/{id}"), Some(&cookie), None);
    assert!(page.body.contains("утеряна") && page.body.contains("заменена картой …00E2"));
    assert!(site.audit().iter().any(|e| e.action == "replace_card"
        && e.detail.contains("active → lost")
        && e.detail.contains("…00E2")));
}

#[test]
fn a_recipient_who_left_is_refused_at_the_kiosks_after_their_last_day_and_kept_in_the_journal() {
    let site = Site::new();
    let (cookie, csrf) = site.sign_in("specialist");
    let id = add_new(&site, &cookie, &csrf);
    let secret = site.secret();
    let given = site.post(
        &format!("/people/{id}/cards"),
        &cookie,
        &csrf,
        &[("card_number", "0A0000D1")],
    );
    assert_eq!(given.status, StatusCode::SEE_OTHER, "{}", given.body);
    // A last day before the birth date is refused, and nothing is saved.
    let with_last_day = |d: &str| {
        let mut f = new_with("", "");
        f.push(("left_on", d.to_string()));
        f
    };
    let mut form = with_last_day("2009-01-01");
    let bad = site.post(&format!("/people/{id}"), &cookie, &csrf, &fields(&form));
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.body
            .contains("Дата выбытия не может быть раньше даты рождения")
    );
    assert!(
        site.people()
            .recipient(id.parse().map(otmetka_core::people::RecipientId).unwrap())
            .unwrap()
            .left_on
            .is_none()
    );
    // Their last day is 10 December (the page's clock is 11 December).
    form = with_last_day("2026-12-10");
    let saved = site.post(&format!("/people/{id}"), &cookie, &csrf, &fields(&form));
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    assert_eq!(
        card_status(&site.roster(NOW), &id, &secret, "0A0000D1").as_deref(),
        Some("blocked"),
        "refused from the day after their last"
    );
    assert_eq!(
        card_status(
            &site.roster("2026-12-10T06:00:00Z"),
            &id,
            &secret,
            "0A0000D1"
        )
        .as_deref(),
        Some("active"),
        "on their last day the card still works"
    );
    let list = site.send(Method::GET, "/people", Some(&cookie), None);
    assert!(list.body.contains("выбытие 10.12.2026"), "{}", list.body);
    assert!(list.body.contains("Выбыли: 1"));
    let page = site.send(Method::GET, &format!("/people/{id}"), Some(&cookie), None);
    assert!(
        page.body
            .contains("Выбытие: последний день обслуживания — 10.12.2026")
    );
    // December's acts still name them; January's do not.
    let name = "Новикова Зинаида Фёдоровна";
    let dec = site.send(Method::GET, "/acts?month=2026-12", Some(&cookie), None);
    assert!(
        dec.body.contains("Зинаида Фёдоровна"),
        "December's act list"
    );
    let jan = site.send(Method::GET, "/acts?month=2027-01", Some(&cookie), None);
    assert!(
        !jan.body.contains("Зинаида Фёдоровна"),
        "{name} has no act for January"
    );
    // The date can be cleared: they came back.
    let back = site.post(
        &format!("/people/{id}"),
        &cookie,
        &csrf,
        &fields(&with_last_day("")),
    );
    assert_eq!(back.status, StatusCode::SEE_OTHER);
    assert_eq!(
        card_status(&site.roster(NOW), &id, &secret, "0A0000D1").as_deref(),
        Some("active")
    );
}

#[test]
fn a_planned_session_is_changed_in_place_and_the_head_approves_the_week_as_it_stands() {
    let site = Site::new();
    let (cookie, csrf) = site.sign_in("specialist");
    let docs = site.documents();
    let sd = docs.site(SITE).unwrap().clone();
    let ours = |site: &Site| -> Vec<(String, String)> {
        let sd = sd.clone();
        let at = NOW.parse().unwrap();
        let body = site.call(move |s| schedule_body(s, &sd, at)).unwrap();
        let v: Value = serde_json::from_slice(&body).unwrap();
        v["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["room"] == "Кабинет 5")
            .map(|e| {
                let t = e["start"].as_str().unwrap();
                (e["date"].as_str().unwrap().to_string(), t[..5].to_string())
            })
            .collect()
    };
    let planned = site.post(
        "/timetable/sessions",
        &cookie,
        &csrf,
        &[
            ("service", "001"),
            ("start", "11:30"),
            ("day_wed", "1"),
            ("room", "Кабинет 5"),
            ("from", "2026-12-14"),
        ],
    );
    assert_eq!(planned.status, StatusCode::SEE_OTHER, "{}", planned.body);
    let id = site
        .call(|s| s.plan(SITE))
        .sessions
        .into_iter()
        .find(|s| s.room == "Кабинет 5")
        .unwrap()
        .id;
    assert!(ours(&site).contains(&("2026-12-16".into(), "11:30".into())));
    // The form opens with what is planned.
    let form = site.send(
        Method::GET,
        &format!("/timetable?week=2026-12-14&edit={id}"),
        Some(&cookie),
        None,
    );
    assert!(form.body.contains("Изменить занятие"));
    assert!(form.body.contains("value=\"Кабинет 5\"") && form.body.contains("value=\"11:30\""));
    // A wrong change is refused and changes nothing.
    let edit = format!("/timetable/sessions/{id}?week=2026-12-14");
    let before = ours(&site);
    let bad = site.post(
        &edit,
        &cookie,
        &csrf,
        &[
            ("service", "001"),
            ("start", "утром"),
            ("day_thu", "1"),
            ("room", "Кабинет 5"),
        ],
    );
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("Укажите время начала") && bad.body.contains("Изменить занятие"));
    assert_eq!(ours(&site), before);
    // Moved to Thursday at 12:00: the same planned session, not a second one.
    let moved = site.post(
        &edit,
        &cookie,
        &csrf,
        &[
            ("service", "001"),
            ("start", "12:00"),
            ("day_thu", "1"),
            ("room", "Кабинет 5"),
            ("from", "2026-12-14"),
        ],
    );
    assert_eq!(moved.status, StatusCode::SEE_OTHER, "{}", moved.body);
    let now = ours(&site);
    assert!(
        now.contains(&("2026-12-17".into(), "12:00".into())),
        "{now:?}"
    );
    assert!(!now.iter().any(|(d, _)| d == "2026-12-16"), "{now:?}");
    assert_eq!(
        site.call(|s| s.plan(SITE))
            .sessions
            .iter()
            .filter(|s| s.room == "Кабинет 5")
            .count(),
        1
    );
    assert!(site.audit().iter().any(|e| e.action == "replan_session"));
    // A weekly session that has taken place already: changed from today, its past kept.
    let held = site.post(
        "/timetable/sessions",
        &cookie,
        &csrf,
        &[
            ("service", "001"),
            ("start", "09:00"),
            ("day_mon", "1"),
            ("room", "Кабинет 7"),
        ],
    );
    assert_eq!(held.status, StatusCode::SEE_OTHER);
    let old = site
        .call(|s| s.plan(SITE))
        .sessions
        .into_iter()
        .find(|s| s.room == "Кабинет 7")
        .unwrap()
        .id;
    let split = site.post(
        &format!("/timetable/sessions/{old}?week=2026-12-14"),
        &cookie,
        &csrf,
        &[
            ("service", "001"),
            ("start", "09:30"),
            ("day_mon", "1"),
            ("room", "Кабинет 7"),
        ],
    );
    assert_eq!(split.status, StatusCode::SEE_OTHER, "{}", split.body);
    assert!(
        split.location.unwrap().contains("week=2026-12-14"),
        "back to the week shown"
    );
    let rows: Vec<_> = site
        .call(|s| s.plan(SITE))
        .sessions
        .into_iter()
        .filter(|s| s.room == "Кабинет 7")
        .collect();
    assert_eq!(rows.len(), 2, "{rows:?}");
    let past = rows.iter().find(|s| s.id == old).unwrap();
    assert_eq!(past.to, Some("2026-12-10".parse().unwrap()));
    assert_eq!(past.start.format("%H:%M").to_string(), "09:00");
    let next = rows.iter().find(|s| s.id != old).unwrap();
    assert_eq!(next.from, Some("2026-12-11".parse().unwrap()));
    assert_eq!(next.start.format("%H:%M").to_string(), "09:30");

    // The week of 14 December starts in 3 days: not approved, it is flagged.
    let (head, head_csrf) = site.sign_in("head");
    let week = |cookie: &str| {
        site.send(
            Method::GET,
            "/timetable?week=2026-12-14",
            Some(cookie),
            None,
        )
        .body
    };
    let page = week(&head);
    assert!(
        page.contains("Расписание на эту неделю не утверждено"),
        "{page}"
    );
    let digest = page
        .split("name=\"digest\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_string();
    assert!(
        !week(&cookie).contains("Утвердить расписание"),
        "the specialist does not approve"
    );
    // A digest of another state of the week: refused.
    let stale = site.post(
        "/timetable/approve?week=2026-12-14",
        &head,
        &head_csrf,
        &[("digest", "0")],
    );
    assert_eq!(stale.status, StatusCode::SEE_OTHER);
    assert!(stale.location.unwrap().contains("error="));
    assert!(!week(&head).contains("Расписание утверждено"));
    let ok = site.post(
        "/timetable/approve?week=2026-12-14",
        &head,
        &head_csrf,
        &[("digest", &digest)],
    );
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    let page = week(&head);
    assert!(page.contains("Расписание утверждено"), "{page}");
    assert!(!page.contains("не утверждено"));
    assert!(site.audit().iter().any(|e| e.action == "approve_timetable"));
    // A change afterwards shows.
    let again = site.post(
        &edit,
        &cookie,
        &csrf,
        &[
            ("service", "001"),
            ("start", "12:30"),
            ("day_thu", "1"),
            ("room", "Кабинет 5"),
        ],
    );
    assert_eq!(again.status, StatusCode::SEE_OTHER);
    assert!(week(&head).contains("Расписание изменено после утверждения"));
}

#[test]
fn a_replaced_programme_is_kept_and_judges_the_acts_of_its_own_months() {
    let site = Site::new();
    let (cookie, csrf) = site.sign_in("specialist");
    let id = add_new(&site, &cookie, &csrf);
    // A new ИППСУ from January: 001 twice a week instead of 8 a month.
    let mut form = new_with("valid_from", "2027-01-01");
    for (k, v) in form.iter_mut() {
        match *k {
            "valid_to" => *v = "2027-12-31".into(),
            "svc.001.count" => *v = "2".into(),
            "svc.001.period" => *v = "week".into(),
            // A course must start within its programme.
            "svc.002-2.5.courses" => *v = "01.06.2027".into(),
            _ => {}
        }
    }
    let saved = site.post(&format!("/people/{id}"), &cookie, &csrf, &fields(&form));
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    // Saving the same programme again keeps no second copy.
    let again = site.post(&format!("/people/{id}"), &cookie, &csrf, &fields(&form));
    assert_eq!(again.status, StatusCode::SEE_OTHER);
    let who = site
        .people()
        .recipient(id.parse().map(otmetka_core::people::RecipientId).unwrap())
        .unwrap()
        .clone();
    assert_eq!(who.past_programmes.len(), 1, "{:?}", who.past_programmes);
    let act = |m: &str| {
        site.send(
            Method::GET,
            &format!("/acts/{id}?month={m}"),
            Some(&cookie),
            None,
        )
        .body
    };
    let dec = act("2026-12");
    assert!(
        dec.contains("8 в месяц"),
        "December by the old programme:\n{dec}"
    );
    assert!(dec.contains("действует с 01.12.2026 по 30.11.2027"));
    let jan = act("2027-01");
    assert!(
        jan.contains("2 в неделю") && !jan.contains("8 в месяц"),
        "{jan}"
    );
    let page = site.send(Method::GET, &format!("/people/{id}"), Some(&cookie), None);
    assert!(page.body.contains("Прежние программы"));
    assert!(page.body.contains("с 01.12.2026 по 30.11.2027"));
}

#[test]
fn an_account_tied_to_an_instructor_takes_their_pin_and_card_off_the_kiosks_when_disabled() {
    let site = Site::new();
    let (admin, csrf) = site.sign_in("admin");
    let instructor = site.people().instructors[0].clone();
    let id = instructor.id.to_string();
    let on_roster = |site: &Site| {
        site.roster("2026-11-20T10:00:00Z")["instructors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"] == id.as_str())
    };
    assert!(instructor.active && on_roster(&site));
    let tie = |login: &str, to: &str| {
        site.post(
            &format!("/users/{login}/instructor"),
            &admin,
            &csrf,
            &[("instructor", to)],
        )
    };
    assert_eq!(tie("specialist", &id).status, StatusCode::SEE_OTHER);
    let users = site.send(Method::GET, "/users", Some(&admin), None);
    assert!(
        users.body.contains(&format!(
            "<option value=\"{id}\" selected>{}",
            instructor.display_name
        )),
        "{}",
        users.body
    );
    // One account per instructor; a forged id is a Russian 404; nothing changes.
    let twice = tie("head", &id);
    assert_eq!(twice.status, StatusCode::CONFLICT);
    assert!(
        twice
            .body
            .contains("Этот инструктор уже связан с пользователем specialist"),
        "{}",
        twice.body
    );
    let forged = tie("head", "00000000-0000-7000-8000-00000000dead");
    assert_eq!(forged.status, StatusCode::NOT_FOUND);
    assert!(forged.body.contains("Такого инструктора нет"));
    assert_eq!(tie("head", "not-an-id").status, StatusCode::NOT_FOUND);
    let no_csrf = site.send(
        Method::POST,
        "/users/head/instructor",
        Some(&admin),
        Some(&format!("instructor={id}")),
    );
    assert_eq!(no_csrf.status, StatusCode::FORBIDDEN);
    // Disabling the account: the instructor leaves the kiosks (the roster goes out without
    // them), and the log says why.
    let revision = site.people().revision;
    let off = site.post("/users/specialist/disable", &admin, &csrf, &[]);
    assert_eq!(off.status, StatusCode::SEE_OTHER);
    let after = site.people();
    assert!(!after.instructors[0].active, "the instructor left");
    assert!(after.revision > revision, "the roster goes out again");
    assert!(!on_roster(&site), "their PIN and card are off the kiosks");
    let log = site.audit();
    assert!(
        log.iter()
            .any(|e| e.action == "link_instructor" && e.subject == "specialist"),
        "{log:?}"
    );
    assert!(
        log.iter().any(|e| e.action == "edit_instructor"
            && e.subject == format!("instructor {id}")
            && e.detail.contains("the account specialist was disabled")),
        "{log:?}"
    );
    // A disabled account's instructor is free for another account.
    assert_eq!(tie("head", &id).status, StatusCode::SEE_OTHER);
    assert_eq!(tie("head", "").status, StatusCode::SEE_OTHER, "and untied");
}
