//! The two services as systemd runs them (`Type=notify`, `WatchdogSec=`): each test plays the
//! service manager with its own `NOTIFY_SOCKET` and `WATCHDOG_USEC`, starts the real binary and
//! reads what it says: READY=1 once it is up, WATCHDOG=1 from the loop that does the work — and
//! no more pings when that loop is stuck, which is when systemd must restart it.

#![allow(clippy::unwrap_used)]

use otmetka_link::testing::Broker;
use otmetka_tests::site::{JournalProcess, KioskProcess, feed_toml, wait_for};
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::time::{Duration, Instant};

/// The watchdog timeout the tests give: a ping is due every half of it.
const WATCHDOG: Duration = Duration::from_secs(1);

/// The service manager's end of `NOTIFY_SOCKET`.
struct Manager {
    socket: UnixDatagram,
    path: String,
}

impl Manager {
    fn bind(dir: &Path) -> Manager {
        let path = dir.join("notify.sock");
        let socket = UnixDatagram::bind(&path).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        Manager {
            socket,
            path: path.display().to_string(),
        }
    }

    /// The environment systemd gives a `Type=notify` service with `WatchdogSec=`.
    fn env(&self) -> Vec<(String, String)> {
        vec![
            ("NOTIFY_SOCKET".into(), self.path.clone()),
            ("WATCHDOG_USEC".into(), WATCHDOG.as_micros().to_string()),
        ]
    }

    /// Every message for `span`, each with when it came.
    fn listen(&self, span: Duration) -> Vec<(Instant, String)> {
        let end = Instant::now() + span;
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while Instant::now() < end {
            if let Ok(n) = self.socket.recv(&mut buf) {
                got.push((
                    Instant::now(),
                    String::from_utf8_lossy(&buf[..n]).into_owned(),
                ));
            }
        }
        got
    }
}

fn pings(got: &[(Instant, String)]) -> Vec<Instant> {
    got.iter()
        .filter(|(_, m)| m.lines().any(|l| l == "WATCHDOG=1"))
        .map(|(t, _)| *t)
        .collect()
}

fn longest_gap(times: &[Instant], until: Instant) -> Duration {
    times
        .windows(2)
        .map(|w| w[1] - w[0])
        .chain(times.last().map(|l| until - *l))
        .max()
        .unwrap_or(Duration::MAX)
}

fn ready(got: &[(Instant, String)]) -> bool {
    got.iter().any(|(_, m)| m.lines().any(|l| l == "READY=1"))
}

/// Starts a kiosk with the manager's environment (and `fault`, if any).
fn kiosk(dir: &Path, manager: &Manager, fault: Option<&str>) -> KioskProcess {
    let mut k = KioskProcess::start(dir, "demo", "k1", "").unwrap();
    k.kill();
    k.env = manager.env();
    if let Some(f) = fault {
        k.env.push(("OTMETKA_FAULT".into(), f.into()));
    }
    k.spawn().unwrap();
    k
}

#[test]
fn the_kiosk_is_ready_and_its_worker_pings_the_watchdog() {
    let dir = tempfile::tempdir().unwrap();
    let manager = Manager::bind(dir.path());
    let _k = kiosk(dir.path(), &manager, None);
    // Past the worker's 5-second tick: the pings do not wait for it.
    let got = manager.listen(Duration::from_secs(7));
    let end = Instant::now();
    assert!(ready(&got), "no READY=1: {got:?}");
    let pings = pings(&got);
    assert!(pings.len() >= 10, "{} pings in 7 s: {got:?}", pings.len());
    let gap = longest_gap(&pings, end);
    assert!(
        gap < WATCHDOG,
        "a gap of {gap:?} between pings, the timeout is {WATCHDOG:?}"
    );
}

/// `systemctl stop` sends SIGTERM: the kiosk says STOPPING=1 and exits 0 at once, not at
/// systemd's stop timeout and not killed; a tap committed before is still there after.
#[test]
fn the_kiosk_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let manager = Manager::bind(dir.path());
    let mut k = kiosk(dir.path(), &manager, None);
    assert!(ready(&manager.listen(Duration::from_secs(2))), "no READY=1");
    k.sign_in_and_start("001").unwrap();
    let pid = k.pid().unwrap();
    let sent = Instant::now();
    let term = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let got = manager.listen(Duration::from_secs(2));
    assert!(
        got.iter()
            .any(|(_, m)| m.lines().any(|l| l == "STOPPING=1")),
        "no STOPPING=1: {got:?}\n{}",
        k.log()
    );
    let status = wait_for("the kiosk to exit", 10, || k.exited());
    assert!(status.success(), "{status:?}\n{}", k.log());
    assert!(
        sent.elapsed() < Duration::from_secs(10),
        "it stopped in {:?}",
        sent.elapsed()
    );
    assert!(k.log().contains("stopping"), "{}", k.log());
    // Started again on the same store: the open session is resumed.
    k.spawn().unwrap();
    assert!(k.log().contains("resumed the open session"), "{}", k.log());
}

