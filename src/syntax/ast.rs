//! The typed syntax tree of a `.rules` file. Every node carries its [`Span`];
//! spans compare equal whatever their positions, so trees compare by meaning.

use rust_decimal::Decimal;
use smol_str::SmolStr;

use crate::source::Span;

/// A plain identifier such as `Cart` or `Total`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ident {
    /// The name as written.
    pub name: SmolStr,
    /// Where.
    pub span: Span,
}

/// A dotted name as written: `Cart`, `Shop.Cart`, `Shop.Status.Open`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QName {
    /// The parts between the dots (at least one).
    pub parts: Vec<SmolStr>,
    /// Where.
    pub span: Span,
}

impl QName {
    /// The last part.
    pub fn last(&self) -> &str {
        self.parts.last().map(SmolStr::as_str).unwrap_or("")
    }

    /// Whether the name has a module prefix.
    pub(crate) fn is_qualified(&self) -> bool {
        self.parts.len() > 1
    }
}

impl std::fmt::Display for QName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, part) in self.parts.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            f.write_str(part)?;
        }
        Ok(())
    }
}

/// A string literal, its quotes removed and doubled quotes undone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StrLit {
    /// The value.
    pub value: String,
    /// Where, quotes included.
    pub span: Span,
}

/// A number literal: exact, never binary floating point.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NumLit {
    /// The value.
    pub value: Decimal,
    /// Whether it was written without a decimal point.
    pub integer: bool,
    /// Where.
    pub span: Span,
}

/// One parsed file.
#[derive(Clone, Debug, PartialEq)]
pub struct File {
    /// Top-level declarations in source order.
    pub items: Vec<Item>,
}

/// A top-level declaration.
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    /// `module Name { ... }`
    Module(Module),
    /// `user role Name: Module.Role, ...`
    UserRole(UserRole),
    /// `app Name { ... }`
    App(App),
    /// `process`, `ui flow` or `template`.
    Resource(Resource),
    /// `workflow Name`
    Workflow(Ident),
    /// `test 'name' { ... }` or `snapshot 'name' { ... }`
    Test(Test),
}

/// `module Name { ... }`
#[derive(Clone, Debug, PartialEq)]
pub struct Module {
    /// The module's name.
    pub name: Ident,
    /// Its declarations.
    pub items: Vec<ModuleItem>,
    /// The whole declaration.
    pub span: Span,
}

/// A declaration inside a module.
#[derive(Clone, Debug, PartialEq)]
pub enum ModuleItem {
    /// `enumeration Name { A, B }`
    Enumeration(Enumeration),
    /// `entity Name { ... }`
    Entity(Entity),
    /// `association Name: A -> B { ... }`
    Association(Association),
    /// `module role Name`
    ModuleRole(Ident),
    /// `access Entity for Role, ... { ... }`
    Access(AccessRule),
    /// `microflow Name(...) { ... }`
    Microflow(Microflow),
}

/// `enumeration Name { A, B }`
#[derive(Clone, Debug, PartialEq)]
pub struct Enumeration {
    /// Its name.
    pub name: Ident,
    /// Its values in order.
    pub values: Vec<Ident>,
    /// The whole declaration.
    pub span: Span,
}

/// `[non-persistent] entity Name [extends G] { ... }`
#[derive(Clone, Debug, PartialEq)]
pub struct Entity {
    /// Its name.
    pub name: Ident,
    /// False for `non-persistent`.
    pub persistent: bool,
    /// The generalization.
    pub extends: Option<QName>,
    /// The system members of `stores ...`.
    pub stores: Vec<Ident>,
    /// Declared attributes.
    pub attributes: Vec<Attribute>,
    /// The whole declaration.
    pub span: Span,
}

/// `Name: Type [= literal]`
#[derive(Clone, Debug, PartialEq)]
pub struct Attribute {
    /// Its name.
    pub name: Ident,
    /// Its type.
    pub ty: TypeRef,
    /// Its default value.
    pub default: Option<Literal>,
    /// The whole declaration.
    pub span: Span,
}

/// A type as written: `String(200)`, `Decimal`, `Shop.Status`.
#[derive(Clone, Debug, PartialEq)]
pub struct TypeRef {
    /// The type's name.
    pub name: QName,
    /// The length of a `String(n)`.
    pub length: Option<NumLit>,
    /// Where.
    pub span: Span,
}

