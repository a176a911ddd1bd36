//! Snapshot blocks (section 10): a block runs like a test and records what each
//! statement shows; the text is compared with `FILE.rules.snap` beside the file.
//!
//! The `.snap` file is plain text for review: a header line per snapshot
//! (`=== snapshot 'NAME'`), then its text. The text is deterministic: object
//! ids count from 1 for the objects the block creates, implied System objects
//! (anonymous users, user roles) show no ids, times come from `now`, file
//! paths are relative to the `.snap` file, and `explain` names rules by entity,
//! ordinal and roles (`rule 2 of Shop.Cart (Shop.Buyer)`), not by line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::eval::coverage::Hits;
use crate::eval::test::{Backend, DEFAULT_NOW};
use crate::eval::{Engine, Outcome, Vars};
use crate::model::flow::TestDef;
use crate::model::Program;

/// The first line of every `.snap` file.
pub(crate) const PREAMBLE: &str = "# warden snapshots: review changes, then accept them with `warden test --accept`";
const HEADER: &str = "=== snapshot ";

/// The sections of a `.snap` file, by snapshot name, in file order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SnapFile {
    /// Name and text of each section.
    pub sections: Vec<(String, String)>,
}

impl SnapFile {
    /// Parses a `.snap` file's text.
    pub fn parse(text: &str) -> SnapFile {
        let mut sections: Vec<(String, String)> = Vec::new();
        for line in text.split_inclusive('\n') {
            if let Some(name) = line.trim_end().strip_prefix(HEADER) {
                sections.push((unquote(name), String::new()));
            } else if let Some((_, body)) = sections.last_mut() {
                body.push_str(line);
            }
        }
        for (_, body) in &mut sections {
            // One blank line separates sections; it is not part of the text.
            if body.ends_with("\n\n") {
                body.pop();
            }
        }
        SnapFile { sections }
    }

    /// The file's text.
    pub fn render(&self) -> String {
        let mut out = format!("{PREAMBLE}\n");
        for (name, body) in &self.sections {
            out.push('\n');
            out.push_str(&format!("{HEADER}{}\n", quote(name)));
            out.push_str(body);
            if !body.ends_with('\n') {
                out.push('\n');
            }
        }
        out
    }

    /// The text of a section.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.sections.iter().find(|(n, _)| n == name).map(|(_, b)| b.as_str())
    }

    /// Sets a section's text, adding it at the end when new.
    pub fn set(&mut self, name: &str, text: String) {
        match self.sections.iter_mut().find(|(n, _)| n == name) {
            Some((_, body)) => *body = text,
            None => self.sections.push((name.to_string(), text)),
        }
    }
}

fn quote(name: &str) -> String {
    format!("'{}'", name.replace('\'', "''"))
}

fn unquote(text: &str) -> String {
    let t = text.trim();
    match t.strip_prefix('\'').and_then(|t| t.strip_suffix('\'')) {
        Some(inner) => inner.replace("''", "'"),
        None => t.to_string(),
    }
}

/// The `.snap` file of a `.rules` file.
pub(crate) fn snap_path(rules: &Path) -> PathBuf {
    let mut name = rules.as_os_str().to_owned();
    name.push(".snap");
    PathBuf::from(name)
}

/// Runs a snapshot block over a fresh in-memory store and returns the text it shows.
pub fn run_snapshot(program: &Program, block: &TestDef) -> String {
    run_snapshot_on(program, block, Backend::Memory)
}

/// Runs a snapshot block over a fresh store of the given kind and returns the text it shows.
pub(crate) fn run_snapshot_on(program: &Program, block: &TestDef, backend: Backend) -> String {
    run_snapshot_with(program, block, backend, crate::eval::DEFAULT_STEP_BUDGET)
}

/// [`run_snapshot_on`], each top-level statement allowed `max_steps` steps.
pub(crate) fn run_snapshot_with(program: &Program, block: &TestDef, backend: Backend, max_steps: u64) -> String {
    run_snapshot_inner(program, block, backend, max_steps, false).0
}

/// What the snapshot blocks whose name contains `filter` exercise, for coverage; their
/// text is not compared with the stored snapshots (the test run does that).
pub fn snapshot_hits(program: &Program, filter: Option<&str>, backend: Backend, max_steps: u64) -> Hits {
    let mut hits = Hits::default();
    for block in program.tests.iter().filter(|t| t.snapshot && filter.is_none_or(|f| t.name.contains(f))) {
        let (_, h) = crate::syntax::on_big_stack(|| run_snapshot_inner(program, block, backend, max_steps, true));
        hits.merge(h.unwrap_or_default());
    }
    hits
}

