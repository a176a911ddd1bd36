//! The workspace a language server holds: every `.rules` file of its folders (as `warden check
//! DIR` loads them, so declarations cross files), the open documents' unsaved text over them,
//! each file's parse kept until its text changes, and the last check of the whole program.

use std::path::{Path, PathBuf};

use crate::check::{self, Checked};
use crate::diagnostic::Diagnostic;
use crate::source::{FileId, SourceMap};
use crate::syntax::shift::{self, Shift};
use crate::syntax::{self, ast};

/// One file of the workspace.
pub(crate) struct Doc {
    /// Its path.
    pub(crate) path: PathBuf,
    /// Its current text (the editor's, when it is open).
    pub(crate) text: String,
    /// Whether the editor has it open.
    pub(crate) open: bool,
    /// Where its lines start (byte offsets).
    pub(crate) lines: Vec<usize>,
    /// The file id the current text was parsed with and its syntax error, once parsed.
    parsed: Option<(FileId, Option<Diagnostic>)>,
    /// The text that is checked, with its tree: the current text when it parses, else the last
    /// one that did (so that one unfinished edit does not turn every use of its names elsewhere
    /// into errors), else nothing.
    checked_text: String,
    tree: ast::File,
    /// What of the checked text the access pass reads besides the rules: the text with every
    /// access rule cut out (a NUL where each was).
    decls: String,
    /// Whether the last parse was of one edited access rule only.
    rule_parsed: bool,
    /// A number no other tree of any doc had: it changes whenever `tree` does.
    generation: u64,
    /// E0007 when its bytes on disk are not text.
    not_text: Option<Diagnostic>,
}

impl Doc {
    pub(crate) fn new(path: PathBuf, text: String) -> Doc {
        let lines = line_starts(&text);
        Doc {
            path,
            text,
            open: false,
            lines,
            parsed: None,
            checked_text: String::new(),
            tree: ast::File { items: Vec::new() },
            decls: String::new(),
            rule_parsed: false,
            generation: next_generation(),
            not_text: None,
        }
    }

    /// Replaces the text; the parse is dropped.
    pub(crate) fn set_text(&mut self, text: String) {
        if text != self.text {
            self.lines = line_starts(&text);
            self.text = text;
            self.parsed = None;
            self.not_text = None;
        }
    }

    /// Whether the current text has a syntax error (or is not text).
    pub(crate) fn broken(&self) -> bool {
        self.not_text.is_some() || self.parsed.as_ref().is_some_and(|p| p.1.is_some())
    }

    /// Parses the current text as file `id` unless it is parsed already; whether it parsed now.
    fn parse(&mut self, id: FileId, incremental: bool) -> bool {
        self.rule_parsed = false;
        // Parsed already, as this file.
        if self.parsed.as_ref().is_some_and(|p| p.0 == id) {
            return false;
        }
        self.rule_parsed = incremental && self.parse_rule(id);
        let parsed = self.rule_parsed || self.parse_tree(id);
        if parsed {
            self.decls = declarations_text(&self.checked_text, &self.tree);
            self.generation = next_generation();
        }
        parsed
    }

