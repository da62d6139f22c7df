//! Kiosk provisioning: `provision-kiosk` issues a kiosk's broker credential and writes its bundle
//! (config, credential, CA certificate, site secret, catalogue); `revoke-kiosk` takes the
//! credential away. The broker is Mosquitto (`config/mosquitto/`): its password file holds the
//! credential (written with Mosquitto's own `mosquitto_passwd`, so the hash format is always the
//! one the installed broker reads), its ACL file gets the kiosk's read block for the site's
//! documents, and a SIGHUP makes it reload both.
//!
//! The ACL edits and the bundle's config text are pure functions over strings (tested below);
//! the rest is a thin sequence of file writes and one child process.

use crate::config::{JournalConfig, ProvisioningConfig, SiteConfig};
use crate::store::{self, KioskRecord};
use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use otmetka_link::topics::{self, Id};
use std::fmt::Write as _;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Names of the files in a bundle (and, after `otmetka-kiosk enroll`, in `/etc/otmetka`).
pub mod bundle {
    /// The kiosk's configuration; its relative paths name the other files of the bundle.
    pub const CONFIG: &str = "kiosk.toml";
    /// The kiosk's MQTT password (mode 0600).
    pub const PASSWORD: &str = "mqtt-password";
    /// The CA certificate the kiosk checks the broker with.
    pub const CA: &str = "ca.crt";
    /// The site's card-hash secret (mode 0600).
    pub const SITE_SECRET: &str = "site-secret";
    /// The service catalogue.
    pub const CATALOGUE: &str = "services.toml";
}

/// Random bytes in a kiosk password: 256 bits, written as 64 hex digits (no character that a
/// password file, a shell or a TOML string could misread).
const PASSWORD_BYTES: usize = 32;

/// A fresh random password from the operating system's generator.
pub fn generate_password() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; PASSWORD_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let mut s = String::with_capacity(PASSWORD_BYTES * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Validates a site and a kiosk id, with a message that says what an id may hold.
pub fn parse_ids(site: &str, kiosk: &str) -> Result<(Id, Id)> {
    let check = |what: &str, v: &str| {
        Id::new(v).with_context(|| {
            format!(
                "bad {what} id {v:?}: an id is 1 to {} characters a-z, 0-9 or '-'",
                topics::MAX_ID_LEN
            )
        })
    };
    Ok((check("site", site)?, check("kiosk", kiosk)?))
}

/// The ACL with the kiosk's block (`topics::mosquitto_kiosk_acl_block`) appended, unless a block
/// for that user is already there (re-provisioning changes only the password).
pub fn acl_with_kiosk(acl: &str, site: &Id, kiosk: &Id) -> String {
    let user_line = format!("user {}", topics::kiosk_username(site, kiosk));
    if acl.lines().any(|l| l.trim_end() == user_line) {
        return acl.to_string();
    }
    let mut out = acl.to_string();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&topics::mosquitto_kiosk_acl_block(site, kiosk));
    out
}

/// The ACL without the kiosk's block: its `user` line and the `topic` lines under it, and the
/// blank line before it. Everything else is kept as it was.
pub fn acl_without_kiosk(acl: &str, site: &Id, kiosk: &Id) -> String {
    let user_line = format!("user {}", topics::kiosk_username(site, kiosk));
    let mut out: Vec<&str> = Vec::new();
    let mut in_block = false;
    for line in acl.lines() {
        if line.trim_end() == user_line {
            in_block = true;
            if out.last().is_some_and(|l| l.trim().is_empty()) {
                out.pop();
            }
            continue;
        }
        // Mosquitto: `topic` lines belong to the last `user`; anything else ends the block.
        if in_block && line.trim_start().starts_with("topic ") {
            continue;
        }
        in_block = false;
        out.push(line);
    }
    let mut s = out.join("\n");
    if acl.ends_with('\n') && !s.is_empty() {
        s.push('\n');
    }
    s
}

