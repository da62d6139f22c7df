//! PDF documents typeset in-process by typst (as a library; no browser, no external program):
//! the monthly act of a recipient and a group's month of the journal.
//!
//! Each document is a typst template (`config/templates/act.typ`, `journal.typ`, compiled into
//! the binary; `[documents] templates_dir` names an institution's own copies) that reads its
//! data from a virtual file `/data.json`: the figures are computed once, in Rust, by the code
//! the pages use, and the template only lays them out (A4, repeated table headers, page
//! numbers, signature lines). The fonts are read from `[documents] fonts_dir` (default Debian's
//! DejaVu, package `fonts-dejavu-core`) and embedded in the PDF.
//!
//! A [`Typesetter`] holds the fonts and the standard library; a render is a fresh typst
//! [`World`] over it with the template as its main file. Typst's memoised results are evicted
//! after each render, so a long-running journal does not grow with the documents it made.

use chrono::{Datelike, NaiveDate};
use serde::Serialize;
use std::path::{Path, PathBuf};
use typst::diag::{FileError, FileResult, Severity, SourceDiagnostic};
use typst::foundations::{Bytes, Datetime};
use typst::layout::PagedDocument;
use typst::syntax::{FileId, Source, VirtualPath};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, World, WorldExt};

/// Where Debian's `fonts-dejavu-core` puts DejaVu.
pub const DEFAULT_FONTS_DIR: &str = "/usr/share/fonts/truetype/dejavu";

/// The virtual file a template reads its data from (`json("/data.json")`).
const DATA_PATH: &str = "/data.json";

/// A document the journal typesets, with its template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Template {
    /// The monthly act of one recipient (`act.typ`).
    Act,
    /// A group's month of the journal (`journal.typ`).
    GroupJournal,
}

impl Template {
    /// The template's file name, shipped in `config/templates/` and looked for in
    /// `[documents] templates_dir`.
    pub fn file_name(self) -> &'static str {
        match self {
            Template::Act => "act.typ",
            Template::GroupJournal => "journal.typ",
        }
    }

    /// The template shipped with the journal.
    fn shipped(self) -> &'static str {
        match self {
            Template::Act => include_str!("../../../config/templates/act.typ"),
            Template::GroupJournal => include_str!("../../../config/templates/journal.typ"),
        }
    }
}

/// Why a document could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error(
        "no usable font in {dir}: install Debian's fonts-dejavu-core, or set [documents] \
         fonts_dir in journal.toml to a directory with the template's TTF/OTF fonts"
    )]
    NoFonts { dir: PathBuf },
    #[error("the template asks for font {family:?}, which {dir} does not have")]
    MissingFont { family: String, dir: PathBuf },
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("template {template}: {message}")]
    Template { template: String, message: String },
    #[error("cannot encode the document's data: {0}")]
    Json(#[from] serde_json::Error),
}

impl PdfError {
    /// What the page tells the person (the English reason goes to the log).
    pub fn russian(&self) -> &'static str {
        match self {
            PdfError::NoFonts { .. } | PdfError::MissingFont { .. } => {
                "PDF не получился: на сервере журнала нет шрифта для документа (нужен пакет \
                 fonts-dejavu-core). Сообщите администратору; страницу можно напечатать и так."
            }
            PdfError::Template { .. } | PdfError::Io { .. } => {
                "PDF не получился: ошибка в шаблоне документа на сервере журнала. Сообщите \
                 администратору; страницу можно напечатать и так."
            }
            PdfError::Json(_) => {
                "PDF не получился из-за ошибки сервера. Сообщите администратору; страницу \
                 можно напечатать и так."
            }
        }
    }
}

/// The fonts and typst's standard library, loaded once; renders documents from templates.
pub struct Typesetter {
    library: LazyHash<Library>,
    book: LazyHash<FontBook>,
    fonts: Vec<Font>,
    fonts_dir: PathBuf,
    templates_dir: Option<PathBuf>,
}