fn run_snapshot_inner(
    program: &Program,
    block: &TestDef,
    backend: Backend,
    max_steps: u64,
    record: bool,
) -> (String, Option<Hits>) {
    let now = crate::time::parse_instant(DEFAULT_NOW).unwrap_or_default();
    let store = match backend.fresh(program) {
        Ok(store) => store,
        Err(message) => return (format!("error: {message}\n"), None),
    };
    let mut engine = Engine::new(program, store, now);
    engine.set_step_budget(max_steps);
    if record {
        engine.record_coverage();
    }
    // Rules by entity, ordinal and roles: a comment added above a rule changes no snapshot.
    engine.set_stable_rule_names(true);
    let mut vars = Vars::new();
    let mut out = String::new();
    let snap_dir = program.sources.path(block.span.file).parent().map(Path::to_path_buf).unwrap_or_default();
    for stmt in &block.body.stmts {
        let logged = engine.log().len();
        let result = engine.run_top(stmt, &mut vars);
        let shown = match &result {
            Ok(Outcome::Value(v)) => Some(engine.show(v)),
            Ok(Outcome::Text(t)) => Some(t.trim_end().to_string()),
            Ok(Outcome::Nothing) => None,
            Err(e) => Some(format!("error {}: {}", e.code, e.message)),
        };
        let logs: Vec<String> = engine.log()[logged..].iter().map(|l| format!("log: {l}")).collect();
        if shown.is_none() && logs.is_empty() {
            continue;
        }
        let source = program.sources.slice(stmt.span).lines().map(str::trim).collect::<Vec<_>>().join(" ");
        out.push_str(&format!("> {source}\n"));
        for line in logs {
            out.push_str(&line);
            out.push('\n');
        }
        if let Some(text) = shown {
            out.push_str(&text);
            out.push('\n');
        }
    }
    (deterministic(&engine, program, &snap_dir, &out), engine.coverage_hits())
}

/// Renumbers object ids from 1 in creation order, names implied objects
/// instead of numbering them, and makes file paths relative to the snapshot's directory.
fn deterministic(engine: &Engine<'_>, program: &Program, snap_dir: &Path, text: &str) -> String {
    let numbers: BTreeMap<u64, usize> = engine.created().iter().enumerate().map(|(i, id)| (id.0, i + 1)).collect();
    let anonymous: BTreeMap<u64, String> = engine
        .sessions()
        .filter_map(|(key, s)| match key {
            crate::eval::SessionKey::Anonymous(name) => s.user.map(|u| (u.0, format!("(anonymous:{name})"))),
            _ => None,
        })
        .collect();
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('#') {
        out.push_str(&rest[..at]);
        let digits: String = rest[at + 1..].chars().take_while(char::is_ascii_digit).collect();
        let id: Option<u64> = digits.parse().ok();
        match id {
            Some(id) if numbers.contains_key(&id) => out.push_str(&format!("#{}", numbers[&id])),
            Some(id) if anonymous.contains_key(&id) => out.push_str(&anonymous[&id]),
            _ => {
                out.push('#');
                out.push_str(&digits);
            }
        }
        rest = &rest[at + 1 + digits.len()..];
    }
    out.push_str(rest);
    // File paths as seen from the `.snap` file.
    for (_, file) in program.sources.files() {
        let shown = file.path.display().to_string();
        let relative = file.path.strip_prefix(snap_dir).map(|p| p.display().to_string()).unwrap_or_else(|_| {
            file.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| shown.clone())
        });
        if !shown.is_empty() && shown != relative {
            out = out.replace(&shown, &relative);
        }
    }
    out
}

/// A unified line diff, `-` for the stored text and `+` for the new one.
pub fn diff(old: &str, new: &str) -> Vec<(char, String)> {
    let d = similar::TextDiff::from_lines(old, new);
    let mut lines = Vec::new();
    for change in d.iter_all_changes() {
        let tag = match change.tag() {
            similar::ChangeTag::Delete => '-',
            similar::ChangeTag::Insert => '+',
            similar::ChangeTag::Equal => ' ',
        };
        lines.push((tag, change.value().trim_end_matches('\n').to_string()));
    }
    lines
}

