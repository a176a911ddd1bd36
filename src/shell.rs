//! The interactive shell's logic: statements and `:commands` in, text and
//! diagnostics out. The binary puts line editing around it (`warden repl`);
//! scripted runs and tests call it directly.

mod complete;

use std::path::{Path, PathBuf};

use crate::diagnostic::Diagnostic;
use crate::eval::{Engine, Outcome, PrincipalName, RunState, SessionKey, Vars};
use crate::model::flow::{self, Scope};
use crate::model::{Program, Type};
use crate::store::{self, MemoryStore, Value};
use crate::syntax;

pub use complete::CompletionIndex;

/// What one input produced.
#[derive(Debug, Default)]
pub struct Reply {
    /// Results, for stdout.
    pub text: String,
    /// Problems, rendered by the caller against [`Shell::program`]'s sources.
    pub diagnostics: Vec<Diagnostic>,
    /// `:quit` was given.
    pub quit: bool,
    /// The problem is a wrong argument (such as an unknown principal), not the rules or the data.
    pub usage: bool,
}

impl Reply {
    fn text(text: impl Into<String>) -> Reply {
        Reply { text: text.into(), ..Reply::default() }
    }

    fn error(message: impl Into<String>) -> Reply {
        Reply::text(format!("error: {}\n", message.into()))
    }

    /// An evaluation error as a reply: an unknown principal is a line of text (its
    /// span points nowhere in particular, so a snippet would mislead), anything else a diagnostic.
    fn eval_error(e: crate::eval::EvalError) -> Reply {
        if e.code == crate::eval::codes::PRINCIPAL {
            let mut reply = Reply::error(e.message);
            if let Some(help) = e.help {
                reply.text.push_str(&format!("  help: {help}\n"));
            }
            reply.usage = true;
            return reply;
        }
        Reply { diagnostics: vec![e.into()], ..Reply::default() }
    }
}

/// The commands, with their help.
pub(crate) const COMMANDS: &[(&str, &str, &str)] = &[
    (":load", "PATHS", "load other .rules files or directories (the store is kept when it still fits)"),
    (
        ":reload",
        "",
        "read the files again; keep the store and sessions when they still type-check, and say what changed",
    ),
    (":store", "FILE", "load a JSON store in place of the current one"),
    (":save", "[FILE]", "write the store (atomically) to FILE, or to the store it came from"),
    (":as", "PRINCIPAL", "act as `system`, `anonymous`, `anonymous:NAME` or a user's Name"),
    (":signin", "USER", "sign the current anonymous session in as USER (runs the sign-in microflow)"),
    (
        ":explain",
        "OP",
        "explain a decision: `read $o`, `write $o/Member`, `delete $o`, `create Entity`, `call Module.Flow`",
    ),
    (":type", "EXPR", "show the type of an expression without running it"),
    (":matrix", "", "print the access matrix"),
    (":reset", "", "start again: the store as loaded, no sessions, no variables"),
    (":help", "[COMMAND]", "list the commands, or explain one"),
    (":quit", "", "leave (Ctrl-D does too)"),
];

/// An interactive session over a program and a store.
pub struct Shell {
    paths: Vec<PathBuf>,
    store_path: Option<PathBuf>,
    /// The PostgreSQL schema of a `postgres://` store (default: named after the app).
    pg_schema: Option<String>,
    /// The program, with every line typed so far among its sources.
    pub program: Program,
    state: Option<RunState>,
    vars: Vars,
    /// The variables bound so far, in slot order, with their types.
    scope: Scope,
    lines: usize,
    now: Option<i64>,
    /// Who acted first; `:reset` returns to it.
    initial: PrincipalName,
    /// What each store file held when this session last read or wrote it: `:save` refuses
    /// to write over a store that another process changed since.
    seen: std::collections::HashMap<PathBuf, store::file::Fingerprint>,
    max_steps: u64,
}

impl Shell {
    /// Opens a shell: loads the rules (if any), the store (if any), acts as `principal`.
    pub fn open(
        paths: &[PathBuf],
        store_path: Option<&Path>,
        principal: &PrincipalName,
        now: Option<i64>,
    ) -> Result<Shell, Reply> {
        Shell::open_in(paths, store_path, None, principal, now)
    }

