//! The people of a site, their cards, and the site's timetable, as the journal keeps them: the
//! journal's database is their source of truth, and the roster and schedule the kiosks get are
//! built from it ([`SitePeople::roster`], [`SitePlan::expand`]). The roster and timetable files
//! of `journal.toml` are imports ([`PeopleImport`], [`SitePlan::from_file`]).
//!
//! Every change goes to the audit log in its transaction and raises the site's revision
//! (`people` or `plan`), which the feed watches to publish again.

use super::StoreError;
use super::staff::Actor;
use crate::schedule::{OneOffSession, ScheduleFile, WeeklySession};
use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Utc, Weekday};
use otmetka_core::cards::SiteSecret;
use otmetka_core::catalogue::{ServiceCode, UnitKind};
use otmetka_core::people::{
    CardStatus, Consent, Group, GroupId, Instructor, InstructorId, Programme, RecipientId,
};
use otmetka_core::roster::RosterFile;
use otmetka_core::wire::{Roster, RosterCard, RosterInstructor, RosterRecipient, SCHEMA};

/// The care groups (группа ухода) the standards name, 0 (self-reliant) to 5.
pub const CARE_GROUPS: std::ops::RangeInclusive<u8> = 0..=5;

/// A recipient of services as the journal keeps them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub id: RecipientId,
    pub site: String,
    /// As the kiosk addresses them: first name and patronymic.
    pub display_name: String,
    /// As the act names them (фамилия, имя, отчество).
    pub full_name: String,
    /// For the norms of minors, and the regional export.
    pub birth_date: Option<NaiveDate>,
    /// The insurance number the regional system (ЕГИССО) knows them by.
    pub snils: Option<Snils>,
    /// As the regional system records it.
    pub sex: Option<Sex>,
    /// Группа ухода, 0–5, where assessed.
    pub care_group: Option<u8>,
    /// The legal representative, who signs the act for them.
    pub representative: String,
    pub consent: Consent,
    /// The date of the written consent to process personal data (152-ФЗ).
    pub data_consent_on: Option<NaiveDate>,
    /// The individual programme (ИППСУ).
    pub programme: Option<Programme>,
    pub groups: Vec<GroupId>,
    /// The programmes this one replaced, the latest replaced first.
    pub past_programmes: Vec<PastProgramme>,
    /// The last day a recipient who left (выбыл) was served; from the next day their cards are
    /// refused and their programme is not counted. The record and the units stay.
    pub left_on: Option<NaiveDate>,
    /// Set when the person's data was anonymised after the retention period: the units stay
    /// countable under the id, the name and the details are gone.
    pub anonymised_at: Option<DateTime<Utc>>,
}

impl Person {
    /// A new person with nothing on file but their names.
    pub fn new(site: &str, display_name: &str, full_name: &str) -> Person {
        Person {
            id: RecipientId(uuid::Uuid::now_v7()),
            site: site.to_string(),
            display_name: display_name.to_string(),
            full_name: full_name.to_string(),
            birth_date: None,
            snils: None,
            sex: None,
            care_group: None,
            representative: String::new(),
            consent: Consent::default(),
            data_consent_on: None,
            programme: None,
            groups: Vec::new(),
            past_programmes: Vec::new(),
            left_on: None,
            anonymised_at: None,
        }
    }

    /// The programme a period `[first, last]` is judged by: the current one where it is in
    /// force on any day of the period, else the latest replaced one that was.
    pub fn programme_for(&self, first: NaiveDate, last: NaiveDate) -> Option<&Programme> {
        let overlaps = |p: &Programme| p.valid_from <= last && first <= p.valid_to;
        self.programme
            .as_ref()
            .filter(|p| overlaps(p))
            .or_else(|| {
                self.past_programmes
                    .iter()
                    .map(|p| &p.programme)
                    .find(|p| overlaps(p))
            })
            .or(self.programme.as_ref())
    }

    /// The programme in force on `day`: the current one where it is valid then, else the latest
    /// replaced one that was.
    pub fn in_force_on(&self, day: NaiveDate) -> Option<&Programme> {
        let valid = |p: &&Programme| p.in_force(day);
        self.programme.as_ref().filter(valid).or_else(|| {
            self.past_programmes
                .iter()
                .map(|p| &p.programme)
                .find(valid)
        })
    }

