//! The fast path of [`super::load_json`]: one streaming pass from the text straight into
//! the store, against a lookup of the schema built once. It only decides whether the
//! document is valid: at anything wrong, or valid but unusual (a member before the
//! object's `entity`, a key given twice), it gives up and the reporting loader runs on the
//! same text. So whatever it accepts, the reporting loader accepts with the same objects.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::FORMAT;
use crate::model::Multiplicity;
use crate::model::{AttrType, EntityId, EnumId, MemberKind, Program, SYSTEM_USER, SYSTEM_USER_ROLE};
use crate::store::{MemoryStore, Object, ObjectId, Store, Value, ROLE_OBJECT_BASE};

/// The store of a valid document, or `None` when the reporting loader must decide.
pub(super) fn load(program: &Program, text: &str) -> Option<MemoryStore> {
    let schema = Schema::new(program);
    let mut loader = Loader {
        schema: &schema,
        store: MemoryStore::new(),
        entities: Entities::new(text.len()),
        pending: Vec::new(),
        marks: vec![0; schema.shapes.iter().map(|s| s.template.len()).max().unwrap_or(0)],
        stamp: 0,
        last: None,
    };
    let mut de = serde_json::Deserializer::from_str(text);
    Document(&mut loader).deserialize(&mut de).ok()?;
    de.end().ok()?;
    loader.finish()
}

/// Giving up: the error of every visitor here, whose message nobody reads.
fn give_up<E: serde::de::Error>() -> E {
    E::custom("left to the reporting loader")
}

/// What a member accepts, resolved once from the schema.
#[derive(Clone, Copy)]
enum Kind {
    /// A string, at most this many characters when bounded (String, HashedString).
    Text(Option<u32>),
    /// A whole number; `narrow` for a 32-bit Integer (Long, AutoNumber are wide).
    Whole { narrow: bool },
    /// A decimal, as a string or a number.
    Decimal,
    /// `true` or `false`.
    Boolean,
    /// An RFC 3339 instant.
    DateTime,
    /// A value name of the enumeration.
    Enum(EnumId),
    /// An object id of this entity or a specialization of it.
    Reference(EntityId),
    /// A list of such ids.
    ReferenceSet(EntityId),
    /// `UserRoles` of a user: user role names.
    UserRoles,
}

/// The members of one entity by name, and a new object's values.
struct Shape<'p> {
    /// The keys that name members in a document, with the member's index and kind,
    /// in declaration order.
    keys: Vec<(&'p str, usize, Kind)>,
    /// The values of `Object::new`: every member at its default.
    template: Vec<Value>,
}

/// The schema as the fast path reads it, one shape per entity.
struct Schema<'p> {
    program: &'p Program,
    shapes: Vec<Shape<'p>>,
}

