//! The month's export for the regional information system, ЕГИССО (the region issue, point 2):
//! the XML validates against the schema (`xmllint`, libxml2-utils), read back by an independent
//! parser (roxmltree) its facts count what the generator gave, and what cannot be sent — a
//! recipient without a СНИЛС or a sex, a service without a measure — is left out and named on
//! the page, with its units; from the page and from `otmetka-journal egisso`, audited.

use super::Site;
use axum::http::{Method, StatusCode};
use chrono::{Datelike, NaiveDate};
use otmetka_core::people::RecipientId;
use otmetka_journal::store::people::{Sex, Snils};
use otmetka_journal::store::staff::Actor;
use otmetka_tests::institution::SITE;
use std::collections::{BTreeMap, BTreeSet};

/// The sample codes (`config/egisso.sample.toml`): a measure for four of the generator's five
/// services; 002-5.1 has none (left out).
fn egisso_toml() -> String {
    std::fs::read_to_string(otmetka_tests::site::repo_root().join("config/egisso.sample.toml"))
        .unwrap()
}

const UNMAPPED: &str = "002-5.1";
/// The recipient who left on 15 November: facts up to that day, the units after it left out.
const LEFT: usize = 2;

/// A valid СНИЛС for the `i`-th recipient, its check number computed here from the Pension
/// Fund's rule (weights 9..1, mod 101, 100 → 00), not by the code under test.
fn snils_of(i: usize) -> String {
    let n = 150_000_000 + i as u64 * 7_919;
    let d: Vec<u64> = format!("{n:09}")
        .bytes()
        .map(|b| u64::from(b - b'0'))
        .collect();
    let sum: u64 = d.iter().zip((1..=9).rev()).map(|(x, w)| x * w).sum();
    let check = match sum % 101 {
        100 => 0,
        c => c,
    };
    format!("{n:09}{check:02}")
}

/// 1234 as the page writes it: «1 234» (a no-break space between thousands).
fn grouped(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push('\u{a0}');
        }
        out.push(c);
    }
    out
}

fn schema() -> std::path::PathBuf {
    otmetka_tests::site::repo_root().join("journal/schemas/egisso/egisso/package-RAF-1.0.3.xsd")
}

