//! The schema pass: the System module, declarations by name, entities with
//! their inherited members, enumerations and associations.

use std::collections::HashMap;

use rust_decimal::prelude::ToPrimitive;
use smol_str::SmolStr;

use super::{qualify, CheckError, Checker, Decls};
use crate::diagnostic::suggest::did_you_mean;
use crate::model::value::Value;
use crate::model::*;
use crate::source::Span;
use crate::syntax::ast;

/// Declares System.User, System.UserRole and System.UserRoles.
pub(super) fn declare_system(c: &mut Checker) {
    let span = Span::default();
    let attr = |name: &str, ty, default, entity| MemberDef {
        name: name.into(),
        kind: MemberKind::Attribute(ty),
        system: false,
        default,
        declared_in: entity,
        span,
    };
    let user = EntityDef {
        name: "System.User".into(),
        module: "System".into(),
        persistent: true,
        generalization: None,
        // In the order of `model::user_member`.
        members: vec![
            attr("Name", AttrType::String(None), None, SYSTEM_USER),
            attr("Password", AttrType::HashedString, None, SYSTEM_USER),
            attr("Active", AttrType::Boolean, Some(Value::Boolean(true)), SYSTEM_USER),
            attr("IsAnonymous", AttrType::Boolean, Some(Value::Boolean(false)), SYSTEM_USER),
            MemberDef {
                name: "System.UserRoles".into(),
                kind: MemberKind::Association(SYSTEM_USER_ROLES),
                system: false,
                default: None,
                declared_in: SYSTEM_USER,
                span,
            },
        ],
        owner: None,
        changed_by: None,
        created_date: None,
        changed_date: None,
        span,
    };
    let role = EntityDef {
        name: "System.UserRole".into(),
        module: "System".into(),
        members: vec![attr("Name", AttrType::String(None), None, SYSTEM_USER_ROLE)],
        ..user.clone()
    };
    let p = &mut c.program;
    p.entities = vec![user, role];
    p.entity_names.insert("System.User".into(), SYSTEM_USER);
    p.entity_names.insert("System.UserRole".into(), SYSTEM_USER_ROLE);
    p.associations.push(AssocDef {
        name: "System.UserRoles".into(),
        from: SYSTEM_USER,
        to: SYSTEM_USER_ROLE,
        multiplicity: ast::Multiplicity::ReferenceSet,
        on_delete_from: DeleteRule::Keep,
        on_delete_to: DeleteRule::Keep,
        system: true,
        span,
        delete_spans: (None, None),
    });
    p.modules.push(("System".into(), span));
}

/// Gathers every declaration and registers the names of entities and
/// enumerations, reporting duplicates.
pub(super) fn collect<'a>(c: &mut Checker, files: &'a [ast::File]) -> Decls<'a> {
    let mut d = Decls {
        entities: Vec::new(),
        enumerations: Vec::new(),
        associations: Vec::new(),
        module_roles: Vec::new(),
        access_rules: Vec::new(),
        microflows: Vec::new(),
        user_roles: Vec::new(),
        apps: Vec::new(),
        resources: Vec::new(),
        workflows: Vec::new(),
    };
    for item in files.iter().flat_map(|f| &f.items) {
        match item {
            ast::Item::Module(m) => {
                if m.name.name.eq_ignore_ascii_case("System") {
                    c.report(CheckError::SystemModule, m.name.span);
                    continue;
                }
                if !c.program.modules.iter().any(|(n, _)| *n == m.name.name) {
                    c.program.modules.push((m.name.name.clone(), m.name.span));
                }
                for mi in &m.items {
                    match mi {
                        ast::ModuleItem::Enumeration(e) => d.enumerations.push((m, e)),
                        ast::ModuleItem::Entity(e) => d.entities.push((m, e)),
                        ast::ModuleItem::Association(a) => d.associations.push((m, a)),
                        ast::ModuleItem::ModuleRole(r) => d.module_roles.push((m, r)),
                        ast::ModuleItem::Access(r) => d.access_rules.push((m, r)),
                        ast::ModuleItem::Microflow(f) => d.microflows.push((m, f)),
                    }
                }
            }
            ast::Item::UserRole(r) => d.user_roles.push(r),
            ast::Item::App(a) => d.apps.push(a),
            ast::Item::Resource(r) => d.resources.push(r),
            ast::Item::Workflow(w) => d.workflows.push(w),
            ast::Item::Test(_) => {}
        }
    }
    for &(m, e) in &d.enumerations {
        let name = qualify(&m.name.name, &e.name.name);
        if c.program.enum_names.contains_key(&name) || c.program.entity_names.contains_key(&name) {
            c.report(CheckError::Duplicate { kind: "type", name: name.to_string() }, e.name.span);
            continue;
        }
        let mut values: Vec<SmolStr> = Vec::new();
        for v in &e.values {
            if values.contains(&v.name) {
                c.report(CheckError::Duplicate { kind: "enumeration value", name: v.name.to_string() }, v.span);
            } else {
                values.push(v.name.clone());
            }
        }
        let id = EnumId(c.program.enums.len() as u32);
        c.program.enums.push(EnumDef { name: name.clone(), values, span: e.span });
        c.program.enum_names.insert(name, id);
    }
    for &(m, e) in &d.entities {
        let name = qualify(&m.name.name, &e.name.name);
        if c.program.entity_names.contains_key(&name) || c.program.enum_names.contains_key(&name) {
            c.report(CheckError::Duplicate { kind: "entity", name: name.to_string() }, e.name.span);
            continue;
        }
        let id = EntityId(c.program.entities.len() as u32);
        c.program.entities.push(EntityDef {
            name: name.clone(),
            module: m.name.name.clone(),
            persistent: e.persistent,
            generalization: None,
            members: Vec::new(),
            owner: None,
            changed_by: None,
            created_date: None,
            changed_date: None,
            span: e.span,
        });
        c.program.entity_names.insert(name, id);
    }
    d
}

