//! `warden store import|export` from a SQLite or PostgreSQL store, without loading it whole.
//!
//! Each table is read in pages of [`BATCH`] rows, ascending by id (keyset pages: `WHERE id >
//! last ORDER BY id LIMIT`, on the primary key), with the reference-set rows of the page's
//! objects; every value is decoded and checked as it arrives, as [`super::sqlite`]'s reader
//! checks a whole file. The pages of all tables are merged by id, so the target receives the
//! objects ascending by id (the order of a JSON file) and an id kept in two tables shows up as
//! two neighbours. Each [`BATCH`] merged objects have their references checked, then go to the
//! target.
//!
//! References are checked against the source itself, not against an index in memory: the
//! targets of a batch are looked up in one query per target entity (`WITH w(id) AS (VALUES
//! ...)` joined with the tables of the entity and its specializations). A reference to an
//! object defined later is found that way as well as one to an object defined earlier, and the
//! process keeps nothing per object: its memory is a few pages whatever the store's size, and
//! a bounded set of references already found good (most objects share a few owners). The
//! checks of users (duplicate names, anonymous users with a name) ran when the source was
//! opened.
//!
//! Problems are collected, not fatal: the whole source is read and every problem reported, in
//! the order the whole-file reader reported them (by table, then id; reference problems last).
//! After the first problem nothing more is written, and the target is dropped unfinished, which
//! leaves nothing behind.

use std::collections::{BTreeMap, HashSet, VecDeque};

use super::dialect::quote;
use super::sqlite::{fits, table_name, ColType, Column, Table};
use super::{Object, ObjectId, ObjectSink, RowSource, StoreError, Value, BATCH, ROLE_OBJECT_BASE};
use crate::model::{EntityId, MemberKind, Program, SYSTEM_USER_ROLE};

/// A problem of the source, with where it sorts among the others.
struct Problem {
    /// Rows (0), reference-set rows (1), references (2).
    phase: u8,
    /// The table's entity index.
    table: usize,
    id: i64,
    error: StoreError,
}

/// One table, read a page at a time.
struct Pages<'a> {
    entity: EntityId,
    table: &'a Table,
    /// The value columns: member index and name.
    members: Vec<(usize, &'a str)>,
    types: Vec<&'a ColType>,
    /// `SELECT id, "A", "B"`.
    select: String,
    /// The last id read.
    last: Option<i64>,
    done: bool,
    page: VecDeque<Object>,
}

