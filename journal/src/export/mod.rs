//! Exports of the journal's units for other systems and for staff's spreadsheets (1C, Excel, the
//! regional system): one row per unit, the same columns in every format.
//!
//! The units are streamed from the store's cursor ([`JournalStore::each_unit`]) into the
//! format's writer, row by row: neither the units nor the cells of a period are held whole, so a
//! year of a large institution (a million units) exports in bounded memory.
//!
//! # Layout
//! - this file: [`Format`], the columns ([`COLUMNS`]), [`Row`] (one unit as the exports show
//!   it, with its cells), [`Context`] (titles, names and clocks the rows need), [`export`] (a
//!   period from the store into a file, with progress) and [`ExportError`].
//! - [`csv`]: `;`-separated UTF-8 with a BOM (what Excel opens in a Russian locale).
//! - [`xlsx`]: an Excel workbook, a sheet per month, written in constant memory.
//! - [`pdf`]: documents typeset by typst from templates (`config/templates/`): the monthly act
//!   and a group's month of the journal, with their data types and the fonts.
//! - [`egisso`]: a site's month for the regional information system (ЕГИССО) as XML: facts
//!   per recipient and service, the one module that maps the journal to the schema.
//! - [`jobs`]: exports started from the pages: background tasks, their progress, the directory
//!   the files are kept in for a day and its cleanup.

pub mod csv;
pub mod egisso;
pub mod jobs;
pub mod pdf;
pub mod xlsx;

use crate::config::JournalConfig;
use crate::store::{JournalStore, JournalUnit, StoreError};
use chrono::{FixedOffset, NaiveDate, NaiveDateTime};
use otmetka_core::catalogue::{Catalogue, UnitKind};
use otmetka_core::people::{GroupId, RecipientId};
use std::collections::HashMap;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// An export format (`--format`, the page's choice).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Xlsx,
}

impl Format {
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
        }
    }

    /// The file's media type, for the download.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }

    /// As the page names it.
    pub fn label(self) -> &'static str {
        match self {
            Format::Csv => "CSV (текст, разделитель «;»)",
            Format::Xlsx => "Excel (XLSX)",
        }
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Format, String> {
        match s {
            "csv" => Ok(Format::Csv),
            "xlsx" => Ok(Format::Xlsx),
            other => Err(format!("--format {other}: csv or xlsx")),
        }
    }
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("CSV: {0}")]
    Csv(#[from] ::csv::Error),
    #[error("XLSX: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
}

impl ExportError {
    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ExportError + '_ {
        move |source| ExportError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// What a column holds, which decides its type in a workbook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Date,
    DateTime,
    Text,
    Number,
    /// «да» / «нет»: a specialist filters by the word.
    Flag,
}

/// The columns, in order: the header as staff read it, what it holds, its width in a workbook
/// (characters).
pub const COLUMNS: &[(&str, Kind, f64)] = &[
    ("Дата", Kind::Date, 11.0),
    ("Код услуги", Kind::Text, 12.0),
    ("Услуга", Kind::Text, 48.0),
    ("Вид единицы", Kind::Text, 15.0),
    ("Получатель", Kind::Text, 28.0),
    ("Группа", Kind::Text, 20.0),
    ("Человек", Kind::Number, 9.0),
    ("Специалист", Kind::Text, 28.0),
    ("Начало", Kind::DateTime, 16.0),
    ("Окончание", Kind::DateTime, 16.0),
    ("Минут", Kind::Number, 8.0),
    ("Сверх лимита", Kind::Flag, 9.0),
    ("Меньше минимума группы", Kind::Flag, 12.0),
    ("Отмечено вручную", Kind::Flag, 10.0),
    ("Дольше нормы, мин", Kind::Number, 10.0),
    ("Часы киоска сверены", Kind::Flag, 10.0),
    ("Отделение", Kind::Text, 12.0),
    ("Киоск", Kind::Text, 10.0),
    ("Код получателя", Kind::Text, 38.0),
    ("Код специалиста", Kind::Text, 38.0),
    ("Код занятия", Kind::Text, 38.0),
    ("Код единицы", Kind::Text, 38.0),
];

/// One cell of a row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    Date(NaiveDate),
    DateTime(NaiveDateTime),
    Text(&'a str),
    Number(i64),
    Flag(bool),
    Empty,
}

impl Cell<'_> {
    /// «да» / «нет», as both formats write a flag.
    pub fn flag_word(b: bool) -> &'static str {
        if b { "да" } else { "нет" }
    }
}

/// One unit as the exports show it.
#[derive(Debug, Clone)]
pub struct Row<'a> {
    pub ju: &'a JournalUnit,
    pub title: &'a str,
    /// The recipient as the journal's page names them (empty for a group's unit).
    pub recipient: &'a str,
    pub recipient_id: String,
    pub group: &'a str,
    pub instructor: &'a str,
    pub instructor_id: String,
    pub session_id: String,
    pub unit_id: String,
    pub started: NaiveDateTime,
    pub ended: NaiveDateTime,
}

