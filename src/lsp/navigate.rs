//! What a name in the source is: its declaration, its uses across the workspace, what hovering
//! it shows, and the outline of a file.
//!
//! Declarations come from the checked program (their spans); uses are found by reading each
//! file's code (strings and comments skipped) word by word and resolving every word as the
//! checker does: a qualified name by its name, a local name in its module, a member in the
//! entity its place reaches (the rule's, `create E {`'s, the path's before `/`), a variable in
//! its test or microflow.

use std::collections::BTreeSet;

use crate::model::{EntityId, MemberKind, Program, Type};
use crate::source::{FileId, Span};
use crate::syntax::scan::{self, PieceKind};

/// What kind of thing a declaration declares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    Module,
    Entity,
    Attribute,
    Association,
    Enumeration,
    EnumValue,
    ModuleRole,
    UserRole,
    Microflow,
    Resource,
    Component,
    Variable,
}

impl Kind {
    pub(crate) fn word(self) -> &'static str {
        match self {
            Kind::Module => "module",
            Kind::Entity => "entity",
            Kind::Attribute => "attribute",
            Kind::Association => "association",
            Kind::Enumeration => "enumeration",
            Kind::EnumValue => "enumeration value",
            Kind::ModuleRole => "module role",
            Kind::UserRole => "user role",
            Kind::Microflow => "microflow",
            Kind::Resource => "resource",
            Kind::Component => "component",
            Kind::Variable => "variable",
        }
    }
}

/// One declaration.
#[derive(Clone, Debug)]
pub(crate) struct Def {
    pub(crate) kind: Kind,
    /// Its qualified name (`Shop.Cart`, `Shop.Cart.Total` for an attribute, `$c` for a variable).
    pub(crate) name: String,
    /// The name as it is written where it is declared (`Cart`, `Total`, `$c`).
    pub(crate) local: String,
    /// Where the name is written in its declaration.
    pub(crate) at: Span,
    /// The whole declaration.
    pub(crate) decl: Span,
    /// The entity of an attribute; the entity a variable holds.
    pub(crate) entity: Option<EntityId>,
    /// The module it belongs to, if any.
    pub(crate) module: Option<String>,
}

/// A word of code: where it is, and the module it is written in.
#[derive(Clone, Debug)]
pub(crate) struct Word {
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) text: String,
}

/// Every word of a text's code (names, `$variables`, dotted names), in order.
pub(crate) fn words(text: &str) -> Vec<Word> {
    let mut out = Vec::new();
    for piece in scan::pieces(text) {
        if piece.kind != PieceKind::Code {
            continue;
        }
        let code = &text[piece.start..piece.end];
        let bytes = code.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let c = bytes[i];
            if c.is_ascii_alphabetic() || c == b'_' || c == b'$' {
                let start = i;
                i += 1;
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric()
                        || bytes[i] == b'_'
                        || (bytes[i] == b'.'
                            && bytes.get(i + 1).is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')))
                {
                    i += 1;
                }
                out.push(Word { start: piece.start + start, end: piece.start + i, text: code[start..i].to_string() });
            } else if c.is_ascii_digit() {
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'.') {
                    i += 1;
                }
            } else {
                i += 1;
            }
        }
    }
    out
}

/// The word at a byte offset (touching it from either side).
pub(crate) fn word_at(text: &str, offset: usize) -> Option<Word> {
    words(text).into_iter().find(|w| w.start <= offset && offset <= w.end)
}

/// The token (`[%CurrentUser%]`) in a string at a byte offset, if there is one.
pub(crate) fn token_at(text: &str, offset: usize) -> Option<(usize, usize, String)> {
    let piece = scan::pieces(text).find(|p| p.start <= offset && offset < p.end)?;
    if !matches!(piece.kind, PieceKind::String { .. }) {
        return None;
    }
    let inner = &text[piece.start..piece.end];
    let open = inner.find("[%")?;
    let close = inner[open..].find("%]")? + open;
    Some((piece.start, piece.end, inner[open + 2..close].to_string()))
}

/// A text read once for resolving many words in it: its code with strings and comments
/// blanked, and where each `module NAME { ... }` lies.
pub(crate) struct Source<'a> {
    pub(crate) text: &'a str,
    code: String,
    modules: Vec<(usize, usize, String)>,
}

