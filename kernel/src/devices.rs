//! The node's devices: platform services for drivers, and discovery of what QEMU (or the
//! machine) provides on PCI.

use crate::irq::line::IrqLine;
use crate::mm;
use alloc::vec::Vec;
use keel_drivers::platform::{self, Platform};
use keel_drivers::virtio::{self, blk::Disk, net::NetDevice, rng::Entropy};
use virtio_drivers::transport::DeviceType;

/// Lends the frame allocator and page tables to drivers.
struct KernelPlatform;

impl Platform for KernelPlatform {
    fn allocate_dma(&self, pages: usize) -> Option<u64> {
        let frame = mm::allocate_frames(pages, 1)?;
        // SAFETY: the frames were just allocated for this caller and are identity-mapped.
        unsafe { core::ptr::write_bytes(frame.addr() as *mut u8, 0, pages * 4096) };
        Some(frame.addr())
    }

    fn free_dma(&self, addr: u64, pages: usize) {
        mm::free_frames_at(mm::frames::Frame::at(addr), pages);
    }

    fn map_device_memory(&self, addr: u64, len: u64) -> bool {
        mm::map_mmio(addr, len).is_ok()
    }
}

static PLATFORM: KernelPlatform = KernelPlatform;

/// A network card and the interrupt line it raises.
pub struct Nic {
    pub device: NetDevice,
    pub irq: Option<IrqLine>,
}

/// What the node found.
pub struct Devices {
    pub nics: Vec<Nic>,
    pub disks: Vec<Disk>,
    pub entropy: Entropy,
}

/// Scans PCI and opens the virtio devices the node uses.
pub fn discover() -> Devices {
    platform::install(&PLATFORM);
    let mut root = keel_drivers::pci::root();
    let mut nics = Vec::new();
    let mut disks = Vec::new();
    let mut rng = None;
    for found in virtio::discover(&mut root) {
        let at = found.pci.function;
        match found.kind {
            DeviceType::Network => match NetDevice::new(found.transport) {
                Ok(mut device) => {
                    // Without a routable line the network task falls back to polling.
                    let irq = IrqLine::route_pci(found.pci.interrupt_line)
                        .map_err(|e| log::warn!("virtio-net at {at}: {e}; polling instead"))
                        .ok();
                    if irq.is_some() {
                        device.enable_interrupts();
                    }
                    log::info!("virtio-net at {at}: mac {}, irq {:?}", device.mac(), irq.as_ref().map(IrqLine::gsi));
                    nics.push(Nic { device, irq });
                }
                Err(e) => log::warn!("virtio-net at {at} unusable: {e}"),
            },
            DeviceType::Block => match Disk::new(found.transport) {
                Ok(disk) => {
                    log::info!("virtio-blk at {at}: {} MiB", disk.sectors() / 2048);
                    disks.push(disk);
                }
                Err(e) => log::warn!("virtio-blk at {at} unusable: {e}"),
            },
            DeviceType::EntropySource => rng = Some(found.transport),
            other => log::info!("ignoring virtio {other:?} at {at}"),
        }
    }
    let entropy = Entropy::new(rng);
    log::info!("entropy from {}", entropy.source());
    Devices { nics, disks, entropy }
}
