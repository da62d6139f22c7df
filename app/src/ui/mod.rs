//! The kiosk's screens.
//!
//! - [`view`]: plain data — [`ScreenView`] (what to show), [`UiEvent`] (what a person did),
//!   [`tap_view`] (decision → text, tone, icon, sound). No Slint types; unit-tested.
//! - [`slint_adapter`]: [`Ui`], the only code touching Slint — headless or windowed, `show`,
//!   snapshots, events, and [`UiRemote`] for other threads.
//!
//! The screens themselves are `app/ui/screens/*.slint` (one per screen), with shared
//! `app/ui/components/`, the palette in `app/ui/theme.slint` and the one boundary with Rust,
//! the `KioskApi` global in `app/ui/api.slint`.

pub mod slint_adapter;
pub mod view;

pub use slint_adapter::{Rgba, Ui, UiError, UiRemote};
pub use view::*;
