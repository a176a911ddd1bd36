//! The subcommands and what they print.

pub mod audit;
pub mod check;
pub mod diff;
pub mod docs;
pub mod eval;
pub mod fmt;
pub mod output;
pub mod render;
pub mod repl;
#[cfg(feature = "serve")]
pub mod serve;
pub mod test;
pub mod watch;

use std::io::IsTerminal;
use std::process::ExitCode;

use crate::Color;

/// Exit status for "the rules or the data are wrong".
pub const FAILED: u8 = 1;
/// Exit status for usage and I/O problems.
pub const USAGE: u8 = 2;

/// The exit statuses of `warden explain`, where 1 means deny.
pub mod explain_exit {
    /// No decision: the rules, the store or the operation are wrong.
    pub const WRONG: u8 = 3;
    /// No decision: evaluating the operation failed.
    pub const FAILED: u8 = 4;
}

/// Whether to colour stderr.
pub fn use_color(choice: Color) -> bool {
    match choice {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal(),
    }
}

/// Prints an I/O or usage problem and returns exit status 2.
pub fn usage_error(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {}", warden::diagnostic::for_terminal(&message.to_string()));
    ExitCode::from(USAGE)
}