    /// [`Shell::open`], where the store may be a PostgreSQL URL whose store lives in schema
    /// `pg_schema` (default: named after the app); the shell works on a copy in memory.
    pub fn open_in(
        paths: &[PathBuf],
        store_path: Option<&Path>,
        pg_schema: Option<&str>,
        principal: &PrincipalName,
        now: Option<i64>,
    ) -> Result<Shell, Reply> {
        let program = load_program(paths)?;
        let (store, print) = load_store(&program, store_path, pg_schema)?;
        let mut shell = Shell {
            paths: paths.to_vec(),
            store_path: store_path.map(Path::to_path_buf),
            pg_schema: pg_schema.map(str::to_string),
            program,
            state: None,
            vars: Vars::new(),
            scope: Scope::default(),
            lines: 0,
            now,
            initial: principal.clone(),
            seen: std::collections::HashMap::new(),
            max_steps: crate::eval::DEFAULT_STEP_BUDGET,
        };
        shell.remember(store_path, print);
        let clock = shell.clock();
        let mut engine = Engine::new(&shell.program, Box::new(store), clock);
        if let Err(e) = engine.act_as(principal) {
            return Err(Reply::eval_error(e));
        }
        shell.state = Some(engine.into_state());
        Ok(shell)
    }

    fn clock(&self) -> i64 {
        self.now.unwrap_or_else(|| chrono::Utc::now().timestamp_millis())
    }

    /// Runs `f` on an engine resumed from the shell's state.
    // INVARIANT: the shell holds a state between inputs: only this function takes it, and it
    // puts it back before it returns.
    #[expect(clippy::expect_used, reason = "an invariant of the shell's state")]
    fn with_engine<T>(&mut self, f: impl FnOnce(&mut Engine<'_>, &mut Vars) -> T) -> T {
        let state = self.state.take().expect("the shell always holds a state between inputs");
        let mut engine = Engine::resume(&self.program, state);
        if self.now.is_none() {
            engine.set_now(chrono::Utc::now().timestamp_millis());
        }
        let result = f(&mut engine, &mut self.vars);
        self.state = Some(engine.into_state());
        result
    }

    /// The prompt: the acting principal (`anonymous:A> `, `alice> `, `system> `).
    pub fn prompt(&mut self) -> String {
        format!("{}> ", self.with_engine(|e, _| e.principal_name()))
    }

    /// Whether an input is complete: every `{`, `[` and `(` is closed (strings and comments aside).
    pub fn is_complete(input: &str) -> bool {
        use crate::syntax::scan::{pieces, PieceKind};
        let mut depth = 0i32;
        for piece in pieces(input) {
            match piece.kind {
                PieceKind::Code => {
                    for b in input[piece.start..piece.end].bytes() {
                        match b {
                            b'{' | b'[' | b'(' => depth += 1,
                            b'}' | b']' | b')' => depth -= 1,
                            _ => {}
                        }
                    }
                }
                // An open block comment continues on the next line, as an open brace does.
                PieceKind::BlockComment { closed: false } => return false,
                PieceKind::String { .. } | PieceKind::LineComment | PieceKind::BlockComment { closed: true } => {}
            }
        }
        depth <= 0
    }

    /// Handles one complete input: a `:command` or statements.
    pub fn handle(&mut self, input: &str) -> Reply {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Reply::default();
        }
        if let Some(command) = trimmed.strip_prefix(':') {
            return self.command(command);
        }
        self.statements(input)
    }

    fn statements(&mut self, input: &str) -> Reply {
        self.lines += 1;
        let name = format!("<repl:{}>", self.lines);
        let file = self.program.sources.add(name, input.to_string());
        let stmts = match syntax::parse_statements(input, file) {
            Ok(s) => s,
            Err(e) => return Reply { diagnostics: vec![e.into()], ..Reply::default() },
        };
        let scope = self.var_types();
        let checked = crate::check::check_statements(&mut self.program, &stmts, &scope);
        if checked.has_errors() {
            return Reply { diagnostics: checked.diagnostics, ..Reply::default() };
        }
        self.scope = checked.scope;
        self.run(&checked.stmts)
    }

