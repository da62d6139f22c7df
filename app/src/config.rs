//! The kiosk's configuration file (`config/kiosk.toml`). A bad file is refused with a message that
//! names the file, the line and the key.

use otmetka_core::period::{SiteTime, WeekRule};
use otmetka_core::rules::Policy;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Why the configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {detail}")]
    Invalid { path: PathBuf, detail: String },
}

/// Where the kiosk reads cards from.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", deny_unknown_fields)]
pub enum ReaderConfig {
    /// The simulated reader: taps come from the control socket, keys F1–F9 in a window.
    Sim,
    /// A reader on a serial port: an RDM6300-style EM4100 module (125 kHz) or one that sends one
    /// UID per line.
    Serial {
        path: PathBuf,
        #[serde(default)]
        protocol: SerialProtocol,
        /// Line readers only; an EM4100 module always talks at 9600 baud.
        #[serde(default = "default_baud")]
        baud: u32,
        /// How a line reader's digits are read.
        #[serde(default)]
        format: CardFormat,
    },
    /// A USB keyboard-wedge reader (evdev device, grabbed so its digits do not reach a console).
    Evdev {
        path: PathBuf,
        #[serde(default)]
        format: CardFormat,
    },
    /// An MFRC522 on SPI (13.56 MHz); its reset line is `rfid_reset` of the pin map in `outputs`.
    Mfrc522 {
        #[serde(default = "default_spi")]
        spi: PathBuf,
    },
}

/// What a serial reader sends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SerialProtocol {
    /// RDM6300-style frames: STX, ten hex digits, checksum, ETX (9600 baud).
    #[default]
    Em4100,
    /// One card number per line.
    Line,
}

/// How a line or keyboard-wedge reader's text is read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardFormat {
    /// Ten decimal digits are a decimal number, "facility,number" a Wiegand pair, else hex.
    #[default]
    Auto,
    Hex,
    Decimal,
}

impl CardFormat {
    /// The firmware's name for it.
    pub fn line_format(self) -> otmetka_firmware::serial::LineFormat {
        use otmetka_firmware::serial::LineFormat;
        match self {
            CardFormat::Auto => LineFormat::Auto,
            CardFormat::Hex => LineFormat::Hex,
            CardFormat::Decimal => LineFormat::Decimal,
        }
    }
}

fn default_baud() -> u32 {
    9600
}

fn default_spi() -> PathBuf {
    PathBuf::from("/dev/spidev0.0")
}

/// The feed's broker connection.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedConfig {
    /// `host:port` of the MQTT broker.
    pub broker: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Talk to the broker without TLS although it is not on this machine (a lab, a network
    /// the site trusts): never a silent fall-back, the feed says so in its log. A broker on the
    /// loopback needs neither this nor `ca_file`.
    #[serde(default)]
    pub plain_tcp: bool,
    /// Days to keep delivered rows for audit.
    #[serde(default = "default_audit_days")]
    pub audit_days: u32,
    /// Events published ahead of the journal's ack.
    #[serde(default = "default_window")]
    pub window: u64,
    /// Seconds without ack progress before publishing again from the last ack.
    #[serde(default = "default_resend")]
    pub resend_after_s: u64,
}

fn default_window() -> u64 {
    200
}

fn default_resend() -> u64 {
    10
}

fn default_audit_days() -> u32 {
    90
}

