//! Types of microflow and test expressions.

use rust_decimal::prelude::ToPrimitive;
use smol_str::SmolStr;

use super::flow::FlowCx;
use super::xpath::XCompiler;
use super::CheckError;
use crate::diagnostic::suggest::{did_you_mean, did_you_mean_var};
use crate::model::flow;
use crate::model::functions::{Function, Param, FUNCTIONS};
use crate::model::value::{ObjectId, Value};
use crate::model::xpath::{date_token, token_names, DateToken};
use crate::model::*;
use crate::source::Span;
use crate::syntax::ast::{self, BinOp, CmpOp, Expr, ExprKind};

/// A checked expression: its static type and its resolved form.
pub(crate) type Typed = (Type, flow::Expr);

/// The resolved form of an expression in error (never evaluated).
fn invalid(span: Span) -> flow::Expr {
    flow::Expr { kind: flow::ExprKind::Invalid, span }
}

fn node(kind: flow::ExprKind, span: Span) -> flow::Expr {
    flow::Expr { kind, span }
}

impl FlowCx<'_> {
    /// The type of an expression and its resolved form; `Type::Unknown` after an error
    /// (already reported).
    pub(crate) fn expr(&mut self, e: &Expr) -> Typed {
        let span = e.span;
        let value = |v: Value| node(flow::ExprKind::Value(v), span);
        match &e.kind {
            ExprKind::String(s) => (Type::String, value(Value::String(s.clone()))),
            ExprKind::Number(n) => {
                let ty = number_type(n);
                let v = match (ty, n.value.to_i64()) {
                    (Type::Integer | Type::Long, Some(i)) => Value::Integer(i),
                    _ => Value::Decimal(n.value),
                };
                (ty, value(v))
            }
            ExprKind::Bool(b) => (Type::Boolean, value(Value::Boolean(*b))),
            ExprKind::Empty => (Type::Empty, value(Value::Empty)),
            ExprKind::Token(t) => self.token(t, span),
            ExprKind::DateTime(s) => match crate::time::parse_instant(&s.value) {
                Some(ms) => (Type::DateTime, value(Value::DateTime(ms))),
                None => {
                    self.c.report(CheckError::BadDateTime { text: s.value.clone() }, s.span);
                    (Type::Unknown, invalid(span))
                }
            },
            ExprKind::ObjectRef(id) => (Type::Unknown, node(flow::ExprKind::ObjectRef(ObjectId(*id)), span)),
            ExprKind::Path(p) => {
                let (ty, _, expr) = self.member_path(p);
                (ty, expr)
            }
            ExprKind::Name(q) => match self.enum_value(q) {
                Some((e, i)) => (Type::Enum(e), value(Value::Enum(e, i))),
                None => (Type::Unknown, invalid(span)),
            },
            ExprKind::Binary { op, lhs, rhs } => {
                let ((l, le), (r, re)) = (self.expr(lhs), self.expr(rhs));
                let ty = self.binary(*op, l, r, lhs.span, rhs.span);
                (ty, node(flow::ExprKind::Binary { op: *op, lhs: Box::new(le), rhs: Box::new(re) }, span))
            }
            ExprKind::Neg(inner) => {
                let (t, ie) = self.expr(inner);
                let ty = if t.is_numeric() || t == Type::Unknown { t } else { self.wrong("a number", t, inner.span) };
                (ty, node(flow::ExprKind::Neg(Box::new(ie)), span))
            }
            ExprKind::Not(inner) => {
                let (t, ie) = self.expr(inner);
                self.expect_type(Type::Boolean, t, inner.span);
                (Type::Boolean, node(flow::ExprKind::Not(Box::new(ie)), span))
            }
            ExprKind::If { cond, then, otherwise } => {
                let (c, ce) = self.expr(cond);
                self.expect_type(Type::Boolean, c, cond.span);
                let ((a, ae), (b, be)) = (self.expr(then), self.expr(otherwise));
                let ty = self.join(a, b).unwrap_or_else(|| {
                    let (a, b) = (a.describe(&self.c.program), b.describe(&self.c.program));
                    self.c.report(CheckError::WrongType { expected: a, found: b }, otherwise.span);
                    Type::Unknown
                });
                let kind = flow::ExprKind::If { cond: Box::new(ce), then: Box::new(ae), otherwise: Box::new(be) };
                (ty, node(kind, span))
            }
            ExprKind::List(items) => {
                let mut ty = Type::Empty;
                let mut out = Vec::new();
                for item in items {
                    let (t, ie) = self.expr(item);
                    out.push(ie);
                    let t = match t {
                        Type::Object(e) => Type::List(e),
                        Type::Unknown | Type::Empty => continue,
                        other => {
                            self.wrong("an object", other, item.span);
                            continue;
                        }
                    };
                    ty = self.join(ty, t).unwrap_or(Type::Unknown);
                }
                (ty, node(flow::ExprKind::List(out), span))
            }
            ExprKind::Create { entity, values } => {
                let Some(id) = self.c.resolve_entity(entity, self.module.as_deref()) else {
                    for v in values {
                        self.expr(&v.value);
                    }
                    return (Type::Unknown, invalid(span));
                };
                let values = self.member_values(id, values);
                (Type::Object(id), node(flow::ExprKind::Create { entity: id, values }, span))
            }
            ExprKind::Retrieve { first, source } => match self.retrieve(*first, source) {
                Some((ty, source)) => (ty, node(flow::ExprKind::Retrieve { first: *first, source }, span)),
                None => (Type::Unknown, invalid(span)),
            },
            ExprKind::Call { flow: name, args } => self.call(name, args, span),
            ExprKind::Function { name, args } => self.function(name, args, span),
            ExprKind::Request(r) => {
                let request = self.request(r, span);
                let kind = request.map_or(flow::ExprKind::Invalid, |r| flow::ExprKind::Request(Box::new(r)));
                (Type::Instance, node(kind, span))
            }
        }
    }

    /// Reports that `found` is not `expected` (unless either is unknown).
    pub(crate) fn expect_type(&mut self, expected: Type, found: Type, span: Span) {
        if !self.fits(expected, found) {
            let expected = expected.describe(&self.c.program);
            self.c.report(CheckError::WrongType { expected, found: found.describe(&self.c.program) }, span);
        }
    }

    fn wrong(&mut self, expected: &str, found: Type, span: Span) -> Type {
        let found = found.describe(&self.c.program);
        self.c.report(CheckError::WrongType { expected: expected.into(), found }, span);
        Type::Unknown
    }

    /// Whether a value of type `value` may be stored where `target` is expected.
    pub(crate) fn fits(&self, target: Type, value: Type) -> bool {
        let p = &self.c.program;
        match (target, value) {
            (Type::Unknown, _) | (_, Type::Unknown) | (_, Type::Empty) => true,
            (Type::Decimal, v) => v.is_numeric(),
            (Type::Long, Type::Integer | Type::Long) => true,
            (Type::Object(t), Type::Object(v)) | (Type::List(t), Type::List(v)) => p.is_a(v, t),
            (t, v) => t == v,
        }
    }

    /// The common type of two branches or list items.
    fn join(&self, a: Type, b: Type) -> Option<Type> {
        let p = &self.c.program;
        Some(match (a, b) {
            (Type::Unknown, _) | (_, Type::Unknown) => Type::Unknown,
            (Type::Empty, t) | (t, Type::Empty) => t,
            (x, y) if x.is_numeric() && y.is_numeric() => widen(x, y),
            (Type::Object(x), Type::Object(y)) => Type::Object(common_ancestor(p, x, y)?),
            (Type::List(x), Type::List(y)) => Type::List(common_ancestor(p, x, y)?),
            (x, y) if x == y => x,
            _ => return None,
        })
    }

    fn binary(&mut self, op: BinOp, l: Type, r: Type, ls: Span, rs: Span) -> Type {
        if l == Type::Unknown || r == Type::Unknown {
            return match op {
                BinOp::Or | BinOp::And | BinOp::Cmp(_) => Type::Boolean,
                _ => Type::Unknown,
            };
        }
        match op {
            BinOp::Or | BinOp::And => {
                self.expect_type(Type::Boolean, l, ls);
                self.expect_type(Type::Boolean, r, rs);
                Type::Boolean
            }
            BinOp::Cmp(cmp) => {
                let comparable = l == Type::Empty || r == Type::Empty || self.join(l, r).is_some();
                if !comparable {
                    let (left, right) = (l.describe(&self.c.program), r.describe(&self.c.program));
                    self.c.report(CheckError::Mismatch { left, right }, ls.to(rs));
                } else if !(matches!(cmp, CmpOp::Eq | CmpOp::Ne)
                    || l.is_numeric()
                    || matches!(l, Type::String | Type::DateTime | Type::Empty))
                {
                    let ty = l.describe(&self.c.program);
                    self.c.report(CheckError::NotOrdered { op: cmp.as_str(), ty }, ls.to(rs));
                }
                Type::Boolean
            }
            BinOp::Add if l == Type::String || r == Type::String => Type::String,
            BinOp::Add | BinOp::Sub if l == Type::DateTime && r == Type::Duration => Type::DateTime,
            BinOp::Add if l == Type::Duration && r == Type::DateTime => Type::DateTime,
            BinOp::Mul if (l.is_numeric() && r == Type::Duration) || (l == Type::Duration && r.is_numeric()) => {
                Type::Duration
            }
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod => {
                if !l.is_numeric() {
                    return self.wrong("a number", l, ls);
                }
                if !r.is_numeric() {
                    return self.wrong("a number", r, rs);
                }
                if op == BinOp::Div {
                    Type::Decimal
                } else {
                    widen(l, r)
                }
            }
        }
    }

    fn token(&mut self, t: &ast::Ident, span: Span) -> Typed {
        let name = t.name.as_str();
        let token = |tok: flow::Token| node(flow::ExprKind::Token(tok), span);
        if name == "CurrentUser" {
            return (Type::Object(SYSTEM_USER), token(flow::Token::CurrentUser));
        }
        if let Some(role) = name.strip_prefix("UserRole_") {
            if let Some(id) = self.c.program.user_role_by_name(role) {
                return (Type::Object(SYSTEM_USER_ROLE), token(flow::Token::UserRole(id)));
            }
            let names: Vec<&str> = self.c.program.user_roles.iter().map(|r| r.name.as_str()).collect();
            let help = did_you_mean(role, names);
            self.c.report_help(CheckError::UnknownUserRole { name: role.into() }, t.span, help);
            return (Type::Unknown, invalid(span));
        }
        match date_token(name) {
            Some(d @ DateToken::Length(_)) => (Type::Duration, token(flow::Token::Date(d))),
            Some(d) => (Type::DateTime, token(flow::Token::Date(d))),
            None => {
                let names = token_names();
                let help = did_you_mean(name, names.iter().map(String::as_str).filter(|n| *n != "CurrentObject"))
                    .map(|h| h.replace("mean `", "mean `[%").replace("`?", "%]`?"));
                self.c.report_help(CheckError::UnknownToken { name: name.into() }, t.span, help);
                (Type::Unknown, invalid(span))
            }
        }
    }

    /// An enumeration value `Module.Enum.Value`: the enumeration and the value's index.
    fn enum_value(&mut self, q: &ast::QName) -> Option<(EnumId, u32)> {
        if q.parts.len() >= 2 {
            let enum_name = ast::QName { parts: q.parts[..q.parts.len() - 1].to_vec(), span: q.span };
            if let Some(e) = self.c.lookup_enum(&enum_name, self.module.as_deref()) {
                let def = self.c.program.enumeration(e);
                if let Some(i) = def.values.iter().position(|v| v == q.last()) {
                    return Some((e, i as u32));
                }
                let help = did_you_mean(q.last(), def.values.iter().map(SmolStr::as_str));
                let enumeration = def.name.to_string();
                self.c.report_help(CheckError::UnknownEnumValue { name: q.last().into(), enumeration }, q.span, help);
                return None;
            }
        }
        let names: Vec<String> =
            self.c.program.enums.iter().flat_map(|e| e.values.iter().map(move |v| format!("{}.{v}", e.name))).collect();
        let help = did_you_mean(&q.to_string(), names.iter().map(String::as_str));
        self.c.report_help(CheckError::NotAValue { name: q.to_string() }, q.span, help);
        None
    }

    /// The type at the end of `$v/Member/...`, the entity and member of the last step, and
    /// the path's resolved form.
    pub(crate) fn member_path(&mut self, p: &ast::MemberPath) -> (Type, Option<(EntityId, MemberIndex)>, flow::Expr) {
        let (mut ty, mut expr) = self.variable(&p.var);
        let mut last = None;
        for step in &p.steps {
            let span = expr.span.to(step.span);
            let entity = match ty {
                Type::Object(e) => e,
                Type::Unknown => {
                    // An object known only at run time (`#5/Total`): the member by name then.
                    let member =
                        flow::MemberRef::Dynamic { name: SmolStr::new(step.to_string()), module: self.module.clone() };
                    expr =
                        node(flow::ExprKind::Member { object: Box::new(expr), member, member_span: step.span }, span);
                    last = None;
                    continue;
                }
                other => {
                    let found = other.describe(&self.c.program);
                    self.c.report(CheckError::NotAnObject { step: step.to_string(), ty: found }, step.span);
                    return (Type::Unknown, None, invalid(p.span));
                }
            };
            let member = match self.c.program.entity(entity).member(&step.to_string()) {
                Some(i) => {
                    last = Some((entity, i));
                    ty = match self.c.program.entity(entity).members[i].kind {
                        MemberKind::Attribute(a) => Type::of_attr(a),
                        MemberKind::Association(a) => assoc_type(&self.c.program, a, true),
                    };
                    flow::MemberRef::Member { entity, index: i }
                }
                None => match self.reverse(entity, step) {
                    Some(a) => {
                        last = None;
                        ty = assoc_type(&self.c.program, a, false);
                        flow::MemberRef::Reverse(a)
                    }
                    None => {
                        self.c.resolve_member(entity, step);
                        return (Type::Unknown, None, invalid(p.span));
                    }
                },
            };
            expr = node(flow::ExprKind::Member { object: Box::new(expr), member, member_span: step.span }, span);
        }
        (ty, last, expr)
    }

    /// An association whose target is `entity`, named by `step`.
    pub(crate) fn reverse(&self, entity: EntityId, step: &ast::QName) -> Option<AssocId> {
        let name = step.to_string();
        let key = match &self.module {
            Some(m) if !step.is_qualified() => super::qualify(m, &name),
            _ => SmolStr::new(&name),
        };
        let p = &self.c.program;
        self.c.program.assoc_index.get(&key)?.iter().copied().find(|&a| p.is_a(entity, p.assoc(a).to))
    }

    /// A variable's type and resolved form, reporting an unknown one with the closest name in scope.
    pub(crate) fn variable(&mut self, var: &ast::Ident) -> Typed {
        if let Some(id) = var.name.strip_prefix('#') {
            // An object literal: its entity is known only at run time.
            let id = id.parse().unwrap_or(u64::MAX);
            return (Type::Unknown, node(flow::ExprKind::ObjectRef(ObjectId(id)), var.span));
        }
        if var.name == "currentUser" {
            return (Type::Object(SYSTEM_USER), node(flow::ExprKind::CurrentUser, var.span));
        }
        if let Some((ty, slot)) = self.lookup_slot(&var.name) {
            let v = flow::Var { slot, name: var.name.clone(), span: var.span };
            return (ty, node(flow::ExprKind::Var(v), var.span));
        }
        let names = self.names_in_scope();
        let help = did_you_mean_var(&var.name, names.iter().map(SmolStr::as_str));
        self.c.report_help(CheckError::UnknownVariable { name: var.name.to_string() }, var.span, help);
        (Type::Unknown, invalid(var.span))
    }

    /// Checks member values against an entity's members, and resolves them.
    pub(crate) fn member_values(&mut self, entity: EntityId, values: &[ast::MemberValue]) -> Vec<flow::SetMember> {
        let mut out = Vec::new();
        for v in values {
            let (value, ve) = self.expr(&v.value);
            let Some(i) = self.c.resolve_member(entity, &v.member) else { continue };
            out.push(flow::SetMember {
                member: flow::MemberRef::Member { entity, index: i },
                op: v.op,
                value: ve,
                member_span: v.member.span,
            });
            let member = self.c.program.entity(entity).members[i].clone();
            let target = match member.kind {
                MemberKind::Attribute(a) => Type::of_attr(a),
                MemberKind::Association(a) => assoc_type(&self.c.program, a, true),
            };
            if v.op != ast::AssignOp::Set {
                let op = if v.op == ast::AssignOp::Add { "+=" } else { "-=" };
                let Type::List(e) = target else {
                    self.c.report(CheckError::NotAReferenceSet { op, member: member.name.to_string() }, v.member.span);
                    continue;
                };
                let ok = self.fits(Type::List(e), value) || self.fits(Type::Object(e), value);
                if !ok {
                    let expected = format!("an object or list of {}", self.c.program.entity(e).name);
                    self.wrong_member(entity, &member.name, expected, value, v.value.span);
                }
                continue;
            }
            if !self.fits(target, value) {
                let expected = target.describe(&self.c.program);
                self.wrong_member(entity, &member.name, expected, value, v.value.span);
            }
        }
        out
    }

    /// Member values on an object whose entity is known only at run time (`change #5 { ... }`).
    pub(crate) fn dynamic_member_values(&mut self, values: &[ast::MemberValue]) -> Vec<flow::SetMember> {
        values
            .iter()
            .map(|v| flow::SetMember {
                member: flow::MemberRef::Dynamic {
                    name: SmolStr::new(v.member.to_string()),
                    module: self.module.clone(),
                },
                op: v.op,
                value: self.expr(&v.value).1,
                member_span: v.member.span,
            })
            .collect()
    }

    /// E0602 for a member value, naming the member.
    fn wrong_member(&mut self, entity: EntityId, member: &str, expected: String, found: Type, span: Span) {
        let entity = self.c.program.entity(entity).name.to_string();
        let found = found.describe(&self.c.program);
        self.c.report(CheckError::WrongMemberType { member: member.to_string(), entity, expected, found }, span);
    }

    fn retrieve(&mut self, first: bool, source: &ast::RetrieveSource) -> Option<(Type, flow::Source)> {
        let (element, source) = match source {
            ast::RetrieveSource::Database { entity, constraints } => {
                let id = self.c.resolve_entity(entity, self.module.as_deref())?;
                let mut constraint = None;
                if !constraints.is_empty() {
                    let vars = self.slots_in_scope();
                    let module = self.module.clone();
                    let c = &mut *self.c;
                    constraint = XCompiler::for_retrieve(&c.program, &mut c.diagnostics, module.as_deref(), vars)
                        .constraints(id, constraints);
                }
                (id, flow::Source::Database { entity: id, constraint })
            }
            ast::RetrieveSource::Association(path) => {
                let (ty, _, expr) = self.member_path(path);
                match ty {
                    Type::Object(e) | Type::List(e) if !path.steps.is_empty() => {
                        (e, flow::Source::Association(Box::new(expr)))
                    }
                    Type::Unknown if !path.steps.is_empty() => {
                        // The entity is known only at run time: the list's element type is unknown.
                        return Some((Type::Unknown, flow::Source::Association(Box::new(expr))));
                    }
                    Type::Unknown => return None,
                    other => {
                        let expected = "an association to follow, such as `$cart/Shop.CartLine_Cart`";
                        self.wrong(expected, other, path.span);
                        return None;
                    }
                }
            }
        };
        Some((if first { Type::Object(element) } else { Type::List(element) }, source))
    }

    fn call(&mut self, flow: &ast::QName, args: &[(ast::Ident, Expr)], span: Span) -> Typed {
        let arg_exprs: Vec<Typed> = args.iter().map(|(_, e)| self.expr(e)).collect();
        let Some(id) = self.c.resolve_microflow(flow, self.module.as_deref()) else {
            return (Type::Unknown, invalid(span));
        };
        let returns = self.signature_returns(id);
        let params = self.c.program.microflow(id).params.clone();
        let mut given: Vec<&str> = Vec::new();
        let mut unknown_argument = false;
        let mut by_param: Vec<Option<flow::Expr>> = vec![None; params.len()];
        for ((name, value), (ty, ve)) in args.iter().zip(arg_exprs) {
            if given.contains(&name.name.as_str()) {
                self.c
                    .report(CheckError::BadCall { why: format!("argument `{}` is given twice", name.name) }, name.span);
                continue;
            }
            given.push(&name.name);
            match params.iter().position(|(p, _)| *p == name.name) {
                Some(i) => {
                    self.expect_type(params[i].1, ty, value.span);
                    by_param[i] = Some(ve);
                }
                None => {
                    unknown_argument = true;
                    let help = did_you_mean(&name.name, params.iter().map(|(p, _)| p.as_str()));
                    let why = format!("`{flow}` has no parameter `{}`", name.name);
                    self.c.report_help(CheckError::BadCall { why }, name.span, help);
                }
            }
        }
        let missing: Vec<String> =
            params.iter().filter(|(p, _)| !given.contains(&p.as_str())).map(|(p, _)| format!("`{p}`")).collect();
        // A misspelt argument is the likely cause of a missing one: report it once.
        if !missing.is_empty() && !unknown_argument {
            let why = format!("`{flow}` needs {}", missing.join(", "));
            let example = params.iter().map(|(p, _)| format!("{p} = ...")).collect::<Vec<_>>().join(", ");
            self.c.report_help(CheckError::BadCall { why }, span, Some(format!("call it as `call {flow}({example})`")));
        }
        let args: Option<Vec<flow::Expr>> = by_param.into_iter().collect();
        let kind = args.map_or(flow::ExprKind::Invalid, |args| flow::ExprKind::Call { flow: id, args });
        (returns, node(kind, span))
    }

    fn function(&mut self, name: &ast::Ident, args: &[Expr], span: Span) -> Typed {
        let typed: Vec<Typed> = args.iter().map(|a| self.expr(a)).collect();
        let Some(func) = Function::by_name(&name.name) else {
            let names: Vec<&str> = FUNCTIONS.iter().map(|(_, n, ..)| *n).collect();
            let help = did_you_mean(&name.name, names);
            self.c.report_help(CheckError::UnknownFunction { name: name.name.to_string() }, name.span, help);
            return (Type::Unknown, invalid(span));
        };
        let params = func.params();
        let result = func.result();
        if params.len() != typed.len() {
            let why = match func {
                Function::Count => "takes one list".to_string(),
                _ => format!("takes {} argument{}", params.len(), if params.len() == 1 { "" } else { "s" }),
            };
            self.c.report(CheckError::BadArguments { name: name.name.to_string(), why }, span);
            return (result, invalid(span));
        }
        for ((param, (ty, _)), arg) in params.iter().zip(&typed).zip(args) {
            match param {
                Param::Of(t) => self.expect_type(*t, *ty, arg.span),
                Param::AnyList if !matches!(ty, Type::List(_) | Type::Empty | Type::Unknown) => {
                    self.wrong("a list", *ty, arg.span);
                }
                Param::AnyList | Param::Any => {}
            }
        }
        let args = typed.into_iter().map(|(_, e)| e).collect();
        (result, node(flow::ExprKind::Function { func, args }, span))
    }
}

