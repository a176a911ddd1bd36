//! The `warden` command line: argument handling and printing only; the work is
//! done by the library.

mod cli;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

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

/// How results are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people: source snippets with the problem underlined.
    Human,
    /// One JSON document on stdout, for programs.
    Json,
    /// SARIF 2.1.0, for code-scanning tools.
    Sarif,
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
    /// The store: a JSON file, or a SQLite database (`.db`, `.sqlite`, `.sqlite3`);
    /// an empty store when omitted.
    #[arg(long)]
    store: Option<PathBuf>,
    /// Who acts: `system`, `anonymous`, `anonymous:NAME` or a user's Name.
    #[arg(long = "as", default_value = "system")]
    principal: String,
    /// The clock, as RFC 3339, for `now` and date tokens (default: the system clock).
    #[arg(long)]
    now: Option<String>,
    /// The most steps one top-level statement may take (statements run and objects examined
    /// by retrieves); reaching it is an error that rolls the statement back (default 10000000).
    #[arg(long, value_name = "N")]
    max_steps: Option<u64>,
    /// Output format (`json`: one document on stdout).
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
}

impl Acting {
    fn setup<'a>(&'a self, paths: &'a [PathBuf], color: bool) -> cli::eval::Setup<'a> {
        cli::eval::Setup {
            paths,
            store: self.store.as_deref(),
            principal: self.principal.parse().unwrap_or(warden::eval::PrincipalName::System),
            now: self.now.as_deref(),
            max_steps: self.max_steps,
            format: self.format,
            color,
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Parse and type-check .rules files; print every problem with its code and source.
    ///
    /// Exit status: 0 when there are no errors (warnings do not fail), 1 when
    /// there are errors, 2 when a file cannot be read or the arguments are wrong.
    Check {
        /// Files or directories (a directory loads every *.rules file below it).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Review anonymous access: findings A001-A009 (shared module roles, unconstrained
    /// writes and deletes, full reads, data that outlives sign-in, unreachable or
    /// anonymous-only resources, specializations without rules, readable hashes).
    ///
    /// Silence an intended finding with a comment on the line above the declaration:
    /// `// warden:allow A003 the catalogue is public on purpose`. Exit status: 0 when no
    /// finding reaches `--fail-on`, 1 otherwise, 2 for usage and I/O.
    Audit {
        /// Files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// The severity that fails the run.
        #[arg(long, value_enum, default_value_t = FailOn::Error)]
        fail_on: FailOn,
    },
    /// Run every `test` and `snapshot` block: each in a fresh store, one line each.
    ///
    /// A snapshot block records what each statement shows and compares it with
    /// `FILE.rules.snap`; new or changed text goes to `FILE.rules.snap.new` and
    /// fails until `--accept` takes it in. Ends with `N passed, N failed`. Exit
    /// status: 0 when everything passes, 1 when something fails or the rules do
    /// not check, 2 for usage and I/O problems.
    Test {
        /// Files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Run only the tests and snapshots whose name contains this text.
        #[arg(long)]
        filter: Option<String>,
        /// Take new snapshot text into the `.snap` files (and drop stale sections).
        #[arg(long)]
        accept: bool,
        /// The store each block runs over: `memory`, or `sqlite` (a SQLite database in
        /// memory, retrieves run as SQL). Both must give the same outcomes.
        #[arg(long, value_enum, default_value_t = Backend::Memory)]
        backend: Backend,
        /// The most steps one top-level statement of a block may take (statements run and
        /// objects examined by retrieves; default 10000000).
        #[arg(long, value_name = "N")]
        max_steps: Option<u64>,
        /// Output format (`json`: `{"tests": [...], "passed": N, "failed": N}`).
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Run statements as a principal over a store and print each result.
    ///
    /// Objects show only the members the principal may read. Exit status: 0 when
    /// every statement succeeds, 1 when one fails or is denied, 2 for usage and I/O.
    Eval {
        /// Files or directories, then SCRIPT when `-e` is not given.
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
    /// `delete #5`, `create Shop.Cart`, `call Shop.Checkout`. Exit status: 0 for
    /// allow, 1 for deny.
    Explain {
        /// Files or directories, then the operation (OP).
        #[arg(required = true, value_name = "PATHS... OP")]
        paths: Vec<PathBuf>,
        #[command(flatten)]
        acting: Acting,
    },
    /// An interactive shell: run statements as a principal, explain decisions,
    /// switch principals and sign in, with completion and history.
    ///
    /// With stdin not a terminal, statements are read line by line with no prompt,
    /// so a session can be scripted: `warden repl shop.rules < session.txt`.
    Repl {
        /// Files or directories (none: an empty program).
        paths: Vec<PathBuf>,
        /// The store to load: a JSON file, or a SQLite database (`.db`, `.sqlite`, `.sqlite3`);
        /// an empty store when omitted. The shell works on a copy; `:save` writes it back.
        #[arg(long)]
        store: Option<PathBuf>,
        /// Who acts first: `system`, `anonymous`, `anonymous:NAME` or a user's Name.
        #[arg(long = "as", default_value = "system")]
        principal: String,
        /// A fixed clock, as RFC 3339 (default: the system clock).
        #[arg(long)]
        now: Option<String>,
        /// The most steps one statement may take (statements run and objects examined by
        /// retrieves; default 10000000).
        #[arg(long, value_name = "N")]
        max_steps: Option<u64>,
    },
    /// Rewrite .rules files in the one canonical layout, comments kept.
    ///
    /// A file with a syntax error is reported and left untouched. Exit status: 0
    /// when done (or, with `--check`, when nothing would change), 1 when a file has
    /// a syntax error or `--check` finds files to reformat, 2 for usage and I/O.
    Fmt {
        /// Files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// List the files that would change, and change nothing.
        #[arg(long)]
        check: bool,
        /// Print the formatted text instead of writing it.
        #[arg(long)]
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
    Store {
        /// What to do.
        #[arg(value_enum)]
        action: StoreCommand,
        /// Files or directories of the program, then (import, export) SOURCE and TARGET.
        #[arg(required = true, value_name = "PATHS... [SOURCE TARGET]")]
        paths: Vec<PathBuf>,
    },
    /// Print the access matrix: for every user role (the anonymous role first)
    /// and entity, create, see and delete with their constraints, and each member's right.
    Matrix {
        /// Files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let color = cli::use_color(cli.color);
    match cli.command {
        Command::Check { paths, format } => cli::check::run(&paths, format, color),
        Command::Audit { paths, format, fail_on } => {
            let threshold = match fail_on {
                FailOn::Warning => warden::diagnostic::Severity::Warning,
                FailOn::Error => warden::diagnostic::Severity::Error,
            };
            cli::audit::run(&paths, format, threshold, color)
        }
        Command::Test { paths, filter, accept, backend, max_steps, format } => {
            let backend = match backend {
                Backend::Memory => warden::eval::test::Backend::Memory,
                Backend::Sqlite => warden::eval::test::Backend::Sqlite,
            };
            let max_steps = max_steps.unwrap_or(warden::eval::DEFAULT_STEP_BUDGET);
            cli::test::run(&paths, filter.as_deref(), accept, backend, max_steps, format, color)
        }
        Command::Eval { mut paths, acting, save, expression } => {
            let script = if expression.is_none() && paths.len() > 1 { paths.pop() } else { None };
            cli::eval::run_eval(acting.setup(&paths, color), expression, script, save)
        }
        Command::Explain { mut paths, acting } => {
            if paths.len() < 2 {
                return cli::usage_error("give the rules' paths, then the operation, such as 'read #5/Total'");
            }
            let operation = paths.pop().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
            cli::eval::run_explain(acting.setup(&paths, color), operation)
        }
        Command::Repl { paths, store, principal, now, max_steps } => {
            cli::repl::run(&paths, store, &principal, now.as_deref(), max_steps, color)
        }
        Command::Fmt { paths, check, stdout } => cli::fmt::run(&paths, check, stdout, color),
        Command::Sql { mut paths, acting } => {
            if paths.len() < 2 {
                return cli::usage_error("give the rules' paths, then a retrieve, such as 'retrieve Shop.Cart'");
            }
            let retrieve = paths.pop().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
            cli::eval::run_sql(acting.setup(&paths, color), retrieve)
        }
        Command::Store { action, paths } => {
            let action = match action {
                StoreCommand::Import => cli::eval::StoreAction::Import,
                StoreCommand::Export => cli::eval::StoreAction::Export,
                StoreCommand::Schema => cli::eval::StoreAction::Schema,
            };
            cli::eval::run_store(&paths, action, color)
        }
        Command::Matrix { paths, format } => cli::eval::run_matrix(&paths, format, color),
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
