//! The glue between the kiosk and its screens: which screen is shown when.
//!
//! [`Flow`] is a plain state machine: it hears every command the worker handled with its reply
//! ([`Flow::on_reply`], with [`Facts`] taken from the kiosk on the worker thread) and every action
//! a person took on a screen ([`Flow::on_event`], which may answer with commands for the worker);
//! it says which [`ScreenView`] to show. The views themselves are built by the plain functions of
//! [`crate::ui::view`]. [`observer`] and [`forward_events`] put a `Flow` between the worker, the
//! screens, the voice and the lights; nothing here touches the disk.
//!
//! Recipients see the idle screen ("Приложите карту", the clock, the session and its count) and,
//! for a few seconds after a tap, its result. The instructor's screens (sign-in, start, session
//! in progress, end, date confirmation, diagnostics) open from the idle screen's "Инструктор"
//! button or with a staff card, and fall back to the idle screen after two minutes untouched.

use crate::kiosk::{Command, Facts, Input, Internal, KioskError, Reply, StartChoice};
use crate::sound::{Player, SoundConfig, SoundState};
use crate::texts::{Lang, Texts};
use crate::ui::UiRemote;
use crate::ui::view::{
    CheckOutView, ConfirmDateView, ConfirmGroupCapView, DiagnosticLine, DiagnosticsView,
    EndSessionView, EnrolView, IdleView, InSessionView, ParticipantNote, PersonLine, Satisfaction,
    ScreenView, SessionChoice, SessionLine, SignInView, StartSessionView, TapView, UiEvent,
    count_text, format_date, period_text, tap_view,
};
use crate::ui::view::{Icon, Prompt, spoken};
use crate::worker::{Observer, WorkerHandle};
use chrono::{DateTime, NaiveDate, Utc};
use otmetka_core::clock::ClockVerdict;
use otmetka_core::decision::{Decision, DecisionKind};
use otmetka_core::period::SiteTime;
use otmetka_core::session::{CheckInId, SessionError};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How long an instructor's screen stays untouched before the idle screen comes back.
pub const INSTRUCTOR_TIMEOUT: Duration = Duration::from_secs(120);

/// Which screen the kiosk is on (a tap result is shown over it for a few seconds).
#[derive(Debug, Clone, PartialEq)]
enum Mode {
    Idle,
    SignIn {
        error: String,
    },
    Start {
        error: String,
    },
    InSession {
        message: String,
    },
    End,
    ConfirmDate {
        date: NaiveDate,
        start: Box<Command>,
    },
    /// The group reached a cap on its sessions (002 l.1251): `message` says which; the start
    /// goes again, confirmed, if the instructor goes on.
    ConfirmGroupCap {
        message: String,
        start: Box<Command>,
    },
    Diagnostics,
    /// Card enrolment: the journal asked for a card for `name`; `message` says why the last card
    /// was refused.
    Enrol {
        name: String,
        message: String,
    },
}

/// What to show after a reply: a screen now and, for a tap result, the screen to return to once
/// it has been seen (computed when the time comes, see [`Flow::screen`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Shown {
    pub screen: ScreenView,
    /// Return to [`Flow::screen`] after the hold.
    pub hold: bool,
    /// A longer hold (a question waits for its answer).
    pub linger: bool,
    /// The tap result behind it, for the voice and the lights.
    pub tap: Option<TapView>,
}

impl Shown {
    /// A result (of a tap, of an enrolment) shown for the hold, with its voice and lights.
    fn result(view: TapView) -> Shown {
        Shown {
            screen: ScreenView::TapResult(view.clone()),
            hold: true,
            linger: false,
            tap: Some(view),
        }
    }
}

/// The screens' state machine.
#[derive(Debug, Clone)]
pub struct Flow {
    texts: Texts,
    site: SiteTime,
    mode: Mode,
    facts: Facts,
    /// A line on the idle screen until the next command ("Занятие завершено…").
    notice: String,
    /// What the diagnostics say of the card reader.
    reader: String,
    /// Who was asked "Как прошло занятие?" (a second tap: leaving).
    leaving: Option<otmetka_core::people::RecipientId>,
    /// When a person last touched a screen (an instructor's screen times out from it).
    touched: Option<Instant>,
    /// A tap result is up until then; the screen underneath comes back at that moment.
    held_until: Option<Instant>,
}

impl Flow {
    /// A flow on the idle screen, in Russian. `reader` describes the card reader (diagnostics).
    pub fn new(site: SiteTime, reader: String) -> Flow {
        Flow {
            reader,
            leaving: None,
            touched: None,
            held_until: None,
            texts: Texts::bundled(Lang::Ru),
            site,
            mode: Mode::Idle,
            facts: Facts::default(),
            notice: String::new(),
        }
    }

    /// Whether an instructor's screen is up (it times out back to idle).
    pub fn instructor_screen(&self) -> bool {
        self.mode != Mode::Idle
    }

    /// Whether the screen up times out when untouched: an instructor's screens do; the idle
    /// screen does not, nor card enrolment (it waits for its card until the journal's request
    /// expires).
    pub fn times_out(&self) -> bool {
        !matches!(self.mode, Mode::Idle | Mode::Enrol { .. })
    }

