//! What a command prints when it stops before its results: one document on
//! stdout in every machine format (the command's own shape, empty, with an
//! `error` and, when the rules do not check, `diagnostics`), or lines on stderr
//! for people. Every path of every command that takes `--format` goes through
//! here, so a program reading `--format json` always gets exactly one document.

use std::ffi::OsString;
use std::process::ExitCode;

use serde_json::{json, Value};

use warden::diagnostic::Diagnostic;
use warden::source::SourceMap;
use warden::store::StoreError;

use super::{render, FAILED, USAGE};
use crate::Format;

/// How one command reports: its format, colour, quietness and the shape of its document.
#[derive(Clone, Debug)]
pub struct Out {
    /// Output format.
    pub format: Format,
    /// Colour on stderr.
    pub color: bool,
    /// `--quiet`: results and errors only.
    pub quiet: bool,
    /// The command's document with no results, such as `{"diagnostics": []}`.
    empty: Value,
    /// Exit status when the rules, the store or the statements are wrong.
    pub wrong: u8,
    /// Exit status when evaluation fails.
    pub failed: u8,
}

impl Out {
    /// A command whose empty document is `empty`; wrong input and failures exit 1.
    pub fn new(format: Format, color: bool, quiet: bool, empty: Value) -> Out {
        Out { format, color, quiet, empty, wrong: FAILED, failed: FAILED }
    }

