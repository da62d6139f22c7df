//! Otmetka's domain, pure: no I/O, no clock (time is always passed in), no async.
//!
//! # Layout
//! - [`card`]: canonical card keys and the forms readers report them in.
//! - [`cards`]: keyed card hashes (HMAC with the site secret) and the collision-reporting index.
//! - [`roster`]: the roster indexed by card hash; roster files with raw numbers (bootstrap).
//! - [`catalogue`]: the services of the standards with their limits and sources.
//! - [`people`]: recipients, instructors, groups, individual programmes, consent.
//! - [`decision`]: the decision for a tap, its kind and tone.
//! - [`period`]: counting windows (day … year, course of N days) in the site's local time.
//! - [`rules`]: the rules a recipient joining a session must pass, and the site's policy.
//! - [`clock`]: whether the kiosk's clock can be trusted.
//! - [`session`]: the session state machine (commands return events; `apply` folds them).
//! - [`event`]: the facts a kiosk records.
//! - [`timestamp`]: the text form of an instant in the stores' tables.
//! - [`unit`]: units of service and their name-based ids.
//! - [`wire`]: the messages of the feed, with their schema version.

pub mod card;
pub mod cards;
pub mod catalogue;
pub mod clock;
pub mod decision;
pub mod event;
pub mod people;
pub mod period;
pub mod pin;
pub mod roster;
pub mod rules;
pub mod session;
pub mod timestamp;
pub mod unit;
pub mod wire;
