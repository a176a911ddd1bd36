//! Running `test` blocks: each in isolation, from an empty store.

use serde::Serialize;

use super::{Engine, EvalError, Vars};
use crate::model::Program;
use crate::store::MemoryStore;
use crate::syntax::ast;

/// The clock of a test that does not set one.
pub const DEFAULT_NOW: &str = "2000-01-01T00:00:00Z";

/// The outcome of one test.
#[derive(Clone, Debug, Serialize)]
pub struct TestResult {
    /// Its name.
    pub name: String,
    /// The file it is in.
    pub file: String,
    /// The line of `test`.
    pub line: usize,
    /// `passed` or `failed`.
    pub outcome: &'static str,
    /// Why it failed.
    pub message: Option<String>,
    /// The failing statement's position and text.
    #[serde(skip)]
    pub failure: Option<EvalError>,
    /// What `log` wrote.
    #[serde(skip)]
    pub log: Vec<String>,
}

/// Runs one test block in a fresh store.
pub fn run_test(program: &Program, test: &ast::Test) -> TestResult {
    let now = crate::time::parse_instant(DEFAULT_NOW).unwrap_or_default();
    let mut engine = Engine::new(program, Box::new(MemoryStore::new()), now);
    let mut vars = Vars::new();
    let mut failure = None;
    for stmt in &test.body.stmts {
        if let Err(e) = engine.run_top(stmt, &mut vars) {
            failure = Some(e);
            break;
        }
    }
    let file = program.sources.file(test.span.file);
    let (line, _) = file.line_col(test.span.start as usize);
    TestResult {
        name: test.name.value.clone(),
        file: file.path.display().to_string(),
        line,
        outcome: if failure.is_none() { "passed" } else { "failed" },
        message: failure.as_ref().map(|e| e.message.clone()),
        failure,
        log: engine.log,
    }
}

/// Runs every test (not snapshot) block whose name contains `filter`.
pub fn run_tests(program: &Program, filter: Option<&str>) -> Vec<TestResult> {
    program
        .tests
        .iter()
        .filter(|t| !t.snapshot)
        .filter(|t| filter.is_none_or(|f| t.name.value.contains(f)))
        .map(|t| crate::syntax::on_big_stack(|| run_test(program, t)))
        .collect()
}
