//! Exports of a period's units (the exports issue, point 2): from the page, in the background,
//! with its progress and the download, read back by an independent reader (Python's openpyxl
//! for the workbook, the csv crate for the text) and set against the units the store holds;
//! from the command line (`otmetka-journal export`); who may export, and that an export is its
//! owner's alone.

use super::{Site, csrf_of};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use chrono::{Datelike, NaiveDate};
use otmetka_core::catalogue::UnitKind;
use otmetka_journal::store::JournalUnit;
use std::collections::BTreeMap;
use tower::ServiceExt;

/// A download: status, the headers it is judged by, the bytes.
pub(super) struct Download {
    pub(super) status: StatusCode,
    pub(super) content_type: String,
    pub(super) disposition: String,
    pub(super) body: Vec<u8>,
}

pub(super) fn get_bytes(site: &Site, path: &str, cookie: &str) -> Download {
    let req = Request::builder()
        .method(Method::GET)
        .uri(path)
        .header(header::HOST, "127.0.0.1:8080")
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .unwrap();
    let app = site.app.clone();
    site.rt.block_on(async move {
        let res = app.oneshot(req).await.unwrap();
        let h = |n: header::HeaderName| {
            res.headers()
                .get(n)
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default()
        };
        let (content_type, disposition) = (h(header::CONTENT_TYPE), h(header::CONTENT_DISPOSITION));
        let status = res.status();
        let body = axum::body::to_bytes(res.into_body(), 1 << 28)
            .await
            .unwrap()
            .to_vec();
        Download {
            status,
            content_type,
            disposition,
            body,
        }
    })
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// The units the store holds for the period (the plain `units` read, not the export's cursor).
fn held(site: &Site, from: NaiveDate, to: NaiveDate) -> Vec<JournalUnit> {
    site.rt
        .block_on(site.store.call(move |s| s.units(from, to)))
        .unwrap()
}

/// Per month («2026-11») and service: (units, people served).
type Figures = BTreeMap<String, BTreeMap<String, (u64, u64)>>;

fn figures(units: &[JournalUnit]) -> Figures {
    let mut out = Figures::new();
    for ju in units {
        let u = &ju.unit;
        let people = match u.kind {
            UnitKind::PerRecipient => 1,
            UnitKind::PerGroup => u.participants.len() as u64,
        };
        let month = format!("{:04}-{:02}", u.date.year(), u.date.month());
        let e = out
            .entry(month)
            .or_default()
            .entry(u.service.0.clone())
            .or_default();
        e.0 += 1;
        e.1 += people;
    }
    out
}

/// Starts an export from the page as `cookie`; returns its page's path.
fn start(site: &Site, cookie: &str, csrf: &str, from: &str, to: &str, format: &str) -> String {
    let a = site.send(
        Method::POST,
        "/exports",
        Some(cookie),
        Some(&format!(
            "csrf={csrf}&from={from}&to={to}&site=demo&format={format}"
        )),
    );
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    a.location.unwrap()
}

/// Polls the export's page until it says it is done; each page seen while it runs shows the
/// rows done of the total and reloads itself. Returns the last page.
fn wait_done(site: &Site, cookie: &str, page: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let a = site.send(Method::GET, page, Some(cookie), None);
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        if a.body.contains("Выгрузка готова") {
            assert!(
                !a.body.contains("http-equiv=\"refresh\""),
                "a finished export's page stays still"
            );
            return a.body;
        }
        assert!(a.body.contains("Выгрузка идёт"), "{}", a.body);
        assert!(a.body.contains("http-equiv=\"refresh\" content=\"2\""));
        assert!(a.body.contains("Готово строк: "), "{}", a.body);
        assert!(
            std::time::Instant::now() < deadline,
            "the export did not finish in a minute"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// What openpyxl reads of each sheet of a workbook, as JSON.
const OPENPYXL: &str = r#"
import datetime, json, sys
from openpyxl import load_workbook
wb = load_workbook(sys.argv[1])
out = []
for ws in wb.worksheets:
    rows = list(ws.iter_rows(values_only=True))
    header = list(rows[0])
    h = {name: i for i, name in enumerate(header)}
    data = rows[1:]
    services = {}
    for r in data:
        e = services.setdefault(r[h["Код услуги"]], [0, 0])
        e[0] += 1
        e[1] += r[h["Человек"]]
    def col(name):
        return [r[h[name]] for r in data]
    out.append({
        "name": ws.title,
        "header": header,
        "rows": len(data),
        "services": services,
        "frozen": ws.freeze_panes,
        "bold": all(c.font.b for c in ws[1]),
        "filter": ws.auto_filter.ref,
        "title_width": ws.column_dimensions["C"].width,
        "dates_are_dates": all(isinstance(v, datetime.datetime) for v in col("Дата")),
        "dates_in_month": all(v.strftime("%Y-%m") == ws.title[:7] for v in col("Дата")),
        "date_format": ws.cell(row=2, column=1).number_format if data else None,
        "start_format": ws.cell(row=2, column=h["Начало"] + 1).number_format if data else None,
        "people_are_numbers": all(isinstance(v, int) for v in col("Человек")),
        "minutes_are_numbers": all(isinstance(v, int) for v in col("Минут")),
        "flags": sorted(set(col("Сверх лимита") + col("Отмечено вручную"))),
        "units": col("Код единицы"),
        "recipients": sorted(set(v for v in col("Получатель") if v)),
    })
print(json.dumps(out, ensure_ascii=False))
"#;

/// Debian's Python (`python3-openpyxl`, in `./run`'s packages), not a virtualenv's.
fn openpyxl(path: &std::path::Path) -> serde_json::Value {
    let script = path.with_extension("py");
    std::fs::write(&script, OPENPYXL).unwrap();
    let out = std::process::Command::new("/usr/bin/python3")
        .arg(&script)
        .arg(path)
        .output()
        .expect("/usr/bin/python3 (apt-get install python3-openpyxl)");
    assert!(
        out.status.success(),
        "openpyxl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Checks a workbook openpyxl read against the units the store holds: a sheet per month of the
/// period (`months`), each with the month's rows, units and figures per service.
fn check_workbook(book: &serde_json::Value, units: &[JournalUnit], months: &[&str]) {
    let expected = figures(units);
    let sheets = book.as_array().unwrap();
    let names: Vec<&str> = sheets.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, months, "a sheet per month of the period");
    let mut ids: Vec<String> = Vec::new();
    for s in sheets {
        let name = s["name"].as_str().unwrap();
        let want = expected.get(name).cloned().unwrap_or_default();
        let header: Vec<&str> = s["header"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(
            &header[..4],
            ["Дата", "Код услуги", "Услуга", "Вид единицы"],
            "{name}"
        );
        assert!(header.contains(&"Получатель") && header.contains(&"Код единицы"));
        assert_eq!(s["frozen"], "A2", "{name}: the header row is frozen");
        assert_eq!(s["bold"], true, "{name}: the header is bold");
        assert!(
            s["title_width"].as_f64().unwrap() > 40.0,
            "{name}: the title column is wide"
        );
        let rows: u64 = want.values().map(|(n, _)| n).sum();
        assert_eq!(s["rows"].as_u64().unwrap(), rows, "{name}: rows");
        let got: BTreeMap<String, (u64, u64)> = s["services"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), (v[0].as_u64().unwrap(), v[1].as_u64().unwrap())))
            .collect();
        assert_eq!(got, want, "{name}: units and people per service");
        assert_eq!(
            s["filter"],
            format!("A1:V{}", rows + 1),
            "{name}: the filter"
        );
        for key in [
            "dates_are_dates",
            "dates_in_month",
            "people_are_numbers",
            "minutes_are_numbers",
        ] {
            assert_eq!(s[key], true, "{name}: {key}");
        }
        if rows > 0 {
            assert_eq!(s["date_format"], "dd.mm.yyyy", "{name}");
            assert_eq!(s["start_format"], "dd.mm.yyyy hh:mm", "{name}");
            let flags: Vec<&str> = s["flags"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            assert!(
                !flags.is_empty() && flags.iter().all(|f| ["да", "нет"].contains(f)),
                "{name}: {flags:?}"
            );
        }
        ids.extend(
            s["units"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string()),
        );
    }
    let mut want_ids: Vec<String> = units.iter().map(|u| u.unit.id.0.to_string()).collect();
    ids.sort();
    want_ids.sort();
    assert_eq!(ids, want_ids, "every unit once");
}

#[test]
fn a_period_exported_from_the_page_reads_back_in_openpyxl_with_the_stores_figures() {
    let site = Site::new();
    let (cookie, _) = site.sign_in("specialist");
    // The month's journal links to the form with its month filled in.
    let journal = site.send(Method::GET, "/journal?month=2026-11", Some(&cookie), None);
    assert!(
        journal
            .body
            .contains("/exports?site=demo&amp;from=2026-11-01&amp;to=2026-11-30"),
        "{}",
        journal.body
    );
    let form = site.send(
        Method::GET,
        "/exports?site=demo&from=2026-11-01&to=2026-11-30",
        Some(&cookie),
        None,
    );
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("value=\"2026-11-01\"") && form.body.contains("Выгрузить"));
    assert!(form.body.contains("персональные данные"));
    let csrf = csrf_of(&form.body);
    // October has no units: its sheet is there, with the header alone.
    let (from, to) = (day(2026, 10, 15), day(2026, 12, 11));
    let page = start(&site, &cookie, &csrf, "2026-10-15", "2026-12-11", "xlsx");
    let done = wait_done(&site, &cookie, &page);
    let units = held(&site, from, to);
    assert!(units.len() > 100, "the generated institution has units");
    assert!(
        done.contains("листов: 3 (2026-10, 2026-11, 2026-12)"),
        "{done}"
    );
    let id = page.trim_start_matches("/exports/");
    let file = get_bytes(&site, &format!("/exports/{id}/file"), &cookie);
    assert_eq!(file.status, StatusCode::OK);
    assert_eq!(
        file.content_type,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    assert!(
        file.disposition.starts_with("attachment; filename=\"")
            && file.disposition.contains(
                "filename*=UTF-8''%D0%A3%D1%81%D0%BB%D1%83%D0%B3%D0%B8%20demo%2015.10.2026"
            ),
        "{}",
        file.disposition
    );
    let path = site._dir.path().join("downloaded.xlsx");
    std::fs::write(&path, &file.body).unwrap();
    let book = openpyxl(&path);
    check_workbook(&book, &units, &["2026-10", "2026-11", "2026-12"]);
    // Names as the journal shows them.
    let names = book[1]["recipients"].as_array().unwrap();
    let first = site.inst.recipients[0].1.as_str();
    assert!(
        names.iter().any(|n| first.contains(n.as_str().unwrap())),
        "{first} in {names:?}"
    );
    // The list shows it with its link; the file is in the exports directory beside the data.
    let list = site.send(Method::GET, "/exports", Some(&cookie), None);
    assert!(
        list.body.contains(&format!("/exports/{id}/file")),
        "{}",
        list.body
    );
    assert!(
        site._dir
            .path()
            .join("exports")
            .join(format!("{id}.xlsx"))
            .exists()
    );
    // Asked for and downloaded: both in the audit log, with the period.
    let log = site
        .rt
        .block_on(site.store.call(|s| s.audit_log(50)))
        .unwrap();
    for action in ["export_units", "download_export"] {
        let e = log
            .iter()
            .find(|e| e.action == action)
            .unwrap_or_else(|| panic!("{action} in the audit log"));
        assert_eq!(e.login, "specialist");
        assert_eq!(e.subject, "site demo");
        assert!(e.detail.contains("2026-10-15..2026-12-11") && e.detail.contains(id));
    }
}

#[test]
fn a_wrong_period_is_said_at_its_field() {
    let site = Site::new();
    let (cookie, csrf) = site.sign_in("head");
    for (from, to, says) in [
        (
            "2026-12-01",
            "2026-11-01",
            "Конец периода раньше его начала",
        ),
        ("2025-01-01", "2026-11-30", "Период длиннее года"),
        ("", "2026-11-30", "Укажите дату"),
    ] {
        let a = site.send(
            Method::POST,
            "/exports",
            Some(&cookie),
            Some(&format!(
                "csrf={csrf}&from={from}&to={to}&site=demo&format=xlsx"
            )),
        );
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{from}..{to}");
        assert!(a.body.contains(says), "{}", a.body);
    }
    let a = site.send(
        Method::POST,
        "/exports",
        Some(&cookie),
        Some(&format!(
            "csrf={csrf}&from=2026-11-01&to=2026-11-30&site=demo&format=pdf"
        )),
    );
    assert!(a.body.contains("Выберите формат"), "{}", a.body);
}

#[test]
fn an_export_is_its_owners_alone_and_a_forged_id_is_a_russian_404() {
    let site = Site::new();
    let (head, head_csrf) = site.sign_in("head");
    let page = start(&site, &head, &head_csrf, "2026-11-01", "2026-11-30", "csv");
    wait_done(&site, &head, &page);
    let (specialist, _) = site.sign_in("specialist");
    let id = page.trim_start_matches("/exports/");
    let forged = uuid::Uuid::new_v4().to_string();
    for path in [
        page.clone(),
        format!("{page}/file"),
        format!("/exports/{forged}"),
        format!("/exports/{forged}/file"),
        "/exports/..%2F..%2Fjournal.db/file".to_string(),
        "/exports/not-an-id".to_string(),
    ] {
        let a = site.send(Method::GET, &path, Some(&specialist), None);
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{path}");
        assert!(a.body.contains("Такой выгрузки нет"), "{path}: {}", a.body);
        assert!(!a.body.contains(id), "nothing of the head's export");
    }
    let list = site.send(Method::GET, "/exports", Some(&specialist), None);
    assert!(!list.body.contains(id), "not in another user's list");
    assert!(list.body.contains("Выгрузок пока нет"));
    // The head still gets theirs.
    let file = get_bytes(&site, &format!("{page}/file"), &head);
    assert_eq!(file.status, StatusCode::OK);
    assert_eq!(file.content_type, "text/csv; charset=utf-8");
    // The navigation offers the page to the roles that may export, and to no other.
    for (login, shown) in [
        ("head", true),
        ("specialist", true),
        ("admin", false),
        ("auditor", false),
    ] {
        let (cookie, _) = site.sign_in(login);
        let journal = site.send(Method::GET, "/journal", Some(&cookie), None);
        assert_eq!(
            journal.body.contains("href=\"/exports\""),
            shown,
            "{login}'s navigation"
        );
        let a = site.send(Method::GET, "/exports", Some(&cookie), None);
        assert_eq!(a.status == StatusCode::OK, shown, "{login}: {}", a.status);
    }
}

/// Runs `otmetka-journal export` on the site's config; returns its stdout and stderr.
fn cli_export(site: &Site, args: &[&str]) -> (String, String) {
    let out =
        std::process::Command::new(otmetka_tests::site::sibling_binary("otmetka-journal").unwrap())
            .arg("export")
            .arg("--config")
            .arg(&site.inst.config)
            .args(args)
            .output()
            .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "{stdout}{stderr}");
    (stdout, stderr)
}

#[test]
fn the_command_exports_csv_for_excel_and_a_title_with_a_semicolon_and_quotes_reads_back() {
    let site = Site::new();
    let (from, to) = (day(2026, 11, 1), day(2026, 12, 11));
    let units = held(&site, from, to);
    // A copy of the catalogue in which the title of a service the units use has a `;` and `"`.
    let text = std::fs::read_to_string(&site.inst.config).unwrap();
    let catalogue_path = text
        .lines()
        .find_map(|l| l.strip_prefix("catalogue = \""))
        .unwrap()
        .trim_end_matches('"')
        .to_string();
    let toml = std::fs::read_to_string(&catalogue_path).unwrap();
    let catalogue = otmetka_core::catalogue::Catalogue::from_toml("services.toml", &toml).unwrap();
    let (code, title) = units
        .iter()
        .filter_map(|u| catalogue.get(&u.unit.service))
        .map(|s| (s.code.0.clone(), s.title_ru.clone()))
        .find(|(_, t)| toml.matches(&format!("title_ru = \"{t}\"")).count() == 1)
        .expect("a service of the units with a title of its own");
    let odd = format!("{title}; клуб \"Встреча\"");
    let copy = site._dir.path().join("services.toml");
    std::fs::write(
        &copy,
        toml.replace(
            &format!("title_ru = \"{title}\""),
            &format!("title_ru = \"{}\"", odd.replace('"', "\\\"")),
        ),
    )
    .unwrap();
    std::fs::write(
        &site.inst.config,
        text.replace(&catalogue_path, &copy.display().to_string()),
    )
    .unwrap();
    let out = site._dir.path().join("units.csv");
    let (stdout, stderr) = cli_export(
        &site,
        &[
            "--from",
            "2026-11-01",
            "--to",
            "2026-12-11",
            "--format",
            "csv",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(
        stdout.contains(&format!("exported {} units", units.len())),
        "{stdout}"
    );
    assert!(
        !stderr.contains('\x1b') && !stderr.contains('\r'),
        "no progress bar drawn into a pipe: {stderr:?}"
    );
    let bytes = std::fs::read(&out).unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "a BOM for Excel");
    let text = std::str::from_utf8(&bytes[3..]).unwrap();
    assert!(
        text.contains(&format!("\"{}\"", odd.replace('"', "\"\""))),
        "the title is quoted, its quotes doubled"
    );
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_reader(&bytes[3..]);
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header[..3], ["Дата", "Код услуги", "Услуга"]);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (c_code, c_title, c_date, c_people, c_unit) = (
        col("Код услуги"),
        col("Услуга"),
        col("Дата"),
        col("Человек"),
        col("Код единицы"),
    );
    let mut got = Figures::new();
    let mut ids = Vec::new();
    for rec in reader.records() {
        let rec = rec.unwrap();
        assert_eq!(rec.len(), header.len(), "{rec:?}");
        if rec[c_code] == code {
            assert_eq!(&rec[c_title], odd, "the title reads back whole");
        }
        let date = NaiveDate::parse_from_str(&rec[c_date], "%d.%m.%Y").unwrap();
        let e = got
            .entry(format!("{:04}-{:02}", date.year(), date.month()))
            .or_default()
            .entry(rec[c_code].to_string())
            .or_default();
        e.0 += 1;
        e.1 += rec[c_people].parse::<u64>().unwrap();
        ids.push(rec[c_unit].to_string());
    }
    assert_eq!(
        got,
        figures(&units),
        "units and people per month and service"
    );
    assert_eq!(ids.len(), units.len());
    // The same period as a workbook from the command line.
    let out = site._dir.path().join("units.xlsx");
    cli_export(
        &site,
        &[
            "--from",
            "2026-11-01",
            "--to",
            "2026-12-11",
            "--format",
            "xlsx",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    check_workbook(&openpyxl(&out), &units, &["2026-11", "2026-12"]);
    assert!(!out.with_extension("xlsx.part").exists());
    // The command's exports are audited too.
    let log = site
        .rt
        .block_on(site.store.call(|s| s.audit_log(50)))
        .unwrap();
    assert_eq!(log.iter().filter(|e| e.action == "export_units").count(), 2);
}
