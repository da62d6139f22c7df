//! The kiosk's whole flow through its control socket, on the real `otmetka-kiosk` binary with its
//! real (software-rendered, off-screen) Slint screens: sign in, start, 25 taps including an
//! unknown card, a repeat and a 26th person, an override, an undo, the instructor's screens, the
//! end with a head count. At each step the screen the kiosk says it shows is checked, and its
//! screenshot (`ctl screenshot`) is compared with the picture committed in
//! `docs/screens/flow/` (the kiosk's clock is frozen so the pictures are the same on every run).
//! `OTMETKA_UPDATE_SCREENS=1` rewrites the pictures; look at them before committing.

#![allow(clippy::unwrap_used)]

use otmetka_app::control::ExtraRequest;
use otmetka_app::kiosk::{Command, Reply, TapReply};
use otmetka_core::catalogue::ServiceCode;
use otmetka_core::decision::DecisionKind;
use otmetka_core::people::GroupId;
use otmetka_tests::site::{KioskProcess, repo_root};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// 10:00 in Yekaterinburg on a Monday.
const FROZEN: &str = "2026-11-23T10:00:00+05:00";
const GROUP: &str = "00000000-0000-7000-8000-00000000c001";

fn card(n: u32) -> String {
    format!("0A0000{n:02X}")
}

fn tap(k: &KioskProcess, card: &str) -> TapReply {
    match k.call(Command::Tap { card: card.into() }).unwrap() {
        Reply::Tap(t) => t,
        other => panic!("{other:?}"),
    }
}

fn screen_name(reply: Reply) -> String {
    match reply {
        Reply::Screen { name } => name,
        other => panic!("{other:?}"),
    }
}

/// Pixels of two pictures differing by more than a little in some channel, as a share.
fn differing_share(a: &[u8], b: &[u8]) -> f64 {
    let n = a.len().min(b.len()) / 4;
    let differ = a
        .chunks_exact(4)
        .zip(b.chunks_exact(4))
        .filter(|(p, q)| p.iter().zip(q.iter()).any(|(x, y)| x.abs_diff(*y) > 24))
        .count();
    differ as f64 / n.max(1) as f64
}

fn decode(path: &Path) -> (u32, u32, Vec<u8>) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    let rgba = match info.color_type {
        png::ColorType::Rgba => buf,
        png::ColorType::Rgb => buf
            .chunks_exact(3)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect(),
        other => panic!("{}: unexpected colour type {other:?}", path.display()),
    };
    (info.width, info.height, rgba)
}

struct Shots {
    out: PathBuf,
    golden: PathBuf,
    update: bool,
    mismatches: Vec<String>,
}

impl Shots {
    /// Takes a screenshot, checks the screen's name and compares it with its golden picture.
    fn take(&mut self, k: &KioskProcess, name: &str, screen: &str) {
        let path = self.out.join(format!("{name}.png"));
        let shown = screen_name(
            k.extra(ExtraRequest::Screenshot {
                path: path.display().to_string(),
            })
            .unwrap(),
        );
        assert_eq!(shown, screen, "step {name}: the kiosk shows {shown}");
        let golden = self.golden.join(format!("{name}.png"));
        if self.update {
            std::fs::create_dir_all(&self.golden).unwrap();
            std::fs::copy(&path, &golden).unwrap();
            return;
        }
        assert!(
            golden.exists(),
            "{} is missing: run with OTMETKA_UPDATE_SCREENS=1 and look at the pictures",
            golden.display()
        );
        let (w1, h1, a) = decode(&path);
        let (w2, h2, b) = decode(&golden);
        let share = if (w1, h1) == (w2, h2) {
            differing_share(&a, &b)
        } else {
            1.0
        };
        // Anti-aliasing may differ in a few pixels between runs; a changed word does not.
        if share > 0.002 {
            self.mismatches.push(format!(
                "{name}: {:.2} % of pixels differ from {} (now: {})",
                share * 100.0,
                golden.display(),
                path.display()
            ));
        }
    }
}

