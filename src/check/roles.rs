//! Module roles, user roles and the app's security settings.

use smol_str::SmolStr;

use super::{qualify, CheckError, Checker, Decls};
use crate::diagnostic::suggest::did_you_mean;
use crate::model::*;
use crate::syntax::ast;

/// Registers module roles and resolves user roles.
pub(super) fn resolve(c: &mut Checker, d: &Decls<'_>) {
    for &(m, r) in &d.module_roles {
        let name = qualify(&m.name.name, &r.name);
        if c.program.module_role_names.contains_key(&name) {
            c.report(CheckError::Duplicate { kind: "module role", name: name.to_string() }, r.span);
            continue;
        }
        let id = ModuleRoleId(c.program.module_roles.len() as u32);
        c.program.module_roles.push(ModuleRoleDef { name: name.clone(), span: r.span });
        c.program.module_role_names.insert(name, id);
    }
    for r in &d.user_roles {
        if c.program.user_role_names.contains_key(&r.name.name) {
            c.report(CheckError::Duplicate { kind: "user role", name: r.name.name.to_string() }, r.name.span);
            continue;
        }
        let mut module_roles = Vec::new();
        let mut module_role_spans = Vec::new();
        for q in &r.module_roles {
            if let Some(id) = c.resolve_module_role(q, None) {
                if !module_roles.contains(&id) {
                    module_roles.push(id);
                    module_role_spans.push(q.span);
                }
            }
        }
        let id = UserRoleId(c.program.user_roles.len() as u32);
        c.program.user_roles.push(UserRoleDef {
            name: r.name.name.clone(),
            module_roles,
            module_role_spans,
            anonymous: false,
            span: r.span,
        });
        c.program.user_role_names.insert(r.name.name.clone(), id);
    }
    for r in &d.user_roles {
        if let Some(ast::Manages::Roles(roles)) = &r.manages {
            for m in roles {
                c.resolve_user_role(m);
            }
        }
    }
}

/// Checks the app: one of it, its anonymous role, its gate and its sign-in microflow.
pub(super) fn check_app(c: &mut Checker, d: &Decls<'_>) {
    for extra in d.apps.iter().skip(1) {
        c.report(CheckError::SecondApp { name: extra.name.name.to_string() }, extra.name.span);
    }
    let Some(app) = d.apps.first() else { return };
    c.program.app.name = app.name.name.clone();
    c.program.app.span = Some(app.span);
    if let Some(anon) = &app.anonymous {
        c.program.anonymous_unresolved = c.program.user_role_by_name(&anon.name).is_none();
        if let Some(id) = c.resolve_user_role(anon) {
            c.program.app.anonymous = Some(id);
            c.program.user_roles[id.index()].anonymous = true;
            for r in &d.user_roles {
                match &r.manages {
                    Some(ast::Manages::Roles(roles)) => {
                        for m in roles.iter().filter(|m| m.name == anon.name) {
                            let error =
                                CheckError::AnonymousMisuse { name: anon.name.to_string(), why: "cannot be managed" };
                            c.report(error, m.span);
                        }
                    }
                    Some(ast::Manages::All(_)) | None => {}
                }
            }
        }
    }
    if let Some((level, span)) = app.access {
        c.program.app.access = level;
        if level == ast::AccessLevel::Public && app.anonymous.is_none() {
            let help = match c.program.user_roles.first() {
                Some(r) => format!(
                    "add `anonymous: ROLE` to the app (for example `anonymous: {}`), or make it `access: invited`",
                    r.name
                ),
                None => "declare a user role for anonymous users and name it with `anonymous:`".to_string(),
            };
            c.report_help(CheckError::PublicWithoutAnonymous, span, Some(help));
        }
    }
    if let Some(flow) = &app.sign_in {
        let Some(id) = c.resolve_microflow(flow, None) else { return };
        c.program.app.sign_in = Some(id);
        let def = c.program.microflow(id);
        let fits = |(name, ty): &(SmolStr, Type), want: &str| {
            name == want && matches!(ty, Type::Object(e) if c.program.is_a(*e, SYSTEM_USER))
        };
        let ok = def.params.len() == 2 && fits(&def.params[0], "AnonymousUser") && fits(&def.params[1], "SignedInUser");
        if !ok {
            let name = def.name.to_string();
            let help = format!(
                "declare it as `microflow {}(AnonymousUser: System.User, SignedInUser: System.User)`",
                def.name.rsplit('.').next().unwrap_or(&def.name)
            );
            // E0302 is the one diagnostic: the body is checked as if the parameters it
            // names with the wrong type had no type, so their uses add no follow-on errors.
            let is_user = |ty: &Type| matches!(ty, Type::Object(e) if c.program.is_a(*e, SYSTEM_USER));
            let wrong: Vec<usize> = def
                .params
                .iter()
                .enumerate()
                .filter(|(_, (n, ty))| matches!(n.as_str(), "AnonymousUser" | "SignedInUser") && !is_user(ty))
                .map(|(i, _)| i)
                .collect();
            c.report_help(CheckError::BadSignInSignature { name }, flow.span, Some(help));
            for i in wrong {
                c.program.microflows[id.index()].params[i].1 = Type::Unknown;
            }
        } else if app.anonymous.is_none() {
            let help = "add `anonymous: ROLE` to the app, or remove `sign-in:`".to_string();
            c.report_help(CheckError::SignInWithoutAnonymous, flow.span, Some(help));
        }
    }
}

