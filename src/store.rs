//! Object stores: the [`Store`] trait, runtime [`Value`]s and objects, and the
//! in-memory store that loads and saves the JSON format of the spec.

pub mod dialect;
pub mod file;
mod json;
mod memory;
#[cfg(feature = "postgres")]
pub mod pg_runtime;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod runtime_state;
pub mod sqlite;
mod stream;

use std::borrow::Cow;

use crate::model::{EntityId, Program};

pub use crate::model::value::{ObjectId, Value, ROLE_OBJECT_BASE};
pub use file::save_json;
pub use json::{load_json, load_json_fast, load_json_reporting, to_json, value_json, StoreError};
pub use memory::MemoryStore;
pub use sqlite::SqliteStore;

/// Why a store could not make a transaction's changes permanent (everything since its
/// `begin` is undone).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CommitError {
    /// Another process changed the store since this one read it: nothing was written.
    #[error("another process changed the store since it was read; nothing was written, run again")]
    Changed,
    /// The database refused a write or the commit (a full disk, a lock held too long).
    #[error("{reason}")]
    Database {
        /// What the database said.
        reason: String,
    },
}

/// A parameter of a SQL query a store runs for the evaluator (never spliced into the text).
#[derive(Clone, Debug, PartialEq)]
pub enum SqlValue {
    /// `NULL`.
    Null,
    /// An integer (ids, counts, instants, Booleans).
    Integer(i64),
    /// Text (strings, decimals, enumeration value names).
    Text(String),
}

/// One stored object: its entity and a value per member of that entity.
#[derive(Clone, Debug, PartialEq)]
pub struct Object {
    /// Its id.
    pub id: ObjectId,
    /// Its entity (the most specific one).
    pub entity: EntityId,
    /// A value per member, by [`crate::model::MemberIndex`].
    pub values: Vec<Value>,
}

impl Object {
    /// A new object with every member at its default.
    pub fn new(program: &Program, id: ObjectId, entity: EntityId) -> Object {
        let values = program
            .entity(entity)
            .members
            .iter()
            .map(|m| match (&m.default, m.kind) {
                (Some(value), _) => value.clone(),
                (None, crate::model::MemberKind::Association(a))
                    if program.assoc(a).multiplicity == crate::model::Multiplicity::ReferenceSet =>
                {
                    Value::List(Vec::new())
                }
                _ => Value::Empty,
            })
            .collect();
        Object { id, entity, values }
    }
}

/// Where committed objects live. Every backend gives the same answers; the
/// evaluator stages a statement's changes inside `begin`/`commit`, and
/// `rollback` undoes everything since the matching `begin`. Transactions nest.
pub trait Store {
    /// An object by id (a store that keeps objects in another shape builds it).
    fn get(&self, id: ObjectId) -> Option<Cow<'_, Object>>;
    /// An object's entity, without building the object.
    fn entity_of(&self, id: ObjectId) -> Option<EntityId> {
        self.get(id).map(|o| o.entity)
    }
    /// One member of an object, without building the object.
    fn value(&self, id: ObjectId, member: usize) -> Option<Value> {
        self.get(id).and_then(|o| o.values.get(member).cloned())
    }
    /// The ids of the objects of exactly this entity (not its specializations), ascending.
    fn ids(&self, entity: EntityId) -> Vec<ObjectId>;
    /// Inserts or replaces an object.
    fn put(&mut self, object: Object);
    /// Removes an object.
    fn remove(&mut self, id: ObjectId) -> Option<Object>;
    /// A fresh id, never handed out before.
    fn allocate_id(&mut self) -> ObjectId;
    /// Starts a transaction.
    fn begin(&mut self);
    /// Makes the transaction's changes permanent (for the outermost one, in the backing file).
    /// On failure everything since `begin` is undone and the reason returned.
    fn commit(&mut self) -> Result<(), CommitError>;
    /// Undoes every change since `begin`.
    fn rollback(&mut self);
    /// Every object, ascending by id.
    fn all(&self) -> Vec<Cow<'_, Object>>;
    /// The objects of exactly `entity` whose reference `member` points at `target`, ascending,
    /// when the store keeps an index for it (`None`: the caller scans).
    fn referrers(&self, _entity: EntityId, _member: usize, _target: ObjectId) -> Option<Vec<ObjectId>> {
        None
    }
    /// [`Store::referrers`] of each of `targets` in turn, appended to `out` (a semi-join's step
    /// back: one call for all the targets). `None`: no index, and `out` may hold some of them.
    fn referrers_of_each(
        &self,
        entity: EntityId,
        member: usize,
        targets: &[ObjectId],
        out: &mut Vec<ObjectId>,
    ) -> Option<()> {
        for t in targets {
            out.extend(self.referrers(entity, member, *t)?);
        }
        Some(())
    }
    /// The objects of exactly `entity` whose member holds exactly `value` (a reference,
    /// enumeration value, Boolean...), ascending, when the store can scan for it cheaply
    /// (`None`: the caller checks every object).
    fn matching(&self, _entity: EntityId, _member: usize, _value: &Value) -> Option<Vec<ObjectId>> {
        None
    }
    /// How many objects [`Store::matching`] finds, without listing them (`count(retrieve ...)`).
    fn count_matching(&self, entity: EntityId, member: usize, value: &Value) -> Option<usize> {
        self.matching(entity, member, value).map(|ids| ids.len())
    }
    /// The objects of exactly `entity` whose member passes `test`, ascending, when the store
    /// can read one member of every object without building the objects (`None`: the caller
    /// checks every object).
    fn filter(&self, _entity: EntityId, _member: usize, _test: &dyn Fn(&Value) -> bool) -> Option<Vec<ObjectId>> {
        None
    }
    /// Whether the store runs SQL queries ([`Store::select_ids`]).
    fn speaks_sql(&self) -> bool {
        false
    }
    /// How the store spells SQL (`None`: it speaks none).
    fn dialect(&self) -> Option<dialect::Dialect> {
        None
    }
    /// How its SQL folds case as the evaluator does
    /// ([`crate::model::functions::fold_case`]); with [`dialect::Folding::Unknown`],
    /// case-insensitive comparisons and string tests are not sent to it.
    fn folding(&self) -> dialect::Folding {
        dialect::Folding::Exact
    }
    /// The ids a SQL query selects, for a store that speaks SQL (`None`: it cannot; the caller scans).
    fn select_ids(&self, _sql: &str, _params: &[SqlValue]) -> Option<Vec<ObjectId>> {
        None
    }
}

