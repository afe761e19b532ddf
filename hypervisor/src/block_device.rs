//! The storage the hypervisor persists to: a device of fixed-size blocks. The kernel
//! implements it over virtio-blk; the host has a file and an in-memory device, and
//! [`CrashAfter`] simulates power loss at an exact write for recovery tests.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;

/// Block size of every device: equal to the page size so a page is one block write.
pub const BLOCK_SIZE: usize = crate::ids::PAGE_SIZE;

/// One block's bytes.
pub type Block = [u8; BLOCK_SIZE];

/// Why a device operation failed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum DeviceError {
    /// The block index is past the end of the device.
    OutOfRange { index: u64, count: u64 },
    /// The device failed (I/O error, or the simulated crash of [`CrashAfter`]).
    Io,
}

/// A block device. Writes may be cached until `flush`; `flush` is the ordering barrier
/// the checkpoint protocol relies on (everything before it is durable before anything
/// after it is issued). A single block write is assumed atomic or detectably torn —
/// every structure written carries a checksum, so a torn block reads as invalid.
pub trait BlockDevice {
    /// Number of blocks on the device.
    fn block_count(&self) -> u64;
    fn read_block(&mut self, index: u64, buf: &mut Block) -> Result<(), DeviceError>;
    fn write_block(&mut self, index: u64, data: &Block) -> Result<(), DeviceError>;
    fn flush(&mut self) -> Result<(), DeviceError>;
}

impl<D: BlockDevice + ?Sized> BlockDevice for &mut D {
    fn block_count(&self) -> u64 {
        (**self).block_count()
    }
    fn read_block(&mut self, index: u64, buf: &mut Block) -> Result<(), DeviceError> {
        (**self).read_block(index, buf)
    }
    fn write_block(&mut self, index: u64, data: &Block) -> Result<(), DeviceError> {
        (**self).write_block(index, data)
    }
    fn flush(&mut self) -> Result<(), DeviceError> {
        (**self).flush()
    }
}

fn check_range(index: u64, count: u64) -> Result<(), DeviceError> {
    if index < count { Ok(()) } else { Err(DeviceError::OutOfRange { index, count }) }
}

/// A RAM-backed device. Sparse: unwritten blocks read as zeros and cost nothing, so a
/// large test device is cheap. Cloning it is how tests snapshot "the disk after a crash".
#[derive(Clone, Debug)]
pub struct MemBlockDevice {
    count: u64,
    blocks: BTreeMap<u64, Box<Block>>,
    writes: u64,
}

impl MemBlockDevice {
    pub fn new(block_count: u64) -> MemBlockDevice {
        MemBlockDevice { count: block_count, blocks: BTreeMap::new(), writes: 0 }
    }

    /// The blocks ever written, by index (unwritten blocks read as zeros).
    pub fn written(&self) -> impl Iterator<Item = (u64, &Block)> {
        self.blocks.iter().map(|(i, b)| (*i, &**b))
    }

    /// Total block writes issued so far (tests size their crash sweeps with it).
    pub fn writes(&self) -> u64 {
        self.writes
    }
}

impl BlockDevice for MemBlockDevice {
    fn block_count(&self) -> u64 {
        self.count
    }

    fn read_block(&mut self, index: u64, buf: &mut Block) -> Result<(), DeviceError> {
        check_range(index, self.count)?;
        match self.blocks.get(&index) {
            Some(b) => buf.copy_from_slice(&b[..]),
            None => buf.fill(0),
        }
        Ok(())
    }

    fn write_block(&mut self, index: u64, data: &Block) -> Result<(), DeviceError> {
        check_range(index, self.count)?;
        self.writes += 1;
        match self.blocks.get_mut(&index) {
            Some(b) => b.copy_from_slice(data),
            None => {
                self.blocks.insert(index, Box::new(*data));
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), DeviceError> {
        Ok(())
    }
}

/// How the write that hits the crash point reaches the medium.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum CrashMode {
    /// The crashing write is lost entirely.
    Lost,
    /// Only the first half of the crashing block reaches the medium (a torn write).
    Torn,
}

/// Wraps a device and "loses power" at write number `limit` (0-based): that write and
/// every later write or flush fail with [`DeviceError::Io`] and never reach the inner
/// device. Sweeping `limit` over every write index proves crash atomicity.
#[derive(Debug)]
pub struct CrashAfter<D> {
    inner: D,
    limit: u64,
    issued: u64,
    mode: CrashMode,
}

impl<D: BlockDevice> CrashAfter<D> {
    pub fn new(inner: D, limit: u64, mode: CrashMode) -> CrashAfter<D> {
        CrashAfter { inner, limit, issued: 0, mode }
    }

    pub fn crashed(&self) -> bool {
        self.issued > self.limit
    }

