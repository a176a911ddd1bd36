//! Resolution and type checking: turns parsed files into a [`Program`],
//! reporting every problem at once.
//!
//! The passes, in order: declarations and the schema ([`schema`]), roles and
//! the app ([`roles`]), access rules and their XPath ([`access`], [`xpath`]),
//! microflows and tests ([`flow`]), runtime resources ([`resources`]).

mod access;
mod errors;
mod expr;
mod flow;
mod resources;
mod roles;
mod schema;
mod suggest;
mod xpath;

pub use errors::CheckError;

use std::collections::HashSet;

use smol_str::SmolStr;

use crate::diagnostic::Diagnostic;
use crate::model::flow::Scope;
use crate::model::{MicroflowId, Program, Type};
use crate::source::{SourceMap, Span};
use crate::syntax::ast;

/// The result of checking: the program (usable as far as it resolved) and every diagnostic.
pub struct Checked {
    /// The resolved program.
    pub program: Program,
    /// Errors and warnings, sorted by position.
    pub diagnostics: Vec<Diagnostic>,
}

impl Checked {
    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Checks parsed files together.
pub fn check(sources: SourceMap, files: &[ast::File]) -> Checked {
    let mut checker = Checker {
        program: Program { sources, ..Program::default() },
        diagnostics: Vec::new(),
        checked_flows: HashSet::new(),
        decls_of_flows: Vec::new(),
    };
    schema::declare_system(&mut checker);
    let decls = schema::collect(&mut checker, files);
    schema::resolve(&mut checker, &decls);
    roles::resolve(&mut checker, &decls);
    access::resolve(&mut checker, &decls);
    flow::resolve_signatures(&mut checker, &decls);
    roles::check_app(&mut checker, &decls);
    resources::resolve(&mut checker, &decls);
    flow::check_bodies(&mut checker, &decls);
    flow::check_tests(&mut checker, files);
    let Checker { program, mut diagnostics, .. } = checker;
    crate::diagnostic::sort(&mut diagnostics);
    Checked { program, diagnostics }
}

/// Checks statements typed outside any file (`warden eval -e`, the REPL) against a checked
/// program, and resolves them. `scope` holds the variables bound by earlier statements, in slot
/// order; the statements' own variables extend it. Users are those of the store, so `as NAME`
/// is not checked here. The statements run only when no diagnostic is an error.
pub fn check_statements(program: &mut Program, stmts: &[ast::Stmt], scope: &Scope) -> Statements {
    let taken = std::mem::take(program);
    let flows = (0..taken.microflows.len() as u32).map(MicroflowId).collect();
    let mut checker =
        Checker { program: taken, diagnostics: Vec::new(), checked_flows: flows, decls_of_flows: Vec::new() };
    let (block, scope) = {
        let mut cx = flow::FlowCx::new(&mut checker, None, flow::Place::Test);
        cx.open_users();
        for (name, ty) in scope.names.iter().zip(&scope.types) {
            cx.bind(name, *ty);
        }
        let block = cx.block(stmts);
        (block, std::mem::take(&mut cx.frame))
    };
    let Checker { program: checked, mut diagnostics, .. } = checker;
    *program = checked;
    crate::diagnostic::sort(&mut diagnostics);
    Statements { stmts: block.stmts, scope, diagnostics }
}

/// Parses and checks statements given as text (added to the program's sources as `name`),
/// as [`check_statements`] does with no variables bound: the statements, or every diagnostic.
pub fn compile_statements(program: &mut Program, name: &str, text: &str) -> Result<Statements, Vec<Diagnostic>> {
    let file = program.sources.add(name, text.to_string());
    let stmts = crate::syntax::parse_statements(text, file).map_err(|e| vec![Diagnostic::from(e)])?;
    let checked = check_statements(program, &stmts, &Scope::default());
    if checked.has_errors() {
        return Err(checked.diagnostics);
    }
    Ok(checked)
}

/// Statements checked outside any file, resolved (see [`check_statements`]).
#[derive(Debug)]
pub struct Statements {
    /// The resolved statements.
    pub stmts: Vec<crate::model::flow::Stmt>,
    /// The variables bound after them: the earlier ones, then theirs.
    pub scope: Scope,
    /// What checking found.
    pub diagnostics: Vec<Diagnostic>,
}

impl Statements {
    /// Whether any diagnostic is an error (then the statements must not run).
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Checks `let $__type = EXPR` (from the REPL's `:type`) and returns the expression's type.
pub fn type_of_let(program: &mut Program, stmts: &[ast::Stmt], scope: &Scope) -> (Vec<Diagnostic>, Type) {
    let checked = check_statements(program, stmts, scope);
    let ty = checked.scope.slot("__type").map_or(Type::Unknown, |s| checked.scope.types[s]);
    (checked.diagnostics, ty)
}

/// The state of a check: the program built so far and what was found.
pub(crate) struct Checker {
    pub(crate) program: Program,
    pub(crate) diagnostics: Vec<Diagnostic>,
    /// Microflows whose bodies have been checked.
    pub(crate) checked_flows: HashSet<MicroflowId>,
    /// Each microflow's declaration, by id, while its body is checked.
    pub(crate) decls_of_flows: Vec<ast::Microflow>,
}

impl Checker {
    /// Reports a problem.
    pub(crate) fn report(&mut self, error: CheckError, span: Span) -> &mut Diagnostic {
        let diagnostic =
            Diagnostic { severity: error.severity(), ..Diagnostic::error(error.code(), error.to_string(), span) };
        self.diagnostics.push(diagnostic);
        self.diagnostics.last_mut().expect("just pushed")
    }

    /// Reports a problem with a help line.
    pub(crate) fn report_help(&mut self, error: CheckError, span: Span, help: Option<String>) {
        let d = self.report(error, span);
        d.help = help;
    }
}

/// Every declaration of the program, by module, as written.
pub(crate) struct Decls<'a> {
    pub(crate) entities: Vec<(&'a ast::Module, &'a ast::Entity)>,
    pub(crate) enumerations: Vec<(&'a ast::Module, &'a ast::Enumeration)>,
    pub(crate) associations: Vec<(&'a ast::Module, &'a ast::Association)>,
    pub(crate) module_roles: Vec<(&'a ast::Module, &'a ast::Ident)>,
    pub(crate) access_rules: Vec<(&'a ast::Module, &'a ast::AccessRule)>,
    pub(crate) microflows: Vec<(&'a ast::Module, &'a ast::Microflow)>,
    pub(crate) user_roles: Vec<&'a ast::UserRole>,
    pub(crate) apps: Vec<&'a ast::App>,
    pub(crate) resources: Vec<&'a ast::Resource>,
    pub(crate) workflows: Vec<&'a ast::Ident>,
}

/// The closest candidate to `name` when it is a likely typo (for "did you mean" outside the checker).
pub(crate) fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    suggest::closest(name, candidates)
}

/// `; did you mean `X`?` for the closest candidate, or nothing: for messages
/// outside the checker (store loading, principals).
pub fn suggest_public<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    suggest::closest(name, candidates).map(|c| format!("; did you mean `{c}`?")).unwrap_or_default()
}

/// `Module.Name` from a module and a local name.
pub(crate) fn qualify(module: &str, name: &str) -> SmolStr {
    smol_str::format_smolstr!("{module}.{name}")
}
