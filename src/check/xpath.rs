//! Type checking and compilation of XPath constraints (section 5), for access
//! rules and for retrieves in microflows and tests.

use std::collections::HashMap;
use std::str::FromStr;

use rust_decimal::prelude::ToPrimitive;
use smol_str::SmolStr;

use super::{qualify, CheckError, Checker};
use crate::diagnostic::suggest::did_you_mean;
use crate::diagnostic::Diagnostic;
use crate::model::functions::{xfunction, XParam, XResult, XFUNCTIONS};
use crate::model::value::Value;
use crate::model::xpath::*;
use crate::model::*;
use crate::source::Span;
use crate::syntax::ast::{self, CmpOp, XExpr, XOperand, XValue};

/// The type of one side of a comparison, with how it reads in messages.
#[derive(Clone, Debug)]
enum XType {
    /// An attribute's values.
    Attr(AttrType),
    /// Objects of an entity (association ends, `id`, `[%CurrentUser%]`, object variables).
    Object { entity: EntityId, role_token: bool, is_id: bool },
    /// A string literal.
    Str(String),
    /// A number literal.
    Num,
    /// `true()`, `false()`, Boolean variables.
    Bool,
    /// `empty`.
    Empty,
    /// An instant (date tokens, DateTime variables).
    Instant,
    /// An Integer from a function.
    Int,
    /// A value of a variable of a plain type.
    Scalar(Type),
    /// Already in error.
    Unknown,
}

/// Compiles constraints, reporting into the checker.
pub(crate) struct XCompiler<'c> {
    program: &'c Program,
    diagnostics: &'c mut Vec<Diagnostic>,
    module: Option<SmolStr>,
    /// Variables in scope with their types and slots (retrieves only); `None` in access rules.
    vars: Option<HashMap<SmolStr, (Type, crate::model::flow::Slot)>>,
}

impl<'c> XCompiler<'c> {
    /// For an access rule: no variables, no `[%CurrentObject%]`.
    pub(crate) fn for_rule(c: &'c mut Checker, module: &str) -> XCompiler<'c> {
        XCompiler { program: &c.program, diagnostics: &mut c.diagnostics, module: Some(module.into()), vars: None }
    }

    /// For a retrieve, with the variables in scope.
    pub(crate) fn for_retrieve(
        program: &'c Program,
        diagnostics: &'c mut Vec<Diagnostic>,
        module: Option<&str>,
        vars: HashMap<SmolStr, (Type, crate::model::flow::Slot)>,
    ) -> XCompiler<'c> {
        XCompiler { program, diagnostics, module: module.map(SmolStr::new), vars: Some(vars) }
    }

    fn report(&mut self, error: CheckError, span: Span) {
        self.report_help(error, span, None);
    }

    fn report_help(&mut self, error: CheckError, span: Span, help: Option<String>) {
        let d =
            Diagnostic { severity: error.severity(), help, ..Diagnostic::error(error.code(), error.to_string(), span) };
        self.diagnostics.push(d);
    }

    fn lookup_entity(&self, name: &ast::QName) -> Option<EntityId> {
        super::schema::lookup_entity(self.program, name, self.module.as_deref())
    }

    /// Compiles consecutive brackets (ANDed) on `entity`; `None` when any is in error.
    pub(crate) fn constraints(&mut self, entity: EntityId, xs: &[ast::XPath]) -> Option<Cond> {
        let before = self.diagnostics.len();
        let mut conds: Vec<Cond> = xs.iter().filter_map(|x| self.cond(entity, &x.expr)).collect();
        if self.diagnostics[before..].iter().any(|d| d.is_error()) {
            return None;
        }
        Some(if conds.len() == 1 { conds.remove(0) } else { Cond::And(conds) })
    }

    fn cond(&mut self, entity: EntityId, x: &XExpr) -> Option<Cond> {
        match x {
            XExpr::Or(parts) => {
                let parts: Vec<Option<Cond>> = parts.iter().map(|p| self.cond(entity, p)).collect();
                parts.into_iter().collect::<Option<Vec<_>>>().map(Cond::Or)
            }
            XExpr::And(parts) => {
                let parts: Vec<Option<Cond>> = parts.iter().map(|p| self.cond(entity, p)).collect();
                parts.into_iter().collect::<Option<Vec<_>>>().map(Cond::And)
            }
            XExpr::Not(inner, _) => self.cond(entity, inner).map(|c| Cond::Not(Box::new(c))),
            XExpr::Operand(op) => self.lone(entity, op),
            XExpr::Compare { lhs, op, rhs, span } => self.compare(entity, lhs, *op, rhs, *span),
        }
    }