/// `xmllint --schema` of Debian's libxml2-utils: Ok, or what it said.
fn xmllint(file: &std::path::Path) -> Result<(), String> {
    let out = std::process::Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(schema())
        .arg(file)
        .output()
        .expect("xmllint (apt-get install libxml2-utils)");
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// What a package says, read by roxmltree: (СНИЛС, service title) → amount, and each fact's
/// equivalent amount and OKEI code by СНИЛС and LMSZ.
struct Read {
    amounts: BTreeMap<(String, String), u64>,
    /// (decision_date, dateStart, dateFinish) by СНИЛС.
    dates: BTreeMap<String, BTreeSet<(String, String, String)>>,
    money: BTreeMap<(String, String), (String, String)>,
    facts: usize,
    ids: Vec<String>,
}

fn read(xml: &str) -> Read {
    let doc = roxmltree::Document::parse(xml).unwrap();
    let fact_ns = otmetka_journal::export::egisso::NS_FACT;
    let child = |n: roxmltree::Node<'_, '_>, name: &str| {
        n.descendants()
            .find(|c| c.tag_name().name() == name)
            .and_then(|c| c.text())
            .unwrap_or_default()
            .to_string()
    };
    let mut out = Read {
        amounts: BTreeMap::new(),
        dates: BTreeMap::new(),
        money: BTreeMap::new(),
        facts: 0,
        ids: Vec::new(),
    };
    for fact in doc.descendants().filter(|n| n.tag_name().name() == "fact") {
        out.facts += 1;
        let id = fact
            .children()
            .find(|c| c.tag_name().name() == "ID" && c.tag_name().namespace() == Some(fact_ns))
            .and_then(|c| c.text())
            .unwrap()
            .to_string();
        out.ids.push(id);
        let snils = child(fact, "SNILS");
        out.dates.entry(snils.clone()).or_default().insert((
            child(fact, "decision_date"),
            child(fact, "dateStart"),
            child(fact, "dateFinish"),
        ));
        let key = (snils.clone(), child(fact, "content"));
        out.amounts
            .insert(key, child(fact, "amount").parse::<u64>().unwrap());
        out.money.insert(
            (snils, child(fact, "LMSZID")),
            (child(fact, "equivalentAmount"), child(fact, "OKEICode")),
        );
    }
    out
}

/// Gives each recipient but the first two a СНИЛС, a sex and a birth date; the first has none
/// of them, the second no sex. Returns the СНИЛС by recipient.
fn fill_in(site: &Site) -> BTreeMap<RecipientId, String> {
    let mut out = BTreeMap::new();
    let people = site.people();
    for (i, (id, _)) in site.inst.recipients.iter().enumerate().skip(1) {
        let mut p = people.recipient(*id).unwrap().clone();
        let snils = snils_of(i);
        p.snils = Some(Snils::parse(&snils).unwrap());
        p.sex = (i != 1).then_some(if i % 2 == 0 { Sex::Female } else { Sex::Male });
        p.birth_date = NaiveDate::from_ymd_opt(1940 + (i as i32 % 30), 1 + (i as u32 % 12), 3);
        if i == LEFT {
            p.left_on = NaiveDate::from_ymd_opt(2026, 11, 15);
        }
        site.call(move |s| {
            s.save_recipient(
                &Actor {
                    user: None,
                    login: "test".into(),
                    name: "test".into(),
                },
                &p,
                "2026-12-01T09:00:00Z".parse().unwrap(),
            )
        });
        out.insert(*id, snils);
    }
    out
}

#[test]
fn the_months_package_validates_against_the_schema_and_its_facts_count_what_the_generator_gave() {
    let site = Site::with_config(|_| egisso_toml());
    let snils = fill_in(&site);
    let month = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
    let docs = site.documents();
    let title = |code: &str| {
        docs.catalogue
            .services
            .iter()
            .find(|s| s.code.0 == code)
            .unwrap()
            .title_ru
            .clone()
    };
    let (cookie, _) = site.sign_in("specialist");
    let page = site.send(
        Method::GET,
        "/exports/egisso?month=2026-11",
        Some(&cookie),
        None,
    );
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let file = super::export::get_bytes(&site, "/exports/egisso/file?month=2026-11", &cookie);
    assert_eq!(file.status, StatusCode::OK);
    assert!(file.content_type.starts_with("application/xml"));
    assert!(
        file.disposition.contains("egisso-demo-2026-11.xml"),
        "{}",
        file.disposition
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("egisso.xml");
    std::fs::write(&path, &file.body).unwrap();
    xmllint(&path).unwrap_or_else(|e| panic!("the package is not valid:\n{e}"));
    let xml = String::from_utf8(file.body).unwrap();
    let got = read(&xml);

    // Every fact is one recipient's month of one mapped service, with the generator's count.
    let mut expected = BTreeMap::new();
    let (mut held_units, mut unmapped_units, mut after_leaving) = (BTreeMap::new(), 0usize, 0usize);
    for (i, (who, _)) in site.inst.recipients.iter().enumerate() {
        for service in site.inst.planned[who].keys() {
            let given = site.inst.given(*who, service, month);
            if given == 0 {
                continue;
            }
            if i < 2 {
                *held_units.entry(*who).or_insert(0usize) += given;
            } else if service == UNMAPPED {
                unmapped_units += given;
            } else if i == LEFT {
                let by_15th = site
                    .inst
                    .units
                    .iter()
                    .filter(|(r, s, d)| {
                        r == who && s == service && d.month() == 11 && d.day() <= 15
                    })
                    .count();
                if by_15th > 0 {
                    expected.insert((snils[who].clone(), title(service)), by_15th as u64);
                }
                after_leaving += given - by_15th;
            } else {
                expected.insert((snils[who].clone(), title(service)), given as u64);
            }
        }
    }
    assert!(
        expected.len() > 50,
        "a month of 30 people: {}",
        expected.len()
    );
    assert_eq!(got.amounts, expected);
    // Each fact is of the month (the programme runs 2020–2099; its decision is its first day),
    // cut at the day someone left.
    let left_who = site.inst.recipients[LEFT].0;
    for (s, dates) in &got.dates {
        let finish = if *s == snils[&left_who] {
            "2026-11-15"
        } else {
            "2026-11-30"
        };
        assert_eq!(
            dates.iter().collect::<Vec<_>>(),
            [&(
                "2020-01-01".to_string(),
                "2026-11-01".to_string(),
                finish.to_string()
            )],
            "{s}"
        );
    }
    assert!(
        after_leaving > 0,
        "the generator gave the leaver units after the 15th"
    );
    let row = format!("data-left-out=\"{left_who}\"");
    let units_after: usize = page
        .body
        .match_indices(&row)
        .map(|(at, _)| {
            let tr = &page.body[at..at + page.body[at..].find("</tr>").unwrap()];
            assert!(tr.contains("получатель уже выбыл"), "{tr}");
            let n = tr.rsplit("<td class=\"num\">").next().unwrap();
            n[..n.find('<').unwrap()].parse::<usize>().unwrap()
        })
        .sum();
    assert_eq!(
        units_after, after_leaving,
        "the units after leaving are listed"
    );
    assert_eq!(
        got.facts,
        expected.len(),
        "one fact per recipient and service"
    );
    let units: u64 = expected.values().sum();
    assert!(
        page.body
            .contains(&format!("data-figure=\"facts\">{}<", expected.len())),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains(&format!("data-figure=\"units\">{}<", grouped(units))),
        "{units} units\n{}",
        page.body
    );
    // The money: units × tariff, and the unit of measure where one is set.
    let who = site.inst.recipients[3].0;
    let n001 = site.inst.given(who, "001", month) as u64;
    if n001 > 0 {
        let kop = n001 * 15_050;
        assert_eq!(
            got.money[&(
                snils[&who].clone(),
                "0b8f3a52-6d1e-4c3a-9d7e-1f2a3b4c5d01".into()
            )],
            (format!("{}.{:02}", kop / 100, kop % 100), "876".to_string())
        );
    }
    assert!(
        got.money
            .iter()
            .any(|((_, lmsz), (_, okei))| lmsz.ends_with("5d02") && okei == "796")
    );

    // Left out, each with its reason and units, and linked to the person's card.
    let first = site.inst.recipients[0].0;
    let second = site.inst.recipients[1].0;
    for (who, why) in [
        (first, "нет СНИЛС, не указан пол, нет даты рождения"),
        (second, "не указан пол"),
    ] {
        let row = format!("data-left-out=\"{who}\"");
        let at = page
            .body
            .find(&row)
            .unwrap_or_else(|| panic!("{who} listed\n{}", page.body));
        let rest = &page.body[at..at + page.body[at..].find("</tr>").unwrap()];
        assert!(rest.contains(why), "{who}: {why}\n{rest}");
        assert!(rest.contains(&format!("href=\"/people/{who}?site={SITE}\"")));
        assert!(rest.contains(&format!(">{}<", held_units[&who])), "{rest}");
    }
    let row = format!("data-left-out=\"{UNMAPPED}\"");
    let at = page
        .body
        .find(&row)
        .expect("the unmapped service is listed");
    let rest = &page.body[at..at + page.body[at..].find("</tr>").unwrap()];
    assert!(rest.contains("не задан код меры"), "{rest}");
    assert!(rest.contains(&format!(">{unmapped_units}<")), "{rest}");

    // The same month again is the same facts (their ids), in a new package.
    let again = super::export::get_bytes(&site, "/exports/egisso/file?month=2026-11", &cookie);
    let again = read(&String::from_utf8(again.body).unwrap());
    assert_eq!(again.ids, got.ids);
    let log = site.audit();
    assert_eq!(
        log.iter().filter(|e| e.action == "export_egisso").count(),
        2,
        "each download is in the audit log"
    );

    // From the command line: the same facts, and the reasons on the terminal.
    let out_file = dir.path().join("cli.xml");
    let out =
        std::process::Command::new(otmetka_tests::site::sibling_binary("otmetka-journal").unwrap())
            .arg("egisso")
            .arg("--config")
            .arg(&site.inst.config)
            .args(["--month", "2026-11", "--site", SITE, "--out"])
            .arg(&out_file)
            .output()
            .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("{} facts", expected.len())),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("service {UNMAPPED}, {unmapped_units} units")),
        "{stdout}"
    );
    assert!(stdout.contains("не указан пол"), "{stdout}");
    xmllint(&out_file).unwrap();
    assert_eq!(
        read(&std::fs::read_to_string(&out_file).unwrap()).amounts,
        expected
    );
}

#[test]
fn a_snils_already_on_file_is_refused_and_a_site_without_a_code_says_so() {
    let site = Site::with_config(|_| egisso_toml());
    let snils = fill_in(&site);
    let (cookie, csrf) = site.sign_in("specialist");
    let taken = Snils::parse(&snils[&site.inst.recipients[3].0]).unwrap();
    let a = site.post(
        "/people/new",
        &cookie,
        &csrf,
        &[
            ("full_name", "Новикова Зинаида Фёдоровна"),
            ("display_name", "Зинаида Фёдоровна"),
            ("snils", &taken.to_string()),
        ],
    );
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);
    assert!(
        a.body.contains(&format!(
            "Этот СНИЛС уже записан у получателя «{}»",
            site.people().recipient_name(site.inst.recipients[3].0)
        )),
        "{}",
        a.body
    );
    // Without the institution's code there is nothing to send it under.
    let bare = Site::new();
    let (cookie, _) = bare.sign_in("specialist");
    let page = bare.send(
        Method::GET,
        "/exports/egisso?month=2026-11",
        Some(&cookie),
        None,
    );
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(
        page.body.contains("не задан код учреждения"),
        "{}",
        page.body
    );
}
