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

/// Word stems that name `period` in Russian: a citation of a weekly cap must say "неделю".
fn period_words(period: Period) -> &'static [&'static str] {
    match period {
        Period::Day => &["день", "дня", "сутки", "ежедневно"],
        Period::Week => &["недел"],
        Period::Month => &["месяц"],
        Period::Quarter => &["квартал"],
        Period::Year => &["год"],
        Period::Course { .. } => &["курс"],
    }
}

/// Words that make a number a minimum ("от 1 раза", "не реже", "не менее") where they stand
/// right before it; a cap must not be cited with them, a floor must.
const FLOOR_WORDS: [&str; 4] = ["от", "не реже", "не менее", "не меньше"];

/// Whether `n` in `text` is preceded by a floor word ("от 1 раза в день").
fn cited_as_floor(text: &str, n: u32) -> bool {
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric() && c != '-')
        .filter(|w| !w.is_empty())
        .collect();
    words.iter().enumerate().any(|(i, w)| {
        let number = w.trim_end_matches("-х").parse::<u64>().ok() == Some(u64::from(n))
            || numeral_words(n).contains(w);
        number
            && FLOOR_WORDS.iter().any(|f| {
                let f: Vec<&str> = f.split(' ').collect();
                i >= f.len() && words[i - f.len()..i] == f[..]
            })
    })
}

