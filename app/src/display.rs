//! Screen blanking through the backlight in sysfs (the Pi issue, point 5): a kiosk in a hall
//! is lit all day for the few minutes someone uses it, and a panel left on wears and glares at
//! night. After `blank_after_s` on the idle screen with no session open and nobody at it, the
//! backlight goes off; a card tap or a touch brings it back. The touch that wakes the screen
//! does only that (a person touching a dark screen has not chosen a button yet); a card tap is
//! recorded as always and its result shown on the lit screen.
//!
//! The backlight is a directory of `/sys/class/backlight` (the Pi's DSI panels:
//! `10-0045`, `rpi_backlight`): `bl_power` (0 on, 4 powered down) where it has one, else
//! `brightness` (0 off, the level it had when the kiosk started on). The directory is
//! configurable (`[display] backlight_dir`), so the tests run the real code against a
//! directory that looks like sysfs; the packaged udev rule lets the kiosk's user write it.

use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// `[display]` of the kiosk's config.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisplayConfig {
    /// The backlight's sysfs directory; absent: the first under `/sys/class/backlight`, if any.
    #[serde(default)]
    pub backlight_dir: Option<PathBuf>,
    /// Seconds on the idle screen before the backlight goes off; 0: never.
    #[serde(default = "default_blank_after")]
    pub blank_after_s: u64,
}

fn default_blank_after() -> u64 {
    600
}

impl Default for DisplayConfig {
    fn default() -> DisplayConfig {
        DisplayConfig {
            backlight_dir: None,
            blank_after_s: default_blank_after(),
        }
    }
}

/// Where the kernel lists backlights.
pub const SYSFS_BACKLIGHTS: &str = "/sys/class/backlight";

/// The first backlight under `root` (sorted by name), if any.
pub fn first_backlight(root: &Path) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("brightness").exists())
        .collect();
    dirs.sort();
    dirs.into_iter().next()
}

/// One backlight in sysfs.
#[derive(Debug)]
pub struct Backlight {
    dir: PathBuf,
    /// The brightness to come back to.
    on_level: u32,
    has_power: bool,
}

