//! The access matrix: for every user role (the anonymous role first) and
//! entity, who may create and delete, under which constraint, and each
//! member's right. Stable, diff-friendly text meant to be committed.

use serde::Serialize;

use crate::model::*;

/// The matrix of a program.
#[derive(Clone, Debug, Serialize)]
pub struct Matrix {
    /// One entry per user role.
    pub roles: Vec<RoleRights>,
}

/// What one user role may do.
#[derive(Clone, Debug, Serialize)]
pub struct RoleRights {
    /// The user role.
    pub role: String,
    /// Whether it is the app's anonymous role.
    pub anonymous: bool,
    /// Its module roles.
    pub module_roles: Vec<String>,
    /// Entities with at least one applicable rule, by name.
    pub entities: Vec<EntityRights>,
}

/// A role's rights on one entity.
#[derive(Clone, Debug, Serialize)]
pub struct EntityRights {
    /// The entity.
    pub entity: String,
    /// May create.
    pub create: bool,
    /// The constraints under which objects are visible (`null`: all objects).
    pub visible: Vec<Option<String>>,
    /// The constraints under which objects may be deleted.
    pub delete: Vec<Option<String>>,
    /// Each member's grants, in declaration order.
    pub members: Vec<MemberRights>,
}

/// One member's grants.
#[derive(Clone, Debug, Serialize)]
pub struct MemberRights {
    /// The member.
    pub member: String,
    /// `read` or `write`, each with its constraint (`null`: unconstrained).
    pub grants: Vec<(String, Option<String>)>,
}

/// Builds the matrix.
pub fn build(program: &Program) -> Matrix {
    let all: Vec<EntityId> = (0..program.entities.len() as u32).map(EntityId).collect();
    build_for(program, &all)
}

/// The matrix of some entities only (every user role, with the rows of those entities).
pub fn build_for(program: &Program, only: &[EntityId]) -> Matrix {
    let mut order: Vec<UserRoleId> = (0..program.user_roles.len() as u32).map(UserRoleId).collect();
    order.sort_by_key(|r| (!program.user_role(*r).anonymous, r.0));
    let roles = order
        .into_iter()
        .map(|r| {
            let def = program.user_role(r);
            let mut entities: Vec<EntityRights> =
                only.iter().filter_map(|e| entity_rights(program, &def.module_roles, *e)).collect();
            entities.sort_by(|a, b| a.entity.cmp(&b.entity));
            RoleRights {
                role: def.name.to_string(),
                anonymous: def.anonymous,
                module_roles: def.module_roles.iter().map(|m| program.module_role(*m).name.to_string()).collect(),
                entities,
            }
        })
        .collect();
    Matrix { roles }
}

/// One entity's row for every user role that has a rule on it, in the matrix's order (the
/// anonymous role first): the role's name, whether it is the anonymous role, and its rights.
pub fn entity_rows(program: &Program, entity: EntityId) -> Vec<(String, bool, EntityRights)> {
    let mut order: Vec<UserRoleId> = (0..program.user_roles.len() as u32).map(UserRoleId).collect();
    order.sort_by_key(|r| (!program.user_role(*r).anonymous, r.0));
    order
        .into_iter()
        .filter_map(|r| {
            let def = program.user_role(r);
            let rights = entity_rights(program, &def.module_roles, entity)?;
            Some((def.name.to_string(), def.anonymous, rights))
        })
        .collect()
}

fn entity_rights(program: &Program, roles: &[ModuleRoleId], entity: EntityId) -> Option<EntityRights> {
    let rules: Vec<&AccessRuleDef> = program
        .access_rules
        .iter()
        .filter(|r| r.entity == entity && r.roles.iter().any(|m| roles.contains(m)))
        .collect();
    if rules.is_empty() {
        return None;
    }
    let def = program.entity(entity);
    let condition = |r: &AccessRuleDef| r.constraint_text.clone();
    let collapse = |mut list: Vec<Option<String>>| {
        if list.contains(&None) {
            return vec![None];
        }
        list.sort();
        list.dedup();
        list
    };
    let members = def
        .members
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let mut grants: Vec<(String, Option<String>)> = Vec::new();
            let grants_of =
                |right| collapse(rules.iter().filter(|r| r.members[i] == right).map(|r| condition(r)).collect());
            let (writes, reads) = (grants_of(MemberRight::Write), grants_of(MemberRight::Read));
            grants.extend(writes.iter().map(|c| ("write".to_string(), c.clone())));
            // Write implies read: a read under a condition already written under adds nothing.
            if !writes.contains(&None) {
                grants.extend(reads.into_iter().filter(|c| !writes.contains(c)).map(|c| ("read".to_string(), c)));
            }
            MemberRights { member: m.name.to_string(), grants }
        })
        .collect();
    Some(EntityRights {
        entity: def.name.to_string(),
        create: rules.iter().any(|r| r.create),
        visible: collapse(rules.iter().map(|r| condition(r)).collect()),
        delete: collapse(rules.iter().filter(|r| r.delete).map(|r| condition(r)).collect()),
        members,
    })
}

/// The matrix as text.
pub fn render(matrix: &Matrix) -> String {
    let mut out = String::new();
    let when = |c: &Option<String>| match c {
        None => "always".to_string(),
        Some(c) => format!("where {c}"),
    };
    for (i, role) in matrix.roles.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let anonymous = if role.anonymous { " (anonymous)" } else { "" };
        out.push_str(&format!("user role {}{anonymous}: {}\n", role.role, role.module_roles.join(", ")));
        if role.entities.is_empty() {
            out.push_str("  no access to any entity\n");
        }
        for e in &role.entities {
            out.push_str(&format!("  {}\n", e.entity));
            out.push_str(&format!("    create: {}\n", if e.create { "yes" } else { "no" }));
            out.push_str(&format!("    see:    {}\n", e.visible.iter().map(when).collect::<Vec<_>>().join("; ")));
            let delete = if e.delete.is_empty() {
                "no".to_string()
            } else {
                e.delete.iter().map(when).collect::<Vec<_>>().join("; ")
            };
            out.push_str(&format!("    delete: {delete}\n"));
            let width = e.members.iter().map(|m| m.member.len()).max().unwrap_or(0);
            for m in &e.members {
                let grants = if m.grants.is_empty() {
                    "-".to_string()
                } else {
                    m.grants
                        .iter()
                        .map(|(right, c)| match c {
                            None => right.clone(),
                            Some(c) => format!("{right} where {c}"),
                        })
                        .collect::<Vec<_>>()
                        .join("; ")
                };
                out.push_str(&format!("    {:<width$}  {grants}\n", m.member));
            }
        }
    }
    out
}
