//! The front end on arbitrary source text: parsing, loading (checking) and formatting.
//!
//! Invariants, for any bytes:
//! - nothing panics or overflows the stack (parsing, checking, formatting, comparing trees);
//! - bytes that are not text are refused by the loader with E0007 alone;
//! - a file that parses is formatted (the formatter refuses only syntax errors);
//! - formatting is idempotent, keeps every comment, and keeps the syntax tree (spans aside);
//! - checking the formatted text gives the same diagnostic codes as checking the original.

#![no_main]

use libfuzzer_sys::fuzz_target;
use warden::fmt::{comments, format_source};
use warden::source::{FileId, SourceMap};
use warden::syntax::parse_file;

/// Loads one file as `warden check` would, and returns its diagnostic codes with their
/// severities, sorted (formatting moves spans, so order by position may change).
fn codes(bytes: &[u8]) -> Vec<(warden::codes::Code, warden::diagnostic::Severity)> {
    let mut sources = SourceMap::new();
    sources.add_bytes("fuzz.rules", bytes.to_vec());
    let checked = warden::load::load(sources);
    let mut codes: Vec<_> = checked.diagnostics.iter().map(|d| (d.code, d.severity)).collect();
    codes.sort_unstable();
    codes
}

/// Comment texts with their whitespace normalized, sorted (as tests/fmt.rs compares them).
fn comment_texts(text: &str) -> Vec<String> {
    let mut all: Vec<String> =
        comments(text).into_iter().map(|c| c.text.split_whitespace().collect::<Vec<_>>().join(" ")).collect();
    all.sort();
    all
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        let found = codes(data);
        assert!(found.iter().all(|(c, _)| *c == "E0007") && found.len() == 1, "bytes that are not UTF-8: {found:?}");
        return;
    };
    let original = codes(data);
    let Ok(tree) = parse_file(text, FileId(0)) else {
        // A syntax error: the loader reports it and checks nothing; the formatter refuses it.
        assert!(!original.is_empty(), "parse_file refused the text but the loader found nothing wrong");
        assert!(format_source(text).is_err(), "the formatter accepted a text that does not parse");
        return;
    };
    let once = match format_source(text) {
        Ok(t) => t,
        Err(e) => panic!("the formatter refused a text that parses: {e}"),
    };
    let reparsed = match parse_file(&once, FileId(0)) {
        Ok(t) => t,
        Err(e) => panic!("the formatted text does not parse: {e}\n--- formatted\n{once}"),
    };
    assert!(reparsed == tree, "formatting changed the syntax tree\n--- formatted\n{once}");
    let twice = format_source(&once).expect("the formatted text parses");
    assert!(once == twice, "formatting is not idempotent\n--- once\n{once}\n--- twice\n{twice}");
    assert_eq!(comment_texts(text), comment_texts(&once), "formatting lost or changed a comment\n{once}");
    let formatted = codes(once.as_bytes());
    assert_eq!(original, formatted, "checking the formatted text gives other diagnostics\n--- formatted\n{once}");
});