impl std::fmt::Debug for Typesetter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Typesetter")
            .field("fonts", &self.fonts.len())
            .field("fonts_dir", &self.fonts_dir)
            .field("templates_dir", &self.templates_dir)
            .finish()
    }
}

impl Typesetter {
    /// Loads every TTF/OTF/TTC font of `fonts_dir` (not its subdirectories); the templates are
    /// read from `templates_dir` when given (an institution's copies), else the shipped ones.
    #[tracing::instrument(level = "debug")]
    pub fn new(fonts_dir: &Path, templates_dir: Option<&Path>) -> Result<Typesetter, PdfError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| PdfError::Io { path, source }
        };
        let mut fonts = Vec::new();
        let entries = match std::fs::read_dir(fonts_dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(PdfError::NoFonts {
                    dir: fonts_dir.to_path_buf(),
                });
            }
            Err(e) => return Err(io(fonts_dir)(e)),
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension().and_then(|x| x.to_str()).is_some_and(|x| {
                    ["ttf", "otf", "ttc"].contains(&x.to_ascii_lowercase().as_str())
                })
            })
            .collect();
        paths.sort();
        for path in paths {
            let data = std::fs::read(&path).map_err(io(&path))?;
            fonts.extend(Font::iter(Bytes::new(data)));
        }
        if fonts.is_empty() {
            return Err(PdfError::NoFonts {
                dir: fonts_dir.to_path_buf(),
            });
        }
        Ok(Typesetter {
            library: LazyHash::new(Library::default()),
            book: LazyHash::new(FontBook::from_fonts(&fonts)),
            fonts,
            fonts_dir: fonts_dir.to_path_buf(),
            templates_dir: templates_dir.map(Path::to_path_buf),
        })
    }

    /// The PDF of `template` over `data` (serialised to `/data.json`); `today` is what the
    /// template's `datetime.today()` gives.
    #[tracing::instrument(level = "debug", skip(self, data))]
    pub fn render(
        &self,
        template: Template,
        data: &impl Serialize,
        today: NaiveDate,
    ) -> Result<Vec<u8>, PdfError> {
        let name = template.file_name();
        let text = match &self.templates_dir {
            Some(dir) => {
                let path = dir.join(name);
                std::fs::read_to_string(&path).map_err(|source| PdfError::Io { path, source })?
            }
            None => template.shipped().to_string(),
        };
        let main = Source::new(FileId::new(None, VirtualPath::new(name)), text);
        let world = DocumentWorld {
            typesetter: self,
            main,
            data: Bytes::new(serde_json::to_vec(data)?),
            data_id: FileId::new(None, VirtualPath::new(DATA_PATH)),
            today: Datetime::from_ymd(
                today.year(),
                u8::try_from(today.month()).unwrap_or(1),
                u8::try_from(today.day()).unwrap_or(1),
            ),
        };
        let compiled = typst::compile::<PagedDocument>(&world);
        let result = self.finish(&world, compiled.output, &compiled.warnings);
        // Typst memoises layout across compilations; a server makes many unrelated documents.
        typst::comemo::evict(0);
        result
    }

    fn finish(
        &self,
        world: &DocumentWorld<'_>,
        output: typst::diag::SourceResult<PagedDocument>,
        warnings: &[SourceDiagnostic],
    ) -> Result<Vec<u8>, PdfError> {
        let template = world
            .main
            .id()
            .vpath()
            .as_rootless_path()
            .display()
            .to_string();
        for w in warnings {
            // A missing font family would give a PDF of empty boxes: refuse it, clearly.
            if let Some(family) = w.message.strip_prefix("unknown font family: ") {
                return Err(PdfError::MissingFont {
                    family: family.to_string(),
                    dir: self.fonts_dir.clone(),
                });
            }
            tracing::warn!("template {template}: {}", describe(world, w));
        }
        let document = output.map_err(|errors| PdfError::Template {
            template: template.clone(),
            message: errors
                .iter()
                .filter(|e| e.severity == Severity::Error)
                .map(|e| describe(world, e))
                .collect::<Vec<_>>()
                .join("; "),
        })?;
        typst_pdf::pdf(&document, &typst_pdf::PdfOptions::default()).map_err(|errors| {
            PdfError::Template {
                template,
                message: errors
                    .iter()
                    .map(|e| describe(world, e))
                    .collect::<Vec<_>>()
                    .join("; "),
            }
        })
    }
}

