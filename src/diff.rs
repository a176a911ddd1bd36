//! The semantic difference of two versions of a program: what each user role
//! (the anonymous role first) gains or loses, not how the text changed.
//!
//! Rights are compared as the access matrix states them ([`crate::matrix`]):
//! for each role and entity, create, delete and visibility with their
//! constraints and each member's read and write right; then who may call
//! each microflow, the operations each role holds on each resource, how each
//! component shows to each role, the app's gate, anonymous role and sign-in
//! microflow, and the audit findings the change introduces.
//!
//! A right held under several constraints is held where any of them holds.
//! Constraints are compared structurally, never guessed: a grant that appears
//! or loses its constraint widens; an alternative added widens and one removed
//! narrows; a constraint that keeps every conjunct of the old one and adds
//! some is stronger, one that keeps only some of them is weaker; anything else
//! is `changed`, shown as both constraints.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::diagnostic::Diagnostic;
use crate::matrix::{self, EntityRights, Matrix};
use crate::model::{Operation, Program, UserRoleId};
use crate::syntax::ast::AccessLevel;

/// Whether a change gives a role more, less, or something warden cannot order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// The role may do more than before.
    Widening,
    /// The role may do less than before.
    Narrowing,
    /// Different, in a way warden cannot order: review it by hand.
    Changed,
}

impl Direction {
    /// The mark a line of the human and markdown reports starts with.
    pub fn mark(self) -> char {
        match self {
            Direction::Widening => '+',
            Direction::Narrowing => '-',
            Direction::Changed => '~',
        }
    }
}

/// One difference.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    /// The user role it is about; `None` for the app itself.
    pub role: Option<String>,
    /// Whether that role is the anonymous role (of either version).
    pub anonymous: bool,
    /// What it is about: an entity, a microflow, a resource, a component, or `app`.
    pub subject: String,
    /// Widening, narrowing or changed.
    pub direction: Direction,
    /// What changed, such as `read Cost` or `constraint removed: every object now visible`.
    pub what: String,
    /// The state before, where it is a constraint or a value worth showing.
    pub before: Option<String>,
    /// The state after.
    pub after: Option<String>,
}

/// An audit finding that the new version has and the old one did not.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NewFinding {
    /// Its code, such as `A001`.
    pub code: String,
    /// Its message.
    pub message: String,
    /// Where, as `path:line:column` in the new version.
    pub at: String,
}

/// The difference of two programs.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Diff {
    /// Rights gained and lost, the anonymous role first, then by role, subject and kind.
    pub changes: Vec<Change>,
    /// Audit findings the change introduces.
    pub findings: Vec<NewFinding>,
    /// The anonymous roles of the two versions, by name.
    #[serde(skip)]
    pub anonymous_roles: BTreeSet<String>,
}

impl Diff {
    /// Whether `role` gains anything, or anything changes for it that warden cannot order.
    pub fn widens(&self, role: &str) -> bool {
        self.changes.iter().any(|c| {
            c.direction != Direction::Narrowing
                && (c.role.as_deref() == Some(role) || c.role.is_none() && self.anonymous_roles.contains(role))
        })
    }
}

/// The difference between `old` and `new`, with the audit findings of each.
pub fn diff(old: &Program, new: &Program, old_findings: &[Diagnostic], new_findings: &[Diagnostic]) -> Diff {
    let (old_matrix, new_matrix) = (matrix::build(old), matrix::build(new));
    let mut diff = diff_with(old, new, &old_matrix, &new_matrix);
    diff.findings = new_audit_findings(new, old_findings, new_findings);
    diff
}

/// The difference between a program and a changed copy of it (the same entities, by id) whose
/// access rules differ at most on `entities`: only their rows of the matrix are compared.
pub(crate) fn diff_of_copy(old: &Program, new: &Program, entities: &[crate::model::EntityId]) -> Diff {
    diff_with(old, new, &matrix::build_for(old, entities), &matrix::build_for(new, entities))
}

fn diff_with(old: &Program, new: &Program, old_matrix: &Matrix, new_matrix: &Matrix) -> Diff {
    let mut changes = Vec::new();
    let anonymous: BTreeSet<String> =
        [old, new].iter().filter_map(|p| p.app.anonymous.map(|r| p.user_role(r).name.to_string())).collect();
    app_changes(old, new, &mut changes);
    for role in role_names(old, new, &anonymous) {
        let is_anonymous = anonymous.contains(&role);
        let mut push = |subject: &str, direction, what: String, before: Option<String>, after: Option<String>| {
            changes.push(Change {
                role: Some(role.clone()),
                anonymous: is_anonymous,
                subject: subject.to_string(),
                direction,
                what,
                before,
                after,
            })
        };
        entity_changes(role_entities(old_matrix, &role), role_entities(new_matrix, &role), &mut push);
        microflow_changes(old, new, &role, &mut push);
        resource_changes(old, new, &role, &mut push);
    }
    Diff { changes, findings: Vec::new(), anonymous_roles: anonymous }
}

