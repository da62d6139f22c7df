//! Renders every screen and every tap outcome with the headless software renderer and checks
//! what a weak eye and a shaky finger need: contrast measured on the pixels (>= 7:1), the main
//! message at least 1/8 of the height, OCR of each outcome's phrase from a quarter-size picture,
//! touch targets >= 79 px (15 mm on a 7" 800x480 panel), and that the screens' buttons send the
//! right events.
//!
//! Pictures go to a temp dir; with `OTMETKA_UPDATE_SCREENS=1` they are written to
//! `docs/screens/` (committed).

#![allow(clippy::unwrap_used)] // tests may unwrap (style.md)

mod ui_common;

use i_slint_backend_testing::{AccessibleRole, ElementHandle, ElementQuery};
use otmetka_app::texts::{Lang, Texts};
use otmetka_app::ui::*;
use otmetka_core::decision::DecisionKind;
use otmetka_core::event::CloseReason;
use slint::ComponentHandle;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use ui_common::*;

fn out_dir() -> (PathBuf, Option<tempfile::TempDir>) {
    if std::env::var_os("OTMETKA_UPDATE_SCREENS").is_some() {
        let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/screens");
        std::fs::create_dir_all(&d).unwrap();
        (d, None)
    } else {
        let t = tempfile::tempdir().unwrap();
        (t.path().to_path_buf(), Some(t))
    }
}

// ---- contrast (WCAG 2.x relative luminance) ----

fn lin(c: u8) -> f64 {
    let c = f64::from(c) / 255.0;
    if c <= 0.04045 {
        c / 12.92
    } else {
        ((c + 0.055) / 1.055).powf(2.4)
    }
}

#[derive(Debug)]
struct TextBox {
    label: String,
    x: f32,
    y: f32,
    w: f32,
    h: f32,
}

/// Every visible text element: its string and its box in window pixels (scale factor 1).
fn text_boxes(ui: &Ui) -> Vec<TextBox> {
    ElementQuery::from_root(ui.component())
        .match_descendants()
        .match_accessible_role(AccessibleRole::Text)
        .find_all()
        .into_iter()
        .filter_map(|e| {
            let label = e.accessible_label()?.to_string();
            let p = e.absolute_position();
            let s = e.size();
            (!label.trim().is_empty() && s.width > 0.0 && s.height > 0.0).then_some(TextBox {
                label,
                x: p.x,
                y: p.y,
                w: s.width,
                h: s.height,
            })
        })
        .collect()
}

/// The contrast of a text box: the most common colour on the box's edge is the background, the
/// pixel inside farthest from it in contrast is the core of the glyphs. `None` where the box
/// shows no text (clipped away, scrolled out).
fn box_contrast(img: &Rgba, b: &TextBox) -> Option<f64> {
    let x0 = b.x.max(0.0) as u32;
    let y0 = b.y.max(0.0) as u32;
    let x1 = ((b.x + b.w) as u32).min(img.width);
    let y1 = ((b.y + b.h) as u32).min(img.height);
    if x1 <= x0 + 2 || y1 <= y0 + 2 {
        return None;
    }
    let rgb = |x, y| {
        let p = img.at(x, y);
        [p[0], p[1], p[2]]
    };
    let mut edge: HashMap<[u8; 3], u32> = HashMap::new();
    for x in x0..x1 {
        *edge.entry(rgb(x, y0)).or_default() += 1;
        *edge.entry(rgb(x, y1 - 1)).or_default() += 1;
    }
    for y in y0..y1 {
        *edge.entry(rgb(x0, y)).or_default() += 1;
        *edge.entry(rgb(x1 - 1, y)).or_default() += 1;
    }
    let (bg, _) = edge.into_iter().max_by_key(|(_, n)| *n)?;
    // The darkest and the lightest pixel: one of them is the glyphs' core.
    let lut: Vec<f64> = (0..=255u8).map(lin).collect();
    let lum = |p: [u8; 3]| {
        0.2126 * lut[p[0] as usize] + 0.7152 * lut[p[1] as usize] + 0.0722 * lut[p[2] as usize]
    };
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for y in y0..y1 {
        for x in x0..x1 {
            let l = lum(rgb(x, y));
            lo = lo.min(l);
            hi = hi.max(l);
        }
    }
    let lb = lum(bg);
    let ratio = |a: f64, b: f64| (a.max(b) + 0.05) / (a.min(b) + 0.05);
    let best = ratio(lo, lb).max(ratio(hi, lb));
    (best > 1.5).then_some(best)
}

