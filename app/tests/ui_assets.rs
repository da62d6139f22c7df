//! Checks on the UI's files: colours only in the theme, every screen label translated, every
//! decision kind with Russian text and its own audible clip.

#![allow(clippy::unwrap_used)] // tests may unwrap (style.md)

use otmetka_app::texts::{Lang, Texts, parse_po};
use otmetka_core::decision::{DecisionKind, Tone};
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn slint_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            slint_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "slint") {
            out.push(p);
        }
    }
}

/// Colour literals in Slint source: `#rgb`, `#rrggbb`, `#rrggbbaa`, `rgb(`, `rgba(`, `hsv(`.
/// Comments are skipped.
fn colour_literals(src: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (n, line) in src.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        let b = code.as_bytes();
        for (i, _) in code.match_indices('#') {
            let hex = b[i + 1..]
                .iter()
                .take_while(|c| c.is_ascii_hexdigit())
                .count();
            let ends = b
                .get(i + 1 + hex)
                .is_none_or(|c| !c.is_ascii_alphanumeric());
            if matches!(hex, 3 | 4 | 6 | 8) && ends {
                found.push(format!("line {}: {}", n + 1, line.trim()));
            }
        }
        for f in ["rgb(", "rgba(", "hsv(", "Colors."] {
            if code.contains(f) {
                found.push(format!("line {}: {}", n + 1, line.trim()));
            }
        }
    }
    found
}

#[test]
fn colour_literals_live_only_in_the_theme() {
    // The detector itself.
    assert_eq!(colour_literals("x: #fff;\ny: #a1b2c3;").len(), 2);
    assert_eq!(colour_literals("c: rgb(1, 2, 3);").len(), 1);
    assert!(colour_literals("// #ffffff in a comment\nid: #tag-not;").is_empty());

    let mut files = Vec::new();
    slint_files(&root().join("app/ui"), &mut files);
    assert!(files.len() >= 15, "found only {} .slint files", files.len());
    let mut bad = Vec::new();
    let mut theme_has = 0;
    for f in &files {
        let src = std::fs::read_to_string(f).unwrap();
        let lits = colour_literals(&src);
        if f.file_name().is_some_and(|n| n == "theme.slint") {
            theme_has = lits.len();
        } else {
            bad.extend(lits.into_iter().map(|l| format!("{}: {l}", f.display())));
        }
    }
    assert!(theme_has > 10, "the theme should hold the palette");
    assert!(
        bad.is_empty(),
        "colour literals outside theme.slint:\n{}",
        bad.join("\n")
    );
}

/// The strings of `@tr("…")` in a Slint source.
fn tr_strings(src: &str) -> Vec<String> {
    src.match_indices("@tr(\"")
        .filter_map(|(i, m)| {
            let rest = &src[i + m.len()..];
            rest.find('"').map(|end| rest[..end].to_string())
        })
        .collect()
}

#[test]
fn every_screen_label_has_an_english_translation() {
    let po =
        std::fs::read_to_string(root().join("config/i18n/en/LC_MESSAGES/otmetka-app.po")).unwrap();
    let entries = parse_po(&po).unwrap();
    let mut files = Vec::new();
    slint_files(&root().join("app/ui"), &mut files);
    let mut missing = Vec::new();
    let mut n = 0;
    for f in files {
        for s in tr_strings(&std::fs::read_to_string(&f).unwrap()) {
            n += 1;
            let ok = entries
                .iter()
                .any(|e| e.context.is_none() && e.id == s && e.strs.iter().any(|t| !t.is_empty()));
            if !ok {
                missing.push(format!("{}: {s:?}", f.display()));
            }
        }
    }
    assert!(n > 40, "found only {n} @tr strings");
    assert!(missing.is_empty(), "untranslated:\n{}", missing.join("\n"));
}

#[test]
fn every_decision_kind_has_russian_text() {
    let t = Texts::bundled(Lang::Ru);
    for kind in DecisionKind::ALL {
        let d = t.decision(kind);
        for s in [&d.headline, &d.reason, &d.voice] {
            assert!(
                s.chars().any(|c| ('\u{400}'..='\u{4ff}').contains(&c)),
                "{kind:?}: {s:?} is not Russian"
            );
        }
    }
}

/// `sox FILE -n stat` → (length in seconds, RMS amplitude).
fn sox_stat(path: &Path) -> (f64, f64) {
    let out = Command::new("sox")
        .arg(path)
        .args(["-n", "stat"])
        .output()
        .expect("sox (Debian: sox)");
    let text = String::from_utf8_lossy(&out.stderr);
    let field = |name: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split(':').nth(1))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("{}: no {name} in {text}", path.display()))
    };
    (field("Length (seconds)"), field("RMS     amplitude"))
}

#[test]
fn every_decision_kind_has_its_own_audible_clip() {
    let sounds = root().join("config/sounds");
    for lang in ["ru", "en"] {
        let mut seen = Vec::new();
        // Every decision, and the prompts that are not decisions (card enrolment, the check-out
        // question: `prompts` in config/sounds/make.sh).
        let clips = DecisionKind::ALL.iter().map(|k| k.as_str()).chain([
            "enrol_done",
            "enrol_in_use",
            "checkout_question",
        ]);
        for clip in clips {
            let p = sounds.join(lang).join(format!("{clip}.wav"));
            let (len, rms) = sox_stat(&p);
            println!("{lang}/{clip:<20} {len:.2} s  RMS {rms:.3}");
            assert!(len > 0.3, "{}: {len} s is too short", p.display());
            assert!(rms > 0.02, "{}: RMS {rms} is (nearly) silent", p.display());
            let bytes = std::fs::read(&p).unwrap();
            assert!(
                !seen.contains(&bytes),
                "{}: same clip as another kind",
                p.display()
            );
            seen.push(bytes);
        }
    }
    for tone in [
        Tone::Accepted,
        Tone::Notice,
        Tone::Warning,
        Tone::Refused,
        Tone::Error,
    ] {
        let p = otmetka_app::sound::tone_clip_path(&sounds, tone);
        let (len, rms) = sox_stat(&p);
        assert!(
            len > 0.1 && rms > 0.02,
            "{}: {len} s RMS {rms}",
            p.display()
        );
    }
}
