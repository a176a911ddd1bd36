//! Entity access rules: entity, module roles, member grants and constraints.

use smol_str::SmolStr;

use super::xpath::XCompiler;
use super::{CheckError, Checker, Decls, FileRules};
use crate::diagnostic::suggest::did_you_mean;
use crate::diagnostic::Diagnostic;
use crate::model::*;
use crate::syntax::ast;

/// Checks and compiles every access rule, file by file: a file whose results `reuse` holds
/// takes them from there (see [`super::check_reusing`]). Returns the diagnostics of each of
/// the `files` files' rules.
pub(super) fn resolve(
    c: &mut Checker,
    d: &Decls<'_>,
    mut reuse: Vec<Option<FileRules>>,
    files: usize,
) -> Vec<Vec<Diagnostic>> {
    c.index_associations();
    let mut by_file = vec![Vec::new(); files];
    let mut rest = &d.access_rules[..];
    while let Some(&(_, first)) = rest.first() {
        let file = first.span.file;
        let len = rest.iter().position(|(_, r)| r.span.file != file).unwrap_or(rest.len());
        let (these, after) = rest.split_at(len);
        rest = after;
        let found = match reuse.get_mut(file.0 as usize).and_then(Option::take) {
            Some(kept) => {
                c.program.access_rules.extend(kept.rules);
                c.diagnostics.extend(kept.diagnostics.iter().cloned());
                kept.diagnostics
            }
            None => {
                let before = c.diagnostics.len();
                for &(m, rule) in these {
                    resolve_rule(c, m, rule);
                }
                c.diagnostics[before..].to_vec()
            }
        };
        if let Some(slot) = by_file.get_mut(file.0 as usize) {
            *slot = found;
        }
    }
    by_file
}

/// Checks and compiles one access rule.
fn resolve_rule(c: &mut Checker, m: &ast::Module, rule: &ast::AccessRule) {
    let module = m.name.name.as_str();
    let entity = c.resolve_entity(&rule.entity, Some(module));
    let mut roles = Vec::new();
    for q in &rule.roles {
        let foreign = q.is_qualified() && q.parts[0] != module;
        if foreign && c.program.module_role_names.contains_key(q.to_string().as_str()) {
            let error = CheckError::ForeignModuleRole { role: q.to_string(), owner: q.parts[0].to_string() };
            c.report(error, q.span);
            continue;
        }
        if let Some(id) = c.resolve_module_role(q, Some(module)) {
            roles.push(id);
        }
    }
    let Some(entity) = entity else { return };
    let members = grants(c, entity, rule);
    let mut constraint = None;
    let mut constraint_text = None;
    if !rule.constraints.is_empty() {
        if !c.program.entity(entity).persistent {
            let name = c.program.entity(entity).name.to_string();
            let span = rule.constraints[0].span.to(rule.constraints[rule.constraints.len() - 1].span);
            c.report_help(
                CheckError::WhereOnNonPersistent { entity: name },
                span,
                Some("remove the `where` clause".into()),
            );
        } else {
            let mut compiler = XCompiler::for_rule(c, module);
            constraint = compiler.constraints(entity, &rule.constraints);
            let texts: Vec<&str> = rule.constraints.iter().map(|x| c.program.sources.slice(x.span)).collect();
            constraint_text = Some(texts.join(""));
        }
    }
    c.program.access_rules.push(AccessRuleDef {
        entity,
        roles,
        create: rule.create.is_some(),
        delete: rule.delete.is_some(),
        members,
        constraint,
        constraint_text,
        span: rule.span,
    });
}

/// The right on each member from the rule's `read` and `write` lines.
fn grants(c: &mut Checker, entity: EntityId, rule: &ast::AccessRule) -> Vec<MemberRight> {
    let count = c.program.entity(entity).members.len();
    let mut rights = vec![MemberRight::None; count];
    for (list, right) in
        rule.read.iter().map(|l| (l, MemberRight::Read)).chain(rule.write.iter().map(|l| (l, MemberRight::Write)))
    {
        match list {
            ast::MemberList::All(_) => {
                for (i, m) in c.program.entity(entity).members.iter().enumerate() {
                    let granted = if m.system { MemberRight::Read } else { right };
                    rights[i] = rights[i].max(granted);
                }
            }
            ast::MemberList::Members(names) => {
                for name in names {
                    let Some(i) = c.resolve_member(entity, name) else { continue };
                    let member = &c.program.entity(entity).members[i];
                    if right == MemberRight::Write && member.system {
                        let error = CheckError::WriteSystemMember { member: member.name.to_string() };
                        c.report_help(error, name.span, Some("grant `read` on it instead".into()));
                        rights[i] = rights[i].max(MemberRight::Read);
                        continue;
                    }
                    rights[i] = rights[i].max(right);
                }
            }
        }
    }
    rights
}

impl Checker {
    /// Resolves a member of an entity, with a suggestion when it is unknown.
    pub(crate) fn resolve_member(&mut self, entity: EntityId, name: &ast::QName) -> Option<MemberIndex> {
        let def = self.program.entity(entity);
        if let Some(i) = def.member(&name.to_string()) {
            return Some(i);
        }
        if self.program.is_poisoned(entity, &name.to_string()) {
            return None; // its declaration is already reported
        }
        let candidates: Vec<&str> = def.members.iter().map(|m| m.name.as_str()).collect();
        let mut help = did_you_mean(&name.to_string(), candidates.iter().copied());
        if help.is_none() {
            help = super::system_member_help(&self.program, entity, &name.to_string());
        }
        let entity_name = def.name.to_string();
        self.report_help(CheckError::UnknownMember { name: name.to_string(), entity: entity_name }, name.span, help);
        None
    }

    /// Builds the association index used by path resolution.
    pub(crate) fn index_associations(&mut self) {
        let mut index: std::collections::HashMap<SmolStr, Vec<AssocId>> = std::collections::HashMap::new();
        for (i, a) in self.program.associations.iter().enumerate() {
            index.entry(a.name.clone()).or_default().push(AssocId(i as u32));
        }
        self.program.assoc_index = index;
    }
}