/// A literal in a default value.
#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    /// `'text'`
    String(StrLit),
    /// `42`, `3.50`
    Number(NumLit),
    /// `true`, `false`
    Bool(bool, Span),
    /// `empty`
    Empty(Span),
    /// An enumeration value, bare or qualified.
    Name(QName),
}

impl Literal {
    /// Where.
    pub fn span(&self) -> Span {
        match self {
            Literal::String(s) => s.span,
            Literal::Number(n) => n.span,
            Literal::Bool(_, s) | Literal::Empty(s) => *s,
            Literal::Name(q) => q.span,
        }
    }
}

/// `->` or `->*`
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Multiplicity {
    /// Each from-object refers to at most one to-object.
    Reference,
    /// Many to many.
    ReferenceSet,
}

/// `association Name: From -> To { on delete End: action }`
#[derive(Clone, Debug, PartialEq)]
pub struct Association {
    /// Its name.
    pub name: Ident,
    /// The owning (from) entity.
    pub from: QName,
    /// Reference or reference set.
    pub multiplicity: Multiplicity,
    /// The target entity.
    pub to: QName,
    /// Delete behaviours.
    pub on_delete: Vec<DeleteBehaviour>,
    /// The whole declaration.
    pub span: Span,
}

/// `on delete End: action`
#[derive(Clone, Debug, PartialEq)]
pub struct DeleteBehaviour {
    /// The entity whose deletion triggers it.
    pub end: QName,
    /// What happens.
    pub action: DeleteAction,
    /// The whole line.
    pub span: Span,
}

/// What deleting one end does to the objects on the other.
#[derive(Clone, Debug, PartialEq)]
pub enum DeleteAction {
    /// Clear the references (the default).
    Keep,
    /// Delete the associated objects too.
    Cascade,
    /// Refuse the delete while associated objects exist.
    Prevent(Option<StrLit>),
}

/// `user role Name: Module.Role, ... { manages: ... }`
#[derive(Clone, Debug, PartialEq)]
pub struct UserRole {
    /// Its name.
    pub name: Ident,
    /// Its module roles.
    pub module_roles: Vec<QName>,
    /// The user roles it manages.
    pub manages: Option<Manages>,
    /// The whole declaration.
    pub span: Span,
}

/// `manages: all` or a list.
#[derive(Clone, Debug, PartialEq)]
pub enum Manages {
    /// `manages: all`
    All(Span),
    /// `manages: A, B`
    Roles(Vec<Ident>),
}

/// `public` or `invited`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AccessLevel {
    /// Everyone with the link.
    Public,
    /// Only invited users (the default).
    Invited,
}

/// `app Name { access: ... anonymous: ... sign-in: ... }`
#[derive(Clone, Debug, PartialEq)]
pub struct App {
    /// Its name.
    pub name: Ident,
    /// `access: public|invited` with its span.
    pub access: Option<(AccessLevel, Span)>,
    /// `anonymous: Role`
    pub anonymous: Option<Ident>,
    /// `sign-in: Module.Flow`
    pub sign_in: Option<QName>,
    /// The whole declaration.
    pub span: Span,
}

/// `access Entity for Role, ... { ... }`
#[derive(Clone, Debug, PartialEq)]
pub struct AccessRule {
    /// The entity.
    pub entity: QName,
    /// Module roles it applies to.
    pub roles: Vec<QName>,
    /// `create`, where written.
    pub create: Option<Span>,
    /// `delete`, where written.
    pub delete: Option<Span>,
    /// `read ...` lines.
    pub read: Vec<MemberList>,
    /// `write ...` lines.
    pub write: Vec<MemberList>,
    /// `where [...]...` constraints, ANDed.
    pub constraints: Vec<XPath>,
    /// The whole rule.
    pub span: Span,
}

/// The members of a `read` or `write` line.
#[derive(Clone, Debug, PartialEq)]
pub enum MemberList {
    /// `*`
    All(Span),
    /// Named members.
    Members(Vec<QName>),
}

// ---- XPath ----

/// One bracketed constraint `[...]`.
#[derive(Clone, Debug, PartialEq)]
pub struct XPath {
    /// The condition inside the brackets.
    pub expr: XExpr,
    /// Brackets included.
    pub span: Span,
}