    fn run(&mut self, stmts: &[flow::Stmt]) -> Reply {
        self.with_engine(|engine, vars| {
            let mut reply = Reply::default();
            for stmt in stmts {
                let logged = engine.log().len();
                let result = engine.run_top(stmt, vars);
                for line in &engine.log()[logged..] {
                    reply.text.push_str(&format!("log: {line}\n"));
                }
                match result {
                    Ok(Outcome::Value(v)) => reply.text.push_str(&format!("{}\n", show_table(engine, &v))),
                    Ok(Outcome::Text(t)) => reply.text.push_str(&t),
                    Ok(Outcome::Nothing) => {}
                    Err(e) => {
                        reply.diagnostics.push(e.into());
                        break;
                    }
                }
            }
            reply
        })
    }

    /// The variables bound so far; where a type is unknown statically (`let $x = #5`), the
    /// type of the value the variable holds now.
    fn var_types(&mut self) -> Scope {
        let mut scope = self.scope.clone();
        let refined: Vec<Type> = self.with_engine(|engine, vars| {
            scope
                .types
                .iter()
                .enumerate()
                .map(|(slot, ty)| {
                    let Some(v) = vars.get(slot).filter(|_| *ty == Type::Unknown) else { return *ty };
                    match v {
                        Value::Object(id) => engine.object(*id).map_or(Type::Unknown, |o| Type::Object(o.entity)),
                        Value::List(ids) => ids
                            .first()
                            .and_then(|id| engine.object(*id))
                            .map_or(Type::Unknown, |o| Type::List(o.entity)),
                        Value::String(_) => Type::String,
                        Value::Integer(_) => Type::Long,
                        Value::Decimal(_) => Type::Decimal,
                        Value::Boolean(_) => Type::Boolean,
                        Value::DateTime(_) => Type::DateTime,
                        Value::Enum(e, _) => Type::Enum(*e),
                        Value::Instance(_) => Type::Instance,
                        Value::Duration { .. } => Type::Duration,
                        Value::Empty => Type::Unknown,
                    }
                })
                .collect()
        });
        scope.types = refined;
        scope
    }

    fn command(&mut self, command: &str) -> Reply {
        let (name, arg) = command.split_once(char::is_whitespace).unwrap_or((command, ""));
        let arg = arg.trim();
        match name {
            "quit" | "q" | "exit" => Reply { quit: true, ..Reply::default() },
            "help" | "h" => Reply::text(help(arg)),
            "as" => {
                if arg.is_empty() {
                    return Reply::error("say who: `:as system`, `:as anonymous:A`, `:as alice`");
                }
                let principal: PrincipalName = arg.parse().unwrap_or(PrincipalName::System);
                match self.with_engine(|e, _| e.act_as(&principal)) {
                    Ok(()) => Reply::default(),
                    Err(e) => Reply::eval_error(e),
                }
            }
            "signin" => self.sign_in(arg),
            "explain" => self.statements(&format!("explain {arg}")),
            "matrix" => Reply::text(crate::matrix::render(&crate::matrix::build(&self.program))),
            "type" => self.type_of(arg),
            "save" => self.save(arg),
            "store" => {
                if arg.is_empty() {
                    return Reply::error("say which store: `:store FILE`");
                }
                match load_store(&self.program, Some(Path::new(arg)), self.pg_schema.as_deref()) {
                    Ok((store, print)) => {
                        self.store_path = Some(PathBuf::from(arg));
                        self.remember(Some(Path::new(arg)), print);
                        self.replace_store(store);
                        Reply::text(format!("loaded {arg}\n"))
                    }
                    Err(reply) => reply,
                }
            }
            "reset" => match load_store(&self.program, self.store_path.as_deref(), self.pg_schema.as_deref()) {
                Ok((store, print)) => {
                    let path = self.store_path.clone();
                    self.remember(path.as_deref(), print);
                    let mut engine = Engine::new(&self.program, Box::new(store), self.clock());
                    engine.set_step_budget(self.max_steps);
                    let acted = engine.act_as(&self.initial);
                    let who = engine.principal_name();
                    self.state = Some(engine.into_state());
                    self.vars = Vars::new();
                    self.scope = Scope::default();
                    let mut reply = Reply::text(format!(
                        "reset: the store as loaded, no sessions, no variables; acting as {who} again\n"
                    ));
                    if let Err(e) = acted {
                        reply.text.push_str(&format!("(cannot act as the first principal: {})\n", e.message));
                    }
                    reply
                }
                Err(reply) => reply,
            },
            "reload" => {
                let paths = self.paths.clone();
                self.reload(&paths)
            }
            "load" => {
                if arg.is_empty() {
                    return Reply::error("say what to load: `:load PATHS`");
                }
                let paths: Vec<PathBuf> = arg.split_whitespace().map(PathBuf::from).collect();
                self.reload(&paths)
            }
            other => {
                let names: Vec<&str> = COMMANDS.iter().map(|(c, _, _)| &c[1..]).collect();
                let hint = crate::diagnostic::suggest::hint(other, names);
                Reply::error(format!("unknown command `:{other}`{hint}; `:help` lists the commands"))
            }
        }
    }

