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

use std::collections::{HashMap, HashSet};

use smol_str::SmolStr;

use crate::diagnostic::Diagnostic;
use crate::model::xpath::Cond;
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
    let mut checker = Checker {
        program: Program { sources, ..Program::default() },
        diagnostics: Vec::new(),
        checked_flows: HashSet::new(),
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

/// Checks statements typed outside any file (`warden eval -e`, the REPL) against
/// a checked program. `vars` are the variables already bound, with their types;
/// users are those of the store, so `as NAME` is not checked here.
pub fn check_statements(program: &mut Program, stmts: &[ast::Stmt], vars: &HashMap<SmolStr, Type>) -> Vec<Diagnostic> {
    let taken = std::mem::take(program);
    let flows = (0..taken.microflows.len() as u32).map(MicroflowId).collect();
    let mut checker = Checker { program: taken, diagnostics: Vec::new(), checked_flows: flows };
    {
        let mut cx = flow::FlowCx::new(&mut checker, None, flow::Place::Test);
        cx.open_users();
        for (name, ty) in vars {
            cx.bind(name, *ty);
        }
        cx.block(stmts);
    }
    let Checker { program: checked, mut diagnostics, .. } = checker;
    *program = checked;
    crate::diagnostic::sort(&mut diagnostics);
    diagnostics
}

/// Checks `let $__type = EXPR` (from the REPL's `:type`) and returns the expression's type.
pub fn type_of_let(
    program: &mut Program,
    stmts: &[ast::Stmt],
    vars: &HashMap<SmolStr, Type>,
) -> (Vec<Diagnostic>, Type) {
    let taken = std::mem::take(program);
    let flows = (0..taken.microflows.len() as u32).map(MicroflowId).collect();
    let mut checker = Checker { program: taken, diagnostics: Vec::new(), checked_flows: flows };
    let ty = {
        let mut cx = flow::FlowCx::new(&mut checker, None, flow::Place::Test);
        cx.open_users();
        for (name, ty) in vars {
            cx.bind(name, *ty);
        }
        cx.block(stmts);
        cx.lookup("__type").unwrap_or(Type::Unknown)
    };
    let Checker { program: checked, diagnostics, .. } = checker;
    *program = checked;
    (diagnostics, ty)
}

/// The state of a check: the program built so far and what was found.
pub(crate) struct Checker {
    pub(crate) program: Program,
    pub(crate) diagnostics: Vec<Diagnostic>,
    /// Microflows whose bodies have been checked.
    pub(crate) checked_flows: HashSet<MicroflowId>,
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

/// Compiles a retrieve's constraints at run time (for statements checked
/// earlier, or typed at the REPL); `None` when they do not compile.
pub fn compile_retrieve(
    program: &Program,
    module: Option<&str>,
    entity: EntityId,
    constraints: &[ast::XPath],
    vars: HashMap<SmolStr, Type>,
) -> Option<Cond> {
    if let Some(c) = program.retrieves.get(&retrieve_key(constraints)) {
        return Some(c.clone());
    }
    let mut diagnostics = Vec::new();
    xpath::XCompiler::for_retrieve(program, &mut diagnostics, module, vars).constraints(entity, constraints)
}

/// The key of a retrieve's compiled constraints: where its first bracket starts.
pub(crate) fn retrieve_key(constraints: &[ast::XPath]) -> (u32, u32) {
    constraints.first().map_or((u32::MAX, 0), |c| (c.span.file.0, c.span.start))
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
