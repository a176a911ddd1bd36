//! Read-only decisions on the tokio worker that received the request.
//!
//! A request whose decision changes nothing (a status, a data read, build info, an event
//! stream's poll, a refusal) is decided where it arrived, from the program and the runtime
//! state as they stand, instead of crossing to the engine thread and back. Everything that
//! writes (a start, a dismiss, an event, a token, the gate, a reset, a reload) stays on the
//! engine thread, which writes the state under its lock: a read sees every write answered
//! before it, so a client always sees its own writes.
//!
//! Only the state kept in memory is read here. A SQLite store's state is read by the engine
//! thread as before, in the transaction that makes every server over the file agree; a
//! request with a bearer token goes there too (its user's roles come from the store).

use std::sync::{Arc, PoisonError, RwLock};

use warden::model::{Program, UserRoleId};
use warden::runtime::{Bearer, Caller, CallerKind, Request, Target};
use warden::store::runtime_state::{decide_read_only, RuntimeState, SharedMemoryRuntimeState};

use super::engine::{After, Auth, Outcome};

/// The program and the state the engine thread writes, for deciding reads beside it.
pub struct Reader {
    program: RwLock<Arc<Program>>,
    state: SharedMemoryRuntimeState,
    quiet: bool,
}

impl Reader {
    /// A reader of `state`, which the engine thread writes.
    pub fn new(program: Arc<Program>, state: SharedMemoryRuntimeState, quiet: bool) -> Reader {
        Reader { program: RwLock::new(program), state, quiet }
    }

    /// The engine reloaded the program.
    pub fn set_program(&self, program: Arc<Program>) {
        *self.program.write().unwrap_or_else(PoisonError::into_inner) = program;
    }

    /// The outcome of a request that changes nothing, decided here; otherwise the session and
    /// the target back, for the engine thread.
    pub fn decide(
        &self,
        auth: &Auth,
        session: Option<String>,
        target: Target,
        after: &After,
    ) -> Result<Outcome, (Option<String>, Target)> {
        let bearer = match auth {
            Auth::None => Bearer::None,
            Auth::Malformed => Bearer::Invalid,
            Auth::Token(_) => return Err((session, target)),
        };
        if matches!(after, After::Event(..)) || matches!(target, Target::StartWorkflow(..)) {
            return Err((session, target));
        }
        let program = self.program.read().unwrap_or_else(PoisonError::into_inner).clone();
        let anonymous: Vec<UserRoleId> = program.app.anonymous.into_iter().collect();
        let caller = Caller { kind: CallerKind::Anonymous, user: None, roles: &anonymous, name: "anonymous" };
        let target_id = match &target {
            Target::Instance(_, id) => Some(*id),
            _ => None,
        };
        let request = Request { target, bearer, session_id: session };
        let state = self.state.read();
        let response = match decide_read_only(&*state, &program, &caller, &request) {
            Ok(Some(response)) => response,
            Ok(None) | Err(_) => {
                drop(state);
                return Err((request.session_id, request.target));
            }
        };
        let mut events = Vec::new();
        if let (200, After::Read { kind, offset }, Some(id)) = (response.status, after, target_id) {
            let Ok(read) = state.events(id, *offset) else {
                drop(state);
                return Err((request.session_id, request.target));
            };
            events = read;
            if let Some(kind) = kind {
                events.retain(|e| &e.kind == kind);
            }
        }
        drop(state);
        if response.status != 200 && !self.quiet {
            eprintln!("warden serve: {} for {}: {}", response.status, caller.name, response.reason);
        }
        Ok(Outcome { response, events })
    }
}