/// Checks every text of the current screen; returns the lowest contrast seen.
fn check_contrast(ui: &Ui, img: &Rgba, what: &str, failures: &mut Vec<String>) -> f64 {
    let mut lowest = f64::INFINITY;
    let boxes = text_boxes(ui);
    assert!(!boxes.is_empty(), "{what}: no text elements found");
    for b in &boxes {
        // Lists scroll vertically; nothing may run off the sides.
        if b.x < -0.5 || b.x + b.w > img.width as f32 + 0.5 {
            failures.push(format!(
                "{what}: {:?} runs off the screen ({:.0}..{:.0} of {})",
                b.label,
                b.x,
                b.x + b.w,
                img.width
            ));
        }
        if let Some(c) = box_contrast(img, b) {
            lowest = lowest.min(c);
            if c < 7.0 {
                failures.push(format!("{what}: {:?} contrast {c:.2}:1 < 7:1", b.label));
            }
        }
    }
    lowest
}

/// No text is cut off where its words matter: each text of the screens (`Label`) says when its
/// layout gave it less room than its words need.
fn check_not_clipped(ui: &Ui, what: &str, failures: &mut Vec<String>) {
    for e in ElementQuery::from_root(ui.component())
        .match_descendants()
        .match_accessible_role(AccessibleRole::Text)
        .find_all()
    {
        if e.accessible_description().as_deref() == Some("clipped") {
            let s = e.size();
            failures.push(format!(
                "{what}: {:?} is cut off (its box is {:.0}x{:.0} px)",
                e.accessible_label().unwrap_or_default(),
                s.width,
                s.height
            ));
        }
    }
}

/// Every text and touch target lies within the screen's height.
fn check_fits_vertically(ui: &Ui, img: &Rgba, what: &str, failures: &mut Vec<String>) {
    let h = img.height as f32 + 0.5;
    for b in text_boxes(ui) {
        if b.y < -0.5 || b.y + b.h > h {
            failures.push(format!(
                "{what}: {:?} runs off the bottom ({:.0}..{:.0})",
                b.label,
                b.y,
                b.y + b.h
            ));
        }
    }
    for t in touch_targets(ui) {
        let (p, s) = (t.absolute_position(), t.size());
        if p.y < -0.5 || p.y + s.height > h {
            failures.push(format!(
                "{what}: button {:?} runs off the bottom ({:.0}..{:.0})",
                t.accessible_label().unwrap_or_default(),
                p.y,
                p.y + s.height
            ));
        }
    }
}

// ---- touch targets ----

/// Every pressable element (buttons, check boxes, text fields), once each: an element that
/// inherits another (Key → BigButton → Rectangle) is one item with several element handles.
fn touch_targets(ui: &Ui) -> Vec<ElementHandle> {
    let mut out: Vec<ElementHandle> = Vec::new();
    let mut seen = Vec::new();
    for role in [
        AccessibleRole::Button,
        AccessibleRole::Checkbox,
        AccessibleRole::TextInput,
    ] {
        for e in ElementQuery::from_root(ui.component())
            .match_descendants()
            .match_accessible_role(role)
            .find_all()
        {
            let (p, s) = (e.absolute_position(), e.size());
            let key = (
                e.accessible_label().unwrap_or_default().to_string(),
                [p.x, p.y, s.width, s.height].map(|v| (v * 4.0) as i64),
            );
            if !seen.contains(&key) {
                seen.push(key);
                out.push(e);
            }
        }
    }
    out
}

