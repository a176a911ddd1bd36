//! The in-memory store, kept column by column.
//!
//! Each entity's objects are the rows of one table, and each member is a column:
//! a word per row and a tag that says what the word holds (an integer, an instant,
//! a reference...). A column keeps its tag once while every row has the same kind
//! of value, and its word once while every row holds the same value, so a member
//! left at its default costs nothing per object. While the rows' words share their
//! high bits, a row keeps only one byte of its word (enumerations, Booleans, small
//! integers) or four (references to ids below 2^32); a word that does not fit
//! widens the column to eight bytes a row. Values that don't fit a
//! word (text, reference sets, lengths, wide decimals) sit in the column's side
//! list and the word says where. Ids find their rows through an array indexed by
//! id (the store hands ids out in sequence), with a map for ids far beyond it.
//!
//! A removed object's row stays behind as a dead row; nothing moves, so row
//! numbers stay valid for the life of the store.

use std::borrow::Cow;
use std::collections::HashMap;

use rust_decimal::Decimal;

use super::{Object, ObjectId, Store, Value};
use crate::model::{EntityId, EnumId};

/// Objects in memory, with an undo journal for transactions.
#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    /// One table per entity that has objects, by entity index.
    tables: Vec<Table>,
    rows: Rows,
    next: u64,
    /// One frame per open transaction (innermost last): the previous versions of
    /// objects touched since its `begin`, oldest first, and the id counter then.
    journal: Vec<JournalFrame>,
    /// Who refers to whom: for each entity and reference member, the objects by their
    /// target, ascending. Kept by every put and remove (rollbacks go through them too).
    refs: HashMap<(EntityId, usize), Referrers, IdHash>,
}

/// The objects that refer to each target through one member, ascending.
type Referrers = HashMap<ObjectId, Vec<ObjectId>, IdHash>;

/// The previous versions of the objects a transaction touched, and the id counter at its start.
type JournalFrame = (Vec<(ObjectId, Option<Object>)>, u64);

/// The id of a dead row.
const DEAD: ObjectId = ObjectId(u64::MAX);

/// The hasher of the reference index's maps, whose keys are ids and (entity, member) pairs:
/// each word written is mixed by one folded multiply (the high and low halves of a 128-bit
/// product, xor-ed) into a state that starts from a key drawn at random for each map, so
/// look-ups cost a few nanoseconds rather than SipHash's twenty, and which ids collide still
/// depends on a key nobody outside the process knows.
#[derive(Clone, Copy, Debug)]
struct IdHash(u64);

impl Default for IdHash {
    fn default() -> IdHash {
        use std::hash::BuildHasher;
        IdHash(std::collections::hash_map::RandomState::new().hash_one(0x5eed_u64))
    }
}

impl std::hash::BuildHasher for IdHash {
    type Hasher = IdHasher;
    fn build_hasher(&self) -> IdHasher {
        IdHasher(self.0)
    }
}

