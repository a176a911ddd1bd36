//! Syntax errors, and the words every grammar rule is described by in them.

use crate::codes::Code;
use pest::error::{ErrorVariant, InputLocation};

use super::Rule;
use crate::diagnostic::Diagnostic;
use crate::source::{FileId, Span};

/// A problem found while parsing one file.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ParseError {
    /// The text does not follow the grammar.
    #[error("{message}")]
    Syntax {
        /// `expected ..., found ...`
        message: String,
        /// Where the parser stopped.
        span: Span,
        /// A likely fix.
        help: Option<String>,
    },
    /// Brackets nested deeper than the parser allows.
    #[error("nested deeper than {limit} levels")]
    TooDeep {
        /// The limit.
        limit: usize,
        /// The bracket that went over it.
        span: Span,
    },
    /// A string that never ends.
    #[error("unterminated string")]
    UnterminatedString {
        /// The opening quote.
        span: Span,
    },
    /// A block comment that never ends.
    #[error("unterminated block comment")]
    UnterminatedComment {
        /// The opening `/*`.
        span: Span,
    },
    /// A number too large for an exact decimal.
    #[error("number `{text}` is out of range")]
    NumberOutOfRange {
        /// The number as written.
        text: String,
        /// Where.
        span: Span,
    },
    /// A `{` that is never closed, reported at the brace rather than where the parser stopped.
    #[error("unclosed `{{`: the block opened on line {line} is not closed")]
    Unclosed {
        /// The brace.
        span: Span,
        /// Its line, from 1.
        line: usize,
        /// Where the parser stopped.
        stopped: Span,
        /// What the parser said there (`expected ..., found ...`).
        said: String,
    },
    /// A token string whose content is not tokens with `+`, `-` and `n *`.
    #[error("malformed token expression `{text}`")]
    BadTokenString {
        /// The string's content.
        text: String,
        /// Where.
        span: Span,
    },
}

impl ParseError {
    /// The stable code.
    pub fn code(&self) -> Code {
        match self {
            ParseError::Syntax { .. } | ParseError::Unclosed { .. } => Code::E0001,
            ParseError::TooDeep { .. } => Code::E0002,
            ParseError::UnterminatedString { .. } => Code::E0003,
            ParseError::UnterminatedComment { .. } => Code::E0004,
            ParseError::NumberOutOfRange { .. } => Code::E0005,
            ParseError::BadTokenString { .. } => Code::E0006,
        }
    }

    /// Where.
    pub fn span(&self) -> Span {
        match self {
            ParseError::Syntax { span, .. }
            | ParseError::TooDeep { span, .. }
            | ParseError::Unclosed { span, .. }
            | ParseError::UnterminatedString { span }
            | ParseError::UnterminatedComment { span }
            | ParseError::NumberOutOfRange { span, .. }
            | ParseError::BadTokenString { span, .. } => *span,
        }
    }

    fn help(&self) -> Option<String> {
        match self {
            ParseError::TooDeep { .. } => Some("split the expression into smaller parts".into()),
            ParseError::UnterminatedString { .. } => {
                Some("close the string with the quote it opened with; write a quote inside it twice (`'it''s'`)".into())
            }
            ParseError::UnterminatedComment { .. } => Some("close the comment with `*/`".into()),
            ParseError::BadTokenString { .. } => Some(
                "a token string holds tokens joined by `+` or `-`, each optionally multiplied: `'[%CurrentDateTime%] - 2 * [%DayLength%]'`"
                    .into(),
            ),
            ParseError::Syntax { help, .. } => help.clone(),
            ParseError::Unclosed { .. } => Some("close the block with `}` where it ends".into()),
            ParseError::NumberOutOfRange { .. } => None,
        }
    }
}

impl From<ParseError> for Diagnostic {
    fn from(e: ParseError) -> Diagnostic {
        let d = Diagnostic::error(e.code(), e.to_string(), e.span()).with_optional_help(e.help());
        match e {
            ParseError::Unclosed { stopped, said, .. } => {
                d.with_label("this `{` is not closed").with_related(stopped, format!("the parser noticed here: {said}"))
            }
            _ => d,
        }
    }
}

