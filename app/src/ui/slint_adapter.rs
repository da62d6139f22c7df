//! The only code that touches Slint types: the kiosk window, the headless platform, snapshots,
//! and the mapping of [`ScreenView`] → `KioskApi` properties and `KioskApi` callbacks →
//! [`UiEvent`].
//!
//! # How the glue uses it
//!
//! ```no_run
//! use otmetka_app::ui::{Ui, ScreenView, IdleView, UiEvent};
//! // Headless (servers, tests, `./run demo` without a display): software renderer, no window.
//! let ui = Ui::headless(800, 480)?;
//! // …or a real window (feature `window`: winit; feature `kms`: the Pi's DRM/KMS):
//! // let ui = Ui::windowed()?;
//! ui.show(&ScreenView::Idle(IdleView::default()));
//! ui.snapshot_png(std::path::Path::new("/tmp/idle.png"))?;
//! // Events: a plain std channel; `take_events` hands the receiver to another thread.
//! while let Ok(ev) = ui.events().try_recv() {
//!     match ev { UiEvent::SignInPin(pin) => { let _ = pin; } _ => {} }
//! }
//! // From other threads (reader, store, control socket): a `Send` handle that posts into the
//! // UI thread's event loop; `ui.run()` runs that loop (a window's, or a headless one) until
//! // `UiRemote::quit`.
//! let remote = ui.remote();
//! std::thread::spawn(move || {
//!     remote.show(ScreenView::Idle(IdleView::default()));
//!     let _ = remote.snapshot_png("/tmp/now.png".into(), std::time::Duration::from_secs(5));
//!     remote.quit();
//! });
//! ui.run()?;
//! # Ok::<(), otmetka_app::ui::UiError>(())
//! ```
//!
//! Slint's platform can be set once per process: [`Ui::headless`] installs the headless platform
//! the first time and reuses it afterwards (several `Ui`s one after the other are fine, on the
//! thread that made the first); [`Ui::windowed`] uses the backend the build has (winit or
//! linuxkms) and cannot follow a headless `Ui` in the same process.

#![allow(missing_debug_implementations)] // generated Slint types have no Debug

use super::view::*;
use crate::texts::{Lang, Texts};
use chrono::{Days, NaiveDate};
use otmetka_core::decision::Tone;
use otmetka_core::event::CloseReason;
use slint::platform::software_renderer::{MinimalSoftwareWindow, RepaintBufferType};
use slint::platform::{EventLoopProxy, Platform, WindowAdapter};
use slint::{ComponentHandle, ModelRc, SharedString, VecModel};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::time::Duration;

// The code Slint generates from app/ui uses unsafe internally (its item-tree vtables); it is
// machine-made and confined to this module.
#[allow(
    clippy::all,
    clippy::unwrap_used,
    clippy::todo,
    clippy::dbg_macro,
    unused,
    missing_docs,
    unreachable_pub,
    unsafe_code
)]
mod generated {
    slint::include_modules!();
}
use generated as g;

/// What can go wrong with the screens.
#[derive(Debug, thiserror::Error)]
pub enum UiError {
    #[error("display platform: {0}")]
    Platform(String),
    #[error("snapshot: {0}")]
    Snapshot(String),
    #[error("writing {path}: {why}")]
    Write { path: PathBuf, why: String },
    #[error("the UI thread did not answer in time")]
    Timeout,
}

/// A rendered screen: `width * height` RGBA pixels, row by row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rgba {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
}

impl Rgba {
    /// The pixel at (x, y) as [r, g, b, a].
    pub fn at(&self, x: u32, y: u32) -> [u8; 4] {
        let i = ((y * self.width + x) * 4) as usize;
        [
            self.pixels[i],
            self.pixels[i + 1],
            self.pixels[i + 2],
            self.pixels[i + 3],
        ]
    }

    /// Encodes as PNG.
    pub fn to_png(&self) -> Result<Vec<u8>, UiError> {
        let mut out = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut out, self.width, self.height);
            enc.set_color(png::ColorType::Rgba);
            enc.set_depth(png::BitDepth::Eight);
            let mut w = enc
                .write_header()
                .map_err(|e| UiError::Snapshot(e.to_string()))?;
            w.write_image_data(&self.pixels)
                .map_err(|e| UiError::Snapshot(e.to_string()))?;
        }
        Ok(out)
    }
}

