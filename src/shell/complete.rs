//! Completion by context, for the shell's line editor and the language server alike (one
//! function, [`CompletionIndex::complete`] for a line typed at the REPL and
//! [`CompletionIndex::complete_in_file`] for a place in a `.rules` file): after `$v/` the
//! members of `$v`'s entity, after `retrieve` and `create` entities, after `call` microflows,
//! inside `create E { ... }` and `change $v { ... }` the members of that entity, after `:as`
//! principals, inside `'[%` the tokens, after `for` the roles, inside `roles { }` user roles
//! and operations; in a file, the keywords that fit where the word stands; anywhere else every
//! name.

use std::collections::BTreeMap;

use crate::model::{MemberKind, Program, Type};

/// What completion needs, taken from a shell between two inputs (the line
/// editor asks for completions while the shell is not running).
#[derive(Clone, Debug, Default)]
pub struct CompletionIndex {
    /// The `:commands`.
    commands: Vec<String>,
    /// Entities by qualified name: their members, and for associations the entity each one reaches.
    entities: BTreeMap<String, Vec<(String, Option<String>)>>,
    /// Local names of entities (`Cart` for `Shop.Cart`).
    local_entities: Vec<String>,
    /// Qualified microflow names.
    microflows: Vec<String>,
    /// Enumeration values (`Shop.Status.Open`).
    enum_values: Vec<String>,
    /// Association names.
    associations: Vec<String>,
    /// Resource and user role names.
    others: Vec<String>,
    /// Module role names, qualified and local.
    module_roles: Vec<String>,
    /// User role names.
    user_roles: Vec<String>,
    /// Enumeration names.
    enums: Vec<String>,
    /// Variables (with `$`), with the entity of the object each holds.
    vars: Vec<(String, Option<String>)>,
    /// Principals `:as` takes.
    principals: Vec<String>,
    /// User names (`:signin`, `sign in`).
    users: Vec<String>,
}

/// Statement keywords offered where any word fits.
const KEYWORDS: &[&str] =
    &["retrieve", "create", "change", "commit", "delete", "rollback", "expect", "explain", "count", "call", "let"];

impl CompletionIndex {
    /// The index of a program, its variables (with their types) and its principals.
    pub fn new(
        program: &Program,
        commands: &[&str],
        vars: &[(String, Type)],
        principals: Vec<String>,
        users: Vec<String>,
    ) -> CompletionIndex {
        let entity_name = |id: crate::model::EntityId| program.entity(id).name.to_string();
        let entities = program
            .entities
            .iter()
            .map(|e| {
                let members = e
                    .members
                    .iter()
                    .map(|m| {
                        let reaches = match m.kind {
                            MemberKind::Association(a) => Some(entity_name(program.assoc(a).to)),
                            MemberKind::Attribute(_) => None,
                        };
                        (m.name.to_string(), reaches)
                    })
                    .collect();
                (e.name.to_string(), members)
            })
            .collect();
        let mut vars: Vec<(String, Option<String>)> = vars
            .iter()
            .map(|(name, ty)| {
                let entity = match ty {
                    Type::Object(e) => Some(entity_name(*e)),
                    _ => None,
                };
                (format!("${name}"), entity)
            })
            .collect();
        vars.push(("$currentUser".into(), Some("System.User".into())));
        vars.sort();
        CompletionIndex {
            commands: commands.iter().map(|c| c.to_string()).collect(),
            entities,
            local_entities: program.entities.iter().map(|e| e.local_name().to_string()).collect(),
            microflows: program.microflows.iter().map(|m| m.name.to_string()).collect(),
            enum_values: program
                .enums
                .iter()
                .flat_map(|e| e.values.iter().map(move |v| format!("{}.{v}", e.name)))
                .collect(),
            associations: program.associations.iter().map(|a| a.name.to_string()).collect(),
            others: program
                .resources
                .iter()
                .map(|r| r.name.to_string())
                .chain(program.user_roles.iter().map(|r| r.name.to_string()))
                .collect(),
            module_roles: program
                .module_roles
                .iter()
                .flat_map(|r| [r.name.to_string(), r.name.rsplit('.').next().unwrap_or("").to_string()])
                .collect(),
            user_roles: program.user_roles.iter().map(|r| r.name.to_string()).collect(),
            enums: program.enums.iter().map(|e| e.name.to_string()).collect(),
            vars,
            principals,
            users,
        }
    }

    /// Completions of the word before `pos` in `line`: where the word starts, and the candidates.
    pub fn complete(&self, line: &str, pos: usize) -> (usize, Vec<String>) {
        self.complete_where(line, pos, Place::Repl)
    }

    /// Completions of the word before `pos` in the text of a `.rules` file (the text up to
    /// `pos` is what counts): as at the REPL, and the keywords that fit where the word stands
    /// (top level, inside a module, an entity, an access rule, a body).
    pub fn complete_in_file(&self, text: &str, pos: usize) -> (usize, Vec<String>) {
        self.complete_where(text, pos, Place::File)
    }

