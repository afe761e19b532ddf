//! Queries: run on the executed state the latest certification covers (the hypervisor's
//! snapshot; changes are discarded), answered with the interface's signed response.

use keel_hypervisor::error::{RejectCode as HvRejectCode, UserError};
use keel_interface::envelope::CallContent;
use keel_interface::query::QueryOutcome;
use keel_interface::reject::{Reject, RejectCode};
use keel_interface::service::QueryExecutor;

use crate::execution::Replica;

/// The query executor for one request.
#[derive(Debug)]
pub struct Queries<'a> {
    /// The replica whose certified snapshot queries run on.
    pub replica: &'a Replica,
}

/// A hypervisor error as the client sees it.
pub fn reject_of(e: &UserError) -> Reject {
    let code = match e.reject_code() {
        HvRejectCode::SysFatal => RejectCode::SysFatal,
        // SYS_UNKNOWN only arises for best-effort inter-canister calls and ic-agent cannot
        // decode it; a transient error is the nearest code clients handle.
        HvRejectCode::SysTransient | HvRejectCode::SysUnknown => RejectCode::SysTransient,
        HvRejectCode::DestinationInvalid => RejectCode::DestinationInvalid,
        HvRejectCode::CanisterReject => RejectCode::CanisterReject,
        HvRejectCode::CanisterError => RejectCode::CanisterError,
    };
    Reject { code, message: e.message.clone(), error_code: e.code.as_text() }
}

impl QueryExecutor for Queries<'_> {
    fn execute_query(&mut self, query: &CallContent) -> QueryOutcome {
        match self.replica.query(query.sender, query.canister_id, &query.method_name, query.arg.clone()) {
            Ok(reply) => QueryOutcome::Replied(reply),
            Err(e) => QueryOutcome::Rejected(reject_of(&e)),
        }
    }
}
