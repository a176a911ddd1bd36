//! Human rendering of diagnostics as source snippets (miette's graphical report).

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceSpan};

use warden::diagnostic::{Diagnostic, Severity};
use warden::source::SourceMap;

/// A diagnostic borrowed together with its file, in the shape miette renders.
struct Rendered<'a> {
    diagnostic: &'a Diagnostic,
    source: NamedSource<String>,
}

impl std::fmt::Debug for Rendered<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.diagnostic.message)
    }
}

impl std::fmt::Display for Rendered<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.diagnostic.message)
    }
}

impl std::error::Error for Rendered<'_> {}

impl miette::Diagnostic for Rendered<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn std::fmt::Display + 'b>> {
        Some(Box::new(self.diagnostic.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diagnostic.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
            Severity::Info => miette::Severity::Advice,
        })
    }

    fn help<'b>(&'b self) -> Option<Box<dyn std::fmt::Display + 'b>> {
        self.diagnostic.help.as_ref().map(|h| Box::new(h) as Box<dyn std::fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.source)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let d = self.diagnostic;
        let span = |s: warden::source::Span| SourceSpan::from(s.start as usize..s.end.max(s.start) as usize);
        let primary = LabeledSpan::new_primary_with_span(d.label.clone(), span(d.span));
        let related = d
            .related
            .iter()
            .filter(|l| l.span.file == d.span.file)
            // A label around the whole declaration adds nothing under the precise one.
            .filter(|l| !(l.span.start <= d.span.start && d.span.end <= l.span.end))
            .map(move |l| LabeledSpan::new_with_span(Some(l.message.clone()), span(l.span)));
        Some(Box::new(std::iter::once(primary).chain(related)))
    }
}

/// Renders one diagnostic with its source snippet.
pub fn render(diagnostic: &Diagnostic, sources: &SourceMap, color: bool) -> String {
    let file = sources.file(diagnostic.span.file);
    let source = NamedSource::new(file.path.display().to_string(), file.text.clone()).with_language("rules");
    let rendered = Rendered { diagnostic, source };
    let theme = if color { GraphicalTheme::unicode() } else { GraphicalTheme::unicode_nocolor() };
    let handler = GraphicalReportHandler::new_themed(theme).with_width(110).with_links(false);
    let mut out = String::new();
    if handler.render_report(&mut out, &rendered).is_err() {
        out = format!("{}: {}\n", diagnostic.code, diagnostic.message);
    }
    out
}

/// `N errors, N warnings` for a summary line.
pub fn summary(diagnostics: &[Diagnostic]) -> String {
    let count = |s: Severity| diagnostics.iter().filter(|d| d.severity == s).count();
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let mut parts = vec![plural(count(Severity::Error), "error"), plural(count(Severity::Warning), "warning")];
    let infos = count(Severity::Info);
    if infos > 0 {
        parts.push(plural(infos, "note"));
    }
    parts.join(", ")
}
