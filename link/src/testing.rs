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
        Broker::start_logging(config_extra, "all")
    }

    /// Like [`Broker::start`], logging only errors and warnings: for benchmarks, where logging
    /// every packet to a file would measure the log.
    pub fn start_quiet(config_extra: &str) -> Result<Broker, LinkError> {
        Broker::start_logging(config_extra, "error\nlog_type warning")
    }

    fn start_logging(config_extra: &str, log_types: &str) -> Result<Broker, LinkError> {
        let mut last_err = None;
        // The free port is found by binding :0 and letting go; another process may take it in
        // between, so try a few ports.
        for _ in 0..5 {
            let dir = tempfile::tempdir()?;
            let port = free_port()?;
            let config = base_config(port, dir.path(), config_extra, log_types);
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

    /// Prepares (does not start) a broker from a complete config text: the caller writes its
    /// own `listener` lines; `{port}` and `{dir}` are replaced by a free port and the temp dir.
    /// Put any files the config names into [`Broker::dir`], then call [`Broker::spawn`].
    pub fn configure(config_template: &str) -> Result<Broker, LinkError> {
        let dir = tempfile::tempdir()?;
        let port = free_port()?;
        let config = format!("user {RUN_AS}\n{config_template}")
            .replace("{port}", &port.to_string())
            .replace("{dir}", &dir.path().display().to_string());
        Ok(Broker {
            port,
            dir,
            config,
            child: None,
        })
    }

    /// The broker's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
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

/// Mosquitto started as root switches to the user `mosquitto`, which could not write the log
/// and the persistence file into our private temp dir; `user root` keeps it as the test's user
/// (the option has no effect when the tests do not run as root).
pub const RUN_AS: &str = "root";

/// A port that was free a moment ago.
pub fn free_port() -> Result<u16, LinkError> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

fn base_config(port: u16, dir: &Path, extra: &str, log_types: &str) -> String {
    let d = dir.display();
    let anonymous = if extra.contains("allow_anonymous") {
        ""
    } else {
        "allow_anonymous true\n"
    };
    format!(
        "per_listener_settings false\n\
         user {user}\n\
         listener {port} 127.0.0.1\n\
         {anonymous}\
         persistence true\n\
         persistence_location {d}/\n\
         log_dest file {d}/mosquitto.log\n\
         log_type {log_types}\n\
         {extra}\n",
        extra = extra.replace("{dir}", &d.to_string()),
        user = RUN_AS,
    )
}

/// What a [`Proxy`] does with the bytes it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyMode {
    /// Forward both ways.
    Pass,
    /// Keep the sockets open but forward nothing (a dead link that TCP does not notice).
    Blackhole,
    /// Forward client → broker only: the broker's answers (PUBACK, PINGRESP) are lost.
    DropToClient,
    /// Forward both ways, broker → client at most this many bytes a second (a slow mobile
    /// link: a large retained roster takes longer than the keep-alive to arrive).
    Throttle { bytes_per_sec: usize },
}

/// A TCP forwarder between a client and a broker, for fault injection: cut every connection
/// (the broker sees the client vanish without DISCONNECT), or silently stop forwarding.
#[derive(Debug)]
pub struct Proxy {
    /// Port the proxy listens on (`127.0.0.1`).
    pub port: u16,
    mode: tokio::sync::watch::Sender<ProxyMode>,
    cuts: tokio::sync::watch::Sender<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Listens on a free loopback port and forwards every connection to `127.0.0.1:target`.
    pub async fn start(target: u16) -> Result<Proxy, LinkError> {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let port = listener.local_addr()?.port();
        let (mode, mode_rx) = tokio::sync::watch::channel(ProxyMode::Pass);
        let (cuts, cuts_rx) = tokio::sync::watch::channel(0u64);
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(broker) =
                    tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, target)).await
                else {
                    continue;
                };
                let (cr, cw) = client.into_split();
                let (br, bw) = broker.into_split();
                let mut cut = cuts_rx.clone();
                cut.mark_unchanged();
                let up = pump(cr, bw, mode_rx.clone(), cut.clone(), false);
                let down = pump(br, cw, mode_rx.clone(), cut, true);
                tokio::spawn(async move {
                    // Either direction ending ends both: the sockets close together.
                    tokio::select! { _ = up => {}, _ = down => {} }
                });
            }
        });
        Ok(Proxy {
            port,
            mode,
            cuts,
            task,
        })
    }

    /// Changes what the proxy forwards, for current and future connections.
    pub fn set_mode(&self, mode: ProxyMode) {
        self.mode.send_replace(mode);
    }

    /// Closes every current connection at once (no DISCONNECT reaches the broker).
    pub fn cut(&self) {
        self.cuts.send_modify(|n| *n += 1);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
        self.cut();
    }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mode: tokio::sync::watch::Receiver<ProxyMode>,
    mut cut: tokio::sync::watch::Receiver<u64>,
    toward_client: bool,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        // Throttled: a tenth of a second's bytes at a time, then the rest of that tenth.
        let throttle = match *mode.borrow() {
            ProxyMode::Throttle { bytes_per_sec } if toward_client => Some(bytes_per_sec),
            _ => None,
        };
        let want = throttle.map_or(buf.len(), |r| (r / 10).clamp(1, buf.len()));
        let started = tokio::time::Instant::now();
        tokio::select! {
            _ = cut.changed() => return,
            n = from.read(&mut buf[..want]) => {
                let n = match n {
                    Ok(n) if n > 0 => n,
                    _ => {
                        // A dead link tells nobody: keep the other side open until cut.
                        if *mode.borrow() == ProxyMode::Blackhole {
                            let _ = cut.changed().await;
                        }
                        return;
                    }
                };
                let forward = match *mode.borrow() {
                    ProxyMode::Pass | ProxyMode::Throttle { .. } => true,
                    ProxyMode::Blackhole => false,
                    ProxyMode::DropToClient => !toward_client,
                };
                if forward && to.write_all(buf.get(..n).unwrap_or_default()).await.is_err() {
                    return;
                }
                if throttle.is_some() {
                    tokio::time::sleep_until(started + std::time::Duration::from_millis(100)).await;
                }
            }
        }
    }
}

