//! `warden explain-code`, `warden completions` and `warden man`: what warden
//! says about itself, from the code registry and the clap definitions.

use std::io::Write;
use std::process::ExitCode;

use warden::codes::{self, CODES};

use super::{usage_error, USAGE};

/// Runs `warden explain-code [CODE]`: a code's severity, summary and explanation, or every code.
pub fn explain_code(code: Option<&str>) -> ExitCode {
    let Some(code) = code else {
        for c in CODES {
            println!("{}  {:<7}  {}", c.code, c.severity.to_string(), c.summary);
        }
        return ExitCode::SUCCESS;
    };
    match codes::describe(code) {
        Some(c) => {
            println!("{} ({}): {}", c.code, c.severity, c.summary);
            println!("{}", where_reported(c.code.as_str()));
            if let Some(text) = Some(c.explanation) {
                print!("\n{text}");
            }
            ExitCode::SUCCESS
        }
        None => {
            let hint = warden::diagnostic::suggest::hint(&code.to_uppercase(), CODES.iter().map(|c| c.code.as_str()));
            eprintln!(
                "error: warden has no code `{}`{hint}; `warden explain-code` lists them",
                warden::diagnostic::clean(code)
            );
            ExitCode::from(USAGE)
        }
    }
}

fn where_reported(code: &str) -> &'static str {
    match &code[..1] {
        "E" if code.starts_with("E00") => {
            "reported by every command that reads .rules files, when a file does not parse"
        }
        "E" => "reported by `warden check` (and every command that loads the rules) when the rules do not check",
        "R" => "reported while evaluating: `warden eval`, `explain`, `test`, `sql`, `repl`",
        _ => "reported by `warden audit`; silence an intended finding with `// warden:allow CODE reason`",
    }
}

/// Runs `warden completions SHELL`.
pub fn completions(shell: clap_complete::Shell, command: &mut clap::Command) -> ExitCode {
    clap_complete::generate(shell, command, "warden", &mut std::io::stdout());
    ExitCode::SUCCESS
}

/// Runs `warden man [COMMAND]`: the page of warden, or of one command.
pub fn man(command: &clap::Command, sub: Option<&str>) -> ExitCode {
    let page = match sub {
        None => command.clone(),
        Some(name) => match command.find_subcommand(name) {
            Some(c) => {
                // The page lives as long as the process; clap names are `'static`.
                let name: &'static str = Box::leak(format!("warden-{}", c.get_name()).into_boxed_str());
                c.clone().name(name).display_name(name).version(env!("CARGO_PKG_VERSION"))
            }
            None => {
                let names: Vec<&str> = command.get_subcommands().map(|c| c.get_name()).collect();
                let hint = warden::diagnostic::suggest::hint(name, names);
                return usage_error(format!("warden has no command `{name}`{hint}"));
            }
        },
    };
    let mut text = Vec::new();
    if let Err(e) = clap_mangen::Man::new(page).render(&mut text) {
        return usage_error(format!("cannot render the manual page: {e}"));
    }
    if std::io::stdout().write_all(&text).is_err() {
        return ExitCode::from(USAGE);
    }
    ExitCode::SUCCESS
}