fn check_touch(ui: &Ui, what: &str, failures: &mut Vec<String>) -> (usize, f32) {
    let targets = touch_targets(ui);
    let mut smallest = f32::INFINITY;
    for t in &targets {
        let s = t.size();
        smallest = smallest.min(s.width.min(s.height));
        if s.width < 79.0 || s.height < 79.0 {
            failures.push(format!(
                "{what}: touch target {:?} is {:.0}x{:.0} px (< 79 px = 15 mm)",
                t.accessible_label().unwrap_or_default(),
                s.width,
                s.height
            ));
        }
    }
    (targets.len(), smallest)
}

fn press(ui: &Ui, label: &str) {
    let found: Vec<ElementHandle> =
        ElementHandle::find_by_accessible_label(ui.component(), label).collect();
    let target = found
        .iter()
        .find(|e| {
            matches!(
                e.accessible_role(),
                Some(AccessibleRole::Button) | Some(AccessibleRole::Checkbox)
            )
        })
        .unwrap_or_else(|| panic!("no button {label:?}"));
    target.invoke_accessible_default_action();
}

/// The start screen of a day without a schedule: the services' lines at the top.
fn no_schedule(view: &ScreenView) -> ScreenView {
    let ScreenView::StartSession(v) = view else {
        panic!("not the start screen: {}", view.name())
    };
    ScreenView::StartSession(StartSessionView {
        schedule: Vec::new(),
        ..v.clone()
    })
}

fn events(ui: &Ui) -> Vec<UiEvent> {
    ui.events().try_iter().collect()
}

// ---- OCR ----

/// 1/4 of the size by averaging each 4x4 block (what a blurred eye or a far look loses).
fn quarter(img: &Rgba) -> Rgba {
    let (w, h) = (img.width / 4, img.height / 4);
    let mut pixels = Vec::with_capacity((w * h * 4) as usize);
    for y in 0..h {
        for x in 0..w {
            let mut acc = [0u32; 4];
            for dy in 0..4 {
                for dx in 0..4 {
                    let p = img.at(x * 4 + dx, y * 4 + dy);
                    for c in 0..4 {
                        acc[c] += u32::from(p[c]);
                    }
                }
            }
            pixels.extend(acc.iter().map(|a| (a / 16) as u8));
        }
    }
    Rgba {
        width: w,
        height: h,
        pixels,
    }
}

/// Bilinear upscaling: tesseract wants x-heights of ~20 px; this adds no information back.
fn upscale(img: &Rgba, k: u32) -> Rgba {
    let (w, h) = (img.width * k, img.height * k);
    let mut pixels = Vec::with_capacity((w * h * 4) as usize);
    for y in 0..h {
        for x in 0..w {
            let fx = ((x as f32 + 0.5) / k as f32 - 0.5).max(0.0);
            let fy = ((y as f32 + 0.5) / k as f32 - 0.5).max(0.0);
            let (x0, y0) = (fx as u32, fy as u32);
            let (x1, y1) = ((x0 + 1).min(img.width - 1), (y0 + 1).min(img.height - 1));
            let (tx, ty) = (fx - x0 as f32, fy - y0 as f32);
            for c in 0..4 {
                let p = |x, y| f32::from(img.at(x, y)[c]);
                let top = p(x0, y0) * (1.0 - tx) + p(x1, y0) * tx;
                let bot = p(x0, y1) * (1.0 - tx) + p(x1, y1) * tx;
                pixels.push((top * (1.0 - ty) + bot * ty).round() as u8);
            }
        }
    }
    Rgba {
        width: w,
        height: h,
        pixels,
    }
}

