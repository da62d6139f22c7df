//! What the screens show and what they report back, as plain data (no Slint types).
//!
//! The glue builds a [`ScreenView`] from the domain and hands it to
//! [`Ui::show`](super::slint_adapter::Ui::show); the screens answer with [`UiEvent`]s. The mapping
//! of a [`Decision`] to what a person sees and hears is [`tap_view`]: text from the catalogue, tone,
//! icon, and the sound prompt (tone + spoken name + fixed clip), so that every outcome is shown by
//! colour AND icon AND sound AND text.

use crate::texts::{Lang, Texts};
use chrono::{Datelike, NaiveDate};
use otmetka_core::catalogue::{Period, ServiceCode};
use otmetka_core::decision::{Decision, DecisionKind, ProgrammeGap, Tone};
use otmetka_core::event::CloseReason;

/// One screen and its data.
#[derive(Debug, Clone, PartialEq)]
pub enum ScreenView {
    Idle(IdleView),
    TapResult(TapView),
    SignIn(SignInView),
    StartSession(StartSessionView),
    InSession(InSessionView),
    EndSession(EndSessionView),
    CheckOut(CheckOutView),
    Enrol(EnrolView),
    ConfirmDate(ConfirmDateView),
    ConfirmGroupCap(ConfirmGroupCapView),
    Diagnostics(DiagnosticsView),
}

impl ScreenView {
    /// A stable snake_case name (screenshot file names, logs).
    pub fn name(&self) -> &'static str {
        match self {
            ScreenView::Idle(_) => "idle",
            ScreenView::TapResult(_) => "tap_result",
            ScreenView::SignIn(_) => "sign_in",
            ScreenView::StartSession(_) => "start_session",
            ScreenView::InSession(_) => "in_session",
            ScreenView::EndSession(_) => "end_session",
            ScreenView::CheckOut(_) => "check_out",
            ScreenView::Enrol(_) => "enrol",
            ScreenView::ConfirmDate(_) => "confirm_date",
            ScreenView::ConfirmGroupCap(_) => "confirm_group_cap",
            ScreenView::Diagnostics(_) => "diagnostics",
        }
    }
}

/// The idle screen: "Приложите карту", the clock, the date and the open session.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IdleView {
    /// Local time, "10:42".
    pub time: String,
    /// Local date in words, "понедельник, 23 ноября 2026" (see [`format_date`]).
    pub date: String,
    /// The open session, if any.
    pub session: Option<SessionLine>,
    /// A line for everyone (e.g. "Нет связи с журналом — отметки сохраняются"); empty for none.
    pub notice: String,
}

/// The open session as the idle screen shows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionLine {
    /// The service's (or group's) title.
    pub title: String,
    /// "12 из 25" (see [`count_text`]).
    pub count: String,
}

/// The icon of an outcome, drawn as a shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Icon {
    Tick,
    Cross,
    Exclamation,
    Info,
}

impl Icon {
    /// The icon of a tone: done = tick, nothing changed = "i", needs the instructor = "!",
    /// refused or broken = cross.
    pub fn for_tone(tone: Tone) -> Icon {
        match tone {
            Tone::Accepted => Icon::Tick,
            Tone::Notice => Icon::Info,
            Tone::Warning => Icon::Exclamation,
            Tone::Refused | Tone::Error => Icon::Cross,
        }
    }
}

/// What to play for an outcome: the tone, then the name (spoken by the TTS command, if names are
/// spoken), then the fixed clip `config/sounds/<lang>/<clip>.wav`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    pub tone: Tone,
    pub name: Option<String>,
    pub clip: String,
    pub lang: Lang,
}

/// The tap result screen and its sound.
#[derive(Debug, Clone, PartialEq)]
pub struct TapView {
    pub kind: DecisionKind,
    pub tone: Tone,
    pub icon: Icon,
    /// First name and patronymic, where the card was known.
    pub name: Option<String>,
    /// The big line ("Вы отмечены").
    pub headline: String,
    /// One short sentence: why, and what to do.
    pub reason: String,
    /// Everything the voice says, as text (the captions of the sound; logs).
    pub spoken: String,
    pub prompt: Prompt,
    /// Whether the instructor's "allow" button is shown (a warning with a rule behind it). The
    /// glue may clear it (e.g. a site that makes the rule a hard stop).
    pub can_override: bool,
}