/// Waits until the sound sink wrote a file whose name contains `label`; panics with what it did
/// write and the kiosk's log otherwise.
fn played(k: &KioskProcess, dir: &Path, label: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let names = || -> Vec<String> {
        std::fs::read_dir(dir)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    while Instant::now() < deadline {
        if names().iter().any(|n| n.contains(label)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = std::fs::read_to_string(k.dir.join("kiosk.log")).unwrap_or_default();
    panic!(
        "no {label} played; played: {:?}\nkiosk log:\n{log}",
        names()
    );
}

#[test]
fn the_whole_flow_through_the_control_socket_matches_its_screens() {
    let dir = tempfile::tempdir().unwrap();
    let played_dir = dir.path().join("played");
    let extra = format!(
        "frozen_clock = {FROZEN:?}\n[sound]\nsink = \"dir\"\ndir = {:?}\nsounds_dir = {:?}\nspeak_names = false\n",
        played_dir,
        repo_root().join("config/sounds"),
    );
    let k = KioskProcess::start(dir.path(), "demo", "kiosk-1", &extra).unwrap();
    let mut shots = Shots {
        out: dir.path().to_path_buf(),
        golden: repo_root().join("docs/screens/flow"),
        update: std::env::var_os("OTMETKA_UPDATE_SCREENS").is_some(),
        mismatches: Vec::new(),
    };
    shots.take(&k, "01-idle", "idle");

    // The instructor signs in with a PIN and lands on the start screen.
    assert!(
        k.call(Command::SignIn {
            credential: "0000".into()
        })
        .is_err()
    );
    shots.take(&k, "02-wrong-pin", "sign_in");
    k.call(Command::SignIn {
        credential: "1234".into(),
    })
    .unwrap();
    shots.take(&k, "03-start", "start_session");

    // Labour training (000, 10–25 people) for the group, with the safety briefing done.
    let Reply::Started { .. } = k
        .call(Command::Start {
            service: ServiceCode::from("000"),
            group: Some(GroupId(GROUP.parse().unwrap())),
            unit_kind: None,
            safety_briefing: true,
            confirm_date: false,
        })
        .unwrap()
    else {
        panic!("not started")
    };
    shots.take(&k, "04-session-open", "idle");

    // 24 people of the group tap in.
    let mut checkins = Vec::new();
    for n in 1..=24 {
        let t = tap(&k, &card(n));
        assert_eq!(t.kind, DecisionKind::Accepted, "recipient {n}");
        assert!(t.committed);
        assert_eq!(t.present, n);
        checkins.push((n, t.checkin.unwrap()));
    }
    shots.take(&k, "05-accepted", "tap_result");
    played(&k, &played_dir, "ru-accepted");

    // A card nobody knows: refused, kept for reconciliation, said aloud.
    let unknown = tap(&k, "FFFF0001");
    assert_eq!(unknown.kind, DecisionKind::UnknownCard);
    assert!(unknown.committed);
    shots.take(&k, "06-unknown-card", "tap_result");
    played(&k, &played_dir, "ru-unknown_card");

    // A second tap: the kiosk takes it for leaving and asks how it went; no answer, nothing
    // changes.
    let again = tap(&k, &card(5));
    assert_eq!(again.kind, DecisionKind::AlreadyCheckedIn);
    assert_eq!(again.present, 24);
    shots.take(&k, "07-leaving", "check_out");

    // The 25th fills the group; the 26th is refused, with the instructor's "allow" shown.
    assert_eq!(tap(&k, &card(25)).present, 25);
    let full = tap(&k, &card(26));
    assert_eq!(full.kind, DecisionKind::GroupFull);
    assert!(!full.committed);
    shots.take(&k, "08-group-full", "tap_result");
    played(&k, &played_dir, "ru-group_full");

    // The instructor allows it, with a reason: the unit will carry the override.
    let allowed = match k
        .call(Command::Override {
            reason: "instructor_decision".into(),
        })
        .unwrap()
    {
        Reply::Tap(t) => t,
        other => panic!("{other:?}"),
    };
    assert_eq!(allowed.kind, DecisionKind::Accepted);
    assert_eq!(allowed.present, 26);

    // Recipient 7 leaves and answers: checked out with the answer, still counted.
    assert_eq!(tap(&k, &card(7)).kind, DecisionKind::AlreadyCheckedIn);
    let shown = screen_name(
        k.extra(ExtraRequest::Press {
            action: "good".into(),
        })
        .unwrap(),
    );
    assert_eq!(shown, "idle");
    shots.take(&k, "08a-thanks", "idle");

    // The instructor's screen of the session: who is here, who is not.
    let shown = screen_name(
        k.extra(ExtraRequest::Press {
            action: "instructor".into(),
        })
        .unwrap(),
    );
    assert_eq!(shown, "in_session");
    shots.take(&k, "09-in-session", "in_session");

    // Recipient 3 was checked in by mistake: undo that one.
    let (_, third) = checkins[2];
    let Reply::Undone { checkin } = k
        .call(Command::Undo {
            checkin: Some(third),
        })
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(checkin, third);
    shots.take(&k, "10-undone", "in_session");

    // The end: the summary, then the instructor confirms the head count.
    k.extra(ExtraRequest::Press {
        action: "finish".into(),
    })
    .unwrap();
    shots.take(&k, "11-end", "end_session");
    let Reply::Ended {
        units,
        below_group_min,
        ..
    } = k
        .call(Command::End {
            head_count: Some(25),
        })
        .unwrap()
    else {
        panic!("not ended")
    };
    shots.take(&k, "12-ended", "idle");
    assert!(!below_group_min);

    // One unit for each of 1–26 but 3, the 26th with the override and its reason.
    let Reply::Status(status) = k.call(Command::Status).unwrap() else {
        panic!()
    };
    assert!(status.session.is_none());
    assert_eq!(units.len(), 25);
    let ids: BTreeSet<String> = units
        .iter()
        .map(|u| u.recipient.unwrap().0.to_string())
        .collect();
    let expected: BTreeSet<String> = (1..=26u32)
        .filter(|n| *n != 3)
        .map(|n| format!("00000000-0000-7000-8000-000000000{}", 100 + n))
        .collect();
    assert_eq!(ids, expected);
    let overridden: Vec<_> = units.iter().filter(|u| !u.overridden.is_empty()).collect();
    assert_eq!(overridden.len(), 1, "{overridden:?}");
    assert_eq!(
        overridden[0].recipient.unwrap().0.to_string(),
        "00000000-0000-7000-8000-000000000126"
    );

    assert!(
        shots.mismatches.is_empty(),
        "screens differ from docs/screens/flow:\n{}",
        shots.mismatches.join("\n")
    );
}
