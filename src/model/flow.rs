//! Microflow and test bodies in their checked, resolved form: entities, members,
//! microflows and built-in functions are indices, variables are slots of their frame,
//! constants are values, and retrieve constraints are compiled. The checker builds
//! this; evaluation, the audit and snapshots walk it, never the syntax tree.

use smol_str::SmolStr;

use super::value::{ObjectId, Value};
use super::xpath::Cond;
use super::{AssocId, EntityId, MemberIndex, MicroflowId, ResourceId, Type, UserRoleId};
use crate::model::{AccessLevel, AssignOp, BinOp, ComponentState, GlobalEndpoint, ResourceKind};
use crate::source::Span;

pub use super::Slot;

/// The variables a body declares, in slot order, with their static types: the frame a body
/// runs in has one value per slot. Top-level statements (the REPL, `warden eval`) extend a
/// scope as they go.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scope {
    /// Names (without `$`), by slot.
    pub names: Vec<SmolStr>,
    /// Static types, by slot.
    pub types: Vec<Type>,
}

impl Scope {
    /// The slot of a name (the latest one declared under it).
    pub fn slot(&self, name: &str) -> Option<Slot> {
        self.names.iter().rposition(|n| n == name)
    }

    /// Adds a variable and returns its slot.
    pub fn push(&mut self, name: SmolStr, ty: Type) -> Slot {
        self.names.push(name);
        self.types.push(ty);
        self.names.len() - 1
    }

    /// How many slots a frame of this scope has.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether the scope declares nothing.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// A checked block of statements.
#[derive(Clone, Debug, Default)]
pub struct Block {
    /// Its statements, in order.
    pub stmts: Vec<Stmt>,
}

/// A checked statement with its span.
#[derive(Clone, Debug)]
pub struct Stmt {
    /// What it does.
    pub kind: StmtKind,
    /// Where it is written.
    pub span: Span,
}

/// The statements of microflows and tests.
#[derive(Clone, Debug)]
pub enum StmtKind {
    /// `let $v = expr` and `$v = expr`.
    Set {
        /// The variable.
        var: Var,
        /// Its new value.
        value: Expr,
    },
    /// `change $o { ... }`.
    Change {
        /// The object.
        target: Expr,
        /// The members set.
        values: Vec<SetMember>,
    },
    /// `commit $o` / `commit [$a, $b]`.
    Commit(Expr),
    /// `delete ...`.
    Delete(Expr),
    /// `rollback ...`.
    Rollback(Expr),
    /// `for $x in list { }`.
    For {
        /// The loop variable.
        var: Var,
        /// The objects.
        list: Expr,
        /// The body.
        body: Block,
    },
    /// `if c { } else ...`.
    If {
        /// The condition.
        cond: Expr,
        /// When it holds.
        then: Block,
        /// `else if ...` or `else { }`.
        otherwise: Option<Box<Stmt>>,
    },
    /// `{ ... }` (an `else` block).
    Block(Block),
    /// `return [expr]`.
    Return(Option<Expr>),
    /// `log expr`.
    Log(Expr),
    /// `error expr`.
    Error(Expr),
    /// An expression on its own; its value is shown.
    Expr(Expr),
    /// `now 'TIME'` (tests), as an instant.
    Now(i64),
    /// `given { }` (tests).
    Given(Block),
    /// `user NAME: Role, ... [as Entity { ... }]` (in `given`).
    User {
        /// The variable bound to the user.
        var: Var,
        /// The user's Name.
        name: SmolStr,
        /// Its user roles.
        roles: Vec<UserRoleId>,
        /// System.User or a specialization.
        entity: EntityId,
        /// Members set on it.
        values: Vec<SetMember>,
    },
    /// `as system|NAME|anonymous ['NAME']`.
    As(Principal),
    /// `sign in NAME`.
    SignIn {
        /// The user's Name (data: users come from the store).
        user: SmolStr,
        /// Where the name is written.
        span: Span,
    },
    /// `set access public|invited`.
    SetAccess(AccessLevel),
    /// `expect ...`.
    Expect(Expect),
    /// `explain OP`.
    Explain(OpCheck),
    /// `matrix`.
    Matrix,
    /// A statement in error (never run: a program with errors does not run).
    Invalid,
}

/// A variable: its slot and its name (for messages).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Var {
    /// Its slot in the frame.
    pub slot: Slot,
    /// Its name, without `$`.
    pub name: SmolStr,
    /// Where it is written.
    pub span: Span,
}

