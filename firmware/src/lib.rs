//! Kiosk hardware: card readers, buzzer and lights, presence sensor, real-time clock.
//!
//! # Layout
//! (issue 4 fills this crate.)
