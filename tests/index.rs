//! The indexed path and the plain scan give the same answers: random stores
//! and rules, random sequences of changes, commits, deletes and rollbacks,
//! with every statement's outcome compared between the two engines.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on what it did not expect")]

use proptest::prelude::*;
use warden::eval::{Engine, Plan, Vars};
use warden::source::SourceMap;
use warden::store::MemoryStore;

const PROGRAM: &str = r#"
module Docs {
  enumeration Stage { Draft, Open }
  entity Doc {
    stores owner
    Level: Integer = 0
    Stage: Stage = Draft
    Pinned: Boolean = false
  }
  entity Secret extends Doc { Code: String }
  entity Tag { Name: String }
  association Doc_Tag: Doc ->* Tag
  association Doc_Reviewer: Doc -> System.User
  module role Writer
  module role Reviewer
  module role Public
  access Doc for Writer {
    create
    delete
    write Level
    where [System.owner = '[%CurrentUser%]']
  }
  access Doc for Reviewer {
    read Level
    where [Docs.Doc_Reviewer = '[%CurrentUser%]'][Level > 2]
  }
  access Secret for Writer {
    create
    write Code
    where [System.owner = '[%CurrentUser%]']
  }
  access Doc for Public {
    read Level
    where [Level > 7]
  }
  module role Reader
  access Doc for Reader {
    read Level
    where [Stage = 'Open']
  }
  access Doc for Reader {
    read Level
    where [Pinned = true()]
  }
  access Tag for Writer, Reviewer { read Name }
}
user role W: Docs.Writer
user role R: Docs.Reviewer
user role WR: Docs.Writer, Docs.Reviewer
user role Guest: Docs.Public
user role Rd: Docs.Reader
app Docs {
  access: public
  anonymous: Guest
}
"#;

#[derive(Clone, Debug)]
enum Op {
    As(u8),
    Create { level: u8, secret: bool },
    Reassign { doc: u8, user: u8 },
    Review { doc: u8, user: u8 },
    Delete(u8),
    FailingChange(u8),
    Rollback(u8),
    Restage { doc: u8, open: bool, pinned: bool },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..7).prop_map(Op::As),
        (0u8..10, any::<bool>()).prop_map(|(level, secret)| Op::Create { level, secret }),
        (0u8..12, 0u8..4).prop_map(|(doc, user)| Op::Reassign { doc, user }),
        (0u8..12, 0u8..4).prop_map(|(doc, user)| Op::Review { doc, user }),
        (0u8..12).prop_map(Op::Delete),
        (0u8..12).prop_map(Op::FailingChange),
        (0u8..12).prop_map(Op::Rollback),
        (0u8..12, any::<bool>(), any::<bool>()).prop_map(|(doc, open, pinned)| Op::Restage { doc, open, pinned }),
    ]
}

const USERS: [&str; 5] = ["w1", "w2", "r1", "wr", "rd"];

fn principal(k: u8) -> String {
    match k {
        0..=4 => format!("as {}", USERS[k as usize]),
        5 => "as anonymous 'A'".into(),
        _ => "as system".into(),
    }
}

