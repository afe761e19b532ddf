//! PCI: configuration space through the legacy I/O ports (works on QEMU's `pc` and `q35`),
//! and enumeration of the devices behind the host bridge.

use alloc::vec::Vec;
use virtio_drivers::transport::pci::bus::{
    Command, ConfigurationAccess, DeviceFunction, HeaderType, PciRoot,
};
use x86_64::instructions::port::Port;

const CONFIG_ADDRESS: u16 = 0xcf8;
const CONFIG_DATA: u16 = 0xcfc;

/// Configuration access mechanism #1: an address write to 0xCF8, a data access at 0xCFC.
pub struct PortCam;

/// The 0xCF8 address word for a register of a function.
pub fn config_address(df: DeviceFunction, offset: u8) -> u32 {
    0x8000_0000
        | (u32::from(df.bus) << 16)
        | (u32::from(df.device) << 11)
        | (u32::from(df.function) << 8)
        | u32::from(offset & 0xfc)
}

impl ConfigurationAccess for PortCam {
    fn read_word(&self, df: DeviceFunction, offset: u8) -> u32 {
        // SAFETY: CF8/CFC are the PCI configuration ports; the pair is only used with
        // interrupts off or from the single-threaded boot path, so no other access interleaves.
        unsafe {
            Port::<u32>::new(CONFIG_ADDRESS).write(config_address(df, offset));
            Port::<u32>::new(CONFIG_DATA).read()
        }
    }

    fn write_word(&mut self, df: DeviceFunction, offset: u8, data: u32) {
        // SAFETY: as in `read_word`.
        unsafe {
            Port::<u32>::new(CONFIG_ADDRESS).write(config_address(df, offset));
            Port::<u32>::new(CONFIG_DATA).write(data);
        }
    }

    unsafe fn unsafe_clone(&self) -> Self {
        PortCam
    }
}

/// A PCI function found on the bus.
#[derive(Clone, Copy, Debug)]
pub struct PciDevice {
    pub function: DeviceFunction,
    pub vendor_id: u16,
    pub device_id: u16,
    pub class: u8,
    pub subclass: u8,
    /// The legacy interrupt line the firmware routed INTx to (0xff: none).
    pub interrupt_line: u8,
    /// INTA..INTD as 1..4, 0 if the function uses no legacy interrupt.
    pub interrupt_pin: u8,
}

/// The root complex.
pub fn root() -> PciRoot<PortCam> {
    PciRoot::new(PortCam)
}

/// Every function on bus 0 and on the buses behind its bridges.
pub fn scan(root: &PciRoot<PortCam>) -> Vec<PciDevice> {
    let mut found = Vec::new();
    let mut buses = alloc::vec![0u8];
    while let Some(bus) = buses.pop() {
        for (function, info) in root.enumerate_bus(bus) {
            if info.header_type == HeaderType::PciPciBridge {
                // Secondary bus number: byte 1 of register 0x18.
                let secondary = (PortCam.read_word(function, 0x18) >> 8) as u8;
                if secondary > bus {
                    buses.push(secondary);
                }
            }
            let irq = PortCam.read_word(function, 0x3c);
            found.push(PciDevice {
                function,
                vendor_id: info.vendor_id,
                device_id: info.device_id,
                class: info.class,
                subclass: info.subclass,
                interrupt_line: irq as u8,
                interrupt_pin: (irq >> 8) as u8,
            });
        }
    }
    found
}

/// Lets the device decode its BARs and master the bus (DMA); firmware may leave both off.
pub fn enable(root: &mut PciRoot<PortCam>, function: DeviceFunction) {
    root.set_command(function, Command::IO_SPACE | Command::MEMORY_SPACE | Command::BUS_MASTER);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_addresses_follow_mechanism_one() {
        let df = DeviceFunction { bus: 1, device: 3, function: 2 };
        assert_eq!(config_address(df, 0x3e), 0x8001_1a3c);
        let root_bridge = DeviceFunction { bus: 0, device: 0, function: 0 };
        assert_eq!(config_address(root_bridge, 0), 0x8000_0000);
    }
}
