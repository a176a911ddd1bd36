//! The JSON store format of the spec (`warden-store/1`): load with full
//! validation against the schema, save atomically.

use std::collections::HashMap;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::{json, Map, Value as Json};

use super::{MemoryStore, Object, ObjectId, Store, Value};
use crate::model::Multiplicity;
use crate::model::{AttrType, EntityId, MemberKind, Program, SYSTEM_USER, SYSTEM_USER_ROLE, SYSTEM_USER_ROLES};

mod fast;

/// The format tag written into every store.
pub(crate) const FORMAT: &str = "warden-store/1";

/// A problem in a store file, at a JSON path such as `objects[2].Total`. It shows
/// long values and paths shortened (a store may hold a 2 MB string).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}: {}", crate::diagnostic::shorten_name(path), crate::diagnostic::shorten(message))]
pub struct StoreError {
    /// Where in the document.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

fn err(path: impl Into<String>, message: impl Into<String>) -> StoreError {
    StoreError { path: path.into(), message: message.into() }
}

/// Loads a store document. Every problem is reported; a store with any problem is refused whole.
///
/// A valid document takes the fast path, one streaming pass into the store; any other, and
/// the few valid ones it leaves (see [`load_json_fast`]), take [`load_json_reporting`].
pub fn load_json(program: &Program, text: &str) -> Result<MemoryStore, Vec<StoreError>> {
    match fast::load(program, text) {
        Some(store) => Ok(store),
        None => load_json_reporting(program, text),
    }
}

/// The fast path of [`load_json`] alone: the store of a valid document, or `None` for an
/// invalid one and for a valid one it leaves to [`load_json_reporting`] (a member before the
/// object's `entity`, a key given twice). For the differential tests.
#[doc(hidden)]
pub fn load_json_fast(program: &Program, text: &str) -> Option<MemoryStore> {
    fast::load(program, text)
}

/// [`load_json`] without its fast path: the whole document parsed, then checked in two passes
/// (ids and entities, then members), every problem reported with its path. For the
/// differential tests.
#[doc(hidden)]
pub fn load_json_reporting(program: &Program, text: &str) -> Result<MemoryStore, Vec<StoreError>> {
    let doc: Json = serde_json::from_str(text).map_err(|e| vec![err("$", format!("not JSON: {e}"))])?;
    let mut errors = Vec::new();
    let Some(top) = doc.as_object() else { return Err(vec![err("$", "expected an object")]) };
    match top.get("format").and_then(Json::as_str) {
        Some(FORMAT) => {}
        Some(other) => errors.push(err("format", format!("unknown format `{other}`; expected `{FORMAT}`"))),
        None => errors.push(err("format", format!("missing; expected `\"format\": \"{FORMAT}\"`"))),
    }
    for key in top.keys().filter(|k| *k != "format" && *k != "objects") {
        errors.push(err(key.as_str(), "unknown key; a store has `format` and `objects`"));
    }
    let empty = Vec::new();
    let objects = match top.get("objects") {
        Some(Json::Array(a)) => a,
        Some(_) => {
            errors.push(err("objects", "expected an array"));
            &empty
        }
        None => &empty,
    };

    // First pass: ids and entities, so that references can be checked whatever their order.
    let mut entities: HashMap<u64, EntityId> = HashMap::new();
    let mut first_seen: HashMap<u64, usize> = HashMap::new();
    for (i, o) in objects.iter().enumerate() {
        let at = format!("objects[{i}]");
        let Some(o) = o.as_object() else {
            errors.push(err(&at, "expected an object"));
            continue;
        };
        let id = match o.get("id").and_then(Json::as_u64) {
            Some(id) if id > 0 && id < super::ROLE_OBJECT_BASE => id,
            _ => {
                errors.push(err(format!("{at}.id"), "expected a positive integer id"));
                continue;
            }
        };
        if let Some(prev) = first_seen.get(&id) {
            errors.push(err(format!("{at}.id"), format!("duplicate id {id}, also used by objects[{prev}]")));
            continue;
        }
        first_seen.insert(id, i);
        match o.get("entity").and_then(Json::as_str) {
            Some(name) => match program.entity_by_name(name) {
                Some(SYSTEM_USER_ROLE) => errors.push(err(
                    format!("{at}.entity"),
                    "System.UserRole objects are implied by the declared user roles; list a user's roles under `UserRoles`",
                )),
                Some(e) if !program.entity(e).persistent => errors.push(err(
                    format!("{at}.entity"),
                    format!("`{name}` is non-persistent: its objects live only in the session that made them and are never stored"),
                )),
                Some(e) => {
                    entities.insert(id, e);
                }
                None => {
                    let names: Vec<&str> = program.entities.iter().map(|e| e.name.as_str()).collect();
                    let hint = crate::diagnostic::suggest::hint(name, names);
                    errors.push(err(format!("{at}.entity"), format!("unknown entity `{name}`{hint}")));
                }
            },
            None => errors.push(err(format!("{at}.entity"), "expected the entity's qualified name")),
        }
    }

    // Second pass: members.
    let mut store = MemoryStore::new();
    for (i, o) in objects.iter().enumerate() {
        let Some(o) = o.as_object() else { continue };
        let Some(id) = o.get("id").and_then(Json::as_u64) else { continue };
        let Some(&entity) = entities.get(&id) else { continue };
        if first_seen.get(&id) != Some(&i) {
            continue;
        }
        let at = format!("objects[{i}]");
        let mut object = Object::new(program, ObjectId(id), entity);
        for (key, value) in o {
            if key == "id" || key == "entity" {
                continue;
            }
            let path = format!("{at}.{key}");
            let def = program.entity(entity);
            if key == "UserRoles" && program.is_a(entity, SYSTEM_USER) {
                let index = crate::model::user_member::USER_ROLES;
                match user_roles(program, value, &path) {
                    Ok(ids) => object.values[index] = Value::List(ids),
                    Err(mut e) => errors.append(&mut e),
                }
                continue;
            }
            let Some(index) = def.members.iter().position(|m| m.name == *key) else {
                let names: Vec<&str> = def.members.iter().map(|m| m.name.as_str()).collect();
                let hint = crate::diagnostic::suggest::hint(key, names);
                errors.push(err(&path, format!("`{}` has no member `{key}`{hint}", def.name)));
                continue;
            };
            match member_value(program, entity, index, value, &entities) {
                Ok(v) => object.values[index] = v,
                Err(message) => errors.push(err(&path, message)),
            }
        }
        store.put(object);
    }
    errors.extend(duplicate_keys(text));
    if errors.is_empty() {
        for (id, member, message) in super::user_problems(program, &store) {
            let at = first_seen.get(&id.0).map_or_else(|| format!("id {}", id.0), |i| format!("objects[{i}]"));
            errors.push(err(format!("{at}.{member}"), message));
        }
    }
    if errors.is_empty() {
        Ok(store)
    } else {
        // In document order: by object, then as found.
        errors.sort_by_key(|e| object_index(&e.path));
        Err(errors)
    }
}

/// Keys given twice in one JSON object of the document (a JSON parser keeps one of them
/// silently, so a store that says two things is refused).
fn duplicate_keys(text: &str) -> Vec<StoreError> {
    use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

    struct Keys<'a> {
        path: String,
        out: &'a mut Vec<StoreError>,
    }

