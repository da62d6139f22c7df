//! Card enrolment from the journal's side (`otmetka-journal enrol-card`): staff ask a kiosk to
//! read a new card for a recipient. The request is recorded in the journal's database; `serve`
//! sends it to the kiosk (`kiosk/{kiosk}/enrol`), the kiosk shows «Приложите новую карту» with the
//! person's name, and the next card on its reader becomes theirs: the kiosk records
//! `CardEnrolled`, the feed brings it here, and `serve` publishes the site's roster again with
//! the card, so every kiosk of the site knows it.

use crate::config::JournalConfig;
use crate::documents::{Documents, import_files};
use crate::store::people::SitePeople;
use crate::store::{self, Enrolment};
use anyhow::{Context, Result, bail};
use chrono::{DateTime, Duration, Utc};
use otmetka_core::people::RecipientId;
use otmetka_core::wire::{EnrolmentRequest, SCHEMA};
use std::time::Instant;
use uuid::Uuid;

/// The longest a kiosk waits for a card, whatever was asked: a forgotten request must not turn
/// the next person's tap into someone else's card tomorrow.
pub const MAX_MINUTES: u32 = 60;

/// Finds the recipient `who` names among a site's people: their id, or a part of their name
/// that only one person's name contains (case does not matter).
pub fn find_recipient(people: &SitePeople, who: &str) -> Result<(RecipientId, String)> {
    if let Ok(id) = who.parse::<Uuid>() {
        return people
            .current()
            .find(|r| r.id.0 == id)
            .map(|r| (r.id, r.display_name.clone()))
            .with_context(|| format!("no recipient {id} at site {}", people.site));
    }
    let q = who.trim().to_lowercase();
    if q.is_empty() {
        bail!("say whose card it is: a recipient id or a part of the name");
    }
    let found: Vec<_> = people
        .current()
        .filter(|r| {
            r.display_name.to_lowercase().contains(&q) || r.full_name.to_lowercase().contains(&q)
        })
        .collect();
    match found.as_slice() {
        [one] => Ok((one.id, one.display_name.clone())),
        [] => bail!("nobody at site {} is called {who:?}", people.site),
        many => bail!(
            "{} people at the site match {who:?}: {}; give more of the name or the id",
            many.len(),
            many.iter()
                .map(|r| format!("{} ({})", r.display_name, r.id.0))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Records a request for `kiosk` of `site` to read a card for `who` within `minutes`.
pub fn request_card(
    cfg: &JournalConfig,
    site: &str,
    kiosk: &str,
    who: &str,
    minutes: u32,
    now: DateTime<Utc>,
) -> Result<EnrolmentRequest> {
    let (site_id, kiosk_id) = crate::provision::parse_ids(site, kiosk)?;
    if !cfg.sites.iter().any(|s| s.id == site_id.as_str()) {
        bail!("site {site} is not in the journal's config");
    }
    let mut store = store::open(&cfg.database()?)?;
    // The roster file, if it changed since `serve` last took it in.
    let docs = Documents::load(cfg)?;
    import_files(store.as_mut(), &docs, now)?;
    let people = store.people(site_id.as_str())?;
    let (recipient, display_name) = find_recipient(&people, who)?;
    if minutes == 0 || minutes > MAX_MINUTES {
        bail!("--minutes is 1 to {MAX_MINUTES}, not {minutes}");
    }
    let request = EnrolmentRequest {
        schema: SCHEMA,
        request: Uuid::now_v7(),
        recipient,
        display_name,
        expires_at: now + Duration::minutes(i64::from(minutes)),
    };
    store.request_enrolment(site_id.as_str(), kiosk_id.as_str(), &request, now)?;
    Ok(request)
}

/// How a request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The kiosk enrolled a card (its keyed hashes).
    Enrolled(Enrolment),
    /// It expired first (`sent`: whether it had reached the broker for the kiosk).
    Expired { sent: bool },
}

/// Waits until the request is fulfilled or expires, reading the journal's database every
/// `every` (the request's expiry bounds the wait). `now` reads the clock.
pub fn wait(
    cfg: &JournalConfig,
    request: Uuid,
    every: std::time::Duration,
    now: impl Fn() -> DateTime<Utc>,
) -> Result<Outcome> {
    let store = store::open(&cfg.database()?)?;
    let started = Instant::now();
    loop {
        let e = store
            .enrolment(request)?
            .with_context(|| format!("no enrolment request {request}"))?;
        if e.enrolled_at.is_some() {
            return Ok(Outcome::Enrolled(e));
        }
        // A margin past the expiry: the kiosk's last-second card still has to come through
        // the feed.
        let margin = Duration::seconds(30);
        if now() > e.request.expires_at + margin
            || started.elapsed() > std::time::Duration::from_secs(u64::from(MAX_MINUTES) * 60 + 60)
        {
            return Ok(Outcome::Expired {
                sent: e.published_at.is_some(),
            });
        }
        std::thread::sleep(every);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use otmetka_core::roster::RosterFile;

    #[test]
    fn a_recipient_is_found_by_id_or_by_a_part_of_the_name_that_only_they_have() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../config/roster.sample.toml");
        let text = std::fs::read_to_string(path).unwrap();
        let file = RosterFile::parse(path, &text).unwrap();
        let secret = otmetka_core::cards::SiteSecret::from_file_bytes(&[7u8; 32]).unwrap();
        let import = crate::store::people::PeopleImport::from_file(path, &file, &secret).unwrap();
        let roster = SitePeople {
            site: file.site.clone(),
            recipients: import.recipients,
            ..SitePeople::default()
        };
        let first = &roster.recipients[0];
        let (id, name) = find_recipient(&roster, &first.id.0.to_string()).unwrap();
        assert_eq!((id, name.as_str()), (first.id, first.display_name.as_str()));
        let (id, _) = find_recipient(&roster, &first.display_name.to_uppercase()).unwrap();
        assert_eq!(id, first.id);
        let err = find_recipient(&roster, "а").unwrap_err().to_string();
        assert!(err.contains("people at the site match"), "{err}");
        let err = find_recipient(&roster, "Несуществующий")
            .unwrap_err()
            .to_string();
        assert!(err.contains("nobody"), "{err}");
        assert!(find_recipient(&roster, &Uuid::nil().to_string()).is_err());
    }
}
