//! The evaluation corpus: every `tests/inputs/eval/*.rules` file is a small
//! program whose `test` blocks pin down the semantics of docs/language.md
//! (sections 4, 5, 8 and 9). A test whose name starts with `FAILS ` holds a
//! deliberately wrong expectation and must fail; every other test must pass. A test
//! named `FAILS R004 ...` must fail with that code.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on what it did not expect")]

use std::path::{Path, PathBuf};

use warden::eval::test::{run_tests_on, Backend};
use warden::load::load_paths;

/// The prefix of tests that must fail.
const FAILS_PREFIX: &str = "FAILS ";

fn corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/inputs/eval");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "rules"))
        .collect();
    files.sort();
    files
}

/// Whether a word is a runtime code such as `R004`.
fn is_code(word: &str) -> bool {
    word.len() == 4 && word.starts_with('R') && word[1..].bytes().all(|b| b.is_ascii_digit())
}

#[test]
fn eval_blocks() {
    let files = corpus();
    assert!(files.len() >= 8, "expected at least 8 corpus files, found {}", files.len());
    let mut problems: Vec<String> = Vec::new();
    let mut ran = 0;
    for path in &files {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let checked =
            load_paths(std::slice::from_ref(path)).unwrap_or_else(|e| panic!("{}: cannot load: {e}", path.display()));
        if !checked.diagnostics.is_empty() {
            let list: Vec<String> = checked.diagnostics.iter().map(|d| format!("  {} {}", d.code, d.message)).collect();
            problems.push(format!("{name}: expected no diagnostics, got:\n{}", list.join("\n")));
            continue;
        }
        // Every test runs over both stores: the in-memory one and SQLite (retrieves as SQL).
        for backend in [Backend::Memory, Backend::Sqlite] {
            let results = run_tests_on(&checked.program, None, backend);
            if results.len() < 3 {
                problems.push(format!("{name}: expected at least 3 tests, found {}", results.len()));
            }
            let mut fails = 0;
            for r in &results {
                ran += 1;
                let should_fail = r.name.starts_with(FAILS_PREFIX);
                fails += usize::from(should_fail);
                let expected = if should_fail { "failed" } else { "passed" };
                if r.outcome != expected {
                    let why = r.message.as_deref().unwrap_or("(the test passed)");
                    problems.push(format!(
                        "{name}:{} '{}' ({backend:?} store): expected {expected}, got {}: {why}",
                        r.line, r.name, r.outcome
                    ));
                }
                let code = r.name.strip_prefix(FAILS_PREFIX).and_then(|rest| rest.split(' ').next());
                if let (Some(code), Some(failure)) = (code.filter(|c| is_code(c)), &r.failure) {
                    if failure.code != code {
                        problems.push(format!(
                            "{name}:{} '{}' ({backend:?} store): expected {code}, failed with {}: {}",
                            r.line, r.name, failure.code, failure.message
                        ));
                    }
                }
            }
            if fails == 0 {
                problems.push(format!("{name}: no test named `{FAILS_PREFIX}...`"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} problem(s) in the eval corpus ({ran} tests run):\n{}",
        problems.len(),
        problems.join("\n")
    );
}