/// A condition in an XPath constraint.
#[derive(Clone, Debug, PartialEq)]
pub enum XExpr {
    /// `a or b or ...`
    Or(Vec<XExpr>),
    /// `a and b and ...`
    And(Vec<XExpr>),
    /// `not(...)`
    Not(Box<XExpr>, Span),
    /// `lhs op rhs`
    Compare {
        /// Left side.
        lhs: XOperand,
        /// The operator.
        op: CmpOp,
        /// Right side.
        rhs: XOperand,
        /// The whole comparison.
        span: Span,
    },
    /// A lone operand: an existence test (path), `true()`, or a Boolean function.
    Operand(XOperand),
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CmpOp {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CmpOp {
    /// As written.
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

/// One side of an XPath comparison.
#[derive(Clone, Debug, PartialEq)]
pub enum XOperand {
    /// A path through the schema.
    Path(XPathPath),
    /// A literal value, token or variable.
    Value(XValue),
    /// `true()` or `false()`
    Bool(bool, Span),
    /// `contains(Name, 'x')` and friends.
    Function {
        /// The function's name.
        name: Ident,
        /// Its arguments.
        args: Vec<XOperand>,
        /// The whole call.
        span: Span,
    },
    /// Arithmetic outside a token string (always a check error, kept for a clear message).
    Arith {
        /// The operands.
        operands: Vec<XOperand>,
        /// The operators between them, as written.
        ops: Vec<SmolStr>,
        /// The whole expression.
        span: Span,
    },
}

impl XOperand {
    /// Where.
    pub fn span(&self) -> Span {
        match self {
            XOperand::Path(p) => p.span,
            XOperand::Value(v) => v.span(),
            XOperand::Bool(_, s) => *s,
            XOperand::Function { span, .. } | XOperand::Arith { span, .. } => *span,
        }
    }
}

/// `Assoc/Entity[pred]/Attr`
#[derive(Clone, Debug, PartialEq)]
pub struct XPathPath {
    /// The steps between slashes.
    pub steps: Vec<XStep>,
    /// The whole path.
    pub span: Span,
}

/// One step of a path, with its predicates.
#[derive(Clone, Debug, PartialEq)]
pub struct XStep {
    /// The association, entity or attribute named.
    pub name: QName,
    /// Nested constraints on this step.
    pub predicates: Vec<XPath>,
}

/// A value in an XPath comparison.
#[derive(Clone, Debug, PartialEq)]
pub enum XValue {
    /// A plain string.
    String(StrLit),
    /// A quoted string holding tokens: `'[%CurrentDateTime%] - 2 * [%DayLength%]'`.
    Tokens(TokenExpr),
    /// A number.
    Number(NumLit),
    /// `$var`
    Variable(Ident),
    /// `empty` or `NULL`
    Empty(Span),
}

impl XValue {
    /// Where.
    pub fn span(&self) -> Span {
        match self {
            XValue::String(s) => s.span,
            XValue::Tokens(t) => t.span,
            XValue::Number(n) => n.span,
            XValue::Variable(v) => v.span,
            XValue::Empty(s) => *s,
        }
    }
}

/// Tokens with date arithmetic: `[%CurrentDateTime%] - 30 * [%DayLength%]`.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenExpr {
    /// The terms, left to right; the first has no sign.
    pub terms: Vec<TokenTerm>,
    /// The whole string, quotes included.
    pub span: Span,
}

/// `[+|-] [n *] [%Token%]`
#[derive(Clone, Debug, PartialEq)]
pub struct TokenTerm {
    /// False for a `-` before the term.
    pub plus: bool,
    /// The `n *` factor.
    pub factor: Option<NumLit>,
    /// The token's name between `[%` and `%]`.
    pub token: Ident,
}

// ---- Microflows, tests and statements ----

/// `microflow Name(P: Type, ...) [allow R, ...] [apply entity access] { ... }`
#[derive(Clone, Debug, PartialEq)]
pub struct Microflow {
    /// Its name.
    pub name: Ident,
    /// Its parameters.
    pub params: Vec<Param>,
    /// Module roles that may call it from outside.
    pub allow: Vec<QName>,
    /// Whether it obeys the caller's access rules.
    pub apply_access: bool,
    /// Its body.
    pub body: Block,
    /// The header (name to the end of the options), for diagnostics.
    pub header: Span,
    /// The whole declaration.
    pub span: Span,
}

/// `Name: Type` or `Name: List of Entity`.
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    /// Its name.
    pub name: Ident,
    /// Whether it is `List of`.
    pub list: bool,
    /// The type's name.
    pub ty: QName,
    /// The whole parameter.
    pub span: Span,
}

/// `{ statements }`
#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    /// The statements in order.
    pub stmts: Vec<Stmt>,
    /// Braces included.
    pub span: Span,
}

