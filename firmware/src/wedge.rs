//! USB keyboard-wedge card readers, read through evdev.
//!
//! Such a reader is a keyboard: it "types" the card number and presses Enter. We read its
//! `/dev/input/eventN` directly and grab it (EVIOCGRAB) so that the digits do not also land in
//! whatever program has the keyboard focus.
//!
//! Linux `struct input_event` on 64-bit targets is 24 bytes: `struct timeval` (two 64-bit
//! fields), `u16 type`, `u16 code`, `i32 value`, native endian (linux/input.h). We use
//! `EV_KEY` (1) events with value 1 (press); digits come from the top row
//! (`KEY_1`..`KEY_0` = 2..11) or the keypad, hex letters from `KEY_A`..`KEY_F`, and the number
//! ends at `KEY_ENTER` (28) or `KEY_KPENTER` (96) (linux/input-event-codes.h).
//!
//! [`WedgeDecoder`] is pure (bytes in, cards out); [`WedgeReader`] runs the blocking reads on a
//! thread and hands cards over a channel so that `read_card` never blocks.

use crate::Error;
use crate::serial::{DecodeError, LineFormat};
use crate::tap::{CardReader, ReaderKind};
use otmetka_core::card::CardRead;
use std::io::Read;
use std::sync::mpsc;

/// Size of `struct input_event` on 64-bit Linux.
pub const EVENT_SIZE: usize = 24;
/// `EV_KEY`.
pub const EV_KEY: u16 = 1;
/// `KEY_ENTER`.
pub const KEY_ENTER: u16 = 28;
/// `KEY_KPENTER`.
pub const KEY_KPENTER: u16 = 96;

/// One `input_event`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputEvent {
    /// Seconds of the kernel timestamp.
    pub sec: i64,
    /// Microseconds of the kernel timestamp.
    pub usec: i64,
    /// Event type (`EV_KEY`, `EV_SYN`, `EV_MSC`, ...).
    pub kind: u16,
    /// Key code.
    pub code: u16,
    /// 1 press, 0 release, 2 autorepeat.
    pub value: i32,
}

impl InputEvent {
    /// Decodes one record (native endian).
    pub fn from_bytes(b: &[u8; EVENT_SIZE]) -> Self {
        let i64_at = |i: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[i..i + 8]);
            i64::from_ne_bytes(a)
        };
        InputEvent {
            sec: i64_at(0),
            usec: i64_at(8),
            kind: u16::from_ne_bytes([b[16], b[17]]),
            code: u16::from_ne_bytes([b[18], b[19]]),
            value: i32::from_ne_bytes([b[20], b[21], b[22], b[23]]),
        }
    }

    /// Encodes one record (for tests and recordings).
    pub fn to_bytes(&self) -> [u8; EVENT_SIZE] {
        let mut b = [0u8; EVENT_SIZE];
        b[0..8].copy_from_slice(&self.sec.to_ne_bytes());
        b[8..16].copy_from_slice(&self.usec.to_ne_bytes());
        b[16..18].copy_from_slice(&self.kind.to_ne_bytes());
        b[18..20].copy_from_slice(&self.code.to_ne_bytes());
        b[20..24].copy_from_slice(&self.value.to_ne_bytes());
        b
    }
}

/// The character a key code types, for the keys a card reader uses.
pub fn key_char(code: u16) -> Option<char> {
    Some(match code {
        2..=10 => char::from(b'1' + (code - 2) as u8),
        11 => '0',
        // Keypad: KP7 71, KP8 72, KP9 73, KP4 75, KP5 76, KP6 77, KP1 79, KP2 80, KP3 81, KP0 82.
        71 => '7',
        72 => '8',
        73 => '9',
        75 => '4',
        76 => '5',
        77 => '6',
        79 => '1',
        80 => '2',
        81 => '3',
        82 => '0',
        30 => 'A',
        48 => 'B',
        46 => 'C',
        32 => 'D',
        18 => 'E',
        33 => 'F',
        _ => return None,
    })
}

/// Key codes that are harmless in a reader's output (shift for upper-case hex, num lock).
fn ignorable_key(code: u16) -> bool {
    matches!(code, 42 | 54 | 69)
}

/// The longest number a reader types (a 10-byte UID in hex).
const MAX_DIGITS: usize = 20;

/// Turns `input_event` bytes into card numbers.
#[derive(Debug, Clone, Default)]
pub struct WedgeDecoder {
    format: LineFormat,
    partial: Vec<u8>,
    typed: String,
    bad: Option<DecodeError>,
}

impl WedgeDecoder {
    /// A decoder; most wedge readers type decimal ([`LineFormat::Auto`] reads 10 digits as
    /// decimal and anything else as hex).
    pub fn new(format: LineFormat) -> Self {
        WedgeDecoder {
            format,
            ..Self::default()
        }
    }

