//! `warden test`: run every test and snapshot block, one line each, failures
//! with their span or their diff.

use std::path::PathBuf;
use std::process::ExitCode;

use warden::diagnostic::Diagnostic;
use warden::eval::test::{run_tests_with, Backend};
use warden::load;
use warden::snapshot::check_snapshots_with;

use super::{check::print_diagnostics, render, usage_error, FAILED};
use crate::Format;

/// Runs `warden test`.
pub fn run(
    paths: &[PathBuf],
    filter: Option<&str>,
    accept: bool,
    backend: Backend,
    max_steps: u64,
    format: Format,
    color: bool,
) -> ExitCode {
    let checked = match load::load_paths(paths) {
        Ok(c) => c,
        Err(e) => return usage_error(e),
    };
    let program = &checked.program;
    if checked.has_errors() {
        let shown = if format == Format::Json { Format::Json } else { Format::Human };
        print_diagnostics(&checked.diagnostics, &program.sources, shown, color, "check");
        eprintln!("the rules do not check; no test was run");
        return ExitCode::from(FAILED);
    }
    let results = run_tests_with(program, filter, backend, max_steps);
    let snapshots = match check_snapshots_with(program, filter, accept, backend, max_steps) {
        Ok(s) => s,
        Err(e) => return usage_error(format!("cannot read or write a snapshot file: {e}")),
    };
    let passed = results.iter().filter(|r| r.outcome == "passed").count()
        + snapshots.iter().filter(|s| s.outcome == "passed").count();
    let failed = results.len() + snapshots.len() - passed;
    match format {
        Format::Json => {
            let mut tests: Vec<serde_json::Value> = results
                .iter()
                .map(|r| {
                    serde_json::json!({ "kind": "test", "name": r.name, "file": r.file, "line": r.line, "outcome": r.outcome, "message": r.message })
                })
                .collect();
            tests.extend(snapshots.iter().map(|s| {
                serde_json::json!({
                    "kind": "snapshot", "name": s.name, "file": s.file.display().to_string(), "line": s.line,
                    "outcome": s.outcome, "message": s.message,
                })
            }));
            println!("{}", serde_json::json!({ "tests": tests, "passed": passed, "failed": failed }));
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
            for s in &snapshots {
                let mark = match s.outcome {
                    "passed" => "ok    ",
                    "new" => "NEW   ",
                    _ => "FAILED",
                };
                println!("{mark} {}:{} snapshot '{}'", s.file.display(), s.line, s.name);
                if let Some(m) = &s.message {
                    println!("         {m}");
                }
                print_diff(&s.diff, color);
            }
            if snapshots.iter().any(|s| s.outcome != "passed") {
                println!("new snapshot text is in the .snap.new files; accept it with `warden test --accept`");
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

/// Prints a line diff with two lines of context around each change.
fn print_diff(diff: &[(char, String)], color: bool) {
    const CONTEXT: usize = 2;
    let changed: Vec<usize> = diff.iter().enumerate().filter(|(_, (t, _))| *t != ' ').map(|(i, _)| i).collect();
    let near = |i: usize| changed.iter().any(|&c| c.abs_diff(i) <= CONTEXT);
    let mut skipped = false;
    for (i, (tag, line)) in diff.iter().enumerate() {
        if !near(i) {
            if !skipped {
                println!("         ...");
                skipped = true;
            }
            continue;
        }
        skipped = false;
        let text = format!("         {tag} {line}");
        match (*tag, color) {
            ('-', true) => println!("\x1b[31m{text}\x1b[0m"),
            ('+', true) => println!("\x1b[32m{text}\x1b[0m"),
            _ => println!("{text}"),
        }
    }
}