impl<'a> Source<'a> {
    pub(crate) fn new(text: &'a str) -> Source<'a> {
        let code = code_only(text);
        let mut modules = Vec::new();
        let mut depth = 0usize;
        let mut open: Option<(usize, String)> = None;
        let ws = words(&code);
        let mut next_word = 0;
        for (i, c) in code.char_indices() {
            match c {
                '{' => {
                    if depth == 0 {
                        // `module NAME {`: the two words before the brace.
                        while next_word < ws.len() && ws[next_word].end <= i {
                            next_word += 1;
                        }
                        if next_word >= 2 {
                            let (kw, name) = (&ws[next_word - 2], &ws[next_word - 1]);
                            if kw.text == "module" && code[name.end..i].trim().is_empty() {
                                open = Some((kw.start, name.text.clone()));
                            }
                        }
                    }
                    depth += 1;
                }
                '}' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        if let Some((start, name)) = open.take() {
                            modules.push((start, i + 1, name));
                        }
                    }
                }
                _ => {}
            }
        }
        if let Some((start, name)) = open {
            modules.push((start, code.len(), name));
        }
        Source { text, code, modules }
    }

    /// The module a byte offset is inside.
    pub(crate) fn module_at(&self, offset: usize) -> Option<String> {
        self.modules.iter().find(|(s, e, _)| *s <= offset && offset < *e).map(|(_, _, m)| m.clone())
    }
}

/// The module a byte offset is inside (`module NAME { ... }`), read from the code.
pub(crate) fn module_at(text: &str, offset: usize) -> Option<String> {
    Source::new(&text[..text.floor_char_boundary(offset.min(text.len()))]).module_at(offset.saturating_sub(1))
}

/// Every declaration of a checked program (System's built-ins left out), with its name's span.
pub(crate) fn definitions(program: &Program) -> Vec<Def> {
    let sources = &program.sources;
    let files = sources.files().count() as u32;
    let in_files = |s: Span| s.file.0 < files && s.end > s.start;
    // The span of `name` as a whole word inside `within`, after `skip` bytes.
    let find = |within: Span, name: &str| -> Span {
        let text = sources.slice(within);
        let mut from = 0;
        while let Some(i) = text[from..].find(name) {
            let at = from + i;
            let before = text[..at].chars().next_back();
            let after = text[at + name.len()..].chars().next();
            let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.');
            if !word(before) && !word(after) {
                let start = within.start as usize + at;
                return Span::new(within.file, start, start + name.len());
            }
            from = at + name.len();
        }
        within
    };
    let local = |name: &str| name.rsplit('.').next().unwrap_or(name).to_string();
    let mut defs = Vec::new();
    let mut push = |kind, name: String, decl: Span, at: Span, entity, module: Option<String>| {
        if in_files(decl) {
            defs.push(Def { kind, local: local(&name), name, at, decl, entity, module });
        }
    };
    for (name, span) in &program.modules {
        if name != "System" {
            push(Kind::Module, name.to_string(), *span, find(*span, name), None, None);
        }
    }
    for (i, e) in program.entities.iter().enumerate() {
        if e.module == "System" {
            continue;
        }
        push(Kind::Entity, e.name.to_string(), e.span, find(e.span, &local(&e.name)), None, Some(e.module.to_string()));
        for m in &e.members {
            if m.system || m.declared_in.index() != i || matches!(m.kind, MemberKind::Association(_)) {
                continue;
            }
            push(
                Kind::Attribute,
                format!("{}.{}", e.name, m.name),
                m.span,
                find(m.span, &m.name),
                Some(EntityId(i as u32)),
                Some(e.module.to_string()),
            );
        }
    }
    for a in &program.associations {
        let module = a.name.split('.').next().unwrap_or("").to_string();
        if module != "System" {
            push(Kind::Association, a.name.to_string(), a.span, find(a.span, &local(&a.name)), None, Some(module));
        }
    }
    for e in &program.enums {
        let module = e.name.split('.').next().unwrap_or("").to_string();
        push(Kind::Enumeration, e.name.to_string(), e.span, find(e.span, &local(&e.name)), None, Some(module.clone()));
        // The values are after the `{`.
        let text = sources.slice(e.span);
        let body =
            text.find('{').map_or(e.span, |b| Span::new(e.span.file, e.span.start as usize + b, e.span.end as usize));
        for v in &e.values {
            let at = find(body, v);
            push(Kind::EnumValue, format!("{}.{v}", e.name), at, at, None, Some(module.clone()));
        }
    }
    for r in &program.module_roles {
        let module = r.name.split('.').next().unwrap_or("").to_string();
        push(Kind::ModuleRole, r.name.to_string(), r.span, find(r.span, &local(&r.name)), None, Some(module));
    }
    for r in &program.user_roles {
        push(Kind::UserRole, r.name.to_string(), r.span, find(r.span, &r.name), None, None);
    }
    for m in &program.microflows {
        push(Kind::Microflow, m.name.to_string(), m.span, m.name_span, None, Some(m.module.to_string()));
    }
    for r in &program.resources {
        push(Kind::Resource, r.name.to_string(), r.span, find(r.span, &r.name), None, None);
        for c in &r.components {
            let at = find(r.span, &c.name);
            push(Kind::Component, format!("{}.{}", r.name, c.name), at, at, None, None);
        }
    }
    defs
}

