//! Access decisions (section 4) and their explanations.
//!
//! Deny by default: the applicable rules of an entity are those naming one of
//! the principal's module roles; an object is visible when one of them has no
//! constraint or a constraint that holds (a new object matches every
//! constraint until it is first committed); member rights are the union over
//! those matching rules.

use serde::Serialize;

use super::xpath::{compare_sides, points_at_user, ColumnRule, XEval};
use super::{Engine, SessionKey, Vars};
use crate::model::xpath::Cond;
use crate::model::*;
use crate::store::{Object, ObjectId, Value};

pub use super::Op;

impl<'p> Engine<'p> {
    /// Whether the app's gate lets the acting principal touch data at all
    /// (anonymous sessions need a public app).
    pub(crate) fn gate_open(&self) -> bool {
        !self.is_anonymous() || self.access == crate::model::AccessLevel::Public
    }

    /// The rules of `entity` that name one of the acting principal's module roles.
    pub(crate) fn applicable_rules(&self, entity: EntityId) -> Vec<usize> {
        let roles = &self.session().module_roles;
        self.rules_of(entity)
            .iter()
            .copied()
            .filter(|&r| self.program.access_rules[r].roles.iter().any(|m| roles.binary_search(m).is_ok()))
            .collect()
    }

    /// The applicable rules whose constraint holds for the object.
    pub(crate) fn matching_rules(&self, object: &Object) -> Vec<usize> {
        let new = self.session().new.contains(&object.id);
        let judged = self.judged(object);
        let object = &*judged;
        let x = XEval::rules(self);
        self.applicable_rules(object.entity).into_iter().filter(|&r| self.rule_matches(&x, r, object, new)).collect()
    }

    /// Whether rule `r`'s constraint holds for the object (a new object matches every
    /// constraint until it is committed), recorded for coverage.
    fn rule_matches(&self, x: &XEval<'_, 'p>, r: usize, object: &Object, new: bool) -> bool {
        let holds = match &self.program.access_rules[r].constraint {
            None => true,
            Some(_) if new => true,
            Some(c) => self.rule_holds(x, c, object),
        };
        if holds {
            self.cover(|h| {
                h.rules.insert(r);
            });
        }
        holds
    }

    /// Whether a rule's constraint holds for the object, recorded for coverage.
    fn rule_holds(&self, x: &XEval<'_, 'p>, cond: &Cond, object: &Object) -> bool {
        let holds = x.holds(cond, object);
        if let Some(span) = cond.span() {
            self.cover(|h| {
                h.terms.insert((super::coverage::key(span), holds));
            });
        }
        holds
    }

