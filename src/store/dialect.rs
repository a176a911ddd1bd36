//! How SQL is spelled for each database a store speaks: identifiers, parameters, truth
//! values, case folding, the XPath functions and exact decimal order. The translation of
//! retrieves (`eval::sql`) builds every query through a [`Dialect`], so one translation
//! serves every SQL store; what a dialect cannot say exactly it declines (`None`), and the
//! translation then leaves that constraint to the evaluator, which checks the candidates.
//!
//! SQLite runs warden's own code for the functions (registered by `store::sqlite`), so its
//! answers are the evaluator's by construction. PostgreSQL spells them in SQL: `lower()`,
//! `strpos`, `EXTRACT` in the zone with `AT TIME ZONE`; `tests/postgres.rs` holds them to the
//! evaluator's answers (`store::postgres` runs them).

use crate::model::xpath::{DatePart, Func};

/// The SQL spelling of one database.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Dialect {
    /// SQLite 3 (`store::sqlite`): `?` parameters, 0 and 1 for truth, warden's SQL functions.
    #[default]
    Sqlite,
    /// PostgreSQL: `$1` parameters, `TRUE` and `FALSE`, functions written in SQL.
    Postgres,
}

/// How a store's SQL folds case as the evaluator does
/// ([`fold_case`](crate::model::functions::fold_case)), for `=`, `!=` and the string tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Folding {
    /// With its own fold: `warden_fold` in SQLite, `lower()` in a PostgreSQL database whose C
    /// library knows every lowercase form this build knows.
    #[default]
    Exact,
    /// With `pg_temp.warden_fold`, which the PostgreSQL store makes at open: `lower()` after
    /// `translate` maps the letters that the database's C library does not lower yet (added to
    /// Unicode after it was built).
    Function,
    /// Not in SQL: comparisons that ignore case are left to the evaluator (a PostgreSQL
    /// database under the `C` collation, which lowers ASCII only).
    Unknown,
}