    /// A lone operand as a condition: an existence test, `true()`, or a Boolean function.
    fn lone(&mut self, entity: EntityId, op: &XOperand) -> Option<Cond> {
        let span = op.span();
        let (operand, ty) = self.operand(entity, op)?;
        match (operand, ty) {
            (Operand::Path(path), XType::Object { .. }) => Some(Cond::Exists(path)),
            (Operand::Value(Value::Boolean(b)), _) => Some(Cond::Const(b)),
            (f @ Operand::Func { .. }, XType::Bool) => Some(Cond::Holds(f)),
            (_, XType::Unknown) => None,
            (Operand::Var { .. }, XType::Bool | XType::Scalar(Type::Boolean)) => {
                let text = self.program.sources.slice(span).to_string();
                let error = CheckError::NotACondition { name: text.clone(), ty: "a Boolean value".into() };
                self.report_help(error, span, Some(format!("write `{text} = true()`")));
                None
            }
            (_, ty) => {
                let text = self.program.sources.slice(span).to_string();
                let help = matches!(ty, XType::Attr(AttrType::Boolean)).then(|| format!("write `{text} = true()`"));
                let error = CheckError::NotACondition { name: text, ty: self.describe(&ty) };
                self.report_help(error, span, help);
                None
            }
        }
    }

    fn compare(&mut self, entity: EntityId, l: &XOperand, op: CmpOp, r: &XOperand, span: Span) -> Option<Cond> {
        let left = self.operand(entity, l);
        let right = self.operand(entity, r);
        let ((lo, lt), (ro, rt)) = (left?, right?);
        let (lo, ro) = self.unify(lo, &lt, l.span(), ro, &rt, r.span(), op)?;
        Some(Cond::Compare { lhs: lo, op, rhs: ro, span })
    }

    /// Checks that two sides compare, converting literals to the other side's type.
    #[expect(clippy::too_many_arguments, reason = "both sides with their spans")]
    fn unify(
        &mut self,
        lo: Operand,
        lt: &XType,
        ls: Span,
        ro: Operand,
        rt: &XType,
        rs: Span,
        op: CmpOp,
    ) -> Option<(Operand, Operand)> {
        use XType::*;
        let ordering = !matches!(op, CmpOp::Eq | CmpOp::Ne);
        // Put the "typed" side on the left for the checks, then swap back.
        let literal_like = |t: &XType| matches!(t, Str(_) | Num | Bool | Empty | Instant | Int | Scalar(_));
        let swapped = literal_like(lt) && !literal_like(rt);
        let (a, at, as_, b, bt, bs) = if swapped { (ro, rt, rs, lo, lt, ls) } else { (lo, lt, ls, ro, rt, rs) };
        let mismatch = |s: &mut Self| {
            let (left, right) = (s.describe_at(at, as_), s.describe_at(bt, bs));
            let error = CheckError::Mismatch { left, right };
            s.report(error, if swapped { as_ } else { bs });
            None
        };
        let not_ordered = |s: &mut Self, t: &XType| {
            let ty = s.describe(t);
            s.report(CheckError::NotOrdered { op: op.as_str(), ty }, as_.to(bs));
            None
        };
        let b_conv: Operand = match (at, bt) {
            (Unknown, _) | (_, Unknown) => return None,
            (_, Empty) | (Empty, _) => {
                if ordering {
                    return not_ordered(self, &Empty);
                }
                b
            }
            (Object { entity, is_id, role_token: a_role }, Object { entity: other, role_token, is_id: b_id }) => {
                if ordering {
                    return not_ordered(self, at);
                }
                // `[id = '[%UserRole_X%]']`, written either way round.
                let (id_side, role_span) = if *role_token && *is_id {
                    (Some(*entity), bs)
                } else if *a_role && *b_id {
                    (Some(*other), as_)
                } else {
                    (None, bs)
                };
                if let Some(id_entity) = id_side.filter(|e| *e != SYSTEM_USER_ROLE) {
                    let role = self
                        .program
                        .sources
                        .slice(role_span)
                        .trim_matches(|c| c == '\'' || c == '[' || c == ']' || c == '%');
                    let role = role.trim_start_matches("UserRole_");
                    let help = self.program.is_a(id_entity, SYSTEM_USER).then(|| {
                        format!("write `[System.UserRoles = '[%UserRole_{role}%]']` to test the user roles of the current object")
                    });
                    self.report_help(CheckError::IdWithUserRole, as_.to(bs), help);
                    return None;
                }
                let p = &self.program;
                if !(p.is_a(*entity, *other) || p.is_a(*other, *entity)) {
                    return mismatch(self);
                }
                b
            }
            (Object { .. }, Str(_)) => {
                self.report_help(
                    CheckError::IdAsString,
                    bs,
                    Some("compare with a token such as `'[%CurrentUser%]'` or with a variable".into()),
                );
                return None;
            }
            (Object { .. }, _) | (_, Object { .. }) => return mismatch(self),
            (Attr(_) | Scalar(_) | Int | Instant | Num | Bool | Str(_), _) => {
                let ty = match at {
                    Attr(ty) => Type::of_attr(*ty),
                    Scalar(t) => *t,
                    Int | Num => Type::Decimal,
                    Instant => Type::DateTime,
                    Bool => Type::Boolean,
                    _ => Type::String,
                };
                match self.convert(ty, bt, b, bs, (op, as_.to(bs))) {
                    Ok(v) => v,
                    Err(true) => return mismatch(self),
                    Err(false) => return None,
                }
            }
        };
        Some(if swapped { (b_conv, a) } else { (a, b_conv) })
    }

