//! The `warden` command line: argument handling and printing only; the work is
//! done by the library.

mod cli;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use serde_json::json;

/// A checker, auditor and interpreter for `.rules` access-control programs.
///
/// Rules describe who may do what in a business application: entity access
/// with XPath constraints, module and user roles, anonymous users and their
/// sign-in, and runtime resources opened to anonymous visitors.
#[derive(Parser)]
#[command(name = "warden", version, about, long_about)]
struct Cli {
    /// When to colour output.
    #[arg(long, global = true, value_enum, default_value_t = Color::Auto)]
    color: Color,
    /// Print results and errors only: no summary lines, no `ok` lines, no logs
    /// (what each command leaves out is in its `--help`).
    #[arg(long, short = 'q', global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

/// When to use colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Color {
    /// When the output is a terminal and NO_COLOR is unset.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// How results are printed (every command's formats map to this).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// For people: source snippets with the problem underlined.
    Human,
    /// One JSON document on stdout, for programs.
    Json,
    /// SARIF 2.1.0, for code-scanning tools.
    Sarif,
}

/// The formats of `check` and `audit`, which report diagnostics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// For people: source snippets with the problem underlined, on stderr.
    Human,
    /// One JSON document on stdout, on every path (failures add `error`).
    Json,
    /// SARIF 2.1.0 on stdout, for code-scanning tools, on every path.
    Sarif,
}

/// The formats of the commands that print results (`test`, `eval`, `explain`, `sql`, `matrix`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ResultFormat {
    /// For people.
    Human,
    /// One JSON document on stdout, on every path (failures add `error`).
    Json,
}

impl From<ReportFormat> for Format {
    fn from(f: ReportFormat) -> Format {
        match f {
            ReportFormat::Human => Format::Human,
            ReportFormat::Json => Format::Json,
            ReportFormat::Sarif => Format::Sarif,
        }
    }
}

impl From<ResultFormat> for Format {
    fn from(f: ResultFormat) -> Format {
        match f {
            ResultFormat::Human => Format::Human,
            ResultFormat::Json => Format::Json,
        }
    }
}

/// The formats of `test --coverage`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CoverageFormat {
    /// A table per kind of item and the items not exercised.
    Human,
    /// An LCOV tracefile, for coverage viewers.
    Lcov,
    /// One JSON document.
    Json,
}

/// The formats of `diff`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DiffFormat {
    /// For people.
    Human,
    /// One JSON document on stdout, on every path (failures add `error`).
    Json,
    /// Markdown, for a pull-request comment.
    Markdown,
}

/// The severity at which `audit` fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    /// Warnings and errors fail.
    Warning,
    /// Only errors fail.
    Error,
}

/// The store `warden test` runs blocks over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// The in-memory store.
    Memory,
    /// SQLite (in memory), with retrieves as SQL.
    Sqlite,
    /// PostgreSQL: each block in a fresh schema, dropped afterwards.
    Postgres,
}

/// The SQL a schema is printed in (`warden store schema --dialect`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SqlDialect {
    /// SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// What `warden store` does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum StoreCommand {
    /// Copy a JSON store into a new SQLite database.
    Import,
    /// Write a SQLite store out as JSON.
    Export,
    /// Print the tables, indexes and views a program's SQLite store has.
    Schema,
}

/// Who acts, over which store, at what time, and how results print (`eval`, `explain`, `sql`).
#[derive(clap::Args)]
struct Acting {
    /// The store: a JSON file, a SQLite database (`.db`, `.sqlite`, `.sqlite3`) or a
    /// PostgreSQL URL (`postgres://USER@HOST:PORT/DB`); else `WARDEN_STORE`, else an empty store.
    #[arg(long)]
    store: Option<PathBuf>,
    /// The PostgreSQL schema of the store (default: named after the app).
    #[arg(long, value_name = "SCHEMA")]
    pg_schema: Option<String>,
    /// Who acts: `system`, `anonymous`, `anonymous:NAME` or a user's Name.
    #[arg(long = "as", default_value = "system")]
    principal: String,
    /// The clock, as RFC 3339, for `now` and date tokens (default: the system clock).
    #[arg(long)]
    now: Option<String>,
    /// The most steps one top-level statement may take (statements run, objects examined by
    /// retrieves, text and lists built); reaching it is an error that rolls the statement back
    /// (default 10000000).
    #[arg(long, value_name = "N")]
    max_steps: Option<u64>,
    /// The most objects a SQLite store keeps in memory (it reads objects when asked; default
    /// 100000, a few tens of MB whatever the store's size).
    #[arg(long, value_name = "N")]
    cache_objects: Option<usize>,
    /// Output format (`json`: one document on stdout, on every path).
    #[arg(long, value_enum, default_value_t = ResultFormat::Human)]
    format: ResultFormat,
}

