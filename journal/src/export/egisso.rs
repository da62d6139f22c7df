//! The export for the regional information system, ЕГИССО: a month's services of a site as a
//! package of facts of assignment (`package-RAF` 1.0.3, `journal/schemas/egisso/`). This module is
//! the whole mapping: a newer schema is a change here.
//!
//! # The mapping
//! One fact per recipient and service that has units in the month, with the count the monthly act
//! shows (a per-group unit counts for each participant, as on the act):
//!
//! | ЕГИССО (`af:` assignment-fact 1.0.3)      | from the journal                                     |
//! |-------------------------------------------|------------------------------------------------------|
//! | `ID`                                      | UUID v5 of site, recipient, service and month: the same fact again when a month is sent again |
//! | `OSZCode`                                 | the site's `osz_code`, else `[egisso] osz_code`      |
//! | `MSZ_receiver` `SNILS`, `Gender`, `BirthDate` | the recipient's СНИЛС, sex and birth date        |
//! | `MSZ_receiver` `FamilyName`, `FirstName`, `Patronymic` | the full name (ФИО): first word, second word, the rest |
//! | `LMSZID`, `categoryID`                    | `[egisso.services."CODE"]` `lmsz`, `category`         |
//! | `decision_date`                           | the first day of the individual programme (ИППСУ) in force at the fact's end |
//! | `dateStart`, `dateFinish`                 | the days of the month the programmes with the service were in force (cut at the recipient's last day) |
//! | `needsCriteria` `usingSign`               | `false`: the journal does not assess need            |
//! | `assignment_info` `serviceForm` `amount`  | the month's units of the service                     |
//! | `serviceForm` `OKEICode`                  | the service's `okei` (876, условная единица, by default) |
//! | `serviceForm` `content`                   | the service's title in the catalogue (to 200 characters) |
//! | `serviceForm` `equivalentAmount`          | units × the service's `tariff`, in roubles           |
//! | `lastChanging` (package-RAF)              | when the export was made, in the site's time         |
//!
//! What cannot be sent is not guessed: a recipient without a СНИЛС, sex, birth date or a full name
//! in Russian letters, someone anonymised, a service not in the programme in force, a service
//! without an `[egisso.services]` entry. Each is listed in [`Package`] with its units, for the page
//! and the command to show, and nothing of it is written.

use crate::config::{EgissoService, JournalConfig};
use crate::store::people::{Person, Sex, Snils};
use crate::store::{JournalStore, StoreError};
use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use otmetka_core::catalogue::Catalogue;
use otmetka_core::people::RecipientId;
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};
use std::collections::BTreeMap;
use std::io::Write;
use uuid::Uuid;

/// The namespaces the package is written in.
pub const NS_PACKAGE: &str = "urn://egisso-ru/types/package-RAF/1.0.3";
pub const NS_FACT: &str = "urn://egisso-ru/types/assignment-fact/1.0.3";
pub const NS_PERSON: &str = "urn://egisso-ru/types/prsn-info/1.0.3";
pub const NS_SMEV: &str = "urn://x-artefacts-smev-gov-ru/supplementary/commons/1.0.1";

/// The namespace of the facts' ids (UUID v5): fixed, so that a fact keeps its id.
const FACT_IDS: Uuid = Uuid::from_u128(0x6f74_6d65_746b_4567_8973_736f_5f66_6163);

/// One fact of assignment: a recipient's month of one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fact {
    pub id: Uuid,
    pub recipient: RecipientId,
    pub service: String,
    pub snils: Snils,
    pub family_name: String,
    pub first_name: String,
    pub patronymic: Option<String>,
    pub sex: Sex,
    pub birth_date: NaiveDate,
    pub lmsz: Uuid,
    pub category: Uuid,
    pub decision_date: NaiveDate,
    pub start: NaiveDate,
    pub finish: NaiveDate,
    /// The month's units of the service.
    pub count: u32,
    pub okei: String,
    pub content: String,
    /// `count` × the tariff, in kopecks.
    pub equivalent_kopecks: u64,
}