    /// Converts the right side to fit a left side of type `ty`; `Err(true)` for a plain mismatch.
    fn convert(
        &mut self,
        ty: Type,
        bt: &XType,
        b: Operand,
        bs: Span,
        (op, span): (CmpOp, Span),
    ) -> Result<Operand, bool> {
        let ordering = !matches!(op, CmpOp::Eq | CmpOp::Ne);
        use XType::*;
        let fits_attr = |other: AttrType| Type::of_attr(other);
        let other_ty = match bt {
            Attr(t) => Some(fits_attr(*t)),
            Scalar(t) => Some(*t),
            Int | Num => Some(Type::Decimal),
            Instant => Some(Type::DateTime),
            Bool => Some(Type::Boolean),
            _ => None,
        };
        if let Some(other) = other_ty {
            let ok = (ty.is_numeric() && other.is_numeric()) || ty == other;
            if !ok {
                return Err(true);
            }
            if ordering && matches!(ty, Type::Boolean | Type::Enum(_)) {
                let ty = Scalar(ty);
                let d = self.describe(&ty);
                self.report(CheckError::NotOrdered { op: op.as_str(), ty: d }, span);
                return Err(false);
            }
            return Ok(b);
        }
        let Str(text) = bt else { return Err(true) };
        if ordering && matches!(ty, Type::Boolean | Type::Enum(_)) {
            let d = self.describe(&Scalar(ty));
            self.report(CheckError::NotOrdered { op: op.as_str(), ty: d }, span);
            return Err(false);
        }
        match ty {
            Type::String => Ok(b),
            Type::Boolean if text == "true" || text == "false" => Ok(Operand::Value(Value::Boolean(text == "true"))),
            Type::Enum(e) => {
                let def = self.program.enumeration(e);
                match def.values.iter().position(|v| v == text) {
                    Some(i) => Ok(Operand::Value(Value::Enum(e, i as u32))),
                    None => {
                        let help = did_you_mean(text, def.values.iter().map(SmolStr::as_str));
                        let error =
                            CheckError::UnknownEnumValue { name: text.clone(), enumeration: def.name.to_string() };
                        self.report_help(error, bs, help);
                        Err(false)
                    }
                }
            }
            Type::DateTime => match crate::time::parse_instant(text) {
                Some(ms) => Ok(Operand::Value(Value::DateTime(ms))),
                None => {
                    self.report(CheckError::BadDateTime { text: text.clone() }, bs);
                    Err(false)
                }
            },
            _ => Err(true),
        }
    }