    /// The programmes in force on some day of `[first, last]`, oldest first, each cut to the
    /// days it was the one in force and to the recipient's last day: where a programme was
    /// replaced mid-month, the old one covers the month's first part and the new one the rest.
    /// A programme in force up to an end of the window keeps its own date there.
    pub fn programmes_in_force(&self, first: NaiveDate, last: NaiveDate) -> Vec<Programme> {
        let mut runs: Vec<(&Programme, NaiveDate, NaiveDate)> = Vec::new();
        for day in first.iter_days().take_while(|d| *d <= last) {
            let Some(p) = self.in_force_on(day) else {
                continue;
            };
            match runs.last_mut() {
                Some((q, _, to)) if *q == p && to.succ_opt() == Some(day) => *to = day,
                _ => runs.push((p, day, day)),
            }
        }
        runs.into_iter()
            .map(|(p, from, to)| {
                let mut p = p.clone();
                if from > first {
                    p.valid_from = from;
                }
                if to < last {
                    p.valid_to = to;
                }
                if let Some(left) = self.left_on {
                    p.valid_to = p.valid_to.min(left);
                }
                p
            })
            .filter(|p| p.valid_from <= p.valid_to)
            .collect()
    }

    /// Whether they had left by `date` (their last day was before it).
    pub fn has_left(&self, date: NaiveDate) -> bool {
        self.left_on.is_some_and(|last| last < date)
    }

    /// The recipient as the rules read them on `date`: with the programme in force then (one
    /// entered ahead of its start leaves the one it replaces in force until then).
    pub fn as_recipient(&self, date: NaiveDate) -> otmetka_core::people::Recipient {
        otmetka_core::people::Recipient {
            adult_on: self.adult_on(date),
            care_group: self.care_group,
            id: self.id,
            display_name: self.display_name.clone(),
            consent: self.consent,
            programme: self.programme_for(date, date).cloned(),
            groups: self.groups.clone(),
        }
    }

    /// Whether they are under 18 on `date` (unknown birth date: no).
    pub fn is_minor_on(&self, date: NaiveDate) -> bool {
        adult_on(self.birth_date).is_some_and(|adult| date < adult)
    }

    /// What the kiosks are told of their age on `date`: the day they turn 18 while they are a
    /// minor, nothing once they are not (the roster carries no birth dates).
    pub fn adult_on(&self, date: NaiveDate) -> Option<NaiveDate> {
        adult_on(self.birth_date).filter(|adult| date < *adult)
    }
}

/// The day someone born on `birth` turns 18 (born on 29 February: 28 February in a common
/// year, the month's last day, as ГК РФ ст. 192 п. 3 counts a term in years).
pub fn adult_on(birth: Option<NaiveDate>) -> Option<NaiveDate> {
    birth.and_then(|b| b.checked_add_months(chrono::Months::new(18 * 12)))
}

/// A СНИЛС (страховой номер индивидуального лицевого счёта): 11 digits, the last two a check
/// number of the first nine. Written by people as «112-233-445 95»; kept and exported as the
/// digits. No maintained crate checks it (the one on crates.io is from 2018, on regex 0.2): the
/// rule is the Pension Fund's, ten lines.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Snils(String);

/// Why a text is not a СНИЛС (the words are the form's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SnilsError {
    #[error("СНИЛС — 11 цифр, например 112-233-445 95.")]
    Form,
    #[error("Контрольное число СНИЛС не сходится: проверьте цифры.")]
    Check,
}

impl Snils {
    /// The number in `text`, written with or without the dashes and the space.
    pub fn parse(text: &str) -> Result<Snils, SnilsError> {
        let text = text.trim();
        if !text
            .chars()
            .all(|c| c.is_ascii_digit() || c == '-' || c == ' ')
        {
            return Err(SnilsError::Form);
        }
        let digits: String = text.chars().filter(char::is_ascii_digit).collect();
        if digits.len() != 11 {
            return Err(SnilsError::Form);
        }
        let d: Vec<u32> = digits.chars().filter_map(|c| c.to_digit(10)).collect();
        let number: u32 = d[..9].iter().fold(0, |n, x| n * 10 + x);
        // Numbers up to 001-001-998 were issued before the check number was (they have none).
        if number > 1_001_998 {
            let sum: u32 = d[..9].iter().zip((1..=9).rev()).map(|(x, w)| x * w).sum();
            let check = match sum % 101 {
                100 => 0,
                c => c,
            };
            if check != d[9] * 10 + d[10] {
                return Err(SnilsError::Check);
            }
        }
        Ok(Snils(digits))
    }