/// The kiosk's configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KioskConfig {
    pub site: String,
    pub kiosk: String,
    /// An IANA zone of Russia ("Asia/Yekaterinburg") or "+05:00".
    pub time_zone: String,
    #[serde(default)]
    pub week: WeekRule,
    pub database: PathBuf,
    pub catalogue: PathBuf,
    /// A roster file with raw card numbers, used until the journal sends one.
    #[serde(default)]
    pub roster_file: Option<PathBuf>,
    pub site_secret_file: PathBuf,
    #[serde(default = "default_socket")]
    pub socket: PathBuf,
    pub reader: ReaderConfig,
    #[serde(default)]
    pub policy: Policy,
    #[serde(default)]
    pub feed: Option<FeedConfig>,
    /// Treat the system clock as synchronised (desktop, server).
    #[serde(default)]
    pub assume_clock_synced: bool,
    /// The voice and tones.
    #[serde(default)]
    pub sound: SoundSection,
    /// Lights, buzzer and relay.
    #[serde(default)]
    pub outputs: OutputsConfig,
    /// Demos and screen tests only: the kiosk's clock stands still at this time (RFC 3339), so
    /// that its screens are the same picture on every run.
    #[serde(default)]
    pub frozen_clock: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// The one directory `ctl screenshot` writes into (PNG files only; a relative name is taken
    /// in it). Default: `screenshots/` beside the database.
    #[serde(default)]
    pub screenshot_dir: Option<PathBuf>,
    /// The power and the SD card's space (`crate::health`).
    #[serde(default)]
    pub health: crate::health::HealthConfig,
    /// The backlight and when the idle screen goes dark (`crate::display`).
    #[serde(default)]
    pub display: crate::display::DisplayConfig,
}

/// `outputs`: the lights, buzzer and relay that follow each tap result.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", deny_unknown_fields)]
pub enum OutputsConfig {
    /// None fitted (a desktop, a server).
    #[default]
    None,
    /// GPIO pins as wired (BCM numbers; see docs/hardware.md). Needs a build with the `rpi` or
    /// `linux` feature.
    Gpio {
        #[serde(default)]
        pins: otmetka_firmware::pinmap::PinMap,
    },
}

/// `[sound]`: where prompts are played and how.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SoundSection {
    /// `aplay` (ALSA, alsa-utils), `silent`, or `dir` (each played WAV is written into `dir`:
    /// tests and headless demos).
    #[serde(default = "default_sink")]
    pub sink: String,
    /// The ALSA device for `aplay` (`aplay -D`); the default device if absent.
    #[serde(default)]
    pub device: Option<String>,
    /// The directory of `sink = "dir"`.
    #[serde(default)]
    pub dir: Option<PathBuf>,
    /// The clips (`tones/`, `ru/`, `en/`).
    #[serde(default = "default_sounds_dir")]
    pub sounds_dir: PathBuf,
    /// 0.0 (mute) to 1.0 (as recorded).
    #[serde(default = "default_volume")]
    pub volume: f32,
    /// Say the person's name before the phrase.
    #[serde(default = "default_true")]
    pub speak_names: bool,
    /// The text-to-speech command for names; `{text}` is one argument (no shell).
    #[serde(default)]
    pub tts_command: Option<String>,
}

impl Default for SoundSection {
    fn default() -> SoundSection {
        SoundSection {
            sink: default_sink(),
            device: None,
            dir: None,
            sounds_dir: default_sounds_dir(),
            volume: default_volume(),
            speak_names: true,
            tts_command: None,
        }
    }
}

fn default_sink() -> String {
    "aplay".into()
}

fn default_sounds_dir() -> PathBuf {
    PathBuf::from("sounds")
}

fn default_volume() -> f32 {
    1.0
}

fn default_true() -> bool {
    true
}

impl SoundSection {
    /// The player's settings.
    pub fn to_sound_config(&self) -> crate::sound::SoundConfig {
        let mut c = crate::sound::SoundConfig::new(&self.sounds_dir);
        c.volume = self.volume.clamp(0.0, 1.0);
        c.speak_names = self.speak_names;
        if let Some(cmd) = &self.tts_command {
            c.tts_command = crate::sound::parse_tts_command(cmd);
        }
        c.sink = match (self.sink.as_str(), &self.dir) {
            ("silent", _) => crate::sound::Sink::Silent,
            ("dir", Some(dir)) => crate::sound::Sink::Dir(dir.clone()),
            _ => crate::sound::Sink::Aplay {
                device: self.device.clone(),
            },
        };
        c
    }
}

