//! warden: a checker, auditor and interpreter for `.rules` access-control programs.
//!
//! The pipeline: [`syntax`] (parse into a typed tree) -> [`check`] (resolve and
//! type-check against the declared schema) -> evaluation. The command-line
//! tool in `src/main.rs` calls only this library.

// pest_derive without its `std` feature (which only adds a per-rule stack probe that
// the parser thread makes unnecessary) names `alloc` directly.
extern crate alloc;

pub mod audit;
pub mod check;
pub mod codes;
pub mod diagnostic;
pub mod eval;
pub mod fmt;
pub mod load;
pub mod matrix;
pub mod model;
pub mod runtime;
pub mod sarif;
pub mod shell;
pub mod snapshot;
pub mod source;
pub mod store;
pub mod syntax;
pub mod time;