    /// The 11 digits, as the regional system takes them.
    pub fn digits(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Snils {
    /// «112-233-445 95», as it is printed on the card.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let d = &self.0;
        write!(f, "{}-{}-{} {}", &d[..3], &d[3..6], &d[6..9], &d[9..])
    }
}

/// A person's sex, as the regional system records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sex {
    Female,
    Male,
}

impl Sex {
    pub const ALL: [Sex; 2] = [Sex::Female, Sex::Male];

    /// As the database and the form keep it.
    pub fn as_str(self) -> &'static str {
        match self {
            Sex::Female => "female",
            Sex::Male => "male",
        }
    }

    pub fn parse(s: &str) -> Option<Sex> {
        Sex::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// As the form names it.
    pub fn label(self) -> &'static str {
        match self {
            Sex::Female => "женский",
            Sex::Male => "мужской",
        }
    }
}

/// A programme a later one replaced: kept for the acts of the months it was in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PastProgramme {
    pub programme: Programme,
    pub replaced_at: DateTime<Utc>,
    /// Who replaced it (the name the pages show).
    pub replaced_by: String,
}

/// An instructor (a member of staff who runs sessions at the kiosks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstructorRecord {
    pub id: InstructorId,
    pub site: String,
    pub display_name: String,
    /// The PIN's keyed hash (with the site secret), as the kiosks check it.
    pub pin_hash: Option<String>,
    /// An instructor who left keeps their id for the journal but is not on the kiosks.
    pub active: bool,
}

/// What a card is now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CardState {
    Active,
    /// Blocked by staff (a misused card).
    Blocked,
    /// Reported lost: whoever taps it is refused.
    Lost,
    /// A newer card replaced it.
    Replaced,
}

impl CardState {
    pub const ALL: [CardState; 4] = [
        CardState::Active,
        CardState::Blocked,
        CardState::Lost,
        CardState::Replaced,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CardState::Active => "active",
            CardState::Blocked => "blocked",
            CardState::Lost => "lost",
            CardState::Replaced => "replaced",
        }
    }

    pub fn parse(s: &str) -> Option<CardState> {
        CardState::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// On the pages.
    pub fn label(self) -> &'static str {
        match self {
            CardState::Active => "действует",
            CardState::Blocked => "заблокирована",
            CardState::Lost => "утеряна",
            CardState::Replaced => "заменена",
        }
    }
}

/// Whose card it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Holder {
    Recipient(RecipientId),
    Instructor(InstructorId),
}

/// A card as the journal keeps it: never its number, only its keyed hashes and the last digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardRecord {
    pub id: i64,
    pub site: String,
    pub holder: Holder,
    /// The keyed hashes of the card's lookup forms (what the kiosks match a tap against).
    pub hashes: Vec<String>,
    /// The number's last digits ("…0003"), where the card was typed or imported; a card read at
    /// a kiosk has none.
    pub tail: Option<String>,
    pub state: CardState,
    /// A temporary card's last day: after it, the kiosks refuse it.
    pub valid_until: Option<NaiveDate>,
    /// Staff keep the card for someone who cannot hold it, and tap it for them.
    pub kept_by_staff: bool,
    pub issued_at: DateTime<Utc>,
    pub issued_by: String,
    pub note: String,
}

impl CardRecord {
    /// What the kiosks are told of the card on `today`.
    pub fn status_on(&self, today: NaiveDate) -> CardStatus {
        match self.state {
            CardState::Active if self.valid_until.is_some_and(|d| d < today) => CardStatus::Blocked,
            CardState::Active => CardStatus::Active,
            CardState::Blocked | CardState::Lost => CardStatus::Blocked,
            CardState::Replaced => CardStatus::Replaced,
        }
    }

