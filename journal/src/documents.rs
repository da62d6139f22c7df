//! The documents the journal publishes to a site's kiosks, retained and versioned: the service
//! catalogue, the roster (who may check in, with their cards' keyed hashes) and the dated
//! schedule. The catalogue is a file; the roster and the schedule are built from the journal's
//! database ([`crate::store::people`]), into which the roster and timetable files that
//! `journal.toml` names are imported when they change ([`import_files`]). Each body is
//! versioned by the store so that a kiosk takes each change once.

use crate::config::JournalConfig;
use crate::error::Error;
use crate::schedule::{DEFAULT_WEEKS_AHEAD, ScheduleFile};
use crate::store::people::{PeopleImport, SitePlan};
use crate::store::staff::Actor;
use crate::store::{JournalStore, StoreError};
use bytes::Bytes;
use chrono::{DateTime, NaiveDate, Utc};
use otmetka_core::cards::SiteSecret;
use otmetka_core::catalogue::{Catalogue, ServiceCode};
use otmetka_core::roster::RosterFile;
use otmetka_core::wire::{CatalogueMessage, SCHEMA};
use otmetka_link::topics::Id;
use sha2::{Digest, Sha256};

/// A file of `journal.toml` to take into the database: its name, its SHA-256, what it holds.
#[derive(Debug, Clone)]
pub struct FileImport<T> {
    pub file: String,
    pub sha256: String,
    pub content: T,
}

/// A site the journal serves: its id, its secret (card numbers typed on the pages and PINs are
/// hashed with it), its files to import, and how far ahead its schedule goes out.
#[derive(Clone)]
pub struct SiteDocuments {
    pub id: Id,
    pub secret: Option<SiteSecret>,
    pub roster: Option<FileImport<PeopleImport>>,
    pub schedule: Option<FileImport<SitePlan>>,
    pub weeks_ahead: u32,
    /// The site's local time, for the rules' windows.
    pub time: otmetka_core::period::SiteTime,
}

impl std::fmt::Debug for SiteDocuments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SiteDocuments")
            .field("id", &self.id)
            .field("secret", &self.secret.as_ref().map(|_| "…"))
            .field("roster", &self.roster.as_ref().map(|r| &r.file))
            .field("schedule", &self.schedule.as_ref().map(|s| &s.file))
            .finish()
    }
}

/// Everything the journal publishes, for every site it serves.
#[derive(Debug, Clone)]
pub struct Documents {
    pub catalogue: Catalogue,
    pub sites: Vec<SiteDocuments>,
}

/// Reads the catalogue a config names.
pub fn load_catalogue(cfg: &JournalConfig) -> Result<Catalogue, Error> {
    let text = std::fs::read_to_string(&cfg.catalogue).map_err(Error::io(format!(
        "cannot read the catalogue {}",
        cfg.catalogue.display()
    )))?;
    Catalogue::from_toml(&cfg.catalogue.display().to_string(), &text)
        .map_err(|e| Error::Config(e.to_string()))
}

