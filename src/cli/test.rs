//! `warden test`: run every test and snapshot block, one line each, failures
//! with their span or their diff.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use warden::diagnostic::Diagnostic;
use warden::eval::test::{run_tests_recording, run_tests_with, Backend};
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
    /// Record and report what the blocks exercised.
    pub coverage: Option<Coverage>,
}

/// How `warden test --coverage` reports.
#[derive(Clone, Debug)]
pub struct Coverage {
    /// `human`, `lcov` or `json`.
    pub format: CoverageFormat,
    /// Where the report goes (standard output when `None`).
    pub output: Option<PathBuf>,
    /// The lowest percentage that passes.
    pub fail_under: Option<f64>,
}

/// The formats of the coverage report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CoverageFormat {
    /// A table and the items not exercised.
    Human,
    /// LCOV tracefile, for coverage viewers.
    Lcov,
    /// One JSON document.
    Json,
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
    let results = match run.coverage {
        Some(_) => run_tests_recording(program, run.filter, run.backend, run.max_steps),
        None => run_tests_with(program, run.filter, run.backend, run.max_steps),
    };
    let snapshots = match check_snapshots_with(program, run.filter, run.accept, run.backend, run.max_steps) {
        Ok(s) => s,
        Err(e) => return out.io(format!("cannot read or write a snapshot file: {e}")),
    };
    let passed = results.iter().filter(|r| r.outcome == "passed").count()
        + snapshots.iter().filter(|s| s.outcome == "passed").count();
    let failed = results.len() + snapshots.len() - passed;
    let coverage = run.coverage.as_ref().map(|_| {
        let mut hits = warden::snapshot::snapshot_hits(program, run.filter, run.backend, run.max_steps);
        for r in &results {
            hits.merge(r.hits.clone().unwrap_or_default());
        }
        warden::coverage::report(program, &hits)
    });
    // A machine-readable report on standard output owns it: the test lines go to stderr.
    let to_stderr = run
        .coverage
        .as_ref()
        .is_some_and(|c| c.output.is_none() && c.format != CoverageFormat::Human && out.format == Format::Human);
    let emit = |text: String| {
        if to_stderr {
            eprintln!("{text}");
        } else {
            println!("{text}");
        }
    };
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
            let mut doc = out.document([
                ("tests", serde_json::Value::Array(tests)),
                ("passed", serde_json::json!(passed)),
                ("failed", serde_json::json!(failed)),
            ]);
            if let Some(report) = &coverage {
                doc["coverage"] = warden::coverage::to_json(report);
                if let Some(limit) = run.coverage.as_ref().and_then(|c| c.fail_under).filter(|l| report.percent() < *l)
                {
                    let message = format!("coverage {:.1}% is below {limit}% (--fail-under)", report.percent());
                    doc["error"] = super::output::error("coverage", &message, None);
                }
            }
            out.print(&doc);
        }
        Format::Human => {
            let clean = |t: &str| warden::diagnostic::clean(t).into_owned();
            for r in &results {
                if out.quiet && r.outcome == "passed" {
                    continue;
                }
                let mark = if r.outcome == "passed" { "ok    " } else { "FAILED" };
                emit(format!("{mark} {}:{} {}", clean(&r.file), r.line, clean(&r.name)));
                if !out.quiet {
                    for line in &r.log {
                        emit(format!("         log: {}", clean(line)));
                    }
                }
                if let Some(e) = &r.failure {
                    let d: Diagnostic = e.clone().into();
                    for line in render::render(&d, &program.sources, out.color).lines() {
                        emit(format!("    {line}"));
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
                emit(format!(
                    "{mark} {}:{} snapshot '{}'",
                    clean(&s.file.display().to_string()),
                    s.line,
                    clean(&s.name)
                ));
                if let Some(m) = &s.message {
                    emit(format!("         {}", clean(m)));
                }
                print_diff(&s.diff, out.color, &emit);
            }
            if snapshots.iter().any(|s| s.outcome != "passed" && s.file != std::path::Path::new(STDIN)) {
                emit("new snapshot text is in the .snap.new files; accept it with `warden test --accept`".to_string());
            }
            emit(format!("{passed} passed, {failed} failed"));
        }
    }
    let mut below = false;
    if let (Some(report), Some(c)) = (&coverage, &run.coverage) {
        let text = match c.format {
            CoverageFormat::Human => warden::coverage::render(report),
            CoverageFormat::Lcov => warden::coverage::to_lcov(report),
            CoverageFormat::Json => format!("{}\n", warden::coverage::to_json(report)),
        };
        match &c.output {
            Some(path) => {
                if let Err(e) = warden::source::write_atomically(path, &text) {
                    return out.io(format!("cannot write `{}`: {e}", path.display()));
                }
            }
            // Under `--format json` the report is in the document.
            None if out.format == Format::Json => {}
            None => print!("{}", warden::diagnostic::clean(&text)),
        }
        if let Some(limit) = c.fail_under {
            below = report.percent() < limit;
            if below && out.format == Format::Human {
                eprintln!("error: coverage {:.1}% is below {limit}% (--fail-under)", report.percent());
            }
        }
    }
    if failed > 0 || below {
        ExitCode::from(FAILED)
    } else {
        ExitCode::SUCCESS
    }
}

