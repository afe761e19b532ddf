//! Running one message: inputs, entry points, canister state, outcome, and the [`Sandbox`].

mod engine;
mod entry;
mod environment;
mod outcome;
mod run;
mod sandbox;
mod state;

pub(crate) use engine::module_linker;
pub use entry::{CallbackKind, EntryPoint, WasmClosure};
pub use environment::{CanisterStatus, ExecutionEnvironment, MessageInput};
pub use outcome::{ExecutionOutcome, OutgoingCall, Response};
pub use sandbox::Sandbox;
pub use state::{CanisterState, GlobalValue};
