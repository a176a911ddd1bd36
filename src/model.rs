//! The checked program: every name resolved to an index, every access-rule
//! constraint compiled once. Built by [`crate::check`], read by evaluation,
//! audit and the matrix.

pub mod flow;
pub mod functions;
pub mod value;
pub mod xpath;

use std::collections::HashMap;

use smol_str::SmolStr;

use crate::source::{SourceMap, Span};
use crate::syntax::ast;

/// The small vocabularies the syntax tree and the resolved form share (operators, access
/// levels, resource kinds): stages after checking name them from here, never from the tree.
pub use crate::syntax::ast::{
    AccessLevel, AssignOp, BinOp, CmpOp, ComponentState, GlobalEndpoint, Multiplicity, ResourceKind,
};

macro_rules! id_type {
    ($(#[$doc:meta] $name:ident),* $(,)?) => {$(
        #[$doc]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub u32);
        impl $name {
            /// The index into the program's table.
            pub fn index(self) -> usize { self.0 as usize }
        }
    )*};
}

id_type! {
    /// An entity.
    EntityId,
    /// An association (each `stores owner` entity has its own `System.owner`).
    AssocId,
    /// An enumeration.
    EnumId,
    /// A module role.
    ModuleRoleId,
    /// A user role.
    UserRoleId,
    /// A microflow.
    MicroflowId,
    /// A runtime resource (process, UI flow, template).
    ResourceId,
}

/// The built-in System.User entity.
pub const SYSTEM_USER: EntityId = EntityId(0);
/// The built-in System.UserRole entity.
pub(crate) const SYSTEM_USER_ROLE: EntityId = EntityId(1);
/// The built-in System.UserRoles association.
pub const SYSTEM_USER_ROLES: AssocId = AssocId(0);

/// The members of `System.User`, at the same index in every specialization (inherited
/// members come first).
pub mod user_member {
    use super::MemberIndex;
    /// `Name`.
    pub const NAME: MemberIndex = 0;
    /// `Password`.
    pub const PASSWORD: MemberIndex = 1;
    /// `Active`.
    pub const ACTIVE: MemberIndex = 2;
    /// `IsAnonymous`.
    pub const IS_ANONYMOUS: MemberIndex = 3;
    /// `System.UserRoles`.
    pub(crate) const USER_ROLES: MemberIndex = 4;
}

/// `Name` of `System.UserRole`.
pub(crate) const USER_ROLE_NAME: MemberIndex = 0;

/// A whole checked program.
#[derive(Clone, Debug, Default)]
pub struct Program {
    /// The files it was loaded from.
    pub sources: SourceMap,
    /// Entities, System's first.
    pub entities: Vec<EntityDef>,
    /// Associations, System.UserRoles first.
    pub associations: Vec<AssocDef>,
    /// Enumerations.
    pub enums: Vec<EnumDef>,
    /// Module roles.
    pub module_roles: Vec<ModuleRoleDef>,
    /// User roles in declaration order.
    pub user_roles: Vec<UserRoleDef>,
    /// Entity access rules in declaration order.
    pub access_rules: Vec<AccessRuleDef>,
    /// Microflows.
    pub microflows: Vec<MicroflowDef>,
    /// The app's settings.
    pub app: AppDef,
    /// Processes, UI flows and templates.
    pub resources: Vec<ResourceDef>,
    /// Declared workflows.
    pub workflows: Vec<SmolStr>,
    /// Test and snapshot blocks in file order.
    pub tests: Vec<flow::TestDef>,
    /// Modules by name, with where each was first declared.
    pub modules: Vec<(SmolStr, Span)>,
    /// Associations by qualified name (each `stores owner` entity has its own `System.owner`).
    pub(crate) assoc_index: HashMap<SmolStr, Vec<AssocId>>,
    /// Members whose declaration was in error (an unknown type, an unknown end):
    /// later uses are not reported again.
    pub(crate) poisoned_members: std::collections::HashSet<(EntityId, SmolStr)>,
    /// Entities whose generalization is in error: their inherited members are unknown.
    pub(crate) poisoned_entities: std::collections::HashSet<EntityId>,
    /// The app names an anonymous role that does not resolve.
    pub(crate) anonymous_unresolved: bool,
    pub(crate) entity_names: HashMap<SmolStr, EntityId>,
    pub(crate) enum_names: HashMap<SmolStr, EnumId>,
    pub(crate) module_role_names: HashMap<SmolStr, ModuleRoleId>,
    pub(crate) user_role_names: HashMap<SmolStr, UserRoleId>,
    pub(crate) microflow_names: HashMap<SmolStr, MicroflowId>,
    pub(crate) resource_names: HashMap<(ast::ResourceKind, SmolStr), ResourceId>,
}