impl Documents {
    /// Reads the catalogue, each site's secret, and its roster and timetable files, checking
    /// each (a file that does not parse stops the journal with its place).
    pub fn load(cfg: &JournalConfig) -> Result<Documents, Error> {
        let catalogue = load_catalogue(cfg)?;
        let mut sites = Vec::new();
        for site in &cfg.sites {
            let id = Id::new(&site.id)
                .ok_or_else(|| Error::Config(format!("bad site id {:?}", site.id)))?;
            let read = |path: &std::path::Path| {
                std::fs::read_to_string(path)
                    .map_err(Error::io(format!("cannot read {}", path.display())))
            };
            let secret = match std::fs::read(&site.site_secret_file) {
                Ok(bytes) => Some(SiteSecret::from_file_bytes(&bytes).map_err(|e| {
                    Error::Config(format!("{}: {e}", site.site_secret_file.display()))
                })?),
                Err(e) if site.roster_file.is_none() => {
                    tracing::warn!(
                        site = %site.id,
                        "cannot read {}: cards and PINs cannot be given from the pages: {e}",
                        site.site_secret_file.display()
                    );
                    None
                }
                Err(e) => {
                    return Err(Error::Config(format!(
                        "cannot read {}: {e}",
                        site.site_secret_file.display()
                    )));
                }
            };
            let mut docs = SiteDocuments {
                id: id.clone(),
                secret,
                roster: None,
                schedule: None,
                weeks_ahead: DEFAULT_WEEKS_AHEAD,
                time: site.site_time(),
            };
            if let (Some(file), Some(secret)) = (&site.roster_file, &docs.secret) {
                let name = file.display().to_string();
                let text = read(file)?;
                let parsed =
                    RosterFile::parse(&name, &text).map_err(|e| Error::Config(e.to_string()))?;
                if parsed.site != site.id {
                    return Err(Error::Config(format!(
                        "{name} is the roster of site {:?}, not of {:?}",
                        parsed.site, site.id
                    )));
                }
                // The file's own errors (a bad card number) with its place.
                parsed
                    .to_roster(&name, secret)
                    .map_err(|e| Error::Config(e.to_string()))?;
                let content =
                    PeopleImport::from_file(&name, &parsed, secret).map_err(Error::Config)?;
                docs.roster = Some(FileImport {
                    sha256: sha256(&text),
                    file: name,
                    content,
                });
            }
            if let Some(file) = &site.schedule_file {
                let name = file.display().to_string();
                let text = read(file)?;
                let parsed = ScheduleFile::parse(&name, &text, &catalogue)
                    .map_err(|e| Error::Config(e.to_string()))?;
                if parsed.site != site.id {
                    return Err(Error::Config(format!(
                        "{name} is the timetable of site {:?}, not of {:?}",
                        parsed.site, site.id
                    )));
                }
                docs.weeks_ahead = parsed.weeks_ahead;
                docs.schedule = Some(FileImport {
                    sha256: sha256(&text),
                    file: name,
                    content: SitePlan::from_file(&parsed),
                });
            }
            sites.push(docs);
        }
        Ok(Documents { catalogue, sites })
    }

    /// A site by id.
    pub fn site(&self, id: &str) -> Option<&SiteDocuments> {
        self.sites.iter().find(|s| s.id.as_str() == id)
    }

    /// The catalogue message (the same for every site).
    pub fn catalogue_body(&self) -> Result<Bytes, serde_json::Error> {
        Ok(Bytes::from(serde_json::to_vec(&CatalogueMessage {
            schema: SCHEMA,
            version: 1,
            catalogue: self.catalogue.clone(),
        })?))
    }
}

