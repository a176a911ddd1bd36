//! Retrieves as SQL, for stores that speak it: the principal's access rules and
//! the retrieve's own constraint translated into one query over the tables of
//! [`crate::store::sqlite`], with every token, variable and constant bound as a
//! parameter (never spliced into the text).
//!
//! The query selects candidates: every object the evaluator would return is
//! among them. A constraint the translation cannot express exactly is left out
//! where that only widens the selection (a conjunct, a rule), and the whole
//! query is marked inexact; the evaluator checks every candidate either way,
//! so the SQL changes the cost, never the answer.

use super::exec::Rights;
use super::{Engine, Vars};
use crate::model::value::Value as XValue;
use crate::model::xpath::{Cond, Func, Operand, Path, PathEnd, Step, TokenExpr};
use crate::model::*;
use crate::model::{CmpOp, Multiplicity};
use crate::store::dialect::{quote, Dialect};
use crate::store::sqlite::{entity_source, link_table, table_name};
use crate::store::{ObjectId, SqlValue, Value};

/// A query with its parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct SqlQuery {
    /// The SQL text, with `?` for every parameter.
    pub text: String,
    /// The parameters, in order.
    pub params: Vec<SqlValue>,
    /// Whether it selects exactly what the evaluator returns (for committed objects),
    /// rather than a superset of it.
    pub exact: bool,
}

impl SqlQuery {
    /// The query and its parameters, for review (`warden sql`).
    pub fn render(&self) -> String {
        let mut out = format!("{};\n", self.text);
        for (i, p) in self.params.iter().enumerate() {
            let shown = match p {
                SqlValue::Null => "NULL".to_string(),
                SqlValue::Integer(n) => n.to_string(),
                SqlValue::Text(t) => format!("'{}'", t.replace('\'', "''")),
            };
            out.push_str(&format!("-- ?{} = {shown}\n", i + 1));
        }
        if !self.exact {
            out.push_str("-- some constraints are not translated: the evaluator checks every row it returns\n");
        }
        out
    }
}

impl Engine<'_> {
    /// The query a retrieve of `entity` runs on a SQL store, or `None` when the
    /// entity (or one of its specializations) is not kept in tables.
    pub(crate) fn retrieve_sql(
        &self,
        entity: EntityId,
        query: Option<&Cond>,
        vars: &Vars,
        rights: Rights,
    ) -> Option<SqlQuery> {
        self.retrieve_sql_in(entity, query, vars, rights, self.store.dialect().unwrap_or_default())
    }

    /// [`Engine::retrieve_sql`] in a given dialect.
    fn retrieve_sql_in(
        &self,
        entity: EntityId,
        query: Option<&Cond>,
        vars: &Vars,
        rights: Rights,
        dialect: Dialect,
    ) -> Option<SqlQuery> {
        let program = self.program;
        let stored: Vec<EntityId> =
            program.specializations(entity).into_iter().filter(|e| *e != SYSTEM_USER_ROLE).collect();
        if stored.iter().any(|e| !program.entity(*e).persistent) {
            return None;
        }
        let mut t = Translator {
            engine: self,
            dialect,
            vars: Some(vars),
            params: Vec::new(),
            aliases: 0,
            // Paths could pass through this session's uncommitted objects, which the tables do not hold.
            paths: self.session().uncommitted.is_empty(),
            exact: true,
            view: false,
            folding: self.store.folding(),
        };
        let principal = rights == Rights::Principal && !self.is_system();
        let mut selects = Vec::new();
        for e in stored {
            let mut conds = Vec::new();
            if principal {
                if !self.gate_open() {
                    continue;
                }
                let mut alternatives = Vec::new();
                let mut unknown = false;
                let mark = t.params.len();
                for r in self.applicable_rules(e) {
                    match &program.access_rules[r].constraint {
                        None => alternatives.push(t.yes()),
                        Some(c) => match t.cond(c, e, "o") {
                            Some(sql) => alternatives.push(sql),
                            None => unknown = true,
                        },
                    }
                }
                if alternatives.is_empty() && !unknown {
                    // No rule applies: nothing of this entity is visible.
                    continue;
                }
                if unknown {
                    // The rules are left out whole: so are their parameters.
                    t.params.truncate(mark);
                    t.exact = false;
                } else {
                    conds.push(format!("({})", alternatives.join(" OR ")));
                }
            }
            if let Some(q) = query {
                // The principal's own constraint, in its view (section 4).
                t.view = principal;
                conds.extend(t.top(q, e, "o"));
                t.view = false;
            }
            let where_ = if conds.is_empty() { String::new() } else { format!(" WHERE {}", conds.join(" AND ")) };
            selects.push(format!("SELECT o.id FROM {} AS o{where_}", quote(&table_name(program, e))));
        }
        let text = if selects.is_empty() { t.dialect.nothing() } else { selects.join("\nUNION ALL\n") };
        Some(SqlQuery { text, params: t.params, exact: t.exact })
    }
}

