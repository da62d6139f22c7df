//! `otmetka-kiosk`: the kiosk binary.
//!
//! - `otmetka-kiosk run --config FILE [--headless]`
//! - `otmetka-kiosk ctl [--socket PATH] tap UID | signin UID-or-PIN | start SERVICE [--group G] |
//!   end [--head-count N] | override REASON | manual RECIPIENT REASON | undo | status |
//!   screenshot FILE.png | screen | frame | press instructor|finish|diagnostics|back`
//! - `otmetka-kiosk enroll BUNDLE_DIR [--into DIR]`

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use otmetka_app::clock::{Clock, ManualClock, SharedClock, SystemClock};
use otmetka_app::config::KioskConfig;
use otmetka_app::control::{self, Answer, ControlClient, ExtraRequest, Request};
use otmetka_app::kiosk::{Command, Facts, Kiosk};
use otmetka_app::screens::{Outputs, Screens};
use otmetka_app::sound::Player;
use otmetka_app::store::{KioskIdentity, Store};
use otmetka_app::ui::UiEvent;
use otmetka_app::worker;
use otmetka_core::cards::SiteSecret;
use otmetka_core::catalogue::{Catalogue, ServiceCode, UnitKind};
use otmetka_core::event::CloseReason;
use otmetka_core::people::{GroupId, RecipientId};
use otmetka_core::roster::RosterFile;
use std::path::{Path, PathBuf};

#[derive(Parser)]
#[command(name = "otmetka-kiosk", version, about = "Otmetka attendance kiosk")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the kiosk.
    Run {
        #[arg(long)]
        config: PathBuf,
        /// No window: screens are rendered off-screen (servers, CI).
        #[arg(long)]
        headless: bool,
    },
    /// Talk to a running kiosk over its control socket.
    Ctl {
        #[arg(long, default_value = "/run/otmetka/kiosk.sock")]
        socket: PathBuf,
        #[command(subcommand)]
        cmd: CtlCmd,
    },
    /// Install a kiosk bundle from `otmetka-journal provision-kiosk` (config, broker
    /// credential, CA certificate, site secret, catalogue).
    Enroll {
        bundle: PathBuf,
        #[arg(long, default_value = "/etc/otmetka")]
        into: PathBuf,
    },
}

#[derive(Subcommand)]
enum CtlCmd {
    /// A card on the reader (hex UID, 10-digit decimal, or "facility,number").
    Tap { uid: String },
    /// Sign an instructor in with a staff card or a PIN.
    Signin { credential: String },
    /// Sign the instructor out.
    Signout,
    /// Open a session of a service.
    Start {
        service: String,
        #[arg(long)]
        group: Option<uuid::Uuid>,
        /// per_recipient or per_group, where the service lets the session choose.
        #[arg(long)]
        unit_kind: Option<String>,
        #[arg(long)]
        safety_briefing: bool,
        #[arg(long)]
        confirm_date: bool,
        /// Open it as the service's event (a mass event, an excursion): the event's norm.
        #[arg(long)]
        event: bool,
        /// Open it although its group reached a cap on the group's sessions.
        #[arg(long)]
        over_group_cap: bool,
    },
    /// Override the last refused tap.
    Override { reason: String },
    /// Check a recipient in by id, with a reason.
    Manual {
        recipient: uuid::Uuid,
        reason: String,
    },
    /// Undo the last check-in.
    Undo,
    /// End the session.
    End {
        #[arg(long)]
        head_count: Option<u32>,
        /// Why, where the close warns (below the group minimum, head count ≠ check-ins):
        /// no_card, left_early, small_group or instructor_decision.
        #[arg(long, value_parser = parse_close_reason)]
        reason: Option<CloseReason>,
    },
    /// Show what the kiosk is doing.
    Status,
    /// Save the current screen as PNG.
    Screenshot { file: PathBuf },
    /// Which screen is shown.
    Screen,
    /// Render the screen now: its name, a hash of its pixels, the render time.
    Frame,
    /// Press a button of the screens: instructor, finish, diagnostics, back; good, so_so, bad
    /// (the answer at check-out); cancel_enrol (leave card enrolment).
    Press { action: String },
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
    let cli = Cli::parse();
    let result = match cli.cmd {
        Cmd::Run { config, headless } => {
            otmetka_app::crash::exit_on_panic();
            run(&config, headless)
        }
        Cmd::Ctl { socket, cmd } => ctl(&socket, cmd),
        Cmd::Enroll { bundle, into } => enroll(&bundle, &into),
    };
    if let Err(e) = result {
        eprintln!("otmetka-kiosk: {e:#}");
        std::process::exit(1);
    }
}