impl<'p> Schema<'p> {
    /// The shapes of every entity of the program.
    fn new(program: &'p Program) -> Schema<'p> {
        let shapes = (0..program.entities.len() as u32).map(|e| Shape::new(program, EntityId(e))).collect();
        Schema { program, shapes }
    }

    /// The entity an object may name (System.UserRole objects are implied, never listed, and
    /// non-persistent objects are never stored); `last` is tried first, as objects of one
    /// entity tend to come together.
    fn entity(&self, name: &str, last: Option<EntityId>) -> Option<EntityId> {
        match last {
            Some(e) if self.program.entity(e).name == name => Some(e),
            _ => self
                .program
                .entity_by_name(name)
                .filter(|&e| e != SYSTEM_USER_ROLE && self.program.entity(e).persistent),
        }
    }
}

impl<'p> Shape<'p> {
    /// The keys and defaults of one entity.
    fn new(program: &'p Program, entity: EntityId) -> Shape<'p> {
        let def = program.entity(entity);
        let roles = program.is_a(entity, SYSTEM_USER).then_some(crate::model::user_member::USER_ROLES);
        let mut keys: Vec<(&str, usize, Kind)> = Vec::new();
        for (index, member) in def.members.iter().enumerate() {
            if roles == Some(index) {
                keys.push(("UserRoles", index, Kind::UserRoles));
            }
            let kind = match member.kind {
                MemberKind::Attribute(AttrType::String(max)) => Kind::Text(max),
                MemberKind::Attribute(AttrType::HashedString) => Kind::Text(None),
                MemberKind::Attribute(AttrType::Integer) => Kind::Whole { narrow: true },
                MemberKind::Attribute(AttrType::Long | AttrType::AutoNumber) => Kind::Whole { narrow: false },
                MemberKind::Attribute(AttrType::Decimal) => Kind::Decimal,
                MemberKind::Attribute(AttrType::Boolean) => Kind::Boolean,
                MemberKind::Attribute(AttrType::DateTime) => Kind::DateTime,
                MemberKind::Attribute(AttrType::Enum(e)) => Kind::Enum(e),
                MemberKind::Association(a) => {
                    let assoc = program.assoc(a);
                    match assoc.multiplicity {
                        Multiplicity::Reference => Kind::Reference(assoc.to),
                        Multiplicity::ReferenceSet => Kind::ReferenceSet(assoc.to),
                    }
                }
            };
            // As the reporting loader: `id`, `entity` and a user's `UserRoles` never name a
            // member; else a name names the first member of that name.
            let name = member.name.as_str();
            let taken = name == "id"
                || name == "entity"
                || (roles.is_some() && name == "UserRoles")
                || keys.iter().any(|k| k.0 == name);
            if !taken {
                keys.push((name, index, kind));
            }
        }
        Shape { keys, template: Object::new(program, ObjectId(0), entity).values }
    }

    /// Where in `keys` a key is, searched from `from` on and then from the start: a document
    /// written by `to_json` lists members in declaration order, so the first try usually hits.
    fn find(&self, key: &str, from: usize) -> Option<usize> {
        let (after, before) = (from..self.keys.len(), 0..from.min(self.keys.len()));
        after.chain(before).find(|&k| self.keys[k].0 == key)
    }
}

/// The entity of every object read so far, by id. Ids are usually dense, so those below a
/// sixteenth of the document's length (more objects than that cannot fit in it) are a table,
/// at most half as big as the document; others a map.
struct Entities {
    /// By id: the entity's index plus one, or 0 for none yet.
    dense: Vec<u32>,
    /// Ids from `bound` up.
    sparse: HashMap<u64, EntityId>,
    bound: u64,
}

impl Entities {
    /// For a document of `len` bytes.
    fn new(len: usize) -> Entities {
        Entities { dense: Vec::new(), sparse: HashMap::new(), bound: len as u64 / 16 }
    }

    fn get(&self, id: ObjectId) -> Option<EntityId> {
        if id.0 < self.bound {
            let e = *self.dense.get(id.0 as usize)?;
            e.checked_sub(1).map(EntityId)
        } else {
            self.sparse.get(&id.0).copied()
        }
    }

    /// Records a new object; false when the id is taken.
    fn insert(&mut self, id: ObjectId, entity: EntityId) -> bool {
        if id.0 >= self.bound {
            return self.sparse.insert(id.0, entity).is_none();
        }
        let i = id.0 as usize;
        if i >= self.dense.len() {
            self.dense.resize((i + 1).next_power_of_two(), 0);
        }
        std::mem::replace(&mut self.dense[i], entity.0 + 1) == 0
    }
}

/// The state of one load: the store so far and the references still to check.
struct Loader<'s, 'p> {
    schema: &'s Schema<'p>,
    store: MemoryStore,
    /// The entity of every object put so far.
    entities: Entities,
    /// References to objects not loaded yet when met: the target and the entity it must be.
    pending: Vec<(ObjectId, EntityId)>,
    /// Per member index, the stamp of the last object that gave it (a member given twice gives up).
    marks: Vec<u64>,
    /// The current object's stamp.
    stamp: u64,
    /// The entity of the last object.
    last: Option<EntityId>,
}

impl Loader<'_, '_> {
    /// Whether `target` exists and is a `to`, by now.
    fn refers(&self, target: ObjectId, to: EntityId) -> Option<bool> {
        let entity = self.entities.get(target)?;
        Some(self.schema.program.is_a(entity, to))
    }