struct Translator<'a, 'p> {
    engine: &'a Engine<'p>,
    /// How the store spells SQL.
    dialect: Dialect,
    vars: Option<&'a Vars>,
    params: Vec<SqlValue>,
    aliases: usize,
    /// Whether paths through associations may be translated.
    paths: bool,
    /// False once something was left out.
    exact: bool,
    /// Translating the principal's own constraint in its view: members it may not read have no
    /// value. Only own attributes and own references are translated so; anything through an
    /// association is left to the evaluator.
    view: bool,
    /// How the store's SQL folds case as the evaluator does (`Store::folding`).
    folding: crate::store::dialect::Folding,
}

impl Translator<'_, '_> {
    /// A retrieve's constraint at the top: conjuncts that cannot be translated are left out.
    fn top(&mut self, c: &Cond, entity: EntityId, alias: &str) -> Vec<String> {
        match c {
            Cond::And(parts) => parts.iter().flat_map(|p| self.top(p, entity, alias)).collect(),
            _ => match self.cond(c, entity, alias) {
                Some(sql) => vec![sql],
                None => {
                    self.exact = false;
                    Vec::new()
                }
            },
        }
    }

    /// In the principal's view, the condition under which it may read `member` of the object
    /// `alias` of `entity`, for a query that already demands that the object be visible.
    fn readable(&mut self, entity: EntityId, member: usize, alias: &str) -> Option<String> {
        let engine = self.engine;
        if !self.view || engine.read_implied(entity, member) {
            return Some(self.yes());
        }
        // The rules that grant the member, with full rights (access-rule constraints see everything).
        self.view = false;
        let mut alternatives = Vec::new();
        let mut failed = false;
        for r in engine.applicable_rules(entity) {
            let rule = &engine.program.access_rules[r];
            if rule.members[member] < MemberRight::Read {
                continue;
            }
            match &rule.constraint {
                None => alternatives.push(self.yes()),
                Some(c) => match self.cond_inner(c, entity, alias) {
                    Some(sql) => alternatives.push(sql),
                    None => failed = true,
                },
            }
        }
        self.view = true;
        if failed {
            return None;
        }
        Some(if alternatives.is_empty() { self.no() } else { format!("({})", alternatives.join(" OR ")) })
    }

    /// What `sql` translates, where the principal may read the member, else false. The
    /// readability goes first, in the text and in the parameters.
    fn when_readable(
        &mut self,
        member: Option<(EntityId, usize)>,
        alias: &str,
        sql: impl FnOnce(&mut Self) -> Option<String>,
    ) -> Option<String> {
        let readable = match member {
            Some((entity, member)) => self.readable(entity, member, alias)?,
            None => self.yes(),
        };
        let sql = sql(self)?;
        Some(if readable == self.yes() { sql } else { format!("({readable} AND {sql})") })
    }

    fn param(&mut self, v: SqlValue) -> String {
        self.params.push(v);
        self.dialect.param(self.params.len())
    }

    /// A condition that always holds.
    fn yes(&self) -> String {
        self.dialect.truth(true).into()
    }

    /// A condition that never holds.
    fn no(&self) -> String {
        self.dialect.truth(false).into()
    }

    /// A condition that holds exactly when `b`.
    fn truth(&self, b: bool) -> String {
        self.dialect.truth(b).into()
    }

