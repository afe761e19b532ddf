//! Entropy: virtio-rng when the machine has one, else the CPU's RDRAND.

use super::KeelHal;
use virtio_drivers::device::rng::VirtIORng;
use virtio_drivers::transport::pci::PciTransport;

pub struct Entropy {
    device: Option<VirtIORng<KeelHal, PciTransport>>,
}

#[derive(Debug)]
pub struct NoEntropy;

impl Entropy {
    /// Uses the virtio-rng device if given one that initialises.
    pub fn new(transport: Option<PciTransport>) -> Self {
        Self { device: transport.and_then(|t| VirtIORng::new(t).ok()) }
    }

    pub fn source(&self) -> &'static str {
        if self.device.is_some() { "virtio-rng" } else { "rdrand" }
    }

    /// Fills `out` with random bytes.
    pub fn fill(&mut self, out: &mut [u8]) -> Result<(), NoEntropy> {
        let mut filled = 0;
        if let Some(device) = &mut self.device {
            while filled < out.len() {
                match device.request_entropy(&mut out[filled..]) {
                    Ok(n) if n > 0 => filled += n,
                    _ => break,
                }
            }
        }
        for chunk in out[filled..].chunks_mut(8) {
            let word = rdrand().ok_or(NoEntropy)?;
            chunk.copy_from_slice(&word.to_le_bytes()[..chunk.len()]);
        }
        Ok(())
    }
}

/// One RDRAND word, retried as Intel recommends; `None` if the CPU has none to give.
fn rdrand() -> Option<u64> {
    let rd = x86_64::instructions::random::RdRand::new()?;
    (0..10).find_map(|_| rd.get_u64())
}
