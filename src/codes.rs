//! The registry of diagnostic codes: one table of every stable code warden
//! reports, with its severity and a short description of what it means. SARIF
//! rule descriptions and `warden explain-code` read it; a code never changes
//! meaning once it is here.

use serde::Serialize;

/// How serious a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; never fails a command.
    Info,
    /// Probably a mistake; fails only with `--fail-on warning`.
    Warning,
    /// The program or data is wrong.
    Error,
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// The registry: each code with its severity and summary, in order. The macro makes the
/// [`Code`] enum and the [`CODES`] table from one list, so a code cannot be used without an
/// entry or have an entry without a variant.
macro_rules! registry {
    ($($(#[$section:meta])* $code:ident $severity:ident $summary:literal;)*) => {
        /// A stable diagnostic code: `E0xxx` (syntax and check), `Rxxx` (evaluation),
        /// `Axxx` (audit). A code never changes meaning.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Code {
            $(#[doc = $summary] $code,)*
        }

        /// Every code with its entry, in order.
        pub const CODES: &[CodeInfo] = &[
            $(CodeInfo {
                code: Code::$code,
                severity: Severity::$severity,
                summary: $summary,
                explanation: include_str!(concat!("codes/explanations/", stringify!($code), ".md")),
            },)*
        ];

        impl Code {
            /// The code as written: `E0105`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Code::$code => stringify!($code),)*
                }
            }
        }
    };
}

/// One code's entry in the registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CodeInfo {
    /// The code.
    pub code: Code,
    /// How serious a diagnostic of this code is.
    pub severity: Severity,
    /// What the code is about, as one sentence without a final period.
    pub summary: &'static str,
    /// The longer explanation, as Markdown: what triggers it, why it matters, an example that
    /// produces it and the example fixed (`warden explain-code`, SARIF's `help`,
    /// `docs/codes.md`). Each is `codes/explanations/CODE.md`, as rustc keeps its error index;
    /// `tests/code_explanations.rs` runs every example. In an explanation, a block fenced as
    /// `rules example` is a program that reports the code (from `warden check`, `warden audit`
    /// or a failing `test` block) and no other error or warning; a block fenced as `rules
    /// fixed` reports no error or warning at all. A first line `// $ warden ARGS` runs that
    /// command over the block instead. A block fenced as `console example` holds `$ ` command
    /// lines that print the code when run in an empty directory.
    pub explanation: &'static str,
}