/// Finds a `System.User` (or specialization) by Name.
pub(crate) fn user_by_name(program: &Program, store: &dyn Store, name: &str) -> Option<ObjectId> {
    let name_index = program.entity(crate::model::SYSTEM_USER).member("Name")?;
    program
        .specializations(crate::model::SYSTEM_USER)
        .into_iter()
        .flat_map(|e| store.ids(e))
        .find(|id| matches!(store.value(*id, name_index), Some(Value::String(s)) if s == name))
}

/// A `System.User` by Name, with its user roles: whom a bearer token signs in as.
pub fn user_with_roles(
    program: &Program,
    store: &dyn Store,
    name: &str,
) -> Option<(ObjectId, Vec<crate::model::UserRoleId>)> {
    let id = user_by_name(program, store, name)?;
    let roles = store
        .entity_of(id)
        .and_then(|e| program.entity(e).member("System.UserRoles"))
        .and_then(|index| store.value(id, index))
        .map(|v| match v {
            Value::List(ids) => ids.iter().filter_map(|id| id.role()).collect(),
            _ => Vec::new(),
        })
        .unwrap_or_default();
    Some((id, roles))
}

/// What a store may not hold about users (docs/cli.md, the store): two users with one Name, and
/// a user with a Name that is anonymous (`IsAnonymous`, or the app's anonymous user role).
/// Each problem as the object, the member and the message.
pub fn user_problems(program: &Program, store: &dyn Store) -> Vec<(ObjectId, &'static str, String)> {
    let mut named: std::collections::HashMap<String, ObjectId> = std::collections::HashMap::new();
    let mut out = Vec::new();
    let mut ids: Vec<ObjectId> =
        program.specializations(crate::model::SYSTEM_USER).into_iter().flat_map(|e| store.ids(e)).collect();
    ids.sort_unstable();
    for id in ids {
        if let Some((member, message)) = named_user_problem(program, store, id) {
            out.push((id, member, message));
        }
        if let Some(name) = user_name(program, store, id) {
            match named.get(&name) {
                Some(first) => out.push((id, "Name", format!("another user, {first}, is named `{name}`"))),
                None => {
                    named.insert(name, id);
                }
            }
        }
    }
    out
}

/// A user's Name, when it has a non-empty one.
fn user_name(program: &Program, store: &dyn Store, id: ObjectId) -> Option<String> {
    let entity = store.entity_of(id)?;
    let index = program.entity(entity).member("Name")?;
    match store.value(id, index)? {
        Value::String(s) if !s.is_empty() => Some(s),
        _ => None,
    }
}