    /// A reference to `id`, which must be (or become) a `to`.
    fn target<E: serde::de::Error>(&mut self, id: u64, to: EntityId) -> Result<ObjectId, E> {
        if id == 0 || id >= ROLE_OBJECT_BASE {
            return Err(give_up());
        }
        let target = ObjectId(id);
        match self.refers(target, to) {
            Some(true) => {}
            Some(false) => return Err(give_up()),
            None => self.pending.push((target, to)),
        }
        Ok(target)
    }

    /// The store, once every forward reference is found to hold.
    fn finish(self) -> Option<MemoryStore> {
        let fits = self.pending.iter().all(|&(target, to)| self.refers(target, to) == Some(true));
        // Users the store may not hold: the reporting loader names them.
        (fits && crate::store::user_problems(self.schema.program, &self.store).is_empty()).then_some(self.store)
    }
}

/// The whole document: `format` and `objects`, each once.
struct Document<'l, 's, 'p>(&'l mut Loader<'s, 'p>);

impl<'de> DeserializeSeed<'de> for Document<'_, '_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Document<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a store document")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let (mut format, mut objects) = (false, false);
        while let Some(key) = map.next_key::<Name<'de>>()? {
            match key.0.as_ref() {
                "format" if !format => {
                    format = map.next_value::<Name<'de>>()?.0 == FORMAT;
                    if !format {
                        return Err(give_up());
                    }
                }
                "objects" if !objects => {
                    objects = true;
                    map.next_value_seed(Objects(&mut *self.0))?;
                }
                _ => return Err(give_up()),
            }
        }
        if format {
            Ok(())
        } else {
            Err(give_up())
        }
    }
}

/// A key or a name: borrowed from the text unless it has escapes.
struct Name<'de>(std::borrow::Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Name<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(NameVisitor)
    }
}

/// Reads a [`Name`].
struct NameVisitor;

impl<'de> Visitor<'de> for NameVisitor {
    type Value = Name<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Name<'de>, E> {
        Ok(Name(v.into()))
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Name<'de>, E> {
        Ok(Name(v.to_owned().into()))
    }
}

/// The `objects` array: each object is put into the store as soon as it is read.
struct Objects<'l, 's, 'p>(&'l mut Loader<'s, 'p>);

impl<'de> DeserializeSeed<'de> for Objects<'_, '_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Objects<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(ObjectSeed(&mut *self.0))?.is_some() {}
        Ok(())
    }
}

/// One object: `id`, `entity` (before any member), then members by name.
struct ObjectSeed<'l, 's, 'p>(&'l mut Loader<'s, 'p>);

impl<'de> DeserializeSeed<'de> for ObjectSeed<'_, '_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ObjectSeed<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let loader = self.0;
        let schema = loader.schema;
        loader.stamp += 1;
        let mut id = None;
        let mut object: Option<(EntityId, &Shape, Vec<Value>)> = None;
        let mut cursor = 0;
        while let Some(key) = map.next_key::<Name<'de>>()? {
            match (key.0.as_ref(), &mut object) {
                ("id", _) if id.is_none() => {
                    let n = map.next_value_seed(Whole)?;
                    if n <= 0 || n as u64 >= ROLE_OBJECT_BASE {
                        return Err(give_up());
                    }
                    id = Some(ObjectId(n as u64));
                }
                ("entity", None) => {
                    let entity = schema.entity(&map.next_value::<Name<'de>>()?.0, loader.last).ok_or_else(give_up)?;
                    loader.last = Some(entity);
                    let shape = &schema.shapes[entity.index()];
                    object = Some((entity, shape, shape.template.clone()));
                }
                (name, Some((_, shape, values))) => {
                    let k = shape.find(name, cursor).ok_or_else(give_up)?;
                    cursor = k + 1;
                    let (_, index, kind) = shape.keys[k];
                    if loader.marks[index] == loader.stamp {
                        return Err(give_up());
                    }
                    loader.marks[index] = loader.stamp;
                    values[index] = map.next_value_seed(Member { kind, loader: &mut *loader })?;
                }
                _ => return Err(give_up()),
            }
        }
        let (Some(id), Some((entity, _, values))) = (id, object) else { return Err(give_up()) };
        if !loader.entities.insert(id, entity) {
            return Err(give_up());
        }
        loader.store.put(Object { id, entity, values });
        Ok(())
    }
}