/// See [`IdHash`].
struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }
    fn write_u64(&mut self, n: u64) {
        let product = u128::from(self.0 ^ n) * 0x9e37_79b9_7f4a_7c15_u128;
        self.0 = (product as u64) ^ ((product >> 64) as u64);
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

impl MemoryStore {
    /// An empty store whose first id is 1.
    pub fn new() -> MemoryStore {
        MemoryStore { next: 1, ..MemoryStore::default() }
    }

    /// Never hands out ids below `next` (a store file remembers ids it gave out and deleted).
    pub(crate) fn raise_next(&mut self, next: u64) {
        self.next = self.next.max(next);
    }

    /// Notes an object's previous version (`None`: it did not exist) in the open transaction.
    fn record(&mut self, id: ObjectId, old: Option<Object>) {
        if let Some((journal, _)) = self.journal.last_mut() {
            journal.push((id, old));
        }
    }

    /// Puts `object` without journalling; returns its previous version.
    fn raw_put(&mut self, object: Object) -> Option<Object> {
        let at = self.rows.get(object.id);
        let old = at.map(|at| self.tables[at.entity as usize].object(at.row as usize));
        if let Some(old) = &old {
            self.unindex(old);
        }
        self.next = self.next.max(object.id.0.saturating_add(1));
        self.index(&object);
        match at {
            Some(at) if at.entity == object.entity.0 => {
                self.tables[at.entity as usize].write(at.row as usize, &object.values)
            }
            _ => {
                if let Some(old) = at {
                    self.tables[old.entity as usize].kill(old.row as usize);
                }
                let index = object.entity.index();
                while self.tables.len() <= index {
                    self.tables.push(Table::new(EntityId(self.tables.len() as u32)));
                }
                // A removed object put back (a rollback) gets its old row: rows stay in id order.
                let row = match self.rows.dead(object.id).filter(|d| d.entity == object.entity.0) {
                    Some(dead) => {
                        self.tables[index].revive(dead.row as usize, object.id, &object.values);
                        dead.row as usize
                    }
                    None => self.tables[index].push(object.id, &object.values),
                };
                self.rows.set(object.id, Row { entity: object.entity.0, row: row as u32 });
            }
        }
        old
    }

    fn raw_remove(&mut self, id: ObjectId) -> Option<Object> {
        let at = self.rows.take(id)?;
        let table = &mut self.tables[at.entity as usize];
        let old = table.object(at.row as usize);
        table.kill(at.row as usize);
        self.unindex(&old);
        Some(old)
    }

    /// The targets of an object's references, member by member.
    fn references(object: &Object) -> impl Iterator<Item = (usize, ObjectId)> + '_ {
        object.values.iter().enumerate().flat_map(|(i, v)| {
            let targets: &[ObjectId] = match v {
                Value::Object(t) => std::slice::from_ref(t),
                Value::List(ts) => ts,
                _ => &[],
            };
            targets.iter().map(move |t| (i, *t))
        })
    }

    fn index(&mut self, object: &Object) {
        for (member, target) in Self::references(object) {
            let set = self.refs.entry((object.entity, member)).or_default().entry(target).or_default();
            // Objects mostly arrive in id order: then this is a push.
            match set.last() {
                Some(last) if *last >= object.id => {
                    if let Err(at) = set.binary_search(&object.id) {
                        set.insert(at, object.id);
                    }
                }
                _ => set.push(object.id),
            }
        }
    }

    fn unindex(&mut self, object: &Object) {
        for (member, target) in Self::references(object) {
            if let Some(by_target) = self.refs.get_mut(&(object.entity, member)) {
                if let Some(set) = by_target.get_mut(&target) {
                    if let Ok(at) = set.binary_search(&object.id) {
                        set.remove(at);
                    }
                    if set.is_empty() {
                        by_target.remove(&target);
                    }
                }
            }
        }
    }
}

