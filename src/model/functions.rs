//! The built-in functions of microflow and test expressions, declared once: name,
//! parameters, result and evaluation. The checker reads the signature, evaluation the
//! rest; a function is in both or in neither.

use rust_decimal::Decimal;

use super::value::Value;
use super::xpath::Unit;
use super::Type;

/// A built-in function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Function {
    /// `count(list)`.
    Count,
    /// `length(s)`.
    Length,
    /// `toString(x)`.
    ToString,
    /// `contains(s, t)`.
    Contains,
    /// `startsWith(s, t)`.
    StartsWith,
    /// `endsWith(s, t)`.
    EndsWith,
    /// `toLowerCase(s)`.
    ToLowerCase,
    /// `toUpperCase(s)`.
    ToUpperCase,
    /// `trim(s)`.
    Trim,
    /// `parseInteger(s)`.
    ParseInteger,
    /// `parseDecimal(s)`.
    ParseDecimal,
    /// `addSeconds(d, n)` and the other `addX`: `n` lengths of a unit.
    Add(Unit),
}

/// A parameter's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Param {
    /// A value of this type (or one that fits it).
    Of(Type),
    /// Any value.
    Any,
    /// A list of objects of any entity.
    AnyList,
}

/// Every function with its name, parameters and result.
pub const FUNCTIONS: &[(Function, &str, &[Param], Type)] = &[
    (Function::Count, "count", &[Param::AnyList], Type::Integer),
    (Function::Length, "length", &[Param::Of(Type::String)], Type::Integer),
    (Function::ToString, "toString", &[Param::Any], Type::String),
    (Function::Contains, "contains", &[Param::Of(Type::String), Param::Of(Type::String)], Type::Boolean),
    (Function::StartsWith, "startsWith", &[Param::Of(Type::String), Param::Of(Type::String)], Type::Boolean),
    (Function::EndsWith, "endsWith", &[Param::Of(Type::String), Param::Of(Type::String)], Type::Boolean),
    (Function::ToLowerCase, "toLowerCase", &[Param::Of(Type::String)], Type::String),
    (Function::ToUpperCase, "toUpperCase", &[Param::Of(Type::String)], Type::String),
    (Function::Trim, "trim", &[Param::Of(Type::String)], Type::String),
    (Function::ParseInteger, "parseInteger", &[Param::Of(Type::String)], Type::Long),
    (Function::ParseDecimal, "parseDecimal", &[Param::Of(Type::String)], Type::Decimal),
    (Function::Add(Unit::Second), "addSeconds", &[Param::Of(Type::DateTime), Param::Of(Type::Long)], Type::DateTime),
    (Function::Add(Unit::Minute), "addMinutes", &[Param::Of(Type::DateTime), Param::Of(Type::Long)], Type::DateTime),
    (Function::Add(Unit::Hour), "addHours", &[Param::Of(Type::DateTime), Param::Of(Type::Long)], Type::DateTime),
    (Function::Add(Unit::Day), "addDays", &[Param::Of(Type::DateTime), Param::Of(Type::Long)], Type::DateTime),
    (Function::Add(Unit::Week), "addWeeks", &[Param::Of(Type::DateTime), Param::Of(Type::Long)], Type::DateTime),
    (Function::Add(Unit::Month), "addMonths", &[Param::Of(Type::DateTime), Param::Of(Type::Long)], Type::DateTime),
    (Function::Add(Unit::Year), "addYears", &[Param::Of(Type::DateTime), Param::Of(Type::Long)], Type::DateTime),
];

/// Why a function could not compute its value (a value of the wrong kind at run time).
#[derive(Clone, Debug, PartialEq)]
pub struct Mismatch {
    /// What it expected, in words.
    pub expected: &'static str,
    /// The argument that did not fit.
    pub found: Value,
}

impl Function {
    /// The function of a name.
    pub fn by_name(name: &str) -> Option<Function> {
        FUNCTIONS.iter().find(|(_, n, _, _)| *n == name).map(|(f, ..)| *f)
    }

    #[expect(clippy::expect_used, reason = "an invariant of the function table")]
    fn entry(self) -> &'static (Function, &'static str, &'static [Param], Type) {
        // INVARIANT: FUNCTIONS lists every function (the test below checks it).
        FUNCTIONS.iter().find(|(f, ..)| *f == self).expect("every function is in FUNCTIONS")
    }

    /// Its name, as written.
    pub fn name(self) -> &'static str {
        self.entry().1
    }

    /// Its parameters.
    pub fn params(self) -> &'static [Param] {
        self.entry().2
    }

    /// The type of its result.
    pub fn result(self) -> Type {
        self.entry().3
    }

    /// Its value for the arguments (checked already, so of the right count; an empty
    /// argument gives an empty result where the spec says so).
    pub fn apply(self, args: &[Value]) -> Result<Value, Mismatch> {
        let arg = |i: usize| args.get(i).cloned().unwrap_or(Value::Empty);
        let text = |i: usize| match arg(i) {
            Value::String(s) => Some(s),
            _ => None,
        };
        Ok(match self {
            Function::Count => match arg(0) {
                Value::List(ids) => Value::Integer(ids.len() as i64),
                Value::Empty => Value::Integer(0),
                other => return Err(Mismatch { expected: "a list", found: other }),
            },
            Function::Length => text(0).map_or(Value::Empty, |s| Value::Integer(s.chars().count() as i64)),
            Function::ToString => Value::String(plain(&arg(0))),
            Function::Contains => Value::Boolean(matches!((text(0), text(1)), (Some(a), Some(b)) if a.contains(&b))),
            Function::StartsWith => {
                Value::Boolean(matches!((text(0), text(1)), (Some(a), Some(b)) if a.starts_with(&b)))
            }
            Function::EndsWith => Value::Boolean(matches!((text(0), text(1)), (Some(a), Some(b)) if a.ends_with(&b))),
            Function::ToLowerCase => text(0).map_or(Value::Empty, |s| Value::String(s.to_lowercase())),
            Function::ToUpperCase => text(0).map_or(Value::Empty, |s| Value::String(s.to_uppercase())),
            Function::Trim => text(0).map_or(Value::Empty, |s| Value::String(s.trim().to_string())),
            Function::ParseInteger => text(0).and_then(|s| s.trim().parse().ok()).map_or(Value::Empty, Value::Integer),
            Function::ParseDecimal => {
                text(0).and_then(|s| s.trim().parse::<Decimal>().ok()).map_or(Value::Empty, Value::Decimal)
            }
            Function::Add(unit) => match (arg(0), arg(1)) {
                (Value::DateTime(t), Value::Integer(n)) => Value::DateTime(crate::time::add_length(t, unit, n)),
                (Value::Empty, _) | (_, Value::Empty) => Value::Empty,
                (other, _) => return Err(Mismatch { expected: "a date and time and a number", found: other }),
            },
        })
    }
}

/// A value as `toString` and string concatenation write it.
pub fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Empty => String::new(),
        Value::Integer(i) => i.to_string(),
        Value::Decimal(d) => d.to_string(),
        Value::Boolean(b) => b.to_string(),
        Value::DateTime(ms) => crate::time::format_instant(*ms),
        Value::Object(id) => id.to_string(),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_function_has_one_entry_and_its_name_finds_it() {
        for (f, name, ..) in FUNCTIONS {
            assert_eq!(Function::by_name(name), Some(*f));
            assert_eq!(FUNCTIONS.iter().filter(|(g, ..)| g == f).count(), 1, "{name}");
        }
    }
}
