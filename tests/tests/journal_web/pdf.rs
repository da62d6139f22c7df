//! The PDF documents (the documents issue, point 1): the monthly act and a group's month of
//! the journal, downloaded from the pages and written by `otmetka-journal act` / `journal-pdf`,
//! read back with poppler (`pdftotext -layout`, `pdfinfo`, `pdffonts`: a reader that is not our
//! writer) and set against what the generator produced and what the pages show: the figures,
//! the Russian words, the signature lines, A4, the page numbers, the table header repeated on
//! the next page, the font embedded; each download in the audit log.

use super::{Site, institution};
use axum::http::{Method, StatusCode};
use chrono::{Datelike, NaiveDate};
use std::path::{Path, PathBuf};

/// Runs a poppler tool on `pdf`; its standard output.
fn poppler(tool: &str, args: &[&str], pdf: &Path) -> String {
    let out = std::process::Command::new(tool)
        .args(args)
        .arg(pdf)
        .args(if tool == "pdftotext" {
            &["-"][..]
        } else {
            &[][..]
        })
        .output()
        .unwrap_or_else(|e| panic!("{tool} (apt-get install poppler-utils): {e}"));
    assert!(
        out.status.success(),
        "{tool}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The text of `pdf` (pages `first..=last` when given), laid out as printed.
fn text(pdf: &Path, pages: Option<(u32, u32)>) -> String {
    let range = pages.map(|(f, l)| [f.to_string(), l.to_string()]);
    let mut args = vec!["-layout"];
    if let Some([f, l]) = &range {
        args.extend(["-f", f.as_str(), "-l", l.as_str()]);
    }
    poppler("pdftotext", &args, pdf)
}

/// `pdfinfo`'s page count and page size.
fn info(pdf: &Path) -> (u32, String) {
    let out = poppler("pdfinfo", &[], pdf);
    let field = |name: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| panic!("{name} in pdfinfo's output:\n{out}"))
    };
    (field("Pages:").parse().unwrap(), field("Page size:"))
}

/// Checks that every font of `pdf` is embedded and that it is DejaVu.
fn fonts_embedded(pdf: &Path) {
    let out = poppler("pdffonts", &[], pdf);
    let rows: Vec<&str> = out.lines().skip(2).collect();
    assert!(!rows.is_empty(), "fonts listed:\n{out}");
    for row in &rows {
        let cols: Vec<&str> = row.split_whitespace().collect();
        // name type [encoding…] emb sub uni object ID: emb is the fifth from the end.
        assert_eq!(cols[cols.len() - 5], "yes", "embedded: {row}\n{out}");
        assert!(row.contains("DejaVuSans"), "DejaVu: {row}");
    }
}

/// Downloads `path` as `cookie` into the site's directory as `name`; checks it is a PDF.
fn download(site: &Site, path: &str, cookie: &str, name: &str) -> (PathBuf, String) {
    let d = super::export::get_bytes(site, path, cookie);
    assert_eq!(
        d.status,
        StatusCode::OK,
        "{path}: {}",
        String::from_utf8_lossy(&d.body)
    );
    assert_eq!(d.content_type, "application/pdf", "{path}");
    assert!(d.body.starts_with(b"%PDF-"), "{path}: a PDF");
    let file = site._dir.path().join(name);
    std::fs::write(&file, &d.body).unwrap();
    (file, d.disposition)
}

/// With `OTMETKA_UPDATE_SCREENS=1`, page `page` of `pdf` as `docs/screens/NAME.png` (80 dpi,
/// `pdftoppm`), to look at.
fn update_screen(pdf: &Path, page: u32, name: &str) {
    if std::env::var("OTMETKA_UPDATE_SCREENS").as_deref() != Ok("1") {
        return;
    }
    let to = otmetka_tests::site::repo_root()
        .join("docs/screens")
        .join(name);
    let p = page.to_string();
    let ok = std::process::Command::new("pdftoppm")
        .args(["-png", "-r", "80", "-singlefile", "-f", &p, "-l", &p])
        .arg(pdf)
        .arg(&to)
        .status()
        .unwrap()
        .success();
    assert!(ok, "pdftoppm {}", to.display());
}