impl Checker {
    /// Resolves an entity name written in `module` (or at top level when `None`).
    pub(crate) fn resolve_entity(&mut self, name: &ast::QName, module: Option<&str>) -> Option<EntityId> {
        if let Some(id) = self.lookup_entity(name, module) {
            return Some(id);
        }
        let candidates: Vec<&str> = self.program.entity_names.keys().map(SmolStr::as_str).collect();
        let help = did_you_mean(&qualified_guess(name, module), candidates.iter().copied())
            .or_else(|| did_you_mean(name.last(), candidates.iter().copied()));
        self.report_help(CheckError::UnknownEntity { name: name.to_string() }, name.span, help);
        None
    }

    /// Looks an entity name up without reporting.
    pub(crate) fn lookup_entity(&self, name: &ast::QName, module: Option<&str>) -> Option<EntityId> {
        lookup_entity(&self.program, name, module)
    }

    /// Resolves an attribute type: a primitive or an enumeration.
    fn resolve_type(&mut self, ty: &ast::TypeRef, module: &str) -> Option<AttrType> {
        let name = ty.name.to_string();
        let primitive = match name.as_str() {
            "String" => {
                let length = match &ty.length {
                    None => None,
                    Some(n) => match n.value.to_u32().filter(|l| *l > 0 && *l <= i32::MAX as u32 && n.integer) {
                        Some(l) => Some(l),
                        None => {
                            self.report(CheckError::BadLength, n.span);
                            None
                        }
                    },
                };
                Some(AttrType::String(length))
            }
            "Integer" => Some(AttrType::Integer),
            "Long" => Some(AttrType::Long),
            "Decimal" => Some(AttrType::Decimal),
            "Boolean" => Some(AttrType::Boolean),
            "DateTime" => Some(AttrType::DateTime),
            "AutoNumber" => Some(AttrType::AutoNumber),
            "HashedString" => Some(AttrType::HashedString),
            _ => None,
        };
        if primitive.is_some() {
            return primitive;
        }
        if let Some(e) = self.lookup_enum(&ty.name, Some(module)) {
            return Some(AttrType::Enum(e));
        }
        let mut candidates: Vec<String> =
            ["String", "Integer", "Long", "Decimal", "Boolean", "DateTime", "AutoNumber", "HashedString"]
                .iter()
                .map(|s| s.to_string())
                .collect();
        candidates.extend(self.program.enum_names.keys().map(|k| k.to_string()));
        let help = did_you_mean(&name, candidates.iter().map(String::as_str));
        self.report_help(CheckError::UnknownType { name }, ty.name.span, help);
        None
    }

    /// Looks an enumeration up without reporting.
    pub(crate) fn lookup_enum(&self, name: &ast::QName, module: Option<&str>) -> Option<EnumId> {
        let full = name.to_string();
        if name.is_qualified() {
            return self.program.enum_names.get(full.as_str()).copied();
        }
        module.and_then(|m| self.program.enum_names.get(qualify(m, &full).as_str()).copied())
    }

