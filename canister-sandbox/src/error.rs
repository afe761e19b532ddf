//! Typed errors, each mapping to the IC's reject code and error code (ic-reference §6).

use alloc::string::String;
use core::fmt;

use crate::ids::NumInstructions;

/// The reject code a caller sees.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum RejectCode {
    SysFatal = 1,
    SysTransient = 2,
    DestinationInvalid = 3,
    CanisterReject = 4,
    CanisterError = 5,
    SysUnknown = 6,
}

/// The IC error codes the sandbox produces (`IC` + 4 digits; the first digit is the reject code).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum ErrorCode {
    CanisterOutOfCycles = 207,
    CanisterRejectedMessage = 406,
    CanisterOutOfMemory = 501,
    CanisterTrapped = 502,
    CanisterCalledTrap = 503,
    CanisterContractViolation = 504,
    CanisterInvalidWasm = 505,
    CanisterInstructionLimitExceeded = 522,
    CanisterMethodNotFound = 536,
}

impl ErrorCode {
    pub fn number(self) -> u16 {
        self as u16
    }

    /// The reject code is the error code's leading digit.
    pub fn reject_code(self) -> RejectCode {
        match self.number() / 100 {
            1 => RejectCode::SysFatal,
            2 => RejectCode::SysTransient,
            3 => RejectCode::DestinationInvalid,
            4 => RejectCode::CanisterReject,
            _ => RejectCode::CanisterError,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IC{:04}", self.number())
    }
}

/// Why a module was refused (always IC0505 `CanisterInvalidWasm`).
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum ValidationError {
    /// Neither `\0asm` nor gzip magic.
    NotWasm,
    Gzip(String),
    TooLarge { bytes: u64, limit: u64 },
    /// The Wasm itself is malformed or uses a feature the IC disables.
    Wasm(String),
    Import { module: String, name: String, reason: String },
    Export { name: String, reason: String },
    CustomSection { name: String, reason: String },
    TooMany { what: &'static str, count: u64, limit: u64 },
    /// The data segments or `(start)` failed when the module was instantiated.
    Instantiation(String),
    /// The engine refused a module that passed the IC checks.
    Engine(String),
}

impl ValidationError {
    pub fn error_code(&self) -> ErrorCode {
        ErrorCode::CanisterInvalidWasm
    }

    pub fn reject_code(&self) -> RejectCode {
        self.error_code().reject_code()
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Wasm module is not valid: ")?;
        match self {
            ValidationError::NotWasm => write!(f, "neither a Wasm module nor gzip-compressed Wasm"),
            ValidationError::Gzip(e) => write!(f, "gzip decompression failed: {e}"),
            ValidationError::TooLarge { bytes, limit } => write!(f, "module of {bytes} bytes exceeds the limit of {limit} bytes"),
            ValidationError::Wasm(e) => write!(f, "invalid Wasm: {e}"),
            ValidationError::Import { module, name, reason } => write!(f, "invalid import \"{module}\".\"{name}\": {reason}"),
            ValidationError::Export { name, reason } => write!(f, "invalid export \"{name}\": {reason}"),
            ValidationError::CustomSection { name, reason } => write!(f, "invalid custom section \"{name}\": {reason}"),
            ValidationError::TooMany { what, count, limit } => write!(f, "{count} {what} exceed the limit of {limit}"),
            ValidationError::Instantiation(e) => write!(f, "instantiation failed: {e}"),
            ValidationError::Engine(e) => write!(f, "the Wasm engine refused the module: {e}"),
        }
    }
}

/// Why an execution failed. Its effects are void and the canister state is unchanged.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum ExecutionError {
    /// `ic0.trap` with the canister's message.
    CalledTrap(String),
    /// A Wasm trap (unreachable, out-of-bounds access, division by zero, stack overflow, ...).
    Trapped(String),
    /// A System API function used where or how the spec forbids it.
    ContractViolation(String),
    InstructionLimitExceeded(NumInstructions),
    /// The heap or stable memory hit its limit and the canister then trapped.
    OutOfMemory(String),
    /// Not enough (liquid) cycles for `call_cycles_add128`.
    OutOfCycles(String),
    /// The module has no export for the requested entry point.
    MethodNotFound(String),
    /// Install-time failure of data segments or `(start)`.
    InvalidModule(ValidationError),
}

impl ExecutionError {
    pub fn error_code(&self) -> ErrorCode {
        match self {
            ExecutionError::CalledTrap(_) => ErrorCode::CanisterCalledTrap,
            ExecutionError::Trapped(_) => ErrorCode::CanisterTrapped,
            ExecutionError::ContractViolation(_) => ErrorCode::CanisterContractViolation,
            ExecutionError::InstructionLimitExceeded(_) => ErrorCode::CanisterInstructionLimitExceeded,
            ExecutionError::OutOfMemory(_) => ErrorCode::CanisterOutOfMemory,
            ExecutionError::OutOfCycles(_) => ErrorCode::CanisterOutOfCycles,
            ExecutionError::MethodNotFound(_) => ErrorCode::CanisterMethodNotFound,
            ExecutionError::InvalidModule(e) => e.error_code(),
        }
    }

    pub fn reject_code(&self) -> RejectCode {
        self.error_code().reject_code()
    }
}

impl fmt::Display for ExecutionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExecutionError::CalledTrap(m) => write!(f, "Canister called `ic0.trap` with message: '{m}'"),
            ExecutionError::Trapped(m) => write!(f, "Canister trapped: {m}"),
            ExecutionError::ContractViolation(m) => write!(f, "Canister violated contract: {m}"),
            ExecutionError::InstructionLimitExceeded(limit) => write!(
                f,
                "Canister exceeded the limit of {} instructions for single message execution.",
                limit.get()
            ),
            ExecutionError::OutOfMemory(m) => write!(f, "Canister ran out of memory: {m}"),
            ExecutionError::OutOfCycles(m) => write!(f, "Canister is out of cycles: {m}"),
            ExecutionError::MethodNotFound(m) => write!(f, "Canister has no {m}"),
            ExecutionError::InvalidModule(e) => write!(f, "{e}"),
        }
    }
}
