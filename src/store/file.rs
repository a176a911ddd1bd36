//! Store files on disk: the exclusive write lock, atomic saves of JSON stores, and the
//! fingerprint by which a process that keeps a store open across transactions (the REPL)
//! notices that another process changed it.
//!
//! A JSON store is guarded by a lock file beside it (`.NAME.lock`), held with the
//! operating system's exclusive lock for as long as a run may write: a run that may save
//! takes it before it reads the store, so two writers never lose each other's changes. A
//! SQLite store is guarded by SQLite's own write lock (`BEGIN IMMEDIATE`, see
//! [`super::sqlite`]).

use std::fs::File;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use super::{sqlite, Store, StoreError};
use crate::model::Program;

/// What a store held when it was last read or written, to tell whether another process
/// changed it since (a hash of the JSON file's bytes, or of a SQLite store's objects).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fingerprint(u64);

/// The exclusive write lock of a JSON store file, released when dropped. For a SQLite store
/// it holds nothing: SQLite's own lock guards the file.
#[derive(Debug)]
pub struct WriteLock {
    path: PathBuf,
    _file: Option<File>,
}

/// The lock file of a JSON store: `.NAME.lock` in the same directory.
fn lock_path(path: &Path) -> PathBuf {
    let (dir, name) = dir_and_name(path);
    dir.join(format!(".{name}.lock"))
}

fn dir_and_name(path: &Path) -> (PathBuf, String) {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf();
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "store".into());
    (dir, name)
}

/// Takes the exclusive write lock of the store at `path`, waiting while another process holds it.
pub fn write_lock(path: &Path) -> std::io::Result<WriteLock> {
    if sqlite::is_sqlite_path(path) {
        return Ok(WriteLock { path: path.to_path_buf(), _file: None });
    }
    let file = File::options().create(true).truncate(false).write(true).open(lock_path(path))?;
    file.lock()?;
    Ok(WriteLock { path: path.to_path_buf(), _file: Some(file) })
}

impl WriteLock {
    /// The store file it guards.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `store` to the guarded JSON file atomically: temporary files left by saves
    /// that crashed are removed, the new text goes to a temporary file that is synced to
    /// disk and renamed over the store, and the directory is synced so the rename lasts.
    pub fn save_json(&self, program: &Program, store: &dyn Store) -> std::io::Result<()> {
        let (dir, name) = dir_and_name(&self.path);
        remove_stale_temporaries(&dir, &name);
        crate::source::write_atomically(&self.path, &super::json::store_text(program, store))
    }
}

/// Removes `.NAME.PID.tmp` files of crashed saves (only ever called under the write lock, so
/// no save is in flight).
fn remove_stale_temporaries(dir: &Path, name: &str) {
    let prefix = format!(".{name}.");
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = file.strip_prefix(&prefix) else { continue };
        let pid = rest.strip_suffix(".tmp");
        if pid.is_some_and(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit())) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// The fingerprint of the store at `path` as it is now (`None`: there is no such file).
pub fn fingerprint(program: &Program, path: &Path) -> Result<Option<Fingerprint>, Vec<StoreError>> {
    if !path.exists() {
        return Ok(None);
    }
    if sqlite::is_sqlite_path(path) {
        let store = sqlite::SqliteStore::open(program, path, sqlite::Mode::Read)?;
        return Ok(Some(fingerprint_of(program, &store)));
    }
    let bytes = std::fs::read(path)
        .map_err(|e| vec![StoreError { path: path.display().to_string(), message: format!("cannot read: {e}") }])?;
    Ok(Some(hash(&bytes)))
}

/// The fingerprint of a store's objects (for SQLite stores, which have no one text).
pub(crate) fn fingerprint_of(program: &Program, store: &dyn Store) -> Fingerprint {
    hash(super::json::store_text(program, store).as_bytes())
}

fn hash(bytes: &[u8]) -> Fingerprint {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    Fingerprint(h.finish())
}

/// Why [`save_over`] wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    /// Another process changed the store since this one read (or last wrote) it.
    #[error("`{0}` was changed by another process since this session read it; nothing was saved")]
    Changed(String),
    /// The file could not be read or written.
    #[error("cannot save `{path}`: {message}")]
    Io {
        /// The store file.
        path: String,
        /// What went wrong.
        message: String,
    },
}

