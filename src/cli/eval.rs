//! `warden eval` and `warden explain`: statements and decisions over a store, as a principal.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use warden::check::Checked;
use warden::diagnostic::Diagnostic;
use warden::eval::{Engine, Outcome, PrincipalName, Vars};
use warden::model::Program;
use warden::store::{self, MemoryStore, Store};
use warden::{load, syntax};

use super::output::{diagnostic_error, Out};
use super::{render, usage_error};
use crate::Format;

/// What `eval` and `explain` share: the program, the store, the clock and the principal.
pub struct Setup<'a> {
    /// Files or directories.
    pub paths: &'a [PathBuf],
    /// The store (a JSON or SQLite file, or a PostgreSQL URL), if any.
    pub store: Option<&'a Path>,
    /// The PostgreSQL schema of a `postgres://` store (`--pg-schema`).
    pub pg_schema: Option<&'a str>,
    /// Who acts.
    pub principal: PrincipalName,
    /// The clock (RFC 3339), else the system clock.
    pub now: Option<&'a str>,
    /// The step limit of each top-level statement (`--max-steps`), else the default.
    pub max_steps: Option<u64>,
    /// How many objects a SQLite store keeps in memory (`--cache-objects`), else the default.
    pub cache_objects: Option<usize>,
    /// How failures and results are printed.
    pub out: Out,
}

