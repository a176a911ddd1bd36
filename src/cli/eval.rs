//! `warden eval` and `warden explain`: statements and decisions over a store, as a principal.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use warden::check::Checked;
use warden::diagnostic::Diagnostic;
use warden::eval::{Engine, Outcome, PrincipalName, Vars};
use warden::model::Program;
use warden::store::{self, MemoryStore, Store};
use warden::{load, syntax};

use super::{check::print_diagnostics, render, usage_error, FAILED};
use crate::Format;

/// What `eval` and `explain` share: the program, the store, the clock and the principal.
pub struct Setup<'a> {
    /// Files or directories.
    pub paths: &'a [PathBuf],
    /// The JSON store, if any.
    pub store: Option<&'a Path>,
    /// Who acts.
    pub principal: PrincipalName,
    /// The step limit of each top-level statement (`--max-steps`), else the default.
    pub max_steps: Option<u64>,
    /// The clock (RFC 3339), else the system clock.
    pub now: Option<&'a str>,
    /// Output format.
    pub format: Format,
    /// Colour on stderr.
    pub color: bool,
}

fn load_program(setup: &Setup<'_>) -> Result<Checked, ExitCode> {
    let checked = load::load_paths(setup.paths).map_err(usage_error)?;
    if checked.has_errors() {
        print_diagnostics(&checked.diagnostics, &checked.program.sources, Format::Human, setup.color, "check");
        eprintln!("the rules do not check");
        return Err(ExitCode::from(FAILED));
    }
    Ok(checked)
}

fn load_store(program: &Program, path: Option<&Path>, writable: bool) -> Result<Box<dyn Store>, ExitCode> {
    let Some(path) = path else { return Ok(Box::new(MemoryStore::new())) };
    if !path.exists() {
        return Err(usage_error(format!("cannot read `{}`: no such file", path.display())));
    }
    store::open(program, path, writable).map_err(|errors| {
        for e in &errors {
            if e.path == path.display().to_string() {
                eprintln!("error: {}: {}", path.display(), e.message);
            } else {
                eprintln!("error: {}: {e}", path.display());
            }
        }
        eprintln!(
            "the store has {} problem{}; it was not used",
            errors.len(),
            if errors.len() == 1 { "" } else { "s" }
        );
        ExitCode::from(FAILED)
    })
}

fn clock(now: Option<&str>) -> Result<i64, ExitCode> {
    match now {
        None => Ok(chrono::Utc::now().timestamp_millis()),
        Some(text) => warden::time::parse_instant(text).ok_or_else(|| {
            usage_error(format!("`{text}` is not a date and time (use RFC 3339, such as 2026-11-22T10:00:00Z)"))
        }),
    }
}

/// Parses and checks statements typed on the command line, adding them to the program's sources.
fn statements(
    program: &mut Program,
    name: &str,
    text: String,
    setup: &Setup<'_>,
) -> Result<Vec<syntax::ast::Stmt>, ExitCode> {
    let file = program.sources.add(name, text.clone());
    let fail = |diagnostics: &[Diagnostic], program: &Program| {
        print_diagnostics(diagnostics, &program.sources, Format::Human, setup.color, "check");
        ExitCode::from(FAILED)
    };
    let stmts = match syntax::parse_statements(&text, file) {
        Ok(s) => s,
        Err(e) => return Err(fail(&[e.into()], program)),
    };
    let diagnostics = warden::check::check_statements(program, &stmts, &Default::default());
    if diagnostics.iter().any(Diagnostic::is_error) {
        return Err(fail(&diagnostics, program));
    }
    Ok(stmts)
}