/// Every user role of either version: the anonymous role first, then by name.
fn role_names(old: &Program, new: &Program, anonymous: &BTreeSet<String>) -> Vec<String> {
    let mut names: Vec<String> = old
        .user_roles
        .iter()
        .chain(&new.user_roles)
        .map(|r| r.name.to_string())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    names.sort_by_key(|n| !anonymous.contains(n));
    names
}

type Push<'a> = dyn FnMut(&str, Direction, String, Option<String>, Option<String>) + 'a;

fn app_changes(old: &Program, new: &Program, changes: &mut Vec<Change>) {
    let mut push = |anonymous: bool, direction, what: &str, before: Option<String>, after: Option<String>| {
        changes.push(Change {
            role: None,
            anonymous,
            subject: "app".to_string(),
            direction,
            what: what.to_string(),
            before,
            after,
        })
    };
    let level = |p: &Program| match p.app.access {
        AccessLevel::Public => "public",
        AccessLevel::Invited => "invited",
    };
    if old.app.access != new.app.access {
        let (direction, what) = match new.app.access {
            AccessLevel::Public => (Direction::Widening, "access opened: anonymous visitors are let in"),
            AccessLevel::Invited => (Direction::Narrowing, "access closed: only invited users are let in"),
        };
        push(true, direction, what, Some(level(old).into()), Some(level(new).into()));
    }
    let anonymous_role = |p: &Program| p.app.anonymous.map(|r| p.user_role(r).name.to_string());
    let (before, after) = (anonymous_role(old), anonymous_role(new));
    if before != after {
        let (direction, what) = match (&before, &after) {
            (None, Some(_)) => (Direction::Widening, "anonymous role set: visitors act with its rights"),
            (Some(_), None) => (Direction::Narrowing, "anonymous role removed"),
            _ => (Direction::Changed, "anonymous role replaced"),
        };
        push(true, direction, what, before, after);
    }
    let sign_in = |p: &Program| p.app.sign_in.map(|m| p.microflow(m).name.to_string());
    let (before, after) = (sign_in(old), sign_in(new));
    if before != after {
        let what = match (&before, &after) {
            (None, Some(_)) => "sign-in microflow set: it runs when a visitor signs in",
            (Some(_), None) => "sign-in microflow removed: a visitor's data no longer moves to the account",
            _ => "sign-in microflow replaced",
        };
        push(true, Direction::Changed, what, before, after);
    }
}

fn role_entities<'m>(m: &'m Matrix, role: &str) -> BTreeMap<&'m str, &'m EntityRights> {
    m.roles.iter().filter(|r| r.role == role).flat_map(|r| r.entities.iter().map(|e| (e.entity.as_str(), e))).collect()
}

fn entity_changes(old: BTreeMap<&str, &EntityRights>, new: BTreeMap<&str, &EntityRights>, push: &mut Push<'_>) {
    let names: BTreeSet<&str> = old.keys().chain(new.keys()).copied().collect();
    for name in names {
        let (o, n) = (old.get(name).copied(), new.get(name).copied());
        let create = |e: Option<&EntityRights>| e.is_some_and(|e| e.create);
        match (create(o), create(n)) {
            (false, true) => push(name, Direction::Widening, "create".into(), None, None),
            (true, false) => push(name, Direction::Narrowing, "create".into(), None, None),
            _ => {}
        }
        let grant = |e: Option<&EntityRights>, pick: fn(&EntityRights) -> Grant| e.map(pick).unwrap_or_default();
        compare(name, "see", grant(o, |e| Grant::of(&e.visible)), grant(n, |e| Grant::of(&e.visible)), push);
        compare(name, "delete", grant(o, |e| Grant::of(&e.delete)), grant(n, |e| Grant::of(&e.delete)), push);
        // In declaration order: the new version's members, then those it dropped.
        let mut members: Vec<&str> = Vec::new();
        for m in n.iter().chain(o.iter()).flat_map(|e| e.members.iter().map(|m| m.member.as_str())) {
            if !members.contains(&m) {
                members.push(m);
            }
        }
        for member in members {
            for (right, rights) in [("read", &["read", "write"][..]), ("write", &["write"][..])] {
                let grant = |e: Option<&EntityRights>| -> Grant {
                    let Some(m) = e.and_then(|e| e.members.iter().find(|m| m.member == member)) else {
                        return Grant::default();
                    };
                    let conditions: Vec<Option<String>> =
                        m.grants.iter().filter(|(r, _)| rights.contains(&r.as_str())).map(|(_, c)| c.clone()).collect();
                    Grant::of(&conditions)
                };
                compare(name, &format!("{right} {member}"), grant(o), grant(n), push);
            }
        }
    }
}

