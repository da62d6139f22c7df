//! The real `otmetka-kiosk` binary driven through its control socket: a session survives a
//! SIGKILL of the kiosk, and every check-in `ctl tap` reported committed is in its units.

#![allow(clippy::unwrap_used)]

use otmetka_app::kiosk::{Command, Reply};
use otmetka_core::catalogue::ServiceCode;
use otmetka_core::decision::DecisionKind;
use otmetka_tests::site::KioskProcess;

fn tap(k: &KioskProcess, card: &str) -> otmetka_app::kiosk::TapReply {
    match k.call(Command::Tap { card: card.into() }).unwrap() {
        Reply::Tap(t) => t,
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_open_session_survives_a_kiosk_killed_mid_session() {
    let dir = tempfile::tempdir().unwrap();
    let mut k = KioskProcess::start(dir.path(), "demo", "kiosk-1", "").unwrap();
    assert_eq!(tap(&k, "0A000001").kind, DecisionKind::NoOpenSession);
    let Reply::Status(s) = k.call(Command::Status).unwrap() else {
        panic!()
    };
    assert_eq!(
        s.feed_connected, None,
        "a kiosk without a feed has no link to report"
    );
    k.call(Command::SignIn {
        credential: "1234".into(),
    })
    .unwrap();
    let start = Command::Start {
        service: ServiceCode::from("001"),
        group: None,
        unit_kind: None,
        safety_briefing: false,
        confirm_date: false,
        event: false,
        over_group_cap: false,
    };
    k.call(start).unwrap();
    let mut committed = 0;
    for i in 1..=5 {
        let t = tap(&k, &format!("0A0000{i:02X}"));
        assert_eq!(t.kind, DecisionKind::Accepted);
        assert!(t.committed);
        committed += 1;
    }
    assert_eq!(tap(&k, "0A000001").kind, DecisionKind::AlreadyCheckedIn);
    let unknown = tap(&k, "DEADBEEF");
    assert_eq!(unknown.kind, DecisionKind::UnknownCard);
    assert!(unknown.committed, "an unknown tap is kept");
    k.kill();
    k.spawn().unwrap();
    let Reply::Status(s) = k.call(Command::Status).unwrap() else {
        panic!()
    };
    let session = s
        .session
        .expect("the open session is resumed after SIGKILL");
    assert_eq!(session.present.len(), committed);
    assert_eq!(tap(&k, "0A000002").kind, DecisionKind::AlreadyCheckedIn);
    // A bad command is an error answer, not a crash.
    let mut c = k.client().unwrap();
    let bad = c
        .request(&serde_json::from_str(r#"{"cmd":"tap","card":"not a card"}"#).unwrap())
        .unwrap();
    assert!(matches!(bad, otmetka_app::control::Answer::Error(_)));
    // The restart signed the instructor out: ending the session asks for the PIN again.
    let refused = k.call(Command::End {
        head_count: Some(5),
        reason: None,
    });
    assert!(
        refused
            .as_ref()
            .is_err_and(|e| e.to_string().contains("no instructor is signed in")),
        "{refused:?}"
    );
    k.call(Command::SignIn {
        credential: "1234".into(),
    })
    .unwrap();
    let Reply::Ended {
        units,
        below_group_min,
        ..
    } = k
        .call(Command::End {
            head_count: Some(5),
            reason: None,
        })
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(units.len(), committed);
    assert!(!below_group_min, "001 has no group minimum");
}

#[test]
fn a_corrupt_config_is_refused_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("kiosk.toml");
    std::fs::write(
        &cfg,
        "site = \"demo\"\nkiosk = \"k\"\ntime_zone = \"Mars/Olympus\"\n",
    )
    .unwrap();
    let out =
        std::process::Command::new(otmetka_tests::site::sibling_binary("otmetka-kiosk").unwrap())
            .args(["run", "--headless", "--config"])
            .arg(&cfg)
            .output()
            .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("kiosk.toml"), "{err}");
    std::fs::write(&cfg, "site = \"demo\"\nkiosk = 5\n").unwrap();
    let out =
        std::process::Command::new(otmetka_tests::site::sibling_binary("otmetka-kiosk").unwrap())
            .args(["run", "--headless", "--config"])
            .arg(&cfg)
            .output()
            .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 2") && err.contains("kiosk"), "{err}");
}

#[test]
fn display_settings_left_on_the_kiosk_are_there_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    // What the screen's settings buttons save beside the database: dark, large text.
    std::fs::write(
        dir.path().join("ui-settings.json"),
        r#"{"large_text":true,"dark":true,"lang":"ru"}"#,
    )
    .unwrap();
    let k = KioskProcess::start(dir.path(), "demo", "kiosk-1", "").unwrap();
    let shot = dir.path().join("idle.png");
    let shoot = || {
        k.extra(otmetka_app::control::ExtraRequest::Screenshot {
            path: shot.display().to_string(),
        })
        .unwrap();
        let (w, h, px) = otmetka_tests::screens::decode(&shot);
        // The mean brightness of the picture: the dark variant is mostly black.
        let sum: u64 = px.chunks_exact(4).map(|p| u64::from(p[1])).sum();
        sum as f64 / f64::from(w * h)
    };
    let dark = otmetka_tests::site::wait_for("the saved settings applied", 20, || {
        let b = shoot();
        (b < 80.0).then_some(b)
    });
    // A kiosk without the file is light, for comparison.
    drop(k);
    let dir2 = tempfile::tempdir().unwrap();
    let k2 = KioskProcess::start(dir2.path(), "demo", "kiosk-1", "").unwrap();
    let shot2 = dir2.path().join("idle.png");
    k2.extra(otmetka_app::control::ExtraRequest::Screenshot {
        path: shot2.display().to_string(),
    })
    .unwrap();
    let (w, h, px) = otmetka_tests::screens::decode(&shot2);
    let light = px.chunks_exact(4).map(|p| u64::from(p[1])).sum::<u64>() as f64 / f64::from(w * h);
    assert!(light > 160.0 && dark < 80.0, "light {light}, dark {dark}");
}

#[test]
fn a_second_kiosk_on_the_same_config_is_refused_and_the_first_stays_reachable() {
    let dir = tempfile::tempdir().unwrap();
    let k = KioskProcess::start(dir.path(), "demo", "kiosk-1", "").unwrap();
    let out =
        std::process::Command::new(otmetka_tests::site::sibling_binary("otmetka-kiosk").unwrap())
            .args(["run", "--headless", "--config"])
            .arg(&k.config)
            .output()
            .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the second kiosk must not run");
    assert!(
        stderr.contains("already runs on the database") && stderr.contains("pid"),
        "a clear message: {stderr}"
    );
    // The first one still answers on its socket (the second did not take it over).
    assert!(matches!(k.call(Command::Status).unwrap(), Reply::Status(_)));
}

#[test]
fn the_control_socket_is_the_kiosk_users_and_takes_only_what_people_send() {
    use std::io::{BufRead, BufReader, Write};
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let k = KioskProcess::start(dir.path(), "demo", "kiosk-1", "").unwrap();
    let mode = std::fs::metadata(&k.socket).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the socket is the kiosk user's alone");
    let ask = |line: &str| -> String {
        let mut s = std::os::unix::net::UnixStream::connect(&k.socket).unwrap();
        // The kiosk may answer and close before a too-long line is all written.
        let _ = s
            .write_all(line.as_bytes())
            .and_then(|()| s.write_all(b"\n"));
        let mut answer = String::new();
        BufReader::new(s).read_line(&mut answer).unwrap();
        answer
    };
    // The feed's plumbing is not a command of the socket: a local user cannot fake the link,
    // the reader's health, a card request or a schedule.
    for internal in [
        r#"{"cmd":"feed_link","connected":true,"detail":"fake"}"#,
        r#"{"cmd":"reader_health","ok":true}"#,
        r#"{"cmd":"enrol_cancel"}"#,
        r#"{"cmd":"tick"}"#,
    ] {
        let a = ask(internal);
        assert!(
            a.contains("is not a command of the control socket"),
            "{internal}: {a}"
        );
    }
    // A line beyond the bound is refused and the connection closed; the kiosk goes on.
    let a = ask(&format!(
        r#"{{"cmd":"tap","card":"{}"}}"#,
        "0".repeat(100_000)
    ));
    assert!(a.contains("at most"), "{a}");
    assert!(matches!(k.call(Command::Status).unwrap(), Reply::Status(_)));
    // Another user is refused by the peer's uid even where the file mode would let them in.
    let me = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(dir.path()).unwrap());
    if me == 0
        && std::path::Path::new("/usr/bin/setpriv").exists()
        && std::path::Path::new("/usr/bin/python3").exists()
    {
        std::fs::set_permissions(&k.socket, std::fs::Permissions::from_mode(0o666)).unwrap();
        let mut d = dir.path().to_path_buf();
        while d.parent().is_some() {
            let _ = std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755));
            d.pop();
        }
        let out = std::process::Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "/usr/bin/python3",
                "-c",
            ])
            .arg(format!(
                "import socket; s = socket.socket(socket.AF_UNIX); s.connect({:?}); \
                 print(s.makefile().readline())",
                k.socket.display().to_string()
            ))
            .output()
            .unwrap();
        let answer = String::from_utf8_lossy(&out.stdout);
        assert!(
            answer.contains("may not drive this kiosk"),
            "{answer} {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn a_screenshot_is_written_only_as_a_png_in_the_screenshot_directory() {
    use otmetka_app::control::ExtraRequest;
    let dir = tempfile::tempdir().unwrap();
    let shots = dir.path().join("shots");
    let k = KioskProcess::start(
        &dir.path().join("k"),
        "demo",
        "kiosk-1",
        &format!("screenshot_dir = {shots:?}\n"),
    )
    .unwrap();
    let shoot = |path: &std::path::Path| {
        k.extra(ExtraRequest::Screenshot {
            path: path.display().to_string(),
        })
    };
    // In the directory, by a relative name or its whole path: written.
    shoot(std::path::Path::new("idle.png")).unwrap();
    assert!(shots.join("idle.png").exists());
    shoot(&shots.join("again.png")).unwrap();
    let (w, _, _) = otmetka_tests::screens::decode(&shots.join("again.png"));
    assert!(w > 0);
    // The kiosk's database, a file outside, a way out of the directory: refused, untouched.
    let db = dir.path().join("k/kiosk.db");
    let outside = dir.path().join("outside.png");
    std::fs::write(&outside, b"someone else's file").unwrap();
    for (asked, why) in [
        (db.clone(), ".png"),
        (outside.clone(), "only in"),
        (shots.join("../outside.png"), "only in"),
    ] {
        let e = shoot(&asked).unwrap_err().to_string();
        assert!(e.contains(why), "{}: {e}", asked.display());
    }
    // A symbolic link in the directory to a file outside is not followed.
    std::os::unix::fs::symlink(&outside, shots.join("link.png")).unwrap();
    let e = shoot(&shots.join("link.png")).unwrap_err().to_string();
    assert!(e.contains("cannot write"), "{e}");
    assert_eq!(std::fs::read(&outside).unwrap(), b"someone else's file");
    assert!(
        std::fs::read(&db)
            .unwrap()
            .starts_with(b"SQLite format 3\0")
    );
}

