//! `warden audit` over `tests/inputs/audit/`: one program per finding (A001-A009,
//! A100, A101) that produces exactly that finding, and beside it a `.fixed.rules`
//! that applies the fix named in the finding's help line and produces nothing.
//! Human and JSON output are snapshotted; exit codes, SARIF and the spec's
//! example are checked too.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on what it did not expect")]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

const INPUTS: &str = "tests/inputs/audit";

/// The findings each input must give, as (code, line), in output order.
const EXPECTED: &[(&str, &[(&str, u64)])] = &[
    ("a001_shared_module_role", &[("A001", 8)]),
    ("a002_unconstrained_write", &[("A002", 10)]),
    ("a003_full_read", &[("A003", 11)]),
    ("a004_unconstrained_delete", &[("A004", 10)]),
    ("a005_kept_association", &[("A005", 6)]),
    ("a005_owned_created", &[("A005", 11)]),
    ("a006_unreachable_resource", &[("A006", 14)]),
    ("a007_anonymous_only_resource", &[("A007", 15)]),
    ("a008_specialization_without_rules", &[("A008", 6)]),
    ("a009_readable_hash", &[("A009", 10)]),
    // A reasonless suppression suppresses nothing: the A003 below it stays.
    ("a100_allow_without_reason", &[("A100", 10), ("A003", 11)]),
    ("a101_stray_allow", &[("A101", 10)]),
    // A suppression with a reason on the line above silences a real A002.
    ("suppressed_a002_guestbook", &[]),
    // Seed 001: A002-A004 leave non-persistent entities alone.
    ("none_non_persistent_input", &[]),
    ("suppressed_a001_multiline_user_role", &[]),
    ("a001_prefix_names", &[("A001", 9), ("A001", 10)]),
    ("a003_full_read_by_write", &[("A003", 13)]),
    ("none_a005_non_persistent_association", &[]),
    ("a009_writable_hash", &[("A009", 11)]),
    ("a100_allow_without_code", &[("A100", 8)]),
    ("suppressed_stacked", &[]),
    ("none_allow_marker_in_string", &[]),
    ("a010_uncallable_microflow", &[("A010", 9)]),
    // Calling itself does not make a microflow reachable.
    ("a010_calls_only_itself", &[("A010", 5)]),
    // The sign-in microflow and the microflows it calls need no `allow`.
    ("none_a010_called_or_sign_in", &[]),
    ("a011_process_without_self_assign", &[("A011", 15)]),
    // A UI flow starts with EXECUTE alone; the anonymous role gets SELF_ASSIGN added.
    ("none_a011_ui_flow_and_anonymous", &[]),
    ("suppressed_a011_assigned_work", &[]),
];

fn warden() -> Command {
    let mut cmd = Command::cargo_bin("warden").expect("the warden binary");
    cmd.env("NO_COLOR", "1");
    cmd
}

/// The inputs, sorted: (path, stem without `.rules` / `.fixed.rules`, is fixed).
fn inputs() -> Vec<(PathBuf, String, bool)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(INPUTS)
        .expect("tests/inputs/audit")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "rules"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = file_name(&p);
            match name.strip_suffix(".fixed.rules") {
                Some(stem) => (p.clone(), stem.to_string(), true),
                None => (p.clone(), name.trim_end_matches(".rules").to_string(), false),
            }
        })
        .collect()
}

fn file_name(path: &Path) -> String {
    path.file_name().expect("a file name").to_string_lossy().into_owned()
}

