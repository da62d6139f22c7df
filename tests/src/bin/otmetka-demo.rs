//! `./run demo`: a whole site on this machine — Mosquitto on a free loopback port, the journal
//! server, and a kiosk with the simulated reader — then a scripted session through the kiosk's
//! control socket, printing each decision, and the units as the journal received them. Then the
//! site keeps running — the journal's pages show the session just recorded — until Ctrl-C;
//! `--once` stops after the script (for scripts and tests).

use anyhow::Result;
use otmetka_app::kiosk::{Command, Reply};
use otmetka_core::catalogue::ServiceCode;
use otmetka_tests::site::{JournalProcess, KioskProcess, add_journal_user, feed_toml, repo_root};

/// The demo's staff: (login, name, role, password). Demo passwords, for this machine only.
const STAFF: [(&str, &str, &str, &str); 3] = [
    ("admin", "Администратор демо", "admin", "otmetka-demo-admin"),
    (
        "head",
        "Соколов Андрей Павлович",
        "head",
        "otmetka-demo-head",
    ),
    (
        "specialist",
        "Петрова Ирина Викторовна",
        "specialist",
        "otmetka-demo-specialist",
    ),
];

/// Waits for Ctrl-C or SIGTERM.
fn until_stopped() -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r?,
            _ = term.recv() => {}
        }
        anyhow::Ok(())
    })
}

/// Saves the kiosk's current screen (rendered off-screen when there is no display) in its
/// directory (the one place its control socket writes screenshots).
fn shot(kiosk: &KioskProcess, dir: &std::path::Path, name: &str) -> Result<()> {
    let path = dir.join("kiosk-1").join(format!("screen-{name}.png"));
    let mut c = kiosk.client()?;
    let req =
        otmetka_app::control::Request::Extra(otmetka_app::control::ExtraRequest::Screenshot {
            path: path.display().to_string(),
        });
    match c.request(&req)? {
        otmetka_app::control::Answer::Ok(_) => println!("    screen saved: {}", path.display()),
        otmetka_app::control::Answer::Error(e) => println!("    no screenshot: {e}"),
    }
    Ok(())
}