impl Row<'_> {
    /// The cells, in the order of [`COLUMNS`].
    pub fn cells(&self) -> [Cell<'_>; 22] {
        let u = &self.ju.unit;
        let people = match u.kind {
            UnitKind::PerRecipient => 1,
            UnitKind::PerGroup => u.participants.len() as i64,
        };
        fn opt(s: &str) -> Cell<'_> {
            if s.is_empty() {
                Cell::Empty
            } else {
                Cell::Text(s)
            }
        }
        [
            Cell::Date(u.date),
            Cell::Text(&u.service.0),
            Cell::Text(self.title),
            Cell::Text(match u.kind {
                UnitKind::PerRecipient => "на получателя",
                UnitKind::PerGroup => "на группу",
            }),
            opt(self.recipient),
            opt(self.group),
            Cell::Number(people),
            Cell::Text(self.instructor),
            Cell::DateTime(self.started),
            Cell::DateTime(self.ended),
            Cell::Number((u.ended_at - u.started_at).num_minutes()),
            Cell::Flag(u.over_limit()),
            Cell::Flag(u.below_group_min),
            Cell::Flag(u.manual),
            u.over_norm_minutes
                .map_or(Cell::Empty, |m| Cell::Number(i64::from(m))),
            Cell::Flag(u.clock_synced),
            Cell::Text(&self.ju.site),
            Cell::Text(&self.ju.kiosk),
            opt(&self.recipient_id),
            Cell::Text(&self.instructor_id),
            Cell::Text(&self.session_id),
            Cell::Text(&self.unit_id),
        ]
    }
}

/// A site's names and clock, looked up once per export (the people's records are lists).
#[derive(Debug, Default)]
struct SiteNames {
    offset: Option<FixedOffset>,
    recipients: HashMap<RecipientId, String>,
    instructors: HashMap<String, String>,
    groups: HashMap<GroupId, String>,
}

/// What the rows need beside the units: the services' titles, each site's names and clock.
#[derive(Debug, Default)]
pub struct Context {
    titles: HashMap<String, String>,
    sites: HashMap<String, SiteNames>,
}

impl Context {
    /// The titles of `catalogue` and the names of every site of `cfg`, as the store holds them.
    pub fn load(
        store: &dyn JournalStore,
        cfg: &JournalConfig,
        catalogue: &Catalogue,
    ) -> Result<Context, StoreError> {
        let titles = catalogue
            .services
            .iter()
            .map(|s| (s.code.0.clone(), s.title_ru.clone()))
            .collect();
        let mut sites = HashMap::new();
        for site in &cfg.sites {
            let people = store.people(&site.id)?;
            let names = SiteNames {
                offset: Some(site.site_time().offset),
                // The journal's own wording: the name it shows, «обезличен» for someone
                // anonymised.
                recipients: people
                    .recipients
                    .iter()
                    .map(|p| (p.id, people.recipient_name(p.id)))
                    .collect(),
                instructors: people
                    .instructors
                    .iter()
                    .map(|i| (i.id.to_string(), i.display_name.clone()))
                    .collect(),
                groups: people
                    .groups
                    .iter()
                    .map(|g| (g.id, g.name.clone()))
                    .collect(),
            };
            sites.insert(site.id.clone(), names);
        }
        Ok(Context { titles, sites })
    }

    /// Hands `f` the row of `ju`.
    pub fn with_row<R>(&self, ju: &JournalUnit, f: impl FnOnce(&Row<'_>) -> R) -> R {
        static NOBODY: std::sync::LazyLock<SiteNames> =
            std::sync::LazyLock::new(SiteNames::default);
        let u = &ju.unit;
        let names = self.sites.get(&ju.site).unwrap_or(&NOBODY);
        let offset = names
            .offset
            .unwrap_or_else(|| chrono::Offset::fix(&chrono::Utc));
        let local = |t: chrono::DateTime<chrono::Utc>| t.with_timezone(&offset).naive_local();
        let not_held;
        let recipient = match u.recipient {
            None => "",
            Some(r) => match names.recipients.get(&r) {
                Some(n) => n.as_str(),
                None => {
                    not_held = format!("№ {}", crate::store::people::short(&r.to_string()));
                    not_held.as_str()
                }
            },
        };
        let instructor_id = u.instructor.to_string();
        let row = Row {
            ju,
            title: self.titles.get(&u.service.0).map_or("", String::as_str),
            recipient,
            recipient_id: u.recipient.map(|r| r.to_string()).unwrap_or_default(),
            group: u
                .group
                .and_then(|g| names.groups.get(&g))
                .map_or("", String::as_str),
            instructor: names
                .instructors
                .get(&instructor_id)
                .map_or("", String::as_str),
            instructor_id,
            session_id: u.session.0.to_string(),
            unit_id: u.id.0.to_string(),
            started: local(u.started_at),
            ended: local(u.ended_at),
        };
        f(&row)
    }
}

/// What is asked: the period (both days included), one site or all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub site: Option<String>,
    pub format: Format,
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub rows: u64,
    /// The workbook's sheets (none for CSV).
    pub sheets: Vec<String>,
}

