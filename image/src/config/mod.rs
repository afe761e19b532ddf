//! The node configuration: who runs the node, where it is, how it is addressed and which
//! subnet it belongs to.
//!
//! Operators write `node.toml` ([`toml`], host only); `cargo xtask image` validates it and
//! stores the canonical binary encoding of [`codec`] on the ESP as `\KEEL\NODE.CFG`, which the
//! loader measures and the kernel decodes and validates again at boot with the same
//! [`NodeConfig::validate`]. A binary encoding rather than TOML on the disk: the kernel needs
//! no TOML parser, the bytes that are measured are canonical (one config, one hash), and a
//! trailing SHA-256 tells a corrupt file from a valid one.

pub mod codec;
#[cfg(all(feature = "host", not(any(target_os = "none", target_os = "uefi"))))]
pub mod toml;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::net::{IpAddr, SocketAddr};

/// The configuration format version this code reads and writes.
pub const CONFIG_VERSION: u16 = 1;
/// At most this many peers: a subnet has at most a few dozen nodes.
pub const MAX_PEERS: usize = 64;
/// IC principals are at most 29 bytes.
pub const MAX_PRINCIPAL_LEN: usize = 29;
const MAX_DATA_CENTER_LEN: usize = 16;

/// A validated node configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeConfig {
    /// Principal (raw bytes) of the node operator who runs this machine.
    pub operator: Vec<u8>,
    /// Data-center id, e.g. `zh1`: lower-case letters, digits and `-`.
    pub data_center: String,
    pub network: Network,
    pub subnet: Subnet,
}

/// The node's own addressing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Network {
    /// The node's address on the subnet network.
    pub address: IpAddr,
    /// Prefix length of the node's network (`/24`, `/64`).
    pub prefix_len: u8,
    /// The default gateway, inside the node's network, if the node routes beyond it.
    pub gateway: Option<IpAddr>,
    /// Port of the IC HTTP interface.
    pub http_port: u16,
    /// Port of the peer-to-peer (consensus gossip) protocol.
    pub p2p_port: u16,
}

/// Subnet membership.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subnet {
    /// Principal (raw bytes) of the subnet.
    pub id: Vec<u8>,
    /// The other nodes' peer-to-peer addresses.
    pub peers: Vec<SocketAddr>,
}

/// Why a configuration was refused, naming the field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// The file is not a Keel node configuration (wrong magic).
    NotAConfig,
    UnsupportedVersion(u16),
    /// The file ends before its declared length.
    Truncated,
    /// The trailing SHA-256 does not match: the file was damaged after it was written.
    ChecksumMismatch,
    /// The encoding is not canonical or has bytes beyond its fields.
    Malformed(&'static str),
    /// The host-side TOML did not parse; the message is the parser's.
    Syntax(String),
    /// A field's value is not allowed.
    Invalid { field: &'static str, problem: String },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAConfig => write!(f, "not a Keel node configuration (bad magic)"),
            Self::UnsupportedVersion(v) => {
                write!(f, "configuration version {v} is not supported (this build reads version {CONFIG_VERSION})")
            }
            Self::Truncated => write!(f, "configuration is truncated"),
            Self::ChecksumMismatch => write!(f, "configuration is corrupt (checksum mismatch)"),
            Self::Malformed(what) => write!(f, "configuration is malformed: {what}"),
            Self::Syntax(message) => write!(f, "node.toml: {message}"),
            Self::Invalid { field, problem } => write!(f, "{field}: {problem}"),
        }
    }
}

fn invalid(field: &'static str, problem: impl fmt::Display) -> ConfigError {
    use alloc::string::ToString;
    ConfigError::Invalid { field, problem: problem.to_string() }
}

impl NodeConfig {
    /// Checks every value; build time and boot run this same function.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_principal("node.operator", &self.operator)?;
        check_data_center(&self.data_center)?;
        self.network.validate()?;
        check_principal("subnet.id", &self.subnet.id)?;
        if self.subnet.peers.len() > MAX_PEERS {
            return Err(invalid("subnet.peers", format_args!("{} peers, at most {MAX_PEERS}", self.subnet.peers.len())));
        }
        let own = SocketAddr::new(self.network.address, self.network.p2p_port);
        for (i, peer) in self.subnet.peers.iter().enumerate() {
            if *peer == own {
                return Err(invalid("subnet.peers", format_args!("peer {peer} is this node itself")));
            }
            if self.subnet.peers[..i].contains(peer) {
                return Err(invalid("subnet.peers", format_args!("peer {peer} is listed twice")));
            }
            check_host("subnet.peers", peer.ip())?;
            if peer.port() == 0 {
                return Err(invalid("subnet.peers", format_args!("peer {peer} has port 0")));
            }
        }
        Ok(())
    }
}