/// A right as the set of constraints under which it is held; an empty constraint
/// (no conjuncts) holds everywhere, an empty set nowhere.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Grant(BTreeSet<Constraint>);

/// A constraint as its top-level conjuncts, each with its whitespace normalized.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Constraint(BTreeSet<String>);

impl Grant {
    fn of(conditions: &[Option<String>]) -> Grant {
        Grant(conditions.iter().map(|c| Constraint::parse(c.as_deref().unwrap_or(""))).collect())
    }

    fn everywhere(&self) -> bool {
        self.0.iter().any(|c| c.0.is_empty())
    }

    fn text(&self) -> String {
        if self.everywhere() {
            return "every object".into();
        }
        self.0.iter().map(Constraint::text).collect::<Vec<_>>().join(" or ")
    }
}

impl Constraint {
    fn parse(text: &str) -> Constraint {
        Constraint(conjuncts(text).into_iter().collect())
    }

    fn text(&self) -> String {
        self.0.iter().map(|c| format!("[{c}]")).collect()
    }
}

/// The top-level conjuncts of a constraint as written: each bracket, split at
/// its top-level `and`s, with runs of whitespace outside quotes made one space.
fn conjuncts(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let (mut depth, mut quote) = (0usize, false);
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let mut flush = |current: &mut String| {
        let trimmed = current.trim();
        if !trimmed.is_empty() {
            out.push(trimmed.to_string());
        }
        current.clear();
    };
    while i < chars.len() {
        let c = chars[i];
        if quote {
            current.push(c);
            if c == '\'' {
                quote = false;
            }
        } else if c == '\'' {
            quote = true;
            current.push(c);
        } else if c == '[' && depth == 0 {
            flush(&mut current);
            depth = 1;
        } else if c == ']' && depth == 1 {
            flush(&mut current);
            depth = 0;
        } else if c.is_whitespace() {
            if depth <= 1 && word_at(&chars, i + 1, "and") {
                flush(&mut current);
                i += 4;
                continue;
            }
            if !current.ends_with(' ') {
                current.push(' ');
            }
        } else {
            match c {
                '(' | '[' => depth += 1,
                ')' | ']' => depth = depth.saturating_sub(1),
                _ => {}
            }
            current.push(c);
        }
        i += 1;
    }
    flush(&mut current);
    out
}

/// Whether `word` followed by whitespace starts at `at`.
fn word_at(chars: &[char], at: usize, word: &str) -> bool {
    let end = at + word.len();
    end < chars.len() && chars[at..end].iter().copied().eq(word.chars()) && chars[end].is_whitespace()
}

/// Reports how the grant of `right` on `subject` changed.
fn compare(subject: &str, right: &str, old: Grant, new: Grant, push: &mut Push<'_>) {
    if old == new {
        return;
    }
    let shown = |g: &Grant| (!g.0.is_empty()).then(|| g.text());
    let (before, after) = (shown(&old), shown(&new));
    let (direction, what) = if old.0.is_empty() {
        (Direction::Widening, right.to_string())
    } else if new.0.is_empty() {
        (Direction::Narrowing, right.to_string())
    } else if new.everywhere() {
        let what = if right == "see" {
            "see: constraint removed, every object now visible".to_string()
        } else {
            format!("{right}: constraint removed, now on every object")
        };
        (Direction::Widening, what)
    } else if old.everywhere() {
        (Direction::Narrowing, format!("{right}: constraint added, no longer on every object"))
    } else {
        let added: Vec<&Constraint> = new.0.difference(&old.0).collect();
        let removed: Vec<&Constraint> = old.0.difference(&new.0).collect();
        match (added.as_slice(), removed.as_slice()) {
            ([], _) => (Direction::Narrowing, format!("{right}: an alternative removed")),
            (_, []) => (Direction::Widening, format!("{right}: an alternative added")),
            ([a], [r]) if a.0.is_subset(&r.0) => {
                (Direction::Widening, format!("{right}: constraint weaker (a conjunct removed)"))
            }
            ([a], [r]) if r.0.is_subset(&a.0) => {
                (Direction::Narrowing, format!("{right}: constraint stronger (a conjunct added)"))
            }
            _ => (Direction::Changed, format!("{right}: constraint changed")),
        }
    };
    push(subject, direction, what, before, after);
}

