//! A real window (feature `window`, winit + software renderer): run under a display, e.g.
//! `xvfb-run -a cargo test -p otmetka-app --features window --test ui_window`. Without the
//! feature this file is empty; without a display the test says so and passes nothing off as
//! checked (it is skipped with a message).

#![allow(clippy::unwrap_used)] // tests may unwrap (style.md)

#[cfg(feature = "window")]
mod ui_common;

#[cfg(feature = "window")]
#[test]
fn a_real_window_shows_the_idle_screen_and_takes_a_snapshot() {
    use otmetka_app::ui::*;
    use std::time::Duration;
    if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
        eprintln!("SKIPPED: no display (run under xvfb-run)");
        return;
    }
    let texts = ui_common::ru();
    let ui = Ui::windowed().unwrap();
    ui.show(&ui_common::screens(&texts)[0]);
    let remote = ui.remote();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("window.png");
    let p2 = path.clone();
    let worker = std::thread::spawn(move || {
        // Give the window time to map and draw once.
        std::thread::sleep(Duration::from_millis(500));
        let r = remote.snapshot_png(p2, Duration::from_secs(30));
        remote.quit();
        r
    });
    ui.run().unwrap();
    worker.join().unwrap().unwrap();
    // The picture shows the idle screen: white background and dark text.
    let decoder = png::Decoder::new(std::io::Cursor::new(std::fs::read(&path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let px = |p: &[u8]| u32::from(p[0]) + u32::from(p[1]) + u32::from(p[2]);
    let white = buf.chunks(4).filter(|p| px(p) > 740).count();
    let dark = buf.chunks(4).filter(|p| px(p) < 60).count();
    println!(
        "window snapshot {}x{}: {white} white, {dark} dark pixels",
        info.width, info.height
    );
    assert!(white > buf.len() / 4 / 2, "mostly white background");
    assert!(dark > 1000, "text drawn");
}
