//! The requests: hover, definition, references, completion, formatting, symbols, folding,
//! rename, quick fixes, code lenses and their commands.

use std::path::{Path, PathBuf};

use lsp_server::ErrorCode;
use lsp_types as lt;
use serde_json::json;

use super::convert::{self, path_of, uri_of};
use super::navigate::{self, Def, Kind, RunOutcome, Word};
use super::{Failure, Server};
use crate::diagnostic::Diagnostic;
use crate::source::{FileId, Span};

/// A place in the workspace: the doc's index and the byte offset.
struct Place {
    doc: usize,
    offset: usize,
}

impl Server {
    /// The doc and offset of a position, when the doc is in the workspace and the last check
    /// read its current text (spans of the program point into it).
    fn place(&mut self, at: &lt::TextDocumentPositionParams) -> Option<Place> {
        let path = path_of(&at.text_document.uri)?;
        let doc = self.workspace.index_of(&path)?;
        self.workspace.analysis();
        if !self.workspace.current(doc) {
            return None;
        }
        let d = &self.workspace.docs[doc];
        Some(Place { doc, offset: convert::offset(&d.text, &d.lines, at.position) })
    }

    /// The declarations the word at a place names, with the word.
    fn defs_at(&mut self, place: &Place) -> Option<(Word, Vec<Def>)> {
        let analysis = self.workspace.analysis.as_ref()?;
        let program = &analysis.checked.program;
        let text = &self.workspace.docs[place.doc].text;
        let word = navigate::word_at(text, place.offset)?;
        let defs = navigate::definitions(program);
        let found = navigate::resolve(program, &defs, FileId(place.doc as u32), &navigate::Source::new(text), &word);
        Some((word, found))
    }

    pub(super) fn hover(&mut self, p: lt::HoverParams) -> Option<lt::Hover> {
        let place = self.place(&p.text_document_position_params)?;
        let text = self.workspace.docs[place.doc].text.clone();
        if let Some((start, end, token)) = navigate::token_at(&text, place.offset) {
            let now = chrono::Utc::now().timestamp_millis();
            let value = navigate::token_text(&token, now)?;
            let range = convert::range(&self.workspace.docs[place.doc], start, end);
            return Some(markdown(value, Some(range)));
        }
        let (word, defs) = self.defs_at(&place)?;
        let program = &self.workspace.analysis.as_ref()?.checked.program;
        let texts: Vec<String> = defs.iter().map(|d| navigate::hover_text(program, d)).collect();
        if texts.is_empty() {
            return None;
        }
        let range = convert::range(&self.workspace.docs[place.doc], word.start, word.end);
        Some(markdown(texts.join("\n---\n"), Some(range)))
    }

    pub(super) fn definition(&mut self, p: lt::GotoDefinitionParams) -> Option<lt::GotoDefinitionResponse> {
        let place = self.place(&p.text_document_position_params)?;
        let (_, defs) = self.defs_at(&place)?;
        let locations: Vec<lt::Location> =
            defs.iter().filter_map(|d| convert::location(&self.workspace.docs, d.at)).collect();
        match locations.len() {
            0 => None,
            1 => locations.into_iter().next().map(lt::GotoDefinitionResponse::Scalar),
            _ => Some(lt::GotoDefinitionResponse::Array(locations)),
        }
    }

    /// Every use of the declarations a place names.
    fn uses(&mut self, place: &Place) -> Option<(Word, Vec<Def>, Vec<Span>)> {
        let (word, defs) = self.defs_at(place)?;
        let program = &self.workspace.analysis.as_ref()?.checked.program;
        let all = navigate::definitions(program);
        let texts: Vec<&str> = self.workspace.docs.iter().map(|d| d.text.as_str()).collect();
        let mut spans: Vec<Span> = defs.iter().flat_map(|d| navigate::references(program, &all, &texts, d)).collect();
        spans.sort_by_key(|s| (s.file, s.start, s.end));
        spans.dedup_by(|a, b| a.same_as(b));
        Some((word, defs, spans))
    }

    pub(super) fn references(&mut self, p: lt::ReferenceParams) -> Option<Vec<lt::Location>> {
        let place = self.place(&p.text_document_position)?;
        let (_, defs, spans) = self.uses(&place)?;
        let docs = &self.workspace.docs;
        Some(
            spans
                .into_iter()
                .filter(|s| p.context.include_declaration || !defs.iter().any(|d| d.at.same_as(s)))
                .filter_map(|s| convert::location(docs, s))
                .collect(),
        )
    }