/// Runs `warden eval`.
pub fn run_eval(setup: Setup<'_>, expression: Option<String>, script: Option<PathBuf>, save: bool) -> ExitCode {
    if save && setup.store.is_none() {
        return usage_error("`--save` needs `--store FILE`");
    }
    let (name, text) = match (expression, script) {
        (Some(e), None) => ("<-e>".to_string(), e),
        (None, Some(path)) => match std::fs::read_to_string(&path) {
            Ok(t) => (path.display().to_string(), t),
            Err(e) => return usage_error(format!("cannot read `{}`: {e}", path.display())),
        },
        _ => return usage_error("give statements with `-e TEXT` or a SCRIPT file, not both"),
    };
    let run = || -> Result<ExitCode, ExitCode> {
        let checked = load_program(&setup)?;
        let mut program = checked.program;
        // A run that may save holds the store's write lock from before it reads until it has written.
        let lock = match setup.store.filter(|_| save) {
            Some(path) => Some(
                store::file::write_lock(path)
                    .map_err(|e| usage_error(format!("cannot take the write lock of `{}`: {e}", path.display())))?,
            ),
            None => None,
        };
        let store = load_store(&program, setup.store, save)?;
        let now = clock(setup.now)?;
        let stmts = statements(&mut program, &name, text, &setup)?;
        let program = &program;
        let mut engine = Engine::new(program, store, now);
        if let Some(max) = setup.max_steps {
            engine.step_budget = max;
        }
        // The whole run is one transaction: a store is saved only when every statement succeeds.
        engine.store.begin();
        let report = |e: warden::eval::EvalError| {
            let d: Diagnostic = e.into();
            match setup.format {
                Format::Json => {
                    println!("{}", serde_json::json!({ "results": [{ "error": d.to_json(&program.sources) }] }))
                }
                _ => eprint!("{}", render::render(&d, &program.sources, setup.color)),
            }
            ExitCode::from(FAILED)
        };
        engine.act_as(&setup.principal).map_err(report)?;
        let mut vars = Vars::new();
        let mut results = Vec::new();
        let mut failed = None;
        for stmt in &stmts {
            let logged = engine.log.len();
            let outcome = engine.run_top(stmt, &mut vars);
            for line in &engine.log[logged..] {
                if setup.format == Format::Human {
                    println!("log: {line}");
                }
            }
            match outcome {
                Ok(Outcome::Value(v)) => match setup.format {
                    Format::Json => results.push(engine.show_json(&v)),
                    _ => println!("{}", engine.show(&v)),
                },
                Ok(Outcome::Text(t)) => match setup.format {
                    Format::Json => results.push(serde_json::json!(t)),
                    _ => print!("{t}"),
                },
                Ok(Outcome::Nothing) => {
                    if setup.format == Format::Json {
                        results.push(serde_json::Value::Null);
                    }
                }
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        if let Some(e) = failed {
            engine.store.rollback();
            let d: Diagnostic = e.into();
            match setup.format {
                Format::Json => results.push(serde_json::json!({ "error": d.to_json(&program.sources) })),
                _ => eprint!("{}", render::render(&d, &program.sources, setup.color)),
            }
            if setup.format == Format::Json {
                println!("{}", serde_json::json!({ "results": results }));
            }
            return Ok(ExitCode::from(FAILED));
        }
        if setup.format == Format::Json {
            println!("{}", serde_json::json!({ "results": results }));
        }
        if let Err(e) = engine.store.commit() {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(FAILED));
        }
        if let Some(lock) = lock {
            if !store::sqlite::is_sqlite_path(lock.path()) {
                if let Err(e) = lock.save_json(program, engine.store.as_ref()) {
                    return Err(usage_error(format!("cannot save `{}`: {e}", lock.path().display())));
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    };
    run().unwrap_or_else(|code| code)
}

/// Runs `warden explain`.
pub fn run_explain(setup: Setup<'_>, operation: String) -> ExitCode {
    let run = || -> Result<ExitCode, ExitCode> {
        let checked = load_program(&setup)?;
        let mut program = checked.program;
        let store = load_store(&program, setup.store, false)?;
        let now = clock(setup.now)?;
        let stmts = statements(&mut program, "<operation>", format!("explain {operation}"), &setup)?;
        let [stmt] = stmts.as_slice() else {
            return Err(usage_error("give one operation, such as 'read #5/Total'"));
        };
        let syntax::ast::StmtKind::Explain(op) = &stmt.kind else {
            return Err(usage_error("give one operation, such as 'read #5/Total'"));
        };
        let program = &program;
        let mut engine = Engine::new(program, store, now);
        let explained = engine.act_as(&setup.principal).and_then(|()| engine.explain_operation(op));
        let explanation = match explained {
            Ok(x) => x,
            Err(e) => {
                let d: Diagnostic = e.into();
                eprint!("{}", render::render(&d, &program.sources, setup.color));
                return Ok(ExitCode::from(FAILED));
            }
        };
        match setup.format {
            Format::Json => println!("{}", serde_json::to_string(&explanation).unwrap_or_default()),
            _ => print!("{}", explanation.render()),
        }
        Ok(if explanation.decision == "allow" { ExitCode::SUCCESS } else { ExitCode::from(FAILED) })
    };
    run().unwrap_or_else(|code| code)
}

/// Runs `warden matrix`.
pub fn run_matrix(paths: &[PathBuf], format: Format, color: bool) -> ExitCode {
    let setup =
        Setup { paths, store: None, principal: PrincipalName::System, now: None, max_steps: None, format, color };
    let checked = match load_program(&setup) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let matrix = warden::matrix::build(&checked.program);
    match format {
        Format::Json => println!("{}", serde_json::to_string(&matrix).unwrap_or_default()),
        _ => print!("{}", warden::matrix::render(&matrix)),
    }
    ExitCode::SUCCESS
}

/// Runs `warden sql`: the query a retrieve runs on a SQL store, as the principal.
pub fn run_sql(setup: Setup<'_>, retrieve: String) -> ExitCode {
    let run = || -> Result<ExitCode, ExitCode> {
        let checked = load_program(&setup)?;
        let mut program = checked.program;
        let store = load_store(&program, setup.store, false)?;
        let now = clock(setup.now)?;
        let stmts = statements(&mut program, "<retrieve>", retrieve, &setup)?;
        let program = &program;
        let mut engine = Engine::new(program, store, now);
        let query = engine.act_as(&setup.principal).and_then(|()| match stmts.as_slice() {
            [stmt] => engine.sql_of(stmt),
            _ => Err(warden::eval::EvalError::new(
                warden::eval::codes::UNSUPPORTED,
                "give one retrieve, such as 'retrieve Shop.Cart'",
                Default::default(),
            )),
        });
        match query {
            Ok(q) => {
                match setup.format {
                    Format::Json => println!(
                        "{}",
                        serde_json::json!({
                            "sql": q.text,
                            "params": q.params.iter().map(|p| match p {
                                store::SqlValue::Null => serde_json::Value::Null,
                                store::SqlValue::Integer(i) => serde_json::json!(i),
                                store::SqlValue::Text(t) => serde_json::json!(t),
                            }).collect::<Vec<_>>(),
                            "exact": q.exact,
                        })
                    ),
                    _ => print!("{}", q.render()),
                }
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                let d: Diagnostic = e.into();
                eprint!("{}", render::render(&d, &program.sources, setup.color));
                Ok(ExitCode::from(FAILED))
            }
        }
    };
    run().unwrap_or_else(|code| code)
}

/// Runs `warden store import|export|schema`.
pub fn run_store(paths: &[PathBuf], action: StoreAction, color: bool) -> ExitCode {
    let needs = if action == StoreAction::Schema { 1 } else { 3 };
    if paths.len() < needs {
        return usage_error(match action {
            StoreAction::Schema => "give the rules' paths",
            _ => "give the rules' paths, then the source store and the target store",
        });
    }
    let (rules, ends) =
        if action == StoreAction::Schema { (paths, &paths[paths.len()..]) } else { paths.split_at(paths.len() - 2) };
    let setup = Setup {
        paths: rules,
        store: None,
        principal: PrincipalName::System,
        now: None,
        max_steps: None,
        format: Format::Human,
        color,
    };
    let checked = match load_program(&setup) {
        Ok(c) => c,
        Err(code) => return code,
    };
    match action {
        StoreAction::Schema => {
            print!("{}", store::sqlite::schema_sql(&checked.program));
            ExitCode::SUCCESS
        }
        StoreAction::Import | StoreAction::Export => {
            let (from, to) = (&ends[0], &ends[1]);
            if !from.exists() {
                return usage_error(format!("cannot read `{}`: no such file", from.display()));
            }
            match store::convert(&checked.program, from, to) {
                Ok(n) => {
                    eprintln!(
                        "copied {n} object{} from {} to {}",
                        if n == 1 { "" } else { "s" },
                        from.display(),
                        to.display()
                    );
                    ExitCode::SUCCESS
                }
                Err(errors) => {
                    for e in &errors {
                        eprintln!("error: {e}");
                    }
                    ExitCode::from(FAILED)
                }
            }
        }
    }
}

/// What `warden store` does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreAction {
    /// JSON to SQLite (or any store to a new one).
    Import,
    /// SQLite to JSON.
    Export,
    /// Print the SQLite tables a program needs.
    Schema,
}
