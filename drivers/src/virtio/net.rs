//! virtio-net as a `smoltcp` device.

use super::KeelHal;
use core::cell::RefCell;
use smoltcp::phy::{self, DeviceCapabilities, Medium};
use smoltcp::time::Instant;
use smoltcp::wire::EthernetAddress;
use virtio_drivers::device::net::{RxBuffer, VirtIONet};
use virtio_drivers::transport::pci::PciTransport;

/// Descriptors per queue: QEMU's default ring size. Hundreds of clients connecting at once
/// overflowed a 64-entry ring on a loaded host; the lost segments came back only after TCP
/// backoff. 256 receive buffers cost 512 KiB.
const QUEUE_SIZE: usize = 256;
/// One Ethernet frame plus the virtio-net header.
const BUFFER_LEN: usize = 2048;
const MTU: usize = 1500;

type Inner = VirtIONet<KeelHal, PciTransport, QUEUE_SIZE>;

/// A virtio network card. Tokens borrow the device through a `RefCell` because smoltcp hands
/// out a receive and a transmit token at once.
pub struct NetDevice {
    inner: RefCell<Inner>,
}

#[derive(Debug)]
pub struct NetError(pub virtio_drivers::Error);

impl core::fmt::Display for NetError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "virtio-net: {}", self.0)
    }
}

impl NetDevice {
    pub fn new(transport: PciTransport) -> Result<Self, NetError> {
        let inner = Inner::new(transport, BUFFER_LEN).map_err(NetError)?;
        Ok(Self { inner: RefCell::new(inner) })
    }

    pub fn mac(&self) -> EthernetAddress {
        EthernetAddress(self.inner.borrow().mac_address())
    }

    /// Acknowledges the device's interrupt (de-asserts a level-triggered line).
    pub fn ack_interrupt(&mut self) {
        self.inner.get_mut().ack_interrupt();
    }

    pub fn enable_interrupts(&mut self) {
        self.inner.get_mut().enable_interrupts();
    }
}

pub struct RxToken<'a> {
    device: &'a RefCell<Inner>,
    buffer: RxBuffer,
}

pub struct TxToken<'a> {
    device: &'a RefCell<Inner>,
}

impl phy::RxToken for RxToken<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        let result = f(self.buffer.packet());
        if let Err(e) = self.device.borrow_mut().recycle_rx_buffer(self.buffer) {
            log::warn!("virtio-net: cannot recycle a receive buffer: {e}");
        }
        result
    }
}

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut device = self.device.borrow_mut();
        let mut buffer = device.new_tx_buffer(len);
        let result = f(buffer.packet_mut());
        if let Err(e) = device.send(buffer) {
            log::warn!("virtio-net: frame dropped: {e}");
        }
        result
    }
}

impl phy::Device for NetDevice {
    type RxToken<'a> = RxToken<'a>;
    type TxToken<'a> = TxToken<'a>;

    fn receive(&mut self, _timestamp: Instant) -> Option<(RxToken<'_>, TxToken<'_>)> {
        let buffer = {
            let mut inner = self.inner.borrow_mut();
            if !inner.can_send() {
                return None; // no room to answer: leave the frame queued
            }
            inner.receive().ok()?
        };
        Some((RxToken { device: &self.inner, buffer }, TxToken { device: &self.inner }))
    }

    fn transmit(&mut self, _timestamp: Instant) -> Option<TxToken<'_>> {
        self.inner.borrow().can_send().then_some(TxToken { device: &self.inner })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = MTU + 14;
        caps.max_burst_size = Some(QUEUE_SIZE / 2);
        caps
    }
}
