//! The SQLite store: one table per persistent entity, a link table per
//! reference set, derived from the program.
//!
//! Nothing is loaded whole. Opening reads no objects; each object is read from
//! its table when the evaluator asks for it (prepared, cached statements), and
//! the objects used recently stay in a bounded cache ([`DEFAULT_CACHE_OBJECTS`],
//! [`SqliteStore::open_with`]). Retrieves run as one SQL query
//! ([`Store::select_ids`]); reference look-ups, column matches and scans run as
//! SQL too. Every write goes through to SQLite at once, inside a SQLite
//! transaction that follows the evaluator's: the outermost `begin` opens one
//! (`BEGIN IMMEDIATE`), nested ones are savepoints, and a rollback undoes the
//! database and empties the cache. Because the database always holds what the
//! evaluator sees, its tables answer every read.
//!
//! Opened for writing, the store takes the write lock (`BEGIN IMMEDIATE`) before
//! it reads the file, and the first outermost transaction goes on in it: nothing
//! another process commits can slip in between what was read and what is written.
//! Between outermost transactions it keeps a read transaction open, so it goes on
//! reading the file as it last committed it; a later outermost transaction that
//! finds the file changed by another process fails rather than overwrite it.
//! Opened for reading only (read-only, so it works on a file the process may not
//! write), the whole session runs inside one read transaction: one consistent
//! snapshot. The first change then reads every object into memory, where the
//! changes stay, and retrieves stop running as SQL, since the tables no longer
//! hold what the evaluator sees.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use rusqlite::types::{Value as Sql, ValueRef};
use rusqlite::{params_from_iter, Connection, OpenFlags, OptionalExtension};
use rust_decimal::Decimal;
use smol_str::SmolStr;

use super::dialect::Dialect;
use super::file::SaveError;
use super::{CommitError, MemoryStore, Object, ObjectId, SqlValue, Store, StoreError, Value};
use crate::model::Multiplicity;
use crate::model::{AttrType, EntityId, MemberKind, Program, SYSTEM_USER_ROLE};

/// The format tag kept in the `warden_meta` table.
pub(crate) const FORMAT: &str = "warden-sqlite/1";

/// Whether a store path names a SQLite database (by extension: `.db`, `.sqlite`, `.sqlite3`).
pub fn is_sqlite_path(path: &Path) -> bool {
    matches!(path.extension().and_then(|e| e.to_str()), Some("db" | "sqlite" | "sqlite3"))
}

/// How a member is kept (the SQL schema is shared with the PostgreSQL store, spelled by
/// [`Dialect`]).
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Column {
    /// A column of the entity's table.
    Value { name: SmolStr, ty: ColType },
    /// Rows of a link table (a reference set).
    Link { table: String },
}

/// What a column holds, and how values are written to it.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum ColType {
    Text,
    Integer,
    /// Exact decimals as text.
    Decimal,
    Boolean,
    /// Milliseconds since 1970, UTC.
    DateTime,
    /// The value's name; the enumeration's id and value names.
    Enum(crate::model::EnumId, Vec<SmolStr>),
    /// An object id.
    Reference,
}

impl ColType {
    /// The declared type of the column in SQLite (its name tells the reader what it holds).
    fn declared(&self) -> &'static str {
        self.declared_in(Dialect::Sqlite)
    }

    /// The declared type of the column in a dialect: in PostgreSQL a type of its own
    /// (decimals stay text, compared as `NUMERIC`; instants stay milliseconds since 1970).
    pub(super) fn declared_in(&self, dialect: Dialect) -> &'static str {
        if dialect == Dialect::Postgres {
            return match self {
                ColType::Text | ColType::Decimal | ColType::Enum(..) => "text",
                ColType::Integer | ColType::DateTime | ColType::Reference => "bigint",
                ColType::Boolean => "boolean",
            };
        }
        match self {
            ColType::Text => "TEXT",
            ColType::Integer => "INTEGER",
            ColType::Decimal => "DECIMAL_TEXT",
            ColType::Boolean => "BOOLEAN",
            ColType::DateTime => "DATETIME_MS",
            ColType::Enum(..) => "ENUM_TEXT",
            ColType::Reference => "REFERENCE",
        }
    }
}

/// An entity's table.
#[derive(Clone, Debug)]
pub(super) struct Table {
    pub(super) name: String,
    /// One per member, by member index.
    pub(super) columns: Vec<Column>,
    /// Its value columns of one row: `SELECT c1, c2 FROM t WHERE id = ?`.
    pub(super) row_sql: String,
    /// Every row with its id, ascending: `SELECT id, c1, c2 FROM t ORDER BY id`.
    pub(super) scan_sql: String,
}

/// The tables a program needs, by entity id (`None`: not stored).
#[derive(Clone, Debug)]
pub(super) struct Schema {
    pub(super) tables: Vec<Option<Table>>,
    /// Link tables by name (each once, owned by the entity that declares the set).
    pub(super) links: Vec<String>,
    /// Views over an entity and its specializations, by name, with their SQL.
    pub(super) views: Vec<(String, String)>,
    /// Which table holds the object `?1`: the entity's index (empty: no tables).
    pub(super) locate: String,
}

/// The table of an entity: its qualified name.
pub(crate) fn table_name(program: &Program, entity: EntityId) -> String {
    program.entity(entity).name.to_string()
}

/// What a query reads for "objects of `entity` or a specialization, with the members of `entity`":
/// the table itself when nothing specializes it, else a view named `Entity*`.
pub(crate) fn entity_source(program: &Program, entity: EntityId) -> String {
    let stored = program.specializations(entity).into_iter().filter(|e| stores(program, *e)).count();
    if stored <= 1 && stores(program, entity) {
        table_name(program, entity)
    } else {
        format!("{}*", program.entity(entity).name)
    }
}

/// The link table of a reference-set member of an entity: `DeclaringEntity/Member`.
pub(crate) fn link_table(program: &Program, entity: EntityId, member: usize) -> String {
    let m = &program.entity(entity).members[member];
    format!("{}/{}", program.entity(m.declared_in).name, m.name)
}

pub use super::dialect::quote;

/// Whether objects of the entity live in a table (persistent, and not the implied role objects).
pub(super) fn stores(program: &Program, entity: EntityId) -> bool {
    entity != SYSTEM_USER_ROLE && program.entity(entity).persistent
}

impl Schema {
    /// The SQLite schema of a program.
    fn of(program: &Program) -> Schema {
        Schema::of_in(program, Dialect::Sqlite)
    }

    /// The tables, links and views of a program's store, spelled in `dialect`.
    pub(super) fn of_in(program: &Program, dialect: Dialect) -> Schema {
        // The one parameter of a row's and a locate's query, the same in every part.
        let id = match dialect {
            Dialect::Sqlite => "?1",
            Dialect::Postgres => "$1",
        };
        let mut links = Vec::new();
        let tables = (0..program.entities.len() as u32)
            .map(EntityId)
            .map(|e| {
                if !stores(program, e) {
                    return None;
                }
                let def = program.entity(e);
                let columns = def
                    .members
                    .iter()
                    .enumerate()
                    .map(|(i, m)| match m.kind {
                        MemberKind::Association(a) if program.assoc(a).multiplicity == Multiplicity::ReferenceSet => {
                            let table = link_table(program, e, i);
                            if !links.contains(&table) {
                                links.push(table.clone());
                            }
                            Column::Link { table }
                        }
                        MemberKind::Association(_) => Column::Value { name: m.name.clone(), ty: ColType::Reference },
                        MemberKind::Attribute(ty) => Column::Value { name: m.name.clone(), ty: col_type(program, ty) },
                    })
                    .collect::<Vec<Column>>();
                let name = table_name(program, e);
                let values: Vec<String> = columns
                    .iter()
                    .filter_map(|c| match c {
                        Column::Value { name, .. } => Some(quote(name)),
                        Column::Link { .. } => None,
                    })
                    .collect();
                let row_sql = match values.is_empty() {
                    true => format!("SELECT 1 FROM {} WHERE id = {id}", quote(&name)),
                    false => format!("SELECT {} FROM {} WHERE id = {id}", values.join(", "), quote(&name)),
                };
                let scan_sql = format!(
                    "SELECT id{} FROM {} ORDER BY id",
                    values.iter().map(|v| format!(", {v}")).collect::<String>(),
                    quote(&name)
                );
                Some(Table { name, columns, row_sql, scan_sql })
            })
            .collect::<Vec<_>>();
        let mut views = Vec::new();
        for e in (0..program.entities.len() as u32).map(EntityId) {
            let source = entity_source(program, e);
            if source == table_name(program, e) && tables[e.index()].is_some() {
                continue;
            }
            let own: Vec<String> = tables_columns(program, e);
            let parts: Vec<String> = program
                .specializations(e)
                .into_iter()
                .filter(|s| tables[s.index()].is_some())
                .map(|s| format!("SELECT {} FROM {}", own.join(", "), quote(&table_name(program, s))))
                .collect();
            let body = if parts.is_empty() {
                format!(
                    "SELECT {} WHERE {}",
                    own.iter().map(|c| format!("NULL AS {c}")).collect::<Vec<_>>().join(", "),
                    dialect.truth(false)
                )
            } else {
                parts.join(" UNION ALL ")
            };
            views.push((source, body));
        }
        let locate = tables
            .iter()
            .enumerate()
            .filter_map(|(e, t)| Some(format!("SELECT {e} FROM {} WHERE id = {id}", quote(&t.as_ref()?.name))))
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        Schema { tables, links, views, locate }
    }
}