// ---------------------------------------------------------------- headless platform

type Job = Box<dyn FnOnce() + Send>;

#[derive(Default)]
struct LoopState {
    queue: Mutex<VecDeque<Job>>,
    wake: Condvar,
    quit: AtomicBool,
}

struct HeadlessPlatform {
    state: Arc<LoopState>,
    /// Slint keeps one event-loop proxy per process (the first platform's); platforms of other
    /// threads (tests) run without one.
    has_proxy: bool,
}

thread_local! {
    // The window the headless platform made last: `Ui::headless` picks it up after creating the
    // component (the platform itself is owned by Slint).
    static LAST_WINDOW: RefCell<Option<Rc<MinimalSoftwareWindow>>> = const { RefCell::new(None) };
    // The live UI of this thread, for jobs posted by `UiRemote`.
    static CURRENT: RefCell<Weak<Inner>> = const { RefCell::new(Weak::new()) };
}

static PROXY_TAKEN: AtomicBool = AtomicBool::new(false);

thread_local! {
    static HEADLESS_INSTALLED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

impl Platform for HeadlessPlatform {
    fn create_window_adapter(&self) -> Result<Rc<dyn WindowAdapter>, slint::PlatformError> {
        let w = MinimalSoftwareWindow::new(RepaintBufferType::NewBuffer);
        LAST_WINDOW.with(|c| *c.borrow_mut() = Some(w.clone()));
        Ok(w)
    }

    fn run_event_loop(&self) -> Result<(), slint::PlatformError> {
        loop {
            slint::platform::update_timers_and_animations();
            let jobs: Vec<Job> = match self.state.queue.lock() {
                Ok(mut q) => q.drain(..).collect(),
                Err(_) => return Err(slint::PlatformError::Other("event queue poisoned".into())),
            };
            for job in jobs {
                job();
            }
            if self.state.quit.swap(false, Ordering::SeqCst) {
                return Ok(());
            }
            // Sleep until the next timer or a posted job, at most half a second (bounded).
            let wait = slint::platform::duration_until_next_timer_update()
                .unwrap_or(Duration::from_millis(500))
                .min(Duration::from_millis(500));
            if let Ok(q) = self.state.queue.lock()
                && q.is_empty()
                && !self.state.quit.load(Ordering::SeqCst)
            {
                let _ = self.state.wake.wait_timeout(q, wait);
            }
        }
    }

    fn new_event_loop_proxy(&self) -> Option<Box<dyn EventLoopProxy>> {
        if !self.has_proxy {
            return None;
        }
        Some(Box::new(HeadlessProxy {
            state: self.state.clone(),
        }))
    }
}

struct HeadlessProxy {
    state: Arc<LoopState>,
}

impl EventLoopProxy for HeadlessProxy {
    fn quit_event_loop(&self) -> Result<(), slint::EventLoopError> {
        self.state.quit.store(true, Ordering::SeqCst);
        self.state.wake.notify_all();
        Ok(())
    }

    fn invoke_from_event_loop(&self, event: Job) -> Result<(), slint::EventLoopError> {
        self.state
            .queue
            .lock()
            .map_err(|_| slint::EventLoopError::EventLoopTerminated)?
            .push_back(event);
        self.state.wake.notify_all();
        Ok(())
    }
}

// ---------------------------------------------------------------- the UI

struct AdapterState {
    texts: Texts,
    settings: UiSettings,
    last: Option<ScreenView>,
    absent_all: Vec<PersonLine>,
    notes: Vec<(PersonLine, ParticipantNote)>,
    date: Option<NaiveDate>,
    tx: mpsc::Sender<UiEvent>,
}

struct Inner {
    window: g::KioskWindow,
    state: RefCell<AdapterState>,
}

/// The kiosk's screens. Not `Send`: it lives on the UI thread; other threads use [`UiRemote`].
pub struct Ui {
    inner: Rc<Inner>,
    events: mpsc::Receiver<UiEvent>,
    headless: Option<Rc<MinimalSoftwareWindow>>,
}

impl std::fmt::Debug for Ui {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ui")
            .field("headless", &self.headless.is_some())
            .finish()
    }
}