impl<'a> Pages<'a> {
    fn new(entity: EntityId, table: &'a Table) -> Pages<'a> {
        let mut members = Vec::new();
        let mut types = Vec::new();
        let mut select = "SELECT id".to_string();
        for (i, c) in table.columns.iter().enumerate() {
            if let Column::Value { name, ty } = c {
                members.push((i, name.as_str()));
                types.push(ty);
                select.push_str(&format!(", {}", quote(name)));
            }
        }
        Pages { entity, table, members, types, select, last: None, done: false, page: VecDeque::new() }
    }

    /// Reads the next page and its reference-set rows (unless every row was read).
    fn fill(&mut self, program: &Program, source: &dyn RowSource, problems: &mut Vec<Problem>) {
        if self.done {
            return;
        }
        let after = self.last.map_or(String::new(), |l| format!(" WHERE id > {l}"));
        let sql = format!("{} FROM {}{after} ORDER BY id LIMIT {BATCH}", self.select, quote(&self.table.name));
        let (entity, table, members) = (self.entity, self.table, &self.members);
        let (mut read, mut last, page) = (0, self.last, &mut self.page);
        let result = source.rows(&sql, &self.types, &mut |id, values| {
            read += 1;
            last = Some(id);
            let at = format!("{}#{id}", table.name);
            if id <= 0 || id as u64 >= ROLE_OBJECT_BASE {
                let error = StoreError { path: at, message: "not a valid object id".into() };
                problems.push(Problem { phase: 0, table: entity.index(), id, error });
                return;
            }
            let mut object = Object::new(program, ObjectId(id as u64), entity);
            for (&(i, name), value) in members.iter().zip(values) {
                match value.and_then(|v| fits(program, entity, i, v)) {
                    Ok(v) => object.values[i] = v,
                    Err(message) => {
                        let error = StoreError { path: format!("{at}.{name}"), message };
                        problems.push(Problem { phase: 0, table: entity.index(), id, error });
                    }
                }
            }
            page.push_back(object);
        });
        self.last = last;
        self.done = read < BATCH;
        if let Err(message) = result {
            let error = StoreError { path: table.name.clone(), message };
            problems.push(Problem { phase: 0, table: entity.index(), id: i64::MAX, error });
            self.done = true;
        }
        let (Some(first), Some(end)) = (self.page.front(), self.page.back()) else { return };
        let (first, end) = (first.id.0, end.id.0);
        for (i, c) in table.columns.iter().enumerate() {
            let Column::Link { table: link } = c else { continue };
            // A link table may also hold the sets of other entities' objects (it belongs to the
            // entity that declares the set): only the rows of this page's objects are kept.
            let sql = format!(
                "SELECT owner, target FROM {} WHERE owner >= {first} AND owner <= {end} ORDER BY owner, position",
                quote(link)
            );
            let page = &mut self.page;
            let result = source.integers(&sql, &mut |row| {
                let (owner, target) = (row[0] as u64, row[1] as u64);
                if let Ok(p) = page.binary_search_by_key(&owner, |o| o.id.0) {
                    if let Value::List(ids) = &mut page[p].values[i] {
                        ids.push(ObjectId(target));
                    }
                }
            });
            if let Err(message) = result {
                let error = StoreError { path: link.clone(), message };
                problems.push(Problem { phase: 1, table: entity.index(), id: first as i64, error });
            }
        }
    }
}

/// Copies every object of `source` to `sink`, checking each (see the module's comment).
pub(super) fn copy(
    program: &Program,
    source: &dyn RowSource,
    sink: &mut dyn ObjectSink,
) -> Result<(), Vec<StoreError>> {
    let schema = source.tables();
    let mut readers: Vec<Pages<'_>> = schema
        .tables
        .iter()
        .enumerate()
        .filter_map(|(e, t)| Some(Pages::new(EntityId(e as u32), t.as_ref()?)))
        .collect();
    let mut problems = Vec::new();
    let mut batch: Vec<Object> = Vec::new();
    // The id merged last and the entity of its object.
    let mut previous: Option<(ObjectId, EntityId)> = None;
    let mut known = HashSet::new();
    loop {
        for r in &mut readers {
            // A page may hold no object at all (only rows whose ids are not object ids).
            while r.page.is_empty() && !r.done {
                r.fill(program, source, &mut problems);
            }
        }
        // The next object by id; on a tie, that of the first table (the one kept).
        let next = readers.iter_mut().filter(|r| !r.page.is_empty()).min_by_key(|r| (r.page[0].id, r.entity));
        let Some(object) = next.and_then(|r| r.page.pop_front()) else { break };
        if let Some((id, first)) = previous.filter(|(id, _)| *id == object.id) {
            let error = StoreError {
                path: format!("{}#{}", table_name(program, object.entity), id.0),
                message: format!("id {} is also used in table `{}`", id.0, table_name(program, first)),
            };
            problems.push(Problem { phase: 0, table: object.entity.index(), id: id.0 as i64, error });
            continue;
        }
        previous = Some((object.id, object.entity));
        batch.push(object);
        if batch.len() == BATCH {
            check_references(program, source, &batch, &mut known, &mut problems);
            if problems.is_empty() {
                sink.write(&batch)?;
            }
            batch.clear();
        }
    }
    check_references(program, source, &batch, &mut known, &mut problems);
    if !problems.is_empty() {
        problems.sort_by_key(|p| (p.phase, p.table, p.id));
        return Err(problems.into_iter().map(|p| p.error).collect());
    }
    sink.write(&batch)
}

/// Every reference of the batch must arrive at an object of the association's target entity
/// or a specialization (or, for user roles, at a declared role): the objects referred to are
/// looked up in those entities' tables, [`BATCH`] at a time. `known` holds references found
/// good in earlier batches (the same users own most objects), up to [`KNOWN`].
fn check_references(
    program: &Program,
    source: &dyn RowSource,
    batch: &[Object],
    known: &mut HashSet<(EntityId, u64)>,
    problems: &mut Vec<Problem>,
) {
    let each_target = |o: &Object, f: &mut dyn FnMut(usize, EntityId, ObjectId)| {
        for (m, (member, value)) in program.entity(o.entity).members.iter().zip(&o.values).enumerate() {
            let MemberKind::Association(a) = member.kind else { continue };
            let to = program.assoc(a).to;
            match value {
                Value::Object(t) => f(m, to, *t),
                Value::List(ts) => ts.iter().for_each(|t| f(m, to, *t)),
                _ => {}
            }
        }
    };
    // Started over before this batch's references are sorted out, never between.
    if known.len() > KNOWN {
        known.clear();
    }
    let mut wanted: BTreeMap<EntityId, Vec<u64>> = BTreeMap::new();
    for o in batch {
        each_target(o, &mut |_, to, t| {
            if t.role().is_none() && !known.contains(&(to, t.0)) {
                wanted.entry(to).or_default().push(t.0);
            }
        });
    }
    let tables = &source.tables().tables;
    for (to, mut ids) in wanted {
        ids.sort_unstable();
        ids.dedup();
        let holders: Vec<&str> = program
            .specializations(to)
            .into_iter()
            .filter_map(|e| Some(tables.get(e.index())?.as_ref()?.name.as_str()))
            .collect();
        if holders.is_empty() {
            continue;
        }
        for chunk in ids.chunks(BATCH) {
            let list: Vec<String> = chunk.iter().map(|t| format!("({t})")).collect();
            let parts: Vec<String> = holders
                .iter()
                .map(|name| format!("SELECT t.id FROM w JOIN {} t ON t.id = w.id", quote(name)))
                .collect();
            let sql = format!("WITH w(id) AS (VALUES {}) {}", list.join(", "), parts.join(" UNION ALL "));
            let result = source.integers(&sql, &mut |row| {
                known.insert((to, row[0] as u64));
            });
            if let Err(message) = result {
                let error = StoreError { path: "references".into(), message };
                problems.push(Problem { phase: 2, table: 0, id: 0, error });
                return;
            }
        }
    }
    for o in batch {
        each_target(o, &mut |m, to, t| {
            let fits = match t.role() {
                Some(r) => to == SYSTEM_USER_ROLE && r.index() < program.user_roles.len(),
                None => known.contains(&(to, t.0)),
            };
            if !fits {
                let member = &program.entity(o.entity).members[m].name;
                let error = StoreError {
                    path: format!("{}#{}.{member}", table_name(program, o.entity), o.id.0),
                    message: format!("refers to {t}, which is not an object of {}", program.entity(to).name),
                };
                problems.push(Problem { phase: 2, table: o.entity.index(), id: o.id.0 as i64, error });
            }
        });
    }
}

/// How many references found good [`check_references`] remembers before it starts over.
const KNOWN: usize = 100_000;