    /// Feeds one event.
    pub fn push_event(&mut self, ev: InputEvent) -> Option<Result<CardRead, DecodeError>> {
        if ev.kind != EV_KEY || ev.value != 1 {
            return None;
        }
        if ev.code == KEY_ENTER || ev.code == KEY_KPENTER {
            let typed = std::mem::take(&mut self.typed);
            if let Some(e) = self.bad.take() {
                return Some(Err(e));
            }
            if typed.is_empty() {
                return None;
            }
            return Some(self.format.parse(&typed));
        }
        match key_char(ev.code) {
            Some(c) if self.typed.len() < MAX_DIGITS => self.typed.push(c),
            Some(_) => {
                self.bad.get_or_insert(DecodeError::TooLong);
            }
            None if ignorable_key(ev.code) => {}
            None => {
                self.bad.get_or_insert(DecodeError::UnexpectedKey(ev.code));
            }
        }
        None
    }

    /// Feeds raw bytes (any split); returns the cards and errors completed.
    pub fn push_bytes(&mut self, bytes: &[u8]) -> Vec<Result<CardRead, DecodeError>> {
        let mut out = Vec::new();
        for &b in bytes {
            self.partial.push(b);
            if self.partial.len() == EVENT_SIZE {
                let mut rec = [0u8; EVENT_SIZE];
                rec.copy_from_slice(&self.partial);
                self.partial.clear();
                if let Some(r) = self.push_event(InputEvent::from_bytes(&rec)) {
                    out.push(r);
                }
            }
        }
        out
    }
}

/// The events a reader produces when it types `text` and presses Enter (press and release per
/// key, with SYN reports), as bytes. Used by tests and the desktop demo.
pub fn type_text(text: &str) -> Vec<u8> {
    let code = |c: char| -> Option<u16> { (0u16..128).find(|k| key_char(*k) == Some(c)) };
    let mut out = Vec::new();
    let mut push = |kind, code, value| {
        out.extend_from_slice(
            &InputEvent {
                sec: 0,
                usec: 0,
                kind,
                code,
                value,
            }
            .to_bytes(),
        );
    };
    for c in text.chars().chain(std::iter::once('\n')) {
        let k = if c == '\n' {
            KEY_ENTER
        } else {
            match code(c.to_ascii_uppercase()) {
                Some(k) => k,
                None => continue,
            }
        };
        push(4, 4, 0x7001e); // EV_MSC MSC_SCAN, as real keyboards send
        push(EV_KEY, k, 1);
        push(0, 0, 0); // EV_SYN
        push(EV_KEY, k, 0);
        push(0, 0, 0);
    }
    out
}

/// An input device that can be grabbed exclusively.
pub trait InputDevice: Read + Send {
    /// Takes the device for this process only (EVIOCGRAB).
    fn grab(&mut self) -> std::io::Result<()>;
}

/// A real evdev device: the `evdev` crate opens and grabs it; raw events are read from a
/// duplicate of its descriptor (the grab belongs to the shared open file description).
#[derive(Debug)]
pub struct EvdevDevice {
    device: evdev::Device,
    file: std::fs::File,
}

impl EvdevDevice {
    /// Opens `/dev/input/eventN` (needs read access: the `input` group or a udev rule).
    #[tracing::instrument]
    pub fn open(path: &str) -> std::io::Result<Self> {
        use std::os::fd::AsFd;
        let device = evdev::Device::open(path)?;
        let file = std::fs::File::from(device.as_fd().try_clone_to_owned()?);
        Ok(EvdevDevice { device, file })
    }
}

impl Read for EvdevDevice {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.file.read(buf)
    }
}

impl InputDevice for EvdevDevice {
    fn grab(&mut self) -> std::io::Result<()> {
        self.device.grab()
    }
}

/// Most results `read_card` takes from the channel in one call.
const MAX_RESULTS_PER_POLL: usize = 64;

/// A keyboard-wedge reader: a thread reads events, this side hands out cards.
#[derive(Debug)]
pub struct WedgeReader {
    rx: mpsc::Receiver<Result<CardRead, DecodeError>>,
    ended: mpsc::Receiver<std::io::Error>,
}

impl WedgeReader {
    /// Starts reading `source` (a device or, in tests, a pipe) on a thread.
    pub fn spawn<S: Read + Send + 'static>(mut source: S, format: LineFormat) -> Self {
        let (tx, rx) = mpsc::channel();
        let (end_tx, ended) = mpsc::channel();
        std::thread::spawn(move || {
            let mut decoder = WedgeDecoder::new(format);
            let mut buf = [0u8; EVENT_SIZE * 16];
            loop {
                match source.read(&mut buf) {
                    Ok(0) => {
                        let _ = end_tx.send(std::io::ErrorKind::UnexpectedEof.into());
                        return;
                    }
                    Ok(n) => {
                        for r in decoder.push_bytes(&buf[..n]) {
                            if tx.send(r).is_err() {
                                return; // the reader was dropped
                            }
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        let _ = end_tx.send(e);
                        return;
                    }
                }
            }
        });
        WedgeReader { rx, ended }
    }

