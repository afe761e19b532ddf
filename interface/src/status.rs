//! `GET /api/v2/status` (ic-reference §1, §10): a CBOR map with the root key, and what
//! ic-agent and agent-js read besides. No floats anywhere (ic-agent's parser fails on them).

use alloc::vec::Vec;
use keel_crypto::cbor::Writer;

/// `replica_health_status` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthStatus {
    /// Booting.
    Starting,
    /// No certified state yet.
    WaitingForCertifiedState,
    /// Waiting for the NNS delegation (non-root subnets).
    WaitingForRootDelegation,
    /// Certified state lags behind.
    CertifiedStateBehind,
    /// Serving.
    Healthy,
}

impl HealthStatus {
    /// The wire text.
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Starting => "starting",
            HealthStatus::WaitingForCertifiedState => "waiting_for_certified_state",
            HealthStatus::WaitingForRootDelegation => "waiting_for_root_delegation",
            HealthStatus::CertifiedStateBehind => "certified_state_behind",
            HealthStatus::Healthy => "healthy",
        }
    }
}

/// Everything the status endpoint reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status<'a> {
    /// DER of the root key (133 bytes); always sent so that `fetch_root_key` works.
    pub root_key_der: &'a [u8],
    /// Implementation version string.
    pub impl_version: &'a str,
    /// Hash of the running implementation (hex), if known.
    pub impl_hash: Option<&'a str>,
    /// Health.
    pub health: HealthStatus,
    /// Height of the latest certified state, if any.
    pub certified_height: Option<u64>,
}

impl Status<'_> {
    /// The CBOR body (tagged).
    pub fn to_cbor(&self) -> Vec<u8> {
        let n = 3 + usize::from(self.impl_hash.is_some()) + usize::from(self.certified_height.is_some());
        let mut w = Writer::self_describing();
        w.map(n);
        w.text("root_key").bytes(self.root_key_der);
        w.text("impl_version").text(self.impl_version);
        if let Some(h) = self.impl_hash {
            w.text("impl_hash").text(h);
        }
        w.text("replica_health_status").text(self.health.as_str());
        if let Some(h) = self.certified_height {
            w.text("certified_height").nat(h);
        }
        w.into_bytes()
    }
}