    /// Evaluates a retrieve's constraint with full rights (system, microflows without
    /// `apply entity access`), in the session's view. Access rules use [`XEval::rules`].
    pub(crate) fn xeval<'a>(&'a self, vars: Option<&'a Vars>) -> XEval<'a, 'p> {
        XEval::new(self, vars, false)
    }

    /// Evaluates a retrieve's own constraint in the acting principal's view (section 4).
    pub(crate) fn xview<'a>(&'a self, vars: Option<&'a Vars>) -> XEval<'a, 'p> {
        XEval::new(self, vars, true)
    }

    /// Whether every applicable rule of `entity` grants read on `member` (and one applies):
    /// then the member is readable exactly where the object is visible.
    pub(crate) fn read_implied(&self, entity: EntityId, member: MemberIndex) -> bool {
        let roles = &self.session().module_roles;
        let mut any = false;
        for &r in self.rules_of(entity) {
            let rule = &self.program.access_rules[r];
            if rule.roles.iter().any(|m| roles.binary_search(m).is_ok()) {
                if rule.members[member] < MemberRight::Read {
                    return false;
                }
                any = true;
            }
        }
        any
    }

    /// Whether the acting principal may do `op` on `object` (or its entity for `Create`):
    /// some applicable rule grants it and its constraint holds (a new object matches every
    /// constraint until it is committed).
    pub fn allowed(&self, op: Op, object: &Object) -> bool {
        if self.is_system() {
            return true;
        }
        if !self.gate_open() {
            return false;
        }
        if op == Op::Create {
            return self.can_create(object.entity);
        }
        if !self.reachable(object) {
            return false;
        }
        let session = self.session();
        let new = session.new.contains(&object.id);
        // A copy the session changed is judged as committed.
        let judged = self.judged(object);
        let object = &*judged;
        let x = XEval::rules(self);
        for &r in self.rules_of(object.entity) {
            let rule = &self.program.access_rules[r];
            if !rule.roles.iter().any(|m| session.module_roles.binary_search(m).is_ok()) {
                continue;
            }
            let grants = match op {
                Op::See => true,
                Op::Read(m) => rule.members[m] >= MemberRight::Read,
                Op::Write(m) => rule.members[m] >= MemberRight::Write,
                Op::Delete => rule.delete,
                Op::Create => false,
            };
            if !grants {
                continue;
            }
            if self.rule_matches(&x, r, object, new) {
                self.cover(|h| match op {
                    Op::Read(m) => {
                        h.grants.insert((r, m, rule.members[m] == MemberRight::Write));
                    }
                    Op::Write(m) => {
                        h.grants.insert((r, m, true));
                    }
                    _ => {}
                });
                return true;
            }
        }
        false
    }

    /// [`Engine::allowed`] for the object `id`, read from the store's columns where that is
    /// exact (see [`Engine::allowed_by_columns`]), else on the object built from the store or
    /// the session's copy. An object that does not exist: false.
    pub fn allowed_id(&self, op: Op, id: ObjectId) -> bool {
        if let Some(entity) = self.store.entity_of(id) {
            if let Some(decided) = self.allowed_by_columns(op, id, entity) {
                return decided;
            }
        }
        self.object(id).is_some_and(|o| self.allowed(op, &o))
    }

    /// [`Engine::allowed`] decided from the columns of a committed object of `entity` that the
    /// acting session has not changed, when every applicable rule that grants `op` has no
    /// constraint or one the columns decide (`None`, before anything is evaluated, otherwise).
    /// The naive plan never reads columns: the differential tests hold the others to it.
    pub(crate) fn allowed_by_columns(&self, op: Op, id: ObjectId, entity: EntityId) -> Option<bool> {
        if self.plan == super::Plan::Naive {
            return None;
        }
        if self.is_system() {
            return Some(true);
        }
        if !self.gate_open() {
            return Some(false);
        }
        let session = self.session();
        if op == Op::Create || id.role().is_some() || session.uncommitted.contains_key(&id) || session.new.contains(&id)
        {
            return None;
        }
        if !self.program.entity(entity).persistent {
            return Some(false);
        }
        let roles = &session.module_roles;
        let grants = |rule: &AccessRuleDef| {
            rule.roles.iter().any(|m| roles.binary_search(m).is_ok())
                && match op {
                    Op::See => true,
                    Op::Read(m) => rule.members[m] >= MemberRight::Read,
                    Op::Write(m) => rule.members[m] >= MemberRight::Write,
                    Op::Delete => rule.delete,
                    Op::Create => false,
                }
        };
        let rules = self.rules_of(entity);
        // Each rule's form was found once, when the engine started. When a rule that grants
        // `op` needs the object, nothing is evaluated here: the caller builds it.
        if !self.columns_decide[entity.index()]
            && rules
                .iter()
                .any(|&r| grants(&self.program.access_rules[r]) && self.column_rules[r] == ColumnRule::Object)
        {
            return None;
        }
        let user = session.user;
        let mut x = None;
        for &r in rules {
            let rule = &self.program.access_rules[r];
            if !grants(rule) {
                continue;
            }
            let holds = match self.column_rules[r] {
                ColumnRule::Always => true,
                ColumnRule::OwnReference { member, plain, to } => {
                    let user = user.unwrap_or(ObjectId(0));
                    points_at_user(self.store.value(id, member), user, |t| {
                        plain || self.committed_entity_of(t).is_some_and(|e| self.program.is_a(e, to))
                    })
                }
                ColumnRule::Columns => {
                    let x = x.get_or_insert_with(|| XEval::rules_of_user(self, user));
                    rule.constraint.as_ref().is_none_or(|c| x.holds_by_columns(c, id, entity))
                }
                ColumnRule::Object => return None,
            };
            if holds {
                return Some(true);
            }
        }
        Some(false)
    }

    /// Whether the object exists for the acting session: committed, or its own
    /// uncommitted (non-persistent objects live only in the session that made them).
    pub fn reachable(&self, object: &Object) -> bool {
        self.session().uncommitted.contains_key(&object.id)
            || (self.program.entity(object.entity).persistent && self.store.entity_of(object.id).is_some())
            || object.id.role().is_some()
    }

    /// Whether the acting principal may create objects of `entity`.
    pub fn can_create(&self, entity: EntityId) -> bool {
        self.is_system()
            || (self.gate_open() && self.applicable_rules(entity).iter().any(|&r| self.program.access_rules[r].create))
    }

    /// Whether the acting principal can see the object.
    pub fn can_see(&self, object: &Object) -> bool {
        self.allowed(Op::See, object)
    }

    /// Explains a decision: every rule of the entity, whether it applies and
    /// holds, the value of each term of its constraint, and what decided.
    pub fn explain(&self, op: Op, object: &Object, describe: &str) -> Explanation {
        let program = self.program;
        let entity = program.entity(object.entity);
        let allowed = self.allowed(op, object);
        let roles = &self.session().module_roles;
        let new = self.session().new.contains(&object.id);
        let judged = self.judged(object);
        let x = XEval::rules(self);
        let mut rules = Vec::new();
        for (ordinal, &r) in self.rules_of(object.entity).iter().enumerate() {
            let rule = &program.access_rules[r];
            let file = program.sources.file(rule.span.file);
            let (line, _) = file.line_col(rule.span.start as usize);
            let role_names: Vec<String> = rule.roles.iter().map(|m| program.module_role(*m).name.to_string()).collect();
            let label = if self.stable_rule_names {
                format!("rule {} of {} ({})", ordinal + 1, entity.name, role_names.join(", "))
            } else {
                format!("rule {}:{line} for {}", file.path.display(), role_names.join(", "))
            };
            let applies = rule.roles.iter().any(|m| roles.binary_search(m).is_ok());
            let mut terms = Vec::new();
            let holds = match &rule.constraint {
                None => None,
                Some(_) if op == Op::Create => None,
                Some(_) if new => Some(true),
                Some(c) => {
                    trace_terms(&x, c, &judged, program, &mut terms);
                    Some(x.holds(c, &judged))
                }
            };
            rules.push(RuleExplanation {
                entity: entity.name.to_string(),
                ordinal: ordinal + 1,
                roles: role_names,
                file: file.path.display().to_string(),
                line,
                label,
                applies,
                constraint: rule.constraint_text.clone(),
                holds,
                terms,
                grants: grants(program, rule),
            });
        }
        let reason = self.reason(op, object, allowed, new);
        Explanation {
            decision: if allowed { "allow" } else { "deny" },
            principal: self.principal_name(),
            operation: describe.to_string(),
            reason,
            rules,
        }
    }

    fn reason(&self, op: Op, object: &Object, allowed: bool, new: bool) -> String {
        let program = self.program;
        let entity = program.entity(object.entity);
        if self.current == SessionKey::System {
            return "system has full rights".into();
        }
        if !self.gate_open() {
            return "the app is not public, so anonymous sessions may not touch data".into();
        }
        if op != Op::Create && !self.reachable(object) {
            return "the object belongs to another session and was never committed".into();
        }
        let applicable = self.applicable_rules(object.entity);
        if applicable.is_empty() {
            return format!("no access rule of {} names a module role of {}", entity.name, self.principal_name());
        }
        if op == Op::Create {
            return if allowed {
                "an applicable rule grants create".into()
            } else {
                "no applicable rule grants create".into()
            };
        }
        let matching = self.matching_rules(object);
        if matching.is_empty() {
            return "no applicable rule's constraint holds for this object".into();
        }
        let via = self.name_rules(object.entity, &matching);
        let one = matching.len() == 1;
        let (matches, grants) = if one { ("matches", "grants") } else { ("match", "grant") };
        let newly = if new { " (a new object matches every constraint until it is committed)" } else { "" };
        match (op, allowed) {
            (Op::See, _) => format!("visible through {via}{newly}"),
            (Op::Read(m), true) => format!("{via} {grants} read on {}", entity.members[m].name),
            (Op::Read(m), false) => format!("{via} {matches} but {grants} no read on {}", entity.members[m].name),
            (Op::Write(m), true) => format!("{via} {grants} write on {}", entity.members[m].name),
            (Op::Write(m), false) => format!("{via} {matches} but {grants} no write on {}", entity.members[m].name),
            (Op::Delete, true) => format!("{via} {grants} delete"),
            (Op::Delete, false) => format!("{via} {matches} but {grants} no delete"),
            (Op::Create, _) => unreachable!("handled above"),
        }
    }

    /// Rules of an entity in words: `the rule on line 44`, `the rules on lines 44 and 50`,
    /// or with [`Engine::stable_rule_names`] `rule 2 of Shop.Cart (Shop.Buyer)`,
    /// `rules 1 (Shop.Visitor) and 2 (Shop.Buyer) of Shop.Cart`.
    fn name_rules(&self, entity: EntityId, rules: &[usize]) -> String {
        let program = self.program;
        if self.stable_rule_names {
            let of = self.rules_of(entity);
            let name = &program.entity(entity).name;
            let parts: Vec<(usize, String)> = rules
                .iter()
                .map(|&r| {
                    let ordinal = of.iter().position(|&x| x == r).map_or(0, |i| i + 1);
                    let roles: Vec<&str> =
                        program.access_rules[r].roles.iter().map(|m| program.module_role(*m).name.as_str()).collect();
                    (ordinal, roles.join(", "))
                })
                .collect();
            return match parts.as_slice() {
                [(ordinal, roles)] => format!("rule {ordinal} of {name} ({roles})"),
                _ => {
                    let each: Vec<String> = parts.iter().map(|(o, r)| format!("{o} ({r})")).collect();
                    format!("rules {} of {name}", join_and(&each))
                }
            };
        }
        let lines: Vec<String> = rules
            .iter()
            .map(|&r| {
                let span = program.access_rules[r].span;
                program.sources.file(span.file).line_col(span.start as usize).0.to_string()
            })
            .collect();
        match lines.as_slice() {
            [line] => format!("the rule on line {line}"),
            _ => format!("the rules on lines {}", join_and(&lines)),
        }
    }
}