/// The test or microflow body a byte offset of a file is in: its span and its variables.
pub(crate) fn body_at(program: &Program, file: FileId, offset: usize) -> Option<(Span, &crate::model::flow::Scope)> {
    let inside = |s: &Span| s.file == file && s.start as usize <= offset && offset <= s.end as usize;
    program
        .tests
        .iter()
        .find(|t| inside(&t.span))
        .map(|t| (t.span, &t.scope))
        .or_else(|| program.microflows.iter().find(|m| inside(&m.span)).map(|m| (m.span, &m.scope)))
}

/// The variables the text before a place binds to objects, read from the text itself: the
/// parameters of the microflow it is in (`Name: Module.Entity`), `let $v = create E`,
/// `let $v = retrieve first E` and `for $v in retrieve E`. The innermost binding of a name wins.
pub(crate) fn typed_in_text(program: &Program, before: &str) -> Vec<(String, Type)> {
    let code = code_only(before);
    // Only the current top-level declaration: from the last line that starts at column 0.
    let start = code
        .match_indices('\n')
        .map(|(i, _)| i + 1)
        .rfind(|&i| code[i..].starts_with(|c: char| c.is_ascii_alphabetic()) && !code[i..].starts_with("}"));
    let code = &code[start.unwrap_or(0)..];
    let module = module_at(before, before.len());
    let entity = |name: &str| {
        program
            .entity_by_name(name)
            .or_else(|| module.as_ref().and_then(|m| program.entity_by_name(&format!("{m}.{name}"))))
    };
    let mut out: Vec<(String, Type)> = Vec::new();
    let mut bind = |name: &str, e: Option<EntityId>| {
        if let Some(e) = e {
            out.retain(|(n, _)| n != name);
            out.push((name.to_string(), Type::Object(e)));
        }
    };
    let ws = words(code);
    for (i, w) in ws.iter().enumerate() {
        let next = |k: usize| ws.get(i + k).map(|w| w.text.as_str()).unwrap_or("");
        let between = |k: usize| ws.get(i + k).map_or("", |n| code[w.end..n.start].trim());
        if w.text == "microflow" {
            // The parameters: `Name: Type` pairs up to the `)`.
            let Some(open) = code[w.end..].find('(').map(|o| w.end + o) else { continue };
            let close = code[open..].find(')').map_or(code.len(), |c| open + c);
            for param in code[open + 1..close].split(',') {
                if let Some((name, ty)) = param.split_once(':') {
                    bind(name.trim(), entity(ty.trim()));
                }
            }
        } else if let Some(var) = w.text.strip_prefix('$') {
            if between(1) == "=" && next(1) == "create" {
                bind(var, entity(next(2)));
            } else if (between(1) == "=" && next(1) == "retrieve" && next(2) == "first")
                || (i > 0 && ws[i - 1].text == "for" && next(1) == "in" && next(2) == "retrieve")
            {
                bind(var, entity(next(3)));
            }
        }
    }
    out
}