/// The bundle's `kiosk.toml`. Relative paths are relative to the file, so the same text works in
/// the bundle directory and where `otmetka-kiosk enroll` installs it.
pub fn kiosk_toml(site: &Id, kiosk: &Id, time_zone: &str, broker: &str, issued: &str) -> String {
    format!(
        "# Kiosk {kiosk} of site {site}: written by `otmetka-journal provision-kiosk` at {issued}.\n\
         # Install with `otmetka-kiosk enroll BUNDLE_DIR` (into /etc/otmetka). Relative paths are\n\
         # relative to this file. See config/kiosk.toml for every setting.\n\
         site = {site:?}\n\
         kiosk = {kiosk:?}\n\
         time_zone = {time_zone:?}\n\
         database = \"/var/lib/otmetka/kiosk/kiosk.db\"\n\
         catalogue = {catalogue:?}\n\
         site_secret_file = {secret:?}\n\
         socket = \"/run/otmetka/kiosk.sock\"\n\
         # This build of the kiosk wires the simulated reader only (taps through\n\
         # `otmetka-kiosk ctl tap`); on a Pi with a reader: {{ kind = \"mfrc522\", spi = \"/dev/spidev0.0\" }}.\n\
         reader = {{ kind = \"sim\" }}\n\
         \n\
         [feed]\n\
         broker = {broker:?}\n\
         username = {username:?}\n\
         password_file = {password:?}\n\
         ca_file = {ca:?}\n\
         \n\
         [sound]\n\
         # The clips the otmetka-kiosk package installs.\n\
         sounds_dir = \"/usr/share/otmetka/sounds\"\n",
        site = site.as_str(),
        kiosk = kiosk.as_str(),
        catalogue = bundle::CATALOGUE,
        secret = bundle::SITE_SECRET,
        username = topics::kiosk_username(site, kiosk),
        password = bundle::PASSWORD,
        ca = bundle::CA,
    )
}

/// What happened to the broker's reload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reload {
    /// SIGHUP sent to this pid.
    Signalled(u32),
    /// No `broker_pid_file` configured.
    NotConfigured,
    /// The pid file could not be read or the signal not sent.
    Failed(String),
}

impl Reload {
    /// A line for the operator.
    pub fn describe(&self) -> String {
        match self {
            Reload::Signalled(pid) => format!("the broker (pid {pid}) was told to reload (SIGHUP)"),
            Reload::NotConfigured => "the broker must reload its password file and ACL now: \
                 `systemctl reload mosquitto` (or send it SIGHUP); set provisioning.broker_pid_file \
                 to have this done for you"
                .to_string(),
            Reload::Failed(why) => format!(
                "could not reload the broker ({why}): reload it by hand (`systemctl reload mosquitto`)"
            ),
        }
    }
}

/// Sends SIGHUP to the broker named by the pid file (Mosquitto reloads its password file and ACL).
pub fn reload_broker(pid_file: Option<&Path>) -> Reload {
    let Some(pid_file) = pid_file else {
        return Reload::NotConfigured;
    };
    let pid = match std::fs::read_to_string(pid_file) {
        Ok(text) => match text.trim().parse::<u32>() {
            Ok(pid) if pid > 1 => pid,
            _ => {
                return Reload::Failed(format!(
                    "{} does not hold a process id: {:?}",
                    pid_file.display(),
                    text.trim()
                ));
            }
        },
        Err(e) => return Reload::Failed(format!("cannot read {}: {e}", pid_file.display())),
    };
    // `kill` the program: a signal without unsafe code or another dependency.
    match Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .output()
    {
        Ok(o) if o.status.success() => Reload::Signalled(pid),
        Ok(o) => Reload::Failed(format!(
            "kill -HUP {pid}: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Reload::Failed(format!("kill -HUP {pid}: {e}")),
    }
}

/// What `provision-kiosk` did.
#[derive(Debug, Clone)]
pub struct Provisioned {
    pub username: String,
    pub bundle: PathBuf,
    /// The kiosk had credentials before (they are replaced).
    pub reissued: bool,
    pub reload: Reload,
}

/// What `revoke-kiosk` did.
#[derive(Debug, Clone)]
pub struct Revoked {
    pub username: String,
    /// The journal's record (`None`: this journal never provisioned the kiosk).
    pub record: Option<KioskRecord>,
    pub reload: Reload,
}

fn provisioning(cfg: &JournalConfig) -> Result<&ProvisioningConfig> {
    cfg.provisioning.as_ref().context(
        "the journal config has no [provisioning] section (broker_password_file, broker_acl_file, \
         broker_pid_file): see docs/provisioning.md",
    )
}

fn site_config<'a>(cfg: &'a JournalConfig, site: &Id) -> Result<&'a SiteConfig> {
    cfg.sites
        .iter()
        .find(|s| s.id == site.as_str())
        .with_context(|| {
            format!(
                "site {site} is not served by this journal: add a [[sites]] entry with id = \"{site}\""
            )
        })
}

