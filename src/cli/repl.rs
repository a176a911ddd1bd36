//! `warden repl`: line editing, completion, hints and history around the
//! library's [`warden::shell::Shell`].

use std::borrow::Cow;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::{CmdKind, Highlighter, MatchingBracketHighlighter};
use rustyline::hint::{Hinter, HistoryHinter};
use rustyline::history::DefaultHistory;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{CompletionType, Config, Context, Editor, Helper};

use warden::eval::PrincipalName;
use warden::shell::{Reply, Shell};

use super::{render, usage_error, FAILED};

/// What Tab, hints and brackets need.
struct ReplHelper {
    words: Vec<String>,
    principals: Vec<String>,
    hinter: HistoryHinter,
    brackets: MatchingBracketHighlighter,
    color: bool,
}

impl Helper for ReplHelper {}

impl Completer for ReplHelper {
    type Candidate = Pair;

    fn complete(&self, line: &str, pos: usize, _ctx: &Context<'_>) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        let start = before
            .char_indices()
            .rev()
            .find(|(_, c)| !(c.is_alphanumeric() || matches!(c, '_' | '.' | '$' | ':' | '-')))
            .map_or(0, |(i, c)| i + c.len_utf8());
        let word = &before[start..];
        let pool = if before.trim_start().starts_with(":as ") { &self.principals } else { &self.words };
        let lower = word.to_lowercase();
        let mut found: Vec<Pair> = pool
            .iter()
            .filter(|w| w.starts_with(word) || (!word.is_empty() && w.to_lowercase().starts_with(&lower)))
            .map(|w| Pair { display: w.clone(), replacement: w.clone() })
            .collect();
        // A word that matches the local part of qualified names (`Car` -> `Shop.Cart`).
        if found.is_empty() && !word.contains('.') && !word.is_empty() {
            found = pool
                .iter()
                .filter(|w| w.rsplit('.').next().is_some_and(|local| local.starts_with(word)))
                .map(|w| Pair { display: w.clone(), replacement: w.clone() })
                .collect();
        }
        Ok((start, found))
    }
}

impl Hinter for ReplHelper {
    type Hint = String;

    fn hint(&self, line: &str, pos: usize, ctx: &Context<'_>) -> Option<String> {
        self.hinter.hint(line, pos, ctx)
    }
}

impl Highlighter for ReplHelper {
    fn highlight<'l>(&self, line: &'l str, pos: usize) -> Cow<'l, str> {
        if self.color {
            self.brackets.highlight(line, pos)
        } else {
            Cow::Borrowed(line)
        }
    }

    fn highlight_hint<'h>(&self, hint: &'h str) -> Cow<'h, str> {
        if self.color {
            Cow::Owned(format!("\x1b[2m{hint}\x1b[0m"))
        } else {
            Cow::Borrowed(hint)
        }
    }

    fn highlight_char(&self, line: &str, pos: usize, kind: CmdKind) -> bool {
        self.color && self.brackets.highlight_char(line, pos, kind)
    }
}

impl Validator for ReplHelper {
    fn validate(&self, ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        Ok(if Shell::is_complete(ctx.input()) { ValidationResult::Valid(None) } else { ValidationResult::Incomplete })
    }
}

/// Where history is kept: the user's data directory, never the working directory.
fn history_path() -> Option<PathBuf> {
    let base = match std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME")?).join(".local").join("share"),
    };
    Some(base.join("warden").join("history.txt"))
}

fn print_reply(shell: &Shell, reply: &Reply, color: bool) {
    print!("{}", reply.text);
    for d in &reply.diagnostics {
        eprint!("{}", render::render(d, &shell.program.sources, color));
    }
    let _ = std::io::stdout().flush();
}

/// Runs `warden repl`.
pub fn run(
    paths: &[PathBuf],
    store: Option<PathBuf>,
    principal: &str,
    now: Option<&str>,
    max_steps: Option<u64>,
    color: bool,
) -> ExitCode {
    let now = match now {
        None => None,
        Some(t) => match warden::time::parse_instant(t) {
            Some(ms) => Some(ms),
            None => return usage_error(format!("`{t}` is not a date and time (use RFC 3339)")),
        },
    };
    let principal: PrincipalName = principal.parse().unwrap_or(PrincipalName::System);
    let mut shell = match Shell::open(paths, store.as_deref(), &principal, now) {
        Ok(s) => s,
        Err(reply) => {
            print!("{}", reply.text);
            let sources = warden::load::read_sources(paths).unwrap_or_default();
            for d in &reply.diagnostics {
                eprint!("{}", render::render(d, &sources, color));
            }
            return ExitCode::from(FAILED);
        }
    };
    if let Some(max) = max_steps {
        shell.set_max_steps(max);
    }
    if !std::io::stdin().is_terminal() {
        return scripted(&mut shell, color);
    }
    interactive(&mut shell, color)
}

/// Reads statements from a pipe, line by line, with no prompt decoration.
fn scripted(shell: &mut Shell, color: bool) -> ExitCode {
    let mut failed = false;
    let mut pending = String::new();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        pending.push_str(&line);
        pending.push('\n');
        if !Shell::is_complete(&pending) {
            continue;
        }
        let reply = shell.handle(&std::mem::take(&mut pending));
        failed |= !reply.diagnostics.is_empty();
        print_reply(shell, &reply, color);
        if reply.quit {
            break;
        }
    }
    if failed {
        ExitCode::from(FAILED)
    } else {
        ExitCode::SUCCESS
    }
}

fn interactive(shell: &mut Shell, color: bool) -> ExitCode {
    let config = Config::builder().auto_add_history(true).completion_type(CompletionType::List).build();
    let mut editor: Editor<ReplHelper, DefaultHistory> = match Editor::with_config(config) {
        Ok(e) => e,
        Err(e) => return usage_error(format!("cannot start the line editor: {e}")),
    };
    let history = history_path();
    if let Some(path) = &history {
        let _ = editor.load_history(path);
    }
    println!("warden {} — `:help` for commands, Tab completes, Ctrl-D leaves", env!("CARGO_PKG_VERSION"));
    loop {
        editor.set_helper(Some(ReplHelper {
            words: shell.completions(),
            principals: shell.principals(),
            hinter: HistoryHinter::new(),
            brackets: MatchingBracketHighlighter::new(),
            color,
        }));
        let prompt = shell.prompt();
        match editor.readline(&prompt) {
            Ok(input) => {
                let reply = shell.handle(&input);
                print_reply(shell, &reply, color);
                if reply.quit {
                    break;
                }
            }
            Err(ReadlineError::Interrupted) => continue, // Ctrl-C clears the line
            Err(ReadlineError::Eof) => break,            // Ctrl-D leaves
            Err(e) => {
                eprintln!("error: {e}");
                break;
            }
        }
    }
    if let Some(path) = &history {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = editor.save_history(path);
    }
    ExitCode::SUCCESS
}