fn microflow_changes(old: &Program, new: &Program, role: &str, push: &mut Push<'_>) {
    let callable = |p: &Program| -> BTreeSet<String> {
        let Some(r) = p.user_role_by_name(role) else { return BTreeSet::new() };
        let modules = &p.user_role(r).module_roles;
        p.microflows
            .iter()
            .filter(|m| m.allow.iter().any(|a| modules.contains(a)))
            .map(|m| m.name.to_string())
            .collect()
    };
    let (before, after) = (callable(old), callable(new));
    for m in after.difference(&before) {
        push(m, Direction::Widening, "call".into(), None, None);
    }
    for m in before.difference(&after) {
        push(m, Direction::Narrowing, "call".into(), None, None);
    }
}

/// How a component shows to a role, from least to most exposed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Shown {
    Hidden,
    Disabled,
    Enabled,
}

impl Shown {
    fn as_str(self) -> &'static str {
        match self {
            Shown::Hidden => "hidden",
            Shown::Disabled => "disabled",
            Shown::Enabled => "enabled",
        }
    }
}

fn resource_changes(old: &Program, new: &Program, role: &str, push: &mut Push<'_>) {
    type Ops = BTreeMap<String, (BTreeSet<Operation>, BTreeMap<String, Shown>)>;
    let resources = |p: &Program| -> Ops {
        let id: Option<UserRoleId> = p.user_role_by_name(role);
        p.resources
            .iter()
            .map(|r| {
                let ops: BTreeSet<Operation> =
                    r.roles.iter().filter(|(ur, _)| Some(*ur) == id).flat_map(|(_, ops)| ops.iter().copied()).collect();
                let components = r
                    .components
                    .iter()
                    .map(|c| {
                        let shown = match id {
                            Some(id) if c.disabled_for.contains(&id) => Shown::Disabled,
                            Some(id) if c.hidden_for.contains(&id) => Shown::Hidden,
                            _ => Shown::Enabled,
                        };
                        (c.name.to_string(), shown)
                    })
                    .collect();
                (format!("{} {}", r.kind.as_str(), r.name), (ops, components))
            })
            .collect()
    };
    let (before, after) = (resources(old), resources(new));
    let names: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    let nothing = (BTreeSet::new(), BTreeMap::new());
    for name in names {
        let (o, n) = (before.get(name).unwrap_or(&nothing), after.get(name).unwrap_or(&nothing));
        for op in n.0.difference(&o.0) {
            push(name, Direction::Widening, op.as_str().to_string(), None, None);
        }
        for op in o.0.difference(&n.0) {
            push(name, Direction::Narrowing, op.as_str().to_string(), None, None);
        }
        // A component matters only while the resource exists in both versions: a new
        // resource's components come with the operations above.
        if before.contains_key(name) && after.contains_key(name) {
            for (component, now) in &n.1 {
                let Some(was) = o.1.get(component) else { continue };
                if was != now {
                    let direction = if now > was { Direction::Widening } else { Direction::Narrowing };
                    push(
                        &format!("{name} / {component}"),
                        direction,
                        "component".into(),
                        Some(was.as_str().into()),
                        Some(now.as_str().into()),
                    );
                }
            }
        }
    }
}

fn new_audit_findings(new: &Program, old: &[Diagnostic], findings: &[Diagnostic]) -> Vec<NewFinding> {
    let mut seen: BTreeMap<(String, &str), usize> = BTreeMap::new();
    for d in old {
        *seen.entry((d.code.to_string(), d.message.as_str())).or_default() += 1;
    }
    let mut out = Vec::new();
    for d in findings {
        let key = (d.code.to_string(), d.message.as_str());
        match seen.get_mut(&key) {
            Some(n) if *n > 0 => *n -= 1,
            _ => {
                let file = new.sources.file(d.span.file);
                let (line, column) = file.line_col(d.span.start as usize);
                out.push(NewFinding {
                    code: key.0,
                    message: d.message.clone(),
                    at: format!("{}:{line}:{column}", file.path.display()),
                });
            }
        }
    }
    out
}

