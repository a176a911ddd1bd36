//! Diagnostics shared by every stage: a stable code, a severity, a message, an
//! optional help line and the span they point at.

use serde::Serialize;

use crate::source::{SourceMap, Span};

/// How serious a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; never fails a command.
    Info,
    /// Probably a mistake; fails only with `--fail-on warning`.
    Warning,
    /// The program or data is wrong.
    Error,
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

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
    pub code: &'static str,
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
    pub fn error(code: &'static str, message: impl Into<String>, span: Span) -> Diagnostic {
        Diagnostic {
            code,
            severity: Severity::Error,
            message: message.into(),
            help: None,
            span,
            label: None,
            related: Vec::new(),
        }
    }

    /// A warning.
    pub fn warning(code: &'static str, message: impl Into<String>, span: Span) -> Diagnostic {
        Diagnostic { severity: Severity::Warning, ..Diagnostic::error(code, message, span) }
    }

    /// With a help line.
    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// With a help line when there is one.
    pub fn with_optional_help(mut self, help: Option<String>) -> Diagnostic {
        self.help = help.or(self.help);
        self
    }

    /// With a label under the primary span.
    pub fn with_label(mut self, label: impl Into<String>) -> Diagnostic {
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

    /// The JSON form of `CLI.md`: code, severity, message, help, file, line, column, end_line, end_column.
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
    pub code: &'static str,
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
