//! `node.toml`, the file operators write, read into a validated [`NodeConfig`] (host only).
//!
//! ```toml
//! version = 1
//! [node]
//! operator = "<principal>"      # the node operator
//! data_center = "zh1"
//! [network]
//! address = "10.0.0.1/24"       # the node's address and its network's prefix length
//! gateway = "10.0.0.254"        # optional
//! http_port = 8080
//! p2p_port = 4100
//! [subnet]
//! id = "<principal>"
//! peers = ["10.0.0.2:4100"]
//! ```
//! Unknown keys are errors: a misspelt key must not silently fall back to a default.

use super::{CONFIG_VERSION, ConfigError, Network, NodeConfig, Subnet};
use keel_crypto::Principal;
use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    version: u16,
    node: NodeSection,
    network: NetworkSection,
    subnet: SubnetSection,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeSection {
    operator: String,
    data_center: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NetworkSection {
    address: String,
    gateway: Option<String>,
    http_port: u16,
    p2p_port: u16,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubnetSection {
    id: String,
    #[serde(default)]
    peers: Vec<String>,
}

fn invalid(field: &'static str, problem: impl std::fmt::Display) -> ConfigError {
    ConfigError::Invalid { field, problem: problem.to_string() }
}

fn principal(field: &'static str, text: &str) -> Result<Vec<u8>, ConfigError> {
    Principal::from_text(text)
        .map(|p| p.as_slice().to_vec())
        .map_err(|e| invalid(field, format_args!("{text:?} is not a principal: {e}")))
}

fn ip(field: &'static str, text: &str) -> Result<IpAddr, ConfigError> {
    text.parse().map_err(|_| invalid(field, format_args!("{text:?} is not an IP address")))
}

/// Parses and validates `node.toml`.
pub fn parse(text: &str) -> Result<NodeConfig, ConfigError> {
    let file: File = ::toml::from_str(text).map_err(|e| ConfigError::Syntax(e.message().to_owned()))?;
    if file.version != CONFIG_VERSION {
        return Err(ConfigError::UnsupportedVersion(file.version));
    }
    let (address, prefix) = file
        .network
        .address
        .split_once('/')
        .ok_or_else(|| invalid("network.address", format_args!("{:?} lacks a prefix length (10.0.0.1/24)", file.network.address)))?;
    let prefix_len = prefix
        .parse()
        .map_err(|_| invalid("network.address", format_args!("prefix length {prefix:?} is not a number")))?;
    let peers = file
        .subnet
        .peers
        .iter()
        .map(|p| p.parse::<SocketAddr>().map_err(|_| invalid("subnet.peers", format_args!("{p:?} is not an address:port"))))
        .collect::<Result<_, _>>()?;
    let config = NodeConfig {
        operator: principal("node.operator", &file.node.operator)?,
        data_center: file.node.data_center,
        network: Network {
            address: ip("network.address", address)?,
            prefix_len,
            gateway: file.network.gateway.as_deref().map(|g| ip("network.gateway", g)).transpose()?,
            http_port: file.network.http_port,
            p2p_port: file.network.p2p_port,
        },
        subnet: Subnet { id: principal("subnet.id", &file.subnet.id)?, peers },
    };
    config.validate()?;
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../../examples/node.toml");

    #[test]
    fn the_shipped_example_parses() {
        let c = parse(EXAMPLE).expect("example is valid");
        assert_eq!(c.data_center, "zh1");
        assert_eq!(c.network.prefix_len, 24);
        assert_eq!(c.subnet.peers.len(), 3);
    }

    #[test]
    fn errors_name_the_key() {
        let typo = EXAMPLE.replace("http_port", "htp_port");
        assert!(matches!(parse(&typo), Err(ConfigError::Syntax(m)) if m.contains("htp_port")));
        let v2 = EXAMPLE.replace("version = 1", "version = 2");
        assert_eq!(parse(&v2), Err(ConfigError::UnsupportedVersion(2)));
        let bad_ip = EXAMPLE.replace("10.0.0.1/24", "10.0.0.300/24");
        assert_eq!(parse(&bad_ip).map_err(|e| e.to_string()), Err("network.address: \"10.0.0.300\" is not an IP address".into()));
        let no_prefix = EXAMPLE.replace("10.0.0.1/24", "10.0.0.1");
        assert!(parse(&no_prefix).is_err_and(|e| e.to_string().contains("lacks a prefix length")));
        let bad_data_center = EXAMPLE.replace("data_center = \"zh1\"", "data_center = \"Zürich\"");
        assert!(parse(&bad_data_center).is_err_and(|e| e.to_string().starts_with("node.data_center")));
        let bad_principal = EXAMPLE.replace("rrkah-fqaaa-aaaaa-aaaaq-cai", "rrkah-fqaaa-aaaaa-aaaaq-cab");
        assert!(parse(&bad_principal).is_err_and(|e| e.to_string().starts_with("node.operator: \"rrkah")));
    }
}
