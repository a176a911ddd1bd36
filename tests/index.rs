//! The indexed path and the plain scan give the same answers: random stores
//! and rules, random sequences of changes, commits, deletes and rollbacks,
//! with every statement's outcome compared between the two engines.

use proptest::prelude::*;
use warden::eval::{Engine, Vars};
use warden::source::SourceMap;
use warden::store::MemoryStore;

const PROGRAM: &str = r#"
module Docs {
  entity Doc {
    stores owner
    Level: Integer = 0
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
  access Tag for Writer, Reviewer { read Name }
}
user role W: Docs.Writer
user role R: Docs.Reviewer
user role WR: Docs.Writer, Docs.Reviewer
user role Guest: Docs.Public
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
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..6).prop_map(Op::As),
        (0u8..10, any::<bool>()).prop_map(|(level, secret)| Op::Create { level, secret }),
        (0u8..12, 0u8..4).prop_map(|(doc, user)| Op::Reassign { doc, user }),
        (0u8..12, 0u8..4).prop_map(|(doc, user)| Op::Review { doc, user }),
        (0u8..12).prop_map(Op::Delete),
        (0u8..12).prop_map(Op::FailingChange),
        (0u8..12).prop_map(Op::Rollback),
    ]
}

const USERS: [&str; 4] = ["w1", "w2", "r1", "wr"];

fn principal(k: u8) -> String {
    match k {
        0..=3 => format!("as {}", USERS[k as usize]),
        4 => "as anonymous 'A'".into(),
        _ => "as system".into(),
    }
}

/// The statements of a run: users first, then the operations, each followed by the questions.
fn script(ops: &[Op]) -> Vec<String> {
    let mut out =
        vec!["given { user w1: W  user w2: W  user r1: R  user wr: WR  let $t = create Docs.Tag { Name = 'x' } }"
            .to_string()];
    let mut docs = 0u8;
    let questions = [
        "count(retrieve Docs.Doc)",
        "retrieve Docs.Doc",
        "retrieve Docs.Secret",
        "count(retrieve Docs.Doc [System.owner = $currentUser])",
        "count(retrieve Docs.Doc [Docs.Doc_Reviewer = $r1][Level > 1])",
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
                out.push(format!("let $d{docs} = create {entity} {{ Level = {level} }}"));
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
            Op::Rollback(doc) => {
                out.push(format!("change $d{} {{ Level = 1 }}", doc % docs.max(1)));
                out.push(format!("rollback $d{}", doc % docs.max(1)));
            }
        }
        out.extend(questions.iter().map(|q| q.to_string()));
    }
    out
}

fn outcomes(program: &warden::model::Program, stmts: &[warden::syntax::ast::Stmt], indexed: bool) -> Vec<String> {
    let mut engine = Engine::new(program, Box::new(MemoryStore::new()), 0);
    engine.use_indexes = indexed;
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
    fn indexed_and_scanned_retrieves_agree(ops in prop::collection::vec(op(), 1..30)) {
        let mut sources = SourceMap::new();
        sources.add("docs.rules", PROGRAM);
        let checked = warden::load::load(sources);
        prop_assert!(checked.diagnostics.is_empty(), "{:?}", checked.diagnostics);
        let mut program = checked.program;
        let text = script(&ops).join("\n");
        let file = program.sources.add("script", text.clone());
        let stmts = warden::syntax::parse_statements(&text, file).unwrap();
        let problems = warden::check::check_statements(&mut program, &stmts, &Default::default());
        prop_assert!(problems.iter().all(|d| !d.is_error()), "{:?}", problems);
        let indexed = outcomes(&program, &stmts, true);
        let scanned = outcomes(&program, &stmts, false);
        for (i, (a, b)) in indexed.iter().zip(&scanned).enumerate() {
            prop_assert_eq!(a, b, "statement {}: `{}`", i, text.lines().nth(i).unwrap_or(""));
        }
    }
}
