//! `warden audit`: the security review of anonymous access.

use std::path::PathBuf;
use std::process::ExitCode;

use warden::diagnostic::Severity;
use warden::load;

use super::output::Out;
use super::{check::print_diagnostics, render, FAILED};
use crate::Format;

/// Runs `warden audit`.
pub fn run(paths: &[PathBuf], out: Out, fail_on: Severity) -> ExitCode {
    let checked = match load::load_paths(paths) {
        Ok(c) => c,
        Err(e) => return out.io(e),
    };
    let sources = &checked.program.sources;
    if checked.has_errors() {
        return out.rules(&checked.diagnostics, sources, "the rules do not check; fix them before auditing");
    }
    let findings = warden::audit::audit(&checked.program);
    print_diagnostics(&findings, sources, &out, "findings");
    if out.format == Format::Human && !out.quiet {
        eprintln!("audit: {}", render::summary(&findings));
    }
    if findings.iter().any(|f| f.severity >= fail_on) {
        ExitCode::from(FAILED)
    } else {
        ExitCode::SUCCESS
    }
}