    /// The command's document with `fields` set.
    pub fn document(&self, fields: impl IntoIterator<Item = (&'static str, Value)>) -> Value {
        let mut doc = self.empty.clone();
        if let Value::Object(map) = &mut doc {
            for (key, value) in fields {
                map.insert(key.to_string(), value);
            }
        }
        doc
    }

    /// Prints a finished document (JSON; SARIF documents are printed as they are).
    pub fn print(&self, doc: &Value) {
        println!("{doc}");
    }

    /// A usage problem (a wrong argument): exit 2.
    pub fn usage(&self, message: impl std::fmt::Display, help: Option<String>) -> ExitCode {
        self.stop("usage", message, help)
    }

    /// An I/O problem (a file that cannot be read or written): exit 2.
    pub fn io(&self, message: impl std::fmt::Display) -> ExitCode {
        self.stop("io", message, None)
    }

    fn stop(&self, kind: &str, message: impl std::fmt::Display, help: Option<String>) -> ExitCode {
        let message = warden::diagnostic::for_terminal(&message.to_string());
        match self.format {
            Format::Human => {
                eprintln!("error: {message}");
                if let Some(h) = &help {
                    eprintln!("  help: {h}");
                }
            }
            Format::Json => self.print(&self.document([("error", error(kind, &message, help.as_deref()))])),
            Format::Sarif => self.print(&warden::sarif::to_sarif_failed(&[], &SourceMap::new(), &message)),
        }
        ExitCode::from(USAGE)
    }

    /// The rules (or statements typed on the command line) do not check: the
    /// diagnostics, then `note`; exit [`Out::wrong`].
    pub fn rules(&self, diagnostics: &[Diagnostic], sources: &SourceMap, note: &str) -> ExitCode {
        match self.format {
            Format::Human => {
                for d in diagnostics {
                    eprint!("{}", render::render(d, sources, self.color));
                }
                eprintln!("{note}");
            }
            Format::Json => {
                let list: Vec<_> = diagnostics.iter().map(|d| json!(d.to_json(sources))).collect();
                self.print(
                    &self.document([("diagnostics", Value::Array(list)), ("error", error("rules", note, None))]),
                );
            }
            Format::Sarif => self.print(&warden::sarif::to_sarif_failed(diagnostics, sources, note)),
        }
        ExitCode::from(self.wrong)
    }

    /// The store does not load: every problem; exit [`Out::wrong`].
    pub fn store(&self, path: &std::path::Path, errors: &[StoreError]) -> ExitCode {
        let shown = path.display().to_string();
        let summary = format!(
            "the store has {} problem{}; it was not used",
            errors.len(),
            if errors.len() == 1 { "" } else { "s" }
        );
        match self.format {
            Format::Human => {
                for e in errors {
                    let message = warden::diagnostic::for_terminal(&e.message);
                    if e.path == shown {
                        eprintln!("error: {shown}: {message}");
                    } else {
                        let at = warden::diagnostic::for_terminal(&warden::diagnostic::shorten_name(&e.path));
                        eprintln!("error: {shown}: {at}: {message}");
                    }
                }
                eprintln!("{summary}");
            }
            Format::Json | Format::Sarif => {
                let problems: Vec<Value> = errors
                    .iter()
                    .map(|e| json!({ "path": warden::diagnostic::shorten_name(&e.path), "message": short(&e.message) }))
                    .collect();
                let mut e = error("store", &summary, None);
                e["file"] = json!(shown);
                e["problems"] = Value::Array(problems);
                self.print(&self.document([("error", e)]));
            }
        }
        ExitCode::from(self.wrong)
    }

    /// Evaluation failed (an access error, an object that is not there, ...): exit [`Out::failed`].
    pub fn evaluation(&self, d: &Diagnostic, sources: &SourceMap) -> ExitCode {
        match self.format {
            Format::Human => eprint!("{}", render::render(d, sources, self.color)),
            Format::Json | Format::Sarif => self.print(&self.document([("error", diagnostic_error(d, sources))])),
        }
        ExitCode::from(self.failed)
    }
}

fn short(text: &str) -> String {
    warden::diagnostic::shorten(text).into_owned()
}

/// The `error` field: `{"kind", "code", "message", "help"}`.
pub fn error(kind: &str, message: &str, help: Option<&str>) -> Value {
    json!({ "kind": kind, "code": null, "message": short(message), "help": help })
}

/// The `error` field for a diagnostic: its JSON form with `kind: "evaluation"`.
pub fn diagnostic_error(d: &Diagnostic, sources: &SourceMap) -> Value {
    let mut v = json!(d.to_json(sources));
    v["kind"] = json!("evaluation");
    v
}

/// The document of each command that takes `--format json` with no results, and whether
/// the command takes `--format sarif` too.
pub fn empty_document(command: &str) -> Option<(Value, bool)> {
    Some(match command {
        "check" => (json!({ "diagnostics": [] }), true),
        "audit" => (json!({ "findings": [] }), true),
        "test" => (json!({ "tests": [], "passed": 0, "failed": 0 }), false),
        "eval" => (json!({ "results": [] }), false),
        "explain" => (json!({ "decision": null, "rules": [] }), false),
        "sql" => (json!({ "sql": null, "params": [], "exact": null }), false),
        "matrix" => (json!({ "roles": [] }), false),
        "diff" => (json!({ "changes": [], "findings": [] }), false),
        _ => return None,
    })
}

/// A command line the argument parser refused while it asks for `--format json` (or `sarif`,
/// where the command has it): the command's empty document with a usage error, exit 2, so
/// that a program reading stdout still gets its one document. `None` when the arguments ask
/// for no such format (the parser then prints its own message).
pub fn refused_arguments(error: &clap::Error, args: &[OsString]) -> Option<ExitCode> {
    use clap::error::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        return None;
    }
    let args: Vec<String> = args.iter().skip(1).map(|a| a.to_string_lossy().into_owned()).collect();
    // The command is the first word that is not a global option (`--color` takes a value).
    let mut words = args.iter();
    let command = loop {
        match words.next()?.as_str() {
            "--color" => {
                words.next();
            }
            w if w.starts_with('-') => {}
            w => break w.to_string(),
        }
    };
    let (empty, sarif) = empty_document(&command)?;
    let mut format = None;
    while let Some(word) = words.next() {
        if word == "--format" {
            format = words.next().cloned();
        } else if let Some(value) = word.strip_prefix("--format=") {
            format = Some(value.to_string());
        }
    }
    let format = match format.as_deref() {
        Some("json") => Format::Json,
        Some("sarif") if sarif => Format::Sarif,
        _ => return None,
    };
    // The parser's message: its first paragraph on one line, without `error: `.
    let rendered = error.render().to_string();
    let message: Vec<&str> = rendered.lines().take_while(|l| !l.trim().is_empty()).map(str::trim).collect();
    let message = message.join(" ");
    let message = message.strip_prefix("error: ").unwrap_or(&message);
    let help = format!("`warden {command} --help` lists its arguments and options");
    Some(Out::new(format, false, false, empty).usage(message, Some(help)))
}
