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
  module role Opener
  access Doc for Opener {
    read Level, Stage
    where [Stage = 'Open']
  }
  access Secret for Opener {
    read Stage
    where [Stage = 'Draft']
  }
}
user role W: Docs.Writer
user role R: Docs.Reviewer
user role WR: Docs.Writer, Docs.Reviewer
user role Guest: Docs.Public
user role Rd: Docs.Reader
user role Op: Docs.Opener
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
        (0u8..8).prop_map(Op::As),
        (0u8..10, any::<bool>()).prop_map(|(level, secret)| Op::Create { level, secret }),
        (0u8..12, 0u8..4).prop_map(|(doc, user)| Op::Reassign { doc, user }),
        (0u8..12, 0u8..4).prop_map(|(doc, user)| Op::Review { doc, user }),
        (0u8..12).prop_map(Op::Delete),
        (0u8..12).prop_map(Op::FailingChange),
        (0u8..12).prop_map(Op::Rollback),
        (0u8..12, any::<bool>(), any::<bool>()).prop_map(|(doc, open, pinned)| Op::Restage { doc, open, pinned }),
    ]
}

const USERS: [&str; 6] = ["w1", "w2", "r1", "wr", "rd", "op"];

fn principal(k: u8) -> String {
    match k {
        0..=5 => format!("as {}", USERS[k as usize]),
        6 => "as anonymous 'A'".into(),
        _ => "as system".into(),
    }
}

