//! What the staff's pages keep in the journal store: users and their roles, sign-in sessions and
//! failed attempts, the audit log, the head's monthly sign-off, and staff corrections of the
//! journal. The records are here; each engine implements [`StaffStore`].
//!
//! A correction never overwrites what a kiosk sent: a unit staff removed keeps its row with who
//! removed it, when and why; a unit staff added is a new row saying who added it and why. Both
//! go to the audit log in the same transaction, and both are refused for a month the head has
//! signed off ([`StoreError::MonthSignedOff`]) — in the store, so no route can get round it.

use super::StoreError;
use chrono::{DateTime, NaiveDate, Utc};
use otmetka_core::people::RecipientId;
use otmetka_core::session::SessionId;
use otmetka_core::unit::UnitId;
use serde::{Deserialize, Serialize};

/// What a member of staff may do; each route of the web server names the roles it admits
/// (`crate::web::routes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Users, kiosks, the audit log; everything a head may do.
    Admin,
    /// Head of unit (заведующий отделением): checks and signs off the journal.
    Head,
    /// Specialist or instructor: keeps the journal, corrects check-ins with a reason.
    Specialist,
    /// Reads everything a specialist reads; changes nothing.
    Auditor,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Admin, Role::Head, Role::Specialist, Role::Auditor];

    /// As stored and as typed on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Head => "head",
            Role::Specialist => "specialist",
            Role::Auditor => "auditor",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The role's name on the pages.
    pub fn label(self) -> &'static str {
        match self {
            Role::Admin => "Администратор",
            Role::Head => "Заведующий отделением",
            Role::Specialist => "Специалист",
            Role::Auditor => "Аудитор (только просмотр)",
        }
    }
}

/// A member of staff who signs in to the pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub login: String,
    pub name: String,
    pub role: Role,
    /// The argon2id hash, as a PHC string.
    pub password_hash: String,
    pub created_at: DateTime<Utc>,
    pub disabled_at: Option<DateTime<Utc>>,
    /// The instructor this account is at the kiosks (their PIN and card), where it is one.
    pub instructor: Option<otmetka_core::people::InstructorId>,
}

/// A new user, before the store gives it an id.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub login: String,
    pub name: String,
    pub role: Role,
    pub password_hash: String,
}

/// A signed-in browser: the SHA-256 of its cookie's token (the token itself is never stored),
/// its user, the form token every form of this session carries, and when it ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSession {
    pub token_hash: String,
    pub user: User,
    pub csrf: String,
    pub expires_at: DateTime<Utc>,
}

/// Who did something, for the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user: Option<i64>,
    pub login: String,
    /// The name the pages show for what they did (a sign-off, a correction).
    pub name: String,
}

impl Actor {
    pub fn of(user: &User) -> Actor {
        Actor {
            user: Some(user.id),
            login: user.login.clone(),
            name: user.name.clone(),
        }
    }
}

/// One line of the audit log (152-ФЗ: who viewed or changed whose records, when, what, why).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub login: String,
    /// What was done: `sign_in`, `sign_in_refused`, `view_act`, `add_checkin`, …
    pub action: String,
    /// Whose record or what: a recipient id, a session id, a month.
    pub subject: String,
    pub detail: String,
}

/// The head's sign-off of a site's month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignOff {
    pub site: String,
    /// The month's first day.
    pub month: NaiveDate,
    pub by: String,
    pub at: DateTime<Utc>,
}

/// A session as the journal holds it (opened and perhaps closed at a kiosk).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub id: SessionId,
    pub site: String,
    pub kiosk: String,
    pub service: String,
    pub instructor: String,
    pub opened_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    /// How it closed (`Normal`, `Auto`, `Cancelled`, …), as the kiosk said.
    pub how: Option<String>,
    /// The head count the instructor entered at the close, where the service asks for one.
    pub head_count: Option<u32>,
    /// Why the instructor closed it despite the close's warnings (below the group minimum,
    /// head count ≠ check-ins).
    pub close_reason: Option<otmetka_core::event::CloseReason>,
    /// Opened as the service's event form (a mass event, an excursion: its longer norm).
    pub event: bool,
    /// The standing group it was opened for; `None`: opened for the service alone.
    pub group: Option<otmetka_core::people::GroupId>,
}

