//! Message routing: inducting ingress from a block, delivering requests to canister
//! queues or the management canister, and carrying responses back to whoever is waiting
//! (a canister's callback or an ingress status). Anything undeliverable is answered
//! with a reject, so every request gets exactly one response.

use crate::block::Block;
use crate::cycles::Cycles;
use crate::error::{ErrorCode, UserError};
use crate::execution::Executor;
use crate::ids::{Principal, PrincipalExt, Time};
use crate::message::{Ingress, IngressRecord, IngressStatus, Input, Origin, Payload, Request, Response};
use crate::partition::Status;
use crate::state::ReplicatedState;

/// Management methods that only canisters may call.
const CANISTER_ONLY: [&str; 3] = ["raw_rand", "deposit_cycles", "create_canister"];

impl<E: Executor> ReplicatedState<E> {
    /// Sets an ingress message's status (if it is tracked).
    pub(crate) fn set_ingress_status(&mut self, id: &crate::ids::MessageId, status: IngressStatus) {
        let now = self.time;
        if let Some(r) = self.ingress.get_mut(id) {
            r.status = status;
            r.updated = now;
        }
    }

    /// Delivers `payload` to whoever `origin` names. `refund` goes back to a calling
    /// canister; cycles that cannot be returned (users hold none) are burned.
    pub(crate) fn respond(&mut self, origin: &Origin, payload: Payload, refund: Cycles) {
        match origin {
            Origin::Ingress(id) => {
                let status = match payload {
                    Payload::Reply(b) => IngressStatus::Replied(b),
                    Payload::Reject { code: _, message, error } => {
                        IngressStatus::Rejected(UserError::new(error.unwrap_or(ErrorCode::CanisterRejectedMessage), message))
                    }
                };
                self.set_ingress_status(id, status);
                self.burned = self.burned.saturating_add(refund);
            }
            Origin::Canister { caller, callback } => {
                let response = Response { originator: *caller, callback: *callback, payload, refund };
                match self.canister_mut(*caller) {
                    // Responses bypass the queue quota: the caller reserved room by calling.
                    Some(p) => p.input.push_back(Input::Response(response)),
                    None => self.burned = self.burned.saturating_add(refund),
                }
            }
            Origin::System => self.burned = self.burned.saturating_add(refund),
        }
    }

    pub(crate) fn reject(&mut self, origin: &Origin, err: &UserError, refund: Cycles) {
        self.respond(origin, Payload::from_error(err), refund);
    }

    /// Routes a request to its receiver's queue; rejects it if it cannot be delivered.
    pub(crate) fn route(&mut self, request: Request) {
        if request.receiver.is_management() {
            self.management_queue.push_back(request);
            return;
        }
        let delivered = match self.existing(&request.receiver) {
            Err(e) => Err(e),
            Ok(cid) => match self.canister_mut(cid) {
                Some(p) => p.push_input(Input::Request(request.clone())),
                None => Err(UserError::new(ErrorCode::CanisterNotFound, "canister not found")),
            },
        };
        if let Err(e) = delivered {
            self.reject(&request.origin, &e, request.cycles);
        }
    }

    /// Inducts a block's ingress: deduplicates by message id, drops expired messages,
    /// charges the ingress fee and records `received` (or `rejected`).
    pub(crate) fn induct_ingress(&mut self, block: &Block) {
        for ingress in &block.ingress {
            if self.ingress.contains_key(&ingress.id) || ingress.expiry < block.time {
                continue;
            }
            self.ingress.insert(
                ingress.id,
                IngressRecord {
                    status: IngressStatus::Received,
                    sender: ingress.sender,
                    receiver: ingress.receiver,
                    updated: block.time,
                    expiry: ingress.expiry,
                },
            );
            if let Err(e) = self.accept_ingress(ingress) {
                self.set_ingress_status(&ingress.id, IngressStatus::Rejected(e));
            }
        }
    }

    fn accept_ingress(&mut self, ingress: &Ingress) -> Result<(), UserError> {
        let request = Request {
            sender: ingress.sender,
            receiver: ingress.receiver,
            method: ingress.method.clone(),
            arg: ingress.arg.clone(),
            cycles: Cycles::ZERO,
            origin: Origin::Ingress(ingress.id),
        };
        if ingress.receiver.is_management() {
            if CANISTER_ONLY.contains(&ingress.method.as_str()) {
                return Err(UserError::new(
                    ErrorCode::CanisterRejectedMessage,
                    alloc::format!("Only canisters can call ic00 method {}", ingress.method),
                ));
            }
            self.management_queue.push_back(request);
            return Ok(());
        }
        let cid = self.existing(&ingress.receiver)?;
        let fees = self.fees();
        let p = self.canister_mut(cid).ok_or_else(|| UserError::new(ErrorCode::CanisterNotFound, "canister not found"))?;
        check_accepts_requests(p.id, &p.status)?;
        if p.code.is_none() {
            return Err(UserError::new(
                ErrorCode::CanisterWasmModuleNotFound,
                alloc::format!("Attempted to execute a message, but the canister {} contains no Wasm module.", cid.get()),
            ));
        }
        let fee = fees.ingress(ingress.size());
        p.withdraw(fee, &fees)?;
        p.push_input(Input::Request(request))?;
        self.burned = self.burned.saturating_add(fee);
        Ok(())
    }

    /// Retires old ingress statuses: terminal ones become `done` after the retention
    /// period, and ids are forgotten only once expired (replay protection).
    pub(crate) fn prune_ingress(&mut self, now: Time) {
        let retention = self.config.ingress_retention_ns;
        self.ingress.retain(|_, r| {
            let terminal = matches!(r.status, IngressStatus::Replied(_) | IngressStatus::Rejected(_) | IngressStatus::Done);
            if terminal && now.0.saturating_sub(r.updated.0) > retention {
                r.status = IngressStatus::Done;
            }
            !(matches!(r.status, IngressStatus::Done) && now > r.expiry)
        });
    }
}

/// Requests reach only running canisters.
pub(crate) fn check_accepts_requests(id: crate::ids::CanisterId, status: &Status) -> Result<(), UserError> {
    match status {
        Status::Running => Ok(()),
        Status::Stopping(_) => {
            Err(UserError::new(ErrorCode::CanisterStopping, alloc::format!("Canister {} is stopping", id.get())))
        }
        Status::Stopped => Err(UserError::new(ErrorCode::CanisterStopped, alloc::format!("Canister {} is stopped", id.get()))),
    }
}

/// The principal of the management canister, for readability at call sites.
pub const MANAGEMENT: Principal = Principal::MANAGEMENT_CANISTER;