    /// "…0003", or "считана на киоске".
    pub fn label(&self) -> String {
        match &self.tail {
            Some(t) => format!("…{t}"),
            None => "считана на киоске".to_string(),
        }
    }
}

/// A card to give, before the store gives it an id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCard {
    pub site: String,
    pub holder: Holder,
    pub hashes: Vec<String>,
    pub tail: Option<String>,
    /// Active, except a card a roster file lists as blocked.
    pub state: CardState,
    pub valid_until: Option<NaiveDate>,
    pub kept_by_staff: bool,
    pub note: String,
}

impl NewCard {
    /// A card from its number as a desk reader types it or a roster file holds it (hex, or
    /// decimal as printed on the card), hashed with the site secret. `None` if it is not a
    /// card number.
    pub fn from_number(
        site: &str,
        holder: Holder,
        number: &str,
        secret: &SiteSecret,
    ) -> Option<NewCard> {
        let number = number.trim();
        // As a kiosk reads a typed number (`CardRead::parse`): ten digits are the decimal a
        // desk reader in keyboard mode types, anything else hex; a truncated read is no card.
        let key = match otmetka_core::card::CardRead::parse(number).ok()? {
            otmetka_core::card::CardRead::Uid(key) => key,
            otmetka_core::card::CardRead::Truncated { .. } => return None,
        };
        let tail: String = number
            .chars()
            .rev()
            .take(4)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        Some(NewCard {
            site: site.to_string(),
            holder,
            hashes: secret.card_hashes(&key),
            tail: Some(tail.to_uppercase()),
            state: CardState::Active,
            valid_until: None,
            kept_by_staff: false,
            note: String::new(),
        })
    }
}

/// Everything the journal holds of a site's people, as one read: for the pages' names and for
/// the roster.
#[derive(Debug, Clone, Default)]
pub struct SitePeople {
    pub site: String,
    /// The site's `people` revision this was read at.
    pub revision: u64,
    pub recipients: Vec<Person>,
    pub instructors: Vec<InstructorRecord>,
    pub groups: Vec<Group>,
    pub cards: Vec<CardRecord>,
}

impl SitePeople {
    pub fn recipient(&self, id: RecipientId) -> Option<&Person> {
        self.recipients.iter().find(|r| r.id == id)
    }

    /// The people whose data is still held (not anonymised), by name.
    pub fn current(&self) -> impl Iterator<Item = &Person> {
        self.recipients.iter().filter(|r| r.anonymised_at.is_none())
    }

    /// A recipient's name as the pages show it (a short id for someone not held, "обезличен"
    /// for someone anonymised).
    pub fn recipient_name(&self, id: RecipientId) -> String {
        match self.recipient(id) {
            Some(p) if p.anonymised_at.is_some() => {
                format!("Получатель № {} (обезличен)", short(&id.to_string()))
            }
            Some(p) => p.display_name.clone(),
            None => format!("№ {}", short(&id.to_string())),
        }
    }

    /// An instructor's name by the id a kiosk sent.
    pub fn instructor_name(&self, id: &str) -> String {
        self.instructors
            .iter()
            .find(|i| i.id.to_string() == id)
            .map_or_else(|| format!("№ {}", short(id)), |i| i.display_name.clone())
    }

    /// A holder's cards, newest first.
    pub fn cards_of(&self, holder: Holder) -> impl Iterator<Item = &CardRecord> {
        self.cards.iter().rev().filter(move |c| c.holder == holder)
    }

