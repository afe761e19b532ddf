//! The state disk: virtio-blk behind the hypervisor's `BlockDevice` trait (4 KiB blocks,
//! eight sectors each).

use keel_drivers::virtio::blk::{Disk, SECTOR};
use keel_hypervisor::block_device::Block;
use keel_hypervisor::{BLOCK_SIZE, BlockDevice, DeviceError};

const SECTORS_PER_BLOCK: u64 = (BLOCK_SIZE / SECTOR) as u64;

pub struct StateDisk {
    disk: Disk,
}

impl StateDisk {
    pub fn new(disk: Disk) -> Self {
        Self { disk }
    }

    fn sector(&self, index: u64) -> Result<u64, DeviceError> {
        let count = self.block_count();
        if index >= count {
            return Err(DeviceError::OutOfRange { index, count });
        }
        Ok(index * SECTORS_PER_BLOCK)
    }
}

fn io(e: keel_drivers::virtio::blk::DiskError) -> DeviceError {
    log::error!("state disk: {e}");
    DeviceError::Io
}

impl BlockDevice for StateDisk {
    fn block_count(&self) -> u64 {
        self.disk.sectors() / SECTORS_PER_BLOCK
    }

    fn read_block(&mut self, index: u64, buf: &mut Block) -> Result<(), DeviceError> {
        let sector = self.sector(index)?;
        self.disk.read(sector, buf).map_err(io)
    }

    fn write_block(&mut self, index: u64, data: &Block) -> Result<(), DeviceError> {
        let sector = self.sector(index)?;
        self.disk.write(sector, data).map_err(io)
    }

    fn flush(&mut self) -> Result<(), DeviceError> {
        self.disk.flush().map_err(io)
    }
}
