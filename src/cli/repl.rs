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
use warden::shell::{CompletionIndex, Reply, Shell};

use super::{render, usage_error, FAILED};

/// What Tab, hints and brackets need.
struct ReplHelper {
    index: CompletionIndex,
    hinter: HistoryHinter,
    brackets: MatchingBracketHighlighter,
    color: bool,
}

impl Helper for ReplHelper {}

impl Completer for ReplHelper {
    type Candidate = Pair;

    fn complete(&self, line: &str, pos: usize, _ctx: &Context<'_>) -> rustyline::Result<(usize, Vec<Pair>)> {
        let (start, words) = self.index.complete(line, pos);
        Ok((start, words.into_iter().map(|w| Pair { display: w.clone(), replacement: w }).collect()))
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

/// Every line is accepted as it is: an unfinished block continues on the next
/// line under the continuation prompt (see [`CONTINUATION`]).
impl Validator for ReplHelper {
    fn validate(&self, _ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        Ok(ValidationResult::Valid(None))
    }
}

/// The prompt of a line that continues an unfinished block.
const CONTINUATION: &str = "...> ";

/// Where history is kept: the user's data directory, never the working directory.
fn history_path() -> Option<PathBuf> {
    let base = match std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME")?).join(".local").join("share"),
    };
    Some(base.join("warden").join("history.txt"))
}

fn print_reply(shell: &Shell, reply: &Reply, color: bool) {
    print!("{}", warden::diagnostic::clean(&reply.text));
    for d in &reply.diagnostics {
        eprint!("{}", render::render(d, &shell.program.sources, color));
    }
    let _ = std::io::stdout().flush();
}

/// Runs `warden repl`.
#[expect(clippy::too_many_arguments, reason = "the options of `warden repl`, one each")]
pub fn run(
    paths: &[PathBuf],
    store: Option<PathBuf>,
    pg_schema: Option<&str>,
    principal: &str,
    now: Option<&str>,
    max_steps: Option<u64>,
    color: bool,
    quiet: bool,
) -> ExitCode {
    if paths.iter().any(|p| p.as_os_str() == "-") {
        return usage_error(
            "the REPL reads its statements from standard input, so `-` cannot be its program; give files or directories",
        );
    }
    let now = match now {
        None => None,
        Some(t) => match warden::time::parse_instant(t) {
            Some(ms) => Some(ms),
            None => return usage_error(format!("`{t}` is not a date and time (use RFC 3339)")),
        },
    };
    let principal: PrincipalName = principal.parse().unwrap_or(PrincipalName::System);
    let mut shell = match Shell::open_in(paths, store.as_deref(), pg_schema, &principal, now) {
        Ok(s) => s,
        Err(reply) if reply.usage => {
            // An unknown `--as` principal: a wrong argument.
            eprint!("{}", warden::diagnostic::for_terminal(&reply.text));
            return ExitCode::from(super::USAGE);
        }
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
    interactive(&mut shell, color, quiet)
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
        failed |= !reply.diagnostics.is_empty() || reply.usage;
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

fn interactive(shell: &mut Shell, color: bool, quiet: bool) -> ExitCode {
    // A block typed over several lines goes into the history as one entry.
    let config = Config::builder().auto_add_history(false).completion_type(CompletionType::List).build();
    let mut editor: Editor<ReplHelper, DefaultHistory> = match Editor::with_config(config) {
        Ok(e) => e,
        Err(e) => return usage_error(format!("cannot start the line editor: {e}")),
    };
    let history = history_path();
    if let Some(path) = &history {
        let _ = editor.load_history(path);
    }
    if !quiet {
        println!("warden {} — `:help` for commands, Tab completes, Ctrl-D leaves", env!("CARGO_PKG_VERSION"));
    }
    let mut pending = String::new();
    loop {
        if pending.is_empty() {
            editor.set_helper(Some(ReplHelper {
                index: shell.completion_index(),
                hinter: HistoryHinter::new(),
                brackets: MatchingBracketHighlighter::new(),
                color,
            }));
        }
        let prompt = if pending.is_empty() { shell.prompt() } else { CONTINUATION.to_string() };
        match editor.readline(&prompt) {
            Ok(line) => {
                pending.push_str(&line);
                pending.push('\n');
                if !Shell::is_complete(&pending) {
                    continue;
                }
                let input = std::mem::take(&mut pending);
                if !input.trim().is_empty() {
                    let _ = editor.add_history_entry(input.trim_end());
                }
                let reply = shell.handle(&input);
                print_reply(shell, &reply, color);
                if reply.quit {
                    break;
                }
            }
            // Ctrl-C clears the line, and an unfinished block with it.
            Err(ReadlineError::Interrupted) => pending.clear(),
            Err(ReadlineError::Eof) => break, // Ctrl-D leaves
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
