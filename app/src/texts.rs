//! The message catalogue: every sentence a person sees or hears, Russian first, English second.
//!
//! One gettext file, `config/i18n/en/LC_MESSAGES/otmetka-app.po`, holds both languages: the
//! `msgid` is the Russian text (Russian is the source language of the screens' `@tr()` and the
//! default at runtime) and the `msgstr` is the English one. The screens get it bundled by
//! `app/build.rs`; the voice and the texts Rust puts on screens (decisions, dates, counts) read it
//! here. Texts that Rust looks up carry a `msgctxt` key such as `decision.accepted.headline`;
//! the screens' own labels carry none.
//!
//! [`parse_po`] is a small pure parser with no dependency on the app, so that the journal server
//! can copy or share it.

use otmetka_core::decision::DecisionKind;
use std::collections::HashMap;

/// The catalogue as shipped, compiled into the binary.
pub const BUNDLED_PO: &str = include_str!("../../config/i18n/en/LC_MESSAGES/otmetka-app.po");

/// A language the kiosk speaks.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Russian: the source language and the default.
    #[default]
    Ru,
    /// English.
    En,
}

impl Lang {
    /// The language's code: the name of its folder under `config/i18n/` and `config/sounds/`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Ru => "ru",
            Lang::En => "en",
        }
    }
}

/// One entry of a `.po` file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PoEntry {
    pub context: Option<String>,
    pub id: String,
    pub plural_id: Option<String>,
    /// `msgstr` (or `msgstr[0..]` for plurals).
    pub strs: Vec<String>,
}

/// A `.po` file that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextsError {
    #[error("catalogue line {line}: {what}")]
    Syntax { line: usize, what: &'static str },
    #[error("catalogue has no text for `{0}`")]
    Missing(String),
}

/// Parses a gettext `.po` file: `msgctxt`, `msgid`, `msgid_plural`, `msgstr`, `msgstr[n]`,
/// continuation lines and the C escapes `\n \t \" \\`. Comments and the obsolete `#~` entries are
/// skipped; the header entry (empty `msgid`) is returned like any other.
pub fn parse_po(src: &str) -> Result<Vec<PoEntry>, TextsError> {
    #[derive(Clone, Copy, PartialEq)]
    enum Field {
        None,
        Ctxt,
        Id,
        Plural,
        Str(usize),
    }
    let mut out = Vec::new();
    let mut cur = PoEntry::default();
    let mut field = Field::None;
    let mut has_id = false;
    for (n, raw) in src.lines().enumerate() {
        let line = raw.trim();
        let lineno = n + 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (keyword, rest) = match line.find(char::is_whitespace) {
            Some(i) if !line.starts_with('"') => (&line[..i], line[i..].trim_start()),
            _ => ("", line),
        };
        let value = unquote(rest).ok_or(TextsError::Syntax {
            line: lineno,
            what: "expected a quoted string",
        })?;
        let new_field = match keyword {
            "" => {
                // A continuation of the previous field.
                match field {
                    Field::None => {
                        return Err(TextsError::Syntax {
                            line: lineno,
                            what: "string outside an entry",
                        });
                    }
                    Field::Ctxt => cur.context.get_or_insert_with(String::new).push_str(&value),
                    Field::Id => cur.id.push_str(&value),
                    Field::Plural => cur
                        .plural_id
                        .get_or_insert_with(String::new)
                        .push_str(&value),
                    Field::Str(i) => {
                        if let Some(s) = cur.strs.get_mut(i) {
                            s.push_str(&value)
                        }
                    }
                }
                continue;
            }
            "msgctxt" => Field::Ctxt,
            "msgid" => Field::Id,
            "msgid_plural" => Field::Plural,
            "msgstr" => Field::Str(0),
            k if k.starts_with("msgstr[") && k.ends_with(']') => {
                let i = k["msgstr[".len()..k.len() - 1]
                    .parse::<usize>()
                    .map_err(|_| TextsError::Syntax {
                        line: lineno,
                        what: "bad plural index",
                    })?;
                Field::Str(i)
            }
            _ => {
                return Err(TextsError::Syntax {
                    line: lineno,
                    what: "unknown keyword",
                });
            }
        };
        // A msgctxt, or a msgid not after a msgctxt, starts a new entry.
        let starts_entry = match new_field {
            Field::Ctxt => true,
            Field::Id => field != Field::Ctxt,
            _ => false,
        };
        if starts_entry && has_id {
            out.push(std::mem::take(&mut cur));
            has_id = false;
        }
        match new_field {
            Field::Ctxt => cur.context = Some(value),
            Field::Id => {
                cur.id = value;
                has_id = true;
            }
            Field::Plural => cur.plural_id = Some(value),
            Field::Str(i) => {
                if !has_id {
                    return Err(TextsError::Syntax {
                        line: lineno,
                        what: "msgstr before msgid",
                    });
                }
                if cur.strs.len() <= i {
                    cur.strs.resize(i + 1, String::new());
                }
                cur.strs[i] = value;
            }
            Field::None => {}
        }
        field = new_field;
    }
    if has_id {
        out.push(cur);
    }
    Ok(out)
}

