//! The FlowX runtime (sections 7 and 8): requests to processes, UI flows and
//! build assets, judged by two gates (the app shared publicly, the resource
//! granting the anonymous role), bearer tokens first, and anonymous sessions
//! bound to the instances they create.
//!
//! [`Engine::request`] takes a [`Request`] and gives a [`Response`]; test
//! blocks, `eval` and the REPL all go through it.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::eval::{Engine, SessionKey};
pub use crate::model::InstanceOp;
use crate::model::*;
use crate::syntax::ast::{AccessLevel, ComponentState, GlobalEndpoint, ResourceKind};

/// `You don't have access to this feature.`
pub const NO_ACCESS: &str = "You don't have access to this feature.";
/// `Anonymous access not enabled for this application`
pub const ANONYMOUS_DISABLED: &str = "Anonymous access not enabled for this application";
/// `Anonymous session not found for entity`
pub const SESSION_NOT_FOUND: &str = "Anonymous session not found for entity";
/// `Full authentication is required to access this resource`
pub const AUTHENTICATION_REQUIRED: &str = "Full authentication is required to access this resource";

/// The generic event types anonymous sessions may stream.
pub const ANONYMOUS_EVENT_TYPES: [&str; 3] =
    ["UI_FLOW_WORKFLOW_RESPONSE", "UI_FLOW_FILE_UPLOAD", "UI_FLOW_FILE_UPLOAD_MULTIPLE"];

/// A process instance or UI flow session.
#[derive(Clone, Debug)]
pub struct Instance {
    /// Process or UI flow.
    pub kind: ResourceKind,
    /// Which one.
    pub resource: ResourceId,
    /// The anonymous session id it was created with (none for authenticated starts).
    pub session: Option<String>,
    /// The signed-in user who started it while acting as the anonymous role (scenario 1b):
    /// only that user reaches it as anonymous.
    pub started_as_anonymous_by: Option<crate::store::ObjectId>,
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
pub fn new_session_id() -> String {
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes).expect("the operating system's random generator");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A fresh, unguessable instance id.
fn new_instance_id(existing: &BTreeMap<u64, Instance>) -> u64 {
    loop {
        let mut bytes = [0u8; 8];
        getrandom::getrandom(&mut bytes).expect("the operating system's random generator");
        let id = u64::from_le_bytes(bytes) >> 1;
        if id != 0 && !existing.contains_key(&id) {
            return id;
        }
    }
}

impl Engine<'_> {
    /// Answers a request from the acting session, in the order of section 8.
    pub fn request(&mut self, req: &Request) -> Response {
        let mut response = self.decide(req);
        if response.status == 200 {
            self.issue_session(req, &mut response);
        }
        response
    }

    /// The session id a request from the acting session carries.
    pub fn carried_session(&self, without_session: bool) -> Option<String> {
        if without_session || !self.is_anonymous() {
            return None;
        }
        self.session().runtime_id.clone()
    }

    /// The first served anonymous request without a session id issues one (themes and fonts never do).
    fn issue_session(&mut self, req: &Request, response: &mut Response) {
        let global_public = matches!(req.target, Target::Global(GlobalEndpoint::Themes | GlobalEndpoint::Fonts));
        if req.bearer != Bearer::None || req.session_id.is_some() || global_public || !self.is_anonymous() {
            return;
        }
        let id = new_session_id();
        if let Some(instance) = response.instance.and_then(|i| self.instances.get_mut(&i)) {
            instance.session = Some(id.clone());
        }
        if self.session().runtime_id.is_none() {
            self.session_mut().runtime_id = Some(id.clone());
        }
        response.issued_session = Some(id);
    }

    fn decide(&mut self, req: &Request) -> Response {
        let global_public = matches!(req.target, Target::Global(GlobalEndpoint::Themes | GlobalEndpoint::Fonts));
        if global_public {
            return Response::ok("themes and fonts are public to everyone");
        }
        match req.bearer {
            Bearer::Invalid => {
                Response::refuse(401, None, "the bearer token is invalid or expired; there is no fallback to anonymous")
            }
            Bearer::Valid => self.decide_authenticated(req),
            Bearer::None if !self.is_anonymous() => {
                // A user or system principal always sends its bearer.
                self.decide_authenticated(req)
            }
            Bearer::None => self.decide_anonymous(req),
        }
    }

