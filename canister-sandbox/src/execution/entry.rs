//! What to run: the entry points of a canister.

use alloc::string::String;

use crate::api::Context;
use crate::ids::NumInstructions;
use crate::limits::Limits;

/// A Wasm callback from `call_new`/`call_on_cleanup`: a table index and its environment.
/// Both are `I`-sized (u32 values for wasm32 modules).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct WasmClosure {
    pub fun: u64,
    pub env: u64,
}

/// Which callback of an outgoing call runs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum CallbackKind {
    Reply,
    Reject,
    /// Runs when the reply or reject callback trapped.
    Cleanup,
}

/// An entry point of a canister.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum EntryPoint {
    /// The module's `(start)` function (run by [`Sandbox::install`](crate::Sandbox::install)).
    Start,
    Init,
    PreUpgrade,
    PostUpgrade,
    Update(String),
    /// A query; [`ExecutionEnvironment::replicated`](crate::ExecutionEnvironment) says whether
    /// it runs as part of replicated state (called as an update) or not.
    Query(String),
    CompositeQuery(String),
    /// A query export run as the transform function of an HTTPS outcall.
    Transform(String),
    /// `canister_inspect_message` for an ingress message to the named method.
    InspectMessage,
    Heartbeat,
    GlobalTimer,
    OnLowWasmMemory,
    /// A callback of a call made from an update-like context (`composite: false`) or from a
    /// composite query (`composite: true`).
    Callback { kind: CallbackKind, closure: WasmClosure, composite: bool },
}

impl EntryPoint {
    /// The System API context this entry point runs in.
    pub fn context(&self, replicated: bool) -> Context {
        match self {
            EntryPoint::Start => Context::Start,
            EntryPoint::Init | EntryPoint::PostUpgrade => Context::Init,
            EntryPoint::PreUpgrade => Context::PreUpgrade,
            EntryPoint::Update(_) => Context::Update,
            EntryPoint::Query(_) if replicated => Context::ReplicatedQuery,
            EntryPoint::Query(_) => Context::NonReplicatedQuery,
            EntryPoint::CompositeQuery(_) => Context::CompositeQuery,
            EntryPoint::Transform(_) => Context::Transform,
            EntryPoint::InspectMessage => Context::InspectMessage,
            EntryPoint::Heartbeat | EntryPoint::GlobalTimer | EntryPoint::OnLowWasmMemory => Context::SystemTask,
            EntryPoint::Callback { kind, composite, .. } => match (kind, composite) {
                (CallbackKind::Reply, false) => Context::ReplyCallback,
                (CallbackKind::Reject, false) => Context::RejectCallback,
                (CallbackKind::Cleanup, false) => Context::Cleanup,
                (CallbackKind::Reply, true) => Context::CompositeReplyCallback,
                (CallbackKind::Reject, true) => Context::CompositeRejectCallback,
                (CallbackKind::Cleanup, true) => Context::CompositeCleanup,
            },
        }
    }

    /// The instruction limit for this kind of message.
    pub fn instruction_limit(&self, limits: &Limits) -> NumInstructions {
        match self {
            EntryPoint::Start | EntryPoint::Init | EntryPoint::PreUpgrade | EntryPoint::PostUpgrade => limits.install_instructions,
            EntryPoint::Query(_)
            | EntryPoint::CompositeQuery(_)
            | EntryPoint::Transform(_)
            | EntryPoint::Callback { composite: true, .. } => {
                limits.query_instructions
            }
            EntryPoint::InspectMessage => limits.inspect_message_instructions,
            EntryPoint::Update(_)
            | EntryPoint::Heartbeat
            | EntryPoint::GlobalTimer
            | EntryPoint::OnLowWasmMemory
            | EntryPoint::Callback { composite: false, .. } => limits.update_instructions,
        }
    }

    /// The export that implements this entry point (callbacks go through the table instead).
    pub fn export_name(&self) -> Option<String> {
        use alloc::format;
        match self {
            EntryPoint::Start => Some(crate::module::START_EXPORT.into()),
            EntryPoint::Init => Some("canister_init".into()),
            EntryPoint::PreUpgrade => Some("canister_pre_upgrade".into()),
            EntryPoint::PostUpgrade => Some("canister_post_upgrade".into()),
            EntryPoint::Update(m) => Some(format!("canister_update {m}")),
            EntryPoint::Query(m) | EntryPoint::Transform(m) => Some(format!("canister_query {m}")),
            EntryPoint::CompositeQuery(m) => Some(format!("canister_composite_query {m}")),
            EntryPoint::InspectMessage => Some("canister_inspect_message".into()),
            EntryPoint::Heartbeat => Some("canister_heartbeat".into()),
            EntryPoint::GlobalTimer => Some("canister_global_timer".into()),
            EntryPoint::OnLowWasmMemory => Some("canister_on_low_wasm_memory".into()),
            EntryPoint::Callback { .. } => None,
        }
    }

    /// Missing optional hooks are no-ops, not errors.
    pub(crate) fn is_optional(&self) -> bool {
        matches!(
            self,
            EntryPoint::Start
                | EntryPoint::Init
                | EntryPoint::PreUpgrade
                | EntryPoint::PostUpgrade
                | EntryPoint::InspectMessage
                | EntryPoint::Heartbeat
                | EntryPoint::GlobalTimer
                | EntryPoint::OnLowWasmMemory
        )
    }
}
