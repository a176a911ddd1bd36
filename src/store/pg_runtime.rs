//! The runtime state in tables of a PostgreSQL store's schema, shared by every `warden serve`
//! over that schema: the same tables as over SQLite (`warden_runtime_*`, which the store's
//! schema check leaves alone), read and written by the same statements, on a connection of
//! its own.
//!
//! SQLite serializes writers by its database lock: each decision runs in one `BEGIN
//! IMMEDIATE` transaction. Here each decision runs in one transaction that first takes a
//! transaction-level advisory lock of the runtime state's own ([`lock_key`]), which is not the
//! store's (a decision never waits for a writer of objects, nor the other way round). Every
//! write outside a decision (a gate set, a token, a rebind, a reset, an event) takes the same
//! lock in a transaction of its own, as each SQLite write statement takes the database lock:
//! all changes of all processes happen one at a time, and an event's `seq` (the count of the
//! instance's events so far) is computed under the lock, so no two events get the same one.
//! Reads outside a decision (a bearer token's lookup) see what was committed.

use std::cell::{Cell, RefCell};

use postgres::types::ToSql;
use postgres::{Client, Row, Statement};

use super::runtime_state::{decide, kind_name, kind_of, Event, RuntimeState, Token};
use crate::model::value::ObjectId;
use crate::model::{AccessLevel, Program};
use crate::runtime::{self, Caller, Effect, Instance, Request, Response};
use crate::store::dialect::quote;

/// The key of the runtime state's advisory lock in a schema: a stable hash (FNV-1a) of
/// `warden-runtime:` and the schema's name, the same in every process and distinct from the
/// store's own lock ([`crate::store::postgres::lock_key`], which hashes `warden:` and the name).
pub fn lock_key(pg_schema: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in b"warden-runtime:".iter().chain(pg_schema.as_bytes()) {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    // The bits as they are: a key is any 64-bit value.
    hash as i64
}

/// The statements, prepared once on the connection.
struct Statements {
    access: Statement,
    set_access: Statement,
    instance: Statement,
    dismiss: Statement,
    start: Statement,
    push_event: Statement,
    events: Statement,
    add_token: Statement,
    token: Statement,
    rebind: Statement,
    reset_instances: Statement,
    reset_events: Statement,
    reset_gate: Statement,
}

/// The state in tables of a PostgreSQL schema, shared by every process that opens it.
pub struct PgRuntimeState {
    client: RefCell<Client>,
    statements: Statements,
    key: i64,
    /// `BEGIN` and the lock, as one text.
    begin: String,
    /// Inside a decision's transaction (which holds the lock): writes need no transaction of
    /// their own.
    in_decision: Cell<bool>,
}

impl std::fmt::Debug for PgRuntimeState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgRuntimeState").field("key", &self.key).finish_non_exhaustive()
    }
}

fn pg_error(e: postgres::Error) -> String {
    // The server's own message says what went wrong; the error's display alone does not.
    match e.as_db_error() {
        Some(db) => format!("the runtime state: {}", db.message()),
        None => format!("the runtime state: {e}"),
    }
}

fn out_of_range() -> String {
    "an instance id out of range".to_string()
}

