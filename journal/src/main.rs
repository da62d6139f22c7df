//! `otmetka-journal`: the journal server.
//!
//! - `otmetka-journal serve --config FILE`
//! - `otmetka-journal units --config FILE --from DATE --to DATE` (JSON lines)
//! - `otmetka-journal export --config FILE --from DATE --to DATE --format csv --out FILE`
//! - `otmetka-journal provision-kiosk --config FILE SITE KIOSK --out DIR`
//! - `otmetka-journal revoke-kiosk --config FILE SITE KIOSK`
//! - `otmetka-journal enrol-card --config FILE SITE KIOSK RECIPIENT [--minutes N] [--wait]`

use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use clap::{Parser, Subcommand};
use otmetka_core::cards::SiteSecret;
use otmetka_core::catalogue::Catalogue;
use otmetka_core::roster::RosterFile;
use otmetka_journal::config::JournalConfig;
use otmetka_journal::schedule::ScheduleFile;
use otmetka_journal::serve::{SiteRoster, SiteSchedule};
use otmetka_journal::store::{JournalStore, SqliteJournal};
use otmetka_journal::{enrol, provision};
use otmetka_link::topics::Id;
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "otmetka-journal", about = "Otmetka journal server")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Receive the feed and keep the journal.
    Serve {
        #[arg(long)]
        config: PathBuf,
    },
    /// Print the units of a period as JSON lines.
    Units {
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        from: NaiveDate,
        #[arg(long)]
        to: NaiveDate,
    },
    /// Export the units of a period.
    Export {
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        from: NaiveDate,
        #[arg(long)]
        to: NaiveDate,
        #[arg(long, default_value = "csv")]
        format: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Issue a kiosk's broker credential and write its bundle (config, credential, CA
    /// certificate, site secret, catalogue) for `otmetka-kiosk enroll`.
    ProvisionKiosk {
        #[arg(long)]
        config: PathBuf,
        site: String,
        kiosk: String,
        /// The bundle directory to create (must not exist).
        #[arg(long)]
        out: PathBuf,
    },
    /// Take a kiosk's broker credential away; the journal refuses its messages from now on.
    RevokeKiosk {
        #[arg(long)]
        config: PathBuf,
        site: String,
        kiosk: String,
    },
    /// Ask a kiosk to read a new card for a recipient: the next card on its reader becomes
    /// theirs, and every kiosk of the site gets it with the roster.
    EnrolCard {
        #[arg(long)]
        config: PathBuf,
        site: String,
        kiosk: String,
        /// The recipient's id, or a part of the name only they have.
        recipient: String,
        /// How long the kiosk waits for the card.
        #[arg(long, default_value_t = 10)]
        minutes: u32,
        /// Wait until the card is read (or the request expires) and say which.
        #[arg(long)]
        wait: bool,
    },
}

#[allow(clippy::disallowed_methods)] // issue and revocation dates are wall-clock by nature
fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        // Colour codes only on a terminal: log files stay plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    if let Err(e) = run(Cli::parse()) {
        eprintln!("otmetka-journal: {e:#}");
        std::process::exit(1);
    }
}

fn load_catalogue(cfg: &JournalConfig) -> Result<Catalogue> {
    let text = std::fs::read_to_string(&cfg.catalogue)
        .with_context(|| format!("cannot read the catalogue {}", cfg.catalogue.display()))?;
    Ok(Catalogue::from_toml(
        &cfg.catalogue.display().to_string(),
        &text,
    )?)
}