/// How a rule reads in an error message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Described {
    /// A keyword, shown in backticks.
    Keyword(&'static str),
    /// A construct, already in words.
    Syntax(&'static str),
}

impl Described {
    fn text(self) -> String {
        match self {
            Described::Keyword(k) => format!("`{k}`"),
            Described::Syntax(s) => s.to_string(),
        }
    }
}

/// Whether a rule only marks a keyword (lowering skips these pairs).
#[inline]
pub(crate) fn is_keyword(rule: Rule) -> bool {
    matches!(describe(rule), Described::Keyword(_))
}

/// Converts pest's error into ours, with the expected constructs in words.
pub(crate) fn from_pest(error: pest::error::Error<Rule>, file: FileId, text: &str) -> ParseError {
    let pos = match error.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    };
    let found = describe_found(text, pos);
    let rest = &text[pos..];
    let word = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').map(char::len_utf8).sum::<usize>();
    let end = pos + if word > 0 { word } else { rest.chars().next().map_or(0, char::len_utf8) };
    let span = Span::new(file, pos, end);
    let expected = match &error.variant {
        ErrorVariant::ParsingError { positives, .. } => expected_words(positives),
        ErrorVariant::CustomError { message } => message.clone(),
    };
    let mut help = (word > 0 && expected == "an expression").then(|| {
        "a name on its own is not a value: write a variable (`$cart`) or an enumeration value (`Shop.Status.Open`)"
            .to_string()
    });
    if rest.starts_with('>') && text[..pos].trim_end().ends_with("->") {
        help = Some("a reference set is written `->*` (`Order ->* Tag`); `->` is a reference".into());
    }
    if rest.starts_with('=') && text[..pos].ends_with('=') {
        help = Some("`=` compares (there is no `==`): `Total = 5`".into());
    }
    if word > 0 && expected == "an XPath constraint `[...]`" {
        let line = rest.lines().next().unwrap_or_default().trim_end();
        let condition = line.strip_suffix('}').unwrap_or(line).trim_end();
        help = Some(format!("an XPath constraint is written in brackets: `where [{}]`", condition));
    }
    // A misspelt keyword (`acess`): the closest of the keywords the parser would take there.
    if let ErrorVariant::ParsingError { positives, .. } = &error.variant {
        let keywords = positives.iter().filter_map(|r| match describe(*r) {
            Described::Keyword(k) => Some(k),
            Described::Syntax(_) => None,
        });
        if let Some(k) = crate::diagnostic::suggest::closest(&rest[..word], keywords).filter(|_| word > 0) {
            help = Some(format!("did you mean `{k}`?"));
        }
    }
    let message = format!("expected {expected}, found {found}");
    if let Some(brace) = unclosed_brace(text, pos) {
        let line = text[..brace].matches('\n').count() + 1;
        return ParseError::Unclosed { span: Span::new(file, brace, brace + 1), line, stopped: span, said: message };
    }
    ParseError::Syntax { message, span, help }
}

/// The `{` that is most likely not closed, when the parser stopped at `pos` and
/// the file has more `{` than `}`: the innermost brace open at `pos` whose line is
/// indented at least as deep as the line the parser stopped on (a declaration
/// that starts at the brace's own depth shows that its block should have ended).
/// At the end of the file, the brace whose `}` went to an outer block (a `}`
/// indented less than the brace's line), else the innermost one left open.
fn unclosed_brace(text: &str, pos: usize) -> Option<usize> {
    if text[pos..].starts_with('}') {
        return None; // the parser stopped at a closing brace: the problem is before it
    }
    let indent = |at: usize| {
        let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
        (start, text[start..].chars().take_while(|c| *c == ' ' || *c == '\t').count())
    };
    let mut open: Vec<usize> = Vec::new();
    let mut at_pos: Option<Vec<usize>> = None;
    let mut swallowed: Option<usize> = None;
    for piece in super::scan::pieces(text) {
        if piece.kind != super::scan::PieceKind::Code {
            if piece.start >= pos && at_pos.is_none() {
                at_pos = Some(open.clone());
            }
            continue;
        }
        for (i, b) in text.bytes().enumerate().take(piece.end).skip(piece.start) {
            if i >= pos && at_pos.is_none() {
                at_pos = Some(open.clone());
            }
            match b {
                b'{' => open.push(i),
                b'}' => {
                    if let Some(brace) = open.pop() {
                        let (line_start, depth) = indent(i);
                        let first_on_line = text[line_start..i].trim().is_empty();
                        if swallowed.is_none() && first_on_line && depth < indent(brace).1 {
                            swallowed = Some(brace);
                        }
                    }
                }
                _ => {}
            }
        }
    }
    if open.is_empty() {
        return None;
    }
    let Some(at_pos) = at_pos else {
        // The end of the file.
        return swallowed.or(open.last().copied());
    };
    let (line_start, depth) = indent(pos);
    at_pos.into_iter().rev().find(|&brace| brace < line_start && indent(brace).1 >= depth)
}

