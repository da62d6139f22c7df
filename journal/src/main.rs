//! `otmetka-journal`: the journal server.
//!
//! - `otmetka-journal serve --config FILE` (the feed and the web pages, `[web] listen`)
//! - `otmetka-journal units --config FILE --from DATE --to DATE` (JSON lines)
//! - `otmetka-journal export --config FILE --from DATE --to DATE --format csv|xlsx --out FILE
//!   [--site SITE]` (a progress bar on a terminal)
//! - `otmetka-journal act --config FILE --month 2026-11 --recipient ID --out FILE.pdf` (the
//!   monthly act as PDF, as the act's page shows it)
//! - `otmetka-journal journal-pdf --config FILE --month 2026-11 --group ID --out FILE.pdf` (a
//!   group's month of the journal as PDF)
//! - `otmetka-journal provision-kiosk --config FILE SITE KIOSK --out DIR`
//! - `otmetka-journal revoke-kiosk --config FILE SITE KIOSK`
//! - `otmetka-journal enrol-card --config FILE SITE KIOSK RECIPIENT [--minutes N] [--wait]`
//! - `otmetka-journal add-user --config FILE LOGIN --name NAME --role ROLE` (password on stdin)

use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use clap::{Parser, Subcommand};
use otmetka_journal::clock::{Clock, SystemClock};
use otmetka_journal::config::JournalConfig;
use otmetka_journal::documents::{Documents, load_catalogue};
use otmetka_journal::export::pdf::{Template, Typesetter};
use otmetka_journal::store::people::SitePeople;
use otmetka_journal::store::staff::{Actor, NewUser, Role};
use otmetka_journal::web::{self, acts, auth, pdf};
use otmetka_journal::{enrol, export, provision, serve, store};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Parser)]
#[command(name = "otmetka-journal", version, about = "Otmetka journal server")]
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
    /// Export the units of a period (both days included), one row per unit: CSV for Excel
    /// (UTF-8 with a BOM, `;`) or an XLSX workbook with a sheet per month.
    Export {
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        from: NaiveDate,
        #[arg(long)]
        to: NaiveDate,
        /// csv or xlsx.
        #[arg(long, default_value = "csv")]
        format: String,
        #[arg(long)]
        out: PathBuf,
        /// Only this site's units (default: every site).
        #[arg(long)]
        site: Option<String>,
    },
    /// Write a recipient's monthly act as PDF (the act's page, typeset with the template
    /// `act.typ`, for signing).
    Act {
        #[arg(long)]
        config: PathBuf,
        /// The month, as 2026-11.
        #[arg(long)]
        month: String,
        /// The recipient's id, or a part of the name only they have.
        #[arg(long)]
        recipient: String,
        #[arg(long)]
        out: PathBuf,
        /// The recipient's site (default: the site that has them).
        #[arg(long)]
        site: Option<String>,
    },
    /// Write a site's month for the regional information system (ЕГИССО): an XML package of
    /// facts, one per recipient and service, as `journal/schemas/egisso/` has them. Says what
    /// was left out and why (no СНИЛС, a service without an `[egisso.services]` entry, ...).
    Egisso {
        #[arg(long)]
        config: PathBuf,
        /// The month, as 2026-11.
        #[arg(long)]
        month: String,
        #[arg(long)]
        site: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Back the journal's database up into a file while the journal runs (SQLite's online
    /// backup: one consistent snapshot, checked, renamed into place when whole).
    Backup {
        #[arg(long)]
        config: PathBuf,
        /// The file to write.
        #[arg(long, conflicts_with = "dir", required_unless_present = "dir")]
        out: Option<PathBuf>,
        /// Or a directory: the backup is `journal-TIME.db` in it, and only the newest `--keep`
        /// of those are kept (the nightly timer's way).
        #[arg(long)]
        dir: Option<PathBuf>,
        #[arg(long, default_value_t = 14, requires = "dir")]
        keep: usize,
    },
    /// Replace the journal's database with a backup; the journal must be stopped. The database
    /// replaced is kept beside it (`.before-restore-TIME`); kiosks send again what the backup
    /// lacks.
    Restore {
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        from: PathBuf,
    },
    /// Write a group's month of the journal as PDF (the sessions its members took part in, as
    /// the journal's page with the group picked, and each member's totals).
    JournalPdf {
        #[arg(long)]
        config: PathBuf,
        /// The month, as 2026-11.
        #[arg(long)]
        month: String,
        /// The group's id, or a part of its name only it has.
        #[arg(long)]
        group: String,
        #[arg(long)]
        out: PathBuf,
        /// The group's site (default: the site that has it).
        #[arg(long)]
        site: Option<String>,
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
    /// Write a new site secret (32 random bytes) into the file the config names for the site;
    /// never over an existing one. `provision-kiosk` does it for a site's first kiosk.
    NewSiteSecret {
        #[arg(long)]
        config: PathBuf,
        site: String,
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
    /// Add a user of the web pages (the first administrator, say). The password is read from
    /// the first line of standard input, so it stays out of the shell history and `ps`.
    AddUser {
        #[arg(long)]
        config: PathBuf,
        login: String,
        /// Full name, as the pages show it.
        #[arg(long)]
        name: String,
        /// admin, head, specialist or auditor.
        #[arg(long)]
        role: String,
    },
}

fn now() -> chrono::DateTime<chrono::Utc> {
    SystemClock.now()
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

fn run(cli: Cli) -> Result<()> {
    match cli.cmd {
        Cmd::Serve { config } => {
            let cfg = JournalConfig::load(&config)?;
            let documents = Documents::load(&cfg)?;
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            rt.block_on(async {
                let listener = tokio::net::TcpListener::bind(&cfg.web.listen)
                    .await
                    .with_context(|| {
                        format!(
                            "cannot listen on {} for the web pages ([web] listen in {})",
                            cfg.web.listen,
                            config.display()
                        )
                    })?;
                tracing::info!(
                    "journal serving {} site(s) from {}; web pages on {}://{}/",
                    cfg.sites.len(),
                    cfg.database()?,
                    if cfg.web.cert_file.is_some() {
                        "https"
                    } else {
                        "http"
                    },
                    listener.local_addr()?
                );
                serve::run(
                    &cfg,
                    documents,
                    listener,
                    Arc::new(SystemClock),
                    serve::signalled(),
                )
                .await?;
                Ok(())
            })
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
        Cmd::NewSiteSecret { config, site } => {
            let cfg = JournalConfig::load(&config)?;
            let site_cfg = cfg
                .sites
                .iter()
                .find(|s| s.id == site)
                .with_context(|| format!("no site {site:?} in {}", config.display()))?;
            provision::new_site_secret(&site_cfg.site_secret_file)?;
            println!(
                "site {site}: a new secret in {} (mode 0600); keep it and back it up",
                site_cfg.site_secret_file.display()
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
        Cmd::AddUser {
            config,
            login,
            name,
            role,
        } => {
            let cfg = JournalConfig::load(&config)?;
            let Some(role) = Role::parse(&role) else {
                bail!("unknown role {role:?}: admin, head, specialist or auditor");
            };
            eprintln!("password for {login} (one line on standard input):");
            let mut password = String::new();
            std::io::stdin().read_line(&mut password)?;
            let password = password.trim_end_matches(['\r', '\n']);
            if let Some(p) = auth::password_problem(password) {
                bail!("the password is too short (at least 10 characters): {p}");
            }
            let password_hash = auth::hash_password(password).map_err(anyhow::Error::msg)?;
            let mut store = store::open(&cfg.database()?)?;
            let user = store.add_user(
                &NewUser {
                    login: login.clone(),
                    name,
                    role,
                    password_hash,
                },
                now(),
            )?;
            let actor = Actor {
                user: None,
                login: "otmetka-journal add-user".into(),
                name: "otmetka-journal add-user".into(),
            };
            store.audit(&actor, "add_user", &user.login, role.as_str(), now())?;
            println!("added user {} ({})", user.login, role.as_str());
            Ok(())
        }
        Cmd::Units { config, from, to } => {
            let cfg = JournalConfig::load(&config)?;
            let store = store::open(&cfg.database()?)?;
            for u in store.units(from, to)? {
                println!("{}", serde_json::to_string(&u)?);
            }
            Ok(())
        }
        Cmd::Act {
            config,
            month,
            recipient,
            out,
            site,
        } => {
            let cfg = JournalConfig::load(&config)?;
            let month = parse_month_arg(&month)?;
            let catalogue = load_catalogue(&cfg)?;
            let mut store = store::open(&cfg.database()?)?;
            let (site, people) = sites_to_search(&cfg, store.as_ref(), site.as_deref())?
                .into_iter()
                .find(|(_, p)| enrol::find_recipient(p, &recipient).is_ok())
                .with_context(|| {
                    format!("no recipient {recipient:?} (an id or a part of the name) at any site")
                })?;
            let (id, _) = enrol::find_recipient(&people, &recipient)?;
            let person = people
                .recipient(id)
                .cloned()
                .with_context(|| format!("no recipient {id}"))?;
            let today = site.date(now());
            let act = acts::act_of(store.as_ref(), &person, &catalogue, &site.id, month, today)?;
            let document = pdf::act_document(&act, &cfg, &catalogue, &site.id, today);
            let bytes = typesetter(&cfg)?.render(Template::Act, &document, today)?;
            write_file(&out, &bytes)?;
            store.audit(
                &command_actor("otmetka-journal act"),
                "download_act_pdf",
                &id.to_string(),
                &format!(
                    "act for {}, PDF, {} services, {} units, to {}",
                    month.format("%Y-%m"),
                    document.lines.len(),
                    document.total,
                    out.display()
                ),
                now(),
            )?;
            println!(
                "wrote the act of {} for {} ({} services, {} units) to {}",
                person.full_name,
                month.format("%Y-%m"),
                document.lines.len(),
                document.total,
                out.display()
            );
            Ok(())
        }
        Cmd::Backup {
            config,
            out,
            dir,
            keep,
        } => {
            let cfg = JournalConfig::load(&config)?;
            let db = cfg.database()?;
            let out = match (out, &dir) {
                (Some(out), _) => out,
                (None, Some(dir)) => {
                    std::fs::create_dir_all(dir)
                        .with_context(|| format!("cannot make {}", dir.display()))?;
                    dir.join(store::sqlite::backup::file_name(now()))
                }
                (None, None) => bail!("give --out FILE or --dir DIR"),
            };
            let report = store::backup(&db, &out)
                .with_context(|| format!("cannot back {db} up into {}", out.display()))?;
            println!(
                "backed {db} up into {} ({} bytes, schema {})",
                out.display(),
                report.bytes,
                report.schema
            );
            // The old backups go first: a failure to write the audit entry below must not
            // leave them filling the disk night after night.
            if let Some(dir) = &dir {
                for old in store::sqlite::backup::prune(dir, keep.max(1))? {
                    println!("removed the old backup {}", old.display());
                }
            }
            let mut store = store::open(&db)?;
            store.audit(
                &command_actor("otmetka-journal backup"),
                "backup_database",
                &out.display().to_string(),
                &format!(
                    "{} pages, {} bytes, schema {}",
                    report.pages, report.bytes, report.schema
                ),
                now(),
            )?;
            Ok(())
        }
        Cmd::Restore { config, from } => {
            let cfg = JournalConfig::load(&config)?;
            let db = cfg.database()?;
            let report = store::restore(&db, &from, now())
                .with_context(|| format!("cannot restore {db} from {}", from.display()))?;
            let kept = report
                .previous
                .as_ref()
                .map_or("there was none".to_string(), |p| {
                    format!("kept as {}", p.display())
                });
            let mut store = store::open(&db)?;
            store.audit(
                &command_actor("otmetka-journal restore"),
                "restore_database",
                &from.display().to_string(),
                &format!("schema {}; the database replaced: {kept}", report.schema),
                now(),
            )?;
            println!(
                "restored {db} from {}; the database it replaced: {kept}. Start the journal: \
                 the kiosks send again what the backup lacks.",
                from.display()
            );
            Ok(())
        }
        Cmd::Egisso {
            config,
            month,
            site,
            out,
        } => {
            let cfg = JournalConfig::load(&config)?;
            let month = parse_month_arg(&month)?;
            let catalogue = load_catalogue(&cfg)?;
            let mut store = store::open(&cfg.database()?)?;
            let pkg =
                export::egisso::package(store.as_ref(), &cfg, &catalogue, &site, month, now())?;
            let mut bytes = Vec::new();
            pkg.write(&mut bytes)?;
            write_file(&out, &bytes)?;
            store.audit(
                &command_actor("otmetka-journal egisso"),
                "export_egisso",
                &format!("site {site}"),
                &pkg.audit_words(&out.display().to_string()),
                now(),
            )?;
            println!("{}", pkg.report());
            Ok(())
        }
        Cmd::JournalPdf {
            config,
            month,
            group,
            out,
            site,
        } => {
            let cfg = JournalConfig::load(&config)?;
            let month = parse_month_arg(&month)?;
            let catalogue = load_catalogue(&cfg)?;
            let mut store = store::open(&cfg.database()?)?;
            let q = group.trim().to_lowercase();
            let mut found = Vec::new();
            for (s, people) in sites_to_search(&cfg, store.as_ref(), site.as_deref())? {
                for g in &people.groups {
                    if g.id.0.to_string() == q
                        || (!q.is_empty() && g.name.to_lowercase().contains(&q))
                    {
                        found.push((s.clone(), Arc::clone(&people), g.clone()));
                    }
                }
            }
            let (site, people, group) = match found.len() {
                1 => found.remove(0),
                0 => bail!("no group {group:?} (an id or a part of the name) at any site"),
                n => bail!(
                    "{n} groups match {group:?}: {}; give more of the name or the id",
                    found
                        .iter()
                        .map(|(s, _, g)| format!("{} ({}, site {})", g.name, g.id.0, s.id))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            let today = site.date(now());
            let document = pdf::group_journal(
                store.as_ref(),
                &people,
                &group,
                &cfg,
                &catalogue,
                &site,
                month,
                today,
            )?;
            let bytes = typesetter(&cfg)?.render(Template::GroupJournal, &document, today)?;
            write_file(&out, &bytes)?;
            store.audit(
                &command_actor("otmetka-journal journal-pdf"),
                "download_journal_pdf",
                &format!("group {}", group.id.0),
                &format!(
                    "journal of group {} for {}, site {}, PDF, {} sessions, {} units, to {}",
                    group.name,
                    month.format("%Y-%m"),
                    site.id,
                    document.total_sessions,
                    document.total_units,
                    out.display()
                ),
                now(),
            )?;
            println!(
                "wrote the journal of {} for {} ({} sessions, {} units) to {}",
                group.name,
                month.format("%Y-%m"),
                document.total_sessions,
                document.total_units,
                out.display()
            );
            Ok(())
        }
        Cmd::Export {
            config,
            from,
            to,
            format,
            out,
            site,
        } => {
            let format: export::Format = format.parse().map_err(anyhow::Error::msg)?;
            if from > to {
                bail!("--from {from} is after --to {to}");
            }
            let cfg = JournalConfig::load(&config)?;
            if let Some(site) = &site {
                if !cfg.sites.iter().any(|s| &s.id == site) {
                    bail!("no site {site:?} in {}", config.display());
                }
            }
            let catalogue = load_catalogue(&cfg)?;
            let mut store = store::open(&cfg.database()?)?;
            let ctx = export::Context::load(store.as_ref(), &cfg, &catalogue)?;
            let total = store.count_units(from, to, site.as_deref())?;
            let bar = progress_bar(total);
            let req = export::Request {
                from,
                to,
                site: site.clone(),
                format,
            };
            let summary = export::export(store.as_ref(), &ctx, &req, &out, &mut |done| {
                bar.set_position(done)
            })
            .with_context(|| format!("cannot export to {}", out.display()))?;
            bar.finish_and_clear();
            let actor = Actor {
                user: None,
                login: "otmetka-journal export".into(),
                name: "otmetka-journal export".into(),
            };
            store.audit(
                &actor,
                "export_units",
                &site
                    .as_ref()
                    .map_or("all sites".into(), |s| format!("site {s}")),
                &format!(
                    "units {from}..{to}, {}, {} rows, to {}",
                    format.extension(),
                    summary.rows,
                    out.display()
                ),
                now(),
            )?;
            println!(
                "exported {} units of {from}..{to} to {}{}",
                summary.rows,
                out.display(),
                if summary.sheets.is_empty() {
                    String::new()
                } else {
                    format!(" (sheets {})", summary.sheets.join(", "))
                }
            );
            Ok(())
        }
    }
}

/// `--month 2026-11` as the month's first day.
fn parse_month_arg(month: &str) -> Result<NaiveDate> {
    otmetka_journal::web::journal::parse_month(month)
        .with_context(|| format!("--month {month:?}: give the month as 2026-11"))
}

/// The sites to look for a recipient or group in (the one asked for, or all), with their
/// people.
fn sites_to_search(
    cfg: &JournalConfig,
    store: &dyn store::JournalStore,
    only: Option<&str>,
) -> Result<Vec<(web::SiteView, Arc<SitePeople>)>> {
    if let Some(site) = only {
        if !cfg.sites.iter().any(|s| s.id == site) {
            bail!("no site {site:?} in the config");
        }
    }
    web::sites(cfg)
        .into_iter()
        .filter(|s| only.is_none_or(|o| o == s.id))
        .map(|s| {
            let people = store
                .people(&s.id)
                .with_context(|| format!("reading the people of site {}", s.id))?;
            Ok((s, Arc::new(people)))
        })
        .collect()
}

/// The typesetter of the config's `[documents]` (fonts, templates).
fn typesetter(cfg: &JournalConfig) -> Result<Typesetter> {
    Ok(Typesetter::new(
        &cfg.documents.fonts_dir,
        cfg.documents.templates_dir.as_deref(),
    )?)
}

/// Writes `bytes` to `path` whole: into `PATH.part`, then renamed, so a reader never sees half
/// a document.
fn write_file(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    let mut part = path.as_os_str().to_owned();
    part.push(".part");
    let part = PathBuf::from(part);
    // Acts, journals and ЕГИССО packages carry people's names and numbers: the owner's alone.
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&part)
            .with_context(|| format!("cannot write {}", part.display()))?;
        f.write_all(bytes)
            .and_then(|()| f.sync_all())
            .with_context(|| format!("cannot write {}", part.display()))?;
    }
    std::fs::rename(&part, path).with_context(|| format!("cannot write {}", path.display()))
}

/// The audit log's actor for a command run by hand.
fn command_actor(name: &str) -> Actor {
    Actor {
        user: None,
        login: name.into(),
        name: name.into(),
    }
}

/// The export's progress bar: on standard error, and only when that is a terminal (a log or a
/// pipe gets no control codes).
fn progress_bar(total: u64) -> indicatif::ProgressBar {
    use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    if let Ok(style) =
        ProgressStyle::with_template("{wide_bar} {pos}/{len} units ({per_sec}, {eta} left)")
    {
        bar.set_style(style);
    }
    bar
}
