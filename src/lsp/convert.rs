//! Between warden's byte spans and the protocol's positions (lines from 0, columns in UTF-16
//! code units), paths and URIs, and diagnostics.

use std::path::{Path, PathBuf};

use lsp_types as lt;

use super::workspace::Doc;
use crate::diagnostic::{Diagnostic, Severity};
use crate::source::Span;

/// The path of a `file:` URI.
pub(crate) fn path_of(uri: &lt::Url) -> Option<PathBuf> {
    uri.to_file_path().ok()
}

/// The `file:` URI of a path (made absolute against the current directory).
pub(crate) fn uri_of(path: &Path) -> lt::Url {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().map(|d| d.join(path)).unwrap_or_else(|_| path.to_path_buf())
    };
    lt::Url::from_file_path(&absolute).unwrap_or_else(|()| {
        // INVARIANT: a constant URI parses.
        #[expect(clippy::expect_used, reason = "a constant URI")]
        lt::Url::parse("file:///").expect("a URI")
    })
}

/// The position of a byte offset.
pub(crate) fn position(text: &str, lines: &[usize], offset: usize) -> lt::Position {
    let offset = text.floor_char_boundary(offset.min(text.len()));
    let line = lines.partition_point(|&s| s <= offset).saturating_sub(1);
    let start = lines.get(line).copied().unwrap_or(0).min(offset);
    let character = text[start..offset].encode_utf16().count();
    lt::Position { line: line as u32, character: character as u32 }
}

/// The byte offset of a position (clamped to its line and to the text).
pub(crate) fn offset(text: &str, lines: &[usize], position: lt::Position) -> usize {
    let Some(&start) = lines.get(position.line as usize) else { return text.len() };
    let end = lines.get(position.line as usize + 1).copied().unwrap_or(text.len());
    let mut units = 0u32;
    for (i, c) in text[start..end].char_indices() {
        if units >= position.character || c == '\n' {
            return start + i;
        }
        units += c.len_utf16() as u32;
    }
    end
}

/// The range of a byte range of a doc.
pub(crate) fn range(doc: &Doc, start: usize, end: usize) -> lt::Range {
    lt::Range { start: position(&doc.text, &doc.lines, start), end: position(&doc.text, &doc.lines, end) }
}

/// The range of a span of a doc's current text.
pub(crate) fn span_range(docs: &[Doc], span: Span) -> lt::Range {
    match docs.get(span.file.0 as usize) {
        Some(doc) => range(doc, span.start as usize, span.end as usize),
        None => lt::Range::default(),
    }
}

/// The location of a span.
pub(crate) fn location(docs: &[Doc], span: Span) -> Option<lt::Location> {
    let doc = docs.get(span.file.0 as usize)?;
    Some(lt::Location { uri: uri_of(&doc.path), range: range(doc, span.start as usize, span.end as usize) })
}

/// The URI of a code's explanation (`warden explain-code CODE`; the server answers the custom
/// request `warden/explainCode` with its text).
pub(crate) fn explanation_uri(code: crate::codes::Code) -> Option<lt::Url> {
    lt::Url::parse(&format!("warden-explain-code:{code}")).ok()
}

/// A diagnostic in the protocol's form: its code with the link to its explanation, the help
/// line after the message, the label and the secondary spans as related information.
pub(crate) fn diagnostic(d: &Diagnostic, docs: &[Doc]) -> lt::Diagnostic {
    let severity = match d.severity {
        Severity::Error => lt::DiagnosticSeverity::ERROR,
        Severity::Warning => lt::DiagnosticSeverity::WARNING,
        Severity::Info => lt::DiagnosticSeverity::INFORMATION,
    };
    let mut message = d.message.clone();
    if let Some(help) = &d.help {
        message.push_str("\nhelp: ");
        message.push_str(help);
    }
    let related: Vec<lt::DiagnosticRelatedInformation> = d
        .related
        .iter()
        .filter_map(|l| {
            Some(lt::DiagnosticRelatedInformation { location: location(docs, l.span)?, message: l.message.clone() })
        })
        .chain(d.label.iter().filter_map(|label| {
            Some(lt::DiagnosticRelatedInformation { location: location(docs, d.span)?, message: label.clone() })
        }))
        .collect();
    lt::Diagnostic {
        range: span_range(docs, d.span),
        severity: Some(severity),
        code: Some(lt::NumberOrString::String(d.code.to_string())),
        code_description: explanation_uri(d.code).map(|href| lt::CodeDescription { href }),
        source: Some("warden".into()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        tags: None,
        data: d.help.as_ref().map(|h| serde_json::json!({ "help": h })),
    }
}
