//! The canonical binary encoding of a [`NodeConfig`], as stored in `\KEEL\NODE.CFG`.
//!
//! ```text
//! magic    "KEELCFG\0"                      8 bytes
//! version  u16 LE (= CONFIG_VERSION)
//! length   u32 LE, bytes of body
//! body     operator      u8 len, bytes
//!          data_center   u8 len, UTF-8
//!          address       ip, then u8 prefix length
//!          gateway       u8 0 | 1, then ip if 1
//!          http_port     u16 LE
//!          p2p_port      u16 LE
//!          subnet id     u8 len, bytes
//!          peers         u16 LE count, each ip then u16 LE port
//! checksum SHA-256 of everything before it   32 bytes
//! ip = u8 4 then 4 bytes, or u8 6 then 16 bytes (network order)
//! ```
//! Every field has exactly one encoding and [`decode`] refuses anything else, so equal
//! configurations have equal bytes and therefore equal measurements.

use super::{CONFIG_VERSION, ConfigError, Network, NodeConfig, Subnet};
use crate::pcr::sha256;
use alloc::string::String;
use alloc::vec::Vec;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

pub const MAGIC: &[u8; 8] = b"KEELCFG\0";
const HEADER_LEN: usize = 8 + 2 + 4;
const CHECKSUM_LEN: usize = 32;

/// Encodes a configuration (validate it first: encoding does not judge values).
pub fn encode(config: &NodeConfig) -> Vec<u8> {
    let mut body = Vec::new();
    put_bytes(&mut body, &config.operator);
    put_bytes(&mut body, config.data_center.as_bytes());
    put_ip(&mut body, config.network.address);
    body.push(config.network.prefix_len);
    match config.network.gateway {
        Some(gateway) => {
            body.push(1);
            put_ip(&mut body, gateway);
        }
        None => body.push(0),
    }
    body.extend_from_slice(&config.network.http_port.to_le_bytes());
    body.extend_from_slice(&config.network.p2p_port.to_le_bytes());
    put_bytes(&mut body, &config.subnet.id);
    body.extend_from_slice(&(config.subnet.peers.len() as u16).to_le_bytes());
    for peer in &config.subnet.peers {
        put_ip(&mut body, peer.ip());
        body.extend_from_slice(&peer.port().to_le_bytes());
    }
    let mut out = Vec::with_capacity(HEADER_LEN + body.len() + CHECKSUM_LEN);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&CONFIG_VERSION.to_le_bytes());
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&body);
    let checksum = sha256(&out);
    out.extend_from_slice(&checksum);
    out
}

/// Decodes and validates a stored configuration.
pub fn decode(bytes: &[u8]) -> Result<NodeConfig, ConfigError> {
    if bytes.len() < HEADER_LEN || bytes[..8] != MAGIC[..] {
        return Err(if MAGIC.starts_with(&bytes[..bytes.len().min(8)]) && !bytes.is_empty() {
            ConfigError::Truncated
        } else {
            ConfigError::NotAConfig
        });
    }
    let version = u16::from_le_bytes([bytes[8], bytes[9]]);
    if version != CONFIG_VERSION {
        return Err(ConfigError::UnsupportedVersion(version));
    }
    let body_len = u32::from_le_bytes([bytes[10], bytes[11], bytes[12], bytes[13]]) as usize;
    let total = HEADER_LEN.checked_add(body_len).and_then(|n| n.checked_add(CHECKSUM_LEN)).ok_or(ConfigError::Truncated)?;
    if bytes.len() < total {
        return Err(ConfigError::Truncated);
    }
    if bytes.len() > total {
        return Err(ConfigError::Malformed("bytes after the checksum"));
    }
    let (signed, checksum) = bytes.split_at(HEADER_LEN + body_len);
    if sha256(signed) != checksum {
        return Err(ConfigError::ChecksumMismatch);
    }
    let mut r = Reader(&signed[HEADER_LEN..]);
    let operator = r.bytes()?.to_vec();
    let data_center = String::from(core::str::from_utf8(r.bytes()?).map_err(|_| ConfigError::Malformed("data-center id is not UTF-8"))?);
    let address = r.ip()?;
    let prefix_len = r.u8()?;
    let gateway = match r.u8()? {
        0 => None,
        1 => Some(r.ip()?),
        _ => return Err(ConfigError::Malformed("gateway flag is neither 0 nor 1")),
    };
    let http_port = r.u16()?;
    let p2p_port = r.u16()?;
    let id = r.bytes()?.to_vec();
    let count = usize::from(r.u16()?);
    let peers = (0..count).map(|_| Ok(SocketAddr::new(r.ip()?, r.u16()?))).collect::<Result<Vec<_>, ConfigError>>()?;
    if !r.0.is_empty() {
        return Err(ConfigError::Malformed("bytes after the last field"));
    }
    let config = NodeConfig {
        operator,
        data_center,
        network: Network { address, prefix_len, gateway, http_port, p2p_port },
        subnet: Subnet { id, peers },
    };
    config.validate()?;
    Ok(config)
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    // Validation bounds every byte field far below 256.
    out.push(bytes.len().min(255) as u8);
    out.extend_from_slice(&bytes[..bytes.len().min(255)]);
}

fn put_ip(out: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            out.push(4);
            out.extend_from_slice(&v4.octets());
        }
        IpAddr::V6(v6) => {
            out.push(6);
            out.extend_from_slice(&v6.octets());
        }
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ConfigError> {
        if self.0.len() < n {
            return Err(ConfigError::Malformed("a field runs past the end of the body"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, ConfigError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, ConfigError> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn bytes(&mut self) -> Result<&'a [u8], ConfigError> {
        let len = usize::from(self.u8()?);
        self.take(len)
    }

    fn ip(&mut self) -> Result<IpAddr, ConfigError> {
        match self.u8()? {
            4 => {
                let b = self.take(4)?;
                Ok(IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3])))
            }
            6 => {
                let mut octets = [0u8; 16];
                octets.copy_from_slice(self.take(16)?);
                Ok(IpAddr::V6(Ipv6Addr::from(octets)))
            }
            _ => Err(ConfigError::Malformed("address family is neither 4 nor 6")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::example;

    #[test]
    fn round_trips() {
        let bytes = encode(&example());
        assert_eq!(decode(&bytes), Ok(example()));
    }

    #[test]
    fn every_single_byte_change_is_detected() {
        let bytes = encode(&example());
        for i in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[i] ^= 0x01;
            assert!(decode(&damaged).is_err(), "flipping byte {i} went unnoticed");
        }
    }

    #[test]
    fn names_what_is_wrong() {
        let bytes = encode(&example());
        assert_eq!(decode(b""), Err(ConfigError::NotAConfig));
        assert_eq!(decode(b"[node]\noperator = 1"), Err(ConfigError::NotAConfig));
        assert_eq!(decode(&bytes[..bytes.len() - 1]), Err(ConfigError::Truncated));
        let mut v2 = bytes.clone();
        v2[8] = 2;
        assert_eq!(decode(&v2), Err(ConfigError::UnsupportedVersion(2)));
        let mut body = bytes.clone();
        body[20] ^= 0xff;
        assert_eq!(decode(&body), Err(ConfigError::ChecksumMismatch));
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(decode(&longer), Err(ConfigError::Malformed("bytes after the checksum")));
    }

    #[test]
    fn a_well_formed_file_with_bad_values_is_refused_at_decode() {
        let mut c = example();
        c.network.http_port = 0;
        assert!(matches!(decode(&encode(&c)), Err(ConfigError::Invalid { field: "network.http_port", .. })));
    }
}