/// Maps a decision to what the tap result screen shows and what the speaker says.
pub fn tap_view(decision: &Decision, display_name: Option<&str>, texts: &Texts) -> TapView {
    let kind = decision.kind();
    let tone = kind.tone();
    let t = texts.decision(kind);
    let reason = match decision {
        Decision::GroupFull { max, .. } => {
            texts.format("decision.group_full.reason", &[("max", &max.to_string())])
        }
        Decision::FrequencyLimit { limit, used, .. } => texts.format(
            // A cap of the service's events (002 l.3171) says so: the circles may go on.
            if limit.form == otmetka_core::catalogue::Form::Event {
                "decision.frequency_limit.reason.event"
            } else {
                "decision.frequency_limit.reason"
            },
            &[
                ("used", &used.to_string()),
                ("max", &limit.max.to_string()),
                ("period", &period_text(limit.period, texts)),
            ],
        ),
        Decision::NotInProgramme { gap, .. } => match gap {
            ProgrammeGap::NoProgramme => texts.get("decision.not_in_programme.reason.no_programme"),
            ProgrammeGap::NotInForce => texts.get("decision.not_in_programme.reason.not_in_force"),
            ProgrammeGap::ServiceNotListed => t.reason.clone(),
            ProgrammeGap::CountUsed { allowed, used } => texts.format(
                "decision.not_in_programme.reason.count_used",
                &[
                    ("used", &used.to_string()),
                    ("allowed", &allowed.to_string()),
                ],
            ),
            ProgrammeGap::CourseLimit { max, nth } => texts.format(
                "decision.not_in_programme.reason.course_limit",
                &[("nth", &nth.to_string()), ("max", &max.to_string())],
            ),
            ProgrammeGap::NoCourse { first } => texts.format(
                "decision.not_in_programme.reason.no_course",
                &[("first", &first.format("%d.%m.%Y").to_string())],
            ),
            ProgrammeGap::CourseOver { days, day } => texts.format(
                "decision.not_in_programme.reason.course_over",
                &[("day", &day.to_string()), ("days", &days.to_string())],
            ),
        },
        Decision::NotEligible {
            care_group,
            care_groups: [low, high],
            minors,
            ..
        } => texts.format(
            if *minors {
                "decision.not_eligible.reason"
            } else {
                "decision.not_eligible.reason.adults"
            },
            &[
                ("groups", &format!("{low}–{high}")),
                (
                    "yours",
                    &care_group.map(|g| g.to_string()).unwrap_or_default(),
                ),
            ],
        ),
        _ => t.reason.clone(),
    };
    // A name only where the decision is about a known recipient.
    let name = decision
        .recipient()
        .and(display_name)
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string);
    let spoken = spoken(name.as_deref(), &t.voice);
    TapView {
        kind,
        tone,
        icon: Icon::for_tone(tone),
        prompt: Prompt {
            tone,
            name: name.clone(),
            clip: kind.as_str().to_string(),
            lang: texts.lang(),
        },
        name,
        headline: t.headline,
        reason,
        spoken,
        can_override: tone == Tone::Warning && decision.rule().is_some(),
    }
}

/// What the voice says, as text: the phrase, after the person's name where it is known
/// («Мария Ивановна, вы отмечены.»).
pub(crate) fn spoken(name: Option<&str>, phrase: &str) -> String {
    match name {
        Some(n) => {
            let mut c = phrase.chars();
            let rest: String = match c.next() {
                Some(f) => f.to_lowercase().chain(c).collect(),
                None => String::new(),
            };
            format!("{n}, {rest}")
        }
        None => phrase.to_string(),
    }
}

/// "неделю", "курс (14 дн.)": the period of a frequency limit after "за".
pub fn period_text(period: Period, texts: &Texts) -> String {
    match period {
        Period::Day => texts.get("period.day"),
        Period::Week => texts.get("period.week"),
        Period::Month => texts.get("period.month"),
        Period::Quarter => texts.get("period.quarter"),
        Period::Year => texts.get("period.year"),
        Period::Course { days } => texts.format("period.course", &[("days", &days.to_string())]),
    }
}

/// "понедельник, 23 ноября 2026" / "Monday, November 23, 2026".
pub fn format_date(date: NaiveDate, texts: &Texts) -> String {
    format!(
        "{}, {}",
        weekday_text(date, texts),
        day_month_year(date, texts)
    )
}

/// "23 ноября 2026".
pub fn day_month_year(date: NaiveDate, texts: &Texts) -> String {
    texts.format(
        "date.format",
        &[
            ("day", &date.day().to_string()),
            ("month", &texts.get(&format!("month.{}", date.month()))),
            ("year", &date.year().to_string()),
        ],
    )
}

