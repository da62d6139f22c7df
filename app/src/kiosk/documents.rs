//! The journal's documents the kiosk holds: the roster (indexed, swapped in without holding up a
//! tap), the schedule and the site's usage (what other kiosks gave each recipient).

use super::*;

/// An indexed roster, shared (see [`Internal::UseRoster`]).
#[derive(Debug, Clone)]
pub struct PreparedRoster(pub Arc<RosterIndex>);

impl PartialEq for PreparedRoster {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for PreparedRoster {}

/// The site's usage as the kiosk counts with it.
#[derive(Debug, Default)]
pub(super) struct HeldUsage {
    pub version: u64,
    pub by: HashMap<RecipientId, Vec<UsageEntry>>,
    /// How far the journal held this kiosk's messages (this installation's) when it built the
    /// usage; `None` from a journal that does not say.
    pub committed: Option<otmetka_core::wire::UsageCommitted>,
    /// The sessions of each standing group and service that gave units, by session; `None`
    /// from a journal that does not send them.
    pub groups: Option<HashMap<(GroupId, ServiceCode), GroupSessions>>,
}

/// When each of a group's sessions of a service began, by session.
pub(super) type GroupSessions = HashMap<SessionId, DateTime<Utc>>;

/// The site's usage by recipient, for the kiosk `kiosk` of `installation`.
pub(super) fn index_usage(usage: &Usage, kiosk: &str, installation: uuid::Uuid) -> HeldUsage {
    HeldUsage {
        version: usage.version,
        by: usage
            .recipients
            .iter()
            .map(|r| (r.id, r.given.clone()))
            .collect(),
        committed: usage.committed_for(kiosk, installation),
        groups: usage.group_sessions.as_ref().map(|sessions| {
            sessions.iter().fold(HashMap::new(), |mut groups, g| {
                groups
                    .entry((g.group, g.service.clone()))
                    .or_insert_with(HashMap::new)
                    .insert(g.session, g.at);
                groups
            })
        }),
    }
}

/// Indexes a roster, and says in the log which card forms it holds twice.
pub fn index_roster(roster: &Roster) -> RosterIndex {
    let index = RosterIndex::from_roster(roster);
    for c in index.collisions() {
        tracing::warn!(
            holders = c.holders.len(),
            "two cards share a card form: a truncated read of it cannot tell them apart"
        );
    }
    index
}

/// Frees a replaced roster index on a short-lived thread: a large home's index takes a few
/// milliseconds to free, which a tap queued behind the swap would otherwise wait for.
fn drop_elsewhere(old: Arc<RosterIndex>) {
    let spawned = std::thread::Builder::new()
        .name("roster-drop".into())
        .spawn(move || drop(old));
    if let Err(e) = spawned {
        // No thread (out of resources): the closure, and the index with it, was dropped here.
        tracing::warn!("freed the old roster on the worker: {e}");
    }
}

impl Kiosk {
    /// Installs a roster if it is newer than the one held. Returns whether it was taken.
    pub fn put_roster(&mut self, roster: &Roster) -> Result<bool, KioskError> {
        let body = serde_json::to_string(roster).map_err(StoreError::from)?;
        let taken = self.store.put_document("roster", roster.version, &body)?;
        if taken {
            self.use_roster(Arc::new(index_roster(roster)));
        }
        Ok(taken)
    }

    /// Installs a schedule if it is newer than the one held. Returns whether it was taken.
    pub fn put_schedule(&mut self, schedule: &Schedule) -> Result<bool, KioskError> {
        let body = serde_json::to_string(schedule).map_err(StoreError::from)?;
        let taken = self
            .store
            .put_document("schedule", schedule.version, &body)?;
        if taken {
            self.schedule = Some(schedule.clone());
        }
        Ok(taken)
    }

    /// Installs the site's usage if it is newer than the one held. Returns whether it was taken.
    pub fn put_usage(&mut self, usage: &Usage) -> Result<bool, KioskError> {
        let body = serde_json::to_string(usage).map_err(StoreError::from)?;
        let taken = self.store.put_document("usage", usage.version, &body)?;
        if taken {
            self.usage = index_usage(usage, &self.names.1, self.store.installation());
        }
        Ok(taken)
    }

    /// A recipient's attendance as the limits count it: this kiosk's own check-ins from its
    /// store (delivered or not), and the other kiosks' and the journal's units from the last
    /// usage the journal sent. Offline, the kiosk counts with what it last had.
    pub(super) fn history(
        &self,
        recipient: RecipientId,
        now: DateTime<Utc>,
    ) -> Result<Vec<otmetka_core::rules::Attendance>, KioskError> {
        // Its own sessions the journal did not hold when it built the usage (all of them where
        // it does not say), and everything the usage holds, its own units included: a unit
        // staff removed counts no more, and a kiosk whose database was replaced counts what its
        // old one gave.
        let committed = self.usage.committed.as_ref();
        let mut history = self
            .store
            .attendance(recipient, now - Duration::days(400), committed)?;
        if let Some(entries) = self.usage.by.get(&recipient) {
            let skip = committed.is_none().then_some(self.names.1.as_str());
            history.extend(Usage::attendance(entries, skip, &self.site));
        }
        Ok(history)
    }

    /// When each session of `group`'s of `service` that gave units began, as a cap on the
    /// group's sessions counts them: the site's from the last usage the journal sent (this
    /// kiosk's delivered ones included), and this kiosk's own the journal had not committed when
    /// it built that usage (all of them where the journal does not send group sessions), each
    /// session once. So a session whose units staff removed counts no more, as with a
    /// recipient's caps.
    pub(super) fn group_history(
        &self,
        group: GroupId,
        service: &ServiceCode,
        now: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>, KioskError> {
        let site = self.usage.groups.as_ref();
        let mut sessions = site
            .and_then(|g| g.get(&(group, service.clone())))
            .cloned()
            .unwrap_or_default();
        let held = site.and(self.usage.committed.as_ref());
        sessions.extend(self.store.group_sessions(
            group,
            service,
            now - Duration::days(400),
            held,
        )?);
        Ok(sessions.into_values().collect())
    }

    /// The schedule held, if the journal sent one.
    pub fn schedule(&self) -> Option<&Schedule> {
        self.schedule.as_ref()
    }

    /// Puts `index` in place of the roster in use; the old one is freed off this thread.
    pub(super) fn use_roster(&mut self, index: Arc<RosterIndex>) {
        drop_elsewhere(std::mem::replace(&mut self.roster, index));
    }

    /// The roster held.
    pub fn roster(&self) -> &RosterIndex {
        &self.roster
    }
}