#[test]
fn a_thread_that_panics_ends_the_kiosk_instead_of_leaving_it_half_alive() {
    for point in ["panic-feed", "panic-reader"] {
        let dir = tempfile::tempdir().unwrap();
        // A kiosk that runs its feed (to a port where no broker is) and a reader thread (a
        // serial reader that is not plugged in: the thread keeps trying to open it).
        let port = otmetka_link::testing::free_port().unwrap();
        let extra = format!(
            "reader = {{ kind = \"serial\", path = {:?} }}\n{}",
            dir.path().join("no-such-tty"),
            otmetka_tests::site::feed_toml(port)
        );
        let mut k = KioskProcess::start(dir.path(), "demo", "kiosk-1", &extra).unwrap();
        k.kill();
        k.env = vec![("OTMETKA_FAULT".into(), point.into())];
        k.spawn().unwrap();
        let status =
            otmetka_tests::site::wait_for(&format!("the kiosk to end on {point}"), 20, || {
                k.exited()
            });
        assert_eq!(
            status.code(),
            Some(otmetka_app::crash::PANIC_EXIT),
            "{point}"
        );
        let log = k.log();
        assert!(
            log.contains(&format!("injected fault: {point}"))
                && log.contains("the kiosk stops so that it is started again"),
            "{point}: {log}"
        );
    }
}

