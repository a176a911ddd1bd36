//! Loading a program: files and directories in, a checked program and every
//! diagnostic out.

use crate::codes::Code;
use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::check::{self, Checked};
use crate::diagnostic::Diagnostic;
use crate::source::{FileId, SourceFile, SourceMap, Span, STDIN};
use crate::syntax;

/// A problem reading the files themselves (exit code 2), as opposed to a problem in them.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A path that does not exist.
    #[error("`{0}` does not exist")]
    NotFound(PathBuf),
    /// A directory without any `.rules` file.
    #[error("no `.rules` files under `{0}`")]
    NoRules(PathBuf),
    /// A path that is neither a regular file nor a directory (a FIFO, a socket, a device).
    #[error("`{path}` is not a regular file (it is {kind}); warden reads files and directories")]
    NotRegular {
        /// The path.
        path: PathBuf,
        /// What it is instead.
        kind: &'static str,
    },
    /// `-` given twice.
    #[error("standard input (`-`) can be read only once")]
    StdinTwice,
    /// Any other I/O failure.
    #[error("cannot read `{path}`: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
}

/// Reads every `.rules` file named or found under the given paths, in sorted order.
///
/// `-` reads standard input (named `<stdin>`). Each file is read once, however
/// many paths or symbolic links lead to it; a directory reached again through a
/// link (a cycle) is not walked again; what is not a regular file (a FIFO, a
/// socket) is skipped in a directory and refused when named.
pub fn read_sources(paths: &[PathBuf]) -> Result<SourceMap, LoadError> {
    let mut files = Vec::new();
    let mut walk = Walk::default();
    let mut stdin = None;
    for path in paths {
        if path.as_os_str() == "-" {
            if stdin.is_some() {
                return Err(LoadError::StdinTwice);
            }
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .map_err(|source| LoadError::Io { path: PathBuf::from(STDIN), source })?;
            stdin = Some(files.len());
            files.push((PathBuf::from(STDIN), Some(bytes)));
            continue;
        }
        let meta = std::fs::metadata(path).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => LoadError::NotFound(path.clone()),
            _ => LoadError::Io { path: path.clone(), source },
        })?;
        if meta.is_dir() {
            let before = files.len();
            walk.dir(path, &mut files)?;
            if files.len() == before {
                return Err(LoadError::NoRules(path.clone()));
            }
        } else if meta.is_file() {
            if walk.first_time(path) {
                files.push((path.clone(), None));
            }
        } else {
            return Err(LoadError::NotRegular { path: path.clone(), kind: kind_of(&meta) });
        }
    }
    let mut sources = SourceMap::new();
    for (path, bytes) in files {
        let bytes = match bytes {
            Some(b) => b,
            None => std::fs::read(&path).map_err(|source| LoadError::Io { path: path.clone(), source })?,
        };
        sources.add_bytes(path, bytes);
    }
    Ok(sources)
}

/// What a directory walk has seen, by canonical path.
#[derive(Default)]
struct Walk {
    dirs: HashSet<PathBuf>,
    files: HashSet<PathBuf>,
}

impl Walk {
    /// Whether a file is seen for the first time (by its canonical path).
    fn first_time(&mut self, path: &Path) -> bool {
        self.files.insert(std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()))
    }

    fn dir(&mut self, dir: &Path, out: &mut Vec<(PathBuf, Option<Vec<u8>>)>) -> Result<(), LoadError> {
        let canonical = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        if !self.dirs.insert(canonical) {
            return Ok(()); // reached again through a link: walked already
        }
        let io = |source| LoadError::Io { path: dir.to_path_buf(), source };
        let mut entries: Vec<PathBuf> =
            std::fs::read_dir(dir).map_err(io)?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>().map_err(io)?;
        entries.sort();
        for path in entries {
            // Follows links; a dangling link is skipped.
            let Ok(meta) = std::fs::metadata(&path) else { continue };
            if meta.is_dir() {
                self.dir(&path, out)?;
            } else if meta.is_file() && path.extension().is_some_and(|e| e == "rules") && self.first_time(&path) {
                out.push((path, None));
            }
        }
        Ok(())
    }
}

fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_socket() {
            return "a socket";
        }
        if t.is_char_device() || t.is_block_device() {
            return "a device";
        }
    }
    let _ = meta;
    "not a file"
}

/// E0007 for a file that is not text (bytes that are not UTF-8, or a NUL byte), if it is not.
pub fn not_text(id: FileId, file: &SourceFile) -> Option<Diagnostic> {
    let offset = file.invalid_utf8?;
    // The lossy text has the same bytes up to the first invalid one.
    let end = offset + file.text[offset..].chars().next().map_or(0, char::len_utf8);
    let span = Span::new(id, offset, end);
    let path = crate::diagnostic::clean(&file.path.display().to_string()).into_owned();
    let why = if file.text.as_bytes().get(offset) == Some(&0) {
        format!("it contains a NUL byte (byte {offset})")
    } else {
        format!("its bytes are not UTF-8 from byte {offset}")
    };
    let message = format!("`{path}` is not a text file: {why}");
    let help = "warden reads `.rules` files as UTF-8 text; convert the file, or remove it if it is not a rules file";
    Some(Diagnostic::error(Code::E0007, message, span).with_help(help))
}

/// Parses and checks the sources. When any file has a syntax error, only the
/// syntax errors are reported: checking half a program would only add noise.
pub fn load(sources: SourceMap) -> Checked {
    let mut files = Vec::new();
    let mut diagnostics: Vec<Diagnostic> = Vec::new();
    for (id, file) in sources.files() {
        if let Some(d) = not_text(id, file) {
            diagnostics.push(d);
            continue;
        }
        match syntax::parse_file(&file.text, id) {
            Ok(parsed) => files.push(parsed),
            Err(e) => diagnostics.push(e.into()),
        }
    }
    if !diagnostics.is_empty() {
        return Checked { program: crate::model::Program { sources, ..Default::default() }, diagnostics };
    }
    // Checking recurses like parsing does; give it the same room.
    syntax::on_big_stack(move || check::check(sources, &files))
}

/// Reads and loads in one step.
pub fn load_paths(paths: &[PathBuf]) -> Result<Checked, LoadError> {
    Ok(load(read_sources(paths)?))
}
