//! Card keys: one canonical key per physical card, whatever the reader sends.
//!
//! Readers report a card in different forms:
//! - the whole UID (MFRC522/PN532 over SPI: 4, 7 or 10 bytes; EM4100 over UART: 5 bytes);
//! - a 10-digit decimal typed by a USB keyboard-wedge reader for a 4-byte UID, built from the
//!   four bytes either most-significant-first or least-significant-first, depending on the model;
//! - truncated forms: Wiegand-26 carries 24 bits, and many 125 kHz readers print only the low
//!   24 bits of an EM4100 id as "facility,number" or as an 8-digit decimal.
//!
//! **The rule.** A [`CardKey`] holds a whole UID. For a 4-byte UID the key is *order-free*: the
//! four bytes are stored in whichever of the two orders is smaller, so that the UID read over SPI
//! and either decimal a USB reader types give the same key. A truncated read ([`CardRead::Truncated`])
//! matches a whole key when its bits equal the low bits of the key's 32-bit number (the first four
//! bytes of a 4-byte UID in either order, or the last four bytes of a 5-byte EM4100 id).
//! [`CardKey::lookup_forms`] lists every form a key can be met in, so that a roster can index
//! them (hashed) and report two cards that share one form as a collision.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Why a reader's output is not a card.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CardError {
    #[error("a card UID has 4, 5, 7 or 10 bytes, not {0}")]
    BadLength(usize),
    #[error("not a hexadecimal UID: {0:?}")]
    BadHex(String),
    #[error("not a decimal card number of at most 10 digits: {0:?}")]
    BadDecimal(String),
    #[error("a truncated read has 1 to 32 bits, not {0}")]
    BadBits(u8),
}

/// The canonical key of a whole card UID.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CardKey {
    len: u8,
    bytes: [u8; 10],
}

impl CardKey {
    /// A key from a whole UID as a reader delivers it (cascade order for ISO 14443).
    pub fn from_uid(uid: &[u8]) -> Result<Self, CardError> {
        if !matches!(uid.len(), 4 | 5 | 7 | 10) {
            return Err(CardError::BadLength(uid.len()));
        }
        let mut bytes = [0u8; 10];
        bytes[..uid.len()].copy_from_slice(uid);
        if uid.len() == 4 {
            let mut rev = [0u8; 4];
            rev.copy_from_slice(uid);
            rev.reverse();
            if rev[..] < uid[..] {
                bytes[..4].copy_from_slice(&rev);
            }
        }
        Ok(CardKey {
            len: uid.len() as u8,
            bytes,
        })
    }

    /// A key from the 32-bit number a USB reader types (either byte order gives the same key).
    pub fn from_u32(number: u32) -> Self {
        // from_uid cannot fail on four bytes.
        Self::from_uid(&number.to_be_bytes()).unwrap_or(CardKey {
            len: 4,
            bytes: [0; 10],
        })
    }

    /// A key from the decimal string a USB keyboard-wedge reader types (up to 10 digits).
    pub fn from_decimal(text: &str) -> Result<Self, CardError> {
        let t = text.trim();
        if t.is_empty() || t.len() > 10 || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CardError::BadDecimal(text.to_string()));
        }
        let n: u64 = t
            .parse()
            .map_err(|_| CardError::BadDecimal(text.to_string()))?;
        let n = u32::try_from(n).map_err(|_| CardError::BadDecimal(text.to_string()))?;
        Ok(Self::from_u32(n))
    }

    /// A key from hex text ("04A1B2C3", "04:a1:b2:c3", "04 A1 B2 C3").
    pub fn from_hex(text: &str) -> Result<Self, CardError> {
        let digits: String = text
            .chars()
            .filter(|c| !matches!(c, ':' | ' ' | '-'))
            .collect::<String>();
        if digits.len() % 2 != 0 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(CardError::BadHex(text.to_string()));
        }
        let bytes: Vec<u8> = (0..digits.len())
            .step_by(2)
            .filter_map(|i| u8::from_str_radix(&digits[i..i + 2], 16).ok())
            .collect();
        Self::from_uid(&bytes)
    }

    /// The canonical bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }

    /// UID length in bytes (4, 5, 7 or 10).
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Never true: a key has at least four bytes. Present for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The 32-bit numbers a truncated read of this card is compared against.
    fn numbers(&self) -> Vec<u32> {
        let b = self.as_bytes();
        match b.len() {
            4 => {
                let be = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
                let le = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                if be == le { vec![be] } else { vec![be, le] }
            }
            5 => vec![u32::from_be_bytes([b[1], b[2], b[3], b[4]])],
            _ => Vec::new(),
        }
    }

    /// Every form in which this card can be met: its whole key, and its 24-bit truncations
    /// (Wiegand-26 and printed EM4100 numbers). A roster indexes all of them.
    pub fn lookup_forms(&self) -> Vec<CardForm> {
        let mut forms = vec![CardForm::of(&CardRead::Uid(*self))];
        for n in self.numbers() {
            let form = CardForm::of(&CardRead::Truncated {
                bits: 24,
                value: n & 0x00FF_FFFF,
            });
            if !forms.contains(&form) {
                forms.push(form);
            }
        }
        forms
    }

    /// Whether a truncated read matches this card (the documented rule in the module doc).
    pub fn matches_truncated(&self, bits: u8, value: u32) -> bool {
        let mask = if bits >= 32 {
            u32::MAX
        } else {
            (1u32 << bits) - 1
        };
        self.numbers().iter().any(|n| n & mask == value & mask)
    }
}

