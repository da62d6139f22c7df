//! The journal's configuration file (`config/journal.toml`).

use crate::error::Error;
use crate::store::{Database, StoreError};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// A site the journal serves, with its roster source and card-hash secret.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    pub id: String,
    /// The site's name as documents print it («Отделение дневного пребывания»); the id where
    /// none is given.
    #[serde(default)]
    pub name: Option<String>,
    /// A roster file with raw card numbers; hashed with the site secret and published retained.
    #[serde(default)]
    pub roster_file: Option<PathBuf>,
    pub site_secret_file: PathBuf,
    /// The site's weekly timetable (`config/schedule.sample.toml`), expanded to dated entries and
    /// published retained on the site's `schedule` topic.
    #[serde(default)]
    pub schedule_file: Option<PathBuf>,
    /// The site's time zone as the kiosk config takes it ("Asia/Yekaterinburg" or "+05:00");
    /// provisioning writes it into each kiosk's config.
    #[serde(default)]
    pub time_zone: Option<String>,
    /// How the site's "week" counts for the caps: "calendar" (Monday to Sunday, the default) or
    /// "rolling" (the last 7 days), as its kiosks' `week`.
    #[serde(default)]
    pub week: otmetka_core::period::WeekRule,
    /// The institution's code as a participant of ЕГИССО (`NNNN.NNNNNN`), where it differs from
    /// `[egisso] osz_code`.
    #[serde(default)]
    pub osz_code: Option<String>,
}

impl SiteConfig {
    /// The site's local time for the rules (UTC where the config names no zone).
    pub fn site_time(&self) -> otmetka_core::period::SiteTime {
        let minutes = self
            .time_zone
            .as_deref()
            .and_then(otmetka_core::period::zone_offset_minutes)
            .unwrap_or(0);
        otmetka_core::period::SiteTime::new(minutes, self.week)
            .or_else(|| otmetka_core::period::SiteTime::new(0, self.week))
            .expect("UTC is a valid offset")
    }
}

/// What `provision-kiosk` and `revoke-kiosk` need to know about the site's broker.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvisioningConfig {
    /// Mosquitto's `password_file` (kiosk credentials are added to and removed from it).
    pub broker_password_file: PathBuf,
    /// Mosquitto's `acl_file` (the shipped `config/mosquitto/acl`; per-kiosk blocks are appended).
    pub broker_acl_file: PathBuf,
    /// Mosquitto's `pid_file`: the broker is sent SIGHUP to reload credentials and ACL. Without
    /// it the commands say that the broker must be reloaded by hand.
    #[serde(default)]
    pub broker_pid_file: Option<PathBuf>,
    /// `host:port` kiosks use to reach the broker (default: the journal's own `broker`).
    #[serde(default)]
    pub kiosk_broker: Option<String>,
    /// The CA certificate kiosks check the broker with (default: the journal's own `ca_file`).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// The `mosquitto_passwd` program (default: found on `PATH`).
    #[serde(default = "default_mosquitto_passwd")]
    pub mosquitto_passwd: PathBuf,
    /// Where a kiosk provisioned from the fleet page gets its bundle (default: `bundles/` beside
    /// this file). The page never hands the bundle's password and site secret to a browser.
    #[serde(default)]
    pub bundle_dir: Option<PathBuf>,
}

fn default_mosquitto_passwd() -> PathBuf {
    PathBuf::from("mosquitto_passwd")
}

/// The journal's web server (`[web]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebConfig {
    /// Where the pages are served: plain HTTP on this machine only, unless set otherwise.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// The pages' certificate chain (PEM): with `key_file`, the pages are served over TLS only
    /// and the session cookie is `Secure`.
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    /// The certificate's private key (PEM, PKCS#8 or RSA or SEC1).
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// The fleet page calls a kiosk silent when its last status is older than this.
    #[serde(default = "default_silent_minutes")]
    pub silent_minutes: u32,
    /// The fleet page calls a kiosk's backlog stuck when its oldest undelivered event is older.
    #[serde(default = "default_stuck_minutes")]
    pub stuck_backlog_minutes: u32,
}

fn default_silent_minutes() -> u32 {
    15
}

fn default_stuck_minutes() -> u32 {
    15
}

impl Default for WebConfig {
    fn default() -> WebConfig {
        WebConfig {
            listen: default_listen(),
            cert_file: None,
            key_file: None,
            silent_minutes: default_silent_minutes(),
            stuck_backlog_minutes: default_stuck_minutes(),
        }
    }
}

