//! The FlowX runtime (sections 7 and 8): requests to processes, UI flows and
//! build assets, judged by two gates (the app shared publicly, the resource
//! granting the anonymous role), bearer tokens first, and anonymous sessions
//! bound to the instances they create.
//!
//! The decisions are a pure function of the program, the gate, the instances started so far,
//! the caller and the request ([`Runtime::decide`]); the change a served request makes is
//! returned as an [`Effect`] that the caller applies ([`apply`]). The evaluator's sessions
//! (`Engine::request`) and the server go through it; it knows nothing of either.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::value::ObjectId;
pub use crate::model::InstanceOp;
use crate::model::*;
use crate::model::{AccessLevel, ComponentState, GlobalEndpoint, ResourceKind};

/// `You don't have access to this feature.`
pub(crate) const NO_ACCESS: &str = "You don't have access to this feature.";
/// `Anonymous access not enabled for this application`
pub(crate) const ANONYMOUS_DISABLED: &str = "Anonymous access not enabled for this application";
/// `Anonymous session not found for entity`
pub(crate) const SESSION_NOT_FOUND: &str = "Anonymous session not found for entity";
/// `Full authentication is required to access this resource`
pub(crate) const AUTHENTICATION_REQUIRED: &str = "Full authentication is required to access this resource";

/// The generic event types anonymous sessions may stream.
pub(crate) const ANONYMOUS_EVENT_TYPES: [&str; 3] =
    ["UI_FLOW_WORKFLOW_RESPONSE", "UI_FLOW_FILE_UPLOAD", "UI_FLOW_FILE_UPLOAD_MULTIPLE"];

/// Whether an anonymous session may stream a generic event type (others are restricted like chat).
pub fn is_anonymous_event_type(kind: &str) -> bool {
    ANONYMOUS_EVENT_TYPES.contains(&kind)
}

/// A process instance or UI flow session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instance {
    /// Process or UI flow.
    pub kind: ResourceKind,
    /// Which one.
    pub resource: ResourceId,
    /// The anonymous session id it was created with (none for authenticated starts).
    pub session: Option<String>,
    /// The signed-in user who started it while acting as the anonymous role (scenario 1b):
    /// only that user reaches it as anonymous.
    pub started_as_anonymous_by: Option<ObjectId>,
    /// Dismissed instances answer 404.
    pub dismissed: bool,
}

/// What a request targets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// Start a process by name.
    StartProcess(String),
    /// Start a UI flow by name.
    StartUiFlow(String),
    /// Start a workflow from a UI flow session.
    StartWorkflow(String, u64),
    /// An operation on an instance.
    Instance(InstanceOp, u64),
    /// An endpoint without an instance.
    Global(GlobalEndpoint),
    /// The data model paths of a process or UI flow by name (VIEW on the resource, no instance).
    ResourceDataModelPaths(ResourceKind, String),
}

impl InstanceOp {
    fn needs(&self) -> Operation {
        match self {
            InstanceOp::Status | InstanceOp::Data | InstanceOp::DataModelPaths | InstanceOp::BuildInfo => {
                Operation::View
            }
            InstanceOp::Events(None) => Operation::View,
            InstanceOp::Events(Some(_)) | InstanceOp::Action(_) | InstanceOp::Dismiss | InstanceOp::Upload => {
                Operation::Execute
            }
        }
    }

    /// Generic streams of types other than the anonymous ones are restricted like chat.
    fn restricted(&self) -> bool {
        matches!(self, InstanceOp::Events(Some(t)) if !ANONYMOUS_EVENT_TYPES.contains(&t.as_str()))
    }
}

/// The bearer a request carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bearer {
    /// No `Authorization` header.
    None,
    /// A valid token of this session's user (or of system).
    Valid,
    /// An invalid or expired token.
    Invalid,
}

/// One request to the runtime.
#[derive(Clone, Debug)]
pub struct Request {
    /// What is asked.
    pub target: Target,
    /// The bearer token.
    pub bearer: Bearer,
    /// The `X-Fx-Anonymous-Session-Id` header.
    pub session_id: Option<String>,
}

