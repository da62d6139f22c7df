//! Otmetka's domain, pure: no I/O, no clock (time is always passed in), no async.
//!
//! # Layout
//! - [`card`]: canonical card keys and the forms readers report them in.

pub mod card;
