//! The DS3231 real-time clock over I2C (Maxim DS3231 datasheet rev. 10, "Timekeeping
//! Registers", figure 1 and the status register).
//!
//! A Raspberry Pi before the Pi 5 has no battery-backed clock; the kiosk reads this one at
//! boot and records whether its time can be trusted. Registers 0x00..0x06 hold seconds,
//! minutes, hours, day of week, date, month (bit 7 = century) and year in BCD; hours bit 6
//! selects 12-hour mode (then bit 5 is PM). Status register 0x0F bit 7 (OSF) is set when the
//! oscillator stopped (battery flat or first power-up): the time is then not to be trusted.
//! We always write 24-hour mode, UTC, years 2000..=2199.

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use embedded_hal::i2c::I2c;

/// The DS3231's fixed I2C address.
pub const ADDRESS: u8 = 0x68;

const REG_SECONDS: u8 = 0x00;
const REG_STATUS: u8 = 0x0F;
const OSF: u8 = 1 << 7;
const HOUR_12: u8 = 1 << 6;
const HOUR_PM: u8 = 1 << 5;
const CENTURY: u8 = 1 << 7;

/// Why a clock operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error<E> {
    /// The I2C bus failed (no device answers at 0x68, wiring).
    #[error("I2C error: {0:?}")]
    I2c(E),
    /// A register holds a byte that is not valid BCD for its field.
    #[error("register {reg:#04x} holds {value:#04x}, not a valid BCD value")]
    InvalidBcd {
        /// Register address.
        reg: u8,
        /// Its content.
        value: u8,
    },
    /// The registers hold a date that does not exist (31 February).
    #[error("the clock holds an impossible date")]
    InvalidDate,
    /// The year cannot be stored (the DS3231 counts 2000..=2199).
    #[error("year {0} is outside 2000..=2199")]
    YearOutOfRange(i32),
}

/// Decodes a BCD byte whose value must lie in `min..=max`.
pub fn from_bcd(value: u8, min: u8, max: u8) -> Option<u8> {
    let (hi, lo) = (value >> 4, value & 0x0F);
    if hi > 9 || lo > 9 {
        return None;
    }
    let v = hi * 10 + lo;
    (min..=max).contains(&v).then_some(v)
}

/// Encodes 0..=99 as BCD.
pub fn to_bcd(v: u8) -> u8 {
    ((v / 10) << 4) | (v % 10)
}

/// Decodes the seven time registers (pure: the register bytes in, a time out).
pub fn decode_time<E>(r: &[u8; 7]) -> Result<NaiveDateTime, Error<E>> {
    let bad = |i: usize| Error::InvalidBcd {
        reg: i as u8,
        value: r[i],
    };
    let sec = from_bcd(r[0] & 0x7F, 0, 59).ok_or_else(|| bad(0))?;
    let min = from_bcd(r[1] & 0x7F, 0, 59).ok_or_else(|| bad(1))?;
    let hour = if r[2] & HOUR_12 != 0 {
        let h12 = from_bcd(r[2] & 0x1F, 1, 12).ok_or_else(|| bad(2))?;
        let pm = r[2] & HOUR_PM != 0;
        match (h12, pm) {
            (12, false) => 0,
            (12, true) => 12,
            (h, false) => h,
            (h, true) => h + 12,
        }
    } else {
        from_bcd(r[2] & 0x3F, 0, 23).ok_or_else(|| bad(2))?
    };
    from_bcd(r[3] & 0x07, 1, 7).ok_or_else(|| bad(3))?;
    let day = from_bcd(r[4] & 0x3F, 1, 31).ok_or_else(|| bad(4))?;
    let month = from_bcd(r[5] & 0x1F, 1, 12).ok_or_else(|| bad(5))?;
    let year = from_bcd(r[6], 0, 99).ok_or_else(|| bad(6))?;
    let year = 2000 + i32::from(year) + if r[5] & CENTURY != 0 { 100 } else { 0 };
    NaiveDate::from_ymd_opt(year, u32::from(month), u32::from(day))
        .and_then(|d| d.and_hms_opt(u32::from(hour), u32::from(min), u32::from(sec)))
        .ok_or(Error::InvalidDate)
}

/// Encodes a time into the seven registers, 24-hour mode.
pub fn encode_time<E>(t: &NaiveDateTime) -> Result<[u8; 7], Error<E>> {
    let year = t.year();
    if !(2000..=2199).contains(&year) {
        return Err(Error::YearOutOfRange(year));
    }
    let y = (year - 2000) as u32;
    let century = if y >= 100 { CENTURY } else { 0 };
    Ok([
        to_bcd(t.second() as u8),
        to_bcd(t.minute() as u8),
        to_bcd(t.hour() as u8),
        // Day of week 1..=7, Monday = 1 (the DS3231 only counts; the meaning is ours).
        t.weekday().number_from_monday() as u8,
        to_bcd(t.day() as u8),
        to_bcd(t.month() as u8) | century,
        to_bcd((y % 100) as u8),
    ])
}