/// `test 'name' { ... }` or `snapshot 'name' { ... }`
#[derive(Clone, Debug, PartialEq)]
pub struct Test {
    /// Its name.
    pub name: StrLit,
    /// True for a `snapshot` block.
    pub snapshot: bool,
    /// Its statements.
    pub body: Block,
    /// The whole block.
    pub span: Span,
}

/// A statement with its span.
#[derive(Clone, Debug, PartialEq)]
pub struct Stmt {
    /// What it does.
    pub kind: StmtKind,
    /// The whole statement.
    pub span: Span,
}

/// The statements of microflows, tests and the REPL.
#[derive(Clone, Debug, PartialEq)]
pub enum StmtKind {
    /// `let $v = expr`
    Let {
        /// The new variable.
        var: Ident,
        /// Its value.
        value: Expr,
    },
    /// `$v = expr`
    Assign {
        /// The variable.
        var: Ident,
        /// Its new value.
        value: Expr,
    },
    /// `change $o { m = e, ... }`
    Change {
        /// The object changed.
        target: Expr,
        /// The new member values.
        values: Vec<MemberValue>,
    },
    /// `commit expr`
    Commit(Expr),
    /// `delete expr`
    Delete(Expr),
    /// `rollback expr`
    Rollback(Expr),
    /// `for $x in list { ... }`
    For {
        /// The loop variable.
        var: Ident,
        /// The list.
        list: Expr,
        /// The body.
        body: Block,
    },
    /// `if c { } else if c { } else { }`
    If {
        /// The condition.
        cond: Expr,
        /// When it holds.
        then: Block,
        /// `else` branch: a block, or a nested `if` statement.
        otherwise: Option<Box<Stmt>>,
    },
    /// `{ ... }` as the `else` of an `if`.
    Block(Block),
    /// `return [expr]`
    Return(Option<Expr>),
    /// `log expr`
    Log(Expr),
    /// `error expr`
    Error(Expr),
    /// An expression on its own (a call, a retrieve at the REPL, ...).
    Expr(Expr),
    /// `now 'TIME'`
    Now(StrLit),
    /// `given { ... }`
    Given(Block),
    /// `user NAME: Role, ... [as Entity { ... }]`
    User {
        /// The user's Name, also bound as `$NAME`.
        name: Ident,
        /// Its user roles.
        roles: Vec<Ident>,
        /// A specialization of System.User, with member values.
        entity: Option<(QName, Vec<MemberValue>)>,
    },
    /// `as PRINCIPAL`
    As(Principal),
    /// `sign in USER`
    SignIn(Ident),
    /// `set access public|invited`
    SetAccess(AccessLevel),
    /// `expect ...`
    Expect(Expect),
    /// `explain OP`
    Explain(OpCheck),
    /// `matrix`
    Matrix,
}

/// Who acts.
#[derive(Clone, Debug, PartialEq)]
pub enum Principal {
    /// Full rights.
    System,
    /// An anonymous session: named, or a fresh one.
    Anonymous(Option<StrLit>),
    /// A user by Name.
    User(Ident),
}

/// `Member = expr`, `Assoc += expr`, `Assoc -= expr`
#[derive(Clone, Debug, PartialEq)]
pub struct MemberValue {
    /// The member.
    pub member: QName,
    /// `=`, `+=` or `-=`.
    pub op: AssignOp,
    /// The value.
    pub value: Expr,
    /// The whole assignment.
    pub span: Span,
}

/// How a member value is applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssignOp {
    /// `=`
    Set,
    /// `+=` (reference sets)
    Add,
    /// `-=` (reference sets)
    Remove,
}

/// The forms of `expect`.
#[derive(Clone, Debug, PartialEq)]
pub enum Expect {
    /// `expect expr`
    Holds(Expr),
    /// `expect allow|deny OP`
    Decision {
        /// True for `allow`.
        allow: bool,
        /// The operation.
        op: OpCheck,
    },
    /// `expect sign-in call Module.Flow`
    SignInCall(QName),
    /// `expect error ['text'] { ... }`
    Error {
        /// Text the message must contain.
        text: Option<StrLit>,
        /// The statements that must fail.
        body: Block,
    },
    /// `expect request REQ -> STATUS ['detail']`
    Request {
        /// The request.
        request: Request,
        /// The expected status.
        status: u16,
        /// Where the status is.
        status_span: Span,
        /// The expected detail text.
        detail: Option<StrLit>,
    },
    /// `expect visible|hidden|disabled component Name of KIND Resource`
    Component {
        /// The expected state.
        state: ComponentState,
        /// The component.
        component: Ident,
        /// The kind of resource.
        kind: ResourceKind,
        /// The resource.
        resource: Ident,
    },
}

