//! Test coverage of the rules: which access rules, constraint terms (each rule's constraint
//! and each side of every `and` and `or` in it, taken true and taken false), member grants, microflow statements and `if`
//! branches, resource permissions and component conditions the `test` and `snapshot` blocks
//! exercised, from the hits the engine records ([`crate::eval::coverage`]).

use std::fmt::Write as _;

use serde::Serialize;

use crate::eval::coverage::{key, Hits};
use crate::model::flow::{Block, StmtKind};
use crate::model::xpath::Cond;
use crate::model::{MemberRight, Program};
use crate::source::Span;

/// The kinds of item, in report order.
pub const CATEGORIES: [&str; 7] = ["rules", "terms", "grants", "statements", "branches", "permissions", "components"];

/// One item that could be exercised.
#[derive(Clone, Debug, Serialize)]
pub struct Item {
    /// Its category (one of [`CATEGORIES`]).
    pub category: &'static str,
    /// What it is, such as `term `Price > 0` taken false`.
    pub what: String,
    /// The file it is in.
    pub file: String,
    /// Its line, counting from 1.
    pub line: usize,
    /// Its column, counting from 1.
    pub column: usize,
    /// Whether a block exercised it.
    pub covered: bool,
}

/// A coverage report.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Every item, in category and then source order.
    pub items: Vec<Item>,
}

/// Covered and total items of one category.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Tally {
    /// Exercised.
    pub covered: usize,
    /// In all.
    pub total: usize,
}

impl Report {
    /// Covered and total per category, in [`CATEGORIES`] order, then over all.
    pub fn tallies(&self) -> Vec<(&'static str, Tally)> {
        let mut out: Vec<(&'static str, Tally)> = CATEGORIES
            .iter()
            .map(|c| {
                let items = self.items.iter().filter(|i| i.category == *c);
                let total = items.clone().count();
                (*c, Tally { covered: items.filter(|i| i.covered).count(), total })
            })
            .collect();
        let covered = self.items.iter().filter(|i| i.covered).count();
        out.push(("all", Tally { covered, total: self.items.len() }));
        out
    }

    /// The share of items covered, in percent (100 when there are none).
    pub fn percent(&self) -> f64 {
        percent(self.items.iter().filter(|i| i.covered).count(), self.items.len())
    }
}

fn percent(covered: usize, total: usize) -> f64 {
    if total == 0 {
        100.0
    } else {
        covered as f64 * 100.0 / total as f64
    }
}

/// The report of what `hits` exercised of `program`.
pub fn report(program: &Program, hits: &Hits) -> Report {
    let mut items = Vec::new();
    let mut push = |category: &'static str, span: Span, what: String, covered: bool| {
        let file = program.sources.file(span.file);
        let (line, column) = file.line_col(span.start as usize);
        items.push(Item { category, what, file: file.path.display().to_string(), line, column, covered });
    };
    for (i, rule) in program.access_rules.iter().enumerate() {
        push("rules", rule.span, rule_name(program, rule), hits.rules.contains(&i));
    }
    for rule in &program.access_rules {
        if let Some(cond) = &rule.constraint {
            // The whole constraint: did a test meet an object the rule lets through, and
            // one it keeps out?
            if let Some(span) = cond.span() {
                for value in [true, false] {
                    let what = format!("constraint of {} taken {value}", rule_name(program, rule));
                    push("terms", span, what, hits.terms.contains(&(key(span), value)));
                }
            }
            terms(program, cond, &mut |span, text| {
                for value in [true, false] {
                    let what = format!("`{text}` taken {value}");
                    push("terms", span, what, hits.terms.contains(&(key(span), value)));
                }
            });
        }
    }
    for (i, rule) in program.access_rules.iter().enumerate() {
        let entity = program.entity(rule.entity);
        for (m, right) in rule.members.iter().enumerate() {
            let write = match right {
                MemberRight::None => continue,
                MemberRight::Read => false,
                MemberRight::Write => true,
            };
            let what = format!("{} {}.{}", if write { "write" } else { "read" }, entity.name, entity.members[m].name);
            push("grants", rule.span, what, hits.grants.contains(&(i, m, write)));
        }
    }
    for flow in &program.microflows {
        statements(program, &flow.body, &mut |span, kind, text| match kind {
            Some(()) => {
                for value in [true, false] {
                    let what = format!("`if {text}` in {} taken {value}", flow.name);
                    push("branches", span, what, hits.branches.contains(&(key(span), value)));
                }
            }
            None => {
                push("statements", span, format!("`{text}` in {}", flow.name), hits.statements.contains(&key(span)))
            }
        });
    }
    for (i, resource) in program.resources.iter().enumerate() {
        for (role, ops) in &resource.roles {
            let ops: Vec<&str> = ops.iter().map(|o| o.as_str()).collect();
            let what = format!(
                "{} {}: {} {}",
                resource.kind.as_str(),
                resource.name,
                program.user_role(*role).name,
                ops.join(", ")
            );
            push("permissions", resource.span, what, hits.permissions.contains(&(i, role.0)));
        }
        for (c, component) in resource.components.iter().enumerate() {
            if component.hidden_for.is_empty() && component.disabled_for.is_empty() {
                continue;
            }
            let what = format!("component {} of {} {}", component.name, resource.kind.as_str(), resource.name);
            push("components", resource.span, what, hits.components.contains(&(i, c)));
        }
    }
    Report { items }
}

