//! The journal's web server: axum, server-rendered pages (maud), no JavaScript needed, one file
//! per page. It shares the process and the shutdown with the feed and has its own connection to
//! the store.
//!
//! # Layout
//! - this file: the state every page gets, the names pages show, the router, [`serve`].
//! - [`access`]: who may use each route, one table (a route it does not name admits nobody).
//! - [`routes`]: every route with its handler, each behind its rule; the router is built from
//!   that list only (and the access test walks it).
//! - [`auth`]: passwords (argon2id), browser sessions, the sign-in limiter, the guard that
//!   checks the session, the role and the form token of every request.
//! - [`layout`]: the page shell, the style sheet, the shared bits of pages.
//! - one file per page: [`signin`], [`journal`] (the month, a session, corrections, sign-off),
//!   [`taps`] (unidentified cards matched to people), [`acts`] (the monthly act), [`quality`] (satisfaction), [`timetable`] (the week, printable, and its planning), [`people`] (recipients, their
//!   programmes and cards), [`instructors`], [`fleet`], [`users`], [`audit`], [`health`],
//!   [`exports`] (a period's units as CSV or XLSX, made in the background, downloaded by whoever
//!   asked), [`pdf`] (the act and a group's month as PDF downloads).

pub mod access;
pub mod account;
pub mod acts;
pub mod api;
pub mod api_clients;
pub mod audit;
pub mod auth;
pub mod egisso;
pub mod exports;
pub mod fleet;
pub mod health;
pub mod instructors;
pub mod journal;
pub mod layout;
pub mod pdf;
pub mod people;
pub mod quality;
pub mod routes;
pub mod signin;
pub mod taps;
pub mod timetable;
pub mod users;
pub mod violations;
pub mod visits;

use crate::clock::SharedClock;
use crate::documents::Documents;
use crate::feed::FeedHealth;
use crate::shutdown::Shutdown;
use crate::store::Shared;
use crate::store::people::SitePeople;
use axum::Router;
use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use otmetka_core::people::RecipientId;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A site as the pages show it: its id and its clock.
#[derive(Debug, Clone)]
pub struct SiteView {
    pub id: String,
    pub offset: FixedOffset,
}

/// What every page handler gets.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Shared,
    pub feed: FeedHealth,
    pub clock: SharedClock,
    pub docs: Arc<Documents>,
    pub sites: Arc<Vec<SiteView>>,
    /// Whether the session cookie is marked `Secure` (the pages are served over TLS).
    pub secure_cookies: bool,
    /// The journal's configuration (the fleet's thresholds, provisioning for revoking a kiosk).
    pub config: Arc<crate::config::JournalConfig>,
    /// The exports asked for on the pages (`/exports`), with their files' directory.
    pub exports: Arc<crate::export::jobs::Jobs>,
    /// The PDF typesetter (fonts loaded at the first PDF asked for).
    pub typesetter: pdf::SharedTypesetter,
    /// Each site's people as last read, with the revision they were read at.
    people: Arc<Mutex<HashMap<String, Arc<SitePeople>>>>,
}

impl AppState {
    /// The pages' state for a config: its sites and their clocks, the documents (names), the
    /// store, the feed's health, the clock.
    pub fn new(
        cfg: &crate::config::JournalConfig,
        docs: Arc<Documents>,
        store: Shared,
        feed: FeedHealth,
        clock: SharedClock,
    ) -> AppState {
        AppState {
            store,
            feed,
            clock,
            docs,
            sites: Arc::new(sites(cfg)),
            secure_cookies: false,
            config: Arc::new(cfg.clone()),
            exports: Arc::new(crate::export::jobs::Jobs::new(cfg.export_dir())),
            typesetter: Arc::default(),
            people: Arc::default(),
        }
    }

    /// The site a page is about: the one asked for, or the first.
    pub fn site(&self, asked: Option<&str>) -> Option<&SiteView> {
        match asked {
            Some(id) => self.sites.iter().find(|s| s.id == id),
            None => self.sites.first(),
        }
    }

    /// The site a page is about (see [`AppState::site`]), or the page that says there is none.
    pub fn site_or_404(&self, asked: Option<&str>) -> Result<SiteView, layout::PageError> {
        self.site(asked)
            .cloned()
            .ok_or_else(|| layout::PageError::not_found("Такого отделения нет."))
    }