fn default_listen() -> String {
    "127.0.0.1:8080".into()
}

/// The PDF documents (`[documents]`): the monthly act and a group's month of the journal.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentsConfig {
    /// The provider's name as the acts print it («ГБУ «Комплексный центр социального
    /// обслуживания населения»»); empty: the site's name alone.
    #[serde(default)]
    pub institution: String,
    /// A directory with the institution's own `act.typ` and `journal.typ` (copies of
    /// `config/templates/`, relative to this file); without it the shipped templates are used.
    #[serde(default)]
    pub templates_dir: Option<PathBuf>,
    /// The fonts the templates use (TTF/OTF), embedded in every PDF: Debian's DejaVu
    /// (`fonts-dejavu-core`) by default.
    #[serde(default = "default_fonts_dir")]
    pub fonts_dir: PathBuf,
}

fn default_fonts_dir() -> PathBuf {
    PathBuf::from(crate::export::pdf::DEFAULT_FONTS_DIR)
}

impl Default for DocumentsConfig {
    fn default() -> DocumentsConfig {
        DocumentsConfig {
            institution: String::new(),
            templates_dir: None,
            fonts_dir: default_fonts_dir(),
        }
    }
}

/// The regional export (`[egisso]`): the codes ЕГИССО knows the institution and its measures by,
/// which the region's registry assigns (see [`crate::export::egisso`]).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EgissoConfig {
    /// The institution's participant code (ОСЗ, `NNNN.NNNNNN`); a site's `osz_code` overrides it.
    #[serde(default)]
    pub osz_code: Option<String>,
    /// Each exported service, by its catalogue code: the local measure (ЛМСЗ) it is given as.
    /// A service without one is not exported (the page and the command say which).
    #[serde(default)]
    pub services: std::collections::BTreeMap<String, EgissoService>,
}

/// How one service is reported: the measure, the category of recipients, the unit, the price.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EgissoService {
    /// The local measure of social support (ЛМСЗ) of the region's registry (a UUID).
    pub lmsz: uuid::Uuid,
    /// The local category of recipients (a UUID).
    pub category: uuid::Uuid,
    /// The unit of measure by ОКЕИ: 876 (условная единица) unless the registry says otherwise.
    #[serde(default = "default_okei")]
    pub okei: String,
    /// The tariff of one unit in roubles («150.00»): the fact's equivalent amount is the count
    /// times it.
    pub tariff: String,
}

fn default_okei() -> String {
    "876".into()
}

impl EgissoService {
    /// The tariff in kopecks, or why it is not a sum of money.
    pub fn tariff_kopecks(&self) -> Result<u64, String> {
        let t = self.tariff.trim();
        let (rub, kop) = t.split_once('.').unwrap_or((t, ""));
        let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
        if !digits(rub) || !(kop.is_empty() || (kop.len() <= 2 && digits(kop))) {
            return Err(format!(
                "tariff {t:?} is not roubles with up to 2 decimals (\"150.00\")"
            ));
        }
        let rub: u64 = rub
            .parse()
            .map_err(|_| format!("tariff {t:?} is too large"))?;
        let kop: u64 = format!("{kop:0<2}").parse().unwrap_or(0);
        rub.checked_mul(100)
            .and_then(|r| r.checked_add(kop))
            .ok_or_else(|| format!("tariff {t:?} is too large"))
    }
}

/// Whether `code` has the form of an ЕГИССО participant code (`NNNN.NNNNNN`).
pub fn is_participant_code(code: &str) -> bool {
    let b = code.as_bytes();
    b.len() == 11
        && b[4] == b'.'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || c.is_ascii_digit())
}

/// The journal's configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JournalConfig {
    /// The store: an SQLite file path (relative to this file) or `sqlite://PATH`; see
    /// [`crate::store::Database`].
    pub database: String,
    /// The directory of this config file (relative paths are relative to it).
    #[serde(skip)]
    pub base: PathBuf,
    pub catalogue: PathBuf,
    /// `host:port` of the MQTT broker.
    pub broker: String,
    #[serde(default = "default_client_id")]
    pub client_id: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Talk to a broker that is not on this machine without TLS: never a silent fall-back
    /// (the journal says so in its log). A broker on the loopback needs neither this nor
    /// `ca_file`.
    #[serde(default)]
    pub plain_tcp: bool,
    #[serde(default)]
    pub sites: Vec<SiteConfig>,
    /// Kiosk provisioning (`provision-kiosk`, `revoke-kiosk`).
    #[serde(default)]
    pub provisioning: Option<ProvisioningConfig>,
    #[serde(default)]
    pub web: WebConfig,
    #[serde(default)]
    pub documents: DocumentsConfig,
    #[serde(default)]
    pub egisso: EgissoConfig,
    #[serde(default)]
    pub ingest: IngestConfig,
}