fn default_socket() -> PathBuf {
    PathBuf::from("/run/otmetka/kiosk.sock")
}

pub use otmetka_core::period::zone_offset_minutes;

impl KioskConfig {
    /// Where `ctl screenshot` may write.
    pub fn screenshot_dir(&self) -> PathBuf {
        self.screenshot_dir.clone().unwrap_or_else(|| {
            self.database
                .parent()
                .unwrap_or(Path::new("."))
                .join("screenshots")
        })
    }

    /// Reads and checks a configuration file. Relative paths in it are relative to the file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut cfg = Self::parse(path, &text)?;
        let base = path.parent().unwrap_or(Path::new("."));
        for p in [
            &mut cfg.database,
            &mut cfg.catalogue,
            &mut cfg.site_secret_file,
            &mut cfg.socket,
        ] {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        for p in [Some(&mut cfg.sound.sounds_dir), cfg.sound.dir.as_mut()]
            .into_iter()
            .flatten()
        {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        let feed_files = cfg
            .feed
            .as_mut()
            .map(|f| [f.password_file.as_mut(), f.ca_file.as_mut()])
            .into_iter()
            .flatten()
            .flatten();
        let shots = cfg.screenshot_dir.as_mut();
        for p in cfg
            .roster_file
            .as_mut()
            .into_iter()
            .chain(feed_files)
            .chain(shots)
        {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        Ok(cfg)
    }

    /// Parses configuration text (`path` is for messages).
    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let invalid = |detail: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            detail,
        };
        let cfg: KioskConfig =
            toml::from_str(text).map_err(|e| invalid(e.to_string().trim().to_string()))?;
        if zone_offset_minutes(&cfg.time_zone).is_none() {
            return Err(invalid(format!(
                "key \"time_zone\": expected a zone of Russia such as \"Asia/Yekaterinburg\" or an offset such as \"+05:00\", found {:?}",
                cfg.time_zone
            )));
        }
        match (cfg.sound.sink.as_str(), &cfg.sound.dir) {
            ("aplay" | "silent", _) | ("dir", Some(_)) => {}
            ("dir", None) => {
                return Err(invalid(
                    "[sound] sink = \"dir\" needs dir = \"/path/to/a/directory\"".into(),
                ));
            }
            (other, _) => {
                return Err(invalid(format!(
                    "[sound] key \"sink\": expected \"aplay\", \"silent\" or \"dir\", found {other:?}"
                )));
            }
        }
        if !(0.0..=1.0).contains(&cfg.sound.volume) {
            return Err(invalid(format!(
                "[sound] key \"volume\": expected 0.0 to 1.0, found {}",
                cfg.sound.volume
            )));
        }
        if let Some(feed) = &cfg.feed {
            match (&feed.ca_file, feed.plain_tcp) {
                (Some(_), true) => {
                    return Err(invalid(
                        "[feed] has both ca_file (TLS) and plain_tcp = true: choose one".into(),
                    ));
                }
                (None, false) if !otmetka_link::is_local_broker(&feed.broker) => {
                    return Err(invalid(format!(
                        "[feed] key \"ca_file\" is missing: the broker {} is not on this machine, so the feed talks TLS (ca_file = the broker's CA certificate), or plain TCP only with plain_tcp = true",
                        feed.broker
                    )));
                }
                _ => {}
            }
        }
        for (key, v) in [("site", &cfg.site), ("kiosk", &cfg.kiosk)] {
            let ok = !v.is_empty()
                && v.len() <= 32
                && v.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !ok {
                return Err(invalid(format!(
                    "key {key:?}: expected 1 to 32 characters a-z, 0-9 or '-', found {v:?}"
                )));
            }
        }
        Ok(cfg)
    }