    /// Checks a literal against an attribute type and converts it.
    pub(crate) fn literal_for(&mut self, lit: &ast::Literal, ty: AttrType) -> Option<Value> {
        let bad = |c: &mut Checker, value: String| {
            let ty = Type::of_attr(ty).describe(&c.program);
            c.report(CheckError::BadDefault { value, ty }, lit.span());
            None
        };
        match (lit, ty) {
            (ast::Literal::Empty(_), _) => None,
            (ast::Literal::String(s), AttrType::String(_) | AttrType::HashedString) => {
                Some(Value::String(s.value.clone()))
            }
            (ast::Literal::String(s), AttrType::DateTime) => match crate::time::parse_instant(&s.value) {
                Some(ms) => Some(Value::DateTime(ms)),
                None => {
                    self.report(CheckError::BadDateTime { text: s.value.clone() }, s.span);
                    None
                }
            },
            (ast::Literal::Number(n), AttrType::Integer | AttrType::Long | AttrType::AutoNumber) if n.integer => {
                match n.value.to_i64() {
                    Some(v) if ty != AttrType::Integer || i32::try_from(v).is_ok() => Some(Value::Integer(v)),
                    _ => bad(self, n.value.to_string()),
                }
            }
            (ast::Literal::Number(n), AttrType::Decimal) => Some(Value::Decimal(n.value)),
            (ast::Literal::Bool(b, _), AttrType::Boolean) => Some(Value::Boolean(*b)),
            (ast::Literal::Name(q), AttrType::Enum(e)) => {
                let def = self.program.enumeration(e);
                let value = q.last();
                // A qualified value names this enumeration: `Status.Open` or `Shop.Status.Open`.
                let prefix = q.parts[..q.parts.len() - 1].join(".");
                let prefix_ok =
                    !q.is_qualified() || def.name == prefix || def.name.rsplit('.').next() == Some(prefix.as_str());
                match def.values.iter().position(|v| v == value) {
                    Some(i) if prefix_ok => Some(Value::Enum(e, i as u32)),
                    _ => {
                        let help = did_you_mean(value, def.values.iter().map(SmolStr::as_str));
                        let enumeration = def.name.to_string();
                        self.report_help(
                            CheckError::UnknownEnumValue { name: q.to_string(), enumeration },
                            q.span,
                            help,
                        );
                        None
                    }
                }
            }
            (other, _) => {
                let text = self.program.sources.slice(other.span()).to_string();
                bad(self, text)
            }
        }
    }
}

/// Looks an entity name up: qualified, or unqualified within `module`.
pub(crate) fn lookup_entity(program: &Program, name: &ast::QName, module: Option<&str>) -> Option<EntityId> {
    let full = name.to_string();
    if name.is_qualified() {
        return program.entity_names.get(full.as_str()).copied();
    }
    module.and_then(|m| program.entity_names.get(qualify(m, &full).as_str()).copied())
}

/// The qualified name a rule author most likely meant.
fn qualified_guess(name: &ast::QName, module: Option<&str>) -> String {
    match module {
        Some(m) if !name.is_qualified() => qualify(m, &name.to_string()).to_string(),
        _ => name.to_string(),
    }
}