/// "понедельник".
pub fn weekday_text(date: NaiveDate, texts: &Texts) -> String {
    texts.get(&format!("weekday.{}", date.weekday().number_from_monday()))
}

/// "12 из 25", or "Пришли: 12" where the group has no maximum.
pub fn count_text(count: u32, max: Option<u32>, texts: &Texts) -> String {
    match max {
        Some(m) => texts.format(
            "session.count",
            &[("count", &count.to_string()), ("max", &m.to_string())],
        ),
        None => texts.format("session.count_no_max", &[("count", &count.to_string())]),
    }
}

/// Instructor sign-in.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SignInView {
    /// Replaces "Приложите карту сотрудника" where not empty.
    pub message: String,
    /// "Неверный PIN…"; empty for none.
    pub error: String,
}

/// A line to choose when starting a session: a schedule line or a service.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionChoice {
    pub service: ServiceCode,
    /// The group's id, empty for a session without a standing group.
    pub group: String,
    /// "10:00 Клуб «Собеседник»".
    pub title: String,
    /// "Клуб общения, до 25 человек".
    pub detail: String,
    /// The service begins with the safety briefing (`Service::needs_safety_briefing`).
    pub needs_safety_briefing: bool,
    /// The line opens the service's event form (a mass event, an excursion: its longer norm).
    pub as_event: bool,
}

/// Start a session.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StartSessionView {
    pub instructor: String,
    pub schedule: Vec<SessionChoice>,
    pub services: Vec<SessionChoice>,
    pub error: String,
}

/// A person in a list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PersonLine {
    /// The check-in id (present list) or the recipient id (absent list).
    pub id: String,
    pub name: String,
    /// "10:02, вручную: забыл карту"; empty for none.
    pub detail: String,
}

/// A reason the instructor picks (manual check-in, override, note).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ManualReason {
    ForgotCard,
    CardUnreadable,
    NoCard,
    CannotTap,
}

impl ManualReason {
    pub const ALL: [ManualReason; 4] = [
        ManualReason::ForgotCard,
        ManualReason::CardUnreadable,
        ManualReason::NoCard,
        ManualReason::CannotTap,
    ];

    /// The stable code (catalogue key `manual.<code>`, the store, the feed).
    pub fn code(self) -> &'static str {
        match self {
            ManualReason::ForgotCard => "forgot_card",
            ManualReason::CardUnreadable => "card_unreadable",
            ManualReason::NoCard => "no_card",
            ManualReason::CannotTap => "cannot_tap",
        }
    }

    pub fn from_code(code: &str) -> Option<ManualReason> {
        ManualReason::ALL.into_iter().find(|r| r.code() == code)
    }
}

/// Why the instructor overrode a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OverrideReason {
    InstructorDecision,
    PaperConsent,
    SpecialistOrder,
    ProgrammeUpdated,
}

impl OverrideReason {
    pub const ALL: [OverrideReason; 4] = [
        OverrideReason::InstructorDecision,
        OverrideReason::PaperConsent,
        OverrideReason::SpecialistOrder,
        OverrideReason::ProgrammeUpdated,
    ];

    /// The stable code (catalogue key `override.<code>`).
    pub fn code(self) -> &'static str {
        match self {
            OverrideReason::InstructorDecision => "instructor_decision",
            OverrideReason::PaperConsent => "paper_consent",
            OverrideReason::SpecialistOrder => "specialist_order",
            OverrideReason::ProgrammeUpdated => "programme_updated",
        }
    }

    pub fn from_code(code: &str) -> Option<OverrideReason> {
        OverrideReason::ALL.into_iter().find(|r| r.code() == code)
    }
}

/// A note on a participant at the end of a session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ParticipantNote {
    #[default]
    None,
    LeftEarly,
    CameLate,
    FeltUnwell,
    DidNotTakePart,
}

impl ParticipantNote {
    pub const ALL: [ParticipantNote; 5] = [
        ParticipantNote::None,
        ParticipantNote::LeftEarly,
        ParticipantNote::CameLate,
        ParticipantNote::FeltUnwell,
        ParticipantNote::DidNotTakePart,
    ];

