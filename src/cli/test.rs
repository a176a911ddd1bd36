//! `warden test`: run every test block, one line per test, failures with their span.

use std::path::PathBuf;
use std::process::ExitCode;

use warden::diagnostic::Diagnostic;
use warden::eval::test::run_tests;
use warden::load;

use super::{check::print_diagnostics, render, usage_error, FAILED};
use crate::Format;

/// Runs `warden test`.
pub fn run(paths: &[PathBuf], filter: Option<&str>, format: Format, color: bool) -> ExitCode {
    let checked = match load::load_paths(paths) {
        Ok(c) => c,
        Err(e) => return usage_error(e),
    };
    let program = &checked.program;
    if checked.has_errors() {
        print_diagnostics(
            &checked.diagnostics,
            &program.sources,
            if format == Format::Json { Format::Json } else { Format::Human },
            color,
            "check",
        );
        eprintln!("the rules do not check; no test was run");
        return ExitCode::from(FAILED);
    }
    let results = run_tests(program, filter);
    let passed = results.iter().filter(|r| r.outcome == "passed").count();
    let failed = results.len() - passed;
    match format {
        Format::Json => {
            let doc = serde_json::json!({ "tests": results, "passed": passed, "failed": failed });
            println!("{doc}");
        }
        Format::Human | Format::Sarif => {
            for r in &results {
                let mark = if r.outcome == "passed" { "ok    " } else { "FAILED" };
                println!("{mark} {}:{} {}", r.file, r.line, r.name);
                for line in &r.log {
                    println!("         log: {line}");
                }
                if let Some(e) = &r.failure {
                    let d: Diagnostic = e.clone().into();
                    for line in render::render(&d, &program.sources, color).lines() {
                        println!("    {line}");
                    }
                }
            }
            println!("{passed} passed, {failed} failed");
        }
    }
    if failed > 0 {
        ExitCode::from(FAILED)
    } else {
        ExitCode::SUCCESS
    }
}