/// Resolves generalizations, members, stores and associations.
pub(super) fn resolve(c: &mut Checker, d: &Decls<'_>) {
    // Generalizations.
    let mut own: HashMap<EntityId, (&ast::Module, &ast::Entity)> = HashMap::new();
    for &(m, e) in &d.entities {
        let Some(id) = c.program.entity_names.get(qualify(&m.name.name, &e.name.name).as_str()).copied() else {
            continue;
        };
        if c.program.entity(id).span.same_as(&e.span) {
            own.insert(id, (m, e));
        }
    }
    let mut ids: Vec<EntityId> = own.keys().copied().collect();
    ids.sort();
    for &id in &ids {
        let (m, e) = own[&id];
        let Some(ext) = &e.extends else { continue };
        let Some(parent) = c.resolve_entity(ext, Some(&m.name.name)) else {
            c.program.poisoned_entities.insert(id);
            continue;
        };
        let entity = e.name.name.to_string();
        if c.program.is_a(parent, id) {
            c.report(CheckError::BadExtends { entity, name: ext.to_string(), why: "that makes a cycle" }, ext.span);
            c.program.poisoned_entities.insert(id);
        } else if c.program.entity(parent).persistent != e.persistent {
            let why = "one is persistent and the other is not";
            c.report(CheckError::BadExtends { entity, name: ext.to_string(), why }, ext.span);
            c.program.poisoned_entities.insert(id);
        } else {
            c.program.entities[id.index()].generalization = Some(parent);
        }
    }

    // Associations (their ends only; members are built below).
    let mut own_assocs: HashMap<EntityId, Vec<AssocId>> = HashMap::new();
    let mut assoc_names: HashMap<SmolStr, Span> = HashMap::new();
    for &(m, a) in &d.associations {
        let module = m.name.name.as_str();
        let name = qualify(module, &a.name.name);
        if assoc_names.contains_key(&name) {
            c.report(CheckError::Duplicate { kind: "association", name: name.to_string() }, a.name.span);
            continue;
        }
        assoc_names.insert(name.clone(), a.span);
        let (from, to) = (c.resolve_entity(&a.from, Some(module)), c.resolve_entity(&a.to, Some(module)));
        let (Some(from), Some(to)) = (from, to) else {
            if let Some(from) = from {
                c.program.poisoned_members.insert((from, name.clone()));
            }
            continue;
        };
        if c.program.entity(from).persistent && !c.program.entity(to).persistent {
            let (from_name, to_name) = (c.program.entity(from).name.to_string(), c.program.entity(to).name.to_string());
            c.report(CheckError::PersistentToTransient { from: from_name, to: to_name }, a.span);
            c.program.poisoned_members.insert((from, name.clone()));
            continue;
        }
        let mut def = AssocDef {
            name: name.clone(),
            from,
            to,
            multiplicity: a.multiplicity,
            on_delete_from: DeleteRule::Keep,
            on_delete_to: DeleteRule::Keep,
            system: false,
            span: a.span,
            delete_spans: (None, None),
        };
        delete_behaviours(c, &mut def, a, module);
        let id = AssocId(c.program.associations.len() as u32);
        c.program.associations.push(def);
        own_assocs.entry(from).or_default().push(id);
    }

    // Members, generalizations first so that specializations copy complete lists.
    let mut order = ids.clone();
    order.sort_by_key(|&id| depth(&c.program, id));
    for id in order {
        let (m, e) = own[&id];
        build_members(c, id, m, e, own_assocs.remove(&id).unwrap_or_default());
    }
}

fn depth(p: &Program, mut id: EntityId) -> usize {
    let mut n = 0;
    while let Some(g) = p.entity(id).generalization {
        id = g;
        n += 1;
    }
    n
}

fn delete_behaviours(c: &mut Checker, def: &mut AssocDef, a: &ast::Association, module: &str) {
    for b in &a.on_delete {
        let Some(end) = c.lookup_entity(&b.end, Some(module)) else {
            let ends = [c.program.entity(def.from).name.clone(), c.program.entity(def.to).name.clone()];
            let help = did_you_mean(&b.end.to_string(), ends.iter().map(SmolStr::as_str));
            c.report_help(
                CheckError::NotAnEnd { end: b.end.to_string(), name: def.name.to_string() },
                b.end.span,
                help,
            );
            continue;
        };
        let rule = match &b.action {
            ast::DeleteAction::Keep => DeleteRule::Keep,
            ast::DeleteAction::Cascade => DeleteRule::Cascade,
            ast::DeleteAction::Prevent(m) => DeleteRule::Prevent(m.as_ref().map(|s| s.value.clone())),
        };
        let slot = if end == def.to {
            (&mut def.on_delete_to, &mut def.delete_spans.1)
        } else if end == def.from {
            (&mut def.on_delete_from, &mut def.delete_spans.0)
        } else {
            let ends = [c.program.entity(def.from).name.clone(), c.program.entity(def.to).name.clone()];
            let help = did_you_mean(&b.end.to_string(), ends.iter().map(SmolStr::as_str))
                .or_else(|| Some(format!("the ends are `{}` and `{}`", ends[0], ends[1])));
            c.report_help(
                CheckError::NotAnEnd { end: b.end.to_string(), name: def.name.to_string() },
                b.end.span,
                help,
            );
            continue;
        };
        if slot.1.is_some() {
            let error = CheckError::DuplicateDeleteBehaviour { end: b.end.to_string(), name: def.name.to_string() };
            c.report(error, b.span);
            continue;
        }
        *slot.0 = rule;
        *slot.1 = Some(b.span);
        let conflict = matches!(
            (&def.on_delete_from, &def.on_delete_to),
            (DeleteRule::Cascade, DeleteRule::Prevent(_)) | (DeleteRule::Prevent(_), DeleteRule::Cascade)
        );
        if conflict {
            c.report_help(
                CheckError::CascadeAndPrevent { name: def.name.to_string() },
                b.span,
                Some("deleting one end would both delete and protect the other; keep one of the two".into()),
            );
        }
    }
}