    /// Parses only the access rule an edit lies in, when the text differs from the last one
    /// that parsed (as file `id`) only strictly inside one access rule and the new rule parses
    /// whole; the declarations after it are moved by the edit's length. Whether it did.
    fn parse_rule(&mut self, id: FileId) -> bool {
        if self.not_text.is_some() || self.tree.items.is_empty() || self.parsed.as_ref().is_some_and(|p| p.0 != id) {
            return false;
        }
        let (old, new) = (self.checked_text.as_bytes(), self.text.as_bytes());
        let prefix = old.iter().zip(new).take_while(|(a, b)| a == b).count();
        let room = old.len().min(new.len()) - prefix;
        let suffix = old.iter().rev().zip(new.iter().rev()).take(room).take_while(|(a, b)| a == b).count();
        let changed_end = old.len() - suffix;
        let delta = new.len() as i64 - old.len() as i64;
        // The module and the rule the change lies strictly inside.
        let mut found = None;
        for (i, item) in self.tree.items.iter().enumerate() {
            let ast::Item::Module(m) = item else { continue };
            for (j, mi) in m.items.iter().enumerate() {
                if let ast::ModuleItem::Access(r) = mi {
                    if r.span.file == id && (r.span.start as usize) < prefix && changed_end < r.span.end as usize {
                        found = Some((i, j, r.span));
                    }
                }
            }
        }
        let Some((i, j, span)) = found else { return false };
        let later_shiftable = self.tree.items[i + 1..].iter().all(shift::shiftable)
            && matches!(&self.tree.items[i], ast::Item::Module(m) if m.items[j + 1..].iter().all(|mi| !matches!(mi, ast::ModuleItem::Microflow(_))));
        let start = span.start as usize;
        let Ok(end) = usize::try_from(span.end as i64 + delta) else { return false };
        let Some(rule_text) = self.text.get(start..end) else { return false };
        if !later_shiftable || !syntax::prescan_ok(&self.text, id) {
            return false;
        }
        let Some(rule) = syntax::on_big_stack(|| syntax::parse_access_rule(rule_text, start, id)) else { return false };
        let ast::Item::Module(m) = &mut self.tree.items[i] else { return false };
        m.items[j] = ast::ModuleItem::Access(rule);
        let mut moved = m.items[j + 1..].iter_mut().all(|mi| mi.shift(delta));
        if let Ok(end) = u32::try_from(m.span.end as i64 + delta) {
            m.span.end = end;
        } else {
            moved = false;
        }
        moved = moved && self.tree.items[i + 1..].iter_mut().all(|item| item.shift(delta));
        if !moved {
            // Not expected after the checks above: parse the whole text, or the last good one again.
            if !self.parse_tree(id) || self.parsed.as_ref().is_some_and(|p| p.1.is_some()) {
                self.tree = syntax::parse_file(&self.checked_text, id).unwrap_or(ast::File { items: Vec::new() });
            }
            return true;
        }
        self.checked_text.clone_from(&self.text);
        self.parsed = Some((id, None));
        true
    }

    fn parse_tree(&mut self, id: FileId) -> bool {
        let moved = self.parsed.as_ref().is_some_and(|p| p.0 != id);
        if !moved && self.parsed.is_some() {
            return false;
        }
        if self.not_text.is_some() {
            self.parsed = Some((id, None));
            self.checked_text.clear();
            self.tree = ast::File { items: Vec::new() };
            return true;
        }
        match syntax::parse_file(&self.text, id) {
            Ok(tree) => {
                self.checked_text.clone_from(&self.text);
                self.tree = tree;
                self.parsed = Some((id, None));
            }
            Err(e) => {
                if moved {
                    // The last good tree carries the old file id: parse its text again.
                    self.tree = syntax::parse_file(&self.checked_text, id).unwrap_or(ast::File { items: Vec::new() });
                }
                self.parsed = Some((id, Some(Diagnostic::from(e))));
            }
        }
        true
    }
}

/// A number never handed out before.
fn next_generation() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// The text with every access rule of its tree cut out, a NUL in each one's place.
fn declarations_text(text: &str, tree: &ast::File) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    let rules = tree.items.iter().flat_map(|item| match item {
        ast::Item::Module(m) => m.items.as_slice(),
        _ => &[],
    });
    for item in rules {
        if let ast::ModuleItem::Access(rule) = item {
            let (start, end) = (rule.span.start as usize, rule.span.end as usize);
            if start < at || end > text.len() {
                // Not in order: keep the whole text, which only ever checks more.
                return text.to_string();
            }
            out.push_str(text.get(at..start).unwrap_or_default());
            out.push('\0');
            at = end;
        }
    }
    out.push_str(text.get(at..).unwrap_or_default());
    out
}

/// Where each line starts.
pub(crate) fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect()
}

/// The whole workspace and its last analysis.
#[derive(Default)]
pub(crate) struct Workspace {
    /// The folders it loads.
    pub(crate) roots: Vec<PathBuf>,
    /// Its files, sorted by path; a file's index is its [`FileId`] in [`Analysis::checked`].
    pub(crate) docs: Vec<Doc>,
    /// The last analysis, or `None` until the first.
    pub(crate) analysis: Option<Analysis>,
    /// How many files were parsed by the last analysis (the others were reused).
    pub(crate) last_parsed: usize,
    /// How many of the files parsed by the last analysis were parsed one edited rule only.
    pub(crate) last_rule_parsed: usize,
    /// How many files' access rules the last analysis took from the one before.
    pub(crate) last_reused: usize,
    /// Check the whole program every time (to compare with the incremental check).
    pub(crate) full_check_only: bool,
}

