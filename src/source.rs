//! Source files, byte spans and line/column lookup.

use std::path::{Path, PathBuf};

/// The name a program read from standard input goes by (`warden check -`).
pub const STDIN: &str = "<stdin>";

/// Index of a file in a [`SourceMap`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(pub u32);

/// A byte range in one source file.
///
/// Spans compare equal to each other whatever their positions, so that syntax
/// trees can be compared without regard to layout; use `Span::same_as` to
/// compare positions.
#[derive(Clone, Copy, Default)]
pub struct Span {
    /// The file the span lies in.
    pub file: FileId,
    /// First byte.
    pub start: u32,
    /// One past the last byte.
    pub end: u32,
}

impl std::fmt::Debug for Span {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

impl PartialEq for Span {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Span {}

impl Span {
    /// A span from byte offsets.
    pub fn new(file: FileId, start: usize, end: usize) -> Span {
        Span { file, start: start as u32, end: end as u32 }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span { file: self.file, start: self.start.min(other.start), end: self.end.max(other.end) }
    }

    /// Whether the two spans cover the same bytes of the same file.
    pub(crate) fn same_as(&self, other: &Span) -> bool {
        self.file == other.file && self.start == other.start && self.end == other.end
    }

    /// The byte range.
    pub(crate) fn range(&self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// One loaded source file.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The path as given (or a name such as `<repl>`).
    pub path: PathBuf,
    /// The full text.
    pub text: String,
    /// Where the bytes stopped being text, if they did: the first byte that is not
    /// UTF-8 (the text is then converted lossily) or the first NUL byte.
    pub invalid_utf8: Option<usize>,
    line_starts: Vec<usize>,
}

impl SourceFile {
    fn new(path: PathBuf, text: String) -> SourceFile {
        let line_starts = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
        SourceFile { path, text, invalid_utf8: None, line_starts }
    }

    /// Line and column (both from 1, columns in characters) of a byte offset.
    pub(crate) fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset) - 1;
        let start = self.line_starts[line];
        let column = self.text.get(start..offset).map_or(offset - start, |s| s.chars().count());
        (line + 1, column + 1)
    }

    /// The text of a span.
    pub fn slice(&self, span: Span) -> &str {
        self.text.get(span.range()).unwrap_or("")
    }
}

/// Every file of a load.
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    /// An empty map.
    pub fn new() -> SourceMap {
        SourceMap::default()
    }

    /// Adds a file and returns its id.
    pub fn add(&mut self, path: impl Into<PathBuf>, text: impl Into<String>) -> FileId {
        self.files.push(SourceFile::new(path.into(), text.into()));
        FileId(self.files.len() as u32 - 1)
    }

    /// Adds a file read as bytes, remembering where they stop being text (UTF-8 without NUL).
    pub fn add_bytes(&mut self, path: impl Into<PathBuf>, bytes: Vec<u8>) -> FileId {
        let (text, invalid) = match String::from_utf8(bytes) {
            Ok(text) => {
                let nul = text.find('\0');
                (text, nul)
            }
            Err(e) => {
                let at = e.utf8_error().valid_up_to();
                let nul = e.as_bytes()[..at].iter().position(|&b| b == 0);
                (String::from_utf8_lossy(e.as_bytes()).into_owned(), Some(nul.unwrap_or(at)))
            }
        };
        let id = self.add(path, text);
        self.files[id.0 as usize].invalid_utf8 = invalid;
        id
    }

    /// A file by id.
    pub fn file(&self, id: FileId) -> &SourceFile {
        &self.files[id.0 as usize]
    }

    /// All files with their ids.
    pub fn files(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files.iter().enumerate().map(|(i, f)| (FileId(i as u32), f))
    }

    /// The text of a span.
    pub fn slice(&self, span: Span) -> &str {
        self.file(span.file).slice(span)
    }

    /// The path of a file, for display.
    pub fn path(&self, id: FileId) -> &Path {
        &self.file(id).path
    }
}

/// Writes `text` to `path` so that a crash leaves either the old file or the new one: the text
/// goes to a temporary file beside it (`.NAME.PID.tmp`, removed again when anything fails),
/// which is synced to disk and renamed over `path`; then the directory is synced so that the
/// rename lasts. Formatted sources, snapshot files and JSON stores are all written so.
pub fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written?;
    // The rename is in the directory: sync it too (not every platform can open one).
    if let Ok(d) = std::fs::File::open(dir) {
        d.sync_all()?;
    }
    Ok(())
}