#[test]
fn a_stuck_worker_stops_the_pings() {
    let dir = tempfile::tempdir().unwrap();
    let manager = Manager::bind(dir.path());
    // The worker sticks at its first tick (5 s after start), as a handler that never returns.
    let mut k = kiosk(dir.path(), &manager, Some("stall-worker"));
    let got = manager.listen(Duration::from_secs(10));
    let end = Instant::now();
    assert!(ready(&got), "no READY=1: {got:?}");
    let pings = pings(&got);
    assert!(pings.len() >= 4, "{} pings before the stall", pings.len());
    assert!(
        k.log().contains("stall-worker"),
        "the fault did not fire:\n{}",
        k.log()
    );
    // Still running (a stuck process, not a dead one) and silent: systemd would kill it now.
    assert!(k.exited().is_none(), "the kiosk exited:\n{}", k.log());
    let silent = end - *pings.last().unwrap();
    assert!(
        silent > 3 * WATCHDOG,
        "pings went on for a stuck worker (silent only {silent:?})"
    );
}

#[test]
fn the_journal_is_ready_and_its_ingest_pings_the_watchdog() {
    let broker = Broker::start("").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let manager = Manager::bind(dir.path());
    let mut j = JournalProcess::start(dir.path(), broker.port, &["demo"], None).unwrap();
    j.kill();
    j.env = manager.env();
    j.spawn().unwrap();
    let got = manager.listen(Duration::from_secs(4));
    let end = Instant::now();
    assert!(ready(&got), "no READY=1:\n{}", j.log());
    let pings = pings(&got);
    assert!(pings.len() >= 5, "{} pings in 4 s: {got:?}", pings.len());
    assert!(longest_gap(&pings, end) < WATCHDOG);
    // The feed still works beside the pings: a kiosk's units arrive.
    let kdir = dir.path().join("kiosk");
    let k = KioskProcess::start(&kdir, "demo", "k1", &feed_toml(broker.port)).unwrap();
    k.sign_in_and_start("001").unwrap();
    k.call(otmetka_app::kiosk::Command::Tap {
        card: "0A000001".into(),
    })
    .unwrap();
    k.call(otmetka_app::kiosk::Command::End {
        head_count: Some(1),
        reason: None,
    })
    .unwrap();
    wait_for("the unit in the journal", 30, || {
        (!j.units().unwrap_or_default().is_empty()).then_some(())
    });
    assert!(j.is_running());
}

/// The shipped units as `systemd-analyze verify` reads them: no unknown key, no value it ignores.
/// Their `ExecStart` names the packaged binary (checked against the package's assets); verify is
/// given a copy that runs this build's binary, since the package is not installed here.
#[test]
fn the_shipped_units_verify_clean() {
    let root = otmetka_tests::site::repo_root();
    let dir = tempfile::tempdir().unwrap();
    let mut units = Vec::new();
    for (crate_dir, packaging, name, unit) in [
        ("app", "kiosk", "otmetka-kiosk", "otmetka-kiosk"),
        ("journal", "journal", "otmetka-journal", "otmetka-journal"),
        (
            "journal",
            "journal",
            "otmetka-journal",
            "otmetka-journal-backup",
        ),
    ] {
        let shipped = root.join(format!("packaging/{packaging}/{unit}.service"));
        let text = std::fs::read_to_string(&shipped).unwrap();
        let packaged = format!("/usr/bin/{name}");
        assert!(
            text.lines()
                .any(|l| l.starts_with(&format!("ExecStart={packaged} "))),
            "{} does not start {packaged}",
            shipped.display()
        );
        let manifest = std::fs::read_to_string(root.join(crate_dir).join("Cargo.toml")).unwrap();
        assert!(
            manifest.contains(&format!(
                "[\"target/release/{name}\", \"usr/bin/\", \"755\"]"
            )),
            "the {name} package does not install {packaged}"
        );
        let binary = otmetka_tests::site::sibling_binary(name).unwrap();
        let copy = dir.path().join(format!("{unit}.service"));
        std::fs::write(
            &copy,
            text.replace(&packaged, &binary.display().to_string()),
        )
        .unwrap();
        units.push(copy);
    }
    // The backup's timer, beside the service it starts.
    let timer = dir.path().join("otmetka-journal-backup.timer");
    std::fs::copy(
        root.join("packaging/journal/otmetka-journal-backup.timer"),
        &timer,
    )
    .unwrap();
    units.push(timer);
    let out = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .args(&units)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success() && said.trim().is_empty(), "{said}");
}