impl Ui {
    /// Screens rendered by the software renderer into memory, `width` × `height` pixels; no
    /// display needed. Installs the headless platform on first use.
    pub fn headless(width: u32, height: u32) -> Result<Ui, UiError> {
        if !HEADLESS_INSTALLED.get() {
            slint::platform::set_platform(Box::new(HeadlessPlatform {
                state: Arc::new(LoopState::default()),
                has_proxy: !PROXY_TAKEN.swap(true, Ordering::SeqCst),
            }))
            .map_err(|e| UiError::Platform(e.to_string()))?;
            HEADLESS_INSTALLED.set(true);
        }
        let window = g::KioskWindow::new().map_err(|e| UiError::Platform(e.to_string()))?;
        let sw = LAST_WINDOW
            .with(|c| c.borrow_mut().take())
            .ok_or_else(|| UiError::Platform("the headless platform made no window".into()))?;
        let ui = Ui::wrap(window, Some(sw))?;
        ui.set_size(width, height);
        ui.inner
            .window
            .show()
            .map_err(|e| UiError::Platform(e.to_string()))?;
        Ok(ui)
    }

    /// A real window through the backend this build has (feature `window`: winit; feature
    /// `kms`: linuxkms). Call [`Ui::run`] to show it and process input.
    pub fn windowed() -> Result<Ui, UiError> {
        let window = g::KioskWindow::new().map_err(|e| UiError::Platform(e.to_string()))?;
        let ui = Ui::wrap(window, None)?;
        ui.inner
            .window
            .show()
            .map_err(|e| UiError::Platform(e.to_string()))?;
        Ok(ui)
    }

    fn wrap(
        window: g::KioskWindow,
        headless: Option<Rc<MinimalSoftwareWindow>>,
    ) -> Result<Ui, UiError> {
        let (tx, rx) = mpsc::channel();
        let inner = Rc::new(Inner {
            window,
            state: RefCell::new(AdapterState {
                texts: Texts::bundled(Lang::Ru),
                settings: UiSettings::default(),
                last: None,
                absent_all: Vec::new(),
                notes: Vec::new(),
                date: None,
                tx,
            }),
        });
        connect_callbacks(&inner);
        CURRENT.with(|c| *c.borrow_mut() = Rc::downgrade(&inner));
        let ui = Ui {
            inner,
            events: rx,
            headless,
        };
        ui.set_settings(UiSettings::default());
        Ok(ui)
    }

    /// Shows a screen.
    pub fn show(&self, view: &ScreenView) {
        self.inner.apply(view);
    }

    /// Applies display settings: large text, dark, language (Russian is the default).
    pub fn set_settings(&self, settings: UiSettings) {
        self.inner.set_settings(settings);
    }

    /// The current display settings.
    pub fn settings(&self) -> UiSettings {
        self.inner.state.borrow().settings
    }

    /// Resizes the (headless) window; a real window is sized by its backend.
    pub fn set_size(&self, width: u32, height: u32) {
        self.inner
            .window
            .window()
            .set_size(slint::PhysicalSize::new(width, height));
        let api = self.inner.window.global::<g::Theme>();
        api.set_screen_width(width as f32);
        api.set_screen_height(height as f32);
    }

    /// The events from the screens. [`Ui::take_events`] moves the receiver to another thread.
    pub fn events(&self) -> &mpsc::Receiver<UiEvent> {
        &self.events
    }

    /// Takes the event receiver; later calls (and `events`) get a receiver that stays empty.
    pub fn take_events(&mut self) -> mpsc::Receiver<UiEvent> {
        std::mem::replace(&mut self.events, mpsc::channel().1)
    }

    /// Renders the current screen.
    pub fn snapshot_rgba(&self) -> Result<Rgba, UiError> {
        self.inner.snapshot()
    }

    /// Renders the current screen into a PNG file.
    pub fn snapshot_png(&self, path: &Path) -> Result<(), UiError> {
        let png = self.snapshot_rgba()?.to_png()?;
        std::fs::write(path, png).map_err(|e| UiError::Write {
            path: path.to_path_buf(),
            why: e.to_string(),
        })
    }

    /// A `Send` handle for other threads.
    pub fn remote(&self) -> UiRemote {
        UiRemote { _private: () }
    }

    /// Runs the event loop (the window's, or the headless one) until [`UiRemote::quit`] or the
    /// window closes.
    pub fn run(&self) -> Result<(), UiError> {
        if self.headless.is_some() {
            slint::run_event_loop().map_err(|e| UiError::Platform(e.to_string()))
        } else {
            self.inner
                .window
                .run()
                .map_err(|e| UiError::Platform(e.to_string()))
        }
    }