/// The statements of a run: users first, then the operations, each followed by the questions.
fn script(ops: &[Op]) -> Vec<String> {
    let mut out =
        vec!["given { user w1: W  user w2: W  user r1: R  user wr: WR  user rd: Rd  user op: Op  let $t = create Docs.Tag { Name = 'x' } }"
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
        // Counted from one column without listing (`Engine::retrieve_count_planned`) where
        // the principal's one rule and the constraint are both one word of one column.
        "count(retrieve Docs.Doc [Stage = 'Open'])",
        "count(retrieve Docs.Doc [Stage = 'Draft'])",
        "count(retrieve Docs.Doc [Pinned = true()])",
        "count(retrieve Docs.Secret [Stage = 'Open'])",
        "count(retrieve Docs.Secret [Stage = 'Draft'])",
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

/// Rules and retrieves whose constraints walk associations: forwards and backwards, two to
/// four steps deep, through reference sets, specializations, role objects and predicates
/// inside paths, with `!=`, `or` and `not(...)` along paths.
const PATHS: &str = r#"
module Shop {
  enumeration Status { Open, CheckedOut }
  entity Cart {
    stores owner
    Status: Status = Open
    Total: Integer = 0
  }
  entity GiftCart extends Cart { Note: String }
  entity Line { Qty: Integer = 1 }
  entity Label {
    Name: String
    Hot: Boolean = false
  }
  association Line_Cart: Line -> Cart
  association Line_Label: Line ->* Label
  module role Buyer
  module role Clerk
  module role Auditor
  access Cart for Buyer {
    create
    delete
    read Total
    write Status
    where [System.owner = '[%CurrentUser%]']
  }
  access Line for Buyer {
    read Qty
    where [Shop.Line_Cart/Shop.Cart/System.owner = '[%CurrentUser%]']
  }
  access Label for Buyer {
    read Name
    where [Shop.Line_Label/Shop.Line/Shop.Line_Cart/Shop.Cart/System.owner = '[%CurrentUser%]']
  }
  access Line for Clerk {
    read Qty
    where [Shop.Line_Cart/Shop.Cart/Status != 'Open']
  }
  access Cart for Clerk {
    read Status
    where [Shop.Line_Cart/Shop.Line/Qty > 3]
  }
  access Cart for Clerk {
    read Total
    where [System.owner/System.User/System.UserRoles = '[%UserRole_A%]']
  }
  access Label for Clerk {
    read Name
    where [Shop.Line_Label/Shop.Line/Shop.Line_Cart/Shop.Cart[Status = 'CheckedOut']]
  }
  access GiftCart for Buyer {
    read Total
    where [System.owner = '[%CurrentUser%]']
  }
  access GiftCart for Clerk {
    read Note
    where [Shop.Line_Cart/Shop.Line/Shop.Line_Label/Shop.Label/Hot = true()]
  }
  access Line for Auditor {
    read Qty
    where [Shop.Line_Cart/Shop.GiftCart/Total > 5]
  }
  access Cart for Auditor {
    read Total
    where [not(Shop.Line_Cart/Shop.Line/Qty = 2)]
  }
  access Label for Auditor {
    read Name
    where [Shop.Line_Label/Shop.Line/Qty = 1 or Hot = true()]
  }
}
user role B: Shop.Buyer
user role C: Shop.Clerk
user role A: Shop.Auditor
user role BC: Shop.Buyer, Shop.Clerk
user role V: Shop.Buyer
app Shop {
  access: public
  anonymous: V
}
"#;

#[derive(Clone, Debug)]
enum PathOp {
    As(u8),
    Cart { gift: bool, checked: bool, total: u8 },
    Line { cart: u8, qty: u8, label: u8 },
    Relink { line: u8, cart: u8 },
    Label { line: u8, label: u8 },
    Status { cart: u8, checked: bool },
    Give { cart: u8, user: u8 },
    Pending { cart: u8, checked: bool },
    DeleteCart(u8),
    DeleteLine(u8),
}

fn path_op() -> impl Strategy<Value = PathOp> {
    prop_oneof![
        2 => (0u8..7).prop_map(PathOp::As),
        3 => (any::<bool>(), any::<bool>(), 0u8..9).prop_map(|(gift, checked, total)| PathOp::Cart { gift, checked, total }),
        5 => (0u8..8, 0u8..6, 0u8..4).prop_map(|(cart, qty, label)| PathOp::Line { cart, qty, label }),
        1 => (0u8..12, 0u8..8).prop_map(|(line, cart)| PathOp::Relink { line, cart }),
        1 => (0u8..12, 0u8..4).prop_map(|(line, label)| PathOp::Label { line, label }),
        1 => (0u8..8, any::<bool>()).prop_map(|(cart, checked)| PathOp::Status { cart, checked }),
        1 => (0u8..8, 0u8..4).prop_map(|(cart, user)| PathOp::Give { cart, user }),
        1 => (0u8..8, any::<bool>()).prop_map(|(cart, checked)| PathOp::Pending { cart, checked }),
        1 => (0u8..8).prop_map(PathOp::DeleteCart),
        1 => (0u8..12).prop_map(PathOp::DeleteLine),
    ]
}

const SHOP_USERS: [&str; 4] = ["b1", "b2", "c1", "a1"];

fn shop_principal(k: u8) -> String {
    match k {
        0..=3 => format!("as {}", SHOP_USERS[k as usize]),
        4 => "as bc".into(),
        5 => "as anonymous 'V'".into(),
        _ => "as system".into(),
    }
}

fn status(checked: bool) -> &'static str {
    if checked {
        "Shop.Status.CheckedOut"
    } else {
        "Shop.Status.Open"
    }
}

/// The statements of a path run: users and labels first, then the operations, each followed by the questions.
fn path_script(ops: &[PathOp]) -> Vec<String> {
    let mut out = vec![concat!(
        "given { user b1: B  user b2: B  user c1: C  user a1: A  user bc: BC ",
        "let $l0 = create Shop.Label { Name = 'l0', Hot = true }  let $l1 = create Shop.Label { Name = 'l1' } ",
        "let $l2 = create Shop.Label { Name = 'l2', Hot = true }  let $l3 = create Shop.Label { Name = 'l3' } ",
        "commit [$l0, $l1, $l2, $l3] }"
    )
    .to_string()];
    let (mut carts, mut lines) = (0u8, 0u8);
    let questions = [
        "count(retrieve Shop.Line)",
        "retrieve Shop.Line",
        "retrieve Shop.Cart",
        "retrieve Shop.Label",
        "retrieve Shop.Line [Shop.Line_Cart/Shop.Cart/Status = 'CheckedOut']",
        "count(retrieve Shop.Line [Shop.Line_Cart/Shop.Cart/Status != 'Open'])",
        "retrieve Shop.Cart [Shop.Line_Cart/Shop.Line/Qty > 2]",
        "retrieve Shop.Cart [not(Shop.Line_Cart/Shop.Line/Qty > 2)]",
        "retrieve Shop.Line [Shop.Line_Cart/Shop.Cart/System.owner = $b1]",
        "retrieve Shop.Label [Shop.Line_Label/Shop.Line/Shop.Line_Cart/Shop.Cart[Status = 'CheckedOut']]",
        "retrieve Shop.Line [Shop.Line_Label/Shop.Label/Hot = true() or Qty = 1]",
        "retrieve Shop.Line [Shop.Line_Cart/Shop.GiftCart/Total >= 3]",
        "count(retrieve Shop.Cart [Shop.Line_Cart/Shop.Line/Shop.Line_Label/Shop.Label/Hot = false()])",
        "retrieve Shop.Line [Shop.Line_Cart/Shop.Cart[Total > 2]/Status = 'Open']",
        "count(retrieve Shop.Cart [Shop.Line_Cart/Shop.Line/Shop.Line_Label/Shop.Label = $l1])",
        "retrieve Shop.Line [Shop.Line_Cart/Shop.Cart/System.owner/System.User/System.UserRoles = '[%UserRole_C%]']",
    ];
    for o in ops {
        let cart = |k: &u8| k % carts.max(1);
        let line = |k: &u8| k % lines.max(1);
        match o {
            PathOp::Line { .. }
            | PathOp::Status { .. }
            | PathOp::Give { .. }
            | PathOp::Pending { .. }
            | PathOp::DeleteCart(_)
                if carts == 0 =>
            {
                continue
            }
            PathOp::Relink { .. } if carts == 0 || lines == 0 => continue,
            PathOp::Label { .. } | PathOp::DeleteLine(_) if lines == 0 => continue,
            _ => {}
        }
        match o {
            PathOp::As(k) => out.push(shop_principal(*k)),
            PathOp::Cart { gift, checked, total } => {
                let entity = if *gift { "Shop.GiftCart" } else { "Shop.Cart" };
                out.push(format!(
                    "given {{ let $k{carts} = create {entity} {{ Status = {}, Total = {total}, System.owner = ${} }}  commit $k{carts} }}",
                    status(*checked),
                    SHOP_USERS[(*total % 4) as usize]
                ));
                carts += 1;
            }
            PathOp::Line { cart: k, qty, label } => {
                out.push(format!(
                    "given {{ let $n{lines} = create Shop.Line {{ Qty = {qty}, Shop.Line_Cart = $k{}, Shop.Line_Label = [$l{label}] }}  commit $n{lines} }}",
                    cart(k)
                ));
                lines += 1;
            }
            PathOp::Relink { line: l, cart: k } => out.push(format!(
                "given {{ change $n{0} {{ Shop.Line_Cart = $k{1} }}  commit $n{0} }}",
                line(l),
                cart(k)
            )),
            PathOp::Label { line: l, label } => {
                out.push(format!("given {{ change $n{0} {{ Shop.Line_Label += $l{label} }}  commit $n{0} }}", line(l)))
            }
            PathOp::Status { cart: k, checked } => out.push(format!(
                "given {{ change $k{0} {{ Status = {1} }}  commit $k{0} }}",
                cart(k),
                status(*checked)
            )),
            PathOp::Give { cart: k, user } => out.push(format!(
                "given {{ change $k{0} {{ System.owner = ${1} }}  commit $k{0} }}",
                cart(k),
                SHOP_USERS[*user as usize]
            )),
            // A change the acting session leaves uncommitted while the questions are asked.
            PathOp::Pending { cart: k, checked } => {
                out.push(format!("change $k{} {{ Status = {} }}", cart(k), status(*checked)))
            }
            PathOp::DeleteCart(k) => out.push(format!("delete $k{}", cart(k))),
            PathOp::DeleteLine(l) => out.push(format!("given {{ delete $n{} }}", line(l))),
        }
        out.extend(questions.iter().map(|q| q.to_string()));
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(150))]

    #[test]
    fn planned_and_naive_retrieves_agree_along_paths(ops in prop::collection::vec(path_op(), 1..40)) {
        let mut sources = SourceMap::new();
        sources.add("shop.rules", PATHS);
        let checked = warden::load::load(sources);
        prop_assert!(checked.diagnostics.is_empty(), "{:?}", checked.diagnostics);
        let mut program = checked.program;
        let text = path_script(&ops).join("\n");
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
