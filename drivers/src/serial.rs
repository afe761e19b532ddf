//! 16550 UART on the legacy COM ports: the kernel console.
//!
//! Output polls the transmit-holding-register-empty bit; the console is used before
//! interrupts exist and inside fault handlers, so it must not depend on them.

use x86_64::instructions::port::Port;

/// The first legacy serial port, which QEMU wires to `-serial`.
pub const COM1: u16 = 0x3f8;

const LSR_DATA_READY: u8 = 1 << 0;
const LSR_THR_EMPTY: u8 = 1 << 5;

/// A 16550-compatible UART at a fixed I/O base.
pub struct SerialPort {
    base: u16,
}

impl SerialPort {
    /// # Safety
    /// `base` must be the I/O base of a 16550 UART that nothing else drives.
    pub const unsafe fn new(base: u16) -> Self {
        Self { base }
    }

    fn port(&self, offset: u16) -> Port<u8> {
        Port::new(self.base + offset)
    }

    fn write_reg(&mut self, offset: u16, value: u8) {
        // SAFETY: `new`'s contract makes `base..base+8` this UART's registers.
        unsafe { self.port(offset).write(value) }
    }

    fn read_reg(&mut self, offset: u16) -> u8 {
        // SAFETY: as in `write_reg`; reading UART registers has no memory effects.
        unsafe { self.port(offset).read() }
    }

    /// 115200 baud, 8N1, FIFOs on, receive interrupts on (the console task also polls).
    pub fn init(&mut self) {
        self.write_reg(1, 0x00); // interrupts off while programming
        self.write_reg(3, 0x80); // DLAB on
        self.write_reg(0, 0x01); // divisor 1 = 115200 baud
        self.write_reg(1, 0x00);
        self.write_reg(3, 0x03); // 8N1, DLAB off
        self.write_reg(2, 0xc7); // FIFO on, cleared, 14-byte threshold
        self.write_reg(4, 0x0b); // DTR, RTS, OUT2
        self.write_reg(1, 0x01); // received-data interrupt
    }

    /// Writes one byte, waiting for room in the transmitter.
    pub fn send(&mut self, byte: u8) {
        while self.read_reg(5) & LSR_THR_EMPTY == 0 {
            core::hint::spin_loop();
        }
        self.write_reg(0, byte);
    }

    /// Reads one byte if one has arrived.
    pub fn try_receive(&mut self) -> Option<u8> {
        (self.read_reg(5) & LSR_DATA_READY != 0).then(|| self.read_reg(0))
    }
}

impl core::fmt::Write for SerialPort {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for byte in s.bytes() {
            if byte == b'\n' {
                self.send(b'\r');
            }
            self.send(byte);
        }
        Ok(())
    }
}
