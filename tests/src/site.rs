//! A site on one machine for the demo and the system tests: real `otmetka-kiosk` processes, each in
//! its own run directory with its own config, store and control socket.

use anyhow::{Context, Result, bail};
use otmetka_app::control::{Answer, ControlClient};
use otmetka_app::kiosk::{Command, Reply};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// Broker settings the tests share with the shipped `config/mosquitto/mosquitto.conf`: the
/// journal's queue must hold a burst from many kiosks (Mosquitto's default, 1000, drops the
/// rest), and [`BROKER_INFLIGHT`] messages go to it per commit.
pub const BROKER_SETTINGS: &str = "max_queued_messages 100000\nmax_inflight_messages 200\n";

/// The shipped `max_inflight_messages` (and the journal's default `[ingest] broker_inflight`).
pub const BROKER_INFLIGHT: usize = 200;

/// A recorded kiosk message (schema 2) of one units event, made `kiosk`'s message `seq` with its
/// one unit in a session of its own: `session` and `event_id` are UUIDs, and the unit's id is the
/// one its session and recipient give (the journal checks it), so it lands as one new unit.
pub fn one_unit_message(
    kiosk: &str,
    seq: u64,
    session: uuid::Uuid,
    event_id: uuid::Uuid,
) -> serde_json::Value {
    const TEMPLATE: &str = include_str!("../../journal/tests/data/schema2_units.json");
    let mut v: serde_json::Value = serde_json::from_str(TEMPLATE).expect("the recorded message");
    v["kiosk"] = kiosk.into();
    v["seq"] = seq.into();
    v["event_id"] = event_id.to_string().into();
    v["event"]["session"] = session.to_string().into();
    v["event"]["units"][0]["session"] = session.to_string().into();
    let recipient = v["event"]["units"][0]["recipient"]
        .as_str()
        .and_then(|r| r.parse().ok())
        .expect("the recorded unit's recipient");
    let id = otmetka_core::unit::UnitId::per_recipient(
        otmetka_core::session::SessionId(session),
        otmetka_core::people::RecipientId(recipient),
    );
    v["event"]["units"][0]["id"] = id.0.to_string().into();
    v
}

/// The repository root (for `config/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The sample roster's club (Клуб «Рукодельница»), a standing group of its first recipients.
pub const SAMPLE_GROUP: &str = "00000000-0000-7000-8000-00000000c001";

/// The sample roster's text with `service` added to the programme of its first recipient
/// (Мария Ивановна, card 0A000001).
pub fn sample_roster_with(service: &str) -> Result<String> {
    let text = std::fs::read_to_string(repo_root().join("config/roster.sample.toml"))?;
    let first = "  { service = \"000\", period = \"month\" },";
    if !text.contains(first) {
        bail!("the sample roster's first programme item changed");
    }
    Ok(text.replacen(
        first,
        &format!("{first}\n  {{ service = {service:?}, period = \"month\" }},"),
        1,
    ))
}

/// The start of a session of `service` for `group` (one unit per recipient where the service
/// lets the session choose), confirmed over the group's cap where `over_group_cap`.
pub fn start_of(
    service: &str,
    group: Option<otmetka_core::people::GroupId>,
    over_group_cap: bool,
) -> Command {
    Command::Start {
        service: otmetka_core::catalogue::ServiceCode::from(service),
        group,
        unit_kind: group.map(|_| otmetka_core::catalogue::UnitKind::PerRecipient),
        safety_briefing: false,
        confirm_date: false,
        event: false,
        over_group_cap,
    }
}

/// A session of one: `start` goes through `call`, then a tap of `card`, then the end. Returns
/// the session, the tap's reply and the units the session gave.
pub fn session_of_one(
    call: &mut dyn FnMut(Command) -> Result<Reply>,
    start: Command,
    card: &str,
) -> Result<(
    otmetka_core::session::SessionId,
    otmetka_app::kiosk::TapReply,
    Vec<otmetka_core::unit::Unit>,
)> {
    let Reply::Started { session } = call(start)? else {
        bail!("no session started")
    };
    let Reply::Tap(tap) = call(Command::Tap {
        card: card.to_string(),
    })?
    else {
        bail!("no tap reply")
    };
    let Reply::Ended { units, .. } = call(Command::End {
        head_count: None,
        reason: None,
    })?
    else {
        bail!("no end reply")
    };
    Ok((session, tap, units))
}

