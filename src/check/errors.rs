//! The check stage's errors and warnings, each with a stable code.

use crate::codes::Code;
use crate::diagnostic::Severity;

/// A problem found while resolving and type-checking a program.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CheckError {
    // ---- Names (E01xx) ----
    /// A name declared twice in the same scope.
    #[error("{kind} `{name}` is declared twice")]
    Duplicate {
        /// What kind of thing.
        kind: &'static str,
        /// Its name.
        name: String,
    },
    /// More than one `app` declaration.
    #[error("only one `app` may be declared; `{name}` is a second one")]
    SecondApp {
        /// The second app's name.
        name: String,
    },
    /// Declarations inside the built-in module.
    #[error("`System` is built in; its entities and associations cannot be redeclared")]
    SystemModule,
    /// An unknown entity.
    #[error("unknown entity `{name}`")]
    UnknownEntity {
        /// As written.
        name: String,
    },
    /// An unknown member of an entity.
    #[error("unknown member `{name}` on entity `{entity}`")]
    UnknownMember {
        /// As written.
        name: String,
        /// The entity searched.
        entity: String,
    },
    /// An unknown enumeration or type.
    #[error("unknown type `{name}`")]
    UnknownType {
        /// As written.
        name: String,
    },
    /// An unknown enumeration value.
    #[error("`{name}` is not a value of enumeration `{enumeration}`")]
    UnknownEnumValue {
        /// As written.
        name: String,
        /// The enumeration.
        enumeration: String,
    },
    /// An unknown module role.
    #[error("unknown module role `{name}`")]
    UnknownModuleRole {
        /// As written.
        name: String,
    },
    /// An unknown user role.
    #[error("unknown user role `{name}`")]
    UnknownUserRole {
        /// As written.
        name: String,
    },
    /// An unknown microflow.
    #[error("unknown microflow `{name}`")]
    UnknownMicroflow {
        /// As written.
        name: String,
    },
    /// An unknown variable.
    #[error("unknown variable `${name}`")]
    UnknownVariable {
        /// Without `$`.
        name: String,
    },
    /// An unknown system member in `stores`.
    #[error("unknown system member `{name}`; `stores` takes owner, changedBy, createdDate and changedDate")]
    UnknownStores {
        /// As written.
        name: String,
    },
    /// A generalization that is not an entity or makes a cycle.
    #[error("entity `{entity}` cannot extend `{name}`: {why}")]
    BadExtends {
        /// The specialization.
        entity: String,
        /// The generalization as written.
        name: String,
        /// Why not.
        why: &'static str,
    },
    /// A variable or parameter named `currentUser`.
    #[error("`$currentUser` is implicit and cannot be declared")]
    ReservedVariable,
    /// A member declared twice, possibly through inheritance.
    #[error("member `{name}` of `{entity}` clashes with one it inherits from `{from}`")]
    InheritedClash {
        /// The member.
        name: String,
        /// The specialization.
        entity: String,
        /// The generalization.
        from: String,
    },

    // ---- Domain model (E02xx) ----
    /// Cascade on one end and prevent on the other.
    #[error("association `{name}` cascades on one end and prevents on the other")]
    CascadeAndPrevent {
        /// The association.
        name: String,
    },
    /// `on delete X` where X is not an end of the association.
    #[error("`{end}` is not an end of association `{name}`")]
    NotAnEnd {
        /// As written.
        end: String,
        /// The association.
        name: String,
    },
    /// A default value of the wrong type.
    #[error("default `{value}` does not fit attribute type {ty}")]
    BadDefault {
        /// As written.
        value: String,
        /// The attribute's type.
        ty: String,
    },
    /// `String(0)` or a fractional length.
    #[error("a string length must be a whole number from 1 to 2147483647")]
    BadLength,
    /// A persistent entity with an association to a non-persistent one.
    #[error("persistent entity `{from}` cannot refer to non-persistent entity `{to}`")]
    PersistentToTransient {
        /// The owning entity.
        from: String,
        /// The target.
        to: String,
    },
    /// The same end given two delete behaviours.
    #[error("`on delete {end}` is given twice for association `{name}`")]
    DuplicateDeleteBehaviour {
        /// The end.
        end: String,
        /// The association.
        name: String,
    },
    /// A `stores` member on a non-persistent entity that makes no sense there, or twice.
    #[error("`stores {name}` is given twice")]
    DuplicateStores {
        /// The member.
        name: String,
    },

    // ---- Roles and app (E03xx) ----
    /// A public app without an anonymous role.
    #[error("a public app needs an anonymous user role")]
    PublicWithoutAnonymous,
    /// A sign-in microflow with the wrong parameters.
    #[error("sign-in microflow `{name}` must take exactly `AnonymousUser: System.User, SignedInUser: System.User`")]
    BadSignInSignature {
        /// The microflow.
        name: String,
    },
    /// `sign-in:` without `anonymous:`.
    #[error("the sign-in microflow can never run: the app has no anonymous user role")]
    SignInWithoutAnonymous,
    /// The anonymous role given to a user, or managed.
    #[error("anonymous user role `{name}` {why}")]
    AnonymousMisuse {
        /// The role.
        name: String,
        /// How it was misused.
        why: &'static str,
    },
    /// A module role named by an access rule of another module.
    #[error("module role `{role}` belongs to module `{owner}`; declare this rule there")]
    ForeignModuleRole {
        /// The role.
        role: String,
        /// Its module.
        owner: String,
    },

    // ---- Access rules (E04xx) ----
    /// `where` on a non-persistent entity.
    #[error(
        "non-persistent entity `{entity}` takes no `where`: its objects are visible only to the session that made them"
    )]
    WhereOnNonPersistent {
        /// The entity.
        entity: String,
    },
    /// `write` on a member the runtime keeps.
    #[error("`{member}` is kept by the runtime; users cannot write it")]
    WriteSystemMember {
        /// The member.
        member: String,
    },

    // ---- XPath (E05xx) ----
    /// `[%CurrentObject%]` in an access rule.
    #[error("`[%CurrentObject%]` is not allowed in access rules")]
    CurrentObjectInRule,
    /// A variable in an access rule.
    #[error("variable `${name}` is not allowed in access rules")]
    VariableInRule {
        /// Without `$`.
        name: String,
    },
    /// An unknown token.
    #[error("unknown token `[%{name}%]`")]
    UnknownToken {
        /// As written.
        name: String,
    },
    /// Incompatible comparison types.
    #[error("cannot compare {left} with {right}")]
    Mismatch {
        /// The left type.
        left: String,
        /// The right type.
        right: String,
    },
    /// `[id = '[%UserRole_X%]']`.
    #[error("`id` is the object itself, never a user role")]
    IdWithUserRole,
    /// Arithmetic outside a token string.
    #[error("arithmetic is only allowed inside a token string")]
    ArithmeticOutsideToken,
    /// An object id written as a string.
    #[error("object ids cannot be written as string literals")]
    IdAsString,
    /// An unknown time zone.
    #[error("unknown time zone `{name}`")]
    UnknownTimeZone {
        /// As written.
        name: String,
    },
    /// A function called with the wrong arguments.
    #[error("`{name}` {why}")]
    BadArguments {
        /// The function.
        name: String,
        /// What is wrong.
        why: String,
    },
    /// An unknown function.
    #[error("unknown function `{name}`")]
    UnknownFunction {
        /// As written.
        name: String,
    },
    /// A path whose steps do not alternate association and entity.
    #[error("`{step}` cannot follow `{after}` in a path: {why}")]
    BadPathStep {
        /// The step.
        step: String,
        /// What came before.
        after: String,
        /// Why not.
        why: String,
    },
    /// An attribute used as a condition.
    #[error("`{name}` is {ty}, not a condition; compare it with a value")]
    NotACondition {
        /// The term.
        name: String,
        /// Its type.
        ty: String,
    },
    /// Token arithmetic that makes no sense.
    #[error("`[%{name}%]` cannot take part in date arithmetic here")]
    BadTokenArithmetic {
        /// The token.
        name: String,
    },
    /// A length multiplied by something other than a whole number.
    #[error("`{text}` is not a whole number: a length token is multiplied by a whole number")]
    FractionalFactor {
        /// As written.
        text: String,
    },
    /// A date or time literal that does not parse.
    #[error("`{text}` is not a date and time (use RFC 3339, such as `2026-11-22T10:00:00Z`)")]
    BadDateTime {
        /// As written.
        text: String,
    },
    /// `<`/`>` on objects or Booleans.
    #[error("`{op}` does not order {ty}")]
    NotOrdered {
        /// The operator.
        op: &'static str,
        /// The operand type.
        ty: String,
    },

    // ---- Microflows and expressions (E06xx) ----
    /// A variable declared twice in one scope.
    #[error("variable `${name}` is already declared")]
    Redeclared {
        /// Without `$`.
        name: String,
    },
    /// An operator or statement given a value of the wrong type.
    #[error("expected {expected}, found {found}")]
    WrongType {
        /// What fits.
        expected: String,
        /// What was given.
        found: String,
    },
    /// A member set to a value of the wrong type (`create`, `change`).
    #[error("expected {expected} for `{member}` of `{entity}`, found {found}")]
    WrongMemberType {
        /// The member.
        member: String,
        /// Its entity.
        entity: String,
        /// What fits.
        expected: String,
        /// What was given.
        found: String,
    },
    /// A call with a missing, unknown or repeated argument.
    #[error("{why}")]
    BadCall {
        /// What is wrong.
        why: String,
    },
    /// `allow` on a microflow with an unknown role.
    #[error("a test statement cannot appear in a microflow: `{what}`")]
    TestStatementInMicroflow {
        /// The statement.
        what: &'static str,
    },
    /// `+=`/`-=` on a member that is not a reference set.
    #[error("`{op}` works on reference sets; `{member}` is not one")]
    NotAReferenceSet {
        /// The operator.
        op: &'static str,
        /// The member.
        member: String,
    },
    /// Returns of different types.
    #[error("this microflow returns {first} elsewhere, and {second} here")]
    InconsistentReturn {
        /// The first type.
        first: String,
        /// This type.
        second: String,
    },
    /// Assigning to `$currentUser` or a loop variable.
    #[error("`${name}` cannot be assigned")]
    NotAssignable {
        /// Without `$`.
        name: String,
    },
    /// A name used as a value that is not an enumeration value.
    #[error("`{name}` is not a value; write an enumeration value as `Module.Enumeration.Value`")]
    NotAValue {
        /// As written.
        name: String,
    },
    /// A member path through something that is not an object.
    #[error("`{step}` cannot be read from {ty}")]
    NotAnObject {
        /// The member.
        step: String,
        /// The type it was read from.
        ty: String,
    },

    // ---- Resources (E07xx) ----
    /// The anonymous role with an operation it may not hold.
    #[error("the anonymous role may hold only VIEW and EXECUTE (SELF_ASSIGN is added for it), not {op}")]
    AnonymousOperation {
        /// The operation.
        op: String,
    },
    /// An unknown operation.
    #[error("unknown operation `{name}`")]
    UnknownOperation {
        /// As written.
        name: String,
    },
    /// A component condition on a role not assigned at its scope.
    #[error("role `{role}` is not assigned {scope}, so a component there cannot depend on it")]
    RoleNotAtScope {
        /// The role.
        role: String,
        /// Where it should be assigned.
        scope: String,
    },
    /// `in Swimlane` naming no swimlane of the process.
    #[error("unknown swimlane `{name}` in {resource}")]
    UnknownSwimlane {
        /// As written.
        name: String,
        /// The resource.
        resource: String,
    },
    /// `in Swimlane` outside a process.
    #[error("only process components sit in a swimlane")]
    SwimlaneOutsideProcess,
    /// A swimlane role that the process does not grant.
    #[error("swimlane role `{role}` has no permission on process `{process}`")]
    SwimlaneRoleWithoutPermission {
        /// The role.
        role: String,
        /// The process.
        process: String,
    },
    /// An unknown component of a resource.
    #[error("unknown component `{name}` in {resource}")]
    UnknownComponent {
        /// As written.
        name: String,
        /// The resource searched.
        resource: String,
    },
    /// An unknown resource.
    #[error("unknown {kind} `{name}`")]
    UnknownResource {
        /// What kind.
        kind: String,
        /// As written.
        name: String,
    },

    // ---- Tests (E08xx) ----
    /// `as NAME` or `sign in NAME` for a user no `user` statement made.
    #[error("unknown user `{name}`; a test's users are made by `user NAME: Role` in a `given` block")]
    UnknownUser {
        /// As written.
        name: String,
    },
    /// A status code that is not an HTTP status.
    #[error("`{code}` is not an HTTP status code")]
    BadStatus {
        /// As written.
        code: String,
    },
    /// A `user ... as Entity` whose entity does not specialize System.User.
    #[error("`{name}` does not specialize `System.User`")]
    NotAUserEntity {
        /// The entity.
        name: String,
    },
    /// `given` nested, or statements that make no sense where they are.
    #[error("{what} cannot appear {place}")]
    Misplaced {
        /// What.
        what: &'static str,
        /// Where it cannot (`outside a microflow`), or why (`here: ...`).
        place: &'static str,
    },
    /// Two tests with one name.
    #[error("two tests are named `{name}`")]
    DuplicateTest {
        /// The name.
        name: String,
    },
    /// A workflow that is not declared.
    #[error("unknown workflow `{name}`")]
    UnknownWorkflow {
        /// As written.
        name: String,
    },
}

