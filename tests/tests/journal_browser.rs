//! A new user's path through the journal's pages in Debian's real chromium (headless, driven
//! over WebDriver by chromedriver), against the real `otmetka-journal serve` and a real kiosk
//! over a real Mosquitto, on a generated institution:
//!
//! the first administrator is made with `otmetka-journal add-user`, signs in, is refused a bad
//! user form with the field marked, adds a specialist and a head, adds a recipient with a
//! programme (a form without its first day comes back marked), gives them a card as a desk
//! reader types it, and plans today's session on the timetable; the kiosk gets the roster with
//! them, and a session is recorded
//! (taps through its control socket); the specialist finds it in the month with names, adds a
//! forgotten check-in with a reason; the head signs the month off (the correction form is gone),
//! prints the act and exports the month to Excel from its journal.
//!
//! Screenshots at 1366×768 go to the test's run directory, and to `docs/screens/journal-*.png`
//! with `OTMETKA_UPDATE_SCREENS=1` (look at them before committing).

#![allow(clippy::unwrap_used)]

use anyhow::{Context, Result, bail};
use fantoccini::{Client, ClientBuilder, Locator};
use otmetka_app::kiosk::{Command, Reply};
use otmetka_journal::clock::Clock;
use otmetka_link::testing::{Broker, free_port};
use otmetka_tests::institution;
use otmetka_tests::site::{
    JournalProcess, KioskProcess, add_journal_user, feed_toml, load_card, repo_root, wait_for,
};
use std::path::{Path, PathBuf};
use std::process::Child;

const ADMIN_PASSWORD: &str = "первый-администратор-2026";
const STAFF_PASSWORD: &str = "пароль-сотрудника-2026";
/// The recipient the administrator adds, and the card given on the desk reader.
const NEW_FULL_NAME: &str = "Новикова Зинаида Фёдоровна";
const NEW_NAME: &str = "Зинаида Фёдоровна";
const NEW_CARD: &str = "0A0000F1";

/// Sets a date or time field (chromium's date inputs take typed keys in the locale's order).
async fn set_value(c: &Client, id: &str, value: &str) -> Result<()> {
    c.execute(
        "document.getElementById(arguments[0]).value = arguments[1];",
        vec![id.into(), value.into()],
    )
    .await?;
    Ok(())
}

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Shots {
    dir: PathBuf,
    update: bool,
}

impl Shots {
    async fn take(&self, c: &Client, name: &str) -> Result<()> {
        let png = c.screenshot().await?;
        let file = format!("journal-{name}.png");
        std::fs::write(self.dir.join(&file), &png)?;
        if self.update {
            std::fs::write(repo_root().join("docs/screens").join(&file), &png)?;
        }
        Ok(())
    }
}

async fn browser(dir: &Path) -> Result<(Driver, Client)> {
    let port = free_port()?;
    let log = std::fs::File::create(dir.join("chromedriver.log"))?;
    let child = std::process::Command::new("chromedriver")
        .arg(format!("--port={port}"))
        // Dates and times in the fields as a Russian office's browser shows them.
        .env("LANG", "ru_RU.UTF-8")
        .env("LANGUAGE", "ru")
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .context("start chromedriver (Debian's chromium-driver)")?;
    let driver = Driver(child);
    wait_for("chromedriver", 30, || {
        std::net::TcpStream::connect(("127.0.0.1", port)).ok()
    });
    let profile = dir.join("chromium-profile");
    let caps = serde_json::json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1366,768", "--hide-scrollbars", "--lang=ru-RU",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-quic",
                format!("--user-data-dir={}", profile.display()),
            ],
            "prefs": { "intl.accept_languages": "ru-RU,ru" }
        }
    });
    let serde_json::Value::Object(caps) = caps else {
        bail!("capabilities are an object")
    };
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .context("a chromium session over WebDriver")?;
    client.set_window_size(1366, 768).await?;
    Ok((driver, client))
}

async fn text(c: &Client) -> Result<String> {
    Ok(c.find(Locator::Css("body")).await?.text().await?)
}

