//! The built-in functions, declared once each: those of microflow and test expressions
//! ([`FUNCTIONS`]) and those of XPath constraints ([`XFUNCTIONS`]), with name, parameters,
//! result, evaluation and, for XPath, the SQL function a store runs it as. The checker reads
//! the signature, evaluation and the SQL translation the rest; a function is in all of them
//! or in none.

use rust_decimal::Decimal;

use super::value::Value;
use super::xpath::{DatePart, Func, Unit};
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
    pub(crate) fn by_name(name: &str) -> Option<Function> {
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
    fn folding_maps_each_character_on_its_own() {
        assert_eq!(fold_case("ÄLPHA Beta"), "älpha beta");
        // Simple mappings: one character each, as PostgreSQL's `lower()`.
        assert_eq!(fold_case("İSTANBUL"), "istanbul");
        assert_eq!(fold_case("ΟΔΟΣ"), "οδοσ");
        assert_ne!("ΟΔΟΣ".to_lowercase(), "οδοσ");
        assert_eq!(fold_case("\u{a7cb}"), "\u{264}");
        // Folding twice is folding once (a string test's pattern is folded before SQLite's
        // functions fold it again).
        for c in (0..=char::MAX as u32).filter_map(char::from_u32) {
            let once = fold_case(c.encode_utf8(&mut [0; 4]));
            assert_eq!(fold_case(&once), once, "{c:?}");
        }
    }

    #[test]
    fn every_function_has_one_entry_and_its_name_finds_it() {
        for (f, name, ..) in FUNCTIONS {
            assert_eq!(Function::by_name(name), Some(*f));
            assert_eq!(FUNCTIONS.iter().filter(|(g, ..)| g == f).count(), 1, "{name}");
        }
    }
}

/// What an argument of an XPath function must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XParam {
    /// A string path or a string.
    Text,
    /// A DateTime path or a date.
    DateTime,
    /// An IANA time zone name as a quoted string; optional, and last.
    Zone,
}

/// The type an XPath function gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XResult {
    /// A condition on its own (`[contains(Name, 'x')]`).
    Boolean,
    /// A number to compare (`[length(Name) > 3]`).
    Integer,
}

/// An XPath function's entry in the registry.
#[derive(Clone, Copy, Debug)]
pub struct XFunction {
    /// Its names as written: the name, then any aliases.
    pub names: &'static [&'static str],
    /// The function (a date part in UTC until a zone is given).
    pub func: Func,
    /// Its parameters, in order.
    pub params: &'static [XParam],
    /// What it gives.
    pub result: XResult,
    /// What it takes, in words (the message of `E0509`).
    pub takes: &'static str,
    /// The SQL function the SQLite store registers for it (`store::sqlite`), which runs
    /// [`Func::apply`] itself.
    pub sql: &'static str,
}

const TEXT: &[XParam] = &[XParam::Text, XParam::Text];
const TEXT_TAKES: &str = "takes a string path and a string";
const DATE: &[XParam] = &[XParam::DateTime, XParam::Zone];
const DATE_TAKES: &str = "takes a DateTime path and, optionally, a time zone name";

/// A string predicate.
const fn text(names: &'static [&'static str], func: Func, sql: &'static str) -> XFunction {
    XFunction { names, func, params: TEXT, result: XResult::Boolean, takes: TEXT_TAKES, sql }
}

/// A date part, in UTC until a zone is given.
const fn date(names: &'static [&'static str], part: DatePart) -> XFunction {
    let func = Func::DatePart(part, chrono_tz::UTC);
    XFunction { names, func, params: DATE, result: XResult::Integer, takes: DATE_TAKES, sql: "warden_date_part" }
}