/// The declaration of a variable used at `offset`: its first appearance in its body.
fn variable(program: &Program, file: FileId, text: &str, word: &Word) -> Option<Def> {
    let (body, scope) = body_at(program, file, word.start)?;
    let name = word.text.trim_start_matches('$');
    let entity = scope.slot(name).and_then(|s| match scope.types[s] {
        Type::Object(e) | Type::List(e) => Some(e),
        _ => None,
    });
    let body_text = text.get(body.start as usize..body.end as usize)?;
    // A microflow's parameter (`name: Type`) comes first, else the first `$name`.
    let first = words(body_text)
        .into_iter()
        .find(|w| w.text == word.text || (w.text == name && body_text[w.end..].trim_start().starts_with(':')))?;
    let at = Span::new(file, body.start as usize + first.start, body.start as usize + first.end);
    Some(Def {
        kind: Kind::Variable,
        name: word.text.clone(),
        local: word.text.clone(),
        at,
        decl: body,
        entity,
        module: None,
    })
}

/// The entity whose members a word at `start` names: after `/`, the entity the path before it
/// reaches; else the innermost `access E for`, `entity E`, `create E {`, `change $v {` or
/// `retrieve E [` around it.
pub(crate) fn member_context(program: &Program, file: FileId, src: &Source, start: usize) -> Vec<EntityId> {
    let text = src.text;
    let before = text[..start].trim_end_matches(' ');
    if let Some(path) = before.strip_suffix('/') {
        let prev = path.rsplit(|c: char| !(c.is_alphanumeric() || "_.$".contains(c))).next().unwrap_or("");
        let prev_start = path.len() - prev.len();
        if prev.starts_with('$') {
            let w = Word { start: prev_start, end: path.len(), text: prev.to_string() };
            return variable(program, file, text, &w).and_then(|d| d.entity).into_iter().collect();
        }
        if let Some(e) = program.entity_by_name(prev) {
            return vec![e];
        }
        if let Some(ids) = program.assoc_index.get(prev) {
            return ids.iter().flat_map(|a| [program.assoc(*a).to, program.assoc(*a).from]).collect();
        }
        // A member path step: the entities that the member's association reaches.
        let outer = member_context(program, file, src, prev_start);
        return outer
            .iter()
            .filter_map(|e| {
                let def = program.entity(*e);
                let m = def.member(prev)?;
                match def.members[m].kind {
                    MemberKind::Association(a) => Some(program.assoc(a).to),
                    MemberKind::Attribute(_) => None,
                }
            })
            .collect();
    }
    let module = src.module_at(start);
    let entity = |name: &str| {
        program
            .entity_by_name(name)
            .or_else(|| module.as_ref().and_then(|m| program.entity_by_name(&format!("{m}.{name}"))))
    };
    // Walk out through the open brackets around `start`.
    let mut depth = 0i32;
    let code = &src.code[..start];
    for (i, c) in code.char_indices().rev() {
        match c {
            '}' | ']' | ')' => depth += 1,
            '{' | '[' | '(' if depth > 0 => depth -= 1,
            '{' | '[' => {
                let line_start = code[..i].rfind('\n').map_or(0, |n| n + 1);
                let head: Vec<&str> = code[line_start..i].split_whitespace().collect();
                let find_after = |kw: &str| head.iter().position(|w| *w == kw).and_then(|p| head.get(p + 1)).copied();
                if let Some(name) =
                    find_after("access").or_else(|| find_after("entity")).or_else(|| find_after("create"))
                {
                    return entity(name).into_iter().collect();
                }
                if let Some(name) = find_after("first").or_else(|| find_after("retrieve")) {
                    return entity(name).into_iter().collect();
                }
                if let Some(var) = find_after("change") {
                    let w = Word { start: 0, end: 0, text: var.to_string() };
                    let w = Word { start: start.min(text.len()), ..w };
                    return variable(program, file, text, &w).and_then(|d| d.entity).into_iter().collect();
                }
                if c == '[' && head.last().is_some_and(|w| entity(w).is_some()) {
                    return head.last().and_then(|w| entity(w)).into_iter().collect();
                }
            }
            _ => {}
        }
    }
    Vec::new()
}