/// Runs `warden test --mutate`: the tests against every mutant of the rules; the survivors
/// with where they are, then the score. Exit 1 when the score is below `fail_under`.
pub fn run_mutants(run: &Run<'_>, out: &Out, fail_under: f64, jobs: Option<usize>) -> ExitCode {
    let checked = match load::load_paths(run.paths) {
        Ok(c) => c,
        Err(e) => return out.io(e),
    };
    let program = &checked.program;
    if checked.has_errors() {
        return out.rules(&checked.diagnostics, &program.sources, "the rules do not check; no mutant was run");
    }
    let threads = jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    let show_progress = out.format == Format::Human && !out.quiet && std::io::stderr().is_terminal();
    let progress = |done: usize, all: usize| {
        if show_progress {
            eprint!("\rmutants: {done}/{all}");
        }
    };
    let started = std::time::Instant::now();
    let options = warden::mutate::Options { threads, max_steps: run.max_steps, prune: true };
    let report = warden::mutate::run(program, options, &progress);
    if show_progress {
        eprintln!();
    }
    let score = report.score();
    let failed = score < fail_under;
    match out.format {
        Format::Json | Format::Sarif => {
            let mut doc = out.document([
                ("mutants", serde_json::json!(report.mutants)),
                ("killed", serde_json::json!(report.killed)),
                ("equivalent", serde_json::json!(report.equivalent)),
                ("score", serde_json::json!(score)),
            ]);
            if failed {
                let message = format!("the mutation score {score:.1}% is below {fail_under}%");
                doc["error"] = super::output::error("mutants", &message, None);
            }
            out.print(&doc);
        }
        Format::Human => {
            let clean = |t: &str| warden::diagnostic::clean(t).into_owned();
            for m in report.survivors() {
                println!("SURVIVED {}: no test notices if {}", clean(&m.at), clean(&m.description));
            }
            if !out.quiet {
                println!(
                    "{} mutants, {} killed by {} passing tests, {} survived, {} equivalent: score {score:.1}% ({:.1} s)",
                    report.mutants.len(),
                    report.killed,
                    report.tests,
                    report.counted() - report.killed,
                    report.equivalent,
                    started.elapsed().as_secs_f64()
                );
            }
        }
    }
    if failed {
        ExitCode::from(FAILED)
    } else {
        ExitCode::SUCCESS
    }
}

/// Prints a line diff with two lines of context around each change.
fn print_diff(diff: &[(char, String)], color: bool, emit: &impl Fn(String)) {
    const CONTEXT: usize = 2;
    let changed: Vec<usize> = diff.iter().enumerate().filter(|(_, (t, _))| *t != ' ').map(|(i, _)| i).collect();
    let near = |i: usize| changed.iter().any(|&c| c.abs_diff(i) <= CONTEXT);
    let mut skipped = false;
    for (i, (tag, line)) in diff.iter().enumerate() {
        if !near(i) {
            if !skipped {
                emit("         ...".to_string());
                skipped = true;
            }
            continue;
        }
        skipped = false;
        let text = format!("         {tag} {}", warden::diagnostic::clean(line));
        match (*tag, color) {
            ('-', true) => emit(format!("\x1b[31m{text}\x1b[0m")),
            ('+', true) => emit(format!("\x1b[32m{text}\x1b[0m")),
            _ => emit(text),
        }
    }
}