impl Store for MemoryStore {
    fn get(&self, id: ObjectId) -> Option<Cow<'_, Object>> {
        let at = self.rows.get(id)?;
        Some(Cow::Owned(self.tables[at.entity as usize].object(at.row as usize)))
    }

    fn entity_of(&self, id: ObjectId) -> Option<EntityId> {
        self.rows.get(id).map(|at| EntityId(at.entity))
    }

    fn value(&self, id: ObjectId, member: usize) -> Option<Value> {
        let at = self.rows.get(id)?;
        let table = &self.tables[at.entity as usize];
        Some(table.columns.get(member)?.get(at.row as usize))
    }

    fn ids(&self, entity: EntityId) -> Vec<ObjectId> {
        self.tables.get(entity.index()).map(Table::live_ids).unwrap_or_default()
    }

    fn put(&mut self, object: Object) {
        let id = object.id;
        let old = self.raw_put(object);
        self.record(id, old);
    }

    fn remove(&mut self, id: ObjectId) -> Option<Object> {
        let old = self.raw_remove(id)?;
        if !self.journal.is_empty() {
            self.record(id, Some(old.clone()));
        }
        Some(old)
    }

    fn allocate_id(&mut self) -> ObjectId {
        let id = ObjectId(self.next.max(1));
        self.next = id.0 + 1;
        id
    }

    fn begin(&mut self) {
        self.journal.push((Vec::new(), self.next));
    }

    fn commit(&mut self) -> Result<(), super::CommitError> {
        // An inner transaction's changes become part of the outer one.
        if let Some((entries, _)) = self.journal.pop() {
            if let Some((outer, _)) = self.journal.last_mut() {
                outer.extend(entries);
            }
        }
        Ok(())
    }

    fn rollback(&mut self) {
        let Some((journal, next)) = self.journal.pop() else { return };
        for (id, old) in journal.into_iter().rev() {
            match old {
                Some(object) => {
                    self.raw_put(object);
                }
                None => {
                    self.raw_remove(id);
                }
            }
        }
        self.next = next;
    }

    fn all(&self) -> Vec<Cow<'_, Object>> {
        let mut ids: Vec<ObjectId> = self.tables.iter().flat_map(Table::live_ids).collect();
        ids.sort_unstable();
        ids.into_iter().filter_map(|id| self.get(id)).collect()
    }

    fn referrers(&self, entity: EntityId, member: usize, target: ObjectId) -> Option<Vec<ObjectId>> {
        Some(self.refs.get(&(entity, member)).and_then(|by_target| by_target.get(&target)).cloned().unwrap_or_default())
    }

    fn referrers_of_each(
        &self,
        entity: EntityId,
        member: usize,
        targets: &[ObjectId],
        out: &mut Vec<ObjectId>,
    ) -> Option<()> {
        if let Some(by_target) = self.refs.get(&(entity, member)) {
            for t in targets {
                if let Some(ids) = by_target.get(t) {
                    out.extend_from_slice(ids);
                }
            }
        }
        Some(())
    }

    fn matching(&self, entity: EntityId, member: usize, value: &Value) -> Option<Vec<ObjectId>> {
        let (tag, word) = Column::encode_plain(value)?;
        let Some(table) = self.tables.get(entity.index()) else { return Some(Vec::new()) };
        let column = table.columns.get(member)?;
        let mut out = Vec::new();
        let take = |row: usize| {
            let id = table.ids[row];
            if id != DEAD {
                out.push(id);
            }
        };
        match (&column.tags, &column.words) {
            (Lane::Same(t), _) if *t != tag => {}
            (Lane::Same(_), Words::Same(w)) => {
                if *w == word {
                    (0..table.ids.len()).for_each(take);
                }
            }
            (Lane::Same(_), words) => words.rows_holding(word, take),
            (Lane::Each(tags), words) => {
                (0..tags.len()).filter(|&row| tags[row] == tag && words.get(row) == word).for_each(take);
            }
        }
        if !table.ordered {
            out.sort_unstable();
        }
        Some(out)
    }

    fn count_matching(&self, entity: EntityId, member: usize, value: &Value) -> Option<usize> {
        let (tag, word) = Column::encode_plain(value)?;
        let Some(table) = self.tables.get(entity.index()) else { return Some(0) };
        let column = table.columns.get(member)?;
        let live = |row: usize| table.ids[row] != DEAD;
        Some(match (&column.tags, &column.words) {
            (Lane::Same(t), _) if *t != tag => 0,
            (Lane::Same(_), Words::Same(w)) if *w == word => table.ids.iter().filter(|id| **id != DEAD).count(),
            (Lane::Same(_), Words::Same(_)) => 0,
            (Lane::Same(_), words) if table.dead == 0 => words.count_holding(word),
            (Lane::Same(_), words) => {
                let mut n = 0;
                words.rows_holding(word, |row| n += usize::from(live(row)));
                n
            }
            (Lane::Each(tags), words) => {
                (0..tags.len()).filter(|&row| tags[row] == tag && words.get(row) == word && live(row)).count()
            }
        })
    }

    fn filter(&self, entity: EntityId, member: usize, test: &dyn Fn(&Value) -> bool) -> Option<Vec<ObjectId>> {
        let Some(table) = self.tables.get(entity.index()) else { return Some(Vec::new()) };
        let column = table.columns.get(member)?;
        let live = |row: &usize| table.ids[*row] != DEAD;
        let rows: Vec<usize> = match (&column.tags, &column.words) {
            // The same value in every row: one test decides them all.
            (Lane::Same(_), Words::Same(_)) if table.ids.is_empty() || !test(&column.get(0)) => Vec::new(),
            (Lane::Same(_), Words::Same(_)) => (0..table.ids.len()).filter(live).collect(),
            _ => (0..table.ids.len()).filter(live).filter(|row| test(&column.read(*row))).collect(),
        };
        let mut out: Vec<ObjectId> = rows.into_iter().map(|row| table.ids[row]).collect();
        if !table.ordered {
            out.sort_unstable();
        }
        Some(out)
    }
}