    fn alias(&mut self) -> String {
        self.aliases += 1;
        format!("t{}", self.aliases)
    }

    /// An exact translation of a condition on the object `alias` of `entity`: always 0 or 1, never NULL.
    fn cond(&mut self, c: &Cond, entity: EntityId, alias: &str) -> Option<String> {
        // Parameters of a failed translation must not stay behind.
        let mark = self.params.len();
        let out = self.cond_inner(c, entity, alias);
        if out.is_none() {
            self.params.truncate(mark);
        }
        out
    }

    fn cond_inner(&mut self, c: &Cond, entity: EntityId, alias: &str) -> Option<String> {
        match c {
            Cond::Const(b) => Some(self.truth(*b)),
            Cond::And(parts) | Cond::Or(parts) => {
                let joiner = if matches!(c, Cond::And(_)) { " AND " } else { " OR " };
                let sql: Option<Vec<String>> = parts.iter().map(|p| self.cond_inner(p, entity, alias)).collect();
                Some(format!("({})", sql?.join(joiner)))
            }
            Cond::Not(inner) => Some(format!("NOT {}", self.cond_inner(inner, entity, alias)?)),
            Cond::Exists(path) => self.along(path, entity, alias, |t, _, _| Some(t.yes())),
            Cond::Holds(operand) => {
                let Operand::Func { func, args } = operand else { return None };
                if func.def().result != crate::model::functions::XResult::Boolean {
                    return None;
                }
                let func = *func;
                let [Operand::Path(path), arg] = args.as_slice() else { return None };
                let [Const::Value(XValue::String(text))] = <[Const; 1]>::try_from(self.constants(arg)?).ok()? else {
                    return None;
                };
                let PathEnd::Attribute { member, .. } = path.end else { return None };
                let own = path.steps.is_empty().then_some((entity, member));
                self.when_readable(own, alias, |t| {
                    t.along(path, entity, alias, |t, column, _| {
                        // Folded once here, as the constant of `=` is (folding is idempotent).
                        let pattern = t.param(SqlValue::Text(crate::model::functions::fold_case(&text)));
                        t.dialect.text_test(&t.folding, func, column, &pattern)
                    })
                    .map(|s| if path.steps.is_empty() { t.dialect.or_false(&s) } else { s })
                })
            }
            Cond::Compare { lhs, op, rhs, .. } => {
                let (path, op, other) = match (lhs, rhs) {
                    (Operand::Path(a), Operand::Path(b)) => return self.two_attributes(a, *op, b, entity, alias),
                    (Operand::Path(p), other) if !matches!(other, Operand::Path(_) | Operand::Func { .. }) => {
                        (p, *op, other)
                    }
                    (other, Operand::Path(p)) if !matches!(other, Operand::Path(_) | Operand::Func { .. }) => {
                        (p, flip(*op), other)
                    }
                    (Operand::Func { func, args }, other) => {
                        let [Operand::Path(p)] = args.as_slice() else { return None };
                        return self.function(*func, p, *op, other, entity, alias);
                    }
                    _ => return None,
                };
                let values = self.constants(other)?;
                let own_reference = path.steps.len() == 1
                    && path.steps[0].forward
                    && path.steps[0].filter.is_none()
                    && matches!(path.end, PathEnd::Object);
                if own_reference {
                    return self.own_reference(path, op, &values, entity, alias);
                }
                if !path.steps.is_empty() {
                    // Existential over the objects reached: none reached is false.
                    return self.along(path, entity, alias, |t, column, ty| t.any(column, ty, op, &values));
                }
                let PathEnd::Attribute { member, ty } = path.end else { return None };
                let column = format!("{alias}.{}", quote(&self.engine.program.entity(entity).members[member].name));
                self.when_readable(Some((entity, member)), alias, |t| t.any(&column, Some(ty), op, &values))
            }
        }
    }

