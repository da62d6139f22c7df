//! `GET /healthz`: whether the journal can do its work — its database answers and its feed is
//! connected to the broker — as JSON, `200` when it can and `503` when it cannot (so a watchdog
//! or a load balancer acts on the status code alone). It names no person and needs no sign-in.

use super::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;

/// The answer.
#[derive(Debug, Serialize)]
pub struct Health {
    /// `ok`, or `degraded` with the reasons below.
    pub status: &'static str,
    pub database: String,
    pub broker: &'static str,
    pub broker_since: Option<String>,
    pub committed_messages: u64,
    pub last_commit: Option<String>,
    pub now: String,
}

pub async fn page(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let feed = state.feed.get();
    // The store answers here, and the feed can commit.
    let database = match (state.store.call(|s| s.check()).await, &feed.store_error) {
        (Err(e), _) => {
            tracing::error!("health: {e}");
            Err(e.to_string())
        }
        (Ok(()), Some(e)) => Err(format!("the feed cannot commit: {e}")),
        (Ok(()), None) => Ok(()),
    };
    let ok = database.is_ok() && feed.connected;
    let ts = |t: Option<chrono::DateTime<chrono::Utc>>| t.map(otmetka_core::timestamp::to_text);
    let health = Health {
        status: if ok { "ok" } else { "degraded" },
        database: database.err().unwrap_or_else(|| "ok".into()),
        broker: if feed.connected {
            "connected"
        } else {
            "disconnected"
        },
        broker_since: ts(feed.since),
        committed_messages: feed.committed,
        last_commit: ts(feed.last_commit),
        now: otmetka_core::timestamp::to_text(state.clock.now()),
    };
    let code = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(health))
}