/// Whether a user with a Name is anonymous, in words.
fn named_user_problem(program: &Program, store: &dyn Store, id: ObjectId) -> Option<(&'static str, String)> {
    user_name(program, store, id)?;
    let def = program.entity(store.entity_of(id)?);
    if let Some(i) = def.member("IsAnonymous") {
        if store.value(id, i) == Some(Value::Boolean(true)) {
            return Some(("IsAnonymous", "a user with a Name cannot be anonymous".into()));
        }
    }
    let anonymous = program.app.anonymous?;
    let roles = def.member("System.UserRoles").and_then(|i| store.value(id, i));
    if matches!(roles, Some(Value::List(ids)) if ids.contains(&ObjectId::of_role(anonymous))) {
        let role = &program.user_role(anonymous).name;
        return Some(("UserRoles", format!("a user with a Name cannot hold the anonymous user role `{role}`")));
    }
    None
}

/// The problem a committed user object would leave in the store (see [`user_problems`]).
/// With `name_other` false the message does not name the other user (for a principal, who
/// may not know of it: that the Name is taken is all it learns).
pub(crate) fn user_problem(program: &Program, store: &dyn Store, id: ObjectId, name_other: bool) -> Option<String> {
    if let Some((_, message)) = named_user_problem(program, store, id) {
        return Some(message);
    }
    let name = user_name(program, store, id)?;
    program
        .specializations(crate::model::SYSTEM_USER)
        .into_iter()
        .flat_map(|e| store.ids(e))
        .find(|other| *other != id && user_name(program, store, *other).as_deref() == Some(name.as_str()))
        .map(|other| match name_other {
            true => format!("another user, {other}, is named `{name}`"),
            false => format!("another user is named `{name}`"),
        })
}

/// Opens the store at `path` for `program`: a SQLite database by extension (see
/// [`sqlite::is_sqlite_path`]), else the JSON format. A writable SQLite store commits
/// every outermost transaction to its file; a JSON store is written only by [`save_json`].
pub fn open(program: &Program, path: &std::path::Path, writable: bool) -> Result<Box<dyn Store>, Vec<StoreError>> {
    open_with(program, path, writable, sqlite::DEFAULT_CACHE_OBJECTS)
}

/// [`open`], a SQLite store keeping up to `cache_objects` objects in memory.
pub fn open_with(
    program: &Program,
    path: &std::path::Path,
    writable: bool,
    cache_objects: usize,
) -> Result<Box<dyn Store>, Vec<StoreError>> {
    open_in(program, path, writable, cache_objects, None)
}

/// Whether a store location is a PostgreSQL URL (`postgres://USER@HOST:PORT/DB`).
pub fn is_postgres(path: &std::path::Path) -> bool {
    path.to_str().is_some_and(|s| s.starts_with("postgres://") || s.starts_with("postgresql://"))
}

/// [`open_with`], where `path` may also be a PostgreSQL URL whose store lives in schema
/// `pg_schema` (default: named after the app).
pub fn open_in(
    program: &Program,
    path: &std::path::Path,
    writable: bool,
    cache_objects: usize,
    pg_schema: Option<&str>,
) -> Result<Box<dyn Store>, Vec<StoreError>> {
    if is_postgres(path) {
        return open_postgres(program, path, writable, cache_objects, pg_schema);
    }
    if sqlite::is_sqlite_path(path) {
        let mode = if writable { sqlite::Mode::Write } else { sqlite::Mode::Read };
        return Ok(Box::new(SqliteStore::open_with(program, path, mode, cache_objects)?));
    }
    Ok(Box::new(read_json(program, path)?))
}

#[cfg(feature = "postgres")]
fn open_postgres(
    program: &Program,
    path: &std::path::Path,
    writable: bool,
    cache_objects: usize,
    pg_schema: Option<&str>,
) -> Result<Box<dyn Store>, Vec<StoreError>> {
    let mode = if writable { sqlite::Mode::Write } else { sqlite::Mode::Read };
    let url = path.to_string_lossy();
    Ok(Box::new(postgres::PgStore::open(program, &url, pg_schema, mode, cache_objects)?))
}

#[cfg(not(feature = "postgres"))]
fn open_postgres(
    _: &Program,
    path: &std::path::Path,
    _: bool,
    _: usize,
    _: Option<&str>,
) -> Result<Box<dyn Store>, Vec<StoreError>> {
    Err(vec![StoreError {
        path: path.display().to_string(),
        message: "this build of warden has no PostgreSQL store (the `postgres` feature)".into(),
    }])
}