/// A binary of this workspace, next to the running one (same target dir and profile).
pub fn sibling_binary(name: &str) -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let mut dir = exe.parent().context("no parent dir")?.to_path_buf();
    // Test binaries live in target/<profile>/deps.
    if dir.ends_with("deps") {
        dir.pop();
    }
    let path = dir.join(name);
    if !path.exists() {
        bail!("{} is not built (cargo build --bins)", path.display());
    }
    Ok(path)
}

/// Polls `f` every 100 ms until it gives a value; panics naming `what` after `secs` seconds.
pub fn wait_for<T>(what: &str, secs: u64, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A running kiosk process.
#[derive(Debug)]
pub struct KioskProcess {
    pub dir: PathBuf,
    pub socket: PathBuf,
    pub config: PathBuf,
    /// Environment for the process (`OTMETKA_FAULT` in the fault tests), kept for restarts.
    pub env: Vec<(String, String)>,
    child: Option<Child>,
}

impl KioskProcess {
    /// Writes a config for a kiosk in `dir` (the shipped one, with local paths) and starts it.
    pub fn start(dir: &Path, site: &str, kiosk: &str, extra_toml: &str) -> Result<Self> {
        Self::start_with_roster(dir, site, kiosk, None, extra_toml)
    }

    /// As [`KioskProcess::start`], with another roster file.
    pub fn start_with_roster(
        dir: &Path,
        site: &str,
        kiosk: &str,
        roster: Option<&Path>,
        extra_toml: &str,
    ) -> Result<Self> {
        std::fs::create_dir_all(dir)?;
        let root = repo_root();
        let roster = roster
            .map(Path::to_path_buf)
            .unwrap_or_else(|| root.join("config/roster.sample.toml"));
        let secret = dir.join("site-secret");
        if !secret.exists() {
            std::fs::write(&secret, format!("{site}-demo-secret-not-for-production\n"))?;
        }
        let config = dir.join("kiosk.toml");
        let text = format!(
            "site = {site:?}\nkiosk = {kiosk:?}\ntime_zone = \"Asia/Yekaterinburg\"\n\
             database = {db:?}\ncatalogue = {cat:?}\nroster_file = {roster:?}\n\
             site_secret_file = {secret:?}\nsocket = {socket:?}\n{shots}{reader}\
             assume_clock_synced = true\n{extra_toml}\n{sound}",
            db = dir.join("kiosk.db"),
            cat = root.join("config/services.toml"),
            socket = dir.join("kiosk.sock"),
            // Screenshots beside the kiosk's files unless the test says where.
            shots = if extra_toml.contains("screenshot_dir") {
                String::new()
            } else {
                format!("screenshot_dir = {dir:?}\n")
            },
            // The simulated reader unless the test wires one (a pty).
            reader = if extra_toml.contains("reader =") {
                ""
            } else {
                "reader = { kind = \"sim\" }\n"
            },
            // No sound card on a test machine, and thousands of taps should not run thousands of
            // TTS commands: silent unless the test asks for sound.
            sound = if extra_toml.contains("[sound]") {
                String::new()
            } else {
                "[sound]\nsink = \"silent\"\n".to_string()
            },
        );
        std::fs::write(&config, text)?;
        let mut k = KioskProcess {
            dir: dir.to_path_buf(),
            socket: dir.join("kiosk.sock"),
            config,
            env: Vec::new(),
            child: None,
        };
        k.spawn()?;
        Ok(k)
    }

    /// Starts a kiosk from a config file written elsewhere (an enrolled bundle), logging into
    /// `dir/kiosk.log`; `socket` is the control socket that config names.
    pub fn start_from_config(dir: &Path, config: &Path, socket: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir)?;
        let mut k = KioskProcess {
            dir: dir.to_path_buf(),
            socket: socket.to_path_buf(),
            config: config.to_path_buf(),
            env: Vec::new(),
            child: None,
        };
        k.spawn()?;
        Ok(k)
    }

    /// The kiosk's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("kiosk.log")).unwrap_or_default()
    }

    /// (Re)starts the process and waits until its socket answers.
    pub fn spawn(&mut self) -> Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("kiosk.log"))?;
        // `./run demo` on a machine with a display shows the kiosk in a window (a build with the
        // `window` feature); tests always render off-screen.
        let mut run = vec!["run"];
        if std::env::var_os("OTMETKA_KIOSK_WINDOW").is_none() {
            run.push("--headless");
        }
        let child = service_command(&sibling_binary("otmetka-kiosk")?, &self.env)
            .args(run)
            .arg("--config")
            .arg(&self.config)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("start otmetka-kiosk")?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(mut c) = ControlClient::connect(&self.socket) {
                if c.call(Command::Status).is_ok() {
                    return Ok(());
                }
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                let log = std::fs::read_to_string(self.dir.join("kiosk.log")).unwrap_or_default();
                bail!("the kiosk exited ({status}) at start:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        bail!(
            "the kiosk did not answer on {} within 30 s",
            self.socket.display()
        )
    }

    /// The process id, while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// How the process ended, if it has (not waiting).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// Waits until the process ends by itself (a window closed).
    pub fn wait(&mut self) -> Result<()> {
        if let Some(mut c) = self.child.take() {
            c.wait()?;
        }
        Ok(())
    }

    /// SIGKILL.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the process again if it died (killed from outside), waiting up to `grace` for a
    /// death that is under way (SIGKILL is delivered asynchronously). Returns whether it had died.
    pub fn ensure_running(&mut self, grace: Duration) -> Result<bool> {
        let deadline = Instant::now() + grace;
        let dead = loop {
            let dead = match self.child.as_mut() {
                None => true,
                Some(c) => c.try_wait()?.is_some(),
            };
            if dead || Instant::now() >= deadline {
                break dead;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        if dead {
            self.child = None;
            self.spawn()?;
        }
        Ok(dead)
    }

    /// A control client.
    pub fn client(&self) -> Result<ControlClient> {
        ControlClient::connect(&self.socket)
            .with_context(|| format!("connect {}", self.socket.display()))
    }

    /// Sends a request of the screens (`screenshot`, `screen`, `press`); an error becomes `Err`.
    pub fn extra(&self, req: otmetka_app::control::ExtraRequest) -> Result<Reply> {
        match self
            .client()?
            .request(&otmetka_app::control::Request::Extra(req))?
        {
            Answer::Ok(r) => Ok(r),
            Answer::Error(e) => bail!("{e}"),
        }
    }

    /// Sends a command; an error reply becomes `Err`.
    pub fn call(&self, cmd: Command) -> Result<Reply> {
        match self.client()?.call(cmd)? {
            Answer::Ok(r) => Ok(r),
            Answer::Error(e) => bail!("{e}"),
        }
    }

    /// Signs the sample roster's instructor in (PIN 1234) and opens a session of `service` for
    /// no group.
    pub fn sign_in_and_start(&self, service: &str) -> Result<Reply> {
        self.sign_in()?;
        self.call(start_of(service, None, false))
    }

    /// Signs the sample roster's instructor in (PIN 1234).
    pub fn sign_in(&self) -> Result<Reply> {
        self.call(Command::SignIn {
            credential: "1234".into(),
        })
    }
}

impl Drop for KioskProcess {
    fn drop(&mut self) {
        self.kill();
        show_log_if_failing(&format!("kiosk {}", self.dir.display()), &self.log());
    }
}

/// A running journal process.
#[derive(Debug)]
pub struct JournalProcess {
    pub dir: PathBuf,
    pub config: PathBuf,
    pub database: PathBuf,
    /// The port of its web pages on 127.0.0.1.
    pub web_port: u16,
    /// Environment for the process (systemd's `NOTIFY_SOCKET` in the systemd tests), kept for
    /// restarts.
    pub env: Vec<(String, String)>,
    child: Option<Child>,
}

impl JournalProcess {
    /// The process id, while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Writes a config for a journal serving `sites` (with the secrets [`KioskProcess`] writes)
    /// against the broker on `port`, and starts it.
    pub fn start(
        dir: &Path,
        port: u16,
        sites: &[&str],
        roster_file: Option<&Path>,
    ) -> Result<Self> {
        let text = Self::config_text(dir, port, sites, roster_file)?;
        Self::start_with_config(dir, &text)
    }

    /// The config [`JournalProcess::start`] starts with (the site secrets written into `dir`).
    pub fn config_text(
        dir: &Path,
        port: u16,
        sites: &[&str],
        roster_file: Option<&Path>,
    ) -> Result<String> {
        std::fs::create_dir_all(dir)?;
        let root = repo_root();
        let roster = roster_file
            .map(Path::to_path_buf)
            .unwrap_or_else(|| root.join("config/roster.sample.toml"));
        let mut text = format!(
            "database = {db:?}\ncatalogue = {cat:?}\nbroker = \"127.0.0.1:{port}\"\n",
            db = dir.join("journal.db"),
            cat = root.join("config/services.toml"),
        );
        for site in sites {
            let secret = dir.join(format!("{site}.secret"));
            std::fs::write(&secret, format!("{site}-demo-secret-not-for-production\n"))?;
            text.push_str(&format!(
                "\n[[sites]]\nid = {site:?}\nroster_file = {roster:?}\nsite_secret_file = {secret:?}\n\
                 time_zone = \"Asia/Yekaterinburg\"\n"
            ));
        }
        Ok(text)
    }

    /// Writes `config_text` as `dir/journal.toml` (its `database` must be `dir/journal.db`) and
    /// starts a journal with it; its pages are on a free port (`web_port`).
    pub fn start_with_config(dir: &Path, config_text: &str) -> Result<Self> {
        std::fs::create_dir_all(dir)?;
        let config = dir.join("journal.toml");
        let mut text = config_text.to_string();
        if text.contains("[web]") {
            bail!(
                "JournalProcess gives the journal a free web port: leave [web] out of the config"
            );
        }
        let web_port = otmetka_link::testing::free_port()?;
        text.push_str(&format!("\n[web]\nlisten = \"127.0.0.1:{web_port}\"\n"));
        std::fs::write(&config, text)?;
        let mut j = JournalProcess {
            dir: dir.to_path_buf(),
            database: dir.join("journal.db"),
            config,
            web_port,
            env: Vec::new(),
            child: None,
        };
        j.spawn()?;
        Ok(j)
    }

    /// The address of its web pages.
    pub fn web_url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.web_port)
    }

    /// The journal's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("journal.log")).unwrap_or_default()
    }

    /// Whether the process is still running (it has not crashed).
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// (Re)starts the process.
    pub fn spawn(&mut self) -> Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("journal.log"))?;
        let child = service_command(&sibling_binary("otmetka-journal")?, &self.env)
            .args(["serve", "--config"])
            .arg(&self.config)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("start otmetka-journal")?;
        self.child = Some(child);
        Ok(())
    }

    /// SIGKILL.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The units the journal holds for a period, read from its database.
    pub fn units(&self) -> Result<Vec<otmetka_journal::store::JournalUnit>> {
        use otmetka_journal::store::JournalStore;
        let store = otmetka_journal::store::SqliteJournal::open(&self.database)?;
        let from = chrono::NaiveDate::from_ymd_opt(2000, 1, 1).context("date")?;
        let to = chrono::NaiveDate::from_ymd_opt(2100, 1, 1).context("date")?;
        Ok(store.units(from, to)?)
    }
}

