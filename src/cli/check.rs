//! `warden check`: parse and type-check, print every diagnostic.

use std::path::PathBuf;
use std::process::ExitCode;

use warden::diagnostic::Diagnostic;
use warden::load;
use warden::source::SourceMap;

use super::output::Out;
use super::{render, FAILED};
use crate::Format;

/// Runs `warden check`.
pub fn run(paths: &[PathBuf], out: Out) -> ExitCode {
    let checked = match load::load_paths(paths) {
        Ok(c) => c,
        Err(e) => return out.io(e),
    };
    let sources = &checked.program.sources;
    let shown: Vec<Diagnostic> = if out.quiet && out.format == Format::Human {
        checked.diagnostics.iter().filter(|d| d.is_error()).cloned().collect()
    } else {
        checked.diagnostics.clone()
    };
    print_diagnostics(&shown, sources, &out, "diagnostics");
    if out.format == Format::Human && !out.quiet {
        let files = sources.files().count();
        let plural = if files == 1 { "" } else { "s" };
        eprintln!("checked {files} file{plural}: {}", render::summary(&checked.diagnostics));
    }
    if checked.has_errors() {
        ExitCode::from(FAILED)
    } else {
        ExitCode::SUCCESS
    }
}

/// Prints diagnostics in the chosen format: human to stderr, JSON (under `key`) and SARIF to stdout.
pub fn print_diagnostics(diagnostics: &[Diagnostic], sources: &SourceMap, out: &Out, key: &'static str) {
    match out.format {
        Format::Human => {
            for d in diagnostics {
                eprint!("{}", render::render(d, sources, out.color));
            }
        }
        Format::Json => {
            let list: Vec<_> = diagnostics.iter().map(|d| serde_json::json!(d.to_json(sources))).collect();
            out.print(&out.document([(key, serde_json::Value::Array(list))]));
        }
        Format::Sarif => out.print(&warden::sarif::to_sarif(diagnostics, sources)),
    }
}