/// Saves `store` to `path` under the store's write lock, unless another process changed the
/// file since `base` (what this process last read or wrote there; `None`: it never did, and
/// the file must not exist yet). Returns the fingerprint of what was written.
pub fn save_over(
    program: &Program,
    store: &dyn Store,
    path: &Path,
    base: Option<Fingerprint>,
) -> Result<Fingerprint, SaveError> {
    let io = |message: String| SaveError::Io { path: path.display().to_string(), message };
    let lock = write_lock(path).map_err(|e| io(format!("cannot take the write lock: {e}")))?;
    if sqlite::is_sqlite_path(path) {
        if base.is_none() && path.exists() {
            return Err(SaveError::Changed(path.display().to_string()));
        }
        return sqlite::save_over(program, store, path, base);
    }
    let now =
        fingerprint(program, path).map_err(|e| io(e.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")))?;
    if now.is_some() && now != base {
        return Err(SaveError::Changed(path.display().to_string()));
    }
    lock.save_json(program, store).map_err(|e| io(e.to_string()))?;
    Ok(hash(super::json::store_text(program, store).as_bytes()))
}

/// Reads the store at `path` into memory, with the fingerprint of what was read.
pub fn load_with_fingerprint(
    program: &Program,
    path: &Path,
) -> Result<(super::MemoryStore, Fingerprint), Vec<StoreError>> {
    if sqlite::is_sqlite_path(path) {
        let store = super::load_into_memory(program, path)?;
        let print = fingerprint_of(program, &store);
        return Ok((store, print));
    }
    let bytes = std::fs::read(path)
        .map_err(|e| vec![StoreError { path: path.display().to_string(), message: format!("cannot read: {e}") }])?;
    let text = String::from_utf8(bytes)
        .map_err(|e| vec![StoreError { path: path.display().to_string(), message: format!("not UTF-8 text: {e}") }])?;
    let store = super::load_json(program, &text)?;
    Ok((store, hash(text.as_bytes())))
}

/// Writes the store to `path` atomically, under the store's write lock (see
/// [`WriteLock::save_json`]). A caller that holds the lock already saves through it instead.
pub fn save_json(program: &Program, store: &dyn Store, path: &Path) -> std::io::Result<()> {
    write_lock(path)?.save_json(program, store)
}

/// A new JSON store file written object by object (`warden store import|export`), byte for
/// byte the file [`save_json`] writes: under the store's write lock, into a temporary file
/// that replaces the store only at `finish` (dropped before, it is removed).
pub(super) struct JsonSink<'p> {
    program: &'p Program,
    path: PathBuf,
    file: Option<crate::source::AtomicFile>,
    /// How many objects were written.
    written: usize,
    _lock: WriteLock,
}

impl<'p> JsonSink<'p> {
    /// Takes the write lock of the store at `path` and starts its new text.
    pub(super) fn create(program: &'p Program, path: &Path) -> Result<JsonSink<'p>, Vec<StoreError>> {
        let at = |e: std::io::Error| vec![StoreError { path: path.display().to_string(), message: e.to_string() }];
        let lock = write_lock(path).map_err(at)?;
        let (dir, name) = dir_and_name(path);
        remove_stale_temporaries(&dir, &name);
        let mut file = crate::source::AtomicFile::create(path).map_err(at)?;
        std::io::Write::write_all(&mut file, super::json::text_head().as_bytes()).map_err(at)?;
        Ok(JsonSink { program, path: path.to_path_buf(), file: Some(file), written: 0, _lock: lock })
    }

    fn fail(&self, e: std::io::Error) -> Vec<StoreError> {
        vec![StoreError { path: self.path.display().to_string(), message: e.to_string() }]
    }
}

impl super::ObjectSink for JsonSink<'_> {
    fn write(&mut self, batch: &[super::Object]) -> Result<(), Vec<StoreError>> {
        use std::io::Write;
        let Some(file) = &mut self.file else { return Ok(()) };
        let mut text = String::new();
        for o in batch {
            let Some(line) = super::json::object_line(self.program, o) else { continue };
            // The comma goes before every object but the first: which one is last is not known yet.
            if self.written > 0 {
                text.push_str(",\n");
            }
            text.push_str(&line);
            self.written += 1;
        }
        file.write_all(text.as_bytes()).map_err(|e| self.fail(e))
    }

    fn finish(&mut self) -> Result<usize, Vec<StoreError>> {
        use std::io::Write;
        let Some(mut file) = self.file.take() else { return Ok(self.written) };
        let end = if self.written > 0 { "\n" } else { "" };
        file.write_all(format!("{end}{}", super::json::TEXT_TAIL).as_bytes()).map_err(|e| self.fail(e))?;
        file.commit().map_err(|e| self.fail(e))?;
        Ok(self.written)
    }
}
