//! Serial card readers: pure byte decoders and a thin `serialport` loop.
//!
//! - [`Em4100Decoder`]: 125 kHz EM4100 modules (RDM6300 and clones, 9600 8N1) send
//!   `STX, 10 hex digits, 2 hex digits of checksum, ETX`: the 10 digits are the 5 id bytes
//!   (version/customer byte + 32-bit number) and the checksum is the XOR of those 5 bytes.
//! - [`LineDecoder`]: readers that send one UID per line, hex or decimal.
//!
//! Decoders take bytes one at a time and never panic: anything malformed is a [`DecodeError`],
//! and a decoder resynchronises on the next frame start or line end.

use crate::Error;
use crate::tap::{CardReader, ReaderKind};
use otmetka_core::card::{CardError, CardKey, CardRead};
use std::io::Read;
use std::time::Duration;

/// What a serial or keyboard-wedge reader sent that is not a card.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// A byte inside a frame that is not a hex digit.
    #[error("byte {0:#04x} is not a hex digit")]
    NotHex(u8),
    /// The frame's checksum does not match its data.
    #[error("checksum {got:#04x} does not match {expected:#04x}")]
    Checksum {
        /// XOR of the data bytes.
        expected: u8,
        /// The checksum sent.
        got: u8,
    },
    /// A frame ended (or a new one started) before it was complete.
    #[error("frame of {0} digits is too short")]
    Truncated(usize),
    /// A frame or line ran past the longest valid length.
    #[error("frame or line too long")]
    TooLong,
    /// A line that is not a card number.
    #[error("not a card number: {0}")]
    Card(#[from] CardError),
    /// A key a keyboard-wedge reader should not type.
    #[error("unexpected key code {0}")]
    UnexpectedKey(u16),
}

/// A byte-at-a-time decoder of a reader's output.
pub trait Decoder {
    /// Feeds one byte; returns a card or an error when a frame or line completes.
    fn push(&mut self, byte: u8) -> Option<Result<CardRead, DecodeError>>;
}

const STX: u8 = 0x02;
const ETX: u8 = 0x03;

/// Decoder of RDM6300-style EM4100 frames.
#[derive(Debug, Default, Clone)]
pub struct Em4100Decoder {
    digits: [u8; 12],
    len: usize,
    in_frame: bool,
    /// A bad byte was seen in this frame; report once at ETX.
    poisoned: Option<DecodeError>,
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

impl Em4100Decoder {
    /// A decoder waiting for STX.
    pub fn new() -> Self {
        Self::default()
    }

    fn finish(&mut self) -> Result<CardRead, DecodeError> {
        if let Some(e) = self.poisoned.take() {
            return Err(e);
        }
        if self.len != 12 {
            return Err(DecodeError::Truncated(self.len));
        }
        let mut bytes = [0u8; 6];
        for (i, pair) in self.digits.chunks(2).enumerate() {
            bytes[i] = (pair[0] << 4) | pair[1];
        }
        let expected = bytes[..5].iter().fold(0, |x, b| x ^ b);
        if expected != bytes[5] {
            return Err(DecodeError::Checksum {
                expected,
                got: bytes[5],
            });
        }
        Ok(CardRead::Uid(CardKey::from_uid(&bytes[..5])?))
    }
}

impl Decoder for Em4100Decoder {
    fn push(&mut self, byte: u8) -> Option<Result<CardRead, DecodeError>> {
        match byte {
            STX => {
                let interrupted = self.in_frame;
                let len = self.len;
                self.in_frame = true;
                self.len = 0;
                self.poisoned = None;
                interrupted.then_some(Err(DecodeError::Truncated(len)))
            }
            ETX if self.in_frame => {
                self.in_frame = false;
                let r = self.finish();
                self.len = 0;
                Some(r)
            }
            // Noise between frames (a module powering up, a loose wire) is skipped.
            _ if !self.in_frame => None,
            _ => {
                match hex_value(byte) {
                    Some(v) if self.len < 12 => {
                        self.digits[self.len] = v;
                        self.len += 1;
                    }
                    Some(_) => {
                        self.poisoned.get_or_insert(DecodeError::TooLong);
                    }
                    None => {
                        self.poisoned.get_or_insert(DecodeError::NotHex(byte));
                    }
                }
                None
            }
        }
    }
}

/// How a line-per-UID reader writes numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LineFormat {
    /// Core's rules ([`CardRead::parse`]): 10 decimal digits are a decimal, "fac,num" is a
    /// Wiegand-26 pair, anything else is hex.
    #[default]
    Auto,
    /// Always hex (an 8-digit line like "12345678" is 4 bytes).
    Hex,
    /// Always decimal (the 32-bit number of a 4-byte UID).
    Decimal,
}