/// Reads and loads a JSON store file.
fn read_json(program: &Program, path: &std::path::Path) -> Result<MemoryStore, Vec<StoreError>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| vec![StoreError { path: path.display().to_string(), message: format!("cannot read: {e}") }])?;
    load_json(program, &text)
}

/// Copies the store at `from` into a new store at `to` (either may be JSON or SQLite;
/// a SQLite target must not exist yet). Returns how many objects were copied.
pub fn convert(program: &Program, from: &std::path::Path, to: &std::path::Path) -> Result<usize, Vec<StoreError>> {
    convert_in(program, from, to, None)
}

/// [`convert`], where either end may also be a PostgreSQL URL (its store in schema
/// `pg_schema`; a target schema must hold no tables yet).
///
/// Nothing is loaded whole but a JSON source (one file, the JSON store itself): a SQL source
/// is read in pages of 10,000 objects per table and checked as it is read, and every target is
/// written in batches as the objects arrive, ascending by id: a JSON file line by line, SQLite
/// with one prepared statement per table, PostgreSQL with `COPY`. The target becomes permanent only when every object was read and found good: a
/// SQLite or PostgreSQL target is made in one transaction, a JSON one renamed into place at the
/// end; on any problem nothing is left behind.
pub fn convert_in(
    program: &Program,
    from: &std::path::Path,
    to: &std::path::Path,
    pg_schema: Option<&str>,
) -> Result<usize, Vec<StoreError>> {
    // The source is opened (its tables fitted to the program, its users checked) before the
    // target is made.
    let source = open_source(program, from, pg_schema)?;
    let mut sink = open_sink(program, to, pg_schema)?;
    match &source {
        Source::Memory(store) => feed(program, store, sink.as_mut())?,
        Source::Rows(rows) => stream::copy(program, rows.as_ref(), sink.as_mut())?,
    }
    sink.finish()
}

/// How many objects `warden store import|export` reads, checks and writes at a time.
const BATCH: usize = 10_000;

/// The store `warden store import|export` reads.
enum Source {
    /// A JSON file, read and checked whole by the loader.
    Memory(MemoryStore),
    /// A SQLite or PostgreSQL store, read in pages.
    Rows(Box<dyn RowSource>),
}

fn open_source(program: &Program, from: &std::path::Path, pg_schema: Option<&str>) -> Result<Source, Vec<StoreError>> {
    if sqlite::is_sqlite_path(from) {
        return Ok(Source::Rows(Box::new(SqliteStore::open_with(program, from, sqlite::Mode::Read, 0)?)));
    }
    if is_postgres(from) {
        return open_postgres_rows(program, from, pg_schema).map(Source::Rows);
    }
    read_json(program, from).map(Source::Memory)
}

#[cfg(feature = "postgres")]
fn open_postgres_rows(
    program: &Program,
    from: &std::path::Path,
    pg_schema: Option<&str>,
) -> Result<Box<dyn RowSource>, Vec<StoreError>> {
    let url = from.to_string_lossy();
    Ok(Box::new(postgres::PgStore::open(program, &url, pg_schema, sqlite::Mode::Read, 0)?))
}

#[cfg(not(feature = "postgres"))]
fn open_postgres_rows(
    program: &Program,
    from: &std::path::Path,
    pg_schema: Option<&str>,
) -> Result<Box<dyn RowSource>, Vec<StoreError>> {
    // Without the feature, opening always fails with the reason.
    Err(open_postgres(program, from, false, 0, pg_schema).err().unwrap_or_default())
}

/// The new store `warden store import|export` writes: a PostgreSQL schema, a SQLite file or a
/// JSON file, by the form of `to`.
fn open_sink<'p>(
    program: &'p Program,
    to: &std::path::Path,
    pg_schema: Option<&str>,
) -> Result<Box<dyn ObjectSink + 'p>, Vec<StoreError>> {
    if is_postgres(to) {
        return open_postgres_sink(program, to, pg_schema);
    }
    if sqlite::is_sqlite_path(to) {
        return Ok(Box::new(sqlite::SqliteSink::create(program, to)?));
    }
    Ok(Box::new(file::JsonSink::create(program, to)?))
}

#[cfg(feature = "postgres")]
fn open_postgres_sink<'p>(
    program: &'p Program,
    to: &std::path::Path,
    pg_schema: Option<&str>,
) -> Result<Box<dyn ObjectSink + 'p>, Vec<StoreError>> {
    Ok(Box::new(postgres::PgSink::create(program, &to.to_string_lossy(), pg_schema)?))
}

