//! The FlowX runtime: every scenario file passes, anonymous sessions never
//! reach each other's instances, and session ids are unguessable.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on what it did not expect")]

use proptest::prelude::*;
use warden::eval::test::{run_tests_on, Backend};
use warden::eval::Engine;
use warden::runtime::{new_session_id, Bearer, InstanceOp, Request, Target};
use warden::source::Span;
use warden::store::MemoryStore;

const FLOWX: &str = "tests/inputs/runtime/flowx.rules";

fn program() -> warden::model::Program {
    let checked = warden::load::load_paths(&[FLOWX.into()]).unwrap();
    assert!(checked.diagnostics.is_empty());
    checked.program
}

#[test]
fn every_runtime_scenario_passes() {
    let program = program();
    for backend in [Backend::Memory, Backend::Sqlite] {
        let results = run_tests_on(&program, None, backend);
        assert_eq!(results.len(), 18);
        for r in &results {
            assert_eq!(r.outcome, "passed", "{} ({backend:?} store): {:?}", r.name, r.message);
        }
    }
}

#[test]
fn session_ids_are_128_random_bits() {
    let ids: Vec<String> = (0..1000).map(|_| new_session_id()).collect();
    for id in &ids {
        assert_eq!(id.len(), 32);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
    }
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "no id repeats");
    // Not sequential: consecutive ids share no long common prefix on average.
    let shared: usize =
        ids.windows(2).map(|w| w[0].chars().zip(w[1].chars()).take_while(|(a, b)| a == b).count()).sum();
    assert!(shared < 1000, "consecutive ids look related");
}

#[test]
fn the_first_served_anonymous_request_issues_the_session_id() {
    let program = program();
    let mut engine = Engine::new(&program, Box::new(MemoryStore::new()), 0);
    engine.act_as_anonymous(Some("A"), Span::default()).unwrap();
    let themes = Request {
        target: Target::Global(warden::syntax::ast::GlobalEndpoint::Themes),
        bearer: Bearer::None,
        session_id: None,
    };
    assert_eq!(engine.request(&themes).issued_session, None, "themes never issue an id");
    let start = Request { target: Target::StartProcess("PublicOnly".into()), bearer: Bearer::None, session_id: None };
    let first = engine.request(&start);
    assert_eq!(first.status, 200);
    let issued = first.issued_session.clone().expect("an id is issued");
    assert_eq!(engine.carried_session(false), Some(issued.clone()), "the client keeps it");
    let again = Request { session_id: engine.carried_session(false), ..start };
    assert_eq!(engine.request(&again).issued_session, None, "a request carrying an id gets no new one");
    let refused = Request { target: Target::StartProcess("Internal".into()), bearer: Bearer::None, session_id: None };
    engine.act_as_anonymous(Some("B"), Span::default()).unwrap();
    assert_eq!(engine.request(&refused).issued_session, None, "refused requests issue nothing");
}

#[derive(Clone, Debug)]
enum Action {
    Start { session: usize, ui_flow: bool },
    Touch { session: usize, instance: usize, op: u8, without_session: bool },
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        (0usize..4, any::<bool>()).prop_map(|(session, ui_flow)| Action::Start { session, ui_flow }),
        (0usize..4, 0usize..16, 0u8..6, prop::bool::weighted(0.2)).prop_map(
            |(session, instance, op, without_session)| Action::Touch { session, instance, op, without_session }
        ),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Over random interleavings, no session ever gets 200 on an instance another session created,
    /// and a session always reaches its own (until it dismisses them).
    #[test]
    fn sessions_never_reach_each_others_instances(actions in prop::collection::vec(action(), 1..60)) {
        let program = program();
        let mut engine = Engine::new(&program, Box::new(MemoryStore::new()), 0);
        let mut instances: Vec<(u64, usize, bool)> = Vec::new(); // id, creator, dismissed
        for a in actions {
            match a {
                Action::Start { session, ui_flow } => {
                    engine.act_as_anonymous(Some(&format!("s{session}")), Span::default()).unwrap();
                    let target = if ui_flow { Target::StartUiFlow("Apply".into()) } else { Target::StartProcess("PublicOnly".into()) };
                    let r = engine.request(&Request { target, bearer: Bearer::None, session_id: engine.carried_session(false) });
                    prop_assert_eq!(r.status, 200);
                    instances.push((r.instance.unwrap(), session, false));
                }
                Action::Touch { session, instance, op, without_session } => {
                    if instances.is_empty() {
                        continue;
                    }
                    let k = instance % instances.len();
                    let (id, creator, dismissed) = instances[k];
                    engine.act_as_anonymous(Some(&format!("s{session}")), Span::default()).unwrap();
                    let op = match op {
                        0 => InstanceOp::Status,
                        1 => InstanceOp::Data,
                        2 => InstanceOp::Events(None),
                        3 => InstanceOp::Upload,
                        4 => InstanceOp::Action("Go".into()),
                        _ => InstanceOp::Dismiss,
                    };
                    let is_dismiss = op == InstanceOp::Dismiss;
                    let request = Request {
                        target: Target::Instance(op, id),
                        bearer: Bearer::None,
                        session_id: engine.carried_session(without_session),
                    };
                    let r = engine.request(&request);
                    if session != creator || without_session {
                        prop_assert_ne!(r.status, 200, "session {} reached an instance of session {}", session, creator);
                        prop_assert_eq!(r.detail, Some("Anonymous session not found for entity"));
                    } else if dismissed {
                        prop_assert_eq!(r.status, 404);
                    } else {
                        prop_assert_eq!(r.status, 200, "{}", r.reason);
                        if is_dismiss {
                            instances[k].2 = true;
                        }
                    }
                }
            }
        }
    }
}
