//! Pure ISO/IEC 14443-3 type A helpers, shared by the MFRC522 driver and its simulator.
//!
//! Numbers come from ISO/IEC 14443-3:2018 §6 (type A initialisation and anticollision):
//! REQA 0x26 and WUPA 0x52 are 7-bit short frames (§6.4.1); SEL codes 0x93/0x95/0x97 name the
//! cascade levels (§6.4.3.2); the cascade tag is 0x88 (§6.4.4); BCC is the XOR of the four
//! UID CLn bytes; SAK bit 3 (0x04) says "UID not complete" (§6.4.3.4); HLTA is 0x50 0x00 +
//! CRC_A (§6.4.3.6). CRC_A is CRC-16/ISO-IEC-14443-3-A: polynomial x^16+x^12+x^5+1, preset
//! 0x6363, LSB first, no final XOR (Annex B); it is appended low byte first.

/// REQA command (7 bits).
pub const REQA: u8 = 0x26;
/// WUPA command (7 bits).
pub const WUPA: u8 = 0x52;
/// HLTA command byte.
pub const HLTA: u8 = 0x50;
/// Cascade tag: first byte of UID CLn when the UID continues at the next level.
pub const CASCADE_TAG: u8 = 0x88;
/// SAK bit "UID not complete".
pub const SAK_CASCADE_BIT: u8 = 0x04;
/// NVB of a SELECT: 7 bytes (SEL, NVB, 4 UID bytes, BCC), 0 extra bits.
pub const NVB_SELECT: u8 = 0x70;

/// A cascade level of anticollision/select.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CascadeLevel {
    /// Level 1 (SEL 0x93).
    One,
    /// Level 2 (SEL 0x95).
    Two,
    /// Level 3 (SEL 0x97).
    Three,
}

impl CascadeLevel {
    /// The SEL code of this level.
    pub fn sel(self) -> u8 {
        match self {
            CascadeLevel::One => 0x93,
            CascadeLevel::Two => 0x95,
            CascadeLevel::Three => 0x97,
        }
    }

    /// The level a SEL code names.
    pub fn from_sel(sel: u8) -> Option<Self> {
        match sel {
            0x93 => Some(CascadeLevel::One),
            0x95 => Some(CascadeLevel::Two),
            0x97 => Some(CascadeLevel::Three),
            _ => None,
        }
    }

    /// The next level, if any.
    pub fn next(self) -> Option<Self> {
        match self {
            CascadeLevel::One => Some(CascadeLevel::Two),
            CascadeLevel::Two => Some(CascadeLevel::Three),
            CascadeLevel::Three => None,
        }
    }

    /// Zero-based index (0, 1, 2).
    pub fn index(self) -> usize {
        match self {
            CascadeLevel::One => 0,
            CascadeLevel::Two => 1,
            CascadeLevel::Three => 2,
        }
    }
}

/// CRC_A over `data`, as the two bytes to append (low byte first).
pub fn crc_a(data: &[u8]) -> [u8; 2] {
    let mut crc: u16 = 0x6363;
    for &b in data {
        let mut x = b ^ (crc as u8);
        x ^= x << 4;
        crc = (crc >> 8) ^ (u16::from(x) << 8) ^ (u16::from(x) << 3) ^ (u16::from(x) >> 4);
    }
    crc.to_le_bytes()
}

/// Whether `frame` ends with a correct CRC_A over the bytes before it.
pub fn crc_a_ok(frame: &[u8]) -> bool {
    match frame.len().checked_sub(2) {
        Some(n) if n > 0 => crc_a(&frame[..n]) == [frame[n], frame[n + 1]],
        _ => false,
    }
}

/// BCC: XOR of the four UID CLn bytes.
pub fn bcc(cl: &[u8; 4]) -> u8 {
    cl[0] ^ cl[1] ^ cl[2] ^ cl[3]
}

/// The UID size an ATQA announces (bits 8..7 of its first byte, ISO 14443-3 §6.4.2).
pub fn atqa_uid_len(atqa: [u8; 2]) -> Option<usize> {
    match atqa[0] >> 6 {
        0 => Some(4),
        1 => Some(7),
        2 => Some(10),
        _ => None,
    }
}

/// Whether a SAK says the UID continues at the next cascade level.
pub fn sak_uid_incomplete(sak: u8) -> bool {
    sak & SAK_CASCADE_BIT != 0
}

/// The UID CLn fields of a whole UID: one per cascade level, with cascade tags where the UID
/// continues. `None` for lengths other than 4, 7 or 10.
pub fn cascade_fields(uid: &[u8]) -> Option<Vec<[u8; 4]>> {
    match uid.len() {
        4 => Some(vec![[uid[0], uid[1], uid[2], uid[3]]]),
        7 => Some(vec![
            [CASCADE_TAG, uid[0], uid[1], uid[2]],
            [uid[3], uid[4], uid[5], uid[6]],
        ]),
        10 => Some(vec![
            [CASCADE_TAG, uid[0], uid[1], uid[2]],
            [CASCADE_TAG, uid[3], uid[4], uid[5]],
            [uid[6], uid[7], uid[8], uid[9]],
        ]),
        _ => None,
    }
}

