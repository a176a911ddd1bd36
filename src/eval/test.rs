//! Running `test` blocks: each in isolation, from an empty store.

use serde::Serialize;

use super::{Engine, EvalError, Vars};
use crate::model::flow::TestDef;
use crate::model::Program;
use crate::store::{MemoryStore, SqliteStore, Store};

/// The clock of a test that does not set one.
pub(crate) const DEFAULT_NOW: &str = "2000-01-01T00:00:00Z";

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
    /// What the test exercised, when run by [`run_tests_recording`].
    #[serde(skip)]
    pub hits: Option<super::coverage::Hits>,
}

/// The store test blocks run over. Every backend must give the same outcomes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Backend {
    /// The in-memory store.
    #[default]
    Memory,
    /// A SQLite database (in memory), with retrieves run as SQL.
    Sqlite,
    /// PostgreSQL: each block in a fresh schema of the database of [`set_postgres_url`]
    /// (else `WARDEN_TEST_POSTGRES`, else the local test database), dropped afterwards.
    Postgres,
}

/// The database `Backend::Postgres` makes its schemas in, when set.
static POSTGRES_URL: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// The PostgreSQL test database when nothing else names one.
pub const DEFAULT_TEST_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Names the database `Backend::Postgres` makes its schemas in (`warden test --store URL`);
/// the first call wins.
pub fn set_postgres_url(url: &str) {
    let _ = POSTGRES_URL.set(url.to_string());
}

/// The database `Backend::Postgres` uses: [`set_postgres_url`]'s, else `WARDEN_TEST_POSTGRES`,
/// else [`DEFAULT_TEST_POSTGRES`].
pub fn postgres_url() -> String {
    POSTGRES_URL
        .get()
        .cloned()
        .or_else(|| std::env::var("WARDEN_TEST_POSTGRES").ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| DEFAULT_TEST_POSTGRES.to_string())
}

impl Backend {
    /// A fresh, empty store of this kind (a PostgreSQL one fails when the database cannot
    /// be reached).
    pub fn fresh(self, program: &Program) -> Result<Box<dyn Store>, String> {
        match self {
            Backend::Memory => Ok(Box::new(MemoryStore::new())),
            Backend::Sqlite => Ok(Box::new(SqliteStore::in_memory(program))),
            #[cfg(feature = "postgres")]
            Backend::Postgres => Ok(Box::new(crate::store::postgres::PgStore::scratch(program, &postgres_url())?)),
            #[cfg(not(feature = "postgres"))]
            Backend::Postgres => Err("this build of warden has no PostgreSQL store (the `postgres` feature)".into()),
        }
    }
}

/// Runs one test block in a fresh store of the given kind, each top-level statement allowed
/// `max_steps` steps.
pub(crate) fn run_test_with(program: &Program, test: &TestDef, backend: Backend, max_steps: u64) -> TestResult {
    run_test_inner(program, test, backend, max_steps, false)
}

/// [`run_test_with`], recording what the test exercises into [`TestResult::hits`].
pub(crate) fn run_test_recording(program: &Program, test: &TestDef, backend: Backend, max_steps: u64) -> TestResult {
    run_test_inner(program, test, backend, max_steps, true)
}

fn run_test_inner(program: &Program, test: &TestDef, backend: Backend, max_steps: u64, record: bool) -> TestResult {
    let now = crate::time::parse_instant(DEFAULT_NOW).unwrap_or_default();
    let store = match backend.fresh(program) {
        Ok(store) => store,
        Err(message) => {
            let file = program.sources.file(test.span.file);
            return TestResult {
                name: test.name.clone(),
                file: file.path.display().to_string(),
                line: file.line_col(test.span.start as usize).0,
                outcome: "failed",
                message: Some(message),
                failure: None,
                hits: None,
                log: Vec::new(),
            };
        }
    };
    let mut engine = Engine::new(program, store, now);
    engine.step_budget = max_steps;
    if record {
        engine.record_coverage();
    }
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
        name: test.name.clone(),
        file: file.path.display().to_string(),
        line,
        outcome: if failure.is_none() { "passed" } else { "failed" },
        message: failure.as_ref().map(|e| e.message.clone()),
        failure,
        hits: engine.coverage_hits(),
        log: engine.log,
    }
}

/// Runs every test (not snapshot) block whose name contains `filter`, each in a fresh in-memory store.
pub fn run_tests(program: &Program, filter: Option<&str>) -> Vec<TestResult> {
    run_tests_on(program, filter, Backend::Memory)
}

/// Runs every test (not snapshot) block whose name contains `filter`, each in a fresh store of the given kind.
pub fn run_tests_on(program: &Program, filter: Option<&str>, backend: Backend) -> Vec<TestResult> {
    run_tests_with(program, filter, backend, super::DEFAULT_STEP_BUDGET)
}

/// [`run_tests_on`], each top-level statement allowed `max_steps` steps.
pub fn run_tests_with(program: &Program, filter: Option<&str>, backend: Backend, max_steps: u64) -> Vec<TestResult> {
    program
        .tests
        .iter()
        .filter(|t| !t.snapshot)
        .filter(|t| filter.is_none_or(|f| t.name.contains(f)))
        .map(|t| crate::syntax::on_big_stack(|| run_test_with(program, t, backend, max_steps)))
        .collect()
}

/// [`run_tests_with`], each test recording what it exercises into [`TestResult::hits`]
/// (retrieves then check every object, so this is slower).
pub fn run_tests_recording(
    program: &Program,
    filter: Option<&str>,
    backend: Backend,
    max_steps: u64,
) -> Vec<TestResult> {
    program
        .tests
        .iter()
        .filter(|t| !t.snapshot)
        .filter(|t| filter.is_none_or(|f| t.name.contains(f)))
        .map(|t| crate::syntax::on_big_stack(|| run_test_inner(program, t, backend, max_steps, true)))
        .collect()
}
