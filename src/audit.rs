//! The security review of anonymous access (seed 001), as a linter: findings
//! `A001`-`A009` over a checked program, with `// warden:allow CODE reason`
//! suppressions on the line above a declaration.

use std::collections::HashSet;

use crate::diagnostic::{Diagnostic, Severity};
use crate::model::*;
use crate::source::Span;
use crate::syntax::ast::{self, Expr, ExprKind, RetrieveSource, Stmt, StmtKind};

/// Every finding of a program, suppressions applied, sorted by position.
pub fn audit(program: &Program) -> Vec<Diagnostic> {
    let mut findings = Vec::new();
    let anonymous = program.app.anonymous;
    if let Some(anon) = anonymous {
        shared_module_roles(program, anon, &mut findings);
        anonymous_rules(program, anon, &mut findings);
        outliving_objects(program, anon, &mut findings);
    }
    resources(program, anonymous, &mut findings);
    specializations(program, &mut findings);
    hashed_strings(program, &mut findings);
    let mut findings = suppress(program, findings);
    crate::diagnostic::sort(&mut findings);
    findings
}

fn finding(code: &'static str, severity: Severity, message: String, span: Span, help: String) -> Diagnostic {
    Diagnostic { severity, help: Some(help), ..Diagnostic::error(code, message, span) }
}

/// A001: the anonymous role shares a module role with another user role.
fn shared_module_roles(program: &Program, anon: UserRoleId, out: &mut Vec<Diagnostic>) {
    let anon_def = program.user_role(anon);
    for (i, role) in program.user_roles.iter().enumerate() {
        if UserRoleId(i as u32) == anon {
            continue;
        }
        for m in role.module_roles.iter().filter(|m| anon_def.module_roles.contains(m)) {
            let name = &program.module_role(*m).name;
            let span = module_role_span(program, role, name).unwrap_or(role.span);
            out.push(finding(
                "A001",
                Severity::Warning,
                format!("user role `{}` shares module role `{name}` with the anonymous role `{}`", role.name, anon_def.name),
                span,
                format!("give the anonymous role a module role of its own, granting only what visitors need, instead of reusing `{name}`"),
            ));
        }
    }
}

/// Where a user role names a module role, for a precise finding.
fn module_role_span(program: &Program, role: &UserRoleDef, name: &str) -> Option<Span> {
    let text = program.sources.slice(role.span);
    let local = name.rsplit('.').next().unwrap_or(name);
    let at = text.find(name).or_else(|| text.find(local))?;
    let len = if text[at..].starts_with(name) { name.len() } else { local.len() };
    Some(Span::new(role.span.file, role.span.start as usize + at, role.span.start as usize + at + len))
}

/// A002-A004: what rules give the anonymous role on persistent entities.
fn anonymous_rules(program: &Program, anon: UserRoleId, out: &mut Vec<Diagnostic>) {
    let anon_roles = &program.user_role(anon).module_roles;
    let anon_name = &program.user_role(anon).name;
    for rule in program.access_rules.iter().filter(|r| r.roles.iter().any(|m| anon_roles.contains(m))) {
        let entity = program.entity(rule.entity);
        if !entity.persistent {
            continue; // its objects never leave the session that made them
        }
        let span = rule_head(program, rule);
        let writes: Vec<&str> = entity
            .members
            .iter()
            .zip(&rule.members)
            .filter(|(_, r)| **r == MemberRight::Write)
            .map(|(m, _)| m.name.as_str())
            .collect();
        let owner_fix = owner_constraint_help(entity);
        if !writes.is_empty() && rule.constraint.is_none() {
            out.push(finding(
                "A002",
                Severity::Error,
                format!(
                    "the anonymous role `{anon_name}` may write {} of every `{}` object: the rule has no `where` constraint",
                    quote_list(&writes),
                    entity.name
                ),
                span,
                owner_fix.clone(),
            ));
        }
        let declared: Vec<usize> = (0..entity.members.len()).filter(|&i| !entity.members[i].system).collect();
        if !declared.is_empty() && declared.iter().all(|&i| rule.members[i] >= MemberRight::Read) {
            out.push(finding(
                "A003",
                Severity::Warning,
                format!("the anonymous role `{anon_name}` may read every member of `{}` through one rule", entity.name),
                span,
                "grant read only on the members visitors need (`read Name` rather than `read *`)".into(),
            ));
        }
        if rule.delete && rule.constraint.is_none() {
            out.push(finding(
                "A004",
                Severity::Warning,
                format!(
                    "the anonymous role `{anon_name}` may delete every `{}` object: the rule has no `where` constraint",
                    entity.name
                ),
                span,
                owner_fix,
            ));
        }
    }
}

