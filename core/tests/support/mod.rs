//! Fixtures shared by core's integration tests: the shipped catalogue, recipients, a site.
#![allow(dead_code)]

use chrono::{DateTime, Utc};
use otmetka_core::catalogue::{Catalogue, Period, Service, ServiceCode};
use otmetka_core::clock::ClockVerdict;
use otmetka_core::people::{
    Consent, InstructorId, Programme, ProgrammeItem, Recipient, RecipientId,
};
use otmetka_core::period::{SiteTime, WeekRule};
use otmetka_core::rules::{Attendance, Policy};
use otmetka_core::session::{CheckInId, RuleInputs, SessionId};
use uuid::Uuid;

/// The shipped catalogue, `config/services.toml`.
pub fn catalogue() -> &'static Catalogue {
    static CATALOGUE: std::sync::OnceLock<Catalogue> = std::sync::OnceLock::new();
    CATALOGUE.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../config/services.toml");
        let text = std::fs::read_to_string(path).expect("config/services.toml");
        Catalogue::from_toml("config/services.toml", &text).expect("the shipped catalogue parses")
    })
}

pub fn service(code: &str) -> Service {
    catalogue()
        .get(&ServiceCode::from(code))
        .cloned()
        .unwrap_or_else(|| panic!("service {code}"))
}

/// Nizhny Tagil (001's city): UTC+5, calendar weeks.
pub fn site() -> SiteTime {
    SiteTime::new(5 * 60, WeekRule::Calendar).unwrap()
}

pub fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

pub fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

pub fn sid(n: u128) -> SessionId {
    SessionId(id(0x5e55_0000 + n))
}

pub fn cid(n: u128) -> CheckInId {
    CheckInId(id(0xc1ec_0000 + n))
}

pub fn instructor() -> InstructorId {
    InstructorId(id(0x1157))
}

/// A recipient with consent and a programme in force listing every service "as needed".
pub fn recipient(n: u128) -> Recipient {
    let items = catalogue()
        .services
        .iter()
        .map(|s| ProgrammeItem {
            courses: Vec::new(),
            service: s.code.clone(),
            count: None,
            period: Period::Month,
        })
        .collect();
    Recipient {
        adult_on: None,
        care_group: None,
        id: RecipientId(id(0xaa00_0000 + n)),
        display_name: format!("Получатель {n}"),
        consent: Consent {
            participation: true,
            photo_video: false,
        },
        programme: Some(Programme {
            valid_from: "2026-01-01".parse().unwrap(),
            valid_to: "2026-12-31".parse().unwrap(),
            items,
            course_start: None,
        }),
        groups: Vec::new(),
    }
}

pub fn attended(session: u128, service: &str, at: &str) -> Attendance {
    Attendance {
        session: Some(sid(session)),
        service: ServiceCode::from(service),
        at: t(at),
        event: false,
    }
}

pub fn inputs<'a>(
    service: &'a Service,
    history: &'a [Attendance],
    site: &'a SiteTime,
    policy: &'a Policy,
) -> RuleInputs<'a> {
    RuleInputs {
        service,
        history,
        site,
        policy,
        clock: ClockVerdict::Trusted,
    }
}