/// "line 12: unknown variable: dat" for a diagnostic.
fn describe(world: &DocumentWorld<'_>, d: &SourceDiagnostic) -> String {
    let line = world
        .range(d.span)
        .filter(|_| d.span.id() == Some(world.main.id()))
        .and_then(|r| world.main.byte_to_line(r.start));
    let hints: String = d.hints.iter().map(|h| format!(" (hint: {h})")).collect();
    match line {
        Some(l) => format!("line {}: {}{hints}", l + 1, d.message),
        None => format!("{}{hints}", d.message),
    }
}

/// One compilation's world: the template, its data, the typesetter's fonts.
struct DocumentWorld<'a> {
    typesetter: &'a Typesetter,
    main: Source,
    data: Bytes,
    data_id: FileId,
    today: Option<Datetime>,
}

impl DocumentWorld<'_> {
    /// A file beside an institution's templates (an image, an imported `.typ`), never outside
    /// the directory; nothing at all beside the shipped templates.
    fn beside_template(&self, id: FileId) -> FileResult<Vec<u8>> {
        let not_found = || FileError::NotFound(id.vpath().as_rootless_path().to_path_buf());
        if id.package().is_some() {
            return Err(not_found());
        }
        let dir = self
            .typesetter
            .templates_dir
            .as_ref()
            .ok_or_else(not_found)?;
        let path = id.vpath().resolve(dir).ok_or(FileError::AccessDenied)?;
        std::fs::read(&path).map_err(|e| FileError::from_io(e, &path))
    }
}

impl World for DocumentWorld<'_> {
    fn library(&self) -> &LazyHash<Library> {
        &self.typesetter.library
    }

    fn book(&self) -> &LazyHash<FontBook> {
        &self.typesetter.book
    }

    fn main(&self) -> FileId {
        self.main.id()
    }

    fn source(&self, id: FileId) -> FileResult<Source> {
        if id == self.main.id() {
            return Ok(self.main.clone());
        }
        let bytes = self.beside_template(id)?;
        let text = String::from_utf8(bytes).map_err(|_| FileError::InvalidUtf8)?;
        Ok(Source::new(id, text))
    }

    fn file(&self, id: FileId) -> FileResult<Bytes> {
        if id == self.data_id {
            return Ok(self.data.clone());
        }
        self.beside_template(id).map(Bytes::new)
    }

    fn font(&self, index: usize) -> Option<Font> {
        self.typesetter.fonts.get(index).cloned()
    }

    fn today(&self, _offset: Option<i64>) -> Option<Datetime> {
        self.today
    }
}

/// The monthly act as its template reads it (`/data.json`); every figure is the act page's.
#[derive(Debug, Clone, Serialize)]
pub struct ActDocument {
    /// «Акт о предоставлении социальных услуг».
    pub title: String,
    /// The institution (`[documents] institution`), empty where none is configured.
    pub institution: String,
    /// The site (отделение).
    pub unit: String,
    /// The provider as the act names it: the institution and the site.
    pub provider: String,
    /// «ноябрь 2026».
    pub month: String,
    /// The month's first and last days, «01.11.2026».
    pub from: String,
    pub to: String,
    pub made_on: String,
    pub recipient: ActRecipient,
    /// «действует с 01.09.2026 по 31.08.2027», or none.
    pub programme: Option<String>,
    pub lines: Vec<ActDocumentLine>,
    pub total: usize,
}

/// Who the act is for.
#[derive(Debug, Clone, Serialize)]
pub struct ActRecipient {
    pub full_name: String,
    pub birth_date: Option<String>,
    pub representative: Option<String>,
}