/// A component's state for a principal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ComponentState {
    /// Shown and usable.
    Visible,
    /// Not shown.
    Hidden,
    /// Shown, read-only.
    Disabled,
}

/// An operation whose decision is checked or explained.
#[derive(Clone, Debug, PartialEq)]
pub enum OpCheck {
    /// `read $o` (visible) or `read $o/Member`
    Read(MemberPath),
    /// `write $o/Member`
    Write(MemberPath),
    /// `delete $o`
    Delete(Expr),
    /// `create Entity`
    Create(QName),
    /// `call Module.Flow`
    Call(QName),
}

/// `$v/Member/...` or `#5/Member/...`
#[derive(Clone, Debug, PartialEq)]
pub struct MemberPath {
    /// The variable (without `$`), or an object literal (with its `#`).
    pub var: Ident,
    /// The members followed.
    pub steps: Vec<QName>,
    /// The whole path.
    pub span: Span,
}

impl MemberPath {
    /// The object id when the path starts at an object literal (`#5`).
    pub fn object(&self) -> Option<u64> {
        self.var.name.strip_prefix('#').and_then(|n| n.parse().ok())
    }
}

/// An expression with its span.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where.
    pub span: Span,
}

/// The expressions of microflows and tests.
#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// `'text'`
    String(String),
    /// A number.
    Number(NumLit),
    /// `true`, `false`
    Bool(bool),
    /// `empty`
    Empty,
    /// `[%CurrentDateTime%]` and other bare tokens.
    Token(Ident),
    /// `dateTime('2026-11-22T10:00:00Z')`
    DateTime(StrLit),
    /// `#12`
    ObjectRef(u64),
    /// `$v/Member/...` (no steps: the variable itself).
    Path(MemberPath),
    /// `Module.Enum.Value` (or another bare name; resolved by the checker).
    Name(QName),
    /// `a op b`
    Binary {
        /// The operator.
        op: BinOp,
        /// Left operand.
        lhs: Box<Expr>,
        /// Right operand.
        rhs: Box<Expr>,
    },
    /// `-e`
    Neg(Box<Expr>),
    /// `not(e)`
    Not(Box<Expr>),
    /// `if c then a else b`
    If {
        /// The condition.
        cond: Box<Expr>,
        /// When it holds.
        then: Box<Expr>,
        /// When it does not.
        otherwise: Box<Expr>,
    },
    /// `[a, b]`
    List(Vec<Expr>),
    /// `create Entity { ... }`
    Create {
        /// The entity.
        entity: QName,
        /// Member values.
        values: Vec<MemberValue>,
    },
    /// `retrieve [first] ...`
    Retrieve {
        /// `retrieve first`.
        first: bool,
        /// What is retrieved.
        source: RetrieveSource,
    },
    /// `call Module.Flow(P = e, ...)`
    Call {
        /// The microflow.
        flow: QName,
        /// Named arguments.
        args: Vec<(Ident, Expr)>,
    },
    /// `count($l)`, `length($s)`, ...
    Function {
        /// The function.
        name: Ident,
        /// Its arguments.
        args: Vec<Expr>,
    },
    /// `request REQ` (tests only)
    Request(Box<Request>),
}

/// Where a retrieve takes its objects from.
#[derive(Clone, Debug, PartialEq)]
pub enum RetrieveSource {
    /// `retrieve Entity [xpath]...`
    Database {
        /// The entity.
        entity: QName,
        /// Constraints, ANDed.
        constraints: Vec<XPath>,
    },
    /// `retrieve $o/Module.Assoc`
    Association(MemberPath),
}

/// A binary operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinOp {
    /// `or`
    Or,
    /// `and`
    And,
    /// A comparison.
    Cmp(CmpOp),
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `div`
    Div,
    /// `mod`
    Mod,
}

