//! Mutation testing of the rules: small weakenings of the checked program (a `where`
//! dropped, a conjunct dropped, the current user replaced by `empty`, a read widened to a
//! write, `create` or `delete` added, a rule granted to the anonymous role, an `allow` role
//! removed, a resource operation flipped), each run against the program's `test` blocks. A
//! mutant that no test notices is a rule no test defends.
//!
//! Mutants are made from the checked program, not from its text: nothing is parsed or checked
//! again. A mutant is killed when a `test` block that passes on the program fails on it.
//! Snapshot blocks do not count: a snapshot of the matrix or of a retrieve shows every change
//! and would kill every mutant without defending any rule. A mutant that changes no user
//! role's rights ([`crate::diff`] finds no change: the module role it adds is already held
//! through another, a role that gains `create` holds it through another module role) is
//! equivalent: no test could notice it, so it is reported but not counted.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use serde::Serialize;

use crate::eval::coverage::Hits;
use crate::eval::test::{run_test_recording, run_test_with, Backend};
use crate::model::xpath::{Cond, Operand, TokenExpr};
use crate::model::{AccessRuleDef, MemberRight, ModuleRoleId, Operation, Program};
use crate::source::Span;

/// One change to the program.
#[derive(Clone, Debug)]
enum Edit {
    DropWhere { rule: usize },
    DropConjunct { rule: usize, index: usize },
    CurrentUserToEmpty { rule: usize },
    WidenToWrite { rule: usize, member: usize },
    AddDelete { rule: usize },
    AddCreate { rule: usize },
    GrantAnonymous { rule: usize, role: ModuleRoleId },
    RemoveAllow { microflow: usize, index: usize },
    FlipOperation { resource: usize, role: usize, op: Operation },
}

/// A mutant: what it changes, in words, and where.
#[derive(Clone, Debug)]
pub struct Mutant {
    /// What the mutant does, finishing "no test notices if ...".
    pub description: String,
    /// The declaration it changes.
    pub span: Span,
    edit: Edit,
}

/// What the tests said of one mutant.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Verdict {
    /// What the mutant does.
    pub description: String,
    /// Where, as `path:line:column`.
    pub at: String,
    /// The first test that failed on it, if any did.
    pub killed_by: Option<String>,
    /// No user role's rights change (the change is covered by another rule or role, or
    /// the runtime ignores it): no test could notice, so it does not count.
    pub equivalent: bool,
}

/// A mutation run.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Every mutant, in the order they were made.
    pub mutants: Vec<Verdict>,
    /// How many were killed.
    pub killed: usize,
    /// How many change no user role's rights (not counted in the score).
    pub equivalent: usize,
    /// The tests that pass on the program (only they can kill a mutant).
    pub tests: usize,
}

impl Report {
    /// How many mutants count: those that change some user role's rights.
    pub fn counted(&self) -> usize {
        self.mutants.len() - self.equivalent
    }

    /// The share of counted mutants killed, in percent (100 when there are none).
    pub fn score(&self) -> f64 {
        if self.counted() == 0 {
            100.0
        } else {
            self.killed as f64 * 100.0 / self.counted() as f64
        }
    }

    /// The mutants no test noticed.
    pub fn survivors(&self) -> impl Iterator<Item = &Verdict> {
        self.mutants.iter().filter(|m| m.killed_by.is_none() && !m.equivalent)
    }
}

