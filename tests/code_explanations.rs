//! The explanations of the diagnostic codes (`src/codes/explanations/`, printed by
//! `warden explain-code CODE`): every code has one, each is plain Markdown with lines of at
//! most 100 columns, and every example does what its fence says. A block fenced as
//! `rules example` reports its code (from check, audit or a failing test) and no other error
//! or warning; a block fenced as `rules fixed` reports no error or warning at all (and its tests
//! pass). A first line `// $ warden ARGS` runs that command over the block instead; a
//! `console example` block's `$ ` lines, run by `sh` in an empty directory, print the code.
//!
//! `docs/codes.md` is generated from the registry and the explanations; a test fails when it is
//! out of date, and `WARDEN_BLESS=1` rewrites it.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on what it did not expect")]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command as Process;

use assert_cmd::Command;
use warden::codes::{self, CODES};
use warden::diagnostic::Severity;
use warden::eval::test::{run_tests_on, Backend};
use warden::source::SourceMap;

/// Codes whose explanation has no example that produces them, and why.
const WITHOUT_EXAMPLE: &[(&str, &str)] =
    &[("R009", "it comes from a store that refuses to write, not from a program (tests/code_coverage.rs makes one)")];

/// Codes whose explanation has no fixed example, and why.
const WITHOUT_FIX: &[(&str, &str)] = &[
    ("E0007", "the fix is to convert the file, which a text example cannot show"),
    ("R009", "the fix is to the store, not to the program"),
];

const DOCS: &str = "docs/codes.md";

/// A fenced block: its info string, the line of its fence (from 1), its text.
struct Block {
    info: String,
    line: usize,
    text: String,
}

fn blocks(markdown: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut open: Option<Block> = None;
    for (i, line) in markdown.lines().enumerate() {
        match open.take() {
            None => {
                if let Some(info) = line.strip_prefix("```") {
                    open = Some(Block { info: info.trim().to_string(), line: i + 1, text: String::new() });
                }
            }
            Some(mut block) => {
                if line.starts_with("```") {
                    out.push(block);
                } else {
                    block.text.push_str(line);
                    block.text.push('\n');
                    open = Some(block);
                }
            }
        }
    }
    assert!(open.is_none(), "a fenced block is not closed");
    out
}

fn warden() -> Command {
    let mut cmd = Command::cargo_bin("warden").expect("the warden binary");
    cmd.env("NO_COLOR", "1");
    cmd
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("warden-code-explanations-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    dir
}

/// What a program reports, code by code, at the highest severity seen: its check diagnostics,
/// and when it checks, its audit findings and the codes its failing tests fail with.
fn reported_by_program(text: &str) -> BTreeMap<String, Severity> {
    let mut sources = SourceMap::new();
    sources.add("example.rules", text);
    let checked = warden::load::load(sources);
    let mut found = Vec::new();
    found.extend(checked.diagnostics.iter().map(|d| (d.code, d.severity)));
    if !checked.has_errors() {
        found.extend(warden::audit::audit(&checked.program).iter().map(|d| (d.code, d.severity)));
        for result in run_tests_on(&checked.program, None, Backend::Memory) {
            found.extend(result.failure.map(|e| (e.code, Severity::Error)));
        }
    }
    let mut out = BTreeMap::new();
    for (code, severity) in found {
        let worst = out.entry(code.to_string()).or_insert(severity);
        if rank(severity) > rank(*worst) {
            *worst = severity;
        }
    }
    out
}

fn rank(severity: Severity) -> u8 {
    match severity {
        Severity::Info => 0,
        Severity::Warning => 1,
        Severity::Error => 2,
    }
}

fn severity_named(name: &str) -> Severity {
    match name {
        "error" => Severity::Error,
        "warning" => Severity::Warning,
        _ => Severity::Info,
    }
}

/// Every `{"code", "severity"}` object in a JSON document.
fn diagnostics_in(json: &serde_json::Value, out: &mut BTreeMap<String, Severity>) {
    match json {
        serde_json::Value::Object(map) => {
            if let (Some(code), Some(severity)) = (map.get("code"), map.get("severity")) {
                out.insert(
                    code.as_str().unwrap_or_default().to_string(),
                    severity_named(severity.as_str().unwrap_or("")),
                );
            }
            map.values().for_each(|v| diagnostics_in(v, out));
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| diagnostics_in(v, out)),
        _ => {}
    }
}

/// What `warden ARGS --format json` reports over the block written as `example.rules`.
fn reported_by_command(command: &str, text: &str, dir: &Path) -> BTreeMap<String, Severity> {
    std::fs::write(dir.join("example.rules"), text).expect("writes");
    let args = words(command);
    let out = warden().current_dir(dir).args(&args).args(["--format", "json"]).output().expect("warden runs");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("`warden {command}` printed no JSON ({e}): {}", String::from_utf8_lossy(&out.stderr))
    });
    let mut found = BTreeMap::new();
    diagnostics_in(&json, &mut found);
    found
}

