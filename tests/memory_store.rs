//! The column store gives back exactly what was put in: random sequences of puts,
//! removes, id allocations and nested transactions, checked after every step
//! against a plain map of objects (every value kind, ids dense and far apart,
//! objects that change entity, values that stop being the same in every row, and
//! values that no longer fit a column's one-byte or four-byte lane).

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on what it did not expect")]

use std::collections::BTreeMap;

use proptest::prelude::*;
use rust_decimal::Decimal;
use warden::model::{EntityId, EnumId};
use warden::store::{MemoryStore, Object, ObjectId, Store, Value};

/// Entities 0..4; entity `e` has `3 + e` members.
const ENTITIES: u32 = 4;

fn width(entity: u32) -> usize {
    3 + entity as usize
}

/// Ids: dense ones, a few far beyond them (kept in the store's map, not its array), and a
/// few just beyond the array that it takes over once a run of objects makes it grow.
fn id() -> impl Strategy<Value = ObjectId> {
    prop_oneof![
        16 => (1u64..40).prop_map(ObjectId),
        2 => (0u64..4).prop_map(|k| ObjectId((1 << 40) + k)),
        1 => (0u64..4).prop_map(|k| ObjectId(4200 + k)),
        1 => Just(ObjectId(4300)),
    ]
}

/// The entity of the runs of empty objects ([`Op::Run`]); the other questions skip it.
const RUN_ENTITY: u32 = ENTITIES;

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => Just(Value::Empty),
        3 => (-3i64..3).prop_map(Value::Integer),
        1 => Just(Value::Integer(i64::MIN)),
        2 => (-300i64..300, 0u32..4).prop_map(|(m, s)| Value::Decimal(Decimal::new(m, s))),
        1 => Just(Value::Decimal(Decimal::MAX)),
        1 => Just(Value::Decimal(Decimal::from_parts(0, 0, 0, false, 2))),
        1 => Just(Value::Decimal(Decimal::from_i128_with_scale(-(1i128 << 58), 3))),
        2 => any::<bool>().prop_map(Value::Boolean),
        2 => (-2i64..2).prop_map(|d| Value::DateTime(d * 86_400_000)),
        3 => (0u32..2, 0u32..3).prop_map(|(e, i)| Value::Enum(EnumId(e), i)),
        4 => (1u64..8).prop_map(|t| Value::Object(ObjectId(t))),
        // Beyond one byte, and beyond four: the column widens to hold them.
        1 => (0u64..3).prop_map(|k| Value::Object(ObjectId(300 + k))),
        1 => (0u64..2).prop_map(|k| Value::Object(ObjectId((1 << 40) + k))),
        1 => (250u32..260).prop_map(|i| Value::Enum(EnumId(1), i)),
        1 => (0u32..2).prop_map(|i| Value::Enum(EnumId(1 << 31), i)),
        2 => prop::collection::vec((1u64..8).prop_map(ObjectId), 0..3).prop_map(Value::List),
        2 => "[a-c]{0,3}".prop_map(Value::String),
        1 => (-2i64..2, 0i64..3).prop_map(|(months, millis)| Value::Duration { months, millis }),
        1 => (0u64..3).prop_map(Value::Instance),
    ]
}

#[derive(Clone, Debug)]
enum Op {
    Put(ObjectId, u32, Vec<Value>),
    /// The same members for many new objects, so that columns stay "same in every row" a while.
    PutMany(u64, u32, Value),
    /// 600 empty objects (ids 3000..3600), which makes the store's array of ids grow.
    Run,
    Remove(ObjectId),
    Allocate,
    Begin,
    Commit,
    Rollback,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (id(), 0..ENTITIES, prop::collection::vec(value(), 6)).prop_map(|(id, e, mut values)| {
            values.truncate(width(e));
            Op::Put(id, e, values)
        }),
        1 => (1u64..30, 0..ENTITIES, value()).prop_map(|(from, e, v)| Op::PutMany(from, e, v)),
        3 => id().prop_map(Op::Remove),
        1 => Just(Op::Run),
        1 => Just(Op::Allocate),
        2 => Just(Op::Begin),
        1 => Just(Op::Commit),
        2 => Just(Op::Rollback),
    ]
}

/// The plain model: the objects, the id counter, and the saved states of open transactions.
#[derive(Default)]
struct Model {
    objects: BTreeMap<ObjectId, Object>,
    next: u64,
    saved: Vec<(BTreeMap<ObjectId, Object>, u64)>,
}

impl Model {
    fn put(&mut self, o: Object) {
        self.next = self.next.max(o.id.0 + 1);
        self.objects.insert(o.id, o);
    }
}