fn owner_constraint_help(entity: &EntityDef) -> String {
    if entity.owner.is_some() {
        "add `where [System.owner = '[%CurrentUser%]']` so visitors touch only the objects they created".into()
    } else {
        format!(
            "add `stores owner` to `{}` and `where [System.owner = '[%CurrentUser%]']` to the rule, so visitors touch only their own objects",
            entity.local_name()
        )
    }
}

/// A005: objects tied to the anonymous user that no sign-in microflow hands over.
fn outliving_objects(program: &Program, anon: UserRoleId, out: &mut Vec<Diagnostic>) {
    let handled = sign_in_retrieves(program);
    let anon_roles = &program.user_role(anon).module_roles;
    for assoc in program.associations.iter().filter(|a| !a.system && a.to == SYSTEM_USER) {
        if assoc.on_delete_to != DeleteRule::Keep || handled.contains(&assoc.from) {
            continue;
        }
        let from = &program.entity(assoc.from).name;
        out.push(finding(
            "A005",
            Severity::Warning,
            format!(
                "`{from}` objects that `{}` ties to an anonymous user outlive it at sign-in: the association keeps them and no sign-in microflow retrieves `{from}`",
                assoc.name
            ),
            assoc.span,
            format!(
                "hand them over in the sign-in microflow (`retrieve {from} [{} = $AnonymousUser]`), or add `on delete System.User: cascade`",
                assoc.name
            ),
        ));
    }
    for rule in program.access_rules.iter().filter(|r| r.create && r.roles.iter().any(|m| anon_roles.contains(m))) {
        let entity = program.entity(rule.entity);
        if entity.owner.is_none() || !entity.persistent || handled.contains(&rule.entity) {
            continue;
        }
        out.push(finding(
            "A005",
            Severity::Warning,
            format!(
                "`{}` objects created by anonymous users keep them as owner and outlive them at sign-in: no sign-in microflow retrieves `{}`",
                entity.name, entity.name
            ),
            rule_head(program, rule),
            format!(
                "move them to the signed-in user in the sign-in microflow: `retrieve {} [System.owner = $AnonymousUser]`, then change their `System.owner`",
                entity.name
            ),
        ));
    }
}

/// The entities the sign-in microflow (and what it calls) retrieves, from the store or by association.
fn sign_in_retrieves(program: &Program) -> HashSet<EntityId> {
    let mut entities = HashSet::new();
    let mut seen = HashSet::new();
    let mut pending: Vec<MicroflowId> = program.app.sign_in.into_iter().collect();
    while let Some(id) = pending.pop() {
        if !seen.insert(id) {
            continue;
        }
        let def = program.microflow(id);
        let mut cx = Walk { program, module: &def.module, entities: &mut entities, calls: &mut pending };
        cx.stmts(&def.decl.body.stmts);
    }
    entities
}

struct Walk<'a> {
    program: &'a Program,
    module: &'a str,
    entities: &'a mut HashSet<EntityId>,
    calls: &'a mut Vec<MicroflowId>,
}