impl Drop for JournalProcess {
    fn drop(&mut self) {
        self.kill();
        show_log_if_failing(&format!("journal {}", self.dir.display()), &self.log());
    }
}

/// When a test fails (its thread is unwinding), prints the end of a process's log to stderr, so
/// the failure says what the process did (the test's run directory is deleted after it).
fn show_log_if_failing(who: &str, log: &str) {
    if !std::thread::panicking() {
        return;
    }
    let lines: Vec<&str> = log.lines().collect();
    let tail = &lines[lines.len().saturating_sub(60)..];
    eprintln!("--- the last {} lines of the log of {who} ---", tail.len());
    for l in tail {
        eprintln!("{l}");
    }
    eprintln!("--- end of the log of {who} ---");
}

/// The command that starts `binary` with `env` added. Where `env` turns systemd's watchdog on
/// (`WATCHDOG_USEC`), `WATCHDOG_PID` is the process's own pid, as systemd sets it: a shell
/// exports its pid and execs the binary in its place.
fn service_command(binary: &Path, env: &[(String, String)]) -> std::process::Command {
    let mut cmd = if env.iter().any(|(k, _)| k == "WATCHDOG_USEC") {
        let mut sh = std::process::Command::new("sh");
        sh.arg("-c")
            .arg("WATCHDOG_PID=$$ exec \"$0\" \"$@\"")
            .arg(binary);
        sh
    } else {
        std::process::Command::new(binary)
    };
    cmd.envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    cmd
}

