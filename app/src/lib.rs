//! The kiosk: the store with its outbox, the glue from reader to rules to store to screen and feed.
//!
//! # Layout
//! (filled as the store, screens and feed land.)
