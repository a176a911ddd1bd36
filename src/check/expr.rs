//! Types of microflow and test expressions.

use rust_decimal::prelude::ToPrimitive;
use smol_str::SmolStr;

use super::flow::FlowCx;
use super::suggest::{did_you_mean, did_you_mean_var};
use super::xpath::XCompiler;
use super::CheckError;
use crate::model::xpath::{date_token, token_names, DateToken};
use crate::model::*;
use crate::source::Span;
use crate::syntax::ast::{self, BinOp, CmpOp, Expr, ExprKind};

/// The built-in functions: name, parameter types (`None` = any), result.
const BUILTINS: &[(&str, &[Option<Type>], Type)] = &[
    ("length", &[Some(Type::String)], Type::Integer),
    ("toString", &[None], Type::String),
    ("contains", &[Some(Type::String), Some(Type::String)], Type::Boolean),
    ("startsWith", &[Some(Type::String), Some(Type::String)], Type::Boolean),
    ("endsWith", &[Some(Type::String), Some(Type::String)], Type::Boolean),
    ("toLowerCase", &[Some(Type::String)], Type::String),
    ("toUpperCase", &[Some(Type::String)], Type::String),
    ("trim", &[Some(Type::String)], Type::String),
    ("parseInteger", &[Some(Type::String)], Type::Long),
    ("parseDecimal", &[Some(Type::String)], Type::Decimal),
    ("addSeconds", &[Some(Type::DateTime), Some(Type::Long)], Type::DateTime),
    ("addMinutes", &[Some(Type::DateTime), Some(Type::Long)], Type::DateTime),
    ("addHours", &[Some(Type::DateTime), Some(Type::Long)], Type::DateTime),
    ("addDays", &[Some(Type::DateTime), Some(Type::Long)], Type::DateTime),
    ("addWeeks", &[Some(Type::DateTime), Some(Type::Long)], Type::DateTime),
    ("addMonths", &[Some(Type::DateTime), Some(Type::Long)], Type::DateTime),
    ("addYears", &[Some(Type::DateTime), Some(Type::Long)], Type::DateTime),
];

/// The result type of a built-in function, if `name` is one (`count` takes any list).
pub(crate) fn builtin(name: &str) -> Option<(&'static [Option<Type>], Type)> {
    BUILTINS.iter().find(|(n, _, _)| *n == name).map(|(_, params, result)| (*params, *result))
}

