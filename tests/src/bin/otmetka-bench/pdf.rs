//! `./run bench pdf`: how long the journal takes to make its PDF documents, in-process, with
//! the shipped templates and Debian's DejaVu — one recipient's monthly act, and a group's
//! month of about 300 sessions (a generated institution of 30 recipients with 17 sessions a
//! working day in November 2026; the club has every third recipient). Each document is made
//! `OTMETKA_BENCH_ROUNDS` times (default 10) after one warm-up, from the store read to the
//! PDF's bytes; prints p50 and max in ms, the pages and the size. Loading the fonts (once per
//! process) is timed apart. With `OTMETKA_BENCH_PDF_DIR=DIR` the institution is generated in
//! DIR and kept, with the two PDFs, so the release `otmetka-journal act` / `journal-pdf`
//! commands can be timed on it too.

use anyhow::{Context, Result};
use chrono::NaiveDate;
use otmetka_journal::config::JournalConfig;
use otmetka_journal::documents::load_catalogue;
use otmetka_journal::export::pdf::{Template, Typesetter};
use otmetka_journal::web::{acts, pdf};
use otmetka_tests::institution;
use std::time::Instant;

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// p50 and max of `rounds` runs of `f` after one warm-up, in ms, and the last result.
fn time<T>(rounds: usize, mut f: impl FnMut() -> Result<T>) -> Result<(f64, f64, T)> {
    let mut last = f()?;
    let mut took = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let t = Instant::now();
        last = f()?;
        took.push(ms(t.elapsed()));
    }
    took.sort_by(f64::total_cmp);
    Ok((took[took.len() / 2], took[took.len() - 1], last))
}

/// The pages of a PDF, by counting its page objects (no PDF reader needed here).
fn pages(pdf: &[u8]) -> usize {
    pdf.windows(b"/Type /Page\n".len())
        .filter(|w| *w == b"/Type /Page\n")
        .count()
        .max(
            pdf.windows(b"/Type/Page/".len())
                .filter(|w| *w == b"/Type/Page/")
                .count(),
        )
}

pub fn run() -> Result<()> {
    let rounds: usize = std::env::var("OTMETKA_BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let temp = tempfile::tempdir()?;
    let keep = std::env::var_os("OTMETKA_BENCH_PDF_DIR").map(std::path::PathBuf::from);
    let dir = keep.clone().unwrap_or_else(|| temp.path().to_path_buf());
    std::fs::create_dir_all(&dir)?;
    let month = NaiveDate::from_ymd_opt(2026, 11, 1).context("date")?;
    let last = NaiveDate::from_ymd_opt(2026, 11, 30).context("date")?;
    let inst = institution::generate(&dir, 30, month, last, 17, 20261203)?;
    let cfg = JournalConfig::load(&inst.config)?;
    let catalogue = load_catalogue(&cfg)?;
    let mut store = otmetka_journal::store::open(&cfg.database()?)?;
    otmetka_journal::documents::import_files(
        store.as_mut(),
        &otmetka_journal::documents::Documents::load(&cfg)?,
        "2026-10-01T09:00:00Z".parse()?,
    )?;
    let site = otmetka_journal::web::sites(&cfg)
        .into_iter()
        .next()
        .context("a site")?;
    let people = store.people(&site.id)?;
    let today = NaiveDate::from_ymd_opt(2026, 12, 11).context("date")?;
    let t = Instant::now();
    let typesetter = Typesetter::new(
        &cfg.documents.fonts_dir,
        cfg.documents.templates_dir.as_deref(),
    )?;
    let fonts = ms(t.elapsed());
    let person = people
        .recipient(inst.recipients[0].0)
        .cloned()
        .context("the first recipient")?;
    let (act_p50, act_max, act) = time(rounds, || {
        let act = acts::act_of(store.as_ref(), &person, &catalogue, &site.id, month, today)?;
        let doc = pdf::act_document(&act, &cfg, &catalogue, &site.id, today);
        Ok(typesetter.render(Template::Act, &doc, today)?)
    })?;
    let group = people
        .groups
        .iter()
        .find(|g| g.id.0.to_string() == institution::CLUB)
        .cloned()
        .context("the club")?;
    let mut rows = 0;
    let (journal_p50, journal_max, journal) = time(rounds, || {
        let doc = pdf::group_journal(
            store.as_ref(),
            &people,
            &group,
            &cfg,
            &catalogue,
            &site,
            month,
            today,
        )?;
        rows = doc.total_sessions;
        Ok(typesetter.render(Template::GroupJournal, &doc, today)?)
    })?;
    if let Some(keep) = &keep {
        std::fs::write(keep.join("act.pdf"), &act)?;
        std::fs::write(keep.join("journal.pdf"), &journal)?;
        println!(
            "pdf: kept {} (journal.toml, act.pdf, journal.pdf)",
            keep.display()
        );
    }
    println!("pdf: {}", super::machine());
    println!("pdf: fonts loaded once: {fonts:.1} ms");
    println!(
        "pdf: monthly act: p50 {act_p50:.1} ms, max {act_max:.1} ms ({rounds} rounds; {} page(s), {} KB)",
        pages(&act),
        act.len() / 1024
    );
    println!(
        "pdf: group journal, {rows} sessions: p50 {journal_p50:.1} ms, max {journal_max:.1} ms ({rounds} rounds; {} pages, {} KB)",
        pages(&journal),
        journal.len() / 1024
    );
    Ok(())
}