/// Every XPath function (section 5).
pub const XFUNCTIONS: &[XFunction] = &[
    text(&["contains"], Func::Contains, "warden_contains"),
    text(&["starts-with"], Func::StartsWith, "warden_starts"),
    text(&["ends-with"], Func::EndsWith, "warden_ends"),
    XFunction {
        names: &["length", "string-length"],
        func: Func::Length,
        params: &[XParam::Text],
        result: XResult::Integer,
        takes: "takes one string path",
        sql: "warden_length",
    },
    date(&["year-from-dateTime"], DatePart::Year),
    date(&["quarter-from-dateTime"], DatePart::Quarter),
    date(&["month-from-dateTime"], DatePart::Month),
    date(&["day-from-dateTime"], DatePart::Day),
    date(&["day-of-year-from-dateTime"], DatePart::DayOfYear),
    date(&["week-from-dateTime"], DatePart::Week),
    date(&["weekday-from-dateTime"], DatePart::Weekday),
    date(&["hours-from-dateTime"], DatePart::Hours),
    date(&["minutes-from-dateTime"], DatePart::Minutes),
    date(&["seconds-from-dateTime"], DatePart::Seconds),
];

/// The XPath function of a name, as written.
pub fn xfunction(name: &str) -> Option<&'static XFunction> {
    XFUNCTIONS.iter().find(|f| f.names.contains(&name))
}

impl Func {
    /// Its entry in the registry.
    #[expect(clippy::expect_used, reason = "an invariant of the function table")]
    pub fn def(self) -> &'static XFunction {
        // INVARIANT: XFUNCTIONS lists every function and every date part (the test below
        // checks it); a date part's zone does not pick its entry.
        XFUNCTIONS
            .iter()
            .find(|f| match (f.func, self) {
                (Func::DatePart(a, _), Func::DatePart(b, _)) => a == b,
                (a, b) => a == b,
            })
            .expect("every XPath function is in XFUNCTIONS")
    }

    /// Its value for the value of its first argument and, for the string predicates, the
    /// second: case-insensitive and false on empty for the predicates, empty on empty for
    /// the others (section 5).
    pub fn apply(self, value: &Value, arg: Option<&Value>) -> Value {
        let text = |v: &Value| match v {
            Value::String(s) => Some(fold_case(s)),
            _ => None,
        };
        match self {
            Func::Contains | Func::StartsWith | Func::EndsWith => {
                let (Some(s), Some(t)) = (text(value), arg.and_then(text)) else { return Value::Boolean(false) };
                Value::Boolean(match self {
                    Func::Contains => s.contains(&t),
                    Func::StartsWith => s.starts_with(&t),
                    _ => s.ends_with(&t),
                })
            }
            Func::Length => match value {
                Value::String(s) => Value::Integer(s.chars().count() as i64),
                _ => Value::Empty,
            },
            Func::DatePart(part, tz) => match value {
                Value::DateTime(ms) => Value::Integer(crate::time::date_part(*ms, part, tz)),
                _ => Value::Empty,
            },
        }
    }
}

#[cfg(test)]
mod xpath_tests {
    use super::*;

    #[test]
    fn every_xpath_function_has_one_entry() {
        let funcs = [Func::Contains, Func::StartsWith, Func::EndsWith, Func::Length];
        for f in funcs.into_iter().chain(DatePart::ALL.map(|p| Func::DatePart(p, chrono_tz::Europe::Amsterdam))) {
            let def = f.def();
            assert_eq!(XFUNCTIONS.iter().filter(|x| x.names == def.names).count(), 1, "{f:?}");
            assert!(def.names.iter().all(|n| xfunction(n).is_some_and(|x| x.names == def.names)));
        }
        assert_eq!(XFUNCTIONS.len(), funcs.len() + DatePart::ALL.len());
    }
}

/// Text as case-insensitive comparisons see it: each character by its simple lowercase
/// mapping, on its own. That is what PostgreSQL's `lower()` does in a UTF-8 database (and
/// Mendix there), so the PostgreSQL store can compare in SQL and answer as the evaluator.
/// It differs from [`str::to_lowercase`] in two characters: `İ` becomes `i` (not `i` and a
/// combining dot), and a final `Σ` becomes `σ` like any other (not `ς`).
pub fn fold_case(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\u{130}' => out.push('i'),
            c => out.extend(c.to_lowercase()),
        }
    }
    out
}
