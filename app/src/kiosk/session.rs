//! A session: opening it (the catalogue's rules, the clock, the safety briefing), its end with
//! the head count and reason, and the automatic close past its time norm.

use super::*;

/// What the instructor confirmed for a start: the safety briefing given, the kiosk's date (an
/// untrusted clock), going over the group's cap.
pub(super) struct Confirmed {
    pub safety_briefing: bool,
    pub date: bool,
    pub over_group_cap: bool,
}

impl Kiosk {
    pub(super) fn start(
        &mut self,
        service: ServiceCode,
        group: Option<GroupId>,
        unit_kind: Option<UnitKind>,
        event: bool,
        confirmed: Confirmed,
    ) -> Result<Reply, KioskError> {
        let Confirmed {
            safety_briefing,
            date: confirm_date,
            over_group_cap,
        } = confirmed;
        let instructor = self.instructor.ok_or(KioskError::NotSignedIn)?;
        if self.session.is_some() {
            return Err(KioskError::SessionOpen);
        }
        // A home visit (patronage) is recorded on the journal's pages, never at a kiosk.
        let svc = self
            .catalogue
            .get(&service)
            .filter(|s| !s.home_visit)
            .ok_or(KioskError::UnknownService(service))?;
        let id = SessionId(Uuid::now_v7());
        let mut planned = Session::plan(id, svc, unit_kind, group, instructor)?;
        if event {
            planned = planned.as_event(svc)?;
        }
        // A cap on the group's sessions (002 l.1251) is the instructor's to weigh, as a
        // recipient's cap is at a tap: the kiosk warns and opens once confirmed, unless the site
        // makes frequency limits a hard stop; the journal's re-check records it either way.
        if let Some(g) = group.filter(|_| svc.limits.iter().any(|l| l.per_group)) {
            let now = self.clock.now();
            let earlier = self.group_history(g, &svc.code, now)?;
            let reached = otmetka_core::rules::group_caps(svc, &self.site, &earlier, now);
            planned = planned.within_group_caps(
                &reached,
                over_group_cap,
                self.policy
                    .overridable(otmetka_core::decision::Rule::FrequencyLimit),
            )?;
        }
        let opened = planned.open(
            self.clock.now(),
            self.verdict()?,
            confirm_date,
            safety_briefing,
        )?;
        self.record(&[opened])?;
        Ok(Reply::Started { session: id })
    }

    pub(super) fn end(
        &mut self,
        head_count: Option<u32>,
        reason: Option<CloseReason>,
    ) -> Result<Reply, KioskError> {
        if self.instructor.is_none() {
            return Err(KioskError::NotSignedIn);
        }
        let session = self.session.as_ref().ok_or(KioskError::NoSession)?;
        let svc = self
            .catalogue
            .get(&session.service)
            .ok_or_else(|| KioskError::UnknownService(session.service.clone()))?;
        let events = session.close(
            self.clock.now(),
            CloseKind::Instructor,
            head_count,
            reason,
            svc,
            &self.site,
            self.clock.synced(),
        )?;
        let id = session.id;
        let units = match &events[1] {
            Event::Units { units, .. } => units.clone(),
            _ => Vec::new(),
        };
        self.record(&events)?;
        let below_group_min = units.iter().any(|u| u.below_group_min);
        Ok(Reply::Ended {
            session: id,
            units,
            below_group_min,
        })
    }

    /// Closes the open session if it passed its time norm plus grace; ends card enrolment
    /// mode whose request expired.
    pub fn tick(&mut self) -> Result<(), KioskError> {
        // An enrolment request that expired leaves enrolment mode.
        self.enrolment()?;
        let Some(session) = self.session.as_ref() else {
            return Ok(());
        };
        let Some(svc) = self.catalogue.get(&session.service) else {
            return Ok(());
        };
        if let Some(events) = session.tick(
            self.clock.now(),
            svc,
            &self.policy,
            &self.site,
            self.clock.synced(),
        ) {
            self.record(&events)?;
        }
        Ok(())
    }
}