impl Program {
    /// A copy without the test and snapshot blocks, for a changed program that runs the
    /// original's blocks (mutation testing): the blocks are most of a large program.
    pub(crate) fn copy_without_tests(&self) -> Program {
        Program {
            sources: self.sources.clone(),
            entities: self.entities.clone(),
            associations: self.associations.clone(),
            enums: self.enums.clone(),
            module_roles: self.module_roles.clone(),
            user_roles: self.user_roles.clone(),
            access_rules: self.access_rules.clone(),
            microflows: self.microflows.clone(),
            app: self.app.clone(),
            resources: self.resources.clone(),
            workflows: self.workflows.clone(),
            tests: Vec::new(),
            modules: self.modules.clone(),
            assoc_index: self.assoc_index.clone(),
            poisoned_members: self.poisoned_members.clone(),
            poisoned_entities: self.poisoned_entities.clone(),
            anonymous_unresolved: self.anonymous_unresolved,
            entity_names: self.entity_names.clone(),
            enum_names: self.enum_names.clone(),
            module_role_names: self.module_role_names.clone(),
            user_role_names: self.user_role_names.clone(),
            microflow_names: self.microflow_names.clone(),
            resource_names: self.resource_names.clone(),
        }
    }

    /// An entity by id.
    pub fn entity(&self, id: EntityId) -> &EntityDef {
        &self.entities[id.index()]
    }

    /// An association by id.
    pub fn assoc(&self, id: AssocId) -> &AssocDef {
        &self.associations[id.index()]
    }

    /// An enumeration by id.
    pub fn enumeration(&self, id: EnumId) -> &EnumDef {
        &self.enums[id.index()]
    }

    /// A user role by id.
    pub(crate) fn user_role(&self, id: UserRoleId) -> &UserRoleDef {
        &self.user_roles[id.index()]
    }

    /// A module role by id.
    pub(crate) fn module_role(&self, id: ModuleRoleId) -> &ModuleRoleDef {
        &self.module_roles[id.index()]
    }

    /// A microflow by id.
    pub fn microflow(&self, id: MicroflowId) -> &MicroflowDef {
        &self.microflows[id.index()]
    }

    /// An entity by qualified name.
    pub fn entity_by_name(&self, name: &str) -> Option<EntityId> {
        self.entity_names.get(name).copied()
    }

    /// A user role by name.
    pub fn user_role_by_name(&self, name: &str) -> Option<UserRoleId> {
        self.user_role_names.get(name).copied()
    }

    /// A module role by qualified name.
    pub fn module_role_by_name(&self, name: &str) -> Option<ModuleRoleId> {
        self.module_role_names.get(name).copied()
    }

    /// A microflow by qualified name.
    pub fn microflow_by_name(&self, name: &str) -> Option<MicroflowId> {
        self.microflow_names.get(name).copied()
    }

    /// An enumeration by qualified name.
    pub fn enum_by_name(&self, name: &str) -> Option<EnumId> {
        self.enum_names.get(name).copied()
    }

    /// A resource by kind and name.
    pub(crate) fn resource_by_name(&self, kind: ast::ResourceKind, name: &str) -> Option<ResourceId> {
        self.resource_names.get(&(kind, SmolStr::new(name))).copied()
    }

    /// Whether `entity` is `ancestor` or one of its specializations.
    pub fn is_a(&self, entity: EntityId, ancestor: EntityId) -> bool {
        let mut current = Some(entity);
        while let Some(e) = current {
            if e == ancestor {
                return true;
            }
            current = self.entity(e).generalization;
        }
        false
    }

    /// The entity and every specialization of it, at any depth.
    pub fn specializations(&self, entity: EntityId) -> Vec<EntityId> {
        (0..self.entities.len() as u32).map(EntityId).filter(|&e| self.is_a(e, entity)).collect()
    }