impl Checker {
    /// Resolves a module role: qualified, or unqualified within `module`
    /// (at top level an unqualified name resolves when exactly one module has it).
    pub(crate) fn resolve_module_role(&mut self, name: &ast::QName, module: Option<&str>) -> Option<ModuleRoleId> {
        let full = name.to_string();
        let found = if name.is_qualified() {
            self.program.module_role_names.get(full.as_str()).copied()
        } else if let Some(m) = module {
            self.program.module_role_names.get(qualify(m, &full).as_str()).copied()
        } else {
            let matches: Vec<ModuleRoleId> = self
                .program
                .module_role_names
                .iter()
                .filter(|(k, _)| k.rsplit('.').next() == Some(full.as_str()))
                .map(|(_, v)| *v)
                .collect();
            (matches.len() == 1).then(|| matches[0])
        };
        if found.is_some() {
            return found;
        }
        let mut candidates: Vec<&str> = self
            .program
            .module_role_names
            .keys()
            .map(SmolStr::as_str)
            .filter(|k| module.is_none_or(|m| k.starts_with(&format!("{m}."))))
            .collect();
        candidates.sort();
        let help = did_you_mean(&full, candidates.iter().copied()).map(|h| match module {
            // Inside a module, suggest the name as it would be written there.
            Some(m) => h.replace(&format!("`{m}."), "`"),
            None => h,
        });
        self.report_help(CheckError::UnknownModuleRole { name: full }, name.span, help);
        None
    }

    /// Resolves a user role by name.
    pub(crate) fn resolve_user_role(&mut self, name: &ast::Ident) -> Option<UserRoleId> {
        if let Some(id) = self.program.user_role_names.get(&name.name) {
            return Some(*id);
        }
        let candidates: Vec<&str> = self.program.user_roles.iter().map(|r| r.name.as_str()).collect();
        let help = did_you_mean(&name.name, candidates);
        self.report_help(CheckError::UnknownUserRole { name: name.name.to_string() }, name.span, help);
        None
    }

    /// Resolves a microflow: qualified, or unqualified within `module`.
    pub(crate) fn resolve_microflow(&mut self, name: &ast::QName, module: Option<&str>) -> Option<MicroflowId> {
        let full = name.to_string();
        let key = match module {
            Some(m) if !name.is_qualified() => qualify(m, &full),
            _ => SmolStr::new(&full),
        };
        if let Some(id) = self.program.microflow_names.get(&key) {
            return Some(*id);
        }
        let candidates: Vec<&str> = self.program.microflow_names.keys().map(SmolStr::as_str).collect();
        let help = did_you_mean(&key, candidates);
        self.report_help(CheckError::UnknownMicroflow { name: full }, name.span, help);
        None
    }
}