    /// The site's local time.
    pub fn site_time(&self) -> SiteTime {
        let minutes = zone_offset_minutes(&self.time_zone).unwrap_or(0);
        let offset = chrono::FixedOffset::east_opt(minutes * 60).unwrap_or(chrono::Utc.fix());
        SiteTime {
            offset,
            week: self.week,
        }
    }
}

use chrono::Offset;

/// The files of a kiosk bundle (written by `otmetka-journal provision-kiosk`, installed by
/// `otmetka-kiosk enroll`): the config, and the files it names by relative paths.
pub mod bundle {
    use super::{ConfigError, KioskConfig};
    use std::os::unix::fs::PermissionsExt;
    use std::path::{Path, PathBuf};

    /// The config's name in a bundle and in the install directory.
    pub const CONFIG: &str = "kiosk.toml";

    /// A bundle that passed [`check`].
    #[derive(Debug, Clone)]
    pub struct Bundle {
        pub dir: PathBuf,
        pub config: KioskConfig,
        /// Files to install, by name, with the mode to give them (secrets 0600).
        pub files: Vec<(String, u32)>,
    }

    fn invalid(path: &Path, detail: String) -> ConfigError {
        ConfigError::Invalid {
            path: path.to_path_buf(),
            detail,
        }
    }

    /// The name of a file the config names, which must be a plain file of the bundle directory
    /// (so that the installed config finds it next to itself).
    fn bundle_file(dir: &Path, key: &str, p: &Path) -> Result<String, ConfigError> {
        let name = p
            .strip_prefix(dir)
            .ok()
            .filter(|rest| rest.components().count() == 1)
            .and_then(|rest| rest.to_str())
            .ok_or_else(|| {
                invalid(
                    &dir.join(CONFIG),
                    format!(
                        "key {key:?} must name a file of the bundle by a relative path, not {}",
                        p.display()
                    ),
                )
            })?;
        if !p.is_file() {
            return Err(invalid(
                p,
                format!("missing from the bundle (named by {key:?} in {CONFIG})"),
            ));
        }
        Ok(name.to_string())
    }

    /// Checks a bundle directory: the config parses, it has a `[feed]` with a password file and a
    /// CA certificate, every file it names is in the bundle, and no secret is readable by others.
    pub fn check(dir: &Path) -> Result<Bundle, ConfigError> {
        let config_path = dir.join(CONFIG);
        if !config_path.is_file() {
            return Err(invalid(
                &config_path,
                "missing: this is not a kiosk bundle (made by `otmetka-journal provision-kiosk`)"
                    .into(),
            ));
        }
        let config = KioskConfig::load(&config_path)?;
        let feed = config.feed.as_ref().ok_or_else(|| {
            invalid(
                &config_path,
                "no [feed] section: a bundle connects the kiosk to its broker".into(),
            )
        })?;
        let password = feed
            .password_file
            .as_ref()
            .ok_or_else(|| invalid(&config_path, "key \"feed.password_file\" is missing".into()))?;
        let ca = feed.ca_file.as_ref().ok_or_else(|| {
            invalid(
                &config_path,
                "key \"feed.ca_file\" is missing: TLS is required".into(),
            )
        })?;
        let mut files = vec![(CONFIG.to_string(), 0o644)];
        let secrets = [
            ("feed.password_file", password.as_path()),
            ("site_secret_file", config.site_secret_file.as_path()),
        ];
        for (key, p) in secrets {
            let name = bundle_file(dir, key, p)?;
            let mode = std::fs::metadata(p)
                .map_err(|source| ConfigError::Read {
                    path: p.to_path_buf(),
                    source,
                })?
                .permissions()
                .mode();
            if mode & 0o077 != 0 {
                return Err(invalid(
                    p,
                    format!(
                        "a secret readable by others (mode {:o}): run `chmod 600 {}` and check who has seen it",
                        mode & 0o777,
                        p.display()
                    ),
                ));
            }
            files.push((name, 0o600));
        }
        for (key, p) in [
            ("feed.ca_file", ca.as_path()),
            ("catalogue", config.catalogue.as_path()),
        ] {
            files.push((bundle_file(dir, key, p)?, 0o644));
        }
        if let Some(p) = &config.roster_file {
            files.push((bundle_file(dir, "roster_file", p)?, 0o600));
        }
        Ok(Bundle {
            dir: dir.to_path_buf(),
            config,
            files,
        })
    }