/// Who acts, in `as`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// Full rights.
    System,
    /// A user by Name (data: users come from the store).
    User {
        /// The Name.
        name: SmolStr,
        /// Where it is written.
        span: Span,
    },
    /// An anonymous session, by name or fresh.
    Anonymous(Option<String>),
}

/// A member set by `create`, `change` or `user ... as`.
#[derive(Clone, Debug)]
pub struct SetMember {
    /// Which member.
    pub member: MemberRef,
    /// `=`, `+=` or `-=`.
    pub op: AssignOp,
    /// The value.
    pub value: Expr,
    /// Where the member is written.
    pub member_span: Span,
}

/// A member named on an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MemberRef {
    /// A member of an entity, valid in every specialization of it (inherited members come
    /// first, in the same order).
    Member {
        /// The entity the member was found on (the object's, or a generalization of it).
        entity: EntityId,
        /// Its index there.
        index: MemberIndex,
    },
    /// An association followed backwards: the objects that refer to this one.
    Reverse(AssocId),
    /// A member of an object whose entity is known only when it runs (`#5/Total`): looked up
    /// then, by this name as written, in the module of the body.
    Dynamic {
        /// The name as written.
        name: SmolStr,
        /// The module the body belongs to (for unqualified association names).
        module: Option<SmolStr>,
    },
}

/// A checked expression with its span.
#[derive(Clone, Debug)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where it is written.
    pub span: Span,
}

/// Microflow and test expressions.
#[derive(Clone, Debug)]
pub enum ExprKind {
    /// A constant: a literal, an enumeration value, `empty`.
    Value(Value),
    /// A token written bare: `[%CurrentDateTime%]`, `[%BeginOfCurrentDay%]`, `[%DayLength%]`...
    Token(Token),
    /// `#12`.
    ObjectRef(ObjectId),
    /// `$v`.
    Var(Var),
    /// The implicit `$currentUser` (created on an anonymous session's first action).
    CurrentUser,
    /// `object/Member`.
    Member {
        /// The object.
        object: Box<Expr>,
        /// The member.
        member: MemberRef,
        /// Where the member is written.
        member_span: Span,
    },
    /// `a op b` (`and` and `or` short-circuit).
    Binary {
        /// The operator.
        op: BinOp,
        /// Left.
        lhs: Box<Expr>,
        /// Right.
        rhs: Box<Expr>,
    },
    /// `-a`.
    Neg(Box<Expr>),
    /// `not(a)`.
    Not(Box<Expr>),
    /// `if c then a else b`.
    If {
        /// The condition.
        cond: Box<Expr>,
        /// When it holds.
        then: Box<Expr>,
        /// When it does not.
        otherwise: Box<Expr>,
    },
    /// `[a, b]`.
    List(Vec<Expr>),
    /// `create Entity { ... }`.
    Create {
        /// The entity.
        entity: EntityId,
        /// Members set.
        values: Vec<SetMember>,
    },
    /// `retrieve [first] ...`.
    Retrieve {
        /// `retrieve first`.
        first: bool,
        /// From where.
        source: Source,
    },
    /// `call Module.Flow(Param = expr, ...)`: arguments in parameter order.
    Call {
        /// The microflow.
        flow: MicroflowId,
        /// One value per parameter.
        args: Vec<Expr>,
    },
    /// A built-in function.
    Function {
        /// Which.
        func: super::functions::Function,
        /// Its arguments.
        args: Vec<Expr>,
    },
    /// `request REQ` (tests).
    Request(Box<Request>),
    /// An expression in error (never evaluated).
    Invalid,
}

