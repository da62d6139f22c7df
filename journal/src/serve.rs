//! `otmetka-journal serve`: one process runs the feed ([`crate::feed`]) and the web server
//! ([`crate::web`]) with one shutdown. Each has its own connection to the store. When either
//! ends with an error the other is stopped too and the error is returned: the process exits and
//! systemd starts it again, rather than living on half alive.

use crate::clock::SharedClock;
use crate::config::JournalConfig;
use crate::documents::Documents;
use crate::error::Error;
use crate::feed::{self, Feed, FeedHealth};
use crate::shutdown;
use crate::store::{self, Shared};
use crate::web::{self, AppState};
use std::future::Future;
use std::sync::Arc;

/// Runs the journal: the feed against the configured broker and the web pages on `listener`,
/// until `stop` completes (Ctrl-C, SIGTERM) or a part fails.
pub async fn run(
    cfg: &JournalConfig,
    documents: Documents,
    listener: tokio::net::TcpListener,
    clock: SharedClock,
    stop: impl Future<Output = ()>,
) -> Result<(), Error> {
    let database = cfg.database()?;
    // Held until the journal stops: `otmetka-journal restore` waits for no one.
    let _held = store::hold_for_serve(&database)?;
    {
        // The roster and timetable files, where they changed since they were last taken in.
        let mut store = store::open(&database)?;
        for line in crate::documents::import_files(store.as_mut(), &documents, clock.now())? {
            tracing::info!("{line}");
        }
    }
    let health = FeedHealth::default();
    let documents = Arc::new(documents);
    let feed = Feed {
        options: feed::client_options(cfg)?,
        documents: Arc::clone(&documents),
        store: Shared::new(store::open(&database)?),
        clock: Arc::clone(&clock),
        health: health.clone(),
        ingest: cfg.ingest.clone(),
    };
    let tls = match (&cfg.web.cert_file, &cfg.web.key_file) {
        (Some(cert), Some(key)) => Some(web::tls_config(cert, key)?),
        _ => None,
    };
    let mut state = AppState::new(
        cfg,
        documents,
        Shared::new(store::open(&database)?),
        health,
        clock,
    );
    state.secure_cookies = tls.is_some();
    let (trigger, shutdown) = shutdown::channel();
    let mut feed_task = tokio::spawn(feed::run(feed, shutdown.clone()));
    let mut web_task = tokio::spawn(web::serve(
        listener,
        web::router(state),
        shutdown.clone(),
        tls,
    ));
    otmetka_link::systemd::ready(&format!(
        "journal of {} site(s), pages on {}",
        cfg.sites.len(),
        cfg.web.listen
    ));
    let mut stop = std::pin::pin!(stop);
    let mut feed_done = None;
    let mut web_done = None;
    tokio::select! {
        () = &mut stop => tracing::info!("journal stopping: asked to"),
        r = &mut feed_task => feed_done = Some(r),
        r = &mut web_task => web_done = Some(r),
    }
    otmetka_link::systemd::stopping();
    trigger.fire();
    let feed_result = match feed_done {
        Some(r) => r,
        None => feed_task.await,
    };
    let web_result = match web_done {
        Some(r) => r,
        None => web_task.await,
    };
    let feed_result = feed_result.map_err(|e| Error::TaskDied(format!("the feed: {e}")))?;
    let web_result = web_result.map_err(|e| Error::TaskDied(format!("the web server: {e}")))?;
    feed_result?;
    web_result.map_err(Error::io("the web server failed"))?;
    tracing::info!("journal stopped");
    Ok(())
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM (systemd's stop).
pub async fn signalled() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
}