    /// `:signin USER`: signs the anonymous session in and says what happened.
    fn sign_in(&mut self, user: &str) -> Reply {
        if user.is_empty() {
            return Reply::error("say who signs in: `:signin alice`");
        }
        let before = self.with_engine(|e, _| e.principal_name());
        let mut reply = self.statements(&format!("sign in {user}"));
        if reply.diagnostics.is_empty() {
            let after = self.with_engine(|e, _| e.principal_name());
            let flow = match self.program.app.sign_in {
                Some(id) => format!("the sign-in microflow {} ran", self.program.microflow(id).name),
                None => "the app has no sign-in microflow".to_string(),
            };
            reply
                .text
                .push_str(&format!("signed in: {before} is now {after}; {flow} and the anonymous user was deleted\n"));
        }
        reply
    }

    fn principal(&mut self) -> PrincipalName {
        self.with_engine(|e, _| match e.current() {
            SessionKey::System => PrincipalName::System,
            SessionKey::Anonymous(name) => PrincipalName::Anonymous(Some(name.to_string())),
            SessionKey::User(_) => PrincipalName::User(e.principal_name()),
        })
    }

    fn type_of(&mut self, expr: &str) -> Reply {
        if expr.is_empty() {
            return Reply::error("give an expression: `:type count(retrieve Shop.Cart)`");
        }
        self.lines += 1;
        let text = format!("let $__type = {expr}");
        let file = self.program.sources.add(format!("<repl:{}>", self.lines), text.clone());
        let stmts = match syntax::parse_statements(&text, file) {
            Ok(s) => s,
            Err(e) => return Reply { diagnostics: vec![e.into()], ..Reply::default() },
        };
        let scope = self.var_types();
        let (diagnostics, ty) = crate::check::type_of_let(&mut self.program, &stmts, &scope);
        if diagnostics.iter().any(Diagnostic::is_error) {
            return Reply { diagnostics, ..Reply::default() };
        }
        Reply::text(format!("{}\n", ty.describe(&self.program)))
    }

    /// Sets the step limit of each statement (`--max-steps`).
    pub fn set_max_steps(&mut self, max: u64) {
        self.max_steps = max;
        if let Some(state) = self.state.as_mut() {
            state.step_budget = max;
        }
    }

    fn remember(&mut self, path: Option<&Path>, print: Option<store::file::Fingerprint>) {
        if let (Some(path), Some(print)) = (path, print) {
            self.seen.insert(path.to_path_buf(), print);
        }
    }

    /// `:save [FILE]`: under the store's write lock, and only over what this session last
    /// read or wrote there (a file it never read must not exist yet).
    fn save(&mut self, arg: &str) -> Reply {
        let path = if arg.is_empty() { self.store_path.clone() } else { Some(PathBuf::from(arg)) };
        let Some(path) = path else { return Reply::error("say where: `:save FILE` (no store was loaded)") };
        if store::is_postgres(&path) {
            return Reply::error(
                "`:save` writes a JSON or SQLite file, not a PostgreSQL store (the REPL works on a copy in memory); \
                 `:save FILE.json` keeps this session's store, and `warden eval --save --store URL` changes the database",
            );
        }
        let program = &self.program;
        // INVARIANT: as in `with_engine`.
        #[expect(clippy::expect_used, reason = "an invariant of the shell's state")]
        let state = self.state.as_ref().expect("a state");
        let base = self.seen.get(&path).copied();
        match store::file::save_over(program, state.store.as_ref(), &path, base) {
            Ok(print) => {
                self.seen.insert(path.clone(), print);
                Reply::text(format!("saved {}\n", path.display()))
            }
            Err(e @ store::file::SaveError::Changed(_)) => Reply::error(format!(
                "{e}; `:store {}` reads it again (and drops this session's changes), or `:save OTHER` writes elsewhere",
                path.display()
            )),
            Err(e) => Reply::error(e.to_string()),
        }
    }