fn unquote(s: &str) -> Option<String> {
    let inner = s.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                '"' => out.push('"'),
                '\\' => out.push('\\'),
                _ => return None,
            }
        } else if c == '"' {
            return None;
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// The texts of one decision kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionTexts {
    /// The big line: "Вы отмечены", "Карта не найдена".
    pub headline: String,
    /// One short sentence: why, and what to do.
    pub reason: String,
    /// What the voice says after the name (the fixed clip `config/sounds/<lang>/<kind>.wav`).
    pub voice: String,
}

/// The catalogue in one language.
#[derive(Debug, Clone)]
pub struct Texts {
    lang: Lang,
    /// msgctxt → (Russian, English).
    keyed: HashMap<String, (String, String)>,
    /// Russian msgid (no context) → English.
    plain: HashMap<String, String>,
}

impl Texts {
    /// The bundled catalogue in `lang`.
    pub fn bundled(lang: Lang) -> Texts {
        // The bundled file is checked by the tests; an error here would be a build defect, and
        // an empty catalogue still yields the keys (visible, not a crash).
        Texts::from_po(BUNDLED_PO, lang).unwrap_or_else(|_| Texts {
            lang,
            keyed: HashMap::new(),
            plain: HashMap::new(),
        })
    }

    /// A catalogue from the text of a `.po` file.
    pub fn from_po(src: &str, lang: Lang) -> Result<Texts, TextsError> {
        let mut keyed = HashMap::new();
        let mut plain = HashMap::new();
        for e in parse_po(src)? {
            let en = e.strs.first().cloned().unwrap_or_default();
            match e.context {
                Some(ctx) => {
                    keyed.insert(ctx, (e.id, en));
                }
                None if !e.id.is_empty() => {
                    plain.insert(e.id, en);
                }
                None => {}
            }
        }
        Ok(Texts { lang, keyed, plain })
    }

    /// The language of this catalogue.
    pub fn lang(&self) -> Lang {
        self.lang
    }

    /// The same catalogue in another language.
    pub fn with_lang(&self, lang: Lang) -> Texts {
        Texts {
            lang,
            ..self.clone()
        }
    }

    /// The text under `key` (a `msgctxt`), or `None` where the catalogue lacks it. English falls
    /// back to Russian where its translation is empty.
    pub fn try_get(&self, key: &str) -> Option<&str> {
        let (ru, en) = self.keyed.get(key)?;
        Some(match self.lang {
            Lang::En if !en.is_empty() => en,
            _ => ru,
        })
    }

    /// The text under `key`; the key itself where the catalogue lacks it (visible, never silent).
    pub fn get(&self, key: &str) -> String {
        self.try_get(key).unwrap_or(key).to_string()
    }

    /// `get(key)` with `{name}` placeholders replaced.
    pub fn format(&self, key: &str, args: &[(&str, &str)]) -> String {
        let mut s = self.get(key);
        for (name, value) in args {
            s = s.replace(&format!("{{{name}}}"), value);
        }
        s
    }