/// What the `$ ` lines of a console block print, run one by one by `sh` in an empty directory
/// where `warden` is the binary under test.
fn console_output(text: &str, dir: &Path) -> String {
    let bin = assert_cmd::cargo::cargo_bin("warden");
    let path =
        format!("{}:{}", bin.parent().expect("a directory").display(), std::env::var("PATH").unwrap_or_default());
    let mut output = String::new();
    for line in text.lines().filter_map(|l| l.strip_prefix("$ ")) {
        let out = Process::new("sh")
            .arg("-c")
            .arg(line)
            .current_dir(dir)
            .env("PATH", &path)
            .env("NO_COLOR", "1")
            .output()
            .expect("sh runs");
        output.push_str(&String::from_utf8_lossy(&out.stdout));
        output.push_str(&String::from_utf8_lossy(&out.stderr));
    }
    output
}

/// Splits a command line into words: spaces separate, single quotes group.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word: Option<String> = None;
    let mut quoted = false;
    for c in line.chars() {
        match (quoted, c) {
            (_, '\'') => {
                quoted = !quoted;
                word.get_or_insert_with(String::new);
            }
            (false, ' ') => out.extend(word.take()),
            (_, c) => word.get_or_insert_with(String::new).push(c),
        }
    }
    out.extend(word);
    out
}

fn explanation(code: &str) -> &'static str {
    codes::explanation(code).unwrap_or_else(|| panic!("{code} has no explanation in src/codes/explanations/"))
}

/// Every registered code has an explanation, and every explanation file is of a registered code.
#[test]
fn every_code_has_an_explanation() {
    let missing: Vec<&str> =
        CODES.iter().map(|c| c.code.as_str()).filter(|c| codes::explanation(c).is_none()).collect();
    assert!(missing.is_empty(), "codes without an explanation (add src/codes/explanations/CODE.md): {missing:?}");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/codes/explanations");
    for entry in std::fs::read_dir(&dir).expect("src/codes/explanations") {
        let name = entry.expect("an entry").file_name().to_string_lossy().into_owned();
        let code = name.strip_suffix(".md").unwrap_or_else(|| panic!("{name}: only CODE.md files"));
        assert!(codes::describe(code).is_some_and(|c| c.code.as_str() == code), "{name} explains no registered code");
        assert!(codes::explanation(code).is_some(), "{name} is not in the table of src/codes/explanations.rs");
    }
}

