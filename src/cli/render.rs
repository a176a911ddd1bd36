//! Human rendering of diagnostics as source snippets (miette's graphical report).

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceSpan};
use warden::codes::Code;

use warden::diagnostic::{Diagnostic, Severity};
use warden::source::SourceMap;

/// A diagnostic borrowed together with the view of its file, in the shape miette renders.
struct Rendered<'a> {
    diagnostic: &'a Diagnostic,
    /// The file as shown (none for a file that is not text).
    source: Option<NamedSource<String>>,
    view: View,
    message: String,
    help: Option<String>,
}

impl std::fmt::Debug for Rendered<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::fmt::Display for Rendered<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
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
        self.help.as_ref().map(|h| Box::new(h) as Box<dyn std::fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        self.source.as_ref()?;
        let d = self.diagnostic;
        let span = |s: warden::source::Span| {
            let (start, end) = (self.view.start(s.start as usize), self.view.end(s.end.max(s.start) as usize));
            SourceSpan::from(start..end.max(start))
        };
        let clean = |t: &str| warden::diagnostic::for_terminal(t);
        let primary = LabeledSpan::new_primary_with_span(d.label.as_deref().map(clean), span(d.span));
        let related = d
            .related
            .iter()
            .filter(|l| l.span.file == d.span.file)
            // A label around the whole declaration adds nothing under the precise one.
            .filter(|l| !(l.span.start <= d.span.start && d.span.end <= l.span.end))
            .map(move |l| LabeledSpan::new_with_span(Some(clean(&l.message)), span(l.span)));
        Some(Box::new(std::iter::once(primary).chain(related)))
    }
}