/// What the checker and the audit found, by file.
pub(crate) struct Analysis {
    /// The checked program: the sources are the docs' texts in order (a broken doc's last good
    /// text in place of its own).
    pub(crate) checked: Checked,
    /// Every diagnostic to show, by doc index: syntax errors, check errors and warnings, and
    /// the audit's findings when the program checks.
    pub(crate) diagnostics: Vec<Vec<Diagnostic>>,
    /// What the next analysis may reuse of this one.
    kept: Kept,
}

/// What an analysis keeps for the next one to check incrementally.
#[derive(Default)]
struct Kept {
    /// Each doc's path, declarations text and tree generation, as checked.
    docs: Vec<(PathBuf, String, u64)>,
    /// The diagnostics of each doc's access rules.
    rules: Vec<Vec<Diagnostic>>,
}

impl Workspace {
    /// Loads every `.rules` file under the roots (a root without any is an empty workspace).
    pub(crate) fn load(&mut self, roots: Vec<PathBuf>) {
        self.roots = roots;
        let mut docs = Vec::new();
        for root in &self.roots {
            let Ok(sources) = crate::load::read_sources(std::slice::from_ref(root)) else { continue };
            for (id, file) in sources.files() {
                let mut doc = Doc::new(file.path.clone(), file.text.clone());
                doc.not_text = crate::load::not_text(id, file);
                docs.push(doc);
            }
        }
        docs.sort_by(|a, b| a.path.cmp(&b.path));
        docs.dedup_by(|a, b| a.path == b.path);
        self.docs = docs;
        self.analysis = None;
    }

    /// The index of a doc by path.
    pub(crate) fn index_of(&self, path: &Path) -> Option<usize> {
        self.docs.binary_search_by(|d| d.path.as_path().cmp(path)).ok()
    }

    /// The doc at a path, added (in path order) when it is not in the workspace yet.
    pub(crate) fn doc_mut(&mut self, path: &Path) -> &mut Doc {
        let index = match self.docs.binary_search_by(|d| d.path.as_path().cmp(path)) {
            Ok(i) => i,
            Err(i) => {
                self.docs.insert(i, Doc::new(path.to_path_buf(), String::new()));
                i
            }
        };
        &mut self.docs[index]
    }

    /// Removes a doc that is neither open nor under a root (closed after it was opened alone),
    /// or reads it again from disk when it is under a root.
    pub(crate) fn close(&mut self, path: &Path) {
        let Some(i) = self.index_of(path) else { return };
        let under_root = self.roots.iter().any(|r| path.starts_with(r));
        match std::fs::read(path) {
            Ok(bytes) if under_root => {
                let doc = &mut self.docs[i];
                doc.open = false;
                doc.set_text(String::from_utf8_lossy(&bytes).into_owned());
            }
            _ => {
                self.docs.remove(i);
            }
        }
    }

    /// Parses what changed and checks the whole program again.
    pub(crate) fn analyze(&mut self) -> &Analysis {
        let mut sources = SourceMap::new();
        let mut parsed = 0;
        for (i, doc) in self.docs.iter_mut().enumerate() {
            if doc.parse(FileId(i as u32), !self.full_check_only) {
                parsed += 1;
            }
            sources.add(doc.path.clone(), doc.checked_text.clone());
        }
        self.last_parsed = parsed;
        self.last_rule_parsed = self.docs.iter().filter(|d| d.rule_parsed).count();
        let reuse = self.reusable();
        self.last_reused = reuse.iter().filter(|r| r.is_some()).count();
        // The trees are lent to the checker and given back.
        let files: Vec<ast::File> =
            self.docs.iter_mut().map(|d| std::mem::replace(&mut d.tree, ast::File { items: Vec::new() })).collect();
        let ((checked, rules), files) = syntax::on_big_stack(move || {
            let checked = check::check_reusing(sources, &files, reuse);
            (checked, files)
        });
        for (doc, tree) in self.docs.iter_mut().zip(files) {
            doc.tree = tree;
        }
        let mut diagnostics: Vec<Vec<Diagnostic>> = vec![Vec::new(); self.docs.len()];
        for (i, doc) in self.docs.iter().enumerate() {
            if let Some(d) = &doc.not_text {
                diagnostics[i].push(d.clone());
            } else if let Some((_, Some(d))) = &doc.parsed {
                diagnostics[i].push(d.clone());
            }
        }
        let broken: Vec<bool> = self.docs.iter().map(Doc::broken).collect();
        let mut found = checked.diagnostics.clone();
        if !checked.has_errors() {
            found.extend(crate::audit::audit(&checked.program));
        }
        for d in found {
            let i = d.span.file.0 as usize;
            // A broken doc was checked in its last good text: those spans point elsewhere now.
            if i < diagnostics.len() && !broken[i] {
                diagnostics[i].push(d);
            }
        }
        for list in &mut diagnostics {
            crate::diagnostic::sort(list);
        }
        let docs = self.docs.iter().map(|d| (d.path.clone(), d.decls.clone(), d.generation)).collect();
        self.analysis.insert(Analysis { checked, diagnostics, kept: Kept { docs, rules } })
    }