fn build_members(c: &mut Checker, id: EntityId, m: &ast::Module, e: &ast::Entity, assocs: Vec<AssocId>) {
    let module = m.name.name.as_str();
    let mut members: Vec<MemberDef> = Vec::new();
    let (mut owner, mut changed_by, mut created_date, mut changed_date) = (None, None, None, None);
    if let Some(g) = c.program.entity(id).generalization {
        let parent = c.program.entity(g);
        members = parent.members.clone();
        (owner, changed_by, created_date, changed_date) =
            (parent.owner, parent.changed_by, parent.created_date, parent.changed_date);
    }
    let inherited = members.len();
    let mut seen_stores: Vec<&str> = Vec::new();
    for s in &e.stores {
        if seen_stores.contains(&s.name.as_str()) {
            c.report(CheckError::DuplicateStores { name: s.name.to_string() }, s.span);
            continue;
        }
        seen_stores.push(&s.name);
        match s.name.as_str() {
            "owner" | "changedBy" => {
                let is_owner = s.name == "owner";
                let slot = if is_owner { &mut owner } else { &mut changed_by };
                if slot.is_some() {
                    continue; // inherited from the generalization
                }
                let name: SmolStr = if is_owner { "System.owner".into() } else { "System.changedBy".into() };
                let assoc = AssocId(c.program.associations.len() as u32);
                c.program.associations.push(AssocDef {
                    name: name.clone(),
                    from: id,
                    to: SYSTEM_USER,
                    multiplicity: ast::Multiplicity::Reference,
                    on_delete_from: DeleteRule::Keep,
                    on_delete_to: DeleteRule::Keep,
                    system: true,
                    span: s.span,
                    delete_spans: (None, None),
                });
                members.push(MemberDef {
                    name,
                    kind: MemberKind::Association(assoc),
                    system: true,
                    default: None,
                    declared_in: id,
                    span: s.span,
                });
                *slot = Some(assoc);
            }
            "createdDate" | "changedDate" => {
                let slot = if s.name == "createdDate" { &mut created_date } else { &mut changed_date };
                if slot.is_none() {
                    *slot = Some(members.len());
                    members.push(MemberDef {
                        name: s.name.clone(),
                        kind: MemberKind::Attribute(AttrType::DateTime),
                        system: true,
                        default: None,
                        declared_in: id,
                        span: s.span,
                    });
                }
            }
            other => {
                let help = did_you_mean(other, ["owner", "changedBy", "createdDate", "changedDate"]);
                c.report_help(CheckError::UnknownStores { name: other.to_string() }, s.span, help);
            }
        }
    }
    for a in &e.attributes {
        let entity_name = c.program.entity(id).name.to_string();
        if let Some(existing) = members.iter().position(|x| x.name == a.name.name) {
            if existing < inherited {
                let from = c.program.entity(members[existing].declared_in).name.to_string();
                c.report(
                    CheckError::InheritedClash { name: a.name.name.to_string(), entity: entity_name, from },
                    a.name.span,
                );
            } else {
                c.report(CheckError::Duplicate { kind: "member", name: a.name.name.to_string() }, a.name.span);
            }
            continue;
        }
        let Some(ty) = c.resolve_type(&a.ty, module) else {
            c.program.poisoned_members.insert((id, a.name.name.clone()));
            continue;
        };
        let default = match &a.default {
            Some(lit) => c.literal_for(lit, ty),
            None if ty == AttrType::Boolean => Some(Value::Boolean(false)),
            None => None,
        };
        members.push(MemberDef {
            name: a.name.name.clone(),
            kind: MemberKind::Attribute(ty),
            system: false,
            default,
            declared_in: id,
            span: a.name.span,
        });
    }
    for assoc in assocs {
        let def = c.program.assoc(assoc);
        members.push(MemberDef {
            name: def.name.clone(),
            kind: MemberKind::Association(assoc),
            system: false,
            default: None,
            declared_in: id,
            span: def.span,
        });
    }
    let entity = &mut c.program.entities[id.index()];
    entity.members = members;
    (entity.owner, entity.changed_by, entity.created_date, entity.changed_date) =
        (owner, changed_by, created_date, changed_date);
}
