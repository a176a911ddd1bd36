#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on what it did not expect")]
//! The runtime state `warden serve` keeps beside a store: in memory and in SQLite tables, the
//! same decisions through `runtime::Runtime::decide`; an instance is found by its resource's
//! name after a reload, never as another resource that took its index.

use warden::model::{AccessLevel, GlobalEndpoint, InstanceOp, Program, ResourceKind};
use warden::runtime::{Bearer, Caller, CallerKind, Request, Target};
use warden::source::SourceMap;
use warden::store::runtime_state::{
    decide_read_only, MemoryRuntimeState, RuntimeState, SharedMemoryRuntimeState, SqliteRuntimeState,
};

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
    // A sign-in's new id: the session's instances follow it, and no other session's.
    let (_, mine, issued) = ask(state, &p, Target::StartProcess("A".into()), None);
    let (mine, old) = (mine.unwrap(), issued.unwrap());
    let (_, theirs, issued) = ask(state, &p, Target::StartProcess("A".into()), None);
    let (theirs, other) = (theirs.unwrap(), issued.unwrap());
    assert_eq!(state.rebind_session(&old, "new-id").unwrap(), 1);
    assert_eq!(ask(state, &p, Target::Instance(InstanceOp::Status, mine), Some("new-id")).0, 200);
    assert_eq!(ask(state, &p, Target::Instance(InstanceOp::Status, mine), Some(&old)).0, 403);
    assert_eq!(ask(state, &p, Target::Instance(InstanceOp::Status, theirs), Some("new-id")).0, 403);
    assert_eq!(ask(state, &p, Target::Instance(InstanceOp::Status, theirs), Some(&other)).0, 200);
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

#[test]
fn the_shared_memory_state_decides_as_the_runtime() {
    let mut state = SharedMemoryRuntimeState::new();
    exercise(&mut state);
    // A clone is the same state: what one writes, the other reads.
    let p = program(RULES);
    let (_, pi, issued) = ask(&mut state.clone(), &p, Target::StartProcess("A".into()), None);
    assert_eq!(ask(&mut state, &p, Target::Instance(InstanceOp::Status, pi.unwrap()), issued.as_deref()).0, 200);
    assert!(state.read().instance(&p, pi.unwrap()).unwrap().is_some());
}

/// `decide_read_only` answers exactly as `decide` wherever it answers, and only where `decide`
/// changes nothing; where it declines, `decide` changes the state. Random requests (starts,
/// reads, dismisses, refusals, bad sessions and bearers, the gate flipping) over one state.
#[test]
fn read_only_decisions_are_the_decisions_that_change_nothing() {
    let p = program(&format!("{RULES}ui flow F {{ roles {{ Anonymous: VIEW, EXECUTE }} }}\n"));
    let roles: Vec<_> = p.app.anonymous.into_iter().collect();
    let caller = Caller { kind: CallerKind::Anonymous, user: None, roles: &roles, name: "anonymous" };
    let mut state = MemoryRuntimeState::new();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let (mut instances, mut sessions): (Vec<u64>, Vec<String>) = (vec![0, 12345], vec!["nobody".into()]);
    let (mut answered, mut declined) = (0, 0);
    for _ in 0..3000 {
        if next(40) == 0 {
            let access = if next(2) == 0 { AccessLevel::Public } else { AccessLevel::Invited };
            state.set_access(access).unwrap();
        }
        let id = instances[usize::try_from(next(instances.len() as u64)).unwrap()];
        let op = match next(9) {
            0 => InstanceOp::Status,
            1 => InstanceOp::Data,
            2 => InstanceOp::DataModelPaths,
            3 => InstanceOp::BuildInfo,
            4 => InstanceOp::Events(None),
            5 => InstanceOp::Events(Some("UI_ACTION".into())),
            6 => InstanceOp::Action("submit".into()),
            7 => InstanceOp::Upload,
            _ => InstanceOp::Dismiss,
        };
        let target = match next(8) {
            0 => Target::StartProcess(["A", "B", "Nope"][usize::try_from(next(3)).unwrap()].into()),
            1 => Target::StartUiFlow("F".into()),
            2 => Target::Global(
                [GlobalEndpoint::BuildInfo, GlobalEndpoint::Themes, GlobalEndpoint::Tasks, GlobalEndpoint::Media]
                    [usize::try_from(next(4)).unwrap()],
            ),
            3 => Target::ResourceDataModelPaths(ResourceKind::Process, "B".into()),
            _ => Target::Instance(op, id),
        };
        let session = match next(4) {
            0 => None,
            _ => Some(sessions[usize::try_from(next(sessions.len() as u64)).unwrap()].clone()),
        };
        let bearer = [Bearer::None, Bearer::None, Bearer::None, Bearer::Invalid][usize::try_from(next(4)).unwrap()];
        let req = Request { target, bearer, session_id: session };
        let read = decide_read_only(&state, &p, &caller, &req).unwrap();
        let before = format!("{state:?}");
        let served = state.decide(&p, &caller, &req, &mut |_, _| Ok(())).unwrap();
        let changed = format!("{state:?}") != before;
        match read {
            Some(read) => {
                answered += 1;
                assert!(!changed, "{req:?} changed the state but was answered read-only");
                assert_eq!(
                    (read.status, read.detail, &read.reason, read.instance, read.issued_session.is_some()),
                    (served.status, served.detail, &served.reason, served.instance, served.issued_session.is_some()),
                    "{req:?}"
                );
            }
            None => {
                declined += 1;
                assert!(changed, "{req:?} changed nothing but was not answered read-only: {served:?}");
            }
        }
        if let Some(pi) = served.instance {
            instances.push(pi);
        }
        sessions.extend(served.issued_session);
    }
    assert!(answered > 1000 && declined > 100, "answered {answered}, declined {declined}");
}