fn run(config_path: &Path, headless: bool) -> Result<()> {
    // Before any thread starts, so that every thread inherits the mask.
    let stop_signals = block_stop_signals()?;
    let cfg = KioskConfig::load(config_path)?;
    // A reader that cannot be built into this kiosk (MFRC522 without a hardware build) is refused
    // now; one that is absent or unplugged is opened again and again by its thread.
    let pins = match &cfg.outputs {
        otmetka_app::config::OutputsConfig::Gpio { pins } => Some(pins),
        otmetka_app::config::OutputsConfig::None => None,
    };
    let reader_opener = otmetka_app::reader::opener(&cfg.reader, pins)
        .map_err(|e| anyhow::anyhow!("{}: {e}", config_path.display()))?;
    let secret = std::fs::read(&cfg.site_secret_file).with_context(|| {
        format!(
            "cannot read the site secret {}",
            cfg.site_secret_file.display()
        )
    })?;
    let secret = SiteSecret::from_file_bytes(&secret)
        .with_context(|| cfg.site_secret_file.display().to_string())?;
    let catalogue_text = std::fs::read_to_string(&cfg.catalogue)
        .with_context(|| format!("cannot read the catalogue {}", cfg.catalogue.display()))?;
    let catalogue = Catalogue::from_toml(&cfg.catalogue.display().to_string(), &catalogue_text)?;
    if let Some(dir) = cfg.database.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let identity = KioskIdentity {
        site: cfg.site.clone(),
        kiosk: cfg.kiosk.clone(),
    };
    // Held until the process ends: one kiosk per data directory.
    let _instance = otmetka_app::store::InstanceLock::take(&cfg.database)?;
    let store = Store::open(&cfg.database, identity)?;
    let clock: std::sync::Arc<dyn Clock> = match cfg.frozen_clock {
        Some(at) => {
            tracing::warn!(%at, "the clock is frozen (frozen_clock in the config): demos and tests only");
            std::sync::Arc::new(ManualClock::new(at.with_timezone(&chrono::Utc), true))
        }
        None => std::sync::Arc::new(SystemClock {
            assume_synced: cfg.assume_clock_synced,
        }),
    };
    let mut kiosk = Kiosk::new(
        store,
        catalogue,
        secret.clone(),
        cfg.site_time(),
        cfg.policy.clone(),
        Box::new(SharedClock(clock.clone())),
        &cfg.site,
        &cfg.kiosk,
    )?;
    // `kiosk.db` alone has the parent "": the current directory.
    let data_dir = cfg
        .database
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    // The prompts' player, started now so the health probe reads its device from the first tick.
    let sound = cfg.sound.to_sound_config();
    tracing::info!(sink = ?sound.sink, "prompts are played");
    let player = Player::new();
    player.probe(&sound);
    kiosk.watch_health(
        otmetka_app::health::Probe::new(&cfg.health, data_dir).with_sound(player.watch()),
    );
    if let Some(file) = &cfg.roster_file {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read the roster file {}", file.display()))?;
        let name = file.display().to_string();
        let roster = RosterFile::parse(&name, &text)?.to_roster(&name, &secret)?;
        if kiosk.put_roster(&roster)? {
            tracing::info!(version = roster.version, "roster loaded from {name}");
        }
    }
    if let Some(s) = kiosk.session() {
        tracing::info!(session = %s.id, present = s.present_count(), "resumed the open session");
    }
    // The screens live on this (the main) thread; everyone else reaches them through UiRemote.
    let mut ui = open_ui(headless)?;
    let remote = ui.remote();
    let stopper = remote.clone();
    std::thread::Builder::new()
        .name("stop-signals".into())
        .spawn(move || match stop_signals.wait() {
            Ok(signal) => {
                tracing::info!(%signal, "stopping");
                otmetka_link::systemd::stopping();
                stopper.quit();
            }
            Err(e) => tracing::error!("cannot wait for SIGTERM: {e}"),
        })
        .context("cannot start the signal thread")?;
    let now: std::sync::Arc<dyn Fn() -> chrono::DateTime<chrono::Utc> + Send + Sync> =
        std::sync::Arc::new(move || clock.now());
    let facts = Facts::of(&kiosk, now(), false);
    let screens = Screens::new(
        remote.clone(),
        cfg.site_time(),
        otmetka_app::reader::label(&cfg.reader),
        facts,
        now,
    );
    // Headless: only a backlight named in the config (the tests' directory); sysfs is not ours.
    if !headless || cfg.display.backlight_dir.is_some() {
        screens.blank_with(otmetka_app::display::Blanker::of_config(
            &cfg.display,
            std::time::Instant::now(),
        ));
    }
    let observer = screens.observer(Outputs {
        sound: Some((player, sound)),
        signal: open_outputs(&cfg.outputs)?,
        hold: std::time::Duration::from_secs(3),
    });
    let handle = worker::spawn(kiosk, std::time::Duration::from_secs(5), Some(observer));
    // Large text, dark and the language, as they were left (a file beside the database).
    let settings_file = cfg.database.with_file_name("ui-settings.json");
    let saved = otmetka_app::ui::UiSettings::load(&settings_file);
    if saved != otmetka_app::ui::UiSettings::default() {
        tracing::info!(?saved, "display settings restored");
        remote.set_settings(saved);
        let _ = screens.act(otmetka_app::ui::UiEvent::SettingsChanged(saved), &handle);
    }
    screens.forward_events(ui.take_events(), handle.clone(), Some(settings_file));
    if let Some(open) = reader_opener {
        otmetka_app::reader::spawn(open, handle.clone());
    }
    if let Some(feed) = &cfg.feed {
        let _ = handle.call(otmetka_app::kiosk::Internal::FeedLink {
            connected: false,
            detail: format!("подключение к {}", feed.broker),
        });
        otmetka_app::feed::spawn(
            otmetka_app::feed::FeedOptions {
                config: feed.clone(),
                identity: KioskIdentity {
                    site: cfg.site.clone(),
                    kiosk: cfg.kiosk.clone(),
                },
                database: cfg.database.clone(),
                window: feed.window,
                resend_after: std::time::Duration::from_secs(feed.resend_after_s),
                version: env!("CARGO_PKG_VERSION").to_string(),
            },
            handle.clone(),
        );
    }
    let shots = remote.clone();
    let screenshot_dir = cfg.screenshot_dir();
    let worker_for_screens = handle.clone();
    let extra: control::ExtraHandler = std::sync::Arc::new(move |req: &ExtraRequest| {
        let screen = |s: &Screens| otmetka_app::kiosk::Reply::Screen {
            name: s.shown().to_string(),
        };
        match req {
            ExtraRequest::Screenshot { path } => {
                let target = control::screenshot_target(&screenshot_dir, path)?;
                let png = shots
                    .render(std::time::Duration::from_secs(10))
                    .and_then(|img| img.to_png())
                    .map_err(|e| e.to_string())?;
                control::write_screenshot(&target, &png)?;
                Ok(screen(&screens))
            }
            ExtraRequest::Screen => Ok(screen(&screens)),
            ExtraRequest::Frame => {
                // The name first: the frame shows that screen or a newer one.
                let name = screens.shown().to_string();
                let t = std::time::Instant::now();
                let img = shots
                    .render(std::time::Duration::from_secs(10))
                    .map_err(|e| e.to_string())?;
                let render_us = t.elapsed().as_micros() as u64;
                Ok(otmetka_app::kiosk::Reply::Frame {
                    name,
                    pixels_hash: fnv1a(&img.pixels),
                    top: img.at(img.width / 2, 2),
                    render_us,
                })
            }
            ExtraRequest::Press { action } => {
                let ev = match action.as_str() {
                    "instructor" => UiEvent::InstructorMenu,
                    "finish" => UiEvent::FinishSession,
                    "diagnostics" => UiEvent::OpenDiagnostics,
                    "back" => UiEvent::Back,
                    "good" => UiEvent::Satisfaction(otmetka_app::ui::Satisfaction::Good),
                    "so_so" => UiEvent::Satisfaction(otmetka_app::ui::Satisfaction::SoSo),
                    "bad" => UiEvent::Satisfaction(otmetka_app::ui::Satisfaction::Bad),
                    "cancel_enrol" => UiEvent::EnrolCancel,
                    other => {
                        return Err(format!(
                            "unknown button {other:?}: instructor, finish, diagnostics, back, good, so_so, bad or cancel_enrol"
                        ));
                    }
                };
                screens.act(ev, &worker_for_screens)?;
                Ok(screen(&screens))
            }
        }
    });
    control::serve(&cfg.socket, handle, Some(extra))
        .with_context(|| format!("cannot listen on {}", cfg.socket.display()))?;
    tracing::info!(socket = %cfg.socket.display(), "kiosk {} of site {} ready", cfg.kiosk, cfg.site);
    otmetka_link::systemd::ready(&format!("kiosk {} of site {}", cfg.kiosk, cfg.site));
    ui.run()?;
    otmetka_link::systemd::stopping();
    Ok(())
}

