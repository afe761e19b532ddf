//! The CRB register interface (TCG PC Client Platform TPM Profile, §6.5), locality 0.
//!
//! A command is written into the command buffer, `CTRL_START` is set, and the TPM clears it
//! when the response is in the response buffer. QEMU's `tpm-crb` and firmware TPMs on Intel
//! platforms both expose it at `0xFED40000`.

use alloc::vec::Vec;
use core::ptr::{read_volatile, write_volatile};

/// Physical address of locality 0's CRB registers.
pub const CRB_BASE: u64 = 0xfed4_0000;

const LOC_CTRL: usize = 0x08;
const LOC_STS: usize = 0x0c;
const INTF_ID: usize = 0x30;
const CTRL_REQ: usize = 0x40;
const CTRL_STS: usize = 0x44;
const CTRL_START: usize = 0x4c;
const CTRL_CMD_SIZE: usize = 0x58;
const CTRL_CMD_LADDR: usize = 0x5c;
const CTRL_CMD_HADDR: usize = 0x60;
const CTRL_RSP_SIZE: usize = 0x64;
const CTRL_RSP_ADDR: usize = 0x68;

const LOC_REQUEST_ACCESS: u32 = 1 << 0;
const LOC_RELINQUISH: u32 = 1 << 1;
const LOC_GRANTED: u32 = 1 << 0;
const REQ_CMD_READY: u32 = 1 << 0;
const REQ_GO_IDLE: u32 = 1 << 1;
const STS_FATAL: u32 = 1 << 0;
const INTERFACE_CRB: u32 = 1;
/// Responses start with tag (2), size (4) and response code (4).
const HEADER: usize = 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrbError {
    /// No CRB interface at the address (no TPM, or a FIFO/TIS TPM).
    Absent,
    /// The TPM did not grant locality 0, become ready or finish a command in time.
    Timeout(&'static str),
    /// The TPM reports a fatal error in `CTRL_STS`.
    Fatal,
    /// The command does not fit the command buffer, or the response is malformed.
    Size { len: usize, max: usize },
}

impl core::fmt::Display for CrbError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Absent => write!(f, "no TPM with a CRB interface"),
            Self::Timeout(what) => write!(f, "timed out waiting for the TPM to {what}"),
            Self::Fatal => write!(f, "the TPM reports a fatal error"),
            Self::Size { len, max } => write!(f, "{len} bytes do not fit the TPM's {max}-byte buffer"),
        }
    }
}

/// The CRB of locality 0. `expired` is polled while waiting and ends the wait when true,
/// so the caller decides the timeout with its own clock.
pub struct Crb<F: FnMut() -> bool> {
    base: usize,
    expired: F,
}

impl<F: FnMut() -> bool> Crb<F> {
    /// Finds a CRB TPM at `base`.
    ///
    /// # Safety
    /// `base` must be the identity-mapped, uncached address of a 4 KiB MMIO page that is
    /// either a TPM CRB or reads as all-zeros/all-ones, and nothing else may drive it.
    pub unsafe fn probe(base: u64, expired: F) -> Result<Self, CrbError> {
        let crb = Self { base: base as usize, expired };
        let id = crb.read(INTF_ID);
        if id == u32::MAX || id & 0xf != INTERFACE_CRB {
            return Err(CrbError::Absent);
        }
        Ok(crb)
    }

    fn read(&self, reg: usize) -> u32 {
        // SAFETY: `reg` is a register offset inside the CRB page (`probe`'s contract).
        unsafe { read_volatile((self.base + reg) as *const u32) }
    }

    fn write(&mut self, reg: usize, value: u32) {
        // SAFETY: as in `read`; we are the only driver of the page.
        unsafe { write_volatile((self.base + reg) as *mut u32, value) }
    }

    fn wait(&mut self, what: &'static str, mut done: impl FnMut(&Self) -> bool) -> Result<(), CrbError> {
        while !done(self) {
            if (self.expired)() {
                return Err(CrbError::Timeout(what));
            }
            core::hint::spin_loop();
        }
        Ok(())
    }

    fn buffer(&self, addr: u64, size: u32) -> Result<(usize, usize), CrbError> {
        // The buffers must lie in the CRB page we were given (QEMU and PTP firmware put them
        // at offset 0x80): anything else would be memory nobody mapped for us.
        let start = addr as usize;
        let len = size as usize;
        if start < self.base + 0x80 || start + len > self.base + 0x1000 {
            return Err(CrbError::Size { len, max: 0 });
        }
        Ok((start, len))
    }

    /// Runs one command to completion and returns the response bytes.
    pub fn execute(&mut self, command: &[u8]) -> Result<Vec<u8>, CrbError> {
        self.write(LOC_CTRL, LOC_REQUEST_ACCESS);
        self.wait("grant locality 0", |c| c.read(LOC_STS) & LOC_GRANTED != 0)?;
        let result = self.run(command);
        self.write(CTRL_REQ, REQ_GO_IDLE);
        self.write(LOC_CTRL, LOC_RELINQUISH);
        result
    }

    fn run(&mut self, command: &[u8]) -> Result<Vec<u8>, CrbError> {
        self.write(CTRL_REQ, REQ_CMD_READY);
        self.wait("become ready", |c| c.read(CTRL_REQ) & REQ_CMD_READY == 0)?;
        if self.read(CTRL_STS) & STS_FATAL != 0 {
            return Err(CrbError::Fatal);
        }
        let cmd_addr = u64::from(self.read(CTRL_CMD_LADDR)) | u64::from(self.read(CTRL_CMD_HADDR)) << 32;
        let (cmd, cmd_len) = self.buffer(cmd_addr, self.read(CTRL_CMD_SIZE))?;
        if command.len() > cmd_len {
            return Err(CrbError::Size { len: command.len(), max: cmd_len });
        }
        for (i, &byte) in command.iter().enumerate() {
            // SAFETY: `cmd + i` is inside the command buffer checked by `buffer`.
            unsafe { write_volatile((cmd + i) as *mut u8, byte) };
        }
        self.write(CTRL_START, 1);
        self.wait("finish the command", |c| c.read(CTRL_START) & 1 == 0)?;
        // SAFETY: CTRL_RSP_ADDR is a 64-bit register inside the CRB page.
        let rsp_addr = unsafe { read_volatile((self.base + CTRL_RSP_ADDR) as *const u64) };
        let (rsp, rsp_len) = self.buffer(rsp_addr, self.read(CTRL_RSP_SIZE))?;
        // SAFETY: `rsp + i` is inside the response buffer checked by `buffer`.
        let byte = |i: usize| unsafe { read_volatile((rsp + i) as *const u8) };
        let header: Vec<u8> = (0..HEADER.min(rsp_len)).map(byte).collect();
        let len = header.get(2..6).map_or(0, |s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]) as usize);
        if !(HEADER..=rsp_len).contains(&len) {
            return Err(CrbError::Size { len, max: rsp_len });
        }
        Ok((0..len).map(byte).collect())
    }
}

impl<F: FnMut() -> bool> super::Transport for Crb<F> {
    fn execute(&mut self, command: &[u8]) -> Result<Vec<u8>, CrbError> {
        Crb::execute(self, command)
    }
}