#[cfg(not(feature = "postgres"))]
fn open_postgres_sink<'p>(
    program: &'p Program,
    to: &std::path::Path,
    pg_schema: Option<&str>,
) -> Result<Box<dyn ObjectSink + 'p>, Vec<StoreError>> {
    // Without the feature, opening always fails with the reason.
    Err(open_postgres(program, to, false, 0, pg_schema).err().unwrap_or_default())
}

/// A new store that `warden store import|export` writes: it receives every object of the
/// source in batches, ascending by id, and becomes permanent only at `finish`. Dropped before,
/// it leaves nothing behind.
trait ObjectSink {
    /// Writes a batch of objects (each above every id written before; objects the store has no
    /// place for, such as implied role objects, are left out).
    fn write(&mut self, batch: &[Object]) -> Result<(), Vec<StoreError>>;
    /// Makes what was written permanent. Returns how many objects the store holds.
    fn finish(&mut self) -> Result<usize, Vec<StoreError>>;
}

/// A SQLite or PostgreSQL store as `warden store import|export` reads it: its tables, and
/// queries it runs as they are written (the same text for both, see [`stream`]).
trait RowSource {
    /// Its tables.
    fn tables(&self) -> &sqlite::Schema;
    /// Runs a query whose columns are all integers, handing each row to `f`.
    fn integers(&self, sql: &str, f: &mut dyn FnMut(&[i64])) -> Result<(), String>;
    /// Runs a query of an id column followed by columns of `types`, handing each row to `f`
    /// as the id and each column decoded (or why it could not be).
    fn rows(
        &self,
        sql: &str,
        types: &[&sqlite::ColType],
        f: &mut dyn FnMut(i64, Vec<Result<Value, String>>),
    ) -> Result<(), String>;
}

/// Writes every object of `source` to `sink`, ascending by id, [`BATCH`] at a time.
fn feed(program: &Program, source: &dyn Store, sink: &mut dyn ObjectSink) -> Result<(), Vec<StoreError>> {
    let mut ids: Vec<ObjectId> = (0..program.entities.len() as u32)
        .flat_map(|e| source.ids(EntityId(e)))
        .filter(|id| id.role().is_none())
        .collect();
    ids.sort_unstable();
    let mut batch = Vec::with_capacity(BATCH.min(ids.len()));
    for chunk in ids.chunks(BATCH) {
        batch.clear();
        batch.extend(chunk.iter().filter_map(|id| source.get(*id)).map(Cow::into_owned));
        sink.write(&batch)?;
    }
    Ok(())
}

/// Writes `store` to `path` as it is: a JSON file atomically, or a SQLite database
/// (made when missing) whose objects become exactly those of `store`, in one transaction.
/// Whatever the file held is replaced; [`file::save_over`] refuses to replace what another
/// process changed.
pub fn save(program: &Program, store: &dyn Store, path: &std::path::Path) -> Result<(), file::SaveError> {
    if !sqlite::is_sqlite_path(path) {
        return save_json(program, store, path)
            .map_err(|e| file::SaveError::Io { path: path.display().to_string(), message: e.to_string() });
    }
    sqlite::save_over(program, store, path, None).map(|_| ())
}

/// Reads the store at `path` (JSON, SQLite or, in schema `pg_schema`, PostgreSQL) into memory.
pub fn load_into_memory_in(
    program: &Program,
    path: &std::path::Path,
    pg_schema: Option<&str>,
) -> Result<MemoryStore, Vec<StoreError>> {
    #[cfg(feature = "postgres")]
    if is_postgres(path) {
        let url = path.to_string_lossy();
        return postgres::PgStore::open(program, &url, pg_schema, sqlite::Mode::Read, 0)?.to_memory(program);
    }
    #[cfg(not(feature = "postgres"))]
    if is_postgres(path) {
        return open_postgres(program, path, false, 0, pg_schema).map(|_| MemoryStore::new());
    }
    load_into_memory(program, path)
}

/// Reads the store at `path` (JSON or SQLite) into memory.
pub(crate) fn load_into_memory(program: &Program, path: &std::path::Path) -> Result<MemoryStore, Vec<StoreError>> {
    if !sqlite::is_sqlite_path(path) {
        return read_json(program, path);
    }
    // Every object read and checked, as the JSON loader checks.
    SqliteStore::open(program, path, sqlite::Mode::Read)?.to_memory(program)
}