    /// A screen label by its Russian text, as `@tr()` translates it.
    pub fn tr(&self, russian: &str) -> String {
        match self.lang {
            Lang::En => match self.plain.get(russian) {
                Some(en) if !en.is_empty() => en.clone(),
                _ => russian.to_string(),
            },
            Lang::Ru => russian.to_string(),
        }
    }

    /// The Russian and English texts under `key`, for checks.
    pub fn both(&self, key: &str) -> Option<(&str, &str)> {
        self.keyed.get(key).map(|(r, e)| (r.as_str(), e.as_str()))
    }

    /// The fixed texts of a decision kind (the reason without its parameters).
    pub fn decision(&self, kind: DecisionKind) -> DecisionTexts {
        let k = kind.as_str();
        DecisionTexts {
            headline: self.get(&format!("decision.{k}.headline")),
            reason: self.get(&format!("decision.{k}.reason")),
            voice: self.get(&format!("decision.{k}.voice")),
        }
    }

    /// Every key (msgctxt) in the catalogue.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.keyed.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_context_continuations_and_escapes() {
        let po = r#"
# comment
msgid ""
msgstr ""
"Language: en\n"

msgctxt "decision.accepted.headline"
msgid "Вы отмечены"
msgstr "You are checked in"

msgid "Длинная "
"строка \"в кавычках\""
msgstr "A long "
"line"

msgid "{n} человек"
msgid_plural "{n} человека"
msgstr[0] "{n} person"
msgstr[1] "{n} people"
"#;
        let e = parse_po(po).unwrap();
        assert_eq!(e.len(), 4);
        assert_eq!(e[0].id, "");
        assert_eq!(e[0].strs[0], "Language: en\n");
        assert_eq!(e[1].context.as_deref(), Some("decision.accepted.headline"));
        assert_eq!(e[1].strs[0], "You are checked in");
        assert_eq!(e[2].id, "Длинная строка \"в кавычках\"");
        assert_eq!(e[2].strs[0], "A long line");
        assert_eq!(e[3].plural_id.as_deref(), Some("{n} человека"));
        assert_eq!(e[3].strs, vec!["{n} person", "{n} people"]);
    }

    #[test]
    fn rejects_broken_lines() {
        assert!(matches!(
            parse_po("msgid \"a\nmsgstr \"b\""),
            Err(TextsError::Syntax { line: 1, .. })
        ));
        assert!(parse_po("msgstr \"b\"").is_err());
        assert!(parse_po("bogus \"b\"").is_err());
        assert!(parse_po("msgid \"bad \\q escape\"").is_err());
    }

    #[test]
    fn looks_up_by_language_with_fallback() {
        let po = "msgctxt \"a\"\nmsgid \"А\"\nmsgstr \"A\"\n\nmsgctxt \"b\"\nmsgid \"Б\"\nmsgstr \"\"\n\nmsgid \"Назад\"\nmsgstr \"Back\"\n";
        let ru = Texts::from_po(po, Lang::Ru).unwrap();
        let en = ru.with_lang(Lang::En);
        assert_eq!(ru.get("a"), "А");
        assert_eq!(en.get("a"), "A");
        assert_eq!(en.get("b"), "Б");
        assert_eq!(en.get("missing"), "missing");
        assert_eq!(en.tr("Назад"), "Back");
        assert_eq!(ru.tr("Назад"), "Назад");
    }

    #[test]
    fn every_decision_kind_has_russian_and_english_texts() {
        let t = Texts::bundled(Lang::Ru);
        for kind in DecisionKind::ALL {
            for part in ["headline", "reason", "voice"] {
                let key = format!("decision.{}.{part}", kind.as_str());
                let (ru, en) = t.both(&key).unwrap_or_else(|| panic!("no {key}"));
                assert!(
                    ru.chars()
                        .any(|c| ('а'..='я').contains(&c.to_lowercase().next().unwrap())),
                    "{key}: not Russian: {ru:?}"
                );
                assert!(
                    !en.is_empty() && en.is_ascii(),
                    "{key}: English missing: {en:?}"
                );
            }
        }
    }
}
