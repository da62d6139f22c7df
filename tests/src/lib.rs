//! Helpers for Otmetka's system tests, the demo driver and the benchmarks.
//!
//! # Layout
//! - [`site`]: starts the real binaries (kiosk, later journal and broker) in a run directory and
//!   talks to them.
//! - [`screens`]: screenshots of the real kiosk compared with the pictures in `docs/screens/`.

pub mod screens;
pub mod site;
