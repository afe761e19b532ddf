//! What drivers borrow from the kernel: DMA memory and device-memory mappings.
//!
//! The `virtio-drivers` HAL is a trait of associated functions (no `self`), so the kernel
//! installs one `Platform` at boot and the HAL reaches it through this module.

use spin::Once;

/// Services the kernel provides to drivers.
pub trait Platform: Sync {
    /// `pages` physically contiguous, zeroed 4 KiB pages, identity-mapped; their address.
    fn allocate_dma(&self, pages: usize) -> Option<u64>;
    /// Returns pages from [`Platform::allocate_dma`].
    fn free_dma(&self, addr: u64, pages: usize);
    /// Makes `addr..addr+len` of device memory accessible at the same address, uncached.
    fn map_device_memory(&self, addr: u64, len: u64) -> bool;
}

static PLATFORM: Once<&'static dyn Platform> = Once::new();

/// Installs the kernel's platform services; later calls are ignored.
pub fn install(platform: &'static dyn Platform) {
    PLATFORM.call_once(|| platform);
}

/// The installed platform. Drivers are only created after [`install`], so its absence is a
/// kernel bug, not an input error.
pub(crate) fn get() -> &'static dyn Platform {
    match PLATFORM.get() {
        Some(platform) => *platform,
        None => panic!("driver used before the kernel installed its platform services"),
    }
}