fn sha256(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// The one who imports the files, in the audit log.
fn importer() -> Actor {
    Actor {
        user: None,
        login: "journal.toml".into(),
        name: "импорт файла".into(),
    }
}

/// Takes each site's roster and timetable file into the database when it differs from the one
/// last taken: the roster's new people, instructors and cards are added (those held stay as
/// the pages left them); the timetable is taken only by a site that never had one (after that
/// it is planned on the pages, and a changed file is only logged). Returns what was done, for
/// the log.
pub fn import_files(
    store: &mut dyn JournalStore,
    docs: &Documents,
    now: DateTime<Utc>,
) -> Result<Vec<String>, StoreError> {
    let mut done = Vec::new();
    for site in &docs.sites {
        let id = site.id.as_str();
        if let Some(r) = &site.roster {
            if store.imported(id, "roster")?.as_deref() != Some(r.sha256.as_str()) {
                let report = store.import_people(&importer(), &r.content, now)?;
                store.record_import(id, "roster", &r.sha256, now)?;
                done.push(format!(
                    "site {id}: took in {} ({} recipients, {} instructors, {} new cards)",
                    r.file, report.recipients, report.instructors, report.cards_added
                ));
            }
        }
        if let Some(p) = &site.schedule {
            if store.imported(id, "schedule")?.as_deref() != Some(p.sha256.as_str()) {
                if store.revision(id, "plan")? == 0 {
                    store.import_plan(&importer(), &p.content, now)?;
                    done.push(format!(
                        "site {id}: took in {} ({} planned sessions, {} days off)",
                        p.file,
                        p.content.sessions.len(),
                        p.content.days_off.len()
                    ));
                } else {
                    done.push(format!(
                        "site {id}: {} changed, but the site's timetable is planned on the pages \
                         now: the file is not taken (plan the change on /timetable)",
                        p.file
                    ));
                }
                store.record_import(id, "schedule", &p.sha256, now)?;
            }
        }
    }
    Ok(done)
}

/// The dated schedule of a site from `today` on (yesterday included: the site's local date may
/// still be yesterday in UTC terms), from its plan in the database, versioned by the store.
/// Returns the message body, or `None` for a site that never had a plan.
pub fn schedule_body(
    store: &mut dyn JournalStore,
    site: &SiteDocuments,
    now: DateTime<Utc>,
) -> Result<Option<Bytes>, StoreError> {
    let plan = store.plan(site.id.as_str())?;
    if plan.revision == 0 {
        return Ok(None);
    }
    let from = now.date_naive() - chrono::Duration::days(1);
    let mut schedule = plan.to_file(site.weeks_ahead).expand(from);
    let unversioned = serde_json::to_string(&schedule.entries)?;
    schedule.version = store.publish_version(site.id.as_str(), "schedule", &unversioned, now)?;
    Ok(Some(Bytes::from(serde_json::to_vec(&schedule)?)))
}

/// The site's usage as published (`wire::Usage`): for each current recipient and each service
/// with a cap or a programme count, the units given at the site since the first day any of
/// those windows looks back to, per date and source. Versioned by the store, like the roster.
pub fn usage_body(
    store: &mut dyn JournalStore,
    catalogue: &Catalogue,
    site: &SiteDocuments,
    now: DateTime<Utc>,
) -> Result<Bytes, StoreError> {
    use otmetka_core::wire::{Usage, UsageEntry, UsageRecipient};
    let id = site.id.as_str();
    let people = store.people(id)?;
    // Where each (recipient, service) pair's count begins; pairs with nothing counted are left
    // out, and so is everyone the roster does not carry.
    let mut from = std::collections::HashMap::new();
    for person in people.current() {
        let recipient = person.as_recipient(site.time.local_date(now));
        for service in &catalogue.services {
            if let Some(d) = otmetka_core::rules::counted_from(service, &recipient, &site.time, now)
            {
                from.insert((person.id, service.code.clone()), d);
            }
        }
    }
    let mut recipients: Vec<UsageRecipient> = Vec::new();
    // Nothing counted: no units, but still how far each kiosk's messages are held.
    let (committed, given) = store.given_counts(id, from.values().min().copied())?;
    {
        for g in given {
            let Some(start) = from.get(&(g.recipient, g.service.clone())) else {
                continue;
            };
            if g.date < *start {
                continue;
            }
            let entry = UsageEntry {
                service: g.service,
                date: g.date,
                kiosk: g.kiosk,
                event: g.event,
                count: g.count,
            };
            match recipients.last_mut() {
                Some(r) if r.id == g.recipient => r.given.push(entry),
                _ => recipients.push(UsageRecipient {
                    id: g.recipient,
                    given: vec![entry],
                }),
            }
        }
    }
    // The caps on a group's sessions (002 l.1251): each such service's sessions from the first
    // day of its widest window.
    let groups_from: Vec<(ServiceCode, NaiveDate)> = catalogue
        .services
        .iter()
        .filter_map(|svc| {
            svc.limits
                .iter()
                .filter(|l| l.per_group)
                .map(|l| site.time.window(l.period, now, None).0)
                .min()
                .map(|d| (svc.code.clone(), d))
        })
        .collect();
    let group_sessions = if groups_from.is_empty() {
        Vec::new()
    } else {
        store.group_sessions(id, &groups_from)?
    };
    // What the kiosks count by: a change of either is a new version (how far the journal
    // committed each kiosk is not, or every status message would make one).
    let unversioned = serde_json::json!({
        "recipients": &recipients,
        "group_sessions": &group_sessions,
    })
    .to_string();
    let version = store.publish_version(id, "usage", &unversioned, now)?;
    Ok(Bytes::from(serde_json::to_vec(&Usage {
        schema: otmetka_core::wire::SCHEMA,
        site: id.to_string(),
        version,
        built_at: now,
        recipients,
        committed: Some(committed),
        group_sessions: Some(group_sessions),
    })?))
}

/// The roster of a site as published, from its people in the database, versioned by the store
/// (a change is a new version, which every kiosk of the site takes). Returns the message body,
/// or `None` for a site that holds nobody yet.
pub fn roster_body(
    store: &mut dyn JournalStore,
    site: &str,
    now: DateTime<Utc>,
) -> Result<Option<Bytes>, StoreError> {
    let people = store.people(site)?;
    if people.revision == 0 {
        return Ok(None);
    }
    // A temporary card's last day, by the UTC date (at most the site's offset late); the
    // feed's hourly refresh publishes the roster again, so an expired card is refused within
    // the hour after the day ends.
    let mut roster = people.roster(now.date_naive());
    let unversioned = serde_json::to_string(&roster)?;
    roster.version = store.publish_version(site, "roster", &unversioned, now)?;
    Ok(Some(Bytes::from(serde_json::to_vec(&roster)?)))
}