async fn sign_in(c: &Client, url: &str, login: &str, password: &str) -> Result<()> {
    c.goto(&format!("{url}signin")).await?;
    c.find(Locator::Css("#login"))
        .await?
        .send_keys(login)
        .await?;
    c.find(Locator::Css("#password"))
        .await?
        .send_keys(password)
        .await?;
    c.find(Locator::Css("button[type=submit]"))
        .await?
        .click()
        .await?;
    c.wait().for_element(Locator::Css("header.top nav")).await?;
    Ok(())
}

async fn sign_out(c: &Client) -> Result<()> {
    c.find(Locator::XPath("//button[text()='Выйти']"))
        .await?
        .click()
        .await?;
    // The page it left may have a #login field too (the users page): wait for the address.
    wait_for_path(c, "/signin").await?;
    c.wait().for_element(Locator::Css("#login")).await?;
    Ok(())
}

/// Waits until the browser is at `path` (a click's navigation has landed).
async fn wait_for_path(c: &Client, path: &str) -> Result<()> {
    for _ in 0..200 {
        if c.current_url().await?.path() == path {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    bail!("the browser never reached {path}")
}

#[test]
fn a_new_users_path_through_the_journal_in_chromium() -> Result<()> {
    let run = tempfile::Builder::new()
        .prefix("journal-browser")
        .tempdir()?;
    let dir = run.path();
    let broker = Broker::start("")?;
    let jdir = dir.join("journal");
    std::fs::create_dir_all(&jdir)?;
    let from = chrono::NaiveDate::from_ymd_opt(2026, 11, 2).context("date")?;
    let today = otmetka_journal::clock::SystemClock.now().date_naive();
    let to = today.pred_opt().context("date")?.max(from);
    let inst = institution::generate(&jdir, 30, from, to, 3, 7)?;
    // The sample ЕГИССО codes, for the region's export page.
    let egisso = std::fs::read_to_string(repo_root().join("config/egisso.sample.toml"))?;
    let config = format!("{}\n{egisso}", inst.journal_toml(broker.port)?);
    let mut journal = JournalProcess::start_with_config(&jdir, &config)?;
    let url = journal.web_url();
    // The first administrator, from the command line; a short password is refused.
    let refused = add_journal_user(&journal.config, "admin", "Админ", "admin", "short");
    assert!(refused.is_err_and(|e| e.to_string().contains("too short")));
    let said = add_journal_user(
        &journal.config,
        "admin",
        "Анна Сергеевна Белова",
        "admin",
        ADMIN_PASSWORD,
    )?;
    assert!(said.contains("added user admin"), "{said}");
    // A kiosk of the site, with the institution's roster and secret.
    let kdir = dir.join("kiosk");
    std::fs::create_dir_all(&kdir)?;
    std::fs::write(kdir.join("site-secret"), inst.secret()?)?;
    let kiosk = KioskProcess::start_with_roster(
        &kdir,
        institution::SITE,
        "k2",
        Some(&jdir.join("roster.toml")),
        &feed_toml(broker.port),
    )?;
    wait_for("the journal's pages", 30, || {
        std::net::TcpStream::connect(("127.0.0.1", journal.web_port)).ok()
    });
    let shots = Shots {
        dir: dir.to_path_buf(),
        update: std::env::var_os("OTMETKA_UPDATE_SCREENS").is_some(),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let result = rt.block_on(async {
        let (_driver, c) = browser(dir).await?;
        let r = walk(&c, &url, &inst, &kiosk, &journal, &shots).await;
        if r.is_err() {
            let _ = shots.take(&c, "failure").await;
        }
        c.close().await?;
        r
    });
    if let Err(e) = &result {
        eprintln!(
            "journal log:\n{}\nkiosk log:\n{}\nrun dir: {}",
            journal.log(),
            kiosk.log(),
            dir.display()
        );
        let kept = run.keep();
        bail!("{e:#} (kept {})", kept.display());
    }
    assert!(journal.is_running());
    Ok(())
}

async fn walk(
    c: &Client,
    url: &str,
    inst: &institution::Institution,
    kiosk: &KioskProcess,
    journal: &JournalProcess,
    shots: &Shots,
) -> Result<()> {
    // Nothing but the sign-in page without signing in.
    c.goto(&format!("{url}journal")).await?;
    c.wait().for_element(Locator::Css("#login")).await?;
    assert!(c.current_url().await?.path() == "/signin");
    shots.take(c, "signin").await?;
    c.find(Locator::Css("#login"))
        .await?
        .send_keys("admin")
        .await?;
    c.find(Locator::Css("#password"))
        .await?
        .send_keys("не тот пароль")
        .await?;
    c.find(Locator::Css("button[type=submit]"))
        .await?
        .click()
        .await?;
    c.wait().for_element(Locator::Css("p.error")).await?;
    assert!(
        text(c)
            .await?
            .contains("Неверное имя пользователя или пароль")
    );
    sign_in(c, url, "admin", ADMIN_PASSWORD).await?;
    // The administrator adds staff; a bad form comes back with the field marked.
    c.goto(&format!("{url}users")).await?;
    c.find(Locator::Css("#login"))
        .await?
        .send_keys("petrova")
        .await?;
    c.find(Locator::Css("#name"))
        .await?
        .send_keys("Петрова Ирина Викторовна")
        .await?;
    c.find(Locator::Css("#role"))
        .await?
        .select_by_value("specialist")
        .await?;
    c.find(Locator::Css("#password"))
        .await?
        .send_keys("короткий")
        .await?;
    c.find(Locator::XPath("//button[text()='Добавить']"))
        .await?
        .click()
        .await?;
    c.wait()
        .for_element(Locator::Css(".field-error #password"))
        .await?;
    assert!(
        text(c)
            .await?
            .contains("Пароль должен быть не короче 10 символов")
    );
    shots.take(c, "users-invalid").await?;
    // The form kept what was typed but the password.
    c.find(Locator::Css("#password"))
        .await?
        .send_keys(STAFF_PASSWORD)
        .await?;
    c.find(Locator::XPath("//button[text()='Добавить']"))
        .await?
        .click()
        .await?;
    c.wait()
        .for_element(Locator::XPath("//td[text()='petrova']"))
        .await?;
    for (login, name, role) in [("sokolov", "Соколов Андрей Павлович", "head")]
    {
        c.find(Locator::Css("#login"))
            .await?
            .send_keys(login)
            .await?;
        c.find(Locator::Css("#name")).await?.send_keys(name).await?;
        c.find(Locator::Css("#role"))
            .await?
            .select_by_value(role)
            .await?;
        c.find(Locator::Css("#password"))
            .await?
            .send_keys(STAFF_PASSWORD)
            .await?;
        c.find(Locator::XPath("//button[text()='Добавить']"))
            .await?
            .click()
            .await?;
        c.wait()
            .for_element(Locator::XPath(&format!("//td[text()='{login}']")))
            .await?;
    }
    // Petrova runs sessions at the kiosks: her account is tied to her instructor record, so
    // disabling it would take her PIN and card off the kiosks.
    c.find(Locator::XPath(
        "//select[@aria-label='Инструктор на киосках: petrova']",
    ))
    .await?
    .select_by_index(1)
    .await?;
    c.find(Locator::XPath(
        "//form[@action='/users/petrova/instructor']//button",
    ))
    .await?
    .click()
    .await?;
    let tied = c
        .wait()
        .for_element(Locator::XPath(
            "//select[@aria-label='Инструктор на киосках: petrova']/option[@selected and @value!='']",
        ))
        .await?
        .text()
        .await?;
    assert!(!tied.trim().is_empty(), "the account is tied");
    shots.take(c, "users").await?;
    // The administrator gives 1C a token for the JSON API: shown once, with what it may read.
    c.find(Locator::LinkText(
        "Доступ других систем (API): ключи для 1С и региональной системы",
    ))
    .await?
    .click()
    .await?;
    wait_for_path(c, "/api-clients").await?;
    c.find(Locator::Css("#name"))
        .await?
        .send_keys("1С: Бухгалтерия, ГБУ КЦСОН")
        .await?;
    for scope in ["units", "sessions"] {
        c.find(Locator::Css(&format!(
            "input[name='scope'][value='{scope}']"
        )))
        .await?
        .click()
        .await?;
    }
    c.find(Locator::XPath("//button[text()='Создать ключ']"))
        .await?
        .click()
        .await?;
    let token = c
        .wait()
        .for_element(Locator::Css("code[data-token]"))
        .await?
        .text()
        .await?;
    assert!(token.starts_with("otm_"), "{token}");
    let page = text(c).await?;
    assert!(page.contains("показывается один раз") && page.contains("1С: Бухгалтерия"));
    shots.take(c, "api-clients").await?;
    // The administrator adds a recipient with a programme: a form without the programme's
    // first day comes back with the field marked and nothing saved.
    c.goto(&format!("{url}people/new")).await?;
    c.find(Locator::Css("#full_name"))
        .await?
        .send_keys(NEW_FULL_NAME)
        .await?;
    c.find(Locator::Css("#display_name"))
        .await?
        .send_keys(NEW_NAME)
        .await?;
    set_value(c, "birth_date", "1948-03-15").await?;
    set_value(c, "data_consent_on", "2026-11-30").await?;
    c.find(Locator::Css("input[name=consent_participation]"))
        .await?
        .click()
        .await?;
    c.find(Locator::Css("#representative"))
        .await?
        .send_keys("Новиков Пётр Ильич, сын, +7 912 000-00-00")
        .await?;
    c.find(Locator::Css("input[name='svc.001.on']"))
        .await?
        .click()
        .await?;
    c.find(Locator::Css("input[name='svc.001.count']"))
        .await?
        .send_keys("8")
        .await?;
    set_value(c, "valid_to", "2027-11-30").await?;
    c.find(Locator::XPath("//button[text()='Сохранить']"))
        .await?
        .click()
        .await?;
    c.wait()
        .for_element(Locator::Css(".field-error #valid_from"))
        .await?;
    assert!(
        text(c)
            .await?
            .contains("Укажите, с какого дня действует индивидуальная программа.")
    );
    // The message at the top leads to the field, marked and with the message under it.
    c.find(Locator::LinkText("Перейти к полю"))
        .await?
        .click()
        .await?;
    shots.take(c, "person-invalid").await?;
    // What was typed is kept: the first day is all that is missing.
    set_value(c, "valid_from", "2026-12-01").await?;
    c.find(Locator::XPath("//button[text()='Сохранить']"))
        .await?
        .click()
        .await?;
    c.wait()
        .for_element(Locator::XPath(
            "//div[@role='status'][contains(., 'Получатель добавлен')]",
        ))
        .await?;
    let page = text(c).await?;
    assert!(
        page.contains(NEW_FULL_NAME) && page.contains("нет карты"),
        "{page}"
    );
    // A card on the desk reader: it types the number into the focused field and Enter.
    c.find(Locator::Css("#card_number"))
        .await?
        .send_keys(&format!("{NEW_CARD}\n"))
        .await?;
    c.wait()
        .for_element(Locator::XPath(
            "//div[@role='status'][contains(., 'Карта выдана')]",
        ))
        .await?;
    let page = text(c).await?;
    assert!(
        page.contains("…00F1") && !page.contains("нет карты"),
        "{page}"
    );
    shots.take(c, "person").await?;
    // The same card for someone else is refused with its holder's name.
    c.goto(&format!("{url}people/{}", inst.recipients[3].0))
        .await?;
    c.find(Locator::Css("#card_number"))
        .await?
        .send_keys(&format!("{NEW_CARD}\n"))
        .await?;
    c.wait()
        .for_element(Locator::Css(".field-error #card_number"))
        .await?;
    assert!(
        text(c)
            .await?
            .contains(&format!("Эта карта уже выдана: {NEW_NAME}."))
    );
    // Today's session planned on the timetable.
    let today = otmetka_journal::clock::SystemClock.now().date_naive();
    c.goto(&format!("{url}timetable")).await?;
    c.find(Locator::Css("#service"))
        .await?
        .select_by_value("001")
        .await?;
    let day = otmetka_journal::store::people::weekday_code(chrono::Datelike::weekday(&today));
    c.find(Locator::Css(&format!("input[name=day_{day}]")))
        .await?
        .click()
        .await?;
    set_value(c, "start", "10:00").await?;
    c.find(Locator::Css("#room"))
        .await?
        .send_keys("Зал 2")
        .await?;
    c.find(Locator::XPath("//button[text()='Запланировать']"))
        .await?
        .click()
        .await?;
    c.wait()
        .for_element(Locator::XPath(
            "//div[@role='status'][contains(., 'Занятие добавлено')]",
        ))
        .await?;
    assert!(text(c).await?.contains("Зал 2"));
    shots.take(c, "timetable").await?;
    sign_out(c).await?;
    // The kiosk gets the roster with the new person and their card.
    let version = {
        let mut store = otmetka_journal::store::SqliteJournal::open(&journal.database)?;
        let body = otmetka_journal::documents::roster_body(
            &mut store,
            institution::SITE,
            otmetka_journal::clock::SystemClock.now(),
        )?
        .context("a roster")?;
        serde_json::from_slice::<serde_json::Value>(&body)?["version"]
            .as_u64()
            .context("version")?
    };
    wait_for("the new roster at the kiosk", 60, || {
        match kiosk.call(Command::Status) {
            Ok(Reply::Status(s)) if s.roster_version == version => Some(()),
            _ => None,
        }
    });

    // A session at the kiosk today: the instructor signs in, five cards and the new one are
    // tapped, the session ends with its head count.
    // Five recipients the rules still let in today: the generated year gives some of them their
    // two sessions of 001 this week, or their programme's count this month, already, and the
    // kiosk now counts those too (the site's usage).
    use chrono::Datelike;
    let week_of = |d: chrono::NaiveDate| d.iso_week();
    let chosen: Vec<usize> = (0..inst.recipients.len())
        .filter(|&i| {
            let who = inst.recipients[i].0;
            let of_001 = |same: &dyn Fn(chrono::NaiveDate) -> bool| {
                inst.units
                    .iter()
                    .filter(|(r, s, d)| *r == who && s == "001" && same(*d))
                    .count() as u32
            };
            let week = of_001(&|d| week_of(d) == week_of(today));
            let month = of_001(&|d| (d.year(), d.month()) == (today.year(), today.month()));
            let planned = inst.planned.get(&who).and_then(|p| p.get("001")).copied();
            week < 2 && planned.is_none_or(|p| month < p.count)
        })
        .take(5)
        .collect();
    assert_eq!(chosen.len(), 5, "five recipients who may come today");
    kiosk.sign_in_and_start("001")?;
    for card in chosen
        .iter()
        .map(|&i| load_card(i))
        .chain([NEW_CARD.to_string()])
    {
        match kiosk.call(Command::Tap { card: card.clone() })? {
            Reply::Tap(t) if t.committed => {}
            other => bail!("tap {card}: {other:?}"),
        }
    }
    // A card nobody has on the list: the kiosk records it as unidentified.
    kiosk.call(Command::Tap {
        card: "DEADBEEF".into(),
    })?;
    // Seven in the room, six checked in: the close asks why, and the instructor says one came
    // without a card (the rules issue, point 14).
    let refused = kiosk.call(Command::End {
        head_count: Some(7),
        reason: None,
    });
    let refused = format!("{refused:?}");
    assert!(refused.contains("the close needs a reason"), "{refused}");
    kiosk.call(Command::End {
        head_count: Some(7),
        reason: Some(otmetka_core::event::CloseReason::NoCard),
    })?;
    let today_units = wait_for("the kiosk's units in the journal", 60, || {
        let u = journal.units().ok()?;
        let mine: Vec<_> = u.into_iter().filter(|u| u.kiosk == "k2").collect();
        (mine.len() == 6).then_some(mine)
    });
    let session = today_units[0].unit.session;

    // The specialist finds it in the month, with names.
    sign_in(c, url, "petrova", STAFF_PASSWORD).await?;
    let page = text(c).await?;
    assert!(page.contains("Журнал учёта социальных услуг"), "{page}");
    for &i in &chosen {
        let name = &inst.recipients[i].1;
        assert!(page.contains(name.as_str()), "{name} on the month's page");
    }
    assert!(
        page.contains(NEW_NAME),
        "the new recipient on the month's page"
    );
    assert!(
        page.contains("Ольга Петровна Смирнова"),
        "the instructor by name"
    );
    assert!(
        page.contains("число по головам ≠ отметкам"),
        "head count 7 for 6 taps is marked"
    );
    shots.take(c, "month").await?;
    wait_for("the unidentified tap in the journal", 30, || {
        let store = otmetka_journal::store::SqliteJournal::open(&journal.database).ok()?;
        use otmetka_journal::store::StaffStore;
        (store.unmatched_taps("demo").ok()?.len() == 1).then_some(())
    });
    c.refresh().await?;
    c.find(Locator::LinkText("укажите, чья это карта"))
        .await?
        .click()
        .await?;
    c.wait()
        .for_element(Locator::Css("form[action$='/match'] select"))
        .await?;
    let owner = &inst.recipients[8].1;
    c.find(Locator::Css("form[action$='/match'] select"))
        .await?
        .select_by_label(owner)
        .await?;
    shots.take(c, "taps").await?;
    c.find(Locator::XPath("//button[text()='Сопоставить']"))
        .await?
        .click()
        .await?;
    c.wait()
        .for_element(Locator::Css("div.allgood[role=status]"))
        .await?;
    let page = text(c).await?;
    assert!(
        page.contains("Сопоставлено") && page.contains(owner.as_str()),
        "{page}"
    );
    c.goto(&format!("{url}journal/sessions/{session}")).await?;
    let page = text(c).await?;
    assert!(
        page.contains("Причина, названная при закрытии: кто-то был без карты."),
        "{page}"
    );
    let absent = &inst.recipients[7].1;
    c.find(Locator::Css("#recipient"))
        .await?
        .select_by_label(absent)
        .await?;
    c.find(Locator::XPath("//button[text()='Добавить отметку']"))
        .await?
        .click()
        .await?;
    c.wait()
        .for_element(Locator::Css(".field-error #reason"))
        .await?;
    assert!(text(c).await?.contains("Укажите причину исправления."));
    c.find(Locator::Css("#recipient"))
        .await?
        .select_by_label(absent)
        .await?;
    c.find(Locator::Css("#reason"))
        .await?
        .send_keys("Была на занятии, карту забыла дома; подтверждает инструктор")
        .await?;
    c.find(Locator::XPath("//button[text()='Добавить отметку']"))
        .await?
        .click()
        .await?;
    c.wait()
        .for_element(Locator::XPath("//td[contains(., 'добавлен вручную')]"))
        .await?;
    let page = text(c).await?;
    assert!(
        page.contains(absent.as_str()) && page.contains("карту забыла дома"),
        "{page}"
    );
    shots.take(c, "session").await?;
    // A home visit (patronage, seed 003) the specialist made today: a unit in the journal.
    let visited = &inst.recipients[5].1;
    c.goto(&format!("{url}visits")).await?;
    c.find(Locator::Css("#recipient"))
        .await?
        .select_by_label(visited)
        .await?;
    c.find(Locator::Css("#instructor"))
        .await?
        .select_by_label("Ольга Петровна Смирнова")
        .await?;
    set_value(c, "start", "11:00").await?;
    for (id, minutes) in [("prep", "45"), ("work", "50"), ("completion", "10")] {
        c.find(Locator::Css(&format!("#{id}")))
            .await?
            .send_keys(minutes)
            .await?;
    }
    c.find(Locator::XPath("//button[text()='Записать патронаж']"))
        .await?
        .click()
        .await?;
    c.wait()
        .for_element(Locator::XPath(&format!("//td[text()='{visited}']")))
        .await?;
    assert!(
        text(c).await?.contains("Больше нормы времени: 1"),
        "50 min of work is over 40"
    );
    shots.take(c, "visits").await?;
    // A card for someone who has lost theirs: the kiosk goes into enrolment from a button.
    let (holder, holder_name) = (inst.recipients[9].0, inst.recipients[9].1.clone());
    c.goto(&format!("{url}people/{holder}")).await?;
    let form = format!("form[action='/people/{holder}/card']");
    c.find(Locator::Css(&format!("{form} select")))
        .await?
        .select_by_value("k2")
        .await?;
    c.find(Locator::Css(&format!("{form} button")))
        .await?
        .click()
        .await?;
    c.wait()
        .for_element(Locator::Css("div.note[role=status]"))
        .await?;
    let page = text(c).await?;
    assert!(
        page.contains("ждёт новую карту") && page.contains(holder_name.as_str()),
        "{page}"
    );
    shots.take(c, "people-card").await?;
    wait_for("the kiosk in card enrolment", 60, || {
        matches!(
            kiosk.extra(otmetka_app::control::ExtraRequest::Screen),
            Ok(Reply::Screen { name }) if name == "enrol"
        )
        .then_some(())
    });
    match kiosk.call(Command::Tap {
        card: "C0FFEE01".into(),
    })? {
        Reply::Enrolled { name, .. } => assert_eq!(name, holder_name),
        other => bail!("the new card: {other:?}"),
    }
    let mut enrolled = false;
    for _ in 0..100 {
        c.refresh().await?;
        if text(c).await?.contains("Карта выдана") {
            enrolled = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(enrolled, "the page says the card was given");
    sign_out(c).await?;

    // The head signs the month off; the correction forms are gone.
    sign_in(c, url, "sokolov", STAFF_PASSWORD).await?;
    let month = otmetka_journal::clock::SystemClock
        .now()
        .date_naive()
        .format("%Y-%m")
        .to_string();
    c.goto(&format!("{url}journal?month={month}")).await?;
    c.find(Locator::XPath(
        "//button[starts-with(text(), 'Подписать журнал')]",
    ))
    .await?
    .click()
    .await?;
    c.wait()
        .for_element(Locator::XPath(
            "//strong[starts-with(text(), 'Месяц подписан заведующим')]",
        ))
        .await?;
    assert!(text(c).await?.contains("Месяц подписан заведующим"));
    shots.take(c, "signed").await?;
    // The head approves this week's timetable, which the page flags until then.
    c.goto(&format!("{url}timetable")).await?;
    assert!(
        text(c)
            .await?
            .contains("Расписание на эту неделю не утверждено")
    );
    c.find(Locator::XPath(
        "//button[text()='Утвердить расписание на неделю']",
    ))
    .await?
    .click()
    .await?;
    c.wait()
        .for_element(Locator::XPath(
            "//div[@role='status'][contains(., 'Расписание утверждено')]",
        ))
        .await?;
    assert!(
        text(c)
            .await?
            .contains("Утверждаю: Соколов Андрей Павлович")
    );
    shots.take(c, "timetable-approved").await?;
    c.goto(&format!("{url}quality?month=2026-11")).await?;
    assert!(text(c).await?.contains("Удовлетворены, %"));
    shots.take(c, "quality").await?;
    c.goto(&format!("{url}people")).await?;
    assert!(text(c).await?.contains(NEW_FULL_NAME));
    shots.take(c, "people").await?;
    c.goto(&format!("{url}journal/sessions/{session}")).await?;
    let page = c.source().await?;
    assert!(
        !page.contains("Убрать") && !page.contains("Добавить отметку"),
        "no corrections"
    );
    // The act of the recipient the specialist corrected, on screen and printed.
    c.goto(&format!("{url}acts?month={month}")).await?;
    // December is running: who is behind this week or month so far, not yet short.
    let page = text(c).await?;
    assert!(
        page.contains("меньше, чем по программе за текущий период"),
        "{page}"
    );
    shots.take(c, "acts").await?;
    let who = inst.recipients[7].0;
    c.goto(&format!("{url}acts/{who}?month={month}")).await?;
    let page = text(c).await?;
    assert!(
        page.contains("Акт о предоставлении социальных услуг") && page.contains(absent.as_str())
    );
    shots.take(c, "act").await?;
    let pdf = c
        .print(fantoccini::wd::PrintConfiguration::default())
        .await?;
    let pdf_path = shots.dir.join("journal-act.pdf");
    std::fs::write(&pdf_path, &pdf)?;
    let out = std::process::Command::new("pdftoppm")
        .args(["-png", "-r", "70", "-f", "1", "-l", "1"])
        .arg(&pdf_path)
        .arg(shots.dir.join("journal-act-print"))
        .output()
        .context("pdftoppm (poppler-utils)")?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = std::fs::read_dir(&shots.dir)?
        .filter_map(|e| e.ok())
        .find(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("journal-act-print")
        })
        .context("the printed act's picture")?;
    if shots.update {
        std::fs::copy(
            printed.path(),
            repo_root().join("docs/screens/journal-act-print.png"),
        )?;
    }
    // The kiosks' page, with a refusal the journal recorded for the walk's kiosk (as ingest
    // records a broken message of it).
    {
        use otmetka_journal::store::{Batch, JournalStore, Judged, SqliteJournal, Verdict};
        let mut store = SqliteJournal::open(&journal.database)?;
        let broken = Judged {
            site: institution::SITE.into(),
            kiosk: "k2".into(),
            topic: format!("otmetka/v1/{}/kiosk/k2/events", institution::SITE),
            payload: b"{not json".to_vec(),
            verdict: Verdict::Reject {
                seq: None,
                reason: otmetka_core::wire::RejectReason::Malformed {
                    detail: "not JSON".into(),
                },
            },
        };
        store.commit_batch(
            &Batch::of(vec![broken]),
            otmetka_journal::clock::SystemClock.now(),
        )?;
    }
    c.goto(&format!("{url}fleet")).await?;
    let page = text(c).await?;
    assert!(
        page.contains("журнал отклоняет его сообщения — 1 (повреждённые)"),
        "{page}"
    );
    shots.take(c, "fleet").await?;
    c.goto(&format!("{url}violations?month={month}")).await?;
    assert!(text(c).await?.contains("Нарушения"));
    shots.take(c, "violations").await?;
    // The head exports the month from its journal: the form filled in from the link, the
    // export in the background, its page reloading itself until the download is there.
    c.goto(&format!("{url}journal?month={month}")).await?;
    c.find(Locator::LinkText("Выгрузить месяц в Excel или CSV"))
        .await?
        .click()
        .await?;
    wait_for_path(c, "/exports").await?;
    c.find(Locator::XPath("//button[text()='Выгрузить']"))
        .await?
        .click()
        .await?;
    let mut page = String::new();
    for _ in 0..300 {
        // The page reloads itself while the export runs: a read that meets the reload (its
        // node gone from the document) is tried again.
        if let Ok(t) = text(c).await {
            page = t;
            if page.contains("Выгрузка готова") {
                break;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        page.contains("Выгрузка готова") && page.contains("Скачать «Услуги"),
        "{page}"
    );
    shots.take(c, "export").await?;
    // The month for ЕГИССО: no one has a СНИЛС yet, so each is listed as left out, linked to
    // their card; the head enters one person's СНИЛС and sex there, and their facts come in.
    c.goto(&format!("{url}exports/egisso?month=2026-11"))
        .await?;
    let page = text(c).await?;
    assert!(
        page.contains("Не войдут в выгрузку") && page.contains("нет СНИЛС"),
        "{page}"
    );
    assert!(page.contains("нет ни одной записи"), "{page}");
    let who = inst.recipients[4].0;
    c.find(Locator::Css(&format!("tr[data-left-out='{who}'] a")))
        .await?
        .click()
        .await?;
    wait_for_path(c, &format!("/people/{who}")).await?;
    set_value(c, "snils", "112-233-445 95").await?;
    set_value(c, "sex", "female").await?;
    set_value(c, "birth_date", "1948-03-02").await?;
    c.execute(
        "document.getElementById('full_name').scrollIntoView();",
        vec![],
    )
    .await?;
    shots.take(c, "person-egisso").await?;
    c.find(Locator::XPath(
        "//input[@id='snils']/ancestor::form//button[text()='Сохранить']",
    ))
    .await?
    .click()
    .await?;
    c.wait()
        .for_element(Locator::Css("div.allgood[role='status']"))
        .await?;
    c.goto(&format!("{url}exports/egisso?month=2026-11"))
        .await?;
    let page = c.source().await?;
    assert!(
        !page.contains(&format!("data-left-out=\"{who}\"")),
        "{who} is in the package now"
    );
    let facts = inst.planned[&who]
        .keys()
        .filter(|s| ["000", "001", "002-2.4", "002-2.5"].contains(&s.as_str()))
        .filter(|s| {
            inst.given(
                who,
                s,
                chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap_or_default(),
            ) > 0
        })
        .count();
    assert!(
        page.contains(&format!("data-figure=\"facts\">{facts}<")),
        "{facts} facts\n{page}"
    );
    assert!(text(c).await?.contains("Скачать XML для ЕГИССО") || facts == 0);
    shots.take(c, "egisso").await?;
    Ok(())
}