/// Every question the store answers, asked of both.
fn agree(store: &MemoryStore, model: &Model) -> Result<(), TestCaseError> {
    let probes: Vec<ObjectId> = (0..42)
        .chain((0..5).map(|k| (1 << 40) + k))
        .chain((0..5).map(|k| 4200 + k))
        .chain([4300, 3000, 3599])
        .map(ObjectId)
        .collect();
    for id in &probes {
        let want = model.objects.get(id);
        // Debug output shows a decimal's scale, which `==` ignores.
        prop_assert_eq!(format!("{:?}", store.get(*id).as_deref()), format!("{:?}", want), "get {}", id);
        prop_assert_eq!(store.entity_of(*id), want.map(|o| o.entity));
        for m in 0..7 {
            prop_assert_eq!(store.value(*id, m), want.and_then(|o| o.values.get(m).cloned()), "value {} {}", id, m);
        }
    }
    let all: Vec<String> = store.all().iter().map(|o| format!("{:?}", &**o)).collect();
    let want: Vec<String> = model.objects.values().map(|o| format!("{o:?}")).collect();
    prop_assert_eq!(all, want);
    for e in 0..=RUN_ENTITY {
        let entity = EntityId(e);
        let of_entity: Vec<&Object> = model.objects.values().filter(|o| o.entity == entity).collect();
        prop_assert_eq!(store.ids(entity), of_entity.iter().map(|o| o.id).collect::<Vec<_>>());
        if e == RUN_ENTITY {
            continue;
        }
        for m in 0..width(e) {
            for t in 1..8 {
                let target = ObjectId(t);
                let want: Vec<ObjectId> = of_entity
                    .iter()
                    .filter(|o| match o.values.get(m) {
                        Some(Value::Object(x)) => *x == target,
                        Some(Value::List(xs)) => xs.contains(&target),
                        _ => false,
                    })
                    .map(|o| o.id)
                    .collect();
                prop_assert_eq!(store.referrers(entity, m, target).unwrap_or_default(), want);
            }
            // All targets' referrers at once: each target's, in the order of the targets.
            for targets in [vec![], vec![ObjectId(3)], vec![ObjectId(1), ObjectId(2), ObjectId(5), ObjectId(7)]] {
                let want: Vec<ObjectId> =
                    targets.iter().flat_map(|t| store.referrers(entity, m, *t).unwrap_or_default()).collect();
                let mut got = vec![ObjectId(99)];
                prop_assert_eq!(store.referrers_of_each(entity, m, &targets, &mut got), Some(()));
                prop_assert_eq!(&got[..1], &[ObjectId(99)][..], "referrers_of_each appends");
                prop_assert_eq!(&got[1..], &want[..], "referrers_of_each {:?} member {} of {:?}", targets, m, entity);
            }
            // A test on one member, read without building the objects.
            let positive =
                |v: &Value| matches!(v, Value::Integer(i) if *i > 0) || matches!(v, Value::String(t) if t.len() > 1);
            let want: Vec<ObjectId> =
                of_entity.iter().filter(|o| o.values.get(m).is_some_and(positive)).map(|o| o.id).collect();
            let got = store.filter(entity, m, &positive);
            if !(got.is_none() && of_entity.is_empty()) {
                prop_assert_eq!(got, Some(want), "filter member {} of {:?}", m, entity);
            }
            let keys = [
                Value::Object(ObjectId(3)),
                Value::Boolean(true),
                Value::Enum(EnumId(1), 2),
                Value::Integer(-1),
                Value::Empty,
                Value::Object(ObjectId(301)),
                Value::Object(ObjectId(1 << 40)),
                Value::Enum(EnumId(1), 257),
            ];
            for key in keys {
                let want: Vec<ObjectId> =
                    of_entity.iter().filter(|o| o.values.get(m) == Some(&key)).map(|o| o.id).collect();
                let got = store.matching(entity, m, &key);
                let counted = store.count_matching(entity, m, &key);
                // A table that never had objects may not know the member: no answer is fine then.
                if !(got.is_none() && of_entity.is_empty()) {
                    prop_assert_eq!(
                        counted,
                        Some(want.len()),
                        "count_matching {:?} in member {} of {:?}",
                        key,
                        m,
                        entity
                    );
                    prop_assert_eq!(got, Some(want), "matching {:?} in member {} of {:?}", key, m, entity);
                }
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn the_column_store_agrees_with_a_map(ops in prop::collection::vec(op(), 1..60)) {
        let mut store = MemoryStore::new();
        let mut model = Model { next: 1, ..Model::default() };
        for op in ops {
            match op {
                Op::Put(id, e, values) => {
                    let o = Object { id, entity: EntityId(e), values };
                    store.put(o.clone());
                    model.put(o);
                }
                Op::PutMany(from, e, v) => {
                    for id in from..from + 12 {
                        let o = Object { id: ObjectId(id), entity: EntityId(e), values: vec![v.clone(); width(e)] };
                        store.put(o.clone());
                        model.put(o);
                    }
                }
                Op::Run => {
                    for id in 3000..3600 {
                        let o = Object { id: ObjectId(id), entity: EntityId(RUN_ENTITY), values: vec![Value::Empty; 3] };
                        store.put(o.clone());
                        model.put(o);
                    }
                }
                Op::Remove(id) => {
                    let removed = store.remove(id);
                    prop_assert_eq!(format!("{removed:?}"), format!("{:?}", model.objects.remove(&id)));
                }
                Op::Allocate => {
                    let id = store.allocate_id();
                    prop_assert_eq!(id, ObjectId(model.next.max(1)));
                    model.next = id.0 + 1;
                }
                Op::Begin => {
                    store.begin();
                    model.saved.push((model.objects.clone(), model.next));
                }
                Op::Commit => {
                    prop_assert!(store.commit().is_ok());
                    model.saved.pop();
                }
                Op::Rollback => {
                    store.rollback();
                    if let Some((objects, next)) = model.saved.pop() {
                        model.objects = objects;
                        model.next = next;
                    }
                }
            }
            agree(&store, &model)?;
        }
    }
}