    /// What the last analysis lets this one reuse, by doc: the rules and diagnostics of each
    /// doc whose tree is the one checked then, when no doc's declarations changed (and no doc
    /// came or went); nothing otherwise. The last analysis's rules are taken out of it.
    fn reusable(&mut self) -> Vec<Option<check::FileRules>> {
        let Some(last) = &mut self.analysis else { return Vec::new() };
        let same = last.kept.docs.len() == self.docs.len()
            && last.kept.docs.iter().zip(&self.docs).all(|((path, decls, _), d)| *path == d.path && *decls == d.decls);
        if !same || self.full_check_only {
            return Vec::new();
        }
        let mut reuse: Vec<Option<check::FileRules>> = last
            .kept
            .docs
            .iter()
            .zip(&self.docs)
            .zip(&mut last.kept.rules)
            .map(|(((_, _, generation), d), diagnostics)| {
                (*generation == d.generation)
                    .then(|| check::FileRules { rules: Vec::new(), diagnostics: std::mem::take(diagnostics) })
            })
            .collect();
        for rule in std::mem::take(&mut last.checked.program.access_rules) {
            if let Some(Some(kept)) = reuse.get_mut(rule.span.file.0 as usize) {
                kept.rules.push(rule);
            }
        }
        reuse
    }

    /// The analysis, made when there is none yet.
    pub(crate) fn analysis(&mut self) -> &Analysis {
        if self.analysis.is_none() {
            self.analyze();
        }
        // INVARIANT: analyze() has just filled it.
        #[expect(clippy::expect_used, reason = "filled just above")]
        self.analysis.as_ref().expect("an analysis")
    }

