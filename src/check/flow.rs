//! Microflows and tests: signatures, statements, scopes and test principals.

use std::collections::{HashMap, HashSet};

use smol_str::SmolStr;

use super::suggest::did_you_mean;
use super::{qualify, CheckError, Checker, Decls};
use crate::model::*;
use crate::source::Span;
use crate::syntax::ast::{self, Expect, OpCheck, Principal, RequestTarget, Stmt, StmtKind};

/// Where statements are being checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Place {
    /// A microflow body.
    Microflow,
    /// A test or snapshot block.
    Test,
    /// A `given` block inside a test.
    Given,
}

#[derive(Clone, Copy, Debug)]
struct Var {
    ty: Type,
    assignable: bool,
}

/// The state of checking one microflow or test.
pub(crate) struct FlowCx<'c> {
    pub(crate) c: &'c mut Checker,
    pub(crate) module: Option<SmolStr>,
    place: Place,
    scopes: Vec<HashMap<SmolStr, Var>>,
    returns: Option<(Type, Span)>,
    /// Users made by `user` statements so far (tests).
    users: HashSet<SmolStr>,
    /// Microflows whose return type is being computed (to stop recursion).
    in_progress: HashSet<MicroflowId>,
    /// Users come from a store (eval, REPL): `as NAME` and `sign in NAME` are checked at run time.
    open_users: bool,
}

/// Registers every microflow with its parameters and `allow` roles.
pub(super) fn resolve_signatures(c: &mut Checker, d: &Decls<'_>) {
    for &(m, f) in &d.microflows {
        let module = m.name.name.as_str();
        let name = qualify(module, &f.name.name);
        if c.program.microflow_names.contains_key(&name) {
            c.report(CheckError::Duplicate { kind: "microflow", name: name.to_string() }, f.name.span);
            continue;
        }
        let mut params: Vec<(SmolStr, Type)> = Vec::new();
        for p in &f.params {
            if p.name.name == "currentUser" {
                c.report(CheckError::ReservedVariable, p.name.span);
            }
            if params.iter().any(|(n, _)| *n == p.name.name) {
                c.report(CheckError::Duplicate { kind: "parameter", name: p.name.name.to_string() }, p.name.span);
                continue;
            }
            let ty = param_type(c, p, module);
            params.push((p.name.name.clone(), ty));
        }
        let allow = f.allow.iter().filter_map(|r| c.resolve_module_role(r, Some(module))).collect();
        let id = MicroflowId(c.program.microflows.len() as u32);
        c.program.microflows.push(MicroflowDef {
            name: name.clone(),
            module: m.name.name.clone(),
            params,
            returns: Type::Unknown,
            allow,
            apply_access: f.apply_access,
            decl: f.clone(),
        });
        c.program.microflow_names.insert(name, id);
    }
}

fn param_type(c: &mut Checker, p: &ast::Param, module: &str) -> Type {
    let name = p.ty.to_string();
    let primitive = match name.as_str() {
        "String" | "HashedString" => Some(Type::String),
        "Integer" => Some(Type::Integer),
        "Long" | "AutoNumber" => Some(Type::Long),
        "Decimal" => Some(Type::Decimal),
        "Boolean" => Some(Type::Boolean),
        "DateTime" => Some(Type::DateTime),
        _ => None,
    };
    if let Some(t) = primitive.filter(|_| !p.list) {
        return t;
    }
    if let Some(e) = c.lookup_entity(&p.ty, Some(module)) {
        return if p.list { Type::List(e) } else { Type::Object(e) };
    }
    if let Some(e) = c.lookup_enum(&p.ty, Some(module)).filter(|_| !p.list) {
        return Type::Enum(e);
    }
    let mut names: Vec<String> =
        ["String", "Integer", "Long", "Decimal", "Boolean", "DateTime"].map(String::from).to_vec();
    names.extend(c.program.entity_names.keys().map(|k| k.to_string()));
    names.extend(c.program.enum_names.keys().map(|k| k.to_string()));
    let help = did_you_mean(&name, names.iter().map(String::as_str));
    c.report_help(CheckError::UnknownType { name }, p.ty.span, help);
    Type::Unknown
}

