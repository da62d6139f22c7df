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
//! - [`systemd`]: READY=1 and the watchdog pings (`sd_notify`) of the two services that hold a
//!   link, the kiosk and the journal.
//! - `testing` (feature `testing`): for this crate's tests and the system tests: `Broker`, a real
//!   Mosquitto on a free loopback port (stop, kill, restart); `Proxy`, a TCP forwarder that can
//!   cut or silently black-hole connections; `TestPki`, rcgen certificates.
//!
//! # Using it
//! ```no_run
//! # async fn demo() -> Result<(), otmetka_link::LinkError> {
//! use otmetka_link::{Client, ClientOptions, Event, QoS};
//! let mut opts = ClientOptions::new("broker.local", 1883, "s1/kiosk/k1");
//! opts.session.username = Some("s1/kiosk/k1".into());
//! let (client, mut events) = Client::start(opts)?;
//! let token = client.publish("otmetka/v1/s1/kiosk/k1/events", "{}", QoS::AtLeastOnce, false).await?;
//! token.wait().await?; // the broker's PUBACK
//! while let Some(event) = events.recv().await {
//!     if let Event::Message(m) = event { println!("{}", m.topic); }
//! }
//! # Ok(()) }
//! ```

pub mod backoff;
pub mod client;
pub mod error;
pub mod packet;
pub mod session;
pub mod systemd;
pub mod tls;
pub mod topics;

#[cfg(feature = "testing")]
pub mod testing;

pub use client::{
    Client, ClientHandle, ClientOptions, DisconnectReason, Event, EventStream, Message,
    PublishToken, SubscribeToken, Token, Transport, UnsubscribeToken,
};
pub use error::LinkError;
pub use packet::{LastWill, QoS};
pub use session::{AckId, SessionOptions};
pub use tls::TlsOptions;

/// Whether a broker's `host:port` is on this machine (the loopback: traffic to it never leaves
/// it), where plain TCP needs no word from the config; anywhere else a client talks TLS unless
/// its config says otherwise.
pub fn is_local_broker(broker: &str) -> bool {
    let host = broker.rsplit_once(':').map_or(broker, |(h, _)| h);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod local_broker_tests {
    #[test]
    fn only_the_loopback_is_local() {
        for local in [
            "127.0.0.1:1883",
            "localhost:8883",
            "[::1]:1883",
            "127.0.0.2:1",
        ] {
            assert!(super::is_local_broker(local), "{local}");
        }
        for remote in [
            "broker.centre.local:8883",
            "10.0.0.5:1883",
            "[2001:db8::1]:8883",
        ] {
            assert!(!super::is_local_broker(remote), "{remote}");
        }
    }
}