    pub(super) fn completion(&mut self, p: lt::CompletionParams) -> Option<lt::CompletionResponse> {
        let path = path_of(&p.text_document_position.text_document.uri)?;
        let doc = self.workspace.index_of(&path)?;
        self.workspace.analysis();
        let analysis = self.workspace.analysis.as_ref()?;
        let program = &analysis.checked.program;
        let d = &self.workspace.docs[doc];
        let offset = convert::offset(&d.text, &d.lines, p.text_document_position.position);
        // The variables of the test or microflow around the place: as the text binds them
        // (it rarely parses while a path is typed), then as the last check typed them.
        let mut vars = navigate::typed_in_text(program, &d.text[..offset]);
        if let Some((_, scope)) = navigate::body_at(program, FileId(doc as u32), offset) {
            for (name, ty) in scope.names.iter().zip(&scope.types) {
                if !vars.iter().any(|(n, _)| n == name.as_str()) {
                    vars.push((name.to_string(), *ty));
                }
            }
        }
        let index = crate::shell::CompletionIndex::new(program, &[], &vars, Vec::new(), Vec::new());
        let (start, words) = index.complete_in_file(&d.text, offset);
        let range = convert::range(d, start, offset);
        let items = words
            .into_iter()
            .map(|w| lt::CompletionItem {
                label: w.clone(),
                text_edit: Some(lt::CompletionTextEdit::Edit(lt::TextEdit { range, new_text: w })),
                ..Default::default()
            })
            .collect();
        Some(lt::CompletionResponse::Array(items))
    }

    /// The formatted text of a doc, or why it cannot be formatted.
    fn formatted(&mut self, uri: &lt::Url) -> Result<(usize, String), Failure> {
        let doc = path_of(uri)
            .and_then(|p| self.workspace.index_of(&p))
            .ok_or_else(|| Failure(ErrorCode::InvalidParams, format!("`{uri}` is not in the workspace")))?;
        let text = &self.workspace.docs[doc].text;
        let formatted = crate::fmt::format_source(text).map_err(|e| {
            Failure(
                ErrorCode::RequestFailed,
                format!("not formatted: the file has a syntax error: {}", Diagnostic::from(e).message),
            )
        })?;
        Ok((doc, formatted))
    }

    pub(super) fn formatting(&mut self, p: lt::DocumentFormattingParams) -> Result<Vec<lt::TextEdit>, Failure> {
        let (doc, formatted) = self.formatted(&p.text_document.uri)?;
        Ok(line_edits(&self.workspace.docs[doc], &formatted, None))
    }

    pub(super) fn range_formatting(
        &mut self,
        p: lt::DocumentRangeFormattingParams,
    ) -> Result<Vec<lt::TextEdit>, Failure> {
        let (doc, formatted) = self.formatted(&p.text_document.uri)?;
        let lines = p.range.start.line as usize..=p.range.end.line as usize;
        Ok(line_edits(&self.workspace.docs[doc], &formatted, Some(lines)))
    }