impl<'a> Setup<'a> {
    /// The rules alone, as the system, with no store: what `matrix` and `store` need.
    fn rules_only(paths: &'a [PathBuf], out: Out) -> Setup<'a> {
        Setup {
            paths,
            store: None,
            pg_schema: None,
            principal: PrincipalName::System,
            now: None,
            max_steps: None,
            cache_objects: None,
            out,
        }
    }
}

fn load_program(setup: &Setup<'_>) -> Result<Checked, ExitCode> {
    let checked = load::load_paths(setup.paths).map_err(|e| setup.out.io(e))?;
    if checked.has_errors() {
        return Err(setup.out.rules(&checked.diagnostics, &checked.program.sources, "the rules do not check"));
    }
    Ok(checked)
}

fn load_store(setup: &Setup<'_>, program: &Program, writable: bool) -> Result<Box<dyn Store>, ExitCode> {
    let (path, cache_objects, out) = (setup.store, setup.cache_objects, &setup.out);
    let Some(path) = path else { return Ok(Box::new(MemoryStore::new())) };
    let cache_objects = cache_objects.unwrap_or(store::sqlite::DEFAULT_CACHE_OBJECTS);
    if store::is_postgres(path) {
        return store::open_in(program, path, writable, cache_objects, setup.pg_schema)
            .map_err(|errors| out.store(path, &errors));
    }
    if !path.exists() {
        return Err(out.io(format!("cannot read `{}`: no such file", path.display())));
    }
    // A store that `--save` cannot write is an I/O problem (exit 2), as for a JSON store's lock.
    if writable {
        if let Err(e) = std::fs::OpenOptions::new().write(true).open(path) {
            return Err(out.io(format!("cannot write `{}`: {e}", path.display())));
        }
    }
    store::open_with(program, path, writable, cache_objects).map_err(|errors| out.store(path, &errors))
}

fn clock(now: Option<&str>, out: &Out) -> Result<i64, ExitCode> {
    match now {
        None => Ok(chrono::Utc::now().timestamp_millis()),
        Some(text) => warden::time::parse_instant(text).ok_or_else(|| {
            out.usage(format!("`{text}` is not a date and time (use RFC 3339, such as 2026-11-22T10:00:00Z)"), None)
        }),
    }
}

/// Acts as the principal of `--as`; an unknown principal is a wrong argument
/// (exit 2, no snippet), with the users of the store to choose from.
fn act_as(engine: &mut Engine<'_>, setup: &Setup<'_>) -> Result<(), ExitCode> {
    match engine.act_as(&setup.principal) {
        Ok(()) => Ok(()),
        Err(e) if e.code == warden::codes::Code::R006 => {
            let help = match &setup.principal {
                PrincipalName::User(_) if !e.message.contains("did you mean") => {
                    let mut names = engine.user_names();
                    names.sort();
                    Some(if names.is_empty() {
                        "the store has no users; act as `system` or `anonymous`".to_string()
                    } else {
                        format!("the store's users are {}", names.join(", "))
                    })
                }
                _ => e.help.clone(),
            };
            let given = match &setup.principal {
                PrincipalName::System => "system".to_string(),
                PrincipalName::Anonymous(None) => "anonymous".to_string(),
                PrincipalName::Anonymous(Some(n)) => format!("anonymous:{n}"),
                PrincipalName::User(n) => n.clone(),
            };
            Err(setup.out.usage(format!("`--as {given}`: {}", e.message), help))
        }
        Err(e) => Err(setup.out.evaluation(&e.into(), &engine.program().sources)),
    }
}

/// Parses and checks statements typed on the command line, adding them to the program's sources.
fn statements(
    program: &mut Program,
    name: &str,
    text: String,
    setup: &Setup<'_>,
) -> Result<Vec<warden::model::flow::Stmt>, ExitCode> {
    let file = program.sources.add(name, text.clone());
    let fail = |diagnostics: &[Diagnostic], program: &Program| {
        setup.out.rules(diagnostics, &program.sources, "the statements do not check; nothing was run")
    };
    let stmts = match syntax::parse_statements(&text, file) {
        Ok(s) => s,
        Err(e) => return Err(fail(&[e.into()], program)),
    };
    let checked = warden::check::check_statements(program, &stmts, &Default::default());
    if checked.has_errors() {
        return Err(fail(&checked.diagnostics, program));
    }
    Ok(checked.stmts)
}

/// An operation written without quotes (`explain shop.rules read #5`) reaches us as
/// paths that do not exist, the first of them one of `starts`: the words as they were
/// meant, quoted (`'read #5'`). `None` when the paths are paths.
pub fn unquoted(paths: &mut [PathBuf], last: &str, starts: &[&str]) -> Option<String> {
    let at = paths.iter().rposition(|p| p.to_str().is_some_and(|w| starts.contains(&w)))?;
    if paths[at..].iter().any(|p| p.exists()) {
        return None;
    }
    let words: Vec<String> = paths[at..].iter().map(|p| p.to_string_lossy().into_owned()).collect();
    Some(format!("'{} {last}'", words.join(" ")))
}

/// Whether a SCRIPT that is not there looks like statements meant for `-e`.
fn looks_like_statements(text: &str) -> bool {
    let first = text.split_whitespace().next().unwrap_or_default();
    text.contains(['(', ' ', '$', '\'', '['])
        || ["retrieve", "let", "change", "commit", "delete", "create", "call", "log"].contains(&first)
}

/// Runs `warden eval`.
pub fn run_eval(setup: Setup<'_>, expression: Option<String>, script: Option<PathBuf>, save: bool) -> ExitCode {
    let out = &setup.out;
    if save && setup.store.is_none() {
        return out.usage("`--save` needs `--store FILE`", None);
    }
    let (name, text) = match (expression, script) {
        (Some(e), None) => ("<-e>".to_string(), e),
        (None, Some(path)) if path.as_os_str() == "-" => {
            let mut text = String::new();
            if let Err(e) = std::io::Read::read_to_string(&mut std::io::stdin(), &mut text) {
                return out.io(format!("cannot read statements from standard input: {e}"));
            }
            (warden::source::STDIN.to_string(), text)
        }
        (None, Some(path)) => match std::fs::read_to_string(&path) {
            Ok(t) => (path.display().to_string(), t),
            Err(_) if !path.exists() && looks_like_statements(&path.to_string_lossy()) => {
                let text = path.to_string_lossy();
                return out.usage(
                    format!("no SCRIPT file `{text}`: statements to run are given with `-e`"),
                    Some(format!("`warden eval PATHS -e '{text}'`")),
                );
            }
            Err(e) => return out.io(format!("cannot read `{}`: {e}", path.display())),
        },
        _ => {
            return out.usage(
                "no statements to run: give them with `-e TEXT`, or as a SCRIPT file after the rules' paths",
                Some("for example `warden eval shop.rules -e 'count(retrieve Shop.Cart)'`".into()),
            )
        }
    };
    let run = || -> Result<ExitCode, ExitCode> {
        let checked = load_program(&setup)?;
        let mut program = checked.program;
        // A run that may save holds the store's write lock from before it reads until it has written.
        // PostgreSQL's own lock: the store takes it when opened for writing (store::postgres).
        let lock = match setup.store.filter(|p| save && !store::is_postgres(p)) {
            Some(path) => Some(
                store::file::write_lock(path)
                    .map_err(|e| out.io(format!("cannot take the write lock of `{}`: {e}", path.display())))?,
            ),
            None => None,
        };
        let store = load_store(&setup, &program, save)?;
        let now = clock(setup.now, out)?;
        let stmts = statements(&mut program, &name, text, &setup)?;
        let program = &program;
        let mut engine = Engine::new(program, store, now);
        engine.set_step_budget(setup.max_steps.unwrap_or(warden::eval::DEFAULT_STEP_BUDGET));
        // The whole run is one transaction: a store is saved only when every statement succeeds.
        engine.begin_batch();
        act_as(&mut engine, &setup)?;
        let human = out.format == Format::Human;
        let mut vars = Vars::new();
        let mut results = Vec::new();
        let mut failed = None;
        for stmt in &stmts {
            let logged = engine.log().len();
            let outcome = engine.run_top(stmt, &mut vars);
            for line in &engine.log()[logged..] {
                if human && !out.quiet {
                    println!("log: {}", warden::diagnostic::clean(line));
                }
            }
            match outcome {
                Ok(Outcome::Value(v)) => match human {
                    false => results.push(engine.show_json(&v)),
                    true => println!("{}", warden::diagnostic::clean(&engine.show(&v))),
                },
                Ok(Outcome::Text(t)) => match human {
                    false => results.push(serde_json::json!(t)),
                    true => print!("{}", warden::diagnostic::clean(&t)),
                },
                Ok(Outcome::Nothing) => {
                    if !human {
                        results.push(serde_json::Value::Null);
                    }
                }
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        let finish = |results: Vec<serde_json::Value>, error: Option<serde_json::Value>| {
            if !human {
                let mut fields = vec![("results", serde_json::Value::Array(results))];
                fields.extend(error.map(|e| ("error", e)));
                out.print(&out.document(fields));
            }
        };
        if let Some(e) = failed {
            engine.rollback_batch();
            let d: Diagnostic = e.into();
            if human {
                eprint!("{}", render::render(&d, &program.sources, out.color));
            }
            results.push(serde_json::json!({ "error": d.to_json(&program.sources) }));
            finish(results, Some(diagnostic_error(&d, &program.sources)));
            return Ok(ExitCode::from(out.failed));
        }
        if let Err(e) = engine.commit_batch() {
            if human {
                eprintln!("error: {}", warden::diagnostic::for_terminal(&e.to_string()));
            }
            finish(results, Some(super::output::error("store", &e.to_string(), None)));
            return Ok(ExitCode::from(out.failed));
        }
        if let Some(lock) = lock {
            let path = lock.path();
            if !store::sqlite::is_sqlite_path(path) {
                if let Err(e) = lock.save_json(program, engine.store()) {
                    let message = format!("cannot save `{}`: {e}", path.display());
                    if human {
                        eprintln!("error: {}", warden::diagnostic::for_terminal(&message));
                    }
                    finish(results, Some(super::output::error("io", &message, None)));
                    return Ok(ExitCode::from(super::USAGE));
                }
            }
        }
        finish(results, None);
        Ok(ExitCode::SUCCESS)
    };
    run().unwrap_or_else(|code| code)
}

/// Runs `warden explain`.
pub fn run_explain(setup: Setup<'_>, operation: String) -> ExitCode {
    let out = &setup.out;
    let run = || -> Result<ExitCode, ExitCode> {
        let checked = load_program(&setup)?;
        let mut program = checked.program;
        let store = load_store(&setup, &program, false)?;
        let now = clock(setup.now, out)?;
        let stmts = statements(&mut program, "<operation>", format!("explain {operation}"), &setup)?;
        let one = "give one operation, such as 'read #5/Total'";
        let [stmt] = stmts.as_slice() else {
            return Err(out.usage(one, None));
        };
        let warden::model::flow::StmtKind::Explain(op) = &stmt.kind else {
            return Err(out.usage(one, None));
        };
        let program = &program;
        let mut engine = Engine::new(program, store, now);
        engine.set_step_budget(setup.max_steps.unwrap_or(warden::eval::DEFAULT_STEP_BUDGET));
        act_as(&mut engine, &setup)?;
        let explanation = match engine.explain_operation(op, &mut Vars::new()) {
            Ok(x) => x,
            Err(e) => return Ok(out.evaluation(&e.into(), &program.sources)),
        };
        match out.format {
            Format::Human if out.quiet => {
                let text = explanation.render();
                println!("{}", warden::diagnostic::clean(text.lines().next().unwrap_or_default()));
            }
            Format::Human => print!("{}", warden::diagnostic::clean(&explanation.render())),
            Format::Json | Format::Sarif => out.print(&serde_json::json!(explanation)),
        }
        Ok(if explanation.decision == "allow" { ExitCode::SUCCESS } else { ExitCode::from(super::FAILED) })
    };
    run().unwrap_or_else(|code| code)
}

/// Runs `warden matrix`.
pub fn run_matrix(paths: &[PathBuf], out: Out) -> ExitCode {
    let setup = Setup::rules_only(paths, out);
    let checked = match load_program(&setup) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let matrix = warden::matrix::build(&checked.program);
    match setup.out.format {
        Format::Json | Format::Sarif => setup.out.print(&serde_json::json!(matrix)),
        Format::Human => print!("{}", warden::diagnostic::clean(&warden::matrix::render(&matrix))),
    }
    ExitCode::SUCCESS
}

/// Runs `warden sql`: the query a retrieve runs on a SQL store, as the principal.
pub fn run_sql(setup: Setup<'_>, retrieve: String) -> ExitCode {
    on_one_retrieve(&setup, retrieve, |engine, stmt, out| {
        let q = engine.sql_of(stmt)?;
        match out.format {
            Format::Json | Format::Sarif => out.print(&serde_json::json!({
                "sql": q.text,
                "params": q.params.iter().map(|p| match p {
                    store::SqlValue::Null => serde_json::Value::Null,
                    store::SqlValue::Integer(i) => serde_json::json!(i),
                    store::SqlValue::Text(t) => serde_json::json!(t),
                }).collect::<Vec<_>>(),
                "exact": q.exact,
            })),
            Format::Human => print!("{}", warden::diagnostic::clean(&q.render())),
        }
        Ok(())
    })
}

/// Runs `warden explain --plan`: how a retrieve finds its candidates.
pub fn run_plan(setup: Setup<'_>, retrieve: String) -> ExitCode {
    on_one_retrieve(&setup, retrieve, |engine, stmt, out| {
        let plan = engine.plan_of(stmt)?;
        match out.format {
            Format::Json | Format::Sarif => out.print(&serde_json::json!({ "plan": plan })),
            Format::Human => print!("{}", warden::diagnostic::clean(&plan.render())),
        }
        Ok(())
    })
}

/// Loads the rules and the store, checks `retrieve` as one statement and acts as the
/// principal, then prints what `answer` makes of it (exit 0), or why not.
fn on_one_retrieve(
    setup: &Setup<'_>,
    retrieve: String,
    answer: impl FnOnce(&Engine<'_>, &warden::model::flow::Stmt, &Out) -> Result<(), warden::eval::EvalError>,
) -> ExitCode {
    let out = &setup.out;
    let run = || -> Result<ExitCode, ExitCode> {
        let checked = load_program(setup)?;
        let mut program = checked.program;
        let store = load_store(setup, &program, false)?;
        let now = clock(setup.now, out)?;
        let stmts = statements(&mut program, "<retrieve>", retrieve, setup)?;
        let program = &program;
        let mut engine = Engine::new(program, store, now);
        engine.set_step_budget(setup.max_steps.unwrap_or(warden::eval::DEFAULT_STEP_BUDGET));
        act_as(&mut engine, setup)?;
        let answered = match stmts.as_slice() {
            [stmt] => answer(&engine, stmt, out),
            _ => Err(warden::eval::EvalError::new(
                warden::codes::Code::R007,
                "give one retrieve, such as 'retrieve Shop.Cart'",
                Default::default(),
            )),
        };
        match answered {
            Ok(()) => Ok(ExitCode::SUCCESS),
            Err(e) => Ok(out.evaluation(&e.into(), &program.sources)),
        }
    };
    run().unwrap_or_else(|code| code)
}

/// How `warden store` spells a schema and where a PostgreSQL store lives.
pub struct StoreOptions<'a> {
    /// The SQL `schema` prints.
    pub dialect: warden::store::dialect::Dialect,
    /// The PostgreSQL schema of a `postgres://` source or target.
    pub pg_schema: Option<&'a str>,
}

/// Runs `warden store import|export|schema`.
pub fn run_store(paths: &[PathBuf], action: StoreAction, how: &StoreOptions<'_>, out: Out) -> ExitCode {
    let needs = if action == StoreAction::Schema { 1 } else { 3 };
    if paths.len() < needs {
        return usage_error(match action {
            StoreAction::Schema => "give the rules' paths",
            _ => "give the rules' paths, then the source store and the target store",
        });
    }
    let (rules, ends) =
        if action == StoreAction::Schema { (paths, &paths[paths.len()..]) } else { paths.split_at(paths.len() - 2) };
    let quiet = out.quiet;
    let setup = Setup::rules_only(rules, out);
    let checked = match load_program(&setup) {
        Ok(c) => c,
        Err(code) => return code,
    };
    match action {
        StoreAction::Schema => {
            print!("{}", store::sqlite::schema_sql_in(&checked.program, how.dialect));
            ExitCode::SUCCESS
        }
        StoreAction::Import | StoreAction::Export => {
            let (from, to) = (&ends[0], &ends[1]);
            if !from.exists() && !store::is_postgres(from) {
                return usage_error(format!("cannot read `{}`: no such file", from.display()));
            }
            match store::convert_in(&checked.program, from, to, how.pg_schema) {
                Ok(n) => {
                    if quiet {
                        return ExitCode::SUCCESS;
                    }
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
                        eprintln!("error: {}", warden::diagnostic::for_terminal(&e.to_string()));
                    }
                    ExitCode::from(super::FAILED)
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