impl LineFormat {
    /// Parses one line (without its terminator).
    pub fn parse(self, line: &str) -> Result<CardRead, DecodeError> {
        let t = line.trim();
        Ok(match self {
            LineFormat::Auto => CardRead::parse(t)?,
            LineFormat::Hex => CardRead::Uid(CardKey::from_hex(t)?),
            LineFormat::Decimal => CardRead::Uid(CardKey::from_decimal(t)?),
        })
    }
}

/// The longest line a reader sends: a 10-byte UID as hex with separators is 29 characters.
const MAX_LINE: usize = 40;

/// Decoder of one-UID-per-line readers (CR, LF or CRLF).
#[derive(Debug, Clone, Default)]
pub struct LineDecoder {
    format: LineFormat,
    line: Vec<u8>,
    overflow: bool,
}

impl LineDecoder {
    /// A decoder for the given number format.
    pub fn new(format: LineFormat) -> Self {
        LineDecoder {
            format,
            line: Vec::with_capacity(MAX_LINE),
            overflow: false,
        }
    }
}

impl Decoder for LineDecoder {
    fn push(&mut self, byte: u8) -> Option<Result<CardRead, DecodeError>> {
        if byte == b'\n' || byte == b'\r' {
            let overflow = std::mem::take(&mut self.overflow);
            let line = std::mem::take(&mut self.line);
            if overflow {
                return Some(Err(DecodeError::TooLong));
            }
            // CRLF gives an empty line after CR; so does a reader's keep-alive newline.
            if line.iter().all(u8::is_ascii_whitespace) {
                return None;
            }
            return Some(match std::str::from_utf8(&line) {
                Ok(text) => self.format.parse(text),
                Err(_) => Err(DecodeError::NotHex(
                    line.iter().copied().find(|b| !b.is_ascii()).unwrap_or(0),
                )),
            });
        }
        if self.line.len() < MAX_LINE {
            self.line.push(byte);
        } else {
            self.overflow = true;
        }
        None
    }
}

/// Most bytes one [`SerialReader::read_card`] consumes: about a second of RDM6300 output at
/// 9600 baud, so one call is bounded even if the reader streams.
const MAX_BYTES_PER_POLL: usize = 1024;

/// A serial card reader: any byte source (a serial port, a pty in tests) plus a decoder.
#[derive(Debug)]
pub struct SerialReader<S, D> {
    source: S,
    decoder: D,
    kind: ReaderKind,
}

impl<S: Read, D: Decoder> SerialReader<S, D> {
    /// A reader over a byte source. The source should return quickly when no byte is waiting
    /// (a serial port with a short timeout).
    pub fn new(source: S, decoder: D, kind: ReaderKind) -> Self {
        SerialReader {
            source,
            decoder,
            kind,
        }
    }
}

/// Opens a serial port for a reader (8N1, no flow control) with a short read timeout, so that
/// each poll returns promptly.
#[tracing::instrument]
pub fn open_port(path: &str, baud: u32) -> Result<Box<dyn serialport::SerialPort>, Error> {
    Ok(serialport::new(path, baud)
        .timeout(Duration::from_millis(5))
        .open()?)
}

/// An RDM6300-style EM4100 reader on a serial port (9600 baud).
pub fn em4100_reader(
    path: &str,
) -> Result<SerialReader<Box<dyn serialport::SerialPort>, Em4100Decoder>, Error> {
    Ok(SerialReader::new(
        open_port(path, 9600)?,
        Em4100Decoder::new(),
        ReaderKind::Em4100Serial,
    ))
}

/// A line-per-UID reader on a serial port.
pub fn line_reader(
    path: &str,
    baud: u32,
    format: LineFormat,
) -> Result<SerialReader<Box<dyn serialport::SerialPort>, LineDecoder>, Error> {
    Ok(SerialReader::new(
        open_port(path, baud)?,
        LineDecoder::new(format),
        ReaderKind::LineSerial,
    ))
}

impl<S: Read, D: Decoder> CardReader for SerialReader<S, D> {
    fn kind(&self) -> ReaderKind {
        self.kind
    }