    /// The Slint component, for the element-tree tests (touch targets).
    #[doc(hidden)]
    pub fn component(&self) -> &g::KioskWindow {
        &self.inner.window
    }
}

/// A handle to the UI from any thread: posts into the UI thread's event loop.
#[derive(Debug, Clone)]
pub struct UiRemote {
    _private: (),
}

impl UiRemote {
    /// Shows a screen (asynchronously, on the UI thread).
    pub fn show(&self, view: ScreenView) {
        let _ = slint::invoke_from_event_loop(move || {
            if let Some(inner) = CURRENT.with(|c| c.borrow().upgrade()) {
                inner.apply(&view);
            }
        });
    }

    /// Applies display settings (asynchronously).
    pub fn set_settings(&self, settings: UiSettings) {
        let _ = slint::invoke_from_event_loop(move || {
            if let Some(inner) = CURRENT.with(|c| c.borrow().upgrade()) {
                inner.set_settings(settings);
            }
        });
    }

    /// Renders the current screen into a PNG file and waits for it, at most `limit` (the
    /// control socket's `screenshot FILE.png`).
    pub fn snapshot_png(&self, path: PathBuf, limit: Duration) -> Result<(), UiError> {
        let (tx, rx) = mpsc::channel();
        slint::invoke_from_event_loop(move || {
            let r = CURRENT
                .with(|c| c.borrow().upgrade())
                .ok_or_else(|| UiError::Snapshot("no UI".into()))
                .and_then(|inner| inner.snapshot())
                .and_then(|img| img.to_png())
                .and_then(|png| {
                    std::fs::write(&path, png).map_err(|e| UiError::Write {
                        path: path.clone(),
                        why: e.to_string(),
                    })
                });
            let _ = tx.send(r);
        })
        .map_err(|e| UiError::Platform(e.to_string()))?;
        rx.recv_timeout(limit).map_err(|_| UiError::Timeout)?
    }

    /// Renders the current screen (on the UI thread, as a frame would be) and returns its pixels;
    /// waits at most `limit`. `ctl frame` and the tap-to-pixels benchmark use it.
    pub fn render(&self, limit: Duration) -> Result<Rgba, UiError> {
        let (tx, rx) = mpsc::channel();
        slint::invoke_from_event_loop(move || {
            let r = CURRENT
                .with(|c| c.borrow().upgrade())
                .ok_or_else(|| UiError::Snapshot("no UI".into()))
                .and_then(|inner| inner.snapshot());
            let _ = tx.send(r);
        })
        .map_err(|e| UiError::Platform(e.to_string()))?;
        rx.recv_timeout(limit).map_err(|_| UiError::Timeout)?
    }

    /// Ends [`Ui::run`].
    pub fn quit(&self) {
        let _ = slint::quit_event_loop();
    }
}

fn s(v: &str) -> SharedString {
    SharedString::from(v)
}

fn tone_kind(t: Tone) -> g::ToneKind {
    match t {
        Tone::Accepted => g::ToneKind::Accepted,
        Tone::Notice => g::ToneKind::Notice,
        Tone::Warning => g::ToneKind::Warning,
        Tone::Refused => g::ToneKind::Refused,
        Tone::Error => g::ToneKind::Error,
    }
}

fn icon_kind(i: Icon) -> g::IconKind {
    match i {
        Icon::Tick => g::IconKind::Tick,
        Icon::Cross => g::IconKind::Cross,
        Icon::Exclamation => g::IconKind::Exclamation,
        Icon::Info => g::IconKind::Info,
    }
}

fn model<T: Clone + 'static>(v: Vec<T>) -> ModelRc<T> {
    ModelRc::new(VecModel::from(v))
}

fn person_rows(p: &[PersonLine]) -> ModelRc<g::PersonRow> {
    model(
        p.iter()
            .map(|p| g::PersonRow {
                id: s(&p.id),
                name: s(&p.name),
                detail: s(&p.detail),
            })
            .collect(),
    )
}

fn choice_rows(c: &[SessionChoice]) -> ModelRc<g::ChoiceRow> {
    model(
        c.iter()
            .map(|c| g::ChoiceRow {
                id: s(&format!("{}/{}", c.service, c.group)),
                service: s(&c.service.0),
                group: s(&c.group),
                title: s(&c.title),
                detail: s(&c.detail),
                needs_briefing: c.needs_safety_briefing,
                as_event: c.as_event,
            })
            .collect(),
    )
}

