//! The state device's layout (version 2):
//! * blocks `0..KEY_BLOCKS`: the key record, written once before anything is served, so
//!   the root key a client fetched stays the root key after restarts: a one-node subnet's
//!   seed, or a subnet member's [`Membership`] (written by `xtask testnet` before first boot);
//! * blocks `KEY_BLOCKS..RESERVED_BLOCKS`: the consensus journal of a subnet member
//!   ([`crate::journal`]);
//! * the rest: the hypervisor's checkpoint store (checkpoints plus the log of finalized
//!   blocks, whose own format makes every write crash-atomic).

use alloc::vec::Vec;
use keel_consensus::codec::{Decode, Encode};
use keel_hypervisor::block_device::Block;
use keel_hypervisor::codec::sha256;
use keel_hypervisor::{BLOCK_SIZE, BlockDevice, DeviceError};

use crate::keys::{KeyOrigin, NodeKeys};
use crate::membership::Membership;

/// Blocks of the key record.
pub const KEY_BLOCKS: u64 = 16;
/// Blocks of each of the journal's two halves (64 MiB).
pub const JOURNAL_HALF_BLOCKS: u64 = 16 * 1024;
/// Blocks reserved in front of the checkpoint store.
pub const RESERVED_BLOCKS: u64 = KEY_BLOCKS + 2 * JOURNAL_HALF_BLOCKS;
const MAGIC: &[u8; 8] = b"KEELKEYS";
const VERSION: u32 = 2;
/// magic, version, kind, body length.
const HEADER_LEN: usize = 8 + 4 + 1 + 4;
const KIND_SEED: u8 = 0;
const KIND_MEMBER: u8 = 1;

/// Why the key record could not be read or written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStoreError {
    /// The device failed.
    Device(DeviceError),
    /// The device is too small to hold the key record and a checkpoint store.
    TooSmall,
    /// A key record of a format this code does not read.
    UnsupportedVersion(u32),
    /// A key record whose checksum does not match (a torn first-boot write reads as no
    /// record at all; this is a record that was complete and then damaged).
    Corrupt,
    /// The stored seed does not deal a valid key set.
    BadKeys,
    /// The device holds replicated state but no key record: starting with new keys would
    /// silently change the node's identity and root key under its existing state.
    MissingKeys,
}

impl From<DeviceError> for KeyStoreError {
    fn from(e: DeviceError) -> Self {
        KeyStoreError::Device(e)
    }
}

/// The part of a device after the reserved blocks, as a device of its own.
#[derive(Debug)]
pub struct Region<D> {
    dev: D,
}

impl<D: BlockDevice> Region<D> {
    /// The store region of `dev`.
    pub fn new(dev: D) -> Result<Region<D>, KeyStoreError> {
        if dev.block_count() <= RESERVED_BLOCKS {
            return Err(KeyStoreError::TooSmall);
        }
        Ok(Region { dev })
    }

    /// The whole device back.
    pub fn into_inner(self) -> D {
        self.dev
    }

    /// The whole device, for the reserved blocks in front of the region.
    pub fn whole(&mut self) -> &mut D {
        &mut self.dev
    }
}

impl<D: BlockDevice> BlockDevice for Region<D> {
    fn block_count(&self) -> u64 {
        self.dev.block_count().saturating_sub(RESERVED_BLOCKS)
    }
    fn read_block(&mut self, index: u64, buf: &mut Block) -> Result<(), DeviceError> {
        self.dev.read_block(index.saturating_add(RESERVED_BLOCKS), buf)
    }
    fn write_block(&mut self, index: u64, data: &Block) -> Result<(), DeviceError> {
        self.dev.write_block(index.saturating_add(RESERVED_BLOCKS), data)
    }
    fn flush(&mut self) -> Result<(), DeviceError> {
        self.dev.flush()
    }
}

/// The keys stored on `dev`, if it has a complete record.
pub fn load_keys<D: BlockDevice>(dev: &mut D) -> Result<Option<NodeKeys>, KeyStoreError> {
    if dev.block_count() <= RESERVED_BLOCKS {
        return Err(KeyStoreError::TooSmall);
    }
    let mut first = [0u8; BLOCK_SIZE];
    dev.read_block(0, &mut first)?;
    if &first[..8] != MAGIC {
        return Ok(None);
    }
    let version = u32::from_be_bytes([first[8], first[9], first[10], first[11]]);
    if version != VERSION {
        return Err(KeyStoreError::UnsupportedVersion(version));
    }
    let body_len = u32::from_be_bytes([first[13], first[14], first[15], first[16]]) as usize;
    let total = HEADER_LEN + body_len + 32;
    if total > KEY_BLOCKS as usize * BLOCK_SIZE {
        return Err(KeyStoreError::Corrupt);
    }
    let mut record = first.to_vec();
    let mut block = [0u8; BLOCK_SIZE];
    for index in 1..total.div_ceil(BLOCK_SIZE) as u64 {
        dev.read_block(index, &mut block)?;
        record.extend_from_slice(&block);
    }
    let (signed, checksum) = record[..total].split_at(total - 32);
    if sha256(&[signed]) != checksum {
        return Err(KeyStoreError::Corrupt);
    }
    keys_of(first[12], &signed[HEADER_LEN..]).map(Some)
}

