//! Exports of the journal's units for other systems (1C, spreadsheets, the regional system).
//!
//! # Layout
//! - [`csv`]: the units of a period as semicolon-separated text (Excel's default in a Russian
//!   locale), one row per unit.

pub mod csv;

use std::str::FromStr;

/// An export format (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Format, String> {
        match s {
            "csv" => Ok(Format::Csv),
            other => Err(format!("--format {other}: this build exports csv")),
        }
    }
}
