//! The canonical printer: declarations and statements line by line, with the
//! source's comments flushed before the line that follows them.

use super::{comments, Comment};
use crate::syntax::ast::*;

/// Lines longer than this break their member values one per line.
const WIDTH: usize = 100;

pub(crate) struct Printer<'s> {
    src: &'s str,
    comments: Vec<Comment>,
    next: usize,
    out: String,
    indent: usize,
    /// Where in the source the last printed element ended.
    last_end: usize,
    /// A block was just opened: no blank line before its first line.
    fresh: bool,
}

impl<'s> Printer<'s> {
    pub(crate) fn new(src: &'s str) -> Printer<'s> {
        Printer { src, comments: comments(src), next: 0, out: String::new(), indent: 0, last_end: 0, fresh: true }
    }

    // ---- Lines, blocks and comments ----

    /// Whether the source between the last element and `pos` holds a blank line.
    fn blank_before(&self, pos: usize) -> bool {
        if self.fresh || pos <= self.last_end {
            return false;
        }
        let gap = &self.src[self.last_end.min(self.src.len())..pos.min(self.src.len())];
        let parts: Vec<&str> = gap.split('\n').collect();
        parts.len() > 2 && parts[1..parts.len() - 1].iter().any(|p| p.trim().is_empty())
    }

    fn push_line(&mut self, text: &str) {
        for _ in 0..self.indent {
            self.out.push_str("  ");
        }
        self.out.push_str(text);
        self.out.push('\n');
    }

    /// Prints the comments that come before `pos` in the source.
    fn flush(&mut self, pos: usize) {
        while self.next < self.comments.len() && self.comments[self.next].start < pos {
            let c = self.comments[self.next].clone();
            self.next += 1;
            if c.trailing && self.out.ends_with('\n') && !self.out.is_empty() {
                self.out.pop();
                self.out.push(' ');
                self.out.push_str(&c.text);
                self.out.push('\n');
            } else {
                if self.blank_before(c.start) {
                    self.out.push('\n');
                }
                for line in c.text.lines() {
                    self.push_line(line.trim());
                }
            }
            self.fresh = false;
            self.last_end = c.end;
        }
    }

    /// A line node starting at `pos` in the source.
    fn line(&mut self, pos: usize, text: &str) {
        self.flush(pos);
        if self.blank_before(pos) {
            self.out.push('\n');
        }
        self.push_line(text);
        self.fresh = false;
        self.last_end = self.last_end.max(pos);
    }

    /// Opens a block with a header line.
    fn open(&mut self, pos: usize, header: &str) {
        self.line(pos, &format!("{header} {{"));
        self.indent += 1;
        self.fresh = true;
    }

    /// Closes a block whose source ends at `end` (the closing brace).
    fn close(&mut self, end: usize) {
        self.flush(end.saturating_sub(1));
        self.indent -= 1;
        self.push_line("}");
        self.fresh = false;
        self.last_end = end;
    }

    /// Marks the end of a node, for blank-line detection.
    fn done(&mut self, end: usize) {
        self.last_end = self.last_end.max(end);
    }

    // ---- Files and declarations ----

    pub(crate) fn file(mut self, file: &File) -> String {
        for item in &file.items {
            self.item(item);
        }
        self.flush(usize::MAX);
        self.out
    }

    fn item(&mut self, item: &Item) {
        match item {
            Item::Module(m) => {
                self.open(m.span.start as usize, &format!("module {}", m.name.name));
                for mi in &m.items {
                    self.module_item(mi);
                }
                self.close(m.span.end as usize);
            }
            Item::UserRole(r) => {
                let roles = r.module_roles.iter().map(|q| q.to_string()).collect::<Vec<_>>().join(", ");
                let manages = match &r.manages {
                    None => String::new(),
                    Some(Manages::All(_)) => " { manages: all }".into(),
                    Some(Manages::Roles(rs)) => {
                        format!(" {{ manages: {} }}", rs.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join(", "))
                    }
                };
                self.line(r.span.start as usize, &format!("user role {}: {roles}{manages}", r.name.name));
                self.done(r.span.end as usize);
            }
            Item::App(a) => {
                self.open(a.span.start as usize, &format!("app {}", a.name.name));
                if let Some((level, span)) = a.access {
                    let word = if level == AccessLevel::Public { "public" } else { "invited" };
                    self.line(span.start as usize, &format!("access: {word}"));
                }
                if let Some(anon) = &a.anonymous {
                    self.line(anon.span.start as usize, &format!("anonymous: {}", anon.name));
                }
                if let Some(flow) = &a.sign_in {
                    self.line(flow.span.start as usize, &format!("sign-in: {flow}"));
                }
                self.close(a.span.end as usize);
            }
            Item::Resource(r) => self.resource(r),
            Item::Workflow(w) => {
                self.line(w.span.start as usize, &format!("workflow {}", w.name));
                self.done(w.span.end as usize);
            }
            Item::Test(t) => {
                let kind = if t.snapshot { "snapshot" } else { "test" };
                self.open(t.span.start as usize, &format!("{kind} {}", quote(&t.name.value)));
                self.stmts(&t.body.stmts);
                self.close(t.span.end as usize);
            }
        }
    }

    fn module_item(&mut self, item: &ModuleItem) {
        match item {
            ModuleItem::Enumeration(e) => {
                let values = e.values.iter().map(|v| v.name.as_str()).collect::<Vec<_>>().join(", ");
                let body = if values.is_empty() { "{}".to_string() } else { format!("{{ {values} }}") };
                self.line(e.span.start as usize, &format!("enumeration {} {body}", e.name.name));
                self.done(e.span.end as usize);
            }
            ModuleItem::Entity(e) => self.entity(e),
            ModuleItem::Association(a) => {
                let arrow = if a.multiplicity == Multiplicity::ReferenceSet { "->*" } else { "->" };
                let head = format!("association {}: {} {arrow} {}", a.name.name, a.from, a.to);
                if a.on_delete.is_empty() {
                    self.line(a.span.start as usize, &head);
                    self.done(a.span.end as usize);
                } else {
                    self.open(a.span.start as usize, &head);
                    for b in &a.on_delete {
                        let action = match &b.action {
                            DeleteAction::Keep => "keep".to_string(),
                            DeleteAction::Cascade => "cascade".to_string(),
                            DeleteAction::Prevent(None) => "prevent".to_string(),
                            DeleteAction::Prevent(Some(m)) => format!("prevent {}", quote(&m.value)),
                        };
                        self.line(b.span.start as usize, &format!("on delete {}: {action}", b.end));
                    }
                    self.close(a.span.end as usize);
                }
            }
            ModuleItem::ModuleRole(r) => {
                self.line(r.span.start as usize, &format!("module role {}", r.name));
                self.done(r.span.end as usize);
            }
            ModuleItem::Access(r) => self.access_rule(r),
            ModuleItem::Microflow(f) => {
                let params = f
                    .params
                    .iter()
                    .map(|p| format!("{}: {}{}", p.name.name, if p.list { "List of " } else { "" }, p.ty))
                    .collect::<Vec<_>>()
                    .join(", ");
                let mut head = format!("microflow {}({params})", f.name.name);
                if !f.allow.is_empty() {
                    head.push_str(&format!(" allow {}", join_q(&f.allow)));
                }
                if f.apply_access {
                    head.push_str(" apply entity access");
                }
                self.open(f.span.start as usize, &head);
                self.stmts(&f.body.stmts);
                self.close(f.span.end as usize);
            }
        }
    }

    fn entity(&mut self, e: &Entity) {
        let mut head = String::new();
        if !e.persistent {
            head.push_str("non-persistent ");
        }
        head.push_str(&format!("entity {}", e.name.name));
        if let Some(g) = &e.extends {
            head.push_str(&format!(" extends {g}"));
        }
        if e.stores.is_empty() && e.attributes.is_empty() {
            self.line(e.span.start as usize, &format!("{head} {{}}"));
            self.done(e.span.end as usize);
            return;
        }
        self.open(e.span.start as usize, &head);
        if let Some(first) = e.stores.first() {
            let names = e.stores.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ");
            self.line(first.span.start as usize, &format!("stores {names}"));
        }
        for a in &e.attributes {
            let mut text = format!("{}: {}", a.name.name, a.ty.name);
            if let Some(n) = &a.ty.length {
                text.push_str(&format!("({})", n.value));
            }
            if let Some(d) = &a.default {
                text.push_str(&format!(" = {}", literal(d)));
            }
            self.line(a.span.start as usize, &text);
            self.done(a.span.end as usize);
        }
        self.close(e.span.end as usize);
    }

    fn access_rule(&mut self, r: &AccessRule) {
        let head = format!("access {} for {}", r.entity, join_q(&r.roles));
        let empty = r.create.is_none()
            && r.delete.is_none()
            && r.read.is_empty()
            && r.write.is_empty()
            && r.constraints.is_empty();
        if empty {
            self.line(r.span.start as usize, &format!("{head} {{}}"));
            self.done(r.span.end as usize);
            return;
        }
        self.open(r.span.start as usize, &head);
        if let Some(s) = r.create {
            self.line(s.start as usize, "create");
        }
        if let Some(s) = r.delete {
            self.line(s.start as usize, "delete");
        }
        for (word, lists) in [("read", &r.read), ("write", &r.write)] {
            for list in lists {
                let (pos, names) = match list {
                    MemberList::All(s) => (s.start as usize, "*".to_string()),
                    MemberList::Members(ns) => (ns.first().map_or(0, |n| n.span.start as usize), join_q(ns)),
                };
                self.line(pos, &format!("{word} {names}"));
            }
        }
        if let Some(first) = r.constraints.first() {
            let text: String = r.constraints.iter().map(xpath).collect();
            self.line(first.span.start as usize, &format!("where {text}"));
        }
        self.close(r.span.end as usize);
    }

    fn resource(&mut self, r: &Resource) {
        self.open(r.span.start as usize, &format!("{} {}", r.kind.as_str(), r.name.name));
        if let Some(first) = r.roles.first() {
            self.open(first.span.start as usize, "roles");
            for g in &r.roles {
                let ops = g.operations.iter().map(|o| o.name.as_str()).collect::<Vec<_>>().join(", ");
                self.line(g.span.start as usize, &format!("{}: {ops}", g.role.name));
                self.done(g.span.end as usize);
            }
            let end = r.roles.last().map_or(0, |g| g.span.end as usize);
            let close = self.src[end..].find('}').map_or(end, |i| end + i + 1);
            self.close(close);
        }
        for lane in &r.swimlanes {
            let roles = lane.roles.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join(", ");
            let body = if roles.is_empty() { "{}".to_string() } else { format!("{{ roles: {roles} }}") };
            self.line(lane.span.start as usize, &format!("swimlane {} {body}", lane.name.name));
            self.done(lane.span.end as usize);
        }
        for c in &r.components {
            let mut head = format!("component {}", c.name.name);
            if let Some(lane) = &c.swimlane {
                head.push_str(&format!(" in {}", lane.name));
            }
            let rule = |rule: &ComponentRule| {
                let roles = rule.roles.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join(", ");
                format!("{} for {roles}", if rule.disable { "disable" } else { "hide" })
            };
            match c.rules.as_slice() {
                [] => self.line(c.span.start as usize, &head),
                [one] => self.line(c.span.start as usize, &format!("{head} {{ {} }}", rule(one))),
                many => {
                    self.open(c.span.start as usize, &head);
                    for r in many {
                        self.line(r.span.start as usize, &rule(r));
                    }
                    self.close(c.span.end as usize);
                }
            }
            self.done(c.span.end as usize);
        }
        self.close(r.span.end as usize);
    }

    // ---- Statements ----

    fn stmts(&mut self, stmts: &[Stmt]) {
        for s in stmts {
            self.stmt(s);
        }
    }

    /// Whether a block can sit on one line: one statement that prints on one line, no comments inside.
    fn one_liner(&self, block: &Block) -> Option<String> {
        let [only] = block.stmts.as_slice() else { return None };
        let inside =
            self.comments.iter().any(|c| c.start > block.span.start as usize && c.start < block.span.end as usize);
        if inside {
            return None;
        }
        simple(only).filter(|t| t.len() <= 40)
    }

    fn stmt(&mut self, s: &Stmt) {
        let pos = s.span.start as usize;
        match layout(s) {
            Layout::Line(text) => {
                if self.indent * 2 + text.len() > WIDTH {
                    if let Some((head, values)) = breakable(s) {
                        // One member per line: `let $x = create E {`, the values, `}`.
                        self.open(pos, &head);
                        for v in values {
                            self.line(v.span.start as usize, &format!("{},", member_value(v)));
                        }
                        self.close(s.span.end as usize);
                        return;
                    }
                }
                self.line(pos, &text);
                self.done(s.span.end as usize);
            }
            Layout::For(var, list, body) => {
                self.open(pos, &format!("for ${} in {}", var.name, expr(list)));
                self.stmts(&body.stmts);
                self.close(body.span.end as usize);
            }
            Layout::If(cond, then, otherwise) => self.if_chain(pos, cond, then, otherwise),
            Layout::Given(b) => match self.one_liner(b) {
                Some(one) => {
                    self.line(pos, &format!("given {{ {one} }}"));
                    self.done(s.span.end as usize);
                }
                None => {
                    self.open(pos, "given");
                    self.stmts(&b.stmts);
                    self.close(b.span.end as usize);
                }
            },
            Layout::ExpectError(text, body) => {
                let head = match text {
                    Some(t) => format!("expect error {}", quote(&t.value)),
                    None => "expect error".to_string(),
                };
                match self.one_liner(body) {
                    Some(one) => {
                        self.line(pos, &format!("{head} {{ {one} }}"));
                        self.done(s.span.end as usize);
                    }
                    None => {
                        self.open(pos, &head);
                        self.stmts(&body.stmts);
                        self.close(body.span.end as usize);
                    }
                }
            }
            Layout::Block(b) => self.stmts(&b.stmts),
        }
    }

    /// `if c { } else if c { } else { }`: each closing brace shares its line with the next `else`.
    fn if_chain(&mut self, pos: usize, cond: &Expr, then: &Block, otherwise: Option<&Stmt>) {
        self.open(pos, &format!("if {}", expr(cond)));
        self.stmts(&then.stmts);
        let mut end = then.span.end as usize;
        let mut next = otherwise;
        loop {
            match next.map(|n| &n.kind) {
                Some(StmtKind::If { cond, then, otherwise }) => {
                    self.reopen(end, &format!("}} else if {} {{", expr(cond)));
                    self.stmts(&then.stmts);
                    end = then.span.end as usize;
                    next = otherwise.as_deref();
                }
                Some(StmtKind::Block(b)) => {
                    self.reopen(end, "} else {");
                    self.stmts(&b.stmts);
                    self.close(b.span.end as usize);
                    return;
                }
                // The grammar gives `else` only a block or an `if`; anything else would print
                // as a block of one statement rather than be lost.
                Some(_) => {
                    self.reopen(end, "} else {");
                    if let Some(other) = next {
                        self.stmt(other);
                        self.close(other.span.end as usize);
                    }
                    return;
                }
                None => {
                    self.close(end);
                    return;
                }
            }
        }
    }

    /// Ends a branch at `end` and starts the next on the same line (`} else {`).
    fn reopen(&mut self, end: usize, line: &str) {
        self.flush(end.saturating_sub(1));
        self.indent -= 1;
        self.push_line(line);
        self.indent += 1;
        self.fresh = true;
        self.last_end = end;
    }
}

/// A statement that prints on one line, if it is one.
/// How a statement is laid out: one line of text, or a block statement with its parts.
enum Layout<'a> {
    /// One line.
    Line(String),
    /// `for $x in list { }`.
    For(&'a Ident, &'a Expr, &'a Block),
    /// `if c { } else ...`.
    If(&'a Expr, &'a Block, Option<&'a Stmt>),
    /// `given { }`.
    Given(&'a Block),
    /// `expect error ['text'] { }`.
    ExpectError(Option<&'a StrLit>, &'a Block),
    /// A bare block (an `else` body).
    Block(&'a Block),
}

/// The layout of every statement: one match over every kind, so a new statement is a
/// compile error here until it is printed.
fn layout(s: &Stmt) -> Layout<'_> {
    Layout::Line(match &s.kind {
        StmtKind::Let { var, value } => format!("let ${} = {}", var.name, expr(value)),
        StmtKind::Assign { var, value } => format!("${} = {}", var.name, expr(value)),
        StmtKind::Change { target, values } => format!("change {} {}", expr(target), member_values(values)),
        StmtKind::Commit(e) => format!("commit {}", expr(e)),
        StmtKind::Delete(e) => format!("delete {}", expr(e)),
        StmtKind::Rollback(e) => format!("rollback {}", expr(e)),
        StmtKind::Return(None) => "return".into(),
        StmtKind::Return(Some(e)) => format!("return {}", expr(e)),
        StmtKind::Log(e) => format!("log {}", expr(e)),
        StmtKind::Error(e) => format!("error {}", expr(e)),
        StmtKind::Expr(e) => expr(e),
        StmtKind::Now(t) => format!("now {}", quote(&t.value)),
        StmtKind::User { name, roles, entity } => {
            let roles = roles.iter().map(|r| r.name.as_str()).collect::<Vec<_>>().join(", ");
            let mut text = format!("user {}: {roles}", name.name);
            if let Some((q, values)) = entity {
                text.push_str(&format!(" as {q}"));
                if !values.is_empty() {
                    text.push_str(&format!(" {}", member_values(values)));
                }
            }
            text
        }
        StmtKind::As(Principal::System) => "as system".into(),
        StmtKind::As(Principal::Anonymous(None)) => "as anonymous".into(),
        StmtKind::As(Principal::Anonymous(Some(n))) => format!("as anonymous {}", quote(&n.value)),
        StmtKind::As(Principal::User(u)) => format!("as {}", u.name),
        StmtKind::SignIn(u) => format!("sign in {}", u.name),
        StmtKind::SetAccess(AccessLevel::Public) => "set access public".into(),
        StmtKind::SetAccess(AccessLevel::Invited) => "set access invited".into(),
        StmtKind::Explain(op) => format!("explain {}", op_check(op)),
        StmtKind::Matrix => "matrix".into(),
        StmtKind::Expect(e) => match e {
            Expect::Holds(x) => format!("expect {}", expr(x)),
            Expect::Decision { allow, op } => {
                format!("expect {} {}", if *allow { "allow" } else { "deny" }, op_check(op))
            }
            Expect::SignInCall(q) => format!("expect sign-in call {q}"),
            Expect::Request { request: r, status, detail, .. } => {
                let mut text = format!("expect {} -> {status}", request(r));
                if let Some(d) = detail {
                    text.push_str(&format!(" {}", quote(&d.value)));
                }
                text
            }
            Expect::Component { state, component, kind, resource } => {
                let state = match state {
                    ComponentState::Visible => "visible",
                    ComponentState::Hidden => "hidden",
                    ComponentState::Disabled => "disabled",
                };
                format!("expect {state} component {} of {} {}", component.name, kind.as_str(), resource.name)
            }
            Expect::Error { text, body } => return Layout::ExpectError(text.as_ref(), body),
        },
        StmtKind::For { var, list, body } => return Layout::For(var, list, body),
        StmtKind::If { cond, then, otherwise } => return Layout::If(cond, then, otherwise.as_deref()),
        StmtKind::Block(b) => return Layout::Block(b),
        StmtKind::Given(b) => return Layout::Given(b),
    })
}

/// The one line of a statement that has one.
fn simple(s: &Stmt) -> Option<String> {
    match layout(s) {
        Layout::Line(text) => Some(text),
        Layout::For(..) | Layout::If(..) | Layout::Given(_) | Layout::ExpectError(..) | Layout::Block(_) => None,
    }
}

fn op_check(op: &OpCheck) -> String {
    match op {
        OpCheck::Read(p) => format!("read {}", member_path(p)),
        OpCheck::Write(p) => format!("write {}", member_path(p)),
        OpCheck::Delete(e) => format!("delete {}", expr(e)),
        OpCheck::Create(q) => format!("create {q}"),
        OpCheck::Call(q) => format!("call {q}"),
    }
}

fn request(r: &Request) -> String {
    let target = match &r.target {
        RequestTarget::StartProcess(n) => format!("start process {}", n.name),
        RequestTarget::StartUiFlow(n) => format!("start ui flow {}", n.name),
        RequestTarget::StartWorkflow(n, v) => format!("start workflow {} from ${}", n.name, v.name),
        RequestTarget::Instance { verb, instance } => {
            let v = &instance.name;
            match verb {
                InstanceVerb::Status => format!("status ${v}"),
                InstanceVerb::Data => format!("data ${v}"),
                InstanceVerb::DataModelPaths => format!("data model paths ${v}"),
                InstanceVerb::BuildInfo => format!("build info ${v}"),
                InstanceVerb::Events(None) => format!("events ${v}"),
                InstanceVerb::Events(Some(t)) => format!("events {} ${v}", quote(&t.value)),
                InstanceVerb::Action(a) => format!("action ${v} {}", quote(&a.value)),
                InstanceVerb::Dismiss => format!("dismiss ${v}"),
                InstanceVerb::Upload => format!("upload ${v}"),
            }
        }
        RequestTarget::Global(g, _) => match g {
            GlobalEndpoint::BuildInfo => "build info",
            GlobalEndpoint::Enumerations => "enumerations",
            GlobalEndpoint::SubstitutionTags => "substitution tags",
            GlobalEndpoint::Media => "media",
            GlobalEndpoint::Themes => "themes",
            GlobalEndpoint::Fonts => "fonts",
            GlobalEndpoint::Tasks => "tasks",
            GlobalEndpoint::Chat => "chat",
            GlobalEndpoint::ViewEvents => "view events",
            GlobalEndpoint::Internal => "internal",
            GlobalEndpoint::Languages => "languages",
        }
        .to_string(),
    };
    let mut text = format!("request {target}");
    if r.invalid_token {
        text.push_str(" with token invalid");
    }
    if r.without_session {
        text.push_str(" without session");
    }
    text
}

fn member_values(values: &[MemberValue]) -> String {
    if values.is_empty() {
        return "{}".into();
    }
    format!("{{ {} }}", values.iter().map(member_value).collect::<Vec<_>>().join(", "))
}

fn member_value(v: &MemberValue) -> String {
    let op = match v.op {
        AssignOp::Set => "=",
        AssignOp::Add => "+=",
        AssignOp::Remove => "-=",
    };
    format!("{} {op} {}", v.member, expr(&v.value))
}

/// A statement ending in member values, split into its head and the values, for breaking.
fn breakable(s: &Stmt) -> Option<(String, &[MemberValue])> {
    fn create(prefix: String, e: &Expr) -> Option<(String, &[MemberValue])> {
        match &e.kind {
            ExprKind::Create { entity, values } if !values.is_empty() => {
                Some((format!("{prefix}create {entity}"), values.as_slice()))
            }
            _ => None,
        }
    }
    match &s.kind {
        StmtKind::Let { var, value } => create(format!("let ${} = ", var.name), value),
        StmtKind::Assign { var, value } => create(format!("${} = ", var.name), value),
        StmtKind::Expr(e) => create(String::new(), e),
        StmtKind::Change { target, values } if !values.is_empty() => {
            Some((format!("change {}", expr(target)), values.as_slice()))
        }
        _ => None,
    }
}

fn member_path(p: &MemberPath) -> String {
    let mut text = if p.var.name.starts_with('#') { p.var.name.to_string() } else { format!("${}", p.var.name) };
    for s in &p.steps {
        text.push('/');
        text.push_str(&s.to_string());
    }
    text
}

// ---- Expressions ----

fn prec(e: &Expr) -> u8 {
    match &e.kind {
        ExprKind::If { .. } => 0,
        ExprKind::Binary { op, .. } => match op {
            BinOp::Or => 1,
            BinOp::And => 2,
            BinOp::Cmp(_) => 3,
            BinOp::Add | BinOp::Sub => 4,
            BinOp::Mul | BinOp::Div | BinOp::Mod => 5,
        },
        ExprKind::Neg(_) => 6,
        ExprKind::String(_)
        | ExprKind::Number(_)
        | ExprKind::Bool(_)
        | ExprKind::Empty
        | ExprKind::Token(_)
        | ExprKind::DateTime(_)
        | ExprKind::ObjectRef(_)
        | ExprKind::Path(_)
        | ExprKind::Name(_)
        | ExprKind::Not(_)
        | ExprKind::List(_)
        | ExprKind::Create { .. }
        | ExprKind::Retrieve { .. }
        | ExprKind::Call { .. }
        | ExprKind::Function { .. }
        | ExprKind::Request(_) => 7,
    }
}

fn operand(e: &Expr, min: u8) -> String {
    let text = expr(e);
    if prec(e) < min {
        format!("({text})")
    } else {
        text
    }
}

pub(crate) fn expr(e: &Expr) -> String {
    match &e.kind {
        ExprKind::String(s) => quote(s),
        ExprKind::Number(n) => n.value.to_string(),
        ExprKind::Bool(b) => b.to_string(),
        ExprKind::Empty => "empty".into(),
        ExprKind::Token(t) => format!("[%{}%]", t.name),
        ExprKind::DateTime(s) => format!("dateTime({})", quote(&s.value)),
        ExprKind::ObjectRef(id) => format!("#{id}"),
        ExprKind::Path(p) => member_path(p),
        ExprKind::Name(q) => q.to_string(),
        ExprKind::Binary { op, lhs, rhs } => {
            let p = prec(e);
            let (l, r) = if matches!(op, BinOp::Cmp(_)) { (p + 1, p + 1) } else { (p, p + 1) };
            format!("{} {} {}", operand(lhs, l), op.as_str(), operand(rhs, r))
        }
        ExprKind::Neg(x) => {
            let inner = operand(x, 7);
            if inner.starts_with('-') {
                format!("-({inner})")
            } else {
                format!("-{inner}")
            }
        }
        ExprKind::Not(x) => format!("not({})", expr(x)),
        ExprKind::If { cond, then, otherwise } => {
            format!("if {} then {} else {}", expr(cond), operand(then, 1), operand(otherwise, 0))
        }
        ExprKind::List(items) => format!("[{}]", items.iter().map(expr).collect::<Vec<_>>().join(", ")),
        ExprKind::Create { entity, values } if values.is_empty() => format!("create {entity}"),
        ExprKind::Create { entity, values } => format!("create {entity} {}", member_values(values)),
        ExprKind::Retrieve { first, source } => {
            let first = if *first { "first " } else { "" };
            match source {
                RetrieveSource::Database { entity, constraints } if constraints.is_empty() => {
                    format!("retrieve {first}{entity}")
                }
                RetrieveSource::Database { entity, constraints } => {
                    format!("retrieve {first}{entity} {}", constraints.iter().map(xpath).collect::<String>())
                }
                RetrieveSource::Association(p) => format!("retrieve {first}{}", member_path(p)),
            }
        }
        ExprKind::Call { flow, args } => {
            let args = args.iter().map(|(n, v)| format!("{} = {}", n.name, expr(v))).collect::<Vec<_>>().join(", ");
            format!("call {flow}({args})")
        }
        ExprKind::Function { name, args } => {
            format!("{}({})", name.name, args.iter().map(expr).collect::<Vec<_>>().join(", "))
        }
        ExprKind::Request(r) => request(r),
    }
}

// ---- XPath ----

fn xpath(x: &XPath) -> String {
    format!("[{}]", xexpr(&x.expr))
}

fn xexpr(x: &XExpr) -> String {
    match x {
        XExpr::Or(parts) => parts.iter().map(xexpr).collect::<Vec<_>>().join(" or "),
        XExpr::And(parts) => parts
            .iter()
            .map(|p| if matches!(p, XExpr::Or(_)) { format!("({})", xexpr(p)) } else { xexpr(p) })
            .collect::<Vec<_>>()
            .join(" and "),
        XExpr::Not(inner, _) => format!("not({})", xexpr(inner)),
        XExpr::Compare { lhs, op, rhs, .. } => format!("{} {} {}", xoperand(lhs), op.as_str(), xoperand(rhs)),
        XExpr::Operand(o) => xoperand(o),
    }
}

fn xoperand(o: &XOperand) -> String {
    match o {
        XOperand::Path(p) => p
            .steps
            .iter()
            .map(|s| format!("{}{}", s.name, s.predicates.iter().map(xpath).collect::<String>()))
            .collect::<Vec<_>>()
            .join("/"),
        XOperand::Value(v) => match v {
            XValue::String(s) => quote(&s.value),
            XValue::Tokens(t) => quote(&tokens(t)),
            XValue::Number(n) => n.value.to_string(),
            XValue::Variable(v) => format!("${}", v.name),
            XValue::Empty(_) => "empty".into(),
        },
        XOperand::Bool(b, _) => format!("{b}()"),
        XOperand::Function { name, args, .. } => {
            format!("{}({})", name.name, args.iter().map(xoperand).collect::<Vec<_>>().join(", "))
        }
        XOperand::Arith { operands, ops, .. } => {
            let mut text = xoperand(&operands[0]);
            for (op, operand) in ops.iter().zip(&operands[1..]) {
                text.push_str(&format!(" {op} {}", xoperand(operand)));
            }
            text
        }
    }
}

fn tokens(t: &TokenExpr) -> String {
    let mut text = String::new();
    for (i, term) in t.terms.iter().enumerate() {
        if i > 0 {
            text.push_str(if term.plus { " + " } else { " - " });
        }
        if let Some(f) = &term.factor {
            text.push_str(&format!("{} * ", f.value));
        }
        text.push_str(&format!("[%{}%]", term.token.name));
    }
    text
}

// ---- Literals and names ----

/// A string literal: single quotes, unless the text has a single quote and no double one.
fn quote(s: &str) -> String {
    if s.contains('\'') && !s.contains('"') {
        format!("\"{s}\"")
    } else {
        format!("'{}'", s.replace('\'', "''"))
    }
}

fn literal(l: &Literal) -> String {
    match l {
        Literal::String(s) => quote(&s.value),
        Literal::Number(n) => n.value.to_string(),
        Literal::Bool(b, _) => b.to_string(),
        Literal::Empty(_) => "empty".into(),
        Literal::Name(q) => q.to_string(),
    }
}

fn join_q(names: &[QName]) -> String {
    names.iter().map(|q| q.to_string()).collect::<Vec<_>>().join(", ")
}
