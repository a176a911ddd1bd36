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
    /// Run every `test` block: each in a fresh store, one line per test.
    ///
    /// Ends with `N passed, N failed`. Exit status: 0 when every test passes, 1
    /// when one fails or the rules do not check, 2 for usage and I/O problems.
    Test {
        /// Files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Run only the tests whose name contains this text.
        #[arg(long)]
        filter: Option<String>,
        /// Output format (`json`: `{"tests": [...], "passed": N, "failed": N}`).
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let color = cli::use_color(cli.color);
    match cli.command {
        Command::Check { paths, format } => cli::check::run(&paths, format, color),
        Command::Test { paths, filter, format } => cli::test::run(&paths, filter.as_deref(), format, color),
    }
}