/// Plain Markdown that fits a terminal: no headings (docs/codes.md gives each code its own),
/// lines of at most 100 columns without trailing spaces, one final newline, and the examples
/// each code must have.
#[test]
fn explanations_are_plain_markdown_with_examples() {
    let mut problems = Vec::new();
    for c in CODES {
        let text = explanation(c.code.as_str());
        let first = text.split("\n\n").next().unwrap_or_default();
        if first.trim().is_empty() || first.starts_with("```") {
            problems.push(format!("{}: starts with a paragraph that says what triggers it", c.code.as_str()));
        }
        if !text.ends_with('\n') || text.ends_with("\n\n") {
            problems.push(format!("{}: ends with exactly one newline", c.code.as_str()));
        }
        for (i, line) in text.lines().enumerate() {
            if line.chars().count() > 100 {
                problems.push(format!("{}:{}: longer than 100 columns", c.code.as_str(), i + 1));
            }
            if line.ends_with(' ') {
                problems.push(format!("{}:{}: trailing space", c.code.as_str(), i + 1));
            }
            if line.starts_with('#') {
                problems.push(format!("{}:{}: a heading", c.code.as_str(), i + 1));
            }
        }
        let infos: Vec<String> = blocks(text).into_iter().map(|b| b.info).collect();
        let has = |info: &str| infos.iter().any(|i| i == info);
        let examples = has("rules example") || has("console example");
        let exempt = |list: &[(&str, &str)]| list.iter().any(|(code, _)| *code == c.code.as_str());
        if examples == exempt(WITHOUT_EXAMPLE) {
            problems.push(format!("{}: an example that produces it, unless it is in WITHOUT_EXAMPLE", c.code.as_str()));
        }
        if has("rules fixed") == exempt(WITHOUT_FIX) {
            problems.push(format!("{}: a fixed example, unless it is in WITHOUT_FIX", c.code.as_str()));
        }
        for info in &infos {
            if !["rules example", "rules fixed", "console example", "text"].contains(&info.as_str()) {
                problems.push(format!("{}: a block fenced as `{info}`", c.code.as_str()));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Each example reports its code and no other error or warning; each fixed example reports no
/// error or warning at all.
#[test]
fn every_example_does_what_its_fence_says() {
    let dir = scratch("blocks");
    let mut failures = Vec::new();
    let mut ran = 0;
    for c in CODES {
        for block in blocks(explanation(c.code.as_str())) {
            let where_ = format!("src/codes/explanations/{}.md:{}: `{}`", c.code.as_str(), block.line, block.info);
            if block.info == "console example" {
                ran += 1;
                let output = console_output(&block.text, &dir);
                if !output.split(|ch: char| !ch.is_ascii_alphanumeric()).any(|w| w == c.code.as_str()) {
                    failures.push(format!("{where_} does not print {}:\n{output}", c.code.as_str()));
                }
                continue;
            }
            let fixed = match block.info.as_str() {
                "rules example" => false,
                "rules fixed" => true,
                _ => continue,
            };
            ran += 1;
            let found = match block.text.lines().next().and_then(|l| l.strip_prefix("// $ warden ")) {
                Some(command) => reported_by_command(command, &block.text, &dir),
                None => reported_by_program(&block.text),
            };
            let others: Vec<String> = found
                .iter()
                .filter(|(code, severity)| *code != c.code.as_str() && **severity != Severity::Info)
                .map(|(code, severity)| format!("{code} ({severity})"))
                .collect();
            let has_code = found.contains_key(c.code.as_str());
            if !fixed && !has_code {
                failures.push(format!("{where_} does not report {}: {found:?}", c.code.as_str()));
            }
            if fixed && has_code {
                failures.push(format!("{where_} still reports {}", c.code.as_str()));
            }
            if !others.is_empty() {
                failures.push(format!("{where_} also reports {}", others.join(", ")));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(ran >= 2 * CODES.len() - 4, "only {ran} examples ran");
    assert!(failures.is_empty(), "{} examples:\n{}", failures.len(), failures.join("\n"));
}

/// `docs/codes.md`: a table of every code, then each code's severity, summary and explanation.
fn codes_markdown() -> String {
    let groups = [
        ("Syntax errors", "reported for a file that does not parse; when any file has one, only these are reported"),
        ("Check errors", "reported by `warden check`, and by every command that loads the rules"),
        ("Evaluation errors", "reported while evaluating: `warden test`, `eval`, `explain`, `sql` and the REPL"),
        ("Audit findings", "reported by `warden audit`; silence an intended one with `// warden:allow CODE reason`"),
    ];
    let group_of = |code: &str| match &code[..1] {
        "E" if code.starts_with("E00") => 0,
        "E" => 1,
        "R" => 2,
        _ => 3,
    };
    let mut out = String::from(
        "# Diagnostic codes\n\n\
         <!-- Generated from src/codes.rs and src/codes/explanations/ by tests/code_explanations.rs;\n     \
         edit those, then run `WARDEN_BLESS=1 cargo test --test code_explanations`. -->\n\n\
         Every diagnostic warden reports has a stable code that never changes meaning: `E` codes for\n\
         programs that do not parse or check, `R` codes for evaluation, `A` codes for the findings\n\
         of `warden audit`. `warden explain-code CODE` prints the explanation of a code, and SARIF\n\
         output (`--format sarif`) carries it as each rule's `help`. In the examples, a block marked\n\
         `rules example` reports the code and a block marked `rules fixed` is the same program\n\
         fixed; `tests/code_explanations.rs` checks that each does.\n",
    );
    for (g, (title, what)) in groups.iter().enumerate() {
        out.push_str(&format!(
            "\n## {title}\n\n{}.\n\n| code | severity | summary |\n| --- | --- | --- |\n",
            capitalize(what)
        ));
        for c in CODES.iter().filter(|c| group_of(c.code.as_str()) == g) {
            out.push_str(&format!(
                "| [`{}`](#{}) | {} | {} |\n",
                c.code.as_str(),
                c.code.as_str().to_lowercase(),
                c.severity,
                c.summary
            ));
        }
        for c in CODES.iter().filter(|c| group_of(c.code.as_str()) == g) {
            out.push_str(&format!(
                "\n### {}\n\n**{}**: {}.\n\n{}",
                c.code.as_str(),
                c.severity,
                c.summary,
                explanation(c.code.as_str())
            ));
        }
    }
    out
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// `docs/codes.md` is what the registry and the explanations make of it.
#[test]
fn docs_codes_md_is_up_to_date() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(DOCS);
    let expected = codes_markdown();
    if std::env::var_os("WARDEN_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&path, &expected).expect("writes docs/codes.md");
        return;
    }
    let actual = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        actual == expected,
        "{DOCS} is out of date with src/codes.rs and src/codes/explanations/; \
         run `WARDEN_BLESS=1 cargo test --test code_explanations` to rewrite it"
    );
}

/// `warden explain-code CODE` prints the code, its severity, its summary and its explanation.
#[test]
fn explain_code_prints_the_explanation() {
    let out = warden().args(["explain-code", "a003"]).output().expect("warden runs");
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let entry = codes::describe("A003").expect("A003");
    assert!(stdout.starts_with(&format!("A003 (warning): {}\n", entry.summary)), "{stdout}");
    assert!(stdout.ends_with(explanation("A003")), "{stdout}");
}

/// A SARIF rule carries the first paragraph of its explanation as `fullDescription` and the
/// whole explanation as `help`.
#[test]
fn sarif_rules_carry_the_explanation() {
    let dir = scratch("sarif");
    let file = dir.join("broken.rules");
    std::fs::write(&file, "module M {\n  entity E { A: Integer }\n  module role R\n  access E for R { read B }\n}\n")
        .expect("writes");
    let out = warden().args(["check", "--format", "sarif"]).arg(&file).output().expect("warden runs");
    let sarif: serde_json::Value = serde_json::from_slice(&out.stdout).expect("SARIF is JSON");
    let rule = &sarif["runs"][0]["tool"]["driver"]["rules"][0];
    assert_eq!(rule["id"], "E0105");
    let text = explanation("E0105");
    let first: Vec<&str> = text.split("\n\n").next().unwrap_or_default().split_whitespace().collect();
    assert_eq!(rule["fullDescription"]["text"], first.join(" "));
    assert_eq!(rule["help"]["text"], text);
    assert_eq!(rule["help"]["markdown"], text);
    let _ = std::fs::remove_dir_all(&dir);
}
