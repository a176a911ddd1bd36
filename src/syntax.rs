//! Parsing: pest pairs are lowered at once into the typed tree of [`ast`];
//! no other module sees pest types.

pub mod ast;
mod errors;
mod lower;
mod lower_stmt;
pub mod scan;
pub(crate) mod shift;

use pest::Parser;

pub use errors::{describe, Described, ParseError};

use crate::source::{FileId, Span};

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/rules.pest"]
pub(crate) struct RulesParser;

/// How deep brackets, braces and parentheses may nest.
pub(crate) const MAX_NESTING: usize = 256;

/// How deep expressions and statements may nest, counting operator chains
/// (`1 + 1 + ...`) and `else if` / `if then else` chains, which need no brackets.
pub(crate) const MAX_EXPR_DEPTH: usize = 1000;

/// Parses one file.
pub fn parse_file(text: &str, file: FileId) -> Result<ast::File, ParseError> {
    prescan(text, file)?;
    on_big_stack(|| {
        let pairs = RulesParser::parse(Rule::file, text).map_err(|e| errors::from_pest(e, file, text))?;
        // INVARIANT: a successful parse of `file` yields exactly one pair.
        #[expect(clippy::expect_used, reason = "an invariant of the grammar")]
        let file_pair = pairs.into_iter().next().expect("the file rule always yields one pair");
        lower::Lower::new(file).file(file_pair)
    })
}

/// Parses `text` (the file's text from `offset` on) as one access rule that ends where the
/// text ends, or `None`. The caller has checked the whole file's text with [`prescan_ok`].
pub(crate) fn parse_access_rule(text: &str, offset: usize, file: FileId) -> Option<ast::AccessRule> {
    let pairs = RulesParser::parse(Rule::access_rule, text).ok()?;
    let pair = pairs.into_iter().next()?;
    if pair.as_span().end() != text.len() {
        return None;
    }
    let mut rule = lower::Lower::new(file).access_rule(pair).ok()?;
    use shift::Shift;
    rule.shift(i64::try_from(offset).ok()?).then_some(rule)
}

/// Whether the prescan of [`parse_file`] finds nothing wrong.
pub(crate) fn prescan_ok(text: &str, file: FileId) -> bool {
    prescan(text, file).is_ok()
}

/// Parses statements typed at the REPL or given to `warden eval -e`.
pub fn parse_statements(text: &str, file: FileId) -> Result<Vec<ast::Stmt>, ParseError> {
    prescan(text, file)?;
    on_big_stack(|| {
        let pairs = RulesParser::parse(Rule::repl_input, text).map_err(|e| errors::from_pest(e, file, text))?;
        // INVARIANT: a successful parse of `repl_input` yields exactly one pair.
        #[expect(clippy::expect_used, reason = "an invariant of the grammar")]
        let input = pairs.into_iter().next().expect("repl_input always yields one pair");
        lower::Lower::new(file).repl_input(input)
    })
}

/// Runs the parser and the lowering on a thread with a large stack: both recurse
/// once per nesting level, and the prescan bounds the nesting, not the stack.
// INVARIANT: a thread can be spawned; a process that cannot has nothing left to do.
#[expect(clippy::expect_used, reason = "no parse without the parser's thread")]
pub(crate) fn on_big_stack<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .stack_size(256 << 20)
            .spawn_scoped(s, f)
            .expect("spawning the parser thread")
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// Finds what the grammar would report badly or recurse too deeply on:
/// unterminated strings and comments, and brackets nested past [`MAX_NESTING`].
fn prescan(text: &str, file: FileId) -> Result<(), ParseError> {
    let mut depth = 0usize;
    for piece in scan::pieces(text) {
        match piece.kind {
            scan::PieceKind::BlockComment { closed: false } => {
                return Err(ParseError::UnterminatedComment { span: Span::new(file, piece.start, piece.start + 2) });
            }
            // A newline inside quotes is almost always a missing quote.
            scan::PieceKind::String { closed: false } => {
                return Err(ParseError::UnterminatedString { span: Span::new(file, piece.start, piece.start + 1) });
            }
            scan::PieceKind::Code => {
                for (i, b) in text[piece.start..piece.end].bytes().enumerate() {
                    match b {
                        b'(' | b'[' | b'{' => {
                            depth += 1;
                            if depth > MAX_NESTING {
                                let at = piece.start + i;
                                return Err(ParseError::TooDeep {
                                    limit: MAX_NESTING,
                                    span: Span::new(file, at, at + 1),
                                });
                            }
                        }
                        b')' | b']' | b'}' => depth = depth.saturating_sub(1),
                        _ => {}
                    }
                }
            }
            scan::PieceKind::String { closed: true }
            | scan::PieceKind::LineComment
            | scan::PieceKind::BlockComment { closed: true } => {}
        }
    }
    Ok(())
}
