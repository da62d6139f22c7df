//! The real `otmetka-kiosk` reading cards from a serial reader on a real pseudo-terminal: the
//! test writes into the pty master what a reader module sends, and the kiosk, which opened the
//! slave path as it would open /dev/ttyUSB0, checks the person in. A garbled frame changes
//! nothing; a reader that goes away is reported in `ctl status` (and so on the diagnostics
//! screen and in the feed's status) and comes back by itself when it is plugged in again.

#![allow(clippy::unwrap_used)]

use nix::fcntl::{FcntlArg, FdFlag, fcntl};
use nix::pty::openpty;
use nix::unistd::{ttyname, write};
use otmetka_app::kiosk::{Command, Reply, StatusReply};
use otmetka_tests::site::{KioskProcess, wait_for};
use std::os::fd::{AsRawFd, OwnedFd};

/// A pty pair whose descriptors the kiosk does not inherit (else closing the master here would
/// not hang the line up: the kiosk process would hold a copy).
fn pty() -> (OwnedFd, OwnedFd, String) {
    let p = openpty(None, None).unwrap();
    for fd in [&p.master, &p.slave] {
        fcntl(fd.as_raw_fd(), FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).unwrap();
    }
    let path = ttyname(&p.slave).unwrap().to_string_lossy().into_owned();
    (p.master, p.slave, path)
}

fn status(k: &KioskProcess) -> StatusReply {
    match k.call(Command::Status).unwrap() {
        Reply::Status(s) => *s,
        other => panic!("{other:?}"),
    }
}

/// Who is present, by check-in order, as display names.
fn present(k: &KioskProcess) -> Vec<String> {
    status(k)
        .session
        .map(|s| s.present.into_iter().map(|p| p.name).collect())
        .unwrap_or_default()
}

#[test]
fn a_line_reader_on_a_pty_checks_people_in_and_its_loss_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (master, slave, path) = pty();
    let extra = format!(
        "reader = {{ kind = \"serial\", path = {path:?}, protocol = \"line\", format = \"hex\" }}\n"
    );
    let k = KioskProcess::start(dir.path(), "demo", "kiosk-1", &extra).unwrap();
    k.sign_in_and_start("001").unwrap();
    let s = status(&k);
    assert!(s.reader_ok, "{s:?}");

    // Recipient 1's card, as a USB-serial reader sends it.
    write(&master, b"0A000001\r\n").unwrap();
    let names = wait_for("recipient 1 checked in from the reader", 10, || {
        let p = present(&k);
        (p.len() == 1).then_some(p)
    });
    // A garbled line, then recipient 2: the garbage is a bad read, not a person, not a failure.
    write(&master, b"ZZ??\r\n").unwrap();
    write(&master, b"0A000002\r\n").unwrap();
    let names2 = wait_for("recipient 2 checked in from the reader", 10, || {
        let p = present(&k);
        (p.len() == 2).then_some(p)
    });
    assert_eq!(names2[0], names[0]);
    assert_ne!(names2[1], names2[0]);
    assert!(status(&k).reader_ok);

    // The reader is unplugged: the pty goes away. The kiosk says so, with the reason.
    drop(master);
    drop(slave);
    let s = wait_for("the kiosk reports the reader failing", 15, || {
        let s = status(&k);
        (!s.reader_ok).then_some(s)
    });
    assert!(!s.reader_detail.is_empty(), "{s:?}");
    assert_eq!(present(&k).len(), 2, "nothing confirmed was lost");
    assert!(
        k.log().contains("card reader"),
        "the log names the reader's failure: {}",
        k.log()
    );
}

#[test]
fn an_em4100_reader_on_a_pty_delivers_its_cards_and_comes_back_after_a_replug() {
    let dir = tempfile::tempdir().unwrap();
    // The kiosk is configured with a stable path, as /dev/serial/by-id/… would be: a symlink
    // the test points at a new pty to "plug the reader in again".
    let link = dir.path().join("ttyRDM");
    let (master, slave, path) = pty();
    std::os::unix::fs::symlink(&path, &link).unwrap();
    let extra = format!("reader = {{ kind = \"serial\", path = {link:?} }}\n");
    let k = KioskProcess::start(dir.path(), "demo", "kiosk-1", &extra).unwrap();
    k.sign_in_and_start("001").unwrap();

    // An RDM6300 frame: STX, ten hex digits, checksum, ETX. This 125 kHz card is not on the
    // roster: the tap is kept as unidentified and nobody is checked in.
    let frame = |id: [u8; 5]| {
        let sum = id.iter().fold(0, |x, b| x ^ b);
        let mut f = vec![0x02];
        f.extend(
            id.iter()
                .chain(std::iter::once(&sum))
                .flat_map(|b| format!("{b:02X}").into_bytes()),
        );
        f.push(0x03);
        f
    };
    write(&master, &frame([0x1A, 0x00, 0x12, 0x34, 0x56])).unwrap();
    let db = dir.path().join("kiosk.db");
    wait_for("the unknown card's tap is kept in the outbox", 10, || {
        let c = rusqlite::Connection::open(&db).ok()?;
        let n: i64 = c
            .query_row(
                "SELECT COUNT(*) FROM outbox WHERE payload LIKE '%unidentified_tap%'",
                [],
                |r| r.get(0),
            )
            .ok()?;
        (n == 1).then_some(())
    });
    assert!(present(&k).is_empty());

    // Unplugged…
    drop(master);
    drop(slave);
    std::fs::remove_file(&link).unwrap();
    wait_for("the reader reported as failing", 15, || {
        (!status(&k).reader_ok).then_some(())
    });
    // …and plugged in again (a new device node behind the same name).
    let (master2, _slave2, path2) = pty();
    std::os::unix::fs::symlink(&path2, &link).unwrap();
    wait_for("the reader reported as working again", 30, || {
        status(&k).reader_ok.then_some(())
    });
    let _ = master2;
}