    /// A site's people, as the database holds them now: read again only when the site's
    /// revision moved since the last read (a change on a page, an enrolment at a kiosk, another
    /// journal process), so a page pays one small query for its names.
    pub async fn people(&self, site: &str) -> Result<Arc<SitePeople>, layout::PageError> {
        let held = self
            .people
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(site)
            .cloned();
        let (id, seen) = (site.to_string(), held.as_ref().map(|p| p.revision));
        let fresh = self
            .store
            .call(move |s| {
                let revision = s.revision(&id, "people")?;
                if Some(revision) == seen {
                    return Ok(None);
                }
                s.people(&id).map(Some)
            })
            .await?;
        match (fresh, held) {
            (Some(fresh), _) => {
                let fresh = Arc::new(fresh);
                self.people
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(site.to_string(), Arc::clone(&fresh));
                Ok(fresh)
            }
            (None, Some(held)) => Ok(held),
            (None, None) => Ok(Arc::new(SitePeople::default())),
        }
    }

    /// The site of a recipient the journal holds, with their people (for pages that are about
    /// one person whatever the site).
    pub async fn person(
        &self,
        id: RecipientId,
    ) -> Result<Option<(SiteView, Arc<SitePeople>)>, layout::PageError> {
        for site in self.sites.iter() {
            let people = self.people(&site.id).await?;
            if people.recipient(id).is_some() {
                return Ok(Some((site.clone(), people)));
            }
        }
        Ok(None)
    }

    /// A service's Russian title.
    pub fn service_title(&self, code: &str) -> String {
        self.docs
            .catalogue
            .get(&otmetka_core::catalogue::ServiceCode(code.to_string()))
            .map_or_else(|| code.to_string(), |s| s.title_ru.clone())
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}

impl SiteView {
    /// The site's local date of `t`.
    pub fn date(&self, t: DateTime<Utc>) -> NaiveDate {
        t.with_timezone(&self.offset).date_naive()
    }

    /// The site's local time of `t`, as "14:05".
    pub fn hm(&self, t: DateTime<Utc>) -> String {
        t.with_timezone(&self.offset).format("%H:%M").to_string()
    }

    /// The instant the site's local day `d` begins.
    pub fn start_of(&self, d: NaiveDate) -> DateTime<Utc> {
        d.and_hms_opt(0, 0, 0)
            .and_then(|t| t.and_local_timezone(self.offset).single())
            .map_or_else(
                || d.and_time(chrono::NaiveTime::MIN).and_utc(),
                |t| t.to_utc(),
            )
    }
}

/// The sites a config serves, each with its clock (UTC where it names none).
pub fn sites(cfg: &crate::config::JournalConfig) -> Vec<SiteView> {
    cfg.sites
        .iter()
        .map(|s| SiteView {
            id: s.id.clone(),
            offset: s
                .time_zone
                .as_deref()
                .and_then(otmetka_core::period::zone_offset_minutes)
                .and_then(|m| FixedOffset::east_opt(m * 60))
                .unwrap_or_else(|| chrono::Offset::fix(&Utc)),
        })
        .collect()
}

/// Every route of the journal's web server, each behind its access rule.
pub fn router(state: AppState) -> Router {
    routes::build(state)
}

/// The pages' TLS settings from a certificate chain and key (PEM files), with the ring provider
/// the feed uses too.
pub fn tls_config(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<Arc<rustls::ServerConfig>, crate::Error> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |what: &std::path::Path, e: &dyn std::fmt::Display| {
        crate::Error::Config(format!("[web] {}: {e}", what.display()))
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| bad(cert, &e))?
        .collect::<Result<_, _>>()
        .map_err(|e| bad(cert, &e))?;
    if chain.is_empty() {
        return Err(bad(cert, &"no certificate in the file"));
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| bad(key, &e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(cert, &e))?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(|e| bad(key, &e))?;
    Ok(Arc::new(config))
}

/// How long requests in flight get to finish at shutdown.
const DRAIN: std::time::Duration = std::time::Duration::from_secs(10);

/// Serves `router` on `listener` (over TLS when `tls` is given) until `shutdown` fires;
/// requests in flight are answered.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    mut shutdown: Shutdown,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> std::io::Result<()> {
    let app = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
    let Some(tls) = tls else {
        return axum::serve(listener, app)
            .with_graceful_shutdown(async move { shutdown.fired().await })
            .await;
    };
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        shutdown.fired().await;
        stopper.graceful_shutdown(Some(DRAIN));
    });
    axum_server::from_tcp_rustls(
        listener.into_std()?,
        axum_server::tls_rustls::RustlsConfig::from_config(tls),
    )
    .handle(handle)
    .serve(app)
    .await
}