/// Squeezes runs of spaces: a line of `pdftotext -layout` as words.
fn words(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The act's rows as (number, code, given) from its text: each row's first line starts with
/// its number and service code; «Оказано» is the first number after the dates.
fn act_rows(text: &str) -> Vec<(usize, String, usize)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let w: Vec<&str> = line.split_whitespace().collect();
        let (Some(n), Some(code)) = (w.first(), w.get(1)) else {
            continue;
        };
        // A code is three digits and maybe an item: «000», «002-5.1».
        let (head, item) = code.split_once('-').unwrap_or((code, ""));
        let is_code = head.len() == 3
            && head.chars().all(|c| c.is_ascii_digit())
            && item.chars().all(|c| c.is_ascii_digit() || c == '.');
        let (Ok(n), true) = (n.parse::<usize>(), is_code) else {
            continue;
        };
        // The count stands alone after the dates («02.11, 05.11,») and before the plan.
        let given = w[2..]
            .iter()
            .find_map(|t| t.parse::<usize>().ok())
            .unwrap_or_else(|| panic!("a count in {line:?}"));
        out.push((n, code.to_string(), given));
    }
    out
}

#[test]
fn the_act_as_pdf_has_the_pages_figures_words_and_signature_lines_on_a4_with_dejavu_embedded() {
    let site = Site::new();
    let (cookie, _) = site.sign_in("specialist");
    let month = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
    // The acts' list offers each act's PDF; the act's page links to its own.
    let list = site.send(Method::GET, "/acts?month=2026-11", Some(&cookie), None);
    let (who, name) = site.inst.recipients[0].clone();
    let link = format!("/acts/{who}/pdf?month=2026-11&amp;site=demo");
    assert!(list.body.contains(&link), "{}", list.body);
    assert!(list.body.contains("Скачать PDF"));
    for (who, _) in site.inst.recipients.iter().take(4) {
        let page = site.send(
            Method::GET,
            &format!("/acts/{who}?month=2026-11"),
            Some(&cookie),
            None,
        );
        assert!(
            page.body
                .contains(&format!("/acts/{who}/pdf?month=2026-11&amp;site=demo")),
            "the act's page links to its PDF"
        );
        let (pdf, disposition) = download(
            &site,
            &format!("/acts/{who}/pdf?month=2026-11"),
            &cookie,
            &format!("act-{who}.pdf"),
        );
        assert!(
            disposition.starts_with("attachment; filename=\"otmetka-act-2026-11-")
                && disposition.contains("filename*=UTF-8''%D0%90%D0%BA%D1%82%20"),
            "{disposition}"
        );
        let t = text(&pdf, None);
        let full_name = page
            .body
            .split("Получатель социальных услуг: <strong>")
            .nth(1)
            .and_then(|r| r.split('<').next())
            .unwrap();
        let all = words(&t);
        for expected in [
            "АКТ",
            "о предоставлении социальных услуг",
            "за период с 01.11.2026 по 30.11.2026 (ноябрь 2026)",
            "Поставщик социальных услуг: отделение demo",
            &format!("Получатель социальных услуг: {full_name}"),
            "Составлено 11.12.2026",
        ] {
            assert!(all.contains(expected), "{expected:?} in the act:\n{t}");
        }
        // The header's words (its cells wrap in their columns).
        for expected in [
            "№",
            "Код",
            "Наименование",
            "Даты",
            "Оказано",
            "По программе",
        ] {
            assert!(
                t.lines()
                    .find(|l| l.contains("Наименование"))
                    .is_some_and(|l| l.contains(expected)),
                "{expected:?} in the header:\n{t}"
            );
        }
        // Each service's count as the generator gave it, and as the page shows it.
        let rows = act_rows(&t);
        let planned = &site.inst.planned[who];
        let mut total = 0;
        for service in planned.keys() {
            let given = site.inst.given(*who, service, month);
            total += given;
            let row = rows
                .iter()
                .find(|(_, code, _)| code == service)
                .unwrap_or_else(|| panic!("{service} in the act's rows {rows:?}\n{t}"));
            assert_eq!(row.2, given, "{service}: units given\n{t}");
            assert!(
                page.body
                    .contains(&format!("data-service=\"{service}\">{given}<")),
                "the page shows the same {given} for {service}"
            );
        }
        assert_eq!(
            rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            (1..=rows.len()).collect::<Vec<_>>(),
            "rows numbered in order"
        );
        assert!(
            t.lines()
                .any(|l| words(l) == format!("Итого оказано единиц социальных услуг {total}")),
            "total {total}:\n{t}"
        );
        assert!(
            page.body
                .contains(&format!("id=\"total\"><strong>{total}</strong>")),
            "the page's total is the PDF's"
        );
        // The plan words are the page's: every shortfall the page shows is in the PDF.
        let page_shorts = page.body.matches("меньше плана").count();
        assert_eq!(
            t.matches("меньше плана").count(),
            page_shorts,
            "shortfalls:\n{t}"
        );
        // Both sides sign: подпись / расшифровка / дата, twice.
        for label in ["(подпись)", "(расшифровка подписи)", "(дата)"] {
            assert_eq!(t.matches(label).count(), 2, "{label} twice:\n{t}");
        }
        assert!(t.contains("Поставщик социальных услуг"));
        assert!(t.contains("Получатель социальных услуг или его законный представитель"));
        let (pages, size) = info(&pdf);
        assert!(
            size.starts_with("595.") && size.contains(" x 841.") && size.contains("(A4)"),
            "{size}"
        );
        assert!(
            t.contains(&format!("Страница 1 из {pages}")),
            "page numbers:\n{t}"
        );
        fonts_embedded(&pdf);
        if *who == site.inst.recipients[1].0 {
            update_screen(&pdf, 1, "act_pdf");
        }
    }
    // Each download is in the audit log with whose act it was.
    let log = site
        .rt
        .block_on(site.store.call(|s| s.audit_log(100)))
        .unwrap();
    let entry = log
        .iter()
        .find(|e| e.action == "download_act_pdf" && e.subject == who.to_string())
        .unwrap_or_else(|| panic!("the download of {name}'s act in the audit log"));
    assert_eq!(entry.login, "specialist");
    assert!(entry.detail.contains("ноябрь 2026"), "{}", entry.detail);
    assert_eq!(
        log.iter()
            .filter(|e| e.action == "download_act_pdf")
            .count(),
        4
    );
}