    impl<'de> DeserializeSeed<'de> for Keys<'_> {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
            deserializer.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for Keys<'_> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            let mut seen = std::collections::HashSet::new();
            while let Some(key) = map.next_key::<String>()? {
                let path = if self.path.is_empty() { key.clone() } else { format!("{}.{key}", self.path) };
                if !seen.insert(key) {
                    self.out.push(err(&path, "the key is given twice; give each member once"));
                }
                map.next_value_seed(Keys { path, out: &mut *self.out })?;
            }
            Ok(())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            let mut i = 0;
            while seq.next_element_seed(Keys { path: format!("{}[{i}]", self.path), out: &mut *self.out })?.is_some() {
                i += 1;
            }
            Ok(())
        }
        fn visit_bool<E>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E>(self, _: i64) -> Result<(), E> {
            Ok(())
        }
        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_str<E>(self, _: &str) -> Result<(), E> {
            Ok(())
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }
    }

    let mut out = Vec::new();
    let mut de = serde_json::Deserializer::from_str(text);
    let _ = Keys { path: String::new(), out: &mut out }.deserialize(&mut de);
    out
}

/// The N of a path `objects[N]...` (other paths first).
fn object_index(path: &str) -> Option<usize> {
    path.strip_prefix("objects[")?.split(']').next()?.parse().ok()
}

