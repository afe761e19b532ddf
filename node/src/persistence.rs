//! The state device's layout: block 0 holds the node's key record, the rest is the
//! hypervisor's checkpoint store (checkpoints plus the log of finalized blocks, whose own
//! format makes every write crash-atomic). Keys are written once, on first boot, before
//! anything is served, so the root key a client fetched stays the root key after restarts.

use keel_hypervisor::block_device::Block;
use keel_hypervisor::codec::sha256;
use keel_hypervisor::{BLOCK_SIZE, BlockDevice, DeviceError};

use crate::keys::NodeKeys;

/// Blocks reserved in front of the checkpoint store.
pub const RESERVED_BLOCKS: u64 = 1;
const KEYS_BLOCK: u64 = 0;
const MAGIC: &[u8; 8] = b"KEELKEYS";
const VERSION: u32 = 1;
/// magic, version, seed, checksum.
const RECORD_LEN: usize = 8 + 4 + 32 + 32;

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
    let mut block = [0u8; BLOCK_SIZE];
    dev.read_block(KEYS_BLOCK, &mut block)?;
    if &block[..8] != MAGIC {
        return Ok(None);
    }
    let version = u32::from_be_bytes([block[8], block[9], block[10], block[11]]);
    if version != VERSION {
        return Err(KeyStoreError::UnsupportedVersion(version));
    }
    let body = &block[..RECORD_LEN - 32];
    if sha256(&[body]) != block[RECORD_LEN - 32..RECORD_LEN] {
        return Err(KeyStoreError::Corrupt);
    }
    let mut seed = [0u8; 32];
    seed.copy_from_slice(&block[12..44]);
    NodeKeys::generate(seed).map(Some).map_err(|_| KeyStoreError::BadKeys)
}

/// Writes `keys` to `dev` durably (flushed before returning).
pub fn store_keys<D: BlockDevice>(dev: &mut D, keys: &NodeKeys) -> Result<(), KeyStoreError> {
    if dev.block_count() <= RESERVED_BLOCKS {
        return Err(KeyStoreError::TooSmall);
    }
    let mut block = [0u8; BLOCK_SIZE];
    block[..8].copy_from_slice(MAGIC);
    block[8..12].copy_from_slice(&VERSION.to_be_bytes());
    block[12..44].copy_from_slice(keys.seed());
    let checksum = sha256(&[&block[..RECORD_LEN - 32]]);
    block[RECORD_LEN - 32..RECORD_LEN].copy_from_slice(&checksum);
    dev.write_block(KEYS_BLOCK, &block)?;
    dev.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use keel_hypervisor::MemBlockDevice;

    #[test]
    fn key_record_round_trip_and_damage() {
        let mut dev = MemBlockDevice::new(16);
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
    fn region_shifts_past_the_key_block() {
        let mut region = Region::new(MemBlockDevice::new(4)).unwrap();
        assert_eq!(region.block_count(), 3);
        region.write_block(0, &[5; BLOCK_SIZE]).unwrap();
        let mut dev = region.into_inner();
        let mut b = [0u8; BLOCK_SIZE];
        dev.read_block(1, &mut b).unwrap();
        assert_eq!(b[0], 5);
        dev.read_block(0, &mut b).unwrap();
        assert_eq!(b[0], 0);
    }
}