    /// Whether a member name of an entity is unknown only because its declaration was in error.
    pub(crate) fn is_poisoned(&self, entity: EntityId, name: &str) -> bool {
        let local = name.rsplit('.').next().unwrap_or(name);
        let mut current = Some(entity);
        while let Some(e) = current {
            if self.poisoned_entities.contains(&e)
                || self.poisoned_members.contains(&(e, SmolStr::new(name)))
                || self.poisoned_members.contains(&(e, SmolStr::new(local)))
            {
                return true;
            }
            current = self.entity(e).generalization;
        }
        false
    }

    /// The module roles of a user role.
    pub(crate) fn module_roles_of(&self, role: UserRoleId) -> &[ModuleRoleId] {
        &self.user_role(role).module_roles
    }
}

/// The type of an attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AttrType {
    /// `String` or `String(n)`.
    String(Option<u32>),
    /// 32-bit integer.
    Integer,
    /// 64-bit integer.
    Long,
    /// Exact decimal.
    Decimal,
    /// `true` / `false`.
    Boolean,
    /// A UTC instant with millisecond resolution.
    DateTime,
    /// A Long numbered by the runtime.
    AutoNumber,
    /// A one-way hashed string.
    HashedString,
    /// One value of an enumeration.
    Enum(EnumId),
}

/// What a member of an entity is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberKind {
    /// An attribute of this type.
    Attribute(AttrType),
    /// The from-side of an association.
    Association(AssocId),
}

/// A member of an entity: an attribute, or an association it owns.
#[derive(Clone, Debug)]
pub struct MemberDef {
    /// The name as written in rules: `Total`, `Shop.CartLine_Cart`, `System.owner`.
    pub name: SmolStr,
    /// Attribute or association.
    pub kind: MemberKind,
    /// Kept by the runtime (owner, changedBy, createdDate, changedDate).
    pub system: bool,
    /// The default value.
    pub default: Option<value::Value>,
    /// The entity that declared it (a generalization for inherited members).
    pub declared_in: EntityId,
    /// Where it was declared.
    pub span: Span,
}

/// A variable's place in its frame (see [`flow::Scope`]).
pub type Slot = usize;

/// An index into [`EntityDef::members`].
pub type MemberIndex = usize;

/// An entity with its members, inherited ones included.
#[derive(Clone, Debug)]
pub struct EntityDef {
    /// Qualified name.
    pub name: SmolStr,
    /// The module it belongs to.
    pub module: SmolStr,
    /// False for non-persistent entities.
    pub persistent: bool,
    /// The generalization.
    pub generalization: Option<EntityId>,
    /// Every member: inherited first, then its own, in declaration order.
    pub members: Vec<MemberDef>,
    /// `stores owner` (also inherited).
    pub owner: Option<AssocId>,
    /// `stores changedBy`.
    pub changed_by: Option<AssocId>,
    /// `stores createdDate`: the attribute's index.
    pub created_date: Option<MemberIndex>,
    /// `stores changedDate`: the attribute's index.
    pub changed_date: Option<MemberIndex>,
    /// The declaration (or the module for System's entities).
    pub span: Span,
}

impl EntityDef {
    /// A member by name, qualified (`Shop.Assoc`) or not (`Assoc`, `Total`).
    pub fn member(&self, name: &str) -> Option<MemberIndex> {
        self.members.iter().position(|m| m.name == name).or_else(|| {
            self.members
                .iter()
                .position(|m| matches!(m.kind, MemberKind::Association(_)) && m.name.rsplit('.').next() == Some(name))
        })
    }

    /// The local name (after the module).
    pub(crate) fn local_name(&self) -> &str {
        self.name.rsplit('.').next().unwrap_or(&self.name)
    }
}

/// What happens to the other side when one end of an association is deleted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeleteRule {
    /// Clear the references.
    Keep,
    /// Delete the objects on the other side.
    Cascade,
    /// Refuse while objects are associated, with this message.
    Prevent(Option<String>),
}

/// An association between two entities.
#[derive(Clone, Debug)]
pub struct AssocDef {
    /// Qualified name.
    pub name: SmolStr,
    /// The owning side.
    pub from: EntityId,
    /// The target side.
    pub to: EntityId,
    /// Reference or reference set.
    pub multiplicity: ast::Multiplicity,
    /// When a from-object is deleted, what happens to its to-objects.
    pub on_delete_from: DeleteRule,
    /// When a to-object is deleted, what happens to the from-objects that refer to it.
    pub on_delete_to: DeleteRule,
    /// System.owner, System.changedBy or System.UserRoles.
    pub system: bool,
    /// The declaration.
    pub span: Span,
    /// The `on delete` line of each end, where written.
    pub delete_spans: (Option<Span>, Option<Span>),
}

