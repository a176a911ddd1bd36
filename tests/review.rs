//! `warden test --coverage` and `warden test --mutate` on `tests/inputs/coverage/small.rules`,
//! a program small enough that every number here was counted by hand (see the comments).

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on what it did not expect")]

use assert_cmd::Command;
use serde_json::Value;

const SMALL: &str = "tests/inputs/coverage/small.rules";

fn warden() -> Command {
    let mut cmd = Command::cargo_bin("warden").expect("the warden binary");
    cmd.env("NO_COLOR", "1");
    cmd
}

fn coverage(filter: Option<&str>) -> Value {
    let mut cmd = warden();
    cmd.args(["test", SMALL, "--coverage", "--coverage-format", "json"]);
    if let Some(f) = filter {
        cmd.args(["--filter", f]);
    }
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    // The report owns stdout; the test lines went to stderr.
    assert!(String::from_utf8_lossy(&out.stderr).contains("passed"));
    serde_json::from_slice(&out.stdout).expect("one JSON document")
}

fn tally(doc: &Value, category: &str) -> (u64, u64) {
    let t = &doc["tallies"][category];
    (t["covered"].as_u64().unwrap(), t["total"].as_u64().unwrap())
}

#[test]
fn coverage_of_the_first_test_alone_counted_by_hand() {
    let doc = coverage(Some("priced"));
    // A visitor reads the name of a visible, priced product: the visitor's rule applies (the
    // manager's never does), its constraint and both terms of its `and` are true and none
    // false, and only its `read Name` is used; the microflow never runs.
    assert_eq!(tally(&doc, "rules"), (1, 2));
    assert_eq!(tally(&doc, "terms"), (3, 6));
    assert_eq!(tally(&doc, "grants"), (1, 5));
    assert_eq!(tally(&doc, "statements"), (0, 3));
    assert_eq!(tally(&doc, "branches"), (0, 2));
    assert_eq!(tally(&doc, "all"), (5, 18));
    assert!((doc["percent"].as_f64().unwrap() - 500.0 / 18.0).abs() < 1e-9);
}

