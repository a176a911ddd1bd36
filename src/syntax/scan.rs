//! The one lexical scanner for strings and comments: it splits a source text into code,
//! strings and comments, so that everyone who must skip strings or find comments (the
//! parser's prescan, the formatter, the REPL's "is this input complete", the audit's
//! suppression comments) agrees on where each begins and ends.
//!
//! The rules are the language's (section 1): `// to end of line`, `/* block */` (not
//! nested), strings in single or double quotes with the quote doubled inside, and no string
//! across a line end (a newline inside quotes ends the string as unterminated).

/// What a piece of source text is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PieceKind {
    /// Anything outside strings and comments.
    Code,
    /// A quoted string, quotes included; `closed` is false when the line or the text ended first.
    String {
        /// Whether the closing quote was found.
        closed: bool,
    },
    /// `// ...` up to (not including) the line end.
    LineComment,
    /// `/* ... */`; `closed` is false when the text ended first.
    BlockComment {
        /// Whether `*/` was found.
        closed: bool,
    },
}

/// A piece of source text: its kind and its byte range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Piece {
    /// What it is.
    pub kind: PieceKind,
    /// Where it starts (a byte offset).
    pub start: usize,
    /// Where it ends (exclusive).
    pub end: usize,
}

impl Piece {
    /// Whether it is a comment of either kind.
    pub(crate) fn is_comment(&self) -> bool {
        matches!(self.kind, PieceKind::LineComment | PieceKind::BlockComment { .. })
    }
}

/// The pieces of `text`, in order; together they cover it exactly.
pub fn pieces(text: &str) -> Pieces<'_> {
    Pieces { text, at: 0 }
}

/// The iterator of [`pieces`].
#[derive(Clone, Debug)]
pub struct Pieces<'t> {
    text: &'t str,
    at: usize,
}

impl Iterator for Pieces<'_> {
    type Item = Piece;

    fn next(&mut self) -> Option<Piece> {
        let bytes = self.text.as_bytes();
        let start = self.at;
        if start >= bytes.len() {
            return None;
        }
        let (kind, end) = match bytes[start] {
            b'/' if bytes.get(start + 1) == Some(&b'/') => {
                let end = memchr_newline(bytes, start);
                (PieceKind::LineComment, end)
            }
            b'/' if bytes.get(start + 1) == Some(&b'*') => match self.text[start + 2..].find("*/") {
                Some(n) => (PieceKind::BlockComment { closed: true }, start + 2 + n + 2),
                None => (PieceKind::BlockComment { closed: false }, bytes.len()),
            },
            quote @ (b'\'' | b'"') => {
                let mut i = start + 1;
                loop {
                    match bytes.get(i) {
                        None | Some(b'\n') => break (PieceKind::String { closed: false }, i),
                        Some(&b) if b == quote && bytes.get(i + 1) == Some(&quote) => i += 2,
                        Some(&b) if b == quote => break (PieceKind::String { closed: true }, i + 1),
                        _ => i += 1,
                    }
                }
            }
            _ => {
                let mut i = start + 1;
                while i < bytes.len() && !starts_other(bytes, i) {
                    i += 1;
                }
                (PieceKind::Code, i)
            }
        };
        self.at = end;
        Some(Piece { kind, start, end })
    }
}

/// Whether a string or a comment starts at `i`.
fn starts_other(bytes: &[u8], i: usize) -> bool {
    match bytes[i] {
        b'\'' | b'"' => true,
        b'/' => matches!(bytes.get(i + 1), Some(b'/' | b'*')),
        _ => false,
    }
}

/// The offset of the next line end at or after `from`, or the end of the text.
fn memchr_newline(bytes: &[u8], from: usize) -> usize {
    bytes[from..].iter().position(|&b| b == b'\n').map_or(bytes.len(), |n| from + n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(PieceKind, &str)> {
        pieces(text).map(|p| (p.kind, &text[p.start..p.end])).collect()
    }

    #[test]
    fn splits_code_strings_and_comments() {
        use PieceKind::*;
        assert_eq!(
            kinds("a = 'it''s' // c\n/* b */\"x\""),
            vec![
                (Code, "a = "),
                (String { closed: true }, "'it''s'"),
                (Code, " "),
                (LineComment, "// c"),
                (Code, "\n"),
                (BlockComment { closed: true }, "/* b */"),
                (String { closed: true }, "\"x\""),
            ]
        );
    }

    #[test]
    fn unterminated_pieces_end_at_the_line_or_the_text() {
        use PieceKind::*;
        assert_eq!(kinds("'abc\nx"), vec![(String { closed: false }, "'abc"), (Code, "\nx")]);
        assert_eq!(kinds("x /* y"), vec![(Code, "x "), (BlockComment { closed: false }, "/* y")]);
        assert_eq!(kinds("'a''"), vec![(String { closed: false }, "'a''")]);
    }

    #[test]
    fn pieces_cover_the_text() {
        for text in ["", "/", "a/b", "'//'", "/*'*/'", "\"a\"'b'//c\n/**/", "é'ü'/*ß*/"] {
            let mut at = 0;
            for p in pieces(text) {
                assert_eq!(p.start, at, "{text:?}");
                assert!(p.end > p.start, "{text:?}");
                at = p.end;
            }
            assert_eq!(at, text.len(), "{text:?}");
        }
    }
}