/// A token written bare in an expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Token {
    /// `[%CurrentUser%]`.
    CurrentUser,
    /// `[%UserRole_Name%]`.
    UserRole(UserRoleId),
    /// A date token (an instant at the evaluation's clock).
    Date(super::xpath::DateToken),
}

/// Where a retrieve looks.
#[derive(Clone, Debug)]
pub enum Source {
    /// The store: objects of the entity and its specializations, with the constraint.
    Database {
        /// The entity.
        entity: EntityId,
        /// The compiled constraint (the brackets ANDed), if any.
        constraint: Option<Cond>,
    },
    /// Along an association: the value of a member expression.
    Association(Box<Expr>),
}

/// `expect ...`.
#[derive(Clone, Debug)]
pub enum Expect {
    /// `expect expr`.
    Holds(Expr),
    /// `expect allow|deny OP`.
    Decision {
        /// `allow` or `deny`.
        allow: bool,
        /// The operation.
        op: OpCheck,
    },
    /// `expect sign-in call Module.Flow`.
    SignInCall(MicroflowId),
    /// `expect error ['text'] { ... }`.
    Error {
        /// The text the message must contain.
        text: Option<String>,
        /// The block that must fail.
        body: Block,
    },
    /// `expect request REQ -> STATUS ['detail']`.
    Request {
        /// The request.
        request: Request,
        /// The status expected.
        status: u16,
        /// The detail expected.
        detail: Option<String>,
    },
    /// `expect visible|hidden|disabled component C of KIND R`.
    Component {
        /// The state expected.
        state: ComponentState,
        /// The component's name.
        component: SmolStr,
        /// The resource.
        resource: ResourceId,
        /// Its kind, for messages.
        kind: ResourceKind,
    },
}

/// An operation `expect allow|deny` and `explain` decide.
#[derive(Clone, Debug)]
pub enum OpCheck {
    /// `read $o` (visible) or `read $o/Member`.
    Read {
        /// The object.
        object: Expr,
        /// The member, if any.
        member: Option<(MemberRef, Span)>,
    },
    /// `write $o/Member`.
    Write {
        /// The object.
        object: Expr,
        /// The member.
        member: (MemberRef, Span),
    },
    /// `delete $o`.
    Delete(Expr),
    /// `create Entity`.
    Create(EntityId),
    /// `call Module.Flow`.
    Call(MicroflowId),
}

/// A request of a test.
#[derive(Clone, Debug)]
pub struct Request {
    /// What it asks for.
    pub target: RequestTarget,
    /// `with token invalid`.
    pub invalid_token: bool,
    /// `without session`.
    pub without_session: bool,
    /// Where it is written.
    pub span: Span,
}

/// What a request targets (resources by name, as the runtime's endpoints name them).
#[derive(Clone, Debug)]
pub enum RequestTarget {
    /// `start process Name`.
    StartProcess(SmolStr),
    /// `start ui flow Name`.
    StartUiFlow(SmolStr),
    /// `start workflow Name from $s`.
    StartWorkflow(SmolStr, Var),
    /// An operation on the instance a variable holds.
    Instance(super::InstanceOp, Var),
    /// An endpoint without an instance.
    Global(GlobalEndpoint),
}

/// A checked test or snapshot block.
#[derive(Clone, Debug)]
pub struct TestDef {
    /// Its name.
    pub name: String,
    /// Where the name is written.
    pub name_span: Span,
    /// A snapshot block rather than a test.
    pub snapshot: bool,
    /// Its statements.
    pub body: Block,
    /// Its variables.
    pub scope: Scope,
    /// The whole block.
    pub span: Span,
}