/// A unit with what staff did to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitRecord {
    pub site: String,
    pub kiosk: String,
    pub unit: otmetka_core::unit::Unit,
    /// Added by staff (not sent by a kiosk): who, when, why.
    pub added: Option<Change>,
    /// Removed by staff: who, when, why. A removed unit is not counted.
    pub removed: Option<Change>,
    /// Sent by its kiosk after the head had signed off its month: that sign-off's time.
    pub after_signoff: Option<DateTime<Utc>>,
}

impl UnitRecord {
    /// Whether the unit counts (in the act, plan vs fact and the exports).
    pub fn counts(&self) -> bool {
        self.removed.is_none()
    }
}

/// A staff change to the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub by: String,
    pub at: DateTime<Utc>,
    pub reason: String,
}

/// A session with its units, for the journal's pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionJournal {
    pub session: SessionRecord,
    pub units: Vec<UnitRecord>,
}

/// A check-in staff add after the fact (forgotten at the kiosk), with its reason.
#[derive(Debug, Clone)]
pub struct AddedCheckIn {
    pub session: SessionId,
    pub recipient: RecipientId,
    pub reason: String,
    /// The session's local date at its site, for a session that has no unit yet to take it from.
    pub local_date: NaiveDate,
}

/// A tap of a card no roster knew, waiting for staff to say whose it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapRecord {
    pub tap: uuid::Uuid,
    pub site: String,
    pub kiosk: String,
    /// The session it came in, if one was open.
    pub session: Option<SessionId>,
    pub card_hash: String,
    pub at: DateTime<Utc>,
}

