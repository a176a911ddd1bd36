//! `warden diff`: one kind of change at a time to `tests/inputs/diff/base.rules`, with the
//! human report snapshotted (each snapshot reviewed: the direction of every line is the point)
//! and the JSON, markdown, `--fail-on-widening` and `--git` paths checked.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on what it did not expect")]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

const BASE: &str = "tests/inputs/diff/base.rules";

fn warden() -> Command {
    let mut cmd = Command::cargo_bin("warden").expect("the warden binary");
    cmd.env("NO_COLOR", "1");
    cmd
}

/// A fresh directory under the system's temporary directory.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("warden-diff-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes the base program and a copy with each `(from, to)` replaced (each must occur).
fn versions(name: &str, edits: &[(&str, &str)]) -> (PathBuf, PathBuf) {
    let base = std::fs::read_to_string(BASE).unwrap();
    let mut new = base.clone();
    for (from, to) in edits {
        assert!(new.contains(from), "`{from}` is not in the base program");
        new = new.replacen(from, to, 1);
    }
    let dir = scratch(name);
    let (old_path, new_path) = (dir.join("old.rules"), dir.join("new.rules"));
    std::fs::write(&old_path, base).unwrap();
    std::fs::write(&new_path, new).unwrap();
    (old_path, new_path)
}

/// The human report of a change, with the scratch directory's path made stable.
fn report(name: &str, edits: &[(&str, &str)]) -> String {
    let (old, new) = versions(name, edits);
    let out = warden().arg("diff").arg(&old).arg(&new).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let dir = old.parent().unwrap().display().to_string();
    String::from_utf8(out.stdout).unwrap().replace(&dir, "DIR")
}

fn json(old: &Path, new: &Path) -> Value {
    let out = warden().arg("diff").arg(old).arg(new).args(["--format", "json"]).output().unwrap();
    serde_json::from_slice(&out.stdout).expect("one JSON document")
}

#[test]
fn the_same_program_has_no_change() {
    let out = warden().args(["diff", BASE, BASE]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "no change to what any role may do\n");
    let doc = json(Path::new(BASE), Path::new(BASE));
    assert_eq!(doc, serde_json::json!({ "changes": [], "findings": [] }));
}

#[test]
fn text_that_means_the_same_is_no_change() {
    let text = report(
        "same",
        &[
            ("where [InStock = true()][Price > 0]", "where [InStock   =  true()  and Price > 0]"),
            ("    read Name, Price\n", "    read Price, Name\n"),
        ],
    );
    assert_eq!(text, "no change to what any role may do\n");
}

#[test]
fn a_member_read_gained_widens() {
    insta::assert_snapshot!(report("read", &[("    read Name, Price\n", "    read Name, Price, Cost\n")]));
}

#[test]
fn a_removed_constraint_makes_every_object_visible() {
    insta::assert_snapshot!(report("unconstrained", &[("    where [InStock = true()][Price > 0]\n", "")]));
}

#[test]
fn a_removed_conjunct_is_weaker_and_an_added_one_stronger() {
    insta::assert_snapshot!(
        "weaker",
        report("weaker", &[("where [InStock = true()][Price > 0]", "where [InStock = true()]")])
    );
    insta::assert_snapshot!(
        "stronger",
        report(
            "stronger",
            &[("where [InStock = true()][Price > 0]", "where [InStock = true() and Price > 0][Name != empty]")]
        )
    );
}

#[test]
fn a_constraint_warden_cannot_order_is_changed_never_guessed() {
    insta::assert_snapshot!(report("changed", &[("[Price > 0]", "[Price > 1]")]));
}

#[test]
fn another_rule_adds_an_alternative() {
    let rule = "  access Product for Visitor {\n    read Name\n    where [InStock = false()]\n  }\n  access Product for Manager {";
    insta::assert_snapshot!(report("alternative", &[("  access Product for Manager {", rule)]));
}

#[test]
fn create_and_delete() {
    insta::assert_snapshot!(report(
        "create-delete",
        &[("    create\n    write Total\n", "    delete\n    write Total\n")]
    ));
}

#[test]
fn microflow_allow_lists() {
    insta::assert_snapshot!(report("allow", &[("allow Buyer apply", "allow Buyer, Visitor apply")]));
}

#[test]
fn resource_operations_and_component_conditions() {
    insta::assert_snapshot!(report(
        "resource",
        &[
            ("    Guest: VIEW, EXECUTE\n", "    Guest: VIEW\n"),
            ("    Customer: VIEW, EXECUTE, SELF_ASSIGN\n", "    Customer: VIEW, EXECUTE, SELF_ASSIGN, HOLD\n"),
            ("{ hide for Guest }", "{ hide for Customer }"),
        ]
    ));
}

#[test]
fn the_apps_gate_anonymous_role_and_sign_in() {
    insta::assert_snapshot!(
        "gate_closed",
        report("gate", &[("  access: public\n  anonymous: Guest\n  sign-in: Shop.HandOver\n", "  access: invited\n")])
    );
    let (new, old) = versions("gate-opened", &[("  access: public\n", "  access: invited\n")]);
    let out = warden().arg("diff").arg(&old).arg(&new).output().unwrap();
    insta::assert_snapshot!("gate_opened", String::from_utf8(out.stdout).unwrap());
}