    fn replace_store(&mut self, store: MemoryStore) {
        let principal = self.principal();
        let mut engine = Engine::new(&self.program, Box::new(store), self.clock());
        engine.set_step_budget(self.max_steps);
        let _ = engine.act_as(&principal);
        self.state = Some(engine.into_state());
    }

    /// Loads `paths` again; keeps the store (carried over through its JSON form)
    /// when it fits the new schema, and says what changed.
    fn reload(&mut self, paths: &[PathBuf]) -> Reply {
        let program = match load_program(paths) {
            Ok(p) => p,
            Err(reply) => return reply,
        };
        let before = summary(&self.program);
        let json = {
            // INVARIANT: as in `with_engine`.
            #[expect(clippy::expect_used, reason = "an invariant of the shell's state")]
            let state = self.state.as_ref().expect("a state");
            store::to_json(&self.program, state.store.as_ref()).to_string()
        };
        let store = match store::load_json(&program, &json) {
            Ok(s) => s,
            Err(errors) => {
                let mut text = String::from("the store does not fit the reloaded rules; nothing was reloaded:\n");
                for e in errors.iter().take(10) {
                    text.push_str(&format!("  {e}\n"));
                }
                return Reply::text(text);
            }
        };
        let principal = self.principal();
        let after = summary(&program);
        self.program = program;
        self.paths = paths.to_vec();
        self.vars = Vars::new();
        self.scope = Scope::default();
        let mut engine = Engine::new(&self.program, Box::new(store), self.clock());
        engine.set_step_budget(self.max_steps);
        let acted = engine.act_as(&principal);
        self.state = Some(engine.into_state());
        let mut text = format!(
            "reloaded {}; the store was kept; variables and uncommitted objects were dropped\n",
            describe_paths(paths)
        );
        for line in changes(&before, &after) {
            text.push_str(&format!("  {line}\n"));
        }
        let mut reply = Reply::text(text);
        if let Err(e) = acted {
            reply.diagnostics.push(e.into());
        }
        reply
    }

    /// What Tab completes, by context, for the line editor.
    pub fn completion_index(&mut self) -> CompletionIndex {
        let scope = self.var_types();
        let mut vars: Vec<(String, Type)> = scope.names.iter().map(|n| n.to_string()).zip(scope.types).collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        let principals = self.principals();
        let users = self.with_engine(|e, _| e.user_names());
        let commands: Vec<&str> = COMMANDS.iter().map(|(c, _, _)| *c).collect();
        CompletionIndex::new(&self.program, &commands, &vars, principals, users)
    }

    /// Principals `:as` can name.
    pub fn principals(&mut self) -> Vec<String> {
        let mut names = vec!["system".to_string(), "anonymous".to_string()];
        names.extend(self.with_engine(|e, _| e.user_names()));
        names
    }
}

fn load_program(paths: &[PathBuf]) -> Result<Program, Reply> {
    if paths.is_empty() {
        return Ok(crate::load::load(crate::source::SourceMap::new()).program);
    }
    let checked = crate::load::load_paths(paths).map_err(|e| Reply::error(e.to_string()))?;
    if checked.has_errors() {
        return Err(Reply { diagnostics: checked.diagnostics, ..Reply::default() });
    }
    Ok(checked.program)
}

/// The REPL works on a copy in memory of a JSON or SQLite store; `:save` writes it back.
fn load_store(
    program: &Program,
    path: Option<&Path>,
    pg_schema: Option<&str>,
) -> Result<(MemoryStore, Option<store::file::Fingerprint>), Reply> {
    let Some(path) = path else { return Ok((MemoryStore::new(), None)) };
    if store::is_postgres(path) {
        // A copy in memory, as of a SQLite store; `:save` never writes the database.
        return store::load_into_memory_in(program, path, pg_schema).map(|s| (s, None)).map_err(|errors| {
            // The errors name the database without its password.
            let mut text = "the PostgreSQL store does not load:\n".to_string();
            for e in &errors {
                text.push_str(&format!("  {e}\n"));
            }
            Reply::text(text)
        });
    }
    if !path.exists() {
        return Err(Reply::error(format!("cannot read `{}`: no such file", path.display())));
    }
    store::file::load_with_fingerprint(program, path).map(|(s, p)| (s, Some(p))).map_err(|errors| {
        let mut text = format!("the store `{}` does not load:\n", path.display());
        for e in &errors {
            text.push_str(&format!("  {e}\n"));
        }
        Reply::text(text)
    })
}