/// How much the journal takes off the broker (`[ingest]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestConfig {
    /// Each kiosk's allowance (see [`crate::ingest::admission`]): messages at once…
    #[serde(default = "default_kiosk_burst")]
    pub kiosk_burst: u32,
    /// …a second after that…
    #[serde(default = "default_kiosk_rate")]
    pub kiosk_rate: f64,
    /// …and in a day.
    #[serde(default = "default_kiosk_daily")]
    pub kiosk_daily: u32,
    /// The broker's window of messages in flight to the journal (Mosquitto's
    /// `max_inflight_messages`): a batch that holds as many is committed at once.
    #[serde(default = "default_broker_inflight")]
    pub broker_inflight: usize,
}

impl Default for IngestConfig {
    fn default() -> IngestConfig {
        IngestConfig {
            kiosk_burst: default_kiosk_burst(),
            kiosk_rate: default_kiosk_rate(),
            kiosk_daily: default_kiosk_daily(),
            broker_inflight: default_broker_inflight(),
        }
    }
}

impl IngestConfig {
    pub fn admission(&self) -> crate::ingest::AdmissionLimits {
        crate::ingest::AdmissionLimits {
            burst: self.kiosk_burst,
            rate: self.kiosk_rate,
            daily: self.kiosk_daily,
        }
    }

    fn check(&self) -> Result<(), String> {
        if self.kiosk_burst == 0 || self.kiosk_daily < self.kiosk_burst {
            return Err(format!(
                "kiosk_burst must be at least 1 and at most kiosk_daily ({} > {})",
                self.kiosk_burst, self.kiosk_daily
            ));
        }
        if !(self.kiosk_rate.is_finite() && self.kiosk_rate > 0.0) {
            return Err(format!(
                "kiosk_rate must be above 0, not {}",
                self.kiosk_rate
            ));
        }
        if self.broker_inflight == 0 {
            return Err("broker_inflight must be at least 1".into());
        }
        Ok(())
    }
}

fn default_kiosk_burst() -> u32 {
    crate::ingest::AdmissionLimits::default().burst
}

fn default_kiosk_rate() -> f64 {
    crate::ingest::AdmissionLimits::default().rate
}

fn default_kiosk_daily() -> u32 {
    crate::ingest::AdmissionLimits::default().daily
}

fn default_broker_inflight() -> usize {
    crate::ingest::batch::Limits::default().window
}

fn default_client_id() -> String {
    "journal".into()
}

impl JournalConfig {
    /// The participant code of `site` for ЕГИССО: its own, or the institution's.
    pub fn osz_code(&self, site: &str) -> Option<&str> {
        self.sites
            .iter()
            .find(|s| s.id == site)
            .and_then(|s| s.osz_code.as_deref())
            .or(self.egisso.osz_code.as_deref())
    }

    fn check_egisso(&self) -> Result<(), String> {
        let codes = self
            .egisso
            .osz_code
            .iter()
            .chain(self.sites.iter().filter_map(|s| s.osz_code.as_ref()));
        for code in codes {
            if !is_participant_code(code) {
                return Err(format!(
                    "osz_code {code:?} is not an ЕГИССО participant code (NNNN.NNNNNN)"
                ));
            }
        }
        for (code, s) in &self.egisso.services {
            s.tariff_kopecks()
                .map_err(|e| format!("services.{code}: {e}"))?;
            let okei = s.okei.len();
            if !(okei == 3 || okei == 4) || !s.okei.chars().all(|c| c.is_ascii_digit()) {
                return Err(format!(
                    "services.{code}: okei {:?} is not an ОКЕИ code (3 or 4 digits)",
                    s.okei
                ));
            }
        }
        Ok(())
    }

