//! Membership of a subnet of several nodes: the registry record every member shares (the
//! subnet's public keys and where each member listens) plus this node's secrets. A
//! documented genesis dealing (`keel_consensus::GenesisDealing`, done by `xtask testnet`)
//! writes one onto each node's state disk before first boot; a later DKG replaces the
//! dealing and leaves this record as it is.

use alloc::vec::Vec;
use keel_consensus::codec::{Decode, DecodeError, Encode, Reader, Writer};
use keel_consensus::crypto::{GenesisDealing, KeyError, NodeSecrets, SubnetPublicKeys};
use keel_consensus::ic_crypto::IcCrypto;
use keel_consensus::{NodeIndex, SubnetSize};

/// The TCP port nodes listen on for their peers.
pub const P2P_PORT: u16 = 4100;

/// Where a member listens for its peers (its address on the subnet network).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerAddress {
    pub ip: [u8; 4],
    pub port: u16,
}

/// One node's view of its subnet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Membership {
    /// The subnet's public keys (the registry's record).
    pub public: SubnetPublicKeys,
    /// This node's secrets; `secrets.index` says which member it is.
    pub secrets: NodeSecrets,
    /// Every member's address, by index.
    pub addresses: Vec<PeerAddress>,
    /// Prefix length of the subnet network.
    pub prefix_len: u8,
}

const MAX_MEMBERS: usize = 1024;

impl Membership {
    /// Deals a testnet of `n` nodes from `seed` with threshold `n − f`: member `i` listens on
    /// `network` with its last octet `i + 1` (e.g. 10.10.0.1 … 10.10.0.n) on [`P2P_PORT`].
    pub fn testnet(seed: [u8; 32], n: u32, network: [u8; 4], prefix_len: u8) -> Result<Vec<Membership>, KeyError> {
        let size = SubnetSize::new(n).map_err(|_| KeyError::BadThreshold)?;
        if n > 253 {
            return Err(KeyError::BadThreshold);
        }
        let GenesisDealing { public, secrets } = GenesisDealing::deal::<IcCrypto>(seed, n, size.quorum())?;
        let addresses: Vec<PeerAddress> = (0..n)
            .map(|i| PeerAddress { ip: [network[0], network[1], network[2], i as u8 + 1], port: P2P_PORT })
            .collect();
        Ok(secrets
            .into_iter()
            .map(|secrets| Membership { public: public.clone(), secrets, addresses: addresses.clone(), prefix_len })
            .collect())
    }

    /// This node's index.
    pub fn me(&self) -> NodeIndex {
        self.secrets.index
    }

    /// This node's own address.
    pub fn my_address(&self) -> Option<PeerAddress> {
        self.addresses.get(self.me().as_usize()).copied()
    }

    /// The members other than this node, with their addresses.
    pub fn peers(&self) -> impl Iterator<Item = (NodeIndex, PeerAddress)> + '_ {
        let me = self.me();
        self.addresses.iter().enumerate().map(|(i, a)| (NodeIndex::new(i as u32), *a)).filter(move |(i, _)| *i != me)
    }
}

impl Encode for Membership {
    fn encode_to(&self, w: &mut Writer) {
        self.public.encode_to(w);
        self.secrets.encode_to(w);
        w.len(self.addresses.len());
        for a in &self.addresses {
            w.fixed(&a.ip);
            w.u32(u32::from(a.port));
        }
        w.u8(self.prefix_len);
    }
}

impl Decode for Membership {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let public = SubnetPublicKeys::decode_from(r)?;
        let secrets = NodeSecrets::decode_from(r)?;
        let count = r.len(MAX_MEMBERS)?;
        let mut addresses = Vec::with_capacity(count);
        for _ in 0..count {
            let ip = r.array()?;
            let port = u16::try_from(r.u32()?).map_err(|_| DecodeError::Invalid)?;
            addresses.push(PeerAddress { ip, port });
        }
        let prefix_len = r.u8()?;
        if addresses.len() != public.size.n() as usize || !public.size.contains(secrets.index) || prefix_len > 32 {
            return Err(DecodeError::Invalid);
        }
        Ok(Membership { public, secrets, addresses, prefix_len })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_testnet_deals_one_record_per_node_that_round_trips() {
        let members = Membership::testnet([3; 32], 4, [10, 10, 0, 0], 24).unwrap();
        assert_eq!(members.len(), 4);
        for (i, m) in members.iter().enumerate() {
            assert_eq!(m.me(), NodeIndex::new(i as u32));
            assert_eq!(m.my_address().unwrap().ip, [10, 10, 0, i as u8 + 1]);
            assert_eq!(m.peers().count(), 3);
            assert_eq!(Membership::from_bytes(&m.to_bytes()).unwrap(), *m);
            assert_eq!(m.public, members[0].public, "one registry record");
        }
        assert_eq!(members[0].public.threshold, 3, "n − f of 4");
        let bytes = members[1].to_bytes();
        for cut in 0..bytes.len() {
            assert!(Membership::from_bytes(&bytes[..cut]).is_err());
        }
    }
}
