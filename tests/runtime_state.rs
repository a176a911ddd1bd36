#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on what it did not expect")]
//! The runtime state `warden serve` keeps beside a store: in memory, in SQLite tables and in
//! PostgreSQL tables, the same decisions through `runtime::Runtime::decide`; an instance is found by its resource's
//! name after a reload, never as another resource that took its index.

use warden::model::{AccessLevel, GlobalEndpoint, InstanceOp, Program, ResourceKind};
use warden::runtime::{Bearer, Caller, CallerKind, Request, Target};
use warden::source::SourceMap;
use warden::store::runtime_state::{
    decide_read_only, MemoryRuntimeState, RuntimeState, SharedMemoryRuntimeState, SqliteRuntimeState, Token,
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
    // Tokens: recorded, replaced by a later sign-in of the same token, kept by a reset.
    state.add_token("t0", "carl", 5).unwrap();
    state.add_token("t0", "maria", i64::MAX).unwrap();
    assert_eq!(state.token("t0").unwrap(), Some(Token { user: "maria".into(), expires: i64::MAX }));
    assert_eq!(state.token("t1").unwrap(), None);
    state.reset().unwrap();
    assert_eq!(state.token("t0").unwrap().map(|t| t.user), Some("maria".into()));
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

/// What every state shared by processes does: [`exercise`] over one connection, then what one
/// connection writes the next one opened reads, and decisions on several connections at once
/// (threads standing for servers) run one at a time: every start gets its own instance, and
/// the events each decision logs on one instance get the offsets 0, 1, 2... with none lost.
fn shared_by_connections(open: &(dyn Fn() -> Box<dyn RuntimeState> + Sync)) {
    exercise(&mut *open());
    let p = program(RULES);
    let mut one = open();
    let (_, pi, issued) = ask(&mut *one, &p, Target::StartProcess("A".into()), None);
    let (pi, session) = (pi.unwrap(), issued.unwrap());
    let mut two = open();
    assert_eq!(ask(&mut *two, &p, Target::Instance(InstanceOp::Status, pi), Some(&session)).0, 200);
    let (threads, each) = (4, 25);
    let started: Vec<u64> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let (p, session) = (&p, &session);
                scope.spawn(move || {
                    let mut state = open();
                    let roles: Vec<_> = p.app.anonymous.into_iter().collect();
                    let caller = Caller { kind: CallerKind::Anonymous, user: None, roles: &roles, name: "anonymous" };
                    let mut mine = Vec::new();
                    for i in 0..each {
                        let status = Request {
                            target: Target::Instance(InstanceOp::Status, pi),
                            bearer: Bearer::None,
                            session_id: Some(session.clone()),
                        };
                        let data = format!("{{\"thread\": {t}, \"i\": {i}}}");
                        let r = state
                            .decide(p, &caller, &status, &mut |s, _| s.push_event(pi, "UI_ACTION", &data))
                            .unwrap();
                        assert_eq!(r.status, 200);
                        mine.extend(ask(&mut *state, p, Target::StartProcess("A".into()), None).1);
                    }
                    mine
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().unwrap()).collect()
    });
    let events = one.events(pi, 0).unwrap();
    let offsets: Vec<u64> = events.iter().map(|e| e.offset).collect();
    assert_eq!(offsets, (0..threads * each).collect::<Vec<u64>>());
    let mut logged: Vec<&str> = events.iter().map(|e| e.data.as_str()).collect();
    logged.sort_unstable();
    logged.dedup();
    assert_eq!(logged.len(), events.len(), "every decision's event is there once");
    let mut distinct = started.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!((started.len(), distinct.len()), (threads as usize * each as usize, started.len()));
    assert!(started.iter().all(|pi| two.instance(&p, *pi).unwrap().is_some()));
}

#[test]
fn the_sqlite_state_decides_as_the_runtime() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("runtime-state-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("state.db");
    rusqlite::Connection::open(&db).unwrap();
    shared_by_connections(&|| Box::new(SqliteRuntimeState::open(&db).unwrap()));
}

/// The same over PostgreSQL, in a schema of its own with a random name (dropped at the end),
/// in the database of `WARDEN_TEST_POSTGRES` (as tests/postgres.rs; `WARDEN_SKIP_POSTGRES=1`
/// skips it visibly when there is no server).
#[cfg(feature = "postgres")]
#[test]
fn the_postgres_state_decides_as_the_runtime() {
    use warden::store::pg_runtime::PgRuntimeState;
    let url = std::env::var("WARDEN_TEST_POSTGRES")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".into());
    let mut client = match warden::store::postgres::connect(&url) {
        Ok(c) => c,
        Err(e) if std::env::var("WARDEN_SKIP_POSTGRES").as_deref() == Ok("1") => {
            println!("skipped: the PostgreSQL runtime state: no PostgreSQL ({e}); WARDEN_SKIP_POSTGRES=1 is set");
            return;
        }
        Err(e) => panic!("the PostgreSQL runtime state needs PostgreSQL at {url} (or WARDEN_SKIP_POSTGRES=1): {e}"),
    };
    struct Scratch(String, String);
    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = warden::store::postgres::drop_schema(&self.1, &self.0);
        }
    }
    let mut bytes = [0u8; 6];
    getrandom::getrandom(&mut bytes).unwrap();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let schema = Scratch(format!("warden_test_runtime_{hex}"), url.clone());
    client.batch_execute(&format!("CREATE SCHEMA {}", schema.0)).unwrap();
    shared_by_connections(&|| Box::new(PgRuntimeState::open(&url, &schema.0).unwrap()));
    // The tables are in that schema, named as over SQLite.
    let rows = client
        .query(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1",
            &[&schema.0],
        )
        .unwrap();
    let tables: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(
        tables,
        ["warden_runtime_events", "warden_runtime_gate", "warden_runtime_instances", "warden_runtime_tokens"]
    );
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
