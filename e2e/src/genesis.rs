//! The genesis of a testnet: one dealing of the subnet's keys, and each member's state disk
//! carrying its key record, so that a fresh disk boots as that member at height 0 and the
//! same disk booted again is the same member restarting.

use keel_node::NodeKeys;
use keel_node::membership::Membership;
use keel_node::persistence::key_record;
use std::io::{Read, Write};
use std::path::Path;

/// The subnet network: member `i` (0-based) is `10.10.0.(i + 1)/24`, on the switch only.
pub const SUBNET_NETWORK: [u8; 4] = [10, 10, 0, 0];
pub const SUBNET_PREFIX_LEN: u8 = 24;
/// Size of a member's state disk. The file is sparse, so it costs only what the node
/// writes; the node reserves more than 128 MiB at the start (keys and consensus journal).
pub const DISK_BYTES: u64 = 1 << 30;

/// The dealt subnet: the bytes to put at the start of each member's disk, by index.
#[derive(Clone, Debug)]
pub struct Genesis {
    pub key_records: Vec<Vec<u8>>,
    /// DER of the subnet's public key: what every member's `/api/v2/status` hands out.
    pub root_key_der: Vec<u8>,
}

/// Deals the keys of an `n`-node testnet from `seed` (the same seed deals the same subnet).
pub fn deal(seed: [u8; 32], n: u32) -> Result<Genesis, String> {
    let members = Membership::testnet(seed, n, SUBNET_NETWORK, SUBNET_PREFIX_LEN)
        .map_err(|e| format!("dealing the keys of {n} nodes: {e:?}"))?;
    let mut key_records = Vec::with_capacity(members.len());
    let mut root_key_der = Vec::new();
    for (i, membership) in members.into_iter().enumerate() {
        let keys = NodeKeys::member(membership).map_err(|e| format!("member {i}'s keys: {e:?}"))?;
        let root = keys.root_key_der().map_err(|e| format!("member {i}'s root key: {e:?}"))?;
        if i == 0 {
            root_key_der = root;
        } else if root != root_key_der {
            return Err(format!("member {i} got a different root key than member 0"));
        }
        key_records.push(key_record(&keys).map_err(|e| format!("member {i}'s key record: {e:?}"))?);
    }
    Ok(Genesis { key_records, root_key_der })
}

/// 32 bytes from the host's entropy: a fresh subnet per testnet.
pub fn random_seed() -> Result<[u8; 32], String> {
    let mut seed = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut seed))
        .map_err(|e| format!("reading /dev/urandom: {e}"))?;
    Ok(seed)
}

/// Writes a fresh member disk at `path`: `key_record` at byte 0, the rest a sparse hole of
/// [`DISK_BYTES`] in all. An existing file is replaced (that member starts over).
pub fn write_disk(path: &Path, key_record: &[u8]) -> Result<(), String> {
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::File::create(path)?;
        file.write_all(key_record)?;
        file.set_len(DISK_BYTES)?;
        file.sync_all()
    };
    write().map_err(|e| format!("writing the state disk {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use keel_hypervisor::BLOCK_SIZE;
    use keel_hypervisor::block_device::FileBlockDevice;
    use keel_node::persistence::load_keys;

    #[test]
    fn every_member_gets_its_own_record_under_one_root_key() {
        let genesis = deal([7; 32], 4).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(genesis.key_records.len(), 4);
        assert_eq!(genesis.root_key_der.len(), 133, "DER of a BLS12-381 G2 key");
        for (i, record) in genesis.key_records.iter().enumerate() {
            assert!(record.starts_with(b"KEELKEYS"), "member {i}");
            assert!(genesis.key_records[..i].iter().all(|other| other != record), "member {i} shares a record");
        }
        let again = deal([7; 32], 4).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again.root_key_der, genesis.root_key_der, "the seed determines the subnet");
        let other = deal([8; 32], 4).unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(other.root_key_der, genesis.root_key_der);
    }

    #[test]
    fn a_written_disk_is_sparse_and_reads_back_as_that_member() {
        let dir = std::env::temp_dir().join(format!("keel-genesis-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let genesis = deal([9; 32], 4).unwrap_or_else(|e| panic!("{e}"));
        let path = dir.join("node2.img");
        write_disk(&path, &genesis.key_records[2]).unwrap_or_else(|e| panic!("{e}"));

        let meta = std::fs::metadata(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(meta.len(), DISK_BYTES);
        use std::os::unix::fs::MetadataExt;
        assert!(meta.blocks() * 512 < 16 << 20, "sparse: {} bytes allocated", meta.blocks() * 512);

        let mut device = FileBlockDevice::open(&path, DISK_BYTES / BLOCK_SIZE as u64).unwrap_or_else(|e| panic!("{e}"));
        let keys = load_keys(&mut device).unwrap_or_else(|e| panic!("{e:?}")).unwrap_or_else(|| panic!("no key record"));
        let membership = keys.membership().unwrap_or_else(|| panic!("a member's keys, not a one-node seed"));
        assert_eq!(membership.me().as_usize(), 2);
        assert_eq!(membership.my_address().map(|a| a.ip), Some([10, 10, 0, 3]));
        assert_eq!(keys.root_key_der().ok(), Some(genesis.root_key_der.clone()));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