fn user_roles(program: &Program, value: &Json, path: &str) -> Result<Vec<ObjectId>, Vec<StoreError>> {
    let Some(items) = value.as_array() else { return Err(vec![err(path, "expected a list of user role names")]) };
    let mut ids = Vec::new();
    let mut errors = Vec::new();
    for (k, item) in items.iter().enumerate() {
        match item.as_str().and_then(|n| program.user_role_by_name(n)) {
            Some(role) => ids.push(ObjectId::of_role(role)),
            None => {
                let names: Vec<&str> = program.user_roles.iter().map(|r| r.name.as_str()).collect();
                let hint = item.as_str().map(|n| crate::diagnostic::suggest::hint(n, names)).unwrap_or_default();
                errors.push(err(format!("{path}[{k}]"), format!("unknown user role {item}{hint}")));
            }
        }
    }
    if errors.is_empty() {
        Ok(ids)
    } else {
        Err(errors)
    }
}

fn member_value(
    program: &Program,
    entity: EntityId,
    index: usize,
    value: &Json,
    entities: &HashMap<u64, EntityId>,
) -> Result<Value, String> {
    let member = &program.entity(entity).members[index];
    if value.is_null() {
        return Ok(match member.kind {
            MemberKind::Association(a) if program.assoc(a).multiplicity == Multiplicity::ReferenceSet => {
                Value::List(Vec::new())
            }
            _ => Value::Empty,
        });
    }
    match member.kind {
        MemberKind::Attribute(ty) => attribute_value(program, ty, value),
        MemberKind::Association(a) => {
            let def = program.assoc(a);
            let target = |v: &Json| -> Result<ObjectId, String> {
                let id = v.as_u64().ok_or_else(|| format!("expected an object id, found {v}"))?;
                match entities.get(&id) {
                    Some(&e) if program.is_a(e, def.to) => Ok(ObjectId(id)),
                    Some(&e) => Err(format!(
                        "object {id} is a {}, but `{}` refers to {}",
                        program.entity(e).name,
                        def.name,
                        program.entity(def.to).name
                    )),
                    None if a == SYSTEM_USER_ROLES => Err("list user roles by name".into()),
                    None => Err(format!("object {id} does not exist")),
                }
            };
            match def.multiplicity {
                Multiplicity::Reference => target(value).map(Value::Object),
                Multiplicity::ReferenceSet => {
                    let items =
                        value.as_array().ok_or_else(|| format!("expected a list of object ids, found {value}"))?;
                    items.iter().map(target).collect::<Result<Vec<_>, _>>().map(Value::List)
                }
            }
        }
    }
}

fn attribute_value(program: &Program, ty: AttrType, value: &Json) -> Result<Value, String> {
    let found = || format!("found {value}");
    match ty {
        AttrType::String(max) => {
            let s = value.as_str().ok_or_else(|| format!("expected a string, {}", found()))?;
            match max {
                Some(n) if s.chars().count() > n as usize => Err(format!("longer than the {n} characters allowed")),
                _ => Ok(Value::String(s.to_string())),
            }
        }
        AttrType::HashedString => value.as_str().map(|s| Value::String(s.to_string())).ok_or_else(found),
        AttrType::Integer | AttrType::Long | AttrType::AutoNumber => {
            let n = value.as_i64().ok_or_else(|| format!("expected a whole number, {}", found()))?;
            if ty == AttrType::Integer && i32::try_from(n).is_err() {
                return Err(format!("{n} does not fit an Integer (32 bits); use Long"));
            }
            Ok(Value::Integer(n))
        }
        AttrType::Decimal => {
            let d = match value {
                Json::String(s) => Decimal::from_str(s).ok(),
                Json::Number(n) => Decimal::from_str(&n.to_string()).ok(),
                _ => None,
            };
            d.map(Value::Decimal).ok_or_else(|| format!("expected a decimal such as \"3.50\", {}", found()))
        }
        AttrType::Boolean => {
            value.as_bool().map(Value::Boolean).ok_or_else(|| format!("expected true or false, {}", found()))
        }
        AttrType::DateTime => {
            value.as_str().and_then(crate::time::parse_instant).map(Value::DateTime).ok_or_else(|| {
                format!("expected an RFC 3339 date and time such as \"2026-11-22T10:00:00Z\", {}", found())
            })
        }
        AttrType::Enum(e) => {
            let def = program.enumeration(e);
            let name = value.as_str().ok_or_else(|| format!("expected a value of {}, {}", def.name, found()))?;
            match def.values.iter().position(|v| v == name) {
                Some(i) => Ok(Value::Enum(e, i as u32)),
                None => Err(format!("`{name}` is not a value of {} ({})", def.name, def.values.join(", "))),
            }
        }
    }
}

