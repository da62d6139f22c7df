//! The decision for a tap: one enum with its parameters. `core` holds no sentences: the texts for
//! each kind (Russian and English) live in the message catalogue (`config/i18n/`).

use crate::catalogue::{FrequencyLimit, ServiceCode};
use crate::people::RecipientId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A rule of the standards (or of the site) that a tap can break. Each is a refusal that the
/// instructor may override with a recorded reason, unless the site makes it a hard stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// The session's group maximum is reached.
    GroupFull,
    /// A frequency limit of the service is reached.
    FrequencyLimit,
    /// The service is not in the recipient's individual programme (ИППСУ), or its count there
    /// for the period is used up, or the programme is not in force on that date.
    NotInProgramme,
    /// No consent (agreement to take part) is on file.
    NoConsent,
    /// The card is blocked or was replaced by another.
    CardBlocked,
    /// The seed gives the service to other care groups (or to minors) than the recipient's.
    NotEligible,
}

impl Rule {
    /// Every rule, for config validation and exhaustive tests.
    pub const ALL: [Rule; 6] = [
        Rule::GroupFull,
        Rule::FrequencyLimit,
        Rule::NotInProgramme,
        Rule::NoConsent,
        Rule::CardBlocked,
        Rule::NotEligible,
    ];
}

/// Why a programme check failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "why")]
pub enum ProgrammeGap {
    /// The recipient has no programme on file.
    NoProgramme,
    /// The programme is not in force on that date.
    NotInForce,
    /// The service is not listed.
    ServiceNotListed,
    /// The programme's count for the period is used up.
    CountUsed { allowed: u32, used: u32 },
    /// The course running today is the `nth` to start this year; the seed allows `max` a year
    /// (002 l.1975 «В течение года до двух курсов реабилитации»).
    CourseLimit { max: u32, nth: u32 },
    /// Today is day `day` of the course; the seed's course lasts at most `days` (002 l.3999
    /// «курс – от 15 до 30 дней»).
    CourseOver { days: u32, day: u32 },
    /// The programme's first course of the service begins on `first`, after today.
    NoCourse { first: chrono::NaiveDate },
}

/// What a tap (or a manual check-in) came to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "decision")]
pub enum Decision {
    /// Checked in. `overridden` lists the rules the instructor overrode for it.
    Accepted {
        recipient: RecipientId,
        overridden: Vec<Rule>,
    },
    /// Already checked in to this session (a second tap changes nothing).
    AlreadyCheckedIn {
        recipient: RecipientId,
        at: DateTime<Utc>,
    },
    /// The card is not on the roster; the tap is kept as an unidentified tap of the session.
    UnknownCard,
    /// The card is blocked.
    CardBlocked { recipient: RecipientId },
    /// The card was replaced by another card (the old one was lost, say).
    CardReplaced { recipient: RecipientId },
    /// The session's group maximum is reached.
    GroupFull { recipient: RecipientId, max: u32 },
    /// A frequency limit of the service is reached.
    FrequencyLimit {
        recipient: RecipientId,
        service: ServiceCode,
        limit: FrequencyLimit,
        /// How many of the period are used already (before this tap).
        used: u32,
    },
    /// Not in the recipient's individual programme.
    NotInProgramme {
        recipient: RecipientId,
        service: ServiceCode,
        gap: ProgrammeGap,
    },
    /// No consent on file.
    NoConsent { recipient: RecipientId },
    /// The seed gives the service to other care groups, or to minors (002 l.1889 «для 1-5
    /// групп ухода, а также для несовершеннолетних граждан»): `care_groups` as it names them.
    NotEligible {
        recipient: RecipientId,
        service: ServiceCode,
        /// The recipient's care group.
        care_group: Option<u8>,
        /// The care groups the seed names, inclusive, and whether it names minors.
        care_groups: [u8; 2],
        minors: bool,
    },
    /// No session is open on this kiosk.
    NoOpenSession,
    /// The kiosk's clock is not trusted: the instructor must confirm the date first.
    ClockNotTrusted,
}

/// The kind of a decision, without its parameters: the key of its texts, tone and sound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionKind {
    Accepted,
    AlreadyCheckedIn,
    UnknownCard,
    CardBlocked,
    CardReplaced,
    GroupFull,
    FrequencyLimit,
    NotInProgramme,
    NoConsent,
    NoOpenSession,
    ClockNotTrusted,
    NotEligible,
}

impl DecisionKind {
    /// Every kind, for exhaustive tests (texts, clips, screens).
    pub const ALL: [DecisionKind; 12] = [
        DecisionKind::Accepted,
        DecisionKind::AlreadyCheckedIn,
        DecisionKind::UnknownCard,
        DecisionKind::CardBlocked,
        DecisionKind::CardReplaced,
        DecisionKind::GroupFull,
        DecisionKind::FrequencyLimit,
        DecisionKind::NotInProgramme,
        DecisionKind::NoConsent,
        DecisionKind::NoOpenSession,
        DecisionKind::ClockNotTrusted,
        DecisionKind::NotEligible,
    ];

