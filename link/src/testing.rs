//! A real Mosquitto for tests (feature `testing`): started on a free loopback port with a config
//! written to a temp dir, killed on drop. Used by this crate's tests and the system tests.
//!
//! Needs `/usr/sbin/mosquitto` (Debian's `mosquitto` package; `./run` installs it). Override the
//! binary with the `OTMETKA_MOSQUITTO` environment variable.

use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::LinkError;

/// The Mosquitto binary: `$OTMETKA_MOSQUITTO` or `/usr/sbin/mosquitto`.
pub fn mosquitto_binary() -> PathBuf {
    std::env::var_os("OTMETKA_MOSQUITTO")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/sbin/mosquitto"))
}

/// A running Mosquitto on `127.0.0.1:port`.
#[derive(Debug)]
pub struct Broker {
    /// The port it listens on (stable across [`Broker::restart`]).
    pub port: u16,
    dir: tempfile::TempDir,
    config: String,
    child: Option<Child>,
}

/// How long to wait for the broker to accept connections; generous for a loaded CI machine.
const START_TIMEOUT: Duration = Duration::from_secs(20);

impl Broker {
    /// Starts a broker with `listener PORT 127.0.0.1`, persistence in its temp dir, and
    /// `config_extra` appended (e.g. `allow_anonymous true`, or password and ACL files). The
    /// config may use `{dir}` for the temp dir. Without any `allow_anonymous` line in
    /// `config_extra`, anonymous clients are allowed.
    pub fn start(config_extra: &str) -> Result<Broker, LinkError> {
        let mut last_err = None;
        // The free port is found by binding :0 and letting go; another process may take it in
        // between, so try a few ports.
        for _ in 0..5 {
            let dir = tempfile::tempdir()?;
            let port = free_port()?;
            let config = base_config(port, dir.path(), config_extra);
            let mut broker = Broker {
                port,
                dir,
                config,
                child: None,
            };
            match broker.spawn() {
                Ok(()) => return Ok(broker),
                Err(e) => last_err = Some(e),
            }
        }
        Err(last_err.unwrap_or_else(|| LinkError::Options("mosquitto did not start".into())))
    }

    /// Starts a broker from a complete config text (the caller writes its own `listener`
    /// lines); `{port}` and `{dir}` are replaced by a free port and the temp dir.
    pub fn start_with_config(config_template: &str) -> Result<Broker, LinkError> {
        let dir = tempfile::tempdir()?;
        let port = free_port()?;
        let config = config_template
            .replace("{port}", &port.to_string())
            .replace("{dir}", &dir.path().display().to_string());
        let mut broker = Broker {
            port,
            dir,
            config,
            child: None,
        };
        broker.spawn()?;
        Ok(broker)
    }

    /// The broker's temp dir (config, persistence, log, and any files a test puts there).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The broker's log so far (`log_dest file`), for failure messages.
    pub fn log(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(self.dir.path().join("mosquitto.log")) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }

    /// Stops the broker gracefully (SIGTERM: it saves its persistence file) and waits for it.
    pub fn stop(&mut self) -> Result<(), LinkError> {
        if let Some(mut child) = self.child.take() {
            let pid = child.id().to_string();
            // `kill` the binary: SIGTERM without unsafe code or another dependency.
            let _ = Command::new("kill").args(["-TERM", &pid]).status();
            let deadline = Instant::now() + START_TIMEOUT;
            loop {
                if child.try_wait()?.is_some() {
                    break;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Ok(())
    }

    /// Kills the broker without letting it save anything (SIGKILL).
    pub fn kill(&mut self) -> Result<(), LinkError> {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            child.wait()?;
        }
        Ok(())
    }

    /// Stops (gracefully) and starts again on the same port with the same config and data.
    pub fn restart(&mut self) -> Result<(), LinkError> {
        self.stop()?;
        self.spawn()
    }

    /// Starts the broker again after [`Broker::stop`] or [`Broker::kill`].
    pub fn spawn(&mut self) -> Result<(), LinkError> {
        let conf_path = self.dir.path().join("mosquitto.conf");
        std::fs::write(&conf_path, &self.config)?;
        let mut child = Command::new(mosquitto_binary())
            .arg("-c")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let deadline = Instant::now() + START_TIMEOUT;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        loop {
            if let Some(status) = child.try_wait()? {
                return Err(LinkError::Options(format!(
                    "mosquitto exited with {status} on port {}; log:\n{}",
                    self.port,
                    self.log()
                )));
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                self.child = Some(child);
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(LinkError::Options(format!(
                    "mosquitto did not accept on port {} within {START_TIMEOUT:?}",
                    self.port
                )));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.kill();
    }
}

/// A port that was free a moment ago.
pub fn free_port() -> Result<u16, LinkError> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

fn base_config(port: u16, dir: &Path, extra: &str) -> String {
    let d = dir.display();
    let anonymous = if extra.contains("allow_anonymous") {
        ""
    } else {
        "allow_anonymous true\n"
    };
    format!(
        "per_listener_settings false\n\
         listener {port} 127.0.0.1\n\
         {anonymous}\
         persistence true\n\
         persistence_location {d}/\n\
         log_dest file {d}/mosquitto.log\n\
         log_type all\n\
         {extra}\n",
        extra = extra.replace("{dir}", &d.to_string()),
    )
}