    pub(super) fn document_symbols(&mut self, p: lt::DocumentSymbolParams) -> Option<lt::DocumentSymbolResponse> {
        let path = path_of(&p.text_document.uri)?;
        let doc = self.workspace.index_of(&path)?;
        self.workspace.analysis();
        if !self.workspace.current(doc) {
            return None;
        }
        let program = &self.workspace.analysis.as_ref()?.checked.program;
        let file = FileId(doc as u32);
        let d = &self.workspace.docs[doc];
        // (name, kind, whole span, name span)
        let mut nodes: Vec<(String, lt::SymbolKind, Span, Span)> = Vec::new();
        for def in navigate::definitions(program) {
            if def.decl.file != file || def.kind == Kind::Variable {
                continue;
            }
            let kind = match def.kind {
                Kind::Module => continue,
                Kind::Entity => lt::SymbolKind::CLASS,
                Kind::Attribute => lt::SymbolKind::FIELD,
                Kind::Association => lt::SymbolKind::PROPERTY,
                Kind::Enumeration => lt::SymbolKind::ENUM,
                Kind::EnumValue => lt::SymbolKind::ENUM_MEMBER,
                Kind::ModuleRole | Kind::UserRole => lt::SymbolKind::INTERFACE,
                Kind::Microflow => lt::SymbolKind::FUNCTION,
                Kind::Resource => lt::SymbolKind::OBJECT,
                Kind::Component | Kind::Variable => lt::SymbolKind::KEY,
            };
            nodes.push((def.local.clone(), kind, def.decl, def.at));
        }
        // Modules, as each is written (a module may be opened in several places).
        let code = navigate::code_only(&d.text);
        for w in navigate::words(&code) {
            if w.text == "module" && code[w.end..].trim_start().starts_with(|c: char| c.is_alphabetic()) {
                let rest = &code[w.end..];
                let name_start = w.end + (rest.len() - rest.trim_start().len());
                let Some(name) = navigate::word_at(&code, name_start) else { continue };
                if !code[name.end..].trim_start().starts_with('{') {
                    continue;
                }
                let end = matching_brace(&code, name.end).unwrap_or(code.len());
                nodes.push((
                    name.text,
                    lt::SymbolKind::MODULE,
                    Span::new(file, w.start, end),
                    Span::new(file, name.start, name.end),
                ));
            }
        }
        for rule in program.access_rules.iter().filter(|r| r.span.file == file) {
            let head =
                program.sources.slice(rule.span).lines().next().unwrap_or("").trim().trim_end_matches('{').trim();
            nodes.push((head.to_string(), lt::SymbolKind::CONSTANT, rule.span, rule.span));
        }
        for test in program.tests.iter().filter(|t| t.span.file == file) {
            let word = if test.snapshot { "snapshot" } else { "test" };
            nodes.push((format!("{word} '{}'", test.name), lt::SymbolKind::METHOD, test.span, test.name_span));
        }
        nodes.sort_by_key(|(_, _, s, _)| (s.start, std::cmp::Reverse(s.end)));
        #[allow(deprecated, reason = "the field must be given")]
        fn tree(
            nodes: &[(String, lt::SymbolKind, Span, Span)],
            doc: &super::workspace::Doc,
            i: &mut usize,
            end: u32,
        ) -> Vec<lt::DocumentSymbol> {
            let mut out = Vec::new();
            while *i < nodes.len() && nodes[*i].2.start < end {
                let (name, kind, span, at) = nodes[*i].clone();
                *i += 1;
                let children = tree(nodes, doc, i, span.end);
                let range = convert::range(doc, span.start as usize, span.end as usize);
                let mut selection = convert::range(doc, at.start as usize, at.end as usize);
                if selection.start < range.start || selection.end > range.end {
                    selection = range;
                }
                out.push(lt::DocumentSymbol {
                    name,
                    detail: None,
                    kind,
                    tags: None,
                    deprecated: None,
                    range,
                    selection_range: selection,
                    children: (!children.is_empty()).then_some(children),
                });
            }
            out
        }
        let mut i = 0;
        Some(lt::DocumentSymbolResponse::Nested(tree(&nodes, d, &mut i, u32::MAX)))
    }

    pub(super) fn folding(&mut self, p: lt::FoldingRangeParams) -> Option<Vec<lt::FoldingRange>> {
        let path = path_of(&p.text_document.uri)?;
        let d = &self.workspace.docs[self.workspace.index_of(&path)?];
        let mut out = Vec::new();
        let mut stack = Vec::new();
        for piece in crate::syntax::scan::pieces(&d.text) {
            match piece.kind {
                crate::syntax::scan::PieceKind::Code => {
                    for (i, c) in d.text[piece.start..piece.end].char_indices() {
                        match c {
                            '{' | '[' => stack.push(piece.start + i),
                            '}' | ']' => {
                                if let Some(open) = stack.pop() {
                                    let (a, b) = (
                                        convert::position(&d.text, &d.lines, open),
                                        convert::position(&d.text, &d.lines, piece.start + i),
                                    );
                                    if b.line > a.line + 1 || (b.line > a.line && c == '}') {
                                        out.push(lt::FoldingRange {
                                            start_line: a.line,
                                            end_line: b.line.saturating_sub(1).max(a.line),
                                            kind: Some(lt::FoldingRangeKind::Region),
                                            ..Default::default()
                                        });
                                    }
                                }
                            }
                            _ => {}
                        }
                    }
                }
                crate::syntax::scan::PieceKind::BlockComment { .. } => {
                    let (a, b) = (
                        convert::position(&d.text, &d.lines, piece.start),
                        convert::position(&d.text, &d.lines, piece.end),
                    );
                    if b.line > a.line {
                        out.push(lt::FoldingRange {
                            start_line: a.line,
                            end_line: b.line,
                            kind: Some(lt::FoldingRangeKind::Comment),
                            ..Default::default()
                        });
                    }
                }
                _ => {}
            }
        }
        out.sort_by_key(|r| (r.start_line, r.end_line));
        Some(out)
    }

