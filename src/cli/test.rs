//! `warden test`: run every test and snapshot block, one line each, failures
//! with their span or their diff.

use std::path::PathBuf;
use std::process::ExitCode;

use warden::diagnostic::Diagnostic;
use warden::eval::test::{run_tests_with, Backend};
use warden::load;
use warden::snapshot::check_snapshots_with;

use super::output::Out;
use super::{render, FAILED};
use crate::Format;
use warden::source::STDIN;

/// What `warden test` runs.
pub struct Run<'a> {
    /// Files or directories.
    pub paths: &'a [PathBuf],
    /// Only blocks whose name contains this.
    pub filter: Option<&'a str>,
    /// Take new snapshot text in.
    pub accept: bool,
    /// The store blocks run over.
    pub backend: Backend,
    /// The steps each top-level statement of a block may take.
    pub max_steps: u64,
}

/// Runs `warden test` once.
pub fn run(run: &Run<'_>, out: &Out) -> ExitCode {
    let checked = match load::load_paths(run.paths) {
        Ok(c) => c,
        Err(e) => return out.io(e),
    };
    let program = &checked.program;
    if checked.has_errors() {
        return out.rules(&checked.diagnostics, &program.sources, "the rules do not check; no test was run");
    }
    let results = run_tests_with(program, run.filter, run.backend, run.max_steps);
    let snapshots = match check_snapshots_with(program, run.filter, run.accept, run.backend, run.max_steps) {
        Ok(s) => s,
        Err(e) => return out.io(format!("cannot read or write a snapshot file: {e}")),
    };
    let passed = results.iter().filter(|r| r.outcome == "passed").count()
        + snapshots.iter().filter(|s| s.outcome == "passed").count();
    let failed = results.len() + snapshots.len() - passed;
    match out.format {
        Format::Json | Format::Sarif => {
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
            out.print(&out.document([
                ("tests", serde_json::Value::Array(tests)),
                ("passed", serde_json::json!(passed)),
                ("failed", serde_json::json!(failed)),
            ]));
        }
        Format::Human => {
            let clean = |t: &str| warden::diagnostic::clean(t).into_owned();
            for r in &results {
                if out.quiet && r.outcome == "passed" {
                    continue;
                }
                let mark = if r.outcome == "passed" { "ok    " } else { "FAILED" };
                println!("{mark} {}:{} {}", clean(&r.file), r.line, clean(&r.name));
                if !out.quiet {
                    for line in &r.log {
                        println!("         log: {}", clean(line));
                    }
                }
                if let Some(e) = &r.failure {
                    let d: Diagnostic = e.clone().into();
                    for line in render::render(&d, &program.sources, out.color).lines() {
                        println!("    {line}");
                    }
                }
            }
            for s in &snapshots {
                if out.quiet && s.outcome == "passed" {
                    continue;
                }
                let mark = match s.outcome {
                    "passed" => "ok    ",
                    "new" => "NEW   ",
                    _ => "FAILED",
                };
                println!("{mark} {}:{} snapshot '{}'", clean(&s.file.display().to_string()), s.line, clean(&s.name));
                if let Some(m) = &s.message {
                    println!("         {}", clean(m));
                }
                print_diff(&s.diff, out.color);
            }
            if snapshots.iter().any(|s| s.outcome != "passed" && s.file != std::path::Path::new(STDIN)) {
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
        let text = format!("         {tag} {}", warden::diagnostic::clean(line));
        match (*tag, color) {
            ('-', true) => println!("\x1b[31m{text}\x1b[0m"),
            ('+', true) => println!("\x1b[32m{text}\x1b[0m"),
            _ => println!("{text}"),
        }
    }
}
