//! The SQLite store gives the answers of the in-memory store: random stores,
//! principals and constraints, each retrieve run over both; and the SQL a
//! retrieve runs selects exactly the evaluator's answer whenever the
//! translation says it is exact.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on what it did not expect")]

#[allow(dead_code, reason = "each test crate uses part of what the SQL stores' tests share")]
mod common_sql;

use common_sql::*;
use proptest::prelude::*;
use warden::eval::{Engine, PrincipalName};
use warden::store::SqliteStore;

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn both_stores_return_the_same_objects_and_sql_is_exact_when_it_says_so(
        docs in prop::collection::vec(doc(), 0..12),
        who in 0usize..7,
        picks in prop::collection::vec(0..CONSTRAINTS.len(), 1..6),
        cache in prop_oneof![Just(0usize), Just(1), Just(3), Just(100_000)],
    ) {
        // The SQLite store reads objects when asked: with no cache, a cache that keeps evicting, or room for all.
        same_as_memory(&docs, who, &picks, |program| Box::new(SqliteStore::in_memory_with(program, cache)))?;
    }
}

/// Most constraints translate exactly: what is left to the evaluator is named here, so a
/// translation that silently gives up shows up as a failing test.
#[test]
fn the_translation_is_exact_for_every_constraint_but_the_listed_ones() {
    let mut program = program();
    let mut sqlite = SqliteStore::in_memory(&program);
    fill(&program, &mut sqlite, &[]);
    let text: String = CONSTRAINTS.iter().map(|c| format!("retrieve Docs.Doc {c}\n")).collect();
    let stmts = warden::check::compile_statements(&mut program, "<retrieves>", &text).unwrap().stmts;
    let program = &program;
    let mut engine = Engine::new(program, Box::new(sqlite), NOW);
    let inexact = |engine: &Engine| -> Vec<&str> {
        stmts.iter().zip(CONSTRAINTS).filter(|(stmt, _)| !engine.sql_of(stmt).unwrap().exact).map(|(_, c)| *c).collect()
    };
    // With full rights, everything translates.
    assert_eq!(inexact(&engine), Vec::<&str>::new());
    // In a principal's view (section 4), what goes through an association, and an own
    // reference compared with anything but a known object, is left to the evaluator.
    engine.act_as(&PrincipalName::User("u3".into())).unwrap();
    assert_eq!(
        inexact(&engine),
        vec![
            "[System.owner != '[%CurrentUser%]']",
            "[System.owner = empty]",
            "[Docs.Doc_Reviewer = empty]",
            "[Docs.Doc_Reviewer/System.User/Name = 'u2']",
            "[Docs.Doc_Tag/Docs.Tag/Name = 'public']",
            "[Docs.Doc_Tag/Docs.Tag]",
            "[not(Docs.Doc_Tag/Docs.Tag)]",
            "[Docs.Doc_Tag/Docs.Tag[Name = 'red' or Name = 'blue']]",
            "[Docs.Doc_Parent/Docs.Doc/Level > 4]",
            "[Docs.Doc_Parent/Docs.Doc[Done = true()]/Title = 'gamma']",
            "[Docs.Doc_Parent/Docs.Doc/Docs.Doc_Parent/Docs.Doc]",
            "[Docs.Doc_Parent/Docs.Secret]",
            "[System.owner/System.User/System.UserRoles = '[%UserRole_W%]']",
            "[Docs.Doc_Reviewer/System.User/System.UserRoles = '[%UserRole_R%]']",
            "[Docs.Doc_Reviewer = '[%CurrentUser%]' or Docs.Doc_Parent/Docs.Doc/System.owner = '[%CurrentUser%]']",
        ]
    );
}

#[test]
fn tokens_and_constants_are_parameters_never_text() {
    let mut program = program();
    let mut sqlite = SqliteStore::in_memory(&program);
    fill(&program, &mut sqlite, &[]);
    let text = "retrieve Docs.Doc [Title = 'Robert''); DROP TABLE x; --'][Due < '[%CurrentDateTime%]']";
    let stmts = warden::check::compile_statements(&mut program, "<retrieve>", text).unwrap().stmts;
    let program = &program;
    let mut engine = Engine::new(program, Box::new(sqlite), NOW);
    engine.act_as(&PrincipalName::User("u1".into())).unwrap();
    let query = engine.sql_of(&stmts[0]).unwrap();
    assert!(!query.text.contains("Robert") && !query.text.contains(&NOW.to_string()), "{}", query.text);
    assert!(query.params.contains(&warden::store::SqlValue::Text("robert'); drop table x; --".into())));
    assert!(query.params.contains(&warden::store::SqlValue::Integer(NOW)));
    assert!(query.params.contains(&warden::store::SqlValue::Integer(1)), "the user's id: {:?}", query.params);
}