/// A whole number that fits an `i64` (as `serde_json::Value::as_i64`).
struct Whole;

impl<'de> DeserializeSeed<'de> for Whole {
    type Value = i64;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<i64, D::Error> {
        deserializer.deserialize_i64(self)
    }
}

impl<'de> Visitor<'de> for Whole {
    type Value = i64;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a whole number")
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<i64, E> {
        Ok(v)
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<i64, E> {
        i64::try_from(v).map_err(|_| give_up())
    }
}

/// The value of one member, as its kind accepts it.
struct Member<'l, 's, 'p> {
    kind: Kind,
    loader: &'l mut Loader<'s, 'p>,
}

impl<'de> DeserializeSeed<'de> for Member<'_, '_, '_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Member<'_, '_, '_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a member value")
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Value, E> {
        match self.kind {
            // As the reporting loader: `UserRoles` must be a list, even an empty one.
            Kind::UserRoles => Err(give_up()),
            Kind::ReferenceSet(_) => Ok(Value::List(Vec::new())),
            _ => Ok(Value::Empty),
        }
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Value, E> {
        match self.kind {
            Kind::Boolean => Ok(Value::Boolean(v)),
            _ => Err(give_up()),
        }
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Value, E> {
        match self.kind {
            Kind::Whole { narrow } if !narrow || i32::try_from(v).is_ok() => Ok(Value::Integer(v)),
            Kind::Decimal => Ok(Value::Decimal(Decimal::from(v))),
            _ => Err(give_up()),
        }
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Value, E> {
        match self.kind {
            Kind::Reference(to) => self.loader.target(v, to).map(Value::Object),
            Kind::Decimal => Ok(Value::Decimal(Decimal::from(v))),
            _ => i64::try_from(v).map_err(|_| give_up()).and_then(|v| self.visit_i64(v)),
        }
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Value, E> {
        match self.kind {
            // As the reporting loader: the number as serde_json writes it.
            Kind::Decimal => serde_json::Number::from_f64(v)
                .and_then(|n| Decimal::from_str(&n.to_string()).ok())
                .map(Value::Decimal)
                .ok_or_else(give_up),
            _ => Err(give_up()),
        }
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Value, E> {
        let program = self.loader.schema.program;
        let value = match self.kind {
            Kind::Text(max) => {
                let long = max.is_some_and(|n| v.len() > n as usize && v.chars().count() > n as usize);
                (!long).then(|| Value::String(v.to_owned()))
            }
            Kind::Decimal => Decimal::from_str(v).ok().map(Value::Decimal),
            Kind::DateTime => crate::time::parse_instant(v).map(Value::DateTime),
            Kind::Enum(e) => {
                program.enumeration(e).values.iter().position(|name| name == v).map(|i| Value::Enum(e, i as u32))
            }
            _ => None,
        };
        value.ok_or_else(give_up)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut ids = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        match self.kind {
            Kind::ReferenceSet(to) => {
                while let Some(id) = seq.next_element_seed(Whole)? {
                    let id = u64::try_from(id).map_err(|_| give_up())?;
                    ids.push(self.loader.target(id, to)?);
                }
            }
            Kind::UserRoles => {
                let program = self.loader.schema.program;
                while let Some(name) = seq.next_element::<Name<'de>>()? {
                    let role = program.user_role_by_name(&name.0).ok_or_else(give_up)?;
                    ids.push(ObjectId::of_role(role));
                }
            }
            _ => return Err(give_up()),
        }
        Ok(Value::List(ids))
    }
}