    /// The one declaration a rename at a place would rename, or why none.
    fn rename_target(&mut self, at: &lt::TextDocumentPositionParams) -> Result<(Word, Def), Failure> {
        let refuse = |m: &str| Failure(ErrorCode::RequestFailed, m.to_string());
        let place = self
            .place(at)
            .ok_or_else(|| refuse("the file has changed since it was checked, or is not in the workspace"))?;
        let (word, defs) = self.defs_at(&place).ok_or_else(|| refuse("nothing to rename here"))?;
        match defs.as_slice() {
            [one] => Ok((word, one.clone())),
            [] => Err(refuse(&format!("`{}` is not a name this workspace declares", word.text))),
            _ => Err(refuse(&format!("`{}` names several declarations here; rename it at its declaration", word.text))),
        }
    }

    pub(super) fn prepare_rename(
        &mut self,
        p: lt::TextDocumentPositionParams,
    ) -> Result<Option<lt::PrepareRenameResponse>, Failure> {
        let (word, def) = self.rename_target(&p)?;
        let path = path_of(&p.text_document.uri).and_then(|p| self.workspace.index_of(&p));
        let Some(doc) = path else { return Ok(None) };
        let start = word.end - def.local.len().min(word.end - word.start);
        let range = convert::range(&self.workspace.docs[doc], start, word.end);
        Ok(Some(lt::PrepareRenameResponse::RangeWithPlaceholder { range, placeholder: def.local }))
    }