    /// Two attributes of the object itself compared (`[Age < Points]`): an empty side makes it
    /// false, strings are equal ignoring case and ordered by code point, numbers exactly.
    fn two_attributes(&mut self, a: &Path, op: CmpOp, b: &Path, entity: EntityId, alias: &str) -> Option<String> {
        let program = self.engine.program;
        let own = |p: &Path| match p.end {
            PathEnd::Attribute { member, ty } if p.steps.is_empty() => {
                Some((format!("{alias}.{}", quote(&program.entity(entity).members[member].name)), ty))
            }
            _ => None,
        };
        let ((x, tx), (y, ty)) = (own(a)?, own(b)?);
        let member = |p: &Path| match p.end {
            PathEnd::Attribute { member, .. } => member,
            PathEnd::Object => unreachable!("own() took only attributes"),
        };
        let readable_a = self.readable(entity, member(a), alias)?;
        let readable_b = self.readable(entity, member(b), alias)?;
        let sql_op = op.as_str();
        let integer = |t: AttrType| matches!(t, AttrType::Integer | AttrType::Long | AttrType::AutoNumber);
        let number = |t: AttrType| integer(t) || t == AttrType::Decimal;
        let text = |t: AttrType| matches!(t, AttrType::String(_) | AttrType::HashedString);
        let compared = match (tx, ty) {
            (l, r) if integer(l) && integer(r) => format!("{x} {sql_op} {y}"),
            (l, r) if number(l) && number(r) => format!("{} {sql_op} 0", self.dialect.decimal_cmp(&x, &y)),
            (l, r) if text(l) && text(r) => match op {
                CmpOp::Eq | CmpOp::Ne => {
                    let (fx, fy) = (self.dialect.fold(&self.folding, &x)?, self.dialect.fold(&self.folding, &y)?);
                    format!("{fx} {sql_op} {fy}")
                }
                _ => format!("{x} {sql_op} {y}"),
            },
            (AttrType::Boolean, AttrType::Boolean) | (AttrType::DateTime, AttrType::DateTime) => {
                format!("{x} {sql_op} {y}")
            }
            (AttrType::Enum(e), AttrType::Enum(f)) if e == f && matches!(op, CmpOp::Eq | CmpOp::Ne) => {
                format!("{x} {sql_op} {y}")
            }
            // Values of different kinds are only unequal.
            _ => self.truth(op == CmpOp::Ne),
        };
        Some(format!("({readable_a} AND {readable_b} AND {x} IS NOT NULL AND {y} IS NOT NULL AND {compared})"))
    }

    /// `length(path) op constant` and `*-from-dateTime(path) op constant`: the evaluator's own
    /// code as SQL functions over the values the path reaches.
    fn function(
        &mut self,
        func: Func,
        path: &Path,
        op: CmpOp,
        other: &Operand,
        entity: EntityId,
        alias: &str,
    ) -> Option<String> {
        if func.def().result != crate::model::functions::XResult::Integer {
            return None;
        }
        let values = self.constants(other)?;
        let own = match (path.steps.is_empty(), &path.end) {
            (true, PathEnd::Attribute { member, .. }) => Some((entity, *member)),
            _ => None,
        };
        self.when_readable(own, alias, |t| {
            t.along(path, entity, alias, |t, column, _| {
                let expr = t.dialect.integer_function(func, column)?;
                t.any(&expr, Some(AttrType::Integer), op, &values)
            })
        })
    }

    /// The values an operand that is not a path stands for.
    fn constants(&self, operand: &Operand) -> Option<Vec<Const>> {
        match operand {
            Operand::Value(v) => Some(vec![Const::Value(v.clone())]),
            Operand::Token(TokenExpr::Date(terms)) => {
                Some(vec![Const::Value(XValue::DateTime(crate::time::date_terms(self.engine.now, terms)))])
            }
            Operand::Token(TokenExpr::CurrentUser) => {
                Some(vec![Const::Object(self.engine.session().user.unwrap_or(ObjectId(0)))])
            }
            Operand::Token(TokenExpr::UserRole(r)) => Some(vec![Const::Object(ObjectId::of_role(*r))]),
            Operand::Var { slot, .. } => Some(match self.vars?.get(*slot)? {
                Value::Object(id) => vec![Const::Object(*id)],
                Value::List(ids) => ids.iter().copied().map(Const::Object).collect(),
                Value::Empty => vec![Const::Value(XValue::Empty)],
                Value::String(s) => vec![Const::Value(XValue::String(s.clone()))],
                Value::Integer(i) => vec![Const::Value(XValue::Decimal((*i).into()))],
                Value::Decimal(d) => vec![Const::Value(XValue::Decimal(*d))],
                Value::Boolean(b) => vec![Const::Value(XValue::Boolean(*b))],
                Value::DateTime(ms) => vec![Const::Value(XValue::DateTime(*ms))],
                Value::Enum(e, i) => vec![Const::Value(XValue::Enum(*e, *i))],
                _ => return None,
            }),
            Operand::Path(_) | Operand::Func { .. } => None,
        }
    }