/// The DS3231 driver.
#[derive(Debug)]
pub struct Ds3231<I2C> {
    i2c: I2C,
}

impl<I2C: I2c> Ds3231<I2C> {
    /// A driver on a bus.
    pub fn new(i2c: I2C) -> Self {
        Ds3231 { i2c }
    }

    /// The bus back.
    pub fn release(self) -> I2C {
        self.i2c
    }

    /// Reads the time (UTC, as we set it). Reads all seven registers in one transaction: the
    /// chip latches them at the START so they cannot roll over mid-read.
    pub fn datetime(&mut self) -> Result<NaiveDateTime, Error<I2C::Error>> {
        let mut r = [0u8; 7];
        self.i2c
            .write_read(ADDRESS, &[REG_SECONDS], &mut r)
            .map_err(Error::I2c)?;
        decode_time(&r)
    }

    /// Sets the time (24-hour mode) and clears the oscillator-stop flag.
    pub fn set_datetime(&mut self, t: &NaiveDateTime) -> Result<(), Error<I2C::Error>> {
        let regs = encode_time(t)?;
        let mut buf = [0u8; 8];
        buf[0] = REG_SECONDS;
        buf[1..].copy_from_slice(&regs);
        self.i2c.write(ADDRESS, &buf).map_err(Error::I2c)?;
        let status = self.status()?;
        self.i2c
            .write(ADDRESS, &[REG_STATUS, status & !OSF])
            .map_err(Error::I2c)
    }

    fn status(&mut self) -> Result<u8, Error<I2C::Error>> {
        let mut s = [0u8];
        self.i2c
            .write_read(ADDRESS, &[REG_STATUS], &mut s)
            .map_err(Error::I2c)?;
        Ok(s[0])
    }

    /// Whether the oscillator stopped since the time was last set (OSF): the time is not to
    /// be trusted.
    pub fn oscillator_stopped(&mut self) -> Result<bool, Error<I2C::Error>> {
        Ok(self.status()? & OSF != 0)
    }
}

impl<E: core::fmt::Debug> From<Error<E>> for crate::Error {
    fn from(e: Error<E>) -> Self {
        crate::Error::Rtc(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    type E = Error<()>;

    #[test]
    fn twelve_hour_mode_is_read() {
        // 11:59:58 PM on 31 Dec 2099 (century bit clear), 12-hour mode.
        let r = [0x58, 0x59, HOUR_12 | HOUR_PM | 0x11, 4, 0x31, 0x12, 0x99];
        let t = decode_time::<()>(&r).unwrap();
        assert_eq!(t.to_string(), "2099-12-31 23:59:58");
        // 12 AM is midnight.
        let r = [0, 0, HOUR_12 | 0x12, 1, 0x01, 0x01 | CENTURY, 0x00];
        assert_eq!(
            decode_time::<()>(&r).unwrap().to_string(),
            "2100-01-01 00:00:00"
        );
    }

    #[test]
    fn invalid_bcd_and_impossible_dates_are_typed_errors() {
        let ok = [0x00, 0x00, 0x12, 1, 0x15, 0x06, 0x26];
        assert!(decode_time::<()>(&ok).is_ok());
        let mut r = ok;
        r[1] = 0x5A;
        assert_eq!(
            decode_time::<()>(&r),
            Err(E::InvalidBcd {
                reg: 1,
                value: 0x5A
            })
        );
        let mut r = ok;
        r[5] = 0x13;
        assert_eq!(
            decode_time::<()>(&r),
            Err(E::InvalidBcd {
                reg: 5,
                value: 0x13
            })
        );
        let mut r = ok;
        r[4] = 0x31;
        r[5] = 0x02;
        assert_eq!(decode_time::<()>(&r), Err(E::InvalidDate));
        let t = NaiveDate::from_ymd_opt(1999, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        assert_eq!(encode_time::<()>(&t), Err(E::YearOutOfRange(1999)));
    }

    proptest! {
        #[test]
        fn any_register_bytes_decode_or_fail_typed(r in any::<[u8; 7]>()) {
            let _ = decode_time::<()>(&r);
        }

        #[test]
        fn encode_then_decode_is_identity(secs in 946_684_800i64..7_258_118_399) {
            let t = chrono::DateTime::from_timestamp(secs, 0).unwrap().naive_utc();
            let r = encode_time::<()>(&t).unwrap();
            prop_assert_eq!(decode_time::<()>(&r).unwrap(), t);
        }
    }
}