/// Calls `each` with every row whose word is `word`, in order. Eight rows at a time are
/// compared into a bit mask (which the compiler does with vector instructions), then
/// only the set bits are visited: matches are rare in the scans that matter.
fn rows_holding<T: Copy + PartialEq>(words: &[T], word: T, mut each: impl FnMut(usize)) {
    let mut chunks = words.chunks_exact(8);
    let mut base = 0;
    for chunk in &mut chunks {
        let mut mask = 0u32;
        for (i, w) in chunk.iter().enumerate() {
            mask |= u32::from(*w == word) << i;
        }
        while mask != 0 {
            each(base + mask.trailing_zeros() as usize);
            mask &= mask - 1;
        }
        base += 8;
    }
    for (i, w) in chunks.remainder().iter().enumerate() {
        if *w == word {
            each(base + i);
        }
    }
}

/// How many of `words` are `word`: eight compared at a time into a bit mask, as in
/// [`rows_holding`], and the set bits counted (no row is visited).
fn words_holding<T: Copy + PartialEq>(words: &[T], word: T) -> usize {
    let mut chunks = words.chunks_exact(8);
    let mut n = 0;
    for chunk in &mut chunks {
        let mut mask = 0u32;
        for (i, w) in chunk.iter().enumerate() {
            mask |= u32::from(*w == word) << i;
        }
        n += mask.count_ones() as usize;
    }
    n + chunks.remainder().iter().filter(|w| **w == word).count()
}

/// Where an object lives: its table (by entity index) and row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Row {
    entity: u32,
    row: u32,
}

/// A free slot of the dense array.
const NO_ROW: Row = Row { entity: u32::MAX, row: u32::MAX };

/// Marks the row of a removed object (in `Row::entity`), kept so that putting it back reuses it.
const REMOVED: u32 = 1 << 31;

/// Ids to rows: an array indexed by id while ids stay dense, a map for the rest.
#[derive(Clone, Debug, Default)]
struct Rows {
    dense: Vec<Row>,
    sparse: HashMap<u64, Row>,
    /// The smallest id in `sparse` (`u64::MAX` when it is empty).
    sparse_min: u64,
    live: usize,
}

impl Rows {
    fn get(&self, id: ObjectId) -> Option<Row> {
        self.slot(id).filter(|at| at.entity & REMOVED == 0)
    }

    /// The row a removed object had.
    fn dead(&self, id: ObjectId) -> Option<Row> {
        self.slot(id).filter(|at| at.entity & REMOVED != 0).map(|at| Row { entity: at.entity & !REMOVED, ..at })
    }

    fn slot(&self, id: ObjectId) -> Option<Row> {
        match self.dense.get(id.0 as usize) {
            Some(&at) => (at != NO_ROW).then_some(at),
            None if self.sparse.is_empty() => None,
            None => self.sparse.get(&id.0).copied(),
        }
    }

    fn set(&mut self, id: ObjectId, at: Row) {
        if self.get(id).is_none() {
            self.live += 1;
        }
        let i = id.0 as usize;
        if i >= self.dense.len() && (id.0 as u128) < 2 * self.live as u128 + 4096 {
            self.dense.resize(i + 1, NO_ROW);
            if self.sparse_min < self.dense.len() as u64 {
                self.absorb();
            }
        }
        match self.dense.get_mut(i) {
            Some(slot) => *slot = at,
            None => {
                self.sparse.insert(id.0, at);
                self.sparse_min = self.sparse_min.min(id.0);
            }
        }
    }

    /// Moves the map's ids that the array now covers into the array.
    fn absorb(&mut self) {
        let len = self.dense.len() as u64;
        let dense = &mut self.dense;
        self.sparse.retain(|id, at| {
            if *id < len {
                dense[*id as usize] = *at;
                false
            } else {
                true
            }
        });
        self.sparse_min = self.sparse.keys().copied().min().unwrap_or(u64::MAX);
    }

    /// Forgets a live object, remembering its row.
    fn take(&mut self, id: ObjectId) -> Option<Row> {
        let at = self.get(id)?;
        let removed = Row { entity: at.entity | REMOVED, ..at };
        match self.dense.get_mut(id.0 as usize) {
            Some(slot) => *slot = removed,
            None => {
                self.sparse.insert(id.0, removed);
            }
        }
        self.live -= 1;
        Some(at)
    }
}