/// What happened to one snapshot block (or a stale section).
#[derive(Clone, Debug)]
pub struct SnapshotResult {
    /// The snapshot's name.
    pub name: String,
    /// Its `.rules` file.
    pub file: PathBuf,
    /// The line of `snapshot` (0 for a stale section).
    pub line: usize,
    /// `passed`, `failed` or `new`.
    pub outcome: &'static str,
    /// Why it failed.
    pub message: Option<String>,
    /// The line diff against the stored text, when it changed.
    pub diff: Vec<(char, String)>,
}

/// Runs every snapshot block whose name contains `filter` over a fresh store of the given
/// kind, each top-level statement allowed `max_steps` steps; compares each with its `.snap`
/// file and writes `.snap.new` (or, with `accept`, the `.snap`).
pub fn check_snapshots_with(
    program: &Program,
    filter: Option<&str>,
    accept: bool,
    backend: Backend,
    max_steps: u64,
) -> std::io::Result<Vec<SnapshotResult>> {
    let mut results = Vec::new();
    for (file_id, source) in program.sources.files() {
        let blocks: Vec<&TestDef> = program.tests.iter().filter(|t| t.snapshot && t.span.file == file_id).collect();
        if source.path == Path::new(crate::source::STDIN) {
            // A program on standard input has no `.snap` file beside it.
            for block in blocks.iter().filter(|b| filter.is_none_or(|f| b.name.contains(f))) {
                results.push(SnapshotResult {
                    name: block.name.clone(),
                    file: source.path.clone(),
                    line: source.line_col(block.span.start as usize).0,
                    outcome: "failed",
                    message: Some("a snapshot needs a `.snap` file beside its rules file; run it from a file".into()),
                    diff: Vec::new(),
                });
            }
            continue;
        }
        let path = snap_path(&source.path);
        let stored = match std::fs::read_to_string(&path) {
            Ok(text) => Some(SnapFile::parse(&text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        if blocks.is_empty() && stored.is_none() {
            continue;
        }
        let stored = stored.unwrap_or_default();
        let mut updated = stored.clone();
        let mut dirty = false;
        for block in blocks.iter().filter(|b| filter.is_none_or(|f| b.name.contains(f))) {
            let name = block.name.clone();
            let text = crate::syntax::on_big_stack(|| run_snapshot_with(program, block, backend, max_steps));
            let line = source.line_col(block.span.start as usize).0;
            let (outcome, message, diff) = match stored.get(&name) {
                Some(old) if old == text => ("passed", None, Vec::new()),
                Some(old) => {
                    let diff = diff(old, &text);
                    let first = diff.iter().position(|(t, _)| *t != ' ').map_or(1, |i| i + 1);
                    (
                        "failed",
                        Some(format!("the output differs from the stored snapshot, from line {first} of its text")),
                        diff,
                    )
                }
                None => ("new", Some("no stored snapshot yet".to_string()), Vec::new()),
            };
            if outcome != "passed" {
                updated.set(&name, text);
                dirty = true;
            }
            let outcome = if accept { "passed" } else { outcome };
            results.push(SnapshotResult {
                name,
                file: source.path.clone(),
                line,
                outcome,
                message: if accept { None } else { message },
                diff,
            });
        }
        // Sections without a block are stale.
        let names: Vec<&str> = blocks.iter().map(|b| b.name.as_str()).collect();
        let stale: Vec<String> =
            stored.sections.iter().map(|(n, _)| n.clone()).filter(|n| !names.contains(&n.as_str())).collect();
        if !stale.is_empty() {
            updated.sections.retain(|(n, _)| !stale.contains(n));
            dirty = true;
            if !accept {
                for name in stale {
                    results.push(SnapshotResult {
                        message: Some(format!(
                            "stale section: no snapshot block is named `{name}`; `warden test --accept` removes it"
                        )),
                        name,
                        file: source.path.clone(),
                        line: 0,
                        outcome: "failed",
                        diff: Vec::new(),
                    });
                }
            }
        }
        let new_path = {
            let mut p = path.as_os_str().to_owned();
            p.push(".new");
            PathBuf::from(p)
        };
        if accept {
            if dirty || updated.sections.is_empty() != stored.sections.is_empty() {
                if updated.sections.is_empty() {
                    let _ = std::fs::remove_file(&path);
                } else {
                    crate::source::write_atomically(&path, &updated.render())?;
                }
            }
            let _ = std::fs::remove_file(&new_path);
        } else if dirty {
            crate::source::write_atomically(&new_path, &updated.render())?;
        } else {
            let _ = std::fs::remove_file(&new_path);
        }
    }
    Ok(results)
}