fn tesseract(png: &Path) -> String {
    let out = Command::new("tesseract")
        .arg(png)
        .arg("stdout")
        .args(["-l", "rus", "--psm", "11"])
        .output()
        .expect("tesseract (Debian: tesseract-ocr tesseract-ocr-rus)");
    assert!(out.status.success(), "tesseract failed: {:?}", out);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn normalise(s: &str) -> Vec<char> {
    let mut out = Vec::new();
    let mut space = true;
    for c in s.to_lowercase().replace('ё', "е").chars() {
        if c.is_alphanumeric() {
            out.push(c);
            space = false;
        } else if !space {
            out.push(' ');
            space = true;
        }
    }
    while out.last() == Some(&' ') {
        out.pop();
    }
    out
}

/// The smallest edit distance between `needle` and any substring of `hay` (Sellers).
fn approx_find(needle: &[char], hay: &[char]) -> usize {
    let mut prev: Vec<usize> = (0..=needle.len()).collect();
    let mut best = needle.len();
    for &h in hay {
        let mut cur = vec![0; needle.len() + 1];
        for (i, &n) in needle.iter().enumerate() {
            let sub = prev[i] + usize::from(n != h);
            cur[i + 1] = sub.min(prev[i + 1] + 1).min(cur[i] + 1);
        }
        best = best.min(cur[needle.len()]);
        prev = cur;
    }
    best
}

// ---- the tests ----

#[test]
fn every_screen_and_outcome_renders_with_aaa_contrast() {
    let (dir, _keep) = out_dir();
    let texts = ru();
    let ui = Ui::headless(800, 480).unwrap();
    let mut failures = Vec::new();
    let mut lowest = f64::INFINITY;
    let mut count = 0;
    for (w, h) in SIZES {
        ui.set_size(w, h);
        let suffix = format!("{w}x{h}");
        let mut shoot = |ui: &Ui, name: &str, failures: &mut Vec<String>| {
            let img = ui.snapshot_rgba().unwrap();
            assert_eq!((img.width, img.height), (w, h));
            std::fs::write(
                dir.join(format!("{name}_{suffix}.png")),
                img.to_png().unwrap(),
            )
            .unwrap();
            lowest = lowest.min(check_contrast(
                ui,
                &img,
                &format!("{name} {suffix}"),
                failures,
            ));
            // Screens without a scrolling list must fit: nothing below the bottom edge.
            let scrolls = [
                "start_session",
                "in_session",
                "end_session",
                "diagnostics",
                "tap_override",
            ];
            if !scrolls.iter().any(|s| name.starts_with(s)) {
                check_fits_vertically(ui, &img, &format!("{name} {suffix}"), failures);
            }
            check_not_clipped(ui, &format!("{name} {suffix}"), failures);
            // The end screen's figure of units stands outside its scrolling columns: it must
            // be in view, above the warning and the head count, and the confirmation on the
            // screen (the screen scrolls, so the general check skips it).
            if name.starts_with("end_session") {
                let boxes = text_boxes(ui);
                let units = boxes
                    .iter()
                    .find(|b| b.label.starts_with("В журнал будет отправлено"))
                    .expect("the units line");
                let below = boxes
                    .iter()
                    .filter(|b| b.y > units.y && b.x < units.x + units.w && b.x + b.w > units.x)
                    .filter(|b| b.label.starts_with("Меньше минимума") || b.label == "Было:")
                    .map(|b| b.y)
                    .fold(f32::INFINITY, f32::min);
                for t in touch_targets(ui) {
                    let (p, sz) = (t.absolute_position(), t.size());
                    if t.accessible_label().as_deref() == Some("Подтвердить")
                        && p.y + sz.height > h as f32 + 0.5
                    {
                        failures.push(format!(
                            "{name} {suffix}: «Подтвердить» runs off the bottom ({:.0})",
                            p.y + sz.height
                        ));
                    }
                }
                if units.y + units.h > below.min(h as f32) + 0.5 {
                    failures.push(format!(
                        "{name} {suffix}: the units line ends at {:.0}, under what is below it at {:.0}",
                        units.y + units.h,
                        below
                    ));
                }
            }
            count += 1;
            img
        };
        for view in screens(&texts) {
            ui.show(&view);
            shoot(&ui, view.name(), &mut failures);
        }
        for kind in DecisionKind::ALL {
            let v = tap(kind, &texts);
            let headline = v.headline.clone();
            ui.show(&ScreenView::TapResult(v));
            shoot(&ui, &format!("tap_{}", kind.as_str()), &mut failures);
            // The main message is at least 1/8 of the screen height.
            let b = text_boxes(&ui)
                .into_iter()
                .find(|b| b.label == headline)
                .expect("headline element");
            if b.h < h as f32 / 8.0 {
                failures.push(format!(
                    "tap_{} {suffix}: headline {:.0} px high < 1/8 of {h}",
                    kind.as_str(),
                    b.h
                ));
            }
        }
        // The overlays (reasons) and the variants.
        ui.show(&ScreenView::TapResult(tap(DecisionKind::GroupFull, &texts)));
        press(&ui, "Разрешить (инструктор)");
        shoot(&ui, "tap_override_reasons", &mut failures);
        let views = screens(&texts);
        // The labour session chosen: the briefing's check box above «Начать».
        ui.show(&views[3]);
        press(&ui, "11:00 Мастерская");
        shoot(&ui, "start_session_briefing", &mut failures);
        ui.show(&no_schedule(&views[3]));
        press(&ui, "Мероприятие: Кружковая работа");
        shoot(&ui, "start_session_event", &mut failures);
        ui.show(&views[5]);
        press(&ui, "Подтвердить");
        shoot(&ui, "end_session_reasons", &mut failures);
        let views = screens(&texts);
        for (settings, tag) in [
            (
                UiSettings {
                    large_text: true,
                    ..UiSettings::default()
                },
                "large",
            ),
            (
                UiSettings {
                    dark: true,
                    ..UiSettings::default()
                },
                "dark",
            ),
        ] {
            ui.set_settings(settings);
            for v in [&views[0], &views[4], &views[5], &views[6]] {
                ui.show(v);
                shoot(&ui, &format!("{}_{tag}", v.name()), &mut failures);
            }
            for kind in [
                DecisionKind::Accepted,
                DecisionKind::AlreadyCheckedIn,
                DecisionKind::GroupFull,
                DecisionKind::UnknownCard,
            ] {
                ui.show(&ScreenView::TapResult(tap(kind, &texts)));
                shoot(&ui, &format!("tap_{}_{tag}", kind.as_str()), &mut failures);
            }
            ui.set_settings(UiSettings::default());
        }
        // English.
        let en = Texts::bundled(Lang::En);
        ui.set_settings(UiSettings {
            lang: Lang::En,
            ..UiSettings::default()
        });
        let en_views = screens(&en);
        ui.show(&en_views[0]);
        shoot(&ui, "idle_en", &mut failures);
        assert!(
            text_boxes(&ui)
                .iter()
                .any(|b| b.label == "Please tap your card"),
            "English idle screen"
        );
        ui.show(&ScreenView::TapResult(tap(DecisionKind::Accepted, &en)));
        shoot(&ui, "tap_accepted_en", &mut failures);
        ui.set_settings(UiSettings::default());
    }
    println!(
        "rendered {count} pictures into {}; lowest text contrast {lowest:.2}:1",
        dir.display()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn ocr_reads_each_outcome_from_a_quarter_size_picture() {
    let texts = ru();
    let ui = Ui::headless(800, 480).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for kind in DecisionKind::ALL {
        let v = tap(kind, &texts);
        let expected = v.headline.clone();
        ui.show(&ScreenView::TapResult(v));
        // 800x480 -> 200x120 (box filter), then back up x4 (bilinear) for tesseract's sake.
        let small = quarter(&ui.snapshot_rgba().unwrap());
        let big = upscale(&small, 4);
        let path = tmp.path().join(format!("{}.png", kind.as_str()));
        std::fs::write(&path, big.to_png().unwrap()).unwrap();
        let read = tesseract(&path);
        let needle = normalise(&expected);
        let dist = approx_find(&needle, &normalise(&read));
        // At most one wrong letter in six.
        let allowed = (needle.len() / 6).max(1);
        println!(
            "{:<20} expected {expected:?}: edit distance {dist} (allowed {allowed}); read {:?}",
            kind.as_str(),
            read.split_whitespace().collect::<Vec<_>>().join(" ")
        );
        if dist > allowed {
            failures.push(format!(
                "{}: {expected:?} not read (distance {dist})",
                kind.as_str()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn touch_targets_are_at_least_15_mm_at_800x480() {
    let texts = ru();
    let ui = Ui::headless(800, 480).unwrap();
    let mut failures = Vec::new();
    let mut total = 0;
    let mut smallest = f32::INFINITY;
    let mut check = |ui: &Ui, what: &str, failures: &mut Vec<String>| {
        let (n, s) = check_touch(ui, what, failures);
        total += n;
        smallest = smallest.min(s);
    };
    for settings in [
        UiSettings::default(),
        UiSettings {
            large_text: true,
            ..UiSettings::default()
        },
    ] {
        ui.set_settings(settings);
        for view in screens(&texts) {
            ui.show(&view);
            check(&ui, view.name(), &mut failures);
        }
        ui.show(&ScreenView::TapResult(tap(DecisionKind::GroupFull, &texts)));
        check(&ui, "tap_group_full", &mut failures);
        press(&ui, "Разрешить (инструктор)");
        check(&ui, "override reasons", &mut failures);
        ui.show(&screens(&texts)[3]);
        press(&ui, "11:00 Мастерская");
        check(&ui, "start session with briefing", &mut failures);
        ui.show(&screens(&texts)[4]);
        press(&ui, "Иван Степанович");
        check(&ui, "manual check-in reasons", &mut failures);
    }
    println!("{total} touch targets checked; smallest side {smallest:.0} px");
    assert!(total > 40, "too few touch targets found: {total}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn buttons_send_the_right_events() {
    let texts = ru();
    let ui = Ui::headless(800, 480).unwrap();
    let s = screens(&texts);

    ui.show(&s[0]);
    press(&ui, "Инструктор");
    assert_eq!(events(&ui), vec![UiEvent::InstructorMenu]);

    ui.show(&s[2]);
    for k in ["1", "9", "7", "3"] {
        press(&ui, k);
    }
    press(&ui, "Войти");
    assert_eq!(events(&ui), vec![UiEvent::SignInPin("1973".into())]);

    // A labour session cannot start before the safety briefing is ticked.
    ui.show(&s[3]);
    press(&ui, "11:00 Мастерская");
    press(&ui, "Начать");
    assert_eq!(events(&ui), vec![]);
    press(&ui, "Инструктаж по технике безопасности проведён");
    press(&ui, "Начать");
    assert_eq!(
        events(&ui),
        vec![UiEvent::StartSession {
            service: "000".into(),
            group: "g2".into(),
            safety_briefing: true,
            as_event: false,
        }]
    );
    // A club that may be held as a mass event (002 l.1199): the event's line opens it so (a
    // day without a schedule, so that the line is on the screen, not scrolled below it).
    ui.show(&no_schedule(&s[3]));
    press(&ui, "Мероприятие: Кружковая работа");
    press(&ui, "Начать");
    assert_eq!(
        events(&ui),
        vec![UiEvent::StartSession {
            service: "002-1.7.1".into(),
            group: String::new(),
            safety_briefing: false,
            as_event: true,
        }]
    );

    ui.show(&s[4]);
    press(&ui, "Отменить отметку");
    press(&ui, "Иван Степанович");
    press(&ui, "Забыл карту");
    assert_eq!(
        events(&ui),
        vec![
            UiEvent::Undo {
                checkin_id: "c3".into()
            },
            UiEvent::ManualCheckIn {
                recipient: "r4".into(),
                reason: ManualReason::ForgotCard
            }
        ]
    );

    ui.show(&ScreenView::TapResult(tap(DecisionKind::NoConsent, &texts)));
    press(&ui, "Разрешить (инструктор)");
    press(&ui, "Согласие есть на бумаге");
    assert_eq!(
        events(&ui),
        vec![UiEvent::Override {
            reason: OverrideReason::PaperConsent
        }]
    );

    // Below the group's minimum and a head count above the check-ins: «Подтвердить» asks why
    // before anything is sent; «Отмена» sends nothing.
    ui.show(&s[5]);
    press(&ui, "Больше");
    press(&ui, "Пётр Петрович");
    press(&ui, "Подтвердить");
    press(&ui, "Отмена");
    assert_eq!(events(&ui), vec![]);
    press(&ui, "Подтвердить");
    press(&ui, "Кто-то был без карты");
    assert_eq!(
        events(&ui),
        vec![UiEvent::EndSession {
            head_count: 4,
            notes: vec![
                ("r1".into(), ParticipantNote::LeftEarly),
                ("r2".into(), ParticipantNote::LeftEarly),
                ("r3".into(), ParticipantNote::None),
            ],
            reason: Some(CloseReason::NoCard),
        }]
    );
    // A group big enough and the head count as counted: closed at once, no reason asked.
    let ScreenView::EndSession(mut full) = s[5].clone() else {
        panic!("s[5] is the end of a session")
    };
    full.below_min = None;
    ui.show(&s[6]);
    ui.show(&ScreenView::EndSession(full));
    press(&ui, "Подтвердить");
    assert_eq!(
        events(&ui),
        vec![UiEvent::EndSession {
            head_count: 3,
            notes: vec![
                ("r1".into(), ParticipantNote::None),
                ("r2".into(), ParticipantNote::LeftEarly),
                ("r3".into(), ParticipantNote::None),
            ],
            reason: None,
        }]
    );

    ui.show(&s[6]);
    press(&ui, "Плохо");
    assert_eq!(events(&ui), vec![UiEvent::Satisfaction(Satisfaction::Bad)]);

    ui.show(&s[8]);
    press(&ui, "День вперёд");
    press(&ui, "День вперёд");
    press(&ui, "День назад");
    press(&ui, "Дата верна");
    assert_eq!(
        events(&ui),
        vec![UiEvent::ConfirmDate {
            date: chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()
        }]
    );

    ui.show(&s[9]);
    press(&ui, "Тёмная тема");
    press(&ui, "Назад");
    assert_eq!(
        events(&ui),
        vec![
            UiEvent::SettingsChanged(UiSettings {
                dark: true,
                ..UiSettings::default()
            }),
            UiEvent::Back
        ]
    );
    assert!(ui.settings().dark);

    ui.show(&s[10]);
    press(&ui, "Начать всё равно");
    press(&ui, "Отмена");
    assert_eq!(events(&ui), vec![UiEvent::ConfirmGroupCap, UiEvent::Back]);

    // The simulated reader of the desktop demo: F1..F9 are nine demo cards.
    ui.show(&s[0]);
    for key in [slint::platform::Key::F1, slint::platform::Key::F9] {
        let text: slint::SharedString = key.into();
        ui.component()
            .window()
            .dispatch_event(slint::platform::WindowEvent::KeyPressed { text: text.clone() });
        ui.component()
            .window()
            .dispatch_event(slint::platform::WindowEvent::KeyReleased { text });
    }
    assert_eq!(
        events(&ui),
        vec![UiEvent::DemoCard(1), UiEvent::DemoCard(9)]
    );
}

#[test]
fn rendering_speed() {
    // Figures, not assertions: how long the software renderer takes for a full screen here.
    let texts = ru();
    let ui = Ui::headless(800, 480).unwrap();
    for (w, h) in SIZES {
        ui.set_size(w, h);
        let views: Vec<ScreenView> = DecisionKind::ALL
            .iter()
            .map(|k| ScreenView::TapResult(tap(*k, &texts)))
            .chain(screens(&texts))
            .collect();
        let t0 = std::time::Instant::now();
        let rounds = 3;
        for _ in 0..rounds {
            for v in &views {
                ui.show(v);
                ui.snapshot_rgba().unwrap();
            }
        }
        let n = rounds * views.len();
        println!(
            "show + full render {w}x{h}: {:.1} ms per screen ({n} screens, {} build)",
            t0.elapsed().as_secs_f64() * 1000.0 / n as f64,
            if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            }
        );
    }
}