    fn complete_where(&self, line: &str, pos: usize, place: Place) -> (usize, Vec<String>) {
        let pos = line.floor_char_boundary(pos.min(line.len()));
        let before = &line[..pos];
        let start = before
            .char_indices()
            .rev()
            .find(|(_, c)| !(c.is_alphanumeric() || matches!(c, '_' | '.' | '$' | ':' | '-')))
            .map_or(0, |(i, c)| i + c.len_utf8());
        let word = &before[start..];
        let head = &before[..start];
        let pool = match self.special(head, place) {
            Some(pool) => pool,
            None => self.pool(head, word, place),
        };
        (start, matching(&pool, word))
    }

    /// The places whose candidates are not names: tokens, roles, operations, and in a file the
    /// keywords of a declaration's body.
    fn special(&self, head: &str, place: Place) -> Option<Vec<String>> {
        if head.ends_with("'[%") || head.ends_with("\"[%") {
            return Some(crate::model::xpath::token_names());
        }
        let opener = innermost_open(head);
        if let Some((i, '{')) = opener {
            let before: Vec<&str> = head[..i].split_whitespace().rev().take(4).collect();
            if before.first() == Some(&"roles") {
                let line = head[i..].rsplit(['\n', ',']).next().unwrap_or("");
                let after_colon = head[i..].rsplit('\n').next().unwrap_or("").contains(':');
                let _ = line;
                return Some(if after_colon {
                    crate::model::Operation::ALL.iter().map(|o| o.as_str().to_string()).collect()
                } else {
                    self.user_roles.clone()
                });
            }
        }
        let words: Vec<&str> = head.split(|c: char| c.is_whitespace() || c == ',').filter(|w| !w.is_empty()).collect();
        // `for A, B` up to the `{`: roles.
        let tail: Vec<&str> = words.iter().rev().take_while(|w| !w.contains(['{', '}', '[', ']'])).copied().collect();
        if tail.contains(&"for") && place == Place::File {
            let mut roles = self.module_roles.clone();
            roles.extend(self.user_roles.iter().cloned());
            return Some(roles);
        }
        if words.last() == Some(&"for") {
            let mut roles = self.module_roles.clone();
            roles.extend(self.user_roles.iter().cloned());
            return Some(roles);
        }
        if place != Place::File || head.ends_with('/') {
            return None;
        }
        let last = words.last().copied().unwrap_or("");
        let keywords = |list: &[&str]| Some(list.iter().map(|k| k.to_string()).collect::<Vec<_>>());
        match opener {
            None => keywords(TOP_KEYWORDS),
            Some((i, '{')) => {
                let line_start = head[..i].rfind('\n').map_or(0, |n| n + 1);
                let opener_words: Vec<&str> = head[line_start..i].split_whitespace().collect();
                match opener_words.first().copied() {
                    Some("module") => keywords(MODULE_KEYWORDS),
                    Some("access") => keywords(ACCESS_KEYWORDS),
                    Some("entity" | "non-persistent") => {
                        if last.ends_with(':') {
                            let mut types: Vec<String> = ATTRIBUTE_TYPES.iter().map(|t| t.to_string()).collect();
                            types.extend(self.enums.iter().cloned());
                            Some(types)
                        } else {
                            keywords(&["stores"])
                        }
                    }
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// The candidates that fit where the word stands.
    fn pool(&self, head: &str, word: &str, place: Place) -> Vec<String> {
        let trimmed = head.trim_start();
        // `:command` itself, then its argument.
        if place == Place::Repl && trimmed.is_empty() && word.starts_with(':') {
            return self.commands.clone();
        }
        if let (Place::Repl, Some(rest)) = (place, trimmed.strip_prefix(':')) {
            let (command, arg) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            match command {
                "as" => return self.principals.clone(),
                "signin" => return self.users.clone(),
                "help" => return self.commands.clone(),
                "explain" | "type" => return self.pool(arg, word, place),
                _ => return Vec::new(),
            }
        }
        // `$v/` and `$v/Assoc/`: members of the entity reached.
        if head.ends_with('/') {
            return self.path_members(head).unwrap_or_default();
        }
        let words: Vec<&str> =
            head.split(|c: char| c.is_whitespace() || "([,=".contains(c)).filter(|w| !w.is_empty()).collect();
        let last = words.last().copied().unwrap_or("");
        let before_last = words.len().checked_sub(2).map_or("", |i| words[i]);
        match last {
            "retrieve" | "create" => return self.entities.keys().cloned().collect(),
            "first" if before_last == "retrieve" => return self.entities.keys().cloned().collect(),
            "call" => return self.microflows.clone(),
            "as" => return self.principals.iter().filter(|p| !p.contains(':')).cloned().collect(),
            "in" if before_last == "sign" => return self.users.clone(),
            _ => {}
        }
        // Inside `create E { ... }`, `change $v { ... }` or `retrieve E [ ... ]`: that entity's members.
        if let Some(entity) = self.open_block_entity(head) {
            let mut names: Vec<String> =
                self.entities.get(&entity).map(|m| m.iter().map(|(n, _)| n.clone()).collect()).unwrap_or_default();
            names.extend(self.vars.iter().map(|(v, _)| v.clone()));
            names.extend(self.enum_values.iter().cloned());
            return names;
        }
        let mut all = self.commands.clone();
        all.extend(self.entities.keys().cloned());
        all.extend(self.local_entities.iter().cloned());
        all.extend(self.entities.values().flat_map(|m| m.iter().map(|(n, _)| n.clone())));
        all.extend(self.associations.iter().cloned());
        all.extend(self.microflows.iter().cloned());
        all.extend(self.enum_values.iter().cloned());
        all.extend(self.others.iter().cloned());
        all.extend(self.vars.iter().map(|(v, _)| v.clone()));
        all.extend(self.principals.iter().cloned());
        all.extend(KEYWORDS.iter().map(|k| k.to_string()));
        all.sort();
        all.dedup();
        all
    }

    /// The members after a path that ends in `/`: `$cart/` or `$line/Shop.CartLine_Cart/`.
    fn path_members(&self, head: &str) -> Option<Vec<String>> {
        let path = head[..head.len() - 1].rsplit(|c: char| !(c.is_alphanumeric() || "_.$/".contains(c))).next()?;
        let mut steps = path.split('/');
        let var = steps.next().filter(|v| v.starts_with('$'))?;
        let mut entity = self.vars.iter().find(|(v, _)| v == var)?.1.clone()?;
        for step in steps {
            let members = self.entities.get(&entity)?;
            entity = members.iter().find(|(n, _)| n == step)?.1.clone()?;
        }
        Some(self.entities.get(&entity)?.iter().map(|(n, _)| n.clone()).collect())
    }

    /// The entity of the innermost open `{` or `[` of `create E {`, `change $v {` or `retrieve E [`.
    fn open_block_entity(&self, head: &str) -> Option<String> {
        let mut depth = 0i32;
        let mut open = None;
        for (i, c) in head.char_indices().rev() {
            match c {
                '}' | ']' | ')' => depth += 1,
                '{' | '[' | '(' if depth > 0 => depth -= 1,
                '{' | '[' => {
                    open = Some(i);
                    break;
                }
                '(' => return None,
                _ => {}
            }
        }
        let before = head[..open?].trim_end();
        let mut words = before.rsplit(char::is_whitespace);
        let name = words.next()?;
        let keyword = words.next().unwrap_or("");
        match keyword {
            "create" | "retrieve" | "first" => self.entity_named(name),
            "change" => self.vars.iter().find(|(v, _)| v == name)?.1.clone(),
            _ => None,
        }
    }

    fn entity_named(&self, name: &str) -> Option<String> {
        if self.entities.contains_key(name) {
            return Some(name.to_string());
        }
        let suffix = format!(".{name}");
        self.entities.keys().find(|e| e.ends_with(&suffix)).cloned()
    }
}

/// Where completion is asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    /// A line typed at the REPL.
    Repl,
    /// A place in a `.rules` file.
    File,
}

/// Keywords of a file's top level.
const TOP_KEYWORDS: &[&str] =
    &["module", "user role", "app", "process", "ui flow", "template", "workflow", "test", "snapshot"];
/// Keywords of a module's body.
const MODULE_KEYWORDS: &[&str] =
    &["entity", "non-persistent entity", "association", "enumeration", "module role", "access", "microflow"];
/// Keywords of an access rule's body.
const ACCESS_KEYWORDS: &[&str] = &["create", "delete", "read", "write", "where"];
/// The attribute types.
const ATTRIBUTE_TYPES: &[&str] =
    &["String", "Integer", "Long", "Decimal", "Boolean", "DateTime", "AutoNumber", "HashedString"];

/// The innermost `{`, `[` or `(` left open in `head`, and where it is (strings and comments
/// skipped).
fn innermost_open(head: &str) -> Option<(usize, char)> {
    let mut stack: Vec<(usize, char)> = Vec::new();
    for piece in crate::syntax::scan::pieces(head) {
        if piece.kind != crate::syntax::scan::PieceKind::Code {
            continue;
        }
        for (i, c) in head[piece.start..piece.end].char_indices() {
            match c {
                '{' | '[' | '(' => stack.push((piece.start + i, c)),
                '}' | ']' | ')' => {
                    stack.pop();
                }
                _ => {}
            }
        }
    }
    stack.pop()
}

/// The candidates that start with `word` (any case), or failing that whose local part does.
fn matching(pool: &[String], word: &str) -> Vec<String> {
    let lower = word.to_lowercase();
    let mut found: Vec<String> = pool
        .iter()
        .filter(|w| w.starts_with(word) || (!word.is_empty() && w.to_lowercase().starts_with(&lower)))
        .cloned()
        .collect();
    // A word that matches the local part of qualified names (`Car` -> `Shop.Cart`).
    if found.is_empty() && !word.contains('.') && !word.is_empty() {
        found = pool
            .iter()
            .filter(|w| w.rsplit('.').next().is_some_and(|local| local.starts_with(word)))
            .cloned()
            .collect();
    }
    found.sort();
    found.dedup();
    found
}