    /// The group of the packaged kiosk's system user: the service reads the installed secrets
    /// through it (`/etc/otmetka` is root's, the kiosk runs as `otmetka-kiosk`).
    pub const SERVICE_GROUP: &str = "otmetka-kiosk";

    impl Bundle {
        /// Copies the bundle's files into `into` (created 0750 when missing), each written to a
        /// temp file and renamed, secrets 0600. With `group` (the packaged service's, when this
        /// runs as root), the directory and the files belong to that group and the secrets are
        /// 0640: readable by the service, by no one else. Returns the installed files.
        pub fn install(&self, into: &Path, group: Option<u32>) -> std::io::Result<Vec<PathBuf>> {
            use std::io::Write;
            use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o750)
                .create(into)?;
            if let Some(gid) = group {
                std::os::unix::fs::chown(into, None, Some(gid))?;
                std::fs::set_permissions(into, std::fs::Permissions::from_mode(0o750))?;
            }
            let mut done = Vec::new();
            for (name, mode) in &self.files {
                let mode = &if group.is_some() && *mode == 0o600 {
                    0o640
                } else {
                    *mode
                };
                let bytes = std::fs::read(self.dir.join(name))?;
                let target = into.join(name);
                let tmp = into.join(format!(".{name}.enroll-tmp"));
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .mode(*mode)
                    .open(&tmp)?;
                if let Some(gid) = group {
                    std::os::unix::fs::chown(&tmp, None, Some(gid))?;
                }
                // The mode of an existing temp file is not changed by open(): set it.
                f.set_permissions(std::fs::Permissions::from_mode(*mode))?;
                f.write_all(&bytes)?;
                f.sync_all()?;
                std::fs::rename(&tmp, &target)?;
                done.push(target);
            }
            Ok(done)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_key_is_named_with_its_line() {
        let text =
            "site = \"s\"\nkiosk = \"k\"\ntime_zone = \"Asia/Yekaterinburg\"\ndatabase = 5\n";
        let err = KioskConfig::parse(Path::new("kiosk.toml"), text)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("kiosk.toml") && err.contains("line 4") && err.contains("database"),
            "{err}"
        );
    }