    /// The stable code (catalogue key `note.<code>`).
    pub fn code(self) -> &'static str {
        match self {
            ParticipantNote::None => "none",
            ParticipantNote::LeftEarly => "left_early",
            ParticipantNote::CameLate => "came_late",
            ParticipantNote::FeltUnwell => "felt_unwell",
            ParticipantNote::DidNotTakePart => "did_not_take_part",
        }
    }

    /// The next note in the cycle (a tap on the row).
    pub fn next(self) -> ParticipantNote {
        let i = ParticipantNote::ALL
            .iter()
            .position(|n| *n == self)
            .unwrap_or(0);
        ParticipantNote::ALL[(i + 1) % ParticipantNote::ALL.len()]
    }
}

/// The session in progress.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InSessionView {
    pub title: String,
    pub count: u32,
    pub max: Option<u32>,
    pub instructor: String,
    /// Checked in, newest first (the first is selected for "undo").
    pub present: Vec<PersonLine>,
    /// Members of the group not yet here (filtered by the search box in the adapter).
    pub absent: Vec<PersonLine>,
    /// A message for the instructor ("Отметка отменена"); empty for none.
    pub message: String,
}

/// The end of a session.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EndSessionView {
    pub title: String,
    /// "Начало 10:00, конец 10:40. Отмечено: 12."
    pub summary: String,
    /// The head count the instructor starts from (the check-ins).
    pub counted: u32,
    /// Participants with their notes (id = recipient id).
    pub notes: Vec<(PersonLine, ParticipantNote)>,
    /// How many units of service will be sent.
    pub units: u32,
    /// Below the group's minimum: (present, minimum); the close then needs a reason.
    pub below_min: Option<(u32, u32)>,
}

/// Check-out with the satisfaction question.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CheckOutView {
    pub name: Option<String>,
}

/// Card enrolment: waiting for the new card.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EnrolView {
    /// Whose card it will be.
    pub name: String,
    /// Why the last card was refused (empty: the hint is shown).
    pub message: String,
}

/// Date confirmation (clock not trusted).
#[derive(Debug, Clone, PartialEq)]
pub struct ConfirmDateView {
    /// The date the kiosk believes (local).
    pub date: NaiveDate,
}

/// A group's extra session (its cap on the group's sessions reached, 002 l.1251): the instructor
/// starts it all the same or chooses another.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfirmGroupCapView {
    /// Which group, how many of how many sessions in which period.
    pub message: String,
}

/// A line of the diagnostics screen.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DiagnosticLine {
    /// "Считыватель", "Сеть", "Очередь в журнал", "Часы", "Версия".
    pub label: String,
    pub value: String,
    pub ok: bool,
}

/// Diagnostics behind the instructor.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DiagnosticsView {
    pub lines: Vec<DiagnosticLine>,
    pub version: String,
}

/// The answer to the satisfaction question (quality indicator "satisfaction, %", 002 line 1227).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Satisfaction {
    /// хорошо
    Good,
    /// нормально
    SoSo,
    /// плохо
    Bad,
}

impl Satisfaction {
    /// The stable code ("good" / "so_so" / "bad").
    pub fn code(self) -> &'static str {
        match self {
            Satisfaction::Good => "good",
            Satisfaction::SoSo => "so_so",
            Satisfaction::Bad => "bad",
        }
    }
}

/// Display settings: the variants of the theme and the language. The kiosk keeps them in a
/// small file beside its database, so a restart (a power cut) keeps large text and dark.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct UiSettings {
    pub large_text: bool,
    pub dark: bool,
    pub lang: Lang,
}

impl UiSettings {
    /// The settings saved in `path`; the defaults when there is none or it does not parse (a
    /// display preference is not worth refusing to start over).
    pub fn load(path: &std::path::Path) -> UiSettings {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!(
                    "{}: display settings unreadable ({e}): defaults",
                    path.display()
                );
                UiSettings::default()
            }),
            Err(_) => UiSettings::default(),
        }
    }

    /// Saves them in `path` (a temporary file renamed over it: never half a file).
    pub fn save(&self, path: &std::path::Path) -> std::io::Result<()> {
        let tmp = path.with_extension("tmp");
        std::fs::write(
            &tmp,
            serde_json::to_vec(self).map_err(std::io::Error::other)?,
        )?;
        std::fs::rename(&tmp, path)
    }
}

