//! Lowering of microflows, statements, expressions and requests.

// INVARIANT: lowering runs only on pairs the grammar produced, and each `expect` takes a child
// that its rule always has (the grammar's shape, as the `unreachable!` arms are its alternatives).
#![expect(clippy::expect_used, reason = "children the grammar always produces")]

use pest::iterators::Pair;

use super::ast::*;
use super::lower::{access_level, children, cmp_op, first, Lower, Result};
use super::Rule;

impl Lower {
    pub(super) fn microflow_decl(&self, pair: Pair<'_, Rule>) -> Result<Microflow> {
        let span = self.span(&pair);
        let mut inner = children(pair);
        let name = self.ident(inner.next().expect("microflow name"));
        let mut flow = Microflow {
            name,
            params: Vec::new(),
            allow: Vec::new(),
            apply_access: false,
            body: Block { stmts: Vec::new(), span },
            header: span,
            span,
        };
        for p in inner {
            match p.as_rule() {
                Rule::parameter => flow.params.push(self.parameter(p)),
                Rule::allow_clause => flow.allow = children(p).map(|q| self.qname(q)).collect(),
                Rule::apply_access => flow.apply_access = true,
                Rule::block => {
                    flow.header = span.to(flow.name.span);
                    flow.header.end = self.span(&p).start;
                    flow.body = self.block(p)?;
                }
                rule => unreachable!("{rule:?} in microflow_decl"),
            }
        }
        Ok(flow)
    }

    fn parameter(&self, pair: Pair<'_, Rule>) -> Param {
        let span = self.span(&pair);
        let mut inner = children(pair);
        let name = self.ident(inner.next().expect("parameter name"));
        let mut list = false;
        let mut ty = None;
        for p in children(inner.next().expect("parameter type")) {
            match p.as_rule() {
                Rule::list_of => list = true,
                Rule::qname => ty = Some(self.qname(p)),
                rule => unreachable!("{rule:?} in param_type"),
            }
        }
        Param { name, list, ty: ty.expect("parameter type name"), span }
    }

    pub(super) fn block(&self, pair: Pair<'_, Rule>) -> Result<Block> {
        let span = self.span(&pair);
        let stmts = children(pair).map(|p| self.statement(p)).collect::<Result<_>>()?;
        Ok(Block { stmts, span })
    }

    pub(super) fn statement(&self, pair: Pair<'_, Rule>) -> Result<Stmt> {
        self.enter(&pair, 0)?;
        let stmt = self.statement_inner(pair);
        self.leave();
        stmt
    }

