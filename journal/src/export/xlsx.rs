//! The units as an Excel workbook: a sheet per month of the period («2026-11», every month of
//! the period even without units, so an empty month is seen as empty), each with a bold, frozen
//! Russian header row, an autofilter and set column widths; dates as Excel dates (`dd.mm.yyyy`),
//! start and end as date and time, counts and minutes as numbers, flags as «да»/«нет» (what a
//! specialist picks in the filter).
//!
//! Written with `rust_xlsxwriter` in constant-memory mode: each row goes to a temporary file
//! (beside the output, not in a `/tmp` that may be memory) once the next row begins, so memory
//! does not grow with the rows. A month never runs past Excel's 1,048,576 rows: its rows go on
//! in «2026-11 (2)».

use super::{COLUMNS, Cell, ExportError, Row, Sink};
use chrono::{Datelike, NaiveDate};
use chrono::{NaiveDateTime, Timelike};
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook, Worksheet};
use std::path::{Path, PathBuf};

/// Excel's rows per sheet, the header included.
pub const EXCEL_ROWS: u32 = 1_048_576;
/// The units a sheet takes: Excel's rows less the header.
pub const ROWS_PER_SHEET: u32 = EXCEL_ROWS - 1;

/// A workbook being written.
pub struct Writer {
    path: PathBuf,
    book: Workbook,
    header: Format,
    date: Format,
    datetime: Format,
    /// The months still to get a sheet, the first of each: the period's, in order.
    months: std::collections::VecDeque<NaiveDate>,
    /// The sheet rows go to: its month, its part (1, 2, … past the row limit), rows written.
    sheet: Option<(NaiveDate, u32, u32)>,
    names: Vec<String>,
    rows_per_sheet: u32,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("xlsx::Writer")
            .field("path", &self.path)
            .field("sheets", &self.names)
            .finish_non_exhaustive()
    }
}

/// A date as Excel's (chrono's dates through rust_xlsxwriter's own type: its `chrono` feature
/// would change chrono's features for the whole workspace and rebuild it).
fn excel_date(d: NaiveDate) -> Result<ExcelDateTime, ExportError> {
    Ok(ExcelDateTime::from_ymd(
        u16::try_from(d.year()).unwrap_or(1900),
        d.month() as u8,
        d.day() as u8,
    )?)
}

fn excel_datetime(t: NaiveDateTime) -> Result<ExcelDateTime, ExportError> {
    Ok(excel_date(t.date())?.and_hms(t.hour() as u16, t.minute() as u8, t.second())?)
}

/// The first day of `d`'s month.
fn month_of(d: NaiveDate) -> NaiveDate {
    d.with_day(1).unwrap_or(d)
}

impl Writer {
    /// A workbook for the period `[from, to]` at `path` (written by [`Sink::finish`]), with at
    /// most `rows_per_sheet` units a sheet (tests pass a small one).
    pub fn create(
        path: &Path,
        from: NaiveDate,
        to: NaiveDate,
        rows_per_sheet: u32,
    ) -> Result<Writer, ExportError> {
        let mut book = Workbook::new();
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        book.set_tempdir(dir)?;
        // A million rows are more than 4 GiB of sheet XML before compression.
        book.use_zip_large_file(true);
        let mut months = std::collections::VecDeque::new();
        let mut m = month_of(from);
        while m <= to {
            months.push_back(m);
            let Some(next) = m.checked_add_months(chrono::Months::new(1)) else {
                break;
            };
            m = next;
        }
        Ok(Writer {
            path: path.to_path_buf(),
            book,
            header: Format::new()
                .set_bold()
                .set_text_wrap()
                .set_background_color("#EEF1F5"),
            date: Format::new().set_num_format("dd.mm.yyyy"),
            datetime: Format::new().set_num_format("dd.mm.yyyy hh:mm"),
            months,
            sheet: None,
            names: Vec::new(),
            rows_per_sheet: rows_per_sheet.clamp(1, ROWS_PER_SHEET),
        })
    }

    /// The sheet being written.
    fn current(&mut self) -> Result<&mut Worksheet, ExportError> {
        let last = self.names.len().saturating_sub(1);
        Ok(self.book.worksheet_from_index(last)?)
    }