/// Quotes an identifier (`"Shop.Cart"`), the same in every dialect.
pub fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl Dialect {
    /// Quotes an identifier.
    pub fn quote(self, name: &str) -> String {
        quote(name)
    }

    /// The placeholder of the `n`th parameter (counting from 1).
    pub fn param(self, n: usize) -> String {
        match self {
            Dialect::Sqlite => "?".into(),
            Dialect::Postgres => format!("${n}"),
        }
    }

    /// A condition that always holds (`true`) or never does.
    pub fn truth(self, value: bool) -> &'static str {
        match (self, value) {
            (Dialect::Sqlite, true) => "1",
            (Dialect::Sqlite, false) => "0",
            (Dialect::Postgres, true) => "TRUE",
            (Dialect::Postgres, false) => "FALSE",
        }
    }

    /// A query that selects no rows.
    pub fn nothing(self) -> String {
        format!("SELECT NULL WHERE {}", self.truth(false))
    }

    /// A condition that is false where `condition` is NULL.
    pub fn or_false(self, condition: &str) -> String {
        format!("COALESCE({condition}, {})", self.truth(false))
    }

    /// Text folded for case-insensitive `=` and `!=` (as the evaluator folds it), or `None`
    /// when the store cannot.
    pub fn fold(self, folding: &Folding, text: &str) -> Option<String> {
        match (self, folding) {
            (_, Folding::Unknown) => None,
            (Dialect::Sqlite, _) => Some(format!("warden_fold({text})")),
            (Dialect::Postgres, Folding::Exact) => Some(format!("lower({text})")),
            (Dialect::Postgres, Folding::Function) => Some(format!("pg_temp.warden_fold({text})")),
        }
    }

    /// The order of two exact decimals as -1, 0 or 1 (NULL when either is empty).
    pub fn decimal_cmp(self, a: &str, b: &str) -> String {
        match self {
            Dialect::Sqlite => format!("warden_decimal_cmp({a}, {b})"),
            // Through text: a decimal parameter is text, and an integer column is compared too.
            Dialect::Postgres => {
                format!("sign(CAST(CAST({a} AS TEXT) AS NUMERIC) - CAST(CAST({b} AS TEXT) AS NUMERIC))")
            }
        }
    }

    /// A string test (`contains`, `starts-with`, `ends-with`, case-insensitive) of `text`
    /// against `pattern`, a parameter the translation folded already: 0/1 (false for an empty
    /// `text`). `None` for other functions.
    pub fn text_test(self, folding: &Folding, func: Func, text: &str, pattern: &str) -> Option<String> {
        match self {
            // The function the SQLite store registers for it (`model::functions::XFUNCTIONS`).
            Dialect::Sqlite if *folding == Folding::Unknown => None,
            Dialect::Sqlite => match func {
                Func::Contains | Func::StartsWith | Func::EndsWith => {
                    Some(format!("{}({text}, {pattern})", func.def().sql))
                }
                Func::Length | Func::DatePart(..) => None,
            },
            Dialect::Postgres => {
                // The pattern is a parameter the translation folded already.
                let (t, p) = (self.fold(folding, text)?, pattern);
                let test = match func {
                    Func::Contains => format!("strpos({t}, {p}) > 0"),
                    Func::StartsWith => format!("starts_with({t}, {p})"),
                    Func::EndsWith => format!("right({t}, char_length({p})) = {p}"),
                    Func::Length | Func::DatePart(..) => return None,
                };
                Some(self.or_false(&test))
            }
        }
    }

    /// An integer function of a column: `length` of text, or a date part of milliseconds
    /// since 1970 in a time zone (weekday 1 = Sunday, ISO weeks). NULL for an empty column.
    pub fn integer_function(self, func: Func, column: &str) -> Option<String> {
        match (self, func) {
            (Dialect::Sqlite, Func::Length) => Some(format!("{}({column})", func.def().sql)),
            // The part (by its position in `DatePart::ALL`) and the zone are checked names from
            // the program, not data.
            (Dialect::Sqlite, Func::DatePart(part, tz)) => {
                let index = DatePart::ALL.iter().position(|p| *p == part)?;
                Some(format!("{}({column}, {index}, '{}')", func.def().sql, tz.name()))
            }
            (Dialect::Postgres, Func::Length) => Some(format!("char_length({column})")),
            (Dialect::Postgres, Func::DatePart(part, tz)) => {
                let field = match part {
                    DatePart::Year => "YEAR",
                    DatePart::Quarter => "QUARTER",
                    DatePart::Month => "MONTH",
                    DatePart::Day => "DAY",
                    DatePart::DayOfYear => "DOY",
                    DatePart::Week => "WEEK",
                    DatePart::Weekday => "DOW",
                    DatePart::Hours => "HOUR",
                    DatePart::Minutes => "MINUTE",
                    DatePart::Seconds => "SECOND",
                };
                let at = format!("(to_timestamp({column} / 1000.0) AT TIME ZONE '{}')", tz.name());
                let plus = if part == DatePart::Weekday { " + 1" } else { "" };
                Some(format!("CAST(floor(EXTRACT({field} FROM {at})){plus} AS BIGINT)"))
            }
            (_, Func::Contains | Func::StartsWith | Func::EndsWith) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_and_postgres_spell_the_same_things_their_own_way() {
        let (s, p) = (Dialect::Sqlite, Dialect::Postgres);
        assert_eq!((s.param(3), p.param(3)), ("?".to_string(), "$3".to_string()));
        assert_eq!((s.truth(true), p.truth(false)), ("1", "FALSE"));
        assert_eq!(s.quote("Shop.Cart"), "\"Shop.Cart\"");
        assert_eq!(quote("a\"b"), "\"a\"\"b\"");
        let exact = Folding::Exact;
        assert_eq!(p.fold(&exact, "o.\"Name\"").as_deref(), Some("lower(o.\"Name\")"));
        assert_eq!(p.fold(&Folding::Function, "x").as_deref(), Some("pg_temp.warden_fold(x)"));
        assert_eq!(p.fold(&Folding::Unknown, "x"), None);
        assert_eq!(s.text_test(&exact, Func::Contains, "x", "?").as_deref(), Some("warden_contains(x, ?)"));
        assert_eq!(
            p.text_test(&exact, Func::StartsWith, "x", "$1").as_deref(),
            Some("COALESCE(starts_with(lower(x), $1), FALSE)")
        );
        assert_eq!(p.text_test(&Folding::Unknown, Func::Contains, "x", "$1"), None);
        assert_eq!(s.text_test(&exact, Func::Length, "x", "?"), None);
        let week = Func::DatePart(DatePart::Weekday, chrono_tz::Europe::Amsterdam);
        assert_eq!(s.integer_function(week, "c").as_deref(), Some("warden_date_part(c, 6, 'Europe/Amsterdam')"));
        assert_eq!(
            p.integer_function(week, "c").as_deref(),
            Some("CAST(floor(EXTRACT(DOW FROM (to_timestamp(c / 1000.0) AT TIME ZONE 'Europe/Amsterdam'))) + 1 AS BIGINT)")
        );
    }
}