    /// A stable snake_case name (file names of clips, message ids' context).
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionKind::Accepted => "accepted",
            DecisionKind::AlreadyCheckedIn => "already_checked_in",
            DecisionKind::UnknownCard => "unknown_card",
            DecisionKind::CardBlocked => "card_blocked",
            DecisionKind::CardReplaced => "card_replaced",
            DecisionKind::GroupFull => "group_full",
            DecisionKind::FrequencyLimit => "frequency_limit",
            DecisionKind::NotInProgramme => "not_in_programme",
            DecisionKind::NoConsent => "no_consent",
            DecisionKind::NoOpenSession => "no_open_session",
            DecisionKind::ClockNotTrusted => "clock_not_trusted",
            DecisionKind::NotEligible => "not_eligible",
        }
    }

    /// How a person should perceive it: the tone of screen, lights, buzzer.
    pub fn tone(self) -> Tone {
        match self {
            DecisionKind::Accepted => Tone::Accepted,
            DecisionKind::AlreadyCheckedIn => Tone::Notice,
            DecisionKind::UnknownCard
            | DecisionKind::CardBlocked
            | DecisionKind::CardReplaced
            | DecisionKind::NoOpenSession => Tone::Refused,
            DecisionKind::GroupFull
            | DecisionKind::FrequencyLimit
            | DecisionKind::NotInProgramme
            | DecisionKind::NoConsent
            | DecisionKind::NotEligible
            | DecisionKind::ClockNotTrusted => Tone::Warning,
        }
    }
}

/// The tone of an outcome; screen, lights and buzzer all follow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tone {
    /// Done: green, a tick, a rising tone.
    Accepted,
    /// Nothing changed, nothing wrong (already checked in): blue, an "i", a single tone.
    Notice,
    /// Needs the instructor (an override is possible): amber, "!", two tones.
    Warning,
    /// Refused: red, a cross, a low tone.
    Refused,
    /// Something is broken (reader, store): red, a cross, a long tone.
    Error,
}

impl Decision {
    /// One decision of each kind, with plausible parameters, in [`DecisionKind::ALL`] order:
    /// what the screens, voice and tests render for every outcome.
    pub fn one_of_each(recipient: RecipientId) -> Vec<Decision> {
        let r = recipient;
        let service = ServiceCode::from("001");
        vec![
            Decision::Accepted {
                recipient: r,
                overridden: vec![],
            },
            Decision::AlreadyCheckedIn {
                recipient: r,
                at: DateTime::UNIX_EPOCH,
            },
            Decision::UnknownCard,
            Decision::CardBlocked { recipient: r },
            Decision::CardReplaced { recipient: r },
            Decision::GroupFull {
                recipient: r,
                max: 25,
            },
            Decision::FrequencyLimit {
                recipient: r,
                service: service.clone(),
                limit: FrequencyLimit {
                    max: 2,
                    period: crate::catalogue::Period::Week,
                    cite: None,
                    per_group: false,
                    applies: crate::catalogue::Applies::All,
                    form: crate::catalogue::Form::Any,
                },
                used: 2,
            },
            Decision::NotInProgramme {
                recipient: r,
                service: service.clone(),
                gap: ProgrammeGap::ServiceNotListed,
            },
            Decision::NoConsent { recipient: r },
            Decision::NoOpenSession,
            Decision::ClockNotTrusted,
            Decision::NotEligible {
                recipient: r,
                service,
                care_group: Some(4),
                care_groups: [0, 3],
                minors: true,
            },
        ]
    }

    /// The kind of this decision.
    pub fn kind(&self) -> DecisionKind {
        match self {
            Decision::Accepted { .. } => DecisionKind::Accepted,
            Decision::AlreadyCheckedIn { .. } => DecisionKind::AlreadyCheckedIn,
            Decision::UnknownCard => DecisionKind::UnknownCard,
            Decision::CardBlocked { .. } => DecisionKind::CardBlocked,
            Decision::CardReplaced { .. } => DecisionKind::CardReplaced,
            Decision::GroupFull { .. } => DecisionKind::GroupFull,
            Decision::FrequencyLimit { .. } => DecisionKind::FrequencyLimit,
            Decision::NotInProgramme { .. } => DecisionKind::NotInProgramme,
            Decision::NoConsent { .. } => DecisionKind::NoConsent,
            Decision::NoOpenSession => DecisionKind::NoOpenSession,
            Decision::ClockNotTrusted => DecisionKind::ClockNotTrusted,
            Decision::NotEligible { .. } => DecisionKind::NotEligible,
        }
    }

    /// The rule this refusal rests on, if the instructor could override it.
    pub fn rule(&self) -> Option<Rule> {
        match self {
            Decision::GroupFull { .. } => Some(Rule::GroupFull),
            Decision::FrequencyLimit { .. } => Some(Rule::FrequencyLimit),
            Decision::NotInProgramme { .. } => Some(Rule::NotInProgramme),
            Decision::NoConsent { .. } => Some(Rule::NoConsent),
            Decision::NotEligible { .. } => Some(Rule::NotEligible),
            Decision::CardBlocked { .. } | Decision::CardReplaced { .. } => Some(Rule::CardBlocked),
            _ => None,
        }
    }

    /// The recipient the decision is about, where the card was known.
    pub fn recipient(&self) -> Option<RecipientId> {
        match self {
            Decision::Accepted { recipient, .. }
            | Decision::AlreadyCheckedIn { recipient, .. }
            | Decision::CardBlocked { recipient }
            | Decision::CardReplaced { recipient }
            | Decision::GroupFull { recipient, .. }
            | Decision::FrequencyLimit { recipient, .. }
            | Decision::NotInProgramme { recipient, .. }
            | Decision::NoConsent { recipient }
            | Decision::NotEligible { recipient, .. } => Some(*recipient),
            Decision::UnknownCard | Decision::NoOpenSession | Decision::ClockNotTrusted => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_of_each_follows_the_order_of_all_kinds() {
        let kinds: Vec<_> = Decision::one_of_each(RecipientId(uuid::Uuid::nil()))
            .iter()
            .map(Decision::kind)
            .collect();
        assert_eq!(kinds, DecisionKind::ALL.to_vec());
    }
}