impl Default for Row {
    fn default() -> Row {
        NO_ROW
    }
}

/// The objects of one entity.
#[derive(Clone, Debug)]
struct Table {
    entity: EntityId,
    /// The id of each row (`DEAD` for a removed object's row).
    ids: Vec<ObjectId>,
    columns: Vec<Column>,
    /// Whether the rows are in ascending id order, and the last id pushed.
    ordered: bool,
    last: ObjectId,
    /// How many rows are dead.
    dead: usize,
}

impl Table {
    fn new(entity: EntityId) -> Table {
        Table { entity, ids: Vec::new(), columns: Vec::new(), ordered: true, last: ObjectId(0), dead: 0 }
    }

    /// A new row holding `values`.
    fn push(&mut self, id: ObjectId, values: &[Value]) -> usize {
        let row = self.ids.len();
        self.ordered &= id > self.last;
        self.last = self.last.max(id);
        while self.columns.len() < values.len() {
            // A member no earlier object had: empty for them.
            let mut column = Column::empty();
            (0..row).for_each(|r| column.set(r, r, &Value::Empty));
            self.columns.push(column);
        }
        for (i, column) in self.columns.iter_mut().enumerate() {
            column.set(row, row, values.get(i).unwrap_or(&Value::Empty));
        }
        self.ids.push(id);
        row
    }

    fn write(&mut self, row: usize, values: &[Value]) {
        let len = self.ids.len();
        for (column, value) in self.columns.iter_mut().zip(values) {
            column.set(row, len, value);
        }
    }

    /// Marks a row dead, letting go of its values in the side lists.
    fn kill(&mut self, row: usize) {
        let len = self.ids.len();
        for column in &mut self.columns {
            column.clear(row, len);
        }
        self.dead += usize::from(self.ids[row] != DEAD);
        self.ids[row] = DEAD;
    }

    /// Gives a dead row back to the object that had it.
    fn revive(&mut self, row: usize, id: ObjectId, values: &[Value]) {
        self.dead -= usize::from(self.ids[row] == DEAD);
        self.ids[row] = id;
        self.write(row, values);
    }

    fn object(&self, row: usize) -> Object {
        Object { id: self.ids[row], entity: self.entity, values: self.columns.iter().map(|c| c.get(row)).collect() }
    }

    fn live_ids(&self) -> Vec<ObjectId> {
        let mut ids: Vec<ObjectId> = self.ids.iter().copied().filter(|id| *id != DEAD).collect();
        if !self.ordered {
            ids.sort_unstable();
        }
        ids
    }
}

/// What a column's word holds for a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tag {
    Empty,
    Integer,
    Boolean,
    DateTime,
    /// The enumeration's id in the high half, the value's index in the low half.
    Enum,
    Object,
    Instance,
    /// A decimal whose digits fit 59 bits: the digits shifted left by 5, then the scale.
    Decimal,
    /// An index into the column's side list.
    Spilled,
}

/// One thing per row, kept once while every row has the same.
#[derive(Clone, Debug)]
enum Lane<T> {
    Same(T),
    Each(Vec<T>),
}

impl<T: Copy + PartialEq> Lane<T> {
    fn get(&self, row: usize) -> T {
        match self {
            Lane::Same(v) => *v,
            Lane::Each(v) => v[row],
        }
    }

    /// Sets `row` of a lane of `len` rows; `row == len` adds a row.
    fn set(&mut self, row: usize, len: usize, value: T) {
        match self {
            Lane::Same(v) if *v == value => {}
            // The only row, or the first: the lane is still the same throughout.
            Lane::Same(v) if len == 0 || (len == 1 && row == 0) => *v = value,
            Lane::Same(v) => {
                let mut each = vec![*v; len];
                if row == len {
                    each.push(value);
                } else {
                    each[row] = value;
                }
                *self = Lane::Each(each);
            }
            Lane::Each(each) if row == each.len() => each.push(value),
            Lane::Each(each) => each[row] = value,
        }
    }
}

