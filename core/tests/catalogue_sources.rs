//! `config/services.toml` checked against the seed texts in `docs/standards/`: every citation must
//! stand at its line, every number must appear in its citation, every line must lie within the
//! service's source lines, and those lines must exist. The checking is done by
//! [`check_catalogue`], which the tests at the bottom also run on deliberately wrong entries, so
//! that a checker that accepts everything would fail.

use otmetka_core::catalogue::{Catalogue, Citation, Period, Service, ServiceCode, UnitRule};
use std::collections::HashMap;
use std::path::PathBuf;

/// Lines of each seed, by seed number ("002" → lines of `docs/standards/002_*.txt`).
type Seeds = HashMap<String, Vec<String>>;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn load_catalogue() -> Catalogue {
    let path = repo_root().join("config/services.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Catalogue::from_toml("config/services.toml", &text).unwrap_or_else(|e| panic!("{e}"))
}

fn load_seeds() -> Seeds {
    let dir = repo_root().join("docs/standards");
    let mut seeds = Seeds::new();
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("a readable entry of docs/standards").path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        if !name.ends_with(".txt") {
            continue;
        }
        let Some((number, _)) = name.split_once('_') else {
            continue;
        };
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        // `str::lines` numbers lines as `sed -n 'Np'` does (1-based once we add 1).
        let previous = seeds.insert(
            number.to_string(),
            text.lines().map(str::to_string).collect(),
        );
        assert!(previous.is_none(), "two seed files numbered {number}");
    }
    seeds
}

/// Runs of whitespace collapsed to one space, ends trimmed.
fn normalise(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Russian numeral words for small numbers, in the forms the seeds use.
fn numeral_words(n: u32) -> &'static [&'static str] {
    match n {
        1 => &[
            "один",
            "одна",
            "одно",
            "одного",
            "одной",
            "одному",
            "одним",
            "однократно",
        ],
        2 => &["два", "две", "двух", "двум", "дважды"],
        3 => &["три", "трёх", "трех", "трём", "трем", "трижды"],
        4 => &["четыре", "четырёх", "четырех"],
        5 => &["пять", "пяти"],
        6 => &["шесть", "шести"],
        7 => &["семь", "семи"],
        8 => &["восемь", "восьми"],
        9 => &["девять", "девяти"],
        10 => &["десять", "десяти"],
        _ => &[],
    }
}

/// Whether `n` stands in `text` as a whole number in digits or as a numeral word.
fn states_number(text: &str, n: u32) -> bool {
    let digits = text
        .split(|c: char| !c.is_ascii_digit())
        .filter(|run| !run.is_empty())
        .any(|run| run.parse::<u64>().ok() == Some(u64::from(n)));
    let lower = text.to_lowercase();
    let words = lower
        .split(|c: char| !c.is_alphabetic())
        .any(|w| numeral_words(n).contains(&w));
    digits || words
}

/// Whether a number of minutes (or a count) stands in `text`: as itself, or, where the text
/// speaks of hours ("до 3 часов", "до одного часа"), as whole hours.
fn cites_number(text: &str, n: u32) -> bool {
    states_number(text, n)
        || (n % 60 == 0 && text.to_lowercase().contains("час") && states_number(text, n / 60))
}