impl PgRuntimeState {
    /// Opens the state in schema `pg_schema` (which must exist: the store made it) of the
    /// database at `url`, creating its tables when missing.
    pub fn open(url: &str, pg_schema: &str) -> Result<PgRuntimeState, String> {
        let mut client = crate::store::postgres::connect(url)?;
        let key = lock_key(pg_schema);
        let s = quote(pg_schema);
        // Under the lock: two servers starting together would otherwise race on the catalog
        // (`CREATE TABLE IF NOT EXISTS` is not safe against a concurrent one).
        let create = format!(
            "CREATE TABLE IF NOT EXISTS {s}.warden_runtime_instances (
                id BIGINT PRIMARY KEY, kind TEXT NOT NULL, resource TEXT NOT NULL,
                session TEXT, started_by BIGINT, dismissed BOOLEAN NOT NULL DEFAULT FALSE);
             CREATE TABLE IF NOT EXISTS {s}.warden_runtime_events (
                instance BIGINT NOT NULL, seq BIGINT NOT NULL, type TEXT NOT NULL, data TEXT NOT NULL,
                PRIMARY KEY (instance, seq));
             CREATE TABLE IF NOT EXISTS {s}.warden_runtime_gate (
                id INTEGER PRIMARY KEY CHECK (id = 1), access TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS {s}.warden_runtime_tokens (
                token TEXT PRIMARY KEY, \"user\" TEXT NOT NULL, expires BIGINT NOT NULL);"
        );
        let made = (|| {
            client.batch_execute("BEGIN")?;
            client.execute("SELECT pg_advisory_xact_lock($1)", &[&key])?;
            client.batch_execute(&create)?;
            client.batch_execute("COMMIT")
        })();
        if let Err(e) = made {
            let _ = client.batch_execute("ROLLBACK");
            return Err(format!("cannot make the runtime state's tables in schema `{pg_schema}`: {e}"));
        }
        let mut prepare = |sql: &str| client.prepare(&sql.replace("$S", &s)).map_err(pg_error);
        let statements = Statements {
            access: prepare("SELECT access FROM $S.warden_runtime_gate WHERE id = 1")?,
            set_access: prepare(
                "INSERT INTO $S.warden_runtime_gate (id, access) VALUES (1, $1)
                 ON CONFLICT (id) DO UPDATE SET access = EXCLUDED.access",
            )?,
            instance: prepare(
                "SELECT kind, resource, session, started_by, dismissed FROM $S.warden_runtime_instances WHERE id = $1",
            )?,
            dismiss: prepare("UPDATE $S.warden_runtime_instances SET dismissed = TRUE WHERE id = $1")?,
            start: prepare(
                "INSERT INTO $S.warden_runtime_instances (id, kind, resource, session, started_by, dismissed)
                 VALUES ($1, $2, $3, $4, $5, FALSE) ON CONFLICT DO NOTHING",
            )?,
            push_event: prepare(
                "INSERT INTO $S.warden_runtime_events (instance, seq, type, data)
                 VALUES ($1, (SELECT count(*) FROM $S.warden_runtime_events WHERE instance = $1), $2, $3)",
            )?,
            events: prepare(
                "SELECT seq, type, data FROM $S.warden_runtime_events WHERE instance = $1 AND seq >= $2 ORDER BY seq",
            )?,
            add_token: prepare(
                "INSERT INTO $S.warden_runtime_tokens (token, \"user\", expires) VALUES ($1, $2, $3)
                 ON CONFLICT (token) DO UPDATE SET \"user\" = EXCLUDED.\"user\", expires = EXCLUDED.expires",
            )?,
            token: prepare("SELECT \"user\", expires FROM $S.warden_runtime_tokens WHERE token = $1")?,
            rebind: prepare("UPDATE $S.warden_runtime_instances SET session = $2 WHERE session = $1")?,
            reset_instances: prepare("DELETE FROM $S.warden_runtime_instances")?,
            reset_events: prepare("DELETE FROM $S.warden_runtime_events")?,
            reset_gate: prepare("DELETE FROM $S.warden_runtime_gate")?,
        };
        let begin = format!("BEGIN; SELECT pg_advisory_xact_lock({key})");
        Ok(PgRuntimeState { client: RefCell::new(client), statements, key, begin, in_decision: Cell::new(false) })
    }

    fn query(&self, statement: &Statement, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, String> {
        self.client.borrow_mut().query(statement, params).map_err(pg_error)
    }

    fn execute(&self, statement: &Statement, params: &[&(dyn ToSql + Sync)]) -> Result<u64, String> {
        self.client.borrow_mut().execute(statement, params).map_err(pg_error)
    }

    /// Begins a transaction and takes the lock: from here this process is the one writer.
    /// Both in one round trip (the key is a number, written into the text), since every
    /// decision pays for it.
    fn begin(&self) -> Result<(), String> {
        let mut client = self.client.borrow_mut();
        if let Err(e) = client.batch_execute(&self.begin) {
            let _ = client.batch_execute("ROLLBACK");
            return Err(pg_error(e));
        }
        Ok(())
    }

    /// Commits what `body` did when it succeeds, else rolls it back (the lock goes with the
    /// transaction either way).
    fn end<T>(&self, result: Result<T, String>) -> Result<T, String> {
        let mut client = self.client.borrow_mut();
        match result {
            Ok(value) => {
                client.batch_execute("COMMIT").map_err(pg_error)?;
                Ok(value)
            }
            Err(e) => {
                let _ = client.batch_execute("ROLLBACK");
                Err(e)
            }
        }
    }

    /// Runs a change under the lock: inside the decision's transaction, or in one of its own.
    fn write<T>(&self, body: impl FnOnce(&Self) -> Result<T, String>) -> Result<T, String> {
        if self.in_decision.get() {
            return body(self);
        }
        self.begin()?;
        let result = body(self);
        self.end(result)
    }
}

impl RuntimeState for PgRuntimeState {
    fn access(&self, program: &Program) -> Result<AccessLevel, String> {
        let rows = self.query(&self.statements.access, &[])?;
        let set: Option<String> = rows.first().map(|r| r.get(0));
        Ok(match set.as_deref() {
            Some("public") => AccessLevel::Public,
            Some(_) => AccessLevel::Invited,
            None => program.app.access,
        })
    }

    fn set_access(&mut self, access: AccessLevel) -> Result<(), String> {
        let text = if access == AccessLevel::Public { "public" } else { "invited" };
        self.write(|s| s.execute(&s.statements.set_access, &[&text]).map(|_| ()))
    }

    fn instance(&self, program: &Program, id: u64) -> Result<Option<Instance>, String> {
        let Ok(key) = i64::try_from(id) else { return Ok(None) };
        let rows = self.query(&self.statements.instance, &[&key])?;
        let Some(row) = rows.first() else { return Ok(None) };
        let (kind, resource, session, started_by, dismissed): (String, String, Option<String>, Option<i64>, bool) =
            (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
        let Some(kind) = kind_of(&kind) else { return Ok(None) };
        // An instance whose resource a reload removed is gone with it.
        let Some(resource) = program.resource_by_name(kind, &resource) else { return Ok(None) };
        Ok(Some(Instance {
            kind,
            resource,
            session,
            started_as_anonymous_by: started_by.and_then(|u| u64::try_from(u).ok()).map(ObjectId),
            dismissed,
        }))
    }

    fn apply(&mut self, program: &Program, effect: Effect, issued: Option<&str>) -> Result<Option<u64>, String> {
        match effect {
            Effect::None => Ok(None),
            Effect::Dismiss(id) => {
                let key = i64::try_from(id).map_err(|_| out_of_range())?;
                self.write(|s| s.execute(&s.statements.dismiss, &[&key]).map(|_| None))
            }
            Effect::Start(mut instance) => {
                if let Some(session) = issued {
                    instance.session = Some(session.to_string());
                }
                let name = program.resources[instance.resource.index()].name.to_string();
                let by = instance.started_as_anonymous_by.and_then(|u| i64::try_from(u.0).ok());
                let kind = kind_name(instance.kind);
                self.write(|s| loop {
                    let id = runtime::new_instance_key();
                    let key = i64::try_from(id).map_err(|_| out_of_range())?;
                    // A key another instance holds (2^-63 odds) inserts nothing: draw again.
                    let inserted = s.execute(&s.statements.start, &[&key, &kind, &name, &instance.session, &by])?;
                    if inserted == 1 {
                        return Ok(Some(id));
                    }
                })
            }
        }
    }

    fn push_event(&mut self, instance: u64, kind: &str, data: &str) -> Result<(), String> {
        let key = i64::try_from(instance).map_err(|_| out_of_range())?;
        self.write(|s| s.execute(&s.statements.push_event, &[&key, &kind, &data]).map(|_| ()))
    }

    fn events(&self, instance: u64, offset: u64) -> Result<Vec<Event>, String> {
        let (Ok(key), Ok(from)) = (i64::try_from(instance), i64::try_from(offset)) else { return Ok(Vec::new()) };
        let rows = self.query(&self.statements.events, &[&key, &from])?;
        Ok(rows
            .iter()
            .map(|r| Event { offset: r.get::<_, i64>(0).unsigned_abs(), kind: r.get(1), data: r.get(2) })
            .collect())
    }

    fn add_token(&mut self, token: &str, user: &str, expires: i64) -> Result<(), String> {
        self.write(|s| s.execute(&s.statements.add_token, &[&token, &user, &expires]).map(|_| ()))
    }

    fn token(&self, token: &str) -> Result<Option<Token>, String> {
        let rows = self.query(&self.statements.token, &[&token])?;
        Ok(rows.first().map(|r| Token { user: r.get(0), expires: r.get(1) }))
    }

    fn rebind_session(&mut self, old: &str, new: &str) -> Result<usize, String> {
        let n = self.write(|s| s.execute(&s.statements.rebind, &[&old, &new]))?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    fn reset(&mut self) -> Result<(), String> {
        self.write(|s| {
            s.execute(&s.statements.reset_instances, &[])?;
            s.execute(&s.statements.reset_events, &[])?;
            s.execute(&s.statements.reset_gate, &[])?;
            Ok(())
        })
    }

    fn decide(
        &mut self,
        program: &Program,
        caller: &Caller<'_>,
        req: &Request,
        after: &mut dyn FnMut(&mut dyn RuntimeState, &Response) -> Result<(), String>,
    ) -> Result<Response, String> {
        // One writer at a time across processes: the decision reads what the last served
        // request of any process wrote, and its effect lands before another decides.
        self.begin()?;
        self.in_decision.set(true);
        // A panic (a bug; the server answers 500 and goes on) must not leave the transaction
        // open, or the next decision would commit its half-made change.
        let result =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| decide(self, program, caller, req, after)));
        self.in_decision.set(false);
        match result {
            Ok(result) => self.end(result),
            Err(panic) => {
                let _ = self.client.borrow_mut().batch_execute("ROLLBACK");
                std::panic::resume_unwind(panic)
            }
        }
    }
}
