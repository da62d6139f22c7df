//! Serial readers over real pseudo-terminals: the test writes what a reader module would send
//! into the pty master; `serialport` opens the slave path as it would open /dev/ttyAMA0.
#![allow(clippy::unwrap_used)] // helpers outside #[test] fns unwrap too; a test may panic

use nix::pty::openpty;
use nix::unistd::{ttyname, write};
use otmetka_core::card::{CardKey, CardRead};
use otmetka_firmware::Error;
use otmetka_firmware::serial::{self, LineFormat};
use otmetka_firmware::tap::CardReader;
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

fn pty() -> (OwnedFd, OwnedFd, String) {
    let p = openpty(None, None).expect("openpty");
    let path = ttyname(&p.slave)
        .expect("ttyname")
        .to_string_lossy()
        .into_owned();
    (p.master, p.slave, path)
}

fn rdm6300_frame(id: [u8; 5]) -> Vec<u8> {
    let sum = id.iter().fold(0, |x, b| x ^ b);
    let mut f = vec![0x02];
    f.extend(
        format!(
            "{:02X}{:02X}{:02X}{:02X}{:02X}{sum:02X}",
            id[0], id[1], id[2], id[3], id[4]
        )
        .bytes(),
    );
    f.push(0x03);
    f
}

/// Polls until the reader returns something other than `Ok(None)`, or 5 s pass (a loaded CI
/// machine may deliver pty bytes late; the bound only guards against a hang).
fn poll_until_some<R: CardReader>(r: &mut R) -> Result<Option<CardRead>, Error> {
    let start = Instant::now();
    loop {
        match r.read_card() {
            Ok(None) if start.elapsed() < Duration::from_secs(5) => continue,
            other => return other,
        }
    }
}

#[test]
#[cfg_attr(
    target_arch = "aarch64",
    ignore = "qemu-user has no TCSETS2 (termios2 ioctl: ENOSYS); on a real Pi run with --ignored"
)]
fn em4100_reader_reads_frames_from_a_pty() {
    let (master, _slave, path) = pty();
    let mut reader = serial::em4100_reader(&path).expect("open pty slave");
    assert_eq!(reader.read_card().unwrap(), None);
    let id = [0x1A, 0x00, 0x12, 0x34, 0x56];
    write(&master, &rdm6300_frame(id)).unwrap();
    let got = poll_until_some(&mut reader).unwrap();
    assert_eq!(got, Some(CardRead::Uid(CardKey::from_uid(&id).unwrap())));
}

#[test]
#[cfg_attr(
    target_arch = "aarch64",
    ignore = "qemu-user has no TCSETS2 (termios2 ioctl: ENOSYS); on a real Pi run with --ignored"
)]
fn em4100_reader_reports_a_bad_checksum_as_a_typed_error() {
    let (master, _slave, path) = pty();
    let mut reader = serial::em4100_reader(&path).unwrap();
    let mut f = rdm6300_frame([1, 2, 3, 4, 5]);
    f[12] ^= 0x01; // last checksum digit
    write(&master, &f).unwrap();
    assert!(matches!(
        poll_until_some(&mut reader),
        Err(Error::Decode(serial::DecodeError::Checksum { .. }))
    ));
}

#[test]
#[cfg_attr(
    target_arch = "aarch64",
    ignore = "qemu-user has no TCSETS2 (termios2 ioctl: ENOSYS); on a real Pi run with --ignored"
)]
fn line_reader_reads_hex_and_decimal_lines_from_a_pty() {
    let (master, _slave, path) = pty();
    let mut reader = serial::line_reader(&path, 115_200, LineFormat::Auto).unwrap();
    write(&master, b"04:A1:B2:C3\r\n").unwrap();
    let k = CardKey::from_uid(&[0x04, 0xA1, 0xB2, 0xC3]).unwrap();
    assert_eq!(
        poll_until_some(&mut reader).unwrap(),
        Some(CardRead::Uid(k))
    );
    // The same card as a decimal typed most-significant-byte first.
    write(&master, format!("{:010}\n", 0x04A1_B2C3u32).as_bytes()).unwrap();
    assert_eq!(
        poll_until_some(&mut reader).unwrap(),
        Some(CardRead::Uid(k))
    );
}