/// Every mutant of a program.
pub fn mutants(program: &Program) -> Vec<Mutant> {
    let mut out = Vec::new();
    let anonymous_roles: Vec<ModuleRoleId> =
        program.app.anonymous.map(|r| program.user_role(r).module_roles.clone()).unwrap_or_default();
    for (i, rule) in program.access_rules.iter().enumerate() {
        let name = rule_name(program, rule);
        let mut push = |description: String, edit| out.push(Mutant { description, span: rule.span, edit });
        if let Some(cond) = &rule.constraint {
            push(format!("the `where` of {name} is dropped"), Edit::DropWhere { rule: i });
            if let Cond::And(terms) = cond {
                for (index, term) in terms.iter().enumerate() {
                    let shown = program.sources.slice(term.span().unwrap_or(rule.span));
                    push(format!("`{shown}` is dropped from {name}"), Edit::DropConjunct { rule: i, index });
                }
            }
            if mentions_current_user(cond) {
                push(
                    format!("`[%CurrentUser%]` in {name} is replaced by `empty`"),
                    Edit::CurrentUserToEmpty { rule: i },
                );
            }
        }
        let entity = program.entity(rule.entity);
        for (m, right) in rule.members.iter().enumerate() {
            // Users never write the system members, whatever a rule says: no mutant there.
            if *right == MemberRight::Read && !entity.members[m].system {
                let member = &entity.members[m].name;
                push(
                    format!("`read {member}` of {name} becomes `write {member}`"),
                    Edit::WidenToWrite { rule: i, member: m },
                );
            }
        }
        if !rule.delete {
            push(format!("{name} also grants `delete`"), Edit::AddDelete { rule: i });
        }
        if !rule.create {
            push(format!("{name} also grants `create`"), Edit::AddCreate { rule: i });
        }
        // A rule the anonymous role already holds through one of its module roles gains it
        // nothing from another; the module role of the rule's own module is the likely mistake.
        let module = &program.entity(rule.entity).module;
        let candidate = anonymous_roles
            .iter()
            .find(|r| program.module_role(**r).name.starts_with(&format!("{module}.")))
            .or(anonymous_roles.first());
        let held = anonymous_roles.iter().any(|r| rule.roles.contains(r));
        if let Some(role) = candidate.filter(|_| !held) {
            let role_name = &program.module_role(*role).name;
            push(
                format!("{name} is granted to the anonymous role too (module role `{role_name}`)"),
                Edit::GrantAnonymous { rule: i, role: *role },
            );
        }
    }
    for (i, flow) in program.microflows.iter().enumerate() {
        for (index, role) in flow.allow.iter().enumerate() {
            out.push(Mutant {
                description: format!(
                    "`{}` is removed from the `allow` list of microflow `{}`",
                    program.module_role(*role).name,
                    flow.name
                ),
                span: flow.header,
                edit: Edit::RemoveAllow { microflow: i, index },
            });
        }
    }
    for (i, resource) in program.resources.iter().enumerate() {
        for (r, (role, ops)) in resource.roles.iter().enumerate() {
            // Only the operations a request decides on: the others (ASSIGN, HOLD, ...) no
            // request of a test can observe, so their mutants could never be killed.
            for op in [Operation::View, Operation::Execute, Operation::SelfAssign] {
                let verb = if ops.contains(&op) { "loses" } else { "gains" };
                out.push(Mutant {
                    description: format!(
                        "user role `{}` {verb} {} on {} `{}`",
                        program.user_role(*role).name,
                        op.as_str(),
                        resource.kind.as_str(),
                        resource.name
                    ),
                    span: resource.span,
                    edit: Edit::FlipOperation { resource: i, role: r, op },
                });
            }
        }
    }
    out
}

/// `the access rule for `Shop.Cart` (Visitor, Buyer)`.
fn rule_name(program: &Program, rule: &AccessRuleDef) -> String {
    let roles: Vec<&str> = rule.roles.iter().map(|r| program.module_role(*r).name.as_str()).collect();
    format!("the access rule for `{}` ({})", program.entity(rule.entity).name, roles.join(", "))
}

fn mentions_current_user(cond: &Cond) -> bool {
    let mut found = false;
    rewrite_current_user(&mut cond.clone(), &mut found);
    found
}

/// Replaces every `[%CurrentUser%]` of a condition by `empty`; `found` says whether there was one.
fn rewrite_current_user(cond: &mut Cond, found: &mut bool) {
    let operand = |o: &mut Operand, found: &mut bool| {
        if matches!(o, Operand::Token(TokenExpr::CurrentUser)) {
            *o = Operand::Value(crate::model::value::Value::Empty);
            *found = true;
        }
    };
    match cond {
        Cond::And(terms) | Cond::Or(terms) => terms.iter_mut().for_each(|t| rewrite_current_user(t, found)),
        Cond::Not(inner) => rewrite_current_user(inner, found),
        Cond::Compare { lhs, rhs, .. } => {
            operand(lhs, found);
            operand(rhs, found);
        }
        Cond::Holds(o) => operand(o, found),
        Cond::Const(_) | Cond::Exists(_) => {}
    }
}

impl Mutant {
    /// The access rule (by index) the mutant changes, if it changes one.
    fn rule(&self) -> Option<usize> {
        match self.edit {
            Edit::DropWhere { rule }
            | Edit::DropConjunct { rule, .. }
            | Edit::CurrentUserToEmpty { rule }
            | Edit::WidenToWrite { rule, .. }
            | Edit::AddDelete { rule }
            | Edit::AddCreate { rule }
            | Edit::GrantAnonymous { rule, .. } => Some(rule),
            Edit::RemoveAllow { .. } | Edit::FlipOperation { .. } => None,
        }
    }

    /// The entities whose rules the mutant changes.
    fn entities(&self, program: &Program) -> Vec<crate::model::EntityId> {
        self.rule().map(|r| program.access_rules[r].entity).into_iter().collect()
    }

    /// Whether a test whose run touched `hits` could notice the mutant: a change to an
    /// entity's rules changes only decisions that consult them, a change to a microflow's
    /// `allow` only calls of it, a change to a resource only requests about it. Every other
    /// run of the mutant is the same run as on the program, so it need not be made.
    fn may_affect(&self, program: &Program, hits: &Hits) -> bool {
        if let Some(rule) = self.rule() {
            return hits.every_rule || hits.entities.contains(&program.access_rules[rule].entity.0);
        }
        match self.edit {
            Edit::RemoveAllow { microflow, .. } => hits.microflows.contains(&(microflow as u32)),
            Edit::FlipOperation { resource, .. } => hits.resources.contains(&resource),
            _ => true,
        }
    }
}