impl fmt::Display for CardKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.as_bytes() {
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for CardKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CardKey({self})")
    }
}

impl FromStr for CardKey {
    type Err = CardError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_hex(s)
    }
}

impl Serialize for CardKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for CardKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::from_hex(&s).map_err(serde::de::Error::custom)
    }
}

/// What one read of a reader gave: a whole UID, or a truncated number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CardRead {
    /// A whole UID.
    Uid(CardKey),
    /// A truncated read: the low `bits` bits of the card's number (W26: 24 bits).
    Truncated { bits: u8, value: u32 },
}

impl CardRead {
    /// A truncated read, checked.
    pub fn truncated(bits: u8, value: u32) -> Result<Self, CardError> {
        if bits == 0 || bits > 32 {
            return Err(CardError::BadBits(bits));
        }
        let mask = if bits == 32 {
            u32::MAX
        } else {
            (1u32 << bits) - 1
        };
        Ok(CardRead::Truncated {
            bits,
            value: value & mask,
        })
    }

    /// Parses a typed/serial/ctl form: hex UID ("04A1B2C3"), a decimal ("0123456789"), a
    /// Wiegand "facility,number" pair ("123,45678"), or a truncated read as [`CardRead`]'s
    /// `Display` writes it ("t32:DEADBEEF").
    pub fn parse(text: &str) -> Result<Self, CardError> {
        let t = text.trim();
        if let Some((bits, value)) = t.strip_prefix('t').and_then(|r| r.split_once(':')) {
            let bits: u8 = bits.parse().map_err(|_| CardError::BadDecimal(t.into()))?;
            let value =
                u32::from_str_radix(value, 16).map_err(|_| CardError::BadDecimal(t.into()))?;
            return Self::truncated(bits, value);
        }
        if let Some((fac, num)) = t.split_once(',') {
            let fac: u32 = fac
                .trim()
                .parse()
                .map_err(|_| CardError::BadDecimal(t.into()))?;
            let num: u32 = num
                .trim()
                .parse()
                .map_err(|_| CardError::BadDecimal(t.into()))?;
            if fac > 0xFF || num > 0xFFFF {
                return Err(CardError::BadDecimal(t.into()));
            }
            return Self::truncated(24, (fac << 16) | num);
        }
        if t.len() == 10 && t.bytes().all(|b| b.is_ascii_digit()) {
            return CardKey::from_decimal(t).map(CardRead::Uid);
        }
        CardKey::from_hex(t).map(CardRead::Uid)
    }

    /// The form under which this read is looked up in a roster index.
    pub fn lookup_form(&self) -> CardForm {
        CardForm::of(self)
    }
}

/// The text form that [`CardRead::parse`] reads back: hex for a whole UID, "facility,number"
/// for a Wiegand-26 read, "t{bits}:{hex}" for another truncated read. A reader's tap travels to
/// the kiosk's worker in this form, as a `ctl tap` does.
impl fmt::Display for CardRead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CardRead::Uid(k) => write!(f, "{k}"),
            CardRead::Truncated { bits: 24, value } => {
                write!(f, "{},{}", value >> 16, value & 0xFFFF)
            }
            CardRead::Truncated { bits, value } => write!(f, "t{bits}:{value:X}"),
        }
    }
}