/// The runtime's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// The body's `detail`, for refusals.
    pub detail: Option<&'static str>,
    /// A session id issued by this response.
    pub issued_session: Option<String>,
    /// The instance a start created.
    pub instance: Option<u64>,
    /// Why, in words: which gate, which role or operation decided.
    pub reason: String,
}

impl Response {
    fn ok(reason: impl Into<String>) -> Response {
        Response { status: 200, detail: None, issued_session: None, instance: None, reason: reason.into() }
    }

    fn refuse(status: u16, detail: Option<&'static str>, reason: impl Into<String>) -> Response {
        Response { status, detail, issued_session: None, instance: None, reason: reason.into() }
    }

    /// `200`, or `403 You don't have access to this feature.`
    pub fn summary(&self) -> String {
        match self.detail {
            Some(d) => format!("{} {d}", self.status),
            None => self.status.to_string(),
        }
    }
}

/// 128 random bits from the operating system's generator, as 32 hex digits.
// INVARIANT: the operating system's generator answers; without it no id can be unguessable,
// and issuing a guessable one would hand one visitor's instances to another.
#[expect(clippy::expect_used, reason = "no unguessable id without the generator")]
pub fn new_session_id() -> String {
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes).expect("the operating system's random generator");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A fresh, unguessable instance id.
fn new_instance_id(existing: &BTreeMap<u64, Instance>) -> u64 {
    loop {
        let id = new_instance_key();
        if !existing.contains_key(&id) {
            return id;
        }
    }
}

/// 63 random bits, never 0: an instance id before the check that no instance has it.
// INVARIANT: as for `new_session_id`.
#[expect(clippy::expect_used, reason = "no unguessable id without the generator")]
pub fn new_instance_key() -> u64 {
    loop {
        let mut bytes = [0u8; 8];
        getrandom::getrandom(&mut bytes).expect("the operating system's random generator");
        let id = u64::from_le_bytes(bytes) >> 1;
        if id != 0 {
            return id;
        }
    }
}

/// Who sends a request, as the runtime judges it: the part of a session the gates read.
#[derive(Clone, Copy, Debug)]
pub struct Caller<'a> {
    /// System, a signed-in user or an anonymous session.
    pub kind: CallerKind,
    /// The caller's `System.User` object (an anonymous session's, once it has acted).
    pub user: Option<ObjectId>,
    /// Its user roles.
    pub roles: &'a [UserRoleId],
    /// How it reads in reasons: `system`, `alice`, `anonymous:A`.
    pub name: &'a str,
}

/// The kinds of callers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallerKind {
    /// Full rights.
    System,
    /// A signed-in user (always sends its bearer).
    User,
    /// An anonymous session.
    Anonymous,
}

/// What the runtime decides from: the program, the app's gate as it stands (tests may flip
/// it) and the instances started so far.
#[derive(Clone, Copy, Debug)]
pub struct Runtime<'a> {
    /// The checked program.
    pub program: &'a Program,
    /// The app's gate.
    pub access: AccessLevel,
    /// Every instance started so far.
    pub instances: &'a BTreeMap<u64, Instance>,
}

/// A decision and the change it makes, for the caller to apply.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// The answer (its `instance` is filled in when a start is applied).
    pub response: Response,
    /// What serving it changes.
    pub effect: Effect,
    /// Whether serving it issues a session id (the first served anonymous request without one).
    pub issues_session: bool,
}

/// The change a served request makes to the instances.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Nothing changes.
    None,
    /// A new instance starts.
    Start(Instance),
    /// An instance is dismissed.
    Dismiss(u64),
}

