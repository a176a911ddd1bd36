//! `warden audit`: the security review of anonymous access.

use std::path::PathBuf;
use std::process::ExitCode;

use warden::diagnostic::Severity;
use warden::load;

use super::{check::print_diagnostics, render, usage_error, FAILED};
use crate::Format;

/// Runs `warden audit`.
pub fn run(paths: &[PathBuf], format: Format, fail_on: Severity, color: bool) -> ExitCode {
    let checked = match load::load_paths(paths) {
        Ok(c) => c,
        Err(e) => return usage_error(e),
    };
    let sources = &checked.program.sources;
    if checked.has_errors() {
        print_diagnostics(&checked.diagnostics, sources, Format::Human, color, "check");
        eprintln!("the rules do not check; fix them before auditing");
        return ExitCode::from(FAILED);
    }
    let findings = warden::audit::audit(&checked.program);
    print_diagnostics(&findings, sources, format, color, "audit");
    if format == Format::Human {
        eprintln!("audit: {}", render::summary(&findings));
    }
    if findings.iter().any(|f| f.severity >= fail_on) {
        ExitCode::from(FAILED)
    } else {
        ExitCode::SUCCESS
    }
}
