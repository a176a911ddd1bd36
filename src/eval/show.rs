//! Values as the acting principal sees them: objects show only the members it may read.

use serde_json::{json, Map, Value as Json};

use super::access::Op;
use super::Engine;
use crate::store::{value_json, Object, ObjectId, Value};

impl Engine<'_> {
    /// The members of an object the acting principal may read, in declaration order.
    /// References show only the objects the principal may know of, as `$o/Assoc` gives them.
    pub(crate) fn readable_members(&self, object: &Object) -> Vec<(String, Value)> {
        let def = self.program.entity(object.entity);
        def.members
            .iter()
            .enumerate()
            .filter(|(i, _)| self.allowed(Op::Read(*i), object))
            .map(|(i, m)| {
                let value = match &object.values[i] {
                    Value::Object(id) if !self.knows(*id) => Value::Empty,
                    Value::List(ids) => Value::List(ids.iter().copied().filter(|id| self.knows(*id)).collect()),
                    other => other.clone(),
                };
                (m.name.to_string(), value)
            })
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
        // Whatever the reason (deleted, another session's, not visible), one answer.
        if !self.knows(id) {
            return format!("no object {id} that you can see");
        }
        let Some(object) = self.object(id) else { return format!("no object {id} that you can see") };
        let name = &self.program.entity(object.entity).name;
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
        let Some(object) = self.object(id).filter(|_| self.knows(id)) else {
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