    #[test]
    fn every_reader_example_in_the_shipped_config_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/kiosk.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let examples: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# reader = "))
            .map(|l| l.split(" #").next().unwrap_or(l).trim())
            .collect();
        assert_eq!(examples.len(), 4);
        let mut got = Vec::new();
        for ex in examples {
            let t = text.replace("reader = { kind = \"sim\" }", &format!("reader = {ex}"));
            got.push(KioskConfig::parse(&path, &t).unwrap().reader);
        }
        assert_eq!(
            got[2],
            ReaderConfig::Serial {
                path: "/dev/ttyUSB0".into(),
                protocol: SerialProtocol::Line,
                baud: 9600,
                format: CardFormat::Hex
            }
        );
        assert_eq!(
            got[1],
            ReaderConfig::Serial {
                path: "/dev/serial0".into(),
                protocol: SerialProtocol::Em4100,
                baud: 9600,
                format: CardFormat::Auto
            }
        );
        let typo = text.replace(
            "reader = { kind = \"sim\" }",
            "reader = { kind = \"serial\", path = \"/dev/ttyS0\", protcol = \"line\" }",
        );
        let err = KioskConfig::parse(&path, &typo).unwrap_err().to_string();
        assert!(err.contains("protcol"), "a misspelt key is named: {err}");
    }

    #[test]
    fn the_shipped_config_parses_and_its_outputs_example_too() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/kiosk.toml");
        let cfg = KioskConfig::load(&path).unwrap();
        assert_eq!(cfg.sound.sink, "aplay");
        assert!(cfg.sound.sounds_dir.join("ru/accepted.wav").exists());
        assert_eq!(cfg.outputs, OutputsConfig::None);
        let text = std::fs::read_to_string(&path).unwrap();
        let uncommented = text
            .replace("# [outputs]", "[outputs]")
            .replace("# kind = \"gpio\"", "kind = \"gpio\"")
            .replace("# pins = ", "pins = ");
        let cfg = KioskConfig::parse(&path, &uncommented).unwrap();
        let OutputsConfig::Gpio { pins } = cfg.outputs else {
            panic!("{:?}", cfg.outputs)
        };
        assert_eq!(
            (pins.buzzer, pins.green, pins.red),
            (Some(18), Some(23), Some(24))
        );
        let bad = text.replace("sink = \"aplay\"", "sink = \"speaker\"");
        let err = KioskConfig::parse(&path, &bad).unwrap_err().to_string();
        assert!(err.contains("sink") && err.contains("speaker"), "{err}");
    }

    #[test]
    fn a_broker_elsewhere_needs_tls_or_plain_tcp_said_out_loud() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/kiosk.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let with = |feed: &str| KioskConfig::parse(&path, &format!("{text}\n[feed]\n{feed}"));
        assert!(with("broker = \"127.0.0.1:1883\"\n").is_ok());
        let e = with("broker = \"broker.centre.local:8883\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("ca_file") && e.contains("plain_tcp = true"),
            "{e}"
        );
        assert!(with("broker = \"broker.centre.local:8883\"\nplain_tcp = true\n").is_ok());
        assert!(with("broker = \"broker.centre.local:8883\"\nca_file = \"ca.crt\"\n").is_ok());
        let e = with("broker = \"b:1\"\nca_file = \"ca.crt\"\nplain_tcp = true\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("choose one"), "{e}");
    }

    #[test]
    fn feed_files_are_relative_to_the_config_and_a_bundle_is_checked() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let text = "site = \"s\"\nkiosk = \"k\"\ntime_zone = \"+03:00\"\ndatabase = \"/tmp/x.db\"\n\
                    catalogue = \"services.toml\"\nsite_secret_file = \"site-secret\"\n\
                    reader = { kind = \"sim\" }\n[feed]\nbroker = \"b:8883\"\n\
                    password_file = \"mqtt-password\"\nca_file = \"ca.crt\"\n";
        std::fs::write(d.join("kiosk.toml"), text).unwrap();
        let cfg = KioskConfig::load(&d.join("kiosk.toml")).unwrap();
        let feed = cfg.feed.as_ref().unwrap();
        assert_eq!(
            feed.password_file.as_deref(),
            Some(d.join("mqtt-password").as_path())
        );
        assert_eq!(feed.ca_file.as_deref(), Some(d.join("ca.crt").as_path()));
        for f in ["services.toml", "ca.crt", "mqtt-password", "site-secret"] {
            std::fs::write(d.join(f), "x").unwrap();
        }
        for f in ["mqtt-password", "site-secret"] {
            std::fs::set_permissions(d.join(f), std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let b = bundle::check(d).unwrap();
        assert_eq!(b.files.len(), 5);
        std::fs::set_permissions(
            d.join("site-secret"),
            std::fs::Permissions::from_mode(0o604),
        )
        .unwrap();
        let e = bundle::check(d).unwrap_err().to_string();
        assert!(e.contains("readable by others"), "{e}");
    }

    #[test]
    fn zones() {
        assert_eq!(zone_offset_minutes("Asia/Kamchatka"), Some(720));
        assert_eq!(zone_offset_minutes("+05:00"), Some(300));
        assert_eq!(zone_offset_minutes("Mars/Olympus"), None);
    }
}