    /// The object's own reference (or reference set) compared with constants, as the evaluator
    /// sees it: a reference counts only when its target exists for the session (a reference can
    /// outlive its target: a rolled-back new object, another session's uncommitted one), and an
    /// own association that reaches nothing compares as `empty`.
    fn own_reference(
        &mut self,
        path: &Path,
        op: CmpOp,
        values: &[Const],
        entity: EntityId,
        alias: &str,
    ) -> Option<String> {
        // References may point at this session's uncommitted objects, which the tables do not hold.
        if !self.paths {
            return None;
        }
        let program = self.engine.program;
        let step = &path.steps[0];
        let assoc = program.assoc(step.assoc);
        if step.entity != assoc.to {
            return None;
        }
        let member = super::xpath::member_of(program, entity, step.assoc)?;
        if self.view {
            // Equal to objects the principal knows of: a target equal to one is known too. Other
            // shapes depend on whether the principal may see the target: left to the evaluator.
            if op != CmpOp::Eq || assoc.multiplicity == Multiplicity::ReferenceSet {
                return None;
            }
            if values.iter().any(|c| !matches!(c, Const::Object(_))) {
                return None;
            }
            let engine = self.engine;
            return self.when_readable(Some((entity, member)), alias, |t| {
                let mut parts = Vec::new();
                for c in values {
                    let Const::Object(id) = c else { continue };
                    if engine.knows(*id) && engine.entity_of(*id).is_some_and(|e| program.is_a(e, step.entity)) {
                        let column = format!("{alias}.{}", quote(&program.entity(entity).members[member].name));
                        let p = t.param(SqlValue::Integer(id.0 as i64));
                        parts.push(format!("({column} IS NOT NULL AND {column} = {p})"));
                    }
                }
                Some(if parts.is_empty() { t.no() } else { format!("({})", parts.join(" OR ")) })
            });
        }
        let reachable = |id: ObjectId| self.engine.entity_of(id).is_some_and(|e| program.is_a(e, step.entity));
        let consts: Vec<(Const, bool)> =
            values.iter().map(|c| (c.clone(), matches!(c, Const::Object(id) if reachable(*id)))).collect();
        // What an unset (or dangling) association gives: `empty` against each constant.
        let when_empty = consts.iter().any(|(c, _)| match c {
            Const::Value(XValue::Empty) => op == CmpOp::Eq,
            _ => op == CmpOp::Ne,
        });
        let roles = step.entity == SYSTEM_USER_ROLE;
        let source = quote(&entity_source(program, step.entity));
        if assoc.multiplicity == Multiplicity::ReferenceSet {
            let link = quote(&link_table(program, entity, member));
            let l = self.alias();
            let t = self.alias();
            let live = if roles {
                format!("{link} AS {l} WHERE {l}.owner = {alias}.id")
            } else {
                format!("{link} AS {l} JOIN {source} AS {t} ON {t}.id = {l}.target WHERE {l}.owner = {alias}.id")
            };
            let some = self.reference_is(&format!("{l}.target"), op, &consts)?;
            let none = if when_empty { format!(" OR NOT EXISTS (SELECT 1 FROM {live})") } else { String::new() };
            return Some(format!("(EXISTS (SELECT 1 FROM {live} AND {some}){none})"));
        }
        let column = format!("{alias}.{}", quote(&program.entity(entity).members[member].name));
        let some = self.reference_is(&column, op, &consts)?;
        // `column = reachable object` implies the target exists: no look-up (the owner rule).
        let implied = op == CmpOp::Eq && !when_empty && consts.iter().all(|(c, r)| matches!(c, Const::Object(_)) && *r);
        let live = if roles || implied {
            format!("{column} IS NOT NULL")
        } else {
            let x = self.alias();
            format!("{column} IS NOT NULL AND EXISTS (SELECT 1 FROM {source} AS {x} WHERE {x}.id = {column})")
        };
        Some(if when_empty { format!("(NOT ({live}) OR {some})") } else { format!("({live} AND {some})") })
    }