/// Calls `f` on every expression of a block, each before the expressions inside it, in
/// statement order. It matches every statement and expression: a new one is a compile error
/// here until it is walked, so no walk over bodies (the audit's) can skip it.
pub(crate) fn visit_block<'a>(block: &'a Block, f: &mut impl FnMut(&'a Expr)) {
    for stmt in &block.stmts {
        visit_stmt(stmt, f);
    }
}

/// [`visit_block`] for one statement.
pub(crate) fn visit_stmt<'a>(stmt: &'a Stmt, f: &mut impl FnMut(&'a Expr)) {
    match &stmt.kind {
        StmtKind::Set { value, .. } => visit_expr(value, f),
        StmtKind::Change { target, values } => {
            visit_expr(target, f);
            values.iter().for_each(|v| visit_expr(&v.value, f));
        }
        StmtKind::Commit(e)
        | StmtKind::Delete(e)
        | StmtKind::Rollback(e)
        | StmtKind::Log(e)
        | StmtKind::Error(e)
        | StmtKind::Expr(e) => visit_expr(e, f),
        StmtKind::For { list, body, .. } => {
            visit_expr(list, f);
            visit_block(body, f);
        }
        StmtKind::If { cond, then, otherwise } => {
            visit_expr(cond, f);
            visit_block(then, f);
            if let Some(other) = otherwise {
                visit_stmt(other, f);
            }
        }
        StmtKind::Block(b) | StmtKind::Given(b) => visit_block(b, f),
        StmtKind::Return(e) => e.iter().for_each(|e| visit_expr(e, f)),
        StmtKind::User { values, .. } => values.iter().for_each(|v| visit_expr(&v.value, f)),
        StmtKind::Expect(e) => match e {
            Expect::Holds(x) => visit_expr(x, f),
            Expect::Decision { op, .. } => visit_op(op, f),
            Expect::Error { body, .. } => visit_block(body, f),
            Expect::SignInCall(_) | Expect::Request { .. } | Expect::Component { .. } => {}
        },
        StmtKind::Explain(op) => visit_op(op, f),
        StmtKind::Now(_)
        | StmtKind::As(_)
        | StmtKind::SignIn { .. }
        | StmtKind::SetAccess(_)
        | StmtKind::Matrix
        | StmtKind::Invalid => {}
    }
}

fn visit_op<'a>(op: &'a OpCheck, f: &mut impl FnMut(&'a Expr)) {
    match op {
        OpCheck::Read { object, .. } | OpCheck::Write { object, .. } | OpCheck::Delete(object) => visit_expr(object, f),
        OpCheck::Create(_) | OpCheck::Call(_) => {}
    }
}

/// [`visit_block`] for one expression and the expressions inside it.
pub(crate) fn visit_expr<'a>(expr: &'a Expr, f: &mut impl FnMut(&'a Expr)) {
    f(expr);
    match &expr.kind {
        ExprKind::Member { object, .. } => visit_expr(object, f),
        ExprKind::Binary { lhs, rhs, .. } => {
            visit_expr(lhs, f);
            visit_expr(rhs, f);
        }
        ExprKind::Neg(x) | ExprKind::Not(x) => visit_expr(x, f),
        ExprKind::If { cond, then, otherwise } => {
            visit_expr(cond, f);
            visit_expr(then, f);
            visit_expr(otherwise, f);
        }
        ExprKind::List(items) | ExprKind::Call { args: items, .. } | ExprKind::Function { args: items, .. } => {
            items.iter().for_each(|x| visit_expr(x, f))
        }
        ExprKind::Create { values, .. } => values.iter().for_each(|v| visit_expr(&v.value, f)),
        ExprKind::Retrieve { source, .. } => match source {
            Source::Association(path) => visit_expr(path, f),
            Source::Database { .. } => {}
        },
        ExprKind::Value(_)
        | ExprKind::Token(_)
        | ExprKind::ObjectRef(_)
        | ExprKind::Var(_)
        | ExprKind::CurrentUser
        | ExprKind::Request(_)
        | ExprKind::Invalid => {}
    }
}
