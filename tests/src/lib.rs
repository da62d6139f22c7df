//! Helpers for Otmetka's system tests, the demo driver and the benchmarks.
//!
//! # Layout
//! (filled as the system tests land.)