/// The words of a column, one per row, kept as narrow as the values allow: while every row's
/// word shares its high bits (references to ids below 2^32, an enumeration's values,
/// Booleans, small integers), a row keeps only its low byte or its low four bytes and the
/// column keeps the high part once. A word that does not fit widens the lane in place, from
/// one byte to four to eight; nothing narrows again.
#[derive(Clone, Debug)]
enum Words {
    /// The same word in every row.
    Same(u64),
    /// Each row's low byte; every word is `high | low`.
    Narrow8 { high: u64, low: Vec<u8> },
    /// Each row's low four bytes; every word is `high | low`.
    Narrow32 { high: u64, low: Vec<u32> },
    /// Each row's whole word.
    Wide(Vec<u64>),
}

/// The low bits a narrow lane keeps.
const LOW8: u64 = 0xFF;
const LOW32: u64 = 0xFFFF_FFFF;

impl Words {
    fn get(&self, row: usize) -> u64 {
        match self {
            Words::Same(w) => *w,
            Words::Narrow8 { high, low } => high | u64::from(low[row]),
            Words::Narrow32 { high, low } => high | u64::from(low[row]),
            Words::Wide(words) => words[row],
        }
    }

    /// `len` rows holding `word`, in the narrowest lane that also holds `next`.
    fn each(word: u64, len: usize, next: u64) -> Words {
        if (word ^ next) & !LOW8 == 0 {
            Words::Narrow8 { high: word & !LOW8, low: vec![word as u8; len] }
        } else if (word ^ next) & !LOW32 == 0 {
            Words::Narrow32 { high: word & !LOW32, low: vec![word as u32; len] }
        } else {
            Words::Wide(vec![word; len])
        }
    }

    /// Makes room for `word`: a narrow lane whose high part it does not share widens.
    fn widen_for(&mut self, word: u64) {
        let wide = match self {
            Words::Same(_) | Words::Wide(_) => return,
            Words::Narrow8 { high, .. } if word & !LOW8 == *high => return,
            Words::Narrow32 { high, .. } if word & !LOW32 == *high => return,
            Words::Narrow8 { high, low } if (word ^ *high) & !LOW32 == 0 => {
                let high32 = *high & !LOW32;
                let low32 = low.iter().map(|b| ((*high | u64::from(*b)) & LOW32) as u32).collect();
                Words::Narrow32 { high: high32, low: low32 }
            }
            Words::Narrow8 { high, low } => Words::Wide(low.iter().map(|b| *high | u64::from(*b)).collect()),
            Words::Narrow32 { high, low } => Words::Wide(low.iter().map(|w| *high | u64::from(*w)).collect()),
        };
        *self = wide;
    }

    /// Sets `row` of a lane of `len` rows; `row == len` adds a row.
    fn set(&mut self, row: usize, len: usize, word: u64) {
        match self {
            Words::Same(w) if *w == word => return,
            // The only row, or the first: the lane is still the same throughout.
            Words::Same(w) if len == 0 || (len == 1 && row == 0) => {
                *w = word;
                return;
            }
            Words::Same(w) => *self = Words::each(*w, len, word),
            _ => self.widen_for(word),
        }
        match self {
            Words::Same(_) => {}
            Words::Narrow8 { low, .. } => put(low, row, word as u8),
            Words::Narrow32 { low, .. } => put(low, row, word as u32),
            Words::Wide(words) => put(words, row, word),
        }
    }

    /// [`rows_holding`] over the lane (not for [`Words::Same`]).
    fn rows_holding(&self, word: u64, each: impl FnMut(usize)) {
        match self {
            Words::Same(_) => {}
            Words::Narrow8 { high, low } => {
                if word & !LOW8 == *high {
                    rows_holding(low, word as u8, each);
                }
            }
            Words::Narrow32 { high, low } => {
                if word & !LOW32 == *high {
                    rows_holding(low, word as u32, each);
                }
            }
            Words::Wide(words) => rows_holding(words, word, each),
        }
    }

    /// [`words_holding`] over the lane (not for [`Words::Same`]).
    fn count_holding(&self, word: u64) -> usize {
        match self {
            Words::Same(_) => 0,
            Words::Narrow8 { high, low } => {
                if word & !LOW8 == *high {
                    words_holding(low, word as u8)
                } else {
                    0
                }
            }
            Words::Narrow32 { high, low } => {
                if word & !LOW32 == *high {
                    words_holding(low, word as u32)
                } else {
                    0
                }
            }
            Words::Wide(words) => words_holding(words, word),
        }
    }
}