fn expected_words(positives: &[Rule]) -> String {
    let mut words: Vec<String> = Vec::new();
    for rule in positives {
        let w = describe(*rule).text();
        if !words.contains(&w) {
            words.push(w);
        }
    }
    // Conditions and expressions are attempted through many small rules; name the construct instead.
    let summaries = [
        (
            "a condition such as `Total > 5`, `not(...)` or `(...)`",
            &["a condition", "a comparison", "a value or path", "a parenthesized condition"][..],
        ),
        ("an expression", &["an expression", "a parenthesized expression"][..]),
    ];
    for (summary, markers) in summaries {
        if words.iter().any(|w| markers.contains(&w.as_str())) {
            return summary.to_string();
        }
    }
    if words.len() > 6 {
        if let Some(w) = words.iter().find(|w| w.starts_with("a statement") || w.starts_with("a declaration")) {
            return w.clone();
        }
        words.truncate(6);
        words.push("something else".into());
    }
    match words.len() {
        0 => "something else".to_string(),
        1 => words.remove(0),
        _ => {
            let last = words.pop().unwrap_or_default();
            format!("{} or {}", words.join(", "), last)
        }
    }
}

fn describe_found(text: &str, pos: usize) -> String {
    let rest = &text[pos..];
    let Some(c) = rest.chars().next() else {
        return "the end of the file".to_string();
    };
    if c.is_alphanumeric() || c == '_' {
        let word: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').take(40).collect();
        format!("`{word}`")
    } else if c == '\n' || c == '\r' {
        "the end of the line".to_string()
    } else if c.is_control() {
        format!("the character U+{:04X}", c as u32)
    } else {
        format!("`{c}`")
    }
}

