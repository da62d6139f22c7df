//! Check-ins: a card on the reader, by the instructor (override, by name), undone, checked out,
//! and the notes on a participant.

use super::*;

impl Kiosk {
    pub(super) fn tap(&mut self, read: &CardRead) -> Result<Reply, KioskError> {
        let now = self.clock.now();
        let lookup = self.roster.lookup(&self.secret, read);
        if let Lookup::Found(Holder::Instructor(_)) = lookup {
            // A staff card on the reader signs the instructor in.
            return self.sign_in(&read.to_string());
        }
        let verdict = self.verdict()?;
        let card_hash = self.secret.read_hash(read);
        let (recipient, card) = match lookup {
            Lookup::Found(Holder::Recipient(id, status)) => match self.roster.recipients.get(&id) {
                Some(r) => (Some(r.clone()), status),
                None => (None, status),
            },
            _ => (None, CardStatus::Active),
        };
        let who = match &recipient {
            Some(r) => Tapper::Known { recipient: r, card },
            None => Tapper::Unknown {
                card_hash: &card_hash,
            },
        };
        let outcome = match self.session.as_ref() {
            Some(session) => {
                let svc = self
                    .catalogue
                    .get(&session.service)
                    .ok_or_else(|| KioskError::UnknownService(session.service.clone()))?;
                let history = match &recipient {
                    Some(r) => self.history(r.id, now)?,
                    None => Vec::new(),
                };
                let inputs = RuleInputs {
                    service: svc,
                    history: &history,
                    site: &self.site,
                    policy: &self.policy,
                    clock: verdict,
                };
                session.tap(who, &inputs, CheckInId(Uuid::now_v7()), Uuid::now_v7(), now)
            }
            None => {
                // No session: nothing to decide but an unknown card is still kept.
                let unknown = matches!(who, Tapper::Unknown { .. });
                otmetka_core::session::TapOutcome {
                    decision: Decision::NoOpenSession,
                    event: unknown.then(|| Event::UnidentifiedTap {
                        session: None,
                        tap: Uuid::now_v7(),
                        card_hash: card_hash.clone(),
                        at: now,
                    }),
                }
            }
        };
        let committed = match &outcome.event {
            Some(ev) => {
                self.record(std::slice::from_ref(ev))?;
                true
            }
            None => false,
        };
        self.refusal = match (&outcome.decision.rule(), &recipient) {
            (Some(_), Some(r)) => Some(Refusal {
                recipient: r.id,
                card,
            }),
            _ => None,
        };
        Ok(Reply::Tap(self.tap_reply(
            outcome.decision,
            outcome.event.as_ref(),
            committed,
        )))
    }

    pub(super) fn tap_reply(
        &self,
        decision: Decision,
        event: Option<&Event>,
        committed: bool,
    ) -> TapReply {
        let display_name = decision
            .recipient()
            .and_then(|id| self.roster.recipients.get(&id))
            .map(|r| r.display_name.clone());
        let checkin = match event {
            Some(Event::CheckedIn { checkin, .. }) => Some(*checkin),
            _ => None,
        };
        let (present, group_max) = match &self.session {
            Some(s) => (
                s.present_count(),
                self.catalogue.get(&s.service).and_then(|svc| svc.group_max),
            ),
            None => (0, None),
        };
        TapReply {
            kind: decision.kind(),
            decision,
            committed,
            display_name,
            checkin,
            present,
            group_max,
        }
    }

    pub(super) fn check_in_by_instructor(
        &mut self,
        recipient: RecipientId,
        card: CardStatus,
        method: CheckInMethod,
        reason: &str,
    ) -> Result<TapReply, KioskError> {
        if self.instructor.is_none() {
            return Err(KioskError::NotSignedIn);
        }
        let now = self.clock.now();
        let verdict = self.verdict()?;
        let session = self.session.as_ref().ok_or(KioskError::NoSession)?;
        let r = self
            .roster
            .recipients
            .get(&recipient)
            .cloned()
            .ok_or(KioskError::UnknownRecipient(recipient))?;
        let svc = self
            .catalogue
            .get(&session.service)
            .ok_or_else(|| KioskError::UnknownService(session.service.clone()))?;
        let history = self.history(r.id, now)?;
        let inputs = RuleInputs {
            service: svc,
            history: &history,
            site: &self.site,
            policy: &self.policy,
            clock: verdict,
        };
        let outcome = session.check_in_overriding(
            &r,
            card,
            method,
            reason,
            &inputs,
            CheckInId(Uuid::now_v7()),
            now,
        )?;
        if let Some(ev) = &outcome.event {
            self.record(std::slice::from_ref(ev))?;
        }
        self.refusal = None;
        Ok(self.tap_reply(
            outcome.decision,
            outcome.event.as_ref(),
            outcome.event.is_some(),
        ))
    }

    pub(super) fn override_last(&mut self, reason: &str) -> Result<TapReply, KioskError> {
        let refusal = self.refusal.clone().ok_or(KioskError::NothingToOverride)?;
        self.check_in_by_instructor(refusal.recipient, refusal.card, CheckInMethod::Card, reason)
    }

    pub(super) fn manual(
        &mut self,
        recipient: RecipientId,
        reason: &str,
    ) -> Result<TapReply, KioskError> {
        let method = CheckInMethod::Manual {
            reason: reason.to_string(),
        };
        self.check_in_by_instructor(recipient, CardStatus::Active, method, reason)
    }

    pub(super) fn undo(&mut self, checkin: Option<CheckInId>) -> Result<Reply, KioskError> {
        if self.instructor.is_none() {
            return Err(KioskError::NotSignedIn);
        }
        let session = self.session.as_ref().ok_or(KioskError::NoSession)?;
        let id = match checkin {
            Some(id) => id,
            None => session
                .present()
                .last()
                .map(|c| c.id)
                .ok_or(KioskError::NoSession)?,
        };
        let ev = session.undo(id, self.clock.now())?;
        self.record(&[ev])?;
        Ok(Reply::Undone { checkin: id })
    }

    /// The recipient's own action on the screen: no instructor needed.
    pub(super) fn check_out(
        &mut self,
        recipient: RecipientId,
        satisfaction: Option<otmetka_core::event::Satisfaction>,
    ) -> Result<Reply, KioskError> {
        let session = self.session.as_ref().ok_or(KioskError::NoSession)?;
        let checkin = session
            .present()
            .find(|c| c.recipient == recipient && c.checked_out_at.is_none())
            .map(|c| c.id)
            .ok_or(KioskError::UnknownRecipient(recipient))?;
        let now = self.clock.now();
        let mut events = Vec::new();
        if let Some(answer) = satisfaction {
            events.push(session.answer(checkin, answer, now)?);
        }
        events.push(session.check_out(checkin, now)?);
        self.record(&events)?;
        Ok(Reply::CheckedOut { checkin })
    }

    pub(super) fn note(&mut self, recipient: RecipientId, note: &str) -> Result<Reply, KioskError> {
        if self.instructor.is_none() {
            return Err(KioskError::NotSignedIn);
        }
        let session = self.session.as_ref().ok_or(KioskError::NoSession)?;
        let ev = session.note(recipient, note, None, self.clock.now())?;
        self.record(&[ev])?;
        Ok(Reply::Ok)
    }
}
