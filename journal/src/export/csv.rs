//! The units as CSV for Excel in a Russian locale: UTF-8 with a byte-order mark (without it
//! Excel reads the file as Windows-1251), `;` between fields (the list separator of a Russian
//! Windows), a header row, one row per unit. Quoting is the `csv` crate's (a field with `;`,
//! `"` or a line break is quoted, `"` doubled), so a title with a `;` reads back whole.
//!
//! Dates are written as Excel shows them in Russia (`05.11.2026`, `05.11.2026 14:05`), so it
//! takes them as dates; flags as «да»/«нет». A text field that begins with `=`, `+`, `-` or `@`
//! gets a leading `'`: Excel would otherwise run it as a formula (a name typed on a page could
//! be one).

use super::{COLUMNS, Cell, ExportError, Row, Sink};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

/// The byte-order mark Excel needs to read UTF-8.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

/// A CSV file being written.
#[derive(Debug)]
pub struct Writer {
    csv: ::csv::Writer<BufWriter<File>>,
    /// One record's fields, reused.
    fields: Vec<String>,
}

impl Writer {
    /// Creates `path` and writes the BOM and the header row.
    pub fn create(path: &Path) -> Result<Writer, ExportError> {
        let mut file =
            BufWriter::with_capacity(1 << 16, File::create(path).map_err(ExportError::io(path))?);
        file.write_all(BOM).map_err(ExportError::io(path))?;
        let mut csv = ::csv::WriterBuilder::new()
            .delimiter(b';')
            .terminator(::csv::Terminator::CRLF)
            .from_writer(file);
        csv.write_record(COLUMNS.iter().map(|(h, _, _)| *h))?;
        Ok(Writer {
            csv,
            fields: vec![String::new(); COLUMNS.len()],
        })
    }
}

/// A text as a CSV cell Excel will not run as a formula.
fn text(s: &str, into: &mut String) {
    if s.starts_with(['=', '+', '-', '@']) {
        into.push('\'');
    }
    into.push_str(s);
}

impl Sink for Writer {
    fn row(&mut self, row: &Row<'_>) -> Result<(), ExportError> {
        use std::fmt::Write as _;
        for (field, cell) in self.fields.iter_mut().zip(row.cells()) {
            field.clear();
            // Writing into a String cannot fail.
            let _ = match cell {
                Cell::Date(d) => write!(field, "{}", d.format("%d.%m.%Y")),
                Cell::DateTime(t) => write!(field, "{}", t.format("%d.%m.%Y %H:%M")),
                Cell::Text(s) => {
                    text(s, field);
                    Ok(())
                }
                Cell::Number(n) => write!(field, "{n}"),
                Cell::Flag(b) => field.write_str(Cell::flag_word(b)),
                Cell::Empty => Ok(()),
            };
        }
        self.csv.write_record(&self.fields)?;
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<Vec<String>, ExportError> {
        let file = self
            .csv
            .into_inner()
            .map_err(|e| ExportError::Csv(e.into_error().into()))?;
        file.into_inner()
            .map_err(|e| ExportError::Csv(e.into_error().into()))?
            .sync_all()
            .map_err(|e| ExportError::Csv(e.into()))?;
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_that_excel_would_run_gets_a_quote_mark() {
        let mut s = String::new();
        text("=HYPERLINK(\"x\")", &mut s);
        assert_eq!(s, "'=HYPERLINK(\"x\")");
        s.clear();
        text("Мария; «Ивановна»", &mut s);
        assert_eq!(s, "Мария; «Ивановна»");
    }
}
