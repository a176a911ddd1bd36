//! Snapshot blocks: new text fails and is written to `.snap.new`, `--accept`
//! takes it in, a rule change shows a line diff, stale sections fail, and the
//! text is the same run after run.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on what it did not expect")]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

const RULES: &str = r#"module Shop {
  entity Cart {
    stores owner
    Total: Decimal = 0
    Note: String
  }
  module role Visitor
  access Cart for Visitor {
    create
    write Total
    read Note
    where [System.owner = '[%CurrentUser%]']
  }
}
user role Guest: Shop.Visitor
app Shop {
  access: public
  anonymous: Guest
}
snapshot 'a visitor and its cart' {
  now '2026-11-22T10:00:00Z'
  as anonymous 'A'
  let $cart = create Shop.Cart { Total = 3 }
  commit $cart
  retrieve Shop.Cart
  explain write $cart/Total
}
"#;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("warden-snap-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn test(dir: &Path, extra: &[&str]) -> (i32, String) {
    let out = Command::cargo_bin("warden")
        .unwrap()
        .env("NO_COLOR", "1")
        .args(["test", "--color", "never"])
        .args(extra)
        .arg(dir.join("shop.rules"))
        .output()
        .unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn a_new_snapshot_fails_until_accepted() {
    let dir = scratch("new");
    std::fs::write(dir.join("shop.rules"), RULES).unwrap();
    let (code, out) = test(&dir, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("NEW    "), "{out}");
    assert!(dir.join("shop.rules.snap.new").exists());
    assert!(!dir.join("shop.rules.snap").exists());
    let (code, out) = test(&dir, &["--accept"]);
    assert_eq!(code, 0, "{out}");
    assert!(!dir.join("shop.rules.snap.new").exists());
    let snap = std::fs::read_to_string(dir.join("shop.rules.snap")).unwrap();
    insta::assert_snapshot!(snap);
    let (code, out) = test(&dir, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.ends_with("1 passed, 0 failed\n"), "{out}");
}

#[test]
fn a_rule_change_shows_a_line_diff() {
    let dir = scratch("diff");
    std::fs::write(dir.join("shop.rules"), RULES).unwrap();
    test(&dir, &["--accept"]);
    // Visitors may now also write the note: what `explain` shows changes.
    std::fs::write(dir.join("shop.rules"), RULES.replace("    read Note\n", "    write Note\n")).unwrap();
    let (code, out) = test(&dir, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAILED"), "{out}");
    assert!(out.contains("-     grants create; read Note; write Total"), "{out}");
    assert!(out.contains("+     grants create; write Total, Note"), "{out}");
    insta::assert_snapshot!(out.replace(&dir.display().to_string(), "DIR"));
    assert!(dir.join("shop.rules.snap.new").exists());
    let stored = std::fs::read_to_string(dir.join("shop.rules.snap")).unwrap();
    assert!(stored.contains("read Note"), "the stored text is untouched until --accept");
}

#[test]
fn a_stale_section_fails_until_accept_removes_it() {
    let dir = scratch("stale");
    std::fs::write(dir.join("shop.rules"), RULES).unwrap();
    test(&dir, &["--accept"]);
    std::fs::write(dir.join("shop.rules"), RULES.replace("'a visitor and its cart'", "'renamed'")).unwrap();
    let (code, out) = test(&dir, &[]);
    assert_eq!(code, 1);
    assert!(out.contains("stale section: no snapshot block is named `a visitor and its cart`"), "{out}");
    let (code, _) = test(&dir, &["--accept"]);
    assert_eq!(code, 0);
    let snap = std::fs::read_to_string(dir.join("shop.rules.snap")).unwrap();
    assert!(!snap.contains("'a visitor and its cart'") && snap.contains("=== snapshot 'renamed'"), "{snap}");
}

#[test]
fn json_reports_snapshots_like_tests() {
    let dir = scratch("json");
    std::fs::write(dir.join("shop.rules"), RULES).unwrap();
    let out = Command::cargo_bin("warden")
        .unwrap()
        .args(["test", "--format", "json"])
        .arg(dir.join("shop.rules"))
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let entry = &doc["tests"][0];
    assert_eq!(entry["kind"], "snapshot");
    assert_eq!(entry["outcome"], "new");
    assert_eq!(doc["failed"], 1);
}

#[test]
fn the_text_is_the_same_run_after_run() {
    let dir = scratch("stable");
    std::fs::write(dir.join("shop.rules"), RULES).unwrap();
    let checked = warden::load::load_paths(&[dir.join("shop.rules")]).unwrap();
    let block = checked.program.tests.iter().find(|t| t.snapshot).unwrap();
    let first = warden::snapshot::run_snapshot(&checked.program, block);
    for _ in 0..50 {
        assert_eq!(warden::snapshot::run_snapshot(&checked.program, block), first);
    }
    assert!(first.contains("Shop.Cart #1"), "ids count from 1: {first}");
    assert!(first.contains("(anonymous:A)"), "implied anonymous users show no id: {first}");
    assert!(
        first.contains("rule 1 of Shop.Cart (Shop.Visitor): applies"),
        "explain names rules by entity, ordinal and roles: {first}"
    );
    assert!(!first.contains("shop.rules:") && !first.contains("line 8"), "and not by file and line: {first}");
}

/// A comment (or any line) added above a rule changes no snapshot: explain's text
/// names rules by entity, ordinal and roles, not by line.
#[test]
fn a_comment_above_a_rule_changes_no_snapshot() {
    let dir = scratch("comment");
    std::fs::write(dir.join("shop.rules"), RULES).unwrap();
    assert_eq!(test(&dir, &["--accept"]).0, 0);
    let moved = RULES
        .replace("  access Cart for Visitor {", "  // visitors keep their own carts\n\n  access Cart for Visitor {");
    std::fs::write(dir.join("shop.rules"), format!("// the shop\n\n{moved}")).unwrap();
    let (code, stdout) = test(&dir, &[]);
    assert_eq!(code, 0, "the rule moved down three lines and the snapshot still passes:\n{stdout}");
    assert!(stdout.contains("1 passed, 0 failed"), "{stdout}");
}

#[test]
fn snap_files_round_trip() {
    let mut file = warden::snapshot::SnapFile::default();
    file.set("it's one", "line 1\nline 2\n".into());
    file.set("two", "\n".into());
    let parsed = warden::snapshot::SnapFile::parse(&file.render());
    assert_eq!(parsed, file);
}
