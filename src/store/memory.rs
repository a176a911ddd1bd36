//! The in-memory store.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::{Object, ObjectId, Store, Value};
use crate::model::EntityId;

/// Objects in memory, with an undo journal for transactions.
#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    objects: HashMap<ObjectId, Object>,
    by_entity: BTreeMap<EntityId, std::collections::BTreeSet<ObjectId>>,
    next: u64,
    /// One frame per open transaction (innermost last): the previous versions of
    /// objects touched since its `begin`, oldest first, and the id counter then.
    journal: Vec<JournalFrame>,
    /// Who refers to whom: for each entity and reference member, the objects by their target.
    /// Kept by every put and remove (rollbacks go through them too).
    refs: HashMap<(EntityId, usize), HashMap<ObjectId, BTreeSet<ObjectId>>>,
}

/// The previous versions of the objects a transaction touched, and the id counter at its start.
type JournalFrame = (Vec<(ObjectId, Option<Object>)>, u64);

impl MemoryStore {
    /// An empty store whose first id is 1.
    pub fn new() -> MemoryStore {
        MemoryStore { next: 1, ..MemoryStore::default() }
    }

    /// The id `allocate_id` hands out next.
    pub(crate) fn next_id(&self) -> u64 {
        self.next.max(1)
    }

    /// Never hands out ids below `next` (a store file remembers ids it gave out and deleted).
    pub(crate) fn raise_next(&mut self, next: u64) {
        self.next = self.next.max(next);
    }

    fn record(&mut self, id: ObjectId) {
        if let Some((journal, _)) = self.journal.last_mut() {
            journal.push((id, self.objects.get(&id).cloned()));
        }
    }

    fn raw_put(&mut self, object: Object) {
        if let Some(old) = self.objects.remove(&object.id) {
            self.unindex(&old);
            if old.entity != object.entity {
                self.by_entity.entry(old.entity).or_default().remove(&object.id);
            }
        }
        self.by_entity.entry(object.entity).or_default().insert(object.id);
        self.next = self.next.max(object.id.0 + 1);
        self.index(&object);
        self.objects.insert(object.id, object);
    }

    fn raw_remove(&mut self, id: ObjectId) -> Option<Object> {
        let old = self.objects.remove(&id)?;
        if let Some(set) = self.by_entity.get_mut(&old.entity) {
            set.remove(&id);
        }
        self.unindex(&old);
        Some(old)
    }

    /// The targets of an object's references, member by member.
    fn references(object: &Object) -> impl Iterator<Item = (usize, ObjectId)> + '_ {
        object.values.iter().enumerate().flat_map(|(i, v)| {
            let targets: Vec<ObjectId> = match v {
                Value::Object(t) => vec![*t],
                Value::List(ts) => ts.clone(),
                _ => Vec::new(),
            };
            targets.into_iter().map(move |t| (i, t))
        })
    }

    fn index(&mut self, object: &Object) {
        for (member, target) in Self::references(object) {
            self.refs.entry((object.entity, member)).or_default().entry(target).or_default().insert(object.id);
        }
    }

    fn unindex(&mut self, object: &Object) {
        for (member, target) in Self::references(object) {
            if let Some(by_target) = self.refs.get_mut(&(object.entity, member)) {
                if let Some(set) = by_target.get_mut(&target) {
                    set.remove(&object.id);
                    if set.is_empty() {
                        by_target.remove(&target);
                    }
                }
            }
        }
    }
}

impl Store for MemoryStore {
    fn get(&self, id: ObjectId) -> Option<&Object> {
        self.objects.get(&id)
    }

    fn ids(&self, entity: EntityId) -> Vec<ObjectId> {
        self.by_entity.get(&entity).map(|s| s.iter().copied().collect()).unwrap_or_default()
    }

    fn put(&mut self, object: Object) {
        self.record(object.id);
        self.raw_put(object);
    }

    fn remove(&mut self, id: ObjectId) -> Option<Object> {
        self.record(id);
        self.raw_remove(id)
    }

    fn allocate_id(&mut self) -> ObjectId {
        let id = ObjectId(self.next.max(1));
        self.next = id.0 + 1;
        id
    }

    fn begin(&mut self) {
        self.journal.push((Vec::new(), self.next));
    }

    fn commit(&mut self) -> Result<(), String> {
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
                Some(object) => self.raw_put(object),
                None => {
                    self.raw_remove(id);
                }
            }
        }
        self.next = next;
    }

    fn all(&self) -> Vec<&Object> {
        let mut all: Vec<&Object> = self.objects.values().collect();
        all.sort_by_key(|o| o.id);
        all
    }

    fn referrers(&self, entity: EntityId, member: usize, target: ObjectId) -> Option<Vec<ObjectId>> {
        Some(
            self.refs
                .get(&(entity, member))
                .and_then(|by_target| by_target.get(&target))
                .map(|set| set.iter().copied().collect())
                .unwrap_or_default(),
        )
    }
}