fn main() -> Result<()> {
    let once = std::env::args().skip(1).any(|a| a == "--once");
    let dir = repo_root().join("demo-out");
    let _ = std::fs::remove_dir_all(&dir);
    println!("Otmetka demo: run directory {}", dir.display());
    let broker = otmetka_link::testing::Broker::start_quiet(otmetka_tests::site::BROKER_SETTINGS)?;
    println!("mosquitto is up on 127.0.0.1:{}", broker.port);
    // The demo's journal has the sample ЕГИССО codes, so that its export page works.
    let jdir = dir.join("journal");
    let config = JournalProcess::config_text(&jdir, broker.port, &["demo"], None)?;
    let egisso = std::fs::read_to_string(repo_root().join("config/egisso.sample.toml"))?;
    let journal = JournalProcess::start_with_config(&jdir, &format!("{config}\n{egisso}"))?;
    println!(
        "journal is up (database {}); its web server: {}healthz",
        journal.database.display(),
        journal.web_url()
    );
    for (login, name, role, password) in STAFF {
        add_journal_user(&journal.config, login, name, role, password)?;
    }
    let window = std::env::var_os("OTMETKA_KIOSK_WINDOW").is_some();
    let has_aplay = std::process::Command::new("aplay")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    // The voice: through the sound card in a window where aplay is there, otherwise each prompt
    // is written as a WAV file to listen to afterwards.
    let sound = if window && has_aplay {
        format!(
            "[sound]\nsink = \"aplay\"\nsounds_dir = {:?}\n",
            repo_root().join("config/sounds")
        )
    } else {
        format!(
            "[sound]\nsink = \"dir\"\ndir = {:?}\nsounds_dir = {:?}\n",
            dir.join("kiosk-1/sounds-played"),
            repo_root().join("config/sounds")
        )
    };
    let mut kiosk = KioskProcess::start(
        &dir.join("kiosk-1"),
        "demo",
        "kiosk-1",
        &format!("{}{sound}", feed_toml(broker.port)),
    )?;
    println!("kiosk-1 is up (control socket {})", kiosk.socket.display());
    let say = |what: &str, cmd: Command| -> Result<()> {
        match kiosk.call(cmd) {
            Ok(Reply::Tap(t)) => println!(
                "{what:<44} → {:?}{}{}",
                t.kind,
                t.display_name
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default(),
                if t.committed {
                    format!(", committed; {} present", t.present)
                } else {
                    String::new()
                }
            ),
            Ok(Reply::Ended {
                units,
                below_group_min,
                ..
            }) => {
                println!(
                    "{what:<44} → session closed, {} units{}",
                    units.len(),
                    if below_group_min {
                        " (below the group minimum)"
                    } else {
                        ""
                    }
                );
                for u in units {
                    println!(
                        "    unit {} service {} recipient {} {}{}",
                        u.id.0,
                        u.service,
                        u.recipient
                            .map(|r| r.to_string())
                            .unwrap_or_else(|| "(group)".into()),
                        u.date,
                        if u.over_limit() {
                            format!(" overridden {:?}", u.overridden)
                        } else {
                            String::new()
                        }
                    );
                }
            }
            Ok(other) => println!("{what:<44} → {}", serde_json::to_string(&other)?),
            Err(e) => println!("{what:<44} → refused: {e}"),
        }
        Ok(())
    };
    say(
        "tap card 0A000001 before any session",
        Command::Tap {
            card: "0A000001".into(),
        },
    )?;
    say(
        "instructor signs in with PIN",
        Command::SignIn {
            credential: "1234".into(),
        },
    )?;
    say(
        "start 000 (labour skills), briefing done",
        Command::Start {
            service: ServiceCode::from("000"),
            group: None,
            unit_kind: None,
            safety_briefing: true,
            confirm_date: false,
            event: false,
            over_group_cap: false,
        },
    )?;
    for i in 1..=11u8 {
        say(
            &format!("tap card 0A0000{i:02X}"),
            Command::Tap {
                card: format!("0A0000{i:02X}"),
            },
        )?;
    }
    say(
        "instructor undoes the last check-in",
        Command::Undo { checkin: None },
    )?;
    say(
        "tap card 0A000001 again",
        Command::Tap {
            card: "0A000001".into(),
        },
    )?;
    shot(&kiosk, &dir, "already-checked-in")?;
    say(
        "tap an unknown card DEADBEEF",
        Command::Tap {
            card: "DEADBEEF".into(),
        },
    )?;
    shot(&kiosk, &dir, "unknown-card")?;
    say(
        "tap card 0A00001D (no consent on file)",
        Command::Tap {
            card: "0A00001D".into(),
        },
    )?;
    shot(&kiosk, &dir, "no-consent")?;
    say(
        "instructor overrides: consent given orally",
        Command::Override {
            reason: "согласие получено устно, документ донесут".into(),
        },
    )?;
    say(
        "tap a blocked card 0B00001C",
        Command::Tap {
            card: "0B00001C".into(),
        },
    )?;
    say(
        "instructor ends the session, head count 11",
        Command::End {
            head_count: Some(11),
            reason: None,
        },
    )?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let units = loop {
        let units = journal.units()?;
        let depth = match kiosk.call(Command::Status)? {
            Reply::Status(s) => s.outbox_depth,
            _ => 0,
        };
        if (depth == 0 && !units.is_empty()) || std::time::Instant::now() > deadline {
            println!("kiosk outbox: {depth} events waiting for the journal");
            break units;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    println!("the journal holds {} units:", units.len());
    for u in &units {
        println!(
            "    {} {} {} recipient {}{}",
            u.unit.date,
            u.unit.service,
            u.kiosk,
            u.unit
                .recipient
                .map(|r| r.to_string())
                .unwrap_or_else(|| "(group)".into()),
            if u.unit.over_limit() {
                format!(" — over a limit, overridden {:?}", u.unit.overridden)
            } else {
                String::new()
            }
        );
    }
    println!("logs and databases are in {}", dir.display());
    if !window {
        println!(
            "spoken prompts were written to {}",
            dir.join("kiosk-1/sounds-played").display()
        );
    }
    if once && !window {
        return Ok(());
    }
    println!();
    println!("Журнал для сотрудников: {}journal", journal.web_url());
    println!(
        "The journal's pages: {}journal — sign in as:",
        journal.web_url()
    );
    for (login, _, role, password) in STAFF {
        println!("    {login:<10} password {password:<24} ({role})");
    }
    if window {
        println!(
            "The kiosk's window is open: F1–F9 tap nine demo cards; «Инструктор» with PIN 1234 \
             opens the instructor's screens. Close the window to stop the demo."
        );
        kiosk.wait()?;
    } else {
        println!("The site keeps running; Ctrl-C stops it.");
        until_stopped()?;
        println!("stopping the kiosk, the journal and the broker");
    }
    Ok(())
}
