//! The headless event loop and the `Send` handle the glue uses from other threads (reader,
//! store, control socket). Its own test binary: Slint keeps one event-loop proxy per process.

#![allow(clippy::unwrap_used)] // tests may unwrap (style.md)

mod ui_common;

use otmetka_app::ui::*;
use otmetka_core::decision::DecisionKind;
use std::time::Duration;
use ui_common::*;

#[test]
fn other_threads_show_screens_and_take_snapshots_through_the_event_loop() {
    let texts = ru();
    let ui = Ui::headless(800, 480).unwrap();
    let remote = ui.remote();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("now.png");
    let view = ScreenView::TapResult(tap(DecisionKind::UnknownCard, &texts));
    let p2 = path.clone();
    let worker = std::thread::spawn(move || {
        remote.show(view);
        let r = remote.snapshot_png(p2, Duration::from_secs(30));
        remote.quit();
        r
    });
    ui.run().unwrap();
    worker.join().unwrap().unwrap();
    // The picture is the refused tap: mostly the red of Theme.tone-bg(refused).
    let png = std::fs::read(&path).unwrap();
    let decoder = png::Decoder::new(std::io::Cursor::new(png));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (800, 480));
    let red = buf
        .chunks(4)
        .filter(|p| p[0] == 0x9b && p[1] == 0 && p[2] == 0)
        .count();
    assert!(red > 800 * 480 / 2, "only {red} red pixels");
}