/// Runs `mosquitto_passwd` with `args`; an error carries its own message.
/// Runs `mosquitto_passwd` with `args`; a password goes on its standard input (it asks for it
/// twice), never on the command line, where any local user could read it in `ps`.
fn mosquitto_passwd(
    p: &ProvisioningConfig,
    args: &[&std::ffi::OsStr],
    password: Option<&str>,
) -> Result<String> {
    use std::io::Write;
    let cannot = || {
        format!(
            "cannot run {} (Debian package mosquitto)",
            p.mosquitto_passwd.display()
        )
    };
    let mut child = Command::new(&p.mosquitto_passwd)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .with_context(cannot)?;
    if let (Some(pw), Some(mut stdin)) = (password, child.stdin.take()) {
        stdin
            .write_all(format!("{pw}\n{pw}\n").as_bytes())
            .with_context(cannot)?;
    }
    let out = child.wait_with_output().with_context(cannot)?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() {
        bail!("{} failed: {}", p.mosquitto_passwd.display(), text.trim());
    }
    Ok(text)
}

/// Writes `text` to `path` through a temp file in the same directory and a rename, so the broker
/// never reads half a file.
fn replace_file(path: &Path, text: &str) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().context("a file name")?.to_string_lossy();
    let tmp = dir.join(format!(".{name}.otmetka-tmp"));
    let mode = std::fs::metadata(path)
        .map(|m| m.permissions().mode())
        .unwrap_or(0o644);
    {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        f.write_all(text.as_bytes())
            .and_then(|_| f.sync_all())
            .with_context(|| format!("cannot write {}", tmp.display()))?;
    }
    std::fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(())
}

fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Checks that `path` can be written (it is created empty, mode 0600, when missing), before
/// anything else is changed.
fn check_writable(path: &Path, what: &str) -> Result<()> {
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)
        .map(drop)
        .with_context(|| format!("cannot write the {what} {}", path.display()))
}

/// Checks that [`replace_file`] can replace `path` (it writes a temp file beside it).
fn check_replaceable(path: &Path, what: &str) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let probe = dir.join(".otmetka-write-probe");
    std::fs::write(&probe, b"")
        .and_then(|_| std::fs::remove_file(&probe))
        .with_context(|| {
            format!(
                "cannot replace the {what} {}: its directory {} is not writable",
                path.display(),
                dir.display()
            )
        })
}

