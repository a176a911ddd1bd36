//! The command line over `examples/` and the fixtures in `tests/inputs/`: exit
//! codes, output streams and formats.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on what it did not expect")]

use assert_cmd::Command;
use serde_json::Value;

fn warden() -> Command {
    let mut cmd = Command::cargo_bin("warden").expect("the warden binary");
    cmd.env("NO_COLOR", "1");
    cmd
}

#[test]
fn examples_check_clean() {
    let out = warden().args(["check", "examples/"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("0 errors"));
}

/// `examples/` is one program over several files (one app, one sign-in microflow that calls
/// each module's hand-over): it checks clean as a whole, and a file alone does not.
#[test]
fn the_examples_directory_checks_clean_as_one_program() {
    let mut files: Vec<_> = std::fs::read_dir("examples")
        .expect("examples/")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "rules"))
        .collect();
    files.sort();
    let names: Vec<_> = files.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(names, ["app.rules", "audit.rules", "events.rules", "quote.rules", "shop.rules"]);
    let out = warden().arg("check").args(&files).output().expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("checked 5 files: 0 errors, 0 warnings"));
    // app.rules names module roles and microflows that the other files declare.
    let out = warden().args(["check", "examples/app.rules"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(1), "app.rules alone is not a whole program");
}

#[test]
fn errors_exit_1_and_render_the_source() {
    let dir = tempdir();
    let file = dir.join("bad.rules");
    std::fs::write(&file, "module M {\n  entity E { A: Integer }\n  module role R\n  access E for R { read B }\n}\n")
        .unwrap();
    let out = warden().arg("check").arg(&file).output().expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("E0105"), "{stderr}");
    assert!(stderr.contains("unknown member `B` on entity `M.E`"), "{stderr}");
    assert!(stderr.contains("access E for R { read B }"), "the snippet shows the line: {stderr}");
    assert!(out.stdout.is_empty(), "human diagnostics go to stderr");
}

#[test]
fn json_has_the_fields_of_the_spec() {
    let dir = tempdir();
    let file = dir.join("bad.rules");
    std::fs::write(&file, "module M {\n  entity E { A: Integer }\n  module role R\n  access E for R { read Aa }\n}\n")
        .unwrap();
    let out = warden().args(["check", "--format", "json"]).arg(&file).output().expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("one JSON document on stdout");
    let d = &doc["diagnostics"][0];
    assert_eq!(d["code"], "E0105");
    assert_eq!(d["severity"], "error");
    assert_eq!(d["help"], "did you mean `A`?");
    assert_eq!((d["line"].as_u64(), d["column"].as_u64()), (Some(4), Some(25)));
    assert_eq!((d["end_line"].as_u64(), d["end_column"].as_u64()), (Some(4), Some(27)));
    assert!(d["file"].as_str().unwrap().ends_with("bad.rules"));
}

#[test]
fn sarif_lists_rules_and_results() {
    let out = warden().args(["check", "--format", "sarif", "tests/inputs/cli/broken.rules"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("SARIF JSON");
    assert_eq!(doc["version"], "2.1.0");
    let run = &doc["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "warden");
    let results: Vec<(&str, u64)> = run["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["ruleId"].as_str().unwrap(),
                r["locations"][0]["physicalLocation"]["region"]["startLine"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(results, [("E0105", 11), ("E0108", 13), ("E0504", 18), ("E0111", 22)]);
    let rule_ids: Vec<&str> =
        run["tool"]["driver"]["rules"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    for id in ["E0105", "E0108", "E0504", "E0111"] {
        assert!(rule_ids.contains(&id), "{id} is described under rules: {rule_ids:?}");
    }
}

#[test]
fn missing_file_is_a_usage_error() {
    let out = warden().args(["check", "no/such/file.rules"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("`no/such/file.rules` does not exist"), "{stderr}");
}

#[test]
fn directory_without_rules_is_a_usage_error() {
    let dir = tempdir();
    let out = warden().arg("check").arg(&dir).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no `.rules` files"));
}

#[test]
fn no_arguments_is_a_usage_error() {
    let out = warden().arg("check").output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn help_explains_the_commands() {
    let out = warden().arg("--help").output().expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("check"), "{text}");
    let out = warden().args(["check", "--help"]).output().expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Exit status"), "{text}");
    assert!(text.contains("--format"), "{text}");
}

/// The copies of the spec's example programs in `tests/inputs/syntax/` check clean, one by
/// one; an XPath condition cut short after `and` is one syntax error that says what was
/// expected.
#[test]
fn spec_examples_check_as_the_spec_says() {
    for clean in ["spec_shop.rules", "spec_quote.rules", "spec_audit.rules"] {
        let out = warden().args(["check", &format!("tests/inputs/syntax/{clean}")]).output().expect("runs");
        assert_eq!(out.status.code(), Some(0), "{clean}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let out = warden()
        .args(["check", "--format", "json", "tests/inputs/check/e0001_incomplete_condition.rules"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["diagnostics"].as_array().map(Vec::len), Some(1));
    assert_eq!(doc["diagnostics"][0]["code"], "E0001");
    assert_eq!(doc["diagnostics"][0]["line"], 10);
    assert!(doc["diagnostics"][0]["message"].as_str().unwrap().starts_with("expected a condition"));
}

#[test]
fn several_files_load_together() {
    let dir = tempdir();
    std::fs::write(dir.join("a.rules"), "module A { entity Thing { N: String } module role R }\n").unwrap();
    std::fs::write(dir.join("b.rules"), "module A { access Thing for R { read N } }\nuser role U: A.R\n").unwrap();
    let out = warden().arg("check").arg(&dir).output().expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("checked 2 files"));
}

fn tempdir() -> std::path::PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir =
        std::env::temp_dir().join(format!("warden-cli-{}-{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst)));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