    fn statement_inner(&self, pair: Pair<'_, Rule>) -> Result<Stmt> {
        let span = self.span(&pair);
        let rule = pair.as_rule();
        let kind = match rule {
            Rule::let_stmt | Rule::assign_stmt => {
                let mut inner = children(pair);
                let var = self.variable(inner.next().expect("variable"));
                let value = self.expr(inner.next().expect("value"))?;
                if rule == Rule::let_stmt {
                    StmtKind::Let { var, value }
                } else {
                    StmtKind::Assign { var, value }
                }
            }
            Rule::change_stmt => {
                let mut inner = children(pair);
                let target = self.expr(inner.next().expect("change target"))?;
                let values = self.member_values(inner.next().expect("member values"))?;
                StmtKind::Change { target, values }
            }
            Rule::commit_stmt => StmtKind::Commit(self.expr(first(pair))?),
            Rule::delete_stmt => StmtKind::Delete(self.expr(first(pair))?),
            Rule::rollback_stmt => StmtKind::Rollback(self.expr(first(pair))?),
            Rule::for_stmt => {
                let mut inner = children(pair);
                let var = self.variable(inner.next().expect("loop variable"));
                let list = self.expr(inner.next().expect("loop list"))?;
                let body = self.block(inner.next().expect("loop body"))?;
                StmtKind::For { var, list, body }
            }
            Rule::if_stmt => {
                let mut inner = children(pair);
                let cond = self.expr(inner.next().expect("condition"))?;
                let then = self.block(inner.next().expect("then block"))?;
                let otherwise = match inner.next() {
                    None => None,
                    Some(p) if p.as_rule() == Rule::block => {
                        let span = self.span(&p);
                        Some(Box::new(Stmt { kind: StmtKind::Block(self.block(p)?), span }))
                    }
                    Some(p) => Some(Box::new(self.statement(p)?)),
                };
                StmtKind::If { cond, then, otherwise }
            }
            Rule::return_stmt => StmtKind::Return(children(pair).next().map(|p| self.expr(p)).transpose()?),
            Rule::log_stmt => StmtKind::Log(self.expr(first(pair))?),
            Rule::error_stmt => StmtKind::Error(self.expr(first(pair))?),
            Rule::expr_stmt => StmtKind::Expr(self.expr(first(pair))?),
            Rule::now_stmt => StmtKind::Now(self.string(first(pair))),
            Rule::given_stmt => StmtKind::Given(self.block(first(pair))?),
            Rule::user_stmt => self.user_stmt(pair)?,
            Rule::as_stmt => StmtKind::As(self.principal(first(pair))),
            Rule::sign_in_stmt => StmtKind::SignIn(self.ident(first(pair))),
            Rule::set_access_stmt => StmtKind::SetAccess(access_level(first(pair).as_str())),
            Rule::explain_stmt => StmtKind::Explain(self.operation_check(first(pair))?),
            Rule::matrix_stmt => StmtKind::Matrix,
            Rule::expect_stmt => StmtKind::Expect(self.expect_stmt(first(pair))?),
            rule => unreachable!("{rule:?} in statement"),
        };
        Ok(Stmt { kind, span })
    }

    fn user_stmt(&self, pair: Pair<'_, Rule>) -> Result<StmtKind> {
        let mut inner = children(pair);
        let name = self.ident(inner.next().expect("user name"));
        let mut roles = Vec::new();
        let mut entity = None;
        for p in inner {
            match p.as_rule() {
                Rule::ident => roles.push(self.ident(p)),
                Rule::dotted_name => entity = Some((self.dotted(p), Vec::new())),
                Rule::member_values => {
                    if let Some((_, values)) = entity.as_mut() {
                        *values = self.member_values(p)?;
                    }
                }
                rule => unreachable!("{rule:?} in user_stmt"),
            }
        }
        Ok(StmtKind::User { name, roles, entity })
    }

    /// A dotted name (`enum_value`, `dotted_name`): its idents are direct children.
    fn dotted(&self, pair: Pair<'_, Rule>) -> QName {
        let span = self.span(&pair);
        QName { parts: pair.into_inner().map(|p| p.as_str().into()).collect(), span }
    }

    fn principal(&self, pair: Pair<'_, Rule>) -> Principal {
        let p = first(pair);
        match p.as_rule() {
            Rule::as_system => Principal::System,
            Rule::as_anonymous => Principal::Anonymous(children(p).next().map(|s| self.string(s))),
            Rule::ident => Principal::User(self.ident(p)),
            rule => unreachable!("{rule:?} in principal"),
        }
    }