/// Replaces every spelling of the file's path by its bare name.
fn stable(text: &str, path: &Path) -> String {
    let name = file_name(path);
    let relative = path.to_string_lossy().into_owned();
    let absolute = std::fs::canonicalize(path).map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
    let mut text = text.to_string();
    for spelling in [absolute, format!("{}/{relative}", env!("CARGO_MANIFEST_DIR")), relative] {
        if !spelling.is_empty() {
            text = text.replace(&spelling, &name);
        }
    }
    text
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn audit(path: &Path, extra: &[&str]) -> Run {
    let out = warden().args(["audit", "--color", "never"]).args(extra).arg(path).output().expect("warden runs");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn audit_json(path: &Path, extra: &[&str]) -> (Value, Option<i32>) {
    let mut args = vec!["--format", "json"];
    args.extend_from_slice(extra);
    let run = audit(path, &args);
    let json: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("{}: not JSON ({e}):\n{}\n{}", path.display(), run.stdout, run.stderr));
    (json, run.code)
}

fn findings(json: &Value) -> &Vec<Value> {
    json["findings"].as_array().expect("`findings` is an array")
}

fn pairs(json: &Value) -> Vec<(String, u64)> {
    findings(json)
        .iter()
        .map(|f| (f["code"].as_str().expect("code").to_string(), f["line"].as_u64().expect("line")))
        .collect()
}

/// Every input that is not `.fixed.rules`: human and JSON output snapshotted, and
/// the findings are exactly the expected (code, line) pairs.
#[test]
fn each_input_gives_its_finding() {
    let mut failures = Vec::new();
    for (path, stem, fixed) in inputs() {
        if fixed {
            continue;
        }
        let human = audit(&path, &[]);
        assert!(human.stdout.is_empty(), "{}: human output goes to stderr", path.display());
        insta::assert_snapshot!(format!("{stem}.human"), stable(&human.stderr, &path));

        let (json, _) = audit_json(&path, &[]);
        let pretty = serde_json::to_string_pretty(&json).expect("JSON prints");
        insta::assert_snapshot!(format!("{stem}.json"), stable(&pretty, &path));

        let Some((_, expected)) = EXPECTED.iter().find(|(name, _)| *name == stem) else {
            failures.push(format!("{stem}: no entry in EXPECTED"));
            continue;
        };
        // A file named `aNNN_...` is about finding ANNN.
        if let Some(code) = stem.get(..4).filter(|c| c.starts_with('a') && c[1..].bytes().all(|b| b.is_ascii_digit())) {
            let code = code.to_uppercase();
            if !expected.iter().any(|(c, _)| *c == code) {
                failures.push(format!("{stem}: EXPECTED does not list {code}"));
            }
        }
        let expected: Vec<(String, u64)> = expected.iter().map(|(c, l)| (c.to_string(), *l)).collect();
        let got = pairs(&json);
        if got != expected {
            failures.push(format!("{stem}: expected {expected:?}, got {got:?}"));
        }
        for f in findings(&json) {
            for field in ["code", "severity", "message", "help", "file", "line", "column", "end_line", "end_column"] {
                if f.get(field).is_none_or(Value::is_null) {
                    failures.push(format!("{stem}: a finding without `{field}`: {f}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every `.fixed.rules` applies the help line's fix: no finding at all, and exit 0
/// even with `--fail-on warning`.
#[test]
fn each_fix_silences_its_finding() {
    let mut failures = Vec::new();
    let mut fixes = 0;
    for (path, stem, fixed) in inputs() {
        if !fixed {
            continue;
        }
        fixes += 1;
        assert!(path.with_file_name(format!("{stem}.rules")).exists(), "{} has no unfixed twin", path.display());
        let (json, code) = audit_json(&path, &["--fail-on", "warning"]);
        if !findings(&json).is_empty() {
            failures.push(format!("{stem}.fixed: still {:?}", pairs(&json)));
        }
        if code != Some(0) {
            failures.push(format!("{stem}.fixed: exit {code:?} with --fail-on warning"));
        }
    }
    assert!(fixes >= 11, "a fix for each of A001-A009, A100, A101");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every finding code of the table has an input.
#[test]
fn every_code_is_covered() {
    for code in ["A001", "A002", "A003", "A004", "A005", "A006", "A007", "A008", "A009", "A100", "A101"] {
        let stem = code.to_lowercase();
        assert!(
            inputs().iter().any(|(_, s, fixed)| !fixed && s.starts_with(&stem)),
            "no input under {INPUTS} for {code}"
        );
        assert!(inputs().iter().any(|(_, s, fixed)| *fixed && s.starts_with(&stem)), "no fixed input for {code}");
    }
}

/// A002 is an error: the default `--fail-on error` fails.
#[test]
fn an_error_finding_exits_1() {
    let path = Path::new(INPUTS).join("a002_unconstrained_write.rules");
    assert_eq!(audit(&path, &[]).code, Some(1));
    assert_eq!(audit(&path, &["--fail-on", "warning"]).code, Some(1));
    assert_eq!(audit(&path, &["--format", "json"]).code, Some(1));
}

/// A warning passes by default and fails with `--fail-on warning`; an info never fails.
#[test]
fn warnings_fail_only_on_request() {
    let warning = Path::new(INPUTS).join("a003_full_read.rules");
    assert_eq!(audit(&warning, &[]).code, Some(0));
    assert_eq!(audit(&warning, &["--fail-on", "error"]).code, Some(0));
    assert_eq!(audit(&warning, &["--fail-on", "warning"]).code, Some(1));
    assert_eq!(audit(&warning, &["--format", "json", "--fail-on", "warning"]).code, Some(1));

    let info = Path::new(INPUTS).join("a006_unreachable_resource.rules");
    let (json, code) = audit_json(&info, &["--fail-on", "warning"]);
    assert_eq!(findings(&json)[0]["severity"], "info");
    assert_eq!(code, Some(0), "an info finding does not reach --fail-on warning");
}

/// Severities as in docs/cli.md's table.
#[test]
fn severities_follow_the_table() {
    let severity = |stem: &str| {
        let (json, _) = audit_json(&Path::new(INPUTS).join(format!("{stem}.rules")), &[]);
        findings(&json)[0]["severity"].as_str().expect("severity").to_string()
    };
    assert_eq!(severity("a001_shared_module_role"), "warning");
    assert_eq!(severity("a002_unconstrained_write"), "error");
    for stem in [
        "a003_full_read",
        "a004_unconstrained_delete",
        "a005_kept_association",
        "a005_owned_created",
        "a007_anonymous_only_resource",
        "a008_specialization_without_rules",
        "a009_readable_hash",
        "a101_stray_allow",
    ] {
        assert_eq!(severity(stem), "warning", "{stem}");
    }
    assert_eq!(severity("a006_unreachable_resource"), "info");
}

/// SARIF 2.1.0: a rule per code, and each result located.
#[test]
fn sarif_has_rules_and_located_results() {
    let path = Path::new(INPUTS).join("a100_allow_without_reason.rules");
    let run = audit(&path, &["--format", "sarif"]);
    assert_eq!(run.code, Some(0), "warnings only: {}", run.stderr);
    let sarif: Value = serde_json::from_str(&run.stdout).expect("SARIF is JSON");
    assert_eq!(sarif["version"], "2.1.0");
    let runs = sarif["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 1);
    let rules: Vec<&str> = runs[0]["tool"]["driver"]["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .map(|r| r["id"].as_str().expect("a rule id"))
        .collect();
    assert!(rules.contains(&"A100") && rules.contains(&"A003"), "{rules:?}");
    let results = runs[0]["results"].as_array().expect("results");
    assert_eq!(results.len(), 2);
    for r in results {
        let id = r["ruleId"].as_str().expect("ruleId");
        assert!(rules.contains(&id), "{id} is listed among the rules");
        assert!(["error", "warning", "note"].contains(&r["level"].as_str().expect("level")), "{r}");
        assert!(!r["message"]["text"].as_str().expect("message.text").is_empty());
        let location = &r["locations"][0]["physicalLocation"];
        let uri = location["artifactLocation"]["uri"].as_str().expect("artifactLocation.uri");
        assert!(uri.ends_with("a100_allow_without_reason.rules"), "{uri}");
        assert!(location["region"]["startLine"].as_u64().is_some(), "region.startLine: {r}");
    }
    let lines: Vec<(&str, u64)> = results
        .iter()
        .map(|r| {
            (
                r["ruleId"].as_str().unwrap(),
                r["locations"][0]["physicalLocation"]["region"]["startLine"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(lines, [("A100", 10), ("A003", 11)]);
}

/// The (code, line) pairs listed in a closing comment that starts with `// Expected findings`:
/// one `//   CODE  LINE  why` line each.
fn listed_findings(path: &Path) -> Vec<(String, u64)> {
    let text = std::fs::read_to_string(path).expect("readable");
    assert!(text.contains("// Expected findings"), "{} lists its expected findings", path.display());
    text.lines()
        .skip_while(|l| !l.starts_with("// Expected findings"))
        .skip(1)
        .filter_map(|l| {
            let mut words = l.trim_start_matches("//").split_whitespace();
            let code = words.next()?;
            let line = words.next()?.parse().ok()?;
            code.starts_with('A').then(|| (code.to_string(), line))
        })
        .collect()
}

/// The spec's audit example (kept as `tests/inputs/syntax/spec_audit.rules`) lists its
/// expected findings in a closing comment.
#[test]
fn spec_example_gives_the_listed_findings() {
    let path = Path::new("tests/inputs/syntax/spec_audit.rules");
    let mut expected = listed_findings(path);
    assert!(expected.len() >= 9, "the comment lists the findings: {expected:?}");
    let (json, code) = audit_json(path, &[]);
    let mut got = pairs(&json);
    expected.sort();
    got.sort();
    assert_eq!(got, expected);
    assert_eq!(code, Some(1), "the example has an A002 error");
}

/// `warden audit examples/` gives exactly the findings that `examples/audit.rules` lists at
/// its end (and `examples/README.md` repeats), warnings and one note (A010), all in that
/// file, so the default `--fail-on error` passes and `--fail-on warning` fails.
#[test]
fn the_examples_give_the_findings_audit_rules_lists() {
    let listed = listed_findings(Path::new("examples/audit.rules"));
    let expected: Vec<(String, u64)> = [
        ("A008", 26),
        ("A005", 38),
        ("A004", 44),
        ("A005", 44),
        ("A003", 56),
        ("A009", 66),
        ("A003", 71),
        ("A007", 80),
        ("A001", 87),
        ("A010", 92),
        ("A011", 99),
    ]
    .iter()
    .map(|&(c, l)| (c.to_string(), l))
    .collect();
    assert_eq!(listed, expected, "the list at the end of examples/audit.rules");
    let readme = std::fs::read_to_string("examples/README.md").expect("examples/README.md");
    for (code, line) in &expected {
        assert!(readme.contains(&format!("| `{code}` | {line} |")), "examples/README.md lists {code} at line {line}");
    }
    let (json, code) = audit_json(Path::new("examples"), &[]);
    assert_eq!(pairs(&json), expected, "in output order");
    for f in findings(&json) {
        let severity = if f["code"] == "A010" { "info" } else { "warning" };
        assert_eq!(f["severity"], severity, "{f}");
        assert_eq!(f["file"], "examples/audit.rules", "{f}");
    }
    assert_eq!(code, Some(0), "warnings do not fail the default `--fail-on error`");
    let (_, code) = audit_json(Path::new("examples"), &["--fail-on", "warning"]);
    assert_eq!(code, Some(1));
}
