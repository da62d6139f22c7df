//! The glue between the kiosk's replies and its screens: every reply the worker gives (to the
//! reader, the control socket or the screens) is shown — a tap result for a few seconds, then the
//! idle screen with the open session's count. Mapping is done by the plain functions of
//! [`crate::ui::view`]; this module only decides what to show when.

use crate::kiosk::{Command, Reply};
use crate::texts::{Lang, Texts};
use crate::ui::UiRemote;
use crate::ui::view::{IdleView, ScreenView, SessionLine, count_text, format_date, tap_view};
use crate::worker::Observer;
use chrono::{DateTime, Utc};
use otmetka_core::catalogue::Catalogue;
use otmetka_core::period::SiteTime;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the idle screen shows about the open session.
#[derive(Debug, Clone, Default)]
struct SessionState {
    title: Option<String>,
    present: u32,
    max: Option<u32>,
}

/// Builds the idle screen at `now`.
fn idle(now: DateTime<Utc>, site: &SiteTime, texts: &Texts, s: &SessionState) -> ScreenView {
    let local = now.with_timezone(&site.offset);
    ScreenView::Idle(IdleView {
        time: local.format("%H:%M").to_string(),
        date: format_date(local.date_naive(), texts),
        session: s.title.clone().map(|title| SessionLine {
            title,
            count: count_text(s.present, s.max, texts),
        }),
        notice: String::new(),
    })
}

/// An observer for [`crate::worker::spawn`] that keeps the screens in step with the kiosk.
/// `now` reads the kiosk's clock.
pub fn observer(
    remote: UiRemote,
    catalogue: Catalogue,
    site: SiteTime,
    now: Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>,
    hold: Duration,
) -> Observer {
    let texts = Arc::new(Texts::bundled(Lang::Ru));
    let state = Arc::new(Mutex::new(SessionState::default()));
    let generation = Arc::new(AtomicU64::new(0));
    remote.show(idle(now(), &site, &texts, &SessionState::default()));
    Box::new(move |cmd: &Command, reply: &Result<Reply, String>| {
        let Ok(reply) = reply else { return };
        let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
        match (cmd, reply) {
            (Command::Start { service, .. }, Reply::Started { .. }) => {
                let svc = catalogue.get(service);
                s.title = Some(
                    svc.map(|x| x.title_ru.clone())
                        .unwrap_or_else(|| service.0.clone()),
                );
                s.max = svc.and_then(|x| x.group_max);
                s.present = 0;
            }
            (_, Reply::Ended { .. }) => *s = SessionState::default(),
            (_, Reply::Status(st)) => {
                if let Some(sess) = &st.session {
                    s.title = Some(sess.title.clone());
                    s.present = sess.present.len() as u32;
                    s.max = sess.group_max;
                }
            }
            _ => {}
        }
        let screen = match reply {
            Reply::Tap(t) => {
                if s.title.is_some() {
                    s.present = t.present;
                    s.max = t.group_max;
                }
                ScreenView::TapResult(tap_view(&t.decision, t.display_name.as_deref(), &texts))
            }
            Reply::Status(_) => return,
            _ => idle(now(), &site, &texts, &s),
        };
        let after = idle(now(), &site, &texts, &s);
        drop(s);
        let tapped = matches!(screen, ScreenView::TapResult(_));
        remote.show(screen);
        let my = generation.fetch_add(1, Ordering::SeqCst) + 1;
        if tapped {
            // Back to the idle screen after a while, unless something newer was shown.
            let (remote, generation) = (remote.clone(), generation.clone());
            let _ = std::thread::Builder::new()
                .name("screen-hold".into())
                .spawn(move || {
                    std::thread::sleep(hold);
                    if generation.load(Ordering::SeqCst) == my {
                        remote.show(after);
                    }
                });
        }
    })
}
