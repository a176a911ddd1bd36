//! The registry of diagnostic codes: one table of every stable code warden
//! reports, with its severity and a short description of what it means. SARIF
//! rule descriptions and `warden explain-code` read it; a code never changes
//! meaning once it is here.

use crate::diagnostic::Severity;

/// One diagnostic code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Code {
    /// The code: `E0xxx` (syntax and check), `Rxxx` (evaluation), `Axxx` (audit).
    pub code: &'static str,
    /// How serious a diagnostic of this code is.
    pub severity: Severity,
    /// What the code is about, as one sentence without a final period.
    pub summary: &'static str,
}

const fn code(code: &'static str, severity: Severity, summary: &'static str) -> Code {
    Code { code, severity, summary }
}

use Severity::{Error, Info, Warning};

/// Every code, in order.
pub const CODES: &[Code] = &[
    // ---- Syntax (E00xx) ----
    code("E0001", Error, "The text does not follow the grammar of the language"),
    code("E0002", Error, "Brackets or expressions are nested deeper than the parser allows"),
    code("E0003", Error, "A string is not closed on its line"),
    code("E0004", Error, "A block comment is not closed"),
    code("E0005", Error, "A number is too large for an exact decimal"),
    code("E0006", Error, "A token string holds something other than tokens joined by + and -"),
    code("E0007", Error, "A file is not UTF-8 text"),
    // ---- Names (E01xx) ----
    code("E0101", Error, "A name is declared twice in the same scope"),
    code("E0102", Error, "More than one app is declared"),
    code("E0103", Error, "The built-in System module is redeclared"),
    code("E0104", Error, "An entity name resolves to no entity"),
    code("E0105", Error, "A member name resolves to no member of the entity"),
    code("E0106", Error, "A type name resolves to no type or enumeration"),
    code("E0107", Error, "A name is not a value of the enumeration"),
    code("E0108", Error, "A module role name resolves to no module role"),
    code("E0109", Error, "A user role name resolves to no user role"),
    code("E0110", Error, "A microflow name resolves to no microflow"),
    code("E0111", Error, "A variable is used before it is declared"),
    code("E0112", Error, "A `stores` line names something other than owner, changedBy, createdDate or changedDate"),
    code("E0113", Error, "An entity extends something it cannot (not an entity, a cycle, another persistence)"),
    code("E0114", Error, "A variable or parameter is named `currentUser`, which is implicit"),
    code("E0115", Error, "A member clashes with one the entity inherits"),
    // ---- Domain model (E02xx) ----
    code("E0201", Error, "An association cascades on one end and prevents on the other"),
    code("E0202", Error, "An `on delete` names something that is not an end of the association"),
    code("E0203", Error, "A default value does not fit the attribute's type"),
    code("E0204", Error, "A string length is not a whole number from 1 to 2147483647"),
    code("E0205", Error, "A persistent entity refers to a non-persistent one"),
    code("E0206", Error, "One end of an association is given two delete behaviours"),
    code("E0207", Error, "A `stores` member is given twice"),
    // ---- Roles and the app (E03xx) ----
    code("E0301", Error, "A public app has no anonymous user role"),
    code("E0302", Error, "The sign-in microflow does not take exactly AnonymousUser and SignedInUser"),
    code("E0303", Warning, "A sign-in microflow is named but the app has no anonymous role, so it never runs"),
    code("E0304", Error, "The anonymous user role is given to a user or managed"),
    code("E0305", Error, "An access rule names a module role of another module"),
    // ---- Access rules (E04xx) ----
    code("E0401", Error, "An access rule of a non-persistent entity has a `where` constraint"),
    code("E0402", Error, "An access rule writes a member the runtime keeps"),
    // ---- XPath (E05xx) ----
    code("E0501", Error, "An access rule uses `[%CurrentObject%]`"),
    code("E0502", Error, "An access rule uses a variable"),
    code("E0503", Error, "A token is not one warden knows"),
    code("E0504", Error, "A comparison's sides have incompatible types"),
    code("E0505", Error, "The object itself (`id`) is compared with a user role"),
    code("E0506", Error, "Arithmetic appears outside a token string"),
    code("E0507", Error, "An object id is written as a string literal"),
    code("E0508", Error, "A time zone name is not an IANA time zone"),
    code("E0509", Error, "A function is called with the wrong arguments"),
    code("E0510", Error, "A function name is not an XPath function"),
    code("E0511", Error, "A path step cannot follow the one before it"),
    code("E0512", Error, "An attribute that is not Boolean is used as a condition"),
    code("E0513", Error, "Date arithmetic with tokens that cannot take part in it"),
    code("E0514", Error, "A date and time literal is not RFC 3339"),
    code("E0515", Error, "An ordering (`<`, `>`) on a type that has no order"),
    // ---- Microflows and expressions (E06xx) ----
    code("E0601", Error, "A variable is declared twice in one scope"),
    code("E0602", Error, "A value has the wrong type for where it is used"),
    code("E0603", Error, "A call has a missing, unknown or repeated argument"),
    code("E0604", Error, "A test statement appears in a microflow"),
    code("E0605", Error, "An addition or removal (`+=`, `-=`) on a member that is not a reference set"),
    code("E0606", Error, "A microflow returns values of different types"),
    code("E0607", Error, "A variable that cannot be assigned is assigned"),
    code("E0608", Error, "A bare name is used as a value"),
    code("E0609", Error, "A member is read from something that is not an object"),
    // ---- Resources (E07xx) ----
    code("E0701", Error, "The anonymous role holds an operation other than VIEW and EXECUTE"),
    code("E0702", Error, "An operation name is not a runtime operation"),
    code("E0703", Error, "A component condition names a role that is not assigned where the component is"),
    code("E0704", Error, "A component names a swimlane the process does not have"),
    code("E0705", Error, "A component outside a process names a swimlane"),
    code("E0706", Warning, "A swimlane role has no permission on its process"),
    code("E0707", Error, "A resource or component name resolves to nothing"),
    // ---- Tests (E08xx) ----
    code("E0801", Error, "A test names a user that no `user` statement made"),
    code("E0802", Error, "A status code is not an HTTP status"),
    code("E0803", Error, "A test user's entity does not specialize System.User"),
    code("E0804", Error, "A statement appears where it cannot"),
    code("E0805", Error, "Two tests have the same name"),
    code("E0806", Error, "A workflow name resolves to no workflow"),
    // ---- Evaluation (Rxxx) ----
    code("R001", Error, "An operation the principal's access rules do not allow"),
    code("R002", Error, "An `error` statement ran"),
    code("R003", Error, "A delete was refused by a `prevent` delete behaviour"),
    code("R004", Error, "A value of the wrong kind at run time (an empty object, a division by zero, ...)"),
    code("R005", Error, "An `expect` does not hold"),
    code("R006", Error, "A principal or user that does not exist"),
    code("R007", Error, "A feature whose evaluation is not built"),
    code("R008", Error, "A run that did not stop: calls too deep or too many steps"),
    code("R009", Error, "The store could not write or commit"),
    code("R010", Error, "A commit would leave the store unable to load: a reference to an object that is not committed, or two users with one Name"),
    // ---- Audit (Axxx) ----
    code("A001", Warning, "The anonymous user role shares a module role with another user role"),
    code("A002", Error, "A rule gives the anonymous role write access without a `where` constraint"),
    code("A003", Warning, "A rule lets the anonymous role read every member of an entity"),
    code("A004", Warning, "A rule lets the anonymous role delete without a `where` constraint"),
    code("A005", Warning, "Objects tied to the anonymous user outlive it at sign-in"),
    code("A006", Info, "A resource grants the anonymous role, but the app is not public"),
    code("A007", Warning, "A resource's only role is the anonymous role"),
    code("A008", Warning, "A specialization has no access rules while its generalization has some"),
    code("A009", Warning, "A rule makes a HashedString member readable"),
    code("A010", Info, "A microflow no role may call, that no microflow calls and that is not the sign-in microflow"),
    code("A011", Warning, "A process gives a signed-in user role EXECUTE without SELF_ASSIGN, so it cannot start it"),
    code("A100", Warning, "A suppression comment without a code or a reason"),
    code("A101", Warning, "A suppression comment that suppresses nothing"),
];

