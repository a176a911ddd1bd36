//! Resolution and type checking: turns parsed files into a [`Program`],
//! reporting every problem at once.
//!
//! The passes, in order: declarations and the schema (`schema`), roles and
//! the app (`roles`), access rules and their XPath (`access`, `xpath`),
//! microflows and tests (`flow`), runtime resources (`resources`).

mod access;
mod errors;
mod expr;
mod flow;
mod resources;
mod roles;
mod schema;
mod xpath;

pub use errors::CheckError;

use std::collections::HashSet;

use smol_str::SmolStr;

use crate::diagnostic::Diagnostic;
use crate::model::flow::Scope;
use crate::model::{EntityId, MicroflowId, Program, Type};
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
    check_reusing(sources, files, Vec::new()).0
}

/// What the access pass made of one file's rules, for a later check to reuse.
#[derive(Clone, Debug, Default)]
pub(crate) struct FileRules {
    /// The compiled rules of the file, in order.
    pub(crate) rules: Vec<crate::model::AccessRuleDef>,
    /// What checking them reported.
    pub(crate) diagnostics: Vec<Diagnostic>,
}

/// Checks parsed files together, taking the access pass's results for file `i` from
/// `reuse[i]` where it is `Some` instead of checking that file's rules again. It returns
/// each file's access-pass diagnostics beside the result, for the next check to reuse.
///
/// A caller may reuse a file's results only when they cannot differ from a fresh check's:
/// the file's text and id are those it was checked with, and every declaration the access
/// pass reads (everything but the access rules, in every file) is as it was, up to spans.
/// The access pass reads no declaration's span, and a rule's results depend on nothing but
/// its own text and those declarations.
pub(crate) fn check_reusing(
    sources: SourceMap,
    files: &[ast::File],
    reuse: Vec<Option<FileRules>>,
) -> (Checked, Vec<Vec<Diagnostic>>) {
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
    let by_file = access::resolve(&mut checker, &decls, reuse, files.len());
    flow::resolve_signatures(&mut checker, &decls);
    roles::check_app(&mut checker, &decls);
    resources::resolve(&mut checker, &decls);
    flow::check_bodies(&mut checker, &decls);
    flow::check_tests(&mut checker, files);
    let Checker { program, mut diagnostics, .. } = checker;
    crate::diagnostic::sort(&mut diagnostics);
    (Checked { program, diagnostics }, by_file)
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
pub(crate) fn type_of_let(program: &mut Program, stmts: &[ast::Stmt], scope: &Scope) -> (Vec<Diagnostic>, Type) {
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
        let index = self.diagnostics.len();
        self.diagnostics.push(diagnostic);
        &mut self.diagnostics[index]
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

/// `Module.Name` from a module and a local name.
pub(crate) fn qualify(module: &str, name: &str) -> SmolStr {
    smol_str::format_smolstr!("{module}.{name}")
}

/// The fix for a system member the entity does not store.
pub(crate) fn system_member_help(program: &Program, entity: EntityId, name: &str) -> Option<String> {
    let stored = match name {
        "System.owner" | "owner" => "owner",
        "System.changedBy" | "changedBy" => "changedBy",
        "createdDate" => "createdDate",
        "changedDate" => "changedDate",
        _ => return None,
    };
    let entity = program.entity(entity);
    Some(format!("`{}` does not store it: add `stores {stored}` to the entity", entity.local_name()))
}
