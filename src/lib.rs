//! warden: a checker, auditor and interpreter for `.rules` access-control programs.
//!
//! The pipeline: [`syntax`] (parse into a typed tree) -> [`check`] (resolve and
//! type-check against the declared schema) -> evaluation. The command-line
//! tool in `src/main.rs` calls only this library.

pub mod check;
pub mod diagnostic;
pub mod load;
pub mod model;
pub mod sarif;
pub mod source;
pub mod syntax;
pub mod time;