impl FlowCx<'_> {
    /// The type of an expression; `Type::Unknown` after an error (already reported).
    pub(crate) fn expr(&mut self, e: &Expr) -> Type {
        match &e.kind {
            ExprKind::String(_) => Type::String,
            ExprKind::Number(n) => number_type(n),
            ExprKind::Bool(_) => Type::Boolean,
            ExprKind::Empty => Type::Empty,
            ExprKind::Token(t) => self.token(t),
            ExprKind::DateTime(s) => match crate::time::parse_instant(&s.value) {
                Some(_) => Type::DateTime,
                None => {
                    self.c.report(CheckError::BadDateTime { text: s.value.clone() }, s.span);
                    Type::Unknown
                }
            },
            ExprKind::ObjectRef(_) => Type::Unknown,
            ExprKind::Path(p) => self.member_path(p).0,
            ExprKind::Name(q) => self.enum_value(q),
            ExprKind::Binary { op, lhs, rhs } => {
                let (l, r) = (self.expr(lhs), self.expr(rhs));
                self.binary(*op, l, r, lhs.span, rhs.span)
            }
            ExprKind::Neg(inner) => {
                let t = self.expr(inner);
                if t.is_numeric() || t == Type::Unknown {
                    t
                } else {
                    self.wrong("a number", t, inner.span)
                }
            }
            ExprKind::Not(inner) => {
                let t = self.expr(inner);
                self.expect_type(Type::Boolean, t, inner.span);
                Type::Boolean
            }
            ExprKind::If { cond, then, otherwise } => {
                let c = self.expr(cond);
                self.expect_type(Type::Boolean, c, cond.span);
                let (a, b) = (self.expr(then), self.expr(otherwise));
                self.join(a, b).unwrap_or_else(|| {
                    let (a, b) = (a.describe(&self.c.program), b.describe(&self.c.program));
                    self.c.report(CheckError::WrongType { expected: a, found: b }, otherwise.span);
                    Type::Unknown
                })
            }
            ExprKind::List(items) => {
                let mut ty = Type::Empty;
                for item in items {
                    let t = self.expr(item);
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
                ty
            }
            ExprKind::Create { entity, values } => {
                let Some(id) = self.c.resolve_entity(entity, self.module.as_deref()) else {
                    for v in values {
                        self.expr(&v.value);
                    }
                    return Type::Unknown;
                };
                self.member_values(id, values);
                Type::Object(id)
            }
            ExprKind::Retrieve { first, source } => self.retrieve(*first, source),
            ExprKind::Call { flow, args } => self.call(flow, args, e.span),
            ExprKind::Function { name, args } => self.function(name, args, e.span),
            ExprKind::Request(r) => {
                self.request(r, e.span);
                Type::Instance
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

    fn token(&mut self, t: &ast::Ident) -> Type {
        let name = t.name.as_str();
        if name == "CurrentUser" {
            return Type::Object(SYSTEM_USER);
        }
        if let Some(role) = name.strip_prefix("UserRole_") {
            if self.c.program.user_role_by_name(role).is_some() {
                return Type::Object(SYSTEM_USER_ROLE);
            }
            let names: Vec<&str> = self.c.program.user_roles.iter().map(|r| r.name.as_str()).collect();
            let help = did_you_mean(role, names);
            self.c.report_help(CheckError::UnknownUserRole { name: role.into() }, t.span, help);
            return Type::Unknown;
        }
        match date_token(name) {
            Some(DateToken::Length(_)) => Type::Duration,
            Some(_) => Type::DateTime,
            None => {
                let names = token_names();
                let help = did_you_mean(name, names.iter().map(String::as_str).filter(|n| *n != "CurrentObject"))
                    .map(|h| h.replace("mean `", "mean `[%").replace("`?", "%]`?"));
                self.c.report_help(CheckError::UnknownToken { name: name.into() }, t.span, help);
                Type::Unknown
            }
        }
    }

    fn enum_value(&mut self, q: &ast::QName) -> Type {
        if q.parts.len() >= 2 {
            let enum_name = ast::QName { parts: q.parts[..q.parts.len() - 1].to_vec(), span: q.span };
            if let Some(e) = self.c.lookup_enum(&enum_name, self.module.as_deref()) {
                let def = self.c.program.enumeration(e);
                if def.values.iter().any(|v| v == q.last()) {
                    return Type::Enum(e);
                }
                let help = did_you_mean(q.last(), def.values.iter().map(SmolStr::as_str));
                let enumeration = def.name.to_string();
                self.c.report_help(CheckError::UnknownEnumValue { name: q.last().into(), enumeration }, q.span, help);
                return Type::Unknown;
            }
        }
        let names: Vec<String> =
            self.c.program.enums.iter().flat_map(|e| e.values.iter().map(move |v| format!("{}.{v}", e.name))).collect();
        let help = did_you_mean(&q.to_string(), names.iter().map(String::as_str));
        self.c.report_help(CheckError::NotAValue { name: q.to_string() }, q.span, help);
        Type::Unknown
    }

    /// The type at the end of `$v/Member/...`, and the entity and member of the last step.
    pub(crate) fn member_path(&mut self, p: &ast::MemberPath) -> (Type, Option<(EntityId, MemberIndex)>) {
        let mut ty = self.variable(&p.var);
        let mut last = None;
        for step in &p.steps {
            let entity = match ty {
                Type::Object(e) => e,
                Type::Unknown => return (Type::Unknown, None),
                other => {
                    let found = other.describe(&self.c.program);
                    self.c.report(CheckError::NotAnObject { step: step.to_string(), ty: found }, step.span);
                    return (Type::Unknown, None);
                }
            };
            match self.c.program.entity(entity).member(&step.to_string()) {
                Some(i) => {
                    last = Some((entity, i));
                    ty = match self.c.program.entity(entity).members[i].kind {
                        MemberKind::Attribute(a) => Type::of_attr(a),
                        MemberKind::Association(a) => assoc_type(&self.c.program, a, true),
                    };
                }
                None => match self.reverse(entity, step) {
                    Some(a) => {
                        last = None;
                        ty = assoc_type(&self.c.program, a, false);
                    }
                    None => {
                        self.c.resolve_member(entity, step);
                        return (Type::Unknown, None);
                    }
                },
            }
        }
        (ty, last)
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

    /// A variable's type, reporting an unknown one with the closest name in scope.
    pub(crate) fn variable(&mut self, var: &ast::Ident) -> Type {
        if var.name.starts_with('#') {
            return Type::Unknown; // an object literal: its entity is known only at run time
        }
        if let Some(t) = self.lookup(&var.name) {
            return t;
        }
        let names = self.names_in_scope();
        let help = did_you_mean_var(&var.name, names.iter().map(SmolStr::as_str));
        self.c.report_help(CheckError::UnknownVariable { name: var.name.to_string() }, var.span, help);
        Type::Unknown
    }

    /// Checks member values against an entity's members.
    pub(crate) fn member_values(&mut self, entity: EntityId, values: &[ast::MemberValue]) {
        for v in values {
            let value = self.expr(&v.value);
            let Some(i) = self.c.resolve_member(entity, &v.member) else { continue };
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
    }

    /// E0602 for a member value, naming the member.
    fn wrong_member(&mut self, entity: EntityId, member: &str, expected: String, found: Type, span: Span) {
        let entity = self.c.program.entity(entity).name.to_string();
        let found = found.describe(&self.c.program);
        self.c.report(CheckError::WrongMemberType { member: member.to_string(), entity, expected, found }, span);
    }

    fn retrieve(&mut self, first: bool, source: &ast::RetrieveSource) -> Type {
        let element = match source {
            ast::RetrieveSource::Database { entity, constraints } => {
                let Some(id) = self.c.resolve_entity(entity, self.module.as_deref()) else { return Type::Unknown };
                if !constraints.is_empty() {
                    let vars = self.all_vars();
                    let module = self.module.clone();
                    let c = &mut *self.c;
                    let compiled = XCompiler::for_retrieve(&c.program, &mut c.diagnostics, module.as_deref(), vars)
                        .constraints(id, constraints);
                    if let Some(cond) = compiled {
                        c.program.retrieves.insert(super::retrieve_key(constraints), cond);
                    }
                }
                id
            }
            ast::RetrieveSource::Association(path) => {
                let (ty, _) = self.member_path(path);
                match ty {
                    Type::Object(e) | Type::List(e) if !path.steps.is_empty() => e,
                    Type::Unknown => return Type::Unknown,
                    other => {
                        let expected = "an association to follow, such as `$cart/Shop.CartLine_Cart`";
                        return self.wrong(expected, other, path.span);
                    }
                }
            }
        };
        if first {
            Type::Object(element)
        } else {
            Type::List(element)
        }
    }

    fn call(&mut self, flow: &ast::QName, args: &[(ast::Ident, Expr)], span: Span) -> Type {
        let arg_types: Vec<Type> = args.iter().map(|(_, e)| self.expr(e)).collect();
        let Some(id) = self.c.resolve_microflow(flow, self.module.as_deref()) else { return Type::Unknown };
        let returns = self.signature_returns(id);
        let params = self.c.program.microflow(id).params.clone();
        let mut given: Vec<&str> = Vec::new();
        let mut unknown_argument = false;
        for ((name, value), ty) in args.iter().zip(arg_types) {
            if given.contains(&name.name.as_str()) {
                self.c
                    .report(CheckError::BadCall { why: format!("argument `{}` is given twice", name.name) }, name.span);
                continue;
            }
            given.push(&name.name);
            match params.iter().find(|(p, _)| *p == name.name) {
                Some((_, pty)) => self.expect_type(*pty, ty, value.span),
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
        returns
    }

    fn function(&mut self, name: &ast::Ident, args: &[Expr], span: Span) -> Type {
        let types: Vec<Type> = args.iter().map(|a| self.expr(a)).collect();
        if name.name == "count" {
            if types.len() != 1 {
                let why = "takes one list".to_string();
                self.c.report(CheckError::BadArguments { name: "count".into(), why }, span);
            } else if !matches!(types[0], Type::List(_) | Type::Empty | Type::Unknown) {
                self.wrong("a list", types[0], args[0].span);
            }
            return Type::Integer;
        }
        let Some((params, result)) = builtin(&name.name) else {
            let mut names: Vec<&str> = BUILTINS.iter().map(|(n, _, _)| *n).collect();
            names.push("count");
            let help = did_you_mean(&name.name, names);
            self.c.report_help(CheckError::UnknownFunction { name: name.name.to_string() }, name.span, help);
            return Type::Unknown;
        };
        if params.len() != types.len() {
            let why = format!("takes {} argument{}", params.len(), if params.len() == 1 { "" } else { "s" });
            self.c.report(CheckError::BadArguments { name: name.name.to_string(), why }, span);
            return result;
        }
        for ((param, ty), arg) in params.iter().zip(types).zip(args) {
            if let Some(param) = param {
                self.expect_type(*param, ty, arg.span);
            }
        }
        result
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
