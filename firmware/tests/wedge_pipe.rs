//! Keyboard-wedge readers: recorded `input_event` bytes through a real pipe, and the same card
//! read by a USB reader and over SPI giving one key.
#![allow(clippy::unwrap_used)] // helpers outside #[test] fns unwrap too; a test may panic

mod common;

use common::reader;
use otmetka_core::card::CardRead;
use otmetka_firmware::Error;
use otmetka_firmware::serial::LineFormat;
use otmetka_firmware::tap::CardReader;
use otmetka_firmware::wedge::{WedgeReader, type_text};
use proptest::prelude::*;
use std::fs::File;
use std::io::Write;
use std::time::{Duration, Instant};

fn poll_until_some(r: &mut WedgeReader) -> Result<Option<CardRead>, Error> {
    let start = Instant::now();
    loop {
        match r.read_card() {
            Ok(None) if start.elapsed() < Duration::from_secs(5) => {
                std::thread::sleep(Duration::from_millis(1));
            }
            other => return other,
        }
    }
}

fn pipe() -> (File, File) {
    let (r, w) = nix::unistd::pipe().expect("pipe");
    (File::from(r), File::from(w))
}

#[test]
fn events_through_a_pipe_become_cards() {
    let (r, mut w) = pipe();
    let mut reader = WedgeReader::spawn(r, LineFormat::Auto);
    assert_eq!(reader.read_card().unwrap(), None);
    // Write in awkward pieces, as a kernel read may split them.
    let bytes = type_text("3735928559"); // 0xDEADBEEF
    for chunk in bytes.chunks(7) {
        w.write_all(chunk).unwrap();
    }
    let got = poll_until_some(&mut reader).unwrap().unwrap();
    assert_eq!(got, CardRead::parse("DEADBEEF").unwrap());
    drop(w);
    // The end of the stream is reported, not a silent "no card" forever.
    assert!(matches!(poll_until_some(&mut reader), Err(Error::Io(_))));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn a_card_typed_by_a_usb_reader_and_read_over_spi_gives_one_key(uid in any::<[u8; 4]>(), lsb_first in any::<bool>()) {
        // Over SPI through the simulated MFRC522 and our driver.
        let (sim, mut rc) = reader();
        sim.place_uid(&uid);
        let spi = rc.read_card().unwrap().unwrap();
        // Typed by a USB reader, in the byte order its model uses.
        let n = if lsb_first { u32::from_le_bytes(uid) } else { u32::from_be_bytes(uid) };
        let mut d = otmetka_firmware::wedge::WedgeDecoder::new(LineFormat::Auto);
        let typed = d.push_bytes(&type_text(&format!("{n:010}")));
        prop_assert_eq!(typed, vec![Ok(spi)]);
    }
}
