//! The rules of the standards applied to one recipient joining one session: consent, the
//! individual programme, frequency limits, the group maximum. Pure: the caller passes the
//! recipient's attendance history and the time.
//!
//! The seeds set limits but not what happens at excess (`domain.md` §2): by default each broken
//! rule is a refusal the instructor may override with a recorded reason; the site's [`Policy`]
//! names the rules that are hard stops.

use crate::catalogue::{Form, FrequencyLimit, Period, Service, ServiceCode};
use crate::decision::{Decision, ProgrammeGap, Rule};
use crate::people::{Programme, Recipient};
use crate::period::SiteTime;
use crate::session::SessionId;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The site's rule policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// Rules that cannot be overridden on the kiosk.
    #[serde(default)]
    pub hard: BTreeSet<Rule>,
    /// Minutes after the time norm before an open session closes itself.
    #[serde(default = "default_grace")]
    pub auto_close_grace_minutes: u32,
    /// Where a service has no time norm: minutes after which an open session closes itself.
    #[serde(default = "default_no_norm")]
    pub auto_close_without_norm_minutes: u32,
}

fn default_grace() -> u32 {
    15
}

fn default_no_norm() -> u32 {
    240
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            hard: BTreeSet::new(),
            auto_close_grace_minutes: default_grace(),
            auto_close_without_norm_minutes: default_no_norm(),
        }
    }
}

impl Policy {
    /// Whether the instructor may override a rule.
    pub fn overridable(&self, rule: Rule) -> bool {
        !self.hard.contains(&rule)
    }
}

/// One past attendance of a recipient: a check-in that was not undone, in another session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attendance {
    /// The session, where known: a kiosk's own check-ins name theirs; a unit the journal
    /// reports from another kiosk (`wire::Usage`) has none.
    pub session: Option<SessionId>,
    pub service: ServiceCode,
    pub at: DateTime<Utc>,
    /// The session was opened as the service's event form (`Form::Event` caps count it).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub event: bool,
}

/// Everything the rules look at for one recipient joining one session.
#[derive(Debug, Clone, Copy)]
pub struct Joining<'a> {
    pub service: &'a Service,
    pub recipient: &'a Recipient,
    /// The recipient's attendance history (any sessions; this session's entries are ignored).
    pub history: &'a [Attendance],
    pub session: SessionId,
    pub site: &'a SiteTime,
    pub now: DateTime<Utc>,
    /// How many are checked in to the session now.
    pub present: u32,
    /// The session is the service's event form: caps of the other form neither count it nor
    /// apply to it.
    pub event: bool,
}

impl Joining<'_> {
    /// Attendances of this service in `period`'s window, not counting this session.
    fn used(&self, service: &ServiceCode, period: Period, form: Form) -> u32 {
        let date = self.site.local_date(self.now);
        let course = self
            .recipient
            .programme
            .as_ref()
            .and_then(|p| p.course_at(service, date));
        let (from, to) = self.site.window(period, self.now, course);
        let n = self
            .history
            .iter()
            .filter(|a| &a.service == service && a.session != Some(self.session))
            .filter(|a| form.counts(a.event))
            .filter(|a| {
                let d = self.site.local_date(a.at);
                from <= d && d < to
            })
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// Where the service is given in courses (`Service::courses`) and the programme names
    /// them: `date` is before the first course, or after the longest course's last day (no
    /// course runs), or in a course one too many for its year. A programme that names no course
    /// of the service is not refused here (its course caps count a rolling window then).
    fn course_gap(&self, programme: &Programme, date: NaiveDate) -> Option<ProgrammeGap> {
        let courses = self.service.courses.as_ref()?;
        let code = &self.service.code;
        let first = programme.course_starts(code).first().copied()?;
        let Some((nth, start)) = programme.course_of_year(code, date) else {
            return Some(ProgrammeGap::NoCourse { first });
        };
        if let Some([_, longest]) = courses.days {
            let day = u32::try_from((date - start).num_days() + 1).unwrap_or(u32::MAX);
            if day > longest {
                return Some(ProgrammeGap::CourseOver { days: longest, day });
            }
        }
        let max = courses.per_year.filter(|max| nth > *max)?;
        Some(ProgrammeGap::CourseLimit { max, nth })
    }

    /// Every rule this joining breaks, in the order they are told to a person.
    pub fn broken(&self) -> Vec<Decision> {
        let rid = self.recipient.id;
        let code = &self.service.code;
        let mut out = Vec::new();
        if !self.recipient.consent.participation {
            out.push(Decision::NoConsent { recipient: rid });
        }
        let date = self.site.local_date(self.now);
        let minor = self.recipient.minor_on(date);
        if let Some(whom) = &self.service.for_whom {
            // An adult whose care group is not on file is not refused: the kiosk cannot tell.
            if whom.includes(self.recipient.care_group, minor) == Some(false) {
                out.push(Decision::NotEligible {
                    recipient: rid,
                    service: code.clone(),
                    care_group: self.recipient.care_group,
                    care_groups: whom.care_groups,
                    minors: whom.minors,
                });
            }
        }
        let gap = match &self.recipient.programme {
            None => Some(ProgrammeGap::NoProgramme),
            Some(p) if !p.in_force(date) => Some(ProgrammeGap::NotInForce),
            Some(p) => match p.item(code) {
                None => Some(ProgrammeGap::ServiceNotListed),
                // The count first: the journal's re-check judges it (not the courses).
                Some(item) => item
                    .count
                    .and_then(|allowed| {
                        let used = self.used(code, item.period, Form::Any);
                        (used >= allowed).then_some(ProgrammeGap::CountUsed { allowed, used })
                    })
                    .or_else(|| self.course_gap(p, date)),
            },
        };
        if let Some(gap) = gap {
            out.push(Decision::NotInProgramme {
                recipient: rid,
                service: code.clone(),
                gap,
            });
        }
        // Caps only: a floor (`Service::floors`) is owed to the recipient and never refuses; a
        // group's cap counts the group's sessions, not the recipient's units (`group_caps`).
        // A cap for adults does not count for a minor, and one for minors not for an adult;
        // a cap of the service's events neither counts nor applies to its regular sessions.
        let caps = self.service.limits.iter();
        let ours =
            |l: &&FrequencyLimit| !l.per_group && l.applies.to(minor) && l.form.counts(self.event);
        for limit in caps.filter(ours) {
            let used = self.used(code, limit.period, limit.form);
            if used >= limit.max {
                out.push(Decision::FrequencyLimit {
                    recipient: rid,
                    service: code.clone(),
                    limit: FrequencyLimit {
                        max: limit.max,
                        period: limit.period,
                        cite: None,
                        per_group: false,
                        applies: limit.applies,
                        form: limit.form,
                    },
                    used,
                });
            }
        }
        if let Some(max) = self.service.group_max {
            if self.present >= max {
                out.push(Decision::GroupFull {
                    recipient: rid,
                    max,
                });
            }
        }
        out
    }
}