    /// The medium as the crash left it.
    pub fn into_inner(self) -> D {
        self.inner
    }
}

impl<D: BlockDevice> BlockDevice for CrashAfter<D> {
    fn block_count(&self) -> u64 {
        self.inner.block_count()
    }

    fn read_block(&mut self, index: u64, buf: &mut Block) -> Result<(), DeviceError> {
        if self.crashed() {
            return Err(DeviceError::Io);
        }
        self.inner.read_block(index, buf)
    }

    fn write_block(&mut self, index: u64, data: &Block) -> Result<(), DeviceError> {
        if self.crashed() {
            return Err(DeviceError::Io);
        }
        let n = self.issued;
        self.issued += 1;
        if n < self.limit {
            return self.inner.write_block(index, data);
        }
        if self.mode == CrashMode::Torn {
            let mut torn = [0u8; BLOCK_SIZE];
            self.inner.read_block(index, &mut torn)?;
            torn[..BLOCK_SIZE / 2].copy_from_slice(&data[..BLOCK_SIZE / 2]);
            self.inner.write_block(index, &torn)?;
        }
        Err(DeviceError::Io)
    }

    fn flush(&mut self) -> Result<(), DeviceError> {
        if self.crashed() {
            return Err(DeviceError::Io);
        }
        self.inner.flush()
    }
}

/// A device backed by a host file (for host runs and the bench); the file grows sparsely.
#[cfg(not(target_os = "none"))]
#[derive(Debug)]
pub struct FileBlockDevice {
    file: std::fs::File,
    count: u64,
}

#[cfg(not(target_os = "none"))]
impl FileBlockDevice {
    /// Opens (creating if needed) `path` as a device of `block_count` blocks.
    pub fn open(path: &std::path::Path, block_count: u64) -> std::io::Result<FileBlockDevice> {
        let file = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path)?;
        file.set_len(block_count * BLOCK_SIZE as u64)?;
        Ok(FileBlockDevice { file, count: block_count })
    }
}

#[cfg(not(target_os = "none"))]
impl BlockDevice for FileBlockDevice {
    fn block_count(&self) -> u64 {
        self.count
    }

    fn read_block(&mut self, index: u64, buf: &mut Block) -> Result<(), DeviceError> {
        use std::os::unix::fs::FileExt;
        check_range(index, self.count)?;
        self.file.read_exact_at(buf, index * BLOCK_SIZE as u64).map_err(|_| DeviceError::Io)
    }

    fn write_block(&mut self, index: u64, data: &Block) -> Result<(), DeviceError> {
        use std::os::unix::fs::FileExt;
        check_range(index, self.count)?;
        self.file.write_all_at(data, index * BLOCK_SIZE as u64).map_err(|_| DeviceError::Io)
    }

    fn flush(&mut self) -> Result<(), DeviceError> {
        self.file.sync_data().map_err(|_| DeviceError::Io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(dev: &mut dyn BlockDevice) {
        let mut a = [0u8; BLOCK_SIZE];
        a[0] = 7;
        a[BLOCK_SIZE - 1] = 9;
        dev.write_block(3, &a).unwrap();
        dev.flush().unwrap();
        let mut b = [1u8; BLOCK_SIZE];
        dev.read_block(3, &mut b).unwrap();
        assert_eq!(a, b);
        dev.read_block(0, &mut b).unwrap();
        assert!(b.iter().all(|&x| x == 0));
        assert_eq!(dev.read_block(8, &mut b), Err(DeviceError::OutOfRange { index: 8, count: 8 }));
    }

    #[test]
    fn mem_device_roundtrip() {
        roundtrip(&mut MemBlockDevice::new(8));
    }

    #[test]
    fn file_device_roundtrip() {
        let path = std::env::temp_dir().join(format!("keel-hv-blockdev-{}", std::process::id()));
        let mut dev = FileBlockDevice::open(&path, 8).unwrap();
        roundtrip(&mut dev);
        drop(dev);
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn crash_after_drops_the_crashing_write_and_tears_on_request() {
        let full = [0xAAu8; BLOCK_SIZE];
        let mut c = CrashAfter::new(MemBlockDevice::new(4), 1, CrashMode::Torn);
        c.write_block(0, &full).unwrap();
        assert_eq!(c.write_block(1, &full), Err(DeviceError::Io));
        assert_eq!(c.write_block(2, &full), Err(DeviceError::Io));
        let mut inner = c.into_inner();
        let mut b = [0u8; BLOCK_SIZE];
        inner.read_block(1, &mut b).unwrap();
        assert!(b[..BLOCK_SIZE / 2].iter().all(|&x| x == 0xAA));
        assert!(b[BLOCK_SIZE / 2..].iter().all(|&x| x == 0));
        inner.read_block(2, &mut b).unwrap();
        assert!(b.iter().all(|&x| x == 0));
    }
}
