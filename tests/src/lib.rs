//! Helpers for Otmetka's system tests, the demo driver and the benchmarks.
//!
//! # Layout
//! - [`site`]: starts the real binaries (kiosk, later journal and broker) in a run directory and
//!   talks to them.

pub mod site;