impl Code {
    /// The code's entry.
    pub fn info(self) -> &'static CodeInfo {
        // INVARIANT: the registry macro lists every variant in CODES, in declaration order.
        &CODES[self as usize]
    }

    /// How serious a diagnostic of this code is.
    pub fn severity(self) -> Severity {
        self.info().severity
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl PartialEq<&str> for Code {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<str> for Code {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialOrd for Code {
    fn partial_cmp(&self, other: &Code) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Codes order as they are written (`A003` before `E0105`), as diagnostics at one place sort.
impl Ord for Code {
    fn cmp(&self, other: &Code) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

registry! {

    // ---- Syntax (E00xx) ----
    E0001 Error "The text does not follow the grammar of the language";
    E0002 Error "Brackets or expressions are nested deeper than the parser allows";
    E0003 Error "A string is not closed on its line";
    E0004 Error "A block comment is not closed";
    E0005 Error "A number is too large for an exact decimal";
    E0006 Error "A token string holds something other than tokens joined by + and -";
    E0007 Error "A file is not UTF-8 text";
    // ---- Names (E01xx) ----
    E0101 Error "A name is declared twice in the same scope";
    E0102 Error "More than one app is declared";
    E0103 Error "The built-in System module is redeclared";
    E0104 Error "An entity name resolves to no entity";
    E0105 Error "A member name resolves to no member of the entity";
    E0106 Error "A type name resolves to no type or enumeration";
    E0107 Error "A name is not a value of the enumeration";
    E0108 Error "A module role name resolves to no module role";
    E0109 Error "A user role name resolves to no user role";
    E0110 Error "A microflow name resolves to no microflow";
    E0111 Error "A variable is used before it is declared";
    E0112 Error "A `stores` line names something other than owner, changedBy, createdDate or changedDate";
    E0113 Error "An entity extends something it cannot (not an entity, a cycle, another persistence)";
    E0114 Error "A variable or parameter is named `currentUser`, which is implicit";
    E0115 Error "A member clashes with one the entity inherits";
    // ---- Domain model (E02xx) ----
    E0201 Error "An association cascades on one end and prevents on the other";
    E0202 Error "An `on delete` names something that is not an end of the association";
    E0203 Error "A default value does not fit the attribute's type";
    E0204 Error "A string length is not a whole number from 1 to 2147483647";
    E0205 Error "A persistent entity refers to a non-persistent one";
    E0206 Error "One end of an association is given two delete behaviours";
    E0207 Error "A `stores` member is given twice";
    // ---- Roles and the app (E03xx) ----
    E0301 Error "A public app has no anonymous user role";
    E0302 Error "The sign-in microflow does not take exactly AnonymousUser and SignedInUser";
    E0303 Warning "A sign-in microflow is named but the app has no anonymous role, so it never runs";
    E0304 Error "The anonymous user role is given to a user or managed";
    E0305 Error "An access rule names a module role of another module";
    // ---- Access rules (E04xx) ----
    E0401 Error "An access rule of a non-persistent entity has a `where` constraint";
    E0402 Error "An access rule writes a member the runtime keeps";
    // ---- XPath (E05xx) ----
    E0501 Error "An access rule uses `[%CurrentObject%]`";
    E0502 Error "An access rule uses a variable";
    E0503 Error "A token is not one warden knows";
    E0504 Error "A comparison's sides have incompatible types";
    E0505 Error "The object itself (`id`) is compared with a user role";
    E0506 Error "Arithmetic appears outside a token string";
    E0507 Error "An object id is written as a string literal";
    E0508 Error "A time zone name is not an IANA time zone";
    E0509 Error "A function is called with the wrong arguments";
    E0510 Error "A function name is not an XPath function";
    E0511 Error "A path step cannot follow the one before it";
    E0512 Error "An attribute that is not Boolean is used as a condition";
    E0513 Error "Date arithmetic with tokens that cannot take part in it";
    E0514 Error "A date and time literal is not RFC 3339";
    E0515 Error "An ordering (`<`, `>`) on a type that has no order";
    // ---- Microflows and expressions (E06xx) ----
    E0601 Error "A variable is declared twice in one scope";
    E0602 Error "A value has the wrong type for where it is used";
    E0603 Error "A call has a missing, unknown or repeated argument";
    E0604 Error "A test statement appears in a microflow";
    E0605 Error "An addition or removal (`+=`, `-=`) on a member that is not a reference set";
    E0606 Error "A microflow returns values of different types";
    E0607 Error "A variable that cannot be assigned is assigned";
    E0608 Error "A bare name is used as a value";
    E0609 Error "A member is read from something that is not an object";
    // ---- Resources (E07xx) ----
    E0701 Error "The anonymous role holds an operation other than VIEW and EXECUTE";
    E0702 Error "An operation name is not a runtime operation";
    E0703 Error "A component condition names a role that is not assigned where the component is";
    E0704 Error "A component names a swimlane the process does not have";
    E0705 Error "A component outside a process names a swimlane";
    E0706 Warning "A swimlane role has no permission on its process";
    E0707 Error "A resource or component name resolves to nothing";
    // ---- Tests (E08xx) ----
    E0801 Error "A test names a user that no `user` statement made";
    E0802 Error "A status code is not an HTTP status";
    E0803 Error "A test user's entity does not specialize System.User";
    E0804 Error "A statement appears where it cannot";
    E0805 Error "Two tests have the same name";
    E0806 Error "A workflow name resolves to no workflow";
    // ---- Evaluation (Rxxx) ----
    R001 Error "An operation the principal's access rules do not allow";
    R002 Error "An `error` statement ran";
    R003 Error "A delete was refused by a `prevent` delete behaviour";
    R004 Error "A value of the wrong kind at run time (an empty object, a division by zero, ...)";
    R005 Error "An `expect` does not hold";
    R006 Error "A principal or user that does not exist";
    R007 Error "A feature whose evaluation is not built";
    R008 Error "A run that did not stop: calls too deep or too many steps";
    R009 Error "The store could not write or commit";
    R010 Error "A commit would leave the store unable to load: a reference to an object that is not committed, or two users with one Name";
    // ---- Audit (Axxx) ----
    A001 Warning "The anonymous user role shares a module role with another user role";
    A002 Error "A rule gives the anonymous role write access without a `where` constraint";
    A003 Warning "A rule lets the anonymous role read every member of an entity";
    A004 Warning "A rule lets the anonymous role delete without a `where` constraint";
    A005 Warning "Objects tied to the anonymous user outlive it at sign-in";
    A006 Info "A resource grants the anonymous role, but the app is not public";
    A007 Warning "A resource's only role is the anonymous role";
    A008 Warning "A specialization has no access rules while its generalization has some";
    A009 Warning "A rule makes a HashedString member readable";
    A010 Info "A microflow no role may call, that no microflow calls and that is not the sign-in microflow";
    A011 Warning "A process gives a signed-in user role EXECUTE without SELF_ASSIGN, so it cannot start it";
    A100 Warning "A suppression comment without a code or a reason";
    A101 Warning "A suppression comment that suppresses nothing";
}

/// The entry of a code, if warden has one (case-insensitive).
pub fn describe(code: &str) -> Option<&'static CodeInfo> {
    CODES.iter().find(|c| c.code.as_str().eq_ignore_ascii_case(code))
}

/// The longer explanation of a code (case-insensitive), as Markdown (see [`CodeInfo::explanation`]).
pub fn explanation(code: &str) -> Option<&'static str> {
    describe(code).map(|c| c.explanation)
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
            let (a, b) = (pair[0].code.as_str(), pair[1].code.as_str());
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
        assert_eq!(describe("e0105").map(|c| c.code), Some(Code::E0105));
        assert_eq!(describe("A999"), None);
    }
}

#[cfg(test)]
mod registry_tests {
    /// Codes are typed: no source file outside the registry writes one as a string, so a
    /// code in use is a variant, and every variant has its entry.
    #[test]
    fn no_code_is_written_as_a_string() {
        let mut written = Vec::new();
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
                    if is_code {
                        written.push(format!("{literal} in {}", path.display()));
                    }
                }
            }
        }
        assert!(written.is_empty(), "codes written as strings rather than `Code` variants: {written:?}");
    }

    #[test]
    fn each_code_finds_its_own_entry() {
        for (i, c) in super::CODES.iter().enumerate() {
            assert_eq!(c.code as usize, i);
            assert_eq!(c.code.info().code, c.code);
        }
    }
}