/// The quoted columns an entity's view shows: `id` and its own single-valued members.
fn tables_columns(program: &Program, entity: EntityId) -> Vec<String> {
    let def = program.entity(entity);
    std::iter::once("id".to_string())
        .chain(
            def.members
                .iter()
                .filter(|m| match m.kind {
                    MemberKind::Association(a) => program.assoc(a).multiplicity != Multiplicity::ReferenceSet,
                    MemberKind::Attribute(_) => true,
                })
                .map(|m| quote(&m.name)),
        )
        .collect()
}

fn col_type(program: &Program, ty: AttrType) -> ColType {
    match ty {
        AttrType::String(_) | AttrType::HashedString => ColType::Text,
        AttrType::Integer | AttrType::Long | AttrType::AutoNumber => ColType::Integer,
        AttrType::Decimal => ColType::Decimal,
        AttrType::Boolean => ColType::Boolean,
        AttrType::DateTime => ColType::DateTime,
        AttrType::Enum(id) => ColType::Enum(id, program.enumeration(id).values.clone()),
    }
}

/// The DDL of a program's SQLite store, for review (`warden store schema`).
pub fn schema_sql(program: &Program) -> String {
    schema_sql_in(program, Dialect::Sqlite)
}

/// The DDL of a program's store in `dialect` (`warden store schema --dialect postgres`).
pub fn schema_sql_in(program: &Program, dialect: Dialect) -> String {
    let schema = Schema::of_in(program, dialect);
    let mut out = String::new();
    for statement in schema.create_statements(false, dialect) {
        out.push_str(&statement);
        out.push_str(";\n");
    }
    for (name, body) in &schema.views {
        out.push_str(&format!("CREATE TEMP VIEW {} AS {body};\n", quote(name)));
    }
    out
}

impl Schema {
    /// Every table's and index's `CREATE` statement, the metadata table first.
    pub(super) fn create_statements(&self, temp: bool, dialect: Dialect) -> Vec<String> {
        let temp = if temp { "TEMP " } else { "" };
        let mut out =
            vec![format!("CREATE {temp}TABLE IF NOT EXISTS warden_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")];
        for table in self.tables.iter().flatten() {
            out.extend(table.create_statements(temp, true, dialect));
        }
        for link in &self.links {
            out.extend(link_statements(link, temp, true, dialect));
        }
        out
    }
}

/// The integer type of ids in a dialect.
fn id_type(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => "INTEGER",
        Dialect::Postgres => "BIGINT",
    }
}

impl Table {
    /// Its `CREATE TABLE` and, with `indexes`, its `CREATE INDEX` statements.
    pub(super) fn create_statements(&self, temp: &str, indexes: bool, dialect: Dialect) -> Vec<String> {
        let mut columns = vec![format!("id {} PRIMARY KEY", id_type(dialect))];
        let mut out = Vec::new();
        for c in &self.columns {
            if let Column::Value { name, ty } = c {
                columns.push(format!("{} {}", quote(name), ty.declared_in(dialect)));
                if *ty == ColType::Reference {
                    out.push(format!(
                        "CREATE INDEX IF NOT EXISTS {} ON {} ({})",
                        quote(&format!("{}({})", self.name, name)),
                        quote(&self.name),
                        quote(name)
                    ));
                }
            }
        }
        let mut all = vec![format!("CREATE {temp}TABLE IF NOT EXISTS {} ({})", quote(&self.name), columns.join(", "))];
        if temp.is_empty() && indexes {
            all.extend(out);
        }
        all
    }
}

/// A link table's `CREATE TABLE` and, with `indexes`, the index on its targets.
pub(super) fn link_statements(link: &str, temp: &str, indexes: bool, dialect: Dialect) -> Vec<String> {
    let int = id_type(dialect);
    let mut out = vec![format!(
        "CREATE {temp}TABLE IF NOT EXISTS {} (owner {int} NOT NULL, position {int} NOT NULL, target {int} NOT NULL, PRIMARY KEY (owner, position))",
        quote(link)
    )];
    if temp.is_empty() && indexes {
        out.push(format!(
            "CREATE INDEX IF NOT EXISTS {} ON {} (target)",
            quote(&format!("{link}(target)")),
            quote(link)
        ));
    }
    out
}

/// How a store file is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Read it; changes last only as long as the run (the file is never written).
    Read,
    /// Read and write: every outermost transaction is committed to the file.
    Write,
    /// Make a new store: the file must not exist, or be empty.
    Create,
}

/// How many objects a SQLite store keeps in memory when not told otherwise (`--cache-objects`):
/// a few hundred bytes each, so a process over a store of any size stays well under 100 MB.
pub const DEFAULT_CACHE_OBJECTS: usize = 100_000;

/// The objects most recently read or written, at most `cap` of them, in two generations:
/// new entries go to the young one; when it holds half the capacity it becomes the old one
/// (the previous old one is dropped), and an entry found in the old one moves back to the
/// young one. Every operation is O(1), and what is used often stays.
#[derive(Debug, Default)]
pub(super) struct Cache {
    cap: usize,
    young: HashMap<ObjectId, Object>,
    old: HashMap<ObjectId, Object>,
    /// How many objects it holds, for [`SqliteStore::cache_gauge`].
    pub(super) gauge: Arc<AtomicUsize>,
}

impl Cache {
    pub(super) fn new(cap: usize) -> Cache {
        Cache { cap, ..Cache::default() }
    }

    fn measure(&self) {
        self.gauge.store(self.len(), Ordering::Relaxed);
    }

    pub(super) fn get(&mut self, id: ObjectId) -> Option<Object> {
        if let Some(o) = self.young.get(&id) {
            return Some(o.clone());
        }
        let o = self.old.remove(&id)?;
        self.insert(o.clone());
        Some(o)
    }

    pub(super) fn entity_of(&self, id: ObjectId) -> Option<EntityId> {
        self.young.get(&id).or_else(|| self.old.get(&id)).map(|o| o.entity)
    }

    /// One member of a cached object (`None`: not cached), without copying the object.
    pub(super) fn value(&self, id: ObjectId, member: usize) -> Option<Option<Value>> {
        self.young.get(&id).or_else(|| self.old.get(&id)).map(|o| o.values.get(member).cloned())
    }

    pub(super) fn insert(&mut self, object: Object) {
        if self.cap == 0 {
            return;
        }
        self.old.remove(&object.id);
        self.young.insert(object.id, object);
        if self.young.len() >= self.cap.div_ceil(2) {
            self.old = std::mem::take(&mut self.young);
        }
        self.measure();
    }

    pub(super) fn remove(&mut self, id: ObjectId) {
        self.young.remove(&id);
        self.old.remove(&id);
        self.measure();
    }

    pub(super) fn clear(&mut self) {
        self.young = HashMap::new();
        self.old = HashMap::new();
        self.measure();
    }

    pub(super) fn len(&self) -> usize {
        self.young.len() + self.old.len()
    }
}

/// The SQLite store.
pub struct SqliteStore {
    conn: Connection,
    schema: Schema,
    /// Each stored entity's members at their defaults, by entity index (`None`: no table).
    templates: Vec<Option<Vec<Value>>>,
    /// Objects recently read or written (the tables hold the truth).
    cache: RefCell<Cache>,
    /// Objects without a table (of non-persistent entities, or with a role object's id), as the
    /// evaluator put them: they live only as long as the process.
    side: MemoryStore,
    /// Opened to read only, and changed since: every object of the file, read into memory at the
    /// first change, holds the changes (the file is never written). Retrieves then no longer run
    /// as SQL, since the tables no longer hold what the evaluator sees.
    mirror: Option<MemoryStore>,
    /// The id `allocate_id` hands out next, and what it was at each open transaction's `begin`.
    next: u64,
    nexts: Vec<u64>,
    /// Open evaluator transactions.
    depth: usize,
    /// How many of them exist in SQLite: savepoints are taken only when a write needs them,
    /// so the many transactions that only read cost no SQL.
    issued: usize,
    persist: bool,
    /// The write transaction taken at open, not yet claimed by an outermost `begin`.
    held: bool,
    /// Between the outermost transactions of a writable store, a read transaction that keeps
    /// the file as this process last committed it in view (what another process commits
    /// meanwhile makes the next `begin` fail rather than mix into what this one reads).
    pinned: bool,
    /// `PRAGMA data_version` when this process last knew the file.
    version: i64,
    /// A write that failed since the last commit: the next commit reports it and rolls back.
    failure: Option<CommitError>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").field("depth", &self.depth).field("persist", &self.persist).finish()
    }
}

fn fail(at: &Path, message: impl std::fmt::Display) -> Vec<StoreError> {
    vec![StoreError { path: at.display().to_string(), message: message.to_string() }]
}

/// Each stored entity's members at their defaults.
pub(super) fn templates(program: &Program, schema: &Schema) -> Vec<Option<Vec<Value>>> {
    schema
        .tables
        .iter()
        .enumerate()
        .map(|(e, t)| t.as_ref().map(|_| Object::new(program, ObjectId(0), EntityId(e as u32)).values))
        .collect()
}

