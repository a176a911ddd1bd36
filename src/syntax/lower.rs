//! Lowering of declarations and XPath: one function per grammar rule.

// INVARIANT: lowering runs only on pairs the grammar produced, and each `expect` takes a child
// that its rule always has (the grammar's shape, as the `unreachable!` arms are its alternatives).
#![expect(clippy::expect_used, reason = "children the grammar always produces")]

use std::cell::RefCell;
use std::collections::HashMap;

/// The names of the built-in `System` module, in their canonical spelling.
const SYSTEM_NAMES: [&str; 5] = ["User", "UserRole", "UserRoles", "owner", "changedBy"];

use pest::iterators::Pair;
use pest::Parser;
use rust_decimal::Decimal;
use smol_str::SmolStr;

use super::ast::*;
use super::errors::is_keyword;
use super::{ParseError, Rule, RulesParser};
use crate::source::{FileId, Span};

pub(super) type Result<T> = std::result::Result<T, ParseError>;

/// The lowering context: which file spans point into.
pub(crate) struct Lower {
    pub(crate) file: FileId,
    /// How deep the expression or statement being lowered is nested.
    pub(crate) depth: std::cell::Cell<usize>,
    /// The terms of each token string met so far, by content, with spans from the
    /// start of the content: the same token strings recur in many rules.
    token_texts: RefCell<HashMap<String, Vec<TokenTerm>>>,
}

impl Lower {
    pub(crate) fn new(file: FileId) -> Lower {
        Lower { file, depth: std::cell::Cell::new(0), token_texts: RefCell::default() }
    }

    /// Enters one more level of nesting, refusing to go past [`super::MAX_EXPR_DEPTH`].
    pub(super) fn enter(&self, pair: &Pair<'_, Rule>, extra: usize) -> Result<()> {
        let depth = self.depth.get() + 1 + extra;
        if depth > super::MAX_EXPR_DEPTH {
            let span = self.span(pair);
            return Err(ParseError::TooDeep {
                limit: super::MAX_EXPR_DEPTH,
                span: Span::new(self.file, span.start as usize, span.start as usize + 1),
            });
        }
        self.depth.set(self.depth.get() + 1);
        Ok(())
    }

    pub(super) fn leave(&self) {
        self.depth.set(self.depth.get() - 1);
    }
}

