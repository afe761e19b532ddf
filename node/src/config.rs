//! The node's configuration: small on purpose, so the image's node configuration file maps
//! onto it field by field. Protocol constants (ingress window, message limits) live in the
//! crates that own them.

use alloc::string::String;
use core::time::Duration;
use keel_hypervisor::SubnetType;
use keel_interface::http::Limits;

/// How a node runs.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Fees and certified `/subnet/<id>/type`.
    pub subnet_type: SubnetType,
    /// Reported as `impl_version` by `/api/v2/status`.
    pub impl_version: String,
    /// Whether `provisional_*` management methods are open to anyone (dev instances).
    pub provisional_api: bool,
    /// A checkpoint is written every this many heights (the block log covers the rest).
    pub checkpoint_interval: u64,
    /// How long a v3/v4 call waits for its certified status before answering 202.
    pub call_timeout: Duration,
    /// Least time between blocks while there is ingress to order: consensus' notary
    /// delay, the floor of update latency.
    pub block_interval: Duration,
    /// Time between (empty) blocks while idle: keeps the certified `/time` fresh without
    /// spending a BLS signature every few milliseconds.
    pub idle_block_interval: Duration,
    /// HTTP limits.
    pub http_limits: Limits,
}

impl NodeConfig {
    /// A development node: application subnet, provisional API open.
    pub fn dev(impl_version: &str) -> NodeConfig {
        NodeConfig {
            subnet_type: SubnetType::Application,
            impl_version: impl_version.into(),
            provisional_api: true,
            checkpoint_interval: 100,
            call_timeout: Duration::from_secs(10),
            block_interval: Duration::from_millis(1),
            idle_block_interval: Duration::from_secs(1),
            http_limits: Limits::default(),
        }
    }
}
