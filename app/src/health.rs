//! The Pi's power, the data partition's free space and the sound device, as the diagnostics
//! screen and `ctl status` show them (the Pi issue, point 4): a weak power supply corrupts SD cards and resets
//! the board, a full card stops check-ins being recorded, and neither says so by itself.
//!
//! - Power: the Raspberry Pi's firmware reports under-voltage through the `rpi_volt` hwmon
//!   device (`/sys/class/hwmon/hwmonN/name` = `rpi_volt`, `in0_lcrit_alarm` = 1 while the
//!   supply is under 4.63 V). The alarm clears when the voltage recovers, so the kiosk also
//!   keeps whether it was seen since the kiosk started: a supply that dips under load is the
//!   usual fault. No such device (not a Pi, or an older kernel): not measured.
//! - Space: `statvfs` of the database's directory; under `low_space_mb` (default 200 MB) is
//!   low. The kiosk goes on recording — SQLite says when a write fails, and the tap is refused
//!   with its message — but the technician sees it coming.
//!
//! The root of the hwmon tree is configurable (`[health] hwmon_dir`), so the tests run the real
//! code against a directory that looks like the Pi's sysfs.

use serde::Deserialize;
use std::path::{Path, PathBuf};

/// `[health]` of the kiosk's config.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthConfig {
    #[serde(default = "default_hwmon")]
    pub hwmon_dir: PathBuf,
    /// Free space under this (MB) is shown as low.
    #[serde(default = "default_low_space")]
    pub low_space_mb: u64,
}

fn default_hwmon() -> PathBuf {
    PathBuf::from("/sys/class/hwmon")
}

fn default_low_space() -> u64 {
    200
}

impl Default for HealthConfig {
    fn default() -> HealthConfig {
        HealthConfig {
            hwmon_dir: default_hwmon(),
            low_space_mb: default_low_space(),
        }
    }
}

/// What the power supply did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Power {
    /// No under-voltage sensor (not a Pi).
    #[default]
    NotMeasured,
    Fine,
    /// Under-voltage now.
    Low,
    /// Fine now, but under-voltage was seen since the kiosk started.
    WasLow,
}

/// The data partition's space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct Space {
    pub free_mb: u64,
    pub total_mb: u64,
    pub low: bool,
}

/// The kiosk's health as last read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Health {
    pub power: Power,
    /// `None`: the directory could not be asked.
    pub space: Option<Space>,
    /// What the sound device did last (the Pi issue, point 7).
    pub sound: crate::sound::SoundState,
}

/// Reads the health; keeps whether under-voltage was seen.
#[derive(Debug)]
pub struct Probe {
    alarm: Option<PathBuf>,
    /// Where to look for the sensor again while it is missing (it may register late).
    hwmon_dir: PathBuf,
    reads: u64,
    data_dir: PathBuf,
    low_space_mb: u64,
    seen_low: bool,
    sound: Option<crate::sound::SoundWatch>,
}

/// The `in0_lcrit_alarm` of the `rpi_volt` device under `hwmon_dir`, if there is one.
fn rpi_volt_alarm(hwmon_dir: &Path) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(hwmon_dir)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    dirs.sort();
    dirs.into_iter().find_map(|d| {
        let name = std::fs::read_to_string(d.join("name")).ok()?;
        let alarm = d.join("in0_lcrit_alarm");
        (name.trim() == "rpi_volt" && alarm.exists()).then_some(alarm)
    })
}

impl Probe {
    /// A probe of the sensors under `cfg.hwmon_dir` and the space of `data_dir`.
    pub fn new(cfg: &HealthConfig, data_dir: &Path) -> Probe {
        let alarm = rpi_volt_alarm(&cfg.hwmon_dir);
        match &alarm {
            Some(a) => tracing::info!(alarm = %a.display(), "under-voltage is watched"),
            None => tracing::info!(
                "no rpi_volt sensor under {}: power is not measured",
                cfg.hwmon_dir.display()
            ),
        }
        Probe {
            alarm,
            hwmon_dir: cfg.hwmon_dir.clone(),
            reads: 0,
            data_dir: data_dir.to_path_buf(),
            low_space_mb: cfg.low_space_mb,
            seen_low: false,
            sound: None,
        }
    }

