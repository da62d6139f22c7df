//! The MQTT session both sides use, on the `mqttrs` codec.
//!
//! # Layout
//! - [`topics`]: the feed's topic names (`otmetka/v1/{site}/...`): builders, parser, the kiosk's
//!   MQTT username and its ACL block.
//! - [`packet`]: owned MQTT 3.1.1 packets, framing, and the bridge to `mqttrs` encode/decode.
//! - [`session`]: the protocol as a sans-I/O state machine (packet ids, in-flight QoS 1, PUBACK
//!   order, keep-alive, CONNACK/PINGRESP deadlines), `now` passed in.
//! - [`backoff`]: reconnect delays, exponential with jitter from an injected seed.
//! - [`tls`]: rustls client configuration, with certificate validity checked against the
//!   caller's "last time known good" when the kiosk's clock cannot be trusted.
//! - [`client`]: the thin tokio task (socket, framing, timers, reconnect) and the public
//!   [`ClientHandle`] / [`EventStream`] API.
//! - [`error`]: [`LinkError`], the crate's one error enum.
//! - `testing` (feature `testing`): a real Mosquitto on a free loopback port for tests.

pub mod backoff;
pub mod client;
pub mod error;
pub mod packet;
pub mod session;
pub mod tls;
pub mod topics;

#[cfg(feature = "testing")]
pub mod testing;

pub use client::{
    Client, ClientHandle, ClientOptions, DisconnectReason, Event, EventStream, Message,
    PublishToken, SubscribeToken, Transport,
};
pub use error::LinkError;
pub use packet::{LastWill, QoS};
pub use session::AckId;
pub use tls::TlsOptions;
