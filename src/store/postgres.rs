//! The PostgreSQL store: the store that many warden processes share. One table per
//! persistent entity and a link table per reference set, in a schema of its own (named
//! after the app, or `--pg-schema`), derived from the program by the same code as the
//! SQLite store's ([`super::sqlite`]'s schema, spelled by [`Dialect::Postgres`]).
//!
//! Nothing is loaded whole: each object is read when the evaluator asks for it, and the
//! objects used recently stay in the same bounded cache as SQLite's. Retrieves run as one
//! SQL query from the same translation (`eval::sql`), spelled for PostgreSQL.
//!
//! Transactions. Opened for writing, the store starts a PostgreSQL transaction and takes
//! the schema's advisory lock (`pg_advisory_xact_lock`) before it reads anything; the first
//! outermost evaluator transaction (a run: `warden eval --save` is one) goes on in it, and
//! commits it. Nested evaluator transactions are savepoints. A later outermost transaction
//! takes the lock again and fails (nothing written) when another process committed since
//! this one last read, as the SQLite store does. Writers therefore run one at a time per
//! schema and never lose each other's changes; readers never wait and see only committed
//! data. Opened for reading, the whole session is one `REPEATABLE READ` transaction that is
//! never committed: one consistent snapshot, and the run's own changes are undone when it
//! ends. A killed process leaves nothing half-written: PostgreSQL rolls back the open
//! transaction of a closed connection.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::error::Error;
use std::str::FromStr;

use postgres::types::{IsNull, ToSql, Type};
use postgres::{Client, NoTls, Statement};
use rust_decimal::Decimal;

use super::dialect::{quote, Dialect, Folding};
use super::sqlite::{link_statements, templates, Cache, ColType, Column, Mode, Schema, Table};
use super::{CommitError, MemoryStore, Object, ObjectId, SqlValue, Store, StoreError, Value};
use crate::model::{EntityId, Program};

/// The format tag kept in the schema's `warden_meta` table.
pub const FORMAT: &str = "warden-postgres/1";

/// Whether a `--store` value names a PostgreSQL database (`postgres://` or `postgresql://`).
pub fn is_postgres_url(store: &str) -> bool {
    store.starts_with("postgres://") || store.starts_with("postgresql://")
}

/// [`is_postgres_url`] of a path given on the command line.
pub fn is_postgres_path(path: &std::path::Path) -> bool {
    path.to_str().is_some_and(is_postgres_url)
}

/// The schema a program's store lives in when `--pg-schema` is not given: the app's name in
/// lower case, other characters than letters and digits as `_` (`warden` for no name).
pub fn default_schema(program: &Program) -> String {
    let name: String = program
        .app
        .name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' })
        .collect();
    if name.is_empty() {
        "warden".into()
    } else {
        name
    }
}

/// A URL without its password, for messages.
pub fn shown(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    match rest.split_once('@') {
        Some((user, host)) if user.contains(':') => {
            format!("{scheme}://{}:***@{host}", user.split(':').next().unwrap_or_default())
        }
        _ => url.to_string(),
    }
}

/// Connects to the database a URL names; `sslmode` other than `disable` is refused (TLS is
/// not supported yet), and so is a URL that is not one.
pub fn connect(url: &str) -> Result<Client, String> {
    if let Some((_, query)) = url.split_once('?') {
        for pair in query.split('&') {
            if let Some(("sslmode", mode)) = pair.split_once('=') {
                if mode != "disable" {
                    return Err(format!(
                        "`sslmode={mode}` is not supported: warden connects to PostgreSQL without TLS for now; \
                         use `sslmode=disable` over a network you trust (or a local socket or tunnel)"
                    ));
                }
            }
        }
    }
    let mut config = postgres::Config::from_str(url).map_err(|e| format!("not a PostgreSQL URL: {e}"))?;
    config.ssl_mode(postgres::config::SslMode::Disable);
    config.connect_timeout(std::time::Duration::from_secs(10));
    config.application_name("warden");
    config.connect(NoTls).map_err(|e| format!("cannot connect to PostgreSQL at {}: {e}", shown(url)))
}