    /// A reference that is set and whose target exists, compared with constants (any of them).
    fn reference_is(&mut self, column: &str, op: CmpOp, consts: &[(Const, bool)]) -> Option<String> {
        let sql_op = op.as_str();
        let mut parts = Vec::new();
        for (c, reachable) in consts {
            let part = match c {
                // Only `!=` holds between an object and `empty` or a value of another kind.
                Const::Value(_) => self.truth(op == CmpOp::Ne),
                // An object the session cannot reach is equal to no reference.
                Const::Object(_) if !reachable => self.truth(op == CmpOp::Ne),
                Const::Object(id) => {
                    let p = self.param(SqlValue::Integer(id.0 as i64));
                    format!("{column} {sql_op} {p}")
                }
            };
            parts.push(part);
        }
        Some(match parts.len() {
            0 => self.no(),
            1 => parts.pop().unwrap_or_default(),
            _ => format!("({})", parts.join(" OR ")),
        })
    }

    /// A path's steps as semi-joins (`column IN (SELECT id FROM ... WHERE ...)`), innermost
    /// last, with `end` applied to the column the path ends in (`id` for a path that ends in
    /// objects). Each subquery stands alone (nothing in it refers to the rows outside), so
    /// SQLite runs it once and answers it from its indexes: from the far end of the path
    /// through the reference and link-table indexes, rather than once per row.
    fn along(
        &mut self,
        path: &Path,
        entity: EntityId,
        alias: &str,
        end: impl FnOnce(&mut Self, &str, Option<AttrType>) -> Option<String>,
    ) -> Option<String> {
        if path.steps.is_empty() {
            let PathEnd::Attribute { member, ty } = path.end else { return end(self, &format!("{alias}.id"), None) };
            let column = format!("{alias}.{}", quote(&self.engine.program.entity(entity).members[member].name));
            return end(self, &column, Some(ty));
        }
        if !self.paths || self.view {
            return None;
        }
        self.steps(&path.steps, &path.end, entity, alias, end)
    }