/// What a recipient's record lacks for the export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Lack {
    Snils,
    Sex,
    BirthDate,
    /// The full name is not a family name and a first name in Russian letters.
    Name,
    Anonymised,
    /// Units under an id the journal holds no person for.
    NotOnFile,
}

impl Lack {
    /// As the page says it.
    pub fn words(self) -> &'static str {
        match self {
            Lack::Snils => "нет СНИЛС",
            Lack::Sex => "не указан пол",
            Lack::BirthDate => "нет даты рождения",
            Lack::Name => "ФИО не из фамилии и имени русскими буквами",
            Lack::Anonymised => "данные обезличены",
            Lack::NotOnFile => "нет в списке получателей",
        }
    }
}

/// A recipient whose facts are held back, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub recipient: RecipientId,
    pub name: String,
    pub lacks: Vec<Lack>,
    pub units: u32,
}

/// A recipient's service that no programme in force in the month has: no assignment to report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unplanned {
    pub recipient: RecipientId,
    pub name: String,
    pub service: String,
    pub units: u32,
}

/// A service given in the month that `[egisso.services]` has no measure for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmapped {
    pub service: String,
    pub units: u32,
}

/// A month's package for one site: the facts, and what was left out.
#[derive(Debug, Clone)]
pub struct Package {
    pub id: Uuid,
    pub site: String,
    pub month: NaiveDate,
    pub made_at: DateTime<FixedOffset>,
    pub osz_code: String,
    pub facts: Vec<Fact>,
    pub held: Vec<Held>,
    pub unplanned: Vec<Unplanned>,
    pub unmapped: Vec<Unmapped>,
}

/// Why no package could be made.
#[derive(Debug, thiserror::Error)]
pub enum EgissoError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("site {0:?} is not in the journal's config")]
    UnknownSite(String),
    #[error(
        "site {0:?} has no ЕГИССО participant code: set osz_code under [egisso] or on the site"
    )]
    NoOszCode(String),
}

impl Package {
    /// The units the facts report.
    pub fn units(&self) -> u64 {
        self.facts.iter().map(|f| u64::from(f.count)).sum()
    }

    /// The recipients the facts are about.
    pub fn recipients(&self) -> usize {
        let mut ids: Vec<RecipientId> = self.facts.iter().map(|f| f.recipient).collect();
        ids.sort();
        ids.dedup();
        ids.len()
    }

    /// The units left out, for whatever reason.
    pub fn units_left_out(&self) -> u64 {
        let held: u64 = self.held.iter().map(|h| u64::from(h.units)).sum();
        let unplanned: u64 = self.unplanned.iter().map(|u| u64::from(u.units)).sum();
        let unmapped: u64 = self.unmapped.iter().map(|u| u64::from(u.units)).sum();
        held + unplanned + unmapped
    }

    /// What the audit log records of an export to `to`.
    pub fn audit_words(&self, to: &str) -> String {
        format!(
            "ЕГИССО {}, package {}, {} facts, {} units, {} units left out, to {to}",
            self.month.format("%Y-%m"),
            self.id,
            self.facts.len(),
            self.units(),
            self.units_left_out()
        )
    }

    /// What the command prints: the facts written, and each thing left out with its reason.
    pub fn report(&self) -> String {
        let mut out = format!(
            "{}: {} facts for {} recipients, {} units, site {}, {}",
            self.file_name(),
            self.facts.len(),
            self.recipients(),
            self.units(),
            self.site,
            self.month.format("%Y-%m")
        );
        for h in &self.held {
            let why: Vec<&str> = h.lacks.iter().map(|l| l.words()).collect();
            out += &format!(
                "\nleft out: {} ({}), {} units: {}",
                h.name,
                h.recipient,
                h.units,
                why.join(", ")
            );
        }
        for u in &self.unplanned {
            out += &format!(
                "\nleft out: {} ({}), service {}, {} units: on days no programme in force has it (or after they left)",
                u.name, u.recipient, u.service, u.units
            );
        }
        for u in &self.unmapped {
            out += &format!(
                "\nleft out: service {}, {} units: no [egisso.services.\"{}\"] in the config",
                u.service, u.units, u.service
            );
        }
        out
    }