/// Case-insensitive "contains" for the name search.
fn name_matches(name: &str, query: &str) -> bool {
    let q = query.trim().to_lowercase();
    q.is_empty() || name.to_lowercase().contains(&q)
}

impl Inner {
    fn api(&self) -> g::KioskApi<'_> {
        self.window.global::<g::KioskApi>()
    }

    fn send(&self, ev: UiEvent) {
        let _ = self.state.borrow().tx.send(ev);
    }

    fn snapshot(&self) -> Result<Rgba, UiError> {
        let buf = self
            .window
            .window()
            .take_snapshot()
            .map_err(|e| UiError::Snapshot(e.to_string()))?;
        Ok(Rgba {
            width: buf.width(),
            height: buf.height(),
            pixels: buf.as_bytes().to_vec(),
        })
    }

    fn set_settings(&self, settings: UiSettings) {
        let theme = self.window.global::<g::Theme>();
        theme.set_dark(settings.dark);
        theme.set_large_text(settings.large_text);
        // Russian is the source language (index 0, selected by ""); the system locale must not
        // pick English behind the staff's back.
        let code = match settings.lang {
            Lang::Ru => "",
            Lang::En => "en",
        };
        if let Err(e) = slint::select_bundled_translation(code) {
            eprintln!("ui: language {code:?}: {e:?}");
        }
        let last = {
            let mut st = self.state.borrow_mut();
            st.settings = settings;
            st.texts = st.texts.with_lang(settings.lang);
            st.last.clone()
        };
        // Texts the adapter makes (reasons, notes, dates) follow the language at once.
        if let Some(v) = last {
            self.apply(&v);
        }
    }

    fn apply(&self, view: &ScreenView) {
        let api = self.api();
        let changed_screen = self
            .state
            .borrow()
            .last
            .as_ref()
            .is_none_or(|l| l.name() != view.name());
        if changed_screen {
            api.set_pin(s(""));
            api.set_selected_choice(-1);
            api.set_briefing_done(false);
            api.set_selected_present(0);
            api.set_search(s(""));
        }
        let texts = self.state.borrow().texts.clone();
        match view {
            ScreenView::Idle(v) => {
                api.set_idle(g::IdleData {
                    time: s(&v.time),
                    date: s(&v.date),
                    session_title: s(v.session.as_ref().map_or("", |l| l.title.as_str())),
                    session_count: s(v.session.as_ref().map_or("", |l| l.count.as_str())),
                    notice: s(&v.notice),
                });
                api.set_screen(g::Screen::Idle);
            }
            ScreenView::TapResult(v) => {
                api.set_tap(g::TapData {
                    name: s(v.name.as_deref().unwrap_or("")),
                    headline: s(&v.headline),
                    reason: s(&v.reason),
                    tone: tone_kind(v.tone),
                    icon: icon_kind(v.icon),
                    can_override: v.can_override,
                });
                api.set_override_reasons(model(
                    OverrideReason::ALL
                        .iter()
                        .map(|r| g::ReasonRow {
                            code: s(r.code()),
                            label: s(&texts.get(&format!("override.{}", r.code()))),
                        })
                        .collect(),
                ));
                api.set_screen(g::Screen::TapResult);
            }
            ScreenView::SignIn(v) => {
                api.set_sign_in(g::SignInData {
                    message: s(&v.message),
                    error: s(&v.error),
                });
                api.set_screen(g::Screen::SignIn);
            }
            ScreenView::StartSession(v) => {
                api.set_start(g::StartData {
                    instructor: s(&v.instructor),
                    error: s(&v.error),
                });
                api.set_schedule(choice_rows(&v.schedule));
                api.set_services(choice_rows(&v.services));
                api.set_screen(g::Screen::StartSession);
            }
            ScreenView::InSession(v) => {
                api.set_session(g::SessionData {
                    title: s(&v.title),
                    count: v.count as i32,
                    max: v.max.map_or(0, |m| m as i32),
                    count_text: s(&count_text(v.count, v.max, &texts)),
                    instructor: s(&v.instructor),
                    message: s(&v.message),
                });
                api.set_present(person_rows(&v.present));
                let query = api.get_search().to_string();
                let absent: Vec<PersonLine> = v
                    .absent
                    .iter()
                    .filter(|p| name_matches(&p.name, &query))
                    .cloned()
                    .collect();
                api.set_absent(person_rows(&absent));
                api.set_manual_reasons(model(
                    ManualReason::ALL
                        .iter()
                        .map(|r| g::ReasonRow {
                            code: s(r.code()),
                            label: s(&texts.get(&format!("manual.{}", r.code()))),
                        })
                        .collect(),
                ));
                self.state.borrow_mut().absent_all = v.absent.clone();
                api.set_screen(g::Screen::InSession);
            }
            ScreenView::EndSession(v) => {
                api.set_end(g::EndData {
                    title: s(&v.title),
                    summary: s(&v.summary),
                    counted: v.counted as i32,
                    units_text: s(&texts.format("end.units", &[("units", &v.units.to_string())])),
                    below_min: s(&v
                        .below_min
                        .map(|(present, min)| {
                            texts.format(
                                "end.below_min",
                                &[("present", &present.to_string()), ("min", &min.to_string())],
                            )
                        })
                        .unwrap_or_default()),
                });
                api.set_close_reasons(model(
                    CloseReason::ALL
                        .iter()
                        .map(|r| g::ReasonRow {
                            code: s(r.code()),
                            label: s(&texts.get(&format!("close.{}", r.code()))),
                        })
                        .collect(),
                ));
                if changed_screen {
                    api.set_head_count(v.counted as i32);
                }
                self.state.borrow_mut().notes = v.notes.clone();
                self.refresh_notes();
                api.set_screen(g::Screen::EndSession);
            }
            ScreenView::CheckOut(v) => {
                api.set_check_out(g::CheckOutData {
                    name: s(v.name.as_deref().unwrap_or("")),
                    question: s(&texts.get("checkout.question")),
                });
                api.set_screen(g::Screen::CheckOut);
            }
            ScreenView::Enrol(v) => {
                api.set_enrol(g::EnrolData {
                    name: s(&v.name),
                    message: s(&if !v.message.is_empty() {
                        v.message.clone()
                    } else if v.name.is_empty() {
                        String::new()
                    } else {
                        texts.get("enrol.hint")
                    }),
                });
                api.set_screen(g::Screen::Enrol);
            }
            ScreenView::ConfirmDate(v) => {
                self.state.borrow_mut().date = Some(v.date);
                self.refresh_date();
                api.set_screen(g::Screen::ConfirmDate);
            }
            ScreenView::ConfirmGroupCap(v) => {
                api.set_group_cap(s(&v.message));
                api.set_screen(g::Screen::ConfirmGroupCap);
            }
            ScreenView::Diagnostics(v) => {
                api.set_diagnostics(model(
                    v.lines
                        .iter()
                        .map(|l| g::DiagRow {
                            label: s(&l.label),
                            value: s(&l.value),
                            ok: l.ok,
                        })
                        .collect(),
                ));
                api.set_version(s(&v.version));
                api.set_screen(g::Screen::Diagnostics);
            }
        }
        self.state.borrow_mut().last = Some(view.clone());
    }

    fn refresh_notes(&self) {
        let st = self.state.borrow();
        let rows = st
            .notes
            .iter()
            .map(|(p, n)| g::NoteRow {
                id: s(&p.id),
                name: s(&p.name),
                note: s(&st.texts.get(&format!("note.{}", n.code()))),
            })
            .collect();
        drop(st);
        self.api().set_notes(model(rows));
    }

    fn refresh_date(&self) {
        let st = self.state.borrow();
        if let Some(d) = st.date {
            let data = g::DateData {
                date: s(&day_month_year(d, &st.texts)),
                weekday: s(&weekday_text(d, &st.texts)),
                message: s(&st.texts.get("date.unconfirmed")),
            };
            drop(st);
            self.api().set_date(data);
        }
    }

    fn refresh_absent(&self, query: &str) {
        let rows: Vec<PersonLine> = self
            .state
            .borrow()
            .absent_all
            .iter()
            .filter(|p| name_matches(&p.name, query))
            .cloned()
            .collect();
        self.api().set_absent(person_rows(&rows));
    }

    fn toggle(&self, f: impl FnOnce(&mut UiSettings)) {
        let mut settings = self.state.borrow().settings;
        f(&mut settings);
        self.set_settings(settings);
        self.send(UiEvent::SettingsChanged(settings));
    }
}

