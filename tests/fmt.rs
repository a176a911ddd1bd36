//! The formatter: idempotent, keeps every comment, keeps meaning (the syntax
//! tree of the output equals the input's, spans aside), over every `.rules`
//! file of the repository (the examples, every test input, the copies of the spec's
//! examples in `tests/inputs/syntax/`), and over generated programs.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on what it did not expect")]

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use warden::fmt::{comments, format_source};
use warden::source::FileId;
use warden::syntax::parse_file;

fn rules_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rules_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rules") {
            out.push(path);
        }
    }
}

/// Comment texts with their whitespace normalized, sorted.
fn comment_texts(text: &str) -> Vec<String> {
    let mut all: Vec<String> =
        comments(text).into_iter().map(|c| c.text.split_whitespace().collect::<Vec<_>>().join(" ")).collect();
    all.sort();
    all
}

/// The three properties, for one text; `Err` explains the first that fails.
fn check(text: &str) -> Result<(), String> {
    let Ok(tree) = parse_file(text, FileId(0)) else { return Ok(()) }; // syntax errors are refused, not formatted
    let once = format_source(text).map_err(|e| format!("the formatter refused a parsed file: {e}"))?;
    let twice = format_source(&once).map_err(|e| format!("the formatted text does not parse: {e}\n{once}"))?;
    if once != twice {
        return Err(format!("not idempotent:\n--- once\n{once}\n--- twice\n{twice}"));
    }
    if comment_texts(text) != comment_texts(&once) {
        return Err(format!("comments differ:\n{:?}\n{:?}\n{once}", comment_texts(text), comment_texts(&once)));
    }
    let reparsed = parse_file(&once, FileId(0)).map_err(|e| e.to_string())?;
    if reparsed != tree {
        return Err(format!("the meaning changed:\n{once}"));
    }
    Ok(())
}

#[test]
fn every_rules_file_formats_idempotently_keeping_comments_and_meaning() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rules_files(&root.join("examples"), &mut files);
    rules_files(&root.join("tests"), &mut files);
    assert!(files.len() > 100, "the corpus is there");
    let failures: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let text = std::fs::read_to_string(f).ok()?;
            check(&text).err().map(|e| format!("{}: {e}", f.display()))
        })
        .collect();
    assert!(failures.is_empty(), "{} of {} files:\n{}", failures.len(), files.len(), failures.join("\n\n"));
}

#[test]
fn the_examples_are_formatted() {
    let mut files = Vec::new();
    rules_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"), &mut files);
    assert!(!files.is_empty());
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(format_source(&text).unwrap(), text, "{}: run `warden fmt examples/`", path.display());
    }
}

/// The spec's shop and quote programs (copies in `tests/inputs/syntax/`), formatted.
#[test]
fn formatted_spec_examples() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/inputs/syntax");
    for name in ["shop.rules", "quote.rules"] {
        let text = std::fs::read_to_string(dir.join(format!("spec_{name}"))).expect("the copy of the spec's example");
        insta::assert_snapshot!(name, format_source(&text).unwrap());
    }
}

#[test]
fn a_syntax_error_is_refused() {
    assert!(format_source("module M { entity E { A: } }").is_err());
}

// ---- Generated programs ----

fn ident() -> impl Strategy<Value = String> {
    "[A-Z][a-z]{2,6}".prop_map(|s| s)
}

fn comment() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z ]{0,20}".prop_map(|t| format!("// {t}")), "[a-z ]{0,12}".prop_map(|t| format!("/* {t} */")),]
}

fn xpath() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("[System.owner = '[%CurrentUser%]']".to_string()),
        Just("[Total > 5 and (Name = 'x' or not(Name != empty))]".to_string()),
        Just("[createdDate > '[%CurrentDateTime%] - 3 * [%DayLength%]']".to_string()),
        Just("[contains(Name, 'a')][Total <= 2.50]".to_string()),
    ]
}