/// `a`, `a and b`, `a, b and c`.
fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// The rule's grants in words: `create`, `delete`, `read A, B`, `write C`.
pub fn grants(program: &Program, rule: &AccessRuleDef) -> Vec<String> {
    let entity = program.entity(rule.entity);
    let mut out = Vec::new();
    if rule.create {
        out.push("create".to_string());
    }
    if rule.delete {
        out.push("delete".to_string());
    }
    for (right, word) in [(MemberRight::Read, "read"), (MemberRight::Write, "write")] {
        let names: Vec<&str> = rule
            .members
            .iter()
            .enumerate()
            .filter(|(_, r)| **r == right)
            .map(|(i, _)| entity.members[i].name.as_str())
            .collect();
        if !names.is_empty() {
            out.push(format!("{word} {}", names.join(", ")));
        }
    }
    out
}

/// Records the value of every comparison and existence test in a constraint.
fn trace_terms(x: &XEval<'_, '_>, cond: &Cond, object: &Object, program: &Program, out: &mut Vec<TermExplanation>) {
    match cond {
        Cond::And(parts) | Cond::Or(parts) => parts.iter().for_each(|c| trace_terms(x, c, object, program, out)),
        Cond::Not(inner) => trace_terms(x, inner, object, program, out),
        Cond::Const(_) => {}
        Cond::Exists(path) => {
            let reached: Vec<String> = x.reached(object, path).iter().map(|o| o.id.to_string()).collect();
            out.push(TermExplanation {
                term: program.sources.slice(path.span).to_string(),
                left: format!("[{}]", reached.join(", ")),
                right: String::new(),
                holds: !reached.is_empty(),
            });
        }
        Cond::Compare { lhs, op, rhs, span } => {
            let (l, r) = (x.side(lhs, object), x.side(rhs, object));
            let show = |vals: &[Value]| {
                if vals.is_empty() {
                    "no value (the path reaches no object)".to_string()
                } else if vals.len() == 1 {
                    vals[0].display(program)
                } else {
                    format!("[{}]", vals.iter().map(|v| v.display(program)).collect::<Vec<_>>().join(", "))
                }
            };
            out.push(TermExplanation {
                term: program.sources.slice(*span).to_string(),
                left: show(&l.values),
                right: show(&r.values),
                holds: compare_sides(&l, *op, &r),
            });
        }
        Cond::Holds(operand) => {
            let side = x.side(operand, object);
            out.push(TermExplanation {
                term: "function".into(),
                left: side.values.iter().map(|v| v.display(program)).collect::<Vec<_>>().join(", "),
                right: String::new(),
                holds: side.values.iter().any(|v| matches!(v, Value::Boolean(true))),
            });
        }
    }
}