impl CheckError {
    /// The stable code.
    pub fn code(&self) -> Code {
        use CheckError::*;
        match self {
            Duplicate { .. } => Code::E0101,
            SecondApp { .. } => Code::E0102,
            SystemModule => Code::E0103,
            UnknownEntity { .. } => Code::E0104,
            UnknownMember { .. } => Code::E0105,
            UnknownType { .. } => Code::E0106,
            UnknownEnumValue { .. } => Code::E0107,
            UnknownModuleRole { .. } => Code::E0108,
            UnknownUserRole { .. } => Code::E0109,
            UnknownMicroflow { .. } => Code::E0110,
            UnknownVariable { .. } => Code::E0111,
            UnknownStores { .. } => Code::E0112,
            BadExtends { .. } => Code::E0113,
            ReservedVariable => Code::E0114,
            InheritedClash { .. } => Code::E0115,
            CascadeAndPrevent { .. } => Code::E0201,
            NotAnEnd { .. } => Code::E0202,
            BadDefault { .. } => Code::E0203,
            BadLength => Code::E0204,
            PersistentToTransient { .. } => Code::E0205,
            DuplicateDeleteBehaviour { .. } => Code::E0206,
            DuplicateStores { .. } => Code::E0207,
            PublicWithoutAnonymous => Code::E0301,
            BadSignInSignature { .. } => Code::E0302,
            SignInWithoutAnonymous => Code::E0303,
            AnonymousMisuse { .. } => Code::E0304,
            ForeignModuleRole { .. } => Code::E0305,
            WhereOnNonPersistent { .. } => Code::E0401,
            WriteSystemMember { .. } => Code::E0402,
            CurrentObjectInRule => Code::E0501,
            VariableInRule { .. } => Code::E0502,
            UnknownToken { .. } => Code::E0503,
            Mismatch { .. } => Code::E0504,
            IdWithUserRole => Code::E0505,
            ArithmeticOutsideToken => Code::E0506,
            IdAsString => Code::E0507,
            UnknownTimeZone { .. } => Code::E0508,
            BadArguments { .. } => Code::E0509,
            UnknownFunction { .. } => Code::E0510,
            BadPathStep { .. } => Code::E0511,
            NotACondition { .. } => Code::E0512,
            BadTokenArithmetic { .. } | FractionalFactor { .. } => Code::E0513,
            BadDateTime { .. } => Code::E0514,
            NotOrdered { .. } => Code::E0515,
            Redeclared { .. } => Code::E0601,
            WrongType { .. } | WrongMemberType { .. } => Code::E0602,
            BadCall { .. } => Code::E0603,
            TestStatementInMicroflow { .. } => Code::E0604,
            NotAReferenceSet { .. } => Code::E0605,
            InconsistentReturn { .. } => Code::E0606,
            NotAssignable { .. } => Code::E0607,
            NotAValue { .. } => Code::E0608,
            NotAnObject { .. } => Code::E0609,
            AnonymousOperation { .. } => Code::E0701,
            UnknownOperation { .. } => Code::E0702,
            RoleNotAtScope { .. } => Code::E0703,
            UnknownSwimlane { .. } => Code::E0704,
            SwimlaneOutsideProcess => Code::E0705,
            SwimlaneRoleWithoutPermission { .. } => Code::E0706,
            UnknownResource { .. } | UnknownComponent { .. } => Code::E0707,
            UnknownUser { .. } => Code::E0801,
            BadStatus { .. } => Code::E0802,
            NotAUserEntity { .. } => Code::E0803,
            Misplaced { .. } => Code::E0804,
            DuplicateTest { .. } => Code::E0805,
            UnknownWorkflow { .. } => Code::E0806,
        }
    }

    /// How serious: most are errors.
    pub fn severity(&self) -> Severity {
        self.code().severity()
    }
}
