//! Execution contexts (ic-reference §7) and sets of them.

/// The context an execution runs in; it decides which System API functions are available.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Context {
    /// The module's `(start)` function (`s`).
    Start,
    /// `canister_init` and `canister_post_upgrade` (`I`).
    Init,
    /// `canister_pre_upgrade` (`G`).
    PreUpgrade,
    Update,
    ReplicatedQuery,
    NonReplicatedQuery,
    CompositeQuery,
    /// The transform function of an HTTPS outcall (`TQ`).
    Transform,
    ReplyCallback,
    RejectCallback,
    CompositeReplyCallback,
    CompositeRejectCallback,
    Cleanup,
    CompositeCleanup,
    InspectMessage,
    /// Heartbeat, global timer and the low-memory hook (`T`).
    SystemTask,
}

impl Context {
    const fn bit(self) -> u32 {
        1 << (self as u32)
    }

    /// The name the IC uses in "cannot be executed in … mode" messages.
    pub fn mode_name(self) -> &'static str {
        match self {
            Context::Start => "start",
            Context::Init => "init",
            Context::PreUpgrade => "pre_upgrade",
            Context::Update => "update",
            Context::ReplicatedQuery => "replicated query",
            Context::NonReplicatedQuery => "non-replicated query",
            Context::CompositeQuery => "composite query",
            Context::Transform => "transform",
            Context::ReplyCallback => "reply callback",
            Context::RejectCallback => "reject callback",
            Context::CompositeReplyCallback => "composite reply callback",
            Context::CompositeRejectCallback => "composite reject callback",
            Context::Cleanup => "cleanup",
            Context::CompositeCleanup => "composite cleanup",
            Context::InspectMessage => "inspect message",
            Context::SystemTask => "system task",
        }
    }

    /// Whether the execution is part of replicated state (`in_replicated_execution`).
    pub fn is_replicated(self) -> bool {
        !matches!(
            self,
            Context::NonReplicatedQuery
                | Context::CompositeQuery
                | Context::Transform
                | Context::CompositeReplyCallback
                | Context::CompositeRejectCallback
                | Context::CompositeCleanup
                | Context::InspectMessage
        )
    }

    /// Contexts whose changes to memory are never kept.
    ///
    /// A composite query is not one of them at this level: its callbacks must see what it
    /// wrote before the await (ic-cdk keeps its pending calls on the heap), as on the IC.
    /// Its changes are discarded when the whole query ends, by the caller, which runs
    /// composite queries on a copy of the canister's state.
    pub fn discards_state(self) -> bool {
        matches!(
            self,
            Context::ReplicatedQuery | Context::NonReplicatedQuery | Context::Transform | Context::InspectMessage
        )
    }

    /// Contexts that answer a message (and so have reply size limits of queries or updates).
    pub fn is_query(self) -> bool {
        matches!(
            self,
            Context::ReplicatedQuery
                | Context::NonReplicatedQuery
                | Context::CompositeQuery
                | Context::Transform
                | Context::CompositeReplyCallback
                | Context::CompositeRejectCallback
        )
    }
}

/// A set of contexts, written with the spec's letters.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ContextSet(u32);

impl ContextSet {
    pub const S: ContextSet = ContextSet(Context::Start.bit());
    pub const I: ContextSet = ContextSet(Context::Init.bit());
    pub const G: ContextSet = ContextSet(Context::PreUpgrade.bit());
    pub const U: ContextSet = ContextSet(Context::Update.bit());
    pub const RQ: ContextSet = ContextSet(Context::ReplicatedQuery.bit());
    pub const NRQ: ContextSet = ContextSet(Context::NonReplicatedQuery.bit());
    pub const CQ: ContextSet = ContextSet(Context::CompositeQuery.bit());
    pub const TQ: ContextSet = ContextSet(Context::Transform.bit());
    pub const RY: ContextSet = ContextSet(Context::ReplyCallback.bit());
    pub const RT: ContextSet = ContextSet(Context::RejectCallback.bit());
    pub const CRY: ContextSet = ContextSet(Context::CompositeReplyCallback.bit());
    pub const CRT: ContextSet = ContextSet(Context::CompositeRejectCallback.bit());
    pub const C: ContextSet = ContextSet(Context::Cleanup.bit());
    pub const CC: ContextSet = ContextSet(Context::CompositeCleanup.bit());
    pub const F: ContextSet = ContextSet(Context::InspectMessage.bit());
    pub const T: ContextSet = ContextSet(Context::SystemTask.bit());
    /// `*`: every context except `(start)`.
    pub const ALL: ContextSet = ContextSet((Context::SystemTask.bit() << 1) - 1 - Context::Start.bit());
    /// `* s`: every context.
    pub const ALL_S: ContextSet = ContextSet((Context::SystemTask.bit() << 1) - 1);
    /// `Q`: both kinds of query.
    pub const Q: ContextSet = ContextSet(Context::ReplicatedQuery.bit() | Context::NonReplicatedQuery.bit());

    pub const fn or(self, other: ContextSet) -> ContextSet {
        ContextSet(self.0 | other.0)
    }

    pub const fn contains(self, context: Context) -> bool {
        self.0 & context.bit() != 0
    }
}