    /// Whether the doc's text is the one the last analysis checked (so spans into it hold).
    pub(crate) fn current(&self, doc: usize) -> bool {
        let Some(a) = &self.analysis else { return false };
        let Some(d) = self.docs.get(doc) else { return false };
        doc < a.checked.program.sources.files().count()
            && a.checked.program.sources.file(FileId(doc as u32)).text == d.text
            && a.checked.program.sources.path(FileId(doc as u32)) == d.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace(files: &[(&str, &str)]) -> Workspace {
        let mut w = Workspace::default();
        for (path, text) in files {
            w.doc_mut(Path::new(path)).set_text(text.to_string());
        }
        w
    }

    #[test]
    fn only_changed_files_are_parsed_again() {
        let mut w = workspace(&[
            ("/w/a.rules", "module A {\n  entity E { N: String }\n}\n"),
            ("/w/b.rules", "module B {\n  entity F { M: String }\n}\n"),
            ("/w/c.rules", "user role U: A.R\nmodule A {\n  module role R\n}\n"),
        ]);
        w.analyze();
        assert_eq!(w.last_parsed, 3);
        w.analyze();
        assert_eq!(w.last_parsed, 0);
        w.doc_mut(Path::new("/w/b.rules")).set_text("module B {\n  entity F { M: Integer }\n}\n".into());
        let analysis = w.analyze();
        assert!(analysis.diagnostics.iter().all(Vec::is_empty));
        assert_eq!(w.last_parsed, 1);
        // A new file before the others moves their ids: they are parsed again.
        w.doc_mut(Path::new("/w/0.rules")).set_text("module Z {\n}\n".into());
        w.analyze();
        assert_eq!(w.last_parsed, 4);
    }

    #[test]
    fn a_syntax_error_keeps_the_last_good_declarations() {
        let mut w = workspace(&[
            ("/w/a.rules", "module A {\n  entity E { N: String }\n  module role R\n}\n"),
            ("/w/b.rules", "user role U: A.R\n"),
        ]);
        assert!(w.analyze().diagnostics.iter().all(Vec::is_empty));
        w.doc_mut(Path::new("/w/a.rules")).set_text("module A {\n  entity E { N: String \n  module role R\n}\n".into());
        let analysis = w.analyze();
        assert_eq!(analysis.diagnostics[0].len(), 1);
        use crate::codes::Code;
        let syntax = [Code::E0001, Code::E0002, Code::E0003, Code::E0004, Code::E0005, Code::E0006];
        assert!(syntax.contains(&analysis.diagnostics[0][0].code), "{:?}", analysis.diagnostics[0]);
        assert!(analysis.diagnostics[1].is_empty(), "{:?}", analysis.diagnostics[1]);
    }

    /// The example app as a workspace, checked incrementally or always whole.
    fn examples(full_check_only: bool) -> Workspace {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
        let mut w = Workspace { full_check_only, ..Workspace::default() };
        w.load(vec![dir]);
        assert!(w.docs.len() >= 5, "the examples are a workspace of several files");
        w
    }

    /// A workspace of rules and the declarations they use only (no microflows or tests): two
    /// modules, the second's rules on the first's entities, and a file of user roles.
    fn rules_only(full_check_only: bool) -> Workspace {
        let module = |m: &str, other: &str| {
            let mut out =
                format!("module {m} {{\n  enumeration State {{ Open, Closed }}\n  module role R0\n  module role R1\n");
            for e in 0..4 {
                out.push_str(&format!("  entity E{e} {{\n    stores owner, createdDate\n    Name: String(200)\n    Amount: Decimal\n    State: State = Open\n  }}\n"));
                if e > 0 {
                    out.push_str(&format!("  association E{e}_Parent: E{e} -> E{}\n", e - 1));
                    out.push_str(&format!("  access E{e} for R0 {{\n    read Name\n    where [{m}.E{e}_Parent/{m}.E{}/State = 'Closed' and Amount > 10]\n  }}\n", e - 1));
                }
                out.push_str(&format!("  access E{e} for R1 {{\n    create\n    write Name, Amount\n    where [System.owner = '[%CurrentUser%]']\n  }}\n"));
                out.push_str(&format!("  access {other}.E{e} for R1 {{\n    read *\n    where [createdDate > '[%CurrentDateTime%] - 30 * [%DayLength%]']\n  }}\n"));
            }
            out.push_str("}\n");
            out
        };
        let mut w = Workspace { full_check_only, ..Workspace::default() };
        w.doc_mut(Path::new("/w/a.rules")).set_text(module("A", "B"));
        w.doc_mut(Path::new("/w/b.rules")).set_text(module("B", "A"));
        w.doc_mut(Path::new("/w/c.rules")).set_text("user role U0: A.R0, B.R0\nuser role U1: A.R1, B.R1\n".into());
        w
    }

    /// Everything an analysis shows or serves: the diagnostics by doc, and the program's rules.
    fn outcome(w: &mut Workspace) -> (String, String) {
        let a = w.analyze();
        (format!("{:#?}", a.diagnostics), format!("{:?}", a.checked.program.access_rules))
    }

    /// One random edit of a text: a word replaced, or a few characters replaced by a piece of
    /// rule syntax, at a place picked by `at` (a fraction of the text).
    fn edit(text: &str, at: f64, kind: usize, piece: usize) -> String {
        const PIECES: &[&str] = &[
            "",
            " ",
            "Name",
            "Nmae",
            "Amount",
            "Status",
            "read ",
            "write ",
            "*",
            ", ",
            "create\n",
            "delete\n",
            "where [Total > 1]",
            "where [System.owner = '[%CurrentUser%]']",
            "}",
            "{",
            "x",
            "Guest",
            "access Order for Buyer { read * }\n",
            "entity Zed { N: String }\n",
            "module role Extra\n",
            "true",
            "// warden:allow A003 on purpose\n",
            "Shop.Order",
            "[%CurrentUser%]",
            "'Open'",
        ];
        let count = 1 + piece % 3;
        let piece = PIECES[piece % PIECES.len()];
        let mut at = ((text.len() as f64) * at) as usize;
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        let mut out = text.to_string();
        match kind % 3 {
            // The word at the place becomes the piece.
            0 => {
                let is_word = |c: char| c.is_alphanumeric() || c == '_';
                let start = text[..at].rfind(|c| !is_word(c)).map_or(0, |i| i + 1);
                let end = text[at..].find(|c| !is_word(c)).map_or(text.len(), |i| at + i);
                out.replace_range(start..end, piece);
            }
            // A few characters deleted (a typo or a deletion).
            1 => {
                let end = text[at..].char_indices().nth(count).map_or(text.len(), |(i, _)| at + i);
                out.replace_range(at..end, "");
            }
            _ => out.insert_str(at, piece),
        }
        out
    }

    /// After every edit, the incremental check shows what a check of the whole program shows:
    /// the same diagnostics in every file, in the same order, and the same rules. Random edits
    /// of the example app (inside rules, in declarations, typos, deletions, undos).
    #[test]
    fn incremental_checks_equal_full_ones() {
        let examples_reused = differential(examples);
        assert!(examples_reused.0 > 0, "the incremental check was never taken");
        let rules_reused = differential(rules_only);
        assert!(rules_reused.0 > 0, "the incremental check was never taken");
        assert!(rules_reused.1 > 0, "no edit was parsed as one rule");
    }

    /// Random edits of a workspace made by `fixture`, checked incrementally and whole; how many
    /// files' rules were reused, and how many files were parsed as one edited rule.
    fn differential(fixture: fn(bool) -> Workspace) -> (usize, usize) {
        use proptest::prelude::*;
        let config = ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() };
        let edits = proptest::collection::vec((0usize..16, 0.0f64..1.0, 0usize..3, 0usize..64, any::<bool>()), 1..10);
        let reused = std::cell::Cell::new(0);
        let rule_parsed = std::cell::Cell::new(0);
        proptest::test_runner::TestRunner::new(config)
            .run(&edits, |edits| {
                let mut incremental = fixture(false);
                let mut full = fixture(true);
                prop_assert_eq!(outcome(&mut incremental), outcome(&mut full));
                for (doc, at, kind, piece, undo) in edits {
                    let doc = doc % incremental.docs.len();
                    let before = incremental.docs[doc].text.clone();
                    let text = edit(&before, at, kind, piece);
                    for w in [&mut incremental, &mut full] {
                        w.docs[doc].set_text(text.clone());
                    }
                    prop_assert_eq!(outcome(&mut incremental), outcome(&mut full), "after the edit of doc {}", doc);
                    reused.set(reused.get() + incremental.last_reused);
                    rule_parsed.set(rule_parsed.get() + incremental.last_rule_parsed);
                    // A tree made from one edited rule is the tree of the whole text.
                    prop_assert!(incremental.docs[doc].tree == full.docs[doc].tree, "the trees of doc {}", doc);
                    if undo {
                        for w in [&mut incremental, &mut full] {
                            w.docs[doc].set_text(before.clone());
                        }
                        prop_assert_eq!(outcome(&mut incremental), outcome(&mut full), "after undoing it");
                        reused.set(reused.get() + incremental.last_reused);
                    }
                }
                Ok(())
            })
            .unwrap();
        (reused.get(), rule_parsed.get())
    }

    #[test]
    fn an_edit_inside_a_rule_reuses_the_other_files() {
        let mut w = examples(false);
        w.analyze();
        let shop = w.docs.iter().position(|d| d.path.ends_with("shop.rules")).unwrap();
        let text = w.docs[shop].text.clone();
        let rules = w.analysis().checked.program.access_rules.iter().filter(|r| r.span.file.0 as usize == shop).count();
        assert!(rules > 0);
        // A member of a `read` line misspelt: an error at it, every other file reused.
        let read = text.find("read ").unwrap() + "read ".len();
        let mut edited = text.clone();
        edited.insert_str(read, "Bogus, ");
        w.docs[shop].set_text(edited);
        let a = w.analyze();
        assert!(a.diagnostics[shop].iter().any(|d| d.message.contains("Bogus")), "{:?}", a.diagnostics[shop]);
        let docs = w.docs.len();
        assert_eq!(w.last_reused, docs - 1);
        // A new entity is a declaration: the whole program is checked again.
        let mut edited = text.clone();
        edited.insert_str(text.find("entity ").unwrap(), "entity Zed { N: String }\n  ");
        w.docs[shop].set_text(edited);
        w.analyze();
        assert_eq!(w.last_reused, 0);
    }
}