impl Walk<'_> {
    fn stmts(&mut self, stmts: &[Stmt]) {
        for s in stmts {
            match &s.kind {
                StmtKind::Let { value, .. } | StmtKind::Assign { value, .. } => self.expr(value),
                StmtKind::Change { target, values } => {
                    self.expr(target);
                    values.iter().for_each(|v| self.expr(&v.value));
                }
                StmtKind::Commit(e)
                | StmtKind::Delete(e)
                | StmtKind::Rollback(e)
                | StmtKind::Log(e)
                | StmtKind::Error(e) => self.expr(e),
                StmtKind::Expr(e) => self.expr(e),
                StmtKind::Return(e) => e.iter().for_each(|e| self.expr(e)),
                StmtKind::For { list, body, .. } => {
                    self.expr(list);
                    self.stmts(&body.stmts);
                }
                StmtKind::If { cond, then, otherwise } => {
                    self.expr(cond);
                    self.stmts(&then.stmts);
                    if let Some(o) = otherwise {
                        self.stmts(std::slice::from_ref(o));
                    }
                }
                StmtKind::Block(b) => self.stmts(&b.stmts),
                _ => {}
            }
        }
    }

    fn expr(&mut self, e: &Expr) {
        match &e.kind {
            ExprKind::Retrieve { source, .. } => match source {
                RetrieveSource::Database { entity, .. } => {
                    let name = entity.to_string();
                    let found = self
                        .program
                        .entity_by_name(&name)
                        .or_else(|| self.program.entity_by_name(&format!("{}.{name}", self.module)));
                    self.entities.extend(found);
                }
                RetrieveSource::Association(path) => {
                    if let Some(step) = path.steps.last() {
                        let name = step.to_string();
                        for a in &self.program.associations {
                            if a.name == name || a.name == format!("{}.{name}", self.module) {
                                self.entities.insert(a.from);
                                self.entities.insert(a.to);
                            }
                        }
                    }
                }
            },
            ExprKind::Call { flow, args } => {
                let name = flow.to_string();
                let id = self
                    .program
                    .microflow_by_name(&name)
                    .or_else(|| self.program.microflow_by_name(&format!("{}.{name}", self.module)));
                self.calls.extend(id);
                args.iter().for_each(|(_, a)| self.expr(a));
            }
            ExprKind::Binary { lhs, rhs, .. } => {
                self.expr(lhs);
                self.expr(rhs);
            }
            ExprKind::Neg(x) | ExprKind::Not(x) => self.expr(x),
            ExprKind::If { cond, then, otherwise } => {
                self.expr(cond);
                self.expr(then);
                self.expr(otherwise);
            }
            ExprKind::List(items) | ExprKind::Function { args: items, .. } => items.iter().for_each(|x| self.expr(x)),
            ExprKind::Create { values, .. } => values.iter().for_each(|v| self.expr(&v.value)),
            _ => {}
        }
    }
}

/// A006 and A007: resources and the app's public gate.
fn resources(program: &Program, anonymous: Option<UserRoleId>, out: &mut Vec<Diagnostic>) {
    let Some(anon) = anonymous else { return };
    let public = program.app.access == ast::AccessLevel::Public;
    for r in &program.resources {
        if !r.roles.iter().any(|(role, _)| *role == anon) {
            continue;
        }
        let name = format!("{} `{}`", r.kind.as_str(), r.name);
        let span = resource_head(program, r);
        if !public {
            out.push(finding(
                "A006",
                Severity::Info,
                format!(
                    "{name} grants the anonymous role, but the app is not public, so no anonymous user can reach it"
                ),
                span,
                "set `access: public` on the app, or remove the anonymous role from the resource".into(),
            ));
        } else if r.roles.len() == 1 {
            out.push(finding(
                "A007",
                Severity::Warning,
                format!("{name}'s only role is the anonymous role: signed-in users are treated as anonymous there"),
                span,
                "grant the resource to the user roles that should use it signed in, too".into(),
            ));
        }
    }
}

/// A008: a specialization without rules whose generalization has some.
fn specializations(program: &Program, out: &mut Vec<Diagnostic>) {
    let has_rules = |e: EntityId| program.access_rules.iter().any(|r| r.entity == e);
    for (i, e) in program.entities.iter().enumerate() {
        let Some(general) = e.generalization else { continue };
        if has_rules(EntityId(i as u32)) || !has_rules(general) {
            continue;
        }
        out.push(finding(
            "A008",
            Severity::Warning,
            format!(
                "`{}` has no access rules while its generalization `{}` has some: access rules are not inherited, so nobody can use `{}` objects",
                e.name,
                program.entity(general).name,
                e.local_name()
            ),
            entity_head(program, e),
            format!("declare access rules for `{}`", e.name),
        ));
    }
}