mod cli {
    //! The commands over a SQLite store give what they give over the JSON store.

    use std::path::{Path, PathBuf};

    use assert_cmd::Command;

    /// The demo app (all of `examples/`, one program) and its shop's store.
    const SHOP: &str = "examples";
    const SHOP_STORE: &str = "examples/shop.store.json";

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("warden-sqlite-cli-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn warden(args: &[&str]) -> std::process::Output {
        Command::cargo_bin("warden").unwrap().args(args).output().unwrap()
    }

    fn s(p: &Path) -> &str {
        p.to_str().unwrap()
    }

    #[test]
    fn import_then_export_gives_back_the_json_store_and_the_same_answers() {
        let dir = scratch("roundtrip");
        let (db, out, json_copy) = (dir.join("shop.db"), dir.join("out.json"), dir.join("copy.json"));
        let import = warden(&["store", "import", SHOP, SHOP_STORE, s(&db)]);
        assert!(import.status.success(), "{}", String::from_utf8_lossy(&import.stderr));
        assert_eq!(
            String::from_utf8_lossy(&import.stderr).trim(),
            format!("copied 9 objects from {SHOP_STORE} to {}", db.display())
        );
        // Importing again into the same file is refused: import makes new stores.
        let again = warden(&["store", "import", SHOP, SHOP_STORE, s(&db)]);
        assert_eq!(again.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
        assert!(warden(&["store", "export", SHOP, s(&db), s(&out)]).status.success());
        assert!(warden(&["store", "import", SHOP, SHOP_STORE, s(&json_copy)]).status.success());
        assert_eq!(std::fs::read_to_string(&out).unwrap(), std::fs::read_to_string(&json_copy).unwrap());
        for who in ["carl", "maria", "anonymous", "system"] {
            for expr in ["count(retrieve Shop.Cart)", "count(retrieve Shop.CartLine)", "retrieve Shop.Cart [Total > 2]"]
            {
                let on = |store: &str| {
                    let o = warden(&[
                        "eval",
                        SHOP,
                        "--store",
                        store,
                        "--as",
                        who,
                        "--now",
                        "2026-11-23T10:00:00Z",
                        "-e",
                        expr,
                    ]);
                    (o.status.code(), String::from_utf8_lossy(&o.stdout).into_owned())
                };
                assert_eq!(on(s(&db)), on(SHOP_STORE), "{expr} as {who}");
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn sql_shows_the_query_and_its_parameters() {
        let dir = scratch("sql");
        let db = dir.join("shop.db");
        assert!(warden(&["store", "import", SHOP, SHOP_STORE, s(&db)]).status.success());
        let sql = |who: &str, retrieve: &str| {
            let o = warden(&["sql", SHOP, "--store", s(&db), "--as", who, "--now", "2026-11-23T10:00:00Z", retrieve]);
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            String::from_utf8_lossy(&o.stdout).into_owned()
        };
        insta::assert_snapshot!("sql_owner_and_status", sql("carl", "retrieve Shop.Cart [Status = 'Open']"));
        insta::assert_snapshot!("sql_manager_lines", sql("maria", "retrieve Shop.CartLine [Quantity >= 2]"));
        let bad = warden(&["sql", SHOP, "--as", "system", "1 + 2"]);
        assert_eq!(bad.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&bad.stderr).contains("give a retrieve from the store"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn test_blocks_and_snapshots_give_the_same_report_on_both_stores() {
        for path in &crate::test_corpus() {
            let path = path.as_str();
            let memory = warden(&["test", path, "--color", "never"]);
            let sqlite = warden(&["test", path, "--backend", "sqlite", "--color", "never"]);
            if !path.starts_with("tests/inputs/eval") {
                assert!(memory.status.success(), "{path}: {}", String::from_utf8_lossy(&memory.stdout));
            }
            assert_eq!(sqlite.status.code(), memory.status.code(), "{path}");
            assert_eq!(String::from_utf8_lossy(&sqlite.stdout), String::from_utf8_lossy(&memory.stdout), "{path}");
        }
    }
}