    /// The steps left of a path from the object `current` of `entity`: a condition on it.
    fn steps<F>(
        &mut self,
        steps: &[Step],
        path_end: &PathEnd,
        entity: EntityId,
        current: &str,
        end: F,
    ) -> Option<String>
    where
        F: FnOnce(&mut Self, &str, Option<AttrType>) -> Option<String>,
    {
        let program = self.engine.program;
        let Some((step, rest)) = steps.split_first() else {
            return match path_end {
                PathEnd::Object => end(self, &format!("{current}.id"), None),
                PathEnd::Attribute { member, ty } => {
                    let column = format!("{current}.{}", quote(&program.entity(entity).members[*member].name));
                    end(self, &column, Some(*ty))
                }
            };
        };
        let assoc = program.assoc(step.assoc);
        let set = assoc.multiplicity == Multiplicity::ReferenceSet;
        if step.entity == SYSTEM_USER_ROLE {
            // The implied role objects have no table: only `System.UserRoles` compared with an object.
            if !rest.is_empty() || step.filter.is_some() || !step.forward || !matches!(path_end, PathEnd::Object) {
                return None;
            }
            let member = super::xpath::member_of(program, entity, step.assoc)?;
            if set {
                let l = self.alias();
                let link = quote(&link_table(program, entity, member));
                let pred = end(self, &format!("{l}.target"), None)?;
                return Some(format!("{current}.id IN (SELECT {l}.owner FROM {link} AS {l} WHERE {pred})"));
            }
            let column = format!("{current}.{}", quote(&program.entity(entity).members[member].name));
            let pred = end(self, &column, None)?;
            return Some(format!("({column} IS NOT NULL AND {pred})"));
        }
        if program.specializations(step.entity).iter().any(|e| !program.entity(*e).persistent) {
            return None;
        }
        let next = self.alias();
        let source = quote(&entity_source(program, step.entity));
        // What the object reached must satisfy: the step's filter, then the rest of the path.
        let mut wheres = Vec::new();
        if let Some(filter) = &step.filter {
            wheres.push(self.cond_inner(filter, step.entity, &next)?);
        }
        let link =
            |l: &str, owner: EntityId, member: usize| format!("{} AS {l}", quote(&link_table(program, owner, member)));
        Some(match (step.forward, set) {
            (true, false) => {
                let member = super::xpath::member_of(program, entity, step.assoc)?;
                wheres.push(self.steps(rest, path_end, step.entity, &next, end)?);
                let column = format!("{current}.{}", quote(&program.entity(entity).members[member].name));
                format!(
                    "({column} IS NOT NULL AND {column} IN (SELECT {next}.id FROM {source} AS {next} WHERE {}))",
                    wheres.join(" AND ")
                )
            }
            (true, true) => {
                let member = super::xpath::member_of(program, entity, step.assoc)?;
                let l = self.alias();
                wheres.push(self.steps(rest, path_end, step.entity, &next, end)?);
                format!(
                    "{current}.id IN (SELECT {l}.owner FROM {} WHERE {l}.target IN (SELECT {next}.id FROM {source} AS {next} WHERE {}))",
                    link(&l, entity, member),
                    wheres.join(" AND ")
                )
            }
            (false, false) => {
                let member = super::xpath::member_of(program, step.entity, step.assoc)?;
                let column = format!("{next}.{}", quote(&program.entity(step.entity).members[member].name));
                wheres.insert(0, format!("{column} IS NOT NULL"));
                wheres.push(self.steps(rest, path_end, step.entity, &next, end)?);
                format!("{current}.id IN (SELECT {column} FROM {source} AS {next} WHERE {})", wheres.join(" AND "))
            }
            (false, true) => {
                let member = super::xpath::member_of(program, step.entity, step.assoc)?;
                let l = self.alias();
                wheres.push(self.steps(rest, path_end, step.entity, &next, end)?);
                format!(
                    "{current}.id IN (SELECT {l}.target FROM {} WHERE {l}.owner IN (SELECT {next}.id FROM {source} AS {next} WHERE {}))",
                    link(&l, step.entity, member),
                    wheres.join(" AND ")
                )
            }
        })
    }

    /// `column op v` for any of the values (an attribute of type `ty`, or an object id for `None`),
    /// with the empty-value rules of the evaluator. Always 0 or 1.
    fn any(&mut self, column: &str, ty: Option<AttrType>, op: CmpOp, values: &[Const]) -> Option<String> {
        if values.is_empty() {
            return Some(self.no());
        }
        let parts: Option<Vec<String>> = values.iter().map(|v| self.one(column, ty, op, v)).collect();
        let parts = parts?;
        Some(if parts.len() == 1 {
            parts.into_iter().next().unwrap_or_default()
        } else {
            format!("({})", parts.join(" OR "))
        })
    }