/// Blocks SIGTERM (systemd's stop) and SIGINT (Ctrl-C) in this thread and so in every thread it
/// starts after; one thread takes them with `sigwait` (no handler, no unsafe code): it says
/// STOPPING=1 and ends the screens' loop, `run` returns and the process exits 0. What was
/// confirmed is committed already; any other end is safe too (the store's transactions). The
/// sound players' children inherit the mask: a prompt being played finishes (a second or two)
/// rather than dying at a stop.
fn block_stop_signals() -> Result<nix::sys::signal::SigSet> {
    use nix::sys::signal::{SigSet, Signal};
    let mut set = SigSet::empty();
    set.add(Signal::SIGTERM);
    set.add(Signal::SIGINT);
    set.thread_block()
        .context("cannot block SIGTERM and SIGINT")?;
    Ok(set)
}

/// The screens: a window where this build has a windowing backend and there is a display,
/// otherwise rendered off-screen (800×480, the official 7" panel).
/// Whether the kernel offers a display to draw on without a desktop (DRM or a framebuffer).
fn kms_device_present() -> bool {
    let drm = std::fs::read_dir("/dev/dri")
        .map(|d| {
            d.flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("card"))
        })
        .unwrap_or(false);
    drm || (0..10).any(|i| Path::new(&format!("/dev/fb{i}")).exists())
}