/// A service of the act.
#[derive(Debug, Clone, Serialize)]
pub struct ActDocumentLine {
    pub number: usize,
    pub code: String,
    pub title: String,
    /// «02.11, 05.11, 09.11».
    pub dates: String,
    pub given: usize,
    /// «2 в неделю»; none: not in the programme.
    pub plan: Option<String>,
    /// The shortfalls and the running period, as the page words them.
    pub notes: Vec<String>,
}

/// A group's month of the journal as its template reads it.
#[derive(Debug, Clone, Serialize)]
pub struct JournalDocument {
    /// «Журнал учёта социальных услуг».
    pub title: String,
    pub institution: String,
    pub unit: String,
    pub provider: String,
    pub group: String,
    /// The group's service: «001 Социально-бытовые…».
    pub group_service: String,
    pub month: String,
    pub from: String,
    pub to: String,
    pub made_on: String,
    pub sessions: Vec<JournalDocumentRow>,
    pub members: Vec<JournalDocumentMember>,
    pub total_sessions: usize,
    pub total_units: usize,
}

/// A session of the group's month.
#[derive(Debug, Clone, Serialize)]
pub struct JournalDocumentRow {
    pub number: usize,
    pub date: String,
    pub weekday: String,
    /// «10:00–11:30».
    pub time: String,
    pub code: String,
    pub service: String,
    pub instructor: String,
    /// Everyone who took part, by name, as the page lists them.
    pub participants: String,
    /// How many of them are the group's members.
    pub members_present: usize,
    pub head_count: Option<u32>,
    pub units: usize,
    /// The session's marks, «закрыто автоматически; меньше минимума группы».
    pub marks: String,
}

/// A member of the group with the month's sessions they took part in.
#[derive(Debug, Clone, Serialize)]
pub struct JournalDocumentMember {
    pub name: String,
    pub sessions: usize,
    pub units: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fonts() -> PathBuf {
        PathBuf::from(DEFAULT_FONTS_DIR)
    }

    #[test]
    fn a_fonts_directory_without_fonts_is_named_with_the_package_to_install() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let e = Typesetter::new(dir.path(), None).err();
        let text = e.map(|e| e.to_string()).unwrap_or_default();
        assert!(text.contains("fonts-dejavu-core"), "{text}");
        assert!(text.contains(&dir.path().display().to_string()), "{text}");
        let e = Typesetter::new(Path::new("/nonexistent/fonts"), None).err();
        assert!(matches!(e, Some(PdfError::NoFonts { .. })), "{e:?}");
    }

    #[test]
    fn a_template_error_names_the_template_and_its_line() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(
            dir.path().join("act.typ"),
            "#let d = json(\"/data.json\")\n\nHello #d.nothing_here\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let t = Typesetter::new(&fonts(), Some(dir.path())).unwrap_or_else(|e| panic!("{e}"));
        let day = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap_or_default();
        let e = t
            .render(Template::Act, &serde_json::json!({"a": 1}), day)
            .err();
        let text = e.map(|e| e.to_string()).unwrap_or_default();
        assert!(text.starts_with("template act.typ: line 3:"), "{text}");
        // A template that names a font the directory lacks is refused, not drawn in boxes.
        std::fs::write(
            dir.path().join("act.typ"),
            "#set text(font: \"PT Astra Serif\")\nАкт\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let e = t.render(Template::Act, &serde_json::json!({}), day).err();
        assert!(
            matches!(&e, Some(PdfError::MissingFont { family, .. }) if family.contains("astra")),
            "{e:?}"
        );
        // Nothing outside the templates' directory can be read.
        std::fs::write(
            dir.path().join("act.typ"),
            "#read(\"../../../../../../etc/passwd\")\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let e = t.render(Template::Act, &serde_json::json!({}), day).err();
        assert!(matches!(e, Some(PdfError::Template { .. })), "{e:?}");
    }
}
