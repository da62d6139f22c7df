//! The journal's own re-check of the rules over all of a site's kiosks (the rules issue, point
//! 1), and the site's usage that lets each kiosk count across the site. The judging is
//! `otmetka_core::rules::recheck`; this module holds what goes in and out of the store, and
//! each engine implements [`RulesStore`].
//!
//! A kiosk checks a tap against its own check-ins and the last usage the journal sent; two kiosks
//! that could not hear each other may both accept. So every unit that reaches the journal is
//! queued, in the transaction that records it, for a re-check of its recipient and service;
//! what breaks a cap is recorded as a [`Violation`] and shown on the violations page. The unit
//! itself is never rejected: it was given.

use super::StoreError;
use chrono::{DateTime, NaiveDate, Utc};
use otmetka_core::catalogue::{Catalogue, ServiceCode};
use otmetka_core::decision::{Decision, Rule};
use otmetka_core::people::RecipientId;
use otmetka_core::period::SiteTime;
use otmetka_core::session::SessionId;
use otmetka_core::unit::UnitId;

/// Units of one service a recipient was given on one date, from one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GivenCount {
    pub recipient: RecipientId,
    pub service: ServiceCode,
    pub date: NaiveDate,
    /// The kiosk whose session gave them; `None` for units staff entered.
    pub kiosk: Option<String>,
    /// Of sessions opened as the service's event form.
    pub event: bool,
    pub count: u32,
}

/// A rule a unit broke, found by the journal's re-check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub unit: UnitId,
    pub session: SessionId,
    pub site: String,
    pub kiosk: String,
    pub recipient: RecipientId,
    pub service: ServiceCode,
    pub date: NaiveDate,
    pub rule: Rule,
    /// The decision with its figures (the cap, how many were given before).
    pub decision: Decision,
    /// The kiosk's instructor overrode the rule for this unit, with a reason: known at the
    /// time. Where false, the kiosk did not know (another kiosk gave the earlier units).
    pub overridden: bool,
    pub found_at: DateTime<Utc>,
}

/// One card check-in of a recipient during another kiosk's session they were checked in to by
/// card and had not left: the same person at two kiosks at once — a cloned card, or a card
/// lent to someone else (the hardening issue, point 12).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoubleTap {
    pub recipient: RecipientId,
    /// The first check-in: kiosk, session, when.
    pub first: (String, SessionId, DateTime<Utc>),
    /// The check-in at the other kiosk while the first session was open.
    pub second: (String, SessionId, DateTime<Utc>),
}

/// What the re-check of the queue did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rechecked {
    /// (recipient, service) pairs judged again.
    pub pairs: usize,
    /// Violations held for them afterwards.
    pub violations: usize,
}

/// What an engine keeps for the re-check and the usage.
pub trait RulesStore {
    /// Judges again every (recipient, service) queued since the last call, at most `limit` of
    /// them, against `catalogue` in each site's local time (`site_time`), and replaces their
    /// violations with what it finds, in one transaction.
    fn recheck(
        &mut self,
        catalogue: &Catalogue,
        site_time: &dyn Fn(&str) -> SiteTime,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<Rechecked, StoreError>;

    /// The site's units from `from` on, counted per recipient, service, date and source, and
    /// how far each of its kiosks' installations was committed: read at one moment, so that a
    /// kiosk can tell which of its own sessions the counts hold (`wire::Usage::committed`).
    fn given_counts(
        &self,
        site: &str,
        from: Option<NaiveDate>,
    ) -> Result<(Vec<otmetka_core::wire::UsageCommitted>, Vec<GivenCount>), StoreError>;

    /// The site's sessions of standing groups that gave units, for each service in `services`
    /// from its date on (the first day of its widest cap on a group's sessions), by start.
    fn group_sessions(
        &self,
        site: &str,
        services: &[(ServiceCode, NaiveDate)],
    ) -> Result<Vec<otmetka_core::wire::UsageGroupSession>, StoreError>;

    /// The site's card check-ins in `[from, to)` made while the same recipient was checked in by
    /// card at another kiosk's open session and had not checked out ([`DoubleTap`]), by time.
    fn double_taps(
        &self,
        site: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<DoubleTap>, StoreError>;

    /// The site's violations of units dated in `[from, to)`, by date.
    fn violations(
        &self,
        site: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<Violation>, StoreError>;
}
