//! The crate's one error enum.

use std::io;

/// Everything that can go wrong in `otmetka-link`.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// A socket operation failed (connect, read, write).
    #[error("network error: {0}")]
    Io(#[from] io::Error),
    /// The broker could not be reached: its host does not resolve, or nothing answers there.
    #[error("cannot connect to the broker at {addr}: {source}")]
    Connect {
        /// The broker's host and port as configured.
        addr: String,
        source: io::Error,
    },
    /// TLS setup or handshake failed (bad CA file, certificate rejected, ...).
    #[error("TLS error: {0}")]
    Tls(String),
    /// A packet could not be encoded or decoded by the `mqttrs` codec.
    #[error("MQTT codec error: {0}")]
    Codec(#[from] mqttrs::Error),
    /// The broker sent something the protocol does not allow at this point.
    #[error("MQTT protocol violation by the broker: {0}")]
    Protocol(String),
    /// The broker refused the connection (CONNACK return code): check the username/password.
    #[error("the broker refused the connection: {0}")]
    ConnectionRefused(String),
    /// No CONNACK arrived in time.
    #[error("no CONNACK from the broker within {0:?}")]
    ConnackTimeout(std::time::Duration),
    /// A PINGREQ went unanswered: the connection is considered dead.
    #[error("the broker did not answer PINGREQ within {0:?}; the connection is dead")]
    KeepAliveTimeout(std::time::Duration),
    /// An incoming packet was larger than the configured maximum.
    #[error("incoming packet of {size} bytes exceeds the limit of {max} bytes")]
    PacketTooLarge {
        /// Remaining length announced by the packet.
        size: usize,
        /// The configured maximum.
        max: usize,
    },
    /// The broker refused a subscription (SUBACK return code 0x80), usually the ACL.
    #[error("the broker refused the subscription to {filter:?}")]
    SubscribeRejected {
        /// The refused topic filter.
        filter: String,
    },
    /// A topic name or filter is not valid MQTT (empty, wildcards in a topic name, too long).
    #[error("invalid topic {0:?}")]
    InvalidTopic(String),
    /// The options are unusable (e.g. an empty client id with a persistent session).
    #[error("invalid options: {0}")]
    Options(String),
    /// The client task has stopped (after `disconnect()` or when every handle was dropped).
    #[error("the MQTT client has stopped")]
    Closed,
    /// The connection went down before the request completed; it will be retried by the client
    /// (QoS 1) or was dropped (QoS 0).
    #[error("the connection to the broker closed: {0}")]
    ConnectionLost(String),
}