fn open_ui(headless: bool) -> Result<otmetka_app::ui::Ui> {
    let has_display =
        std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some();
    let wants_screen = !headless
        && (has_display || cfg!(feature = "kms"))
        && cfg!(any(feature = "window", feature = "kms"));
    if wants_screen && !has_display && !kms_device_present() {
        // A kiosk whose panel is not there still takes cards: the voice, the lights and the
        // store work without a screen, and staff see why in the log. (Slint picks its platform
        // once: a failed attempt could not fall back, hence the look first.)
        tracing::error!(
            "no display device (/dev/dri/card*, /dev/fb*): running without a screen; taps are \
             still recorded, spoken and shown by the lights"
        );
        return Ok(otmetka_app::ui::Ui::headless(800, 480)?);
    }
    if wants_screen {
        return Ok(otmetka_app::ui::Ui::windowed()?);
    }
    Ok(otmetka_app::ui::Ui::headless(800, 480)?)
}

/// The lights and buzzer the config names.
fn open_outputs(
    outputs: &otmetka_app::config::OutputsConfig,
) -> Result<Option<otmetka_app::screens::SignalFn>> {
    match outputs {
        otmetka_app::config::OutputsConfig::None => Ok(None),
        #[allow(unused_variables)]
        otmetka_app::config::OutputsConfig::Gpio { pins } => {
            let pulse = pins
                .relay
                .map(|_| std::time::Duration::from_millis(pins.relay_pulse_ms));
            #[cfg(feature = "rpi")]
            {
                let ind = otmetka_firmware::backend::rpi::open_indicators(pins)
                    .context("cannot open the lights and buzzer (rppal)")?;
                Ok(Some(otmetka_app::signals::spawn(ind, pulse)))
            }
            #[cfg(all(feature = "linux", not(feature = "rpi")))]
            {
                let ind = otmetka_firmware::backend::linux::open_indicators(pins)
                    .context("cannot open the lights and buzzer (GPIO character device)")?;
                Ok(Some(otmetka_app::signals::spawn(ind, pulse)))
            }
            #[cfg(not(any(feature = "rpi", feature = "linux")))]
            {
                let _ = pulse;
                bail!(
                    "outputs = {{ kind = \"gpio\" }} needs a kiosk built with --features rpi (Raspberry Pi) or --features linux"
                )
            }
        }
    }
}