/// The hardening issue, point 16: a broker host that does not resolve (`.invalid` never does,
/// RFC 2606) may resolve later, so the kiosk starts and works offline, but it says why the feed
/// is down, naming the host, in its status (and on the diagnostics screen), and logs the reason
/// once, not on every retry.
#[test]
fn a_broker_host_that_does_not_resolve_is_shown_and_logged_once() {
    let dir = tempfile::tempdir().unwrap();
    let k = KioskProcess::start(
        dir.path(),
        "demo",
        "kiosk-1",
        "[feed]\nbroker = \"broker.invalid:1883\"\nplain_tcp = true\n",
    )
    .unwrap();
    let detail = otmetka_tests::site::wait_for("the feed's reason in the status", 30, || {
        match k.call(Command::Status).ok()? {
            Reply::Status(s) if s.feed_connected == Some(false) && !s.feed_detail.is_empty() => {
                Some(s.feed_detail)
            }
            _ => None,
        }
    });
    assert!(detail.contains("broker.invalid"), "{detail}");
    // Three retries later, still one line in the log; the kiosk still takes taps offline.
    std::thread::sleep(std::time::Duration::from_secs(12));
    let log = k.log();
    assert_eq!(
        log.matches("feed cannot connect to the broker").count(),
        1,
        "{log}"
    );
    assert_eq!(log.matches("MQTT connection down").count(), 1, "{log}");
    assert!(matches!(k.call(Command::Status), Ok(Reply::Status(_))));
}

