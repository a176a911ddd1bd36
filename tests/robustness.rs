//! Any input, however malformed, ends in diagnostics: never a panic, a hang or
//! a stack overflow.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on what it did not expect")]

use warden::load;
use warden::source::SourceMap;

fn codes_of(text: &str) -> Vec<&'static str> {
    let mut sources = SourceMap::new();
    sources.add("input.rules", text);
    let checked = load::load(sources);
    checked.diagnostics.iter().map(|d| d.code.as_str()).collect()
}

#[test]
fn binary_garbage_is_a_diagnostic() {
    let bytes: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let mut sources = SourceMap::new();
    sources.add_bytes("garbage.rules", bytes);
    let codes: Vec<&str> = load::load(sources).diagnostics.iter().map(|d| d.code.as_str()).collect();
    assert_eq!(codes, ["E0007"]);
    // A replacement character in valid text is just a character.
    assert!(codes_of("// \u{FFFD} in a comment\n").is_empty());
}

#[test]
fn control_characters_are_a_syntax_error() {
    assert_eq!(codes_of("module M {\u{0}\u{1} }"), ["E0001"]);
}

#[test]
fn unterminated_string_is_reported_at_its_quote() {
    assert_eq!(codes_of("module M { entity E { N: String = 'abc } }"), ["E0003"]);
    assert_eq!(codes_of("test \"never closed { }"), ["E0003"]);
}

#[test]
fn unterminated_comment_is_reported() {
    assert_eq!(codes_of("module M { /* no end "), ["E0004"]);
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    for open in ["(", "[", "{"] {
        let text = format!("module M {{ access E for R {{ where [{}] }} }}", open.repeat(10_000));
        assert_eq!(codes_of(&text), ["E0002"], "10,000 nested `{open}`");
    }
    let parens = format!("test 't' {{ expect {}true{} }}", "(".repeat(10_000), ")".repeat(10_000));
    assert_eq!(codes_of(&parens), ["E0002"]);
}

#[test]
fn nesting_below_the_limit_parses() {
    let depth = 200;
    let text = format!(
        "module M {{ entity E {{ A: Integer }} module role R access E for R {{ read A where [{}A = 1{}] }} }}",
        "(".repeat(depth),
        ")".repeat(depth)
    );
    assert_eq!(codes_of(&text), Vec::<&str>::new());
}

#[test]
fn long_chains_without_brackets_do_not_overflow() {
    // `else if` and `if then else` nest without brackets.
    let chain = "if true then 1 else ".repeat(900) + "0";
    assert!(codes_of(&format!("test 't' {{ expect ({chain}) = 1 }}")).is_empty());
    let chain = "if true then 1 else ".repeat(10_000) + "0";
    assert_eq!(codes_of(&format!("test 't' {{ expect ({chain}) = 1 }}")), ["E0002"]);
    let sums = format!("test 't' {{ expect {} = 900 }}", vec!["1"; 900].join(" + "));
    assert!(codes_of(&sums).is_empty());
    let sums = format!("test 't' {{ expect {} = 10000 }}", vec!["1"; 10_000].join(" + "));
    assert_eq!(codes_of(&sums), ["E0002"]);
    let else_ifs = format!("module M {{ microflow F() {{ if true {{ }} {} }} }}", "else if true { } ".repeat(10_000));
    assert_eq!(codes_of(&else_ifs), ["E0002"]);
}

#[test]
fn huge_numbers_are_a_diagnostic() {
    let text = format!("module M {{ entity E {{ A: Decimal = {} }} }}", "9".repeat(60));
    assert_eq!(codes_of(&text), ["E0005"]);
}

#[test]
fn empty_and_blank_files_are_fine() {
    assert!(codes_of("").is_empty());
    assert!(codes_of("  \n// only a comment\n/* and a block */\n").is_empty());
}

#[test]
fn truncated_programs_never_panic() {
    let shop = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/inputs/syntax/spec_shop.rules"))
        .expect("the shop example");
    // Every prefix that ends on a character boundary, in steps, parses or fails cleanly.
    for end in (0..shop.len()).step_by(37).filter(|&i| shop.is_char_boundary(i)) {
        let _ = codes_of(&shop[..end]);
    }
}