/// The staff's part of the journal store.
pub trait StaffStore {
    /// Adds a user. A login already held (letter case aside) is [`StoreError::Conflict`].
    fn add_user(&mut self, user: &NewUser, now: DateTime<Utc>) -> Result<User, StoreError>;
    /// A user by login (letter case aside), disabled or not.
    fn user_by_login(&self, login: &str) -> Result<Option<User>, StoreError>;
    /// Every user, by login.
    fn users(&self) -> Result<Vec<User>, StoreError>;
    /// Disables a user: their sessions end now and they cannot sign in again; the instructor
    /// they are at the kiosks leaves the kiosks (the roster goes out again without them). All
    /// audited. Their name stays on what they did. An unknown login is [`StoreError::NotFound`].
    fn disable_user(
        &mut self,
        login: &str,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Ties a user in use to the instructor they are at the kiosks (`None`: to none); audited.
    /// An instructor is one account's: another's is [`StoreError::Conflict`]; an unknown user
    /// or instructor is [`StoreError::NotFound`].
    fn link_instructor(
        &mut self,
        login: &str,
        instructor: Option<otmetka_core::people::InstructorId>,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Sets a user's password hash; every other session of theirs ends (the one `keep` names
    /// stays). Audited.
    fn set_password(
        &mut self,
        user: i64,
        password_hash: &str,
        keep: &str,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Starts a browser session.
    fn start_session(
        &mut self,
        token_hash: &str,
        user: i64,
        csrf: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// The session with this token hash, if it has not expired at `now` and its user is not
    /// disabled.
    fn session(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<WebSession>, StoreError>;
    /// Ends a session (sign-out); expired sessions are removed as well.
    fn end_session(&mut self, token_hash: &str, now: DateTime<Utc>) -> Result<(), StoreError>;
    /// Records a failed sign-in (by login and by the peer's address).
    fn sign_in_failed(
        &mut self,
        login: &str,
        peer: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Failed sign-ins since `since`: (for this login, from this peer).
    fn sign_in_failures(
        &self,
        login: &str,
        peer: &str,
        since: DateTime<Utc>,
    ) -> Result<(u32, u32), StoreError>;
    /// Adds a line to the audit log.
    fn audit(
        &mut self,
        actor: &Actor,
        action: &str,
        subject: &str,
        detail: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// The audit log, newest first, at most `limit` lines.
    fn audit_log(&self, limit: u32) -> Result<Vec<AuditEntry>, StoreError>;
    /// The audit log's lines of other systems' API reads (`api`) or of everything else, newest
    /// first, at most `limit`: a client polling the API does not push the staff's actions off
    /// the page.
    fn audit_log_of(&self, api: bool, limit: u32) -> Result<Vec<AuditEntry>, StoreError>;

    /// Sessions opened in `[from, to)` with their units and check-ins, oldest first.
    fn sessions(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<SessionJournal>, StoreError>;
    /// One session with its units and check-ins.
    fn session_journal(&self, id: SessionId) -> Result<Option<SessionJournal>, StoreError>;
    /// Every unit of a date range, counted or removed, with what staff did.
    fn unit_records(&self, from: NaiveDate, to: NaiveDate) -> Result<Vec<UnitRecord>, StoreError>;
    /// One unit, counted or removed.
    fn unit_record(&self, id: UnitId) -> Result<Option<UnitRecord>, StoreError>;
    /// Adds a forgotten check-in: a unit for the recipient in the session, as its other units
    /// are (same service, times, instructor), marked manual and added by `actor` with the
    /// reason; audited. A recipient who already has a counted unit in the session is a
    /// [`StoreError::Conflict`]; one whose unit staff removed gets it back.
    fn add_checkin(
        &mut self,
        add: &AddedCheckIn,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<UnitId, StoreError>;
    /// The satisfaction answers given at check-out at a site's kiosks in `[from, to)`, the last
    /// answer of each check-in: (service of the session, answer).
    fn satisfaction(
        &self,
        site: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(String, otmetka_core::event::Satisfaction)>, StoreError>;
    /// The site's taps not matched to anyone yet, oldest first.
    fn unmatched_taps(&self, site: &str) -> Result<Vec<TapRecord>, StoreError>;
    /// Says whose an unidentified tap was: recorded with who matched it and when, audited, and,
    /// where the tap came in a closed session and the recipient has no unit in it yet, their
    /// check-in is added as [`StaffStore::add_checkin`] adds one (with `reason`), in the same
    /// transaction. Returns the unit added, if any. A tap matched already is a
    /// [`StoreError::Conflict`].
    fn match_tap(
        &mut self,
        tap: uuid::Uuid,
        recipient: RecipientId,
        reason: &str,
        local_date: NaiveDate,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Option<UnitId>, StoreError>;
    /// Removes a unit (a check-in that should not count), with the reason; audited.
    fn remove_unit(
        &mut self,
        unit: UnitId,
        reason: &str,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Corrects a check-in given to the wrong person in one step: the unit is removed with the
    /// reason and the right recipient gets the session's unit with the same reason, in one
    /// transaction (either both or neither); audited as one correction. Returns the new unit.
    fn correct_unit(
        &mut self,
        unit: UnitId,
        to: RecipientId,
        reason: &str,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<UnitId, StoreError>;
    /// The sign-off of a site's month, if signed.
    fn sign_off(&self, site: &str, month: NaiveDate) -> Result<Option<SignOff>, StoreError>;
    /// Signs off a site's month (the head): its units cannot be changed until it is reopened.
    fn sign_off_month(
        &mut self,
        site: &str,
        month: NaiveDate,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Reopens a signed-off month, with the reason (recorded in the audit log).
    fn reopen_month(
        &mut self,
        site: &str,
        month: NaiveDate,
        reason: &str,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Records a patronage visit: a session of the journal with one unit for the recipient,
    /// refused for a signed-off month. Audited.
    fn record_visit(
        &mut self,
        actor: &Actor,
        visit: &Visit,
        now: DateTime<Utc>,
    ) -> Result<SessionId, StoreError>;
    /// A site's visits on the days `[from, to]`, newest first.
    fn visits(
        &self,
        site: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<VisitRecord>, StoreError>;
    /// Writes an entry into the feedback book. Audited.
    fn add_feedback(
        &mut self,
        actor: &Actor,
        entry: &NewFeedback,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError>;
    /// A site's feedback book for the days `[from, to]`, newest first.
    fn feedback(
        &self,
        site: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<Feedback>, StoreError>;
    /// Records what was done about an entry (once). Audited.
    fn answer_feedback(
        &mut self,
        actor: &Actor,
        site: &str,
        id: i64,
        answer: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
}

/// What a feedback book entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FeedbackKind {
    Thanks,
    Suggestion,
    Complaint,
}

impl FeedbackKind {
    pub const ALL: [FeedbackKind; 3] = [
        FeedbackKind::Complaint,
        FeedbackKind::Suggestion,
        FeedbackKind::Thanks,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FeedbackKind::Thanks => "thanks",
            FeedbackKind::Suggestion => "suggestion",
            FeedbackKind::Complaint => "complaint",
        }
    }

    pub fn parse(s: &str) -> Option<FeedbackKind> {
        FeedbackKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// On the pages.
    pub fn label(self) -> &'static str {
        match self {
            FeedbackKind::Thanks => "благодарность",
            FeedbackKind::Suggestion => "предложение",
            FeedbackKind::Complaint => "жалоба",
        }
    }
}

/// An entry of the feedback book, before the store gives it an id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFeedback {
    pub site: String,
    pub received_on: NaiveDate,
    pub kind: FeedbackKind,
    /// Who said it: the recipient, a relative ("дочь получателя"), anonymous.
    pub author: String,
    pub recipient: Option<RecipientId>,
    pub service: Option<String>,
    pub text: String,
}

/// An entry of the feedback book, with what was done about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feedback {
    pub id: i64,
    pub entry: NewFeedback,
    pub entered_by: String,
    pub entered_at: DateTime<Utc>,
    /// What was done, by whom, when.
    pub answer: Option<Change>,
}

/// The "kiosk" of a patronage visit's session: no kiosk id may start with `~`.
pub const VISIT_KIOSK: &str = "~visit";

/// A patronage visit (seed 003): primary or repeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VisitKind {
    Primary,
    Repeat,
}

impl VisitKind {
    pub fn as_str(self) -> &'static str {
        match self {
            VisitKind::Primary => "primary",
            VisitKind::Repeat => "repeat",
        }
    }

    pub fn parse(s: &str) -> Option<VisitKind> {
        [VisitKind::Primary, VisitKind::Repeat]
            .into_iter()
            .find(|k| k.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            VisitKind::Primary => "первичный",
            VisitKind::Repeat => "плановый (повторный)",
        }
    }
}

/// The document a visit ends with (003 l.30, l.41).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VisitDocument {
    HousingAct,
    PatronageAct,
    Report,
}

impl VisitDocument {
    pub const ALL: [VisitDocument; 3] = [
        VisitDocument::PatronageAct,
        VisitDocument::HousingAct,
        VisitDocument::Report,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            VisitDocument::HousingAct => "housing_act",
            VisitDocument::PatronageAct => "patronage_act",
            VisitDocument::Report => "report",
        }
    }

    pub fn parse(s: &str) -> Option<VisitDocument> {
        VisitDocument::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            VisitDocument::HousingAct => "акт обследования жилищно-бытовых условий",
            VisitDocument::PatronageAct => "акт социального патронажа",
            VisitDocument::Report => "отчёт о патронаже",
        }
    }
}

/// The time norms of a visit's three parts, in minutes (003 l.21, l.29, l.31).
pub const VISIT_NORMS: [u32; 3] = [60, 40, 10];

/// A patronage visit as staff enter it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visit {
    pub site: String,
    pub recipient: RecipientId,
    /// The specialist who went (an instructor of the site).
    pub instructor: String,
    pub kind: VisitKind,
    /// The site's local date of the visit.
    pub date: NaiveDate,
    /// When the work with the client began.
    pub started_at: DateTime<Utc>,
    /// Preparation and travel, work with the client, completion.
    pub minutes: [u32; 3],
    pub document: VisitDocument,
    pub note: String,
}

impl Visit {
    /// The parts over their norm: (part index, minutes, norm).
    pub fn over_norm(&self) -> Vec<(usize, u32, u32)> {
        self.minutes
            .iter()
            .zip(VISIT_NORMS)
            .enumerate()
            .filter(|(_, (m, n))| **m > *n)
            .map(|(i, (m, n))| (i, *m, n))
            .collect()
    }
}

/// A recorded visit with its session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisitRecord {
    pub session: SessionId,
    pub visit: Visit,
    pub entered_by: String,
    /// Whether its unit still counts (staff may remove it on the session's page).
    pub counts: bool,
}

/// The first day of `date`'s month.
pub fn month_of(date: NaiveDate) -> NaiveDate {
    date.with_day0(0).unwrap_or(date)
}

use chrono::Datelike;