/// A decision with the rules behind it.
#[derive(Clone, Debug, Serialize)]
pub struct Explanation {
    /// `allow` or `deny`.
    pub decision: &'static str,
    /// Who acted.
    pub principal: String,
    /// What was asked, in words.
    pub operation: String,
    /// Why, in one line.
    pub reason: String,
    /// Every rule of the entity.
    pub rules: Vec<RuleExplanation>,
}

/// One access rule in an explanation.
#[derive(Clone, Debug, Serialize)]
pub struct RuleExplanation {
    /// The entity.
    pub entity: String,
    /// Which of the entity's rules it is, from 1, in declaration order.
    pub ordinal: usize,
    /// Its module roles.
    pub roles: Vec<String>,
    /// Where it is declared.
    pub file: String,
    /// Its line.
    pub line: usize,
    /// How the text names it: `rule FILE:LINE for ROLES`, or in snapshot text
    /// `rule N of ENTITY (ROLES)`.
    #[serde(skip)]
    pub label: String,
    /// Whether it names a module role of the principal.
    pub applies: bool,
    /// The constraint as written.
    pub constraint: Option<String>,
    /// Whether the constraint holds (`None`: no constraint, or not relevant).
    pub holds: Option<bool>,
    /// The value of each term of the constraint.
    pub terms: Vec<TermExplanation>,
    /// What it grants.
    pub grants: Vec<String>,
}

