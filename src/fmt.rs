//! `warden fmt`: one canonical layout for `.rules` files.
//!
//! The layout: two-space indentation; one declaration, member, rule line,
//! statement or grant per line; at most one blank line between them (kept
//! where the source had one); canonical spacing around operators and inside
//! XPath. Comments are kept: a comment that followed code on its line stays at
//! the end of the line printed before it, any other stands on its own line
//! before the next declaration or statement.

mod print;

use crate::source::FileId;
use crate::syntax::{self, ParseError};

/// Formats a file's text; a file with a syntax error is refused.
pub fn format_source(text: &str) -> Result<String, ParseError> {
    let file = syntax::parse_file(text, FileId(0))?;
    Ok(print::Printer::new(text).file(&file))
}

/// A comment in the source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comment {
    /// Its text, markers included (`// ...` or `/* ... */`).
    pub text: String,
    /// Where it starts.
    pub start: usize,
    /// Where it ends.
    pub end: usize,
    /// Whether code precedes it on its line.
    pub trailing: bool,
}

/// Every comment of a source text, in order (strings are skipped).
pub fn comments(text: &str) -> Vec<Comment> {
    syntax::scan::pieces(text)
        .filter(|p| p.is_comment())
        .map(|p| {
            let line_start = text[..p.start].rfind('\n').map_or(0, |n| n + 1);
            let trailing = !text[line_start..p.start].trim().is_empty();
            Comment { text: text[p.start..p.end].trim_end().to_string(), start: p.start, end: p.end, trailing }
        })
        .collect()
}