/// The `[feed]` section of a kiosk config for a broker on this machine.
pub fn feed_toml(port: u16) -> String {
    format!("[feed]\nbroker = \"127.0.0.1:{port}\"\nresend_after_s = 3\n")
}

/// A roster file for load tests: `n` recipients with spread-out 4-byte cards (see [`load_card`])
/// and the service `service` in their programme, and the instructor with PIN 1234.
pub fn load_roster_toml(site: &str, n: usize, service: &str) -> String {
    use std::fmt::Write;
    let mut s = format!(
        "site = \"{site}\"\nversion = 1\n\n[[instructors]]\nid = \"00000000-0000-7000-8000-00000000aa01\"\n\
         display_name = \"Ольга Петровна\"\npin = \"1234\"\n"
    );
    for i in 0..n {
        let _ = write!(
            s,
            "\n[[recipients]]\nid = \"{}\"\ndisplay_name = \"Получатель {i}\"\ncards = [\"{}\"]\n\
             consent = {{ participation = true }}\n[recipients.programme]\nvalid_from = \"2020-01-01\"\n\
             valid_to = \"2099-12-31\"\nitems = [{{ service = \"{service}\", period = \"month\" }}]\n",
            load_recipient_id(i),
            load_card(i)
        );
    }
    s
}