    /// Ends the current sheet: the autofilter over what it holds.
    fn close_sheet(&mut self) -> Result<(), ExportError> {
        if let Some((_, _, rows)) = self.sheet {
            let last_col = (COLUMNS.len() - 1) as u16;
            self.current()?.autofilter(0, 0, rows, last_col)?;
        }
        Ok(())
    }

    /// Starts the sheet of `month`, part `part`: its name, widths, frozen header.
    fn open_sheet(&mut self, month: NaiveDate, part: u32) -> Result<(), ExportError> {
        self.close_sheet()?;
        let name = if part == 1 {
            format!("{:04}-{:02}", month.year(), month.month())
        } else {
            format!("{:04}-{:02} ({part})", month.year(), month.month())
        };
        let header = self.header.clone();
        let sheet = self.book.add_worksheet_with_constant_memory();
        sheet.set_name(&name)?;
        for (col, (title, _, width)) in COLUMNS.iter().enumerate() {
            let col = col as u16;
            sheet.set_column_width(col, *width)?;
            sheet.write_string_with_format(0, col, *title, &header)?;
        }
        sheet.set_row_height(0, 45)?;
        sheet.set_freeze_panes(1, 0)?;
        self.names.push(name);
        self.sheet = Some((month, part, 0));
        Ok(())
    }

    /// Opens the sheets of the months up to `month` (empty ones on the way).
    fn reach(&mut self, month: NaiveDate) -> Result<(), ExportError> {
        while let Some(&next) = self.months.front() {
            if next > month {
                break;
            }
            self.months.pop_front();
            self.open_sheet(next, 1)?;
        }
        // A unit outside the period asked for (the store gives none): a sheet of its own.
        if self.sheet.is_none_or(|(m, _, _)| m != month) {
            self.open_sheet(month, 1)?;
        }
        Ok(())
    }
}

impl Sink for Writer {
    fn row(&mut self, row: &Row<'_>) -> Result<(), ExportError> {
        let month = month_of(row.ju.unit.date);
        match self.sheet {
            Some((m, part, rows)) if m == month && rows >= self.rows_per_sheet => {
                self.open_sheet(month, part + 1)?
            }
            Some((m, _, _)) if m == month => {}
            _ => self.reach(month)?,
        }
        let Some((_, _, rows)) = self.sheet.as_mut() else {
            return Ok(());
        };
        *rows += 1;
        let r = *rows;
        let sheet = self
            .book
            .worksheet_from_index(self.names.len().saturating_sub(1))?;
        let (date, datetime) = (&self.date, &self.datetime);
        for (col, cell) in row.cells().into_iter().enumerate() {
            let col = col as u16;
            match cell {
                Cell::Date(d) => sheet.write_date_with_format(r, col, excel_date(d)?, date)?,
                Cell::DateTime(t) => {
                    sheet.write_datetime_with_format(r, col, excel_datetime(t)?, datetime)?
                }
                Cell::Text(s) => sheet.write_string(r, col, s)?,
                Cell::Number(n) => sheet.write_number(r, col, n as f64)?,
                Cell::Flag(b) => sheet.write_string(r, col, Cell::flag_word(b))?,
                Cell::Empty => sheet,
            };
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<Vec<String>, ExportError> {
        // The months after the last unit, and a sheet at all for a period with none.
        if let Some(&last) = self.months.back() {
            self.reach(last)?;
        } else if self.names.is_empty() {
            let today = NaiveDate::default();
            self.open_sheet(today, 1)?;
        }
        self.close_sheet()?;
        self.book.save(&self.path)?;
        Ok(self.names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::Context;
    use crate::export::tests::unit_on;

    #[test]
    fn the_period_has_a_sheet_a_month_and_a_full_month_goes_on_in_a_second() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.xlsx");
        let d = |m, day| NaiveDate::from_ymd_opt(2026, m, day).unwrap();
        let mut w = Box::new(Writer::create(&path, d(10, 15), d(12, 3), 2).unwrap());
        // Three units in November (two a sheet), none in October or December.
        let ctx = Context::default();
        for day in [3, 4, 5] {
            ctx.with_row(&unit_on(d(11, day)), |row| w.row(row))
                .unwrap();
        }
        assert_eq!(
            w.finish().unwrap(),
            ["2026-10", "2026-11", "2026-11 (2)", "2026-12"]
        );
        assert!(path.exists());
    }
}
