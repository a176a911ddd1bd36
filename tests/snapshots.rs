//! Snapshot tests over folders of inputs: the syntax tree of every valid
//! program, the diagnostics of every broken one.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on what it did not expect")]

use std::path::Path;

use warden::diagnostic::plain;
use warden::load;
use warden::source::SourceMap;

fn sources_of(path: &Path) -> SourceMap {
    let mut sources = SourceMap::new();
    // Read as bytes, as warden reads files, so that an input that is not UTF-8 gives E0007.
    let bytes = std::fs::read(path).expect("reading a test input");
    let name = path.file_name().expect("a file name").to_string_lossy().into_owned();
    sources.add_bytes(name, bytes);
    sources
}

/// Every program under `inputs/syntax` parses and checks cleanly; its tree is snapshotted.
#[test]
fn syntax_trees() {
    insta::glob!("inputs/syntax/*.rules", |path| {
        let sources = sources_of(path);
        let file = sources.file(warden::source::FileId(0));
        let tree = warden::syntax::parse_file(&file.text, warden::source::FileId(0))
            .unwrap_or_else(|e| panic!("{} does not parse: {e}", path.display()));
        let checked = load::load(sources.clone());
        let problems: Vec<String> = checked.diagnostics.iter().map(|d| plain(d, &checked.program.sources)).collect();
        assert!(problems.is_empty(), "{} should check cleanly:\n{}", path.display(), problems.concat());
        insta::assert_debug_snapshot!(tree);
    });
}

/// Every program under `inputs/check` is broken; its diagnostics are snapshotted.
/// Each file says in a first-line comment what it tests.
#[test]
fn check_diagnostics() {
    insta::glob!("inputs/check/*.rules", |path| {
        let checked = load::load(sources_of(path));
        assert!(checked.has_errors() || !checked.diagnostics.is_empty(), "{} reports nothing", path.display());
        let text: String = checked.diagnostics.iter().map(|d| plain(d, &checked.program.sources)).collect();
        insta::assert_snapshot!(text);
    });
}