/// Sets `row` of a lane (`row == len` adds a row).
fn put<T>(lane: &mut Vec<T>, row: usize, value: T) {
    if row == lane.len() {
        lane.push(value);
    } else {
        lane[row] = value;
    }
}

/// One member of every row of a table.
#[derive(Clone, Debug)]
struct Column {
    tags: Lane<Tag>,
    words: Words,
    /// The values that don't fit a word, and the free places among them.
    spill: Vec<Value>,
    free: Vec<u64>,
}

impl Column {
    fn empty() -> Column {
        Column { tags: Lane::Same(Tag::Empty), words: Words::Same(0), spill: Vec::new(), free: Vec::new() }
    }

    /// The tag and word of a value that fits a word (`None`: it goes to the side list).
    fn encode_plain(value: &Value) -> Option<(Tag, u64)> {
        Some(match value {
            Value::Empty => (Tag::Empty, 0),
            Value::Integer(i) => (Tag::Integer, *i as u64),
            Value::Boolean(b) => (Tag::Boolean, u64::from(*b)),
            Value::DateTime(ms) => (Tag::DateTime, *ms as u64),
            Value::Enum(e, i) => (Tag::Enum, (u64::from(e.0) << 32) | u64::from(*i)),
            Value::Object(id) => (Tag::Object, id.0),
            Value::Instance(i) => (Tag::Instance, *i),
            Value::Decimal(d) => (Tag::Decimal, pack_decimal(d)?),
            Value::String(_) | Value::List(_) | Value::Duration { .. } => return None,
        })
    }

    fn get(&self, row: usize) -> Value {
        let word = self.words.get(row);
        match self.tags.get(row) {
            Tag::Empty => Value::Empty,
            Tag::Integer => Value::Integer(word as i64),
            Tag::Boolean => Value::Boolean(word != 0),
            Tag::DateTime => Value::DateTime(word as i64),
            Tag::Enum => Value::Enum(EnumId((word >> 32) as u32), word as u32),
            Tag::Object => Value::Object(ObjectId(word)),
            Tag::Instance => Value::Instance(word),
            Tag::Decimal => {
                Value::Decimal(Decimal::from_i128_with_scale(i128::from((word as i64) >> 5), (word & 31) as u32))
            }
            Tag::Spilled => self.spill[word as usize].clone(),
        }
    }

    /// A row's value, borrowed from the side list when it is there.
    fn read(&self, row: usize) -> Cow<'_, Value> {
        match self.tags.get(row) {
            Tag::Spilled => Cow::Borrowed(&self.spill[self.words.get(row) as usize]),
            _ => Cow::Owned(self.get(row)),
        }
    }

    /// Sets `row` of a column of `len` rows (`row == len` adds a row).
    fn set(&mut self, row: usize, len: usize, value: &Value) {
        if row < len {
            self.release(row);
        }
        let (tag, word) = match Column::encode_plain(value) {
            Some(plain) => plain,
            None => (Tag::Spilled, self.keep(value.clone())),
        };
        self.tags.set(row, len, tag);
        self.words.set(row, len, word);
    }

    /// Empties a row whose value is in the side list (a dead row must point nowhere).
    fn clear(&mut self, row: usize, len: usize) {
        if self.tags.get(row) == Tag::Spilled {
            self.release(row);
            self.tags.set(row, len, Tag::Empty);
            self.words.set(row, len, 0);
        }
    }

    /// Lets go of a row's value in the side list, if it has one.
    fn release(&mut self, row: usize) {
        if self.tags.get(row) == Tag::Spilled {
            let at = self.words.get(row);
            self.spill[at as usize] = Value::Empty;
            self.free.push(at);
        }
    }

    fn keep(&mut self, value: Value) -> u64 {
        match self.free.pop() {
            Some(at) => {
                self.spill[at as usize] = value;
                at
            }
            None => {
                self.spill.push(value);
                (self.spill.len() - 1) as u64
            }
        }
    }
}