    fn one(&mut self, column: &str, ty: Option<AttrType>, op: CmpOp, v: &Const) -> Option<String> {
        let sql_op = op.as_str();
        // An empty constant tests emptiness; an empty column satisfies only `!=`.
        let v = match v {
            Const::Object(id) => {
                // Objects compare by id; only with an object column (a reference or `id`).
                if ty.is_some() {
                    return Some(self.truth(op == CmpOp::Ne));
                }
                let p = self.param(SqlValue::Integer(id.0 as i64));
                return Some(match op {
                    CmpOp::Ne => format!("({column} IS NULL OR {column} {sql_op} {p})"),
                    _ => format!("({column} IS NOT NULL AND {column} {sql_op} {p})"),
                });
            }
            Const::Value(v) => v,
        };
        if *v == XValue::Empty {
            return Some(match op {
                CmpOp::Eq => format!("({column} IS NULL)"),
                CmpOp::Ne => format!("({column} IS NOT NULL)"),
                _ => self.no(),
            });
        }
        // Two-valued whatever the column holds, and still a plain `column op ?` term
        // that SQLite answers from an index.
        let wrap = |p: String| match op {
            CmpOp::Ne => format!("({column} IS NULL OR {p})"),
            _ => format!("({column} IS NOT NULL AND {p})"),
        };
        let mismatch = Some(self.truth(op == CmpOp::Ne));
        let Some(ty) = ty else { return mismatch };
        match (ty, v) {
            (AttrType::String(_) | AttrType::HashedString, XValue::String(s)) => Some(match op {
                CmpOp::Eq | CmpOp::Ne => {
                    let folded = self.dialect.fold(&self.folding, column)?;
                    let p = self.param(SqlValue::Text(crate::model::functions::fold_case(s)));
                    wrap(format!("{folded} {sql_op} {p}"))
                }
                _ => {
                    let p = self.param(SqlValue::Text(s.clone()));
                    wrap(format!("{column} {sql_op} {p}"))
                }
            }),
            (AttrType::Integer | AttrType::Long | AttrType::AutoNumber, XValue::Decimal(n)) if n.fract().is_zero() => {
                let n = i64::try_from(*n).ok()?;
                let p = self.param(SqlValue::Integer(n));
                Some(wrap(format!("{column} {sql_op} {p}")))
            }
            (AttrType::Integer | AttrType::Long | AttrType::AutoNumber | AttrType::Decimal, XValue::Decimal(n)) => {
                let p = self.param(SqlValue::Text(n.to_string()));
                Some(wrap(format!("{} {sql_op} 0", self.dialect.decimal_cmp(column, &p))))
            }
            (AttrType::Boolean, XValue::Boolean(b)) => {
                let p = self.param(SqlValue::Integer(*b as i64));
                Some(wrap(format!("{column} {sql_op} {p}")))
            }
            (AttrType::DateTime, XValue::DateTime(ms)) => {
                let p = self.param(SqlValue::Integer(*ms));
                Some(wrap(format!("{column} {sql_op} {p}")))
            }
            (AttrType::Enum(e), XValue::Enum(f, i)) if e == *f => match op {
                CmpOp::Eq | CmpOp::Ne => {
                    let name = self.engine.program.enumeration(e).values[*i as usize].to_string();
                    let p = self.param(SqlValue::Text(name));
                    Some(wrap(format!("{column} {sql_op} {p}")))
                }
                // The checker refuses ordering an enumeration (E0515).
                _ => None,
            },
            (AttrType::Enum(_), XValue::Enum(..)) => mismatch,
            // Other pairs: the evaluator's order of mixed kinds is not worth mirroring here.
            _ => None,
        }
    }
}

/// `a op b` as `b op' a`.
fn flip(op: CmpOp) -> CmpOp {
    match op {
        CmpOp::Lt => CmpOp::Gt,
        CmpOp::Le => CmpOp::Ge,
        CmpOp::Gt => CmpOp::Lt,
        CmpOp::Ge => CmpOp::Le,
        other => other,
    }
}

/// A value a path is compared with: a constant, or an object (a token or variable).
#[derive(Clone, Debug)]
enum Const {
    Value(XValue),
    Object(ObjectId),
}

impl Engine<'_> {
    /// The query a `retrieve Entity [...]` expression (alone or as a statement's value, such as
    /// `count(retrieve ...)`) runs on a SQL store, as the acting principal.
    pub fn sql_of(&self, stmt: &crate::model::flow::Stmt) -> Result<SqlQuery, super::EvalError> {
        self.sql_of_in(stmt, self.store.dialect().unwrap_or_default())
    }

    /// [`Engine::sql_of`] spelled in `dialect`, whatever the store speaks.
    pub fn sql_of_in(&self, stmt: &crate::model::flow::Stmt, dialect: Dialect) -> Result<SqlQuery, super::EvalError> {
        let (expr, entity, constraint) = super::store_retrieve(stmt)?;
        self.retrieve_sql_in(*entity, constraint.as_ref(), &Vars::new(), Rights::Principal, dialect).ok_or_else(|| {
            super::EvalError::new(
                super::codes::UNSUPPORTED,
                format!("{} is not kept in tables (it is not persistent)", self.program.entity(*entity).name),
                expr.span,
            )
        })
    }
}