#[test]
fn coverage_of_both_tests_counted_by_hand() {
    let doc = coverage(None);
    // The second test adds the manager's rule and its `write Hidden`, the visitor's
    // constraint and `Hidden = false()` taken false (the anonymous read of a hidden product;
    // `and` stops there, so `Price > 0` is never false), and the microflow's `if` taken true
    // with its `return`.
    assert_eq!(tally(&doc, "rules"), (2, 2));
    assert_eq!(tally(&doc, "terms"), (5, 6));
    assert_eq!(tally(&doc, "grants"), (2, 5));
    assert_eq!(tally(&doc, "statements"), (2, 3));
    assert_eq!(tally(&doc, "branches"), (1, 2));
    assert_eq!(tally(&doc, "all"), (12, 18));
    let missed: Vec<String> = doc["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["covered"] == false)
        .map(|i| format!("{}:{} {}", i["line"], i["category"].as_str().unwrap(), i["what"].as_str().unwrap()))
        .collect();
    assert_eq!(
        missed,
        [
            "14:terms `Price > 0` taken false",
            "12:grants read Shop.Product.Price",
            "16:grants write Shop.Product.Name",
            "16:grants write Shop.Product.Price",
            "22:branches `if $P/Price > 100` in Shop.Label taken false",
            "25:statements `return 'cheap'` in Shop.Label",
        ]
    );
}

#[test]
fn coverage_as_lcov_into_a_file_and_fail_under() {
    let dir = std::env::temp_dir().join(format!("warden-review-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("rules.lcov");
    let out = warden()
        .args(["test", SMALL, "--coverage", "--coverage-format", "lcov", "--coverage-output"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    // The test lines stay on stdout when the report goes to a file.
    assert!(String::from_utf8_lossy(&out.stdout).contains("2 passed, 0 failed"));
    let lcov = std::fs::read_to_string(&file).unwrap();
    assert!(lcov.starts_with("TN:\nSF:tests/inputs/coverage/small.rules\n"), "{lcov}");
    // Six terms (the constraint and its two sides, true and false) and two branches; five
    // of the terms and one branch were hit.
    assert!(lcov.contains("BRF:8\nBRH:6\n"), "{lcov}");
    assert!(lcov.contains("DA:23,1\n") && lcov.contains("DA:25,0\n"), "{lcov}");
    assert!(lcov.ends_with("end_of_record\n"));
    // 66.7% passes 60 and fails 70.
    let run = |p: &str| warden().args(["test", SMALL, "--coverage", "--fail-under", p]).output().unwrap();
    assert_eq!(run("60").status.code(), Some(0));
    let out = run("70");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("coverage 66.7% is below 70% (--fail-under)"));
    let out = warden().args(["test", SMALL, "--fail-under", "60"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "--fail-under without --coverage or --mutate");
}

#[test]
fn the_test_document_carries_the_coverage() {
    let out = warden().args(["test", SMALL, "--coverage", "--format", "json"]).output().unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["passed"], 2);
    assert_eq!(doc["coverage"]["tallies"]["all"]["covered"], 12);
}

#[test]
fn mutants_no_test_notices_are_listed_with_their_place() {
    let out = warden().args(["test", SMALL, "--mutate", "--jobs", "2"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "survivors fail the run");
    let text = String::from_utf8(out.stdout).unwrap();
    let survivors: Vec<&str> = text.lines().filter(|l| l.starts_with("SURVIVED")).collect();
    let visitor = "the access rule for `Shop.Product` (Shop.Visitor)";
    let manager = "the access rule for `Shop.Product` (Shop.Manager)";
    let at = |line: u32, what: String| format!("SURVIVED {SMALL}:{line}:3: no test notices if {what}");
    assert_eq!(
        survivors,
        [
            at(12, format!("`Price > 0` is dropped from {visitor}")),
            at(12, format!("`read Name` of {visitor} becomes `write Name`")),
            at(12, format!("`read Price` of {visitor} becomes `write Price`")),
            at(12, format!("{visitor} also grants `delete`")),
            at(12, format!("{visitor} also grants `create`")),
            at(16, format!("{manager} also grants `delete`")),
        ]
    );
    // Killed: the `where` dropped and `Hidden = false()` dropped (the visitor would see the
    // hidden product), the manager's rule granted to the anonymous role (likewise), and
    // `Shop.Manager` removed from `Label`'s `allow` list (ann's call would fail).
    assert!(text.contains("10 mutants, 4 killed by 2 passing tests, 6 survived, 0 equivalent: score 40.0%"), "{text}");
    let out = warden().args(["test", SMALL, "--mutate", "--fail-under", "40"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let out = warden().args(["test", SMALL, "--mutate", "--format", "json"]).output().unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["mutants"].as_array().unwrap().len(), 10);
    assert_eq!(doc["killed"], 4);
    assert_eq!(doc["error"]["kind"], "mutants");
}

#[test]
fn a_test_that_defends_a_rule_kills_its_mutants() {
    // Adding the checks the survivors ask for brings the score to 100%.
    let dir = std::env::temp_dir().join(format!("warden-review-kill-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let more = "\ntest 'what a visitor may not do' {\n  let $free = create Shop.Product { Name = 'Leaflet', Price = 0 }\n  let $mug = create Shop.Product { Name = 'Mug', Price = 5 }\n  commit [$free, $mug]\n  as anonymous\n  expect deny read $free\n  expect deny write $mug/Name\n  expect deny write $mug/Price\n  expect deny delete $mug\n  expect deny create Shop.Product\n  as system\n  given {\n    user ann: Admin\n  }\n  as ann\n  expect deny delete $mug\n}\n";
    let text = std::fs::read_to_string(SMALL).unwrap() + more;
    let path = dir.join("small.rules");
    std::fs::write(&path, text).unwrap();
    let out = warden().arg("test").arg(&path).arg("--mutate").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        stdout.contains("10 mutants, 10 killed by 3 passing tests, 0 survived, 0 equivalent: score 100.0%"),
        "{stdout}"
    );
}

/// Running a mutant only against the tests that touched what it changes gives the verdicts
/// of running it against every test.
#[test]
fn pruning_the_tests_of_a_mutant_changes_no_verdict() {
    let checked = warden::load::load_paths(&["examples/".into()]).unwrap();
    assert!(!checked.has_errors());
    let run = |prune| {
        let options = warden::mutate::Options { threads: 2, max_steps: warden::eval::DEFAULT_STEP_BUDGET, prune };
        warden::mutate::run(&checked.program, options, &|_, _| {})
    };
    let (pruned, full) = (run(true), run(false));
    assert!(pruned.mutants.len() > 100, "{}", pruned.mutants.len());
    assert!(pruned.killed > 40 && pruned.killed < pruned.counted(), "both verdicts occur");
    assert_eq!(pruned.mutants, full.mutants);
}

/// The web shop of the demo app defends every rule: each mutant of `shop.rules` is killed by a
/// test (or changes no role's rights).
#[test]
fn every_mutant_of_the_web_shop_is_killed() {
    let checked = warden::load::load_paths(&["examples/".into()]).unwrap();
    let options = warden::mutate::Options { threads: 2, max_steps: warden::eval::DEFAULT_STEP_BUDGET, prune: true };
    let report = warden::mutate::run(&checked.program, options, &|_, _| {});
    let shop: Vec<_> = report.mutants.iter().filter(|m| m.at.starts_with("examples/shop.rules:")).collect();
    assert!(shop.len() >= 25, "{}", shop.len());
    let survivors: Vec<&str> =
        shop.iter().filter(|m| m.killed_by.is_none() && !m.equivalent).map(|m| m.description.as_str()).collect();
    assert!(survivors.is_empty(), "no test notices if: {survivors:#?}");
}