/// The key of a schema's advisory lock: a stable hash (FNV-1a) of its name, the same in
/// every process.
pub fn lock_key(pg_schema: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in b"warden:".iter().chain(pg_schema.as_bytes()) {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash as i64
}

/// One parameter: written as the type PostgreSQL expects where the translation's values
/// allow it (0 and 1 for a Boolean, digits for text), an error otherwise.
#[derive(Clone, Debug, PartialEq)]
enum Param {
    Null,
    Int(i64),
    Text(String),
    Bool(bool),
}

impl From<&SqlValue> for Param {
    fn from(value: &SqlValue) -> Param {
        match value {
            SqlValue::Null => Param::Null,
            SqlValue::Integer(i) => Param::Int(*i),
            SqlValue::Text(t) => Param::Text(t.clone()),
        }
    }
}

impl ToSql for Param {
    fn to_sql(&self, ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        let text = matches!(*ty, Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN);
        match self {
            Param::Null => Ok(IsNull::Yes),
            Param::Int(i) => match *ty {
                Type::INT8 => i.to_sql(ty, out),
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                Type::BOOL => (*i != 0).to_sql(ty, out),
                Type::FLOAT8 => (*i as f64).to_sql(ty, out),
                _ if text => i.to_string().to_sql(ty, out),
                _ => Err(format!("an integer parameter where PostgreSQL expects {ty}").into()),
            },
            Param::Text(s) => match *ty {
                _ if text => s.to_sql(ty, out),
                Type::INT8 => s.parse::<i64>()?.to_sql(ty, out),
                _ => Err(format!("a text parameter where PostgreSQL expects {ty}").into()),
            },
            Param::Bool(b) => match *ty {
                Type::BOOL => b.to_sql(ty, out),
                Type::INT8 => i64::from(*b).to_sql(ty, out),
                _ => Err(format!("a Boolean parameter where PostgreSQL expects {ty}").into()),
            },
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    fn to_sql_checked(&self, ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        self.to_sql(ty, out)
    }
}

/// A value as the parameter that writes it to a column of type `ty`.
fn encode(ty: &ColType, value: &Value) -> Param {
    match (ty, value) {
        (_, Value::Empty) => Param::Null,
        (ColType::Enum(_, names), Value::Enum(_, i)) => {
            names.get(*i as usize).map_or(Param::Null, |n| Param::Text(n.to_string()))
        }
        (_, Value::String(s)) => Param::Text(s.clone()),
        (_, Value::Integer(i)) | (_, Value::DateTime(i)) => Param::Int(*i),
        (_, Value::Decimal(d)) => Param::Text(d.to_string()),
        (_, Value::Boolean(b)) => Param::Bool(*b),
        (_, Value::Object(id)) => Param::Int(id.0 as i64),
        (_, Value::Enum(_, i)) => Param::Int(i64::from(*i)),
        (_, Value::List(_)) | (_, Value::Duration { .. }) | (_, Value::Instance(_)) => Param::Null,
    }
}

/// Column `k` of a row as the value of a member of type `ty`.
fn decode(ty: &ColType, row: &postgres::Row, k: usize) -> Result<Value, String> {
    let e = |e: postgres::Error| e.to_string();
    Ok(match ty {
        ColType::Text => row.try_get::<_, Option<String>>(k).map_err(e)?.map_or(Value::Empty, Value::String),
        ColType::Integer => row.try_get::<_, Option<i64>>(k).map_err(e)?.map_or(Value::Empty, Value::Integer),
        ColType::DateTime => row.try_get::<_, Option<i64>>(k).map_err(e)?.map_or(Value::Empty, Value::DateTime),
        ColType::Boolean => row.try_get::<_, Option<bool>>(k).map_err(e)?.map_or(Value::Empty, Value::Boolean),
        ColType::Reference => match row.try_get::<_, Option<i64>>(k).map_err(e)? {
            None => Value::Empty,
            Some(i) if i > 0 => Value::Object(ObjectId(i as u64)),
            Some(i) => return Err(format!("{i} is not an object id")),
        },
        ColType::Decimal => match row.try_get::<_, Option<String>>(k).map_err(e)? {
            None => Value::Empty,
            Some(s) => Value::Decimal(Decimal::from_str(&s).map_err(|_| format!("`{s}` is not a decimal"))?),
        },
        ColType::Enum(id, names) => match row.try_get::<_, Option<String>>(k).map_err(e)? {
            None => Value::Empty,
            Some(s) => names
                .iter()
                .position(|n| n.as_str() == s)
                .map(|i| Value::Enum(*id, i as u32))
                .ok_or_else(|| format!("`{s}` is not a value of the enumeration ({})", names.join(", ")))?,
        },
    })
}

/// The PostgreSQL store.
pub struct PgStore {
    client: RefCell<Client>,
    /// Prepared statements by their text.
    prepared: RefCell<HashMap<String, Statement>>,
    schema: Schema,
    /// The PostgreSQL schema its tables live in.
    pg_schema: String,
    /// Each stored entity's members at their defaults, by entity index (`None`: no table).
    templates: Vec<Option<Vec<Value>>>,
    /// Objects recently read or written (the tables hold the truth).
    cache: RefCell<Cache>,
    /// Objects without a table (of non-persistent entities, or with a role object's id).
    side: MemoryStore,
    next: u64,
    nexts: Vec<u64>,
    /// Open evaluator transactions.
    depth: usize,
    /// How many of them exist in PostgreSQL (savepoints are taken when a write needs them).
    issued: usize,
    /// Opened for writing: outermost transactions commit.
    persist: bool,
    /// The transaction taken at open, not yet claimed by an outermost `begin`.
    held: bool,
    /// The schema's `version` (counts committed writing transactions) when last read.
    version: i64,
    /// Whether the current outermost transaction wrote.
    dirty: bool,
    failure: Option<CommitError>,
    /// Queries that PostgreSQL refused (the evaluator then scanned instead): zero unless the
    /// translation spells something PostgreSQL does not take.
    refused: RefCell<Vec<String>>,
    /// A scratch schema of its own ([`PgStore::scratch`]): dropped with the store.
    owned: bool,
    /// A statement failed inside the open PostgreSQL transaction. PostgreSQL has then ended
    /// it in all but name: it refuses every later statement, and answers `COMMIT` by rolling
    /// back. So the run fails rather than commit, or seem to (see [`PgStore::checked`]).
    broken: std::cell::Cell<bool>,
    /// How `lower()` folds case as the evaluator does, here ([`PgStore::probe_folding`]).
    folding: Folding,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").field("schema", &self.pg_schema).field("depth", &self.depth).finish()
    }
}

/// How many rows a query's portal hands over at a time (see `PgStore::each_row`).
const ROW_BATCH: usize = 10_000;

/// The most rows a retrieve's first query asks for (see `PgStore::answer_ids`): a batch, held at
/// once either way. A larger answer reads these again: at most one batch more than it needs, a
/// small part of an answer that large. (1,000 made the owner retrieve of 5,000 carts 1.38x the
/// query by hand, 10,000 about 1.1x; the column retrieve of 10^6 objects went from 1.08x to
/// about 1.2x.)
const SMALL_ANSWER: usize = ROW_BATCH;

/// A PostgreSQL identifier as PostgreSQL keeps it (at most 63 bytes).
fn kept(name: &str) -> String {
    let mut end = name.len().min(63);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    name[..end].to_string()
}

impl PgStore {
    /// Opens the store in schema `pg_schema` (default: [`default_schema`]) of the database at
    /// `url`. With [`Mode::Create`] the schema must hold no tables yet. A schema whose tables
    /// do not fit the program is refused, naming every difference; tables of new entities are
    /// made (outside [`Mode::Read`]).
    pub fn open(
        program: &Program,
        url: &str,
        pg_schema: Option<&str>,
        mode: Mode,
        cache_objects: usize,
    ) -> Result<PgStore, Vec<StoreError>> {
        let pg_schema = pg_schema.map_or_else(|| default_schema(program), str::to_string);
        let at = format!("{}#{pg_schema}", shown(url));
        let fail = |m: String| vec![StoreError { path: at.clone(), message: m }];
        let client = connect(url).map_err(&fail)?;
        let schema = Schema::of_in(program, Dialect::Postgres);
        let templates = templates(program, &schema);
        let mut store = PgStore {
            client: RefCell::new(client),
            prepared: RefCell::new(HashMap::new()),
            schema,
            pg_schema,
            templates,
            cache: RefCell::new(Cache::new(cache_objects)),
            side: MemoryStore::new(),
            next: 1,
            nexts: Vec::new(),
            depth: 0,
            issued: 0,
            persist: mode != Mode::Read,
            held: false,
            version: 0,
            dirty: false,
            failure: None,
            refused: RefCell::new(Vec::new()),
            owned: false,
            broken: std::cell::Cell::new(false),
            folding: Folding::Unknown,
        };
        let problems = store.prepare(mode).map_err(|e| fail(e.to_string()))?;
        if !problems.is_empty() {
            return Err(problems.into_iter().map(|m| StoreError { path: at.clone(), message: m }).collect());
        }
        let begin = match store.persist {
            true => "BEGIN",
            false => "BEGIN ISOLATION LEVEL REPEATABLE READ",
        };
        // With `Mode::Create` the transaction that made the tables goes on, under the lock.
        if mode != Mode::Create {
            store.batch(begin).map_err(|e| fail(e.to_string()))?;
            if store.persist {
                store.lock().map_err(|e| fail(e.to_string()))?;
            }
        }
        store.held = store.persist;
        let (next, version) = store.read_meta().map_err(|e| fail(e.to_string()))?;
        store.next = next;
        store.version = version;
        // Every user at once (one query per table and reference set) rather than each through
        // its own queries: about 0.25 s per 1,000 users that way.
        let users = store.users(program).map_err(&fail)?;
        let users = super::user_problems(program, &users);
        if !users.is_empty() {
            return Err(users
                .into_iter()
                .map(|(id, member, message)| {
                    let entity = store.entity_of(id).unwrap_or(crate::model::SYSTEM_USER);
                    StoreError { path: format!("{}#{}.{member}", program.entity(entity).name, id.0), message }
                })
                .collect());
        }
        Ok(store)
    }

    /// A new, empty store for `program` in a schema of its own with a random name
    /// (`warden_scratch_...`), which is dropped with the store, also when a test fails
    /// (tests and `warden test --backend postgres`).
    pub fn scratch(program: &Program, url: &str) -> Result<PgStore, String> {
        let mut bytes = [0u8; 8];
        getrandom::getrandom(&mut bytes).map_err(|e| e.to_string())?;
        let name = format!("warden_scratch_{:016x}", u64::from_le_bytes(bytes));
        let mut store = PgStore::open(program, url, Some(&name), Mode::Write, super::sqlite::DEFAULT_CACHE_OBJECTS)
            .map_err(|errors| errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "));
        if let Ok(store) = &mut store {
            store.owned = true;
        } else {
            let _ = drop_schema(url, &name);
        }
        store
    }

    /// The PostgreSQL schema it lives in.
    pub fn pg_schema(&self) -> &str {
        &self.pg_schema
    }

    /// The queries PostgreSQL refused since open, with its reasons (the evaluator scanned
    /// instead, so answers were right, but slower). Empty unless the translation is wrong.
    pub fn refused_queries(&self) -> Vec<String> {
        self.refused.borrow().clone()
    }

    fn batch(&self, sql: &str) -> Result<(), postgres::Error> {
        self.checked(self.client.borrow_mut().batch_execute(sql))
    }

    /// Notes a failure inside the open transaction (see `broken`).
    fn checked<T>(&self, result: Result<T, postgres::Error>) -> Result<T, postgres::Error> {
        if result.is_err() && self.in_transaction() {
            self.broken.set(true);
        }
        result
    }

    fn lock(&self) -> Result<(), postgres::Error> {
        self.client.borrow_mut().execute("SELECT pg_advisory_xact_lock($1)", &[&lock_key(&self.pg_schema)]).map(|_| ())
    }

    /// Makes (outside [`Mode::Read`]) or finds the schema, its metadata and its tables, and
    /// names every way the tables differ from the program's.
    fn prepare(&mut self, mode: Mode) -> Result<Vec<String>, String> {
        let e = |e: postgres::Error| e.to_string();
        let name = self.pg_schema.clone();
        // Making tables is serialized with every writer of the schema.
        self.batch("BEGIN").map_err(e)?;
        if mode != Mode::Read {
            self.lock().map_err(e)?;
            self.batch(&format!("CREATE SCHEMA IF NOT EXISTS {}", quote(&name))).map_err(e)?;
        }
        self.client.borrow_mut().execute("SELECT set_config('search_path', $1, false)", &[&quote(&name)]).map_err(e)?;
        let existing = self.existing_tables().map_err(e)?;
        if existing.is_empty() && mode == Mode::Read {
            let _ = self.batch("ROLLBACK");
            return Err(format!("no warden store in schema `{name}` (import one with `warden store import`)"));
        }
        if mode == Mode::Create && !existing.is_empty() {
            let _ = self.batch("ROLLBACK");
            return Err(format!("schema `{name}` already holds tables; give a new schema to import into"));
        }
        if !existing.contains_key("warden_meta") {
            if !existing.is_empty() {
                let _ = self.batch("ROLLBACK");
                return Err(format!(
                    "schema `{name}` holds tables, but is not a warden store (no `warden_meta` table)"
                ));
            }
            self.batch(&format!(
                "CREATE TABLE warden_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL); \
                 INSERT INTO warden_meta VALUES ('format', '{FORMAT}'), ('next_id', '1'), ('version', '0')"
            ))
            .map_err(e)?;
        }
        let format: Option<String> = self
            .client
            .borrow_mut()
            .query_opt("SELECT value FROM warden_meta WHERE key = 'format'", &[])
            .map_err(e)?
            .map(|r| r.get(0));
        if format.as_deref() != Some(FORMAT) {
            let _ = self.batch("ROLLBACK");
            return Err(format!("unknown store format `{}`; expected `{FORMAT}`", format.unwrap_or_default()));
        }
        let problems = self.fit(&existing);
        if !problems.is_empty() {
            let _ = self.batch("ROLLBACK");
            return Ok(problems);
        }
        // New entities are additive: their tables are made (temporary ones when only reading).
        let temp = if mode == Mode::Read { "TEMP " } else { "" };
        let mut statements = Vec::new();
        for table in self.schema.tables.iter().flatten() {
            if !existing.contains_key(&kept(&table.name)) {
                statements.extend(table.create_statements(temp, mode != Mode::Create, Dialect::Postgres));
            }
        }
        for link in &self.schema.links {
            if !existing.contains_key(&kept(link)) {
                statements.extend(link_statements(link, temp, mode != Mode::Create, Dialect::Postgres));
            }
        }
        for (view, body) in &self.schema.views {
            statements.push(format!("CREATE TEMP VIEW {} AS {body}", quote(view)));
        }
        for statement in statements {
            self.batch(&statement).map_err(e)?;
        }
        // Committed with the views: a reader's transaction may be rolled back and taken again.
        self.folding = self.probe_folding().map_err(e)?;
        // A new store's schema and tables are made in the transaction its rows go in
        // (`PgSink`): a failed import leaves nothing behind.
        if mode != Mode::Create {
            self.batch("COMMIT").map_err(e)?;
        }
        Ok(Vec::new())
    }

    /// How `lower()` here folds case as [`fold_case`](crate::model::functions::fold_case)
    /// does. It follows the database's collation: under `C` it lowers ASCII only, and a C
    /// library older than this build's Unicode misses the newest letters, which `translate`
    /// then maps first. Two queries of about 1,400 characters, at open; each answer is checked
    /// against the evaluator's folding of every character that has a lowercase form.
    fn probe_folding(&self) -> Result<Folding, postgres::Error> {
        // Every character that has a lowercase form, and its folding: found once a process.
        static PROBE: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();
        let (probe, folded) = PROBE.get_or_init(|| {
            let probe: String = (0..=char::MAX as u32)
                .filter_map(char::from_u32)
                .filter(|c| *c == '\u{130}' || !c.to_lowercase().eq(std::iter::once(*c)))
                .collect();
            let folded = crate::model::functions::fold_case(&probe);
            (probe, folded)
        });
        let lowered: String = self.client.borrow_mut().query_one("SELECT lower($1::text)", &[probe])?.get(0);
        if lowered == *folded {
            return Ok(Folding::Exact);
        }
        // One character for one (fold_case maps each to one): the ones `lower()` gets wrong.
        let (mut from, mut to) = (String::new(), String::new());
        if lowered.chars().count() == probe.chars().count() {
            for ((c, wrong), right) in probe.chars().zip(lowered.chars()).zip(folded.chars()) {
                if wrong != right {
                    from.push(c);
                    to.push(right);
                }
            }
        }
        // Few, or the collation is not Unicode's at all (`C` gets about a thousand wrong).
        if from.is_empty() || from.chars().count() > 200 {
            return Ok(Folding::Unknown);
        }
        let translated: String = self
            .client
            .borrow_mut()
            .query_one("SELECT lower(translate($1::text, $2::text, $3::text))", &[probe, &from, &to])?
            .get(0);
        if translated != *folded {
            return Ok(Folding::Unknown);
        }
        // A function of this connection (`pg_temp`), so that a query reads as over SQLite; the
        // planner inlines it. The characters are this build's own, never a value's.
        let literal = |s: &str| format!("'{}'", s.replace('\'', "''"));
        self.batch(&format!(
            "CREATE OR REPLACE FUNCTION pg_temp.warden_fold(text) RETURNS text LANGUAGE sql IMMUTABLE \
             AS $$ SELECT lower(translate($1, {}, {})) $$",
            literal(&from),
            literal(&to)
        ))?;
        Ok(Folding::Function)
    }

    /// The schema's tables with their columns and types.
    fn existing_tables(&self) -> Result<HashMap<String, Vec<(String, String)>>, postgres::Error> {
        let rows = self.client.borrow_mut().query(
            "SELECT c.table_name::text, c.column_name::text, c.data_type::text \
             FROM information_schema.columns c JOIN information_schema.tables t \
             ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
             WHERE c.table_schema = $1 AND t.table_type = 'BASE TABLE' ORDER BY c.table_name, c.ordinal_position",
            &[&self.pg_schema],
        )?;
        let mut out: HashMap<String, Vec<(String, String)>> = HashMap::new();
        for row in rows {
            out.entry(row.get(0)).or_default().push((row.get(1), row.get(2)));
        }
        Ok(out)
    }

    /// Every way the schema's tables differ from the program's, as messages.
    fn fit(&self, existing: &HashMap<String, Vec<(String, String)>>) -> Vec<String> {
        let mut problems = Vec::new();
        let mut expected: Vec<String> = vec!["warden_meta".into()];
        for table in self.schema.tables.iter().flatten() {
            let name = kept(&table.name);
            expected.push(name.clone());
            let Some(columns) = existing.get(&name) else { continue };
            let want: Vec<(String, &str)> = std::iter::once(("id".to_string(), "bigint"))
                .chain(table.columns.iter().filter_map(|c| match c {
                    Column::Value { name, ty } => Some((kept(name), ty.declared_in(Dialect::Postgres))),
                    Column::Link { .. } => None,
                }))
                .collect();
            for (column, ty) in columns {
                match want.iter().find(|(n, _)| n == column) {
                    None => problems.push(format!(
                        "table `{name}` has a column `{column}` that the program no longer declares; its values would be lost"
                    )),
                    Some((_, t)) if !t.eq_ignore_ascii_case(ty) => problems.push(format!(
                        "column `{column}` of table `{name}` holds {ty}, but the program declares {t}"
                    )),
                    Some(_) => {}
                }
            }
            for (column, _) in &want {
                if !columns.iter().any(|(n, _)| n == column) {
                    problems.push(format!(
                        "table `{name}` has no column `{column}`, which the program declares; \
                         export the store with the old program and import it with the new one"
                    ));
                }
            }
        }
        for link in &self.schema.links {
            expected.push(kept(link));
        }
        for name in existing.keys() {
            if !expected.contains(name) && !name.starts_with(super::runtime_state::TABLE_PREFIX) {
                problems.push(format!(
                    "table `{name}` belongs to an entity or reference set the program no longer declares; \
                     its rows would be lost"
                ));
            }
        }
        problems.sort();
        problems
    }

    /// The id to hand out next and the schema's version.
    fn read_meta(&self) -> Result<(u64, i64), postgres::Error> {
        let rows = self.client.borrow_mut().query("SELECT key, value FROM warden_meta", &[])?;
        let (mut next, mut version) = (1u64, 0i64);
        for row in rows {
            let (key, value): (String, String) = (row.get(0), row.get(1));
            match key.as_str() {
                "next_id" => next = value.parse().unwrap_or(1),
                "version" => version = value.parse().unwrap_or(0),
                _ => {}
            }
        }
        for table in self.schema.tables.iter().flatten() {
            let max: Option<i64> =
                self.client.borrow_mut().query_one(&format!("SELECT max(id) FROM {}", quote(&table.name)), &[])?.get(0);
            if let Some(max) = max.filter(|m| *m > 0) {
                next = next.max(max as u64 + 1);
            }
        }
        Ok((next, version))
    }

    /// Whether a PostgreSQL transaction is open (an error there would end it).
    fn in_transaction(&self) -> bool {
        !self.persist || self.held || self.issued > 0
    }

    /// A statement prepared once per connection. Inside a transaction a statement PostgreSQL
    /// refuses is prepared under a savepoint, so that the refusal does not end the transaction.
    fn statement(&self, sql: &str) -> Result<Statement, postgres::Error> {
        if let Some(s) = self.prepared.borrow().get(sql) {
            return Ok(s.clone());
        }
        let guarded = self.in_transaction();
        let mut client = self.client.borrow_mut();
        if guarded {
            client.batch_execute("SAVEPOINT warden_prepare")?;
        }
        let prepared = client.prepare(sql);
        if guarded {
            let undo = match prepared {
                Ok(_) => "RELEASE SAVEPOINT warden_prepare",
                Err(_) => "ROLLBACK TO SAVEPOINT warden_prepare; RELEASE SAVEPOINT warden_prepare",
            };
            client.batch_execute(undo)?;
        }
        let prepared = prepared?;
        self.prepared.borrow_mut().insert(sql.to_string(), prepared.clone());
        Ok(prepared)
    }

    fn query(&self, sql: &str, params: &[Param]) -> Result<Vec<postgres::Row>, postgres::Error> {
        let statement = self.statement(sql)?;
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        self.checked(self.client.borrow_mut().query(&statement, &refs))
    }

    fn execute(&self, sql: &str, params: &[Param]) -> Result<u64, postgres::Error> {
        let statement = self.statement(sql)?;
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        self.checked(self.client.borrow_mut().execute(&statement, &refs))
    }

    /// Runs a query and hands each row to `f` as it arrives: a large answer is never held as
    /// rows (a million rows would take hundreds of MB), only as what `f` keeps of them.
    fn each_row(&self, sql: &str, params: &[Param], f: impl FnMut(&postgres::Row)) -> Result<(), postgres::Error> {
        let read = self.read_rows(sql, params, f);
        self.checked(read)
    }

    fn read_rows(&self, sql: &str, params: &[Param], mut f: impl FnMut(&postgres::Row)) -> Result<(), postgres::Error> {
        use postgres::fallible_iterator::FallibleIterator;
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        let statement = self.statement(sql)?;
        let mut client = self.client.borrow_mut();
        // Inside a transaction, through a portal of the prepared statement, in batches. The
        // `postgres` crate's row iterator enters its runtime once a row (about 0.4 µs each, 1.6x
        // a query of 10^6 rows), a batch once a batch. A portal rather than `DECLARE ... CURSOR`:
        // PostgreSQL plans a cursor's query at every `DECLARE`, even a prepared one, while a
        // prepared statement keeps its plan (a path's semi-join took 1.6x the same query by hand
        // at 10^6 objects, most of it planning).
        if self.in_transaction() && !self.broken.get() {
            // The crate binds a portal only through its `Transaction`, which sends `BEGIN`: inside
            // the transaction already open that is a no-op (PostgreSQL warns). The guard is then
            // forgotten rather than dropped, since dropping it would roll back the open
            // transaction, which is not its to end; it owns no memory. Never in a broken
            // transaction: there `BEGIN` fails, and the crate then sends `ROLLBACK`, which would
            // end the transaction for real and leave later writes to commit one by one.
            let mut open = client.transaction()?;
            let read = (|| {
                let portal = open.bind(&statement, &refs)?;
                loop {
                    let rows = open.query_portal(&portal, ROW_BATCH as i32)?;
                    rows.iter().for_each(&mut f);
                    if rows.len() < ROW_BATCH {
                        return Ok(());
                    }
                }
            })();
            std::mem::forget(open);
            return read;
        }
        let mut rows = client.query_raw(&statement, refs)?;
        while let Some(row) = rows.next()? {
            f(&row);
        }
        Ok(())
    }

    /// A retrieve's answer. Most are small: they are asked for at most [`SMALL_ANSWER`] rows and
    /// one more, in one round trip, as a query by hand would be; only a larger answer is then
    /// read again whole, in batches (three round trips, and its first rows a second time).
    fn answer_ids(&self, sql: &str, params: &[Param]) -> Result<Vec<ObjectId>, postgres::Error> {
        // The translation never writes a LIMIT of its own; any other query goes straight on.
        if self.in_transaction() && !sql.contains("LIMIT") {
            let rows = self.query(&format!("{sql}\nLIMIT {}", SMALL_ANSWER + 1), params)?;
            if rows.len() <= SMALL_ANSWER {
                return Ok(rows.iter().map(|r| ObjectId(r.get::<_, i64>(0) as u64)).collect());
            }
        }
        self.query_ids(sql, params)
    }

    fn query_ids(&self, sql: &str, params: &[Param]) -> Result<Vec<ObjectId>, postgres::Error> {
        let mut ids = Vec::new();
        self.each_row(sql, params, |r| ids.push(ObjectId(r.get::<_, i64>(0) as u64)))?;
        Ok(ids)
    }

    fn table(&self, entity: EntityId) -> Option<&Table> {
        self.schema.tables.get(entity.index()).and_then(Option::as_ref)
    }

    fn tabled(&self, object: &Object) -> bool {
        object.id.role().is_none() && self.table(object.entity).is_some()
    }

    /// Which table holds an object.
    fn locate(&self, id: ObjectId) -> Option<EntityId> {
        if self.schema.locate.is_empty() || id.0 == 0 || id.0 >= super::ROLE_OBJECT_BASE {
            return None;
        }
        let rows = self.query(&self.schema.locate, &[Param::Int(id.0 as i64)]).ok()?;
        rows.first().map(|r| EntityId(r.get::<_, i32>(0) as u32))
    }

    /// An object's row and reference-set rows.
    fn read_object(&self, entity: EntityId, id: ObjectId) -> Option<Object> {
        let (Some(Some(table)), Some(Some(template))) =
            (self.schema.tables.get(entity.index()), self.templates.get(entity.index()))
        else {
            return None;
        };
        let mut values = template.clone();
        let rows = self.query(&table.row_sql, &[Param::Int(id.0 as i64)]).ok()?;
        let row = rows.first()?;
        let mut k = 0;
        for (i, c) in table.columns.iter().enumerate() {
            let Column::Value { ty, .. } = c else { continue };
            values[i] = decode(ty, row, k).unwrap_or(Value::Empty);
            k += 1;
        }
        for (i, c) in table.columns.iter().enumerate() {
            let Column::Link { table: link } = c else { continue };
            let sql = format!("SELECT target FROM {} WHERE owner = $1 ORDER BY position", quote(link));
            let targets = self.query_ids(&sql, &[Param::Int(id.0 as i64)]).ok()?;
            values[i] = Value::List(targets);
        }
        Some(Object { id, entity, values })
    }

    fn fetch(&self, id: ObjectId) -> Option<Object> {
        if let Some(o) = self.cache.borrow_mut().get(id) {
            return Some(o);
        }
        let entity = self.locate(id)?;
        let object = self.read_object(entity, id)?;
        self.cache.borrow_mut().insert(object.clone());
        Some(object)
    }

    /// Every object of one table, ascending by id.
    fn read_table(&self, entity: EntityId) -> Result<Vec<Object>, String> {
        let mut objects = Vec::new();
        let (Some(Some(table)), Some(Some(template))) =
            (self.schema.tables.get(entity.index()), self.templates.get(entity.index()))
        else {
            return Ok(objects);
        };
        let rows = self.query(&table.scan_sql, &[]).map_err(|e| e.to_string())?;
        for row in &rows {
            let id = ObjectId(row.get::<_, i64>(0) as u64);
            let mut values = template.clone();
            let mut k = 1;
            for (i, c) in table.columns.iter().enumerate() {
                let Column::Value { ty, .. } = c else { continue };
                values[i] = decode(ty, row, k).map_err(|m| format!("{}#{}: {m}", table.name, id.0))?;
                k += 1;
            }
            objects.push(Object { id, entity, values });
        }
        for (i, c) in table.columns.iter().enumerate() {
            let Column::Link { table: link } = c else { continue };
            let sql = format!(
                "SELECT l.owner, l.target FROM {} l JOIN {} o ON o.id = l.owner ORDER BY l.owner, l.position",
                quote(link),
                quote(&table.name)
            );
            for row in self.query(&sql, &[]).map_err(|e| e.to_string())? {
                let (owner, target): (i64, i64) = (row.get(0), row.get(1));
                if let Ok(p) = objects.binary_search_by_key(&(owner as u64), |o| o.id.0) {
                    if let Value::List(ids) = &mut objects[p].values[i] {
                        ids.push(ObjectId(target as u64));
                    }
                }
            }
        }
        Ok(objects)
    }

    /// The users (objects of `System.User` and its specializations), in memory: what
    /// [`super::user_problems`] reads.
    fn users(&self, program: &Program) -> Result<MemoryStore, String> {
        let mut users = MemoryStore::new();
        for entity in program.specializations(crate::model::SYSTEM_USER) {
            self.read_table(entity)?.into_iter().for_each(|o| users.put(o));
        }
        Ok(users)
    }

    /// Every object, read into memory and checked as the JSON loader checks (`warden store
    /// export`).
    pub(crate) fn to_memory(&self, program: &Program) -> Result<MemoryStore, Vec<StoreError>> {
        let mut objects = Vec::new();
        for e in 0..self.schema.tables.len() {
            objects.extend(
                self.read_table(EntityId(e as u32))
                    .map_err(|m| vec![StoreError { path: self.pg_schema.clone(), message: m }])?,
            );
        }
        let mut memory = MemoryStore::new();
        for o in objects {
            memory.put(o);
        }
        memory.raise_next(self.next);
        // The same checks as a JSON file's: through its text.
        let json = super::to_json(program, &memory);
        super::load_json(program, &json.to_string())
    }

    /// Writes one object's row and reference-set rows.
    fn write(&self, object: &Object, previous: Option<&Object>) -> Result<(), postgres::Error> {
        if let Some(prev) = previous.filter(|p| p.entity != object.entity) {
            self.delete_rows(prev)?;
        }
        let Some(table) = self.table(object.entity) else { return Ok(()) };
        let mut names = vec!["id".to_string()];
        let mut values = vec![Param::Int(object.id.0 as i64)];
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
        let placeholders: Vec<String> = (1..=names.len()).map(|i| format!("${i}")).collect();
        // A new object is inserted, never replaced: an id taken meanwhile is an error.
        let replace = previous.is_some_and(|p| p.entity == object.entity);
        let conflict = match (replace, names.len() > 1) {
            (false, _) => String::new(),
            (true, true) => format!(
                " ON CONFLICT (id) DO UPDATE SET {}",
                names[1..].iter().map(|n| format!("{n} = EXCLUDED.{n}")).collect::<Vec<_>>().join(", ")
            ),
            (true, false) => " ON CONFLICT (id) DO NOTHING".into(),
        };
        let sql = format!(
            "INSERT INTO {} ({}) VALUES ({}){conflict}",
            quote(&table.name),
            names.join(", "),
            placeholders.join(", ")
        );
        self.execute(&sql, &values)?;
        for (link, ids) in links {
            self.execute(&format!("DELETE FROM {} WHERE owner = $1", quote(link)), &[Param::Int(object.id.0 as i64)])?;
            if ids.is_empty() {
                continue;
            }
            let sql = format!(
                "INSERT INTO {} (owner, position, target) SELECT $1, p - 1, t FROM unnest($2::bigint[]) WITH ORDINALITY AS u(t, p)",
                quote(link)
            );
            let targets: Vec<i64> = ids.iter().map(|t| t.0 as i64).collect();
            let statement = self.statement(&sql)?;
            self.client.borrow_mut().execute(&statement, &[&(object.id.0 as i64), &targets])?;
        }
        Ok(())
    }

    fn delete_rows(&self, object: &Object) -> Result<(), postgres::Error> {
        let Some(table) = self.table(object.entity) else { return Ok(()) };
        let id = [Param::Int(object.id.0 as i64)];
        self.execute(&format!("DELETE FROM {} WHERE id = $1", quote(&table.name)), &id)?;
        for c in &table.columns {
            if let Column::Link { table } = c {
                self.execute(&format!("DELETE FROM {} WHERE owner = $1", quote(table)), &id)?;
            }
        }
        Ok(())
    }

    /// Runs a write inside the open transaction (taking the savepoints it needs), or as a
    /// transaction of its own when none is open.
    fn written(&mut self, f: impl FnOnce(&Self) -> Result<(), postgres::Error>) {
        if self.failure.is_some() {
            return;
        }
        let alone = self.depth == 0 && self.persist && !self.held;
        let result = (|| {
            if alone {
                self.batch("BEGIN")?;
                self.lock()?;
            }
            while self.issued < self.depth {
                self.batch(&format!("SAVEPOINT s{}", self.issued))?;
                self.issued += 1;
            }
            self.dirty = true;
            let r = f(self);
            if alone {
                match &r {
                    Ok(()) => {
                        self.save_meta()?;
                        self.batch("COMMIT")?;
                        self.version += 1;
                    }
                    Err(_) => self.batch("ROLLBACK")?,
                }
                self.dirty = false;
            }
            r
        })();
        if let Err(e) = result {
            self.failure = Some(CommitError::Database { reason: e.to_string() });
        }
    }

    /// Records the next id, and (after a write) one more version.
    fn save_meta(&self) -> Result<(), postgres::Error> {
        let mut client = self.client.borrow_mut();
        client.execute(
            "UPDATE warden_meta SET value = GREATEST(value::bigint, $1::bigint)::text WHERE key = 'next_id'",
            &[&(self.next.max(1) as i64)],
        )?;
        if self.dirty {
            client.execute(
                "UPDATE warden_meta SET value = (value::bigint + 1)::text WHERE key = 'version' RETURNING value",
                &[],
            )?;
        }
        Ok(())
    }

    /// The name of the savepoint of evaluator transaction `level` (counting from 0).
    fn savepoint(&self, level: usize) -> String {
        format!("s{level}")
    }
}

impl Store for PgStore {
    fn get(&self, id: ObjectId) -> Option<Cow<'_, Object>> {
        if let Some(o) = self.side.get(id) {
            return Some(o);
        }
        self.fetch(id).map(Cow::Owned)
    }

    fn entity_of(&self, id: ObjectId) -> Option<EntityId> {
        if let Some(e) = self.side.entity_of(id) {
            return Some(e);
        }
        if let Some(e) = self.cache.borrow().entity_of(id) {
            return Some(e);
        }
        self.fetch(id).map(|o| o.entity)
    }

    fn value(&self, id: ObjectId, member: usize) -> Option<Value> {
        if self.side.entity_of(id).is_some() {
            return self.side.value(id, member);
        }
        if let Some(value) = self.cache.borrow().value(id, member) {
            return value;
        }
        self.fetch(id).and_then(|o| o.values.get(member).cloned())
    }

    fn ids(&self, entity: EntityId) -> Vec<ObjectId> {
        let Some(table) = self.table(entity) else { return self.side.ids(entity) };
        let sql = format!("SELECT id FROM {} ORDER BY id", quote(&table.name));
        self.query_ids(&sql, &[]).unwrap_or_default()
    }

    fn put(&mut self, object: Object) {
        self.next = self.next.max(object.id.0.saturating_add(1));
        if !self.tabled(&object) {
            if self.side.entity_of(object.id).is_none() && self.get(object.id).is_some() {
                self.remove(object.id);
            }
            self.side.put(object);
            return;
        }
        if self.side.entity_of(object.id).is_some() {
            self.side.remove(object.id);
        }
        let previous = self.fetch(object.id);
        self.written(|s| s.write(&object, previous.as_ref()));
        self.cache.borrow_mut().insert(object);
    }

    fn remove(&mut self, id: ObjectId) -> Option<Object> {
        if self.side.entity_of(id).is_some() {
            return self.side.remove(id);
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
            // The transaction taken at open, under the lock, in which the store was first read.
            self.held = false;
            self.issued = 1;
        } else if self.depth == 0 && self.persist {
            let fresh = self.batch("BEGIN").and_then(|()| self.lock()).and_then(|()| self.read_meta());
            self.issued = 1;
            if fresh.is_ok() {
                self.broken.set(false);
            }
            match fresh {
                Ok((next, version)) if version == self.version => self.next = self.next.max(next),
                Ok(_) => {
                    self.failure.get_or_insert(CommitError::Changed);
                }
                Err(e) => {
                    self.failure.get_or_insert(CommitError::Database { reason: e.to_string() });
                }
            }
            if self.failure.is_some() {
                self.cache.borrow_mut().clear();
            }
        }
        if self.depth == 0 {
            self.dirty = false;
        }
        self.depth += 1;
        self.nexts.push(self.next);
        self.side.begin();
    }

    fn commit(&mut self) -> Result<(), CommitError> {
        if self.broken.get() {
            self.failure.get_or_insert(CommitError::Database {
                reason: "a statement failed inside the transaction, so PostgreSQL ended it".into(),
            });
        }
        if let Some(failure) = self.failure.take() {
            self.rollback();
            if self.depth > 0 {
                self.failure = Some(failure.clone());
            }
            return Err(match failure {
                CommitError::Database { reason } => {
                    CommitError::Database { reason: format!("the PostgreSQL store could not write: {reason}") }
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
            let wrote = self.dirty;
            self.save_meta().and_then(|()| self.batch("COMMIT")).map(|()| {
                if wrote {
                    self.version += 1;
                }
            })
        } else {
            self.batch(&format!("RELEASE SAVEPOINT {}", self.savepoint(self.depth)))
        };
        self.issued = self.issued.min(self.depth);
        match result {
            Ok(()) => {
                self.nexts.pop();
                if outermost {
                    self.dirty = false;
                }
                self.side.commit()
            }
            Err(e) => {
                self.depth += 1;
                self.issued = self.depth;
                self.failure = None;
                self.rollback();
                Err(CommitError::Database { reason: format!("the PostgreSQL store could not commit: {e}") })
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
                let s = self.savepoint(self.depth);
                format!("ROLLBACK TO SAVEPOINT {s}; RELEASE SAVEPOINT {s}")
            };
            let _ = self.batch(&sql);
            self.issued = self.depth;
        }
        if self.depth == 0 {
            self.failure = None;
            self.dirty = false;
        }
        if let Some(next) = self.nexts.pop() {
            self.next = next;
        }
        self.side.rollback();
        if wrote {
            self.cache.borrow_mut().clear();
        }
        if self.depth == 0 && !self.persist && self.broken.get() {
            // A reader's one transaction failed: it takes another, on a fresh snapshot, so that
            // a long-lived reader (a server) goes on after the run that failed.
            if self.batch("ROLLBACK").and_then(|()| self.batch("BEGIN ISOLATION LEVEL REPEATABLE READ")).is_ok() {
                self.broken.set(false);
                self.cache.borrow_mut().clear();
            }
        }
    }

    fn all(&self) -> Vec<Cow<'_, Object>> {
        let mut out: Vec<Cow<'_, Object>> = (0..self.schema.tables.len())
            .flat_map(|e| self.read_table(EntityId(e as u32)).unwrap_or_default())
            .map(Cow::Owned)
            .collect();
        out.extend(self.side.all());
        out.sort_by_key(|o| o.id);
        out
    }

    fn matching(&self, entity: EntityId, member: usize, value: &Value) -> Option<Vec<ObjectId>> {
        let Some(table) = self.table(entity) else { return self.side.matching(entity, member, value) };
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
        let sql = format!("SELECT id FROM {} WHERE {} = $1 ORDER BY id", quote(&table.name), quote(name));
        self.query_ids(&sql, &[param]).ok()
    }

    fn filter(&self, entity: EntityId, member: usize, test: &dyn Fn(&Value) -> bool) -> Option<Vec<ObjectId>> {
        let Some(table) = self.table(entity) else { return self.side.filter(entity, member, test) };
        let Column::Value { name, ty } = table.columns.get(member)? else { return None };
        let sql = format!("SELECT id, {} FROM {} ORDER BY id", quote(name), quote(&table.name));
        let mut ids = Vec::new();
        self.each_row(&sql, &[], |r| {
            if test(&decode(ty, r, 1).unwrap_or(Value::Empty)) {
                ids.push(ObjectId(r.get::<_, i64>(0) as u64));
            }
        })
        .ok()?;
        Some(ids)
    }

    fn referrers(&self, entity: EntityId, member: usize, target: ObjectId) -> Option<Vec<ObjectId>> {
        let Some(table) = self.table(entity) else { return self.side.referrers(entity, member, target) };
        let sql = match table.columns.get(member)? {
            Column::Value { name, ty: ColType::Reference } => {
                format!("SELECT id FROM {} WHERE {} = $1 ORDER BY id", quote(&table.name), quote(name))
            }
            Column::Value { .. } => return Some(Vec::new()),
            Column::Link { table: link } => format!(
                "SELECT DISTINCT l.owner FROM {} AS l JOIN {} AS o ON o.id = l.owner WHERE l.target = $1 ORDER BY l.owner",
                quote(link),
                quote(&table.name)
            ),
        };
        self.query_ids(&sql, &[Param::Int(target.0 as i64)]).ok()
    }

    fn speaks_sql(&self) -> bool {
        true
    }

    fn dialect(&self) -> Option<Dialect> {
        Some(Dialect::Postgres)
    }

    fn folding(&self) -> Folding {
        self.folding.clone()
    }

    fn select_ids(&self, sql: &str, params: &[SqlValue]) -> Option<Vec<ObjectId>> {
        let params: Vec<Param> = params.iter().map(Param::from).collect();
        match self.answer_ids(sql, &params) {
            Ok(ids) => Some(ids),
            Err(e) => {
                self.refused.borrow_mut().push(format!("{e}: {sql}"));
                None
            }
        }
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        if self.owned {
            let mut client = self.client.borrow_mut();
            let _ = client.batch_execute("ROLLBACK");
            let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", quote(&self.pg_schema)));
        }
    }
}

/// Text as a field of `COPY ... FROM STDIN` (text format).
fn copy_field(out: &mut String, value: &Param) {
    match value {
        Param::Null => out.push_str("\\N"),
        Param::Int(i) => out.push_str(&i.to_string()),
        Param::Bool(b) => out.push_str(if *b { "t" } else { "f" }),
        Param::Text(s) => {
            for c in s.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '\t' => out.push_str("\\t"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    c => out.push(c),
                }
            }
        }
    }
}

/// How many rows one `COPY` sends before it is written out.
const COPY_BATCH: usize = 10_000;

/// Makes a new store in schema `pg_schema` of the database at `url` holding every object of
/// `source` (`warden store import`): one transaction, each table filled by `COPY` in batches,
/// the indexes built after the rows. Returns how many objects it holds.
pub fn import(
    program: &Program,
    source: &dyn Store,
    url: &str,
    pg_schema: Option<&str>,
) -> Result<usize, Vec<StoreError>> {
    let mut sink = PgSink::create(program, url, pg_schema)?;
    super::feed(program, source, &mut sink)?;
    super::ObjectSink::finish(&mut sink)
}

/// A new store filled by `warden store import|export`: the schema, its tables and every row
/// are made in one transaction ([`Mode::Create`]), the rows by `COPY`, [`COPY_BATCH`] rows of
/// a table at a time, the indexes after them. A sink dropped unfinished rolls back: not even
/// the schema is left.
pub(super) struct PgSink {
    store: PgStore,
    /// Where, for messages.
    at: String,
    /// The `COPY` text not sent yet of each table (by entity index), and its rows.
    rows: Vec<(String, usize)>,
    /// The same of each link table.
    links: HashMap<String, (String, usize)>,
    next: u64,
    count: usize,
    finished: bool,
}

impl PgSink {
    /// Makes the schema and its tables (no indexes yet), in the transaction the rows go in.
    pub(super) fn create(program: &Program, url: &str, pg_schema: Option<&str>) -> Result<PgSink, Vec<StoreError>> {
        let store = PgStore::open(program, url, pg_schema, Mode::Create, 0)?;
        let at = format!("{}#{}", shown(url), store.pg_schema);
        let rows = vec![(String::new(), 0); store.schema.tables.len()];
        let links = store.schema.links.iter().map(|l| (l.clone(), (String::new(), 0))).collect();
        let next = store.next;
        Ok(PgSink { store, at, rows, links, next, count: 0, finished: false })
    }

    fn fail(&self, message: impl std::fmt::Display) -> Vec<StoreError> {
        vec![StoreError { path: self.at.clone(), message: message.to_string() }]
    }

    /// Sends `text` (rows of `COPY`'s text format) into `table`'s `columns`.
    fn copy(&self, table: &str, columns: &str, text: &str) -> Result<(), String> {
        use std::io::Write;
        if text.is_empty() {
            return Ok(());
        }
        let mut client = self.store.client.borrow_mut();
        let sql = format!("COPY {} ({columns}) FROM STDIN", quote(table));
        let mut writer = client.copy_in(&sql).map_err(|e| e.to_string())?;
        writer.write_all(text.as_bytes()).map_err(|e| e.to_string())?;
        writer.finish().map_err(|e| e.to_string())?;
        Ok(())
    }

    /// Sends the rows of an entity's table kept so far.
    fn flush_table(&mut self, entity: usize) -> Result<(), String> {
        let Some(Some(table)) = self.store.schema.tables.get(entity) else { return Ok(()) };
        let columns: Vec<String> = std::iter::once("id".to_string())
            .chain(table.columns.iter().filter_map(|c| match c {
                Column::Value { name, .. } => Some(quote(name)),
                Column::Link { .. } => None,
            }))
            .collect();
        let text = std::mem::take(&mut self.rows[entity]).0;
        self.copy(&table.name, &columns.join(", "), &text)
    }

    /// Sends the rows of a link table kept so far.
    fn flush_link(&mut self, link: &str) -> Result<(), String> {
        let text = self.links.get_mut(link).map(|l| std::mem::take(l).0).unwrap_or_default();
        self.copy(link, "owner, position, target", &text)
    }

    fn add(&mut self, object: &Object) -> Result<(), String> {
        let e = object.entity.index();
        let Some(Some(table)) = self.store.schema.tables.get(e) else { return Ok(()) };
        if object.id.role().is_some() {
            return Ok(());
        }
        let id = object.id.0;
        let (text, rows) = &mut self.rows[e];
        text.push_str(&id.to_string());
        let mut full = Vec::new();
        for (c, v) in table.columns.iter().zip(&object.values) {
            match c {
                Column::Value { ty, .. } => {
                    text.push('\t');
                    copy_field(text, &encode(ty, v));
                }
                Column::Link { table: link } => {
                    let (Value::List(targets), Some((out, n))) = (v, self.links.get_mut(link)) else { continue };
                    for (p, t) in targets.iter().enumerate() {
                        out.push_str(&format!("{id}\t{p}\t{}\n", t.0));
                    }
                    *n += targets.len();
                    if *n >= COPY_BATCH {
                        full.push(link.clone());
                    }
                }
            }
        }
        text.push('\n');
        *rows += 1;
        let table_full = *rows >= COPY_BATCH;
        self.next = self.next.max(id.saturating_add(1));
        self.count += 1;
        if table_full {
            self.flush_table(e)?;
        }
        for link in full {
            self.flush_link(&link)?;
        }
        Ok(())
    }
}

impl super::ObjectSink for PgSink {
    fn write(&mut self, batch: &[Object]) -> Result<(), Vec<StoreError>> {
        for object in batch {
            self.add(object).map_err(|m| self.fail(m))?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<usize, Vec<StoreError>> {
        if self.finished {
            return Ok(self.count);
        }
        let result = (|| {
            for e in 0..self.rows.len() {
                self.flush_table(e)?;
            }
            let links: Vec<String> = self.links.keys().cloned().collect();
            for link in links {
                self.flush_link(&link)?;
            }
            let e = |e: postgres::Error| e.to_string();
            for statement in self.store.schema.create_statements(false, Dialect::Postgres) {
                self.store.batch(&statement).map_err(e)?;
            }
            self.store.next = self.next;
            self.store.save_meta().map_err(e)?;
            self.store.batch("COMMIT").map_err(e)?;
            self.store.held = false;
            Ok::<_, String>(())
        })();
        result.map_err(|m| self.fail(m))?;
        self.finished = true;
        Ok(self.count)
    }
}

impl Drop for PgSink {
    fn drop(&mut self) {
        if !self.finished {
            // The schema was made in this transaction too: nothing stays.
            let _ = self.store.batch("ROLLBACK");
            self.store.held = false;
        }
    }
}

impl super::RowSource for PgStore {
    fn tables(&self) -> &Schema {
        &self.schema
    }

    fn integers(&self, sql: &str, f: &mut dyn FnMut(&[i64])) -> Result<(), String> {
        let rows = self.client.borrow_mut().query(sql, &[]).map_err(|e| e.to_string())?;
        let mut values = Vec::new();
        for row in &rows {
            values.clear();
            for k in 0..row.len() {
                values.push(row.try_get::<_, i64>(k).map_err(|e| e.to_string())?);
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
        let rows = self.client.borrow_mut().query(sql, &[]).map_err(|e| e.to_string())?;
        for row in &rows {
            let id = row.try_get::<_, i64>(0).map_err(|e| e.to_string())?;
            f(id, types.iter().enumerate().map(|(k, ty)| decode(ty, row, k + 1)).collect());
        }
        Ok(())
    }
}

/// Drops a schema and everything in it (tests and `warden test --backend postgres`).
pub fn drop_schema(url: &str, pg_schema: &str) -> Result<(), String> {
    let mut client = connect(url)?;
    client.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", quote(pg_schema))).map_err(|e| e.to_string())
}