    fn expect_stmt(&self, pair: Pair<'_, Rule>) -> Result<Expect> {
        let span = self.span(&pair);
        Ok(match pair.as_rule() {
            Rule::expect_decision => {
                let mut inner = children(pair);
                let allow = inner.next().expect("decision").as_str() == "allow";
                Expect::Decision { allow, op: self.operation_check(inner.next().expect("operation"))? }
            }
            Rule::expect_sign_in => Expect::SignInCall(self.qname(first(pair))),
            Rule::expect_error => {
                let mut text = None;
                let mut body = Block { stmts: Vec::new(), span };
                for p in children(pair) {
                    match p.as_rule() {
                        Rule::string => text = Some(self.string(p)),
                        Rule::block => body = self.block(p)?,
                        rule => unreachable!("{rule:?} in expect_error"),
                    }
                }
                Expect::Error { text, body }
            }
            Rule::expect_request => {
                let mut inner = children(pair);
                let request = self.request(inner.next().expect("request"))?;
                let status_pair = inner.next().expect("status");
                let status_span = self.span(&status_pair);
                let status = status_pair.as_str().parse().unwrap_or(u16::MAX);
                let detail = inner.next().map(|p| self.string(p));
                Expect::Request { request, status, status_span, detail }
            }
            Rule::expect_component => {
                let mut inner = children(pair);
                let state = match inner.next().expect("visibility").as_str() {
                    "visible" => ComponentState::Visible,
                    "hidden" => ComponentState::Hidden,
                    _ => ComponentState::Disabled,
                };
                let component = self.ident(inner.next().expect("component"));
                let kind = match inner.next().expect("resource kind").as_str() {
                    "process" => ResourceKind::Process,
                    "template" => ResourceKind::Template,
                    _ => ResourceKind::UiFlow,
                };
                let resource = self.ident(inner.next().expect("resource"));
                Expect::Component { state, component, kind, resource }
            }
            Rule::expr => Expect::Holds(self.expr(pair)?),
            rule => unreachable!("{rule:?} in expect_stmt"),
        })
    }

    fn operation_check(&self, pair: Pair<'_, Rule>) -> Result<OpCheck> {
        let p = first(pair);
        Ok(match p.as_rule() {
            Rule::op_read => OpCheck::Read(self.member_path(first(p))),
            Rule::op_write => OpCheck::Write(self.member_path(first(p))),
            Rule::op_delete => OpCheck::Delete(self.expr(first(p))?),
            Rule::op_create => OpCheck::Create(self.qname(first(p))),
            Rule::op_call => OpCheck::Call(self.qname(first(p))),
            rule => unreachable!("{rule:?} in operation_check"),
        })
    }

    fn member_values(&self, pair: Pair<'_, Rule>) -> Result<Vec<MemberValue>> {
        children(pair).map(|p| self.member_value(p)).collect()
    }

    fn member_value(&self, pair: Pair<'_, Rule>) -> Result<MemberValue> {
        let span = self.span(&pair);
        let mut inner = children(pair);
        let member = self.qname(inner.next().expect("member"));
        let op = match inner.next().expect("assignment operator").as_str() {
            "+=" => AssignOp::Add,
            "-=" => AssignOp::Remove,
            _ => AssignOp::Set,
        };
        let value = self.expr(inner.next().expect("member value"))?;
        Ok(MemberValue { member, op, value, span })
    }

    fn member_path(&self, pair: Pair<'_, Rule>) -> MemberPath {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let root = inner.next().expect("variable or object");
        // An object literal keeps its `#`: `MemberPath::object` tells it from a variable.
        let var = if root.as_rule() == Rule::object_ref { self.ident(root) } else { self.variable(root) };
        MemberPath { var, steps: inner.map(|p| self.qname(p)).collect(), span }
    }

    // ---- Expressions ----

    pub(super) fn expr(&self, pair: Pair<'_, Rule>) -> Result<Expr> {
        // One level per source expression, not per precedence layer.
        if pair.as_rule() != Rule::expr {
            return self.expr_inner(pair);
        }
        self.enter(&pair, 0)?;
        let expr = self.expr_inner(pair);
        self.leave();
        expr
    }

