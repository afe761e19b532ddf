//! The `ic0` System API: which functions exist with which signatures, in which contexts
//! each may run, and what each does to the execution's [`Host`] state.
//!
//! Every function is described once, in [`API`]; module validation, the engine's import
//! linking (wasm32 and wasm64 variants) and the context checks all read that one table.

mod call;
mod canister;
mod context;
mod cost;
mod cycles;
mod host;
mod msg;
mod stable;
mod table;

pub use context::{Context, ContextSet};
pub use host::{Host, MessageEffects};
pub use table::{lookup, ApiFunction, ValueKind, API};