/// A form of a card, as a stable byte string that a roster hashes (HMAC with the site secret)
/// and indexes. Two cards sharing a form is a collision that the roster reports.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CardForm(String);

impl CardForm {
    fn of(read: &CardRead) -> Self {
        match read {
            CardRead::Uid(k) => CardForm(format!("uid:{k}")),
            CardRead::Truncated { bits, value } => CardForm(format!("t{bits}:{value:08X}")),
        }
    }

    /// The bytes to hash.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// Whether this is a truncated form (a match on it is weaker than a whole UID).
    pub fn is_truncated(&self) -> bool {
        !self.0.starts_with("uid:")
    }
}

impl fmt::Display for CardForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_read_reads_back_from_its_text() {
        let reads = [
            CardRead::Uid(CardKey::from_uid(&[0x04, 0xA1, 0xB2, 0xC3]).unwrap()),
            CardRead::Uid(CardKey::from_uid(&[0x1A, 0, 0x12, 0x34, 0x56]).unwrap()),
            CardRead::Uid(CardKey::from_uid(&[4, 5, 6, 7, 8, 9, 10]).unwrap()),
            CardRead::truncated(24, (123 << 16) | 45678).unwrap(),
            CardRead::truncated(24, 0).unwrap(),
            CardRead::truncated(32, 0xDEAD_BEEF).unwrap(),
            CardRead::truncated(26, 0x3FF_FFFF).unwrap(),
        ];
        for r in reads {
            assert_eq!(CardRead::parse(&r.to_string()).unwrap(), r, "{r}");
        }
        assert_eq!(
            CardRead::truncated(24, (123 << 16) | 45678)
                .unwrap()
                .to_string(),
            "123,45678"
        );
        assert!(CardRead::parse("t40:1").is_err(), "more than 32 bits");
        assert!(CardRead::parse("t24:XYZ").is_err());
    }

    use super::*;

    #[test]
    fn four_byte_uid_and_both_decimals_give_one_key() {
        let spi = CardKey::from_uid(&[0x04, 0xA1, 0xB2, 0xC3]).unwrap();
        let be = CardKey::from_decimal(&format!("{:010}", 0x04A1_B2C3u32)).unwrap();
        let le = CardKey::from_decimal(&format!("{:010}", 0xC3B2_A104u32)).unwrap();
        assert_eq!(spi, be);
        assert_eq!(spi, le);
    }

    #[test]
    fn longer_uids_keep_their_order() {
        let a = CardKey::from_uid(&[1, 2, 3, 4, 5, 6, 7]).unwrap();
        let b = CardKey::from_uid(&[7, 6, 5, 4, 3, 2, 1]).unwrap();
        assert_ne!(a, b);
        assert_eq!(a.to_string(), "01020304050607");
        assert_eq!(CardKey::from_hex("01:02:03:04:05:06:07").unwrap(), a);
    }

    #[test]
    fn bad_lengths_and_text_are_typed_errors() {
        assert_eq!(CardKey::from_uid(&[1, 2, 3]), Err(CardError::BadLength(3)));
        assert!(matches!(
            CardKey::from_decimal("99999999999"),
            Err(CardError::BadDecimal(_))
        ));
        assert!(matches!(
            CardKey::from_decimal("4294967296"),
            Err(CardError::BadDecimal(_))
        ));
        assert!(matches!(CardKey::from_hex("zz"), Err(CardError::BadHex(_))));
    }

    #[test]
    fn wiegand_read_matches_the_low_24_bits_in_either_order() {
        let k = CardKey::from_uid(&[0x04, 0xA1, 0xB2, 0xC3]).unwrap();
        assert!(k.matches_truncated(24, 0xA1B2C3));
        assert!(k.matches_truncated(24, 0xB2A104));
        assert!(!k.matches_truncated(24, 0x123456));
        let w26 = CardRead::parse("161,45763").unwrap(); // 0xA1 = 161, 0xB2C3 = 45763
        assert_eq!(
            w26,
            CardRead::Truncated {
                bits: 24,
                value: 0xA1B2C3
            }
        );
        assert!(k.lookup_forms().contains(&w26.lookup_form()));
    }

    #[test]
    fn em4100_printed_number_matches_its_id() {
        let em = CardKey::from_uid(&[0x1A, 0x00, 0x12, 0x34, 0x56]).unwrap();
        let printed = CardRead::truncated(24, 0x123456).unwrap();
        assert!(em.lookup_forms().contains(&printed.lookup_form()));
    }
}
