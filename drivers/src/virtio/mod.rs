//! virtio devices over PCI, through `virtio-drivers`: the HAL that gives it DMA memory from
//! the kernel, discovery of the virtio functions on the bus, and the device wrappers.

pub mod blk;
pub mod net;
pub mod rng;

use crate::pci::{self, PciDevice, PortCam};
use alloc::vec::Vec;
use core::ptr::NonNull;
use virtio_drivers::transport::pci::PciTransport;
use virtio_drivers::transport::pci::bus::PciRoot;
use virtio_drivers::transport::{DeviceType, Transport};
use virtio_drivers::{BufferDirection, Hal, PAGE_SIZE, PhysAddr};

/// The HAL `virtio-drivers` calls for DMA memory. Physical memory is identity-mapped, so
/// physical and virtual addresses coincide and sharing a buffer needs no bounce copy.
pub struct KeelHal;

// SAFETY: `dma_alloc` returns zeroed, contiguous, identity-mapped pages owned by the device
// until `dma_dealloc`; `share` returns the physical address of memory the kernel maps 1:1.
unsafe impl Hal for KeelHal {
    fn dma_alloc(pages: usize, _direction: BufferDirection) -> (PhysAddr, NonNull<u8>) {
        let addr = crate::platform::get()
            .allocate_dma(pages)
            .unwrap_or_else(|| panic!("out of memory for {pages} DMA pages"));
        match NonNull::new(addr as *mut u8) {
            Some(ptr) => (addr, ptr),
            None => panic!("DMA allocator returned the null page"),
        }
    }

    unsafe fn dma_dealloc(paddr: PhysAddr, _vaddr: NonNull<u8>, pages: usize) -> i32 {
        crate::platform::get().free_dma(paddr, pages);
        0
    }

    unsafe fn mmio_phys_to_virt(paddr: PhysAddr, size: usize) -> NonNull<u8> {
        if !crate::platform::get().map_device_memory(paddr, size as u64) {
            panic!("cannot map device memory at {paddr:#x}");
        }
        match NonNull::new(paddr as *mut u8) {
            Some(ptr) => ptr,
            None => panic!("device memory at the null page"),
        }
    }

    unsafe fn share(buffer: NonNull<[u8]>, _direction: BufferDirection) -> PhysAddr {
        buffer.as_ptr() as *mut u8 as u64
    }

    unsafe fn unshare(_paddr: PhysAddr, _buffer: NonNull<[u8]>, _direction: BufferDirection) {}
}

/// A virtio function, its transport ready for a device driver.
pub struct Found {
    pub pci: PciDevice,
    pub kind: DeviceType,
    pub transport: PciTransport,
}

/// Enables and opens every virtio function on the bus.
pub fn discover(root: &mut PciRoot<PortCam>) -> Vec<Found> {
    let devices = pci::scan(root);
    let mut found = Vec::new();
    for device in devices.into_iter().filter(|d| d.vendor_id == 0x1af4) {
        pci::enable(root, device.function);
        match PciTransport::new::<KeelHal, _>(root, device.function) {
            Ok(transport) => found.push(Found { pci: device, kind: transport.device_type(), transport }),
            Err(e) => log::warn!("virtio function {} not usable: {e}", device.function),
        }
    }
    found
}

/// Pages needed for `bytes`.
pub fn pages(bytes: usize) -> usize {
    bytes.div_ceil(PAGE_SIZE)
}