/// Type-checks every microflow body and records what each returns.
pub(super) fn check_bodies(c: &mut Checker, _d: &Decls<'_>) {
    for i in 0..c.program.microflows.len() {
        let id = MicroflowId(i as u32);
        let mut cx = FlowCx::new(c, None, Place::Microflow);
        cx.signature_returns(id);
    }
}

/// Type-checks every test and snapshot block.
pub(super) fn check_tests(c: &mut Checker, files: &[ast::File]) {
    let mut seen: HashMap<(bool, String), Span> = HashMap::new();
    for test in files.iter().flat_map(|f| &f.items).filter_map(|i| match i {
        ast::Item::Test(t) => Some(t),
        _ => None,
    }) {
        if seen.insert((test.snapshot, test.name.value.clone()), test.name.span).is_some() {
            c.report(CheckError::DuplicateTest { name: test.name.value.clone() }, test.name.span);
        }
        let mut cx = FlowCx::new(c, None, Place::Test);
        cx.block(&test.body.stmts);
        c.program.tests.push(test.clone());
    }
}

impl<'c> FlowCx<'c> {
    pub(crate) fn new(c: &'c mut Checker, module: Option<SmolStr>, place: Place) -> FlowCx<'c> {
        let mut top = HashMap::new();
        top.insert(SmolStr::new("currentUser"), Var { ty: Type::Object(SYSTEM_USER), assignable: false });
        FlowCx {
            c,
            module,
            place,
            scopes: vec![top],
            returns: None,
            users: HashSet::new(),
            in_progress: HashSet::new(),
            open_users: false,
        }
    }

    /// The return type of a microflow, checking its body first if that has not been done.
    pub(crate) fn signature_returns(&mut self, id: MicroflowId) -> Type {
        let def = self.c.program.microflow(id);
        if def.returns != Type::Unknown || self.in_progress.contains(&id) || self.c.checked_flows.contains(&id) {
            return def.returns;
        }
        let decl = def.decl.clone();
        let module = def.module.clone();
        let params = def.params.clone();
        let mut cx = FlowCx::new(self.c, Some(module), Place::Microflow);
        cx.in_progress = self.in_progress.clone();
        cx.in_progress.insert(id);
        for (name, ty) in params {
            cx.scopes[0].insert(name, Var { ty, assignable: true });
        }
        cx.block(&decl.body.stmts);
        let returns = cx.returns.map_or(Type::Nothing, |(t, _)| t);
        self.c.checked_flows.insert(id);
        self.c.program.microflows[id.index()].returns = returns;
        returns
    }

    pub(crate) fn lookup(&self, name: &str) -> Option<Type> {
        self.scopes.iter().rev().find_map(|s| s.get(name)).map(|v| v.ty)
    }

    pub(crate) fn names_in_scope(&self) -> Vec<SmolStr> {
        self.scopes.iter().flat_map(|s| s.keys().cloned()).collect()
    }

    pub(crate) fn all_vars(&self) -> HashMap<SmolStr, Type> {
        self.scopes.iter().flat_map(|s| s.iter().map(|(k, v)| (k.clone(), v.ty))).collect()
    }

    fn declare(&mut self, var: &ast::Ident, ty: Type, assignable: bool) {
        if var.name == "currentUser" {
            self.c.report(CheckError::ReservedVariable, var.span);
            return;
        }
        if self.lookup(&var.name).is_some() {
            self.c.report(CheckError::Redeclared { name: var.name.to_string() }, var.span);
            return;
        }
        let ty = if ty == Type::Empty { Type::Unknown } else { ty };
        self.scopes.last_mut().expect("a scope").insert(var.name.clone(), Var { ty, assignable });
    }

    fn scoped(&mut self, stmts: &[Stmt]) {
        self.scopes.push(HashMap::new());
        self.block(stmts);
        self.scopes.pop();
    }

    pub(crate) fn block(&mut self, stmts: &[Stmt]) {
        for s in stmts {
            self.stmt(s);
        }
    }

    fn test_only(&mut self, what: &'static str, span: Span) -> bool {
        if self.place == Place::Microflow {
            self.c.report(CheckError::TestStatementInMicroflow { what }, span);
            return false;
        }
        true
    }

    fn stmt(&mut self, s: &Stmt) {
        match &s.kind {
            StmtKind::Let { var, value } => {
                let ty = self.expr(value);
                let ty = if ty == Type::Nothing {
                    let expected = "a value".to_string();
                    self.c.report(
                        CheckError::WrongType { expected, found: "a call that returns nothing".into() },
                        value.span,
                    );
                    Type::Unknown
                } else {
                    ty
                };
                self.declare(var, ty, true);
            }
            StmtKind::Assign { var, value } => {
                let ty = self.expr(value);
                let found = self.scopes.iter().rev().find_map(|sc| sc.get(&var.name)).copied();
                match found {
                    None => {
                        self.variable(var);
                    }
                    Some(v) if !v.assignable => {
                        self.c.report(CheckError::NotAssignable { name: var.name.to_string() }, var.span);
                    }
                    Some(v) => self.expect_type(v.ty, ty, value.span),
                }
            }
            StmtKind::Change { target, values } => match self.expr(target) {
                Type::Object(e) => self.member_values(e, values),
                Type::Unknown => {
                    for v in values {
                        self.expr(&v.value);
                    }
                }
                other => {
                    let found = other.describe(&self.c.program);
                    self.c.report(CheckError::WrongType { expected: "an object".into(), found }, target.span);
                }
            },
            StmtKind::Commit(e) | StmtKind::Delete(e) | StmtKind::Rollback(e) => {
                let ty = self.expr(e);
                if !matches!(ty, Type::Object(_) | Type::List(_) | Type::Unknown | Type::Empty) {
                    let found = ty.describe(&self.c.program);
                    self.c.report(CheckError::WrongType { expected: "an object or a list".into(), found }, e.span);
                }
            }
            StmtKind::For { var, list, body } => {
                let element = match self.expr(list) {
                    Type::List(e) => Type::Object(e),
                    Type::Unknown | Type::Empty => Type::Unknown,
                    other => {
                        let found = other.describe(&self.c.program);
                        self.c.report(CheckError::WrongType { expected: "a list".into(), found }, list.span);
                        Type::Unknown
                    }
                };
                self.scopes.push(HashMap::new());
                self.declare(var, element, false);
                self.block(&body.stmts);
                self.scopes.pop();
            }
            StmtKind::If { cond, then, otherwise } => {
                let ty = self.expr(cond);
                self.expect_type(Type::Boolean, ty, cond.span);
                self.scoped(&then.stmts);
                if let Some(other) = otherwise {
                    self.stmt(other);
                }
            }
            StmtKind::Block(b) => self.scoped(&b.stmts),
            StmtKind::Return(value) => {
                if self.place != Place::Microflow {
                    self.c.report(CheckError::Misplaced { what: "`return` (outside a microflow)" }, s.span);
                    return;
                }
                let ty = value.as_ref().map_or(Type::Nothing, |v| self.expr(v));
                match self.returns {
                    None => self.returns = Some((ty, s.span)),
                    Some((first, _)) => {
                        let joined = if self.fits(first, ty) {
                            Some(first)
                        } else if self.fits(ty, first) {
                            Some(ty)
                        } else {
                            None
                        };
                        match joined {
                            Some(t) => self.returns = Some((t, s.span)),
                            None => {
                                let (first, second) = (first.describe(&self.c.program), ty.describe(&self.c.program));
                                self.c.report(CheckError::InconsistentReturn { first, second }, s.span);
                            }
                        }
                    }
                }
            }
            StmtKind::Log(e) | StmtKind::Error(e) => {
                self.expr(e);
            }
            StmtKind::Expr(e) => {
                self.expr(e);
            }
            StmtKind::Now(t) => {
                if self.test_only("now", s.span) && crate::time::parse_instant(&t.value).is_none() {
                    self.c.report(CheckError::BadDateTime { text: t.value.clone() }, t.span);
                }
            }
            StmtKind::Given(b) => {
                if !self.test_only("given", s.span) {
                    return;
                }
                if self.place == Place::Given {
                    self.c.report(CheckError::Misplaced { what: "`given` inside `given`" }, s.span);
                }
                // A given block's variables stay in scope for the rest of the test.
                self.place = Place::Given;
                self.block(&b.stmts);
                self.place = Place::Test;
            }
            StmtKind::User { name, roles, entity } => self.user(s.span, name, roles, entity.as_ref()),
            StmtKind::As(p) => {
                if self.test_only("as", s.span) {
                    self.principal(p, s.span);
                }
            }
            StmtKind::SignIn(user) => {
                if self.test_only("sign in", s.span) {
                    self.known_user(user);
                }
            }
            StmtKind::SetAccess(_) => {
                self.test_only("set access", s.span);
            }
            StmtKind::Matrix => {
                self.test_only("matrix", s.span);
            }
            StmtKind::Explain(op) => {
                if self.test_only("explain", s.span) {
                    self.op_check(op);
                }
            }
            StmtKind::Expect(e) => {
                if self.test_only("expect", s.span) {
                    self.expect(e);
                }
            }
        }
    }

    fn user(
        &mut self,
        span: Span,
        name: &ast::Ident,
        roles: &[ast::Ident],
        entity: Option<&(ast::QName, Vec<ast::MemberValue>)>,
    ) {
        if !self.test_only("user", span) {
            return;
        }
        if self.place != Place::Given {
            self.c.report_help(
                CheckError::Misplaced { what: "`user` (outside `given`)" },
                span,
                Some("put it in a `given { ... }` block".into()),
            );
        }
        for r in roles {
            if let Some(id) = self.c.resolve_user_role(r) {
                if self.c.program.app.anonymous == Some(id) {
                    let error =
                        CheckError::AnonymousMisuse { name: r.name.to_string(), why: "cannot be given to a user" };
                    self.c.report(error, r.span);
                }
            }
        }
        let mut ty = Type::Object(SYSTEM_USER);
        if let Some((q, values)) = entity {
            if let Some(e) = self.c.resolve_entity(q, None) {
                if self.c.program.is_a(e, SYSTEM_USER) {
                    ty = Type::Object(e);
                    self.member_values(e, values);
                } else {
                    self.c.report(CheckError::NotAUserEntity { name: q.to_string() }, q.span);
                    ty = Type::Unknown;
                }
            } else {
                ty = Type::Unknown;
            }
        }
        if !self.users.insert(name.name.clone()) {
            self.c.report(CheckError::Duplicate { kind: "user", name: name.name.to_string() }, name.span);
            return;
        }
        self.declare(name, ty, true);
    }

    /// Lets `as NAME` name any user: they come from a store.
    pub(crate) fn open_users(&mut self) {
        self.open_users = true;
    }

    /// Binds a variable of an earlier statement.
    pub(crate) fn bind(&mut self, name: &SmolStr, ty: Type) {
        self.scopes[0].insert(name.clone(), Var { ty, assignable: true });
    }

    fn known_user(&mut self, user: &ast::Ident) {
        if self.open_users || self.users.contains(&user.name) {
            return;
        }
        let help = did_you_mean(&user.name, self.users.iter().map(SmolStr::as_str));
        self.c.report_help(CheckError::UnknownUser { name: user.name.to_string() }, user.span, help);
    }

    fn principal(&mut self, p: &Principal, span: Span) {
        match p {
            Principal::System => {}
            Principal::User(u) => self.known_user(u),
            Principal::Anonymous(_) => {
                if self.c.program.app.anonymous.is_none() && !self.c.program.anonymous_unresolved {
                    let help = "add `anonymous: ROLE` to the app".to_string();
                    self.c.report_help(
                        CheckError::Misplaced { what: "`as anonymous` (the app has no anonymous user role)" },
                        span,
                        Some(help),
                    );
                }
            }
        }
    }

    fn expect(&mut self, e: &Expect) {
        match e {
            Expect::Holds(expr) => {
                let ty = self.expr(expr);
                self.expect_type(Type::Boolean, ty, expr.span);
            }
            Expect::Decision { op, .. } => self.op_check(op),
            Expect::SignInCall(flow) => {
                self.c.resolve_microflow(flow, None);
            }
            Expect::Error { body, .. } => self.scoped(&body.stmts),
            Expect::Request { request, status, status_span, .. } => {
                self.request(request, request.span);
                if !(100..=599).contains(status) {
                    let code = self.c.program.sources.slice(*status_span).to_string();
                    self.c.report(CheckError::BadStatus { code }, *status_span);
                }
            }
            Expect::Component { component, kind, resource, .. } => {
                let Some(id) = self.resource(*kind, resource) else { return };
                let def = &self.c.program.resources[id.index()];
                if !def.components.iter().any(|c| c.name == component.name) {
                    let help = did_you_mean(&component.name, def.components.iter().map(|c| c.name.as_str()));
                    let error = CheckError::UnknownComponent {
                        name: component.name.to_string(),
                        resource: format!("{} `{}`", kind.as_str(), def.name),
                    };
                    self.c.report_help(error, component.span, help);
                }
            }
        }
    }

    fn op_check(&mut self, op: &OpCheck) {
        match op {
            OpCheck::Read(path) => {
                self.member_path(path);
            }
            OpCheck::Write(path) => {
                self.member_path(path);
                if path.steps.is_empty() {
                    let found = "an object".to_string();
                    self.c.report(
                        CheckError::WrongType { expected: "a member, such as `$cart/Total`".into(), found },
                        path.span,
                    );
                }
            }
            OpCheck::Delete(e) => {
                let ty = self.expr(e);
                if !matches!(ty, Type::Object(_) | Type::Unknown) {
                    let found = ty.describe(&self.c.program);
                    self.c.report(CheckError::WrongType { expected: "an object".into(), found }, e.span);
                }
            }
            OpCheck::Create(entity) => {
                self.c.resolve_entity(entity, None);
            }
            OpCheck::Call(flow) => {
                self.c.resolve_microflow(flow, None);
            }
        }
    }

    fn resource(&mut self, kind: ast::ResourceKind, name: &ast::Ident) -> Option<ResourceId> {
        if let Some(id) = self.c.program.resource_by_name(kind, &name.name) {
            return Some(id);
        }
        let names: Vec<&str> =
            self.c.program.resources.iter().filter(|r| r.kind == kind).map(|r| r.name.as_str()).collect();
        let help = did_you_mean(&name.name, names);
        let error = CheckError::UnknownResource { kind: kind.as_str().into(), name: name.name.to_string() };
        self.c.report_help(error, name.span, help);
        None
    }

    pub(crate) fn request(&mut self, r: &ast::Request, span: Span) {
        if !self.test_only("request", span) {
            return;
        }
        match &r.target {
            RequestTarget::StartProcess(n) => {
                self.resource(ast::ResourceKind::Process, n);
            }
            RequestTarget::StartUiFlow(n) => {
                self.resource(ast::ResourceKind::UiFlow, n);
            }
            RequestTarget::StartWorkflow(n, var) => {
                if !self.c.program.workflows.contains(&n.name) {
                    let help = did_you_mean(&n.name, self.c.program.workflows.iter().map(SmolStr::as_str));
                    self.c.report_help(CheckError::UnknownWorkflow { name: n.name.to_string() }, n.span, help);
                }
                self.instance_var(var);
            }
            RequestTarget::Instance { instance, .. } => self.instance_var(instance),
            RequestTarget::Global(..) => {}
        }
    }

    fn instance_var(&mut self, var: &ast::Ident) {
        let ty = self.variable(var);
        if !matches!(ty, Type::Instance | Type::Unknown) {
            let found = ty.describe(&self.c.program);
            let expected = "an instance returned by `request start ...`".to_string();
            self.c.report(CheckError::WrongType { expected, found }, var.span);
        }
    }
}