/// The card of load-test recipient `i`: spread like real UIDs (sequential ones would share
/// their 24-bit forms).
pub fn load_card(i: usize) -> String {
    let x = (i as u32).wrapping_mul(0x9E37_79B1) ^ 0x5A5A_5A5A;
    format!("{x:08X}")
}

/// The id of load-test recipient `i`.
pub fn load_recipient_id(i: usize) -> String {
    format!("00000000-0000-7000-8000-{:012x}", 0x100000 + i)
}

/// Adds (or changes) a user in a Mosquitto password file with Debian's `mosquitto_passwd`.
pub fn mosquitto_passwd_add(file: &Path, user: &str, password: &str) -> Result<()> {
    if !file.exists() {
        std::fs::write(file, "")?;
    }
    let out = std::process::Command::new("mosquitto_passwd")
        .arg("-b")
        .arg(file)
        .arg(user)
        .arg(password)
        .output()
        .context("run mosquitto_passwd (Debian package mosquitto)")?;
    if !out.status.success() {
        bail!(
            "mosquitto_passwd -b {user}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// The password of the journal's broker user in [`secure_broker`].
pub const JOURNAL_PASSWORD: &str = "journal-test-password";

/// A broker as a site runs it: the shipped `config/mosquitto/mosquitto.conf` with only its port
/// and file locations rewritten (TLS on, no anonymous clients, password file, the shipped ACL),
/// certificates from [`otmetka_link::testing::TestPki`] for `localhost` and `127.0.0.1`, the
/// journal's user in the password file, `extra_acl` appended to the ACL, and a pid file for the
/// SIGHUP reloads of provisioning. Files in [`Broker::dir`]: `ca.crt`, `passwd`, `acl`,
/// `mosquitto.pid`, `mosquitto.log`.
pub fn secure_broker(extra_acl: &str) -> Result<otmetka_link::testing::Broker> {
    use otmetka_link::testing::{Broker, TestPki};
    let root = repo_root().join("config/mosquitto");
    let conf = std::fs::read_to_string(root.join("mosquitto.conf"))?;
    if !conf.contains("listener 8883\n") {
        bail!("the shipped mosquitto.conf has no `listener 8883` line to rewrite");
    }
    let conf = conf
        .replace("listener 8883\n", "listener {port} 127.0.0.1\n")
        .replace("/etc/mosquitto/otmetka/", "{dir}/")
        .replace("/var/lib/mosquitto/", "{dir}/")
        + "log_dest file {dir}/mosquitto.log\nlog_type all\npid_file {dir}/mosquitto.pid\n";
    let mut broker = Broker::configure(&conf)?;
    let dir = broker.dir().to_path_buf();
    TestPki::generate(&["localhost", "127.0.0.1"])?.write_to(&dir)?;
    let mut acl = std::fs::read_to_string(root.join("acl"))?;
    acl.push_str(extra_acl);
    std::fs::write(dir.join("acl"), acl)?;
    mosquitto_passwd_add(&dir.join("passwd"), "journal", JOURNAL_PASSWORD)?;
    std::fs::write(
        dir.join("journal-password"),
        format!("{JOURNAL_PASSWORD}\n"),
    )?;
    broker.spawn()?;
    Ok(broker)
}

/// A journal config for [`secure_broker`] (TLS, the journal's user) with a `[provisioning]`
/// section on the broker's files, serving `sites` (each with the secret [`KioskProcess`] uses,
/// the sample roster, time zone Asia/Yekaterinburg); `site_extra` is added to each `[[sites]]`.
pub fn secure_journal_toml(
    dir: &Path,
    broker: &otmetka_link::testing::Broker,
    sites: &[&str],
    site_extra: &str,
) -> Result<String> {
    std::fs::create_dir_all(dir)?;
    let root = repo_root();
    let b = broker.dir();
    let mut text = format!(
        "database = {db:?}\ncatalogue = {cat:?}\nbroker = \"127.0.0.1:{port}\"\n\
         username = \"journal\"\npassword_file = {pw:?}\nca_file = {ca:?}\n",
        db = dir.join("journal.db"),
        cat = root.join("config/services.toml"),
        port = broker.port,
        pw = b.join("journal-password"),
        ca = b.join("ca.crt"),
    );
    for site in sites {
        let secret = dir.join(format!("{site}.secret"));
        std::fs::write(&secret, format!("{site}-demo-secret-not-for-production\n"))?;
        text.push_str(&format!(
            "\n[[sites]]\nid = {site:?}\nroster_file = {roster:?}\nsite_secret_file = {secret:?}\n\
             time_zone = \"Asia/Yekaterinburg\"\n{site_extra}\n",
            roster = root.join("config/roster.sample.toml"),
        ));
    }
    text.push_str(&format!(
        "\n[provisioning]\nbroker_password_file = {pw:?}\nbroker_acl_file = {acl:?}\n\
         broker_pid_file = {pid:?}\nkiosk_broker = \"127.0.0.1:{port}\"\n",
        pw = b.join("passwd"),
        acl = b.join("acl"),
        pid = b.join("mosquitto.pid"),
        port = broker.port,
    ));
    Ok(text)
}

/// An enrolled kiosk config made runnable on this machine: its store and control socket moved
/// into `dir`, and the clock taken as synchronised (the only edits; everything else is as
/// provisioning wrote it).
pub fn localize_kiosk_config(text: &str, dir: &Path) -> String {
    text.replace(
        "database = \"/var/lib/otmetka/kiosk/kiosk.db\"",
        &format!("database = {:?}", dir.join("kiosk.db")),
    )
    .replace(
        "socket = \"/run/otmetka/kiosk.sock\"",
        &format!(
            "socket = {:?}\nassume_clock_synced = true",
            dir.join("kiosk.sock")
        ),
    )
}

/// Runs one of this workspace's binaries to completion: (success, stdout + stderr).
pub fn run_binary(name: &str, args: &[&std::ffi::OsStr]) -> Result<(bool, String)> {
    let out = std::process::Command::new(sibling_binary(name)?)
        .args(args)
        .output()
        .with_context(|| format!("run {name}"))?;
    Ok((
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    ))
}

/// Runs `otmetka-journal ARGS --config CONFIG`: whether it succeeded, and what it said (standard
/// output, then standard error).
pub fn journal_command(config: &Path, args: &[&str]) -> Result<(bool, String)> {
    let mut all: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
    all.extend([std::ffi::OsStr::new("--config"), config.as_os_str()]);
    run_binary("otmetka-journal", &all)
}

/// Adds a user of the journal's pages with `otmetka-journal add-user`, the password on its
/// standard input; returns what it printed.
pub fn add_journal_user(
    config: &Path,
    login: &str,
    name: &str,
    role: &str,
    password: &str,
) -> Result<String> {
    use std::io::Write;
    let mut child = std::process::Command::new(sibling_binary("otmetka-journal")?)
        .args(["add-user", "--config"])
        .arg(config)
        .args([login, "--name", name, "--role", role])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("start otmetka-journal add-user")?;
    writeln!(child.stdin.take().context("stdin")?, "{password}")?;
    let out = child.wait_with_output()?;
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() {
        bail!("add-user failed: {said}");
    }
    Ok(said)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_tests_broker_the_shipped_broker_and_the_journal_agree_on_the_in_flight_window() {
        let shipped =
            std::fs::read_to_string(repo_root().join("config/mosquitto/mosquitto.conf")).unwrap();
        let setting = |text: &str, key: &str| -> Option<String> {
            text.lines()
                .filter_map(|l| l.strip_prefix(key))
                .map(|v| v.trim().to_string())
                .next_back()
        };
        for key in ["max_queued_messages ", "max_inflight_messages "] {
            assert_eq!(
                setting(BROKER_SETTINGS, key),
                setting(&shipped, key),
                "{key}"
            );
        }
        assert_eq!(
            setting(&shipped, "max_inflight_messages "),
            Some(BROKER_INFLIGHT.to_string())
        );
        assert_eq!(
            otmetka_journal::config::IngestConfig::default().broker_inflight,
            BROKER_INFLIGHT,
            "a batch is committed once it holds the broker's window"
        );
    }
}