    /// The name of the current screen (`idle`, `in_session`...), for logs and tests.
    pub fn screen_name(&self, now: DateTime<Utc>) -> &'static str {
        self.screen(now).name()
    }

    /// The facts the flow holds.
    pub fn facts(&self) -> &Facts {
        &self.facts
    }

    /// The screen of the current mode at `now`.
    pub fn screen(&self, now: DateTime<Utc>) -> ScreenView {
        let t = &self.texts;
        match &self.mode {
            Mode::Idle => ScreenView::Idle(self.idle(now)),
            Mode::SignIn { error } => ScreenView::SignIn(SignInView {
                message: String::new(),
                error: error.clone(),
            }),
            Mode::Start { error } => ScreenView::StartSession(StartSessionView {
                instructor: self.facts.instructor.clone().unwrap_or_default(),
                schedule: self
                    .facts
                    .choices
                    .iter()
                    .filter(|c| c.start.is_some())
                    .map(|c| self.choice(c))
                    .collect(),
                services: self
                    .facts
                    .choices
                    .iter()
                    .filter(|c| c.start.is_none())
                    .flat_map(|c| {
                        // A service with an event form has a line for the event as well.
                        let event = c.event.as_ref().map(|_| self.choice_as(c, true));
                        std::iter::once(self.choice(c)).chain(event)
                    })
                    .collect(),
                error: error.clone(),
            }),
            Mode::InSession { message } => {
                let s = self.facts.session.as_ref();
                ScreenView::InSession(InSessionView {
                    title: s.map(|s| s.title.clone()).unwrap_or_default(),
                    count: s.map(|s| s.present.len() as u32).unwrap_or(0),
                    max: s.and_then(|s| s.group_max),
                    instructor: self.facts.instructor.clone().unwrap_or_default(),
                    present: s
                        .map(|s| {
                            s.present
                                .iter()
                                .rev()
                                .map(|p| PersonLine {
                                    id: p.checkin.0.to_string(),
                                    name: p.name.clone(),
                                    detail: self.present_detail(p),
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                    absent: s
                        .map(|s| {
                            s.absent
                                .iter()
                                .map(|m| PersonLine {
                                    id: m.recipient.0.to_string(),
                                    name: m.name.clone(),
                                    detail: String::new(),
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                    message: message.clone(),
                })
            }
            Mode::End => {
                let s = self.facts.session.as_ref();
                let count = s.map(|s| s.present.len()).unwrap_or(0);
                let start = s
                    .and_then(|s| s.opened_at)
                    .map(|at| self.hhmm(at))
                    .unwrap_or_default();
                let view = EndSessionView {
                    title: s.map(|s| s.title.clone()).unwrap_or_default(),
                    summary: t.format(
                        "end.summary",
                        &[
                            ("start", &start),
                            ("end", &self.hhmm(now)),
                            ("count", &count.to_string()),
                        ],
                    ),
                    counted: count as u32,
                    notes: s
                        .map(|s| {
                            s.present
                                .iter()
                                .map(|p| {
                                    (
                                        PersonLine {
                                            id: p.recipient.0.to_string(),
                                            name: p.name.clone(),
                                            detail: String::new(),
                                        },
                                        ParticipantNote::None,
                                    )
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                    units: self.facts.units_if_ended,
                    below_min: self.facts.below_group_min,
                };
                ScreenView::EndSession(view)
            }
            Mode::ConfirmDate { date, .. } => {
                ScreenView::ConfirmDate(ConfirmDateView { date: *date })
            }
            Mode::ConfirmGroupCap { message, .. } => {
                ScreenView::ConfirmGroupCap(ConfirmGroupCapView {
                    message: message.clone(),
                })
            }
            Mode::Diagnostics => ScreenView::Diagnostics(self.diagnostics()),
            Mode::Enrol { name, message } => ScreenView::Enrol(EnrolView {
                name: name.clone(),
                message: message.clone(),
            }),
        }
    }

    fn idle(&self, now: DateTime<Utc>) -> IdleView {
        let local = now.with_timezone(&self.site.offset);
        IdleView {
            time: local.format("%H:%M").to_string(),
            date: format_date(local.date_naive(), &self.texts),
            session: self.facts.session.as_ref().map(|s| SessionLine {
                title: s.title.clone(),
                count: count_text(s.present.len() as u32, s.group_max, &self.texts),
            }),
            notice: self.notice.clone(),
        }
    }

    fn hhmm(&self, at: DateTime<Utc>) -> String {
        at.with_timezone(&self.site.offset)
            .format("%H:%M")
            .to_string()
    }

    fn present_detail(&self, p: &crate::kiosk::PresentLine) -> String {
        let time = self.hhmm(p.at);
        let t = &self.texts;
        match (&p.manual, p.overridden) {
            (Some(code), _) => {
                let reason = t
                    .try_get(&format!("manual.{code}"))
                    .map(str::to_string)
                    .unwrap_or_else(|| code.clone());
                t.format("present.manual", &[("time", &time), ("reason", &reason)])
            }
            (None, true) => t.format("present.allowed", &[("time", &time)]),
            (None, false) => time,
        }
    }

    /// The offered choice of `service` for `group` (what the start screen showed).
    fn choice_of(
        &self,
        service: &otmetka_core::catalogue::ServiceCode,
        group: Option<otmetka_core::people::GroupId>,
    ) -> Option<&StartChoice> {
        self.facts
            .choices
            .iter()
            .find(|c| c.service == *service && c.group == group)
    }

    fn choice(&self, c: &StartChoice) -> SessionChoice {
        self.choice_as(c, false)
    }

    /// A line of the start screen; `as_event` opens the service's event form (its name and
    /// norm: «Культурно-массовое мероприятие: Клуб «Собеседник»», «до 120 мин»).
    fn choice_as(&self, c: &StartChoice, as_event: bool) -> SessionChoice {
        let t = &self.texts;
        let event = c.event.as_ref().filter(|_| as_event);
        let size = match (c.group_min, c.group_max) {
            (Some(min), Some(max)) => t.format(
                "size.range",
                &[("min", &min.to_string()), ("max", &max.to_string())],
            ),
            (None, Some(max)) => t.format("size.max", &[("max", &max.to_string())]),
            (Some(min), None) => t.format("size.min", &[("min", &min.to_string())]),
            (None, None) => String::new(),
        };
        let norm = event
            .map(|(_, minutes)| *minutes)
            .or(c.time_norm_minutes)
            .map(|m| t.format("norm.minutes", &[("minutes", &m.to_string())]));
        // «Мероприятие: Кружковая работа», the event's own name in the detail (the seeds' names,
        // «культурно-массовое», are too long a word for a title on a small screen).
        let title = match event {
            Some(_) => t.format("start.event_title", &[("title", &c.title)]),
            None => c.title.clone(),
        };
        // The seeds' titles run to two lines: a group's line says only how big and how long.
        let mut detail: Vec<String> = Vec::new();
        detail.extend(event.map(|(name, _)| name.to_lowercase()));
        detail.extend([size].into_iter().filter(|s| !s.is_empty()));
        detail.extend(norm);
        if !c.room.is_empty() {
            detail.push(c.room.clone());
        }
        SessionChoice {
            service: c.service.clone(),
            group: c.group.map(|g| g.0.to_string()).unwrap_or_default(),
            title: match c.start {
                Some(start) => format!("{} {title}", start.format("%H:%M")),
                None => title,
            },
            detail: detail.join(", "),
            needs_safety_briefing: c.safety_briefing,
            as_event,
        }
    }

    /// The roster's version as staff read it. The journal versions what it publishes by the
    /// time of publishing (Unix seconds, or one more than the last version if its clock is
    /// behind), so such a version is shown as the local date and time: "от 30.11.2026
    /// 15:03" (short enough for one line beside its label). A roster file's own small number is
    /// shown as it is: "версия 3".
    fn roster_version_text(&self, version: u64) -> String {
        // 2001-09-09: no roster file numbers its versions this high by hand.
        const PUBLISHED_SINCE: u64 = 1_000_000_000;
        let published = i64::try_from(version)
            .ok()
            .filter(|_| version >= PUBLISHED_SINCE)
            .and_then(|secs| DateTime::<Utc>::from_timestamp(secs, 0));
        match published {
            Some(at) => {
                let local = at.with_timezone(&self.site.offset);
                self.texts.format(
                    "diag.roster.published",
                    &[
                        ("date", &local.format("%d.%m.%Y").to_string()),
                        ("time", &local.format("%H:%M").to_string()),
                    ],
                )
            }
            None => self
                .texts
                .format("diag.roster.version", &[("version", &version.to_string())]),
        }
    }

    fn diagnostics(&self) -> DiagnosticsView {
        let t = &self.texts;
        let line = |label: &str, value: String, ok: bool| DiagnosticLine {
            label: t.get(label),
            value,
            ok,
        };
        let (reader_ok, why) = &self.facts.reader;
        let reader = if *reader_ok {
            self.reader.clone()
        } else {
            format!("{}: {why}", self.reader)
        };
        let mut lines = vec![line("diag.reader", reader, *reader_ok)];
        // The hardware first: the reader, the power, the memory card.
        use crate::health::Power;
        lines.push(match self.facts.health.power {
            Power::Fine => line("diag.power", t.get("diag.power.fine"), true),
            Power::Low => line("diag.power", t.get("diag.power.low"), false),
            Power::WasLow => line("diag.power", t.get("diag.power.was_low"), false),
            Power::NotMeasured => line("diag.power", t.get("diag.power.not_measured"), true),
        });
        if self.facts.health.space.is_none() && self.facts.health.power != Power::NotMeasured {
            // On a Pi whose data directory cannot be asked: say so rather than leave it out.
            lines.push(line("diag.space", t.get("diag.power.not_measured"), false));
        }
        if let Some(s) = self.facts.health.space {
            // «12,3» in Russian, «12.3» in English.
            let gb = |mb: u64| {
                let text = format!("{:.1}", mb as f64 / 1024.0);
                if t.lang() == crate::texts::Lang::Ru {
                    text.replace('.', ",")
                } else {
                    text
                }
            };
            let (free, total) = (gb(s.free_mb), gb(s.total_mb));
            lines.push(line(
                "diag.space",
                t.format(
                    if s.low {
                        "diag.space.low"
                    } else {
                        "diag.space.free"
                    },
                    &[("free", &free), ("total", &total)],
                ),
                !s.low,
            ));
        }
        if let Some(key) = match self.facts.health.sound {
            SoundState::NotUsed => None,
            SoundState::Unchecked => Some("diag.sound.unchecked"),
            SoundState::Fine => Some("diag.sound.fine"),
            SoundState::Missing => Some("diag.sound.missing"),
            SoundState::Busy => Some("diag.sound.busy"),
            SoundState::Failed => Some("diag.sound.failed"),
        } {
            let ok = matches!(
                self.facts.health.sound,
                SoundState::Fine | SoundState::Unchecked
            );
            lines.push(line("diag.sound", t.get(key), ok));
        }
        lines.push(match &self.facts.feed {
            Some((true, broker)) => line(
                "diag.network",
                t.format("diag.network.up", &[("broker", broker)]),
                true,
            ),
            Some((false, why)) => line(
                "diag.network",
                t.format("diag.network.down", &[("why", why)]),
                false,
            ),
            None => line("diag.network", t.get("diag.network.off"), false),
        });
        if let Some(depth) = self.facts.outbox_depth {
            lines.push(if depth == 0 {
                line("diag.outbox", t.get("diag.outbox.empty"), true)
            } else {
                line(
                    "diag.outbox",
                    t.format("diag.outbox.count", &[("count", &depth.to_string())]),
                    false,
                )
            });
        }
        lines.push(match self.facts.clock {
            ClockVerdict::Trusted => line("diag.clock", t.get("diag.clock.trusted"), true),
            ClockVerdict::Unsynced => line("diag.clock", t.get("diag.clock.unsynced"), false),
            ClockVerdict::BeforeBuild { .. } | ClockVerdict::BeforeLastSeen { .. } => {
                line("diag.clock", t.get("diag.clock.wrong"), false)
            }
        });
        lines.push(line(
            "diag.roster",
            self.roster_version_text(self.facts.roster_version),
            self.facts.roster_version > 0,
        ));
        DiagnosticsView {
            lines,
            version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }

    /// The message a member of staff sees for a refused command.
    fn error_text(&self, e: &KioskError) -> String {
        let key = match e {
            KioskError::NotSignedIn => "error.not_signed_in",
            KioskError::BadCredential => "signin.wrong_pin",
            KioskError::TooManyPins { .. } => "signin.too_many",
            KioskError::UnreadableCard => "tap.unreadable",
            KioskError::UnknownService(_) => "error.unknown_service",
            KioskError::UnknownRecipient(_) => "error.unknown_recipient",
            KioskError::SessionOpen => "error.session_open",
            KioskError::NoSession => "error.no_session",
            KioskError::NothingToOverride => "error.nothing_to_override",
            KioskError::Session(SessionError::HardRule(_)) => "error.hard_rule",
            KioskError::Session(SessionError::AlreadyCheckedIn) => "error.already_checked_in",
            KioskError::Session(SessionError::UnitKindNotChosen(_)) => "error.unit_kind",
            KioskError::Session(SessionError::ClockNotTrusted) => "date.unconfirmed",
            KioskError::Session(SessionError::SafetyBriefingMissing(_)) => "error.safety_briefing",
            KioskError::Session(SessionError::CloseNeedsReason(_)) => "error.close_reason",
            KioskError::Session(SessionError::NoEventForm(_)) => "error.no_event_form",
            KioskError::Session(_) => "error.session",
            KioskError::Store(_) => "error.storage",
        };
        self.texts.get(key)
    }

    /// A command was handled (or refused); `facts` are the kiosk's after it. Returns what to
    /// show, if anything changes on screen.
    pub fn on_reply(
        &mut self,
        cmd: &Input,
        reply: &Result<Reply, KioskError>,
        facts: Facts,
        now: DateTime<Utc>,
    ) -> Option<Shown> {
        let had_session = self.facts.session.is_some();
        self.facts = facts;
        if !matches!(
            cmd,
            Input::Command(Command::Status) | Input::Internal(Internal::Tick)
        ) {
            self.notice.clear();
        }
        let shown = |flow: &Flow| {
            Some(Shown {
                screen: flow.screen(now),
                hold: false,
                linger: false,
                tap: None,
            })
        };
        if !matches!(
            cmd,
            Input::Command(Command::Status) | Input::Internal(Internal::Tick)
        ) {
            self.leaving = None;
        }
        match (cmd, reply) {
            (_, Ok(Reply::Tap(t))) => {
                let mut view = tap_view(&t.decision, t.display_name.as_deref(), &self.texts);
                // Only a signed-in instructor can allow what a rule refused.
                view.can_override &= self.facts.instructor.is_some();
                if let Mode::InSession { message } = &mut self.mode {
                    message.clear();
                }
                // A second tap of someone who is in: leaving. Ask how it went (the standards
                // measure quality by satisfaction); no answer leaves them checked in.
                let leaving = match (&t.decision, self.mode == Mode::Idle) {
                    (Decision::AlreadyCheckedIn { recipient, .. }, true) => Some(*recipient),
                    _ => None,
                };
                if let Some(r) = leaving {
                    self.leaving = Some(r);
                    // The voice asks the screen's question, not "you are checked in already".
                    let mut view = view;
                    let question = self.texts.get("voice.checkout.question");
                    view.spoken = spoken(view.name.as_deref(), &question);
                    view.prompt.clip = "checkout_question".into();
                    return Some(Shown {
                        screen: ScreenView::CheckOut(CheckOutView {
                            name: view.name.clone(),
                        }),
                        hold: true,
                        linger: true,
                        tap: Some(view),
                    });
                }
                Some(Shown::result(view))
            }
            (_, Ok(Reply::EnrolWaiting { name })) => {
                self.mode = Mode::Enrol {
                    name: name.clone(),
                    message: String::new(),
                };
                shown(self)
            }
            (_, Ok(Reply::Enrolled { name, .. })) => {
                self.mode = Mode::Idle;
                Some(Shown::result(self.enrol_view(true, Some(name), None)))
            }
            (_, Ok(Reply::EnrolRefused { holder })) => {
                let view = self.enrol_view(false, None, holder.as_deref());
                if let Mode::Enrol { message, .. } = &mut self.mode {
                    *message = view.reason.clone();
                }
                // Red, with the cross and the reason, like a refused tap; then the enrolment
                // screen again (with the reason), still waiting for a card.
                Some(Shown::result(view))
            }
            (Input::Internal(Internal::EnrolCancel), _) => {
                if matches!(self.mode, Mode::Enrol { .. }) {
                    self.mode = Mode::Idle;
                }
                shown(self)
            }
            (_, Ok(Reply::CheckedOut { .. })) => {
                self.mode = Mode::Idle;
                self.notice = self.texts.get("checkout.thanks");
                shown(self)
            }
            (_, Ok(Reply::SignedIn { .. })) => {
                self.mode = self.instructor_home();
                shown(self)
            }
            (_, Ok(Reply::SignedOut)) => {
                self.mode = Mode::Idle;
                shown(self)
            }
            (_, Ok(Reply::Started { .. })) => {
                // The instructor started it; the room now sees "Приложите карту" and the count.
                self.mode = Mode::Idle;
                shown(self)
            }
            (_, Ok(Reply::Ended { units, .. })) => {
                self.mode = Mode::Idle;
                self.notice = self
                    .texts
                    .format("idle.ended", &[("units", &units.len().to_string())]);
                shown(self)
            }
            (_, Ok(Reply::Undone { .. })) => {
                if let Mode::InSession { message } = &mut self.mode {
                    *message = self.texts.get("insession.undone");
                }
                shown(self)
            }
            (Input::Command(Command::Status), Ok(Reply::Status(_))) => {
                (self.mode == Mode::Diagnostics).then(|| Shown {
                    screen: self.screen(now),
                    hold: false,
                    linger: false,
                    tap: None,
                })
            }
            (Input::Internal(Internal::Tick), _)
                if self.facts.enrolment.is_none() && matches!(self.mode, Mode::Enrol { .. }) =>
            {
                // The enrolment request expired.
                self.mode = Mode::Idle;
                shown(self)
            }
            (Input::Internal(Internal::Tick), _) => {
                // The session closed itself at its time norm: leave its screens.
                if had_session && self.facts.session.is_none() {
                    if matches!(self.mode, Mode::InSession { .. } | Mode::End) {
                        self.mode = Mode::Idle;
                    }
                    return shown(self);
                }
                None
            }
            (_, Ok(_)) => None,
            (
                Input::Command(start @ Command::Start { group, service, .. }),
                Err(KioskError::Session(SessionError::GroupCapReached {
                    limit,
                    used,
                    overridable,
                })),
            ) => {
                let title = self
                    .choice_of(service, *group)
                    .map(|c| c.title.clone())
                    .unwrap_or_else(|| service.0.clone());
                let message = self.texts.format(
                    if *overridable {
                        "groupcap.message"
                    } else {
                        "groupcap.hard"
                    },
                    &[
                        ("group", &title),
                        ("used", &used.to_string()),
                        ("max", &limit.max.to_string()),
                        ("period", &period_text(limit.period, &self.texts)),
                    ],
                );
                // Where the site makes the cap a hard stop, the choice screen says why.
                self.mode = if *overridable {
                    Mode::ConfirmGroupCap {
                        message,
                        start: Box::new(start.clone()),
                    }
                } else {
                    Mode::Start { error: message }
                };
                shown(self)
            }
            (cmd, Err(e)) => {
                let text = self.error_text(e);
                match (&mut self.mode, cmd) {
                    // A staff card that is no one's is a wrong credential; a garbled read is not
                    // (it says so where the person looks, and never opens the PIN pad).
                    (_, Input::Command(Command::SignIn { .. } | Command::Tap { .. }))
                        if matches!(
                            e,
                            KioskError::BadCredential | KioskError::TooManyPins { .. }
                        ) =>
                    {
                        self.mode = Mode::SignIn { error: text };
                    }
                    (Mode::Start { error }, _) => *error = text,
                    (Mode::InSession { message }, _) => *message = text,
                    (Mode::End, _) => self.mode = Mode::InSession { message: text },
                    // The confirmed start failed after all (the clock, a session opened
                    // meanwhile): the choice screen says why.
                    (Mode::ConfirmGroupCap { .. }, _) => self.mode = Mode::Start { error: text },
                    _ => self.notice = text,
                }
                shown(self)
            }
        }
    }

    /// What the screen, the voice and the lights say of a card enrolment: given to `name`, or
    /// refused because the card is `holder`'s (or blocked, or shared).
    fn enrol_view(&self, done: bool, name: Option<&str>, holder: Option<&str>) -> TapView {
        let t = &self.texts;
        let (kind, key, reason) = if done {
            (
                DecisionKind::Accepted,
                "enrol.done",
                t.get("enrol.done.reason"),
            )
        } else {
            let reason = match holder {
                Some(h) => t.format("enrol.in_use.reason", &[("holder", h)]),
                None => t.get("enrol.unusable.reason"),
            };
            (DecisionKind::CardBlocked, "enrol.in_use", reason)
        };
        let tone = kind.tone();
        let voice = t.get(&format!("voice.{key}"));
        let name = name.map(str::to_string);
        TapView {
            kind,
            tone,
            icon: Icon::for_tone(tone),
            prompt: Prompt {
                tone,
                name: name.clone(),
                clip: key.replace('.', "_"),
                lang: t.lang(),
            },
            spoken: spoken(name.as_deref(), &voice),
            name,
            headline: t.get(&format!("{key}.headline")),
            reason,
            can_override: false,
        }
    }

    /// Where a signed-in instructor lands: the session if one is open, else its start.
    fn instructor_home(&self) -> Mode {
        if self.facts.session.is_some() {
            Mode::InSession {
                message: String::new(),
            }
        } else {
            Mode::Start {
                error: String::new(),
            }
        }
    }

    /// A person acted on a screen. Returns the commands for the worker (their replies come back
    /// through [`Flow::on_reply`]) and a screen to show now, if the action only navigates.
    pub fn on_event(
        &mut self,
        ev: UiEvent,
        now: DateTime<Utc>,
    ) -> (Vec<Input>, Option<ScreenView>) {
        if ev == UiEvent::EnrolCancel {
            // Card enrolment is the journal's request: leaving it is the kiosk's own message.
            return (vec![Internal::EnrolCancel.into()], None);
        }
        let (cmds, view) = self.commands_for(ev, now);
        (cmds.into_iter().map(Input::from).collect(), view)
    }

    /// What a person's action asks of the worker (but leaving card enrolment).
    fn commands_for(
        &mut self,
        ev: UiEvent,
        now: DateTime<Utc>,
    ) -> (Vec<Command>, Option<ScreenView>) {
        let show = |flow: &mut Flow, mode: Mode| {
            flow.mode = mode;
            (Vec::new(), Some(flow.screen(now)))
        };
        match ev {
            UiEvent::InstructorMenu => {
                let mode = if self.facts.instructor.is_some() {
                    self.instructor_home()
                } else {
                    Mode::SignIn {
                        error: String::new(),
                    }
                };
                show(self, mode)
            }
            UiEvent::SignInPin(pin) => (vec![Command::SignIn { credential: pin }], None),
            UiEvent::StartSession {
                service,
                group,
                safety_briefing,
                as_event,
            } => {
                let group = uuid::Uuid::parse_str(&group)
                    .ok()
                    .map(otmetka_core::people::GroupId);
                let unit_kind = self.choice_of(&service, group).and_then(|c| c.unit_kind);
                let start = Command::Start {
                    service,
                    group,
                    unit_kind,
                    safety_briefing,
                    confirm_date: false,
                    event: as_event,
                    over_group_cap: false,
                };
                if !self.facts.clock.plausible() {
                    let date = self.site.local_date(now);
                    show(
                        self,
                        Mode::ConfirmDate {
                            date,
                            start: Box::new(start),
                        },
                    )
                } else {
                    (vec![start], None)
                }
            }
            UiEvent::ConfirmDate { date } => match &self.mode {
                Mode::ConfirmDate { date: ours, start } if *ours == date => {
                    let mut start = (**start).clone();
                    if let Command::Start { confirm_date, .. } = &mut start {
                        *confirm_date = true;
                    }
                    (vec![start], None)
                }
                Mode::ConfirmDate { .. } => {
                    // The kiosk cannot set the system clock from the screen: the date the
                    // instructor gives differs from the kiosk's, so no session may start.
                    tracing::warn!(%date, "the instructor says the date is {date}; the kiosk's clock is wrong");
                    self.mode = Mode::Start {
                        error: self.texts.get("error.clock_wrong"),
                    };
                    (Vec::new(), Some(self.screen(now)))
                }
                _ => (Vec::new(), None),
            },
            UiEvent::ConfirmGroupCap => match &self.mode {
                Mode::ConfirmGroupCap { start, .. } => {
                    let mut start = (**start).clone();
                    if let Command::Start { over_group_cap, .. } = &mut start {
                        *over_group_cap = true;
                    }
                    (vec![start], None)
                }
                _ => (Vec::new(), None),
            },
            UiEvent::Undo { checkin_id } => match uuid::Uuid::parse_str(&checkin_id) {
                Ok(id) => (
                    vec![Command::Undo {
                        checkin: Some(CheckInId(id)),
                    }],
                    None,
                ),
                Err(_) => (Vec::new(), None),
            },
            UiEvent::ManualCheckIn { recipient, reason } => match uuid::Uuid::parse_str(&recipient)
            {
                Ok(r) => (
                    vec![Command::Manual {
                        recipient: otmetka_core::people::RecipientId(r),
                        reason: reason.code().to_string(),
                    }],
                    None,
                ),
                Err(_) => (Vec::new(), None),
            },
            UiEvent::Override { reason } => (
                vec![Command::Override {
                    reason: reason.code().to_string(),
                }],
                None,
            ),
            UiEvent::FinishSession => {
                if self.facts.session.is_some() {
                    show(self, Mode::End)
                } else {
                    show(self, Mode::Idle)
                }
            }
            UiEvent::EndSession {
                head_count,
                notes,
                reason,
            } => {
                let mut cmds: Vec<Command> = notes
                    .into_iter()
                    .filter(|(_, n)| *n != ParticipantNote::None)
                    .filter_map(|(id, n)| {
                        uuid::Uuid::parse_str(&id).ok().map(|r| Command::Note {
                            recipient: otmetka_core::people::RecipientId(r),
                            note: n.code().to_string(),
                        })
                    })
                    .collect();
                cmds.push(Command::End {
                    head_count: Some(head_count),
                    reason,
                });
                (cmds, None)
            }
            UiEvent::OpenDiagnostics => {
                self.mode = Mode::Diagnostics;
                // The status reads the outbox's depth: on the worker, not here.
                (vec![Command::Status], Some(self.screen(now)))
            }
            UiEvent::Back => {
                let mode = match self.mode {
                    Mode::End => Mode::InSession {
                        message: String::new(),
                    },
                    // «Отмена» of a group's extra session: back to the choice of another.
                    Mode::ConfirmGroupCap { .. } => Mode::Start {
                        error: String::new(),
                    },
                    _ => Mode::Idle,
                };
                show(self, mode)
            }
            UiEvent::Satisfaction(answer) => match self.leaving.take() {
                Some(recipient) => (
                    vec![Command::CheckOut {
                        recipient,
                        satisfaction: Some(match answer {
                            Satisfaction::Good => otmetka_core::event::Satisfaction::Good,
                            Satisfaction::SoSo => otmetka_core::event::Satisfaction::Neutral,
                            Satisfaction::Bad => otmetka_core::event::Satisfaction::Bad,
                        }),
                    }],
                    None,
                ),
                None => show(self, Mode::Idle),
            },
            UiEvent::EnrolCancel => (Vec::new(), None),
            UiEvent::SignOut => {
                self.mode = Mode::Idle;
                (self.sign_out(), Some(self.screen(now)))
            }
            UiEvent::DemoCard(n) => (
                vec![Command::Tap {
                    // The nine demo cards of the simulated reader: recipients 1–9 of the sample
                    // roster.
                    card: format!("0A0000{n:02X}"),
                }],
                None,
            ),
            UiEvent::SettingsChanged(settings) => {
                // The language of what the flow writes (results, messages) and says.
                self.texts = Texts::bundled(settings.lang);
                (Vec::new(), Some(self.screen(now)))
            }
        }
    }

    /// An instructor's screen left untouched for [`INSTRUCTOR_TIMEOUT`] goes back to idle and
    /// signs the instructor out: whoever touches «Инструктор» next is asked for the PIN or the
    /// staff card again. Returns the commands for the worker and the screen to show.
    fn time_out(&mut self, now: DateTime<Utc>) -> (Vec<Input>, Option<ScreenView>) {
        // Card enrolment waits for its card until the journal's request expires (the kiosk
        // ends it then), not for a touch.
        if matches!(self.mode, Mode::Idle | Mode::Enrol { .. }) {
            return (Vec::new(), None);
        }
        self.mode = Mode::Idle;
        (
            self.sign_out().into_iter().map(Input::from).collect(),
            Some(self.screen(now)),
        )
    }

    /// A person touched a screen at `at`: an instructor's screen times out from then.
    pub fn touched(&mut self, at: Instant) {
        self.touched = Some(at);
    }

    /// The screen shown now is a result held until `until` (`None`: not a held result).
    pub fn hold(&mut self, until: Option<Instant>) {
        self.held_until = until;
    }

    /// Whether a tap result is up (the screen underneath waits for its hold to end).
    pub fn held(&self) -> bool {
        self.held_until.is_some()
    }

    /// Whether the screen may go dark: the idle screen, no session open, no result up.
    pub fn may_blank(&self) -> bool {
        self.mode == Mode::Idle && self.facts.session.is_none() && !self.held()
    }

    /// When the flow next acts by itself: a held result ends, or an untouched instructor's
    /// screen times out ([`INSTRUCTOR_TIMEOUT`] after the last touch). `None`: nothing waits.
    pub fn next_deadline(&self) -> Option<Instant> {
        let timeout = self
            .times_out()
            .then(|| self.touched.map(|t| t + INSTRUCTOR_TIMEOUT))
            .flatten();
        match (self.held_until, timeout) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// What is due at `at` (a monotonic instant; `now` is the wall clock for the screen): the
    /// commands for the worker and the screen to show. Nothing before [`Flow::next_deadline`].
    pub fn on_deadline(
        &mut self,
        at: Instant,
        now: DateTime<Utc>,
    ) -> (Vec<Input>, Option<ScreenView>) {
        let timed_out = self.times_out()
            && self
                .touched
                .is_some_and(|t| at.saturating_duration_since(t) >= INSTRUCTOR_TIMEOUT);
        if timed_out {
            self.held_until = None;
            return self.time_out(now);
        }
        if self.held_until.is_some_and(|u| u <= at) {
            self.held_until = None;
            return (Vec::new(), Some(self.screen(now)));
        }
        (Vec::new(), None)
    }

    /// The commands that sign the instructor out, if one is signed in.
    fn sign_out(&mut self) -> Vec<Command> {
        if self.facts.instructor.take().is_some() {
            vec![Command::SignOut]
        } else {
            Vec::new()
        }
    }
}

/// Lights and buzzer: told the view of each tap result.
pub type SignalFn = Box<dyn FnMut(&TapView) + Send>;

/// Where the outputs of the flow go: the screens, the voice, the lights.
pub struct Outputs {
    pub sound: Option<(Player, SoundConfig)>,
    /// Lights and buzzer: gets the tone of each tap result.
    pub signal: Option<SignalFn>,
    /// How long a tap result stays before the screen underneath comes back.
    pub hold: Duration,
}

impl std::fmt::Debug for Outputs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outputs")
            .field("sound", &self.sound)
            .field("signal", &self.signal.is_some())
            .field("hold", &self.hold)
            .finish()
    }
}

/// The shared state of the screen glue.
struct Glue {
    flow: Mutex<Flow>,
    /// Woken when the flow's next deadline may have moved (a result held, a touch).
    changed: Condvar,
    /// The name of the screen last shown.
    shown: Mutex<&'static str>,
    remote: UiRemote,
    now: Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>,
    /// The worker, once events are forwarded to it: the timeout's sign-out goes there.
    worker: Mutex<Option<WorkerHandle>>,
    /// The backlight's blanking (never, until [`Screens::blank_with`]).
    blank: Mutex<crate::display::Blanker>,
}

impl Glue {
    fn lock(&self) -> std::sync::MutexGuard<'_, Flow> {
        self.flow.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn blank(&self) -> std::sync::MutexGuard<'_, crate::display::Blanker> {
        self.blank.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Shows `view`, which is a result held until `held` if given (called with the flow
    /// locked, so the screen and the flow's deadlines never disagree).
    fn show(&self, flow: &mut Flow, view: ScreenView, held: Option<Instant>) {
        flow.hold(held);
        *self.shown.lock().unwrap_or_else(|e| e.into_inner()) = view.name();
        self.remote.show(view);
        self.changed.notify_all();
    }

    /// Sends what the flow asks of the worker (never with the flow locked: the worker's reply
    /// comes back through the observer, which locks it).
    fn send(&self, inputs: Vec<Input>) {
        if inputs.is_empty() {
            return;
        }
        let worker = self.worker.lock().map(|w| w.clone()).unwrap_or(None);
        for input in inputs {
            let name = input.name();
            match &worker {
                Some(w) => {
                    if let Err(e) = w.call(input) {
                        tracing::warn!("the screens' {name} (on a deadline) failed: {e}");
                    }
                }
                None => tracing::warn!("no worker for the screens' {}", input.name()),
            }
        }
    }
}

/// The idle screen's clock shows minutes: it is redrawn at least this often.
const CLOCK_TICK: Duration = Duration::from_secs(1);

/// The one thread that drives the flow's deadlines ([`Flow::next_deadline`]): it sleeps until
/// the next one (or a change of it), lets the flow act, and redraws the idle screen's clock when
/// the minute changes.
fn drive(glue: std::sync::Weak<Glue>) {
    let mut minute = String::new();
    loop {
        let Some(g) = glue.upgrade() else { return };
        let mut flow = g.lock();
        let at = Instant::now();
        let wake = flow
            .next_deadline()
            .map_or(at + CLOCK_TICK, |d| d.min(at + CLOCK_TICK));
        if wake > at {
            flow = g
                .changed
                .wait_timeout(flow, wake - at)
                .map(|(f, _)| f)
                .unwrap_or_else(|e| e.into_inner().0);
        }
        let now = (g.now)();
        let (inputs, view) = flow.on_deadline(Instant::now(), now);
        if let Some(view) = view {
            g.show(&mut flow, view, None);
        } else if !flow.instructor_screen() && !flow.held() {
            // The idle screen's clock: redraw when the minute changes.
            let m = now.format("%H:%M").to_string();
            if m != minute {
                minute = m;
                let view = flow.screen(now);
                g.show(&mut flow, view, None);
            }
        }
        let may_blank = flow.may_blank();
        drop(flow);
        g.blank().tick(Instant::now(), may_blank);
        g.send(inputs);
    }
}

/// The screens' side of the kiosk: an observer for [`crate::worker::spawn`] and the function
/// that forwards screen events. `now` reads the kiosk's clock.
#[derive(Clone)]
pub struct Screens {
    glue: Arc<Glue>,
}

impl std::fmt::Debug for Screens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Screens").finish_non_exhaustive()
    }
}

impl Screens {
    /// Shows the idle screen and starts the thread of the flow's deadlines (held results, the
    /// instructor screens' timeout, the idle screen's clock).
    pub fn new(
        remote: UiRemote,
        site: SiteTime,
        reader: String,
        facts: Facts,
        now: Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>,
    ) -> Screens {
        let mut flow = Flow::new(site, reader);
        // A kiosk restarted while it waited for a card to enrol still waits: it says so.
        if let Some(name) = facts.enrolment.clone() {
            flow.mode = Mode::Enrol {
                name,
                message: String::new(),
            };
        }
        flow.facts = facts;
        flow.touched(Instant::now());
        let glue = Arc::new(Glue {
            flow: Mutex::new(flow),
            changed: Condvar::new(),
            shown: Mutex::new("idle"),
            remote,
            now,
            worker: Mutex::new(None),
            blank: Mutex::new(crate::display::Blanker::default()),
        });
        {
            let mut flow = glue.lock();
            let first = flow.screen((glue.now)());
            glue.show(&mut flow, first, None);
        }
        let weak = Arc::downgrade(&glue);
        if let Err(e) = std::thread::Builder::new()
            .name("screen-clock".into())
            .spawn(move || drive(weak))
        {
            tracing::error!("cannot start the screens' clock: {e}");
        }
        Screens { glue }
    }

    /// The observer for the worker: every reply updates the flow, the screen, the voice and the
    /// lights.
    pub fn observer(&self, mut out: Outputs) -> Observer {
        let glue = self.glue.clone();
        Box::new(move |cmd, reply, kiosk| {
            if matches!(cmd, Input::Internal(Internal::Health)) {
                // The feed's periodic question: nothing on screen changes.
                return;
            }
            let now = (glue.now)();
            let facts = Facts::of(kiosk, now, matches!(cmd, Input::Command(Command::Status)));
            let mut flow = glue.lock();
            let timed_before = flow.times_out();
            let shown = flow.on_reply(cmd, reply, facts, now);
            if !timed_before && flow.times_out() {
                // A staff card on the reader, `ctl sign_in`, a refused credential: an
                // instructor's screen opened without a touch. Its two minutes start now, not
                // at the last touch (which may be hours ago).
                flow.touched(Instant::now());
                glue.changed.notify_all();
            }
            let Some(shown) = shown else {
                return;
            };
            if !matches!(cmd, Input::Internal(Internal::Tick)) {
                // A card, an enrolment request, a command: someone is at the kiosk.
                let _ = glue.blank().activity(Instant::now());
            }
            if let Some(view) = &shown.tap {
                if let Some((player, config)) = &out.sound {
                    player.play(&view.prompt, config);
                }
                if let Some(signal) = out.signal.as_mut() {
                    signal(view);
                }
            }
            let hold = if shown.linger { out.hold * 4 } else { out.hold };
            let held = shown.hold.then(|| Instant::now() + hold);
            glue.show(&mut flow, shown.screen, held);
        })
    }

    /// The name of the screen shown (`idle`, `tap_result`, ...).
    pub fn shown(&self) -> &'static str {
        *self.glue.shown.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Does what a person's action on a screen asks: navigation is shown at once, commands go
    /// to the worker (and come back through the observer). Returns the first refusal.
    pub fn act(&self, ev: UiEvent, worker: &WorkerHandle) -> Result<(), String> {
        let glue = &self.glue;
        if glue.blank().activity(Instant::now()) {
            // A touch on the dark screen only lights it.
            tracing::debug!(?ev, "the screen woke: not taken as a press");
            return Ok(());
        }
        let cmds = {
            let mut flow = glue.lock();
            flow.touched(Instant::now());
            let (cmds, view) = flow.on_event(ev, (glue.now)());
            if let Some(view) = view {
                glue.show(&mut flow, view, None);
            } else {
                // The touch moved the timeout.
                glue.changed.notify_all();
            }
            cmds
        };
        let mut first_err = Ok(());
        for cmd in cmds {
            if let Err(e) = worker.call(cmd) {
                tracing::warn!("a screen action was refused: {e}");
                if first_err.is_ok() {
                    first_err = Err(e);
                }
            }
        }
        first_err
    }

    /// Blanks the screen as `blanker` says from now on (`[display]`).
    pub fn blank_with(&self, blanker: crate::display::Blanker) {
        *self.glue.blank() = blanker;
    }

    /// Whether the screen is dark now.
    pub fn blanked(&self) -> bool {
        self.glue.blank().blanked()
    }

    /// Forwards what people do on the screens to [`Screens::act`], on a thread of its own.
    /// Display settings changed on screen are saved in `settings_file`, if given.
    pub fn forward_events(
        &self,
        events: std::sync::mpsc::Receiver<UiEvent>,
        worker: WorkerHandle,
        settings_file: Option<std::path::PathBuf>,
    ) {
        if let Ok(mut w) = self.glue.worker.lock() {
            *w = Some(worker.clone());
        }
        let screens = self.clone();
        let spawned = std::thread::Builder::new()
            .name("ui-events".into())
            .spawn(move || {
                for ev in events {
                    if let (UiEvent::SettingsChanged(s), Some(path)) = (&ev, &settings_file) {
                        if let Err(e) = s.save(path) {
                            tracing::warn!(
                                "cannot save the display settings in {}: {e}",
                                path.display()
                            );
                        }
                    }
                    let _ = screens.act(ev, &worker);
                }
            });
        if let Err(e) = spawned {
            tracing::error!("cannot start the screen-event thread: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kiosk::{SessionStatus, TapReply};
    use crate::ui::view::{ManualReason, OverrideReason};
    use chrono::TimeZone;
    use otmetka_core::decision::{Decision, DecisionKind};
    use otmetka_core::event::CloseReason;
    use otmetka_core::people::RecipientId;
    use otmetka_core::period::WeekRule;
    use otmetka_core::session::SessionId;

    fn site() -> SiteTime {
        SiteTime::new(300, WeekRule::Calendar).unwrap()
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 5, 0, 0).unwrap()
    }

    fn facts(instructor: bool, session: bool, clock: ClockVerdict) -> Facts {
        Facts {
            instructor: instructor.then(|| "Ольга Петровна".to_string()),
            session: session.then(|| SessionStatus {
                id: SessionId(uuid::Uuid::nil()),
                service: "001".into(),
                title: "Клуб".into(),
                present: Vec::new(),
                absent: Vec::new(),
                group_max: Some(25),
                opened_at: Some(now()),
            }),
            clock,
            ..Facts::default()
        }
    }

    fn flow(f: Facts) -> Flow {
        let mut flow = Flow::new(site(), "sim".into());
        flow.facts = f;
        flow
    }

    fn group_full() -> Result<Reply, KioskError> {
        let recipient = RecipientId(uuid::Uuid::nil());
        let decision = Decision::one_of_each(recipient)
            .into_iter()
            .find(|d| d.kind() == DecisionKind::GroupFull)
            .unwrap();
        Ok(Reply::Tap(TapReply {
            kind: decision.kind(),
            decision,
            committed: false,
            display_name: Some("Мария Ивановна".into()),
            checkin: None,
            present: 25,
            group_max: Some(25),
        }))
    }

    #[test]
    fn the_diagnostics_show_a_published_roster_by_its_local_date_and_a_files_by_number() {
        let roster_line = |version: u64| {
            let f = flow(Facts {
                roster_version: version,
                ..Facts::default()
            });
            let line = f
                .diagnostics()
                .lines
                .into_iter()
                .find(|l| l.label == "Получатели")
                .expect("a roster line");
            (line.value, line.ok)
        };
        let published = Utc.with_ymd_and_hms(2026, 11, 30, 10, 3, 0).unwrap();
        assert_eq!(
            roster_line(published.timestamp() as u64),
            ("от 30.11.2026 15:03".to_string(), true),
            "the site is at UTC+5"
        );
        assert_eq!(roster_line(3), ("версия 3".to_string(), true));
        assert_eq!(roster_line(0), ("версия 0".to_string(), false));
    }

    #[test]
    fn the_diagnostics_say_the_power_and_the_space_in_words() {
        use crate::health::{Health, Power, Space};
        let lines = |health: Health| -> Vec<(String, String, bool)> {
            flow(Facts {
                health,
                ..Facts::default()
            })
            .diagnostics()
            .lines
            .into_iter()
            .filter(|l| l.label == "Питание" || l.label == "Карта памяти")
            .map(|l| (l.label, l.value, l.ok))
            .collect()
        };
        let line = |label: &str, value: &str, ok: bool| (label.to_string(), value.to_string(), ok);
        assert_eq!(
            lines(Health::default()),
            vec![line("Питание", "не измеряется", true)],
            "not a Pi: no space read either"
        );
        let space = |free_mb, low| Space {
            free_mb,
            total_mb: 29_800,
            low,
        };
        assert_eq!(
            lines(Health {
                power: Power::WasLow,
                space: Some(space(21_913, false)),
                ..Health::default()
            }),
            vec![
                line(
                    "Питание",
                    "напряжение падало ниже нормы: проверьте блок питания",
                    false
                ),
                line("Карта памяти", "свободно 21,4 ГБ из 29,1 ГБ", true),
            ]
        );
        assert_eq!(
            lines(Health {
                power: Power::Low,
                space: Some(space(150, true)),
                ..Health::default()
            }),
            vec![
                line(
                    "Питание",
                    "напряжение ниже нормы: замените блок питания",
                    false
                ),
                line("Карта памяти", "мало места: 0,1 ГБ из 29,1 ГБ", false),
            ]
        );
    }

    #[test]
    fn the_diagnostics_say_when_the_sound_device_is_missing_or_busy() {
        use crate::health::Health;
        let sound = |sound: SoundState| -> Option<(String, bool)> {
            flow(Facts {
                health: Health {
                    sound,
                    ..Health::default()
                },
                ..Facts::default()
            })
            .diagnostics()
            .lines
            .into_iter()
            .find(|l| l.label == "Звук")
            .map(|l| (l.value, l.ok))
        };
        let said = |v: &str, ok: bool| Some((v.to_string(), ok));
        assert_eq!(sound(SoundState::NotUsed), None, "headless: no device");
        assert_eq!(sound(SoundState::Fine), said("работает", true));
        assert_eq!(
            sound(SoundState::Missing),
            said("нет устройства: проверьте колонку и кабель", false)
        );
        assert_eq!(
            sound(SoundState::Busy),
            said(
                "устройство занято другой программой: перезапустите киоск",
                false
            )
        );
        assert_eq!(
            sound(SoundState::Failed),
            said("не играет: подробности в журнале системы", false)
        );
    }

    #[test]
    fn the_instructor_button_leads_to_sign_in_start_or_session() {
        for (instructor, session, screen) in [
            (false, false, "sign_in"),
            (false, true, "sign_in"),
            (true, false, "start_session"),
            (true, true, "in_session"),
        ] {
            let mut f = flow(facts(instructor, session, ClockVerdict::Trusted));
            let t0 = Instant::now();
            f.touched(t0);
            let (cmds, view) = f.on_event(UiEvent::InstructorMenu, now());
            assert!(cmds.is_empty());
            assert_eq!(view.unwrap().name(), screen);
            // An untouched instructor screen times out to idle, and signs the instructor out,
            // two minutes after the last touch: not a moment before.
            assert_eq!(f.next_deadline(), Some(t0 + INSTRUCTOR_TIMEOUT));
            let almost = t0 + INSTRUCTOR_TIMEOUT - Duration::from_millis(1);
            assert_eq!(f.on_deadline(almost, now()), (vec![], None));
            let (cmds, view) = f.on_deadline(t0 + INSTRUCTOR_TIMEOUT, now());
            assert_eq!(view.unwrap().name(), "idle");
            assert_eq!(
                cmds,
                if instructor {
                    vec![Input::from(Command::SignOut)]
                } else {
                    vec![]
                }
            );
            // Idle: nothing waits any more.
            assert_eq!(f.next_deadline(), None);
            let later = t0 + INSTRUCTOR_TIMEOUT * 2;
            assert_eq!(f.on_deadline(later, now()), (vec![], None));
            // «Инструктор» again asks for the PIN or the staff card, session or not.
            let (_, view) = f.on_event(UiEvent::InstructorMenu, now());
            assert_eq!(
                view.unwrap().name(),
                "sign_in",
                "no way back in without a PIN"
            );
        }
    }

    #[test]
    fn card_enrolment_never_times_out_and_its_refusal_gives_way_to_the_enrolment_screen() {
        let mut f = flow(facts(false, false, ClockVerdict::Trusted));
        f.mode = Mode::Enrol {
            name: "Нина Васильевна".into(),
            message: String::new(),
        };
        // Touched hours ago: enrolment waits for its card, nothing is due (no busy loop).
        let t0 = Instant::now();
        f.touched(t0);
        assert_eq!(f.next_deadline(), None);
        let later = t0 + INSTRUCTOR_TIMEOUT * 90;
        assert_eq!(f.on_deadline(later, now()), (vec![], None));
        // A refused card's result held for 3 s comes back to the enrolment screen.
        f.hold(Some(later + Duration::from_secs(3)));
        assert_eq!(f.next_deadline(), Some(later + Duration::from_secs(3)));
        let (cmds, view) = f.on_deadline(later + Duration::from_secs(3), now());
        assert!(cmds.is_empty());
        assert_eq!(view.unwrap().name(), "enrol");
        assert_eq!(f.next_deadline(), None);
    }

    #[test]
    fn a_touch_moves_the_timeout_and_a_held_result_gives_way_to_the_screen_underneath() {
        let mut f = flow(facts(true, true, ClockVerdict::Trusted));
        let t0 = Instant::now();
        f.touched(t0);
        f.on_event(UiEvent::InstructorMenu, now());
        let t1 = t0 + Duration::from_secs(100);
        f.touched(t1);
        assert_eq!(f.next_deadline(), Some(t1 + INSTRUCTOR_TIMEOUT));
        assert_eq!(
            f.on_deadline(t0 + INSTRUCTOR_TIMEOUT, now()),
            (vec![], None)
        );
        // A tap result held for 3 s comes first; at its end the instructor's screen is back.
        let until = t1 + Duration::from_secs(3);
        f.hold(Some(until));
        assert!(f.held());
        assert_eq!(f.next_deadline(), Some(until));
        let (cmds, view) = f.on_deadline(until, now());
        assert!(cmds.is_empty());
        assert_eq!(view.unwrap().name(), "in_session");
        assert!(!f.held());
        assert_eq!(f.next_deadline(), Some(t1 + INSTRUCTOR_TIMEOUT));
    }

    #[test]
    fn the_sign_out_button_signs_the_instructor_out_and_shows_idle() {
        let mut f = flow(facts(true, true, ClockVerdict::Trusted));
        f.on_event(UiEvent::InstructorMenu, now());
        let (cmds, view) = f.on_event(UiEvent::SignOut, now());
        assert_eq!(cmds, vec![Input::from(Command::SignOut)]);
        assert_eq!(view.unwrap().name(), "idle");
        let (_, view) = f.on_event(UiEvent::InstructorMenu, now());
        assert_eq!(view.unwrap().name(), "sign_in");
    }

    #[test]
    fn only_a_signed_in_instructor_is_offered_the_override() {
        let tap = Input::from(Command::Tap {
            card: "0A000001".into(),
        });
        for (instructor, offered) in [(false, false), (true, true)] {
            let mut f = flow(Facts::default());
            let shown = f
                .on_reply(
                    &tap,
                    &group_full(),
                    facts(instructor, true, ClockVerdict::Trusted),
                    now(),
                )
                .unwrap();
            assert!(shown.hold);
            let ScreenView::TapResult(v) = shown.screen else {
                panic!()
            };
            assert_eq!(v.can_override, offered);
        }
    }

    #[test]
    fn an_untrusted_clock_asks_for_the_date_before_a_session_starts() {
        let before_build = ClockVerdict::BeforeBuild { build_time: now() };
        let mut f = flow(facts(true, false, before_build));
        let start = UiEvent::StartSession {
            service: "001".into(),
            group: String::new(),
            safety_briefing: false,
            as_event: false,
        };
        let (cmds, view) = f.on_event(start.clone(), now());
        assert!(cmds.is_empty());
        let Some(ScreenView::ConfirmDate(c)) = view else {
            panic!()
        };
        assert_eq!(c.date, site().local_date(now()));
        // The instructor confirms the kiosk's date: the start goes with confirm_date.
        let (cmds, _) = f.on_event(UiEvent::ConfirmDate { date: c.date }, now());
        assert!(matches!(
            cmds.as_slice(),
            [Input::Command(Command::Start {
                confirm_date: true,
                ..
            })]
        ));
        // Another date: the kiosk cannot set its clock; no session, a message.
        let mut f = flow(facts(true, false, before_build));
        f.on_event(start, now());
        let other = c.date.succ_opt().unwrap();
        let (cmds, view) = f.on_event(UiEvent::ConfirmDate { date: other }, now());
        assert!(cmds.is_empty());
        let Some(ScreenView::StartSession(s)) = view else {
            panic!()
        };
        assert!(s.error.contains("другую дату"), "{}", s.error);
    }

    /// 002 l.1251: the group's second celebration of the month asks the instructor, with the
    /// group's name and its figures; «Начать всё равно» sends the start again, confirmed;
    /// «Отмена» is the choice of sessions; where the site makes the cap a hard stop, the
    /// choice screen says why and nothing asks.
    #[test]
    fn a_groups_reached_cap_asks_before_the_start_goes_again() {
        use otmetka_core::catalogue::{FrequencyLimit, Period};
        use otmetka_core::people::GroupId;
        let group = GroupId(uuid::Uuid::from_u128(0xc001));
        let mut facts = facts(true, false, ClockVerdict::Trusted);
        facts.choices = vec![StartChoice {
            service: "002-1.7.2".into(),
            group: Some(group),
            title: "Хор «Рябинушка»".into(),
            group_min: None,
            group_max: None,
            time_norm_minutes: Some(150),
            safety_briefing: false,
            event: None,
            unit_kind: None,
            start: None,
            room: String::new(),
        }];
        let start = Command::Start {
            service: "002-1.7.2".into(),
            group: Some(group),
            unit_kind: None,
            safety_briefing: false,
            confirm_date: false,
            event: false,
            over_group_cap: false,
        };
        let reached = |overridable| {
            Err(KioskError::Session(SessionError::GroupCapReached {
                limit: FrequencyLimit {
                    max: 1,
                    period: Period::Month,
                    cite: None,
                    per_group: true,
                    applies: Default::default(),
                    form: Default::default(),
                },
                used: 1,
                overridable,
            }))
        };
        let mut f = flow(facts.clone());
        f.on_event(
            UiEvent::StartSession {
                service: "002-1.7.2".into(),
                group: group.to_string(),
                safety_briefing: false,
                as_event: false,
            },
            now(),
        );
        let shown = f
            .on_reply(
                &Input::from(start.clone()),
                &reached(true),
                facts.clone(),
                now(),
            )
            .unwrap();
        let ScreenView::ConfirmGroupCap(v) = shown.screen else {
            panic!("{:?}", shown.screen)
        };
        assert_eq!(
            v.message,
            "У группы «Хор «Рябинушка»» уже 1 из 1 за месяц. Начать ещё одно занятие? \
             Журнал отметит превышение."
        );
        let (cmds, _) = f.on_event(UiEvent::ConfirmGroupCap, now());
        let Some(Input::Command(Command::Start {
            over_group_cap,
            group: g,
            ..
        })) = cmds.first()
        else {
            panic!("{cmds:?}")
        };
        assert!(*over_group_cap);
        assert_eq!(*g, Some(group));
        // The confirmed start fails after all: the choice screen says why, not a notice nobody
        // sees.
        let confirmed = cmds[0].clone();
        let shown = f
            .on_reply(
                &confirmed,
                &Err(KioskError::SessionOpen),
                facts.clone(),
                now(),
            )
            .unwrap();
        let ScreenView::StartSession(v) = shown.screen else {
            panic!("{:?}", shown.screen)
        };
        assert!(!v.error.is_empty());
        // «Отмена»: back to the choice.
        f.on_reply(
            &Input::from(start.clone()),
            &reached(true),
            facts.clone(),
            now(),
        );
        assert_eq!(
            f.on_event(UiEvent::Back, now()).1.unwrap().name(),
            "start_session"
        );
        // A hard stop: the choice says why.
        let shown = f
            .on_reply(&Input::from(start), &reached(false), facts, now())
            .unwrap();
        let ScreenView::StartSession(v) = shown.screen else {
            panic!("{:?}", shown.screen)
        };
        assert!(
            v.error.contains("Ещё одно занятие здесь начать нельзя"),
            "{}",
            v.error
        );
    }

    #[test]
    fn the_end_sends_notes_then_the_head_count() {
        let mut f = flow(facts(true, true, ClockVerdict::Trusted));
        assert_eq!(
            f.on_event(UiEvent::FinishSession, now()).1.unwrap().name(),
            "end_session"
        );
        let r = uuid::Uuid::from_u128(7);
        let (cmds, _) = f.on_event(
            UiEvent::EndSession {
                head_count: 12,
                notes: vec![
                    (r.to_string(), ParticipantNote::LeftEarly),
                    (uuid::Uuid::from_u128(8).to_string(), ParticipantNote::None),
                ],
                reason: Some(CloseReason::LeftEarly),
            },
            now(),
        );
        assert_eq!(
            cmds,
            vec![
                Input::from(Command::Note {
                    recipient: RecipientId(r),
                    note: "left_early".into()
                }),
                Input::from(Command::End {
                    head_count: Some(12),
                    reason: Some(CloseReason::LeftEarly),
                }),
            ]
        );
        // Back from the end screen is the session, not the idle screen.
        f.on_event(UiEvent::FinishSession, now());
        assert_eq!(
            f.on_event(UiEvent::Back, now()).1.unwrap().name(),
            "in_session"
        );
    }

    #[test]
    fn reasons_travel_as_codes_and_refusals_as_russian_text() {
        let mut f = flow(facts(true, true, ClockVerdict::Trusted));
        let (cmds, _) = f.on_event(
            UiEvent::Override {
                reason: OverrideReason::PaperConsent,
            },
            now(),
        );
        assert_eq!(
            cmds,
            vec![Input::from(Command::Override {
                reason: "paper_consent".into()
            })]
        );
        let r = uuid::Uuid::from_u128(9);
        let (cmds, _) = f.on_event(
            UiEvent::ManualCheckIn {
                recipient: r.to_string(),
                reason: ManualReason::ForgotCard,
            },
            now(),
        );
        assert_eq!(
            cmds,
            vec![Input::from(Command::Manual {
                recipient: RecipientId(r),
                reason: "forgot_card".into()
            })]
        );
        f.on_event(UiEvent::InstructorMenu, now());
        let shown = f
            .on_reply(
                &Input::from(Command::Undo { checkin: None }),
                &Err(KioskError::NotSignedIn),
                facts(true, true, ClockVerdict::Trusted),
                now(),
            )
            .unwrap();
        let ScreenView::InSession(v) = shown.screen else {
            panic!()
        };
        assert_eq!(v.message, "Сначала войдите: карта сотрудника или PIN.");
        // A wrong PIN keeps the sign-in screen, with the message.
        let shown = f
            .on_reply(
                &Input::from(Command::SignIn {
                    credential: "0000".into(),
                }),
                &Err(KioskError::BadCredential),
                facts(false, true, ClockVerdict::Trusted),
                now(),
            )
            .unwrap();
        let ScreenView::SignIn(v) = shown.screen else {
            panic!()
        };
        assert_eq!(v.error, "Неверный PIN. Попробуйте ещё раз.");
    }

    #[test]
    fn a_garbled_read_says_the_card_was_not_read_and_never_opens_the_pin_pad() {
        for session in [false, true] {
            let mut f = flow(facts(session, session, ClockVerdict::Trusted));
            let shown = f
                .on_reply(
                    &Input::from(Command::Tap {
                        card: "\u{1b}[2~x".into(),
                    }),
                    &Err(KioskError::UnreadableCard),
                    facts(session, session, ClockVerdict::Trusted),
                    now(),
                )
                .unwrap();
            let text = match shown.screen {
                ScreenView::Idle(v) => v.notice,
                ScreenView::InSession(v) => v.message,
                other => panic!("not the PIN pad, not anything else: {other:?}"),
            };
            assert_eq!(text, "Карта не прочитана, приложите ещё раз.");
        }
    }

    #[test]
    fn a_second_tap_asks_how_it_went_and_the_answer_checks_out() {
        let r = RecipientId(uuid::Uuid::from_u128(5));
        let again = Ok(Reply::Tap(TapReply {
            decision: Decision::AlreadyCheckedIn {
                recipient: r,
                at: now(),
            },
            kind: DecisionKind::AlreadyCheckedIn,
            committed: false,
            display_name: Some("Мария Ивановна".into()),
            checkin: None,
            present: 3,
            group_max: None,
        }));
        let tap = Input::from(Command::Tap {
            card: "0A000005".into(),
        });
        let mut f = flow(facts(false, true, ClockVerdict::Trusted));
        let shown = f
            .on_reply(
                &tap,
                &again,
                facts(false, true, ClockVerdict::Trusted),
                now(),
            )
            .unwrap();
        assert!(shown.linger);
        let voice = shown.tap.unwrap();
        assert_eq!(voice.kind, DecisionKind::AlreadyCheckedIn);
        assert_eq!(
            (voice.prompt.clip.as_str(), voice.spoken.as_str()),
            (
                "checkout_question",
                "Мария Ивановна, как прошло занятие? Нажмите на лицо."
            ),
            "the voice asks the screen's question"
        );
        let ScreenView::CheckOut(v) = shown.screen else {
            panic!()
        };
        assert_eq!(v.name.as_deref(), Some("Мария Ивановна"));
        let (cmds, _) = f.on_event(UiEvent::Satisfaction(Satisfaction::SoSo), now());
        assert_eq!(
            cmds,
            vec![Input::from(Command::CheckOut {
                recipient: r,
                satisfaction: Some(otmetka_core::event::Satisfaction::Neutral)
            })]
        );
        // An answer with no one asked (a late press) only goes back to idle.
        let (cmds, view) = f.on_event(UiEvent::Satisfaction(Satisfaction::Good), now());
        assert!(cmds.is_empty());
        assert_eq!(view.unwrap().name(), "idle");
    }

    #[test]
    fn an_ended_session_says_its_units_on_the_idle_screen() {
        let mut f = flow(facts(true, true, ClockVerdict::Trusted));
        let shown = f
            .on_reply(
                &Input::from(Command::End {
                    head_count: Some(3),
                    reason: None,
                }),
                &Ok(Reply::Ended {
                    session: SessionId(uuid::Uuid::nil()),
                    units: Vec::new(),
                    below_group_min: false,
                }),
                facts(true, false, ClockVerdict::Trusted),
                now(),
            )
            .unwrap();
        let ScreenView::Idle(v) = shown.screen else {
            panic!()
        };
        assert_eq!(v.notice, "Занятие завершено. Единиц услуги: 0.");
        assert_eq!(v.time, "10:00");
        assert!(v.session.is_none());
    }

    #[test]
    fn card_enrolment_waits_refuses_a_held_card_and_ends_with_the_card_given() {
        let mut f = flow(facts(false, false, ClockVerdict::Trusted));
        let enrol = Input::from(Internal::Enrol {
            request: Box::new(otmetka_core::wire::EnrolmentRequest {
                schema: otmetka_core::wire::SCHEMA,
                request: uuid::Uuid::nil(),
                recipient: RecipientId(uuid::Uuid::from_u128(5)),
                display_name: "Нина Васильевна".into(),
                expires_at: now(),
            }),
        });
        let waiting = |name: bool| {
            let mut x = facts(false, false, ClockVerdict::Trusted);
            x.enrolment = name.then(|| "Нина Васильевна".to_string());
            x
        };
        let shown = f
            .on_reply(
                &enrol,
                &Ok(Reply::EnrolWaiting {
                    name: "Нина Васильевна".into(),
                }),
                waiting(true),
                now(),
            )
            .unwrap();
        let ScreenView::Enrol(v) = shown.screen else {
            panic!("{:?}", shown.screen)
        };
        assert_eq!(v.name, "Нина Васильевна");
        assert_eq!(
            f.time_out(now()),
            (vec![], None),
            "enrolment does not time out by touch"
        );
        let tap = Input::from(Command::Tap {
            card: "0A000001".into(),
        });
        let shown = f
            .on_reply(
                &tap,
                &Ok(Reply::EnrolRefused {
                    holder: Some("Мария Ивановна".into()),
                }),
                waiting(true),
                now(),
            )
            .unwrap();
        assert!(shown.hold);
        let view = shown.tap.unwrap();
        assert_eq!(view.tone, otmetka_core::decision::Tone::Refused);
        assert_eq!(view.prompt.clip, "enrol_in_use");
        assert!(view.reason.contains("Мария Ивановна"), "{}", view.reason);
        let ScreenView::Enrol(v) = f.screen(now()) else {
            panic!("after the hold: the enrolment screen again")
        };
        assert_eq!(v.message, view.reason);
        let shown = f
            .on_reply(
                &tap,
                &Ok(Reply::Enrolled {
                    name: "Нина Васильевна".into(),
                    committed: true,
                }),
                waiting(false),
                now(),
            )
            .unwrap();
        let view = shown.tap.unwrap();
        assert_eq!(
            (view.headline.as_str(), view.prompt.clip.as_str()),
            ("Карта выдана", "enrol_done")
        );
        assert_eq!(f.screen(now()).name(), "idle");
        // An expired request (the kiosk's tick ended it) leaves the screen.
        f.on_reply(
            &enrol,
            &Ok(Reply::EnrolWaiting {
                name: "Нина Васильевна".into(),
            }),
            waiting(true),
            now(),
        );
        let shown = f
            .on_reply(
                &Input::from(Internal::Tick),
                &Ok(Reply::Ok),
                waiting(false),
                now(),
            )
            .unwrap();
        assert_eq!(shown.screen.name(), "idle");
        // Cancel on the screen asks the kiosk to leave enrolment mode.
        f.on_reply(
            &enrol,
            &Ok(Reply::EnrolWaiting {
                name: "Нина Васильевна".into(),
            }),
            waiting(true),
            now(),
        );
        let (cmds, _) = f.on_event(UiEvent::EnrolCancel, now());
        assert_eq!(cmds, vec![Input::from(Internal::EnrolCancel)]);
    }
}
