//! warden: a checker, auditor and interpreter for `.rules` access-control programs.
//!
//! The pipeline has one module per stage: [`syntax`] parses into a typed tree, [`check`]
//! resolves names and types against the declared schema and lowers everything into the
//! resolved [`model`], and [`eval`] evaluates it over a [`store`] as a principal. The command
//! line in `src/main.rs` and `src/cli/` calls only this library; `docs/library.md` shows how a
//! Rust program embeds it (load, check, decide, retrieve).
//!
//! The modules, by what they are for:
//! - the embedding API: [`load`] (read and check programs), [`model`] (the checked program),
//!   [`store`] (the object stores and their files), [`eval`] (principals, decisions,
//!   statements, tests), [`runtime`] (FlowX requests and the two gates), [`audit`], [`matrix`],
//!   [`diff`] (what a change gives or takes from each role), [`mutate`] (which rules no test defends),
//!   [`coverage`] (what the tests exercised),
//!   [`fmt`], [`codes`] and [`diagnostic`] (what every stage reports), [`source`] (files and
//!   spans), [`time`] (instants as the language reads and writes them);
//! - for the `warden` binary and the tests, not a stable API: [`syntax`], [`check`]'s
//!   internals, [`snapshot`], [`sarif`] and [`shell`] (the REPL's logic), and `lsp` (the
//!   language server of `warden lsp`, with the `lsp` feature).
//!
//! Items not needed outside a module are `pub(crate)`.

// pest_derive without its `std` feature (which only adds a per-rule stack probe that
// the parser thread makes unnecessary) names `alloc` directly.
extern crate alloc;

// ---- The embedding API ----
pub mod audit;
pub mod codes;
pub mod coverage;
pub mod diagnostic;
pub mod diff;
pub mod eval;
pub mod fmt;
pub mod load;
pub mod matrix;
pub mod model;
pub mod mutate;
pub mod runtime;
pub mod source;
pub mod store;
pub mod time;

// ---- The stages and the command line's helpers ----
pub mod check;
#[cfg(feature = "lsp")]
pub mod lsp;
pub mod sarif;
#[doc(hidden)]
pub mod shell;
pub mod snapshot;
pub mod syntax;
