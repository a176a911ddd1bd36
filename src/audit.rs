//! The security review of anonymous access (seed 001), as a linter: findings
//! `A001`-`A011` over a checked program, with `// warden:allow CODE reason`
//! suppressions on the line above a declaration. Codes, severities and their
//! descriptions are in [`crate::codes`].

use crate::codes::Code;
use std::collections::HashSet;

use crate::diagnostic::Diagnostic;
use crate::model::flow;
use crate::model::*;
use crate::source::Span;

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
    uncallable_microflows(program, &mut findings);
    processes_without_self_assign(program, anonymous, &mut findings);
    let mut findings = suppress(program, findings);
    crate::diagnostic::sort(&mut findings);
    findings
}

/// The label of a finding's declaration when the finding points inside it.
const DECLARED: &str = "declared here";

/// A finding of `code`, at the severity the registry gives it.
fn finding(code: Code, message: String, span: Span, help: String) -> Diagnostic {
    Diagnostic { severity: code.severity(), help: Some(help), ..Diagnostic::error(code, message, span) }
}

/// A001: the anonymous role shares a module role with another user role.
fn shared_module_roles(program: &Program, anon: UserRoleId, out: &mut Vec<Diagnostic>) {
    let anon_def = program.user_role(anon);
    for (i, role) in program.user_roles.iter().enumerate() {
        if UserRoleId(i as u32) == anon {
            continue;
        }
        for (m, span) in
            role.module_roles.iter().zip(&role.module_role_spans).filter(|(m, _)| anon_def.module_roles.contains(m))
        {
            let name = &program.module_role(*m).name;
            let span = *span;
            let mut f = finding(
                Code::A001,
                format!("user role `{}` shares module role `{name}` with the anonymous role `{}`", role.name, anon_def.name),
                span,
                format!("give the anonymous role a module role of its own, granting only what visitors need, instead of reusing `{name}`"),
            );
            f.related.push(crate::diagnostic::Label { span: role.span, message: DECLARED.into() });
            out.push(f);
        }
    }
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
                Code::A002,
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
                Code::A003,
                format!("the anonymous role `{anon_name}` may read every member of `{}` through one rule", entity.name),
                span,
                full_read_help(program, rule, entity),
            ));
        }
        if rule.delete && rule.constraint.is_none() {
            out.push(finding(
                Code::A004,
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

/// A003's fix: name what the rule covers, and what to grant instead.
fn full_read_help(program: &Program, rule: &AccessRuleDef, entity: &EntityDef) -> String {
    let text = program.sources.slice(rule.span);
    let members: Vec<&str> = entity.members.iter().filter(|m| !m.system).map(|m| m.name.as_str()).collect();
    if text.contains("read *") || text.contains("write *") {
        format!("list only the members visitors need instead of `*` (the entity has {})", quote_list(&members))
    } else {
        format!("this rule covers every member ({}); leave out the ones visitors do not need", quote_list(&members))
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
        // Non-persistent objects are dropped with their session at sign-in.
        let persistent = program.entity(assoc.from).persistent;
        if assoc.on_delete_to != DeleteRule::Keep || handled.contains(&assoc.from) || !persistent {
            continue;
        }
        let from = &program.entity(assoc.from).name;
        out.push(finding(
            Code::A005,
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
            Code::A005,
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
        Walk { program, entities: &mut entities, calls: &mut pending }.block(&def.body);
    }
    entities
}

/// What a microflow body retrieves and calls.
struct Walk<'a> {
    program: &'a Program,
    entities: &'a mut HashSet<EntityId>,
    calls: &'a mut Vec<MicroflowId>,
}

impl Walk<'_> {
    fn block(&mut self, block: &flow::Block) {
        let program = self.program;
        flow::visit_block(block, &mut |e| match &e.kind {
            flow::ExprKind::Retrieve { source: flow::Source::Database { entity, .. }, .. } => {
                self.entities.insert(*entity);
            }
            flow::ExprKind::Retrieve { source: flow::Source::Association(path), .. } => {
                if let flow::ExprKind::Member { member, .. } = &path.kind {
                    let assoc = match member {
                        flow::MemberRef::Member { entity, index } => match program.entity(*entity).members[*index].kind
                        {
                            MemberKind::Association(a) => Some(a),
                            MemberKind::Attribute(_) => None,
                        },
                        flow::MemberRef::Reverse(a) => Some(*a),
                        flow::MemberRef::Dynamic { .. } => None,
                    };
                    if let Some(a) = assoc {
                        self.entities.insert(program.assoc(a).from);
                        self.entities.insert(program.assoc(a).to);
                    }
                }
            }
            flow::ExprKind::Call { flow, .. } => self.calls.push(*flow),
            _ => {}
        });
    }
}

/// A006 and A007: resources and the app's public gate.
fn resources(program: &Program, anonymous: Option<UserRoleId>, out: &mut Vec<Diagnostic>) {
    let Some(anon) = anonymous else { return };
    let anon_name = &program.user_role(anon).name;
    let public = program.app.access == AccessLevel::Public;
    for r in &program.resources {
        if !r.roles.iter().any(|(role, _)| *role == anon) {
            continue;
        }
        let name = format!("{} `{}`", r.kind.as_str(), r.name);
        let span = resource_head(program, r);
        if !public {
            out.push(finding(
                Code::A006,
                format!(
                    "{name} grants the anonymous role `{anon_name}`, but the app is not public, so no anonymous user can reach it"
                ),
                span,
                "set `access: public` on the app, or remove the anonymous role from the resource".into(),
            ));
        } else if r.roles.len() == 1 {
            out.push(finding(
                Code::A007,
                format!("{name}'s only role is the anonymous role `{anon_name}`: signed-in users are treated as anonymous there"),
                span,
                "grant the resource to the user roles that should use it signed in, too".into(),
            ));
        }
    }
}

/// A008: a specialization without rules whose generalization has some.
fn specializations(program: &Program, out: &mut Vec<Diagnostic>) {
    let ruled: HashSet<EntityId> = program.access_rules.iter().map(|r| r.entity).collect();
    let has_rules = |e: EntityId| ruled.contains(&e);
    for (i, e) in program.entities.iter().enumerate() {
        let Some(general) = e.generalization else { continue };
        if has_rules(EntityId(i as u32)) || !has_rules(general) {
            continue;
        }
        out.push(finding(
            Code::A008,
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
                let roles: Vec<&str> = rule.roles.iter().map(|r| program.module_role(*r).name.as_str()).collect();
                let line = if *right == MemberRight::Write { "write" } else { "read" };
                out.push(finding(
                    Code::A009,
                    format!(
                        "`{}.{}` is a HashedString, and this rule makes it readable to {}",
                        entity.name,
                        m.name,
                        quote_list(&roles)
                    ),
                    rule_head(program, rule),
                    format!(
                        "leave `{}` out of `{line}` (write implies read; hashes are for comparing, never for showing)",
                        m.name
                    ),
                ));
            }
        }
    }
}

/// A010: a microflow that nothing can run but `system`: no `allow`, not the
/// sign-in microflow, and called by no other microflow (a call from itself does
/// not count). Tests run as `system` and may still call it, so this is `info`.
fn uncallable_microflows(program: &Program, out: &mut Vec<Diagnostic>) {
    let mut called: HashSet<MicroflowId> = HashSet::new();
    for (i, def) in program.microflows.iter().enumerate() {
        let mut calls = Vec::new();
        let mut entities = HashSet::new();
        Walk { program, entities: &mut entities, calls: &mut calls }.block(&def.body);
        called.extend(calls.into_iter().filter(|&c| c != MicroflowId(i as u32)));
    }
    for (i, def) in program.microflows.iter().enumerate() {
        let id = MicroflowId(i as u32);
        if !def.allow.is_empty() || program.app.sign_in == Some(id) || called.contains(&id) {
            continue;
        }
        out.push(finding(
            Code::A010,
            format!(
                "no role may call microflow `{}` and no microflow calls it: only `system` can run it",
                def.name
            ),
            head(program, def.span),
            format!(
                "add `allow ROLE` for the module roles that should call it (`microflow {}(...) allow ROLE`), call it from another microflow, or remove it",
                def.name.rsplit('.').next().unwrap_or(&def.name)
            ),
        ));
    }
}

/// A011: a process that gives a signed-in user role EXECUTE without SELF_ASSIGN,
/// so that role cannot start it (starting a process needs both; the anonymous
/// role gets SELF_ASSIGN added, so it can, which hides the problem in anonymous tests).
fn processes_without_self_assign(program: &Program, anonymous: Option<UserRoleId>, out: &mut Vec<Diagnostic>) {
    for r in program.resources.iter().filter(|r| r.kind == ResourceKind::Process) {
        for (role, ops) in &r.roles {
            if Some(*role) == anonymous || !ops.contains(&Operation::Execute) || ops.contains(&Operation::SelfAssign) {
                continue;
            }
            let name = &program.user_role(*role).name;
            out.push(finding(
                Code::A011,
                format!(
                    "user role `{name}` may execute process `{}` but not start it: starting a process needs EXECUTE and SELF_ASSIGN",
                    r.name
                ),
                resource_head(program, r),
                format!(
                    "add SELF_ASSIGN to the grant (`{name}: {}, SELF_ASSIGN`), or silence this with a reason if others assign `{name}` its work",
                    ops.iter().map(|o| o.as_str()).collect::<Vec<_>>().join(", ")
                ),
            ));
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

/// One `// warden:allow CODE reason` comment.
struct Allow {
    span: Span,
    line: usize,
    code: Option<String>,
    reason: bool,
}

/// The suppression comments of every file: only `//` comments whose text starts with `warden:allow`.
fn allows(program: &Program) -> Vec<Allow> {
    let mut out = Vec::new();
    for (id, file) in program.sources.files() {
        for (n, start, end) in own_line_comments(&file.text) {
            let comment = &file.text[start..end];
            if let Some(rest) =
                comment.strip_prefix("//").map(str::trim_start).and_then(|r| r.strip_prefix("warden:allow"))
            {
                let rest = rest.trim();
                let mut words = rest.splitn(2, char::is_whitespace);
                let code = words
                    .next()
                    .filter(|c| c.len() == 4 && c.starts_with('A') && c[1..].chars().all(|d| d.is_ascii_digit()));
                let reason = match code {
                    Some(_) => words.next().is_some_and(|r| !r.trim().is_empty()),
                    None => !rest.is_empty(),
                };
                out.push(Allow {
                    span: Span::new(id, start, start + comment.trim_end().len()),
                    line: n,
                    code: code.map(str::to_string),
                    reason,
                });
            }
        }
    }
    out
}

/// The `//` comments that stand on a line of their own: the line (from 1), start and end.
fn own_line_comments(text: &str) -> Vec<(usize, usize, usize)> {
    let mut line = 1;
    let mut counted = 0;
    let mut out = Vec::new();
    for p in crate::syntax::scan::pieces(text) {
        if p.kind != crate::syntax::scan::PieceKind::LineComment {
            continue;
        }
        line += text[counted..p.start].bytes().filter(|&b| b == b'\n').count();
        counted = p.start;
        let line_start = text[..p.start].rfind('\n').map_or(0, |n| n + 1);
        if text[line_start..p.start].trim().is_empty() {
            out.push((line, p.start, p.end));
        }
    }
    out
}

/// The lines of the comment block directly above `line` (1-based), nearest first.
fn comment_block_above(comment_lines: &HashSet<usize>, line: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut n = line.saturating_sub(1);
    while n >= 1 && comment_lines.contains(&n) {
        out.push(n);
        n -= 1;
    }
    out
}

/// Applies suppressions: a `// warden:allow CODE reason` in the comment block directly above
/// the declaration a finding belongs to silences it. Reports suppressions without a code or
/// a reason (`A100`) and ones that silence nothing (`A101`).
fn suppress(program: &Program, findings: Vec<Diagnostic>) -> Vec<Diagnostic> {
    let allows = allows(program);
    let mut comment_lines: std::collections::HashMap<crate::source::FileId, HashSet<usize>> = Default::default();
    let mut used = vec![false; allows.len()];
    let mut out = Vec::new();
    for f in findings {
        let decl = f.related.iter().find(|l| l.message == DECLARED).map_or(f.span, |l| l.span);
        let line = program.sources.file(decl.file).line_col(decl.start as usize).0;
        let lines = comment_lines.entry(decl.file).or_insert_with(|| {
            own_line_comments(&program.sources.file(decl.file).text).into_iter().map(|(n, ..)| n).collect()
        });
        let block = comment_block_above(lines, line);
        let matching = allows.iter().position(|a| {
            a.span.file == decl.file && block.contains(&a.line) && a.code.as_deref() == Some(f.code.as_str())
        });
        match matching {
            Some(i) => {
                used[i] = true;
                if !allows[i].reason {
                    out.push(f);
                }
            }
            None => out.push(f),
        }
    }
    for (i, a) in allows.iter().enumerate() {
        match (&a.code, a.reason) {
            (None, _) => out.push(finding(
                Code::A100,
                "`warden:allow` names no finding code, so it suppresses nothing".into(),
                a.span,
                "name the code and say why: `// warden:allow A003 the catalogue is public on purpose`".into(),
            )),
            (Some(code), false) => out.push(finding(
                Code::A100,
                format!("`warden:allow {code}` gives no reason, so it suppresses nothing"),
                a.span,
                format!("say why the finding is intended: `// warden:allow {code} the catalogue is public on purpose`"),
            )),
            (Some(code), true) if !used[i] => out.push(finding(
                Code::A101,
                format!(
                    "`warden:allow {code}` suppresses nothing: no {code} finding belongs to the declaration below it"
                ),
                a.span,
                "remove the comment, or put it in the comment block just above the declaration the finding points at"
                    .into(),
            )),
            _ => {}
        }
    }
    out
}