/// A format's writer: rows in order, then `finish`.
trait Sink {
    fn row(&mut self, row: &Row<'_>) -> Result<(), ExportError>;
    /// Writes what is left; returns the workbook's sheets (none for CSV).
    fn finish(self: Box<Self>) -> Result<Vec<String>, ExportError>;
}

/// How often progress is reported (rows).
const PROGRESS_EVERY: u64 = 1000;

/// Exports the units `req` asks for into `out`: written to `out` with `.part` appended and
/// renamed when complete, so a reader never finds half a file under the name. `progress` is
/// told the rows done every thousand rows and at the end.
pub fn export(
    store: &dyn JournalStore,
    ctx: &Context,
    req: &Request,
    out: &Path,
    progress: &mut dyn FnMut(u64),
) -> Result<Summary, ExportError> {
    let mut part = out.as_os_str().to_owned();
    part.push(".part");
    let part = PathBuf::from(part);
    let result = (|| {
        let mut sink: Box<dyn Sink> = match req.format {
            Format::Csv => Box::new(csv::Writer::create(&part)?),
            Format::Xlsx => Box::new(xlsx::Writer::create(
                &part,
                req.from,
                req.to,
                xlsx::ROWS_PER_SHEET,
            )?),
        };
        let mut rows = 0u64;
        let mut failed = None;
        store.each_unit(req.from, req.to, req.site.as_deref(), None, &mut |ju| {
            if let Err(e) = ctx.with_row(&ju, |row| sink.row(row)) {
                failed = Some(e);
                return ControlFlow::Break(());
            }
            rows += 1;
            if rows % PROGRESS_EVERY == 0 {
                progress(rows);
            }
            ControlFlow::Continue(())
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
        let sheets = sink.finish()?;
        progress(rows);
        Ok(Summary { rows, sheets })
    })();
    match result {
        Ok(summary) => {
            std::fs::rename(&part, out).map_err(ExportError::io(out))?;
            Ok(summary)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&part);
            Err(e)
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use otmetka_core::catalogue::ServiceCode;
    use otmetka_core::people::InstructorId;
    use otmetka_core::session::SessionId;
    use otmetka_core::unit::{Unit, UnitId};

    /// A unit of one recipient on `date`, 40 minutes from 10:00 UTC.
    pub(crate) fn unit_on(date: NaiveDate) -> JournalUnit {
        let session = SessionId(uuid::Uuid::now_v7());
        let recipient = RecipientId(uuid::Uuid::now_v7());
        let started_at = date.and_hms_opt(10, 0, 0).unwrap().and_utc();
        JournalUnit {
            site: "demo".into(),
            kiosk: "k1".into(),
            unit: Unit {
                id: UnitId::per_recipient(session, recipient),
                session,
                service: ServiceCode("002-1.7.1".into()),
                kind: UnitKind::PerRecipient,
                recipient: Some(recipient),
                participants: Vec::new(),
                group: None,
                instructor: InstructorId(uuid::Uuid::now_v7()),
                date,
                started_at,
                ended_at: started_at + chrono::Duration::minutes(40),
                overridden: Vec::new(),
                manual: true,
                below_group_min: false,
                over_norm_minutes: Some(5),
                clock_synced: true,
            },
        }
    }

    #[test]
    fn every_cell_is_of_its_columns_kind() {
        let ju = unit_on(NaiveDate::from_ymd_opt(2026, 11, 5).unwrap());
        Context::default().with_row(&ju, |row| {
            let cells = row.cells();
            assert_eq!(cells.len(), COLUMNS.len());
            for (cell, (header, kind, _)) in cells.iter().zip(COLUMNS) {
                let fits = matches!(
                    (cell, kind),
                    (Cell::Empty, _)
                        | (Cell::Date(_), Kind::Date)
                        | (Cell::DateTime(_), Kind::DateTime)
                        | (Cell::Text(_), Kind::Text)
                        | (Cell::Number(_), Kind::Number)
                        | (Cell::Flag(_), Kind::Flag)
                );
                assert!(fits, "{header}: {cell:?} is not {kind:?}");
            }
            assert_eq!(cells[10], Cell::Number(40), "minutes");
            assert_eq!(cells[13], Cell::Flag(true), "manual");
            assert_eq!(cells[14], Cell::Number(5), "over the norm");
        });
    }
}