/// The group's caps a session opened at `now` would break (002 l.1251 «не более 1 раза в месяц
/// для группы получателей услуг»): each cap with `per_group`, and how many sessions of the
/// service the group already had in the cap's window. `earlier` is when each of the group's
/// other sessions of the service began (not cancelled ones).
pub fn group_caps(
    service: &Service,
    site: &SiteTime,
    earlier: &[DateTime<Utc>],
    now: DateTime<Utc>,
) -> Vec<(FrequencyLimit, u32)> {
    service
        .limits
        .iter()
        .filter(|l| l.per_group)
        .filter_map(|l| {
            let (from, to) = site.window(l.period, now, None);
            let n = earlier
                .iter()
                .map(|at| site.local_date(*at))
                .filter(|d| from <= *d && *d < to)
                .count();
            let used = u32::try_from(n).unwrap_or(u32::MAX);
            (used >= l.max).then(|| (l.clone(), used))
        })
        .collect()
}

/// One unit a recipient was given, as the journal re-checks it: its session, when it began.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Given {
    pub session: SessionId,
    pub at: DateTime<Utc>,
    /// Its session was the service's event form.
    pub event: bool,
}

/// The journal's re-check of one recipient's units of one service, over every kiosk: each unit
/// judged against the caps and the programme's count with the units given before it (by time,
/// then session), so that the verdict does not depend on the order the kiosks delivered them
/// in. Returns, for each unit in `given`'s order, the rules it broke (empty when none).
///
/// Only the rules that count are re-checked: frequency caps and the programme's count. The
/// group maximum, consent and the programme's presence were the kiosk's to see at the time.
///
/// Each unit is judged by the programme in force on its day: the recipient's, or one of
/// `replaced` (the programmes it replaced) whose validity holds the day; the recipient's where
/// none does.
pub fn recheck(
    service: &Service,
    recipient: &Recipient,
    replaced: &[Programme],
    site: &SiteTime,
    given: &[Given],
) -> Vec<Vec<Decision>> {
    let mut order: Vec<usize> = (0..given.len()).collect();
    order.sort_by_key(|&i| (given[i].at, given[i].session));
    let mut out = vec![Vec::new(); given.len()];
    let mut before: Vec<Attendance> = Vec::with_capacity(given.len());
    for i in order {
        let g = &given[i];
        let date = site.local_date(g.at);
        let in_force = |p: &&Programme| p.in_force(date);
        let other = match &recipient.programme {
            Some(p) if p.in_force(date) => None,
            _ => replaced.iter().find(in_force),
        };
        let then;
        let recipient = match other {
            Some(p) => {
                then = Recipient {
                    programme: Some(p.clone()),
                    ..recipient.clone()
                };
                &then
            }
            None => recipient,
        };
        let joining = Joining {
            service,
            recipient,
            history: &before,
            session: g.session,
            site,
            now: g.at,
            present: 0,
            event: g.event,
        };
        out[i] = joining
            .broken()
            .into_iter()
            .filter(|d| {
                matches!(
                    d,
                    Decision::FrequencyLimit { .. }
                        | Decision::NotInProgramme {
                            gap: ProgrammeGap::CountUsed { .. },
                            ..
                        }
                )
            })
            .collect();
        before.push(Attendance {
            session: Some(g.session),
            service: service.code.clone(),
            at: g.at,
            event: g.event,
        });
    }
    out
}

/// The first local date that a cap of `service`, or the recipient's programme count for it,
/// looks back to at `at`: what the journal sends a kiosk of the recipient's units (`wire::Usage`).
/// `None` where nothing is counted (no cap, no count).
pub fn counted_from(
    service: &Service,
    recipient: &Recipient,
    site: &SiteTime,
    at: DateTime<Utc>,
) -> Option<chrono::NaiveDate> {
    let programme = recipient.programme.as_ref();
    let course = programme.and_then(|p| p.course_at(&service.code, site.local_date(at)));
    let counted = programme
        .and_then(|p| p.item(&service.code))
        .filter(|i| i.count.is_some())
        .map(|i| i.period);
    service
        .limits
        .iter()
        .filter(|l| !l.per_group)
        .map(|l| l.period)
        .chain(counted)
        .map(|period| site.window(period, at, course).0)
        .min()
}