/// The type of a number literal: Integer, Long or Decimal.
fn number_type(n: &ast::NumLit) -> Type {
    if !n.integer {
        return Type::Decimal;
    }
    match n.value.to_i64() {
        Some(v) if i32::try_from(v).is_ok() => Type::Integer,
        Some(_) => Type::Long,
        None => Type::Decimal,
    }
}

/// Integer < Long < Decimal.
fn widen(a: Type, b: Type) -> Type {
    if a == Type::Decimal || b == Type::Decimal {
        Type::Decimal
    } else if a == Type::Long || b == Type::Long {
        Type::Long
    } else {
        Type::Integer
    }
}

fn common_ancestor(p: &Program, a: EntityId, b: EntityId) -> Option<EntityId> {
    let mut current = Some(a);
    while let Some(x) = current {
        if p.is_a(b, x) {
            return Some(x);
        }
        current = p.entity(x).generalization;
    }
    None
}

/// What following an association gives: forward, an object or a list; backwards, a list.
pub(crate) fn assoc_type(p: &Program, a: AssocId, forward: bool) -> Type {
    let def = p.assoc(a);
    match (forward, def.multiplicity) {
        (true, ast::Multiplicity::Reference) => Type::Object(def.to),
        (true, ast::Multiplicity::ReferenceSet) => Type::List(def.to),
        (false, _) => Type::List(def.from),
    }
}
