//! `./run bench pages`: how long the journal's pages take on a generated institution — 300
//! recipients with programmes and a year of sessions and units — served by the release
//! `otmetka-journal serve` over real HTTP on loopback (keep-alive off: each request is a new
//! connection, as a browser's first request of a page is). Each page is asked for
//! `OTMETKA_BENCH_ROUNDS` times (default 30) after one warm-up; prints p50, p95 and max in ms.
//! The goal (the staff-journal issue): every page under 200 ms.

use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use otmetka_tests::institution;
use otmetka_tests::site::{JournalProcess, add_journal_user, wait_for};
use std::io::{Read, Write};
use std::time::Instant;

struct Http {
    port: u16,
    cookie: String,
}

/// One request; returns (status, body length).
fn request(port: u16, method: &str, path: &str, cookie: &str, body: &str) -> Result<(u16, String)> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))?;
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    if !cookie.is_empty() {
        head.push_str(&format!("Cookie: {cookie}\r\n"));
    }
    if !body.is_empty() {
        head.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes())?;
    s.write_all(body.as_bytes())?;
    let mut text = Vec::new();
    s.read_to_end(&mut text)?;
    let text = String::from_utf8_lossy(&text).into_owned();
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .context("an HTTP status")?;
    Ok((code, text))
}

impl Http {
    fn get(&self, path: &str) -> Result<usize> {
        let (code, text) = request(self.port, "GET", path, &self.cookie, "")?;
        if code != 200 {
            let said: String = text
                .chars()
                .rev()
                .take(1500)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            bail!("GET {path}: {code}\n{said}");
        }
        Ok(text.len())
    }
}

pub fn run() -> Result<()> {
    let rounds: usize = std::env::var("OTMETKA_BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let dir = tempfile::tempdir()?;
    let jdir = dir.path().join("journal");
    std::fs::create_dir_all(&jdir)?;
    let from = NaiveDate::from_ymd_opt(2025, 12, 1).context("date")?;
    let to = NaiveDate::from_ymd_opt(2026, 11, 30).context("date")?;
    let t = Instant::now();
    let inst = institution::generate(&jdir, 300, from, to, 30, 2026)?;
    println!(
        "pages: generated 300 recipients, {} sessions, {} units ({}..{}) in {:.1} s",
        inst.sessions.len(),
        inst.units.len(),
        from,
        to,
        t.elapsed().as_secs_f64()
    );
    let broker = otmetka_link::testing::Broker::start_quiet("")?;
    let journal = JournalProcess::start_with_config(&jdir, &inst.journal_toml(broker.port)?)?;
    add_journal_user(
        &journal.config,
        "head",
        "Заведующий",
        "head",
        "bench-password-2026",
    )?;
    let port = journal.web_port;
    wait_for("the journal's pages", 30, || {
        std::net::TcpStream::connect(("127.0.0.1", port)).ok()
    });
    let (code, text) = request(
        port,
        "POST",
        "/signin",
        "",
        "login=head&password=bench-password-2026",
    )?;
    if code != 303 {
        bail!("sign-in: {code}");
    }
    let cookie = text
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .and_then(|c| c.split(';').next())
        .context("a session cookie")?
        .to_string();
    let http = Http { port, cookie };
    let busiest = inst
        .sessions
        .iter()
        .rev()
        .find(|(_, d)| *d < to)
        .map(|(s, _)| *s)
        .context("a session")?;
    let who = inst.recipients[0].0;
    let pages = [
        ("journal, a month", "/journal?month=2026-11".to_string()),
        ("journal, a session", format!("/journal/sessions/{busiest}")),
        ("acts, a month's list", "/acts?month=2026-11".to_string()),
        ("act of one recipient", format!("/acts/{who}?month=2026-11")),
        ("quality, a month", "/quality?month=2026-11".to_string()),
        ("unidentified taps", "/journal/taps".to_string()),
        ("people", "/people".to_string()),
        ("a person's record", format!("/people/{who}")),
        ("instructors", "/instructors".to_string()),
        (
            "timetable, a week",
            "/timetable?week=2026-11-16".to_string(),
        ),
        ("patronage, a month", "/visits?month=2026-11".to_string()),
        ("fleet", "/fleet".to_string()),
    ];
    println!("machine: {}", super::machine());
    println!(
        "{:<24} {:>8} {:>8} {:>8} {:>10}",
        "page", "p50 ms", "p95 ms", "max ms", "bytes"
    );
    for (name, path) in &pages {
        if let Err(e) = http.get(path) {
            // What the journal said about it, for whoever reads the bench's output.
            let log = journal.log();
            let tail: Vec<&str> = log.lines().rev().take(15).collect();
            for line in tail.into_iter().rev() {
                eprintln!("journal: {line}");
            }
            return Err(e);
        }
        let mut ms = Vec::with_capacity(rounds);
        let mut bytes = 0;
        for _ in 0..rounds {
            let t = Instant::now();
            bytes = http.get(path)?;
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        ms.sort_by(f64::total_cmp);
        println!(
            "{name:<24} {:>8.1} {:>8.1} {:>8.1} {bytes:>10}",
            super::percentile(&ms, 0.5),
            super::percentile(&ms, 0.95),
            ms.last().copied().unwrap_or(0.0)
        );
    }
    // With RUST_LOG=otmetka_journal::feed=debug: how long each re-check batch held the store.
    for line in journal
        .log()
        .lines()
        .filter(|l| l.contains("rules re-checked"))
    {
        println!("journal: {line}");
    }
    drop(journal);
    Ok(())
}
