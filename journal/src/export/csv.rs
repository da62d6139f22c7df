//! The units of a period as CSV: `;`-separated, a header row, one row per unit; a service title
//! with a `;` in it has it replaced by `,` (no quoting needed by the readers we target).

use crate::store::JournalUnit;
use otmetka_core::catalogue::Catalogue;

/// The header row.
pub const HEADER: &str = "date;service;title;unit_kind;recipient;participants;started_at;ended_at;\
over_limit;below_group_min;site;kiosk;unit_id";

/// The CSV text of `units`.
pub fn units(units: &[JournalUnit], catalogue: &Catalogue) -> String {
    let mut csv = format!("{HEADER}\n");
    for ju in units {
        let u = &ju.unit;
        let title = catalogue
            .get(&u.service)
            .map(|s| s.title_ru.replace(';', ","))
            .unwrap_or_default();
        csv.push_str(&format!(
            "{};{};{};{:?};{};{};{};{};{};{};{};{};{}\n",
            u.date,
            u.service,
            title,
            u.kind,
            u.recipient.map(|r| r.to_string()).unwrap_or_default(),
            u.participants.len(),
            u.started_at.to_rfc3339(),
            u.ended_at.to_rfc3339(),
            u.over_limit(),
            u.below_group_min,
            ju.site,
            ju.kiosk,
            u.id.0
        ));
    }
    csv
}