/// The program with the mutant's change made.
fn apply(program: &Program, mutant: &Mutant) -> Program {
    let mut p = program.copy_without_tests();
    match mutant.edit {
        Edit::DropWhere { rule } => {
            p.access_rules[rule].constraint = None;
            p.access_rules[rule].constraint_text = None;
        }
        Edit::DropConjunct { rule, index } => {
            let rule = &mut p.access_rules[rule];
            if let Some(Cond::And(terms)) = &mut rule.constraint {
                let dropped = terms.remove(index);
                // The text too, which the matrix and `warden diff` read.
                if let Some(span) = dropped.span() {
                    let gone = program.sources.slice(span);
                    rule.constraint_text = rule.constraint_text.as_ref().map(|t| t.replacen(gone, "true()", 1));
                }
            }
        }
        Edit::CurrentUserToEmpty { rule } => {
            let rule = &mut p.access_rules[rule];
            if let Some(cond) = &mut rule.constraint {
                rewrite_current_user(cond, &mut false);
            }
            rule.constraint_text = rule.constraint_text.as_ref().map(|t| t.replace("'[%CurrentUser%]'", "empty"));
        }
        Edit::WidenToWrite { rule, member } => p.access_rules[rule].members[member] = MemberRight::Write,
        Edit::AddDelete { rule } => p.access_rules[rule].delete = true,
        Edit::AddCreate { rule } => p.access_rules[rule].create = true,
        Edit::GrantAnonymous { rule, role } => p.access_rules[rule].roles.push(role),
        Edit::RemoveAllow { microflow, index } => {
            p.microflows[microflow].allow.remove(index);
        }
        Edit::FlipOperation { resource, role, op } => {
            let ops = &mut p.resources[resource].roles[role].1;
            match ops.iter().position(|o| *o == op) {
                Some(at) => {
                    ops.remove(at);
                }
                None => ops.push(op),
            }
        }
    }
    p
}

/// The stack of a worker: as deep as the parser's and the evaluator's own thread.
const BIG_STACK: usize = 256 << 20;

/// How a mutation run goes.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// How many mutants run at once.
    pub threads: usize,
    /// The steps each top-level statement of a block may take.
    pub max_steps: u64,
    /// Run a mutant only against the tests that touched what it changes (the default; off
    /// only to check that it changes no verdict).
    pub prune: bool,
}

/// Runs the program's `test` blocks against every mutant; `progress` is called after each
/// mutant with the number done and the number in all.
pub fn run(program: &Program, options: Options, progress: &(dyn Fn(usize, usize) + Sync)) -> Report {
    let Options { threads, max_steps, prune } = options;
    // The passing tests, each with what its run touched.
    let blocks: Vec<(&crate::model::flow::TestDef, Hits)> = program
        .tests
        .iter()
        .filter(|t| !t.snapshot)
        .filter_map(|t| {
            let result = crate::syntax::on_big_stack(|| run_test_recording(program, t, Backend::Memory, max_steps));
            (result.outcome == "passed").then(|| (t, result.hits.unwrap_or_default()))
        })
        .collect();
    let list = mutants(program);
    let verdicts: Mutex<Vec<Option<Verdict>>> = Mutex::new(vec![None; list.len()]);
    let (next, done) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let verdict_of = |mutant: &Mutant| {
        let mutated = apply(program, mutant);
        let equivalent = crate::diff::diff_of_copy(program, &mutated, &mutant.entities(program)).changes.is_empty();
        let killed_by = if equivalent {
            None
        } else {
            blocks.iter().filter(|(_, hits)| !prune || mutant.may_affect(program, hits)).find_map(|(t, _)| {
                let result = run_test_with(&mutated, t, Backend::Memory, max_steps);
                (result.outcome != "passed").then(|| t.name.clone())
            })
        };
        let file = program.sources.file(mutant.span.file);
        let (line, column) = file.line_col(mutant.span.start as usize);
        Verdict {
            description: mutant.description.clone(),
            at: format!("{}:{line}:{column}", file.path.display()),
            killed_by,
            equivalent,
        }
    };
    let work = || loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(mutant) = list.get(i) else { break };
        let verdict = verdict_of(mutant);
        if let Ok(mut v) = verdicts.lock() {
            v[i] = Some(verdict);
        }
        progress(done.fetch_add(1, Ordering::Relaxed) + 1, list.len());
    };
    // Each worker has the deep stack evaluation needs (as `on_big_stack` gives one run), so
    // that a test run is a call, not a thread of its own.
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            // A worker that cannot start leaves its share to the others, and to this thread.
            let _ = std::thread::Builder::new().stack_size(BIG_STACK).spawn_scoped(scope, work);
        }
    });
    crate::syntax::on_big_stack(work);
    let mutants: Vec<Verdict> = verdicts.into_inner().unwrap_or_default().into_iter().flatten().collect();
    let killed = mutants.iter().filter(|m| m.killed_by.is_some()).count();
    let equivalent = mutants.iter().filter(|m| m.equivalent).count();
    Report { mutants, killed, equivalent, tests: blocks.len() }
}