    fn operand(&mut self, entity: EntityId, op: &XOperand) -> Option<(Operand, XType)> {
        match op {
            XOperand::Path(p) => self.path(entity, p),
            XOperand::Bool(b, _) => Some((Operand::Value(Value::Boolean(*b)), XType::Bool)),
            XOperand::Arith { operands, span, .. } => {
                let dates =
                    operands.iter().any(|o| matches!(o, XOperand::Value(XValue::Tokens(_) | XValue::String(_))));
                let help = if dates {
                    "write date arithmetic inside one quoted string: `'[%CurrentDateTime%] - 2 * [%DayLength%]'`"
                } else {
                    "constraints compare stored values: compute the value in a microflow and compare with a variable"
                };
                self.report_help(CheckError::ArithmeticOutsideToken, *span, Some(help.into()));
                None
            }
            XOperand::Function { name, args, span } => self.function(entity, name, args, *span),
            XOperand::Value(v) => self.value(v),
        }
    }

    fn value(&mut self, v: &XValue) -> Option<(Operand, XType)> {
        match v {
            XValue::String(s) => Some((Operand::Value(Value::String(s.value.clone())), XType::Str(s.value.clone()))),
            XValue::Number(n) => Some((Operand::Value(Value::Decimal(n.value)), XType::Num)),
            XValue::Empty(_) => Some((Operand::Value(Value::Empty), XType::Empty)),
            XValue::Tokens(t) => self.tokens(t),
            XValue::Variable(var) => {
                let Some(vars) = &self.vars else {
                    let error = CheckError::VariableInRule { name: var.name.to_string() };
                    let help = "access rules see only the current user: use a token such as `'[%CurrentUser%]'`";
                    self.report_help(error, var.span, Some(help.into()));
                    return None;
                };
                // `$currentUser` is the current user, as the token says it.
                if var.name == "currentUser" {
                    let xt = XType::Object { entity: SYSTEM_USER, role_token: false, is_id: false };
                    return Some((Operand::Token(TokenExpr::CurrentUser), xt));
                }
                let Some((ty, slot)) = vars.get(&var.name).copied() else {
                    let mut names: Vec<&str> = vars.keys().map(SmolStr::as_str).collect();
                    names.push("currentUser");
                    let help = crate::diagnostic::suggest::did_you_mean_var(&var.name, names);
                    self.report_help(CheckError::UnknownVariable { name: var.name.to_string() }, var.span, help);
                    return None;
                };
                let xt = match ty {
                    Type::Object(e) => XType::Object { entity: e, role_token: false, is_id: false },
                    Type::Unknown => XType::Unknown,
                    Type::Boolean => XType::Bool,
                    Type::DateTime => XType::Instant,
                    Type::Empty => XType::Empty,
                    other => XType::Scalar(other),
                };
                Some((Operand::Var { name: var.name.clone(), ty, slot }, xt))
            }
        }
    }