    /// The roster the kiosks get on `today` (version 0: the store versions the body): the
    /// people whose data is held, their cards with what each is today, the active
    /// instructors, the groups with their members.
    pub fn roster(&self, today: NaiveDate) -> Roster {
        let cards = |holder: Holder| -> Vec<&CardRecord> {
            self.cards.iter().filter(|c| c.holder == holder).collect()
        };
        let recipients: Vec<RosterRecipient> = self
            .current()
            .map(|p| RosterRecipient {
                adult_on: p.adult_on(today),
                care_group: p.care_group,
                id: p.id,
                display_name: p.display_name.clone(),
                consent: p.consent,
                programme: p.programme_for(today, today).cloned(),
                groups: p.groups.clone(),
                cards: cards(Holder::Recipient(p.id))
                    .into_iter()
                    .flat_map(|c| {
                        // Someone who left is refused at the kiosks, whatever their card.
                        let status = if p.has_left(today) {
                            CardStatus::Blocked
                        } else {
                            c.status_on(today)
                        };
                        c.hashes.iter().map(move |h| RosterCard {
                            hash: h.clone(),
                            status,
                        })
                    })
                    .collect(),
            })
            .collect();
        let instructors = self
            .instructors
            .iter()
            .filter(|i| i.active)
            .map(|i| RosterInstructor {
                instructor: Instructor {
                    id: i.id,
                    display_name: i.display_name.clone(),
                },
                card_hashes: cards(Holder::Instructor(i.id))
                    .into_iter()
                    .filter(|c| c.status_on(today) == CardStatus::Active)
                    .flat_map(|c| c.hashes.iter().cloned())
                    .collect(),
                pin_hash: i.pin_hash.clone(),
            })
            .collect();
        let groups = self
            .groups
            .iter()
            .map(|g| Group {
                members: recipients
                    .iter()
                    .filter(|r| r.groups.contains(&g.id))
                    .map(|r| r.id)
                    .collect(),
                ..g.clone()
            })
            .collect();
        Roster {
            schema: SCHEMA,
            site: self.site.clone(),
            version: 0,
            recipients,
            instructors,
            groups,
        }
    }
}

/// The first 8 characters of an id, for the rare line that has no name to show.
pub fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

/// What a roster file brings into the journal: people, instructors, groups and cards.
#[derive(Debug, Clone, Default)]
pub struct PeopleImport {
    pub site: String,
    pub recipients: Vec<Person>,
    pub instructors: Vec<InstructorRecord>,
    pub groups: Vec<Group>,
    pub cards: Vec<NewCard>,
}

/// What an import changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub recipients: usize,
    pub instructors: usize,
    pub cards_added: usize,
}

impl PeopleImport {
    /// A roster file's people, with its raw card numbers hashed with the site secret (the
    /// numbers themselves are not kept).
    pub fn from_file(
        name: &str,
        file: &RosterFile,
        secret: &SiteSecret,
    ) -> Result<PeopleImport, String> {
        let mut out = PeopleImport {
            site: file.site.clone(),
            groups: file.groups.clone(),
            ..PeopleImport::default()
        };
        let card = |holder: Holder, number: &str, who: &str, state: CardState| {
            let mut c = NewCard::from_number(&file.site, holder, number, secret)
                .ok_or_else(|| format!("{name}: card {number:?} of {who} is not a card number"))?;
            c.state = state;
            Ok::<_, String>(c)
        };
        for r in &file.recipients {
            let mut groups = r.groups.clone();
            for g in &file.groups {
                if g.members.contains(&r.id) && !groups.contains(&g.id) {
                    groups.push(g.id);
                }
            }
            out.recipients.push(Person {
                id: r.id,
                site: file.site.clone(),
                display_name: r.display_name.clone(),
                full_name: r.display_name.clone(),
                consent: r.consent,
                programme: r.programme.clone(),
                groups,
                ..Person::new(&file.site, &r.display_name, &r.display_name)
            });
            let holder = Holder::Recipient(r.id);
            for n in &r.cards {
                out.cards
                    .push(card(holder, n, &r.display_name, CardState::Active)?);
            }
            for n in &r.blocked_cards {
                out.cards
                    .push(card(holder, n, &r.display_name, CardState::Blocked)?);
            }
        }
        for i in &file.instructors {
            out.instructors.push(InstructorRecord {
                id: i.id,
                site: file.site.clone(),
                display_name: i.display_name.clone(),
                pin_hash: i
                    .pin
                    .as_ref()
                    .map(|p| otmetka_core::pin::hash(secret, &i.id.0.to_string(), p)),
                active: true,
            });
            for n in &i.cards {
                out.cards.push(card(
                    Holder::Instructor(i.id),
                    n,
                    &i.display_name,
                    CardState::Active,
                )?);
            }
        }
        Ok(out)
    }
}