    pub(super) fn rename(&mut self, p: lt::RenameParams) -> Result<Option<lt::WorkspaceEdit>, Failure> {
        let refuse = |m: String| Failure(ErrorCode::RequestFailed, m);
        let (_, def) = self.rename_target(&p.text_document_position)?;
        let new = p.new_name.trim().to_string();
        let bare = new.strip_prefix('$').unwrap_or(&new);
        let valid = bare.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && bare.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(refuse(format!("`{new}` is not a name: a letter or `_`, then letters, digits and `_`")));
        }
        let new = if def.kind == Kind::Variable { format!("${bare}") } else { bare.to_string() };
        let program =
            &self.workspace.analysis.as_ref().ok_or_else(|| refuse("not checked yet".into()))?.checked.program;
        // The new name must not be taken by a declaration of the same kind in the same place.
        let new_qualified = match def.name.rsplit_once('.') {
            Some((outer, _)) if def.kind != Kind::Variable => format!("{outer}.{new}"),
            _ => new.clone(),
        };
        if navigate::definitions(program).iter().any(|d| d.name == new_qualified) {
            return Err(refuse(format!("`{new_qualified}` is declared already")));
        }
        if def.kind == Kind::Variable {
            if let Some((_, scope)) = navigate::body_at(program, def.at.file, def.at.start as usize) {
                if scope.slot(bare).is_some() {
                    return Err(refuse(format!("`{new}` is a variable of this block already")));
                }
            }
        }
        // Stores and snapshots name entities, members, roles and values by their names.
        if def.kind != Kind::Variable && def.kind != Kind::Microflow && def.kind != Kind::Module {
            if let Some(file) = self.data_file_naming(&def) {
                // Shown from the workspace's folder it is in.
                let shown = self.workspace.roots.iter().find_map(|r| file.strip_prefix(r).ok()).unwrap_or(&file);
                return Err(refuse(format!(
                    "`{}` is named in `{}`, which a rename of the rules would not change: rename it there too, or keep the name",
                    def.name,
                    shown.display()
                )));
            }
        }
        let (_, _, spans) = {
            let doc = path_of(&p.text_document_position.text_document.uri).and_then(|p| self.workspace.index_of(&p));
            let d = &self.workspace.docs[doc.ok_or_else(|| refuse("not in the workspace".into()))?];
            let offset = convert::offset(&d.text, &d.lines, p.text_document_position.position);
            let place = Place { doc: doc.unwrap_or(0), offset };
            self.uses(&place).ok_or_else(|| refuse("nothing to rename here".into()))?
        };
        let mut changes: std::collections::HashMap<lt::Url, Vec<lt::TextEdit>> = Default::default();
        for span in spans {
            let Some(d) = self.workspace.docs.get(span.file.0 as usize) else { continue };
            let Some(written) = d.text.get(span.range()) else { continue };
            // Only the local part changes: `Shop.Cart` becomes `Shop.Basket`.
            let local_len = if written.ends_with(def.local.as_str()) { def.local.len() } else { written.len() };
            let start = span.end as usize - local_len;
            changes
                .entry(uri_of(&d.path))
                .or_default()
                .push(lt::TextEdit { range: convert::range(d, start, span.end as usize), new_text: new.clone() });
        }
        Ok(Some(lt::WorkspaceEdit { changes: Some(changes), ..Default::default() }))
    }

    /// A store (`*.json`) or snapshot (`*.snap`) file under the roots that names a declaration.
    fn data_file_naming(&self, def: &Def) -> Option<PathBuf> {
        let needle_json = format!("\"{}\"", def.local);
        let needle_qualified = format!("\"{}\"", def.name);
        let mut stack: Vec<PathBuf> = self.workspace.roots.clone();
        let mut files = Vec::new();
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            for e in entries.flatten() {
                let path = e.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|x| x == "json") {
                    files.push(path);
                }
            }
        }
        files.sort();
        files.into_iter().find(|path| {
            std::fs::read_to_string(path)
                .is_ok_and(|text| text.contains(&needle_json) || text.contains(&needle_qualified))
        })
    }

    pub(super) fn code_actions(&mut self, p: lt::CodeActionParams) -> Option<lt::CodeActionResponse> {
        let path = path_of(&p.text_document.uri)?;
        let doc = self.workspace.index_of(&path)?;
        self.workspace.analysis();
        let analysis = self.workspace.analysis.as_ref()?;
        let d = &self.workspace.docs[doc];
        let mut out = Vec::new();
        for diag in &analysis.diagnostics[doc] {
            let range = convert::span_range(&self.workspace.docs, diag.span);
            if range.end < p.range.start || p.range.end < range.start {
                continue;
            }
            let Some((title, start, end, new_text)) = quick_fix(diag, &d.text, &analysis.checked.program) else {
                continue;
            };
            let edit = lt::TextEdit { range: convert::range(d, start, end), new_text };
            let lsp_diag = convert::diagnostic(diag, &self.workspace.docs);
            out.push(lt::CodeActionOrCommand::CodeAction(lt::CodeAction {
                title,
                kind: Some(lt::CodeActionKind::QUICKFIX),
                diagnostics: Some(vec![lsp_diag]),
                edit: Some(lt::WorkspaceEdit {
                    changes: Some([(p.text_document.uri.clone(), vec![edit])].into_iter().collect()),
                    ..Default::default()
                }),
                is_preferred: Some(true),
                ..Default::default()
            }));
        }
        Some(out)
    }

    pub(super) fn code_lenses(&mut self, p: lt::CodeLensParams) -> Option<Vec<lt::CodeLens>> {
        let path = path_of(&p.text_document.uri)?;
        let doc = self.workspace.index_of(&path)?;
        self.workspace.analysis();
        if !self.workspace.current(doc) {
            return Some(Vec::new());
        }
        let program = &self.workspace.analysis.as_ref()?.checked.program;
        let d = &self.workspace.docs[doc];
        let new_snap = snap_new(&d.path);
        let mut out = Vec::new();
        for test in program.tests.iter().filter(|t| t.span.file.0 as usize == doc) {
            let line = convert::position(&d.text, &d.lines, test.span.start as usize).line;
            let range =
                lt::Range { start: lt::Position { line, character: 0 }, end: lt::Position { line, character: 0 } };
            let args = Some(vec![json!(p.text_document.uri), json!(test.name)]);
            let title = match self.runs.get(&(d.path.clone(), test.name.clone())) {
                None => "▶ run".to_string(),
                Some(RunOutcome { outcome: "passed", .. }) => "✓ passed · run again".to_string(),
                Some(RunOutcome { outcome, message, .. }) => {
                    format!("✗ {outcome}: {} · run again", message.clone().unwrap_or_default())
                }
            };
            out.push(lt::CodeLens {
                range,
                command: Some(lt::Command { title, command: super::RUN_COMMAND.into(), arguments: args.clone() }),
                data: None,
            });
            if test.snapshot && new_snap.exists() {
                out.push(lt::CodeLens {
                    range,
                    command: Some(lt::Command {
                        title: "accept".into(),
                        command: super::ACCEPT_COMMAND.into(),
                        arguments: args,
                    }),
                    data: None,
                });
            }
        }
        Some(out)
    }

    pub(super) fn execute(&mut self, p: lt::ExecuteCommandParams) -> super::Answer {
        let bad = |m: &str| Failure(ErrorCode::InvalidParams, m.to_string());
        let uri: lt::Url = p
            .arguments
            .first()
            .cloned()
            .and_then(|v| serde_json::from_value(v).ok())
            .ok_or_else(|| bad("the first argument is the file's URI"))?;
        let name: String = p
            .arguments
            .get(1)
            .cloned()
            .and_then(|v| serde_json::from_value(v).ok())
            .ok_or_else(|| bad("the second argument is the block's name"))?;
        let path = path_of(&uri).ok_or_else(|| bad("not a file URI"))?;
        let doc = self.workspace.index_of(&path).ok_or_else(|| bad("the file is not in the workspace"))?;
        self.workspace.analysis();
        if !self.workspace.current(doc) {
            return Err(Failure(
                ErrorCode::RequestFailed,
                "the file has a syntax error: fix it to run its blocks".into(),
            ));
        }
        let analysis = self.workspace.analysis.as_ref().ok_or_else(|| bad("not checked"))?;
        if analysis.checked.has_errors() {
            return Err(Failure(
                ErrorCode::RequestFailed,
                "the rules do not check: fix the errors to run the blocks".into(),
            ));
        }
        let program = &analysis.checked.program;
        let test = program
            .tests
            .iter()
            .find(|t| t.span.file.0 as usize == doc && t.name == name)
            .ok_or_else(|| bad(&format!("no block named `{name}` in the file")))?;
        let budget = crate::eval::DEFAULT_STEP_BUDGET;
        let backend = crate::eval::test::Backend::Memory;
        let (outcome, message, failure) = match (p.command.as_str(), test.snapshot) {
            (super::RUN_COMMAND, false) => {
                let r =
                    crate::syntax::on_big_stack(|| crate::eval::test::run_test_with(program, test, backend, budget));
                let failure = r.failure.map(|e| {
                    Diagnostic::error(e.code, format!("test `{name}` failed: {}", e.message), e.span)
                        .with_optional_help(e.help)
                });
                (r.outcome, r.message, failure)
            }
            (super::RUN_COMMAND | super::ACCEPT_COMMAND, true) => {
                let accept = p.command == super::ACCEPT_COMMAND;
                let results = crate::snapshot::check_snapshots_with(program, Some(&name), accept, backend, budget)
                    .map_err(|e| Failure(ErrorCode::RequestFailed, format!("cannot write the snapshot file: {e}")))?;
                let r = results.into_iter().find(|r| r.name == name && r.file == path);
                let (outcome, message) = r.map_or(("failed", None), |r| (r.outcome, r.message));
                let failure = (outcome != "passed").then(|| {
                    let text = message.clone().unwrap_or_default();
                    Diagnostic::warning(crate::codes::Code::R005, format!("snapshot `{name}`: {text}"), test.name_span)
                });
                (outcome, message, failure)
            }
            (command, _) => return Err(Failure(ErrorCode::InvalidParams, format!("no command `{command}`"))),
        };
        let failure_range = failure.as_ref().map(|f| convert::span_range(&self.workspace.docs, f.span));
        self.runs.insert(
            (path.clone(), name.clone()),
            RunOutcome { outcome, message: message.clone(), failure, text: self.workspace.docs[doc].text.clone() },
        );
        let result = json!({ "name": name, "outcome": outcome, "message": message, "range": failure_range });
        Ok((result, self.publish_all()))
    }
}