/// A throwaway PKI for TLS tests: a CA and a server certificate it signed, both valid from
/// 2020-01-01 to 2100-01-01 (fixed dates, so a test can place "now" before, inside or after).
#[derive(Debug, Clone)]
pub struct TestPki {
    /// CA certificate (PEM).
    pub ca_pem: String,
    /// Server certificate (PEM).
    pub server_cert_pem: String,
    /// Server private key (PEM, PKCS#8).
    pub server_key_pem: String,
    /// A client certificate signed by the same CA (PEM), for `require_certificate true`.
    pub client_cert_pem: String,
    /// Its private key (PEM, PKCS#8).
    pub client_key_pem: String,
}

/// Start of the [`TestPki`] validity period.
pub const TEST_PKI_NOT_BEFORE_YEAR: i32 = 2020;
/// End of the [`TestPki`] validity period.
pub const TEST_PKI_NOT_AFTER_YEAR: i32 = 2100;

impl TestPki {
    /// Generates a CA and a server certificate for `names` (DNS names or IP addresses).
    pub fn generate(names: &[&str]) -> Result<TestPki, LinkError> {
        use rcgen::{
            BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
            IsCa, KeyPair, KeyUsagePurpose, date_time_ymd,
        };
        let e = |e: rcgen::Error| LinkError::Tls(format!("rcgen: {e}"));
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(e)?;
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "Otmetka test CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        ca_params.not_before = date_time_ymd(TEST_PKI_NOT_BEFORE_YEAR, 1, 1);
        ca_params.not_after = date_time_ymd(TEST_PKI_NOT_AFTER_YEAR, 1, 1);
        let ca =
            CertifiedIssuer::self_signed(ca_params, KeyPair::generate().map_err(e)?).map_err(e)?;

        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names).map_err(e)?;
        params
            .distinguished_name
            .push(DnType::CommonName, "Otmetka test broker");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.not_before = date_time_ymd(TEST_PKI_NOT_BEFORE_YEAR, 1, 1);
        params.not_after = date_time_ymd(TEST_PKI_NOT_AFTER_YEAR, 1, 1);
        let key = KeyPair::generate().map_err(e)?;
        let cert = params.signed_by(&key, &ca).map_err(e)?;

        let mut client_params = CertificateParams::new(Vec::<String>::new()).map_err(e)?;
        client_params
            .distinguished_name
            .push(DnType::CommonName, "Otmetka test kiosk");
        client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        client_params.not_before = date_time_ymd(TEST_PKI_NOT_BEFORE_YEAR, 1, 1);
        client_params.not_after = date_time_ymd(TEST_PKI_NOT_AFTER_YEAR, 1, 1);
        let client_key = KeyPair::generate().map_err(e)?;
        let client_cert = client_params.signed_by(&client_key, &ca).map_err(e)?;
        Ok(TestPki {
            ca_pem: ca.pem(),
            server_cert_pem: cert.pem(),
            server_key_pem: key.serialize_pem(),
            client_cert_pem: client_cert.pem(),
            client_key_pem: client_key.serialize_pem(),
        })
    }

    /// Writes `ca.crt`, `server.crt`, `server.key`, `client.crt` and `client.key` into `dir`.
    pub fn write_to(&self, dir: &Path) -> Result<(), LinkError> {
        std::fs::write(dir.join("ca.crt"), &self.ca_pem)?;
        std::fs::write(dir.join("server.crt"), &self.server_cert_pem)?;
        std::fs::write(dir.join("server.key"), &self.server_key_pem)?;
        std::fs::write(dir.join("client.crt"), &self.client_cert_pem)?;
        std::fs::write(dir.join("client.key"), &self.client_key_pem)?;
        Ok(())
    }
}

/// `SystemTime` of midnight UTC on 1 January of `year` (for clocks in tests).
pub fn new_year(year: i32) -> std::time::SystemTime {
    let days = days_from_civil(year, 1, 1);
    let secs = u64::try_from(days.max(0)).unwrap_or(0) * 86_400;
    std::time::UNIX_EPOCH + Duration::from_secs(secs)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(y: i32, m: u32, d: u32) -> i64 {
    let y = i64::from(y) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}
