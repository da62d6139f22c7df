//! The journal's configuration file (`config/journal.toml`).

use serde::Deserialize;
use std::path::{Path, PathBuf};

/// A site the journal serves, with its roster source and card-hash secret.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    pub id: String,
    /// A roster file with raw card numbers; hashed with the site secret and published retained.
    #[serde(default)]
    pub roster_file: Option<PathBuf>,
    pub site_secret_file: PathBuf,
}

/// The journal's configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JournalConfig {
    pub database: PathBuf,
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
    #[serde(default)]
    pub sites: Vec<SiteConfig>,
}

fn default_client_id() -> String {
    "journal".into()
}

impl JournalConfig {
    /// Reads a configuration file; relative paths are relative to it.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        let mut cfg: JournalConfig = toml::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.to_string().trim()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        fix(&mut cfg.database);
        fix(&mut cfg.catalogue);
        for s in &mut cfg.sites {
            fix(&mut s.site_secret_file);
            if let Some(r) = s.roster_file.as_mut() {
                fix(r);
            }
        }
        Ok(cfg)
    }
}
