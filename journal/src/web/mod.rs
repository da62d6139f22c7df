//! The journal's web server: axum, server-rendered pages, one file per page. It shares the
//! process and the shutdown with the feed and has its own connection to the store.
//!
//! # Layout
//! - this file: the state every page gets, the router, [`serve`].
//! - [`health`]: `/healthz`, the liveness and readiness answer for systemd and monitoring.

pub mod health;

use crate::clock::SharedClock;
use crate::feed::FeedHealth;
use crate::shutdown::Shutdown;
use crate::store::Shared;
use axum::Router;
use axum::routing::get;

/// What every page handler gets.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Shared,
    pub feed: FeedHealth,
    pub clock: SharedClock,
}

/// Every route of the journal's web server.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(health::page))
        .with_state(state)
}

/// Serves `router` on `listener` until `shutdown` fires; requests in flight are answered.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    mut shutdown: Shutdown,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(async move { shutdown.fired().await })
        .await
}