    /// Reads what has arrived and returns the last complete card. A malformed frame is
    /// returned as an error only if no good frame followed it in the same poll.
    fn read_card(&mut self) -> Result<Option<CardRead>, Error> {
        let mut buf = [0u8; 128];
        let mut consumed = 0;
        let mut result: Option<Result<CardRead, DecodeError>> = None;
        while consumed < MAX_BYTES_PER_POLL {
            let n = match self.source.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::TimedOut
                            | std::io::ErrorKind::WouldBlock
                            | std::io::ErrorKind::Interrupted
                    ) =>
                {
                    break;
                }
                Err(e) => return Err(Error::Io(e)),
            };
            consumed += n;
            for &b in &buf[..n] {
                if let Some(r) = self.decoder.push(b) {
                    if r.is_ok() || !matches!(result, Some(Ok(_))) {
                        result = Some(r);
                    }
                }
            }
        }
        match result {
            None => Ok(None),
            Some(Ok(card)) => Ok(Some(card)),
            Some(Err(e)) => Err(Error::Decode(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// An RDM6300 frame for a 5-byte id.
    pub fn frame(id: [u8; 5]) -> Vec<u8> {
        let sum = id.iter().fold(0, |x, b| x ^ b);
        let mut f = vec![STX];
        f.extend(
            format!(
                "{:02X}{:02X}{:02X}{:02X}{:02X}{sum:02X}",
                id[0], id[1], id[2], id[3], id[4]
            )
            .bytes(),
        );
        f.push(ETX);
        f
    }

    fn feed<D: Decoder>(d: &mut D, bytes: &[u8]) -> Vec<Result<CardRead, DecodeError>> {
        bytes.iter().filter_map(|b| d.push(*b)).collect()
    }

    #[test]
    fn decodes_an_rdm6300_frame() {
        let mut d = Em4100Decoder::new();
        // A frame as printed in RDM6300 documentation: 0x1A 00 12 34 56.
        let got = feed(&mut d, &frame([0x1A, 0x00, 0x12, 0x34, 0x56]));
        let key = CardKey::from_uid(&[0x1A, 0x00, 0x12, 0x34, 0x56]).unwrap();
        assert_eq!(got, vec![Ok(CardRead::Uid(key))]);
    }

    #[test]
    fn a_bad_checksum_is_reported_and_the_next_frame_is_read() {
        let mut d = Em4100Decoder::new();
        let mut bad = frame([1, 2, 3, 4, 5]);
        bad[11] = b'0';
        bad[12] = b'0';
        let mut bytes = bad;
        bytes.extend(frame([1, 2, 3, 4, 5]));
        let got = feed(&mut d, &bytes);
        assert_eq!(got.len(), 2);
        assert_eq!(
            got[0],
            Err(DecodeError::Checksum {
                expected: 0x01, // 1 ^ 2 ^ 3 ^ 4 ^ 5
                got: 0
            })
        );
        assert!(got[1].is_ok());
    }

    #[test]
    fn truncated_and_non_hex_frames_are_typed_errors() {
        let mut d = Em4100Decoder::new();
        assert_eq!(
            feed(&mut d, b"\x021234\x03"),
            vec![Err(DecodeError::Truncated(4))]
        );
        assert_eq!(
            feed(&mut d, b"\x0212345678Z012\x03"),
            vec![Err(DecodeError::NotHex(b'Z'))]
        );
        assert_eq!(
            feed(&mut d, b"\x02123\x02"),
            vec![Err(DecodeError::Truncated(3))]
        );
    }

    #[test]
    fn line_decoder_reads_hex_and_decimal_lines() {
        let mut d = LineDecoder::new(LineFormat::Auto);
        let got = feed(&mut d, b"04A1B2C3\r\n0078234435\n\n");
        let k = CardKey::from_uid(&[0x04, 0xA1, 0xB2, 0xC3]).unwrap();
        let dec = CardKey::from_decimal("0078234435").unwrap();
        assert_eq!(got, vec![Ok(CardRead::Uid(k)), Ok(CardRead::Uid(dec))]);
        let mut d = LineDecoder::new(LineFormat::Decimal);
        assert_eq!(feed(&mut d, b"78234435\n"), vec![Ok(CardRead::Uid(dec))]);
        let mut d = LineDecoder::new(LineFormat::Hex);
        assert!(matches!(
            feed(&mut d, b"xyz\n")[0],
            Err(DecodeError::Card(_))
        ));
        assert_eq!(feed(&mut d, &[b'1'; 100]), vec![]);
        assert_eq!(feed(&mut d, b"\n"), vec![Err(DecodeError::TooLong)]);
    }

    proptest! {
        #[test]
        fn em4100_decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let mut d = Em4100Decoder::new();
            for r in feed(&mut d, &bytes) {
                // Any Ok must be a 5-byte id with a valid checksum: only real frames pass.
                if let Ok(CardRead::Uid(k)) = r { prop_assert_eq!(k.len(), 5); }
            }
        }

        #[test]
        fn em4100_frames_survive_surrounding_noise(id in any::<[u8; 5]>(), noise in proptest::collection::vec(any::<u8>().prop_filter("no STX", |b| *b != STX), 0..50)) {
            let mut d = Em4100Decoder::new();
            let mut bytes = noise.clone();
            bytes.push(ETX); // end any frame the noise might look like
            bytes.extend(frame(id));
            let got = feed(&mut d, &bytes);
            prop_assert_eq!(got.last().cloned(), Some(Ok(CardRead::Uid(CardKey::from_uid(&id).unwrap()))));
        }

        #[test]
        fn line_decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400), format in prop_oneof![Just(LineFormat::Auto), Just(LineFormat::Hex), Just(LineFormat::Decimal)]) {
            let mut d = LineDecoder::new(format);
            let _ = feed(&mut d, &bytes);
        }
    }
}