    fn expr_inner(&self, pair: Pair<'_, Rule>) -> Result<Expr> {
        let span = self.span(&pair);
        match pair.as_rule() {
            Rule::expr | Rule::paren_expr => self.expr(first(pair)),
            Rule::or_expr | Rule::and_expr | Rule::cmp_expr | Rule::add_expr | Rule::mul_expr => {
                let is_or = pair.as_rule() == Rule::or_expr;
                let is_and = pair.as_rule() == Rule::and_expr;
                let mut inner = pair.into_inner();
                let mut lhs = self.expr(inner.next().expect("operand"))?;
                let mut chain = 0;
                while let Some(op) = inner.next() {
                    // A chain of operators nests its left operands: count it as depth.
                    chain += 1;
                    self.enter(&op, chain)?;
                    self.leave();
                    let op = match op.as_rule() {
                        _ if is_or => BinOp::Or,
                        _ if is_and => BinOp::And,
                        Rule::op_cmp => BinOp::Cmp(cmp_op(op.as_str())),
                        Rule::op_add | Rule::op_mul => match op.as_str() {
                            "+" => BinOp::Add,
                            "-" => BinOp::Sub,
                            "*" => BinOp::Mul,
                            "div" => BinOp::Div,
                            _ => BinOp::Mod,
                        },
                        rule => unreachable!("{rule:?} as an operator"),
                    };
                    let rhs = self.expr(inner.next().expect("operand"))?;
                    let span = lhs.span.to(rhs.span);
                    lhs = Expr { kind: ExprKind::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs) }, span };
                }
                Ok(lhs)
            }
            Rule::unary_expr => {
                let mut inner = pair.into_inner();
                let p = inner.next().expect("operand");
                if p.as_rule() == Rule::op_neg {
                    let operand = self.expr(inner.next().expect("negated operand"))?;
                    Ok(Expr { kind: ExprKind::Neg(Box::new(operand)), span })
                } else {
                    self.expr(p)
                }
            }
            _ => Ok(Expr { kind: self.primary(pair)?, span }),
        }
    }

    fn primary(&self, pair: Pair<'_, Rule>) -> Result<ExprKind> {
        let span = self.span(&pair);
        Ok(match pair.as_rule() {
            Rule::if_expr => {
                let mut inner = children(pair);
                let mut next = || self.expr(inner.next().expect("if operand")).map(Box::new);
                ExprKind::If { cond: next()?, then: next()?, otherwise: next()? }
            }
            Rule::not_expr => ExprKind::Not(Box::new(self.expr(first(pair))?)),
            Rule::create_expr => {
                let mut inner = children(pair);
                let entity = self.qname(inner.next().expect("entity"));
                let values = inner.next().map(|p| self.member_values(p)).transpose()?.unwrap_or_default();
                ExprKind::Create { entity, values }
            }
            Rule::retrieve_expr => self.retrieve_expr(pair)?,
            Rule::call_expr => {
                let mut inner = children(pair);
                let flow = self.qname(inner.next().expect("microflow"));
                let mut args = Vec::new();
                for arg in inner {
                    let mut parts = children(arg);
                    let name = self.ident(parts.next().expect("argument name"));
                    args.push((name, self.expr(parts.next().expect("argument value"))?));
                }
                ExprKind::Call { flow, args }
            }
            Rule::request_expr => ExprKind::Request(Box::new(self.request(first(pair))?)),
            Rule::datetime_expr => ExprKind::DateTime(self.string(first(pair))),
            Rule::func_call => {
                let mut inner = children(pair);
                let name = self.ident(inner.next().expect("function name"));
                ExprKind::Function { name, args: inner.map(|p| self.expr(p)).collect::<Result<_>>()? }
            }
            Rule::list_expr => ExprKind::List(children(pair).map(|p| self.expr(p)).collect::<Result<_>>()?),
            Rule::member_path => ExprKind::Path(self.member_path(pair)),
            Rule::bare_token => {
                let text = pair.as_str();
                ExprKind::Token(Ident { name: text[2..text.len() - 2].into(), span })
            }
            Rule::number => ExprKind::Number(self.number(pair)?),
            Rule::string => ExprKind::String(self.string(pair).value),
            Rule::lit_true => ExprKind::Bool(true),
            Rule::lit_false => ExprKind::Bool(false),
            Rule::lit_empty => ExprKind::Empty,
            Rule::object_ref => ExprKind::ObjectRef(pair.as_str()[1..].parse().unwrap_or(u64::MAX)),
            Rule::enum_value => ExprKind::Name(self.dotted(pair)),
            rule => unreachable!("{rule:?} in primary"),
        })
    }

    fn retrieve_expr(&self, pair: Pair<'_, Rule>) -> Result<ExprKind> {
        let mut first_only = false;
        let mut entity = None;
        let mut constraints = Vec::new();
        let mut by_association = None;
        for p in children(pair) {
            match p.as_rule() {
                Rule::retrieve_first => first_only = true,
                Rule::member_path => by_association = Some(self.member_path(p)),
                Rule::qname => entity = Some(self.qname(p)),
                Rule::xpath_constraint => constraints.push(self.xpath_constraint(p)?),
                rule => unreachable!("{rule:?} in retrieve_expr"),
            }
        }
        let source = match (by_association, entity) {
            (Some(path), _) => RetrieveSource::Association(path),
            (None, Some(entity)) => RetrieveSource::Database { entity, constraints },
            (None, None) => unreachable!("retrieve without a source"),
        };
        Ok(ExprKind::Retrieve { first: first_only, source })
    }

    // ---- Requests ----

    fn request(&self, pair: Pair<'_, Rule>) -> Result<Request> {
        let span = self.span(&pair);
        let mut inner = children(pair);
        let target = self.request_target(inner.next().expect("request target"));
        let mut request = Request { target, invalid_token: false, without_session: false, span };
        for option in inner {
            match first(option).as_rule() {
                Rule::with_invalid_token => request.invalid_token = true,
                Rule::without_session => request.without_session = true,
                rule => unreachable!("{rule:?} in request_option"),
            }
        }
        Ok(request)
    }

    fn request_target(&self, pair: Pair<'_, Rule>) -> RequestTarget {
        let span = self.span(&pair);
        let rule = pair.as_rule();
        let mut inner = children(pair);
        let mut next = || inner.next().unwrap_or_else(|| unreachable!("{rule:?} too short"));
        let instance = |verb, var: Pair<'_, Rule>| RequestTarget::Instance { verb, instance: self.variable(var) };
        match rule {
            Rule::req_start_process => RequestTarget::StartProcess(self.ident(next())),
            Rule::req_start_ui_flow => RequestTarget::StartUiFlow(self.ident(next())),
            Rule::req_start_workflow => {
                let name = self.ident(next());
                RequestTarget::StartWorkflow(name, self.variable(next()))
            }
            Rule::req_data_model_paths => instance(InstanceVerb::DataModelPaths, next()),
            Rule::req_build_info_of => instance(InstanceVerb::BuildInfo, next()),
            Rule::req_events => {
                let p = next();
                if p.as_rule() == Rule::string {
                    let kind = self.string(p);
                    instance(InstanceVerb::Events(Some(kind)), next())
                } else {
                    instance(InstanceVerb::Events(None), p)
                }
            }
            Rule::req_action => {
                let var = next();
                let name = self.string(next());
                instance(InstanceVerb::Action(name), var)
            }
            Rule::req_instance => {
                let verb = match next().as_str() {
                    "status" => InstanceVerb::Status,
                    "data" => InstanceVerb::Data,
                    "dismiss" => InstanceVerb::Dismiss,
                    _ => InstanceVerb::Upload,
                };
                instance(verb, next())
            }
            Rule::req_global => {
                let text = next().as_str().split_whitespace().collect::<Vec<_>>().join(" ");
                let endpoint = match text.as_str() {
                    "build info" => GlobalEndpoint::BuildInfo,
                    "enumerations" => GlobalEndpoint::Enumerations,
                    "substitution tags" => GlobalEndpoint::SubstitutionTags,
                    "media" => GlobalEndpoint::Media,
                    "themes" => GlobalEndpoint::Themes,
                    "fonts" => GlobalEndpoint::Fonts,
                    "tasks" => GlobalEndpoint::Tasks,
                    "chat" => GlobalEndpoint::Chat,
                    "view events" => GlobalEndpoint::ViewEvents,
                    "internal" => GlobalEndpoint::Internal,
                    "languages" => GlobalEndpoint::Languages,
                    other => unreachable!("{other:?} in global_endpoint"),
                };
                RequestTarget::Global(endpoint, span)
            }
            rule => unreachable!("{rule:?} in request_target"),
        }
    }
}