fn keys_of(kind: u8, body: &[u8]) -> Result<NodeKeys, KeyStoreError> {
    match kind {
        KIND_SEED => {
            let seed: [u8; 32] = body.try_into().map_err(|_| KeyStoreError::Corrupt)?;
            NodeKeys::generate(seed).map_err(|_| KeyStoreError::BadKeys)
        }
        KIND_MEMBER => {
            let membership = Membership::from_bytes(body).map_err(|_| KeyStoreError::Corrupt)?;
            NodeKeys::member(membership).map_err(|_| KeyStoreError::BadKeys)
        }
        _ => Err(KeyStoreError::Corrupt),
    }
}

/// The key record of `keys` as the bytes at the start of a state device: what
/// [`store_keys`] writes, and what `xtask testnet` puts on each node's disk image.
pub fn key_record(keys: &NodeKeys) -> Result<Vec<u8>, KeyStoreError> {
    let (kind, body) = match keys.origin() {
        KeyOrigin::Seed(seed) => (KIND_SEED, seed.to_vec()),
        KeyOrigin::Member(m) => (KIND_MEMBER, m.to_bytes()),
    };
    let mut record = Vec::with_capacity(HEADER_LEN + body.len() + 32);
    record.extend_from_slice(MAGIC);
    record.extend_from_slice(&VERSION.to_be_bytes());
    record.push(kind);
    record.extend_from_slice(&(body.len() as u32).to_be_bytes());
    record.extend_from_slice(&body);
    let checksum = sha256(&[&record]);
    record.extend_from_slice(&checksum);
    if record.len() > KEY_BLOCKS as usize * BLOCK_SIZE {
        return Err(KeyStoreError::TooSmall);
    }
    record.resize(record.len().div_ceil(BLOCK_SIZE) * BLOCK_SIZE, 0);
    Ok(record)
}

/// Writes `keys` to `dev` durably (flushed before returning). The first block goes last, so
/// a torn write reads as no record at all.
pub fn store_keys<D: BlockDevice>(dev: &mut D, keys: &NodeKeys) -> Result<(), KeyStoreError> {
    if dev.block_count() <= RESERVED_BLOCKS {
        return Err(KeyStoreError::TooSmall);
    }
    let record = key_record(keys)?;
    let blocks: Vec<&[u8]> = record.chunks(BLOCK_SIZE).collect();
    let order = (1..blocks.len()).chain(0..1);
    for index in order {
        let block: &Block = blocks[index].try_into().map_err(|_| KeyStoreError::Corrupt)?;
        dev.write_block(index as u64, block)?;
    }
    dev.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use keel_hypervisor::MemBlockDevice;

    #[test]
    fn key_record_round_trip_and_damage() {
        let mut dev = MemBlockDevice::new(RESERVED_BLOCKS + 1);
        assert_eq!(load_keys(&mut dev), Ok(None));
        let keys = NodeKeys::generate([7; 32]).unwrap();
        store_keys(&mut dev, &keys).unwrap();
        assert_eq!(load_keys(&mut dev), Ok(Some(keys)));
        let mut b = [0u8; BLOCK_SIZE];
        dev.read_block(0, &mut b).unwrap();
        b[20] ^= 1;
        dev.write_block(0, &b).unwrap();
        assert_eq!(load_keys(&mut dev), Err(KeyStoreError::Corrupt));
        assert_eq!(load_keys(&mut MemBlockDevice::new(1)), Err(KeyStoreError::TooSmall));
    }

    #[test]
    fn a_membership_spans_blocks_and_round_trips() {
        let member = Membership::testnet([9; 32], 40, [10, 10, 0, 0], 24).unwrap().swap_remove(5);
        let keys = NodeKeys::member(member).unwrap();
        let mut dev = MemBlockDevice::new(RESERVED_BLOCKS + 1);
        store_keys(&mut dev, &keys).unwrap();
        assert!(key_record(&keys).unwrap().len() > BLOCK_SIZE, "40 members do not fit one block");
        let loaded = load_keys(&mut dev).unwrap().unwrap();
        assert_eq!(loaded, keys);
        assert_eq!(loaded.index(), keel_consensus::NodeIndex::new(5));
        let mut b = [0u8; BLOCK_SIZE];
        dev.read_block(1, &mut b).unwrap();
        b[7] ^= 1;
        dev.write_block(1, &b).unwrap();
        assert_eq!(load_keys(&mut dev), Err(KeyStoreError::Corrupt));
    }

    #[test]
    fn a_version_1_record_is_refused_not_overwritten() {
        let mut dev = MemBlockDevice::new(RESERVED_BLOCKS + 1);
        let mut b = [0u8; BLOCK_SIZE];
        b[..8].copy_from_slice(MAGIC);
        b[8..12].copy_from_slice(&1u32.to_be_bytes());
        dev.write_block(0, &b).unwrap();
        assert_eq!(load_keys(&mut dev), Err(KeyStoreError::UnsupportedVersion(1)));
    }

    #[test]
    fn region_shifts_past_the_key_block() {
        let mut region = Region::new(MemBlockDevice::new(RESERVED_BLOCKS + 3)).unwrap();
        assert_eq!(region.block_count(), 3);
        region.write_block(0, &[5; BLOCK_SIZE]).unwrap();
        let mut dev = region.into_inner();
        let mut b = [0u8; BLOCK_SIZE];
        dev.read_block(RESERVED_BLOCKS, &mut b).unwrap();
        assert_eq!(b[0], 5);
        dev.read_block(0, &mut b).unwrap();
        assert_eq!(b[0], 0);
    }
}