    /// Opens and grabs an evdev device and starts reading it.
    pub fn open_device<D: InputDevice + 'static>(
        mut device: D,
        grab: bool,
        format: LineFormat,
    ) -> Result<Self, Error> {
        if grab {
            device.grab()?;
        }
        Ok(Self::spawn(device, format))
    }
}

impl CardReader for WedgeReader {
    fn kind(&self) -> ReaderKind {
        ReaderKind::KeyboardWedge
    }

    fn read_card(&mut self) -> Result<Option<CardRead>, Error> {
        let mut last: Option<Result<CardRead, DecodeError>> = None;
        for _ in 0..MAX_RESULTS_PER_POLL {
            match self.rx.try_recv() {
                Ok(r) => {
                    if r.is_ok() || !matches!(last, Some(Ok(_))) {
                        last = Some(r);
                    }
                }
                Err(_) => break,
            }
        }
        match last {
            Some(Ok(card)) => Ok(Some(card)),
            Some(Err(e)) => Err(Error::Decode(e)),
            None => match self.ended.try_recv() {
                Ok(e) => Err(Error::Io(e)),
                Err(_) => Ok(None),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use otmetka_core::card::CardKey;
    use proptest::prelude::*;

    #[test]
    fn opening_a_missing_device_is_an_io_error() {
        assert!(EvdevDevice::open("/nonexistent/otmetka-event0").is_err());
    }

    #[test]
    fn an_event_record_is_24_bytes_and_round_trips() {
        let ev = InputEvent {
            sec: 1_700_000_000,
            usec: 123_456,
            kind: EV_KEY,
            code: 2,
            value: 1,
        };
        let b = ev.to_bytes();
        assert_eq!(b.len(), 24);
        assert_eq!(&b[16..18], &1u16.to_ne_bytes());
        assert_eq!(InputEvent::from_bytes(&b), ev);
    }

    #[test]
    fn typed_decimal_becomes_the_card() {
        let mut d = WedgeDecoder::new(LineFormat::Auto);
        let got = d.push_bytes(&type_text("0078234435"));
        assert_eq!(
            got,
            vec![Ok(CardRead::Uid(
                CardKey::from_decimal("0078234435").unwrap()
            ))]
        );
    }

    #[test]
    fn keypad_digits_and_keypad_enter_work() {
        let mut d = WedgeDecoder::new(LineFormat::Decimal);
        let mut bytes = Vec::new();
        for code in [82u16, 79, 80, 81, 96] {
            // 0 1 2 3 KPEnter
            bytes.extend(
                InputEvent {
                    sec: 0,
                    usec: 0,
                    kind: EV_KEY,
                    code,
                    value: 1,
                }
                .to_bytes(),
            );
        }
        assert_eq!(
            d.push_bytes(&bytes),
            vec![Ok(CardRead::Uid(CardKey::from_u32(123)))]
        );
    }

    #[test]
    fn unexpected_keys_are_a_typed_error_at_enter() {
        let mut d = WedgeDecoder::new(LineFormat::Auto);
        let mut bytes = type_text("12");
        bytes.truncate(bytes.len() - 5 * EVENT_SIZE); // drop the Enter
        bytes.extend(
            InputEvent {
                sec: 0,
                usec: 0,
                kind: EV_KEY,
                code: 57,
                value: 1,
            }
            .to_bytes(),
        ); // space
        bytes.extend(type_text("3"));
        assert_eq!(
            d.push_bytes(&bytes),
            vec![Err(DecodeError::UnexpectedKey(57))]
        );
        // and it recovers
        assert!(d.push_bytes(&type_text("0078234435"))[0].is_ok());
    }

    proptest! {
        #[test]
        fn random_event_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
            let mut d = WedgeDecoder::new(LineFormat::Auto);
            let _ = d.push_bytes(&bytes);
        }

        #[test]
        fn any_split_of_the_byte_stream_gives_the_same_cards(n in any::<u32>(), cut in 0usize..400) {
            let bytes = type_text(&format!("{n:010}"));
            let cut = cut.min(bytes.len());
            let mut d = WedgeDecoder::new(LineFormat::Auto);
            let mut got = d.push_bytes(&bytes[..cut]);
            got.extend(d.push_bytes(&bytes[cut..]));
            prop_assert_eq!(got, vec![Ok(CardRead::Uid(CardKey::from_u32(n)))]);
        }
    }
}
