//! Helpers for Otmetka's system tests, the demo driver and the benchmarks.
//!
//! # Layout
//! - [`site`]: starts the real binaries (kiosk, later journal and broker) in a run directory and
//!   talks to them.
//! - [`institution`]: a generated institution (roster, programmes, a period of sessions and
//!   units in a real journal database) for the journal's page tests and benches.
//! - [`screens`]: screenshots of the real kiosk compared with the pictures in `docs/screens/`.

pub mod institution;
pub mod screens;
pub mod site;
