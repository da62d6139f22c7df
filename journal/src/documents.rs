//! The documents the journal publishes to a site's kiosks, retained and versioned: the service
//! catalogue, the roster (who may check in, with their cards' keyed hashes) and the dated
//! schedule. Loaded from the files `journal.toml` names; each body is versioned by the store so
//! that a kiosk takes each change once.

use crate::config::JournalConfig;
use crate::error::Error;
use crate::schedule::ScheduleFile;
use crate::store::{JournalStore, StoreError};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use otmetka_core::cards::SiteSecret;
use otmetka_core::catalogue::Catalogue;
use otmetka_core::people::CardStatus;
use otmetka_core::roster::RosterFile;
use otmetka_core::wire::{CatalogueMessage, Roster, RosterCard, SCHEMA};
use otmetka_link::topics::Id;

/// A site's timetable, as `serve` publishes it.
#[derive(Debug, Clone)]
pub struct SiteSchedule {
    pub site: Id,
    pub file: ScheduleFile,
}

/// A site's roster as the journal holds it: the roster file's, before the cards enrolled at
/// the site's kiosks are added.
#[derive(Debug, Clone)]
pub struct SiteRoster {
    pub site: Id,
    pub roster: Roster,
}

/// Everything the journal publishes, for every site it serves.
#[derive(Debug, Clone)]
pub struct Documents {
    pub catalogue: Catalogue,
    pub sites: Vec<Id>,
    pub rosters: Vec<SiteRoster>,
    pub schedules: Vec<SiteSchedule>,
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
    /// Reads the catalogue, and each site's roster and timetable files, checking each.
    pub fn load(cfg: &JournalConfig) -> Result<Documents, Error> {
        let catalogue = load_catalogue(cfg)?;
        let mut docs = Documents {
            catalogue,
            sites: Vec::new(),
            rosters: Vec::new(),
            schedules: Vec::new(),
        };
        for site in &cfg.sites {
            let id = Id::new(&site.id)
                .ok_or_else(|| Error::Config(format!("bad site id {:?}", site.id)))?;
            docs.sites.push(id.clone());
            let read = |path: &std::path::Path| {
                std::fs::read_to_string(path)
                    .map_err(Error::io(format!("cannot read {}", path.display())))
            };
            if let Some(file) = &site.roster_file {
                let secret = std::fs::read(&site.site_secret_file).map_err(Error::io(format!(
                    "cannot read {}",
                    site.site_secret_file.display()
                )))?;
                let secret = SiteSecret::from_file_bytes(&secret).map_err(|e| {
                    Error::Config(format!("{}: {e}", site.site_secret_file.display()))
                })?;
                let name = file.display().to_string();
                let roster = RosterFile::parse(&name, &read(file)?)
                    .and_then(|f| f.to_roster(&name, &secret))
                    .map_err(|e| Error::Config(e.to_string()))?;
                docs.rosters.push(SiteRoster {
                    site: id.clone(),
                    roster,
                });
            }
            if let Some(file) = &site.schedule_file {
                let name = file.display().to_string();
                let parsed = ScheduleFile::parse(&name, &read(file)?, &docs.catalogue)
                    .map_err(|e| Error::Config(e.to_string()))?;
                if parsed.site != site.id {
                    return Err(Error::Config(format!(
                        "{name} is the timetable of site {:?}, not of {:?}",
                        parsed.site, site.id
                    )));
                }
                docs.schedules.push(SiteSchedule {
                    site: id.clone(),
                    file: parsed,
                });
            }
        }
        Ok(docs)
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

/// The dated schedule of a site from `today` on (yesterday included: the site's local date may
/// still be yesterday in UTC terms), versioned by the store. Returns the message body.
pub fn schedule_body(
    store: &mut dyn JournalStore,
    s: &SiteSchedule,
    now: DateTime<Utc>,
) -> Result<Bytes, StoreError> {
    let from = now.date_naive() - chrono::Duration::days(1);
    let mut schedule = s.file.expand(from);
    let unversioned = serde_json::to_string(&schedule.entries)?;
    schedule.version = store.publish_version(s.site.as_str(), "schedule", &unversioned, now)?;
    Ok(Bytes::from(serde_json::to_vec(&schedule)?))
}

/// The roster of a site as published: the file's, with every card enrolled at the site's kiosks
/// added to its holder, versioned by the store (a new card is a new version, which every kiosk
/// of the site takes). Returns the message body.
pub fn roster_body(
    store: &mut dyn JournalStore,
    s: &SiteRoster,
    now: DateTime<Utc>,
) -> Result<Bytes, StoreError> {
    let mut roster = s.roster.clone();
    for (recipient, hashes) in store.enrolled_cards(s.site.as_str())? {
        let Some(r) = roster.recipients.iter_mut().find(|r| r.id == recipient) else {
            tracing::warn!(%recipient, "a card was enrolled for someone not on the roster file");
            continue;
        };
        for hash in hashes {
            if !r.cards.iter().any(|c| c.hash == hash) {
                r.cards.push(RosterCard {
                    hash,
                    status: CardStatus::Active,
                });
            }
        }
    }
    roster.version = 0;
    let unversioned = serde_json::to_string(&roster)?;
    roster.version = store.publish_version(s.site.as_str(), "roster", &unversioned, now)?;
    Ok(Bytes::from(serde_json::to_vec(&roster)?))
}
