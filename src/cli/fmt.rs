//! `warden fmt`: rewrite files in the canonical layout.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use warden::diagnostic::Diagnostic;
use warden::source::STDIN;

use super::{render, usage_error, FAILED};

/// What `warden fmt` does with the formatted text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Write it back (atomically); standard input goes to standard output.
    Write,
    /// List the files that would change.
    Check,
    /// Print a unified diff of what would change.
    Diff,
    /// Print it.
    Stdout,
}

/// Runs `warden fmt`.
pub fn run(paths: &[PathBuf], mode: Mode, color: bool, quiet: bool) -> ExitCode {
    let sources = match warden::load::read_sources(paths) {
        Ok(s) => s,
        Err(e) => return usage_error(e),
    };
    let mut changed = Vec::new();
    let mut broken = false;
    for (id, file) in sources.files() {
        let stdin = file.path == Path::new(STDIN);
        if let Some(d) = warden::load::not_text(id, file) {
            eprint!("{}", render::render(&d, &sources, color));
            broken = true;
            continue;
        }
        let formatted = match warden::fmt::format_source(&file.text) {
            Ok(text) => text,
            Err(e) => {
                // A file with a syntax error is never touched.
                let mut d: Diagnostic = e.into();
                d.span.file = id;
                eprint!("{}", render::render(&d, &sources, color));
                broken = true;
                continue;
            }
        };
        let differs = formatted != file.text;
        match mode {
            Mode::Stdout => print!("{formatted}"),
            Mode::Write if stdin => print!("{formatted}"),
            Mode::Write if differs => {
                if let Err(e) = warden::source::write_atomically(&file.path, &formatted) {
                    return usage_error(format!("cannot write `{}`: {e}", file.path.display()));
                }
                if !quiet {
                    eprintln!("formatted {}", file.path.display());
                }
            }
            Mode::Check if differs => println!("{} would be reformatted", file.path.display()),
            Mode::Diff if differs => print!("{}", unified_diff(&file.path, &file.text, &formatted)),
            Mode::Write | Mode::Check | Mode::Diff => {}
        }
        if differs {
            changed.push(file.path.clone());
        }
    }
    let found = matches!(mode, Mode::Check | Mode::Diff) && !changed.is_empty();
    if broken || found {
        ExitCode::from(FAILED)
    } else {
        ExitCode::SUCCESS
    }
}

/// A unified diff (three lines of context) from the file's text to the formatted text.
pub fn unified_diff(path: &Path, old: &str, new: &str) -> String {
    let name = path.display().to_string();
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{name}"), &format!("b/{name}"))
        .missing_newline_hint(true)
        .to_string()
}