impl Backlight {
    /// Opens the backlight in `dir`: its `brightness` now is the level it comes back to (the
    /// maximum if it was off).
    pub fn open(dir: &Path) -> std::io::Result<Backlight> {
        let read = |name: &str| -> std::io::Result<u32> {
            let text = std::fs::read_to_string(dir.join(name))?;
            text.trim().parse().map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{name} is not a number: {:?}", text.trim()),
                )
            })
        };
        let max = read("max_brightness")?;
        let now = read("brightness")?;
        Ok(Backlight {
            dir: dir.to_path_buf(),
            on_level: if now == 0 { max } else { now.min(max) },
            has_power: dir.join("bl_power").exists(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Lights the screen, or powers the backlight down.
    pub fn set(&self, on: bool) -> std::io::Result<()> {
        if self.has_power {
            std::fs::write(self.dir.join("bl_power"), if on { "0\n" } else { "4\n" })?;
            if !on {
                return Ok(());
            }
        } else if !on {
            return std::fs::write(self.dir.join("brightness"), "0\n");
        }
        std::fs::write(self.dir.join("brightness"), format!("{}\n", self.on_level))
    }
}

/// Decides when the backlight goes off and on.
#[derive(Debug)]
pub struct Blanker {
    backlight: Option<Backlight>,
    after: Option<Duration>,
    last: Instant,
    blanked: bool,
}

impl Default for Blanker {
    /// Never blanks (no backlight).
    fn default() -> Blanker {
        Blanker {
            backlight: None,
            after: None,
            last: Instant::now(),
            blanked: false,
        }
    }
}

impl Blanker {
    /// A blanker of `backlight` after `after` of quiet (`None`: never).
    pub fn new(backlight: Backlight, after: Option<Duration>, now: Instant) -> Blanker {
        Blanker {
            backlight: Some(backlight),
            after,
            last: now,
            blanked: false,
        }
    }

    /// The one the config asks for: its backlight, or the first in sysfs; none where there is
    /// none (a desktop) or it cannot be read (said in the log).
    pub fn of_config(cfg: &DisplayConfig, now: Instant) -> Blanker {
        if cfg.blank_after_s == 0 {
            return Blanker::default();
        }
        let Some(dir) = cfg
            .backlight_dir
            .clone()
            .or_else(|| first_backlight(Path::new(SYSFS_BACKLIGHTS)))
        else {
            tracing::info!("no backlight in {SYSFS_BACKLIGHTS}: the screen is not blanked");
            return Blanker::default();
        };
        match Backlight::open(&dir) {
            Ok(b) => {
                tracing::info!(backlight = %dir.display(), after_s = cfg.blank_after_s, "the screen blanks when idle");
                Blanker::new(b, Some(Duration::from_secs(cfg.blank_after_s)), now)
            }
            Err(e) => {
                tracing::warn!(
                    "the backlight {} cannot be read ({e}): the screen is not blanked",
                    dir.display()
                );
                Blanker::default()
            }
        }
    }

    pub fn blanked(&self) -> bool {
        self.blanked
    }

    /// Someone is at the kiosk (a touch, a card). Returns whether the screen was dark: the
    /// touch that woke it is not a press.
    pub fn activity(&mut self, now: Instant) -> bool {
        self.last = now;
        if !self.blanked {
            return false;
        }
        self.blanked = false;
        self.write(true);
        true
    }

    /// On the screens' clock: blanks once quiet for long enough, where `may_blank` (the idle
    /// screen, no session open). A screen that may not blank counts as in use.
    pub fn tick(&mut self, now: Instant, may_blank: bool) {
        let Some(after) = self.after else { return };
        if !may_blank {
            self.last = self.last.max(now);
            return;
        }
        if !self.blanked && now.duration_since(self.last) >= after {
            self.blanked = true;
            self.write(false);
        }
    }

    fn write(&self, on: bool) {
        if let Some(b) = &self.backlight {
            match b.set(on) {
                Ok(()) => tracing::info!(on, "backlight"),
                Err(e) => tracing::warn!("cannot switch the backlight {} ({e})", b.dir().display()),
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn sysfs(bl_power: bool, brightness: u32) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        let d = root.path().join("10-0045");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("max_brightness"), "31\n").unwrap();
        std::fs::write(d.join("brightness"), format!("{brightness}\n")).unwrap();
        if bl_power {
            std::fs::write(d.join("bl_power"), "0\n").unwrap();
        }
        root
    }

    fn read(root: &Path, name: &str) -> String {
        std::fs::read_to_string(root.join("10-0045").join(name))
            .unwrap()
            .trim()
            .to_string()
    }

    #[test]
    fn the_backlight_powers_down_and_comes_back_to_its_level() {
        let root = sysfs(true, 20);
        let dir = first_backlight(root.path()).unwrap();
        assert!(dir.ends_with("10-0045"));
        let b = Backlight::open(&dir).unwrap();
        b.set(false).unwrap();
        assert_eq!(read(root.path(), "bl_power"), "4");
        assert_eq!(
            read(root.path(), "brightness"),
            "20",
            "powered down, level kept"
        );
        b.set(true).unwrap();
        assert_eq!(read(root.path(), "bl_power"), "0");
        assert_eq!(read(root.path(), "brightness"), "20");
        // No bl_power: brightness 0, then back; a panel found off comes back at full.
        let root = sysfs(false, 0);
        let b = Backlight::open(&root.path().join("10-0045")).unwrap();
        b.set(false).unwrap();
        assert_eq!(read(root.path(), "brightness"), "0");
        b.set(true).unwrap();
        assert_eq!(read(root.path(), "brightness"), "31");
        // Not a number: refused with its name.
        std::fs::write(root.path().join("10-0045/max_brightness"), "lots\n").unwrap();
        let e = Backlight::open(&root.path().join("10-0045")).unwrap_err();
        assert!(e.to_string().contains("max_brightness"), "{e}");
    }

    #[test]
    fn the_idle_screen_blanks_after_its_time_and_the_waking_touch_is_not_a_press() {
        let root = sysfs(true, 31);
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let cfg = DisplayConfig {
            backlight_dir: Some(root.path().join("10-0045")),
            blank_after_s: 60,
        };
        let mut b = Blanker::of_config(&cfg, t0);
        b.tick(t0 + s(59), true);
        assert!(!b.blanked() && read(root.path(), "bl_power") == "0");
        b.tick(t0 + s(60), true);
        assert!(b.blanked());
        assert_eq!(read(root.path(), "bl_power"), "4");
        assert!(b.activity(t0 + s(70)), "the touch only wakes the screen");
        assert_eq!(read(root.path(), "bl_power"), "0");
        assert!(!b.activity(t0 + s(71)), "the next one is a press");
        // A session open for an hour: never dark, and its end starts the time again.
        b.tick(t0 + s(3_700), false);
        assert!(!b.blanked());
        b.tick(t0 + s(3_759), true);
        assert!(!b.blanked(), "59 s after the session, not 60");
        b.tick(t0 + s(3_760), true);
        assert!(b.blanked());
        // Never, and no backlight: nothing is written.
        let never = Blanker::of_config(
            &DisplayConfig {
                blank_after_s: 0,
                ..cfg.clone()
            },
            t0,
        );
        assert!(never.after.is_none() && never.backlight.is_none());
        let missing = Blanker::of_config(
            &DisplayConfig {
                backlight_dir: Some(root.path().join("absent")),
                blank_after_s: 60,
            },
            t0,
        );
        assert!(missing.backlight.is_none());
    }
}
