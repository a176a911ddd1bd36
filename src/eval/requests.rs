//! Requests from the acting session to the runtime: the session supplies the caller and
//! its session id, [`crate::runtime`] decides, and the engine applies what was decided.

use crate::model::UserRoleId;
use crate::model::{ComponentState, ResourceKind};
use crate::runtime::{self, Bearer, Caller, CallerKind, Request, Response, Runtime};

use super::{Engine, SessionKey};

impl Engine<'_> {
    /// Answers a request from the acting session, in the order of section 8: the runtime
    /// decides, then a served request starts or dismisses its instance and, for the first
    /// served anonymous request without a session id, issues one that the session keeps.
    pub fn request(&mut self, req: &Request) -> Response {
        let name = self.principal_name();
        let roles: Vec<UserRoleId> = self.session().roles.clone();
        let caller = self.caller(&name, &roles);
        let decision =
            Runtime { program: self.program, access: self.access, instances: &self.instances }.decide(&caller, req);
        self.cover_request(req, &roles);
        let mut response = decision.response;
        let issued = decision.issues_session.then(runtime::new_session_id);
        if let Some(id) = runtime::apply(&mut self.instances, decision.effect, issued.as_deref()) {
            response.instance = Some(id);
        }
        if let Some(id) = &issued {
            if self.session().runtime_id.is_none() {
                self.session_mut().runtime_id = Some(id.clone());
            }
        }
        response.issued_session = issued;
        response
    }

    /// The session id a request from the acting session carries.
    pub fn carried_session(&self, without_session: bool) -> Option<String> {
        if without_session || !self.is_anonymous() {
            return None;
        }
        self.session().runtime_id.clone()
    }

    /// Records, for coverage, the permissions of the caller's roles on the resource a request is about.
    fn cover_request(&self, req: &Request, roles: &[UserRoleId]) {
        let resource = match &req.target {
            runtime::Target::StartProcess(name) => self.program.resource_by_name(ResourceKind::Process, name),
            runtime::Target::StartUiFlow(name) => self.program.resource_by_name(ResourceKind::UiFlow, name),
            runtime::Target::Instance(_, id) => self.instances.get(id).map(|i| i.resource),
            runtime::Target::ResourceDataModelPaths(kind, name) => self.program.resource_by_name(*kind, name),
            runtime::Target::StartWorkflow(..) | runtime::Target::Global(_) => None,
        };
        let Some(resource) = resource else {
            // What these consult is the runtime's business: count every resource as touched.
            let all = self.program.resources.len();
            self.cover(|h| h.resources.extend(0..all));
            return;
        };
        let def = &self.program.resources[resource.index()];
        self.cover(|h| {
            h.resources.insert(resource.index());
            for (role, _) in def.roles.iter().filter(|(r, _)| roles.contains(r)) {
                h.permissions.insert((resource.index(), role.0));
            }
        });
    }

    /// The state of a component for the acting principal: disable wins over hide.
    pub fn component_state(&self, kind: ResourceKind, resource: &str, component: &str) -> Option<ComponentState> {
        if let Some(r) = self.program.resource_by_name(kind, resource) {
            let at = self.program.resources[r.index()].components.iter().position(|c| c.name == component);
            if let Some(c) = at {
                self.cover(|h| {
                    h.components.insert((r.index(), c));
                });
            }
        }
        let name = self.principal_name();
        let caller = self.caller(&name, &self.session().roles);
        Runtime { program: self.program, access: self.access, instances: &self.instances }
            .component_state(&caller, kind, resource, component)
    }

    /// The acting session as the runtime sees it.
    fn caller<'a>(&self, name: &'a str, roles: &'a [UserRoleId]) -> Caller<'a> {
        let kind = match self.current {
            SessionKey::System => CallerKind::System,
            SessionKey::User(_) => CallerKind::User,
            SessionKey::Anonymous(_) => CallerKind::Anonymous,
        };
        Caller { kind, user: self.session().user, roles, name }
    }
}

/// A bearer for a request of the acting session: anonymous sessions send none.
pub(crate) fn bearer_of(engine: &Engine<'_>, invalid_token: bool) -> Bearer {
    if invalid_token {
        Bearer::Invalid
    } else if engine.is_anonymous() {
        Bearer::None
    } else {
        Bearer::Valid
    }
}
