//! Microflows and tests: signatures, statements, scopes and test principals.

use std::collections::{HashMap, HashSet};

use smol_str::SmolStr;

use super::{qualify, CheckError, Checker, Decls};
use crate::diagnostic::suggest::did_you_mean;
use crate::model::flow;
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
    slot: flow::Slot,
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
    /// The frame's variables, by slot.
    pub(crate) frame: flow::Scope,
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
            body: flow::Block::default(),
            scope: flow::Scope::default(),
            span: f.span,
            header: f.header,
            name_span: f.name.span,
        });
        c.decls_of_flows.push(f.clone());
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
        let body = cx.block(&test.body.stmts);
        let scope = std::mem::take(&mut cx.frame);
        c.program.tests.push(flow::TestDef {
            name: test.name.value.clone(),
            name_span: test.name.span,
            snapshot: test.snapshot,
            body,
            scope,
            span: test.span,
        });
    }
}

impl<'c> FlowCx<'c> {
    pub(crate) fn new(c: &'c mut Checker, module: Option<SmolStr>, place: Place) -> FlowCx<'c> {
        FlowCx {
            c,
            module,
            place,
            scopes: vec![HashMap::new()],
            returns: None,
            users: HashSet::new(),
            in_progress: HashSet::new(),
            open_users: false,
            frame: flow::Scope::default(),
        }
    }

    /// The return type of a microflow, checking its body first if that has not been done.
    pub(crate) fn signature_returns(&mut self, id: MicroflowId) -> Type {
        let def = self.c.program.microflow(id);
        if def.returns != Type::Unknown || self.in_progress.contains(&id) || self.c.checked_flows.contains(&id) {
            return def.returns;
        }
        let decl = self.c.decls_of_flows[id.index()].clone();
        let module = def.module.clone();
        let params = def.params.clone();
        let mut cx = FlowCx::new(self.c, Some(module), Place::Microflow);
        cx.in_progress = self.in_progress.clone();
        cx.in_progress.insert(id);
        // Parameters take the first slots, in order.
        for (name, ty) in params {
            cx.bind(&name, ty);
        }
        let body = cx.block(&decl.body.stmts);
        let returns = cx.returns.map_or(Type::Nothing, |(t, _)| t);
        let scope = std::mem::take(&mut cx.frame);
        self.c.checked_flows.insert(id);
        let def = &mut self.c.program.microflows[id.index()];
        def.returns = returns;
        def.body = body;
        def.scope = scope;
        returns
    }

    pub(crate) fn lookup(&self, name: &str) -> Option<Type> {
        if name == "currentUser" {
            return Some(Type::Object(SYSTEM_USER));
        }
        self.scopes.iter().rev().find_map(|s| s.get(name)).map(|v| v.ty)
    }

    /// A variable's type and slot.
    pub(crate) fn lookup_slot(&self, name: &str) -> Option<(Type, flow::Slot)> {
        self.scopes.iter().rev().find_map(|s| s.get(name)).map(|v| (v.ty, v.slot))
    }

    pub(crate) fn names_in_scope(&self) -> Vec<SmolStr> {
        let mut names: Vec<SmolStr> = self.scopes.iter().flat_map(|s| s.keys().cloned()).collect();
        names.push(SmolStr::new("currentUser"));
        names
    }

    /// The variables in scope with their types and slots (`$currentUser` aside: XPath reads it
    /// as the `[%CurrentUser%]` token).
    pub(crate) fn slots_in_scope(&self) -> HashMap<SmolStr, (Type, flow::Slot)> {
        let mut out = HashMap::new();
        for scope in &self.scopes {
            for (k, v) in scope {
                out.insert(k.clone(), (v.ty, v.slot));
            }
        }
        out
    }

    /// Declares a variable in the innermost scope: a new slot of the frame.
    fn declare(&mut self, var: &ast::Ident, ty: Type, assignable: bool) -> Option<flow::Var> {
        if var.name == "currentUser" {
            self.c.report(CheckError::ReservedVariable, var.span);
            return None;
        }
        if self.lookup(&var.name).is_some() {
            self.c.report(CheckError::Redeclared { name: var.name.to_string() }, var.span);
            return None;
        }
        let ty = if ty == Type::Empty { Type::Unknown } else { ty };
        let slot = self.frame.push(var.name.clone(), ty);
        // INVARIANT: there is always a scope; `scoped` pushes and pops in pairs.
        #[expect(clippy::expect_used, reason = "an invariant of the checker's scopes")]
        let scope = self.scopes.last_mut().expect("a scope");
        scope.insert(var.name.clone(), Var { ty, assignable, slot });
        Some(flow::Var { slot, name: var.name.clone(), span: var.span })
    }

    fn scoped(&mut self, stmts: &[Stmt]) -> flow::Block {
        self.scopes.push(HashMap::new());
        let block = self.block(stmts);
        self.scopes.pop();
        block
    }

    pub(crate) fn block(&mut self, stmts: &[Stmt]) -> flow::Block {
        flow::Block { stmts: stmts.iter().map(|s| self.stmt(s)).collect() }
    }

    fn test_only(&mut self, what: &'static str, span: Span) -> bool {
        if self.place == Place::Microflow {
            self.c.report(CheckError::TestStatementInMicroflow { what }, span);
            return false;
        }
        true
    }

    fn stmt(&mut self, s: &Stmt) -> flow::Stmt {
        let kind = self.stmt_kind(s);
        flow::Stmt { kind, span: s.span }
    }

    fn stmt_kind(&mut self, s: &Stmt) -> flow::StmtKind {
        use flow::StmtKind as F;
        match &s.kind {
            StmtKind::Let { var, value } => {
                let (ty, ve) = self.expr(value);
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
                match self.declare(var, ty, true) {
                    Some(var) => F::Set { var, value: ve },
                    None => F::Invalid,
                }
            }
            StmtKind::Assign { var, value } => {
                let (ty, ve) = self.expr(value);
                let found = self.scopes.iter().rev().find_map(|sc| sc.get(&var.name)).copied();
                match found {
                    None if var.name == "currentUser" => {
                        self.c.report(CheckError::NotAssignable { name: var.name.to_string() }, var.span);
                        F::Invalid
                    }
                    None => {
                        self.variable(var);
                        F::Invalid
                    }
                    Some(v) if !v.assignable => {
                        self.c.report(CheckError::NotAssignable { name: var.name.to_string() }, var.span);
                        F::Invalid
                    }
                    Some(v) => {
                        self.expect_type(v.ty, ty, value.span);
                        F::Set { var: flow::Var { slot: v.slot, name: var.name.clone(), span: var.span }, value: ve }
                    }
                }
            }
            StmtKind::Change { target, values } => {
                let (ty, te) = self.expr(target);
                let values = match ty {
                    Type::Object(e) => self.member_values(e, values),
                    Type::Unknown => self.dynamic_member_values(values),
                    other => {
                        let found = other.describe(&self.c.program);
                        self.c.report(CheckError::WrongType { expected: "an object".into(), found }, target.span);
                        return F::Invalid;
                    }
                };
                F::Change { target: te, values }
            }
            StmtKind::Commit(e) | StmtKind::Delete(e) | StmtKind::Rollback(e) => {
                let (ty, ee) = self.expr(e);
                if !matches!(ty, Type::Object(_) | Type::List(_) | Type::Unknown | Type::Empty) {
                    let found = ty.describe(&self.c.program);
                    self.c.report(CheckError::WrongType { expected: "an object or a list".into(), found }, e.span);
                }
                if matches!(s.kind, StmtKind::Commit(_)) {
                    F::Commit(ee)
                } else if matches!(s.kind, StmtKind::Delete(_)) {
                    F::Delete(ee)
                } else {
                    F::Rollback(ee)
                }
            }
            StmtKind::For { var, list, body } => {
                let (ty, le) = self.expr(list);
                let element = match ty {
                    Type::List(e) => Type::Object(e),
                    Type::Unknown | Type::Empty => Type::Unknown,
                    other => {
                        let found = other.describe(&self.c.program);
                        self.c.report(CheckError::WrongType { expected: "a list".into(), found }, list.span);
                        Type::Unknown
                    }
                };
                self.scopes.push(HashMap::new());
                let var = self.declare(var, element, false);
                let body = self.block(&body.stmts);
                self.scopes.pop();
                match var {
                    Some(var) => F::For { var, list: le, body },
                    None => F::Invalid,
                }
            }
            StmtKind::If { cond, then, otherwise } => {
                let (ty, ce) = self.expr(cond);
                self.expect_type(Type::Boolean, ty, cond.span);
                let then = self.scoped(&then.stmts);
                let otherwise = otherwise.as_ref().map(|other| Box::new(self.stmt(other)));
                F::If { cond: ce, then, otherwise }
            }
            StmtKind::Block(b) => F::Block(self.scoped(&b.stmts)),
            StmtKind::Return(value) => {
                if self.place != Place::Microflow {
                    self.c.report(CheckError::Misplaced { what: "`return`", place: "outside a microflow" }, s.span);
                    return F::Invalid;
                }
                let (ty, ve) = match value {
                    Some(v) => {
                        let (t, e) = self.expr(v);
                        (t, Some(e))
                    }
                    None => (Type::Nothing, None),
                };
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
                F::Return(ve)
            }
            StmtKind::Log(e) => F::Log(self.expr(e).1),
            StmtKind::Error(e) => F::Error(self.expr(e).1),
            StmtKind::Expr(e) => F::Expr(self.expr(e).1),
            StmtKind::Now(t) => {
                if !self.test_only("now", s.span) {
                    return F::Invalid;
                }
                match crate::time::parse_instant(&t.value) {
                    Some(ms) => F::Now(ms),
                    None => {
                        self.c.report(CheckError::BadDateTime { text: t.value.clone() }, t.span);
                        F::Invalid
                    }
                }
            }
            StmtKind::Given(b) => {
                if !self.test_only("given", s.span) {
                    return F::Invalid;
                }
                if self.place == Place::Given {
                    self.c.report(CheckError::Misplaced { what: "`given`", place: "inside `given`" }, s.span);
                }
                // A given block's variables stay in scope for the rest of the test.
                self.place = Place::Given;
                let block = self.block(&b.stmts);
                self.place = Place::Test;
                F::Given(block)
            }
            StmtKind::User { name, roles, entity } => self.user(s.span, name, roles, entity.as_ref()),
            StmtKind::As(p) => {
                if self.test_only("as", s.span) {
                    self.principal(p, s.span)
                } else {
                    F::Invalid
                }
            }
            StmtKind::SignIn(user) => {
                if self.test_only("sign in", s.span) {
                    self.known_user(user);
                    F::SignIn { user: user.name.clone(), span: user.span }
                } else {
                    F::Invalid
                }
            }
            StmtKind::SetAccess(level) => {
                if self.test_only("set access", s.span) {
                    F::SetAccess(*level)
                } else {
                    F::Invalid
                }
            }
            StmtKind::Matrix => {
                if self.test_only("matrix", s.span) {
                    F::Matrix
                } else {
                    F::Invalid
                }
            }
            StmtKind::Explain(op) => {
                if !self.test_only("explain", s.span) {
                    return F::Invalid;
                }
                self.op_check(op).map_or(F::Invalid, F::Explain)
            }
            StmtKind::Expect(e) => {
                if !self.test_only("expect", s.span) {
                    return F::Invalid;
                }
                self.expect(e).map_or(F::Invalid, F::Expect)
            }
        }
    }

    fn user(
        &mut self,
        span: Span,
        name: &ast::Ident,
        roles: &[ast::Ident],
        entity: Option<&(ast::QName, Vec<ast::MemberValue>)>,
    ) -> flow::StmtKind {
        if !self.test_only("user", span) {
            return flow::StmtKind::Invalid;
        }
        if self.place != Place::Given {
            self.c.report_help(
                CheckError::Misplaced { what: "`user`", place: "outside `given`" },
                span,
                Some("put it in a `given { ... }` block".into()),
            );
        }
        let mut role_ids = Vec::new();
        for r in roles {
            if let Some(id) = self.c.resolve_user_role(r) {
                if self.c.program.app.anonymous == Some(id) {
                    let error =
                        CheckError::AnonymousMisuse { name: r.name.to_string(), why: "cannot be given to a user" };
                    self.c.report(error, r.span);
                }
                role_ids.push(id);
            }
        }
        let mut ty = Type::Object(SYSTEM_USER);
        let mut user_entity = SYSTEM_USER;
        let mut values = Vec::new();
        if let Some((q, member_values)) = entity {
            if let Some(e) = self.c.resolve_entity(q, None) {
                if self.c.program.is_a(e, SYSTEM_USER) {
                    ty = Type::Object(e);
                    user_entity = e;
                    values = self.member_values(e, member_values);
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
            return flow::StmtKind::Invalid;
        }
        match self.declare(name, ty, true) {
            Some(var) => {
                flow::StmtKind::User { var, name: name.name.clone(), roles: role_ids, entity: user_entity, values }
            }
            None => flow::StmtKind::Invalid,
        }
    }

    /// Lets `as NAME` name any user: they come from a store.
    pub(crate) fn open_users(&mut self) {
        self.open_users = true;
    }

    /// Binds a variable of an earlier statement (or a microflow's parameter): the next slot.
    pub(crate) fn bind(&mut self, name: &SmolStr, ty: Type) {
        let slot = self.frame.push(name.clone(), ty);
        self.scopes[0].insert(name.clone(), Var { ty, assignable: true, slot });
    }

    fn known_user(&mut self, user: &ast::Ident) {
        if self.open_users || self.users.contains(&user.name) {
            return;
        }
        let help = did_you_mean(&user.name, self.users.iter().map(SmolStr::as_str));
        self.c.report_help(CheckError::UnknownUser { name: user.name.to_string() }, user.span, help);
    }

    fn principal(&mut self, p: &Principal, span: Span) -> flow::StmtKind {
        match p {
            Principal::System => flow::StmtKind::As(flow::Principal::System),
            Principal::User(u) => {
                self.known_user(u);
                flow::StmtKind::As(flow::Principal::User { name: u.name.clone(), span: u.span })
            }
            Principal::Anonymous(name) => {
                if self.c.program.app.anonymous.is_none() && !self.c.program.anonymous_unresolved {
                    let help = match self.c.program.app.span {
                        Some(_) => "add `anonymous: ROLE` to the app, with a user role for visitors".to_string(),
                        None => {
                            "declare an app with a user role for visitors: `app NAME { anonymous: ROLE }`".to_string()
                        }
                    };
                    self.c.report_help(
                        CheckError::Misplaced {
                            what: "`as anonymous`",
                            place: "here: the app has no anonymous user role, so there are no anonymous users",
                        },
                        span,
                        Some(help),
                    );
                    return flow::StmtKind::Invalid;
                }
                flow::StmtKind::As(flow::Principal::Anonymous(name.as_ref().map(|n| n.value.clone())))
            }
        }
    }

    fn expect(&mut self, e: &Expect) -> Option<flow::Expect> {
        Some(match e {
            Expect::Holds(expr) => {
                let (ty, ee) = self.expr(expr);
                self.expect_type(Type::Boolean, ty, expr.span);
                flow::Expect::Holds(ee)
            }
            Expect::Decision { op, allow } => flow::Expect::Decision { allow: *allow, op: self.op_check(op)? },
            Expect::SignInCall(flow) => flow::Expect::SignInCall(self.c.resolve_microflow(flow, None)?),
            Expect::Error { body, text } => {
                flow::Expect::Error { text: text.as_ref().map(|t| t.value.clone()), body: self.scoped(&body.stmts) }
            }
            Expect::Request { request, status, status_span, detail } => {
                let resolved = self.request(request, request.span);
                if !(100..=599).contains(status) {
                    let code = self.c.program.sources.slice(*status_span).to_string();
                    self.c.report(CheckError::BadStatus { code }, *status_span);
                }
                flow::Expect::Request {
                    request: resolved?,
                    status: *status,
                    detail: detail.as_ref().map(|d| d.value.clone()),
                }
            }
            Expect::Component { component, kind, resource, state } => {
                let id = self.resource(*kind, resource)?;
                let def = &self.c.program.resources[id.index()];
                if !def.components.iter().any(|c| c.name == component.name) {
                    let help = did_you_mean(&component.name, def.components.iter().map(|c| c.name.as_str()));
                    let error = CheckError::UnknownComponent {
                        name: component.name.to_string(),
                        resource: format!("{} `{}`", kind.as_str(), def.name),
                    };
                    self.c.report_help(error, component.span, help);
                    return None;
                }
                flow::Expect::Component { state: *state, component: component.name.clone(), resource: id, kind: *kind }
            }
        })
    }

    /// The object and member a `read`/`write` operation names: the path up to its last step
    /// is the object, the last step the member.
    fn op_target(&mut self, path: &ast::MemberPath) -> Option<(flow::Expr, Option<(flow::MemberRef, Span)>)> {
        let (ty, last, expr) = self.member_path(path);
        if ty == Type::Unknown && matches!(expr.kind, flow::ExprKind::Invalid) {
            return None;
        }
        let flow::ExprKind::Member { object, member, member_span } = expr.kind else {
            return Some((expr, None));
        };
        // `read $o/Assoc` of a reverse association names no member of the object: the object is read.
        if let (Some(_), flow::MemberRef::Member { .. }) | (None, flow::MemberRef::Dynamic { .. }) = (last, &member) {
            return Some((*object, Some((member, member_span))));
        }
        let reverse = flow::Expr { kind: flow::ExprKind::Member { object, member, member_span }, span: expr.span };
        Some((reverse, None))
    }

    fn op_check(&mut self, op: &OpCheck) -> Option<flow::OpCheck> {
        Some(match op {
            OpCheck::Read(path) => {
                let (object, member) = self.op_target(path)?;
                flow::OpCheck::Read { object, member }
            }
            OpCheck::Write(path) => {
                let target = self.op_target(path);
                if path.steps.is_empty() {
                    let found = "an object".to_string();
                    self.c.report(
                        CheckError::WrongType { expected: "a member, such as `$cart/Total`".into(), found },
                        path.span,
                    );
                    return None;
                }
                let (object, member) = target?;
                flow::OpCheck::Write { object, member: member? }
            }
            OpCheck::Delete(e) => {
                let (ty, ee) = self.expr(e);
                if !matches!(ty, Type::Object(_) | Type::Unknown) {
                    let found = ty.describe(&self.c.program);
                    self.c.report(CheckError::WrongType { expected: "an object".into(), found }, e.span);
                }
                flow::OpCheck::Delete(ee)
            }
            OpCheck::Create(entity) => flow::OpCheck::Create(self.c.resolve_entity(entity, None)?),
            OpCheck::Call(flow) => flow::OpCheck::Call(self.c.resolve_microflow(flow, None)?),
        })
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

    pub(crate) fn request(&mut self, r: &ast::Request, span: Span) -> Option<flow::Request> {
        if !self.test_only("request", span) {
            return None;
        }
        let target = match &r.target {
            RequestTarget::StartProcess(n) => {
                self.resource(ast::ResourceKind::Process, n)?;
                flow::RequestTarget::StartProcess(n.name.clone())
            }
            RequestTarget::StartUiFlow(n) => {
                self.resource(ast::ResourceKind::UiFlow, n)?;
                flow::RequestTarget::StartUiFlow(n.name.clone())
            }
            RequestTarget::StartWorkflow(n, var) => {
                if !self.c.program.workflows.contains(&n.name) {
                    let help = did_you_mean(&n.name, self.c.program.workflows.iter().map(SmolStr::as_str));
                    self.c.report_help(CheckError::UnknownWorkflow { name: n.name.to_string() }, n.span, help);
                    self.instance_var(var);
                    return None;
                }
                flow::RequestTarget::StartWorkflow(n.name.clone(), self.instance_var(var)?)
            }
            RequestTarget::Instance { instance, verb } => {
                flow::RequestTarget::Instance(instance_op(verb), self.instance_var(instance)?)
            }
            RequestTarget::Global(g, _) => flow::RequestTarget::Global(*g),
        };
        Some(flow::Request { target, invalid_token: r.invalid_token, without_session: r.without_session, span: r.span })
    }

    fn instance_var(&mut self, var: &ast::Ident) -> Option<flow::Var> {
        let (ty, expr) = self.variable(var);
        if !matches!(ty, Type::Instance | Type::Unknown) {
            let found = ty.describe(&self.c.program);
            let expected = "an instance returned by `request start ...`".to_string();
            self.c.report(CheckError::WrongType { expected, found }, var.span);
            return None;
        }
        match expr.kind {
            flow::ExprKind::Var(v) => Some(v),
            _ => None,
        }
    }
}

/// The runtime operation of a request's verb.
fn instance_op(verb: &ast::InstanceVerb) -> InstanceOp {
    use ast::InstanceVerb as V;
    match verb {
        V::Status => InstanceOp::Status,
        V::Data => InstanceOp::Data,
        V::DataModelPaths => InstanceOp::DataModelPaths,
        V::BuildInfo => InstanceOp::BuildInfo,
        V::Events(t) => InstanceOp::Events(t.as_ref().map(|t| t.value.clone())),
        V::Action(a) => InstanceOp::Action(a.value.clone()),
        V::Dismiss => InstanceOp::Dismiss,
        V::Upload => InstanceOp::Upload,
    }
}