#[test]
fn new_audit_findings_are_listed() {
    let text = report("finding", &[("    read Name, Price\n", "    write *\n")]);
    insta::assert_snapshot!(text);
    assert!(text.contains("new audit findings\n  DIR/new.rules:"), "{text}");
}

#[test]
fn the_json_document_names_role_subject_and_direction() {
    let (old, new) = versions("json", &[("    read Name, Price\n", "    read Name, Price, Cost\n")]);
    let doc = json(&old, &new);
    let changes = doc["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 2, "{doc}");
    assert_eq!(changes[0]["role"], "Guest", "the anonymous role comes first");
    assert_eq!(changes[0]["anonymous"], true);
    assert_eq!(changes[0]["subject"], "Shop.Product");
    assert_eq!(changes[0]["direction"], "widening");
    assert_eq!(changes[0]["what"], "read Cost");
    assert_eq!(changes[0]["before"], Value::Null);
    assert_eq!(changes[0]["after"], "[InStock = true()][Price > 0]");
    assert_eq!(changes[1]["role"], "Customer");
    assert_eq!(doc["findings"], serde_json::json!([]));
}

#[test]
fn markdown_for_a_pull_request_comment() {
    let (old, new) = versions("markdown", &[("allow Buyer apply", "allow Buyer, Visitor apply")]);
    let out = warden().arg("diff").arg(&old).arg(&new).args(["--format", "markdown"]).output().unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "### What this change does to access\n\n\n**Guest** (anonymous role)\n\n- **widening** `Shop.Checkout`: call\n"
    );
}

#[test]
fn fail_on_widening_stops_only_gains_of_that_role() {
    let (old, new) = versions("fail", &[("    read Name, Price\n", "    read Name, Price, Cost\n")]);
    let run = |args: &[&str], old: &Path, new: &Path| {
        warden().arg("diff").arg(old).arg(new).args(args).output().unwrap().status.code()
    };
    assert_eq!(run(&["--fail-on-widening", "Guest"], &old, &new), Some(1));
    assert_eq!(run(&["--fail-on-widening", "Admin"], &old, &new), Some(0), "Admin gains nothing");
    assert_eq!(run(&["--fail-on-widening", "Guest"], &new, &old), Some(0), "a narrowing passes");
    let out = warden()
        .arg("diff")
        .arg(&old)
        .arg(&new)
        .args(["--fail-on-widening", "Guest", "--format", "json"])
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["error"]["kind"], "widening", "{doc}");
    assert_eq!(doc["changes"].as_array().map(Vec::len), Some(2));
    assert!(out.stderr.is_empty());
    // A typo in a CI job must not pass forever.
    let out = warden().arg("diff").arg(&old).arg(&new).args(["--fail-on-widening", "Gest"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("did you mean `Guest`?"));
    // Opening the gate widens what the anonymous role may do, though no rule changed.
    let (invited, public) = versions("fail-gate", &[("  access: public\n", "  access: invited\n")]);
    assert_eq!(run(&["--fail-on-widening", "Guest"], &public, &invited), Some(1));
    // A change warden cannot order counts: it may widen.
    let (old, new) = versions("fail-changed", &[("[Price > 0]", "[Price > 1]")]);
    assert_eq!(run(&["--fail-on-widening", "Guest"], &old, &new), Some(1));
}

#[test]
fn a_version_that_does_not_check_is_reported_not_compared() {
    let (old, new) = versions("broken", &[("    read Name, Price\n", "    read Name, Prise\n")]);
    let out = warden().arg("diff").arg(&old).arg(&new).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("the new version does not check"), "{stderr}");
    let out = warden().arg("diff").arg(&old).arg(&new).args(["--format", "json"]).output().unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["error"]["kind"], "rules");
    assert_eq!(doc["changes"], serde_json::json!([]));
}

#[test]
fn usage_problems_exit_2() {
    let out = warden().args(["diff", BASE]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = warden().args(["diff", BASE, "no/such/dir"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = warden().args(["diff", "--git", "no-such-revision"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn git_compares_the_working_tree_with_a_revision() {
    let dir = scratch("git");
    let git = |args: &[&str]| {
        let status = std::process::Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(status.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&status.stderr));
    };
    git(&["init", "-q"]);
    std::fs::create_dir(dir.join("rules")).unwrap();
    let base = std::fs::read_to_string(BASE).unwrap();
    std::fs::write(dir.join("rules/shop.rules"), &base).unwrap();
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "base"]);
    std::fs::write(dir.join("rules/shop.rules"), base.replace("allow Buyer apply", "allow Buyer, Visitor apply"))
        .unwrap();
    let out = warden()
        .args(["diff", "--git", "HEAD", "rules", "--fail-on-widening", "Guest"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "Guest (anonymous role)\n  Shop.Checkout\n    + call   (widening)\n0 widening, 0 narrowing, 0 changed, 0 new audit findings\n"
            .replace("0 widening", "1 widening")
    );
    // Without paths, the whole tree.
    let out = warden().args(["diff", "--git", "HEAD"]).current_dir(&dir).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}