/// An enumeration.
#[derive(Clone, Debug)]
pub struct EnumDef {
    /// Qualified name.
    pub name: SmolStr,
    /// Value names in order.
    pub values: Vec<SmolStr>,
    /// The declaration.
    pub span: Span,
}

/// A module role.
#[derive(Clone, Debug)]
pub struct ModuleRoleDef {
    /// Qualified name.
    pub name: SmolStr,
    /// The declaration.
    pub span: Span,
}

/// A user role.
#[derive(Clone, Debug)]
pub struct UserRoleDef {
    /// Its name.
    pub name: SmolStr,
    /// Its module roles.
    pub module_roles: Vec<ModuleRoleId>,
    /// Where each module role is named, parallel to `module_roles`.
    pub module_role_spans: Vec<Span>,
    /// Whether it is the app's anonymous role.
    pub anonymous: bool,
    /// The declaration.
    pub span: Span,
}

/// The app's security settings.
#[derive(Clone, Debug)]
pub struct AppDef {
    /// The app's name.
    pub name: SmolStr,
    /// Public or invited (the default).
    pub access: ast::AccessLevel,
    /// The anonymous user role.
    pub anonymous: Option<UserRoleId>,
    /// The sign-in microflow.
    pub sign_in: Option<MicroflowId>,
    /// The declaration, if any.
    pub span: Option<Span>,
}

impl Default for AppDef {
    fn default() -> AppDef {
        AppDef {
            name: SmolStr::default(),
            access: ast::AccessLevel::Invited,
            anonymous: None,
            sign_in: None,
            span: None,
        }
    }
}

/// A member right granted by a rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum MemberRight {
    /// Neither read nor write.
    None,
    /// Read.
    Read,
    /// Read and write.
    Write,
}

/// A checked entity access rule.
#[derive(Clone, Debug)]
pub struct AccessRuleDef {
    /// The entity it is about (specializations are not covered).
    pub entity: EntityId,
    /// The module roles it applies to.
    pub roles: Vec<ModuleRoleId>,
    /// May create.
    pub create: bool,
    /// May delete visible objects.
    pub delete: bool,
    /// The right on each member of the entity, by member index.
    pub members: Vec<MemberRight>,
    /// The compiled constraint (the brackets ANDed), if any.
    pub constraint: Option<xpath::Cond>,
    /// The constraint as written, for explanations and the matrix.
    pub constraint_text: Option<String>,
    /// The whole rule.
    pub span: Span,
}

/// A checked microflow, its body resolved.
#[derive(Clone, Debug)]
pub struct MicroflowDef {
    /// Qualified name.
    pub name: SmolStr,
    /// Its module.
    pub module: SmolStr,
    /// Parameters with their types.
    pub params: Vec<(SmolStr, Type)>,
    /// The type of what it returns.
    pub returns: Type,
    /// Module roles that may call it from outside.
    pub allow: Vec<ModuleRoleId>,
    /// Whether it obeys the caller's access rules.
    pub apply_access: bool,
    /// Its body.
    pub body: flow::Block,
    /// Its variables: the parameters first, in order.
    pub scope: flow::Scope,
    /// The whole declaration.
    pub span: Span,
    /// `microflow Name(...) allow ...`, up to the body.
    pub header: Span,
    /// Its name as declared.
    pub name_span: Span,
}

/// Runtime operations on resources.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    /// See an instance.
    View,
    /// Act on an instance, start a resource.
    Execute,
    /// Assign oneself (needed to start a process).
    SelfAssign,
    /// Assign others.
    Assign,
    /// Unassign.
    Unassign,
    /// Put on hold.
    Hold,
    /// Release from hold.
    Unhold,
}

impl Operation {
    /// Every operation, in the order the spec lists them.
    pub const ALL: [Operation; 7] = [
        Operation::View,
        Operation::Execute,
        Operation::SelfAssign,
        Operation::Assign,
        Operation::Unassign,
        Operation::Hold,
        Operation::Unhold,
    ];

