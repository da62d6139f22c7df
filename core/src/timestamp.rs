//! The text form of an instant in the stores' SQLite tables (kiosk and journal): RFC 3339 in UTC
//! with microseconds, so that text order is time order.

use chrono::{DateTime, SecondsFormat, Utc};

/// An instant as stored.
pub fn to_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// An instant read back; `None` for text that is not RFC 3339.
pub fn from_text(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_sorts_as_text() {
        let a: DateTime<Utc> = "2026-11-23T06:00:00.5Z".parse().unwrap();
        let b: DateTime<Utc> = "2026-11-23T06:00:01Z".parse().unwrap();
        assert_eq!(from_text(&to_text(a)), Some(a));
        assert!(to_text(a) < to_text(b));
        assert_eq!(from_text("yesterday"), None);
    }
}
