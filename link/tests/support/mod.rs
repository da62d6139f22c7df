//! Helpers shared by the tests against a real Mosquitto.
#![allow(dead_code, clippy::unwrap_used)]

use std::time::Duration;

use otmetka_link::{
    Client, ClientHandle, ClientOptions, DisconnectReason, Event, EventStream, Message,
};

/// Generous: a loaded 2-core CI machine.
pub const WAIT: Duration = Duration::from_secs(20);

/// Options for a plain-TCP client on the loopback with quick, seeded reconnects.
pub fn options(port: u16, client_id: &str) -> ClientOptions {
    let mut o = ClientOptions::new("127.0.0.1", port, client_id);
    o.backoff_initial = Duration::from_millis(100);
    o.backoff_max = Duration::from_millis(500);
    o.backoff_seed = Some(20261123);
    o
}

pub fn start(o: ClientOptions) -> (ClientHandle, EventStream) {
    Client::start(o).expect("client starts")
}

pub async fn next_event(events: &mut EventStream) -> Event {
    tokio::time::timeout(WAIT, events.recv())
        .await
        .expect("an event within the wait")
        .expect("the client is running")
}

/// Waits for `Connected`, skipping failed attempts; returns `session_present`.
pub async fn connected(events: &mut EventStream) -> bool {
    loop {
        match next_event(events).await {
            Event::Connected { session_present } => return session_present,
            Event::Disconnected {
                reason: DisconnectReason::Stopped,
            } => panic!("client stopped"),
            Event::Disconnected { .. } => {}
            Event::Message(m) => panic!("message before connect: {m:?}"),
        }
    }
}

/// Waits for the next message, skipping connection events.
pub async fn message(events: &mut EventStream) -> Message {
    loop {
        if let Event::Message(m) = next_event(events).await {
            return m;
        }
    }
}

/// Waits for a disconnection that is not a stop; returns its reason.
pub async fn lost(events: &mut EventStream) -> DisconnectReason {
    loop {
        match next_event(events).await {
            Event::Disconnected { reason } => return reason,
            Event::Connected { .. } => {}
            Event::Message(_) => {}
        }
    }
}

/// Messages that arrive within `d` (for "nothing arrives" checks, after a positive marker).
pub async fn drain_for(events: &mut EventStream, d: Duration) -> Vec<Message> {
    let mut got = Vec::new();
    let until = tokio::time::Instant::now() + d;
    while let Ok(Some(ev)) = tokio::time::timeout_at(until, events.recv()).await {
        if let Event::Message(m) = ev {
            got.push(m);
        }
    }
    got
}
