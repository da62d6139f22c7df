//! The roster on the kiosk: recipients, instructors and groups, with card hashes indexed.
//!
//! The journal publishes the roster with card hashes only. A site without a journal yet (and the
//! demo) may seed it from a file that lists raw card numbers (`config/roster.sample.toml`); they are
//! hashed on load and never stored raw.

use crate::card::{CardKey, CardRead};
use crate::cards::{CardIndex, Collision, Lookup, SiteSecret};
use crate::people::{
    CardStatus, Consent, Group, GroupId, Instructor, InstructorId, Programme, Recipient,
    RecipientId,
};
use crate::wire::{Roster, RosterCard, RosterInstructor, RosterRecipient, SCHEMA};
use serde::Deserialize;
use std::collections::HashMap;

/// Who a card belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    Recipient(RecipientId, CardStatus),
    Instructor(InstructorId),
}

/// The roster, indexed.
#[derive(Debug, Clone, Default)]
pub struct RosterIndex {
    pub version: u64,
    pub recipients: HashMap<RecipientId, Recipient>,
    pub instructors: HashMap<InstructorId, Instructor>,
    pub groups: HashMap<GroupId, Group>,
    cards: CardIndex<Holder>,
    /// Each instructor's PIN hash (`crate::pin`): a PIN does not say whose it is, so a sign-in
    /// tries them in turn.
    pins: Vec<(String, InstructorId)>,
}

impl RosterIndex {
    /// Indexes a roster as the journal publishes it.
    pub fn from_roster(roster: &Roster) -> Self {
        let mut ix = RosterIndex {
            version: roster.version,
            ..Default::default()
        };
        for r in &roster.recipients {
            for c in &r.cards {
                ix.cards
                    .insert(c.hash.clone(), Holder::Recipient(r.id, c.status));
            }
            ix.recipients.insert(
                r.id,
                Recipient {
                    id: r.id,
                    display_name: r.display_name.clone(),
                    consent: r.consent,
                    programme: r.programme.clone(),
                    groups: r.groups.clone(),
                    care_group: r.care_group,
                    adult_on: r.adult_on,
                },
            );
        }
        for i in &roster.instructors {
            for h in &i.card_hashes {
                ix.cards
                    .insert(h.clone(), Holder::Instructor(i.instructor.id));
            }
            if let Some(p) = &i.pin_hash {
                ix.pins.push((p.clone(), i.instructor.id));
            }
            ix.instructors.insert(i.instructor.id, i.instructor.clone());
        }
        for g in &roster.groups {
            ix.groups.insert(g.id, g.clone());
        }
        ix
    }

    /// Who holds the card of this read.
    pub fn lookup(&self, secret: &SiteSecret, read: &CardRead) -> Lookup<Holder> {
        self.cards.lookup(&secret.read_hash(read))
    }

    /// The instructor with this PIN.
    pub fn instructor_by_pin(&self, secret: &SiteSecret, pin: &str) -> Option<InstructorId> {
        self.pins
            .iter()
            .find(|(hash, _)| crate::pin::matches(secret, hash, pin))
            .map(|(_, id)| *id)
    }

    /// Card forms shared by more than one holder (reported at load).
    pub fn collisions(&self) -> Vec<Collision<Holder>> {
        self.cards.collisions()
    }

    /// Recipients whose display name contains `query` (manual check-in by name search).
    pub fn search(&self, query: &str) -> Vec<&Recipient> {
        let q = query.to_lowercase();
        let mut v: Vec<_> = self
            .recipients
            .values()
            .filter(|r| r.display_name.to_lowercase().contains(&q))
            .collect();
        v.sort_by(|a, b| a.display_name.cmp(&b.display_name));
        v
    }
}

/// A roster file with raw card numbers (sample/bootstrap only).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RosterFile {
    pub site: String,
    pub version: u64,
    #[serde(default)]
    pub recipients: Vec<RecipientEntry>,
    #[serde(default)]
    pub instructors: Vec<InstructorEntry>,
    #[serde(default)]
    pub groups: Vec<Group>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecipientEntry {
    pub id: RecipientId,
    pub display_name: String,
    #[serde(default)]
    pub cards: Vec<String>,
    #[serde(default)]
    pub blocked_cards: Vec<String>,
    #[serde(default)]
    pub consent: Consent,
    #[serde(default)]
    pub programme: Option<Programme>,
    #[serde(default)]
    pub groups: Vec<GroupId>,
    /// Группа ухода, 0–5.
    #[serde(default)]
    pub care_group: Option<u8>,
    /// For a minor: the day they turn 18.
    #[serde(default)]
    pub adult_on: Option<chrono::NaiveDate>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstructorEntry {
    pub id: InstructorId,
    pub display_name: String,
    #[serde(default)]
    pub cards: Vec<String>,
    #[serde(default)]
    pub pin: Option<String>,
}

/// Why a roster file was refused.
#[derive(Debug, thiserror::Error)]
pub enum RosterFileError {
    #[error("{file}: {detail}")]
    Parse { file: String, detail: String },
    #[error("{file}: card {card:?} of {who}: {source}")]
    Card {
        file: String,
        card: String,
        who: String,
        source: crate::card::CardError,
    },
}

impl RosterFile {
    /// Parses a roster file.
    pub fn parse(file: &str, text: &str) -> Result<Self, RosterFileError> {
        toml::from_str(text).map_err(|e| RosterFileError::Parse {
            file: file.to_string(),
            detail: e.to_string(),
        })
    }

    /// The roster as the journal would publish it: card numbers replaced by keyed hashes.
    pub fn to_roster(&self, file: &str, secret: &SiteSecret) -> Result<Roster, RosterFileError> {
        let hashes = |cards: &[String], status: CardStatus, who: &str| {
            let mut out = Vec::new();
            for c in cards {
                let key = CardKey::from_hex(c)
                    .or_else(|_| CardKey::from_decimal(c))
                    .map_err(|source| RosterFileError::Card {
                        file: file.to_string(),
                        card: c.clone(),
                        who: who.to_string(),
                        source,
                    })?;
                out.extend(
                    secret
                        .card_hashes(&key)
                        .into_iter()
                        .map(|hash| RosterCard { hash, status }),
                );
            }
            Ok::<_, RosterFileError>(out)
        };
        let mut recipients = Vec::new();
        for r in &self.recipients {
            let mut cards = hashes(&r.cards, CardStatus::Active, &r.display_name)?;
            cards.extend(hashes(
                &r.blocked_cards,
                CardStatus::Blocked,
                &r.display_name,
            )?);
            recipients.push(RosterRecipient {
                id: r.id,
                display_name: r.display_name.clone(),
                consent: r.consent,
                programme: r.programme.clone(),
                groups: r.groups.clone(),
                care_group: r.care_group,
                adult_on: r.adult_on,
                cards,
            });
        }
        let mut instructors = Vec::new();
        for i in &self.instructors {
            let card_hashes = hashes(&i.cards, CardStatus::Active, &i.display_name)?
                .into_iter()
                .map(|c| c.hash)
                .collect();
            instructors.push(RosterInstructor {
                instructor: Instructor {
                    id: i.id,
                    display_name: i.display_name.clone(),
                },
                card_hashes,
                pin_hash: i
                    .pin
                    .as_ref()
                    .map(|p| crate::pin::hash(secret, &i.id.0.to_string(), p)),
            });
        }
        Ok(Roster {
            schema: SCHEMA,
            site: self.site.clone(),
            version: self.version,
            recipients,
            instructors,
            groups: self.groups.clone(),
        })
    }
}