fn run(cli: Cli) -> Result<()> {
    match cli.cmd {
        Cmd::Serve { config } => {
            let cfg = JournalConfig::load(&config)?;
            let catalogue = load_catalogue(&cfg)?;
            let mut rosters = Vec::new();
            let mut schedules = Vec::new();
            for site in &cfg.sites {
                let id = Id::new(&site.id).with_context(|| format!("bad site id {:?}", site.id))?;
                let secret = std::fs::read(&site.site_secret_file)
                    .with_context(|| format!("cannot read {}", site.site_secret_file.display()))?;
                let secret = SiteSecret::new(secret.trim_ascii().to_vec());
                if let Some(file) = &site.roster_file {
                    let name = file.display().to_string();
                    let text = std::fs::read_to_string(file)
                        .with_context(|| format!("cannot read {name}"))?;
                    let roster = RosterFile::parse(&name, &text)?.to_roster(&name, &secret)?;
                    rosters.push(SiteRoster {
                        site: id.clone(),
                        roster,
                    });
                }
                if let Some(file) = &site.schedule_file {
                    let name = file.display().to_string();
                    let text = std::fs::read_to_string(file)
                        .with_context(|| format!("cannot read {name}"))?;
                    let parsed = ScheduleFile::parse(&name, &text, &catalogue)?;
                    if parsed.site != site.id {
                        bail!(
                            "{name} is the timetable of site {:?}, not of {:?}",
                            parsed.site,
                            site.id
                        );
                    }
                    schedules.push(SiteSchedule {
                        site: id.clone(),
                        file: parsed,
                    });
                }
            }
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            tracing::info!(
                "journal serving {} site(s) from {}",
                cfg.sites.len(),
                cfg.database.display()
            );
            rt.block_on(otmetka_journal::serve::run(
                &cfg, &catalogue, &rosters, &schedules,
            ))
        }
        Cmd::ProvisionKiosk {
            config,
            site,
            kiosk,
            out,
        } => {
            let cfg = JournalConfig::load(&config)?;
            let done = provision::provision(&cfg, &site, &kiosk, &out, now())?;
            println!(
                "{} kiosk {kiosk} of site {site}: broker user {:?}",
                if done.reissued {
                    "re-issued (the old password no longer works)"
                } else {
                    "provisioned"
                },
                done.username
            );
            println!("bundle: {}", done.bundle.display());
            println!("{}", done.reload.describe());
            println!(
                "next: copy the bundle to the kiosk (it holds a password and the site secret:                  keep it private) and run `otmetka-kiosk enroll {}` there",
                done.bundle.display()
            );
            Ok(())
        }
        Cmd::EnrolCard {
            config,
            site,
            kiosk,
            recipient,
            minutes,
            wait,
        } => {
            let cfg = JournalConfig::load(&config)?;
            let req = enrol::request_card(&cfg, &site, &kiosk, &recipient, minutes, now())?;
            println!(
                "Киоск {kiosk} ждёт новую карту для: {} (до {}). Приложите карту к считывателю киоска.",
                req.display_name,
                req.expires_at.to_rfc3339()
            );
            println!(
                "kiosk {kiosk} of site {site} waits for a new card for {} ({}) until {}; request {}",
                req.display_name,
                req.recipient.0,
                req.expires_at.to_rfc3339(),
                req.request
            );
            if wait {
                match enrol::wait(
                    &cfg,
                    req.request,
                    std::time::Duration::from_millis(200),
                    now,
                )? {
                    enrol::Outcome::Enrolled(e) => println!(
                        "Карта выдана / card enrolled for {} at {} (kiosk {})",
                        req.display_name,
                        e.enrolled_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
                        e.kiosk
                    ),
                    enrol::Outcome::Expired { sent } => bail!(
                        "no card was read before the request expired{}",
                        if sent {
                            ""
                        } else {
                            " (it never reached the broker: is `otmetka-journal serve` running?)"
                        }
                    ),
                }
            }
            Ok(())
        }
        Cmd::RevokeKiosk {
            config,
            site,
            kiosk,
        } => {
            let cfg = JournalConfig::load(&config)?;
            let done = provision::revoke(&cfg, &site, &kiosk, now())?;
            match &done.record {
                Some(r) => println!(
                    "revoked kiosk {kiosk} of site {site} (issued {}, revoked {})",
                    r.issued_at.to_rfc3339(),
                    r.revoked_at.map(|t| t.to_rfc3339()).unwrap_or_default()
                ),
                None => println!(
                    "kiosk {kiosk} of site {site} was never provisioned by this journal; its broker \
                     credential {:?} is removed if it was there",
                    done.username
                ),
            }
            println!("{}", done.reload.describe());
            Ok(())
        }
        Cmd::Units { config, from, to } => {
            let cfg = JournalConfig::load(&config)?;
            let store = SqliteJournal::open(&cfg.database)?;
            for u in store.units(from, to)? {
                println!("{}", serde_json::to_string(&u)?);
            }
            Ok(())
        }
        Cmd::Export {
            config,
            from,
            to,
            format,
            out,
        } => {
            if format != "csv" {
                bail!("--format {format}: this build exports csv");
            }
            let cfg = JournalConfig::load(&config)?;
            let catalogue = load_catalogue(&cfg)?;
            let store = SqliteJournal::open(&cfg.database)?;
            let mut csv = String::from(
                "date;service;title;unit_kind;recipient;participants;started_at;ended_at;over_limit;below_group_min;site;kiosk;unit_id\n",
            );
            for ju in store.units(from, to)? {
                let u = &ju.unit;
                let title = catalogue
                    .get(&u.service)
                    .map(|s| s.title_ru.replace(';', ","))
                    .unwrap_or_default();
                csv.push_str(&format!(
                    "{};{};{};{:?};{};{};{};{};{};{};{};{};{}\n",
                    u.date,
                    u.service,
                    title,
                    u.kind,
                    u.recipient.map(|r| r.to_string()).unwrap_or_default(),
                    u.participants.len(),
                    u.started_at.to_rfc3339(),
                    u.ended_at.to_rfc3339(),
                    u.over_limit(),
                    u.below_group_min,
                    ju.site,
                    ju.kiosk,
                    u.id.0
                ));
            }
            std::fs::write(&out, csv).with_context(|| format!("cannot write {}", out.display()))?;
            Ok(())
        }
    }
}