/// The entry of a code, if warden has one (case-insensitive).
pub fn describe(code: &str) -> Option<&'static Code> {
    CODES.iter().find(|c| c.code.eq_ignore_ascii_case(code))
}

mod explanations;

/// The longer explanation of a code (case-insensitive), as Markdown: what triggers it, why it
/// matters, an example that produces it and the example fixed (`warden explain-code`, SARIF's
/// `help`, `docs/codes.md`).
pub fn explanation(code: &str) -> Option<&'static str> {
    explanations::get(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_sorted_and_unique() {
        let kind = |c: &str| match &c[..1] {
            "E" => 0,
            "R" => 1,
            _ => 2,
        };
        for pair in CODES.windows(2) {
            let (a, b) = (pair[0].code, pair[1].code);
            assert!((kind(a), a) < (kind(b), b), "{a} before {b}");
        }
    }

    #[test]
    fn summaries_read_as_one_sentence() {
        for c in CODES {
            assert!(!c.summary.ends_with('.'), "{}: no final period", c.code);
            assert!(c.summary.chars().next().is_some_and(char::is_uppercase), "{}: a capital first", c.code);
        }
    }

    #[test]
    fn lookup_ignores_case() {
        assert_eq!(describe("e0105").map(|c| c.code), Some("E0105"));
        assert_eq!(describe("A999"), None);
    }
}

#[cfg(test)]
mod registry_tests {
    /// Every code written in the sources as a string literal has an entry.
    #[test]
    fn every_code_in_the_sources_is_registered() {
        let mut missing = Vec::new();
        let mut stack = vec![std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/src"))];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).expect("src/ is readable") {
                let path = entry.expect("an entry").path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                if path.extension().is_none_or(|e| e != "rs") || path.ends_with("codes.rs") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).expect("a source file");
                for (i, _) in text.match_indices('"') {
                    let rest = &text[i + 1..];
                    let Some(end) = rest.find('"') else { continue };
                    let literal = &rest[..end];
                    let is_code = matches!(literal.len(), 4 | 5)
                        && matches!(literal.as_bytes()[0], b'E' | b'R' | b'A')
                        && literal[1..].bytes().all(|b| b.is_ascii_digit());
                    if is_code && super::describe(literal).is_none() {
                        missing.push(format!("{literal} in {}", path.display()));
                    }
                }
            }
        }
        assert!(missing.is_empty(), "codes without a registry entry: {missing:?}");
    }
}