    fn tokens(&mut self, t: &ast::TokenExpr) -> Option<(Operand, XType)> {
        let first = &t.terms[0];
        let name = first.token.name.as_str();
        let object_token = name == "CurrentUser" || name == "CurrentObject" || name.starts_with("UserRole_");
        if object_token {
            if name == "CurrentObject" {
                if self.vars.is_none() {
                    let help = "an access rule's constraint is about the object itself: name its members directly";
                    self.report_help(CheckError::CurrentObjectInRule, first.token.span, Some(help.into()));
                } else {
                    self.report(CheckError::UnknownToken { name: name.into() }, first.token.span);
                }
                return None;
            }
            if t.terms.len() > 1 || first.factor.is_some() {
                self.report(CheckError::BadTokenArithmetic { name: name.into() }, t.span);
                return None;
            }
            if name == "CurrentUser" {
                let ty = XType::Object { entity: SYSTEM_USER, role_token: false, is_id: false };
                return Some((Operand::Token(TokenExpr::CurrentUser), ty));
            }
            let role = &name["UserRole_".len()..];
            let Some(id) = self.program.user_role_by_name(role) else {
                let names: Vec<&str> = self.program.user_roles.iter().map(|r| r.name.as_str()).collect();
                let help = did_you_mean(role, names)
                    .map(|h| h.replace('`', "").replace("mean ", "mean `[%UserRole_").replace('?', "%]`?"));
                self.report_help(CheckError::UnknownUserRole { name: role.into() }, first.token.span, help);
                return None;
            };
            let ty = XType::Object { entity: SYSTEM_USER_ROLE, role_token: true, is_id: false };
            return Some((Operand::Token(TokenExpr::UserRole(id)), ty));
        }
        let mut terms = Vec::new();
        for (i, term) in t.terms.iter().enumerate() {
            let name = term.token.name.as_str();
            let Some(token) = date_token(name) else {
                let mut names = token_names();
                names.extend(self.program.user_roles.iter().map(|r| format!("UserRole_{}", r.name)));
                let help = did_you_mean(name, names.iter().map(String::as_str))
                    .map(|h| h.replace("`?", "%]`?").replace("mean `", "mean `[%"));
                let help = help.or_else(|| {
                    (name == "CurrentObject" || name == "CurrentUser" || name.starts_with("UserRole_"))
                        .then(|| "object tokens cannot take part in arithmetic".into())
                });
                self.report_help(CheckError::UnknownToken { name: name.into() }, term.token.span, help);
                return None;
            };
            let is_length = matches!(token, DateToken::Length(_));
            // The first term is an instant; every later term is a length.
            if (i == 0) == is_length || (term.factor.is_some() && !is_length) {
                self.report_help(
                    CheckError::BadTokenArithmetic { name: name.into() },
                    term.token.span,
                    Some("start with an instant such as `[%CurrentDateTime%]`, then add or subtract lengths such as `2 * [%DayLength%]`".into()),
                );
                return None;
            }
            let factor = match &term.factor {
                None => 1,
                Some(n) => match n.value.to_i64().filter(|_| n.integer) {
                    Some(f) => f,
                    None => {
                        let text = self.program.sources.slice(n.span).to_string();
                        let help = "use a smaller unit: `36 * [%HourLength%]` rather than `1.5 * [%DayLength%]`";
                        self.report_help(CheckError::FractionalFactor { text }, n.span, Some(help.into()));
                        return None;
                    }
                },
            };
            // `- -9223372036854775808 * [%DayLength%]` has no negation in an i64: saturating
            // keeps its direction (the instant is out of range either way), where wrapping
            // would turn it into the far past.
            terms.push(DateTerm { factor: if term.plus { factor } else { factor.saturating_neg() }, token });
        }
        Some((Operand::Token(TokenExpr::Date(terms)), XType::Instant))
    }

    fn function(
        &mut self,
        entity: EntityId,
        name: &ast::Ident,
        args: &[XOperand],
        span: Span,
    ) -> Option<(Operand, XType)> {
        let fname = name.name.as_str();
        let Some(def) = xfunction(fname) else {
            let names = XFUNCTIONS.iter().flat_map(|f| f.names.iter().copied()).chain(["not", "true", "false"]);
            let help = did_you_mean(fname, names);
            self.report_help(CheckError::UnknownFunction { name: fname.into() }, name.span, help);
            return None;
        };
        let required = def.params.iter().filter(|p| **p != XParam::Zone).count();
        if args.len() < required || args.len() > def.params.len() {
            self.report(CheckError::BadArguments { name: fname.into(), why: def.takes.into() }, span);
            return None;
        }
        let mut compiled = Vec::new();
        let mut failed = false;
        let mut func = def.func;
        for (arg, param) in args.iter().zip(def.params) {
            if *param == XParam::Zone {
                let zone = match arg {
                    XOperand::Value(XValue::String(s)) => s,
                    other => {
                        let why = "takes a time zone name as a quoted string, such as `'Europe/Amsterdam'`".to_string();
                        self.report(CheckError::BadArguments { name: fname.into(), why }, other.span());
                        failed = true;
                        continue;
                    }
                };
                match (chrono_tz::Tz::from_str(&zone.value), func) {
                    (Ok(tz), Func::DatePart(part, _)) => func = Func::DatePart(part, tz),
                    (Ok(_), _) => {}
                    (Err(_), _) => {
                        let help = did_you_mean(&zone.value, chrono_tz::TZ_VARIANTS.iter().map(|t| t.name()));
                        self.report_help(CheckError::UnknownTimeZone { name: zone.value.clone() }, zone.span, help);
                        failed = true;
                    }
                }
                continue;
            }
            let Some((operand, ty)) = self.operand(entity, arg) else {
                failed = true;
                continue;
            };
            let want_date = *param == XParam::DateTime;
            let ok = match &ty {
                XType::Unknown => true,
                XType::Attr(AttrType::String(_) | AttrType::HashedString)
                | XType::Str(_)
                | XType::Scalar(Type::String) => !want_date,
                XType::Attr(AttrType::DateTime) | XType::Instant => want_date,
                _ => false,
            };
            if !ok {
                let expected = if want_date { "a DateTime" } else { "a string" };
                let why = format!("takes {expected}, not {}", self.describe_at(&ty, arg.span()));
                self.report(CheckError::BadArguments { name: fname.into(), why }, arg.span());
                failed = true;
            }
            compiled.push(operand);
        }
        if failed {
            return None;
        }
        let ty = match def.result {
            XResult::Boolean => XType::Bool,
            XResult::Integer => XType::Int,
        };
        Some((Operand::Func { func, args: compiled }, ty))
    }