#[test]
fn a_groups_month_in_pdf_has_the_pages_sessions_over_several_pages_with_the_header_repeated() {
    let site = Site::new();
    let (cookie, _) = site.sign_in("head");
    let journal = site.send(Method::GET, "/journal?month=2026-11", Some(&cookie), None);
    let link = format!(
        "/journal/pdf?month=2026-11&amp;site=demo&amp;group={}",
        institution::CLUB
    );
    assert!(journal.body.contains(&link), "{}", journal.body);
    // The page with the group picked: its rows and units are the PDF's.
    let page = site.send(
        Method::GET,
        &format!("/journal?month=2026-11&group={}", institution::CLUB),
        Some(&cookie),
        None,
    );
    let sessions = page.body.matches("<tr id=\"s-").count();
    assert!(
        sessions > 10,
        "a month long enough to span pages: {sessions}"
    );
    let units: usize = page
        .body
        .split("<tr id=\"s-")
        .skip(1)
        .map(|row| {
            row.split("class=\"num\">")
                .nth(1)
                .and_then(|r| r.split('<').next())
                .unwrap()
                .parse::<usize>()
                .unwrap()
        })
        .sum();
    let (pdf, _) = download(
        &site,
        &format!("/journal/pdf?month=2026-11&group={}", institution::CLUB),
        &cookie,
        "club.pdf",
    );
    let (pages, size) = info(&pdf);
    assert!(pages >= 2, "the month spans pages: {pages}");
    assert!(
        size.starts_with("841.") && size.contains(" x 595."),
        "A4 landscape: {size}"
    );
    let all = text(&pdf, None);
    for expected in [
        "Журнал учёта социальных услуг",
        "группа «Клуб «Рукодельница»» — ноябрь 2026 (с 01.11.2026 по 30.11.2026)",
        &format!("занятий — {sessions}, единиц услуг — {units}"),
        &format!("Итого единиц {units}"),
        "Итоги по участникам группы",
    ] {
        assert!(
            all.lines().any(|l| words(l).contains(expected)),
            "{expected:?} in the journal:\n{all}"
        );
    }
    // Every session of the page, numbered: the last number is the page's count.
    let numbered = |t: &str, n: usize| {
        t.lines().any(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            w.first() == Some(&n.to_string().as_str())
                && w.get(1).is_some_and(|d| d.ends_with(".11.2026"))
        })
    };
    assert!(numbered(&all, sessions), "row {sessions}:\n{all}");
    assert!(!numbered(&all, sessions + 1), "no row past {sessions}");
    // Page 2 repeats the table's header and says which page it is.
    let second = text(&pdf, Some((2, 2)));
    let header = second
        .lines()
        .find(|l| l.contains("Участники"))
        .unwrap_or_else(|| panic!("the header on page 2:\n{second}"));
    assert_eq!(
        words(header),
        "№ Дата Время Услуга Специалист Участники Единиц Отметки",
        "{second}"
    );
    assert!(
        second.contains(&format!("Страница 2 из {pages}")),
        "{second}"
    );
    // Each member of the club with their sessions; the signatures at the end.
    let members: Vec<_> = site
        .inst
        .recipients
        .iter()
        .step_by(3)
        .map(|(r, _)| *r)
        .collect();
    let last = text(&pdf, Some((pages, pages)));
    let summary = all.split("Итоги по участникам группы").nth(1).unwrap();
    for m in &members {
        // One unit a session: the member's November units of the club's service (every
        // session of it is the club's) are their sessions of the club.
        let held = site
            .inst
            .units
            .iter()
            .filter(|(r, s, d)| r == m && s == "000" && d.month() == 11)
            .count();
        let name = site.inst.name(*m);
        let line = summary
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("{name} in the summary:\n{summary}"));
        let w: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(
            w[w.len() - 2..],
            [held.to_string(), held.to_string()],
            "{line}: one unit a session"
        );
    }
    for label in ["(подпись)", "(расшифровка подписи)", "(дата)"] {
        assert_eq!(all.matches(label).count(), 2, "{label}");
    }
    assert!(last.contains("Заведующий отделением"), "{last}");
    fonts_embedded(&pdf);
    update_screen(&pdf, 2, "journal_pdf");
    let log = site
        .rt
        .block_on(site.store.call(|s| s.audit_log(100)))
        .unwrap();
    let e = log
        .iter()
        .find(|e| e.action == "download_journal_pdf")
        .expect("the download in the audit log");
    assert_eq!(e.subject, format!("group {}", institution::CLUB));
    assert!(
        e.detail.contains(&format!("{sessions} sessions")),
        "{}",
        e.detail
    );
    // A group the site does not have: a Russian 404.
    let a = site.send(
        Method::GET,
        "/journal/pdf?month=2026-11&group=nobody",
        Some(&cookie),
        None,
    );
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert!(a.body.contains("Такой группы нет"), "{}", a.body);
}