/// The report for people: one block per role, a line per change.
pub fn render(diff: &Diff) -> String {
    let mut out = String::new();
    if diff.changes.is_empty() && diff.findings.is_empty() {
        return "no change to what any role may do\n".into();
    }
    let mut last: Option<(Option<&str>, &str)> = None;
    for c in &diff.changes {
        let role = c.role.as_deref();
        if last.map(|(r, _)| r) != Some(role) {
            match role {
                None => out.push_str("app\n"),
                Some(r) if c.anonymous => out.push_str(&format!("{r} (anonymous role)\n")),
                Some(r) => out.push_str(&format!("{r}\n")),
            }
            last = None;
        }
        if role.is_some() && last.map(|(_, s)| s) != Some(c.subject.as_str()) {
            out.push_str(&format!("  {}\n", c.subject));
        }
        let indent = if role.is_some() { "    " } else { "  " };
        let direction = match c.direction {
            Direction::Widening => "widening",
            Direction::Narrowing => "narrowing",
            Direction::Changed => "changed: review by hand",
        };
        out.push_str(&format!("{indent}{} {}   ({direction})\n", c.direction.mark(), c.what));
        if c.before.is_some() || c.after.is_some() {
            let show = |s: &Option<String>| s.clone().unwrap_or_else(|| "nothing".into());
            out.push_str(&format!("{indent}    before: {}\n{indent}    after:  {}\n", show(&c.before), show(&c.after)));
        }
        last = Some((role, c.subject.as_str()));
    }
    if !diff.findings.is_empty() {
        out.push_str("new audit findings\n");
        for f in &diff.findings {
            out.push_str(&format!("  {} {}: {}\n", f.at, f.code, f.message));
        }
    }
    let widening = diff.changes.iter().filter(|c| c.direction == Direction::Widening).count();
    let narrowing = diff.changes.iter().filter(|c| c.direction == Direction::Narrowing).count();
    let changed = diff.changes.len() - widening - narrowing;
    out.push_str(&format!(
        "{widening} widening, {narrowing} narrowing, {changed} changed, {} new audit finding{}\n",
        diff.findings.len(),
        if diff.findings.len() == 1 { "" } else { "s" }
    ));
    out
}

/// The report as markdown, for a pull-request comment.
pub fn markdown(diff: &Diff) -> String {
    let mut out = String::from("### What this change does to access\n\n");
    if diff.changes.is_empty() && diff.findings.is_empty() {
        out.push_str("No change to what any role may do.\n");
        return out;
    }
    let code = |s: &str| format!("`{}`", s.replace('`', "'"));
    let mut last: Option<Option<&str>> = None;
    for c in &diff.changes {
        let role = c.role.as_deref();
        if last != Some(role) {
            match role {
                None => out.push_str("\n**app**\n\n"),
                Some(r) if c.anonymous => out.push_str(&format!("\n**{r}** (anonymous role)\n\n")),
                Some(r) => out.push_str(&format!("\n**{r}**\n\n")),
            }
        }
        let label = match c.direction {
            Direction::Widening => "**widening**",
            Direction::Narrowing => "narrowing",
            Direction::Changed => "**changed: review by hand**",
        };
        out.push_str(&format!("- {label} {}: {}", code(&c.subject), c.what));
        if c.before.is_some() || c.after.is_some() {
            let show = |s: &Option<String>| s.as_deref().map_or("nothing".to_string(), code);
            out.push_str(&format!(" (before {}, after {})", show(&c.before), show(&c.after)));
        }
        out.push('\n');
        last = Some(role);
    }
    if !diff.findings.is_empty() {
        out.push_str("\n**New audit findings**\n\n");
        for f in &diff.findings {
            out.push_str(&format!("- {} {} at {}\n", code(&f.code), f.message, code(&f.at)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::conjuncts;

    #[test]
    fn conjuncts_split_brackets_and_top_level_ands_only() {
        assert_eq!(conjuncts("[A = 1][B  =\n 2]"), ["A = 1", "B = 2"]);
        assert_eq!(conjuncts("[A = 1 and (B = 2 and C = 3)]"), ["A = 1", "(B = 2 and C = 3)"]);
        assert_eq!(conjuncts("[Name = 'x and  y' and B = 2]"), ["Name = 'x and  y'", "B = 2"]);
        assert_eq!(conjuncts("[A/B[C = 1] and D = 2]"), ["A/B[C = 1]", "D = 2"]);
        assert_eq!(conjuncts("[A = 1 or B = 2]"), ["A = 1 or B = 2"]);
        assert!(conjuncts("").is_empty());
    }
}