    /// Reads a configuration file; relative paths are relative to it.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path)
            .map_err(Error::io(format!("cannot read {}", path.display())))?;
        let mut cfg: JournalConfig = toml::from_str(&text)
            .map_err(|e| Error::Config(format!("{}: {}", path.display(), e.to_string().trim())))?;
        let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        cfg.base = base.clone();
        cfg.database()?;
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        fix(&mut cfg.catalogue);
        for p in [cfg.password_file.as_mut(), cfg.ca_file.as_mut()]
            .into_iter()
            .flatten()
        {
            fix(p);
        }
        for s in &mut cfg.sites {
            fix(&mut s.site_secret_file);
            for p in [s.roster_file.as_mut(), s.schedule_file.as_mut()]
                .into_iter()
                .flatten()
            {
                fix(p);
            }
        }
        for s in &cfg.sites {
            if let Some(zone) = &s.time_zone {
                if otmetka_core::period::zone_offset_minutes(zone).is_none() {
                    return Err(Error::Config(format!(
                        "{}: site {:?} has time_zone {zone:?}, which is neither a Russian zone \
                         (\"Asia/Yekaterinburg\") nor an offset (\"+05:00\")",
                        path.display(),
                        s.id
                    )));
                }
            }
        }
        cfg.check_egisso()
            .map_err(|e| Error::Config(format!("{}: [egisso]: {e}", path.display())))?;
        cfg.ingest
            .check()
            .map_err(|e| Error::Config(format!("{}: [ingest]: {e}", path.display())))?;
        for p in [
            cfg.web.cert_file.as_mut(),
            cfg.web.key_file.as_mut(),
            cfg.documents.templates_dir.as_mut(),
            Some(&mut cfg.documents.fonts_dir),
        ]
        .into_iter()
        .flatten()
        {
            fix(p);
        }
        match (&cfg.ca_file, cfg.plain_tcp) {
            (Some(_), true) => {
                return Err(Error::Config(format!(
                    "{}: both ca_file (TLS) and plain_tcp = true: choose one",
                    path.display()
                )));
            }
            (None, false) if !otmetka_link::is_local_broker(&cfg.broker) => {
                return Err(Error::Config(format!(
                    "{}: the broker {} is not on this machine: set ca_file (the broker's CA \
                     certificate) for TLS, or plain_tcp = true for plain TCP",
                    path.display(),
                    cfg.broker
                )));
            }
            _ => {}
        }
        if cfg.web.cert_file.is_some() != cfg.web.key_file.is_some() {
            return Err(Error::Config(format!(
                "{}: [web] needs both cert_file and key_file for TLS, or neither",
                path.display()
            )));
        }
        if let Some(p) = cfg.provisioning.as_mut() {
            fix(&mut p.broker_password_file);
            fix(&mut p.broker_acl_file);
            for f in [p.broker_pid_file.as_mut(), p.ca_file.as_mut()]
                .into_iter()
                .flatten()
            {
                fix(f);
            }
        }
        Ok(cfg)
    }

    /// The store this config names.
    pub fn database(&self) -> Result<Database, StoreError> {
        Database::parse(&self.database, &self.base)
    }

    /// Where the exports asked for on the pages are kept for a day (`export::jobs`):
    /// `exports/` beside the database file, or beside this file for a database that is not one.
    pub fn export_dir(&self) -> PathBuf {
        let dir = self
            .database()
            .ok()
            .and_then(|db| {
                db.sqlite_path()
                    .and_then(Path::parent)
                    .map(Path::to_path_buf)
            })
            .unwrap_or_else(|| self.base.clone());
        dir.join("exports")
    }

    /// The provider as a document of `site` names it: «institution, site name», or the site
    /// alone («отделение demo») where no institution is configured.
    pub fn provider(&self, site: &str) -> String {
        let unit = self.site_name(site);
        match self.documents.institution.trim() {
            "" => unit,
            inst => format!("{inst}, {unit}"),
        }
    }

    /// A site's name as documents print it: its `name`, or «отделение ID».
    pub fn site_name(&self, site: &str) -> String {
        self.sites
            .iter()
            .find(|s| s.id == site)
            .and_then(|s| s.name.clone())
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| format!("отделение {site}"))
    }

    /// Where the fleet page writes the bundles of the kiosks it provisions (relative to this
    /// file); `None` without a `[provisioning]` section.
    pub fn bundle_dir(&self) -> Option<PathBuf> {
        let p = self.provisioning.as_ref()?;
        let dir = p.bundle_dir.clone().unwrap_or_else(|| "bundles".into());
        Some(if dir.is_relative() {
            self.base.join(dir)
        } else {
            dir
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broker_elsewhere_needs_tls_or_plain_tcp_said_out_loud() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.toml");
        let load = |extra: &str| {
            std::fs::write(
                &path,
                format!("database = \"j.db\"\ncatalogue = \"c.toml\"\n{extra}"),
            )
            .unwrap();
            JournalConfig::load(&path)
                .map(|_| ())
                .map_err(|e| e.to_string())
        };
        assert!(load("broker = \"127.0.0.1:1883\"\n").is_ok());
        let e = load("broker = \"broker.centre.local:8883\"\n").unwrap_err();
        assert!(e.contains("set ca_file") && e.contains("plain_tcp"), "{e}");
        assert!(load("broker = \"broker.centre.local:8883\"\nplain_tcp = true\n").is_ok());
        assert!(load("broker = \"broker.centre.local:8883\"\nca_file = \"ca.pem\"\n").is_ok());
        let e = load("broker = \"b:1\"\nca_file = \"ca.pem\"\nplain_tcp = true\n").unwrap_err();
        assert!(e.contains("choose one"), "{e}");
    }

    #[test]
    fn a_time_zone_that_cannot_work_is_refused_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.toml");
        let text = |zone: &str| {
            format!(
                "database = \"j.db\"\ncatalogue = \"c.toml\"\nbroker = \"127.0.0.1:1883\"\n\
                 [[sites]]\nid = \"demo\"\nsite_secret_file = \"s\"\ntime_zone = {zone:?}\n"
            )
        };
        std::fs::write(&path, text("Mars/Olympus")).unwrap();
        let err = JournalConfig::load(&path).unwrap_err().to_string();
        assert!(
            err.contains("Mars/Olympus") && err.contains("+05:00"),
            "{err}"
        );
        std::fs::write(&path, text("Asia/Yekaterinburg")).unwrap();
        JournalConfig::load(&path).unwrap();
    }

    #[test]
    fn egisso_codes_that_the_registry_would_refuse_are_refused_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.toml");
        let load = |extra: &str| {
            std::fs::write(
                &path,
                format!(
                    "database = \"j.db\"\ncatalogue = \"c.toml\"\nbroker = \"127.0.0.1:1883\"\n{extra}"
                ),
            )
            .unwrap();
            JournalConfig::load(&path).map_err(|e| e.to_string())
        };
        let sample = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/egisso.sample.toml"),
        )
        .unwrap();
        let cfg = load(&sample).unwrap();
        assert_eq!(cfg.egisso.services["001"].tariff_kopecks(), Ok(15_050));
        assert_eq!(cfg.egisso.services["000"].okei, "876", "the default unit");
        let e = load("[egisso]\nosz_code = \"66.000123\"\n").unwrap_err();
        assert!(e.contains("[egisso]") && e.contains("NNNN.NNNNNN"), "{e}");
        let service = |tariff: &str, okei: &str| {
            format!(
                "[egisso.services.\"001\"]\nlmsz = \"0b8f3a52-6d1e-4c3a-9d7e-1f2a3b4c5d01\"\n\
                 category = \"7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e01\"\ntariff = {tariff:?}\nokei = {okei:?}\n"
            )
        };
        for (tariff, okei, says) in [
            ("150,50", "876", "roubles with up to 2 decimals"),
            ("1.505", "876", "roubles with up to 2 decimals"),
            ("150", "87", "not an ОКЕИ code"),
        ] {
            let e = load(&service(tariff, okei)).unwrap_err();
            assert!(e.contains("services.001") && e.contains(says), "{e}");
        }
        assert!(load(&service("150.5", "9642")).is_ok());
        let e = load("[egisso.services.\"001\"]\nlmsz = \"x\"\ncategory = \"y\"\ntariff = \"1\"\n")
            .unwrap_err();
        assert!(
            e.contains("UUID") || e.contains("uuid") || e.contains("invalid"),
            "{e}"
        );
    }

    #[test]
    fn the_packaged_example_config_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging/journal/journal.toml");
        let cfg = JournalConfig::load(&path).unwrap();
        assert_eq!(
            cfg.database().unwrap().sqlite_path(),
            Some(Path::new("/var/lib/otmetka/journal/journal.db"))
        );
        assert_eq!(cfg.sites.len(), 1);
    }
}