fn statement() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("let $x = 1 + 2 * (3 - 4)".to_string()),
        Just("let $c = create M.Cart { Total = 3, Name = 'it''s' }".to_string()),
        Just("commit $c".to_string()),
        Just("if $x > 2 { log 'big' } else if $x = 2 { log \"two\" } else { error 'small' }".to_string()),
        Just("for $i in retrieve M.Cart [Total > 1] { change $i { Total = $i/Total - -1 } }".to_string()),
        Just("let $b = not(true or false) and (1 < 2)".to_string()),
        Just("let $y = if true then (if false then 1 else 2) else 3".to_string()),
    ]
}

fn program() -> impl Strategy<Value = String> {
    (
        ident(),
        prop::collection::vec((xpath(), prop::option::of(comment())), 1..4),
        prop::collection::vec((statement(), prop::option::of(comment()), any::<bool>()), 0..6),
        prop::option::of(comment()),
        any::<bool>(),
    )
        .prop_map(|(role, rules, stmts, top, blank)| {
            let mut text = String::new();
            if let Some(c) = &top {
                text.push_str(&format!("{c}\n"));
            }
            text.push_str("module M {\n  entity Cart {\n    stores owner, createdDate\n    Total: Decimal = 0 // money\n    Name: String\n  }\n");
            text.push_str(&format!("  module role {role}\n"));
            for (x, c) in &rules {
                if blank {
                    text.push('\n');
                }
                match c {
                    Some(c) if c.starts_with("//") => text.push_str(&format!("  access Cart for {role} {{ {c}\n    read Total\n    where {x}\n  }}\n")),
                    Some(c) => text.push_str(&format!("  {c}\n  access Cart for {role} {{ read Total  where {x} }}\n")),
                    None => text.push_str(&format!("  access Cart for {role} {{ create delete write Total where {x} }}\n")),
                }
            }
            text.push_str("  microflow Run() {\n");
            for (s, c, before) in &stmts {
                match (c, before) {
                    (Some(c), true) => text.push_str(&format!("    {c}\n    {s}\n")),
                    (Some(c), false) if c.starts_with("//") => text.push_str(&format!("    {s} {c}\n")),
                    _ => text.push_str(&format!("    {s}\n")),
                }
            }
            text.push_str("  }\n}\n");
            text
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn generated_programs_format_idempotently_keeping_comments_and_meaning(text in program()) {
        prop_assert!(parse_file(&text, FileId(0)).is_ok(), "the generator made a bad program:\n{text}");
        if let Err(e) = check(&text) {
            prop_assert!(false, "{}\n--- input\n{}", e, text);
        }
    }
}

#[test]
fn system_names_match_without_regard_to_case_and_print_canonically() {
    let text = "module Letters {\n  entity Letter {\n    stores owner\n  }\n  entity Pen extends system.user {\n    Ink: String\n  }\n  association Letter_To: Letter -> SYSTEM.USER\n  module role Writer\n  access Letter for Writer {\n    read *\n    where [System.Owner = '[%CurrentUser%]' and SYSTEM.owner/system.User/Name != 'x']\n  }\n}\n";
    let mut sources = warden::source::SourceMap::new();
    sources.add("letters.rules", text);
    let checked = warden::load::load(sources);
    assert!(checked.diagnostics.is_empty(), "{:?}", checked.diagnostics);
    let formatted = format_source(text).unwrap();
    assert!(formatted.contains("entity Pen extends System.User {"), "{formatted}");
    assert!(formatted.contains("association Letter_To: Letter -> System.User"), "{formatted}");
    assert!(
        formatted.contains("where [System.owner = '[%CurrentUser%]' and System.owner/System.User/Name != 'x']"),
        "{formatted}"
    );
    // A module of another spelling is still the built-in one.
    let mut sources = warden::source::SourceMap::new();
    sources.add("m.rules", "module system { entity X { A: String } }\n");
    let checked = warden::load::load(sources);
    assert!(checked.diagnostics.iter().any(|d| d.code == "E0103"), "{:?}", checked.diagnostics);
}
