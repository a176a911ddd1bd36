//! XPath constraints in their checked, compiled form: names are indices, types
//! are known, tokens are parsed. Evaluation walks this, never the syntax tree.

use smol_str::SmolStr;

use super::value::Value;
use super::{AssocId, AttrType, EntityId, MemberIndex, Type, UserRoleId};
use crate::model::CmpOp;
use crate::source::Span;

/// A condition on one object.
#[derive(Clone, Debug)]
pub enum Cond {
    /// `true()` / `false()`.
    Const(bool),
    /// All must hold.
    And(Vec<Cond>),
    /// One must hold.
    Or(Vec<Cond>),
    /// Negation (`not(...)`).
    Not(Box<Cond>),
    /// The path reaches at least one object.
    Exists(Path),
    /// A comparison, existential over many-valued paths.
    Compare {
        /// Left side.
        lhs: Operand,
        /// Operator.
        op: CmpOp,
        /// Right side.
        rhs: Operand,
        /// Where, for explanations.
        span: Span,
    },
    /// A Boolean function on its own (`contains(Name, 'x')`).
    Holds(Operand),
}

impl Cond {
    /// Where the condition is written, where it says (`true()` and function calls do not).
    pub fn span(&self) -> Option<Span> {
        match self {
            Cond::Compare { span, .. } => Some(*span),
            Cond::Exists(path) => Some(path.span),
            Cond::Not(inner) => inner.span(),
            Cond::And(terms) | Cond::Or(terms) => {
                let spans: Vec<Span> = terms.iter().filter_map(Cond::span).collect();
                Some(spans.first()?.to(*spans.last()?))
            }
            Cond::Holds(_) | Cond::Const(_) => None,
        }
    }
}

/// A walk from the current object through associations.
#[derive(Clone, Debug)]
pub struct Path {
    /// Association steps, each with the entity it arrives at.
    pub steps: Vec<Step>,
    /// What the path ends in.
    pub end: PathEnd,
    /// Where, for explanations.
    pub span: Span,
}

/// One association step.
#[derive(Clone, Debug)]
pub struct Step {
    /// The association walked.
    pub assoc: AssocId,
    /// True from the owning side to the target, false backwards.
    pub forward: bool,
    /// The entity arrived at: objects not of it (or a specialization) are dropped.
    pub entity: EntityId,
    /// Nested predicates on the objects arrived at.
    pub filter: Option<Box<Cond>>,
}

/// The end of a path.
#[derive(Clone, Debug)]
pub enum PathEnd {
    /// The objects arrived at (an existence test, `id`, or an association compared with an object).
    Object,
    /// An attribute of the objects arrived at.
    Attribute {
        /// Its index in the entity arrived at.
        member: MemberIndex,
        /// Its type.
        ty: AttrType,
    },
}

/// A side of a comparison or a function argument.
#[derive(Clone, Debug)]
pub enum Operand {
    /// Values along a path.
    Path(Path),
    /// A constant.
    Value(Value),
    /// A token (resolved at evaluation: the user, a role, an instant).
    Token(TokenExpr),
    /// A microflow or test variable (never in access rules).
    Var {
        /// Its name without `$`.
        name: SmolStr,
        /// Its type.
        ty: Type,
        /// Its slot in the frame of the body the retrieve is in.
        slot: super::Slot,
    },
    /// A function call.
    Func {
        /// Which function.
        func: Func,
        /// Its arguments.
        args: Vec<Operand>,
    },
}

/// A token expression: one object token, or date tokens with arithmetic.
#[derive(Clone, Debug)]
pub enum TokenExpr {
    /// `[%CurrentUser%]`
    CurrentUser,
    /// `[%UserRole_Name%]`
    UserRole(UserRoleId),
    /// Date tokens: `[%CurrentDateTime%] - 30 * [%DayLength%]`, applied left to right.
    Date(Vec<DateTerm>),
}

/// One term of date arithmetic.
#[derive(Clone, Debug)]
pub struct DateTerm {
    /// `+1` or `-1` times the factor.
    pub factor: i64,
    /// The token.
    pub token: DateToken,
}

/// The date tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DateToken {
    /// Now.
    CurrentDateTime,
    /// Start of a period.
    BeginOf(Period),
    /// End of a period (start of the next minus 1 ms).
    EndOf(Period),
    /// A length to add or subtract.
    Length(Unit),
}