impl Runtime<'_> {
    /// Decides a request, in the order of section 8. Nothing changes until the caller applies
    /// the decision's effect (see [`apply`]).
    pub fn decide(&self, caller: &Caller<'_>, req: &Request) -> Decision {
        let response = self.respond(caller, req);
        let served = response.status == 200;
        let global_public = matches!(req.target, Target::Global(GlobalEndpoint::Themes | GlobalEndpoint::Fonts));
        let issues_session = served
            && caller.kind == CallerKind::Anonymous
            && req.bearer == Bearer::None
            && req.session_id.is_none()
            && !global_public;
        let effect = match (&req.target, served) {
            (_, false) => Effect::None,
            (Target::StartProcess(name) | Target::StartUiFlow(name), true) => {
                let kind = if matches!(req.target, Target::StartProcess(_)) {
                    ResourceKind::Process
                } else {
                    ResourceKind::UiFlow
                };
                match self.program.resource_by_name(kind, name) {
                    Some(resource) => Effect::Start(Instance {
                        kind,
                        resource,
                        session: if caller.kind == CallerKind::Anonymous { req.session_id.clone() } else { None },
                        started_as_anonymous_by: if self.acts_as_anonymous(caller, resource) {
                            caller.user
                        } else {
                            None
                        },
                        dismissed: false,
                    }),
                    None => Effect::None,
                }
            }
            (Target::Instance(InstanceOp::Dismiss, id), true) => Effect::Dismiss(*id),
            _ => Effect::None,
        };
        Decision { response, effect, issues_session }
    }

    fn respond(&self, caller: &Caller<'_>, req: &Request) -> Response {
        let global_public = matches!(req.target, Target::Global(GlobalEndpoint::Themes | GlobalEndpoint::Fonts));
        if global_public {
            return Response::ok("themes and fonts are public to everyone");
        }
        match req.bearer {
            Bearer::Invalid => {
                Response::refuse(401, None, "the bearer token is invalid or expired; there is no fallback to anonymous")
            }
            Bearer::Valid => self.decide_authenticated(caller, req),
            // A user or system principal always sends its bearer.
            Bearer::None if caller.kind != CallerKind::Anonymous => self.decide_authenticated(caller, req),
            Bearer::None => self.decide_anonymous(caller, req),
        }
    }

    /// Whether a signed-in user acts as the anonymous role on a resource (scenario 1b): the
    /// app is public, the resource grants the anonymous role, and none of the user's roles.
    pub fn acts_as_anonymous(&self, caller: &Caller<'_>, resource: ResourceId) -> bool {
        let def = &self.program.resources[resource.index()];
        let Some(anonymous) = self.program.app.anonymous else { return false };
        caller.kind == CallerKind::User
            && self.access == AccessLevel::Public
            && def.roles.iter().any(|(r, _)| *r == anonymous)
            && !caller.roles.iter().any(|role| def.roles.iter().any(|(r, _)| r == role))
    }

    /// The operations the caller holds on a resource, and which role gave them.
    fn operations(&self, caller: &Caller<'_>, resource: ResourceId) -> (Vec<Operation>, String) {
        let def = &self.program.resources[resource.index()];
        let anonymous = self.program.app.anonymous;
        let grants = |role: UserRoleId| def.roles.iter().find(|(r, _)| *r == role).map(|(_, ops)| ops.clone());
        match caller.kind {
            CallerKind::System => return (Operation::ALL.to_vec(), "system has every operation".into()),
            CallerKind::Anonymous => {
                let Some(role) = anonymous else {
                    return (Vec::new(), "the app has no anonymous role".into());
                };
                let name = &self.program.user_role(role).name;
                return match grants(role) {
                    Some(ops) => (ops, format!("{} grants the anonymous role {name}", describe(def))),
                    None => (Vec::new(), format!("{} does not grant the anonymous role {name}", describe(def))),
                };
            }
            CallerKind::User => {}
        }
        let mut ops: Vec<Operation> = Vec::new();
        let mut via = Vec::new();
        for role in caller.roles {
            if let Some(o) = grants(*role) {
                ops.extend(o);
                via.push(self.program.user_role(*role).name.to_string());
            }
        }
        if !via.is_empty() {
            ops.sort();
            ops.dedup();
            return (ops, format!("{} grants {}", describe(def), via.join(", ")));
        }
        // Scenario 1b (extended): a signed-in user with none of the resource's other roles
        // acts with the anonymous role's permissions on a resource of a public app.
        if let Some(role) = anonymous {
            if self.access == AccessLevel::Public {
                if let Some(o) = grants(role) {
                    let name = &self.program.user_role(role).name;
                    return (
                        o,
                        format!(
                            "{} grants none of the user's roles, so the user acts as the anonymous role {name}",
                            describe(def)
                        ),
                    );
                }
            }
        }
        (Vec::new(), format!("{} grants none of {}'s roles", describe(def), caller.name))
    }

    fn decide_authenticated(&self, caller: &Caller<'_>, req: &Request) -> Response {
        match &req.target {
            Target::Global(_) => Response::ok("signed-in users reach every endpoint"),
            Target::StartProcess(name) => self.start(caller, ResourceKind::Process, name),
            Target::StartUiFlow(name) => self.start(caller, ResourceKind::UiFlow, name),
            Target::ResourceDataModelPaths(kind, name) => self.on_resource(caller, *kind, name, &[Operation::View]),
            Target::StartWorkflow(_, parent) => self.on_instance(caller, *parent, Operation::Execute, None, true),
            Target::Instance(op, id) => {
                if op.restricted() {
                    // Even a restricted stream answers a 1b user only on its own instances.
                    if let Some(refused) = self.instances.get(id).and_then(|i| self.not_started_as_anonymous(caller, i))
                    {
                        return refused;
                    }
                    return Response::ok("signed-in users reach restricted streams");
                }
                self.on_instance(caller, *id, op.needs(), None, false)
            }
        }
    }

    fn decide_anonymous(&self, caller: &Caller<'_>, req: &Request) -> Response {
        let restricted = match &req.target {
            Target::Global(g) => {
                matches!(
                    g,
                    GlobalEndpoint::Tasks
                        | GlobalEndpoint::Chat
                        | GlobalEndpoint::ViewEvents
                        | GlobalEndpoint::Internal
                        | GlobalEndpoint::Languages
                )
            }
            Target::Instance(op, _) => op.restricted(),
            _ => false,
        };
        if restricted {
            return Response::refuse(401, Some(AUTHENTICATION_REQUIRED), "this endpoint is never served anonymously");
        }
        if self.access != AccessLevel::Public {
            let in_flight = req.session_id.is_some() || matches!(req.target, Target::StartWorkflow(..));
            let detail = if in_flight { ANONYMOUS_DISABLED } else { NO_ACCESS };
            return Response::refuse(403, Some(detail), "the app is not shared publicly (access: invited)");
        }
        let session = Some(req.session_id.as_deref());
        match &req.target {
            Target::Global(_) => Response::ok("a public build serves its assets"),
            Target::StartProcess(name) => self.start(caller, ResourceKind::Process, name),
            Target::StartUiFlow(name) => self.start(caller, ResourceKind::UiFlow, name),
            Target::ResourceDataModelPaths(kind, name) => self.on_resource(caller, *kind, name, &[Operation::View]),
            Target::StartWorkflow(_, parent) => self.on_instance(caller, *parent, Operation::Execute, session, true),
            Target::Instance(op, id) => self.on_instance(caller, *id, op.needs(), session, false),
        }
    }

    fn start(&self, caller: &Caller<'_>, kind: ResourceKind, name: &str) -> Response {
        let needed: &[Operation] = if kind == ResourceKind::Process {
            &[Operation::Execute, Operation::SelfAssign]
        } else {
            &[Operation::Execute]
        };
        self.on_resource(caller, kind, name, needed)
    }

    /// The operations `needed` on a resource by name (a start, or its data model paths).
    fn on_resource(&self, caller: &Caller<'_>, kind: ResourceKind, name: &str, needed: &[Operation]) -> Response {
        let Some(resource) = self.program.resource_by_name(kind, name) else {
            return Response::refuse(404, None, format!("no {} named {name}", kind.as_str()));
        };
        let (ops, via) = self.operations(caller, resource);
        if let Some(missing) = needed.iter().find(|op| !ops.contains(op)) {
            return Response::refuse(403, Some(NO_ACCESS), lacking(&via, &ops, *missing));
        }
        Response::ok(format!("{via}, with {}", needed.iter().map(|o| o.as_str()).collect::<Vec<_>>().join(" and ")))
    }

    /// The checks on an instance: the role's operation, the creating session, dismissal.
    /// `session` is the session id an anonymous request carries (`None` for authenticated ones).
    fn on_instance(
        &self,
        caller: &Caller<'_>,
        id: u64,
        needs: Operation,
        session: Option<Option<&str>>,
        workflow: bool,
    ) -> Response {
        let Some(instance) = self.instances.get(&id) else {
            return Response::refuse(404, None, "no such instance");
        };
        if workflow && instance.kind != ResourceKind::UiFlow {
            return Response::refuse(403, Some(NO_ACCESS), "a workflow starts from a UI flow session");
        }
        let (ops, via) = self.operations(caller, instance.resource);
        if !ops.contains(&needs) {
            return Response::refuse(403, Some(NO_ACCESS), lacking(&via, &ops, needs));
        }
        if let Some(refused) = self.not_started_as_anonymous(caller, instance).filter(|_| session.is_none()) {
            return refused;
        }
        if let Some(session) = session {
            if instance.session.is_none() || instance.session.as_deref() != session {
                let why = if session.is_none() {
                    "the request carries no session id"
                } else {
                    "the instance was started by another session"
                };
                return Response::refuse(403, Some(SESSION_NOT_FOUND), why);
            }
        }
        if instance.dismissed {
            return Response::refuse(404, None, "the instance was dismissed");
        }
        Response::ok(format!("{via}, with {}", needs.as_str()))
    }

    /// A signed-in user acting as anonymous on the instance's resource (scenario 1b) reaches
    /// only the instances it started so: the refusal of any other, else `None`.
    fn not_started_as_anonymous(&self, caller: &Caller<'_>, instance: &Instance) -> Option<Response> {
        if !self.acts_as_anonymous(caller, instance.resource) {
            return None;
        }
        let by = instance.started_as_anonymous_by;
        if by.is_some() && by == caller.user {
            return None;
        }
        Some(Response::refuse(
            403,
            Some(SESSION_NOT_FOUND),
            "the user acts as the anonymous role here, and another session started the instance",
        ))
    }

    /// The state of a component for the caller: disable wins over hide. A user acting as the
    /// anonymous role on the resource (scenario 1b) gets the anonymous role's conditions.
    pub fn component_state(
        &self,
        caller: &Caller<'_>,
        kind: ResourceKind,
        resource: &str,
        component: &str,
    ) -> Option<ComponentState> {
        let id = self.program.resource_by_name(kind, resource)?;
        let def = &self.program.resources[id.index()];
        let c = def.components.iter().find(|c| c.name == component)?;
        let anonymous: Vec<UserRoleId> = self.program.app.anonymous.into_iter().collect();
        let roles: &[UserRoleId] = match caller.kind {
            CallerKind::System => &[],
            _ if self.acts_as_anonymous(caller, id) => &anonymous,
            _ => caller.roles,
        };
        Some(if roles.iter().any(|r| c.disabled_for.contains(r)) {
            ComponentState::Disabled
        } else if roles.iter().any(|r| c.hidden_for.contains(r)) {
            ComponentState::Hidden
        } else {
            ComponentState::Visible
        })
    }
}