/// The anticollision frame for a level with `known_bits` (0..=39) of UID CLn||BCC known:
/// SEL, NVB, then the known bits (the last byte partial). Returns the buffer, its used length
/// and the number of valid bits in its last byte (0 = whole byte), which is also the RxAlign
/// for the answer.
pub fn anticollision_frame(
    level: CascadeLevel,
    known: &[u8; 5],
    known_bits: u8,
) -> ([u8; 7], usize, u8) {
    let known_bits = known_bits.min(39);
    let whole = known_bits / 8;
    let extra = known_bits % 8;
    let mut frame = [0u8; 7];
    frame[0] = level.sel();
    frame[1] = ((2 + whole) << 4) | extra;
    let used_known = usize::from(whole) + usize::from(extra > 0);
    frame[2..2 + used_known].copy_from_slice(&known[..used_known]);
    if extra > 0 {
        // Only the low `extra` bits of the partial byte are sent; clear the rest.
        frame[1 + used_known] &= (1u8 << extra) - 1;
    }
    (frame, 2 + used_known, extra)
}

/// The SELECT frame for a level: SEL, NVB 0x70, UID CLn, BCC, CRC_A.
pub fn select_frame(level: CascadeLevel, cl: &[u8; 4]) -> [u8; 9] {
    let mut f = [0u8; 9];
    f[0] = level.sel();
    f[1] = NVB_SELECT;
    f[2..6].copy_from_slice(cl);
    f[6] = bcc(cl);
    let crc = crc_a(&f[..7]);
    f[7..9].copy_from_slice(&crc);
    f
}

/// The HLTA frame: 0x50 0x00 + CRC_A.
pub fn hlta_frame() -> [u8; 4] {
    let crc = crc_a(&[HLTA, 0]);
    [HLTA, 0, crc[0], crc[1]]
}

/// Reads bit `i` (LSB-first numbering across bytes) of `bytes`; false past the end.
pub fn get_bit(bytes: &[u8], i: usize) -> bool {
    bytes.get(i / 8).is_some_and(|b| b >> (i % 8) & 1 == 1)
}

/// Sets or clears bit `i` (LSB-first numbering across bytes) of `bytes`; ignored past the end.
pub fn set_bit(bytes: &mut [u8], i: usize, value: bool) {
    if let Some(b) = bytes.get_mut(i / 8) {
        if value {
            *b |= 1 << (i % 8);
        } else {
            *b &= !(1 << (i % 8));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn crc_a_matches_the_standard_vectors() {
        // ISO/IEC 14443-3 Annex B: CRC_A(00 00) = 0x1EA0 sent A0 1E; CRC_A(12 34) = 0xCF26.
        assert_eq!(crc_a(&[0x00, 0x00]), [0xA0, 0x1E]);
        assert_eq!(crc_a(&[0x12, 0x34]), [0x26, 0xCF]);
        // The HLTA frame every MIFARE trace shows.
        assert_eq!(hlta_frame(), [0x50, 0x00, 0x57, 0xCD]);
    }

    #[test]
    fn cascade_fields_put_tags_where_the_uid_continues() {
        let uid7 = [0x04, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66];
        assert_eq!(
            cascade_fields(&uid7).unwrap(),
            vec![[0x88, 0x04, 0x11, 0x22], [0x33, 0x44, 0x55, 0x66]]
        );
        assert_eq!(cascade_fields(&[1, 2, 3]), None);
        assert_eq!(cascade_fields(&[0; 10]).unwrap().len(), 3);
    }

    #[test]
    fn anticollision_frames_carry_the_known_bits() {
        let known = [0xAB, 0xCD, 0, 0, 0];
        let (f, n, last) = anticollision_frame(CascadeLevel::One, &known, 0);
        assert_eq!((&f[..n], last), (&[0x93, 0x20][..], 0));
        let (f, n, last) = anticollision_frame(CascadeLevel::Two, &known, 12);
        assert_eq!((&f[..n], last), (&[0x95, 0x34, 0xAB, 0x0D][..], 4));
    }

    #[test]
    fn select_frame_has_bcc_and_crc() {
        let f = select_frame(CascadeLevel::One, &[0x01, 0x02, 0x03, 0x04]);
        assert_eq!(&f[..7], &[0x93, 0x70, 1, 2, 3, 4, 4]);
        assert!(crc_a_ok(&f));
    }

    proptest! {
        #[test]
        fn crc_a_detects_any_single_bit_flip(data in proptest::collection::vec(any::<u8>(), 1..32), bit in 0usize..256) {
            let mut frame = data.clone();
            frame.extend_from_slice(&crc_a(&data));
            prop_assert!(crc_a_ok(&frame));
            let i = bit % (frame.len() * 8);
            frame[i / 8] ^= 1 << (i % 8);
            prop_assert!(!crc_a_ok(&frame));
        }
    }
}
