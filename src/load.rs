//! Loading a program: files and directories in, a checked program and every
//! diagnostic out.

use std::path::{Path, PathBuf};

use crate::check::{self, Checked};
use crate::diagnostic::Diagnostic;
use crate::source::{SourceMap, Span};
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
pub fn read_sources(paths: &[PathBuf]) -> Result<SourceMap, LoadError> {
    let mut files = Vec::new();
    for path in paths {
        if !path.exists() {
            return Err(LoadError::NotFound(path.clone()));
        }
        if path.is_dir() {
            let before = files.len();
            collect_dir(path, &mut files)?;
            if files.len() == before {
                return Err(LoadError::NoRules(path.clone()));
            }
        } else {
            files.push(path.clone());
        }
    }
    let mut sources = SourceMap::new();
    for path in files {
        let bytes = std::fs::read(&path).map_err(|source| LoadError::Io { path: path.clone(), source })?;
        sources.add_bytes(path, bytes);
    }
    Ok(sources)
}

fn collect_dir(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), LoadError> {
    let io = |source| LoadError::Io { path: dir.to_path_buf(), source };
    let mut entries: Vec<PathBuf> =
        std::fs::read_dir(dir).map_err(io)?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>().map_err(io)?;
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect_dir(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rules") {
            out.push(path);
        }
    }
    Ok(())
}

/// Parses and checks the sources. When any file has a syntax error, only the
/// syntax errors are reported: checking half a program would only add noise.
pub fn load(sources: SourceMap) -> Checked {
    let mut files = Vec::new();
    let mut diagnostics: Vec<Diagnostic> = Vec::new();
    for (id, file) in sources.files() {
        if let Some(offset) = file.invalid_utf8 {
            // The lossy text has the same bytes up to the first invalid one.
            let end = offset + file.text[offset..].chars().next().map_or(0, char::len_utf8);
            let span = Span::new(id, offset, end);
            diagnostics.push(Diagnostic::error("E0007", "the file is not valid UTF-8 text", span));
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