    /// Reads the sound player's state too.
    pub fn with_sound(mut self, sound: crate::sound::SoundWatch) -> Probe {
        self.sound = Some(sound);
        self
    }

    /// Reads the sensor and the space now.
    pub fn read(&mut self) -> Health {
        self.reads += 1;
        // A sensor missing at start is looked for again now and then (a driver loaded late).
        if self.alarm.is_none() && self.reads % 64 == 0 {
            self.alarm = rpi_volt_alarm(&self.hwmon_dir);
        }
        let power = match &self.alarm {
            None => Power::NotMeasured,
            Some(a) => match std::fs::read_to_string(a).map(|s| s.trim() == "1") {
                Ok(true) => {
                    if !self.seen_low {
                        tracing::error!(
                            "under-voltage: the power supply is too weak (the SD card is at risk)"
                        );
                    }
                    self.seen_low = true;
                    Power::Low
                }
                Ok(false) if self.seen_low => Power::WasLow,
                Ok(false) => Power::Fine,
                // A read that fails once does not forget a dip.
                Err(_) if self.seen_low => Power::WasLow,
                Err(_) => Power::NotMeasured,
            },
        };
        let space = rustix::fs::statvfs(&self.data_dir).ok().map(|s| {
            let mb = |blocks: u64| blocks.saturating_mul(s.f_frsize) / (1024 * 1024);
            let free_mb = mb(s.f_bavail);
            Space {
                free_mb,
                total_mb: mb(s.f_blocks),
                low: free_mb < self.low_space_mb,
            }
        });
        Health {
            power,
            space,
            sound: self
                .sound
                .as_ref()
                .map(crate::sound::SoundWatch::get)
                .unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn under_voltage_is_read_from_the_rpi_volt_sensor_and_remembered_once_it_clears() {
        let sys = tempfile::tempdir().unwrap();
        let thermal = sys.path().join("hwmon0");
        std::fs::create_dir_all(&thermal).unwrap();
        std::fs::write(thermal.join("name"), "cpu_thermal\n").unwrap();
        std::fs::write(thermal.join("in0_lcrit_alarm"), "1\n").unwrap();
        let volt = sys.path().join("hwmon1");
        std::fs::create_dir_all(&volt).unwrap();
        std::fs::write(volt.join("name"), "rpi_volt\n").unwrap();
        std::fs::write(volt.join("in0_lcrit_alarm"), "0\n").unwrap();
        let cfg = HealthConfig {
            hwmon_dir: sys.path().to_path_buf(),
            low_space_mb: 1,
        };
        let mut probe = Probe::new(&cfg, sys.path());
        assert_eq!(
            probe.read().power,
            Power::Fine,
            "the other device's alarm is not ours"
        );
        std::fs::write(volt.join("in0_lcrit_alarm"), "1\n").unwrap();
        assert_eq!(probe.read().power, Power::Low);
        std::fs::write(volt.join("in0_lcrit_alarm"), "0\n").unwrap();
        assert_eq!(probe.read().power, Power::WasLow, "a dip is remembered");
        // Not a Pi: nothing to read.
        let none = tempfile::tempdir().unwrap();
        let mut probe = Probe::new(
            &HealthConfig {
                hwmon_dir: none.path().join("absent"),
                low_space_mb: 1,
            },
            none.path(),
        );
        assert_eq!(probe.read().power, Power::NotMeasured);
    }

    #[test]
    fn free_space_under_the_threshold_is_low() {
        let dir = tempfile::tempdir().unwrap();
        let space = |low_space_mb| {
            Probe::new(
                &HealthConfig {
                    hwmon_dir: dir.path().join("none"),
                    low_space_mb,
                },
                dir.path(),
            )
            .read()
            .space
            .unwrap()
        };
        let s = space(1);
        assert!(s.total_mb > 0 && s.free_mb <= s.total_mb, "{s:?}");
        assert!(!s.low);
        assert!(space(u64::MAX).low);
    }
}