/// The fix a diagnostic's help line gives: a title and the replacement of a byte range.
fn quick_fix(d: &Diagnostic, text: &str, program: &crate::model::Program) -> Option<(String, usize, usize, String)> {
    let help = d.help.as_deref()?;
    let (start, end) = (d.span.start as usize, (d.span.end as usize).min(text.len()));
    let quoted = |from: &str| -> Option<String> {
        let rest = &help[help.find(from)? + from.len()..];
        let close = rest.find('`')?;
        Some(rest[..close].to_string())
    };
    // `did you mean `X`?`: the name replaced.
    if let Some(name) = quoted("did you mean `") {
        let written = text.get(start..end)?;
        // The span may cover more than the name (a path): replace the last word that is close.
        let word = navigate::words(written).into_iter().rev().find(|w| {
            strsim::damerau_levenshtein(&w.text, &name) <= 3
                || strsim::damerau_levenshtein(&w.text, name.rsplit('.').next().unwrap_or(&name)) <= 3
        });
        let (s, e) = word.map_or((start, end), |w| (start + w.start, start + w.end));
        return Some((format!("replace with `{name}`"), s, e, name));
    }
    // `write `X = true()``.
    if let Some(fixed) = quoted("write `").filter(|f| f.ends_with("true()") || f.ends_with("false()")) {
        return Some((format!("write `{fixed}`"), start, end, fixed));
    }
    // `->>` for a reference set.
    if help.contains("`->*`") && text.get(start.saturating_sub(2)..start + 1) == Some("->>") {
        return Some(("write `->*`".to_string(), start - 2, start + 1, "->*".to_string()));
    }
    // The audit's `add `where [...]``: a line before the rule's closing brace.
    if let Some(constraint) = quoted("add `where [").filter(|c| c.ends_with(']')) {
        if help.contains("stores owner") {
            return None;
        }
        let rule = program
            .access_rules
            .iter()
            .find(|r| r.span.file == d.span.file && r.span.start <= d.span.start && d.span.start < r.span.end)?;
        let close = rule.span.end as usize - 1;
        if text.as_bytes().get(close) != Some(&b'}') {
            return None;
        }
        let line_start = text[..rule.span.start as usize].rfind('\n').map_or(0, |n| n + 1);
        let indent: String = text[line_start..].chars().take_while(|c| *c == ' ').collect();
        let before_close = text[..close].trim_end_matches(' ');
        let insert_at = before_close.len();
        let new_text = format!("{indent}  where [{constraint}\n{indent}");
        let new_text = if before_close.ends_with('\n') { new_text } else { format!("\n{new_text}") };
        return Some((format!("add `where [{constraint}`"), insert_at, close, new_text));
    }
    None
}