impl Network {
    fn validate(&self) -> Result<(), ConfigError> {
        check_host("network.address", self.address)?;
        let max = if self.address.is_ipv4() { 32 } else { 128 };
        if self.prefix_len == 0 || self.prefix_len > max {
            return Err(invalid("network.address", format_args!("prefix length /{} is not in 1..={max}", self.prefix_len)));
        }
        if let Some(gateway) = self.gateway {
            check_host("network.gateway", gateway)?;
            if gateway.is_ipv4() != self.address.is_ipv4() {
                return Err(invalid("network.gateway", format_args!("{gateway} is not of the address family of {}", self.address)));
            }
            if gateway == self.address {
                return Err(invalid("network.gateway", "is the node's own address"));
            }
            if network_bits(gateway, self.prefix_len) != network_bits(self.address, self.prefix_len) {
                return Err(invalid(
                    "network.gateway",
                    format_args!("{gateway} is outside the node's network {}/{}", self.address, self.prefix_len),
                ));
            }
        }
        if self.http_port == 0 {
            return Err(invalid("network.http_port", "port 0"));
        }
        if self.p2p_port == 0 {
            return Err(invalid("network.p2p_port", "port 0"));
        }
        if self.http_port == self.p2p_port {
            return Err(invalid("network.p2p_port", format_args!("same port as network.http_port ({})", self.http_port)));
        }
        Ok(())
    }
}

/// An address a node can own or talk to: not unspecified, multicast, loopback or broadcast.
fn check_host(field: &'static str, ip: IpAddr) -> Result<(), ConfigError> {
    let problem = match ip {
        _ if ip.is_unspecified() => "is the unspecified address",
        _ if ip.is_multicast() => "is a multicast address",
        _ if ip.is_loopback() => "is a loopback address",
        IpAddr::V4(v4) if v4.is_broadcast() => "is the broadcast address",
        _ => return Ok(()),
    };
    Err(invalid(field, format_args!("{ip} {problem}")))
}

/// The address with everything past `prefix_len` cleared.
fn network_bits(ip: IpAddr, prefix_len: u8) -> u128 {
    let (value, width) = match ip {
        IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32u32),
        IpAddr::V6(v6) => (u128::from(v6), 128),
    };
    let host_bits = width.saturating_sub(u32::from(prefix_len));
    if host_bits >= 128 { 0 } else { value >> host_bits }
}

fn check_principal(field: &'static str, bytes: &[u8]) -> Result<(), ConfigError> {
    if bytes.is_empty() || bytes.len() > MAX_PRINCIPAL_LEN {
        return Err(invalid(field, format_args!("a principal has 1 to {MAX_PRINCIPAL_LEN} bytes, not {}", bytes.len())));
    }
    Ok(())
}

fn check_data_center(id: &str) -> Result<(), ConfigError> {
    let ok_chars = id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if id.is_empty() || id.len() > MAX_DATA_CENTER_LEN || !ok_chars || id.starts_with('-') {
        return Err(invalid(
            "node.data_center",
            format_args!("{id:?} is not a data-center id (1 to {MAX_DATA_CENTER_LEN} of a-z, 0-9, '-')"),
        ));
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use alloc::vec;

    pub(crate) fn example() -> NodeConfig {
        NodeConfig {
            operator: vec![0x11; 29],
            data_center: "zh1".into(),
            network: Network {
                address: "10.0.0.1".parse().expect("ip"),
                prefix_len: 24,
                gateway: Some("10.0.0.254".parse().expect("ip")),
                http_port: 8080,
                p2p_port: 4100,
            },
            subnet: Subnet { id: vec![0x22; 29], peers: vec!["10.0.0.2:4100".parse().expect("peer")] },
        }
    }

    fn problem(c: &NodeConfig) -> String {
        use alloc::string::ToString;
        c.validate().expect_err("must be refused").to_string()
    }

    #[test]
    fn the_example_is_valid() {
        assert_eq!(example().validate(), Ok(()));
    }

    #[test]
    fn bad_values_are_refused_with_their_field() {
        let mut c = example();
        c.network.gateway = Some("10.0.1.1".parse().expect("ip"));
        assert_eq!(problem(&c), "network.gateway: 10.0.1.1 is outside the node's network 10.0.0.1/24");
        let mut c = example();
        c.network.address = "224.0.0.1".parse().expect("ip");
        assert!(problem(&c).starts_with("network.address: 224.0.0.1 is a multicast"));
        let mut c = example();
        c.network.prefix_len = 33;
        assert!(problem(&c).contains("/33 is not in 1..=32"));
        let mut c = example();
        c.network.p2p_port = 8080;
        assert!(problem(&c).starts_with("network.p2p_port: same port"));
        let mut c = example();
        c.data_center = "ZH 1".into();
        assert!(problem(&c).starts_with("node.data_center:"));
        let mut c = example();
        c.operator.clear();
        assert!(problem(&c).starts_with("node.operator:"));
        let mut c = example();
        c.subnet.peers.push("10.0.0.1:4100".parse().expect("peer"));
        assert!(problem(&c).contains("is this node itself"));
        let mut c = example();
        c.subnet.peers.push("10.0.0.2:4100".parse().expect("peer"));
        assert!(problem(&c).contains("listed twice"));
        let mut c = example();
        c.network.gateway = Some("fd00::1".parse().expect("ip"));
        assert!(problem(&c).contains("not of the address family"));
    }

    #[test]
    fn ipv6_networks_validate_too() {
        let mut c = example();
        c.network.address = "fd00:1::5".parse().expect("ip");
        c.network.prefix_len = 64;
        c.network.gateway = Some("fd00:1::1".parse().expect("ip"));
        c.subnet.peers = vec!["[fd00:1::6]:4100".parse().expect("peer")];
        assert_eq!(c.validate(), Ok(()));
        c.network.gateway = Some("fd00:2::1".parse().expect("ip"));
        assert!(problem(&c).contains("outside the node's network"));
    }
}