/// The text with its strings and comments blanked (same length, same offsets).
pub(crate) fn code_only(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for piece in scan::pieces(text) {
        let part = &text[piece.start..piece.end];
        if piece.kind == PieceKind::Code {
            out.push_str(part);
        } else {
            for c in part.chars() {
                if c == '\n' {
                    out.push('\n');
                } else {
                    out.extend(std::iter::repeat_n(' ', c.len_utf8()));
                }
            }
        }
    }
    out
}

/// The declarations a word at `word.start` of `file` names (usually one; a member of an
/// unknown entity may name several).
pub(crate) fn resolve(program: &Program, defs: &[Def], file: FileId, src: &Source, word: &Word) -> Vec<Def> {
    if word.text.starts_with('$') {
        return variable(program, file, src.text, word).into_iter().collect();
    }
    let name = word.text.as_str();
    let module = src.module_at(word.start);
    let qualified = module.as_ref().map(|m| format!("{m}.{name}"));
    let not_member = |d: &&Def| d.kind != Kind::Attribute;
    let by_name: Vec<Def> = defs.iter().filter(not_member).filter(|d| d.name == name).cloned().collect();
    if !by_name.is_empty() {
        return by_name;
    }
    if let Some(q) = &qualified {
        let found: Vec<Def> = defs.iter().filter(not_member).filter(|d| &d.name == q).cloned().collect();
        if !found.is_empty() {
            return found;
        }
    }
    // A member: of the entity its place reaches, or of any entity.
    let context = member_context(program, file, src, word.start);
    let members: Vec<Def> = defs
        .iter()
        .filter(|d| d.kind == Kind::Attribute && d.local == name)
        .filter(|d| context.is_empty() || d.entity.is_some_and(|e| context.iter().any(|c| program.is_a(*c, e))))
        .cloned()
        .collect();
    if !members.is_empty() {
        return members;
    }
    // An association named by its local name as a member (`Message_User`).
    defs.iter()
        .filter(|d| d.kind == Kind::Association && d.local == name)
        .filter(|d| module.is_none() || d.module == module)
        .cloned()
        .collect()
}

/// Whether two declarations are the same.
pub(crate) fn same(a: &Def, b: &Def) -> bool {
    a.kind == b.kind && a.name == b.name && a.at.same_as(&b.at)
}

/// Every place a declaration is named in the workspace's texts (by file), its declaration
/// included, in order.
pub(crate) fn references(program: &Program, defs: &[Def], texts: &[&str], target: &Def) -> Vec<Span> {
    let mut out = BTreeSet::new();
    out.insert((target.at.file, target.at.start, target.at.end));
    for (i, text) in texts.iter().enumerate() {
        let file = FileId(i as u32);
        if target.kind == Kind::Variable && target.at.file != file {
            continue;
        }
        let mut src: Option<Source> = None;
        for w in words(text) {
            let local = target.local.as_str();
            let plausible = w.text == target.name || w.text == local || w.text.ends_with(&format!(".{local}"));
            if !plausible {
                continue;
            }
            if target.kind == Kind::Variable
                && !(target.decl.start as usize <= w.start && w.end <= target.decl.end as usize)
            {
                continue;
            }
            let src = src.get_or_insert_with(|| Source::new(text));
            if resolve(program, defs, file, src, &w).iter().any(|d| same(d, target)) {
                out.insert((file, w.start as u32, w.end as u32));
            }
        }
    }
    out.into_iter().map(|(f, s, e)| Span { file: f, start: s, end: e }).collect()
}