fn connect_callbacks(inner: &Rc<Inner>) {
    let api = inner.api();
    macro_rules! on {
        ($setter:ident, |$inner:ident $(, $arg:ident : $t:ty)*| $body:expr) => {{
            let weak = Rc::downgrade(inner);
            api.$setter(move |$($arg: $t),*| {
                if let Some($inner) = weak.upgrade() {
                    $body
                }
            });
        }};
    }
    on!(on_instructor_menu, |i| i.send(UiEvent::InstructorMenu));
    on!(on_sign_in_pin, |i, pin: SharedString| i
        .send(UiEvent::SignInPin(pin.to_string())));
    on!(on_start_session, |i,
                           service: SharedString,
                           group: SharedString,
                           briefing: bool,
                           event: bool| i
        .send(UiEvent::StartSession {
            service: service.as_str().into(),
            group: group.to_string(),
            safety_briefing: briefing,
            as_event: event,
        }));
    on!(on_undo, |i, id: SharedString| i.send(UiEvent::Undo {
        checkin_id: id.to_string()
    }));
    on!(
        on_manual_check_in,
        |i, id: SharedString, code: SharedString| {
            if let Some(reason) = ManualReason::from_code(&code) {
                i.send(UiEvent::ManualCheckIn {
                    recipient: id.to_string(),
                    reason,
                })
            }
        }
    );
    on!(on_override, |i, code: SharedString| {
        if let Some(reason) = OverrideReason::from_code(&code) {
            i.send(UiEvent::Override { reason })
        }
    });
    on!(on_search_changed, |i, q: SharedString| i.refresh_absent(&q));
    on!(on_finish_session, |i| i.send(UiEvent::FinishSession));
    on!(on_end_session, |i, head_count: i32, code: SharedString| {
        let notes = i
            .state
            .borrow()
            .notes
            .iter()
            .map(|(p, n)| (p.id.clone(), *n))
            .collect();
        i.send(UiEvent::EndSession {
            head_count: head_count.max(0) as u32,
            notes,
            reason: CloseReason::from_code(&code),
        })
    });
    on!(on_cycle_note, |i, id: SharedString| {
        {
            let mut st = i.state.borrow_mut();
            if let Some((_, n)) = st.notes.iter_mut().find(|(p, _)| p.id == id.as_str()) {
                *n = n.next();
            }
        }
        i.refresh_notes();
    });
    on!(on_satisfaction, |i, mood: i32| {
        let answer = match mood {
            0 => Some(Satisfaction::Good),
            1 => Some(Satisfaction::SoSo),
            2 => Some(Satisfaction::Bad),
            _ => None,
        };
        if let Some(a) = answer {
            i.send(UiEvent::Satisfaction(a))
        }
    });
    on!(on_enrol_cancel, |i| i.send(UiEvent::EnrolCancel));
    on!(on_date_step, |i, days: i32| {
        {
            let mut st = i.state.borrow_mut();
            if let Some(d) = st.date {
                let n = Days::new(u64::from(days.unsigned_abs()));
                st.date = if days < 0 {
                    d.checked_sub_days(n)
                } else {
                    d.checked_add_days(n)
                }
                .or(Some(d));
            }
        }
        i.refresh_date();
    });
    on!(on_confirm_date, |i| {
        let date = i.state.borrow().date;
        if let Some(date) = date {
            i.send(UiEvent::ConfirmDate { date })
        }
    });
    on!(on_confirm_group_cap, |i| i.send(UiEvent::ConfirmGroupCap));
    on!(on_open_diagnostics, |i| i.send(UiEvent::OpenDiagnostics));
    on!(on_toggle_large_text, |i| i
        .toggle(|s| s.large_text = !s.large_text));
    on!(on_toggle_dark, |i| i.toggle(|s| s.dark = !s.dark));
    on!(on_toggle_language, |i| i.toggle(|s| {
        s.lang = match s.lang {
            Lang::Ru => Lang::En,
            Lang::En => Lang::Ru,
        }
    }));
    on!(on_back, |i| i.send(UiEvent::Back));
    on!(on_sign_out, |i| i.send(UiEvent::SignOut));
    on!(on_demo_card, |i, n: i32| {
        if (1..=9).contains(&n) {
            i.send(UiEvent::DemoCard(n as u8))
        }
    });
}