/// What a person did on a screen, for the glue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UiEvent {
    /// "Инструктор" on the idle screen: the glue shows sign-in (or the menu if signed in).
    InstructorMenu,
    SignInPin(String),
    StartSession {
        service: ServiceCode,
        /// Empty for none.
        group: String,
        safety_briefing: bool,
        /// Opened as the service's event form (a mass event, an excursion).
        as_event: bool,
    },
    /// Undo a check-in (the id from [`InSessionView::present`]).
    Undo {
        checkin_id: String,
    },
    ManualCheckIn {
        recipient: String,
        reason: ManualReason,
    },
    /// Override the rule of the tap shown on the tap result screen.
    Override {
        reason: OverrideReason,
    },
    /// "Завершить занятие" on the in-session screen: the glue shows [`EndSessionView`].
    FinishSession,
    /// The instructor confirmed the end with this head count and these notes.
    EndSession {
        head_count: u32,
        notes: Vec<(String, ParticipantNote)>,
        /// Why, where the close warned (below the group minimum, head count ≠ check-ins).
        reason: Option<CloseReason>,
    },
    Satisfaction(Satisfaction),
    EnrolCancel,
    ConfirmDate {
        date: NaiveDate,
    },
    /// «Начать всё равно»: the group's extra session starts.
    ConfirmGroupCap,
    OpenDiagnostics,
    /// «Выйти» on an instructor's screen: the instructor signs out; the next one signs in.
    SignOut,
    /// A display setting changed (already applied on screen); the glue may persist it and
    /// switch the voice's language.
    SettingsChanged(UiSettings),
    Back,
    /// F1..F9 in a desktop window: the simulated reader's nine demo cards.
    DemoCard(u8),
}