/// What hovering a declaration shows, as Markdown.
pub(crate) fn hover_text(program: &Program, def: &Def) -> String {
    let sources = &program.sources;
    let mut out = format!("**{} `{}`**\n\n", def.kind.word(), def.name);
    // The whole matrix only for a user role; an entity or a member needs its own rows.
    let matrix = || crate::matrix::build(program);
    match def.kind {
        Kind::Entity => {
            let Some(id) = program.entity_by_name(&def.name) else { return out };
            let e = program.entity(id);
            out.push_str("```rules\n");
            for m in &e.members {
                out.push_str(&member_line(program, m));
                out.push('\n');
            }
            out.push_str(
                "```\n\n| user role | create | see | delete | read | write |\n| --- | --- | --- | --- | --- | --- |\n",
            );
            let rows = crate::matrix::entity_rows(program, id);
            for (role, anonymous, r) in &rows {
                let cond = |list: &[Option<String>]| {
                    if list.is_empty() {
                        "no".to_string()
                    } else if list.contains(&None) {
                        "all".to_string()
                    } else {
                        list.iter().flatten().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(" or ")
                    }
                };
                let grants = |right: &str| {
                    let names: Vec<&str> = r
                        .members
                        .iter()
                        .filter(|m| m.grants.iter().any(|(g, _)| g == right || (right == "read" && g == "write")))
                        .map(|m| m.member.as_str())
                        .collect();
                    if names.is_empty() {
                        "—".to_string()
                    } else {
                        names.join(", ")
                    }
                };
                out.push_str(&format!(
                    "| {}{} | {} | {} | {} | {} | {} |\n",
                    role,
                    if *anonymous { " (anonymous)" } else { "" },
                    if r.create { "yes" } else { "no" },
                    cond(&r.visible),
                    cond(&r.delete),
                    grants("read"),
                    grants("write"),
                ));
            }
            if rows.is_empty() {
                out.push_str("| (none) | no | no | no | — | — |\n");
            }
        }
        Kind::Attribute => {
            let Some(entity) = def.entity else { return out };
            let e = program.entity(entity);
            let Some(m) = e.member(&def.local) else { return out };
            let rows = crate::matrix::entity_rows(program, entity);
            out.push_str(&format!("```rules\n{}\n```\n\nof `{}`\n\n", member_line(program, &e.members[m]), e.name));
            for (right, word) in [("read", "may read"), ("write", "may write")] {
                let roles: Vec<String> = rows
                    .iter()
                    .filter_map(|(role, _, r)| {
                        let m = r.members.iter().find(|m| m.member == def.local)?;
                        let grants: Vec<String> = m
                            .grants
                            .iter()
                            .filter(|(g, _)| g == right || (right == "read" && g == "write"))
                            .map(|(_, c)| c.as_ref().map_or(String::new(), |c| format!(" where `{c}`")))
                            .collect();
                        (!grants.is_empty()).then(|| format!("{role}{}", grants.join(" or")))
                    })
                    .collect();
                let who = if roles.is_empty() { "nobody".to_string() } else { roles.join("; ") };
                out.push_str(&format!("- {word}: {who}\n"));
            }
        }
        Kind::UserRole => {
            if let Some(role) = matrix().roles.iter().find(|r| r.role == def.name) {
                let anonymous = if role.anonymous { " (the app's anonymous role)" } else { "" };
                out.push_str(&format!("module roles: {}{anonymous}\n\n", role.module_roles.join(", ")));
                for e in &role.entities {
                    out.push_str(&format!("- `{}`{}\n", e.entity, if e.create { ": create" } else { "" }));
                }
            }
            out.push_str(&rules_of(program, &def.name, true));
        }
        Kind::ModuleRole => {
            let holders: Vec<&str> = program
                .user_roles
                .iter()
                .filter(|r| r.module_roles.iter().any(|m| program.module_role(*m).name == def.name))
                .map(|r| r.name.as_str())
                .collect();
            out.push_str(&format!(
                "held by the user roles: {}\n\n",
                if holders.is_empty() { "none".into() } else { holders.join(", ") }
            ));
            out.push_str(&rules_of(program, &def.name, false));
        }
        Kind::Microflow => {
            let Some(id) = program.microflow_by_name(&def.name) else { return out };
            let m = program.microflow(id);
            let header = sources.slice(m.header).trim();
            out.push_str(&format!("```rules\n{header}\n```\n\n"));
            let allow: Vec<String> = m.allow.iter().map(|r| program.module_role(*r).name.to_string()).collect();
            out.push_str(&format!(
                "may be called by: {}",
                if allow.is_empty() { "nobody from outside (no `allow`)".to_string() } else { allow.join(", ") }
            ));
            out.push_str(if m.apply_access { "; applies the caller's access rules\n" } else { "\n" });
        }
        Kind::Variable => {
            let ty = def.entity.map(|e| format!("object of `{}`", program.entity(e).name));
            out.push_str(&format!("holds {}\n", ty.unwrap_or_else(|| "a value".into())));
        }
        Kind::Association | Kind::Enumeration | Kind::Resource | Kind::Module | Kind::EnumValue | Kind::Component => {
            let decl = sources.slice(def.decl);
            let first: String = decl.lines().take(8).collect::<Vec<_>>().join("\n");
            out.push_str(&format!("```rules\n{}\n```\n", first.trim_end()));
        }
    }
    out
}