/// A value for the shell: like `warden eval`, with lists of several objects as a table.
fn show_table(engine: &Engine<'_>, value: &Value) -> String {
    let Value::List(ids) = value else { return engine.show(value) };
    let objects: Vec<_> = ids.iter().filter_map(|id| engine.object(*id)).filter(|o| engine.can_see(o)).collect();
    if objects.len() < 2 || objects.iter().any(|o| o.entity != objects[0].entity) {
        return engine.show(value);
    }
    let rows: Vec<Vec<(String, String)>> = objects
        .iter()
        .map(|o| {
            let mut row = vec![("id".to_string(), o.id.to_string())];
            row.extend(engine.readable_members(o).into_iter().map(|(m, v)| (m, v.display(engine.program()))));
            row
        })
        .collect();
    let mut columns: Vec<String> = Vec::new();
    for row in &rows {
        for (c, _) in row {
            if !columns.contains(c) {
                columns.push(c.clone());
            }
        }
    }
    let cell = |row: &Vec<(String, String)>, c: &str| {
        row.iter().find(|(k, _)| k == c).map(|(_, v)| v.clone()).unwrap_or_default()
    };
    let widths: Vec<usize> = columns
        .iter()
        .map(|c| rows.iter().map(|r| cell(r, c).chars().count()).max().unwrap_or(0).max(c.chars().count()))
        .collect();
    let line = |cells: Vec<String>| {
        cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect::<Vec<_>>().join("  ").trim_end().to_string()
    };
    let mut out = format!("{} ({} objects)\n", engine.program().entity(objects[0].entity).name, rows.len());
    out.push_str(&line(columns.clone()));
    for r in &rows {
        out.push('\n');
        out.push_str(&line(columns.iter().map(|c| cell(r, c)).collect()));
    }
    out
}

fn help(arg: &str) -> String {
    let wanted = arg.trim_start_matches(':');
    if !wanted.is_empty() {
        return match COMMANDS.iter().find(|(c, _, _)| &c[1..] == wanted) {
            Some((c, args, what)) => format!("{c} {args}\n  {what}\n"),
            None => format!("no command `:{wanted}`; `:help` lists them\n"),
        };
    }
    let mut out = String::from("Type any statement or expression of a test block, or a command:\n");
    for (c, args, what) in COMMANDS {
        out.push_str(&format!("  {:<22} {what}\n", format!("{c} {args}")));
    }
    out.push_str("A block continues on the next line while a `{`, `[` or `(` is open. Tab completes names.\n");
    out
}

fn summary(p: &Program) -> Vec<(String, String)> {
    let mut items: Vec<(String, String)> = Vec::new();
    items.extend(p.entities.iter().map(|e| ("entity".to_string(), e.name.to_string())));
    items.extend(p.microflows.iter().map(|m| ("microflow".to_string(), m.name.to_string())));
    items.extend(p.user_roles.iter().map(|r| ("user role".to_string(), r.name.to_string())));
    items.extend(p.resources.iter().map(|r| (r.kind.as_str().to_string(), r.name.to_string())));
    items.extend(p.access_rules.iter().map(|r| {
        (
            "access rule".to_string(),
            format!("{} {}", p.entity(r.entity).name, r.constraint_text.clone().unwrap_or_default()),
        )
    }));
    items.sort();
    items
}

fn changes(before: &[(String, String)], after: &[(String, String)]) -> Vec<String> {
    let mut out = Vec::new();
    for (kind, name) in after.iter().filter(|x| !before.contains(x)) {
        out.push(format!("+ {kind} {name}"));
    }
    for (kind, name) in before.iter().filter(|x| !after.contains(x)) {
        out.push(format!("- {kind} {name}"));
    }
    if out.is_empty() {
        out.push("no declaration changed".into());
    }
    out
}

fn describe_paths(paths: &[PathBuf]) -> String {
    paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
}
