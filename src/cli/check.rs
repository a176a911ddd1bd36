//! `warden check`: parse and type-check, print every diagnostic.

use std::path::PathBuf;
use std::process::ExitCode;

use warden::diagnostic::Diagnostic;
use warden::load;
use warden::source::SourceMap;

use super::{render, usage_error, FAILED};
use crate::Format;

/// Runs `warden check`.
pub fn run(paths: &[PathBuf], format: Format, color: bool) -> ExitCode {
    let checked = match load::load_paths(paths) {
        Ok(c) => c,
        Err(e) => return usage_error(e),
    };
    let sources = &checked.program.sources;
    print_diagnostics(&checked.diagnostics, sources, format, color, "check");
    if format == Format::Human {
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

/// Prints diagnostics in the chosen format: human to stderr, JSON and SARIF to stdout.
pub fn print_diagnostics(diagnostics: &[Diagnostic], sources: &SourceMap, format: Format, color: bool, key: &str) {
    match format {
        Format::Human => {
            for d in diagnostics {
                eprint!("{}", render::render(d, sources, color));
            }
        }
        Format::Json => {
            let list: Vec<_> = diagnostics.iter().map(|d| d.to_json(sources)).collect();
            let key = if key == "check" { "diagnostics" } else { "findings" };
            println!("{}", serde_json::json!({ key: list }));
        }
        Format::Sarif => println!("{}", warden::sarif::to_sarif(diagnostics, sources)),
    }
}