#[cfg(test)]
mod tests {
    #[test]
    fn display_settings_survive_a_restart_and_a_bad_file_gives_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ui-settings.json");
        assert_eq!(
            UiSettings::load(&path),
            UiSettings::default(),
            "no file yet"
        );
        let s = UiSettings {
            large_text: true,
            dark: true,
            lang: Lang::En,
        };
        s.save(&path).unwrap();
        assert_eq!(UiSettings::load(&path), s);
        std::fs::write(&path, b"{\"dark\": tru").unwrap();
        assert_eq!(UiSettings::load(&path), UiSettings::default());
    }

    use super::*;
    use otmetka_core::people::RecipientId;

    fn rid() -> RecipientId {
        RecipientId(uuid::Uuid::nil())
    }

    fn all_decisions() -> Vec<Decision> {
        Decision::one_of_each(rid())
    }

    #[test]
    fn accepted_says_name_and_checked_in() {
        let t = Texts::bundled(Lang::Ru);
        let v = tap_view(&all_decisions()[0], Some("Мария Ивановна"), &t);
        assert_eq!(v.name.as_deref(), Some("Мария Ивановна"));
        assert_eq!(v.headline, "Вы отмечены");
        assert_eq!(v.icon, Icon::Tick);
        assert_eq!(v.tone, Tone::Accepted);
        assert_eq!(v.spoken, "Мария Ивановна, вы отмечены.");
        assert_eq!(v.prompt.clip, "accepted");
        assert!(!v.can_override);
    }

    #[test]
    fn unknown_card_has_no_name_even_if_given() {
        let t = Texts::bundled(Lang::Ru);
        let v = tap_view(&Decision::UnknownCard, Some("Кто-то"), &t);
        assert_eq!(v.name, None);
        assert_eq!(v.headline, "Карта не найдена");
        assert_eq!(v.spoken, "Карта не найдена. Обратитесь к инструктору.");
        assert_eq!(v.icon, Icon::Cross);
    }

    #[test]
    fn parameters_reach_the_reason() {
        let t = Texts::bundled(Lang::Ru);
        let d = all_decisions();
        assert_eq!(
            tap_view(&d[5], None, &t).reason,
            "Мест нет: в группе уже 25 человек."
        );
        assert_eq!(tap_view(&d[6], None, &t).reason, "Уже 2 из 2 за неделю.");
        let en = Texts::bundled(Lang::En);
        assert_eq!(
            tap_view(&d[6], None, &en).reason,
            "Already 2 of 2 per week."
        );
        let gap = Decision::NotInProgramme {
            recipient: rid(),
            service: "001".into(),
            gap: ProgrammeGap::CountUsed {
                allowed: 4,
                used: 4,
            },
        };
        assert_eq!(
            tap_view(&gap, None, &t).reason,
            "По программе использовано 4 из 4."
        );
        let course = Decision::NotInProgramme {
            recipient: rid(),
            service: "002-2.5".into(),
            gap: ProgrammeGap::CourseLimit { max: 2, nth: 3 },
        };
        assert_eq!(
            tap_view(&course, None, &t).reason,
            "Это 3-й курс в году, а по стандарту — не больше 2."
        );
        let care = Decision::NotEligible {
            recipient: rid(),
            service: "002-5.1".into(),
            care_group: Some(4),
            care_groups: [0, 3],
            minors: true,
        };
        let view = tap_view(&care, None, &t);
        assert_eq!(view.headline, "Не по группе ухода");
        assert_eq!(
            view.reason,
            "Ваша группа — 4, а услуга — для групп 0–3 и несовершеннолетних."
        );
    }

    #[test]
    fn every_kind_maps_to_distinct_clip_and_icon_follows_tone() {
        let t = Texts::bundled(Lang::Ru);
        let views: Vec<TapView> = all_decisions()
            .iter()
            .map(|d| tap_view(d, Some("Пётр Петрович"), &t))
            .collect();
        let kinds: Vec<DecisionKind> = views.iter().map(|v| v.kind).collect();
        assert_eq!(kinds, DecisionKind::ALL.to_vec());
        let mut clips: Vec<&str> = views.iter().map(|v| v.prompt.clip.as_str()).collect();
        clips.sort();
        clips.dedup();
        assert_eq!(clips.len(), DecisionKind::ALL.len());
        for v in &views {
            assert_eq!(v.icon, Icon::for_tone(v.tone));
            assert!(!v.headline.starts_with("decision."), "{:?}", v.kind);
            assert!(!v.reason.starts_with("decision."), "{:?}", v.kind);
            // Overrides only for warnings with a rule.
            assert_eq!(
                v.can_override,
                matches!(
                    v.kind,
                    DecisionKind::GroupFull
                        | DecisionKind::FrequencyLimit
                        | DecisionKind::NotInProgramme
                        | DecisionKind::NoConsent
                        | DecisionKind::NotEligible
                )
            );
        }
    }

    /// 002 l.3171: a refusal by the events' own cap says it is the events', so the instructor
    /// knows the circles may go on.
    #[test]
    fn an_events_cap_says_it_is_the_events() {
        use otmetka_core::catalogue::{Applies, Form, FrequencyLimit, Period, ServiceCode};
        let ru = Texts::bundled(Lang::Ru);
        let refused = |form| Decision::FrequencyLimit {
            recipient: otmetka_core::people::RecipientId(uuid::Uuid::from_u128(1)),
            service: ServiceCode::from("002-4.5"),
            limit: FrequencyLimit {
                max: 1,
                period: Period::Month,
                cite: None,
                per_group: false,
                applies: Applies::All,
                form,
            },
            used: 1,
        };
        let event = tap_view(&refused(Form::Event), None, &ru);
        assert_eq!(event.reason, "Мероприятий и экскурсий уже 1 из 1 за месяц.");
        let en = tap_view(&refused(Form::Event), None, &ru.with_lang(Lang::En));
        assert_eq!(
            en.reason,
            "Events and excursions: already 1 of 1 per month."
        );
        assert_eq!(
            tap_view(&refused(Form::Any), None, &ru).reason,
            "Уже 1 из 1 за месяц."
        );
    }

    #[test]
    fn dates_and_counts_in_both_languages() {
        let ru = Texts::bundled(Lang::Ru);
        let en = ru.with_lang(Lang::En);
        let d = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        assert_eq!(format_date(d, &ru), "понедельник, 23 ноября 2026");
        assert_eq!(format_date(d, &en), "Monday, November 23, 2026");
        assert_eq!(count_text(12, Some(25), &ru), "12 из 25");
        assert_eq!(count_text(3, None, &en), "Present: 3");
    }

    #[test]
    fn reason_codes_round_trip_and_have_texts() {
        let t = Texts::bundled(Lang::Ru);
        for r in ManualReason::ALL {
            assert_eq!(ManualReason::from_code(r.code()), Some(r));
            assert!(t.try_get(&format!("manual.{}", r.code())).is_some());
        }
        for r in OverrideReason::ALL {
            assert_eq!(OverrideReason::from_code(r.code()), Some(r));
            assert!(t.try_get(&format!("override.{}", r.code())).is_some());
        }
        for n in ParticipantNote::ALL {
            assert!(t.try_get(&format!("note.{}", n.code())).is_some());
        }
        assert_eq!(
            ParticipantNote::DidNotTakePart.next(),
            ParticipantNote::None
        );
    }
}