/// Every rule in words. Exhaustive, with no catch-all arm: a new rule must be described here.
pub fn describe(rule: Rule) -> Described {
    match rule {
        Rule::WHITESPACE => Described::Syntax("whitespace"),
        Rule::blank => Described::Syntax("whitespace"),
        Rule::line_comment => Described::Syntax("a comment"),
        Rule::block_comment => Described::Syntax("a comment"),
        Rule::ident_char => Described::Syntax("a letter or digit"),
        Rule::ident => Described::Syntax("a name"),
        Rule::qname => Described::Syntax("a name"),
        Rule::variable => Described::Syntax("a variable such as `$cart`"),
        Rule::object_ref => Described::Syntax("an object id such as `#12`"),
        Rule::string => Described::Syntax("a quoted string"),
        Rule::sq_string => Described::Syntax("a quoted string"),
        Rule::dq_string => Described::Syntax("a quoted string"),
        Rule::number => Described::Syntax("a number"),
        Rule::bare_token => Described::Syntax("a token such as `[%CurrentDateTime%]`"),
        Rule::lit_true => Described::Syntax("`true`"),
        Rule::lit_false => Described::Syntax("`false`"),
        Rule::lit_empty => Described::Syntax("`empty`"),
        Rule::kw_List => Described::Keyword("List"),
        Rule::kw_access => Described::Keyword("access"),
        Rule::kw_action => Described::Keyword("action"),
        Rule::kw_all => Described::Keyword("all"),
        Rule::kw_allow => Described::Keyword("allow"),
        Rule::kw_and => Described::Keyword("and"),
        Rule::kw_anonymous => Described::Keyword("anonymous"),
        Rule::kw_app => Described::Keyword("app"),
        Rule::kw_apply => Described::Keyword("apply"),
        Rule::kw_as => Described::Keyword("as"),
        Rule::kw_association => Described::Keyword("association"),
        Rule::kw_build => Described::Keyword("build"),
        Rule::kw_call => Described::Keyword("call"),
        Rule::kw_cascade => Described::Keyword("cascade"),
        Rule::kw_change => Described::Keyword("change"),
        Rule::kw_commit => Described::Keyword("commit"),
        Rule::kw_component => Described::Keyword("component"),
        Rule::kw_create => Described::Keyword("create"),
        Rule::kw_data => Described::Keyword("data"),
        Rule::kw_delete => Described::Keyword("delete"),
        Rule::kw_div => Described::Keyword("div"),
        Rule::kw_else => Described::Keyword("else"),
        Rule::kw_entity => Described::Keyword("entity"),
        Rule::kw_enumeration => Described::Keyword("enumeration"),
        Rule::kw_error => Described::Keyword("error"),
        Rule::kw_events => Described::Keyword("events"),
        Rule::kw_expect => Described::Keyword("expect"),
        Rule::kw_explain => Described::Keyword("explain"),
        Rule::kw_extends => Described::Keyword("extends"),
        Rule::kw_first => Described::Keyword("first"),
        Rule::kw_flow => Described::Keyword("flow"),
        Rule::kw_for => Described::Keyword("for"),
        Rule::kw_from => Described::Keyword("from"),
        Rule::kw_given => Described::Keyword("given"),
        Rule::kw_if => Described::Keyword("if"),
        Rule::kw_in => Described::Keyword("in"),
        Rule::kw_info => Described::Keyword("info"),
        Rule::kw_invalid => Described::Keyword("invalid"),
        Rule::kw_keep => Described::Keyword("keep"),
        Rule::kw_let => Described::Keyword("let"),
        Rule::kw_log => Described::Keyword("log"),
        Rule::kw_manages => Described::Keyword("manages"),
        Rule::kw_matrix => Described::Keyword("matrix"),
        Rule::kw_microflow => Described::Keyword("microflow"),
        Rule::kw_mod => Described::Keyword("mod"),
        Rule::kw_model => Described::Keyword("model"),
        Rule::kw_module => Described::Keyword("module"),
        Rule::kw_non_persistent => Described::Keyword("non-persistent"),
        Rule::kw_not => Described::Keyword("not"),
        Rule::kw_now => Described::Keyword("now"),
        Rule::kw_of => Described::Keyword("of"),
        Rule::kw_on => Described::Keyword("on"),
        Rule::kw_or => Described::Keyword("or"),
        Rule::kw_paths => Described::Keyword("paths"),
        Rule::kw_prevent => Described::Keyword("prevent"),
        Rule::kw_process => Described::Keyword("process"),
        Rule::kw_read => Described::Keyword("read"),
        Rule::kw_request => Described::Keyword("request"),
        Rule::kw_retrieve => Described::Keyword("retrieve"),
        Rule::kw_return => Described::Keyword("return"),
        Rule::kw_role => Described::Keyword("role"),
        Rule::kw_roles => Described::Keyword("roles"),
        Rule::kw_rollback => Described::Keyword("rollback"),
        Rule::kw_session => Described::Keyword("session"),
        Rule::kw_set => Described::Keyword("set"),
        Rule::kw_sign => Described::Keyword("sign"),
        Rule::kw_sign_in => Described::Keyword("sign-in"),
        Rule::kw_snapshot => Described::Keyword("snapshot"),
        Rule::kw_start => Described::Keyword("start"),
        Rule::kw_stores => Described::Keyword("stores"),
        Rule::kw_swimlane => Described::Keyword("swimlane"),
        Rule::kw_system => Described::Keyword("system"),
        Rule::kw_template => Described::Keyword("template"),
        Rule::kw_test => Described::Keyword("test"),
        Rule::kw_then => Described::Keyword("then"),
        Rule::kw_ui => Described::Keyword("ui"),
        Rule::kw_user => Described::Keyword("user"),
        Rule::kw_where => Described::Keyword("where"),
        Rule::kw_workflow => Described::Keyword("workflow"),
        Rule::kw_write => Described::Keyword("write"),
        Rule::file => Described::Syntax("a declaration"),
        Rule::item => Described::Syntax("a declaration (`module`, `user role`, `app`, `process`, `ui flow`, `template`, `workflow`, `test` or `snapshot`)"),
        Rule::module_decl => Described::Syntax("`module`"),
        Rule::module_item => Described::Syntax("a module declaration (`entity`, `enumeration`, `association`, `module role`, `access` or `microflow`)"),
        Rule::enumeration_decl => Described::Syntax("`enumeration`"),
        Rule::entity_decl => Described::Syntax("`entity`"),
        Rule::persistence => Described::Syntax("`non-persistent`"),
        Rule::extends_clause => Described::Syntax("`extends`"),
        Rule::entity_item => Described::Syntax("an attribute (`Name: Type`) or `stores`"),
        Rule::attribute_decl => Described::Syntax("an attribute (`Name: Type`)"),
        Rule::attribute_type => Described::Syntax("a type"),
        Rule::stores_decl => Described::Syntax("`stores`"),
        Rule::association_decl => Described::Syntax("`association`"),
        Rule::association_kind => Described::Syntax("`->` or `->*`"),
        Rule::delete_behaviour => Described::Syntax("`on delete`"),
        Rule::delete_action => Described::Syntax("`keep`, `cascade` or `prevent`"),
        Rule::keep_action => Described::Syntax("`keep`"),
        Rule::cascade_action => Described::Syntax("`cascade`"),
        Rule::prevent_action => Described::Syntax("`prevent`"),
        Rule::literal => Described::Syntax("a value"),
        Rule::module_role_decl => Described::Syntax("`module role`"),
        Rule::user_role_decl => Described::Syntax("`user role`"),
        Rule::manages_clause => Described::Syntax("`manages:`"),
        Rule::manages_all => Described::Syntax("`all`"),
        Rule::app_decl => Described::Syntax("`app`"),
        Rule::app_setting => Described::Syntax("an app setting (`access:`, `anonymous:` or `sign-in:`)"),
        Rule::app_access => Described::Syntax("`access:`"),
        Rule::access_level => Described::Syntax("`public` or `invited`"),
        Rule::app_anonymous => Described::Syntax("`anonymous:`"),
        Rule::app_sign_in => Described::Syntax("`sign-in:`"),
        Rule::access_rule => Described::Syntax("`access`"),
        Rule::access_item => Described::Syntax("`create`, `delete`, `read`, `write` or `where`"),
        Rule::grant_create => Described::Syntax("`create`"),
        Rule::grant_delete => Described::Syntax("`delete`"),
        Rule::grant_read => Described::Syntax("`read`"),
        Rule::grant_write => Described::Syntax("`write`"),
        Rule::member_list => Described::Syntax("member names or `*`"),
        Rule::all_members => Described::Syntax("`*`"),
        Rule::where_clause => Described::Syntax("`where`"),
        Rule::xpath_constraint => Described::Syntax("an XPath constraint `[...]`"),
        Rule::xp_or => Described::Syntax("a condition"),
        Rule::xp_and => Described::Syntax("a condition"),
        Rule::xp_unary => Described::Syntax("a condition"),
        Rule::xp_not => Described::Syntax("`not(...)`"),
        Rule::xp_group => Described::Syntax("a parenthesized condition"),
        Rule::xp_comparison => Described::Syntax("a comparison"),
        Rule::xp_arith => Described::Syntax("a value or path"),
        Rule::xp_operand => Described::Syntax("a value or path"),
        Rule::xp_bool => Described::Syntax("`true()` or `false()`"),
        Rule::xp_function => Described::Syntax("a function call"),
        Rule::xp_function_name => Described::Syntax("a function name"),
        Rule::xp_value => Described::Syntax("a value"),
        Rule::xp_path => Described::Syntax("a path"),
        Rule::xp_step => Described::Syntax("a path step"),
        Rule::op_cmp => Described::Syntax("a comparison operator (`=`, `!=`, `<`, `<=`, `>`, `>=`)"),
        Rule::op_arith => Described::Syntax("an arithmetic operator"),
        Rule::token_text => Described::Syntax("a token"),
        Rule::token_term => Described::Syntax("a token"),
        Rule::token_op => Described::Syntax("`+` or `-`"),
        Rule::microflow_decl => Described::Syntax("`microflow`"),
        Rule::parameter => Described::Syntax("a parameter (`Name: Type`)"),
        Rule::param_type => Described::Syntax("a type"),
        Rule::list_of => Described::Syntax("`List of`"),
        Rule::allow_clause => Described::Syntax("`allow`"),
        Rule::apply_access => Described::Syntax("`apply entity access`"),
        Rule::block => Described::Syntax("a block `{ ... }`"),
        Rule::statement => Described::Syntax("a statement"),
        Rule::let_stmt => Described::Syntax("`let`"),
        Rule::assign_stmt => Described::Syntax("an assignment"),
        Rule::change_stmt => Described::Syntax("`change`"),
        Rule::commit_stmt => Described::Syntax("`commit`"),
        Rule::delete_stmt => Described::Syntax("`delete`"),
        Rule::rollback_stmt => Described::Syntax("`rollback`"),
        Rule::for_stmt => Described::Syntax("`for`"),
        Rule::if_stmt => Described::Syntax("`if`"),
        Rule::return_stmt => Described::Syntax("`return`"),
        Rule::log_stmt => Described::Syntax("`log`"),
        Rule::error_stmt => Described::Syntax("`error`"),
        Rule::expr_stmt => Described::Syntax("an expression"),
        Rule::member_values => Described::Syntax("member values `{ ... }`"),
        Rule::member_value => Described::Syntax("a member value (`Member = value`)"),
        Rule::op_assign => Described::Syntax("`=`, `+=` or `-=`"),
        Rule::expr => Described::Syntax("an expression"),
        Rule::or_expr => Described::Syntax("an expression"),
        Rule::and_expr => Described::Syntax("an expression"),
        Rule::cmp_expr => Described::Syntax("an expression"),
        Rule::add_expr => Described::Syntax("an expression"),
        Rule::mul_expr => Described::Syntax("an expression"),
        Rule::unary_expr => Described::Syntax("an expression"),
        Rule::op_add => Described::Syntax("`+` or `-`"),
        Rule::op_mul => Described::Syntax("`*`, `div` or `mod`"),
        Rule::op_neg => Described::Syntax("`-`"),
        Rule::primary => Described::Syntax("an expression"),
        Rule::paren_expr => Described::Syntax("a parenthesized expression"),
        Rule::if_expr => Described::Syntax("`if ... then ... else ...`"),
        Rule::not_expr => Described::Syntax("`not(...)`"),
        Rule::create_expr => Described::Syntax("`create`"),
        Rule::retrieve_expr => Described::Syntax("`retrieve`"),
        Rule::retrieve_first => Described::Syntax("`first`"),
        Rule::call_expr => Described::Syntax("`call`"),
        Rule::argument => Described::Syntax("an argument (`Name = value`)"),
        Rule::datetime_expr => Described::Syntax("`dateTime(...)`"),
        Rule::func_call => Described::Syntax("a function call"),
        Rule::list_expr => Described::Syntax("a list `[...]`"),
        Rule::member_path => Described::Syntax("a variable or member path such as `$cart/Total`"),
        Rule::enum_value => Described::Syntax("an enumeration value such as `Shop.Status.Open`"),
        Rule::process_decl => Described::Syntax("`process`"),
        Rule::process_item => Described::Syntax("`roles`, `swimlane` or `component`"),
        Rule::ui_flow_decl => Described::Syntax("`ui flow`"),
        Rule::ui_flow_item => Described::Syntax("`roles` or `component`"),
        Rule::template_decl => Described::Syntax("`template`"),
        Rule::workflow_decl => Described::Syntax("`workflow`"),
        Rule::roles_block => Described::Syntax("`roles`"),
        Rule::role_grant => Described::Syntax("a role grant (`Role: VIEW, EXECUTE`)"),
        Rule::operation => Described::Syntax("an operation such as `VIEW`"),
        Rule::swimlane_decl => Described::Syntax("`swimlane`"),
        Rule::swimlane_roles => Described::Syntax("`roles:`"),
        Rule::component_decl => Described::Syntax("`component`"),
        Rule::component_rule => Described::Syntax("`hide for` or `disable for`"),
        Rule::component_effect => Described::Syntax("`hide` or `disable`"),
        Rule::test_decl => Described::Syntax("`test`"),
        Rule::snapshot_decl => Described::Syntax("`snapshot`"),
        Rule::now_stmt => Described::Syntax("`now`"),
        Rule::given_stmt => Described::Syntax("`given`"),
        Rule::user_stmt => Described::Syntax("`user`"),
        Rule::as_stmt => Described::Syntax("`as`"),
        Rule::principal => Described::Syntax("a principal (`system`, `anonymous` or a user name)"),
        Rule::as_system => Described::Syntax("`system`"),
        Rule::as_anonymous => Described::Syntax("`anonymous`"),
        Rule::sign_in_stmt => Described::Syntax("`sign in`"),
        Rule::set_access_stmt => Described::Syntax("`set access`"),
        Rule::explain_stmt => Described::Syntax("`explain`"),
        Rule::matrix_stmt => Described::Syntax("`matrix`"),
        Rule::expect_stmt => Described::Syntax("`expect`"),
        Rule::expect_decision => Described::Syntax("`allow` or `deny`"),
        Rule::decision => Described::Syntax("`allow` or `deny`"),
        Rule::expect_sign_in => Described::Syntax("`sign-in call`"),
        Rule::expect_error => Described::Syntax("`error`"),
        Rule::expect_request => Described::Syntax("`request`"),
        Rule::status_code => Described::Syntax("a status code such as `200`"),
        Rule::expect_component => Described::Syntax("a component state"),
        Rule::visibility => Described::Syntax("`visible`, `hidden` or `disabled`"),
        Rule::resource_kind => Described::Syntax("`process`, `ui flow` or `template`"),
        Rule::operation_check => Described::Syntax("an operation (`read`, `write`, `delete`, `create` or `call`)"),
        Rule::op_read => Described::Syntax("`read`"),
        Rule::op_write => Described::Syntax("`write`"),
        Rule::op_delete => Described::Syntax("`delete`"),
        Rule::op_create => Described::Syntax("`create`"),
        Rule::op_call => Described::Syntax("`call`"),
        Rule::request_expr => Described::Syntax("`request`"),
        Rule::request => Described::Syntax("a request"),
        Rule::request_option => Described::Syntax("`with token invalid` or `without session`"),
        Rule::with_invalid_token => Described::Syntax("`with token invalid`"),
        Rule::without_session => Described::Syntax("`without session`"),
        Rule::request_target => Described::Syntax("a request"),
        Rule::req_start_process => Described::Syntax("`start process`"),
        Rule::req_start_ui_flow => Described::Syntax("`start ui flow`"),
        Rule::req_start_workflow => Described::Syntax("`start workflow`"),
        Rule::req_data_model_paths => Described::Syntax("`data model paths`"),
        Rule::req_build_info_of => Described::Syntax("`build info`"),
        Rule::req_events => Described::Syntax("`events`"),
        Rule::req_action => Described::Syntax("`action`"),
        Rule::req_instance => Described::Syntax("`status`, `data`, `dismiss` or `upload`"),
        Rule::instance_verb => Described::Syntax("`status`, `data`, `dismiss` or `upload`"),
        Rule::req_global => Described::Syntax("an endpoint"),
        Rule::global_endpoint => Described::Syntax("an endpoint"),
        Rule::repl_input => Described::Syntax("a statement"),
        Rule::tok_colon => Described::Keyword(":"),
        Rule::tok_comma => Described::Keyword(","),
        Rule::tok_lbrace => Described::Keyword("{"),
        Rule::tok_rbrace => Described::Keyword("}"),
        Rule::tok_rparen => Described::Keyword(")"),
        Rule::tok_rbracket => Described::Keyword("]"),
        Rule::tok_arrow => Described::Keyword("->"),
        Rule::dotted_name => Described::Syntax("a qualified name such as `Shop.Account`"),
        Rule::EOI => Described::Syntax("the end of the file"),
    }
}