/// `access Shop.Product for Shop.Visitor`.
fn rule_name(program: &Program, rule: &crate::model::AccessRuleDef) -> String {
    let roles: Vec<&str> = rule.roles.iter().map(|r| program.module_role(*r).name.as_str()).collect();
    format!("access {} for {}", program.entity(rule.entity).name, roles.join(", "))
}

/// Calls `f` with the span and text of each side of every `and` and `or` of a constraint.
fn terms(program: &Program, cond: &Cond, f: &mut impl FnMut(Span, String)) {
    match cond {
        Cond::And(parts) | Cond::Or(parts) => {
            for part in parts {
                if let Some(span) = part.span() {
                    f(span, one_line(program.sources.slice(span)));
                }
                terms(program, part, f);
            }
        }
        Cond::Not(inner) => terms(program, inner, f),
        Cond::Const(_) | Cond::Exists(_) | Cond::Compare { .. } | Cond::Holds(_) => {}
    }
}

/// Calls `f` with every statement of a body (`Some(())` for an `if`, whose two ways are
/// branches), with its first line as text.
fn statements(program: &Program, block: &Block, f: &mut impl FnMut(Span, Option<()>, String)) {
    for stmt in &block.stmts {
        let text = one_line(program.sources.slice(stmt.span).lines().next().unwrap_or("").trim_end_matches('{'));
        f(stmt.span, None, text.clone());
        match &stmt.kind {
            StmtKind::If { then, otherwise, .. } => {
                f(stmt.span, Some(()), text.trim_start_matches("if ").to_string());
                statements(program, then, f);
                if let Some(other) = otherwise {
                    statements(program, &Block { stmts: vec![(**other).clone()] }, f);
                }
            }
            StmtKind::For { body, .. } => statements(program, body, f),
            StmtKind::Block(b) | StmtKind::Given(b) => statements(program, b, f),
            _ => {}
        }
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The report for people: a line per category, then every uncovered item with its place.
pub fn render(report: &Report) -> String {
    let mut out = String::from("coverage:\n");
    for (category, t) in report.tallies() {
        let _ = writeln!(out, "  {category:<12} {:>5}/{:<5} {:>5.1}%", t.covered, t.total, percent(t.covered, t.total));
    }
    let uncovered: Vec<&Item> = report.items.iter().filter(|i| !i.covered).collect();
    if !uncovered.is_empty() {
        out.push_str("not exercised:\n");
        for i in uncovered {
            let _ = writeln!(out, "  {}:{}:{} {}: {}", i.file, i.line, i.column, i.category, i.what);
        }
    }
    out
}

/// The report as LCOV, for coverage viewers: each item is a line hit or missed (an item
/// counts once per line; a line with any item missed shows as missed), and each term and
/// branch a branch.
pub fn to_lcov(report: &Report) -> String {
    use std::collections::BTreeMap;
    let mut files: BTreeMap<&str, Vec<&Item>> = BTreeMap::new();
    for item in &report.items {
        files.entry(&item.file).or_default().push(item);
    }
    let mut out = String::new();
    for (file, items) in files {
        let _ = writeln!(out, "TN:\nSF:{file}");
        let mut lines: BTreeMap<usize, bool> = BTreeMap::new();
        for i in items.iter().filter(|i| !matches!(i.category, "terms" | "branches")) {
            let hit = lines.entry(i.line).or_insert(true);
            *hit &= i.covered;
        }
        let mut branches = 0;
        let mut hit_branches = 0;
        for (n, i) in items.iter().filter(|i| matches!(i.category, "terms" | "branches")).enumerate() {
            let _ = writeln!(out, "BRDA:{},0,{n},{}", i.line, if i.covered { "1" } else { "0" });
            branches += 1;
            hit_branches += usize::from(i.covered);
        }
        for (line, hit) in &lines {
            let _ = writeln!(out, "DA:{line},{}", usize::from(*hit));
        }
        let _ = writeln!(out, "BRF:{branches}\nBRH:{hit_branches}");
        let _ = writeln!(out, "LF:{}\nLH:{}", lines.len(), lines.values().filter(|h| **h).count());
        out.push_str("end_of_record\n");
    }
    out
}

/// The report as JSON: the tallies, the percentage and every item.
pub fn to_json(report: &Report) -> serde_json::Value {
    let tallies: serde_json::Map<String, serde_json::Value> =
        report.tallies().into_iter().map(|(c, t)| (c.to_string(), serde_json::json!(t))).collect();
    serde_json::json!({ "percent": report.percent(), "tallies": tallies, "items": report.items })
}