/// One comparison or existence test of a constraint, with its values.
#[derive(Clone, Debug, Serialize)]
pub struct TermExplanation {
    /// The term as written.
    pub term: String,
    /// The left side's value(s) for this object.
    pub left: String,
    /// The right side's value(s).
    pub right: String,
    /// Whether it holds.
    pub holds: bool,
}

impl Explanation {
    /// The explanation as text, as `warden explain` prints it.
    pub fn render(&self) -> String {
        let mut out = format!("{}: {} {}\n", self.decision, self.principal, self.operation);
        out.push_str(&format!("  because {}\n", self.reason));
        // A call is decided by the microflow's `allow`, never by access rules.
        if self.rules.is_empty() && !self.operation.starts_with("call ") {
            out.push_str("  (the entity has no access rules: everything is denied)\n");
        }
        for r in &self.rules {
            let status = if !r.applies {
                "does not apply".to_string()
            } else {
                match r.holds {
                    None => "applies".to_string(),
                    Some(true) => "applies, constraint holds".to_string(),
                    Some(false) => "applies, constraint does not hold".to_string(),
                }
            };
            out.push_str(&format!("  {}: {status}\n", r.label));
            if let Some(c) = &r.constraint {
                out.push_str(&format!("    where {c}\n"));
            }
            if r.applies {
                for t in &r.terms {
                    let right = if t.right.is_empty() { String::new() } else { format!(" vs {}", t.right) };
                    out.push_str(&format!("      {}: {}{right} -> {}\n", t.term, t.left, t.holds));
                }
            }
            let grants = if r.grants.is_empty() { "nothing".to_string() } else { r.grants.join("; ") };
            out.push_str(&format!("    grants {grants}\n"));
        }
        out
    }
}
