//! Every diagnostic code of the registry ([`warden::codes::CODES`]) is produced by some
//! input of the repository, and every code the inputs produce is in the registry.
//!
//! The inputs are run, not scanned: each `.rules` file under `tests/inputs/` is loaded on its
//! own (and `examples/` as one program), checked, and when it checks it is audited and its
//! `test` blocks are run; the codes of every diagnostic, finding and failed test are collected.
//! Two codes come only from commands, so they are produced by running the binary over inputs
//! of `tests/inputs/cli/`: R007 (`warden sql` over something that has no SQL) and R009 (a store
//! that refuses to write).

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on what it did not expect")]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use warden::codes::CODES;
use warden::eval::test::{run_tests_on, Backend};
use warden::source::SourceMap;

/// Every `.rules` file below `dir`, sorted.
fn rules_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("an entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rules_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rules") {
            out.push(path);
        }
    }
}

/// The codes a program reports: its check diagnostics, and when it checks, its audit
/// findings and the codes its failing tests fail with.
fn codes_of(sources: SourceMap) -> BTreeSet<&'static str> {
    let checked = warden::load::load(sources);
    let mut codes: BTreeSet<&'static str> = checked.diagnostics.iter().map(|d| d.code.as_str()).collect();
    if !checked.has_errors() {
        codes.extend(warden::audit::audit(&checked.program).iter().map(|d| d.code.as_str()));
        for result in run_tests_on(&checked.program, None, Backend::Memory) {
            codes.extend(result.failure.map(|e| e.code.as_str()));
        }
    }
    codes
}

fn warden() -> Command {
    let mut cmd = Command::cargo_bin("warden").expect("the warden binary");
    cmd.env("NO_COLOR", "1");
    cmd
}

/// Which input produces each code (the first one, in sorted order).
fn produced() -> BTreeMap<&'static str, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rules_files(&root.join("tests/inputs"), &mut files);
    assert!(files.len() > 200, "only {} inputs under tests/inputs", files.len());
    let mut by_code = BTreeMap::new();
    for path in &files {
        let mut sources = SourceMap::new();
        let bytes = std::fs::read(path).expect("a readable input");
        sources.add_bytes(path.strip_prefix(root).unwrap_or(path), bytes);
        let name = path.strip_prefix(root).unwrap_or(path).display().to_string();
        for code in codes_of(sources) {
            by_code.entry(code).or_insert_with(|| name.clone());
        }
    }
    let examples = warden::load::read_sources(&[root.join("examples")]).expect("examples/ loads");
    for code in codes_of(examples) {
        by_code.entry(code).or_insert_with(|| "examples/".to_string());
    }
    for (input, code) in commands(root) {
        by_code.entry(code).or_insert(input);
    }
    by_code
}

/// The code of the error in a JSON document of `warden sql` or `warden eval`.
fn error_code(stdout: &[u8]) -> &'static str {
    let json: serde_json::Value = serde_json::from_slice(stdout).expect("a JSON document");
    let error = json.get("error").or_else(|| json["results"].as_array()?.last()?.get("error"));
    let code = error.and_then(|e| e["code"].as_str()).unwrap_or_else(|| panic!("no error in {json}"));
    warden::codes::describe(code).map_or("unregistered", |c| c.code.as_str())
}

/// The codes that only commands produce, each from its input in `tests/inputs/cli/`.
fn commands(root: &Path) -> Vec<(String, &'static str)> {
    let mut out = Vec::new();

    // R007: a retrieve of a non-persistent entity has no SQL.
    let input = "tests/inputs/cli/r007_sql_of_non_persistent.rules";
    let sql = warden()
        .current_dir(root)
        .args(["sql", input, "--as", "system", "--format", "json", "retrieve Quotes.Draft"])
        .output()
        .expect("warden runs");
    assert_eq!(sql.status.code(), Some(1), "{}", String::from_utf8_lossy(&sql.stderr));
    out.push((input.to_string(), error_code(&sql.stdout)));

    // R009: a SQLite store whose trigger refuses the insert.
    let input = "tests/inputs/cli/r009_store_refuses_write.rules";
    let dir = std::env::temp_dir().join(format!("warden-code-coverage-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    let (json, db) = (dir.join("empty.json"), dir.join("quotes.db"));
    std::fs::write(&json, r#"{"format": "warden-store/1", "objects": []}"#).expect("writes");
    let import = warden().current_dir(root).args(["store", "import", input]).arg(&json).arg(&db).output();
    assert!(import.expect("warden runs").status.success(), "the empty store imports");
    rusqlite::Connection::open(&db)
        .and_then(|c| {
            c.execute_batch(
                r#"CREATE TRIGGER closed BEFORE INSERT ON "Quotes.Quote" BEGIN SELECT RAISE(ABORT, 'closed'); END"#,
            )
        })
        .expect("the trigger is added");
    let eval = warden()
        .current_dir(root)
        .args(["eval", input, "--save", "--format", "json", "--store"])
        .arg(&db)
        .args(["-e", "commit create Quotes.Quote { Amount = 1 }"])
        .output()
        .expect("warden runs");
    assert_eq!(eval.status.code(), Some(1), "{}", String::from_utf8_lossy(&eval.stderr));
    out.push((input.to_string(), error_code(&eval.stdout)));
    let _ = std::fs::remove_dir_all(&dir);
    out
}

/// Every code the inputs produce is registered, and every registered code is produced.
#[test]
fn every_code_is_produced_by_an_input_and_registered() {
    let produced = produced();
    let unregistered: Vec<String> = produced
        .iter()
        .filter(|(code, _)| warden::codes::describe(code).is_none())
        .map(|(code, input)| format!("{code} (from {input})"))
        .collect();
    assert!(unregistered.is_empty(), "codes produced but not in src/codes.rs: {unregistered:?}");
    let never: Vec<&str> = CODES.iter().map(|c| c.code.as_str()).filter(|c| !produced.contains_key(c)).collect();
    assert!(
        never.is_empty(),
        "codes in src/codes.rs that no input produces: {never:?}; add an input named after the code \
         under tests/inputs/ (or remove a code that is no longer used)"
    );
}