impl BinOp {
    /// As written.
    pub fn as_str(self) -> &'static str {
        match self {
            BinOp::Or => "or",
            BinOp::And => "and",
            BinOp::Cmp(c) => c.as_str(),
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "div",
            BinOp::Mod => "mod",
        }
    }
}

// ---- Runtime resources and requests ----

/// The kinds of runtime resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceKind {
    /// `process`
    Process,
    /// `ui flow`
    UiFlow,
    /// `template`
    Template,
}

impl ResourceKind {
    /// As written.
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::Process => "process",
            ResourceKind::UiFlow => "ui flow",
            ResourceKind::Template => "template",
        }
    }
}

/// `process`, `ui flow` or `template` with its body.
#[derive(Clone, Debug, PartialEq)]
pub struct Resource {
    /// Which kind.
    pub kind: ResourceKind,
    /// Its name.
    pub name: Ident,
    /// `roles { Role: OP, ... }`
    pub roles: Vec<RoleGrant>,
    /// Swimlanes (processes only).
    pub swimlanes: Vec<Swimlane>,
    /// UI components.
    pub components: Vec<Component>,
    /// The whole declaration.
    pub span: Span,
}

/// `Role: OP, OP`
#[derive(Clone, Debug, PartialEq)]
pub struct RoleGrant {
    /// The user role.
    pub role: Ident,
    /// The operations, as written.
    pub operations: Vec<Ident>,
    /// The whole line.
    pub span: Span,
}

/// `swimlane Name { roles: A, B }`
#[derive(Clone, Debug, PartialEq)]
pub struct Swimlane {
    /// Its name.
    pub name: Ident,
    /// Its user roles.
    pub roles: Vec<Ident>,
    /// The whole declaration.
    pub span: Span,
}

/// `component Name [in Swimlane] { hide for R  disable for R }`
#[derive(Clone, Debug, PartialEq)]
pub struct Component {
    /// Its name.
    pub name: Ident,
    /// The swimlane it sits in.
    pub swimlane: Option<Ident>,
    /// Its hide/disable rules.
    pub rules: Vec<ComponentRule>,
    /// The whole declaration.
    pub span: Span,
}

/// `hide for A, B` or `disable for A`
#[derive(Clone, Debug, PartialEq)]
pub struct ComponentRule {
    /// True for `disable`.
    pub disable: bool,
    /// The user roles.
    pub roles: Vec<Ident>,
    /// The whole line.
    pub span: Span,
}

/// A request of a test to the runtime.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    /// What is asked.
    pub target: RequestTarget,
    /// `with token invalid`
    pub invalid_token: bool,
    /// `without session`
    pub without_session: bool,
    /// The whole request.
    pub span: Span,
}

/// The endpoints a request can reach.
#[derive(Clone, Debug, PartialEq)]
pub enum RequestTarget {
    /// `start process Name`
    StartProcess(Ident),
    /// `start ui flow Name`
    StartUiFlow(Ident),
    /// `start workflow Name from $s`
    StartWorkflow(Ident, Ident),
    /// An operation on an instance.
    Instance {
        /// Which operation.
        verb: InstanceVerb,
        /// The variable holding the instance.
        instance: Ident,
    },
    /// An endpoint that is not about an instance.
    Global(GlobalEndpoint, Span),
}

/// Operations on a process instance or UI flow session.
#[derive(Clone, Debug, PartialEq)]
pub enum InstanceVerb {
    /// `status $pi`
    Status,
    /// `data $pi`
    Data,
    /// `data model paths $pi`
    DataModelPaths,
    /// `build info $pi`
    BuildInfo,
    /// `events $pi` or `events 'TYPE' $pi`
    Events(Option<StrLit>),
    /// `action $pi 'Name'`
    Action(StrLit),
    /// `dismiss $pi`
    Dismiss,
    /// `upload $pi`
    Upload,
}

/// Endpoints without an instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GlobalEndpoint {
    /// The app's build info.
    BuildInfo,
    /// Enumerations of the build.
    Enumerations,
    /// Substitution tags.
    SubstitutionTags,
    /// Media library.
    Media,
    /// Themes (always public).
    Themes,
    /// Fonts (always public).
    Fonts,
    /// Task manager (restricted).
    Tasks,
    /// Chat (restricted).
    Chat,
    /// View events (restricted).
    ViewEvents,
    /// Internal endpoints (restricted).
    Internal,
    /// Languages (restricted).
    Languages,
}