/// Joins the lines and undoes the seed's hyphenation across lines ("про- фессиональным").
fn joined_dehyphenated(lines: &[String]) -> String {
    let joined = normalise(&lines.join(" "));
    let chars: Vec<char> = joined.chars().collect();
    let mut out = String::with_capacity(joined.len());
    let mut i = 0;
    while i < chars.len() {
        let hyphen_break = chars[i] == '-'
            && i > 0
            && chars[i - 1].is_lowercase()
            && chars.get(i + 1) == Some(&' ')
            && chars.get(i + 2).is_some_and(|c| c.is_lowercase());
        if hyphen_break {
            i += 2;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// Checks one citation; `what` names it in the problems.
fn check_citation(
    problems: &mut Vec<String>,
    service: &Service,
    lines: &[String],
    what: &str,
    cite: &Citation,
    numbers: &[(&str, u32)],
) {
    let code = &service.code;
    let [first, last] = service.source.lines;
    if cite.line < first || cite.line > last {
        problems.push(format!(
            "{code}: {what} line {} lies outside the source lines [{first}, {last}]",
            cite.line
        ));
    }
    let n = cite.line as usize;
    let Some(at) = n.checked_sub(1).and_then(|i| lines.get(i)) else {
        problems.push(format!(
            "{code}: {what} line {n} is not in seed {}",
            service.source.seed
        ));
        return;
    };
    let fragment = normalise(&cite.text);
    let here = normalise(at);
    let with_next = normalise(&format!("{at} {}", lines.get(n).map_or("", String::as_str)));
    // The fragment must start on line N; it may run on into line N+1.
    let starts_here = with_next
        .match_indices(fragment.as_str())
        .any(|(at, _)| at < here.len());
    if fragment.is_empty() || !starts_here {
        problems.push(format!(
            "{code}: {what} text {fragment:?} does not stand at line {n} of seed {} (the line reads {here:?})",
            service.source.seed
        ));
    }
    for (field, number) in numbers {
        if !cites_number(&fragment, *number) {
            problems.push(format!(
                "{code}: {field} = {number} does not appear in its citation {fragment:?} (line {n})"
            ));
        }
    }
}

/// Every problem found in `catalogue` against `seeds`; empty when all is well.
fn check_catalogue(catalogue: &Catalogue, seeds: &Seeds) -> Vec<String> {
    let mut problems = Vec::new();
    for service in &catalogue.services {
        let code = &service.code;
        let Some(lines) = seeds.get(&service.source.seed) else {
            problems.push(format!(
                "{code}: no seed {} in docs/standards",
                service.source.seed
            ));
            continue;
        };
        let [first, last] = service.source.lines;
        if first == 0 || first > last || last as usize > lines.len() {
            problems.push(format!(
                "{code}: source lines [{first}, {last}] do not exist in seed {} ({} lines)",
                service.source.seed,
                lines.len()
            ));
            continue;
        }
        let source_lines = &lines[first as usize - 1..last as usize];

        // The item's number heads one of its lines ("1.7.1", "\t2.12.", "7.5.1. Организация").
        let item = service.source.item.trim_start_matches('§');
        if !item.is_empty() {
            let heads = source_lines.iter().any(|l| {
                let l = l.trim();
                l.strip_prefix(item).is_some_and(|rest| {
                    rest.is_empty() || rest.starts_with('.') || rest.starts_with(' ')
                })
            });
            if !heads {
                problems.push(format!(
                    "{code}: item {item} heads none of the lines [{first}, {last}]"
                ));
            }
        }

        // The Russian title is the seed's own.
        let source_text = joined_dehyphenated(source_lines).to_lowercase();
        if !source_text.contains(&normalise(&service.title_ru).to_lowercase()) {
            problems.push(format!(
                "{code}: title_ru {:?} is not in lines [{first}, {last}]",
                service.title_ru
            ));
        }

        // Each number with its citation.
        let cited_numbers = [
            (
                "group_min",
                service.group_min,
                "group_min_cite",
                &service.group_min_cite,
            ),
            (
                "group_max",
                service.group_max,
                "group_max_cite",
                &service.group_max_cite,
            ),
            (
                "time_norm_minutes",
                service.time_norm_minutes,
                "time_norm_cite",
                &service.time_norm_cite,
            ),
        ];
        for (field, number, cite_key, cite) in cited_numbers {
            match (number, cite) {
                (Some(n), Some(c)) => {
                    check_citation(&mut problems, service, lines, cite_key, c, &[(field, n)])
                }
                (Some(n), None) => problems.push(format!("{code}: {field} = {n} has no citation")),
                (None, Some(c)) => problems.push(format!(
                    "{code}: {field} is absent but cited at line {}",
                    c.line
                )),
                (None, None) => {}
            }
        }
        for (i, limit) in service.limits.iter().enumerate() {
            let mut numbers = vec![("limits.max", limit.max)];
            if let Period::Course { days } = limit.period {
                numbers.push(("limits.days", days));
            }
            match &limit.cite {
                Some(c) => check_citation(
                    &mut problems,
                    service,
                    lines,
                    &format!("limits[{i}].cite"),
                    c,
                    &numbers,
                ),
                None => problems.push(format!("{code}: limits[{i}] has no citation")),
            }
        }
        match (&service.unit_cite, service.unit_assumed) {
            (Some(c), false) => check_citation(&mut problems, service, lines, "unit_cite", c, &[]),
            (None, false) => problems.push(format!("{code}: a stated unit without unit_cite")),
            (Some(c), true) => problems.push(format!(
                "{code}: unit_assumed but a unit is cited at line {}",
                c.line
            )),
            (None, true) => {
                if service.unit != UnitRule::PerRecipient {
                    problems.push(format!("{code}: an assumed unit must be per_recipient"));
                }
            }
        }
    }
    problems
}

/// The 30 services of domain.md §2: 000, 001, 16 items of 002, 13 items of 004.
const CODES: [&str; 31] = [
    "000",
    "001",
    "002-1.7.1",
    "002-1.7.2",
    "002-1.12",
    "002-2.3.3",
    "002-2.4",
    "002-2.5",
    "002-3.5",
    "002-3.6.1",
    "002-4.4",
    "002-4.5",
    "002-4.7",
    "002-5.1",
    "002-7.2",
    "002-7.3",
    "002-7.4",
    "003",
    "004-1.7.2",
    "004-2.12",
    "004-3.3",
    "004-4.4",
    "004-4.5",
    "004-4.6.1",
    "004-4.6.2",
    "004-5.1",
    "004-7.2",
    "004-7.3",
    "004-7.4",
    "004-7.5.1",
    "004-7.5.2",
];

#[test]
fn catalogue_has_the_31_services() {
    let catalogue = load_catalogue();
    let codes: Vec<&str> = catalogue
        .services
        .iter()
        .map(|s| s.code.0.as_str())
        .collect();
    assert_eq!(codes.len(), 31, "{codes:?}");
    // Patronage (003) is the one given at home: not offered at kiosks.
    let home: Vec<&str> = catalogue
        .services
        .iter()
        .filter(|s| s.home_visit)
        .map(|s| s.code.0.as_str())
        .collect();
    assert_eq!(home, ["003"]);
    assert_eq!(codes, CODES);
}

#[test]
fn every_citation_number_and_line_stands_in_the_seeds() {
    let catalogue = load_catalogue();
    let seeds = load_seeds();
    let problems = check_catalogue(&catalogue, &seeds);
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
    let citations: usize = catalogue.services.iter().map(|s| s.citations().len()).sum();
    println!(
        "checked {} services, {citations} citations",
        catalogue.services.len()
    );
}

#[test]
fn seeds_are_the_shipped_copies() {
    let seeds = load_seeds();
    let mut numbers: Vec<&str> = seeds.keys().map(String::as_str).collect();
    numbers.sort_unstable();
    assert_eq!(numbers, ["000", "001", "002", "003", "004"]);
    // Anchors from domain.md: if a seed file is edited or swapped, these move.
    assert!(seeds["002"][1170].trim() == "1.7.1");
    assert!(seeds["004"][363].contains("до 180 минут"));
}

// ---- The checker itself, on wrong entries. ----

fn service<'a>(catalogue: &'a mut Catalogue, code: &str) -> &'a mut Service {
    catalogue
        .services
        .iter_mut()
        .find(|s| s.code == ServiceCode::from(code))
        .unwrap_or_else(|| panic!("no service {code} in the catalogue"))
}

/// Runs the checker on the shipped catalogue after `change`; returns its problems.
fn problems_after(change: impl FnOnce(&mut Catalogue)) -> Vec<String> {
    let mut catalogue = load_catalogue();
    change(&mut catalogue);
    check_catalogue(&catalogue, &load_seeds())
}

fn assert_reported(problems: &[String], needle: &str) {
    assert!(
        problems.iter().any(|p| p.contains(needle)),
        "expected a problem containing {needle:?}, got {problems:?}"
    );
}

#[test]
fn checker_reports_a_citation_not_at_its_line() {
    let problems = problems_after(|c| {
        let s = service(c, "002-2.5");
        s.time_norm_cite.as_mut().unwrap().line = 1975;
    });
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_reported(&problems, "002-2.5: time_norm_cite text");
    assert_reported(&problems, "does not stand at line 1975");
}

#[test]
fn checker_reports_a_citation_of_the_blank_line_before() {
    let problems = problems_after(|c| {
        service(c, "002-4.5").limits[0].cite.as_mut().unwrap().line = 3168;
    });
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_reported(&problems, "does not stand at line 3168");
}

#[test]
fn checker_reports_a_changed_word() {
    let problems = problems_after(|c| {
        let cite = service(c, "001").limits[0].cite.as_mut().unwrap();
        cite.text = cite.text.replace("двух", "трёх");
    });
    // The text is no longer at line 9, and "трёх" is not 2.
    assert_reported(&problems, "001: limits[0].cite text");
    assert_reported(&problems, "001: limits.max = 2 does not appear");
}

#[test]
fn checker_reports_a_number_not_in_its_citation() {
    let problems = problems_after(|c| service(c, "004-7.5.2").limits[0].max = 3);
    assert_eq!(
        problems,
        [
            "004-7.5.2: limits.max = 3 does not appear in its citation \"Социальная услуга предоставляется до 2 раз в квартал.\" (line 364)"
        ]
    );
    let problems = problems_after(|c| {
        let s = service(c, "000");
        s.limits[0].period = Period::Course { days: 18 };
    });
    assert_reported(&problems, "000: limits.days = 18 does not appear");
    let problems = problems_after(|c| service(c, "001").time_norm_minutes = Some(120));
    assert_reported(&problems, "001: time_norm_minutes = 120 does not appear");
}

#[test]
fn checker_reports_a_citation_outside_the_source_lines() {
    let problems = problems_after(|c| service(c, "002-1.7.1").source.lines = [1171, 1198]);
    assert_reported(
        &problems,
        "002-1.7.1: time_norm_cite line 1199 lies outside the source lines [1171, 1198]",
    );
    assert_reported(&problems, "002-1.7.1: unit_cite line 1201 lies outside");
}

#[test]
fn checker_reports_source_lines_beyond_the_seed() {
    let problems = problems_after(|c| service(c, "001").source.lines = [3, 61]);
    assert_eq!(
        problems,
        ["001: source lines [3, 61] do not exist in seed 001 (60 lines)"]
    );
}

#[test]
fn checker_reports_wrong_item_and_title() {
    let problems = problems_after(|c| service(c, "002-7.3").source.item = "§7.9".into());
    assert_eq!(
        problems,
        ["002-7.3: item 7.9 heads none of the lines [3897, 3935]"]
    );
    let problems = problems_after(|c| service(c, "004-7.4").title_ru = "Компьютерные курсы".into());
    assert_reported(&problems, "004-7.4: title_ru");
}

#[test]
fn checker_reports_missing_citations() {
    let problems = problems_after(|c| {
        let s = service(c, "002-7.4");
        s.group_max_cite = None;
        s.limits[0].cite = None;
        s.unit_cite = None;
    });
    assert_eq!(
        problems,
        [
            "002-7.4: group_max = 8 has no citation",
            "002-7.4: limits[0] has no citation",
            "002-7.4: a stated unit without unit_cite",
        ]
    );
}

#[test]
fn checker_reports_an_unknown_seed() {
    let problems = problems_after(|c| service(c, "000").source.seed = "009".into());
    assert_eq!(problems, ["000: no seed 009 in docs/standards"]);
}

#[test]
fn a_citation_may_run_on_into_the_next_line() {
    let seeds: Seeds = [(
        "009".to_string(),
        ["Услуга предоставляется до", "2 раз", "в неделю."]
            .map(String::from)
            .to_vec(),
    )]
    .into();
    let text = r#"
[[services]]
code = "009"
title_ru = "Услуга"
title_en = "Service"
unit = "per_recipient"
unit_assumed = true
source = { seed = "009", lines = [1, 3] }
[[services.limits]]
max = 2
period = "week"
cite = { line = 1, text = "предоставляется до 2 раз" }
"#;
    let catalogue = Catalogue::from_toml("test.toml", text).unwrap();
    assert_eq!(check_catalogue(&catalogue, &seeds), Vec::<String>::new());
    // A fragment that only stands on the next line is not at line N.
    let next_only = text.replace("предоставляется до 2 раз", "2 раз");
    let catalogue = Catalogue::from_toml("test.toml", &next_only).unwrap();
    assert_eq!(check_catalogue(&catalogue, &seeds).len(), 1);
    // Two lines on is too far.
    let far = text.replace("до 2 раз\"", "до 2 раз в неделю\"");
    let catalogue = Catalogue::from_toml("test.toml", &far).unwrap();
    assert_eq!(check_catalogue(&catalogue, &seeds).len(), 1);
}

#[test]
fn numbers_in_words_and_hours() {
    assert!(cites_number("до двух раз в неделю", 2));
    assert!(cites_number("не более 2-х в неделю", 2));
    assert!(cites_number("продолжительностью до одного часа", 60));
    assert!(cites_number("до 3 часов", 180));
    assert!(cites_number("пять раз в неделю", 5));
    assert!(cites_number("в группе (5 - 8 человек)", 8));
    assert!(!cites_number("до 3 часов", 120));
    assert!(
        !cites_number("до 3 раз в неделю", 180),
        "hours only where the text says hours"
    );
    assert!(
        !cites_number("до 14 раз", 4),
        "a digit inside a number is not the number"
    );
    assert!(!cites_number("до 40 минут", 4));
    assert!(!cites_number("тридцать", 3), "words are whole words");
}