    /// The operations the acting principal holds on a resource, and which role gave them.
    /// Whether a signed-in user acts as the anonymous role on a resource (scenario 1b): the
    /// app is public, the resource grants the anonymous role, and none of the user's roles.
    pub fn acts_as_anonymous(&self, resource: ResourceId) -> bool {
        let def = &self.program.resources[resource.index()];
        let Some(anonymous) = self.program.app.anonymous else { return false };
        !self.is_system()
            && !self.is_anonymous()
            && self.access == AccessLevel::Public
            && def.roles.iter().any(|(r, _)| *r == anonymous)
            && !self.session().roles.iter().any(|role| def.roles.iter().any(|(r, _)| r == role))
    }

    fn operations(&self, resource: ResourceId) -> (Vec<Operation>, String) {
        let def = &self.program.resources[resource.index()];
        if self.is_system() {
            return (Operation::ALL.to_vec(), "system has every operation".into());
        }
        let roles = &self.session().roles;
        let anonymous = self.program.app.anonymous;
        let grants = |role: UserRoleId| def.roles.iter().find(|(r, _)| *r == role).map(|(_, ops)| ops.clone());
        if self.is_anonymous() {
            let role = anonymous.expect("anonymous sessions exist only with an anonymous role");
            let name = &self.program.user_role(role).name;
            return match grants(role) {
                Some(ops) => (ops, format!("{} grants the anonymous role {name}", describe(def))),
                None => (Vec::new(), format!("{} does not grant the anonymous role {name}", describe(def))),
            };
        }
        let mut ops: Vec<Operation> = Vec::new();
        let mut via = Vec::new();
        for role in roles {
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
        (Vec::new(), format!("{} grants none of {}'s roles", describe(def), self.principal_name()))
    }

    fn decide_authenticated(&mut self, req: &Request) -> Response {
        match &req.target {
            Target::Global(_) => Response::ok("signed-in users reach every endpoint"),
            Target::StartProcess(name) | Target::StartUiFlow(name) => {
                let kind = if matches!(req.target, Target::StartProcess(_)) {
                    ResourceKind::Process
                } else {
                    ResourceKind::UiFlow
                };
                self.start(kind, name, None)
            }
            Target::StartWorkflow(_, parent) => self.on_instance(*parent, Operation::Execute, None, false, true),
            Target::Instance(op, id) => {
                if op.restricted() {
                    // Even a restricted stream answers a 1b user only on its own instances.
                    if let Some(refused) = self.instances.get(id).and_then(|i| self.not_started_as_anonymous(i)) {
                        return refused;
                    }
                    return Response::ok("signed-in users reach restricted streams");
                }
                self.instance_op(op, *id, None, false)
            }
        }
    }

    fn decide_anonymous(&mut self, req: &Request) -> Response {
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
        match &req.target {
            Target::Global(_) => Response::ok("a public build serves its assets"),
            Target::StartProcess(name) => self.start(ResourceKind::Process, name, req.session_id.clone()),
            Target::StartUiFlow(name) => self.start(ResourceKind::UiFlow, name, req.session_id.clone()),
            Target::StartWorkflow(_, parent) => {
                self.on_instance(*parent, Operation::Execute, req.session_id.as_deref(), true, true)
            }
            Target::Instance(op, id) => self.instance_op(op, *id, req.session_id.as_deref(), true),
        }
    }

    fn start(&mut self, kind: ResourceKind, name: &str, session: Option<String>) -> Response {
        let Some(resource) = self.program.resource_by_name(kind, name) else {
            return Response::refuse(404, None, format!("no {} named {name}", kind.as_str()));
        };
        let (ops, via) = self.operations(resource);
        let needed: &[Operation] = if kind == ResourceKind::Process {
            &[Operation::Execute, Operation::SelfAssign]
        } else {
            &[Operation::Execute]
        };
        if let Some(missing) = needed.iter().find(|op| !ops.contains(op)) {
            return Response::refuse(403, Some(NO_ACCESS), format!("{via}, without {}", missing.as_str()));
        }
        let id = new_instance_id(&self.instances);
        let bound = if self.is_anonymous() { session } else { None };
        let by = if self.acts_as_anonymous(resource) { self.session().user } else { None };
        self.instances
            .insert(id, Instance { kind, resource, session: bound, started_as_anonymous_by: by, dismissed: false });
        let mut response = Response::ok(format!(
            "{via}, with {}",
            needed.iter().map(|o| o.as_str()).collect::<Vec<_>>().join(" and ")
        ));
        response.instance = Some(id);
        response
    }

    fn instance_op(&mut self, op: &InstanceOp, id: u64, session: Option<&str>, anonymous: bool) -> Response {
        let response = self.on_instance(id, op.needs(), session, anonymous, false);
        if response.status == 200 && *op == InstanceOp::Dismiss {
            if let Some(i) = self.instances.get_mut(&id) {
                i.dismissed = true;
            }
        }
        response
    }

    /// The checks on an instance: the role's operation, the creating session, dismissal.
    fn on_instance(
        &mut self,
        id: u64,
        needs: Operation,
        session: Option<&str>,
        anonymous: bool,
        workflow: bool,
    ) -> Response {
        let Some(instance) = self.instances.get(&id).cloned() else {
            return Response::refuse(404, None, "no such instance");
        };
        if workflow && instance.kind != ResourceKind::UiFlow {
            return Response::refuse(403, Some(NO_ACCESS), "a workflow starts from a UI flow session");
        }
        let (ops, via) = self.operations(instance.resource);
        if !ops.contains(&needs) {
            return Response::refuse(403, Some(NO_ACCESS), format!("{via}, without {}", needs.as_str()));
        }
        if let Some(refused) = self.not_started_as_anonymous(&instance).filter(|_| !anonymous) {
            return refused;
        }
        if anonymous && (instance.session.is_none() || instance.session.as_deref() != session) {
            let why = if session.is_none() {
                "the request carries no session id"
            } else {
                "the instance was started by another session"
            };
            return Response::refuse(403, Some(SESSION_NOT_FOUND), why);
        }
        if instance.dismissed {
            return Response::refuse(404, None, "the instance was dismissed");
        }
        Response::ok(format!("{via}, with {}", needs.as_str()))
    }

    /// A signed-in user acting as anonymous on the instance's resource (scenario 1b) reaches
    /// only the instances it started so: the refusal of any other, else `None`.
    fn not_started_as_anonymous(&self, instance: &Instance) -> Option<Response> {
        if !self.acts_as_anonymous(instance.resource) {
            return None;
        }
        let by = instance.started_as_anonymous_by;
        if by.is_some() && by == self.session().user {
            return None;
        }
        Some(Response::refuse(
            403,
            Some(SESSION_NOT_FOUND),
            "the user acts as the anonymous role here, and another session started the instance",
        ))
    }

    /// The state of a component for the acting principal: disable wins over hide.
    pub fn component_state(&self, kind: ResourceKind, resource: &str, component: &str) -> Option<ComponentState> {
        let id = self.program.resource_by_name(kind, resource)?;
        let def = &self.program.resources[id.index()];
        let c = def.components.iter().find(|c| c.name == component)?;
        let roles: Vec<UserRoleId> = match &self.current {
            SessionKey::System => Vec::new(),
            // Acting as the anonymous role here (scenario 1b): its conditions apply.
            _ if self.acts_as_anonymous(id) => self.program.app.anonymous.into_iter().collect(),
            _ => self.session().roles.clone(),
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

fn describe(def: &ResourceDef) -> String {
    format!("{} {}", def.kind.as_str(), def.name)
}