/// Writes a new site secret into `path`: 32 random bytes from the operating system's
/// generator, as 64 hex digits and a newline, mode 0600. A secret is never overwritten: the card
/// hashes of every roster and kiosk of the site are made with it (rotating it means reading every
/// card again, docs/security.md).
pub fn new_site_secret(path: &Path) -> Result<()> {
    if path.exists() {
        bail!(
            "{} already exists: a site secret is never overwritten (every card of the site is \
             hashed with it; see docs/security.md before rotating it)",
            path.display()
        );
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let text = format!("{}\n", generate_password());
    // The same check the journal and the kiosks apply when they read it.
    otmetka_core::cards::SiteSecret::from_file_bytes(text.as_bytes())
        .map_err(|e| anyhow::anyhow!("a generated secret was refused: {e}"))?;
    write_new(path, text.as_bytes(), 0o600)
}

/// `provision-kiosk`: issues a new password for the kiosk, records it, adds it to the broker and
/// writes the bundle into `out` (which must not exist).
pub fn provision(
    cfg: &JournalConfig,
    site: &str,
    kiosk: &str,
    out: &Path,
    now: DateTime<Utc>,
) -> Result<Provisioned> {
    let (site, kiosk) = parse_ids(site, kiosk)?;
    let p = provisioning(cfg)?;
    let site_cfg = site_config(cfg, &site)?;
    let time_zone = site_cfg.time_zone.as_deref().with_context(|| {
        format!("site {site} has no time_zone in the journal config (e.g. time_zone = \"Europe/Moscow\")")
    })?;
    let ca = p.ca_file.as_ref().or(cfg.ca_file.as_ref()).context(
        "no CA certificate for the kiosks: set provisioning.ca_file (or the journal's ca_file)",
    )?;
    let ca_pem = std::fs::read(ca)
        .with_context(|| format!("cannot read the CA certificate {}", ca.display()))?;
    // The site's first kiosk: no secret yet, so provisioning makes it (never a short one typed
    // by hand).
    if !site_cfg.site_secret_file.exists() {
        new_site_secret(&site_cfg.site_secret_file)?;
        tracing::info!(
            site = %site,
            "generated the site secret {} (32 random bytes): keep it, and back it up",
            site_cfg.site_secret_file.display()
        );
    }
    let secret = std::fs::read(&site_cfg.site_secret_file).with_context(|| {
        format!(
            "cannot read the site secret {}",
            site_cfg.site_secret_file.display()
        )
    })?;
    let catalogue = std::fs::read(&cfg.catalogue)
        .with_context(|| format!("cannot read the catalogue {}", cfg.catalogue.display()))?;
    if out.exists() {
        bail!(
            "{} already exists: a bundle is never overwritten (remove it, or choose another --out)",
            out.display()
        );
    }
    check_writable(&p.broker_password_file, "broker password file")?;
    let acl = std::fs::read_to_string(&p.broker_acl_file).with_context(|| {
        format!(
            "cannot read the broker ACL {} (start from config/mosquitto/acl)",
            p.broker_acl_file.display()
        )
    })?;
    check_replaceable(&p.broker_acl_file, "broker ACL")?;
    let mut store = store::open(&cfg.database()?)?;
    let reissued = store
        .kiosks()?
        .iter()
        .any(|k| k.site == site.as_str() && k.kiosk == kiosk.as_str());
    let broker = p.kiosk_broker.clone().unwrap_or_else(|| cfg.broker.clone());
    let username = topics::kiosk_username(&site, &kiosk);
    let password = generate_password();

    // The bundle first: a failure here changes nothing on the broker.
    std::fs::create_dir_all(out.parent().unwrap_or(Path::new(".")))
        .with_context(|| format!("cannot create the parent of {}", out.display()))?;
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(out)
        .with_context(|| format!("cannot create {}", out.display()))?;
    let written = (|| -> Result<()> {
        let issued = otmetka_core::timestamp::to_text(now);
        write_new(
            &out.join(bundle::CONFIG),
            kiosk_toml(&site, &kiosk, time_zone, &broker, &issued).as_bytes(),
            0o644,
        )?;
        write_new(
            &out.join(bundle::PASSWORD),
            format!("{password}\n").as_bytes(),
            0o600,
        )?;
        write_new(&out.join(bundle::CA), &ca_pem, 0o644)?;
        write_new(&out.join(bundle::SITE_SECRET), &secret, 0o600)?;
        write_new(&out.join(bundle::CATALOGUE), &catalogue, 0o644)?;
        mosquitto_passwd(
            p,
            &[p.broker_password_file.as_os_str(), username.as_ref()],
            Some(&password),
        )?;
        let new_acl = acl_with_kiosk(&acl, &site, &kiosk);
        if new_acl != acl {
            replace_file(&p.broker_acl_file, &new_acl)?;
        }
        store.issue_kiosk(site.as_str(), kiosk.as_str(), now)?;
        Ok(())
    })();
    if let Err(e) = written {
        // Leave no half bundle behind: the operator runs the command again.
        let _ = std::fs::remove_dir_all(out);
        return Err(e);
    }
    Ok(Provisioned {
        username,
        bundle: out.to_path_buf(),
        reissued,
        reload: reload_broker(p.broker_pid_file.as_deref()),
    })
}

/// `revoke-kiosk`: the journal refuses the kiosk's messages from now on, its credential and ACL
/// block leave the broker, and the broker reloads.
pub fn revoke(cfg: &JournalConfig, site: &str, kiosk: &str, now: DateTime<Utc>) -> Result<Revoked> {
    let (site, kiosk) = parse_ids(site, kiosk)?;
    let p = provisioning(cfg)?;
    let username = topics::kiosk_username(&site, &kiosk);
    // The journal's own refusal first: it holds even if the broker steps below fail.
    let mut store = store::open(&cfg.database()?)?;
    let record = store.revoke_kiosk(site.as_str(), kiosk.as_str(), now)?;
    let passwd = std::fs::read_to_string(&p.broker_password_file).with_context(|| {
        format!(
            "cannot read the broker password file {}",
            p.broker_password_file.display()
        )
    })?;
    let prefix = format!("{username}:");
    if passwd.lines().any(|l| l.starts_with(&prefix)) {
        mosquitto_passwd(
            p,
            &[
                "-D".as_ref(),
                p.broker_password_file.as_os_str(),
                username.as_ref(),
            ],
            None,
        )?;
        let after = std::fs::read_to_string(&p.broker_password_file).unwrap_or_default();
        if after.lines().any(|l| l.starts_with(&prefix)) {
            bail!(
                "{username} is still in {} after mosquitto_passwd -D",
                p.broker_password_file.display()
            );
        }
    }
    let acl = std::fs::read_to_string(&p.broker_acl_file)
        .with_context(|| format!("cannot read the broker ACL {}", p.broker_acl_file.display()))?;
    let new_acl = acl_without_kiosk(&acl, &site, &kiosk);
    if new_acl != acl {
        replace_file(&p.broker_acl_file, &new_acl)?;
    }
    Ok(Revoked {
        username,
        record,
        reload: reload_broker(p.broker_pid_file.as_deref()),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn id(s: &str) -> Id {
        Id::new(s).unwrap()
    }

    #[test]
    fn a_site_secret_is_32_random_bytes_0600_and_never_overwritten() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("etc/a.secret"), dir.path().join("b.secret"));
        new_site_secret(&a).unwrap();
        new_site_secret(&b).unwrap();
        let text = std::fs::read_to_string(&a).unwrap();
        assert_eq!(text.trim().len(), 64, "{text}");
        assert!(text.trim().bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(text, std::fs::read_to_string(&b).unwrap());
        let mode = std::fs::metadata(&a).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let e = new_site_secret(&a).unwrap_err().to_string();
        assert!(e.contains("never overwritten"), "{e}");
        assert_eq!(std::fs::read_to_string(&a).unwrap(), text);
    }

    #[test]
    fn passwords_are_long_hex_and_differ() {
        let (a, b) = (generate_password(), generate_password());
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn the_acl_gets_one_block_per_kiosk_and_loses_exactly_it() {
        let shipped = include_str!("../../config/mosquitto/acl");
        let one = acl_with_kiosk(shipped, &id("s1"), &id("k1"));
        assert!(one.starts_with(shipped));
        assert!(one.contains("\nuser s1/kiosk/k1\ntopic read otmetka/v1/s1/roster\n"));
        assert_eq!(
            acl_with_kiosk(&one, &id("s1"), &id("k1")),
            one,
            "idempotent"
        );
        let two = acl_with_kiosk(&one, &id("s1"), &id("k2"));
        let back = acl_without_kiosk(&two, &id("s1"), &id("k2"));
        assert_eq!(back, one);
        assert_eq!(acl_without_kiosk(&back, &id("s1"), &id("k1")), shipped);
        // Removing k1 keeps k2's block whole.
        let only_k2 = acl_without_kiosk(&two, &id("s1"), &id("k1"));
        assert!(only_k2.contains("user s1/kiosk/k2\ntopic read otmetka/v1/s1/roster\n"));
        assert!(!only_k2.contains("user s1/kiosk/k1\n"));
        assert!(only_k2.contains("user journal\ntopic read otmetka/v1/+/kiosk/+/events"));
    }

    #[test]
    fn bad_ids_are_named() {
        let e = parse_ids("Site 1", "k1").unwrap_err().to_string();
        assert!(e.contains("bad site id \"Site 1\""), "{e}");
        let e = parse_ids("s1", "k/1").unwrap_err().to_string();
        assert!(e.contains("bad kiosk id"), "{e}");
    }

    #[test]
    fn the_bundle_config_is_toml_with_relative_files() {
        let t = kiosk_toml(&id("s1"), &id("k1"), "Europe/Moscow", "b:8883", "now");
        let v: toml::Value = toml::from_str(&t).unwrap();
        assert_eq!(v["feed"]["username"].as_str(), Some("s1/kiosk/k1"));
        assert_eq!(v["feed"]["password_file"].as_str(), Some(bundle::PASSWORD));
        assert_eq!(v["site_secret_file"].as_str(), Some(bundle::SITE_SECRET));
    }
}