#[test]
fn under_voltage_and_the_free_space_are_in_the_status() {
    // The Pi issue, point 4: the real kiosk reads a directory laid out as the Pi's sysfs.
    let dir = tempfile::tempdir().unwrap();
    let sys = dir.path().join("sys-class-hwmon");
    let volt = sys.join("hwmon2");
    std::fs::create_dir_all(&volt).unwrap();
    std::fs::write(volt.join("name"), "rpi_volt\n").unwrap();
    let alarm = volt.join("in0_lcrit_alarm");
    std::fs::write(&alarm, "0\n").unwrap();
    let k = KioskProcess::start(
        dir.path(),
        "demo",
        "kiosk-1",
        &format!("[health]\nhwmon_dir = {:?}\nlow_space_mb = 1\n", sys),
    )
    .unwrap();
    let status = |what: &str, want: otmetka_app::health::Power| {
        otmetka_tests::site::wait_for(what, 30, || match k.call(Command::Status).ok()? {
            Reply::Status(s) if s.power == want => Some(s),
            _ => None,
        })
    };
    let s = status("power fine", otmetka_app::health::Power::Fine);
    let space = s.space.expect("the data directory's space");
    assert!(space.total_mb > 0 && !space.low, "{space:?}");
    std::fs::write(&alarm, "1\n").unwrap();
    status("under-voltage", otmetka_app::health::Power::Low);
    std::fs::write(&alarm, "0\n").unwrap();
    status("a dip remembered", otmetka_app::health::Power::WasLow);
    assert!(
        k.log()
            .contains("under-voltage: the power supply is too weak"),
        "{}",
        k.log()
    );
}

/// The Pi issue, points 5 and 7, through the real binary: the idle screen goes dark through a
/// backlight directory laid out as sysfs, a card lights it again; a sound card that is not
/// there is in the kiosk's status (what the diagnostics screen shows), not silent.
#[test]
fn the_idle_screen_goes_dark_a_card_lights_it_and_a_missing_sound_card_is_in_the_status() {
    let dir = tempfile::tempdir().unwrap();
    let bl = dir.path().join("backlight");
    std::fs::create_dir_all(&bl).unwrap();
    std::fs::write(bl.join("max_brightness"), "255\n").unwrap();
    std::fs::write(bl.join("brightness"), "200\n").unwrap();
    std::fs::write(bl.join("bl_power"), "0\n").unwrap();
    let power = || {
        std::fs::read_to_string(bl.join("bl_power"))
            .unwrap()
            .trim()
            .to_string()
    };
    let k = KioskProcess::start(
        dir.path(),
        "demo",
        "kiosk-1",
        &format!(
            "[display]\nbacklight_dir = {bl:?}\nblank_after_s = 2\n\
             [sound]\nsink = \"aplay\"\ndevice = \"hw:CARD=OtmetkaNoSuchCard\"\n"
        ),
    )
    .unwrap();
    otmetka_tests::site::wait_for("the idle screen dark", 30, || {
        (power() == "4").then_some(())
    });
    // A card: recorded and answered as always, and the screen lit for its answer.
    let _ = tap(&k, "00000000");
    otmetka_tests::site::wait_for("the screen lit by the card", 10, || {
        (power() == "0").then_some(())
    });
    assert_eq!(
        std::fs::read_to_string(bl.join("brightness"))
            .unwrap()
            .trim(),
        "200",
        "back at the level it had"
    );
    // And dark again once nobody is there.
    otmetka_tests::site::wait_for("dark again", 30, || (power() == "4").then_some(()));
    let sound = otmetka_tests::site::wait_for("the sound card's state", 30, || {
        let Reply::Status(s) = k.call(Command::Status).unwrap() else {
            panic!("not a status")
        };
        (s.sound != otmetka_app::sound::SoundState::Unchecked).then_some(s.sound)
    });
    assert_eq!(sound, otmetka_app::sound::SoundState::Missing);
}