/// One planned session of a site's timetable: weekly on some days, or once on a date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedSession {
    pub id: i64,
    pub site: String,
    pub service: ServiceCode,
    pub group: Option<GroupId>,
    pub instructor: Option<InstructorId>,
    /// The weekdays of a weekly session; empty for a one-off.
    pub days: Vec<Weekday>,
    /// A one-off session's date.
    pub date: Option<NaiveDate>,
    pub start: NaiveTime,
    pub room: String,
    pub unit_kind: Option<UnitKind>,
    /// A weekly session's first and last day.
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

/// The head's approval of a week's timetable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeekApproval {
    /// The week's sessions as approved (see `web::timetable::week_digest`).
    pub digest: String,
    /// The approver's name.
    pub by: String,
    pub at: DateTime<Utc>,
}

/// A day without the weekly sessions (a public holiday, a closure).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayOff {
    pub date: NaiveDate,
    pub reason: String,
}

/// A site's timetable as the journal keeps it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SitePlan {
    pub site: String,
    /// The site's `plan` revision this was read at (0: never planned).
    pub revision: u64,
    pub sessions: Vec<PlannedSession>,
    pub days_off: Vec<DayOff>,
}

/// The three-letter weekday names the timetable file uses.
pub fn weekday_code(d: Weekday) -> &'static str {
    match d {
        Weekday::Mon => "mon",
        Weekday::Tue => "tue",
        Weekday::Wed => "wed",
        Weekday::Thu => "thu",
        Weekday::Fri => "fri",
        Weekday::Sat => "sat",
        Weekday::Sun => "sun",
    }
}

/// A weekday by its code ("mon").
pub fn weekday_of(code: &str) -> Option<Weekday> {
    [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ]
    .into_iter()
    .find(|d| weekday_code(*d) == code)
}

impl SitePlan {
    /// A timetable file's sessions and days off (the file's term becomes each weekly session's
    /// own first and last day).
    pub fn from_file(file: &ScheduleFile) -> SitePlan {
        let later = |a: Option<NaiveDate>, b: Option<NaiveDate>| a.max(b);
        let earlier = |a: Option<NaiveDate>, b: Option<NaiveDate>| match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let mut sessions: Vec<PlannedSession> = file
            .weekly
            .iter()
            .map(|w| PlannedSession {
                id: 0,
                site: file.site.clone(),
                service: w.service.clone(),
                group: w.group,
                instructor: w.instructor,
                days: w.days.iter().filter_map(|d| weekday_of(d)).collect(),
                date: None,
                start: w.start,
                room: w.room.clone(),
                unit_kind: w.unit_kind,
                from: later(w.from, file.valid_from),
                to: earlier(w.to, file.valid_to),
            })
            .collect();
        sessions.extend(file.once.iter().map(|o| PlannedSession {
            id: 0,
            site: file.site.clone(),
            service: o.service.clone(),
            group: o.group,
            instructor: o.instructor,
            days: Vec::new(),
            date: Some(o.date),
            start: o.start,
            room: o.room.clone(),
            unit_kind: o.unit_kind,
            from: None,
            to: None,
        }));
        SitePlan {
            site: file.site.clone(),
            revision: 0,
            sessions,
            days_off: file
                .no_sessions
                .iter()
                .map(|d| DayOff {
                    date: *d,
                    reason: String::new(),
                })
                .collect(),
        }
    }

    /// The plan as a timetable, to expand to the dated schedule the kiosks get.
    pub fn to_file(&self, weeks_ahead: u32) -> ScheduleFile {
        ScheduleFile {
            site: self.site.clone(),
            weeks_ahead,
            valid_from: None,
            valid_to: None,
            no_sessions: self.days_off.iter().map(|d| d.date).collect(),
            weekly: self
                .sessions
                .iter()
                .filter(|s| s.date.is_none())
                .map(|s| WeeklySession {
                    service: s.service.clone(),
                    group: s.group,
                    instructor: s.instructor,
                    days: s
                        .days
                        .iter()
                        .map(|d| weekday_code(*d).to_string())
                        .collect(),
                    start: s.start,
                    room: s.room.clone(),
                    unit_kind: s.unit_kind,
                    from: s.from,
                    to: s.to,
                })
                .collect(),
            once: self
                .sessions
                .iter()
                .filter_map(|s| {
                    Some(OneOffSession {
                        service: s.service.clone(),
                        group: s.group,
                        instructor: s.instructor,
                        date: s.date?,
                        start: s.start,
                        room: s.room.clone(),
                        unit_kind: s.unit_kind,
                    })
                })
                .collect(),
        }
    }