/// Applies a served decision to the instances: a start gets a fresh, unguessable id (bound
/// to `issued`, the session id the same response issues, when the start carried none), a
/// dismissal marks the instance. Returns the id of a started instance.
pub fn apply(instances: &mut BTreeMap<u64, Instance>, effect: Effect, issued: Option<&str>) -> Option<u64> {
    match effect {
        Effect::None => None,
        Effect::Start(mut instance) => {
            let id = new_instance_id(instances);
            if let Some(session) = issued {
                instance.session = Some(session.to_string());
            }
            instances.insert(id, instance);
            Some(id)
        }
        Effect::Dismiss(id) => {
            if let Some(i) = instances.get_mut(&id) {
                i.dismissed = true;
            }
            None
        }
    }
}

fn describe(def: &ResourceDef) -> String {
    format!("{} {}", def.kind.as_str(), def.name)
}

/// Why a request is refused for want of an operation: `via` (who grants what) alone when it
/// grants nothing, else what it grants and the operation that is missing
/// (`process FollowUp grants Outpatient: VIEW, EXECUTE, not SELF_ASSIGN`).
fn lacking(via: &str, ops: &[Operation], missing: Operation) -> String {
    if ops.is_empty() {
        return via.to_string();
    }
    let has: Vec<&str> = ops.iter().map(|o| o.as_str()).collect();
    format!("{via}: {}, not {}", has.join(", "), missing.as_str())
}
