//! Diagnostics shared by every stage: a stable code, a severity, a message, an
//! optional help line and the span they point at.

pub mod suggest;

use serde::Serialize;

use crate::source::{SourceMap, Span};

pub use crate::codes::{Code, Severity};

/// A secondary place a diagnostic points at.
#[derive(Clone, Debug)]
pub struct Label {
    /// Where.
    pub span: Span,
    /// What is there.
    pub message: String,
}

/// One problem found in a program, a store or a run.
#[derive(Clone, Debug)]
pub struct Diagnostic {
    /// Stable code: `E0xxx` for syntax and check errors, `A0xx` for audit findings.
    pub code: Code,
    /// How serious.
    pub severity: Severity,
    /// Lowercase, no final period, user input in backticks.
    pub message: String,
    /// How to fix it, where a fix is known.
    pub help: Option<String>,
    /// The offending item.
    pub span: Span,
    /// What the primary label says under the span.
    pub label: Option<String>,
    /// Other places worth showing.
    pub related: Vec<Label>,
}

impl Diagnostic {
    /// An error.
    pub fn error(code: Code, message: impl Into<String>, span: Span) -> Diagnostic {
        let message = message.into();
        Diagnostic {
            code,
            severity: Severity::Error,
            message: shorten(&message).into_owned(),
            help: None,
            span,
            label: None,
            related: Vec::new(),
        }
    }

    /// A warning.
    pub fn warning(code: Code, message: impl Into<String>, span: Span) -> Diagnostic {
        Diagnostic { severity: Severity::Warning, ..Diagnostic::error(code, message, span) }
    }

    /// With a help line.
    pub(crate) fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(shorten(&help.into()).into_owned());
        self
    }

    /// With a help line when there is one.
    pub(crate) fn with_optional_help(mut self, help: Option<String>) -> Diagnostic {
        self.help = help.or(self.help);
        self
    }

    /// With a label under the primary span.
    pub(crate) fn with_label(mut self, label: impl Into<String>) -> Diagnostic {
        self.label = Some(label.into());
        self
    }

    /// With a secondary span.
    pub fn with_related(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.related.push(Label { span, message: message.into() });
        self
    }

    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The JSON form of `docs/cli.md`: code, severity, message, help, file, line, column, end_line, end_column.
    pub fn to_json(&self, sources: &SourceMap) -> JsonDiagnostic {
        let file = sources.file(self.span.file);
        let (line, column) = file.line_col(self.span.start as usize);
        let (end_line, end_column) = file.line_col(self.span.end as usize);
        JsonDiagnostic {
            code: self.code,
            severity: self.severity,
            message: self.message.clone(),
            help: self.help.clone(),
            file: file.path.display().to_string(),
            line,
            column,
            end_line,
            end_column,
        }
    }
}

/// A diagnostic as printed by `--format json`.
#[derive(Clone, Debug, Serialize)]
pub struct JsonDiagnostic {
    /// Stable code.
    pub code: Code,
    /// `error`, `warning` or `info`.
    pub severity: Severity,
    /// The message.
    pub message: String,
    /// The fix, or null.
    pub help: Option<String>,
    /// The file as given on the command line.
    pub file: String,
    /// First line, from 1.
    pub line: usize,
    /// First column, from 1.
    pub column: usize,
    /// Last line.
    pub end_line: usize,
    /// Column one past the end.
    pub end_column: usize,
}

/// One diagnostic in plain text: `E0105 error at 16:10 `Totl`: message`, then its help.
/// Used by snapshot tests and for terse output.
pub fn plain(d: &Diagnostic, sources: &SourceMap) -> String {
    let file = sources.file(d.span.file);
    let (line, column) = file.line_col(d.span.start as usize);
    let underlined = file.slice(d.span);
    let underlined = if underlined.len() > 60 {
        format!("{}...", &underlined[..underlined.floor_char_boundary(57)])
    } else {
        underlined.to_string()
    };
    let mut out =
        format!("{} {} at {line}:{column} `{}`: {}\n", d.code, d.severity, underlined.replace('\n', "\\n"), d.message);
    if let Some(help) = &d.help {
        out.push_str(&format!("  help: {help}\n"));
    }
    out
}

/// Sorts diagnostics by file and position, for stable output.
pub fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by_key(|d| (d.span.file, d.span.start, d.span.end, d.code));
}

/// The longest quoted value a message shows whole, in characters.
const LONGEST_VALUE: usize = 80;
/// How much of a longer value a message shows.
const VALUE_SHOWN: usize = 60;
/// The longest message, in characters, after its values are shortened.
const LONGEST_MESSAGE: usize = 2000;