    /// Whether `date` is a weekday of some weekly session (for the page's "no sessions that
    /// day" check).
    pub fn meets_on(&self, date: NaiveDate) -> bool {
        self.sessions
            .iter()
            .any(|s| s.days.contains(&date.weekday()))
    }
}

/// The journal's people, cards and timetables; each engine implements it.
pub trait PeopleStore {
    /// A site's `people` or `plan` revision (0 when nothing was ever recorded).
    fn revision(&self, site: &str, name: &str) -> Result<u64, StoreError>;
    /// Everything held of a site's people.
    fn people(&self, site: &str) -> Result<SitePeople, StoreError>;
    /// Adds or changes a recipient (by id). Audited.
    fn save_recipient(
        &mut self,
        actor: &Actor,
        person: &Person,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Adds or changes an instructor (by id). Audited.
    fn save_instructor(
        &mut self,
        actor: &Actor,
        instructor: &InstructorRecord,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Gives a card. [`StoreError::Conflict`] names the holder when the card is someone's
    /// already (whatever its state: a lost card found again is unblocked, not given twice).
    fn add_card(
        &mut self,
        actor: &Actor,
        card: &NewCard,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError>;
    /// Gives a card in place of one of the same holder's (`old`), which becomes `old_state`
    /// (lost, or replaced: worn, broken) — one step, one transaction: a refused new card leaves
    /// the old one as it was. Audited.
    fn replace_card(
        &mut self,
        actor: &Actor,
        card: &NewCard,
        old: i64,
        old_state: CardState,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError>;
    /// Marks a card lost, blocked, replaced or active again, with a note. Audited.
    fn set_card_state(
        &mut self,
        actor: &Actor,
        site: &str,
        card: i64,
        state: CardState,
        note: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Removes a person's name and details after the retention period; their id and units stay
    /// (the journal's figures do not change), their cards are blocked. Audited.
    fn anonymise(
        &mut self,
        actor: &Actor,
        site: &str,
        id: RecipientId,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// The date of a recipient's last unit (their own, or a group unit they took part in is
    /// not counted: such units carry no recipient).
    fn last_unit_date(&self, id: RecipientId) -> Result<Option<NaiveDate>, StoreError>;
    /// Takes in a roster file: the people, instructors and groups the journal does not hold yet
    /// are added, and the cards the site does not hold; what the journal holds (edited on the
    /// pages, anonymised) is left as it is. Audited as one entry.
    fn import_people(
        &mut self,
        actor: &Actor,
        import: &PeopleImport,
        now: DateTime<Utc>,
    ) -> Result<ImportReport, StoreError>;
    /// A site's timetable.
    fn plan(&self, site: &str) -> Result<SitePlan, StoreError>;
    /// Adds a planned session; returns its id. Audited.
    fn plan_session(
        &mut self,
        actor: &Actor,
        session: &PlannedSession,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError>;
    /// Changes a planned session (by its id). With `from`, the weeks before that day keep it
    /// as it was: the old one ends the day before and the changed one is a new planned session
    /// from that day (the timetables already posted and approved stay true). Audited.
    fn replan_session(
        &mut self,
        actor: &Actor,
        session: &PlannedSession,
        from: Option<NaiveDate>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Records the head's approval of a week's timetable (`week`: its Monday) as it stands,
    /// `digest` naming its sessions. Audited.
    fn approve_week(
        &mut self,
        actor: &Actor,
        site: &str,
        week: NaiveDate,
        digest: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// The approval of a week's timetable, where given.
    fn week_approval(
        &self,
        site: &str,
        week: NaiveDate,
    ) -> Result<Option<WeekApproval>, StoreError>;
    /// Takes a planned session out of the timetable. Audited.
    fn unplan_session(
        &mut self,
        actor: &Actor,
        site: &str,
        id: i64,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Adds (or re-words) a day without sessions. Audited.
    fn add_day_off(
        &mut self,
        actor: &Actor,
        site: &str,
        day: &DayOff,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Replaces a site's timetable with a file's (an import). Audited.
    fn import_plan(
        &mut self,
        actor: &Actor,
        plan: &SitePlan,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// The SHA-256 of the file last imported as the site's `name` (`roster`, `schedule`).
    fn imported(&self, site: &str, name: &str) -> Result<Option<String>, StoreError>;
    /// Records that a file was imported.
    fn record_import(
        &mut self,
        site: &str,
        name: &str,
        sha256: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(state: CardState, valid_until: Option<NaiveDate>) -> CardRecord {
        CardRecord {
            id: 1,
            site: "s".into(),
            holder: Holder::Recipient(RecipientId(uuid::Uuid::nil())),
            hashes: vec!["h".into()],
            tail: Some("0003".into()),
            state,
            valid_until,
            kept_by_staff: false,
            issued_at: DateTime::UNIX_EPOCH,
            issued_by: "t".into(),
            note: String::new(),
        }
    }

    #[test]
    fn a_snils_is_read_with_or_without_its_dashes_and_its_check_number_is_checked() {
        let s = Snils::parse("112-233-445 95").unwrap();
        assert_eq!(s.digits(), "11223344595");
        assert_eq!(s.to_string(), "112-233-445 95");
        assert_eq!(Snils::parse("11223344595"), Ok(s));
        // A sum of 100 or 101 gives the check number 00; one over 101 is taken mod 101.
        assert!(Snils::parse("100-018-999 00").is_ok(), "sum 100");
        assert_eq!(Snils::parse("100-018-999 100"), Err(SnilsError::Form));
        assert!(Snils::parse("123-456-789 64").is_ok(), "sum 165 mod 101");
        assert_eq!(Snils::parse("112-233-445 96"), Err(SnilsError::Check));
        assert_eq!(Snils::parse("112-233-445"), Err(SnilsError::Form));
        assert_eq!(Snils::parse("112-233-445 9a"), Err(SnilsError::Form));
        // Numbers before 001-001-998 have no check number.
        assert!(Snils::parse("001-001-998 00").is_ok());
    }

    #[test]
    fn a_temporary_card_is_refused_after_its_last_day_and_lost_cards_are_blocked() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let temp = card(CardState::Active, Some(d("2026-12-10")));
        assert_eq!(temp.status_on(d("2026-12-10")), CardStatus::Active);
        assert_eq!(temp.status_on(d("2026-12-11")), CardStatus::Blocked);
        assert_eq!(
            card(CardState::Lost, None).status_on(d("2026-01-01")),
            CardStatus::Blocked
        );
        assert_eq!(
            card(CardState::Replaced, None).status_on(d("2026-01-01")),
            CardStatus::Replaced
        );
    }

    #[test]
    fn a_typed_number_is_read_as_a_kiosk_reads_it_ten_digits_decimal_else_hex() {
        let secret = SiteSecret::from_file_bytes(&[7u8; 32]).unwrap();
        let holder = Holder::Recipient(RecipientId(uuid::Uuid::nil()));
        let hashes = |n: &str| NewCard::from_number("s", holder, n, &secret).map(|c| c.hashes);
        // 0078234435 decimal is 0x04A9C343, as a USB reader in keyboard mode types it.
        assert_eq!(hashes("0078234435"), hashes("04A9C343"));
        assert_ne!(hashes("0A0000F1"), None);
        assert_eq!(hashes("не карта"), None);
        assert_eq!(
            hashes("12,345"),
            None,
            "a truncated Wiegand read is not a whole card"
        );
        let c = NewCard::from_number("s", holder, " 0a0000f1 ", &secret).unwrap();
        assert_eq!(c.tail.as_deref(), Some("00F1"));
    }

    #[test]
    fn a_minor_is_under_eighteen_on_the_day() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let mut p = Person::new("s", "Коля", "Иванов Николай");
        assert!(
            !p.is_minor_on(d("2026-12-01")),
            "no birth date: not a minor"
        );
        p.birth_date = Some(d("2008-12-02"));
        assert!(p.is_minor_on(d("2026-12-01")));
        assert!(!p.is_minor_on(d("2026-12-02")), "adult on the birthday");
    }
}