/// A decimal as one word, when its digits fit 59 bits (a negative zero keeps its sign in the side list).
fn pack_decimal(d: &Decimal) -> Option<u64> {
    let digits = d.mantissa();
    let fits = (-(1i128 << 58)..(1i128 << 58)).contains(&digits);
    (fits && !(d.is_zero() && d.is_sign_negative())).then(|| (((digits as i64) << 5) as u64) | u64::from(d.scale()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(id: u64, entity: u32, values: Vec<Value>) -> Object {
        Object { id: ObjectId(id), entity: EntityId(entity), values }
    }

    #[test]
    fn a_rolled_back_delete_gets_its_row_back_so_rows_stay_in_id_order() {
        let mut store = MemoryStore::new();
        for id in 1..=3 {
            store.put(object(id, 0, vec![Value::String(format!("n{id}")), Value::Integer(id as i64)]));
        }
        store.begin();
        store.remove(ObjectId(2));
        store.rollback();
        let table = &store.tables[0];
        assert!(table.ordered);
        assert_eq!(table.ids, vec![ObjectId(1), ObjectId(2), ObjectId(3)]);
        assert_eq!(store.get(ObjectId(2)).unwrap().values[0], Value::String("n2".into()));
    }

    #[test]
    fn a_member_that_is_the_same_in_every_row_is_kept_once() {
        let mut store = MemoryStore::new();
        for id in 1..=1000 {
            store.put(object(id, 0, vec![Value::Enum(EnumId(0), 1), Value::Integer(id as i64)]));
        }
        let table = &store.tables[0];
        assert!(matches!((&table.columns[0].tags, &table.columns[0].words), (Lane::Same(Tag::Enum), Words::Same(1))));
        assert!(matches!(
            (&table.columns[1].tags, &table.columns[1].words),
            (Lane::Same(Tag::Integer), Words::Narrow32 { .. })
        ));
        store.put(object(7, 0, vec![Value::Enum(EnumId(0), 2), Value::Integer(7)]));
        assert!(matches!(store.tables[0].columns[0].words, Words::Narrow8 { high: 0, .. }));
        assert_eq!(store.matching(EntityId(0), 0, &Value::Enum(EnumId(0), 2)), Some(vec![ObjectId(7)]));
    }

    #[test]
    fn columns_keep_one_byte_or_four_while_the_values_fit_and_widen_when_one_does_not() {
        let mut store = MemoryStore::new();
        let status = |i: u32| Value::Enum(EnumId(3), i);
        for id in 1..=600u64 {
            let values = vec![Value::Object(ObjectId(id % 300)), status((id % 3) as u32), Value::Boolean(id % 2 == 0)];
            store.put(object(id, 0, values));
        }
        let words = |store: &MemoryStore, c: usize| store.tables[0].columns[c].words.clone();
        assert!(matches!(words(&store, 0), Words::Narrow32 { high: 0, .. }), "references below 2^32: 4 bytes");
        assert!(matches!(words(&store, 1), Words::Narrow8 { high, .. } if high == 3 << 32), "an enumeration: 1 byte");
        assert!(matches!(words(&store, 2), Words::Narrow8 { high: 0, .. }), "a Boolean: 1 byte");
        // An id beyond 2^32 and a negative integer widen their columns; every value reads back.
        let far = ObjectId((1 << 40) + 5);
        store.put(object(7, 0, vec![Value::Object(far), Value::Integer(-1), Value::Boolean(true)]));
        assert!(matches!(words(&store, 0), Words::Wide(_)));
        assert!(matches!(words(&store, 1), Words::Wide(_)));
        for id in 1..=600u64 {
            let want = if id == 7 {
                vec![Value::Object(far), Value::Integer(-1), Value::Boolean(true)]
            } else {
                vec![Value::Object(ObjectId(id % 300)), status((id % 3) as u32), Value::Boolean(id % 2 == 0)]
            };
            assert_eq!(store.get(ObjectId(id)).unwrap().values, want, "object {id}");
        }
        assert_eq!(store.matching(EntityId(0), 0, &Value::Object(far)), Some(vec![ObjectId(7)]));
        assert_eq!(store.count_matching(EntityId(0), 1, &status(1)), Some(199), "object 7 is no longer one");
        assert_eq!(store.matching(EntityId(0), 2, &Value::Boolean(true)).map(|v| v.len()), Some(301));
    }
}