    /// The file's name: `egisso-SITE-2026-11.xml`.
    pub fn file_name(&self) -> String {
        format!("egisso-{}-{}.xml", self.site, self.month.format("%Y-%m"))
    }

    /// Writes the package as XML (UTF-8).
    pub fn write(&self, out: impl Write) -> std::io::Result<()> {
        let mut w = Writer::new_with_indent(out, b' ', 2);
        w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
        w.create_element("package")
            .with_attributes([
                ("xmlns", NS_PACKAGE),
                ("xmlns:af", NS_FACT),
                ("xmlns:prsn", NS_PERSON),
                ("xmlns:smev", NS_SMEV),
            ])
            .write_inner_content(|w| {
                text(w, "packageID", &self.id.to_string())?;
                w.create_element("elements").write_inner_content(|w| {
                    for f in &self.facts {
                        self.write_fact(w, f)?;
                    }
                    Ok(())
                })?;
                Ok(())
            })?;
        w.into_inner().flush()
    }

    fn write_fact<W: Write>(&self, w: &mut Writer<W>, f: &Fact) -> std::io::Result<()> {
        w.create_element("fact").write_inner_content(|w| {
            text(w, "af:ID", &f.id.to_string())?;
            text(w, "af:OSZCode", &self.osz_code)?;
            w.create_element("af:MSZ_receiver")
                .write_inner_content(|w| {
                    text(w, "prsn:SNILS", f.snils.digits())?;
                    text(w, "smev:FamilyName", &f.family_name)?;
                    text(w, "smev:FirstName", &f.first_name)?;
                    if let Some(p) = &f.patronymic {
                        text(w, "smev:Patronymic", p)?;
                    }
                    text(
                        w,
                        "prsn:Gender",
                        match f.sex {
                            Sex::Female => "Female",
                            Sex::Male => "Male",
                        },
                    )?;
                    text(w, "prsn:BirthDate", &f.birth_date.to_string())?;
                    Ok(())
                })?;
            text(w, "af:LMSZID", &f.lmsz.to_string())?;
            text(w, "af:categoryID", &f.category.to_string())?;
            text(w, "af:decision_date", &f.decision_date.to_string())?;
            text(w, "af:dateStart", &f.start.to_string())?;
            text(w, "af:dateFinish", &f.finish.to_string())?;
            w.create_element("af:needsCriteria")
                .write_inner_content(|w| text(w, "af:usingSign", "false"))?;
            w.create_element("af:assignment_info")
                .write_inner_content(|w| {
                    w.create_element("af:serviceForm")
                        .write_inner_content(|w| {
                            text(w, "af:amount", &f.count.to_string())?;
                            text(w, "af:OKEICode", &f.okei)?;
                            text(w, "af:content", &f.content)?;
                            text(w, "af:equivalentAmount", &roubles(f.equivalent_kopecks))?;
                            Ok(())
                        })?;
                    Ok(())
                })?;
            text(
                w,
                "lastChanging",
                &self
                    .made_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
            )?;
            Ok(())
        })?;
        Ok(())
    }
}

fn text<W: Write>(w: &mut Writer<W>, name: &str, value: &str) -> std::io::Result<()> {
    w.create_element(name)
        .write_text_content(BytesText::new(value))?;
    Ok(())
}

/// Kopecks as the schema's decimal: «1500.00».
pub fn roubles(kopecks: u64) -> String {
    format!("{}.{:02}", kopecks / 100, kopecks % 100)
}

/// Whether `part` of a name is what the schema's `smev:rus-100` takes: Russian letters, a dash,
/// spaces, apostrophes, points and commas, up to 100 characters, not starting with a space.
fn russian(part: &str) -> bool {
    let cyrillic = |c: char| matches!(c, 'а'..='я' | 'А'..='Я' | 'ё' | 'Ё');
    let mut chars = part.chars();
    part.chars().count() <= 100
        && chars.next().is_some_and(|c| cyrillic(c) || c == '-')
        && chars.all(|c| cyrillic(c) || matches!(c, '-' | ' ' | '\'' | ',' | '.'))
}

