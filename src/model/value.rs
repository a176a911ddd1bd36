//! Runtime values: what members, variables and expressions hold.

use crate::model::{EnumId, Program};
use rust_decimal::Decimal;

/// A stable object id: positive, unique in a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectId(pub u64);

/// Ids from here up name the implied `System.UserRole` objects, one per user role.
pub const ROLE_OBJECT_BASE: u64 = 1 << 62;

impl ObjectId {
    /// The implied `System.UserRole` object of a user role.
    pub fn of_role(role: crate::model::UserRoleId) -> ObjectId {
        ObjectId(ROLE_OBJECT_BASE + role.0 as u64)
    }

    /// The user role an implied role object stands for.
    pub fn role(self) -> Option<crate::model::UserRoleId> {
        (self.0 >= ROLE_OBJECT_BASE).then(|| crate::model::UserRoleId((self.0 - ROLE_OBJECT_BASE) as u32))
    }
}

impl std::fmt::Display for ObjectId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A value at run time.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// No value.
    Empty,
    /// Text.
    String(String),
    /// Integer, Long and AutoNumber values.
    Integer(i64),
    /// An exact decimal.
    Decimal(Decimal),
    /// A Boolean.
    Boolean(bool),
    /// A UTC instant in milliseconds since 1970.
    DateTime(i64),
    /// An enumeration value by index.
    Enum(EnumId, u32),
    /// A reference to an object.
    Object(ObjectId),
    /// A list of objects (reference sets, retrieves).
    List(Vec<ObjectId>),
    /// A calendar length: a number of months and milliseconds.
    Duration {
        /// Whole months (years are 12).
        months: i64,
        /// Milliseconds.
        millis: i64,
    },
    /// A process instance or UI flow session.
    Instance(u64),
}

impl Value {
    /// Whether the value is empty (an empty list counts as a value).
    pub fn is_empty(&self) -> bool {
        matches!(self, Value::Empty)
    }

    /// The value as a decimal, for numbers.
    pub(crate) fn as_decimal(&self) -> Option<Decimal> {
        match self {
            Value::Integer(i) => Some(Decimal::from(*i)),
            Value::Decimal(d) => Some(*d),
            _ => None,
        }
    }

    /// The value as written in results (`3.00`, `'text'`, `Shop.Status.Open`, `#4`).
    pub fn display(&self, program: &Program) -> String {
        match self {
            Value::Empty => "empty".into(),
            Value::String(s) => format!("'{}'", s.replace('\'', "''")),
            Value::Integer(i) => i.to_string(),
            Value::Decimal(d) => d.to_string(),
            Value::Boolean(b) => b.to_string(),
            Value::DateTime(ms) => crate::time::format_instant(*ms),
            Value::Enum(e, i) => {
                let def = program.enumeration(*e);
                format!("{}.{}", def.name, def.values[*i as usize])
            }
            // Id 0 is never given out: it stands for the user of a principal that has none.
            Value::Object(ObjectId(0)) => "(no user)".into(),
            Value::Object(id) => id.to_string(),
            Value::List(ids) => format!("[{}]", ids.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")),
            Value::Duration { months, millis } => format!("<length {months} months {millis} ms>"),
            Value::Instance(i) => format!("<instance {i}>"),
        }
    }
}