/// Periods of `[%BeginOfX%]` / `[%EndOfX%]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Period {
    /// This minute.
    CurrentMinute,
    /// This hour.
    CurrentHour,
    /// Today.
    CurrentDay,
    /// Yesterday.
    Yesterday,
    /// Tomorrow.
    Tomorrow,
    /// This week, from Monday.
    CurrentWeek,
    /// This month.
    CurrentMonth,
    /// This year.
    CurrentYear,
}

/// Units of the length tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// 1 s.
    Second,
    /// 60 s.
    Minute,
    /// 3600 s.
    Hour,
    /// 24 h.
    Day,
    /// 7 days.
    Week,
    /// One calendar month (day clamped).
    Month,
    /// One calendar year (day clamped).
    Year,
}

/// XPath functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Func {
    /// `contains(s, t)`, case-insensitive.
    Contains,
    /// `starts-with(s, t)`, case-insensitive.
    StartsWith,
    /// `ends-with(s, t)`, case-insensitive.
    EndsWith,
    /// `length(s)` / `string-length(s)`.
    Length,
    /// A date part, in a time zone.
    DatePart(DatePart, chrono_tz::Tz),
}

/// The parts the date functions extract.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DatePart {
    /// `year-from-dateTime`
    Year,
    /// `quarter-from-dateTime`
    Quarter,
    /// `month-from-dateTime`
    Month,
    /// `day-from-dateTime`
    Day,
    /// `day-of-year-from-dateTime`
    DayOfYear,
    /// `week-from-dateTime` (ISO 8601)
    Week,
    /// `weekday-from-dateTime` (1 = Sunday)
    Weekday,
    /// `hours-from-dateTime`
    Hours,
    /// `minutes-from-dateTime`
    Minutes,
    /// `seconds-from-dateTime`
    Seconds,
}

impl DatePart {
    /// Every part, in the order the SQL function `warden_date_part` numbers them.
    pub const ALL: [DatePart; 10] = [
        DatePart::Year,
        DatePart::Quarter,
        DatePart::Month,
        DatePart::Day,
        DatePart::DayOfYear,
        DatePart::Week,
        DatePart::Weekday,
        DatePart::Hours,
        DatePart::Minutes,
        DatePart::Seconds,
    ];
}

/// The names of the date tokens with their meaning (the `UTC` forms are the same instants).
pub(crate) fn date_token(name: &str) -> Option<DateToken> {
    let name = name.strip_suffix("UTC").unwrap_or(name);
    let period = |p: &str| {
        Some(match p {
            "CurrentMinute" => Period::CurrentMinute,
            "CurrentHour" => Period::CurrentHour,
            "CurrentDay" => Period::CurrentDay,
            "Yesterday" => Period::Yesterday,
            "Tomorrow" => Period::Tomorrow,
            "CurrentWeek" => Period::CurrentWeek,
            "CurrentMonth" => Period::CurrentMonth,
            "CurrentYear" => Period::CurrentYear,
            _ => return None,
        })
    };
    if name == "CurrentDateTime" {
        return Some(DateToken::CurrentDateTime);
    }
    if let Some(p) = name.strip_prefix("BeginOf") {
        return period(p).map(DateToken::BeginOf);
    }
    if let Some(p) = name.strip_prefix("EndOf") {
        return period(p).map(DateToken::EndOf);
    }
    let unit = match name {
        "SecondLength" => Unit::Second,
        "MinuteLength" => Unit::Minute,
        "HourLength" => Unit::Hour,
        "DayLength" => Unit::Day,
        "WeekLength" => Unit::Week,
        "MonthLength" => Unit::Month,
        "YearLength" => Unit::Year,
        _ => return None,
    };
    Some(DateToken::Length(unit))
}

/// Every token name, for suggestions.
pub(crate) fn token_names() -> Vec<String> {
    let mut names = vec!["CurrentUser".to_string(), "CurrentDateTime".to_string(), "CurrentObject".to_string()];
    for p in [
        "CurrentMinute",
        "CurrentHour",
        "CurrentDay",
        "Yesterday",
        "Tomorrow",
        "CurrentWeek",
        "CurrentMonth",
        "CurrentYear",
    ] {
        for prefix in ["BeginOf", "EndOf"] {
            names.push(format!("{prefix}{p}"));
            names.push(format!("{prefix}{p}UTC"));
        }
    }
    for u in ["Second", "Minute", "Hour", "Day", "Week", "Month", "Year"] {
        names.push(format!("{u}Length"));
    }
    names
}