/// A message with every long value in it shortened: a quoted string (`'...'`),
/// a JSON string (`"..."`) or quoted source (`` `...` ``) of more than 80
/// characters keeps its first 60, followed by `… (N characters)`; a message
/// still longer than 2,000 characters is cut the same way. A failing `expect`
/// on a 2 MB string says so in one line.
pub fn shorten(message: &str) -> std::borrow::Cow<'_, str> {
    if message.len() <= LONGEST_VALUE {
        return std::borrow::Cow::Borrowed(message);
    }
    let mut out = String::with_capacity(message.len().min(4 * LONGEST_MESSAGE));
    let mut rest = message;
    let mut changed = false;
    while let Some(at) = rest.find(['\'', '`', '"']) {
        let quote = rest.as_bytes()[at];
        let before = &rest[..at];
        // An apostrophe inside a word (`visitor's`) opens nothing.
        let opens = quote == b'`' || !before.chars().next_back().is_some_and(char::is_alphanumeric);
        let Some(len) = opens.then(|| quoted_len(&rest[at + 1..], quote)).flatten() else {
            out.push_str(&rest[..=at]);
            rest = &rest[at + 1..];
            continue;
        };
        out.push_str(before);
        let inner = &rest[at + 1..at + 1 + len];
        let q = quote as char;
        let count = inner.chars().count();
        if count > LONGEST_VALUE {
            let cut = inner.char_indices().nth(VALUE_SHOWN).map_or(inner.len(), |(i, _)| i);
            out.push_str(&format!("{q}{}{q}… ({count} characters)", &inner[..cut]));
            changed = true;
        } else {
            out.push(q);
            out.push_str(inner);
            out.push(q);
        }
        rest = &rest[at + 2 + len..];
    }
    out.push_str(rest);
    let count = out.chars().count();
    if count > LONGEST_MESSAGE {
        let cut = out.char_indices().nth(LONGEST_MESSAGE / 2).map_or(out.len(), |(i, _)| i);
        out = format!("{}… ({count} characters)", &out[..cut]);
        changed = true;
    }
    if changed {
        std::borrow::Cow::Owned(out)
    } else {
        std::borrow::Cow::Borrowed(message)
    }
}

/// The length in bytes of a quoted text up to its closing quote (`''` inside
/// single quotes is a quote, `\"` inside double quotes is one), or `None` when
/// it is not closed.
fn quoted_len(text: &str, quote: u8) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if quote == b'"' && bytes[i] == b'\\' {
            i += 2;
            continue;
        }
        if bytes[i] == quote {
            if quote == b'\'' && bytes.get(i + 1) == Some(&b'\'') {
                i += 2;
                continue;
            }
            return Some(i);
        }
        i += 1;
    }
    None
}

/// A name or path shown without quotes (a JSON path such as `objects[3].Total`,
/// a file name): more than 80 characters keep their first 60, followed by
/// `… (N characters)`.
pub fn shorten_name(name: &str) -> std::borrow::Cow<'_, str> {
    let count = name.chars().count();
    if count <= LONGEST_VALUE {
        return std::borrow::Cow::Borrowed(name);
    }
    let cut = name.char_indices().nth(VALUE_SHOWN).map_or(name.len(), |(i, _)| i);
    std::borrow::Cow::Owned(format!("{}… ({count} characters)", &name[..cut]))
}

/// A message as a terminal may show it: control characters made visible
/// ([`clean`]), then long values shortened ([`shorten`]).
pub fn for_terminal(message: &str) -> String {
    shorten(&clean(message)).into_owned()
}

/// Whether a character must not reach a terminal as it is: control characters
/// other than newline and tab (an escape sequence could recolour or rewrite the
/// screen), and the bidirectional overrides that reorder what is shown.
pub fn is_unsafe_char(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t') || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// How an unsafe character is shown: C0 controls as their control picture
/// (`␛` for ESC), others as `\u{..}`.
pub fn visible_char(c: char) -> String {
    match c as u32 {
        n @ 0..=0x1F => char::from_u32(0x2400 + n).map(String::from).unwrap_or_default(),
        0x7F => "\u{2421}".to_string(),
        n => format!("\\u{{{n:x}}}"),
    }
}

/// Text made safe for a terminal: every unsafe character (see [`is_unsafe_char`]) made visible.
pub fn clean(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(is_unsafe_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_unsafe_char(c) {
            out.push_str(&visible_char(c));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_shortened() {
        let long = "x".repeat(2_097_152);
        let message = format!("expected `$s = 'y'` to hold: '{long}' vs 'y'");
        let short = shorten(&message);
        assert_eq!(short, format!("expected `$s = 'y'` to hold: '{}'… (2097152 characters) vs 'y'", "x".repeat(60)));
    }

    #[test]
    fn short_messages_and_apostrophes_are_kept() {
        assert_eq!(shorten("unknown member `Totl`"), "unknown member `Totl`");
        let prose = format!("the visitor's cart holds {} and more", "a ".repeat(60));
        assert_eq!(shorten(&prose), prose);
        let doubled = format!("'{}'", "it''s ".repeat(20));
        assert!(shorten(&doubled).contains("… (120 characters)"), "{}", shorten(&doubled));
    }

    #[test]
    fn json_strings_and_names_are_shortened_too() {
        let long = "y".repeat(100_000);
        let message = format!("expected a whole number, found \"{long}\"");
        assert_eq!(
            shorten(&message),
            format!("expected a whole number, found \"{}\"… (100000 characters)", "y".repeat(60))
        );
        let escaped = format!("found \"a\\\"{long}\"");
        assert!(shorten(&escaped).ends_with("… (100003 characters)"), "{}", shorten(&escaped));
        assert_eq!(shorten_name("objects[3].Total"), "objects[3].Total");
        let path = format!("objects[3].{long}");
        assert_eq!(shorten_name(&path), format!("objects[3].{}… (100011 characters)", "y".repeat(49)));
        assert_eq!(
            for_terminal(&format!("`--as \u{1b}{long}`")),
            format!("`--as \u{241b}{}`… (100006 characters)", "y".repeat(54))
        );
    }

    #[test]
    fn a_long_message_without_quotes_is_cut() {
        let message = "word ".repeat(1000);
        let short = shorten(&message);
        assert!(short.ends_with("… (5000 characters)"), "{short}");
        assert!(short.chars().count() < 1100);
    }

    #[test]
    fn control_characters_are_made_visible() {
        assert_eq!(clean("a\u{1b}[31mred\tb\n"), "a\u{241b}[31mred\tb\n");
        assert_eq!(clean("\u{9b}x\u{202e}"), "\\u{9b}x\\u{202e}");
        assert!(matches!(clean("plain"), std::borrow::Cow::Borrowed(_)));
    }
}