/// The JSON document of a store (implied role objects left out, members in declaration order).
pub fn to_json(program: &Program, store: &dyn Store) -> Json {
    let objects: Vec<Json> = store.all().iter().filter_map(|o| object_json(program, o)).collect();
    json!({ "format": FORMAT, "objects": objects })
}

/// One object of the document of [`to_json`] (`None`: an implied role object, never written).
fn object_json(program: &Program, o: &Object) -> Option<Json> {
    if o.id.role().is_some() {
        return None;
    }
    let def = program.entity(o.entity);
    let mut map = Map::new();
    map.insert("id".into(), json!(o.id.0));
    map.insert("entity".into(), json!(def.name.as_str()));
    for (member, value) in def.members.iter().zip(&o.values) {
        let empty = matches!(value, Value::Empty) || matches!(value, Value::List(l) if l.is_empty());
        if empty && member.default.is_none() {
            continue;
        }
        if let (MemberKind::Association(SYSTEM_USER_ROLES), Value::List(ids)) = (member.kind, value) {
            let names: Vec<&str> =
                ids.iter().filter_map(|id| id.role()).map(|r| program.user_role(r).name.as_str()).collect();
            map.insert("UserRoles".into(), json!(names));
            continue;
        }
        map.insert(member.name.to_string(), value_json(program, value));
    }
    Some(Json::Object(map))
}

/// A value in the store format.
pub fn value_json(program: &Program, value: &Value) -> Json {
    match value {
        Value::Empty => Json::Null,
        Value::String(s) => json!(s),
        Value::Integer(i) => json!(i),
        Value::Decimal(d) => json!(d.to_string()),
        Value::Boolean(b) => json!(b),
        Value::DateTime(ms) => json!(crate::time::format_instant(*ms)),
        Value::Enum(e, i) => json!(program.enumeration(*e).values[*i as usize].as_str()),
        Value::Object(id) => json!(id.0),
        Value::List(ids) => json!(ids.iter().map(|i| i.0).collect::<Vec<_>>()),
        Value::Duration { months, millis } => json!({ "months": months, "millis": millis }),
        Value::Instance(i) => json!(i),
    }
}

/// The text of a store file: the document of [`to_json`], one object per line.
pub(crate) fn store_text(program: &Program, store: &dyn Store) -> String {
    pretty(&to_json(program, store))
}

/// The text of a store file before its first object.
pub(super) fn text_head() -> String {
    format!("{{\n  \"format\": \"{FORMAT}\",\n  \"objects\": [\n")
}

/// The text of a store file after its last object (and the line break that ends it).
pub(super) const TEXT_TAIL: &str = "  ]\n}\n";

/// One object's line of a store file, without the comma and line break that follow it
/// (`None`: an implied role object, never written). [`store_text`] writes the same lines.
pub(super) fn object_line(program: &Program, o: &Object) -> Option<String> {
    object_json(program, o).map(|o| line(&o))
}

fn line(o: &Json) -> String {
    let fields: Vec<String> = o
        .as_object()
        .map(|m| m.iter().map(|(k, v)| format!("{}: {v}", Json::String(k.clone()))).collect())
        .unwrap_or_default();
    format!("    {{ {} }}", fields.join(", "))
}

/// One object per line, as in the spec's example stores.
fn pretty(doc: &Json) -> String {
    let mut out = text_head();
    let objects = doc["objects"].as_array().cloned().unwrap_or_default();
    for (i, o) in objects.iter().enumerate() {
        let comma = if i + 1 < objects.len() { "," } else { "" };
        out.push_str(&format!("{}{comma}\n", line(o)));
    }
    out.push_str(TEXT_TAIL);
    out
}