impl Acting {
    fn setup<'a>(&'a mut self, paths: &'a [PathBuf], out: cli::output::Out) -> cli::eval::Setup<'a> {
        if self.store.is_none() {
            self.store = std::env::var_os("WARDEN_STORE").filter(|s| !s.is_empty()).map(PathBuf::from);
        }
        cli::eval::Setup {
            paths,
            store: self.store.as_deref(),
            pg_schema: self.pg_schema.as_deref(),
            principal: self.principal.parse().unwrap_or(warden::eval::PrincipalName::System),
            now: self.now.as_deref(),
            max_steps: self.max_steps,
            cache_objects: self.cache_objects,
            out,
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Parse and type-check .rules files; print every problem with its code and source.
    ///
    /// `-` reads a program from standard input. With `--quiet`, only errors are
    /// printed (no warnings, no summary line). Exit status: 0 when there are no
    /// errors (warnings do not fail), 1 when there are errors, 2 when a file
    /// cannot be read or the arguments are wrong.
    Check {
        /// Files or directories (a directory loads every *.rules file below it); `-` is standard input.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ReportFormat::Human)]
        format: ReportFormat,
    },
    /// Review anonymous access: findings A001-A011 (shared module roles, unconstrained
    /// writes and deletes, full reads, data that outlives sign-in, unreachable or
    /// anonymous-only resources, specializations without rules, readable hashes,
    /// microflows nobody may call, processes a signed-in role cannot start).
    ///
    /// Silence an intended finding with a comment on the line above the declaration:
    /// `// warden:allow A003 the catalogue is public on purpose`. `warden explain-code
    /// A003` describes a code. With `--quiet`, no summary line. Exit status: 0 when no
    /// finding reaches `--fail-on`, 1 otherwise (and when the rules do not check), 2
    /// for usage and I/O.
    Audit {
        /// Files or directories; `-` is standard input.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ReportFormat::Human)]
        format: ReportFormat,
        /// The severity that fails the run.
        #[arg(long, value_enum, default_value_t = FailOn::Error)]
        fail_on: FailOn,
    },
    /// Run every `test` and `snapshot` block: each in a fresh store, one line each.
    ///
    /// A snapshot block records what each statement shows and compares it with
    /// `FILE.rules.snap`; new or changed text goes to `FILE.rules.snap.new` and
    /// fails until `--accept` takes it in. Ends with `N passed, N failed`. With
    /// `--quiet`, only failing blocks and the summary line. `--watch` runs again
    /// whenever a rules, `.snap` or store file under the paths changes (one
    /// document per run with `--format json`). Exit status: 0 when everything
    /// passes, 1 when something fails or the rules do not check, 2 for usage and
    /// I/O problems.
    Test {
        /// Files or directories; `-` is standard input (snapshot blocks then fail: they need a file).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Run only the tests and snapshots whose name contains this text.
        #[arg(long)]
        filter: Option<String>,
        /// Take new snapshot text into the `.snap` files (and drop stale sections).
        #[arg(long)]
        accept: bool,
        /// The store each block runs over: `memory`, `sqlite` (a SQLite database in
        /// memory, retrieves run as SQL) or `postgres` (a fresh schema per block in the
        /// database of `--store`, else `WARDEN_TEST_POSTGRES`, dropped afterwards). All must
        /// give the same outcomes.
        #[arg(long, value_enum, default_value_t = Backend::Memory)]
        backend: Backend,
        /// With `--backend postgres`, the database: `postgres://USER@HOST:PORT/DB`.
        #[arg(long, value_name = "URL")]
        store: Option<String>,
        /// The most steps one top-level statement of a block may take (statements run, objects
        /// examined by retrieves, text and lists built; default 10000000).
        #[arg(long, value_name = "N")]
        max_steps: Option<u64>,
        /// Output format (`json`: `{"tests": [...], "passed": N, "failed": N}`).
        #[arg(long, value_enum, default_value_t = ResultFormat::Human)]
        format: ResultFormat,
        /// Keep running: run again on every change of a rules, `.snap` or store file
        /// under the paths, until interrupted.
        #[arg(long, conflicts_with = "mutate")]
        watch: bool,
        /// Mutation testing: run the tests against small weakenings of the rules (a `where`
        /// dropped, a read widened to a write, a rule granted to the anonymous role, ...) and
        /// list each one no test notices. Exit 1 when one survives (or the score is below
        /// `--fail-under`).
        #[arg(long, conflicts_with = "accept")]
        mutate: bool,
        /// Report what the blocks exercised: access rules, each side of every `and`/`or` taken
        /// true and false, member grants, microflow statements and branches, resource
        /// permissions and component conditions, with every item not exercised.
        #[arg(long, conflicts_with = "mutate")]
        coverage: bool,
        /// With `--coverage`: `human`, `lcov` (for coverage viewers) or `json`; `lcov` and `json`
        /// on standard output move the test lines to standard error.
        #[arg(long, value_enum, value_name = "FORMAT", default_value_t = CoverageFormat::Human, requires = "coverage")]
        coverage_format: CoverageFormat,
        /// With `--coverage`: write the report into this file instead of standard output.
        #[arg(long, value_name = "FILE", requires = "coverage")]
        coverage_output: Option<PathBuf>,
        /// With `--coverage`, the lowest coverage that passes; with `--mutate`, the lowest mutation
        /// score (default 100); in percent.
        #[arg(long, value_name = "PERCENT")]
        fail_under: Option<f64>,
        /// With `--mutate`: how many mutants run at once (default: the machine's cores).
        #[arg(long, value_name = "N", requires = "mutate")]
        jobs: Option<usize>,
    },
    /// Run statements as a principal over a store and print each result.
    ///
    /// Objects show only the members the principal may read. With `--quiet`, no
    /// `log:` lines. Exit status: 0 when every statement succeeds, 1 when one fails
    /// or is denied (or the rules, the statements or the store are wrong), 2 for
    /// usage and I/O (an unknown `--as` principal included).
    Eval {
        /// Files or directories, then SCRIPT when `-e` is not given (`-`: statements from standard input).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        #[command(flatten)]
        acting: Acting,
        /// Write the store back when every statement succeeds: a JSON file atomically
        /// (temporary file and rename), a SQLite database as one transaction.
        #[arg(long)]
        save: bool,
        /// Statements to run; without it, the last path is a file of statements (SCRIPT).
        #[arg(short = 'e', long = "expression")]
        expression: Option<String>,
    },
    /// Explain one decision: every rule of the entity, each constraint term with
    /// its value, and what decided.
    ///
    /// OP is as in `expect allow`: `read #5`, `read #5/Total`, `write #5/Total`,
    /// `delete #5`, `create Shop.Cart`, `call Shop.Checkout`. With `--quiet`, only
    /// the decision line.
    ///
    /// Exit status: 0 allow; 1 deny; 2 usage or I/O (a file that cannot be read, an
    /// unknown `--as` principal, a bad `--now`); 3 no decision because the rules,
    /// the store or the operation are wrong (they do not check or load); 4 no
    /// decision because evaluating the operation failed (such as an object the
    /// principal cannot see).
    ///
    /// With `--plan`, OP is a retrieve (`'retrieve Shop.Line [Status = 1]'`) and the
    /// answer is how it finds its candidates: for each entity it reads, the principal's
    /// rules and the retrieve's constraint with their keys (the reference index, a
    /// column scan, a semi-join along a path) or why they have none; exit 0.
    Explain {
        /// Files or directories, then the operation (OP).
        #[arg(required = true, value_name = "PATHS... OP")]
        paths: Vec<PathBuf>,
        /// Explain a retrieve's plan instead of a decision.
        #[arg(long)]
        plan: bool,
        #[command(flatten)]
        acting: Acting,
    },
    /// An interactive shell: run statements as a principal, explain decisions,
    /// switch principals and sign in, with completion and history.
    ///
    /// With stdin not a terminal, statements are read line by line with no prompt,
    /// so a session can be scripted: `warden repl shop.rules < session.txt`. An
    /// unfinished block continues under a `...> ` prompt. With `--quiet`, no banner.
    /// Exit status: 0, or (scripted) 1 when an input failed; 2 for an unknown `--as`
    /// principal and other usage problems.
    Repl {
        /// Files or directories (none: an empty program); not `-`, since statements come
        /// from standard input.
        paths: Vec<PathBuf>,
        /// The store to load, JSON, SQLite (`.db`, `.sqlite`, `.sqlite3`) or a PostgreSQL URL
        /// (`postgres://USER@HOST:PORT/DB`); the REPL works on a copy in memory that `:save`
        /// writes back (to a file only). An empty store when omitted.
        #[arg(long)]
        store: Option<PathBuf>,
        /// The PostgreSQL schema of a `postgres://` store (default: named after the app).
        #[arg(long, value_name = "SCHEMA")]
        pg_schema: Option<String>,
        /// Who acts first: `system`, `anonymous`, `anonymous:NAME` or a user's Name.
        #[arg(long = "as", default_value = "system")]
        principal: String,
        /// A fixed clock, as RFC 3339 (default: the system clock).
        #[arg(long)]
        now: Option<String>,
        /// The most steps one statement may take (statements run, objects examined by
        /// retrieves, text and lists built; default 10000000).
        #[arg(long, value_name = "N")]
        max_steps: Option<u64>,
    },
    /// Rewrite .rules files in the one canonical layout, comments kept.
    ///
    /// A file with a syntax error is reported and left untouched; `-` formats
    /// standard input to standard output. With `--quiet`, no `formatted FILE` lines.
    /// Exit status: 0 when done (or, with `--check` or `--diff`, when nothing would
    /// change), 1 when a file has a syntax error or `--check`/`--diff` finds files
    /// to reformat, 2 for usage and I/O.
    Fmt {
        /// Files or directories; `-` is standard input.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// List the files that would change, and change nothing.
        #[arg(long, conflicts_with = "diff")]
        check: bool,
        /// Print a unified diff of what would change, and change nothing.
        #[arg(long)]
        diff: bool,
        /// Print the formatted text instead of writing it.
        #[arg(long, conflicts_with_all = ["check", "diff"])]
        stdout: bool,
    },
    /// Print the SQL a retrieve runs on a SQLite store, as a principal, for review.
    ///
    /// The principal's access rules and the retrieve's constraints become one query;
    /// tokens and constants are parameters, listed under it. Example:
    /// `warden sql shop.rules --store shop.db --as alice 'retrieve Shop.Cart'`.
    Sql {
        /// Files or directories, then the retrieve (RETRIEVE).
        #[arg(required = true, value_name = "PATHS... RETRIEVE")]
        paths: Vec<PathBuf>,
        #[command(flatten)]
        acting: Acting,
    },
    /// Convert stores between JSON and SQLite, or print the SQLite schema of a program.
    ///
    /// `warden store import shop.rules shop.store.json shop.db` makes a new SQLite
    /// store from a JSON one; `warden store export shop.rules shop.db out.json` writes
    /// a SQLite store out as JSON; `warden store schema shop.rules` prints the tables.
    /// With `--quiet`, no `copied N objects` line.
    Store {
        /// What to do.
        #[arg(value_enum)]
        action: StoreCommand,
        /// Files or directories of the program, then (import, export) SOURCE and TARGET.
        #[arg(required = true, value_name = "PATHS... [SOURCE TARGET]")]
        paths: Vec<PathBuf>,
        /// With `schema`, the SQL it is printed in.
        #[arg(long, value_enum, default_value_t = SqlDialect::Sqlite)]
        dialect: SqlDialect,
        /// The PostgreSQL schema of a `postgres://` SOURCE or TARGET (default: named after the app).
        #[arg(long, value_name = "SCHEMA")]
        pg_schema: Option<String>,
    },
    /// Print the access matrix: for every user role (the anonymous role first)
    /// and entity, create, see and delete with their constraints, and each member's right.
    Matrix {
        /// Files or directories; `-` is standard input.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ResultFormat::Human)]
        format: ResultFormat,
    },
    /// Show what a change of the rules gives or takes from each user role (the anonymous
    /// role first): create, delete, visibility and member rights per entity, microflow calls,
    /// resource operations, component conditions, the app's gates, and new audit findings.
    ///
    /// `warden diff OLD NEW` compares two files or directories; `warden diff --git REV [PATHS]`
    /// compares PATHS (default `.`) in the working tree with the same paths at a git revision.
    /// Exit status: 0; 1 when `--fail-on-widening ROLE` is given and ROLE gains anything (or
    /// something changes for it that warden cannot order), or when a version does not check;
    /// 2 for usage and I/O problems.
    Diff {
        /// OLD NEW, or with `--git`, the paths to compare (default `.`).
        #[arg(value_name = "PATHS")]
        paths: Vec<PathBuf>,
        /// Compare the working tree with this git revision (`origin/main`, `HEAD~1`).
        #[arg(long, value_name = "REV")]
        git: Option<String>,
        /// Exit 1 when this user role gains any right (use the anonymous role's name in CI).
        #[arg(long, value_name = "ROLE")]
        fail_on_widening: Option<String>,
        /// Output format (`markdown` for a pull-request comment).
        #[arg(long, value_enum, default_value_t = DiffFormat::Human)]
        format: DiffFormat,
    },
    /// Explain a diagnostic code: its severity, meaning, an example and the fix (`warden explain-code A003`).
    ///
    /// Without a code, list every code, one per line. The explanations are also in
    /// docs/codes.md. Exit status: 0, or 2 for a code warden does not have.
    ExplainCode {
        /// The code, such as `E0105`, `R001` or `A003` (any case).
        code: Option<String>,
    },
    /// Serve the FlowX anonymous runtime over HTTP, for front-end teams (an emulator).
    ///
    /// The runtime paths of FlowX (process and UI flow starts, status, data, actions,
    /// uploads, event streams, build info, public assets) answer as the rules decide,
    /// with anonymous sessions in the `X-Fx-Anonymous-Session-Id` header, bearer tokens
    /// from `POST /__warden/token {"user": "alice"}` or `--users`, and CORS for a
    /// renderer on another origin. `POST /__warden/access {"access": "invited"}` closes
    /// the app's gate, `POST /__warden/reset` forgets sessions and instances. docs/serve.md
    /// lists every endpoint. With `--quiet`, refusals are not logged. Runs until SIGTERM
    /// or Ctrl-C, which answer the requests in flight first. Exit status: 0 when stopped,
    /// 1 when the rules or the store are wrong, 2 for usage and I/O (an address in use).
    Serve {
        #[command(flatten)]
        options: cli::serve::Options,
    },
    /// Print a completion script for a shell (`warden completions bash > /etc/bash_completion.d/warden`).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Serve the Language Server Protocol on standard input and output, for editors.
    ///
    /// The workspace is every .rules file under the client's folders, checked together as
    /// `warden check DIR` checks them, with the open files' unsaved text: diagnostics on
    /// open, change and save (audit findings included), hover, go to definition, references,
    /// completion, formatting, symbols, folding, rename, quick fixes and code lenses that run
    /// test and snapshot blocks. docs/editors.md shows how VS Code, Neovim and Helix start it.
    /// Exit status: 0 after `shutdown` and `exit` (or the end of the input), 1 when the input
    /// ends or `exit` comes without `shutdown`, 2 when standard input or output fails.
    Lsp,
    /// Print the manual page (roff) of warden, or of one command (`warden man check | man -l -`).
    Man {
        /// A command, for its own page (`warden-check(1)`).
        command: Option<String>,
    },
}

fn main() -> ExitCode {
    restore_sigpipe();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
            return cli::output::refused_arguments(&e, &args).unwrap_or_else(|| e.exit());
        }
    };
    let color = cli::use_color(cli.color);
    let quiet = cli.quiet;
    let out = |format: Format, empty: serde_json::Value| cli::output::Out::new(format, color, quiet, empty);
    let empty = |command: &str| cli::output::empty_document(command).map(|(doc, _)| doc).unwrap_or_else(|| json!({}));
    match cli.command {
        Command::Check { paths, format } => cli::check::run(&paths, out(format.into(), empty("check"))),
        Command::Audit { paths, format, fail_on } => {
            let threshold = match fail_on {
                FailOn::Warning => warden::diagnostic::Severity::Warning,
                FailOn::Error => warden::diagnostic::Severity::Error,
            };
            cli::audit::run(&paths, out(format.into(), empty("audit")), threshold)
        }
        Command::Test {
            paths,
            filter,
            accept,
            backend,
            store,
            max_steps,
            format,
            watch,
            mutate,
            coverage,
            coverage_format,
            coverage_output,
            fail_under,
            jobs,
        } => {
            let backend = match backend {
                Backend::Memory => warden::eval::test::Backend::Memory,
                Backend::Sqlite => warden::eval::test::Backend::Sqlite,
                Backend::Postgres => warden::eval::test::Backend::Postgres,
            };
            if let Some(url) = &store {
                if backend != warden::eval::test::Backend::Postgres {
                    return out(format.into(), empty("test")).usage("`--store` goes with `--backend postgres`", None);
                }
                warden::eval::test::set_postgres_url(url);
            }
            let out = out(format.into(), empty("test"));
            let max_steps = max_steps.unwrap_or(warden::eval::DEFAULT_STEP_BUDGET);
            if fail_under.is_some() && !coverage && !mutate {
                return out.usage("`--fail-under` needs `--coverage` or `--mutate`", None);
            }
            if fail_under.is_some_and(|p| !(0.0..=100.0).contains(&p)) {
                return out.usage("`--fail-under` is a percentage, from 0 to 100", None);
            }
            let coverage = coverage.then_some(cli::test::Coverage {
                format: match coverage_format {
                    CoverageFormat::Human => cli::test::CoverageFormat::Human,
                    CoverageFormat::Lcov => cli::test::CoverageFormat::Lcov,
                    CoverageFormat::Json => cli::test::CoverageFormat::Json,
                },
                output: coverage_output,
                fail_under,
            });
            let run = cli::test::Run { paths: &paths, filter: filter.as_deref(), accept, backend, max_steps, coverage };
            if mutate {
                cli::test::run_mutants(&run, &out, fail_under.unwrap_or(100.0), jobs)
            } else if watch {
                cli::watch::run(&run, &out)
            } else {
                cli::test::run(&run, &out)
            }
        }
        Command::Eval { mut paths, mut acting, save, expression } => {
            let script = if expression.is_none() && paths.len() > 1 { paths.pop() } else { None };
            let out = out(acting.format.into(), empty("eval"));
            cli::eval::run_eval(acting.setup(&paths, out), expression, script, save)
        }
        Command::Explain { mut paths, mut acting, plan: true } => {
            let out = out(acting.format.into(), json!({ "plan": null }));
            if paths.len() < 2 {
                return out.usage("give the rules' paths, then a retrieve, such as 'retrieve Shop.Cart'", None);
            }
            let retrieve = paths.pop().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
            if let Some(quoted) = cli::eval::unquoted(&mut paths, &retrieve, &["retrieve", "count(retrieve"]) {
                return out.usage(format!("the retrieve is one argument; quote it: {quoted}"), None);
            }
            cli::eval::run_plan(acting.setup(&paths, out), retrieve)
        }
        Command::Explain { mut paths, mut acting, plan: false } => {
            let mut out = out(acting.format.into(), empty("explain"));
            out.wrong = cli::explain_exit::WRONG;
            out.failed = cli::explain_exit::FAILED;
            if paths.len() < 2 {
                return out.usage("give the rules' paths, then the operation, such as 'read #5/Total'", None);
            }
            let operation = paths.pop().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
            if let Some(quoted) =
                cli::eval::unquoted(&mut paths, &operation, &["read", "write", "delete", "create", "call"])
            {
                return out.usage(format!("the operation is one argument; quote it: {quoted}"), None);
            }
            cli::eval::run_explain(acting.setup(&paths, out), operation)
        }
        Command::Repl { paths, store, pg_schema, principal, now, max_steps } => {
            cli::repl::run(&paths, store, pg_schema.as_deref(), &principal, now.as_deref(), max_steps, color, quiet)
        }
        Command::Fmt { paths, check, diff, stdout } => {
            let mode = match (check, diff, stdout) {
                (true, _, _) => cli::fmt::Mode::Check,
                (_, true, _) => cli::fmt::Mode::Diff,
                (_, _, true) => cli::fmt::Mode::Stdout,
                _ => cli::fmt::Mode::Write,
            };
            cli::fmt::run(&paths, mode, color, quiet)
        }
        Command::Sql { mut paths, mut acting } => {
            let out = out(acting.format.into(), empty("sql"));
            if paths.len() < 2 {
                return out.usage("give the rules' paths, then a retrieve, such as 'retrieve Shop.Cart'", None);
            }
            let retrieve = paths.pop().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
            if let Some(quoted) = cli::eval::unquoted(&mut paths, &retrieve, &["retrieve"]) {
                return out.usage(format!("the retrieve is one argument; quote it: {quoted}"), None);
            }
            cli::eval::run_sql(acting.setup(&paths, out), retrieve)
        }
        Command::Store { action, paths, dialect, pg_schema } => {
            let action = match action {
                StoreCommand::Import => cli::eval::StoreAction::Import,
                StoreCommand::Export => cli::eval::StoreAction::Export,
                StoreCommand::Schema => cli::eval::StoreAction::Schema,
            };
            let dialect = match dialect {
                SqlDialect::Sqlite => warden::store::dialect::Dialect::Sqlite,
                SqlDialect::Postgres => warden::store::dialect::Dialect::Postgres,
            };
            let how = cli::eval::StoreOptions { dialect, pg_schema: pg_schema.as_deref() };
            cli::eval::run_store(&paths, action, &how, out(Format::Human, json!({})))
        }
        Command::Matrix { paths, format } => cli::eval::run_matrix(&paths, out(format.into(), empty("matrix"))),
        Command::Diff { paths, git, fail_on_widening, format } => {
            let doc = if format == DiffFormat::Json { Format::Json } else { Format::Human };
            let run =
                cli::diff::Run { paths: &paths, git: git.as_deref(), fail_on_widening: fail_on_widening.as_deref() };
            cli::diff::run(&run, format == DiffFormat::Markdown, out(doc, empty("diff")))
        }
        Command::Serve { options } => cli::serve::run(options, &out(Format::Human, empty("serve"))),
        Command::ExplainCode { code } => cli::docs::explain_code(code.as_deref()),
        Command::Completions { shell } => cli::docs::completions(shell, &mut Cli::command()),
        Command::Man { command } => cli::docs::man(&Cli::command(), command.as_deref()),
        Command::Lsp => match warden::lsp::serve(std::io::stdin().lock(), std::io::stdout().lock()) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::from(1),
            Err(e) => {
                eprintln!("error: warden lsp: {e}");
                ExitCode::from(2)
            }
        },
    }
}

/// Output into a pipe that closed (`warden matrix examples/ | head`) ends the process quietly,
/// as it does for `cat` or `rg`: Rust ignores SIGPIPE, which would turn the failed write
/// into a panic.
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in `main`, before any thread starts; setting a signal's
    // disposition to its default has no other effect on the process.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