/// FNV-1a, 64 bits: tells two frames apart.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Checks a bundle and installs it; says what it did and what to run next.
fn enroll(bundle_dir: &Path, into: &Path) -> Result<()> {
    use otmetka_app::config::bundle;
    let b = bundle::check(bundle_dir)
        .with_context(|| format!("the bundle {} is not usable", bundle_dir.display()))?;
    // Installed by the package (as root): the files are given to the service's group.
    let group = if rustix::process::geteuid().is_root() {
        nix::unistd::Group::from_name(bundle::SERVICE_GROUP)
            .ok()
            .flatten()
            .map(|g| g.gid.as_raw())
    } else {
        None
    };
    let installed = b
        .install(into, group)
        .with_context(|| format!("cannot install into {}", into.display()))?;
    let feed = b
        .config
        .feed
        .as_ref()
        .map(|f| f.broker.as_str())
        .unwrap_or("?");
    println!(
        "Киоск {} площадки {} установлен в {} / kiosk {} of site {} installed into {}:",
        b.config.kiosk,
        b.config.site,
        into.display(),
        b.config.kiosk,
        b.config.site,
        into.display()
    );
    for f in &installed {
        println!("  {}", f.display());
    }
    let config = into.join(bundle::CONFIG);
    println!("broker: {feed}; store: {}", b.config.database.display());
    // On a kiosk installed from the package, the service starts (again) with the new config.
    let restarted = group.is_some()
        && Path::new("/run/systemd/system").is_dir()
        && std::process::Command::new("systemctl")
            .args(["restart", "otmetka-kiosk.service"])
            .status()
            .is_ok_and(|s| s.success());
    if restarted {
        println!("Служба otmetka-kiosk перезапущена / the otmetka-kiosk service was restarted");
    } else {
        println!(
            "next: `systemctl restart otmetka-kiosk` (or `otmetka-kiosk run --config {}`)",
            config.display()
        );
    }
    println!(
        "Удалите пакет {} (в нём пароль) / delete the bundle {} (it holds a password)",
        bundle_dir.display(),
        bundle_dir.display()
    );
    Ok(())
}

/// `--reason` of `ctl end`: a close reason's code.
fn parse_close_reason(code: &str) -> Result<CloseReason, String> {
    CloseReason::from_code(code).ok_or_else(|| {
        let codes: Vec<&str> = CloseReason::ALL.iter().map(|r| r.code()).collect();
        format!("not a close reason; one of: {}", codes.join(", "))
    })
}

fn ctl(socket: &Path, cmd: CtlCmd) -> Result<()> {
    let request = match cmd {
        CtlCmd::Tap { uid } => Request::Kiosk(Command::Tap { card: uid }),
        CtlCmd::Signin { credential } => Request::Kiosk(Command::SignIn { credential }),
        CtlCmd::Signout => Request::Kiosk(Command::SignOut),
        CtlCmd::Start {
            service,
            group,
            unit_kind,
            safety_briefing,
            confirm_date,
            event,
            over_group_cap,
        } => {
            let unit_kind = match unit_kind.as_deref() {
                None => None,
                Some("per_recipient") => Some(UnitKind::PerRecipient),
                Some("per_group") => Some(UnitKind::PerGroup),
                Some(other) => bail!("--unit-kind is per_recipient or per_group, not {other:?}"),
            };
            Request::Kiosk(Command::Start {
                service: ServiceCode(service),
                group: group.map(GroupId),
                unit_kind,
                safety_briefing,
                confirm_date,
                event,
                over_group_cap,
            })
        }
        CtlCmd::Override { reason } => Request::Kiosk(Command::Override { reason }),
        CtlCmd::Manual { recipient, reason } => Request::Kiosk(Command::Manual {
            recipient: RecipientId(recipient),
            reason,
        }),
        CtlCmd::Undo => Request::Kiosk(Command::Undo { checkin: None }),
        CtlCmd::End { head_count, reason } => Request::Kiosk(Command::End { head_count, reason }),
        CtlCmd::Status => Request::Kiosk(Command::Status),
        CtlCmd::Screen => Request::Extra(ExtraRequest::Screen),
        CtlCmd::Frame => Request::Extra(ExtraRequest::Frame),
        CtlCmd::Press { action } => Request::Extra(ExtraRequest::Press { action }),
        CtlCmd::Screenshot { file } => {
            // A relative name is the kiosk's to place (in its screenshot_dir).
            let path = file;
            Request::Extra(ExtraRequest::Screenshot {
                path: path.display().to_string(),
            })
        }
    };
    let mut client = ControlClient::connect(socket).with_context(|| {
        format!(
            "cannot reach the kiosk at {} (is it running?)",
            socket.display()
        )
    })?;
    match client.request(&request)? {
        Answer::Ok(reply) => {
            println!("{}", serde_json::to_string(&reply)?);
            Ok(())
        }
        Answer::Error(e) => bail!("{e}"),
    }
}
