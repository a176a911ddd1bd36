//! Runtime resources (section 7): role permissions, swimlanes and components.

use smol_str::SmolStr;

use super::{CheckError, Checker, Decls};
use crate::diagnostic::suggest::did_you_mean;
use crate::model::*;
use crate::syntax::ast::{self, ResourceKind};

/// Checks every process, UI flow, template and workflow.
pub(super) fn resolve(c: &mut Checker, d: &Decls<'_>) {
    for w in &d.workflows {
        if c.program.workflows.contains(&w.name) {
            c.report(CheckError::Duplicate { kind: "workflow", name: w.name.to_string() }, w.span);
        } else {
            c.program.workflows.push(w.name.clone());
        }
    }
    for r in &d.resources {
        if c.program.resource_by_name(r.kind, &r.name.name).is_some() {
            c.report(CheckError::Duplicate { kind: r.kind.as_str(), name: r.name.name.to_string() }, r.name.span);
            continue;
        }
        let def = resource(c, r);
        let id = ResourceId(c.program.resources.len() as u32);
        c.program.resource_names.insert((r.kind, r.name.name.clone()), id);
        c.program.resources.push(def);
    }
}

fn resource(c: &mut Checker, r: &ast::Resource) -> ResourceDef {
    let anonymous = c.program.app.anonymous;
    let mut roles: Vec<(UserRoleId, Vec<Operation>)> = Vec::new();
    let mut unresolved_grant = false;
    for grant in &r.roles {
        let Some(role) = c.resolve_user_role(&grant.role) else {
            unresolved_grant = true;
            continue;
        };
        let mut ops = Vec::new();
        for op in &grant.operations {
            let Some(parsed) = Operation::parse(&op.name) else {
                let help = did_you_mean(&op.name, Operation::ALL.iter().map(|o| o.as_str()));
                c.report_help(CheckError::UnknownOperation { name: op.name.to_string() }, op.span, help);
                continue;
            };
            if Some(role) == anonymous
                && !matches!(parsed, Operation::View | Operation::Execute | Operation::SelfAssign)
            {
                c.report(CheckError::AnonymousOperation { op: parsed.as_str().into() }, op.span);
                continue;
            }
            if !ops.contains(&parsed) {
                ops.push(parsed);
            }
        }
        if Some(role) == anonymous && !ops.contains(&Operation::SelfAssign) {
            ops.push(Operation::SelfAssign);
        }
        ops.sort();
        match roles.iter_mut().find(|(existing, _)| *existing == role) {
            Some((_, existing)) => {
                existing.extend(ops);
                existing.sort();
                existing.dedup();
            }
            None => roles.push((role, ops)),
        }
    }
    let mut swimlanes: Vec<(SmolStr, Vec<UserRoleId>)> = Vec::new();
    for lane in &r.swimlanes {
        if swimlanes.iter().any(|(n, _)| *n == lane.name.name) {
            c.report(CheckError::Duplicate { kind: "swimlane", name: lane.name.name.to_string() }, lane.name.span);
            continue;
        }
        let mut lane_roles = Vec::new();
        for role in &lane.roles {
            let Some(id) = c.resolve_user_role(role) else { continue };
            // After a misspelt grant, a missing permission is most likely that grant.
            if !unresolved_grant && !roles.iter().any(|(r, _)| *r == id) {
                let error = CheckError::SwimlaneRoleWithoutPermission {
                    role: role.name.to_string(),
                    process: r.name.name.to_string(),
                };
                c.report_help(
                    error,
                    role.span,
                    Some(format!("grant it in the process's `roles {{ {}: VIEW, EXECUTE }}`", role.name)),
                );
            }
            lane_roles.push(id);
        }
        swimlanes.push((lane.name.name.clone(), lane_roles));
    }
    let mut components: Vec<ComponentDef> = Vec::new();
    for comp in &r.components {
        if components.iter().any(|x| x.name == comp.name.name) {
            c.report(CheckError::Duplicate { kind: "component", name: comp.name.name.to_string() }, comp.name.span);
            continue;
        }
        let mut swimlane = None;
        if let Some(lane) = &comp.swimlane {
            if r.kind != ResourceKind::Process {
                c.report(CheckError::SwimlaneOutsideProcess, lane.span);
            } else {
                match swimlanes.iter().position(|(n, _)| *n == lane.name) {
                    Some(i) => swimlane = Some(i),
                    None => {
                        let help = did_you_mean(&lane.name, swimlanes.iter().map(|(n, _)| n.as_str()));
                        let error = CheckError::UnknownSwimlane {
                            name: lane.name.to_string(),
                            resource: format!("process `{}`", r.name.name),
                        };
                        c.report_help(error, lane.span, help);
                        // An unknown swimlane is not checked further: its roles are unknown too.
                        components.push(ComponentDef {
                            name: comp.name.name.clone(),
                            swimlane: None,
                            hidden_for: vec![],
                            disabled_for: vec![],
                        });
                        continue;
                    }
                }
            }
        }
        let (scope_roles, scope): (Option<Vec<UserRoleId>>, String) = match (r.kind, swimlane) {
            (ResourceKind::Process, Some(i)) => {
                (Some(swimlanes[i].1.clone()), format!("to swimlane `{}`", swimlanes[i].0))
            }
            (ResourceKind::Process, None) => {
                (Some(roles.iter().map(|(r, _)| *r).collect()), format!("on process `{}`", r.name.name))
            }
            (ResourceKind::UiFlow, _) => {
                (Some(roles.iter().map(|(r, _)| *r).collect()), format!("on ui flow `{}`", r.name.name))
            }
            (ResourceKind::Template, _) => (None, "in the app".into()),
        };
        let mut def = ComponentDef { name: comp.name.name.clone(), swimlane, hidden_for: vec![], disabled_for: vec![] };
        for rule in &comp.rules {
            for role in &rule.roles {
                let Some(id) = c.resolve_user_role(role) else { continue };
                if let Some(allowed) = &scope_roles {
                    if !allowed.contains(&id) {
                        let error = CheckError::RoleNotAtScope { role: role.name.to_string(), scope: scope.clone() };
                        c.report(error, role.span);
                        continue;
                    }
                }
                let list = if rule.disable { &mut def.disabled_for } else { &mut def.hidden_for };
                if !list.contains(&id) {
                    list.push(id);
                }
            }
        }
        components.push(def);
    }
    ResourceDef { kind: r.kind, name: r.name.name.clone(), roles, swimlanes, components, span: r.span }
}
