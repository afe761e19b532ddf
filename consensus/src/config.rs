//! Protocol parameters. Every node of a subnet must run with the same values (they are part of
//! the subnet's registry record), except the local P2P limits.

use core::time::Duration;

use crate::types::SubnetSize;

/// Limits on what one block may carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PayloadLimits {
    /// Upper bound on the payload's encoded size.
    pub max_block_bytes: usize,
    /// Upper bound on ingress messages per block.
    pub max_ingress_count: usize,
    /// Upper bound on one ingress message's content.
    pub max_ingress_bytes: usize,
    /// Upper bound on the cross-subnet stream bytes.
    pub max_xnet_bytes: usize,
    /// An ingress message may only expire this long after the block's time (the IC uses 5
    /// minutes plus skew), so duplicates need only be remembered that long.
    pub max_ingress_ttl: Duration,
}

/// Inbound back-pressure: a token bucket per peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerQuota {
    /// Messages a peer may send in a burst.
    pub burst: u32,
    /// Tokens refilled per second.
    pub per_second: u32,
}

/// A deliberately broken protocol rule, compiled only for tests and the simulator, to show
/// that the simulator's invariants catch a protocol bug.
#[cfg(any(test, feature = "sim"))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BrokenRule {
    /// Issue a finalization share for every block one notarization-shares, right away,
    /// without waiting for a notarization and without checking that no other block at that
    /// height was notarization-shared.
    FinalizeWithoutNotarization,
}

/// The parameters of one subnet's consensus.
#[derive(Clone, Debug)]
pub struct Config {
    /// Members.
    pub size: SubnetSize,
    /// Delay per rank before a block maker proposes (rank 0 proposes at once).
    pub block_maker_delay: Duration,
    /// Delay per rank before notaries share a block of that rank; at least the maker delay
    /// so that a lower-ranked block has time to arrive.
    pub notary_delay: Duration,
    /// Delay before notaries share even a rank-0 block. It paces the chain when messages are
    /// instant — a one-node subnet would otherwise make blocks in a tight loop — and bounds
    /// the block rate to one per this interval.
    pub initial_notary_delay: Duration,
    /// How often a node re-sends its status and current-round artifacts, which repairs
    /// dropped messages and brings reconnected peers up to date.
    pub rebroadcast_interval: Duration,
    /// How far in the future a block's time may be relative to the local clock.
    pub max_clock_skew: Duration,
    /// Block payload limits.
    pub limits: PayloadLimits,
    /// A catch-up package is made every this many heights.
    pub cup_interval: u64,
    /// Artifacts more than this many heights above the finalized height are dropped.
    pub window: u64,
    /// Most finalized blocks sent in one catch-up segment.
    pub segment_batch: usize,
    /// Inbound message quota per peer.
    pub peer_quota: PeerQuota,
    /// Ingress pool capacity.
    pub ingress_capacity: usize,
    /// Ingress messages one peer may have in our pool.
    pub ingress_per_peer: usize,
    /// Test-only protocol breakage.
    #[cfg(any(test, feature = "sim"))]
    pub broken_rule: Option<BrokenRule>,
}

impl Config {
    /// Defaults sized for a local testnet: rounds of about a second.
    pub fn new(size: SubnetSize) -> Self {
        Config {
            size,
            block_maker_delay: Duration::from_millis(300),
            notary_delay: Duration::from_millis(400),
            initial_notary_delay: Duration::from_millis(50),
            rebroadcast_interval: Duration::from_millis(1000),
            max_clock_skew: Duration::from_secs(2),
            limits: PayloadLimits {
                max_block_bytes: 2 << 20,
                max_ingress_count: 1000,
                max_ingress_bytes: 256 << 10,
                max_xnet_bytes: 1 << 20,
                max_ingress_ttl: Duration::from_secs(330),
            },
            cup_interval: 100,
            window: 200,
            segment_batch: 50,
            peer_quota: PeerQuota {
                burst: 4000,
                per_second: 4000,
            },
            ingress_capacity: 10_000,
            ingress_per_peer: 2_000,
            #[cfg(any(test, feature = "sim"))]
            broken_rule: None,
        }
    }

    /// The broken rule in force, if any (always none in production builds).
    pub(crate) fn broken(&self, rule: BrokenRuleRef) -> bool {
        #[cfg(any(test, feature = "sim"))]
        {
            match rule {
                BrokenRuleRef::FinalizeWithoutNotarization => {
                    self.broken_rule == Some(BrokenRule::FinalizeWithoutNotarization)
                }
            }
        }
        #[cfg(not(any(test, feature = "sim")))]
        {
            let _ = rule;
            false
        }
    }
}

/// Names a breakable rule where it is checked; exists in every build so the protocol code
/// has no `cfg` of its own.
#[derive(Clone, Copy, Debug)]
pub(crate) enum BrokenRuleRef {
    FinalizeWithoutNotarization,
}