impl SqliteStore {
    /// Opens (or, with [`Mode::Create`], makes) the store at `path` for `program`, keeping
    /// up to [`DEFAULT_CACHE_OBJECTS`] objects in memory.
    /// A database whose tables do not fit the program is refused, naming every difference.
    pub fn open(program: &Program, path: &Path, mode: Mode) -> Result<SqliteStore, Vec<StoreError>> {
        SqliteStore::open_with(program, path, mode, DEFAULT_CACHE_OBJECTS)
    }

    /// [`SqliteStore::open`], keeping up to `cache_objects` objects in memory. Opening reads
    /// no objects: each is read when the evaluator asks for it, and retrieves run as SQL.
    pub fn open_with(
        program: &Program,
        path: &Path,
        mode: Mode,
        cache_objects: usize,
    ) -> Result<SqliteStore, Vec<StoreError>> {
        SqliteStore::open_inner(program, path, mode, cache_objects, true)
    }

    /// [`SqliteStore::open_with`]; a new store's indexes are made only with `indexes`.
    fn open_inner(
        program: &Program,
        path: &Path,
        mode: Mode,
        cache_objects: usize,
        indexes: bool,
    ) -> Result<SqliteStore, Vec<StoreError>> {
        if mode == Mode::Create && path.exists() && std::fs::metadata(path).map(|m| m.len() > 0).unwrap_or(true) {
            return Err(fail(path, "already exists; give a new file to import into"));
        }
        if mode != Mode::Create && !path.exists() {
            return Err(fail(path, "no such store"));
        }
        let flags = match mode {
            // A run that does not save never writes: it works on a read-only file too.
            Mode::Read => OpenFlags::SQLITE_OPEN_READ_ONLY,
            Mode::Write => OpenFlags::SQLITE_OPEN_READ_WRITE,
            Mode::Create => OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
        } | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| fail(path, e))?;
        let schema = Schema::of(program);
        let templates = templates(program, &schema);
        let persist = mode != Mode::Read;
        let mut store = SqliteStore::new(conn, schema.clone(), templates.clone(), persist, cache_objects);
        if let Err(e) = store.prepare(path, mode) {
            // Reading a write-ahead-logged database needs its `-shm` file; where that cannot be
            // made (a read-only directory or file), read the file as it stands.
            if mode != Mode::Read {
                return Err(fail(path, e));
            }
            let uri = format!("file:{}?immutable=1", uri_path(path));
            let conn = Connection::open_with_flags(uri, flags).map_err(|e| fail(path, e))?;
            store = SqliteStore::new(conn, schema, templates, false, cache_objects);
            store.prepare(path, mode).map_err(|e| fail(path, e))?;
        }
        let problems = store.fit(program);
        if !problems.is_empty() {
            return Err(problems
                .into_iter()
                .map(|m| StoreError { path: path.display().to_string(), message: m })
                .collect());
        }
        store.create_missing(mode, indexes).map_err(|e| fail(path, e))?;
        // Read inside the transaction the run goes on in: for writing, under the write lock;
        // for reading, one snapshot that is never committed.
        let begin = if store.persist { "BEGIN IMMEDIATE" } else { "BEGIN" };
        store.conn.execute_batch(begin).map_err(|e| fail(path, e))?;
        store.held = store.persist;
        store.next = store.read_next().map_err(|e| fail(path, e))?;
        store.version = store.data_version().map_err(|e| fail(path, e))?;
        store.preload_users(program).map_err(|e| fail(path, e))?;
        let users = super::user_problems(program, &store);
        if !users.is_empty() {
            return Err(users
                .into_iter()
                .map(|(id, member, message)| {
                    let entity = store.entity_of(id).unwrap_or(crate::model::SYSTEM_USER);
                    StoreError { path: format!("{}#{}.{member}", table_name(program, entity), id.0), message }
                })
                .collect());
        }
        Ok(store)
    }

    fn new(
        conn: Connection,
        schema: Schema,
        templates: Vec<Option<Vec<Value>>>,
        persist: bool,
        cache_objects: usize,
    ) -> SqliteStore {
        SqliteStore {
            conn,
            schema,
            templates,
            cache: RefCell::new(Cache::new(cache_objects)),
            side: MemoryStore::new(),
            mirror: None,
            next: 1,
            nexts: Vec::new(),
            depth: 0,
            issued: 0,
            persist,
            held: false,
            pinned: false,
            version: 0,
            failure: None,
        }
    }

    /// A new, empty store in memory (for tests: the same tables and queries, no file).
    pub fn in_memory(program: &Program) -> SqliteStore {
        SqliteStore::in_memory_with(program, DEFAULT_CACHE_OBJECTS)
    }

    /// [`SqliteStore::in_memory`], keeping up to `cache_objects` objects in memory.
    // INVARIANT: a new in-memory database always opens and takes the schema: only a process
    // out of memory fails here.
    #[expect(clippy::expect_used, reason = "an in-memory database fails only without memory")]
    pub fn in_memory_with(program: &Program, cache_objects: usize) -> SqliteStore {
        let conn = Connection::open_in_memory().expect("SQLite opens an in-memory database");
        let schema = Schema::of(program);
        let templates = templates(program, &schema);
        let mut store = SqliteStore::new(conn, schema, templates, true, cache_objects);
        let path = Path::new(":memory:");
        store.prepare(path, Mode::Create).expect("a new in-memory database takes the schema");
        store.create_missing(Mode::Create, true).expect("a new in-memory database takes the schema");
        store.version = store.data_version().expect("SQLite answers PRAGMA data_version");
        store
    }

    /// How many objects the cache holds now (at most the capacity it was opened with).
    pub fn cached_objects(&self) -> usize {
        self.cache.borrow().len()
    }

    /// A gauge that shows how many objects the cache holds, readable after the store was
    /// handed to an engine.
    pub fn cache_gauge(&self) -> Arc<AtomicUsize> {
        Arc::clone(&self.cache.borrow().gauge)
    }

    fn prepare(&mut self, path: &Path, mode: Mode) -> Result<(), String> {
        let conn = &self.conn;
        conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(|e| e.to_string())?;
        crate::store::sqlite::functions::register(conn).map_err(|e| e.to_string())?;
        if mode != Mode::Read && path != Path::new(":memory:") {
            // WAL: readers in other processes see only committed data and never block the writer.
            let journal: String =
                conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)).map_err(|e| e.to_string())?;
            if !journal.eq_ignore_ascii_case("wal") {
                return Err(format!("cannot switch {} to write-ahead logging", path.display()));
            }
            conn.execute_batch("PRAGMA synchronous = FULL").map_err(|e| e.to_string())?;
        }
        let has_meta: bool = conn
            .query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'warden_meta'", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n > 0)
            .map_err(|e| format!("not a SQLite database: {e}"))?;
        if !has_meta {
            let tables: i64 = conn
                .query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table'", [], |r| r.get(0))
                .map_err(|e| e.to_string())?;
            if tables > 0 {
                return Err("a SQLite database, but not a warden store (no `warden_meta` table)".into());
            }
            if mode == Mode::Read {
                return Err("an empty database, not a warden store".into());
            }
            conn.execute_batch(&format!(
                "BEGIN; CREATE TABLE warden_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL); \
                 INSERT INTO warden_meta VALUES ('format', '{FORMAT}'), ('next_id', '1'); COMMIT;"
            ))
            .map_err(|e| e.to_string())?;
        }
        let format: Option<String> = conn
            .query_row("SELECT value FROM warden_meta WHERE key = 'format'", [], |r| r.get(0))
            .map_err(|e| e.to_string())
            .ok();
        if format.as_deref() != Some(FORMAT) {
            return Err(format!("unknown store format `{}`; expected `{FORMAT}`", format.unwrap_or_default()));
        }
        Ok(())
    }

    /// Every way the database's tables differ from the program's, as messages.
    fn fit(&self, program: &Program) -> Vec<String> {
        let mut problems = Vec::new();
        let existing = self.existing_tables();
        let mut expected: Vec<&str> = vec!["warden_meta"];
        for (e, table) in self.schema.tables.iter().enumerate() {
            let Some(table) = table else { continue };
            expected.push(&table.name);
            let Some(columns) = existing.get(&table.name) else { continue };
            let want: Vec<(String, &str)> = std::iter::once(("id".to_string(), "INTEGER"))
                .chain(table.columns.iter().filter_map(|c| match c {
                    Column::Value { name, ty } => Some((name.to_string(), ty.declared())),
                    Column::Link { .. } => None,
                }))
                .collect();
            let entity = &program.entities[e].name;
            for (name, ty) in columns {
                match want.iter().find(|(n, _)| n == name) {
                    None => problems.push(format!(
                        "table `{}` has a column `{name}` that entity {entity} no longer declares; \
                         its values would be lost",
                        table.name
                    )),
                    Some((_, t)) if !t.eq_ignore_ascii_case(ty) => problems.push(format!(
                        "column `{name}` of table `{}` holds {ty}, but the program declares {t}",
                        table.name
                    )),
                    Some(_) => {}
                }
            }
            for (name, _) in &want {
                if !columns.iter().any(|(n, _)| n == name) {
                    problems.push(format!(
                        "table `{}` has no column `{name}`, which entity {entity} declares; \
                         export the store with the old program and import it with the new one",
                        table.name
                    ));
                }
            }
        }
        for link in &self.schema.links {
            expected.push(link);
        }
        for name in existing.keys() {
            // `warden serve` keeps its runtime state beside the objects (store::runtime_state).
            if !expected.contains(&name.as_str()) && !name.starts_with(super::runtime_state::TABLE_PREFIX) {
                problems.push(format!(
                    "table `{name}` belongs to an entity or reference set the program no longer declares; \
                     its rows would be lost"
                ));
            }
        }
        problems.sort();
        problems
    }

    /// Tables (not views) in the main database, with their columns and declared types.
    fn existing_tables(&self) -> HashMap<String, Vec<(String, String)>> {
        let mut out = HashMap::new();
        let names: Vec<String> = self
            .conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .unwrap_or_default();
        for name in names {
            let columns: Vec<(String, String)> = self
                .conn
                .prepare(&format!("PRAGMA main.table_info({})", quote(&name)))
                .and_then(|mut s| s.query_map([], |r| Ok((r.get(1)?, r.get(2)?)))?.collect())
                .unwrap_or_default();
            out.insert(name, columns);
        }
        out
    }

    /// Creates tables the program declares and the file lacks (nothing is lost by that),
    /// as temporary tables when the file is only read; and the views. With `indexes` false
    /// (a new store filled by [`import`]), the indexes are left for later.
    fn create_missing(&mut self, mode: Mode, indexes: bool) -> Result<(), String> {
        let temp = mode == Mode::Read;
        let existing = self.existing_tables();
        let mut statements = Vec::new();
        for table in self.schema.tables.iter().flatten() {
            if !existing.contains_key(&table.name) || !temp {
                statements.extend(table.create_statements(if temp { "TEMP " } else { "" }, indexes, Dialect::Sqlite));
            }
        }
        for link in &self.schema.links {
            if !existing.contains_key(link) || !temp {
                statements.extend(link_statements(link, if temp { "TEMP " } else { "" }, indexes, Dialect::Sqlite));
            }
        }
        for (name, body) in &self.schema.views {
            statements.push(format!("CREATE TEMP VIEW IF NOT EXISTS {} AS {body}", quote(name)));
        }
        let batch = format!("BEGIN; {}; COMMIT;", statements.join("; "));
        self.conn.execute_batch(&batch).map_err(|e| {
            let _ = self.conn.execute_batch("ROLLBACK");
            e.to_string()
        })
    }

    /// The id to hand out next: above every id in the tables and the one the file remembers
    /// (ids of deleted objects are never handed out again).
    fn read_next(&self) -> rusqlite::Result<u64> {
        let mut next: u64 = self
            .conn
            .query_row("SELECT value FROM warden_meta WHERE key = 'next_id'", [], |r| r.get::<_, String>(0))
            .optional()?
            .and_then(|v| v.parse().ok())
            .unwrap_or(1);
        for table in self.schema.tables.iter().flatten() {
            let max: Option<i64> =
                self.conn.query_row(&format!("SELECT max(id) FROM {}", quote(&table.name)), [], |r| r.get(0))?;
            if let Some(max) = max.filter(|m| *m > 0) {
                next = next.max(max as u64 + 1);
            }
        }
        Ok(next)
    }

    /// Which table holds an object.
    fn locate(&self, id: ObjectId) -> rusqlite::Result<Option<EntityId>> {
        if self.schema.locate.is_empty() || id.0 == 0 || id.0 >= super::ROLE_OBJECT_BASE {
            return Ok(None);
        }
        let mut stmt = self.conn.prepare_cached(&self.schema.locate)?;
        let entity = stmt.query_row([id.0 as i64], |r| r.get::<_, i64>(0)).optional()?;
        Ok(entity.map(|e| EntityId(e as u32)))
    }

    /// An object's row (and reference-set rows) from the entity's table. A value the column
    /// cannot hold for the member reads as empty (a file written by warden holds none).
    fn read_object(&self, entity: EntityId, id: ObjectId) -> rusqlite::Result<Option<Object>> {
        let (Some(Some(table)), Some(Some(template))) =
            (self.schema.tables.get(entity.index()), self.templates.get(entity.index()))
        else {
            return Ok(None);
        };
        let mut values = template.clone();
        let found = self
            .conn
            .prepare_cached(&table.row_sql)?
            .query_row([id.0 as i64], |row| {
                let mut k = 0;
                for (i, c) in table.columns.iter().enumerate() {
                    let Column::Value { ty, .. } = c else { continue };
                    values[i] = decode(ty, row.get_ref(k)?).unwrap_or(Value::Empty);
                    k += 1;
                }
                Ok(())
            })
            .optional()?;
        if found.is_none() {
            return Ok(None);
        }
        for (i, c) in table.columns.iter().enumerate() {
            let Column::Link { table: link } = c else { continue };
            let mut stmt = self
                .conn
                .prepare_cached(&format!("SELECT target FROM {} WHERE owner = ? ORDER BY position", quote(link)))?;
            let targets = stmt.query_map([id.0 as i64], |r| r.get::<_, i64>(0))?;
            values[i] = Value::List(targets.map(|t| t.map(|t| ObjectId(t as u64))).collect::<Result<_, _>>()?);
        }
        Ok(Some(Object { id, entity, values }))
    }

    /// An object of a table, from the cache or the file.
    fn fetch(&self, id: ObjectId) -> Option<Object> {
        if let Some(o) = self.cache.borrow_mut().get(id) {
            return Some(o);
        }
        let entity = self.locate(id).ok()??;
        let object = self.read_object(entity, id).ok()??;
        self.cache.borrow_mut().insert(object.clone());
        Some(object)
    }

    /// Every object of every table, ascending by id, read without the checks of
    /// [`SqliteStore::to_memory`].
    fn read_all(&self) -> rusqlite::Result<Vec<Object>> {
        let mut objects = Vec::new();
        for e in 0..self.schema.tables.len() {
            objects.extend(self.read_table(EntityId(e as u32))?);
        }
        objects.sort_unstable_by_key(|o| o.id);
        Ok(objects)
    }

    /// Every object of one table, ascending by id.
    fn read_table(&self, entity: EntityId) -> rusqlite::Result<Vec<Object>> {
        let mut objects = Vec::new();
        let (Some(Some(table)), Some(Some(template))) =
            (self.schema.tables.get(entity.index()), self.templates.get(entity.index()))
        else {
            return Ok(objects);
        };
        let mut stmt = self.conn.prepare_cached(&table.scan_sql)?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let id = ObjectId(row.get::<_, i64>(0)? as u64);
            let mut values = template.clone();
            let mut k = 1;
            for (i, c) in table.columns.iter().enumerate() {
                let Column::Value { ty, .. } = c else { continue };
                values[i] = decode(ty, row.get_ref(k)?).unwrap_or(Value::Empty);
                k += 1;
            }
            objects.push(Object { id, entity, values });
        }
        drop(rows);
        for (i, c) in table.columns.iter().enumerate() {
            let Column::Link { table: link } = c else { continue };
            let select = format!(
                "SELECT l.owner, l.target FROM {} l JOIN {} o ON o.id = l.owner ORDER BY l.owner, l.position",
                quote(link),
                quote(&table.name)
            );
            let mut stmt = self.conn.prepare_cached(&select)?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                let (owner, target): (i64, i64) = (row.get(0)?, row.get(1)?);
                if let Ok(p) = objects.binary_search_by_key(&(owner as u64), |o| o.id.0) {
                    if let Value::List(ids) = &mut objects[p].values[i] {
                        ids.push(ObjectId(target as u64));
                    }
                }
            }
        }
        Ok(objects)
    }

    /// Reads the users into the cache in one pass per table, when they fit in half of it (the
    /// checks at open read every user; one query per user would cost more).
    fn preload_users(&self, program: &Program) -> rusqlite::Result<()> {
        let room = self.cache.borrow().cap / 2;
        for e in program.specializations(crate::model::SYSTEM_USER) {
            let Some(table) = self.table(e) else { continue };
            let sql = format!("SELECT count(*) FROM (SELECT 1 FROM {} LIMIT {})", quote(&table.name), room + 1);
            let count: i64 = self.conn.query_row(&sql, [], |r| r.get(0))?;
            if count as usize > room.saturating_sub(self.cache.borrow().len()) {
                continue;
            }
            for o in self.read_table(e)? {
                self.cache.borrow_mut().insert(o);
            }
        }
        Ok(())
    }

    /// Opened to read only, the first change: every object of the file into memory, where
    /// this and every later change stays.
    fn diverge(&mut self) {
        if self.persist || self.mirror.is_some() {
            return;
        }
        let mut mirror = MemoryStore::new();
        for o in self.read_all().unwrap_or_default() {
            mirror.put(o);
        }
        for _ in 0..self.depth {
            mirror.begin();
        }
        self.mirror = Some(mirror);
        self.cache.borrow_mut().clear();
    }

    /// The table an entity's objects live in.
    fn table(&self, entity: EntityId) -> Option<&Table> {
        self.schema.tables.get(entity.index()).and_then(Option::as_ref)
    }

    /// Whether an object lives in a table (not in [`SqliteStore::side`]).
    fn tabled(&self, object: &Object) -> bool {
        object.id.role().is_none() && self.table(object.entity).is_some()
    }

    /// Ends the read transaction kept between outermost transactions.
    fn unpin(&mut self) {
        if self.pinned {
            self.pinned = false;
            let _ = self.conn.execute_batch("COMMIT");
        }
    }

    /// Keeps the file as this process last committed it in view until the next `begin`.
    fn pin(&mut self) {
        if self.persist && !self.pinned && self.conn.is_autocommit() {
            let pinned = self
                .conn
                .execute_batch("BEGIN")
                .and_then(|()| self.conn.query_row("SELECT count(*) FROM warden_meta", [], |r| r.get::<_, i64>(0)));
            self.pinned = pinned.is_ok();
        }
    }

    /// Every object of the file in memory, each value checked against the schema and every
    /// reference against its target, as the JSON loader checks (`warden store export`).
    pub(crate) fn to_memory(&self, program: &Program) -> Result<MemoryStore, Vec<StoreError>> {
        let mut errors = Vec::new();
        let mut objects: Vec<Object> = Vec::new();
        let mut position: HashMap<u64, usize> = HashMap::new();
        for (e, table) in self.schema.tables.iter().enumerate() {
            let Some(table) = table else { continue };
            let entity = EntityId(e as u32);
            let values: Vec<&Column> = table.columns.iter().filter(|c| matches!(c, Column::Value { .. })).collect();
            let select = format!(
                "SELECT id{} FROM {} ORDER BY id",
                values
                    .iter()
                    .map(|c| match c {
                        Column::Value { name, .. } => format!(", {}", quote(name)),
                        Column::Link { .. } => String::new(),
                    })
                    .collect::<String>(),
                quote(&table.name)
            );
            let result = self.conn.prepare(&select).and_then(|mut stmt| {
                let mut rows = stmt.query([])?;
                while let Some(row) = rows.next()? {
                    let id: i64 = row.get(0)?;
                    let at = format!("{}#{id}", table.name);
                    if id <= 0 || id as u64 >= super::ROLE_OBJECT_BASE {
                        errors.push(StoreError { path: at, message: "not a valid object id".into() });
                        continue;
                    }
                    let mut object = Object::new(program, ObjectId(id as u64), entity);
                    let mut k = 1;
                    for (i, c) in table.columns.iter().enumerate() {
                        let Column::Value { name, ty } = c else { continue };
                        match decode(ty, row.get_ref(k)?).and_then(|v| fits(program, entity, i, v)) {
                            Ok(v) => object.values[i] = v,
                            Err(m) => errors.push(StoreError { path: format!("{at}.{name}"), message: m }),
                        }
                        k += 1;
                    }
                    if let Some(prev) = position.insert(id as u64, objects.len()) {
                        errors.push(StoreError {
                            path: at,
                            message: format!(
                                "id {id} is also used in table `{}`",
                                table_name(program, objects[prev].entity)
                            ),
                        });
                        continue;
                    }
                    objects.push(object);
                }
                Ok(())
            });
            if let Err(e) = result {
                errors.push(StoreError { path: table.name.clone(), message: e.to_string() });
            }
        }
        // Reference sets, in their stored order.
        for (e, table) in self.schema.tables.iter().enumerate() {
            let Some(table) = table else { continue };
            for (i, c) in table.columns.iter().enumerate() {
                let Column::Link { table: link } = c else { continue };
                let select = format!(
                    "SELECT l.owner, l.target FROM {} l JOIN {} o ON o.id = l.owner ORDER BY l.owner, l.position",
                    quote(link),
                    quote(&table.name)
                );
                let result = self.conn.prepare(&select).and_then(|mut stmt| {
                    let mut rows = stmt.query([])?;
                    while let Some(row) = rows.next()? {
                        let (owner, target): (i64, i64) = (row.get(0)?, row.get(1)?);
                        let Some(&p) = position.get(&(owner as u64)) else { continue };
                        if objects[p].entity.index() != e {
                            continue;
                        }
                        if let Value::List(ids) = &mut objects[p].values[i] {
                            ids.push(ObjectId(target as u64));
                        }
                    }
                    Ok(())
                });
                if let Err(e) = result {
                    errors.push(StoreError { path: link.clone(), message: e.to_string() });
                }
            }
        }
        // References must arrive at an object of the association's target entity.
        for o in &objects {
            let def = program.entity(o.entity);
            for (m, v) in def.members.iter().zip(&o.values) {
                let MemberKind::Association(a) = m.kind else { continue };
                let to = program.assoc(a).to;
                let targets: Vec<ObjectId> = match v {
                    Value::Object(t) => vec![*t],
                    Value::List(ts) => ts.clone(),
                    _ => continue,
                };
                for t in targets {
                    let fits = match t.role() {
                        Some(r) => to == SYSTEM_USER_ROLE && r.index() < program.user_roles.len(),
                        None => position.get(&t.0).is_some_and(|&p| program.is_a(objects[p].entity, to)),
                    };
                    if !fits {
                        errors.push(StoreError {
                            path: format!("{}#{}.{}", table_name(program, o.entity), o.id.0, m.name),
                            message: format!("refers to {t}, which is not an object of {}", program.entity(to).name),
                        });
                    }
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut check = MemoryStore::new();
        for o in &objects {
            check.put(o.clone());
        }
        for (id, member, message) in super::user_problems(program, &check) {
            let entity = check.entity_of(id).unwrap_or(crate::model::SYSTEM_USER);
            errors.push(StoreError { path: format!("{}#{}.{member}", table_name(program, entity), id.0), message });
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        check.raise_next(self.next);
        Ok(check)
    }

    /// Writes one object's row and reference-set rows.
    fn write(&mut self, object: &Object, previous: Option<&Object>) -> rusqlite::Result<()> {
        if let Some(prev) = previous.filter(|p| p.entity != object.entity) {
            self.delete_rows(prev)?;
        }
        let Some(table) = self.schema.tables.get(object.entity.index()).and_then(Option::as_ref) else {
            return Ok(());
        };
        if object.id.role().is_some() {
            return Ok(());
        }
        let mut names = vec!["id".to_string()];
        let mut values: Vec<Sql> = vec![Sql::Integer(object.id.0 as i64)];
        let mut links: Vec<(&str, &[ObjectId])> = Vec::new();
        for (c, v) in table.columns.iter().zip(&object.values) {
            match c {
                Column::Value { name, ty } => {
                    names.push(quote(name));
                    values.push(encode(ty, v));
                }
                Column::Link { table } => {
                    let ids = match v {
                        Value::List(ids) => ids.as_slice(),
                        _ => &[],
                    };
                    links.push((table, ids));
                }
            }
        }
        // A new object is inserted, never replaced: an id taken meanwhile is an error, not an overwrite.
        let verb = if previous.is_some_and(|p| p.entity == object.entity) { "INSERT OR REPLACE" } else { "INSERT" };
        let sql = format!(
            "{verb} INTO {} ({}) VALUES ({})",
            quote(&table.name),
            names.join(", "),
            vec!["?"; names.len()].join(", ")
        );
        self.conn.prepare_cached(&sql)?.execute(params_from_iter(values))?;
        for (link, ids) in links {
            self.conn
                .prepare_cached(&format!("DELETE FROM {} WHERE owner = ?", quote(link)))?
                .execute([object.id.0 as i64])?;
            let mut insert = self
                .conn
                .prepare_cached(&format!("INSERT INTO {} (owner, position, target) VALUES (?, ?, ?)", quote(link)))?;
            for (p, t) in ids.iter().enumerate() {
                insert.execute([object.id.0 as i64, p as i64, t.0 as i64])?;
            }
        }
        Ok(())
    }

    fn delete_rows(&self, object: &Object) -> rusqlite::Result<()> {
        let Some(table) = self.schema.tables.get(object.entity.index()).and_then(Option::as_ref) else {
            return Ok(());
        };
        self.conn
            .prepare_cached(&format!("DELETE FROM {} WHERE id = ?", quote(&table.name)))?
            .execute([object.id.0 as i64])?;
        for c in &table.columns {
            if let Column::Link { table } = c {
                self.conn
                    .prepare_cached(&format!("DELETE FROM {} WHERE owner = ?", quote(table)))?
                    .execute([object.id.0 as i64])?;
            }
        }
        Ok(())
    }

    /// Runs `f` as its own transaction when none is open (a write outside `begin`).
    fn written(&mut self, f: impl FnOnce(&mut Self) -> rusqlite::Result<()>) {
        if self.failure.is_some() {
            return;
        }
        let alone = self.depth == 0 && self.persist && !self.held;
        let result = (|| {
            if alone {
                self.unpin();
                self.conn.execute_batch("BEGIN IMMEDIATE")?;
            }
            while self.issued < self.depth {
                self.conn.execute_batch(&format!("SAVEPOINT s{}", self.issued))?;
                self.issued += 1;
            }
            let r = f(self);
            if alone {
                match &r {
                    Ok(()) => self.save_next().and_then(|()| self.conn.execute_batch("COMMIT"))?,
                    Err(_) => self.conn.execute_batch("ROLLBACK")?,
                }
                self.pin();
            }
            r
        })();
        if let Err(e) = result {
            self.failure = Some(CommitError::Database { reason: e.to_string() });
        }
    }

    fn data_version(&self) -> rusqlite::Result<i64> {
        self.conn.query_row("PRAGMA data_version", [], |r| r.get(0))
    }

    fn save_next(&self) -> rusqlite::Result<()> {
        self.conn
            .prepare_cached("UPDATE warden_meta SET value = ? WHERE key = 'next_id'")?
            .execute([self.next.max(1).to_string()])?;
        Ok(())
    }

    /// Runs a query that selects object ids, with its parameters.
    pub(crate) fn query_ids(&self, sql: &str, params: &[Sql]) -> rusqlite::Result<Vec<ObjectId>> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let rows = stmt.query_map(params_from_iter(params.iter()), |r| r.get::<_, i64>(0))?;
        rows.map(|r| r.map(|id| ObjectId(id as u64))).collect()
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        if !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

fn encode(ty: &ColType, value: &Value) -> Sql {
    match (ty, value) {
        (_, Value::Empty) => Sql::Null,
        (ColType::Enum(_, names), Value::Enum(_, i)) => Sql::Text(names[*i as usize].to_string()),
        (_, Value::String(s)) => Sql::Text(s.clone()),
        (_, Value::Integer(i)) | (_, Value::DateTime(i)) => Sql::Integer(*i),
        (_, Value::Decimal(d)) => Sql::Text(d.to_string()),
        (_, Value::Boolean(b)) => Sql::Integer(*b as i64),
        (_, Value::Object(id)) => Sql::Integer(id.0 as i64),
        (_, Value::Enum(_, i)) => Sql::Integer(*i as i64),
        (_, Value::List(_)) | (_, Value::Duration { .. }) | (_, Value::Instance(_)) => Sql::Null,
    }
}

/// A decoded value against what the member allows beyond its column type (as the JSON loader).
pub(super) fn fits(program: &Program, entity: EntityId, member: usize, value: Value) -> Result<Value, String> {
    match (program.entity(entity).members[member].kind, &value) {
        (MemberKind::Attribute(AttrType::String(Some(n))), Value::String(s)) if s.chars().count() > n as usize => {
            Err(format!("longer than the {n} characters allowed"))
        }
        (MemberKind::Attribute(AttrType::Integer), Value::Integer(i)) if i32::try_from(*i).is_err() => {
            Err(format!("{i} does not fit an Integer (32 bits); use Long"))
        }
        (_, Value::DateTime(ms)) if !crate::time::storable(*ms) => {
            Err(format!("{ms} ms since 1970 is not a date and time of the years 0 to 9999"))
        }
        _ => Ok(value),
    }
}

fn decode(ty: &ColType, value: ValueRef<'_>) -> Result<Value, String> {
    let wrong = |what: &str| Err(format!("expected {what}, found {}", value.data_type()));
    if let ValueRef::Null = value {
        return Ok(Value::Empty);
    }
    match ty {
        ColType::Text => match value {
            ValueRef::Text(t) => String::from_utf8(t.to_vec()).map(Value::String).map_err(|e| e.to_string()),
            _ => wrong("text"),
        },
        ColType::Integer => match value {
            ValueRef::Integer(i) => Ok(Value::Integer(i)),
            _ => wrong("an integer"),
        },
        ColType::DateTime => match value {
            ValueRef::Integer(i) => Ok(Value::DateTime(i)),
            _ => wrong("milliseconds since 1970"),
        },
        ColType::Boolean => match value {
            ValueRef::Integer(0) => Ok(Value::Boolean(false)),
            ValueRef::Integer(1) => Ok(Value::Boolean(true)),
            _ => wrong("0 or 1"),
        },
        ColType::Reference => match value {
            ValueRef::Integer(i) if i > 0 => Ok(Value::Object(ObjectId(i as u64))),
            _ => wrong("an object id"),
        },
        ColType::Decimal => match value {
            ValueRef::Text(t) => std::str::from_utf8(t)
                .ok()
                .and_then(|s| Decimal::from_str(s).ok())
                .map(Value::Decimal)
                .ok_or_else(|| "expected a decimal written as text".to_string()),
            ValueRef::Integer(i) => Ok(Value::Decimal(Decimal::from(i))),
            _ => wrong("a decimal written as text"),
        },
        ColType::Enum(id, names) => match value {
            ValueRef::Text(t) => {
                let s = String::from_utf8_lossy(t);
                names
                    .iter()
                    .position(|n| n.as_str() == s)
                    .map(|i| Value::Enum(*id, i as u32))
                    .ok_or_else(|| format!("`{s}` is not a value of the enumeration ({})", names.join(", ")))
            }
            _ => wrong("an enumeration value's name"),
        },
    }
}

impl Store for SqliteStore {
    fn get(&self, id: ObjectId) -> Option<Cow<'_, Object>> {
        if let Some(o) = self.side.get(id) {
            return Some(o);
        }
        if let Some(mirror) = &self.mirror {
            return mirror.get(id);
        }
        self.fetch(id).map(Cow::Owned)
    }

    fn entity_of(&self, id: ObjectId) -> Option<EntityId> {
        if let Some(e) = self.side.entity_of(id) {
            return Some(e);
        }
        if let Some(mirror) = &self.mirror {
            return mirror.entity_of(id);
        }
        if let Some(e) = self.cache.borrow().entity_of(id) {
            return Some(e);
        }
        // The object is read whole: what asks for its entity mostly asks for its members next.
        self.fetch(id).map(|o| o.entity)
    }

    fn value(&self, id: ObjectId, member: usize) -> Option<Value> {
        if self.side.entity_of(id).is_some() {
            return self.side.value(id, member);
        }
        if let Some(mirror) = &self.mirror {
            return mirror.value(id, member);
        }
        if let Some(value) = self.cache.borrow().value(id, member) {
            return value;
        }
        self.fetch(id).and_then(|o| o.values.get(member).cloned())
    }

    fn ids(&self, entity: EntityId) -> Vec<ObjectId> {
        let Some(table) = self.table(entity) else { return self.side.ids(entity) };
        if let Some(mirror) = &self.mirror {
            return mirror.ids(entity);
        }
        let sql = format!("SELECT id FROM {} ORDER BY id", quote(&table.name));
        self.query_ids(&sql, &[]).unwrap_or_default()
    }

    fn put(&mut self, object: Object) {
        self.next = self.next.max(object.id.0.saturating_add(1));
        if !self.tabled(&object) {
            // Out of a table (an object that changed entity): its rows go.
            if self.side.entity_of(object.id).is_none() && self.get(object.id).is_some() {
                self.remove(object.id);
            }
            self.side.put(object);
            return;
        }
        if self.side.entity_of(object.id).is_some() {
            self.side.remove(object.id);
        }
        self.diverge();
        if let Some(mirror) = &mut self.mirror {
            mirror.put(object);
            return;
        }
        let previous = self.fetch(object.id);
        self.written(|s| s.write(&object, previous.as_ref()));
        self.cache.borrow_mut().insert(object);
    }

    fn remove(&mut self, id: ObjectId) -> Option<Object> {
        if self.side.entity_of(id).is_some() {
            return self.side.remove(id);
        }
        self.diverge();
        if let Some(mirror) = &mut self.mirror {
            return mirror.remove(id);
        }
        let old = self.fetch(id)?;
        self.cache.borrow_mut().remove(id);
        self.written(|s| s.delete_rows(&old));
        Some(old)
    }

    fn allocate_id(&mut self) -> ObjectId {
        let id = ObjectId(self.next.max(1));
        self.next = id.0 + 1;
        id
    }

    fn begin(&mut self) {
        if self.depth == 0 && self.persist && self.held {
            // The transaction taken at open, under which the file was first read.
            self.held = false;
            self.issued = 1;
        } else if self.depth == 0 && self.persist {
            self.unpin();
            let fresh = self.conn.execute_batch("BEGIN IMMEDIATE").and_then(|()| self.data_version());
            match fresh {
                Ok(v) if v == self.version => self.issued = 1,
                Ok(_) => {
                    self.failure.get_or_insert(CommitError::Changed);
                }
                Err(e) => {
                    self.failure.get_or_insert(CommitError::Database { reason: e.to_string() });
                }
            }
            if self.failure.is_some() {
                // What this process read may no longer be what the file holds.
                self.cache.borrow_mut().clear();
            }
            if !self.conn.is_autocommit() {
                self.issued = 1;
            }
        }
        self.depth += 1;
        self.nexts.push(self.next);
        self.side.begin();
        if let Some(mirror) = &mut self.mirror {
            mirror.begin();
        }
    }

    fn commit(&mut self) -> Result<(), CommitError> {
        if let Some(failure) = self.failure.take() {
            self.rollback();
            // Outer transactions fail too: the failure is kept until the outermost one.
            if self.depth > 0 {
                self.failure = Some(failure.clone());
            }
            return Err(match failure {
                CommitError::Database { reason } => {
                    CommitError::Database { reason: format!("the SQLite store could not write: {reason}") }
                }
                changed => changed,
            });
        }
        self.depth = self.depth.saturating_sub(1);
        let closing = self.issued > self.depth;
        let outermost = self.depth == 0 && self.persist;
        let result = if !closing {
            Ok(())
        } else if outermost {
            self.save_next()
                .and_then(|()| self.conn.execute_batch("COMMIT"))
                .and_then(|()| self.data_version())
                .map(|v| self.version = v)
        } else {
            self.conn.execute_batch(&format!("RELEASE s{}", self.depth))
        };
        self.issued = self.issued.min(self.depth);
        match result {
            Ok(()) => {
                self.nexts.pop();
                self.side.commit()?;
                if let Some(mirror) = &mut self.mirror {
                    mirror.commit()?;
                }
                if outermost {
                    self.pin();
                }
                Ok(())
            }
            Err(e) => {
                // Still open in SQLite: undo it there and in memory.
                self.depth += 1;
                self.issued = self.depth;
                self.failure = None;
                self.rollback();
                Err(CommitError::Database { reason: format!("the SQLite store could not commit: {e}") })
            }
        }
    }

    fn rollback(&mut self) {
        self.depth = self.depth.saturating_sub(1);
        let wrote = self.issued > self.depth || self.failure.is_some();
        if self.issued > self.depth {
            let sql = if self.depth == 0 && self.persist {
                "ROLLBACK".to_string()
            } else {
                format!("ROLLBACK TO s{0}; RELEASE s{0}", self.depth)
            };
            if !self.conn.is_autocommit() {
                let _ = self.conn.execute_batch(&sql);
            }
            self.issued = self.depth;
        }
        if self.depth == 0 {
            self.failure = None;
        }
        if let Some(next) = self.nexts.pop() {
            self.next = next;
        }
        self.side.rollback();
        if let Some(mirror) = &mut self.mirror {
            mirror.rollback();
        }
        if wrote {
            // The cache may hold what was just undone.
            self.cache.borrow_mut().clear();
        }
        if self.depth == 0 {
            self.pin();
        }
    }

    fn all(&self) -> Vec<Cow<'_, Object>> {
        let mut out: Vec<Cow<'_, Object>> = match &self.mirror {
            Some(mirror) => mirror.all(),
            None => self.read_all().unwrap_or_default().into_iter().map(Cow::Owned).collect(),
        };
        out.extend(self.side.all());
        out.sort_by_key(|o| o.id);
        out
    }

    fn matching(&self, entity: EntityId, member: usize, value: &Value) -> Option<Vec<ObjectId>> {
        let Some(table) = self.table(entity) else { return self.side.matching(entity, member, value) };
        if let Some(mirror) = &self.mirror {
            return mirror.matching(entity, member, value);
        }
        let Column::Value { name, ty } = table.columns.get(member)? else { return None };
        let param = match (ty, value) {
            (ColType::Reference, Value::Object(_))
            | (ColType::Boolean, Value::Boolean(_))
            | (ColType::Integer, Value::Integer(_))
            | (ColType::DateTime, Value::DateTime(_))
            | (ColType::Enum(..), Value::Enum(..)) => encode(ty, value),
            (_, Value::Object(_) | Value::Boolean(_) | Value::Enum(..)) => return Some(Vec::new()),
            _ => return None,
        };
        let sql = format!("SELECT id FROM {} WHERE {} = ? ORDER BY id", quote(&table.name), quote(name));
        self.query_ids(&sql, &[param]).ok()
    }

    fn filter(&self, entity: EntityId, member: usize, test: &dyn Fn(&Value) -> bool) -> Option<Vec<ObjectId>> {
        let Some(table) = self.table(entity) else { return self.side.filter(entity, member, test) };
        if let Some(mirror) = &self.mirror {
            return mirror.filter(entity, member, test);
        }
        let Column::Value { name, ty } = table.columns.get(member)? else { return None };
        let sql = format!("SELECT id, {} FROM {} ORDER BY id", quote(name), quote(&table.name));
        let mut stmt = self.conn.prepare_cached(&sql).ok()?;
        let rows = stmt
            .query_map([], |r| {
                let id: i64 = r.get(0)?;
                let value = decode(ty, r.get_ref(1)?).unwrap_or(Value::Empty);
                Ok(test(&value).then_some(ObjectId(id as u64)))
            })
            .ok()?;
        rows.filter_map(|r| r.transpose()).collect::<rusqlite::Result<Vec<_>>>().ok()
    }

    fn referrers(&self, entity: EntityId, member: usize, target: ObjectId) -> Option<Vec<ObjectId>> {
        let Some(table) = self.table(entity) else { return self.side.referrers(entity, member, target) };
        if let Some(mirror) = &self.mirror {
            return mirror.referrers(entity, member, target);
        }
        let sql = match table.columns.get(member)? {
            Column::Value { name, ty: ColType::Reference } => {
                format!("SELECT id FROM {} WHERE {} = ? ORDER BY id", quote(&table.name), quote(name))
            }
            Column::Value { .. } => return Some(Vec::new()),
            Column::Link { table: link } => format!(
                "SELECT DISTINCT l.owner FROM {} AS l JOIN {} AS o ON o.id = l.owner WHERE l.target = ? ORDER BY l.owner",
                quote(link),
                quote(&table.name)
            ),
        };
        self.query_ids(&sql, &[Sql::Integer(target.0 as i64)]).ok()
    }

    fn speaks_sql(&self) -> bool {
        self.mirror.is_none()
    }

    fn dialect(&self) -> Option<Dialect> {
        Some(Dialect::Sqlite)
    }

    fn select_ids(&self, sql: &str, params: &[SqlValue]) -> Option<Vec<ObjectId>> {
        if self.mirror.is_some() {
            return None;
        }
        let params: Vec<Sql> = params
            .iter()
            .map(|p| match p {
                SqlValue::Null => Sql::Null,
                SqlValue::Integer(i) => Sql::Integer(*i),
                SqlValue::Text(t) => Sql::Text(t.clone()),
            })
            .collect();
        self.query_ids(sql, &params).ok()
    }
}

/// A file path as the path of a `file:` URI (reserved characters percent-encoded).
fn uri_path(path: &Path) -> String {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = String::new();
    for b in absolute.to_string_lossy().bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Makes the SQLite store at `path` (made when missing) hold exactly the objects of `store`,
/// in one transaction under SQLite's write lock. With `base`, the file must still hold what
/// had that fingerprint (else [`SaveError::Changed`]); without, it is replaced whatever it
/// holds. Returns the fingerprint of what it now holds.
pub fn save_over(
    program: &Program,
    store: &dyn Store,
    path: &Path,
    base: Option<super::file::Fingerprint>,
) -> Result<super::file::Fingerprint, SaveError> {
    let existed = path.exists();
    let mode = if existed { Mode::Write } else { Mode::Create };
    let io = |message: String| SaveError::Io { path: path.display().to_string(), message };
    let mut target = SqliteStore::open(program, path, mode)
        .map_err(|errors| io(errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")))?;
    if base.is_some() && existed && Some(super::file::fingerprint_of(program, &target)) != base {
        return Err(SaveError::Changed(path.display().to_string()));
    }
    target.begin();
    let stale: Vec<ObjectId> = target.all().iter().map(|o| o.id).filter(|id| store.entity_of(*id).is_none()).collect();
    for id in stale {
        target.remove(id);
    }
    for o in store.all() {
        if o.id.role().is_none() && target.get(o.id).as_deref() != Some(&*o) {
            target.put(o.into_owned());
        }
    }
    target.commit().map_err(|e| match e {
        CommitError::Changed => SaveError::Changed(path.display().to_string()),
        other => io(other.to_string()),
    })?;
    Ok(super::file::fingerprint_of(program, &target))
}

/// Registers warden's SQL functions (`warden_fold`, the XPath functions, `warden_decimal_cmp`)
/// on a connection, so that it can run (or explain) the queries of [`Store::select_ids`].
pub fn register_functions(conn: &Connection) -> rusqlite::Result<()> {
    functions::register(conn)
}

/// Makes a new store at `path` holding every object of `source` (`warden store import`): one
/// transaction, one prepared statement per table, and the indexes built after the rows.
/// Returns how many objects it holds.
pub fn import(program: &Program, source: &dyn Store, path: &Path) -> Result<usize, Vec<StoreError>> {
    let mut sink = SqliteSink::create(program, path)?;
    super::feed(program, source, &mut sink)?;
    super::ObjectSink::finish(&mut sink)
}

/// A new SQLite store filled by `warden store import|export`: the rows go in, in one
/// transaction, as they arrive; the indexes are built after them. A sink dropped unfinished
/// rolls back and removes the file it made (and the journal beside it), so a failed import
/// leaves nothing behind.
pub(super) struct SqliteSink {
    /// `None` once closed.
    store: Option<SqliteStore>,
    path: std::path::PathBuf,
    /// Whether the file was there before (empty: a new store may be made in an empty file).
    existed: bool,
    /// Each table's `INSERT`, by entity index.
    inserts: Vec<Option<String>>,
    /// Each reference set's `INSERT`, by link table.
    link_inserts: HashMap<String, String>,
    next: u64,
    count: usize,
    finished: bool,
}

impl SqliteSink {
    /// Makes the new store's file and tables (no indexes yet) and opens its write transaction.
    pub(super) fn create(program: &Program, path: &Path) -> Result<SqliteSink, Vec<StoreError>> {
        let existed = path.exists();
        let store = match SqliteStore::open_inner(program, path, Mode::Create, 0, false) {
            Ok(store) => store,
            Err(errors) => {
                // Refused before anything was made (a file already there), or made and refused:
                // only what this run made is removed.
                if !existed {
                    remove_database(path);
                }
                return Err(errors);
            }
        };
        let inserts = store
            .schema
            .tables
            .iter()
            .map(|t| {
                let t = t.as_ref()?;
                let names: Vec<String> = std::iter::once("id".to_string())
                    .chain(t.columns.iter().filter_map(|c| match c {
                        Column::Value { name, .. } => Some(quote(name)),
                        Column::Link { .. } => None,
                    }))
                    .collect();
                let marks = vec!["?"; names.len()].join(", ");
                Some(format!("INSERT INTO {} ({}) VALUES ({marks})", quote(&t.name), names.join(", ")))
            })
            .collect::<Vec<_>>();
        let link_inserts = store
            .schema
            .links
            .iter()
            .map(|l| (l.clone(), format!("INSERT INTO {} (owner, position, target) VALUES (?, ?, ?)", quote(l))))
            .collect();
        // Every table's statements stay prepared.
        store.conn.set_prepared_statement_cache_capacity(inserts.len() + store.schema.links.len() + 16);
        let next = store.next;
        Ok(SqliteSink {
            store: Some(store),
            path: path.to_path_buf(),
            existed,
            inserts,
            link_inserts,
            next,
            count: 0,
            finished: false,
        })
    }

    fn insert(&mut self, object: &Object) -> rusqlite::Result<()> {
        let Some(store) = &self.store else { return Ok(()) };
        let (Some(Some(table)), Some(Some(insert))) =
            (store.schema.tables.get(object.entity.index()), self.inserts.get(object.entity.index()))
        else {
            return Ok(());
        };
        if object.id.role().is_some() {
            return Ok(());
        }
        let id = object.id.0 as i64;
        let mut row: Vec<Sql> = vec![Sql::Integer(id)];
        for (c, v) in table.columns.iter().zip(&object.values) {
            if let Column::Value { ty, .. } = c {
                row.push(encode(ty, v));
            }
        }
        store.conn.prepare_cached(insert)?.execute(params_from_iter(row))?;
        for (c, v) in table.columns.iter().zip(&object.values) {
            let (Column::Link { table: link }, Value::List(targets)) = (c, v) else { continue };
            let Some(sql) = self.link_inserts.get(link) else { continue };
            let mut stmt = store.conn.prepare_cached(sql)?;
            for (p, t) in targets.iter().enumerate() {
                stmt.execute([id, p as i64, t.0 as i64])?;
            }
        }
        self.next = self.next.max(object.id.0.saturating_add(1));
        self.count += 1;
        Ok(())
    }

    fn fail(&self, e: impl std::fmt::Display) -> Vec<StoreError> {
        fail(&self.path, e)
    }
}

impl super::ObjectSink for SqliteSink {
    fn write(&mut self, batch: &[Object]) -> Result<(), Vec<StoreError>> {
        for object in batch {
            self.insert(object).map_err(|e| self.fail(e))?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<usize, Vec<StoreError>> {
        let Some(store) = &mut self.store else { return Ok(self.count) };
        let result = (|| {
            for statement in store.schema.create_statements(false, Dialect::Sqlite) {
                store.conn.execute_batch(&statement)?;
            }
            store.next = self.next;
            store.save_next()?;
            store.conn.execute_batch("COMMIT")?;
            store.held = false;
            Ok::<_, rusqlite::Error>(())
        })();
        result.map_err(|e| self.fail(e))?;
        self.finished = true;
        Ok(self.count)
    }
}

impl Drop for SqliteSink {
    fn drop(&mut self) {
        // Closed (and its transaction rolled back) before its files go.
        drop(self.store.take());
        if !self.finished {
            remove_database(&self.path);
            if self.existed {
                // It was an empty file: it stays one.
                let _ = std::fs::File::create(&self.path);
            }
        }
    }
}

/// Removes a SQLite database and the files SQLite keeps beside it.
fn remove_database(path: &Path) {
    let _ = std::fs::remove_file(path);
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut beside = path.as_os_str().to_owned();
        beside.push(suffix);
        let _ = std::fs::remove_file(beside);
    }
}

impl super::RowSource for SqliteStore {
    fn tables(&self) -> &Schema {
        &self.schema
    }

    fn integers(&self, sql: &str, f: &mut dyn FnMut(&[i64])) -> Result<(), String> {
        let e = |e: rusqlite::Error| e.to_string();
        let mut stmt = self.conn.prepare(sql).map_err(e)?;
        let n = stmt.column_count();
        let mut rows = stmt.query([]).map_err(e)?;
        let mut values = Vec::with_capacity(n);
        while let Some(row) = rows.next().map_err(e)? {
            values.clear();
            for k in 0..n {
                values.push(row.get::<_, i64>(k).map_err(e)?);
            }
            f(&values);
        }
        Ok(())
    }

    fn rows(
        &self,
        sql: &str,
        types: &[&ColType],
        f: &mut dyn FnMut(i64, Vec<Result<Value, String>>),
    ) -> Result<(), String> {
        let e = |e: rusqlite::Error| e.to_string();
        let mut stmt = self.conn.prepare(sql).map_err(e)?;
        let mut rows = stmt.query([]).map_err(e)?;
        while let Some(row) = rows.next().map_err(e)? {
            let id = row.get::<_, i64>(0).map_err(e)?;
            let values = types
                .iter()
                .enumerate()
                .map(|(k, ty)| row.get_ref(k + 1).map_err(e).and_then(|v| decode(ty, v)))
                .collect();
            f(id, values);
        }
        Ok(())
    }
}

mod functions {
    //! SQL functions that compare and test text exactly as the evaluator does.

    use rusqlite::functions::FunctionFlags;
    use rusqlite::Connection;

    use crate::model::value::Value;
    use crate::model::xpath::{DatePart, Func};

    /// An integer result, or NULL for an empty one.
    fn integer(value: Value) -> Option<i64> {
        match value {
            Value::Integer(i) => Some(i),
            _ => None,
        }
    }

    /// Registers `warden_fold(text)` (case folding for `=` and `!=`), the SQL function of
    /// each XPath function of the registry (`model::functions::XFUNCTIONS`: case-insensitive
    /// string tests, `warden_length`, `warden_date_part(ms, part, zone)`) and
    /// `warden_decimal_cmp(a, b)` (exact decimal order: -1, 0, 1).
    pub(super) fn register(conn: &Connection) -> rusqlite::Result<()> {
        let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
        conn.create_scalar_function("warden_fold", 1, flags, |ctx| {
            Ok(ctx.get::<Option<String>>(0)?.map(|s| crate::model::functions::fold_case(&s)))
        })?;
        // The XPath functions of the registry, each running the evaluator's own `Func::apply`.
        let mut registered = std::collections::HashSet::new();
        for def in crate::model::functions::XFUNCTIONS {
            if !registered.insert(def.sql) {
                continue;
            }
            let func = def.func;
            match func {
                Func::Contains | Func::StartsWith | Func::EndsWith => {
                    conn.create_scalar_function(def.sql, 2, flags, move |ctx| {
                        let (a, b) = (ctx.get::<Option<String>>(0)?, ctx.get::<Option<String>>(1)?);
                        let text = |s: Option<String>| s.map_or(Value::Empty, Value::String);
                        Ok(func.apply(&text(a), Some(&text(b))) == Value::Boolean(true))
                    })?;
                }
                Func::Length => {
                    conn.create_scalar_function(def.sql, 1, flags, move |ctx| {
                        let value = ctx.get::<Option<String>>(0)?.map_or(Value::Empty, Value::String);
                        Ok(integer(func.apply(&value, None)))
                    })?;
                }
                // One function for every part: the part by its position in `DatePart::ALL`.
                Func::DatePart(..) => {
                    conn.create_scalar_function(def.sql, 3, flags, |ctx| {
                        let (ms, part, tz) = (ctx.get::<Option<i64>>(0)?, ctx.get::<i64>(1)?, ctx.get::<String>(2)?);
                        let part = usize::try_from(part).ok().and_then(|p| DatePart::ALL.get(p).copied());
                        Ok(match (ms, part, tz.parse::<chrono_tz::Tz>()) {
                            (Some(ms), Some(part), Ok(tz)) => {
                                integer(Func::DatePart(part, tz).apply(&Value::DateTime(ms), None))
                            }
                            _ => None,
                        })
                    })?;
                }
            }
        }
        conn.create_scalar_function("warden_decimal_cmp", 2, flags, |ctx| {
            let number = |i: usize| -> rusqlite::Result<Option<rust_decimal::Decimal>> {
                use rusqlite::types::ValueRef;
                Ok(match ctx.get_raw(i) {
                    ValueRef::Integer(n) => Some(n.into()),
                    ValueRef::Text(t) => std::str::from_utf8(t).ok().and_then(|s| s.parse().ok()),
                    _ => None,
                })
            };
            Ok(match (number(0)?, number(1)?) {
                (Some(a), Some(b)) => Some(a.cmp(&b) as i64),
                _ => None,
            })
        })?;
        Ok(())
    }
}
