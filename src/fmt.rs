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
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' | b'"' => {
                let quote = bytes[i];
                i += 1;
                while i < bytes.len() && bytes[i] != b'\n' {
                    if bytes[i] == quote {
                        if bytes.get(i + 1) == Some(&quote) {
                            i += 1;
                        } else {
                            break;
                        }
                    }
                    i += 1;
                }
                i += 1;
            }
            b'/' if matches!(bytes.get(i + 1), Some(b'/') | Some(b'*')) => {
                let start = i;
                let end = if bytes[i + 1] == b'/' {
                    text[i..].find('\n').map_or(text.len(), |n| i + n)
                } else {
                    text[i + 2..].find("*/").map_or(text.len(), |n| i + 2 + n + 2)
                };
                let line_start = text[..start].rfind('\n').map_or(0, |n| n + 1);
                let trailing = !text[line_start..start].trim().is_empty();
                out.push(Comment { text: text[start..end].trim_end().to_string(), start, end, trailing });
                i = end;
            }
            _ => i += 1,
        }
    }
    out
}
