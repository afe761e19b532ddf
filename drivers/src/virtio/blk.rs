//! virtio-blk: the node's state disk, as 512-byte sectors.
//!
//! Requests complete synchronously (the driver waits on the used ring). Under QEMU the device
//! model answers within microseconds, and the node issues disk writes only at block
//! persistence and checkpoints, so the wait is short and bounded.

use super::KeelHal;
use virtio_drivers::device::blk::{SECTOR_SIZE, VirtIOBlk};
use virtio_drivers::transport::pci::PciTransport;

pub const SECTOR: usize = SECTOR_SIZE;

pub struct Disk {
    inner: VirtIOBlk<KeelHal, PciTransport>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskError {
    /// The buffer is not a whole number of sectors.
    Unaligned,
    /// The range ends past the disk.
    OutOfRange,
    ReadOnly,
    Device(virtio_drivers::Error),
}

impl core::fmt::Display for DiskError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Unaligned => write!(f, "buffer is not a whole number of {SECTOR}-byte sectors"),
            Self::OutOfRange => write!(f, "sector range past the end of the disk"),
            Self::ReadOnly => write!(f, "the disk is read-only"),
            Self::Device(e) => write!(f, "virtio-blk: {e}"),
        }
    }
}

impl Disk {
    pub fn new(transport: PciTransport) -> Result<Self, DiskError> {
        VirtIOBlk::new(transport).map(|inner| Self { inner }).map_err(DiskError::Device)
    }

    /// Capacity in sectors.
    pub fn sectors(&self) -> u64 {
        self.inner.capacity()
    }

    fn check(&self, sector: u64, len: usize) -> Result<(), DiskError> {
        if !len.is_multiple_of(SECTOR) {
            return Err(DiskError::Unaligned);
        }
        let end = sector.checked_add((len / SECTOR) as u64).ok_or(DiskError::OutOfRange)?;
        if end > self.sectors() { Err(DiskError::OutOfRange) } else { Ok(()) }
    }

    pub fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), DiskError> {
        self.check(sector, buf.len())?;
        self.inner.read_blocks(sector as usize, buf).map_err(DiskError::Device)
    }

    pub fn write(&mut self, sector: u64, buf: &[u8]) -> Result<(), DiskError> {
        self.check(sector, buf.len())?;
        if self.inner.readonly() {
            return Err(DiskError::ReadOnly);
        }
        self.inner.write_blocks(sector as usize, buf).map_err(DiskError::Device)
    }

    /// Makes every completed write durable (the ordering barrier of checkpoints).
    pub fn flush(&mut self) -> Result<(), DiskError> {
        self.inner.flush().map_err(DiskError::Device)
    }
}
