//! Card enrolment mode: the journal asks for a card for a recipient, the next card on the reader
//! becomes theirs (the request survives a restart as a document of its own).

use super::*;

/// The store's document holding the enrolment request the kiosk waits on (see
/// [`Internal::Enrol`]).
pub(super) const ENROLMENT_DOCUMENT: &str = "enrolment";

impl Kiosk {
    /// The enrolment request waiting for a card, if it has not expired (an expired one is
    /// dropped here).
    pub(super) fn enrolment(&mut self) -> Result<Option<EnrolmentRequest>, KioskError> {
        let now = self.clock.now();
        if self.enrolment.as_ref().is_some_and(|r| r.expires_at <= now) {
            if let Some(r) = self.set_enrolment(None)? {
                tracing::info!(request = %r.request, "card enrolment expired without a card");
            }
        }
        Ok(self.enrolment.clone())
    }

    /// Starts or ends card enrolment mode, on disk as well (the `enrolment` document), so that
    /// a kiosk restarted while it waits for the card still waits: the journal asks only once.
    /// Returns the request it replaces.
    pub(super) fn set_enrolment(
        &mut self,
        request: Option<EnrolmentRequest>,
    ) -> Result<Option<EnrolmentRequest>, KioskError> {
        if request.is_none() && self.enrolment.is_none() {
            // Nothing to end (a cancel with no request): no write, no sync.
            return Ok(None);
        }
        let body = request
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(StoreError::from)?;
        self.store
            .set_local_document(ENROLMENT_DOCUMENT, body.as_deref())?;
        Ok(std::mem::replace(&mut self.enrolment, request))
    }

    /// Whose enrolment is waiting (for the screens), if any.
    pub fn enrolment_name(&self) -> Option<String> {
        self.enrolment.as_ref().map(|r| r.display_name.clone())
    }

    /// Gives the card on the reader to the request's recipient: a card someone holds already
    /// is refused (the request keeps waiting for another card); otherwise `CardEnrolled` is
    /// recorded, and the kiosk's roster knows the card at once (the journal's next roster
    /// includes it).
    pub(super) fn enrol_card(
        &mut self,
        request: EnrolmentRequest,
        read: &CardRead,
    ) -> Result<Reply, KioskError> {
        let holder = match self.roster.lookup(&self.secret, read) {
            Lookup::Found(Holder::Recipient(id, CardStatus::Active)) => Some(
                self.roster
                    .recipients
                    .get(&id)
                    .map(|r| r.display_name.clone()),
            ),
            Lookup::Found(Holder::Instructor(id)) => Some(
                self.roster
                    .instructors
                    .get(&id)
                    .map(|i| i.display_name.clone()),
            ),
            Lookup::Found(Holder::Recipient(_, _)) | Lookup::Ambiguous(_) => Some(None),
            Lookup::Unknown => None,
        };
        if let Some(holder) = holder {
            return Ok(Reply::EnrolRefused { holder });
        }
        let card_hashes = match read {
            CardRead::Uid(key) => self.secret.card_hashes(key),
            CardRead::Truncated { .. } => vec![self.secret.read_hash(read)],
        };
        let event = Event::CardEnrolled {
            request: request.request,
            recipient: request.recipient,
            card_hashes: card_hashes.clone(),
            at: self.clock.now(),
        };
        self.record(std::slice::from_ref(&event))?;
        self.set_enrolment(None)?;
        // Durable in the outbox; now the local roster, so the card works before the journal's
        // new roster comes (if the kiosk stops between the two, it works once that comes).
        if let Some((_, body)) = self.store.document("roster")? {
            if let Ok(mut roster) = serde_json::from_str::<Roster>(&body) {
                if let Some(r) = roster
                    .recipients
                    .iter_mut()
                    .find(|r| r.id == request.recipient)
                {
                    r.cards
                        .extend(card_hashes.into_iter().map(|hash| RosterCard {
                            hash,
                            status: CardStatus::Active,
                        }));
                    let body = serde_json::to_string(&roster).map_err(StoreError::from)?;
                    self.store.amend_document("roster", &body)?;
                    self.use_roster(Arc::new(RosterIndex::from_roster(&roster)));
                }
            }
        }
        tracing::info!(request = %request.request, recipient = %request.recipient, "card enrolled");
        Ok(Reply::Enrolled {
            name: request.display_name,
            committed: true,
        })
    }
}