/// The family name, first name and patronymic of a full name (ФИО), where it has the first two
/// in Russian letters.
pub fn name_parts(full_name: &str) -> Option<(String, String, Option<String>)> {
    let mut words = full_name.split_whitespace();
    let family = words.next()?.to_string();
    let first = words.next()?.to_string();
    let rest: Vec<&str> = words.collect();
    let patronymic = (!rest.is_empty()).then(|| rest.join(" "));
    let ok = russian(&family) && russian(&first) && patronymic.as_deref().is_none_or(russian);
    ok.then_some((family, first, patronymic))
}

/// What `person` lacks for the export (empty: nothing).
fn lacks(person: Option<&Person>) -> Vec<Lack> {
    let Some(p) = person else {
        return vec![Lack::NotOnFile];
    };
    if p.anonymised_at.is_some() {
        return vec![Lack::Anonymised];
    }
    let mut out = Vec::new();
    if p.snils.is_none() {
        out.push(Lack::Snils);
    }
    if p.sex.is_none() {
        out.push(Lack::Sex);
    }
    if p.birth_date.is_none() {
        out.push(Lack::BirthDate);
    }
    if name_parts(&p.full_name).is_none() {
        out.push(Lack::Name);
    }
    out
}

/// The package of `site`'s facts of `month` (any day of it), made at `now`.
pub fn package(
    store: &dyn JournalStore,
    cfg: &JournalConfig,
    catalogue: &Catalogue,
    site: &str,
    month: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Package, EgissoError> {
    let site_cfg = cfg
        .sites
        .iter()
        .find(|s| s.id == site)
        .ok_or_else(|| EgissoError::UnknownSite(site.to_string()))?;
    let osz_code = cfg
        .osz_code(site)
        .ok_or_else(|| EgissoError::NoOszCode(site.to_string()))?
        .to_string();
    let span = crate::plan::month_span(month);
    let people = store.people(site)?;
    let given = crate::web::acts::given_of(&store.unit_records(span.first, span.last)?, site);
    let mut pkg = Package {
        id: Uuid::now_v7(),
        site: site.to_string(),
        month: span.first,
        made_at: now.with_timezone(&site_cfg.site_time().offset),
        osz_code,
        facts: Vec::new(),
        held: Vec::new(),
        unplanned: Vec::new(),
        unmapped: Vec::new(),
    };
    let mut unmapped: BTreeMap<String, u32> = BTreeMap::new();
    for (recipient, services) in &given {
        let person = people.recipient(*recipient);
        // The units were read for the month alone: each service's dates are its units.
        let counts: Vec<(&String, &[NaiveDate], u32)> = services
            .iter()
            .map(|(s, dates)| {
                let n = u32::try_from(dates.len()).unwrap_or(u32::MAX);
                (s, dates.as_slice(), n)
            })
            .filter(|(_, _, n)| *n > 0)
            .collect();
        let lacks = lacks(person);
        let (Some(p), true) = (person, lacks.is_empty()) else {
            pkg.held.push(Held {
                recipient: *recipient,
                name: people.recipient_name(*recipient),
                lacks,
                units: counts.iter().map(|(_, _, n)| n).sum(),
            });
            continue;
        };
        for (service, dates, count) in counts {
            let Some(mapping) = cfg.egisso.services.get(service) else {
                *unmapped.entry(service.clone()).or_default() += count;
                continue;
            };
            // Units on days no programme with the service was in force have no assignment.
            let given = fact(p, catalogue, mapping, service, dates, span);
            let outside = count - given.as_ref().map_or(0, |f| f.count);
            if let Some(f) = given {
                pkg.facts.push(f);
            }
            if outside > 0 {
                pkg.unplanned.push(Unplanned {
                    recipient: *recipient,
                    name: people.recipient_name(*recipient),
                    service: service.clone(),
                    units: outside,
                });
            }
        }
    }
    pkg.unmapped = unmapped
        .into_iter()
        .map(|(service, units)| Unmapped { service, units })
        .collect();
    pkg.facts.sort_by(|a, b| {
        (&a.family_name, &a.first_name, a.recipient, &a.service).cmp(&(
            &b.family_name,
            &b.first_name,
            b.recipient,
            &b.service,
        ))
    });
    Ok(pkg)
}

/// `p`'s fact of `service` in the month of `span`: the days of the month a programme with the
/// service was in force (cut at their last day, where they left), and the units given on them
/// (`dates`, the service's units by date). `None`: no programme in force in the month has the
/// service, or no unit fell on its days.
fn fact(
    p: &Person,
    catalogue: &Catalogue,
    mapping: &EgissoService,
    service: &str,
    dates: &[NaiveDate],
    span: crate::plan::Span,
) -> Option<Fact> {
    let runs: Vec<_> = p
        .programmes_in_force(span.first, span.last)
        .into_iter()
        .filter(|prog| prog.items.iter().any(|i| i.service.0 == service))
        .collect();
    // A programme in force past either end of the month keeps its own dates there: the fact is
    // the month's.
    let start = runs.iter().map(|r| r.valid_from).min()?.max(span.first);
    let finish = runs.iter().map(|r| r.valid_to).max()?.min(span.last);
    if start > finish {
        return None;
    }
    let in_force = |d: &NaiveDate| runs.iter().any(|r| r.valid_from <= *d && *d <= r.valid_to);
    let count = u32::try_from(
        dates
            .iter()
            .filter(|d| start <= **d && **d <= finish && in_force(d))
            .count(),
    )
    .unwrap_or(u32::MAX);
    if count == 0 {
        return None;
    }
    // The decision is the first day of the programme the fact starts under (its own, not the
    // day the month cut it at), so it is never after `start`.
    let decision_date = p
        .in_force_on(start)
        .map_or(start, |prog| prog.valid_from.min(start));
    let (family_name, first_name, patronymic) = name_parts(&p.full_name)?;
    let kopecks = mapping.tariff_kopecks().unwrap_or(0);
    let content: String = catalogue
        .services
        .iter()
        .find(|s| s.code.0 == service)
        .map_or_else(|| service.to_string(), |s| s.title_ru.clone())
        .chars()
        .take(200)
        .collect();
    Some(Fact {
        id: Uuid::new_v5(
            &FACT_IDS,
            format!(
                "{}/{}/{service}/{}",
                p.site,
                p.id,
                span.first.format("%Y-%m")
            )
            .as_bytes(),
        ),
        recipient: p.id,
        service: service.to_string(),
        snils: p.snils.clone()?,
        family_name,
        first_name,
        patronymic,
        sex: p.sex?,
        birth_date: p.birth_date?,
        lmsz: mapping.lmsz,
        category: mapping.category,
        decision_date,
        start,
        finish,
        count,
        okei: mapping.okei.clone(),
        content,
        equivalent_kopecks: kopecks.saturating_mul(u64::from(count)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_name_is_split_into_the_schemas_three_parts_in_russian_letters() {
        assert_eq!(
            name_parts("Иванова  Мария Петровна"),
            Some(("Иванова".into(), "Мария".into(), Some("Петровна".into())))
        );
        assert_eq!(
            name_parts("Мамедов Али Гусейн оглы").and_then(|p| p.2),
            Some("Гусейн оглы".into())
        );
        assert_eq!(
            name_parts("Пётр Ёлкин"),
            Some(("Пётр".into(), "Ёлкин".into(), None))
        );
        assert_eq!(name_parts("Иванова"), None, "no first name");
        assert_eq!(name_parts("Ivanova Maria"), None, "Latin letters");
        assert_eq!(name_parts("Иванова Мария2"), None, "a digit");
    }

    #[test]
    fn money_is_written_with_two_decimals() {
        assert_eq!(roubles(150_000), "1500.00");
        assert_eq!(roubles(5), "0.05");
    }
}