/// The children of a pair, without the pairs that only mark keywords.
pub(super) fn children(pair: Pair<'_, Rule>) -> impl Iterator<Item = Pair<'_, Rule>> {
    pair.into_inner().filter(|p| !is_keyword(p.as_rule()))
}

/// The value of a quoted string: quotes removed, doubled quotes undone.
pub(crate) fn unquote(raw: &str) -> String {
    let quote = &raw[..1];
    let inner = &raw[1..raw.len() - 1];
    if inner.contains(quote) {
        inner.replace(&format!("{quote}{quote}"), quote)
    } else {
        inner.to_string()
    }
}

/// Lowers the operands of a chain (`a or b or c`): a single operand stands for
/// itself, several are gathered by `many`. No vector is built for the single one.
fn chain<T>(mut operands: impl Iterator<Item = Result<T>>, many: impl FnOnce(Vec<T>) -> T) -> Result<T> {
    let first = operands.next().expect("a chain has an operand")?;
    let Some(second) = operands.next() else { return Ok(first) };
    let mut all = vec![first, second?];
    for operand in operands {
        all.push(operand?);
    }
    Ok(many(all))
}

impl Lower {
    /// The pair's span, without the whitespace a repetition may have consumed at its end.
    pub(super) fn span(&self, pair: &Pair<'_, Rule>) -> Span {
        let s = pair.as_span();
        let trimmed = s.as_str().trim_end().len();
        Span::new(self.file, s.start(), s.start() + trimmed)
    }

    pub(super) fn file(&self, pair: Pair<'_, Rule>) -> Result<File> {
        let mut items = Vec::new();
        for p in children(pair) {
            items.push(match p.as_rule() {
                Rule::module_decl => Item::Module(self.module_decl(p)?),
                Rule::user_role_decl => Item::UserRole(self.user_role_decl(p)),
                Rule::app_decl => Item::App(self.app_decl(p)),
                Rule::process_decl | Rule::ui_flow_decl | Rule::template_decl => Item::Resource(self.resource(p)),
                Rule::workflow_decl => Item::Workflow(self.ident(first(p))),
                Rule::test_decl | Rule::snapshot_decl => Item::Test(self.test_decl(p)?),
                Rule::EOI => continue,
                rule => unreachable!("{rule:?} in file"),
            });
        }
        Ok(File { items })
    }

    pub(super) fn repl_input(&self, pair: Pair<'_, Rule>) -> Result<Vec<Stmt>> {
        children(pair).filter(|p| p.as_rule() != Rule::EOI).map(|p| self.statement(p)).collect()
    }

    // ---- Lexical ----

    pub(super) fn ident(&self, pair: Pair<'_, Rule>) -> Ident {
        Ident { name: SmolStr::new(pair.as_str()), span: self.span(&pair) }
    }

    pub(super) fn qname(&self, pair: Pair<'_, Rule>) -> QName {
        debug_assert_eq!(pair.as_rule(), Rule::qname);
        // INVARIANT: qname is compound-atomic, so its text is its names joined by bare dots.
        let mut parts: Vec<SmolStr> = pair.as_str().split('.').map(SmolStr::new).collect();
        // `System` names match without regard to case, and read in their canonical spelling.
        if let [module, name] = parts.as_slice() {
            if module.eq_ignore_ascii_case("System") {
                if let Some(canonical) = SYSTEM_NAMES.iter().find(|n| n.eq_ignore_ascii_case(name)) {
                    parts = vec![SmolStr::new_static("System"), SmolStr::new_static(canonical)];
                }
            }
        }
        QName { parts, span: self.span(&pair) }
    }

    pub(super) fn variable(&self, pair: Pair<'_, Rule>) -> Ident {
        let span = self.span(&pair);
        Ident { name: SmolStr::new(&pair.as_str()[1..]), span }
    }

    pub(super) fn string(&self, pair: Pair<'_, Rule>) -> StrLit {
        StrLit { value: unquote(pair.as_str()), span: self.span(&pair) }
    }

    pub(super) fn number(&self, pair: Pair<'_, Rule>) -> Result<NumLit> {
        let span = self.span(&pair);
        let text = pair.as_str();
        let value =
            text.parse::<Decimal>().map_err(|_| ParseError::NumberOutOfRange { text: text.to_string(), span })?;
        Ok(NumLit { value, integer: !text.contains('.'), span })
    }

    // ---- Domain model ----

    fn module_decl(&self, pair: Pair<'_, Rule>) -> Result<Module> {
        let span = self.span(&pair);
        let mut inner = children(pair);
        let name = self.ident(inner.next().expect("module name"));
        let mut items = Vec::new();
        for p in inner {
            items.push(match p.as_rule() {
                Rule::enumeration_decl => ModuleItem::Enumeration(self.enumeration_decl(p)),
                Rule::entity_decl => ModuleItem::Entity(self.entity_decl(p)?),
                Rule::association_decl => ModuleItem::Association(self.association_decl(p)),
                Rule::module_role_decl => ModuleItem::ModuleRole(self.ident(first(p))),
                Rule::access_rule => ModuleItem::Access(self.access_rule(p)?),
                Rule::microflow_decl => ModuleItem::Microflow(self.microflow_decl(p)?),
                rule => unreachable!("{rule:?} in module_decl"),
            });
        }
        Ok(Module { name, items, span })
    }

    fn enumeration_decl(&self, pair: Pair<'_, Rule>) -> Enumeration {
        let span = self.span(&pair);
        let mut inner = children(pair);
        let name = self.ident(inner.next().expect("enumeration name"));
        Enumeration { name, values: inner.map(|p| self.ident(p)).collect(), span }
    }

    fn entity_decl(&self, pair: Pair<'_, Rule>) -> Result<Entity> {
        let span = self.span(&pair);
        let mut entity = Entity {
            name: Ident { name: SmolStr::default(), span },
            persistent: true,
            extends: None,
            stores: Vec::new(),
            attributes: Vec::new(),
            span,
        };
        for p in children(pair) {
            match p.as_rule() {
                Rule::persistence => entity.persistent = false,
                Rule::ident => entity.name = self.ident(p),
                Rule::extends_clause => entity.extends = Some(self.qname(first(p))),
                Rule::stores_decl => entity.stores.extend(children(p).map(|i| self.ident(i))),
                Rule::attribute_decl => entity.attributes.push(self.attribute_decl(p)?),
                rule => unreachable!("{rule:?} in entity_decl"),
            }
        }
        Ok(entity)
    }

    fn attribute_decl(&self, pair: Pair<'_, Rule>) -> Result<Attribute> {
        let span = self.span(&pair);
        let mut inner = children(pair);
        let name = self.ident(inner.next().expect("attribute name"));
        let ty = self.attribute_type(inner.next().expect("attribute type"))?;
        let default = inner.next().map(|p| self.literal(p)).transpose()?;
        Ok(Attribute { name, ty, default, span })
    }

    fn attribute_type(&self, pair: Pair<'_, Rule>) -> Result<TypeRef> {
        let span = self.span(&pair);
        let mut inner = children(pair);
        let name = self.qname(inner.next().expect("type name"));
        let length = inner.next().map(|p| self.number(p)).transpose()?;
        Ok(TypeRef { name, length, span })
    }

    pub(super) fn literal(&self, pair: Pair<'_, Rule>) -> Result<Literal> {
        let p = first(pair);
        let span = self.span(&p);
        Ok(match p.as_rule() {
            Rule::string => Literal::String(self.string(p)),
            Rule::number => Literal::Number(self.number(p)?),
            Rule::lit_true => Literal::Bool(true, span),
            Rule::lit_false => Literal::Bool(false, span),
            Rule::lit_empty => Literal::Empty(span),
            Rule::qname => Literal::Name(self.qname(p)),
            rule => unreachable!("{rule:?} in literal"),
        })
    }

    fn association_decl(&self, pair: Pair<'_, Rule>) -> Association {
        let span = self.span(&pair);
        let mut inner = children(pair);
        let name = self.ident(inner.next().expect("association name"));
        let from = self.qname(inner.next().expect("from entity"));
        let multiplicity = match inner.next().expect("association kind").as_str() {
            "->*" => Multiplicity::ReferenceSet,
            _ => Multiplicity::Reference,
        };
        let to = self.qname(inner.next().expect("to entity"));
        let on_delete = inner.map(|p| self.delete_behaviour(p)).collect();
        Association { name, from, multiplicity, to, on_delete, span }
    }

    fn delete_behaviour(&self, pair: Pair<'_, Rule>) -> DeleteBehaviour {
        let span = self.span(&pair);
        let mut inner = children(pair);
        let end = self.qname(inner.next().expect("end entity"));
        let action = self.delete_action(inner.next().expect("delete action"));
        DeleteBehaviour { end, action, span }
    }

    fn delete_action(&self, pair: Pair<'_, Rule>) -> DeleteAction {
        let p = first(pair);
        match p.as_rule() {
            Rule::keep_action => DeleteAction::Keep,
            Rule::cascade_action => DeleteAction::Cascade,
            Rule::prevent_action => DeleteAction::Prevent(children(p).next().map(|s| self.string(s))),
            rule => unreachable!("{rule:?} in delete_action"),
        }
    }

    // ---- Roles and the app ----

    fn user_role_decl(&self, pair: Pair<'_, Rule>) -> UserRole {
        let span = self.span(&pair);
        let mut inner = children(pair);
        let name = self.ident(inner.next().expect("user role name"));
        let mut module_roles = Vec::new();
        let mut manages = None;
        for p in inner {
            match p.as_rule() {
                Rule::qname => module_roles.push(self.qname(p)),
                Rule::manages_clause => manages = Some(self.manages_clause(p)),
                rule => unreachable!("{rule:?} in user_role_decl"),
            }
        }
        UserRole { name, module_roles, manages, span }
    }

    fn manages_clause(&self, pair: Pair<'_, Rule>) -> Manages {
        let mut roles = Vec::new();
        for p in children(pair) {
            match p.as_rule() {
                Rule::manages_all => return Manages::All(self.span(&p)),
                Rule::ident => roles.push(self.ident(p)),
                rule => unreachable!("{rule:?} in manages_clause"),
            }
        }
        Manages::Roles(roles)
    }

    fn app_decl(&self, pair: Pair<'_, Rule>) -> App {
        let span = self.span(&pair);
        let mut inner = children(pair);
        let name = self.ident(inner.next().expect("app name"));
        let mut app = App { name, access: None, anonymous: None, sign_in: None, span };
        for p in inner {
            let setting_span = self.span(&p);
            match p.as_rule() {
                Rule::app_access => app.access = Some((access_level(first(p).as_str()), setting_span)),
                Rule::app_anonymous => app.anonymous = Some(self.ident(first(p))),
                Rule::app_sign_in => app.sign_in = Some(self.qname(first(p))),
                rule => unreachable!("{rule:?} in app_decl"),
            }
        }
        app
    }

    // ---- Entity access rules ----

    pub(crate) fn access_rule(&self, pair: Pair<'_, Rule>) -> Result<AccessRule> {
        let span = self.span(&pair);
        let mut inner = children(pair);
        let entity = self.qname(inner.next().expect("access entity"));
        let mut rule = AccessRule {
            entity,
            roles: Vec::new(),
            create: None,
            delete: None,
            read: Vec::new(),
            write: Vec::new(),
            constraints: Vec::new(),
            span,
        };
        for p in inner {
            match p.as_rule() {
                Rule::qname => rule.roles.push(self.qname(p)),
                Rule::grant_create => rule.create = Some(self.span(&p)),
                Rule::grant_delete => rule.delete = Some(self.span(&p)),
                Rule::grant_read => rule.read.push(self.member_list(first(p))),
                Rule::grant_write => rule.write.push(self.member_list(first(p))),
                Rule::where_clause => {
                    for c in children(p) {
                        rule.constraints.push(self.xpath_constraint(c)?);
                    }
                }
                other => unreachable!("{other:?} in access_rule"),
            }
        }
        Ok(rule)
    }

    fn member_list(&self, pair: Pair<'_, Rule>) -> MemberList {
        let mut names = Vec::new();
        for p in children(pair) {
            match p.as_rule() {
                Rule::all_members => return MemberList::All(self.span(&p)),
                Rule::qname => names.push(self.qname(p)),
                rule => unreachable!("{rule:?} in member_list"),
            }
        }
        MemberList::Members(names)
    }

    // ---- XPath ----

    pub(super) fn xpath_constraint(&self, pair: Pair<'_, Rule>) -> Result<XPath> {
        let span = self.span(&pair);
        Ok(XPath { expr: self.xp_or(first(pair))?, span })
    }

    fn xp_or(&self, pair: Pair<'_, Rule>) -> Result<XExpr> {
        chain(children(pair).map(|p| self.xp_and(p)), XExpr::Or)
    }

    fn xp_and(&self, pair: Pair<'_, Rule>) -> Result<XExpr> {
        chain(children(pair).map(|p| self.xp_unary(p)), XExpr::And)
    }

    fn xp_unary(&self, pair: Pair<'_, Rule>) -> Result<XExpr> {
        let span = self.span(&pair);
        match pair.as_rule() {
            Rule::xp_not => Ok(XExpr::Not(Box::new(self.xp_or(first(pair))?), span)),
            Rule::xp_group => self.xp_or(first(pair)),
            Rule::xp_comparison => self.xp_comparison(pair),
            rule => unreachable!("{rule:?} in xp_unary"),
        }
    }

    fn xp_comparison(&self, pair: Pair<'_, Rule>) -> Result<XExpr> {
        let span = self.span(&pair);
        let mut inner = children(pair);
        let lhs = self.xp_arith(inner.next().expect("comparison operand"))?;
        match inner.next() {
            None => Ok(XExpr::Operand(lhs)),
            Some(op) => {
                let op = cmp_op(op.as_str());
                let rhs = self.xp_arith(inner.next().expect("right operand"))?;
                Ok(XExpr::Compare { lhs, op, rhs, span })
            }
        }
    }

    fn xp_arith(&self, pair: Pair<'_, Rule>) -> Result<XOperand> {
        let span = self.span(&pair);
        let mut inner = children(pair);
        let first = self.xp_operand(inner.next().expect("arithmetic operand"))?;
        let Some(op) = inner.next() else { return Ok(first) };
        let mut operands = vec![first];
        let mut ops = vec![SmolStr::new(op.as_str())];
        for p in inner {
            if p.as_rule() == Rule::op_arith {
                ops.push(SmolStr::new(p.as_str()));
            } else {
                operands.push(self.xp_operand(p)?);
            }
        }
        Ok(XOperand::Arith { operands, ops, span })
    }

    fn xp_operand(&self, pair: Pair<'_, Rule>) -> Result<XOperand> {
        let span = self.span(&pair);
        Ok(match pair.as_rule() {
            Rule::xp_bool => XOperand::Bool(first(pair).as_rule() == Rule::lit_true, span),
            Rule::xp_function => {
                let mut inner = children(pair);
                let name = self.ident(inner.next().expect("function name"));
                let args = inner.map(|p| self.xp_arith(p)).collect::<Result<_>>()?;
                XOperand::Function { name, args, span }
            }
            Rule::xp_value => XOperand::Value(self.xp_value(first(pair))?),
            Rule::xp_path => XOperand::Path(self.xp_path(pair)?),
            rule => unreachable!("{rule:?} in xp_operand"),
        })
    }

    fn xp_value(&self, pair: Pair<'_, Rule>) -> Result<XValue> {
        let span = self.span(&pair);
        Ok(match pair.as_rule() {
            Rule::string => {
                let lit = self.string(pair);
                if lit.value.contains("[%") {
                    XValue::Tokens(self.token_text(&lit)?)
                } else {
                    XValue::String(lit)
                }
            }
            Rule::number => XValue::Number(self.number(pair)?),
            Rule::variable => XValue::Variable(self.variable(pair)),
            Rule::lit_empty => XValue::Empty(span),
            rule => unreachable!("{rule:?} in xp_value"),
        })
    }

    fn xp_path(&self, pair: Pair<'_, Rule>) -> Result<XPathPath> {
        let span = self.span(&pair);
        let steps = children(pair).map(|p| self.xp_step(p)).collect::<Result<_>>()?;
        Ok(XPathPath { steps, span })
    }

    fn xp_step(&self, pair: Pair<'_, Rule>) -> Result<XStep> {
        let mut inner = children(pair);
        let name = self.qname(inner.next().expect("step name"));
        let predicates = inner.map(|p| self.xpath_constraint(p)).collect::<Result<_>>()?;
        Ok(XStep { name, predicates })
    }

    /// Parses the content of a quoted token string; spans point into the string.
    fn token_text(&self, lit: &StrLit) -> Result<TokenExpr> {
        let known = self.token_texts.borrow().get(&lit.value).cloned();
        let terms = match known {
            Some(terms) => terms,
            None => {
                let terms = self.token_terms(lit)?;
                self.token_texts.borrow_mut().insert(lit.value.clone(), terms.clone());
                terms
            }
        };
        // Offsets inside the content map to the source only when no quote was doubled.
        let exact = lit.value.len() + 2 == (lit.span.end - lit.span.start) as usize;
        let raw_start = lit.span.start as usize + 1;
        let shift = |span: Span| {
            if exact {
                Span::new(self.file, raw_start + span.start as usize, raw_start + span.end as usize)
            } else {
                lit.span
            }
        };
        let terms = terms
            .into_iter()
            .map(|term| TokenTerm {
                plus: term.plus,
                factor: term.factor.map(|factor| NumLit { span: shift(factor.span), ..factor }),
                token: Ident { span: shift(term.token.span), ..term.token },
            })
            .collect();
        Ok(TokenExpr { terms, span: lit.span })
    }

    /// The terms of a token string, with spans from the start of its content.
    fn token_terms(&self, lit: &StrLit) -> Result<Vec<TokenTerm>> {
        let content = &lit.value;
        let bad = || ParseError::BadTokenString { text: content.clone(), span: lit.span };
        let pairs = RulesParser::parse(Rule::token_text, content).map_err(|_| bad())?;
        let sub = Lower::new(self.file);
        let mut terms = Vec::new();
        let mut plus = true;
        for p in children(pairs.into_iter().next().ok_or_else(bad)?) {
            match p.as_rule() {
                Rule::token_op => plus = p.as_str() == "+",
                Rule::token_term => {
                    let mut factor = None;
                    let mut token = None;
                    for q in children(p) {
                        let span = Span::new(self.file, q.as_span().start(), q.as_span().end());
                        match q.as_rule() {
                            Rule::number => factor = Some(NumLit { span, ..sub.number(q)? }),
                            Rule::bare_token => {
                                let text = q.as_str();
                                token = Some(Ident { name: SmolStr::new(&text[2..text.len() - 2]), span });
                            }
                            rule => unreachable!("{rule:?} in token_term"),
                        }
                    }
                    terms.push(TokenTerm { plus, factor, token: token.ok_or_else(bad)? });
                }
                Rule::EOI => {}
                rule => unreachable!("{rule:?} in token_text"),
            }
        }
        Ok(terms)
    }

    // ---- Runtime resources ----

    fn resource(&self, pair: Pair<'_, Rule>) -> Resource {
        let span = self.span(&pair);
        let kind = match pair.as_rule() {
            Rule::process_decl => ResourceKind::Process,
            Rule::ui_flow_decl => ResourceKind::UiFlow,
            Rule::template_decl => ResourceKind::Template,
            rule => unreachable!("{rule:?} in resource"),
        };
        let mut inner = children(pair);
        let name = self.ident(inner.next().expect("resource name"));
        let mut resource =
            Resource { kind, name, roles: Vec::new(), swimlanes: Vec::new(), components: Vec::new(), span };
        for p in inner {
            match p.as_rule() {
                Rule::roles_block => resource.roles.extend(children(p).map(|g| self.role_grant(g))),
                Rule::swimlane_decl => resource.swimlanes.push(self.swimlane_decl(p)),
                Rule::component_decl => resource.components.push(self.component_decl(p)),
                rule => unreachable!("{rule:?} in resource"),
            }
        }
        resource
    }

    fn role_grant(&self, pair: Pair<'_, Rule>) -> RoleGrant {
        let span = self.span(&pair);
        let mut inner = children(pair);
        let role = self.ident(inner.next().expect("role"));
        RoleGrant { role, operations: inner.map(|p| self.ident(p)).collect(), span }
    }

    fn swimlane_decl(&self, pair: Pair<'_, Rule>) -> Swimlane {
        let span = self.span(&pair);
        let mut inner = children(pair);
        let name = self.ident(inner.next().expect("swimlane name"));
        let roles = inner.flat_map(children).map(|p| self.ident(p)).collect();
        Swimlane { name, roles, span }
    }

    fn component_decl(&self, pair: Pair<'_, Rule>) -> Component {
        let span = self.span(&pair);
        let mut inner = children(pair);
        let name = self.ident(inner.next().expect("component name"));
        let mut component = Component { name, swimlane: None, rules: Vec::new(), span };
        for p in inner {
            match p.as_rule() {
                Rule::ident => component.swimlane = Some(self.ident(p)),
                Rule::component_rule => component.rules.push(self.component_rule(p)),
                rule => unreachable!("{rule:?} in component_decl"),
            }
        }
        component
    }

    fn component_rule(&self, pair: Pair<'_, Rule>) -> ComponentRule {
        let span = self.span(&pair);
        let mut inner = children(pair);
        let disable = inner.next().expect("component effect").as_str() == "disable";
        ComponentRule { disable, roles: inner.map(|p| self.ident(p)).collect(), span }
    }

    fn test_decl(&self, pair: Pair<'_, Rule>) -> Result<Test> {
        let span = self.span(&pair);
        let snapshot = pair.as_rule() == Rule::snapshot_decl;
        let mut inner = children(pair);
        let name = self.string(inner.next().expect("test name"));
        let body = self.block(inner.next().expect("test body"))?;
        Ok(Test { name, snapshot, body, span })
    }
}

/// The first meaningful child of a pair.
pub(super) fn first(pair: Pair<'_, Rule>) -> Pair<'_, Rule> {
    let rule = pair.as_rule();
    children(pair).next().unwrap_or_else(|| unreachable!("{rule:?} without children"))
}

pub(super) fn cmp_op(text: &str) -> CmpOp {
    match text {
        "=" => CmpOp::Eq,
        "!=" => CmpOp::Ne,
        "<" => CmpOp::Lt,
        "<=" => CmpOp::Le,
        ">" => CmpOp::Gt,
        ">=" => CmpOp::Ge,
        other => unreachable!("{other:?} in op_cmp"),
    }
}

pub(super) fn access_level(text: &str) -> AccessLevel {
    if text == "public" {
        AccessLevel::Public
    } else {
        AccessLevel::Invited
    }
}
