#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on what it did not expect")]
//! The runtime state `warden serve` keeps beside a store: in memory and in SQLite tables, the
//! same decisions through `runtime::Runtime::decide`; an instance is found by its resource's
//! name after a reload, never as another resource that took its index.

use warden::model::{AccessLevel, InstanceOp, Program};
use warden::runtime::{Bearer, Caller, CallerKind, Request, Target};
use warden::source::SourceMap;
use warden::store::runtime_state::{MemoryRuntimeState, RuntimeState, SqliteRuntimeState};

const RULES: &str = "
module Forms { module role Public }
user role Anonymous: Forms.Public
app Forms { access: public  anonymous: Anonymous }
process A { roles { Anonymous: VIEW, EXECUTE } }
process B { roles { Anonymous: VIEW } }
";

fn program(text: &str) -> Program {
    let mut sources = SourceMap::new();
    sources.add("forms.rules", text);
    let checked = warden::load::load(sources);
    assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
    checked.program
}

fn ask(
    state: &mut dyn RuntimeState,
    program: &Program,
    target: Target,
    session: Option<&str>,
) -> (u16, Option<u64>, Option<String>) {
    let roles: Vec<_> = program.app.anonymous.into_iter().collect();
    let caller = Caller { kind: CallerKind::Anonymous, user: None, roles: &roles, name: "anonymous" };
    let req = Request { target, bearer: Bearer::None, session_id: session.map(str::to_string) };
    let r = state.decide(program, &caller, &req, &mut |_, _| Ok(())).unwrap();
    (r.status, r.instance, r.issued_session)
}

fn exercise(state: &mut dyn RuntimeState) {
    let p = program(RULES);
    let (status, pi, issued) = ask(state, &p, Target::StartProcess("A".into()), None);
    assert_eq!(status, 200);
    let (pi, session) = (pi.unwrap(), issued.unwrap());
    assert_eq!(ask(state, &p, Target::Instance(InstanceOp::Status, pi), Some(&session)).0, 200);
    assert_eq!(ask(state, &p, Target::Instance(InstanceOp::Status, pi), Some("other")).0, 403);
    assert_eq!(ask(state, &p, Target::Instance(InstanceOp::Status, pi), None).0, 403);
    state.push_event(pi, "STARTED", "{}").unwrap();
    state.push_event(pi, "UI_ACTION", "{}").unwrap();
    let events = state.events(pi, 1).unwrap();
    assert_eq!((events.len(), events[0].offset, events[0].kind.as_str()), (1, 1, "UI_ACTION"));
    // A reload that drops process A (and puts B at its index): the instance is gone, not B's.
    let reloaded = program(&RULES.replace("process A { roles { Anonymous: VIEW, EXECUTE } }\n", ""));
    assert!(state.instance(&reloaded, pi).unwrap().is_none());
    assert_eq!(ask(state, &reloaded, Target::Instance(InstanceOp::Status, pi), Some(&session)).0, 404);
    // The gate.
    state.set_access(AccessLevel::Invited).unwrap();
    assert_eq!(state.access(&p).unwrap(), AccessLevel::Invited);
    assert_eq!(ask(state, &p, Target::Instance(InstanceOp::Status, pi), Some(&session)).0, 403);
    state.reset().unwrap();
    assert_eq!(state.access(&p).unwrap(), AccessLevel::Public);
    assert_eq!(ask(state, &p, Target::Instance(InstanceOp::Status, pi), Some(&session)).0, 404);
    // Dismissal.
    let (_, pi, issued) = ask(state, &p, Target::StartProcess("A".into()), None);
    let (pi, session) = (pi.unwrap(), issued.unwrap());
    assert_eq!(ask(state, &p, Target::Instance(InstanceOp::Dismiss, pi), Some(&session)).0, 200);
    assert_eq!(ask(state, &p, Target::Instance(InstanceOp::Status, pi), Some(&session)).0, 404);
}

#[test]
fn the_memory_state_decides_as_the_runtime() {
    exercise(&mut MemoryRuntimeState::new());
}

#[test]
fn the_sqlite_state_decides_as_the_runtime() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("runtime-state-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("state.db");
    rusqlite::Connection::open(&db).unwrap();
    exercise(&mut SqliteRuntimeState::open(&db).unwrap());
    // A second connection sees what the first wrote.
    let p = program(RULES);
    let mut one = SqliteRuntimeState::open(&db).unwrap();
    let (_, pi, issued) = ask(&mut one, &p, Target::StartProcess("A".into()), None);
    let mut two = SqliteRuntimeState::open(&db).unwrap();
    assert_eq!(ask(&mut two, &p, Target::Instance(InstanceOp::Status, pi.unwrap()), issued.as_deref()).0, 200);
}