/// Renders one diagnostic with its source snippet. Control characters in the
/// source and the message are shown, never sent to the terminal; long lines are
/// cut around what the diagnostic points at; a file that is not text shows no snippet.
pub fn render(diagnostic: &Diagnostic, sources: &SourceMap, color: bool) -> String {
    let file = sources.file(diagnostic.span.file);
    let spans: Vec<warden::source::Span> = std::iter::once(diagnostic.span)
        .chain(diagnostic.related.iter().map(|l| l.span))
        .filter(|s| s.file == diagnostic.span.file)
        .collect();
    let binary = file.invalid_utf8.is_some() || diagnostic.code == Code::E0007;
    let view = if binary { View::default() } else { View::new(&file.text, &spans) };
    let source = (!binary).then(|| {
        NamedSource::new(warden::diagnostic::clean(&file.path.display().to_string()), view.text.clone())
            .with_language("rules")
    });
    let message = warden::diagnostic::for_terminal(&diagnostic.message);
    let help = diagnostic.help.as_deref().map(warden::diagnostic::for_terminal);
    let rendered = Rendered { diagnostic, source, view, message, help };
    let theme = if color { GraphicalTheme::unicode() } else { GraphicalTheme::unicode_nocolor() };
    let handler = GraphicalReportHandler::new_themed(theme).with_width(110).with_links(false);
    let mut out = String::new();
    if handler.render_report(&mut out, &rendered).is_err() {
        out = format!("{}: {}\n", diagnostic.code, warden::diagnostic::clean(&diagnostic.message));
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

/// Lines longer than this many bytes are cut around what a diagnostic points at.
const LONG_LINE: usize = 200;
/// Bytes kept on each side of a span's start and end on a long line.
const AROUND: usize = 40;

/// The text a snippet shows, and where each byte of the file went in it: control
/// characters made visible, and long lines cut to the parts around the spans.
#[derive(Clone, Debug, Default)]
struct View {
    text: String,
    /// Replaced ranges of the file, in order: (start, end, length of the replacement in the view).
    edits: Vec<(usize, usize, usize)>,
}

impl View {
    fn new(text: &str, spans: &[warden::source::Span]) -> View {
        let mut edits: Vec<(usize, usize, String)> = Vec::new();
        let mut line_start = 0;
        for line in text.split_inclusive('\n') {
            let line_end = line_start + line.trim_end_matches(['\n', '\r']).len();
            if line_end - line_start > LONG_LINE {
                cut_line(text, line_start, line_end, spans, &mut edits);
            }
            line_start += line.len();
        }
        // Unsafe characters outside the cut parts.
        let mut all: Vec<(usize, usize, String)> = Vec::new();
        let mut cuts = edits.into_iter().peekable();
        for (i, c) in text.char_indices() {
            while cuts.peek().is_some_and(|(_, end, _)| *end <= i) {
                all.extend(cuts.next());
            }
            if cuts.peek().is_some_and(|(start, _, _)| *start <= i) {
                continue;
            }
            let crlf = c == '\r' && text[i + 1..].starts_with('\n');
            if warden::diagnostic::is_unsafe_char(c) && !crlf {
                all.push((i, i + c.len_utf8(), warden::diagnostic::visible_char(c)));
            }
        }
        all.extend(cuts);
        let mut view = String::with_capacity(text.len().min(1 << 16));
        let mut at = 0;
        let mut out = Vec::with_capacity(all.len());
        for (start, end, replacement) in all {
            view.push_str(&text[at..start]);
            view.push_str(&replacement);
            out.push((start, end, replacement.len()));
            at = end;
        }
        view.push_str(&text[at..]);
        View { text: view, edits: out }
    }

    /// Where a span starting at `offset` starts in the view.
    fn start(&self, offset: usize) -> usize {
        self.map(offset, false)
    }

    /// Where a span ending at `offset` ends in the view.
    fn end(&self, offset: usize) -> usize {
        self.map(offset, true)
    }

    fn map(&self, offset: usize, end: bool) -> usize {
        let mut shift: isize = 0;
        for &(start, stop, len) in &self.edits {
            if offset <= start {
                break;
            }
            if offset >= stop {
                shift += len as isize - (stop - start) as isize;
                continue;
            }
            // Inside a cut: a start goes to the cut's beginning, an end past its `…`.
            let base = (start as isize + shift) as usize;
            return if end { base + len } else { base };
        }
        (offset as isize + shift) as usize
    }
}

/// The edits that cut one long line to the parts around the spans on it.
fn cut_line(
    text: &str,
    line_start: usize,
    line_end: usize,
    spans: &[warden::source::Span],
    edits: &mut Vec<(usize, usize, String)>,
) {
    let clamp = |i: usize| i.clamp(line_start, line_end);
    let floor = |i: usize| text.floor_char_boundary(clamp(i));
    let ceil = |i: usize| text.ceil_char_boundary(clamp(i));
    let mut keep: Vec<(usize, usize)> = Vec::new();
    for s in spans {
        let (start, end) = (s.start as usize, (s.end as usize).max(s.start as usize));
        if end < line_start || start > line_end {
            continue;
        }
        if (line_start..=line_end).contains(&start) {
            keep.push((
                floor(start.saturating_sub(AROUND)),
                ceil(start.saturating_add(AROUND).min(end.max(start + 1))),
            ));
        }
        if (line_start..=line_end).contains(&end) {
            keep.push((floor(end.saturating_sub(AROUND / 2).max(start)), ceil(end + AROUND)));
        }
    }
    if keep.is_empty() {
        keep.push((line_start, ceil(line_start + 2 * AROUND)));
    }
    keep.sort();
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for (a, b) in keep {
        match merged.last_mut() {
            Some((_, last)) if a <= *last => *last = (*last).max(b),
            _ => merged.push((a, b)),
        }
    }
    let mut at = line_start;
    for (a, b) in merged {
        if a > at {
            edits.push((at, a, "…".to_string()));
        }
        at = at.max(b);
    }
    if at < line_end {
        edits.push((at, line_end, "…".to_string()));
    }
}

#[cfg(test)]
mod tests {
    use warden::diagnostic::Diagnostic;
    use warden::source::{SourceMap, Span};

    /// Random texts (long lines, multibyte and control characters) and random spans on
    /// character boundaries: rendering never panics, never lets an escape through, and
    /// keeps a long line short.
    #[test]
    fn any_text_and_span_render_safely() {
        let pieces = ["a", "é", "€", "\u{1b}", "\t", "\n", "x".repeat(300).leak(), "\r\n", "'s'", "\u{202e}", "🦀"];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        for _ in 0..300 {
            let text: String = (0..next(30) + 1).map(|_| pieces[next(pieces.len())]).collect();
            let bounds: Vec<usize> = (0..=text.len()).filter(|&i| text.is_char_boundary(i)).collect();
            let (a, b) = (bounds[next(bounds.len())], bounds[next(bounds.len())]);
            let mut sources = SourceMap::new();
            let file = sources.add("t.rules", text.clone());
            let d = Diagnostic::error(
                warden::codes::Code::E0001,
                "a message with \u{1b}[31m in it",
                Span::new(file, a.min(b), a.max(b)),
            )
            .with_related(Span::new(file, bounds[next(bounds.len())], bounds[bounds.len() - 1]), "there");
            let out = super::render(&d, &sources, false);
            assert!(!out.contains('\u{1b}'), "{out:?}");
            assert!(!out.contains('\u{202e}'), "{out:?}");
            assert!(out.lines().all(|l| l.chars().count() < 400), "{out}");
        }
    }
}
