//! What a module offers, as the hypervisor needs it to route messages.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

/// The type of a global the sandbox persists between messages.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum GlobalKind {
    I32,
    I64,
    F32,
    F64,
    V128,
}

/// An `icp:public <name>` or `icp:private <name>` custom section.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Metadata {
    pub public: bool,
    pub contents: Vec<u8>,
}

/// Entry points and metadata of a validated module.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct ModuleInfo {
    /// wasm64: every `I` of the System API is i64.
    pub memory64: bool,
    pub updates: Vec<String>,
    pub queries: Vec<String>,
    pub composite_queries: Vec<String>,
    pub has_init: bool,
    pub has_pre_upgrade: bool,
    pub has_post_upgrade: bool,
    pub has_inspect_message: bool,
    pub has_heartbeat: bool,
    pub has_global_timer: bool,
    pub has_on_low_wasm_memory: bool,
    /// By section name without the `icp:public `/`icp:private ` prefix.
    pub metadata: BTreeMap<String, Metadata>,
}
