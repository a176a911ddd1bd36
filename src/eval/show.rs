//! Values as the acting principal sees them: objects show only the members it may read.

use serde_json::{json, Map, Value as Json};

use super::access::Op;
use super::Engine;
use crate::store::{value_json, Object, ObjectId, Value};

impl Engine<'_> {
    /// The members of an object the acting principal may read, in declaration order.
    pub fn readable_members(&self, object: &Object) -> Vec<(String, Value)> {
        let def = self.program.entity(object.entity);
        def.members
            .iter()
            .enumerate()
            .filter(|(i, _)| self.allowed(Op::Read(*i), object))
            .map(|(i, m)| (m.name.to_string(), object.values[i].clone()))
            .collect()
    }

    /// A value as `warden eval` prints it.
    pub fn show(&self, value: &Value) -> String {
        match value {
            Value::Object(id) => self.show_object(*id),
            Value::List(ids) if ids.is_empty() => "[]".into(),
            Value::List(ids) => ids.iter().map(|id| self.show_object(*id)).collect::<Vec<_>>().join("\n"),
            other => other.display(self.program),
        }
    }

    fn show_object(&self, id: ObjectId) -> String {
        let Some(object) = self.object(id) else { return format!("{id} (deleted)") };
        let name = &self.program.entity(object.entity).name;
        if !self.allowed(Op::See, &object) {
            return format!("{name} {id} (not visible)");
        }
        let members: Vec<String> = self
            .readable_members(&object)
            .into_iter()
            .map(|(m, v)| format!("{m}: {}", v.display(self.program)))
            .collect();
        if members.is_empty() {
            format!("{name} {id}")
        } else {
            format!("{name} {id} {{ {} }}", members.join(", "))
        }
    }

    /// A value in the JSON of `warden eval --format json`: objects as `{id, entity, readable members}`.
    pub fn show_json(&self, value: &Value) -> Json {
        match value {
            Value::Object(id) => self.object_json(*id),
            Value::List(ids) => Json::Array(ids.iter().map(|id| self.object_json(*id)).collect()),
            other => value_json(self.program, other),
        }
    }

    fn object_json(&self, id: ObjectId) -> Json {
        let Some(object) = self.object(id).filter(|o| self.allowed(Op::See, o)) else {
            return json!({ "id": id.0, "visible": false });
        };
        let mut map = Map::new();
        map.insert("id".into(), json!(id.0));
        map.insert("entity".into(), json!(self.program.entity(object.entity).name.as_str()));
        for (name, value) in self.readable_members(&object) {
            map.insert(name, value_json(self.program, &value));
        }
        Json::Object(map)
    }
}