/// Runs `otmetka-journal ARGS… --config` on the site; stdout (it must succeed).
fn journal_cmd(site: &Site, args: &[&str]) -> String {
    let out =
        std::process::Command::new(otmetka_tests::site::sibling_binary("otmetka-journal").unwrap())
            .args(args)
            .arg("--config")
            .arg(&site.inst.config)
            .output()
            .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn the_commands_write_the_same_act_and_group_month_as_the_pages() {
    let site = Site::new();
    let (cookie, _) = site.sign_in("head");
    let (who, _) = site.inst.recipients[3];
    let dir = site._dir.path();
    let out = dir.join("act.pdf");
    let said = journal_cmd(
        &site,
        &[
            "act",
            "--month",
            "2026-11",
            "--recipient",
            &who.to_string(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(said.contains("wrote the act of"), "{said}");
    assert!(!dir.join("act.pdf.part").exists());
    let (page_pdf, _) = download(
        &site,
        &format!("/acts/{who}/pdf?month=2026-11"),
        &cookie,
        "page-act.pdf",
    );
    // The same document but the day it was made on (the command runs on the real clock).
    let without_date = |t: String| -> Vec<String> {
        t.lines()
            .filter(|l| !l.contains("Составлено"))
            .map(words)
            .collect()
    };
    assert_eq!(
        without_date(text(&out, None)),
        without_date(text(&page_pdf, None)),
        "the command's act is the page's"
    );
    let out = dir.join("club.pdf");
    let said = journal_cmd(
        &site,
        &[
            "journal-pdf",
            "--month",
            "2026-11",
            "--group",
            "рукодельница",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(
        said.contains("wrote the journal of Клуб «Рукодельница»"),
        "{said}"
    );
    let (page_pdf, _) = download(
        &site,
        &format!("/journal/pdf?month=2026-11&group={}", institution::CLUB),
        &cookie,
        "page-club.pdf",
    );
    assert_eq!(
        without_date(text(&out, None)),
        without_date(text(&page_pdf, None))
    );
    let log = site
        .rt
        .block_on(site.store.call(|s| s.audit_log(100)))
        .unwrap();
    assert!(log.iter().any(|e| e.action == "download_act_pdf"
        && e.login == "otmetka-journal act"
        && e.subject == who.to_string()));
    assert!(log.iter().any(|e| e.action == "download_journal_pdf"
        && e.login == "otmetka-journal journal-pdf"));
}

#[test]
fn without_the_font_the_pdf_is_a_russian_error_and_an_institutions_template_is_used() {
    // No fonts where the config says: the page says what is missing; the HTML act still opens.
    let site = Site::with_config(|dir| {
        format!(
            "[documents]\nfonts_dir = \"{}\"\n",
            dir.join("no-fonts").display()
        )
    });
    let (cookie, _) = site.sign_in("auditor");
    let who = site.inst.recipients[0].0;
    let a = site.send(
        Method::GET,
        &format!("/acts/{who}/pdf?month=2026-11"),
        Some(&cookie),
        None,
    );
    assert_eq!(a.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        a.body.contains("нет шрифта") && a.body.contains("fonts-dejavu-core"),
        "{}",
        a.body
    );
    let page = site.send(
        Method::GET,
        &format!("/acts/{who}?month=2026-11"),
        Some(&cookie),
        None,
    );
    assert_eq!(page.status, StatusCode::OK);
    // An institution's own template (a copy with its name in the heading) and its name.
    let site = Site::with_config(|dir| {
        let templates = dir.join("templates");
        std::fs::create_dir_all(&templates).unwrap();
        let shipped = otmetka_tests::site::repo_root().join("config/templates");
        for name in ["act.typ", "journal.typ"] {
            let text = std::fs::read_to_string(shipped.join(name)).unwrap();
            std::fs::write(
                templates.join(name),
                text.replace("[АКТ]", "[АКТ ЦЕНТРА «ЗАБОТА»]"),
            )
            .unwrap();
        }
        "[documents]\ninstitution = \"ГБУ «Центр социального обслуживания «Забота»»\"\n\
         templates_dir = \"templates\"\n"
            .to_string()
    });
    let (cookie, _) = site.sign_in("head");
    let (pdf, _) = download(
        &site,
        &format!("/acts/{who}/pdf?month=2026-11"),
        &cookie,
        "own.pdf",
    );
    let t = text(&pdf, None);
    assert!(t.contains("АКТ ЦЕНТРА «ЗАБОТА»"), "{t}");
    assert!(
        words(&t).contains(
            "Поставщик социальных услуг: ГБУ «Центр социального обслуживания «Забота»», отделение demo"
        ),
        "{t}"
    );
    let page = site.send(
        Method::GET,
        &format!("/acts/{who}?month=2026-11"),
        Some(&cookie),
        None,
    );
    assert!(
        page.body
            .contains("ГБУ «Центр социального обслуживания «Забота»», отделение demo"),
        "the page names the provider as the PDF does"
    );
}