/// One member as a line: `Total: Decimal` or `Shop.Line_Cart -> Shop.Cart`.
fn member_line(program: &Program, m: &crate::model::MemberDef) -> String {
    match m.kind {
        MemberKind::Association(a) => format!("{} -> {}", m.name, program.entity(program.assoc(a).to).name),
        MemberKind::Attribute(ty) => {
            let system = if m.system { " (system)" } else { "" };
            let default = m.default.as_ref().map(|v| format!(" = {}", v.display(program))).unwrap_or_default();
            format!("{}: {}{default}{system}", m.name, attr_type(program, ty))
        }
    }
}

/// An attribute type as written.
fn attr_type(program: &Program, ty: crate::model::AttrType) -> String {
    use crate::model::AttrType;
    match ty {
        AttrType::String(None) => "String".into(),
        AttrType::String(Some(n)) => format!("String({n})"),
        AttrType::Integer => "Integer".into(),
        AttrType::Long => "Long".into(),
        AttrType::Decimal => "Decimal".into(),
        AttrType::Boolean => "Boolean".into(),
        AttrType::DateTime => "DateTime".into(),
        AttrType::AutoNumber => "AutoNumber".into(),
        AttrType::HashedString => "HashedString".into(),
        AttrType::Enum(e) => program.enumeration(e).name.to_string(),
    }
}

/// The access rules of a role (a user role through its module roles), one line each.
fn rules_of(program: &Program, role: &str, user: bool) -> String {
    let roles: Vec<crate::model::ModuleRoleId> = if user {
        program.user_role_by_name(role).map(|r| program.module_roles_of(r).to_vec()).unwrap_or_default()
    } else {
        program.module_role_by_name(role).into_iter().collect()
    };
    let mut out = String::new();
    for rule in &program.access_rules {
        if rule.roles.iter().any(|r| roles.contains(r)) {
            let first =
                program.sources.slice(rule.span).lines().next().unwrap_or("").trim().trim_end_matches('{').trim();
            out.push_str(&format!("- `{first}`\n"));
        }
    }
    if !out.is_empty() {
        out.insert_str(0, "\naccess rules:\n");
    }
    out
}

/// What hovering a token (`[%CurrentUser%]`) shows: its meaning and its value now.
pub(crate) fn token_text(name: &str, now: i64) -> Option<String> {
    let meaning = match name {
        "CurrentUser" => {
            "the user the session acts as (`System.User`; an anonymous visitor's own user object)".to_string()
        }
        "CurrentObject" => "the object the constraint is checked on".to_string(),
        _ => {
            let token = crate::model::xpath::date_token(name)?;
            let term = crate::model::xpath::DateTerm { factor: 1, token };
            let value = crate::time::date_terms(now, &[term]);
            let what =
                if name.ends_with("Length") { "a calendar length" } else { "an instant, computed when the rule runs" };
            return Some(format!(
                "**token `[%{name}%]`**\n\n{what}; now: `{}`",
                if name.ends_with("Length") {
                    name.trim_end_matches("Length").to_lowercase()
                } else {
                    crate::time::format_instant(value)
                }
            ));
        }
    };
    Some(format!("**token `[%{name}%]`**\n\n{meaning}"))
}

/// The outcome of running a test or snapshot block from its code lens.
#[derive(Clone, Debug)]
pub(crate) struct RunOutcome {
    /// `passed`, `failed` or `new`.
    pub(crate) outcome: &'static str,
    /// Why it failed.
    pub(crate) message: Option<String>,
    /// The failure, at its span, shown until the file changes.
    pub(crate) failure: Option<crate::diagnostic::Diagnostic>,
    /// The file's text when it ran (its spans hold while the text is this).
    pub(crate) text: String,
}
