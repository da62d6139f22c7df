//! The journal server.
//!
//! # Layout
//! (filled as ingest, store and pages land.)