/// The `.snap.new` file beside a rules file.
fn snap_new(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".snap.new");
    PathBuf::from(p)
}

/// The end of the `{ ... }` that opens after `from` in code (strings blanked).
fn matching_brace(code: &str, from: usize) -> Option<usize> {
    let open = from + code[from..].find('{')?;
    let mut depth = 0usize;
    for (i, c) in code[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(open + i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// Hover contents as Markdown.
fn markdown(value: String, range: Option<lt::Range>) -> lt::Hover {
    lt::Hover {
        contents: lt::HoverContents::Markup(lt::MarkupContent { kind: lt::MarkupKind::Markdown, value }),
        range,
    }
}

/// The edits that turn a doc's text into `new`, line by line (only the changed lines; with
/// `within`, only the changes that touch those lines).
fn line_edits(
    doc: &super::workspace::Doc,
    new: &str,
    within: Option<std::ops::RangeInclusive<usize>>,
) -> Vec<lt::TextEdit> {
    let old = &doc.text;
    let diff = similar::TextDiff::from_lines(old.as_str(), new);
    let new_lines: Vec<&str> = new.split_inclusive('\n').collect();
    let mut edits = Vec::new();
    for op in diff.ops() {
        let (tag, old_range, new_range) = op.as_tag_tuple();
        if tag == similar::DiffTag::Equal {
            continue;
        }
        if let Some(lines) = &within {
            let (a, b) = (old_range.start, old_range.end.max(old_range.start + 1) - 1);
            if b < *lines.start() || a > *lines.end() {
                continue;
            }
        }
        let start = doc.lines.get(old_range.start).copied().unwrap_or(old.len());
        let end = doc.lines.get(old_range.end).copied().unwrap_or(old.len());
        let new_text: String = new_lines[new_range].concat();
        edits.push(lt::TextEdit { range: convert::range(doc, start, end), new_text });
    }
    edits
}
