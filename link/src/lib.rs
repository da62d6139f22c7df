//! The MQTT session both sides use, on the `mqttrs` codec.
//!
//! # Layout
//! (issue 6 fills this crate.)
