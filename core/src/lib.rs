//! Otmetka's domain, pure: no I/O, no clock (time is always passed in), no async.
//!
//! # Layout
//! - [`card`]: canonical card keys and the forms readers report them in.
//! - [`catalogue`]: the services of the standards with their limits and sources.
//! - [`people`]: recipients, instructors, groups, individual programmes, consent.
//! - [`decision`]: the decision for a tap, its kind and tone.

pub mod card;
pub mod catalogue;
pub mod decision;
pub mod people;