    /// Walks a path from `entity` through the schema.
    fn path(&mut self, entity: EntityId, p: &ast::XPathPath) -> Option<(Operand, XType)> {
        let mut steps: Vec<Step> = Vec::new();
        let mut current = entity;
        let mut i = 0;
        let n = p.steps.len();
        while i < n {
            let step = &p.steps[i];
            let name = step.name.to_string();
            let after =
                if i == 0 { self.program.entity(entity).name.to_string() } else { p.steps[i - 1].name.to_string() };
            if name == "id" && i == n - 1 && step.predicates.is_empty() {
                let ty = XType::Object { entity: current, role_token: false, is_id: true };
                return Some((Operand::Path(Path { steps, end: PathEnd::Object, span: p.span }), ty));
            }
            // An attribute or an owned association of the current entity.
            if let Some(member) = self.program.entity(current).member(&name) {
                let def = self.program.entity(current).members[member].clone();
                match def.kind {
                    MemberKind::Attribute(ty) => {
                        if i != n - 1 || !step.predicates.is_empty() {
                            let why = "an attribute ends a path".to_string();
                            let (next, span) = match p.steps.get(i + 1) {
                                Some(s) => (s.name.to_string(), s.name.span),
                                None => (name.clone(), step.name.span),
                            };
                            self.report(CheckError::BadPathStep { step: next, after: name, why }, span);
                            return None;
                        }
                        let end = PathEnd::Attribute { member, ty };
                        return Some((Operand::Path(Path { steps, end, span: p.span }), XType::Attr(ty)));
                    }
                    MemberKind::Association(assoc) => {
                        let to = self.program.assoc(assoc).to;
                        i = self.assoc_step(&mut steps, assoc, true, to, p, i)?;
                        current = steps.last().map_or(to, |s| s.entity);
                        continue;
                    }
                }
            }
            // An association walked from its target side.
            if let Some(assoc) = self.reverse_assoc(current, &step.name, p.steps.get(i + 1)) {
                let from = self.program.assoc(assoc).from;
                i = self.assoc_step(&mut steps, assoc, false, from, p, i)?;
                current = steps.last().map_or(from, |s| s.entity);
                continue;
            }
            // Nothing fits: say why as precisely as we can.
            if self.program.is_poisoned(current, &name) {
                return None; // its declaration is already reported
            }
            let entity_name = self.program.entity(current).name.to_string();
            if self.lookup_entity(&step.name).is_some() {
                let why = "an entity step must follow an association".to_string();
                self.report(CheckError::BadPathStep { step: name, after, why }, step.name.span);
                return None;
            }
            let mut candidates: Vec<String> =
                self.program.entity(current).members.iter().map(|m| m.name.to_string()).collect();
            candidates.extend(
                self.program
                    .associations
                    .iter()
                    .filter(|a| self.program.is_a(current, a.to))
                    .map(|a| a.name.to_string()),
            );
            let boolean = p.steps.len() == 1 && matches!(name.to_ascii_lowercase().as_str(), "true" | "false");
            let help = if boolean {
                // `[Visible = true]`: XPath has no Boolean keywords, only the functions.
                let word = name.to_ascii_lowercase();
                Some(format!("XPath writes a Boolean as `{word}()` (or quoted, `'{word}'`): `[Attribute = {word}()]`"))
            } else {
                did_you_mean(&name, candidates.iter().map(String::as_str))
                    .or_else(|| super::system_member_help(self.program, current, &name))
            };
            self.report_help(CheckError::UnknownMember { name, entity: entity_name }, step.name.span, help);
            return None;
        }
        let entity = steps.last().map_or(current, |s| s.entity);
        let ty = XType::Object { entity, role_token: false, is_id: false };
        Some((Operand::Path(Path { steps, end: PathEnd::Object, span: p.span }), ty))
    }

