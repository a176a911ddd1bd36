//! `warden fmt`: rewrite files in the canonical layout.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use warden::diagnostic::Diagnostic;
use warden::source::SourceMap;

use super::{render, usage_error, FAILED};

/// Runs `warden fmt`.
pub fn run(paths: &[PathBuf], check: bool, stdout: bool, color: bool) -> ExitCode {
    let sources = match warden::load::read_sources(paths) {
        Ok(s) => s,
        Err(e) => return usage_error(e),
    };
    let mut changed = Vec::new();
    let mut broken = false;
    for (id, file) in sources.files() {
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
        if stdout {
            print!("{formatted}");
        } else if formatted != file.text {
            changed.push(file.path.clone());
            if !check {
                if let Err(e) = write_atomically(&file.path, &formatted) {
                    return usage_error(format!("cannot write `{}`: {e}", file.path.display()));
                }
            }
        }
    }
    report(&sources, &changed, check);
    if broken || (check && !changed.is_empty()) {
        ExitCode::from(FAILED)
    } else {
        ExitCode::SUCCESS
    }
}

fn report(_sources: &SourceMap, changed: &[PathBuf], check: bool) {
    for path in changed {
        if check {
            println!("{} would be reformatted", path.display());
        } else {
            eprintln!("formatted {}", path.display());
        }
    }
}

fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.fmt.tmp", std::process::id()));
    {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}
