//! Rejections as clients see them (ic-reference §6): a reject code, a message and an
//! `IC0xxx` error code.

use alloc::string::String;
use keel_crypto::cbor::Writer;

/// Reject codes that may go over HTTP. `SYS_UNKNOWN` (6) is deliberately absent:
/// ic-agent 0.49 cannot decode it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectCode {
    /// 1: fatal system error.
    SysFatal = 1,
    /// 2: transient system error (frozen canister, full queue, …).
    SysTransient = 2,
    /// 3: bad destination (no such canister or method).
    DestinationInvalid = 3,
    /// 4: explicit reject by the canister.
    CanisterReject = 4,
    /// 5: canister trapped, did not reply, is stopped, …
    CanisterError = 5,
}

/// A rejection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// The code.
    pub code: RejectCode,
    /// Human-readable reason.
    pub message: String,
    /// `IC` + 4 digits, e.g. `IC0406`; its first digit equals the reject code.
    pub error_code: String,
}

impl Reject {
    /// Writes `reject_code`, `reject_message`, `error_code` as three map entries.
    pub(crate) fn write_fields(&self, w: &mut Writer) {
        w.text("reject_code").nat(self.code as u64);
        w.text("reject_message").text(&self.message);
        w.text("error_code").text(&self.error_code);
    }
}
