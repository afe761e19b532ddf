//! Reject codes and error codes of ic-reference §6. Every failure the hypervisor reports
//! to a caller is a [`UserError`], so the reject code and `error_code` string a client
//! sees are fixed by the variant, not chosen ad hoc at each call site.

use alloc::string::String;
use core::fmt;

pub use keel_sandbox::RejectCode;

/// The reject code numbered `n`.
pub fn reject_code_from_u32(n: u32) -> Option<RejectCode> {
    Some(match n {
        1 => RejectCode::SysFatal,
        2 => RejectCode::SysTransient,
        3 => RejectCode::DestinationInvalid,
        4 => RejectCode::CanisterReject,
        5 => RejectCode::CanisterError,
        6 => RejectCode::SysUnknown,
        _ => return None,
    })
}

/// The IC error code (`IC0xyz`), whose leading digit is its reject code: the sandbox's
/// execution codes plus those the hypervisor and the management canister produce.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum ErrorCode {
    SubnetOversubscribed = 101,
    CanisterQueueFull = 201,
    CanisterOutOfCycles = 207,
    CanisterNotFound = 301,
    CanisterRejectedMessage = 406,
    UnknownManagementMessage = 407,
    InvalidManagementPayload = 408,
    CanisterTrapped = 502,
    CanisterCalledTrap = 503,
    CanisterContractViolation = 504,
    CanisterInvalidWasm = 505,
    CanisterDidNotReply = 506,
    CanisterOutOfMemory = 507,
    CanisterStopped = 508,
    CanisterStopping = 509,
    CanisterNotStopped = 510,
    CanisterInvalidController = 512,
    CanisterNonEmpty = 514,
    CanisterInstructionLimitExceeded = 522,
    CanisterMethodNotFound = 536,
    CanisterWasmModuleNotFound = 537,
    CanisterAlreadyInstalled = 538,
    /// Outgoing call refused by the subnet's kind (data-only subnets); Keel-specific
    /// number within the contract-violation family.
    CanisterCallsForbidden = 539,
    /// Ingress expired before it could be executed.
    IngressExpired = 540,
    /// A snapshot id that does not belong to the canister.
    CanisterSnapshotNotFound = 541,
}

impl ErrorCode {
    pub fn reject_code(self) -> RejectCode {
        match self as u32 / 100 {
            1 => RejectCode::SysFatal,
            2 => RejectCode::SysTransient,
            3 => RejectCode::DestinationInvalid,
            4 => RejectCode::CanisterReject,
            _ => RejectCode::CanisterError,
        }
    }

    /// The `error_code` text: `IC` and the number padded to four digits.
    pub fn as_text(self) -> String {
        alloc::format!("IC{:04}", self as u32)
    }
}

/// An error reported to the caller of a message.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct UserError {
    pub code: ErrorCode,
    pub message: String,
}

impl UserError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> UserError {
        UserError { code, message: message.into() }
    }

    pub fn reject_code(&self) -> RejectCode {
        self.code.reject_code()
    }
}

impl fmt::Display for UserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} (IC{:04}): {}", self.code, self.code as u32, self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_reject_codes() {
        assert_eq!(ErrorCode::CanisterNotFound.reject_code(), RejectCode::DestinationInvalid);
        assert_eq!(ErrorCode::CanisterOutOfCycles.reject_code(), RejectCode::SysTransient);
        assert_eq!(ErrorCode::CanisterRejectedMessage.reject_code(), RejectCode::CanisterReject);
        assert_eq!(ErrorCode::CanisterStopped.reject_code(), RejectCode::CanisterError);
        assert_eq!(ErrorCode::CanisterTrapped.as_text(), "IC0502");
    }
}