    /// As written.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::View => "VIEW",
            Operation::Execute => "EXECUTE",
            Operation::SelfAssign => "SELF_ASSIGN",
            Operation::Assign => "ASSIGN",
            Operation::Unassign => "UNASSIGN",
            Operation::Hold => "HOLD",
            Operation::Unhold => "UNHOLD",
        }
    }

    /// From its written name.
    pub fn parse(text: &str) -> Option<Operation> {
        Operation::ALL.into_iter().find(|op| op.as_str() == text)
    }
}

/// Operations on a process instance or UI flow session (the runtime decides what each needs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InstanceOp {
    /// `status` (VIEW).
    Status,
    /// `data` (VIEW).
    Data,
    /// `data model paths` (VIEW).
    DataModelPaths,
    /// `build info` of the instance (VIEW).
    BuildInfo,
    /// The instance's event stream (VIEW), or a generic stream of a type (EXECUTE).
    Events(Option<String>),
    /// A UI action (EXECUTE).
    Action(String),
    /// `dismiss` (EXECUTE).
    Dismiss,
    /// A file upload (EXECUTE).
    Upload,
}

/// A checked process, UI flow or template.
#[derive(Clone, Debug)]
pub struct ResourceDef {
    /// Which kind.
    pub kind: ast::ResourceKind,
    /// Its name.
    pub name: SmolStr,
    /// The operations each user role holds (SELF_ASSIGN added for the anonymous role).
    pub roles: Vec<(UserRoleId, Vec<Operation>)>,
    /// Swimlanes with their user roles.
    pub swimlanes: Vec<(SmolStr, Vec<UserRoleId>)>,
    /// Components: name, swimlane index, roles it is hidden for, roles it is disabled for.
    pub components: Vec<ComponentDef>,
    /// The declaration.
    pub span: Span,
}

/// A UI component with its role conditions.
#[derive(Clone, Debug)]
pub struct ComponentDef {
    /// Its name.
    pub name: SmolStr,
    /// The swimlane it sits in, for process components.
    pub swimlane: Option<usize>,
    /// Roles it is hidden for.
    pub hidden_for: Vec<UserRoleId>,
    /// Roles it is disabled for (disable wins over hide).
    pub disabled_for: Vec<UserRoleId>,
}

/// The static type of a microflow or test expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Type {
    /// Text.
    String,
    /// 32-bit integer.
    Integer,
    /// 64-bit integer.
    Long,
    /// Exact decimal.
    Decimal,
    /// Boolean.
    Boolean,
    /// UTC instant.
    DateTime,
    /// A calendar length from a token such as `[%DayLength%]`.
    Duration,
    /// An enumeration value.
    Enum(EnumId),
    /// An object of this entity (or a specialization).
    Object(EntityId),
    /// A list of objects of this entity.
    List(EntityId),
    /// The type of `empty` and of `[]`: fits any object, value or list.
    Empty,
    /// A process instance or UI flow session returned by a request.
    Instance,
    /// What a statement or a microflow without `return` yields.
    Nothing,
    /// A term already in error: fits everything, so no follow-on errors.
    Unknown,
}

impl Type {
    /// The type of values of an attribute.
    pub(crate) fn of_attr(ty: AttrType) -> Type {
        match ty {
            AttrType::String(_) | AttrType::HashedString => Type::String,
            AttrType::Integer => Type::Integer,
            AttrType::Long | AttrType::AutoNumber => Type::Long,
            AttrType::Decimal => Type::Decimal,
            AttrType::Boolean => Type::Boolean,
            AttrType::DateTime => Type::DateTime,
            AttrType::Enum(e) => Type::Enum(e),
        }
    }

    /// Whether the type is a number.
    pub(crate) fn is_numeric(self) -> bool {
        matches!(self, Type::Integer | Type::Long | Type::Decimal)
    }

    /// How the type reads in messages.
    pub fn describe(self, program: &Program) -> String {
        match self {
            Type::String => "String".into(),
            Type::Integer => "Integer".into(),
            Type::Long => "Long".into(),
            Type::Decimal => "Decimal".into(),
            Type::Boolean => "Boolean".into(),
            Type::DateTime => "DateTime".into(),
            Type::Duration => "a length token".into(),
            Type::Enum(e) => format!("enumeration {}", program.enumeration(e).name),
            Type::Object(e) => format!("object of {}", program.entity(e).name),
            Type::List(e) => format!("list of {}", program.entity(e).name),
            Type::Empty => "empty".into(),
            Type::Instance => "instance".into(),
            Type::Nothing => "nothing".into(),
            Type::Unknown => "unknown".into(),
        }
    }
}