/// Checks a frequency's period word and direction (cap or floor) in its citation.
fn check_frequency(
    problems: &mut Vec<String>,
    code: &ServiceCode,
    what: &str,
    count: u32,
    period: Period,
    cite: &Citation,
    floor: bool,
) {
    let lower = cite.text.to_lowercase();
    if !period_words(period).iter().any(|w| lower.contains(w)) {
        problems.push(format!(
            "{code}: {what} counts per {period:?}, but its citation {:?} (line {}) names no such period",
            cite.text, cite.line
        ));
    }
    match (floor, cited_as_floor(&cite.text, count)) {
        (false, true) => problems.push(format!(
            "{code}: {what} is a cap of {count}, but its citation {:?} (line {}) states a minimum: a floor",
            cite.text, cite.line
        )),
        (true, false) => problems.push(format!(
            "{code}: {what} is a floor of {count}, but its citation {:?} (line {}) does not state a minimum",
            cite.text, cite.line
        )),
        _ => {}
    }
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

        // An event form's norm stands in its citation, in minutes or in hours («до 4 часов»),
        // and is longer than the session's (else it is not another form).
        if let Some(e) = &service.event {
            let in_hours = e.time_norm_cite.text.contains("час") && e.time_norm_minutes % 60 == 0;
            let number = if in_hours {
                ("event.time_norm_minutes / 60", e.time_norm_minutes / 60)
            } else {
                ("event.time_norm_minutes", e.time_norm_minutes)
            };
            check_citation(
                &mut problems,
                service,
                lines,
                "event.time_norm_cite",
                &e.time_norm_cite,
                &[number],
            );
            if service
                .time_norm_minutes
                .is_some_and(|n| e.time_norm_minutes <= n)
            {
                problems.push(format!(
                    "{code}: event.time_norm_minutes = {} is not longer than the session's",
                    e.time_norm_minutes
                ));
            }
        }
        let caps = service
            .limits
            .iter()
            .map(|l| ("limits", "max", l.max, l.period, &l.cite, false));
        let floors = service
            .floors
            .iter()
            .map(|f| ("floors", "min", f.min, f.period, &f.cite, true));
        // A cap is the group's exactly where its citation says so («для группы получателей»).
        for (i, l) in service.limits.iter().enumerate() {
            let says_group = l
                .cite
                .as_ref()
                .is_some_and(|c| normalise(&c.text).to_lowercase().contains("для группы"));
            if l.per_group != says_group {
                problems.push(format!(
                    "{code}: limits[{i}].per is {:?}, but its citation {} «для группы»",
                    if l.per_group { "group" } else { "recipient" },
                    if says_group { "says" } else { "does not say" }
                ));
            }
        }
        let mut index: HashMap<&str, usize> = HashMap::new();
        for (table, key, count, period, cite, floor) in caps.chain(floors) {
            let i = index.entry(table).or_default();
            let what = format!("{table}[{i}]");
            *i += 1;
            let mut numbers = vec![(format!("{table}.{key}"), count)];
            if let Period::Course { days } = period {
                numbers.push((format!("{table}.days"), days));
            }
            let numbers: Vec<(&str, u32)> = numbers.iter().map(|(k, n)| (k.as_str(), *n)).collect();
            match cite {
                Some(c) => {
                    check_citation(
                        &mut problems,
                        service,
                        lines,
                        &format!("{what}.cite"),
                        c,
                        &numbers,
                    );
                    check_frequency(&mut problems, code, &what, count, period, c, floor);
                }
                None => problems.push(format!("{code}: {what} has no citation")),
            }
        }
        // A minimum and a maximum of the group may cite one line, but not one word of it.
        if let (Some(min), Some(max), Some(a), Some(b)) = (
            service.group_min,
            service.group_max,
            &service.group_min_cite,
            &service.group_max_cite,
        ) {
            if min == max && a.line == b.line && normalise(&a.text) == normalise(&b.text) {
                problems.push(format!(
                    "{code}: group_min and group_max are both {min}, cited by the same words at line {}",
                    a.line
                ));
            }
        }
        if let Some(c) = &service.individual_cite {
            check_citation(&mut problems, service, lines, "individual_cite", c, &[]);
            if !c.text.to_lowercase().contains("индивидуальн") {
                problems.push(format!(
                    "{code}: individual_cite {:?} (line {}) does not speak of an individual session",
                    c.text, c.line
                ));
            }
        }
        // A unit a day exactly where the unit's words say «в сутки» (002 l.1513).
        let daily_words = service
            .unit_cite
            .as_ref()
            .is_some_and(|c| c.text.to_lowercase().contains("в сутки"));
        if daily_words != service.unit_per_day {
            problems.push(format!(
                "{code}: unit_per_day is {}, but the unit's words {} «в сутки»",
                service.unit_per_day,
                if daily_words { "say" } else { "do not say" }
            ));
        }
        // The safety briefing (000 l.56) is required where the source says «инструктаж…
        // техники безопасности», and only there (002 §5.1 speaks of no briefing).
        let briefs = source_text.contains("инструктаж") && source_text.contains("безопасност");
        match &service.safety_briefing_cite {
            Some(c) => {
                check_citation(&mut problems, service, lines, "safety_briefing_cite", c, &[]);
                let lower = c.text.to_lowercase();
                if !(lower.contains("инструктаж") && lower.contains("безопасност")) {
                    problems.push(format!(
                        "{code}: safety_briefing_cite {:?} (line {}) does not speak of a safety briefing",
                        c.text, c.line
                    ));
                }
            }
            None if briefs => problems.push(format!(
                "{code}: the source requires a safety briefing, but there is no safety_briefing_cite"
            )),
            None => {}
        }
        match (&service.unit_cite, service.unit_assumed) {
            (Some(c), false) => {
                check_citation(&mut problems, service, lines, "unit_cite", c, &[]);
                // The unit wording: "… – 1 услуга" or "1 мероприятие".
                let lower = c.text.to_lowercase();
                if !(lower.contains("услуг") || lower.contains("мероприят"))
                    || !states_number(&lower, 1)
                {
                    problems.push(format!(
                        "{code}: unit_cite {:?} (line {}) does not state a unit (\"1 услуга\")",
                        c.text, c.line
                    ));
                }
            }
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

/// Each code is made of its source: the seed alone, or the seed and the item ("002-1.7.1" for
/// §1.7.1 of seed 002). The codes come from the catalogue, so a new service needs no list here.
#[test]
fn every_code_names_its_seed_and_item() {
    let catalogue = load_catalogue();
    let seeds = load_seeds();
    let mut seen = std::collections::BTreeSet::new();
    for s in &catalogue.services {
        let item = s.source.item.trim_start_matches('§');
        let expected = if item.is_empty() {
            s.source.seed.clone()
        } else {
            format!("{}-{item}", s.source.seed)
        };
        assert_eq!(
            s.code.0, expected,
            "{}: the code is not its seed and item",
            s.code
        );
        assert!(
            seeds.contains_key(&s.source.seed),
            "{}: no such seed",
            s.code
        );
        assert!(seen.insert(s.code.0.clone()), "{}: twice", s.code);
    }
    // Every seed gives at least one service.
    for seed in seeds.keys() {
        assert!(
            catalogue.services.iter().any(|s| &s.source.seed == seed),
            "seed {seed} gives no service"
        );
    }
    // Patronage (003) is the one given at home: not offered at kiosks.
    let home: Vec<&str> = catalogue
        .services
        .iter()
        .filter(|s| s.home_visit)
        .map(|s| s.code.0.as_str())
        .collect();
    assert_eq!(home, ["003"]);
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
fn checker_reports_an_event_norm_its_citation_does_not_give() {
    // 002 l.1199 «до 120 минут»; l.3171 «до 4 часов».
    let problems = problems_after(|c| {
        service(c, "002-1.7.1")
            .event
            .as_mut()
            .unwrap()
            .time_norm_minutes = 90
    });
    assert_reported(
        &problems,
        "002-1.7.1: event.time_norm_minutes = 90 does not appear",
    );
    let problems = problems_after(|c| {
        service(c, "002-4.5")
            .event
            .as_mut()
            .unwrap()
            .time_norm_minutes = 180
    });
    assert_reported(
        &problems,
        "002-4.5: event.time_norm_minutes / 60 = 3 does not appear",
    );
    let problems = problems_after(|c| {
        service(c, "002-4.5")
            .event
            .as_mut()
            .unwrap()
            .time_norm_minutes = 60
    });
    assert_reported(&problems, "is not longer than the session's");
}

/// 002 l.1251 «не более 1 раза в месяц для группы получателей услуг»: the group's cap, read as
/// each recipient's, is reported (and a recipient's cap marked as the group's).
#[test]
fn checker_reports_a_group_cap_read_as_the_recipients() {
    let problems = problems_after(|c| service(c, "002-1.7.2").limits[0].per_group = false);
    assert_eq!(
        problems,
        ["002-1.7.2: limits[0].per is \"recipient\", but its citation says «для группы»"]
    );
    let problems = problems_after(|c| service(c, "001").limits[0].per_group = true);
    assert_reported(&problems, "001: limits[0].per is \"group\"");
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

/// Point 12 of the rules issue: a week turned into a month must fail the check.
#[test]
fn checker_reports_a_period_the_citation_does_not_name() {
    let problems = problems_after(|c| service(c, "001").limits[0].period = Period::Month);
    assert_eq!(
        problems,
        [
            "001: limits[0] counts per Month, but its citation \"услуга предоставляется до двух раз в неделю\" (line 9) names no such period"
        ]
    );
}

/// 002 l.1197 «от 1 раза в день» is a minimum: read as a cap, the check fails.
#[test]
fn checker_reports_a_floor_read_as_a_cap() {
    let problems = problems_after(|c| {
        let s = service(c, "002-1.7.1");
        let floor = s.floors.remove(0);
        s.limits.insert(
            0,
            otmetka_core::catalogue::FrequencyLimit {
                applies: Default::default(),
                max: floor.min,
                period: floor.period,
                cite: floor.cite,
                per_group: false,
                form: Default::default(),
            },
        );
    });
    assert_eq!(
        problems,
        [
            "002-1.7.1: limits[0] is a cap of 1, but its citation \"от 1 раза в день\" (line 1197) states a minimum: a floor"
        ]
    );
}

#[test]
fn checker_reports_one_word_cited_as_both_minimum_and_maximum() {
    let problems = problems_after(|c| {
        let s = service(c, "002-7.4");
        s.group_min = Some(8);
        s.group_min_cite = s.group_max_cite.clone();
    });
    assert_reported(
        &problems,
        "002-7.4: group_min and group_max are both 8, cited by the same words at line 3995",
    );
}

#[test]
fn checker_reports_a_unit_citation_without_a_unit() {
    let problems = problems_after(|c| {
        service(c, "002-7.4").unit_cite.as_mut().unwrap().text = "Единица услуги".into();
    });
    assert_reported(
        &problems,
        "002-7.4: unit_cite \"Единица услуги\" (line 4001) does not state a unit",
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
        ["Услуга предоставляется до", "2 раз в неделю.", "Прочее."]
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
cite = { line = 1, text = "предоставляется до 2 раз в неделю" }
"#;
    let catalogue = Catalogue::from_toml("test.toml", text).unwrap();
    assert_eq!(check_catalogue(&catalogue, &seeds), Vec::<String>::new());
    // A fragment that only stands on the next line is not at line N.
    let next_only = text.replace("предоставляется до 2 раз в неделю", "2 раз в неделю");
    let catalogue = Catalogue::from_toml("test.toml", &next_only).unwrap();
    assert_eq!(check_catalogue(&catalogue, &seeds).len(), 1);
    // Two lines on is too far.
    let far = text.replace("в неделю\"", "в неделю. Прочее\"");
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