    /// Adds an association step (with its optional entity step); returns the index of the next step.
    fn assoc_step(
        &mut self,
        steps: &mut Vec<Step>,
        assoc: AssocId,
        forward: bool,
        target: EntityId,
        p: &ast::XPathPath,
        i: usize,
    ) -> Option<usize> {
        let mut entity = target;
        let mut predicates: Vec<&ast::XPath> = p.steps[i].predicates.iter().collect();
        let mut next = i + 1;
        if let Some(step) = p.steps.get(i + 1) {
            if let Some(e) = self.lookup_entity(&step.name) {
                if !self.program.is_a(e, target) {
                    let why = format!("the association leads to `{}`", self.program.entity(target).name);
                    let error = CheckError::BadPathStep {
                        step: step.name.to_string(),
                        after: p.steps[i].name.to_string(),
                        why,
                    };
                    self.report(error, step.name.span);
                    return None;
                }
                entity = e;
                predicates.extend(step.predicates.iter());
                next = i + 2;
            } else if !step.name.is_qualified() || self.program.entity(target).member(&step.name.to_string()).is_some()
            {
                let why = format!(
                    "write the entity first: `{}/{}/{}`",
                    p.steps[i].name,
                    self.program.entity(target).name,
                    step.name
                );
                let error =
                    CheckError::BadPathStep { step: step.name.to_string(), after: p.steps[i].name.to_string(), why };
                self.report(error, step.name.span);
                return None;
            }
        }
        let mut conds = Vec::new();
        for x in predicates {
            conds.push(self.cond(entity, &x.expr)?);
        }
        let filter = match conds.len() {
            0 => None,
            1 => Some(Box::new(conds.remove(0))),
            _ => Some(Box::new(Cond::And(conds))),
        };
        steps.push(Step { assoc, forward, entity, filter });
        Some(next)
    }

    /// An association named `name` whose target side `entity` is, walked backwards.
    fn reverse_assoc(&self, entity: EntityId, name: &ast::QName, next: Option<&ast::XStep>) -> Option<AssocId> {
        let full = name.to_string();
        let key = match &self.module {
            Some(m) if !name.is_qualified() => qualify(m, &full),
            _ => SmolStr::new(&full),
        };
        let candidates = self.program.assoc_index.get(&key)?;
        let next_entity = next.and_then(|s| self.lookup_entity(&s.name));
        candidates
            .iter()
            .copied()
            .filter(|&a| self.program.is_a(entity, self.program.assoc(a).to))
            .find(|&a| next_entity.is_none_or(|e| self.program.is_a(e, self.program.assoc(a).from)))
    }

    fn describe(&self, t: &XType) -> String {
        let p = &self.program;
        match t {
            XType::Attr(ty) => format!("a {} attribute", Type::of_attr(*ty).describe(p)),
            XType::Object { entity, role_token: true, .. } => {
                format!("a user role (an object of {})", p.entity(*entity).name)
            }
            XType::Object { entity, .. } => format!("an object of {}", p.entity(*entity).name),
            XType::Str(_) => "a string".into(),
            XType::Num => "a number".into(),
            XType::Bool => "a Boolean".into(),
            XType::Empty => "empty".into(),
            XType::Instant => "a date and time".into(),
            XType::Int => "an Integer".into(),
            XType::Scalar(t) => t.describe(p),
            XType::Unknown => "an unknown value".into(),
        }
    }

    fn describe_at(&self, t: &XType, span: Span) -> String {
        format!("{} `{}`", self.describe(t), self.program.sources.slice(span))
    }
}