/// A009: a rule that makes a HashedString member readable.
fn hashed_strings(program: &Program, out: &mut Vec<Diagnostic>) {
    for rule in &program.access_rules {
        let entity = program.entity(rule.entity);
        for (m, right) in entity.members.iter().zip(&rule.members) {
            if *right >= MemberRight::Read && m.kind == MemberKind::Attribute(AttrType::HashedString) {
                out.push(finding(
                    "A009",
                    Severity::Warning,
                    format!("`{}.{}` is a HashedString, and this rule makes it readable", entity.name, m.name),
                    rule_head(program, rule),
                    format!("leave `{}` out of `read` (hashes are for comparing, never for showing)", m.name),
                ));
            }
        }
    }
}

/// The first line of a rule (`access X for R {`), where findings point.
fn rule_head(program: &Program, rule: &AccessRuleDef) -> Span {
    head(program, rule.span)
}

fn resource_head(program: &Program, r: &ResourceDef) -> Span {
    head(program, r.span)
}

fn entity_head(program: &Program, e: &EntityDef) -> Span {
    head(program, e.span)
}

fn head(program: &Program, span: Span) -> Span {
    let text = program.sources.slice(span);
    let end = text.find('{').map_or(text.len(), |i| i).min(text.find('\n').unwrap_or(text.len()));
    Span::new(span.file, span.start as usize, span.start as usize + text[..end].trim_end().len())
}

fn quote_list(names: &[&str]) -> String {
    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

/// Applies `// warden:allow CODE reason` comments on the line above a finding;
/// reports suppressions without a reason (`A100`) and ones that suppress nothing (`A101`).
fn suppress(program: &Program, findings: Vec<Diagnostic>) -> Vec<Diagnostic> {
    let mut allows: Vec<(Span, usize, String, bool)> = Vec::new(); // span, line, code, has reason
    for (id, file) in program.sources.files() {
        let mut offset = 0;
        for (n, line) in file.text.split_inclusive('\n').enumerate() {
            if let Some(at) = line.find("warden:allow") {
                let rest = line[at + "warden:allow".len()..].trim();
                let mut words = rest.splitn(2, char::is_whitespace);
                let code = words.next().unwrap_or("").to_string();
                let reason = words.next().map(str::trim).unwrap_or("");
                let start = offset + at;
                let span = Span::new(id, start, offset + line.trim_end().len());
                allows.push((span, n + 1, code, !reason.is_empty()));
            }
            offset += line.len();
        }
    }
    let mut used = vec![false; allows.len()];
    let mut out = Vec::new();
    for f in findings {
        let line = program.sources.file(f.span.file).line_col(f.span.start as usize).0;
        let matching =
            allows.iter().position(|(s, l, code, _)| s.file == f.span.file && *l + 1 == line && code == f.code);
        match matching {
            Some(i) if allows[i].3 => used[i] = true,
            Some(i) => {
                used[i] = true;
                out.push(f);
            }
            None => out.push(f),
        }
    }
    for (i, (span, _, code, reason)) in allows.iter().enumerate() {
        if !reason {
            out.push(finding(
                "A100",
                Severity::Warning,
                format!("`warden:allow {code}` gives no reason, so it suppresses nothing"),
                *span,
                format!("say why the finding is intended: `// warden:allow {code} the catalogue is public on purpose`"),
            ));
        } else if !used[i] {
            out.push(finding(
                "A101",
                Severity::Warning,
                format!("`warden:allow {code}` suppresses nothing: there is no {code} finding on the next line"),
                *span,
                "remove the comment, or put it on the line just above the declaration the finding points at".into(),
            ));
        }
    }
    out
}
