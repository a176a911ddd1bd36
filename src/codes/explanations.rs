//! The longer explanation of every diagnostic code, in the manner of `rustc --explain`: what
//! triggers it, why it matters, an example that produces it and the same example fixed. Each
//! is a Markdown file of its own under `explanations/` (as rustc keeps its error index), so the
//! text reads and diffs as text; `tests/code_explanations.rs` runs every example.
//!
//! In an explanation, a block fenced as `rules example` is a program that reports the code (from
//! `warden check`, `warden audit` or a failing `test` block) and no other error or warning; a
//! block fenced as `rules fixed` reports no error or warning at all. A first line
//! `// $ warden ARGS` runs that command over the block instead. A block fenced as
//! `console example` holds `$ ` command lines that print the code when run in an empty directory.

/// Every explanation, sorted by code.
const EXPLANATIONS: &[(&str, &str)] = &[
    ("A001", include_str!("explanations/A001.md")),
    ("A002", include_str!("explanations/A002.md")),
    ("A003", include_str!("explanations/A003.md")),
    ("A004", include_str!("explanations/A004.md")),
    ("A005", include_str!("explanations/A005.md")),
    ("A006", include_str!("explanations/A006.md")),
    ("A007", include_str!("explanations/A007.md")),
    ("A008", include_str!("explanations/A008.md")),
    ("A009", include_str!("explanations/A009.md")),
    ("A010", include_str!("explanations/A010.md")),
    ("A011", include_str!("explanations/A011.md")),
    ("A100", include_str!("explanations/A100.md")),
    ("A101", include_str!("explanations/A101.md")),
    ("E0001", include_str!("explanations/E0001.md")),
    ("E0002", include_str!("explanations/E0002.md")),
    ("E0003", include_str!("explanations/E0003.md")),
    ("E0004", include_str!("explanations/E0004.md")),
    ("E0005", include_str!("explanations/E0005.md")),
    ("E0006", include_str!("explanations/E0006.md")),
    ("E0007", include_str!("explanations/E0007.md")),
    ("E0101", include_str!("explanations/E0101.md")),
    ("E0102", include_str!("explanations/E0102.md")),
    ("E0103", include_str!("explanations/E0103.md")),
    ("E0104", include_str!("explanations/E0104.md")),
    ("E0105", include_str!("explanations/E0105.md")),
    ("E0106", include_str!("explanations/E0106.md")),
    ("E0107", include_str!("explanations/E0107.md")),
    ("E0108", include_str!("explanations/E0108.md")),
    ("E0109", include_str!("explanations/E0109.md")),
    ("E0110", include_str!("explanations/E0110.md")),
    ("E0111", include_str!("explanations/E0111.md")),
    ("E0112", include_str!("explanations/E0112.md")),
    ("E0113", include_str!("explanations/E0113.md")),
    ("E0114", include_str!("explanations/E0114.md")),
    ("E0115", include_str!("explanations/E0115.md")),
    ("E0201", include_str!("explanations/E0201.md")),
    ("E0202", include_str!("explanations/E0202.md")),
    ("E0203", include_str!("explanations/E0203.md")),
    ("E0204", include_str!("explanations/E0204.md")),
    ("E0205", include_str!("explanations/E0205.md")),
    ("E0206", include_str!("explanations/E0206.md")),
    ("E0207", include_str!("explanations/E0207.md")),
    ("E0301", include_str!("explanations/E0301.md")),
    ("E0302", include_str!("explanations/E0302.md")),
    ("E0303", include_str!("explanations/E0303.md")),
    ("E0304", include_str!("explanations/E0304.md")),
    ("E0305", include_str!("explanations/E0305.md")),
    ("E0401", include_str!("explanations/E0401.md")),
    ("E0402", include_str!("explanations/E0402.md")),
    ("E0501", include_str!("explanations/E0501.md")),
    ("E0502", include_str!("explanations/E0502.md")),
    ("E0503", include_str!("explanations/E0503.md")),
    ("E0504", include_str!("explanations/E0504.md")),
    ("E0505", include_str!("explanations/E0505.md")),
    ("E0506", include_str!("explanations/E0506.md")),
    ("E0507", include_str!("explanations/E0507.md")),
    ("E0508", include_str!("explanations/E0508.md")),
    ("E0509", include_str!("explanations/E0509.md")),
    ("E0510", include_str!("explanations/E0510.md")),
    ("E0511", include_str!("explanations/E0511.md")),
    ("E0512", include_str!("explanations/E0512.md")),
    ("E0513", include_str!("explanations/E0513.md")),
    ("E0514", include_str!("explanations/E0514.md")),
    ("E0515", include_str!("explanations/E0515.md")),
    ("E0601", include_str!("explanations/E0601.md")),
    ("E0602", include_str!("explanations/E0602.md")),
    ("E0603", include_str!("explanations/E0603.md")),
    ("E0604", include_str!("explanations/E0604.md")),
    ("E0605", include_str!("explanations/E0605.md")),
    ("E0606", include_str!("explanations/E0606.md")),
    ("E0607", include_str!("explanations/E0607.md")),
    ("E0608", include_str!("explanations/E0608.md")),
    ("E0609", include_str!("explanations/E0609.md")),
    ("E0701", include_str!("explanations/E0701.md")),
    ("E0702", include_str!("explanations/E0702.md")),
    ("E0703", include_str!("explanations/E0703.md")),
    ("E0704", include_str!("explanations/E0704.md")),
    ("E0705", include_str!("explanations/E0705.md")),
    ("E0706", include_str!("explanations/E0706.md")),
    ("E0707", include_str!("explanations/E0707.md")),
    ("E0801", include_str!("explanations/E0801.md")),
    ("E0802", include_str!("explanations/E0802.md")),
    ("E0803", include_str!("explanations/E0803.md")),
    ("E0804", include_str!("explanations/E0804.md")),
    ("E0805", include_str!("explanations/E0805.md")),
    ("E0806", include_str!("explanations/E0806.md")),
    ("R001", include_str!("explanations/R001.md")),
    ("R002", include_str!("explanations/R002.md")),
    ("R003", include_str!("explanations/R003.md")),
    ("R004", include_str!("explanations/R004.md")),
    ("R005", include_str!("explanations/R005.md")),
    ("R006", include_str!("explanations/R006.md")),
    ("R007", include_str!("explanations/R007.md")),
    ("R008", include_str!("explanations/R008.md")),
    ("R009", include_str!("explanations/R009.md")),
    ("R010", include_str!("explanations/R010.md")),
];

/// The explanation of a code (in any case), as Markdown.
pub(super) fn get(code: &str) -> Option<&'static str> {
    let code = code.to_ascii_uppercase();
    EXPLANATIONS.binary_search_by(|(c, _)| c.cmp(&code.as_str())).ok().map(|i| EXPLANATIONS[i].1)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_table_is_sorted_for_binary_search() {
        for pair in super::EXPLANATIONS.windows(2) {
            assert!(pair[0].0 < pair[1].0, "{} before {}", pair[0].0, pair[1].0);
        }
        assert!(super::get("e0105").is_some_and(|text| text.contains("```rules example")));
        assert_eq!(super::get("X001"), None);
    }
}