/// The statements of a run: users first, then the operations, each followed by the questions.
fn script(ops: &[Op]) -> Vec<String> {
    let mut out =
        vec!["given { user w1: W  user w2: W  user r1: R  user wr: WR  user rd: Rd  let $t = create Docs.Tag { Name = 'x' } }"
            .to_string()];
    let mut docs = 0u8;
    let questions = [
        "count(retrieve Docs.Doc)",
        "retrieve Docs.Doc",
        "retrieve Docs.Secret",
        "count(retrieve Docs.Doc [System.owner = $currentUser])",
        "count(retrieve Docs.Doc [Docs.Doc_Reviewer = $r1][Level > 1])",
        "retrieve Docs.Doc [Stage = 'Open']",
        "count(retrieve Docs.Doc [Pinned = false()][Level > 3])",
        "retrieve Docs.Doc [3 >= Level]",
        "count(retrieve Docs.Doc [Level != 4])",
    ];
    for o in ops {
        let needs_doc = !matches!(o, Op::As(_) | Op::Create { .. });
        if needs_doc && docs == 0 {
            continue;
        }
        match o {
            Op::As(k) => out.push(principal(*k)),
            Op::Create { level, secret } => {
                let entity = if *secret { "Docs.Secret" } else { "Docs.Doc" };
                let stage = if level % 2 == 0 { "Draft" } else { "Open" };
                out.push(format!(
                    "let $d{docs} = create {entity} {{ Level = {level}, Stage = Docs.Stage.{stage}, Pinned = {} }}",
                    level % 3 == 0
                ));
                out.push(format!("commit $d{docs}"));
                docs += 1;
            }
            Op::Reassign { doc, user } => out.push(format!(
                "given {{ change $d{} {{ System.owner = ${} }}  commit $d{} }}",
                doc % docs.max(1),
                USERS[*user as usize],
                doc % docs.max(1)
            )),
            Op::Review { doc, user } => out.push(format!(
                "given {{ change $d{} {{ Docs.Doc_Reviewer = ${}, Docs.Doc_Tag += $t }}  commit $d{} }}",
                doc % docs.max(1),
                USERS[*user as usize],
                doc % docs.max(1)
            )),
            Op::Delete(doc) => out.push(format!("delete $d{}", doc % docs.max(1))),
            Op::FailingChange(doc) => out.push(format!(
                "expect error {{ change $d{} {{ Level = 9 }}  commit $d{}  error 'boom' }}",
                doc % docs.max(1),
                doc % docs.max(1)
            )),
            Op::Restage { doc, open, pinned } => out.push(format!(
                "given {{ change $d{0} {{ Stage = Docs.Stage.{1}, Pinned = {2} }}  commit $d{0} }}",
                doc % docs.max(1),
                if *open { "Open" } else { "Draft" },
                pinned
            )),
            Op::Rollback(doc) => {
                out.push(format!("change $d{} {{ Level = 1 }}", doc % docs.max(1)));
                out.push(format!("rollback $d{}", doc % docs.max(1)));
            }
        }
        out.extend(questions.iter().map(|q| q.to_string()));
    }
    out
}

fn outcomes(program: &warden::model::Program, stmts: &[warden::model::flow::Stmt], plan: Plan) -> Vec<String> {
    let mut engine = Engine::new(program, Box::new(MemoryStore::new()), 0);
    engine.set_plan(plan);
    let mut vars = Vars::new();
    stmts
        .iter()
        .map(|s| match engine.run_top(s, &mut vars) {
            Ok(warden::eval::Outcome::Value(v)) => engine.show(&v),
            Ok(other) => format!("{other:?}"),
            Err(e) => format!("error {}: {}", e.code, e.message),
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(150))]

    #[test]
    fn planned_and_naive_retrieves_agree(ops in prop::collection::vec(op(), 1..30)) {
        let mut sources = SourceMap::new();
        sources.add("docs.rules", PROGRAM);
        let checked = warden::load::load(sources);
        prop_assert!(checked.diagnostics.is_empty(), "{:?}", checked.diagnostics);
        let mut program = checked.program;
        let text = script(&ops).join("\n");
        let file = program.sources.add("script", text.clone());
        let stmts = warden::syntax::parse_statements(&text, file).unwrap();
        let checked = warden::check::check_statements(&mut program, &stmts, &Default::default());
        prop_assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
        let naive = outcomes(&program, &checked.stmts, Plan::Naive);
        for plan in [Plan::Indexed, Plan::Scan] {
            let planned = outcomes(&program, &checked.stmts, plan);
            for (i, (a, b)) in planned.iter().zip(&naive).enumerate() {
                prop_assert_eq!(a, b, "{:?}, statement {}: `{}`", plan, i, text.lines().nth(i).unwrap_or(""));
            }
        }
    }
}
