//! The documentation's examples run as written: every ```rules block of the docs is a
//! complete program that `warden check` accepts and whose tests pass, every ```rules-error
//! block one that `warden check` rejects with exit 1, and every `$ warden ...` line of a
//! ```console block prints the lines shown under it (a line `...` stands for any number of
//! lines). A ```rules pending block is what the language defines but warden does not do
//! yet: it must still fail (check or test), so that its mark is dropped once warden does.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on what it did not expect")]

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// The documents whose blocks are checked, with the least number of ```rules blocks
/// each must hold (so that a lost or renamed fence cannot make the test pass empty).
const DOCUMENTS: &[(&str, usize)] =
    &[("docs/language.md", 50), ("docs/cli.md", 0), ("README.md", 0), ("examples/README.md", 0), ("docs/review.md", 0)];

#[derive(Clone, Copy)]
enum Kind {
    /// ```rules: checks clean, its tests pass.
    Clean,
    /// ```rules-error: `warden check` exits 1.
    Error,
    /// ```rules pending: still fails, in `check` or in `test`.
    Pending,
}

/// A fenced block: its info string, the line of its first content line, its text.
struct Block {
    info: String,
    line: usize,
    text: String,
}

fn blocks(markdown: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut open: Option<Block> = None;
    for (i, line) in markdown.lines().enumerate() {
        let trimmed = line.trim_start();
        match open.take() {
            None => {
                if let Some(info) = trimmed.strip_prefix("```") {
                    open = Some(Block { info: info.trim().to_string(), line: i + 2, text: String::new() });
                }
            }
            Some(mut block) => {
                if trimmed.starts_with("```") {
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

fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("warden-docs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn every_rules_block_checks_as_its_fence_says() {
    let dir = scratch();
    let mut failures = Vec::new();
    for &(doc, least) in DOCUMENTS {
        let Ok(text) = std::fs::read_to_string(doc) else {
            assert_eq!(least, 0, "{doc} is missing");
            continue;
        };
        let mut count = 0;
        for block in blocks(&text) {
            let kind = match block.info.as_str() {
                "rules" => Kind::Clean,
                "rules-error" => Kind::Error,
                "rules pending" => Kind::Pending,
                _ => continue,
            };
            count += 1;
            let block_dir = dir.join(format!("{}-{}", doc.replace('/', "_"), block.line));
            std::fs::create_dir_all(&block_dir).unwrap();
            let file = block_dir.join("block.rules");
            std::fs::write(&file, &block.text).unwrap();
            let check = warden().args(["check", "--color", "never"]).arg(&file).output().expect("warden runs");
            let where_ = format!("{doc}:{}: a ```{} block", block.line, block.info);
            match (kind, check.status.code()) {
                (Kind::Error, Some(1)) => {}
                (Kind::Error, code) => failures.push(format!("{where_}: `warden check` exited {code:?}, not 1")),
                (Kind::Clean, Some(0)) | (Kind::Pending, Some(0)) => {
                    // Snapshot blocks are new in a scratch directory: `--accept` takes them in.
                    let test =
                        warden().args(["test", "--accept", "--color", "never"]).arg(&file).output().expect("runs");
                    match (kind, test.status.code()) {
                        (Kind::Clean, Some(0)) | (Kind::Pending, Some(1)) => {}
                        (Kind::Pending, Some(0)) => failures.push(format!(
                            "{where_} now checks and passes its tests: fence it as ```rules and drop its note"
                        )),
                        (_, code) => failures.push(format!(
                            "{where_}: `warden test` exited {code:?}\n{}",
                            String::from_utf8_lossy(&test.stdout)
                        )),
                    }
                }
                (Kind::Pending, Some(1)) => {}
                (_, code) => failures.push(format!(
                    "{where_}: `warden check` exited {code:?}, not 0\n{}",
                    String::from_utf8_lossy(&check.stderr)
                )),
            }
        }
        assert!(count >= least, "{doc} has {count} checked blocks, fewer than {least}");
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(failures.is_empty(), "{} blocks:\n\n{}", failures.len(), failures.join("\n"));
}

/// Splits a command line into words: spaces separate, single or double quotes group.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word: Option<String> = None;
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.get_or_insert_with(String::new).push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                word.get_or_insert_with(String::new);
            }
            (None, ' ') => out.extend(word.take()),
            (None, c) => word.get_or_insert_with(String::new).push(c),
        }
    }
    assert!(quote.is_none(), "an unclosed quote in `{line}`");
    out.extend(word);
    out
}

/// Whether `actual` is `expected`, where a line `...` of `expected` matches any lines, and a
/// line that ends in `...` matches one line that starts with what comes before.
fn matches(expected: &[&str], actual: &[&str]) -> bool {
    match expected.split_first() {
        None => actual.is_empty(),
        Some((first, rest)) if first.trim() == "..." => (0..=actual.len()).any(|skip| matches(rest, &actual[skip..])),
        Some((first, rest)) => actual.split_first().is_some_and(|(a, more)| {
            let same = match first.trim_end().strip_suffix("...") {
                Some(prefix) => a.starts_with(prefix),
                None => a.trim_end() == first.trim_end(),
            };
            same && matches(rest, more)
        }),
    }
}

#[test]
fn every_console_command_prints_what_the_docs_show() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut failures = Vec::new();
    let mut count = 0;
    for &(doc, _) in DOCUMENTS {
        let Ok(text) = std::fs::read_to_string(root.join(doc)) else { continue };
        for block in blocks(&text).into_iter().filter(|b| b.info == "console") {
            let lines: Vec<&str> = block.text.lines().collect();
            let mut i = 0;
            while i < lines.len() {
                let Some(command) = lines[i].strip_prefix("$ ") else {
                    failures.push(format!("{doc}:{}: output before any `$ ` command", block.line + i));
                    i += 1;
                    continue;
                };
                let at = block.line + i;
                let mut end = i + 1;
                while end < lines.len() && !lines[end].starts_with("$ ") {
                    end += 1;
                }
                // A blank line may separate one command's output from the next command.
                let mut last = end;
                while last > i + 1 && lines[last - 1].trim().is_empty() {
                    last -= 1;
                }
                let expected = &lines[i + 1..last];
                i = end;
                count += 1;
                let args = words(command);
                assert_eq!(args.first().map(String::as_str), Some("warden"), "{doc}:{at}: a warden command");
                let out = warden().current_dir(root).args(&args[1..]).output().expect("warden runs");
                let shown = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
                let actual: Vec<&str> = shown.lines().collect();
                if !matches(expected, &actual) {
                    failures.push(format!(
                        "{doc}:{at}: `{command}` printed\n{shown}\ninstead of\n{}\n",
                        expected.join("\n")
                    ));
                }
            }
        }
    }
    assert!(count >= 8, "the docs show {count} commands with their output");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_helpers_split_and_match_as_they_should() {
    assert_eq!(words("warden eval -e 'count(x) = 1' \"a b\""), ["warden", "eval", "-e", "count(x) = 1", "a b"]);
    assert!(matches(&["a", "...", "d"], &["a", "b", "c", "d"]));
    assert!(matches(&["a", "..."], &["a"]));
    assert!(!matches(&["a", "d"], &["a", "b", "d"]));
    assert!(!matches(&["a"], &["a", "b"]));
    assert!(matches(&["{\"a\":..."], &["{\"a\":1}"]));
    assert!(!matches(&["{\"b\":..."], &["{\"a\":1}"]));
    let found = blocks("text\n```rules\nmodule M {}\n```\n\n```text\nx\n```\n");
    assert_eq!(found.len(), 2);
    assert_eq!((found[0].info.as_str(), found[0].line, found[0].text.as_str()), ("rules", 3, "module M {}\n"));
}
