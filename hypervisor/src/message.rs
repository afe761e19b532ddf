//! Messages and the bookkeeping that routes them: requests, responses, call contexts and
//! callbacks, and the ingress status of each user request.

use alloc::string::String;
use alloc::vec::Vec;

use crate::codec::{DecodeError, Reader, Writer};
use crate::cycles::Cycles;
use crate::error::{ErrorCode, RejectCode, UserError};
use crate::execution::{WasmClosure, decode_closure, encode_closure};
use crate::ids::{CanisterId, MessageId, Principal, Time};

/// Identifies an outstanding call of one canister (unique per canister, never reused).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub struct CallbackId(pub u64);

/// Identifies a call context of one canister (unique per canister, never reused).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub struct CallContextId(pub u64);

/// Where a request came from, i.e. where its response goes.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Origin {
    Ingress(MessageId),
    Canister { caller: CanisterId, callback: CallbackId },
    /// Issued by the hypervisor itself (heartbeat, timer): no response expected.
    System,
}

/// A request to a canister or to the management canister.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Request {
    pub sender: Principal,
    pub receiver: Principal,
    pub method: String,
    pub arg: Vec<u8>,
    pub cycles: Cycles,
    pub origin: Origin,
}

/// A response's content.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Payload {
    Reply(Vec<u8>),
    Reject { code: RejectCode, message: String, error: Option<ErrorCode> },
}

impl Payload {
    pub fn from_error(e: &UserError) -> Payload {
        Payload::Reject { code: e.reject_code(), message: e.message.clone(), error: Some(e.code) }
    }
}

/// A response travelling back to the canister that made the call.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Response {
    pub originator: CanisterId,
    pub callback: CallbackId,
    pub payload: Payload,
    pub refund: Cycles,
}

/// An input to a canister: a new request or a response to one of its calls.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Input {
    Request(Request),
    Response(Response),
}

/// A call context: one request a canister is handling, across all the executions (the
/// update and the callbacks of its awaits) that may answer it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CallContext {
    pub origin: Origin,
    pub caller: Principal,
    /// Cycles attached to the request not yet accepted (refunded with the response).
    pub available: Cycles,
    pub responded: bool,
    /// Outstanding calls made within this context.
    pub outstanding: u32,
}

/// An outstanding call: which context made it and which closures handle its answer.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Callback {
    pub context: CallContextId,
    pub callee: Principal,
    pub on_reply: WasmClosure,
    pub on_reject: WasmClosure,
    pub on_cleanup: Option<WasmClosure>,
    /// Cycles sent with the call (the refund comes back with the response).
    pub cycles_sent: Cycles,
}

/// A user's update call, as ordered into a block by consensus.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Ingress {
    pub id: MessageId,
    pub sender: Principal,
    pub receiver: Principal,
    pub method: String,
    pub arg: Vec<u8>,
    pub expiry: Time,
}

impl Ingress {
    pub fn encode(&self, w: &mut Writer) {
        w.raw(&self.id.0).bytes(self.sender.as_slice()).bytes(self.receiver.as_slice());
        w.bytes(self.method.as_bytes()).bytes(&self.arg).u64(self.expiry.0);
    }

    pub fn decode(r: &mut Reader) -> Result<Ingress, DecodeError> {
        Ok(Ingress {
            id: MessageId(r.array()?),
            sender: principal(r)?,
            receiver: principal(r)?,
            method: text(r)?,
            arg: r.bytes()?.to_vec(),
            expiry: Time(r.u64()?),
        })
    }

    /// Bytes the ingress fee is charged on.
    pub fn size(&self) -> usize {
        self.method.len() + self.arg.len()
    }
}

pub(crate) fn principal(r: &mut Reader) -> Result<Principal, DecodeError> {
    Principal::from_slice(r.bytes()?).map_err(|_| DecodeError)
}

pub(crate) fn text(r: &mut Reader) -> Result<String, DecodeError> {
    core::str::from_utf8(r.bytes()?).map(String::from).map_err(|_| DecodeError)
}

/// The certified status of an ingress message (`/request_status/<rid>`).
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum IngressStatus {
    Received,
    Processing,
    Replied(Vec<u8>),
    Rejected(UserError),
    /// The payload was dropped; the id is kept until expiry for replay protection.
    Done,
}

/// An ingress status with the time it last changed and the expiry that bounds pruning.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct IngressRecord {
    pub status: IngressStatus,
    pub sender: Principal,
    pub receiver: Principal,
    pub updated: Time,
    pub expiry: Time,
}

impl Payload {
    pub fn encode(&self, w: &mut Writer) {
        match self {
            Payload::Reply(b) => {
                w.u8(0).bytes(b);
            }
            Payload::Reject { code, message, error } => {
                w.u8(1).u8(*code as u8).bytes(message.as_bytes()).u32(error.map_or(0, |e| e as u32));
            }
        }
    }
}

// ------------------------------------------------------------------ encoding

fn decode_payload(r: &mut Reader) -> Result<Payload, DecodeError> {
    Ok(match r.u8()? {
        0 => Payload::Reply(r.bytes()?.to_vec()),
        1 => {
            let code = crate::error::reject_code_from_u32(u32::from(r.u8()?)).ok_or(DecodeError)?;
            let message = text(r)?;
            let error = match r.u32()? {
                0 => None,
                n => Some(error_code(n)?),
            };
            Payload::Reject { code, message, error }
        }
        _ => return Err(DecodeError),
    })
}

/// The inverse of `ErrorCode as u32`, for decoding.
pub(crate) fn error_code(n: u32) -> Result<ErrorCode, DecodeError> {
    use ErrorCode::*;
    const ALL: [ErrorCode; 25] = [
        SubnetOversubscribed,
        CanisterQueueFull,
        CanisterOutOfCycles,
        CanisterNotFound,
        CanisterRejectedMessage,
        UnknownManagementMessage,
        InvalidManagementPayload,
        CanisterTrapped,
        CanisterCalledTrap,
        CanisterContractViolation,
        CanisterInvalidWasm,
        CanisterDidNotReply,
        CanisterOutOfMemory,
        CanisterStopped,
        CanisterStopping,
        CanisterNotStopped,
        CanisterInvalidController,
        CanisterNonEmpty,
        CanisterInstructionLimitExceeded,
        CanisterMethodNotFound,
        CanisterWasmModuleNotFound,
        CanisterAlreadyInstalled,
        CanisterCallsForbidden,
        IngressExpired,
        CanisterSnapshotNotFound,
    ];
    ALL.iter().copied().find(|c| *c as u32 == n).ok_or(DecodeError)
}

impl Payload {
    pub fn decode(r: &mut Reader) -> Result<Payload, DecodeError> {
        decode_payload(r)
    }
}

impl Origin {
    pub fn encode(&self, w: &mut Writer) {
        match self {
            Origin::Ingress(id) => {
                w.u8(0).raw(&id.0);
            }
            Origin::Canister { caller, callback } => {
                w.u8(1).u64(caller.get()).u64(callback.0);
            }
            Origin::System => {
                w.u8(2);
            }
        }
    }
    pub fn decode(r: &mut Reader) -> Result<Origin, DecodeError> {
        Ok(match r.u8()? {
            0 => Origin::Ingress(MessageId(r.array()?)),
            1 => Origin::Canister { caller: CanisterId::from_u64(r.u64()?), callback: CallbackId(r.u64()?) },
            2 => Origin::System,
            _ => return Err(DecodeError),
        })
    }
}

impl Request {
    pub fn encode(&self, w: &mut Writer) {
        w.bytes(self.sender.as_slice()).bytes(self.receiver.as_slice()).bytes(self.method.as_bytes());
        w.bytes(&self.arg).u128(self.cycles.get());
        self.origin.encode(w);
    }
    pub fn decode(r: &mut Reader) -> Result<Request, DecodeError> {
        Ok(Request {
            sender: principal(r)?,
            receiver: principal(r)?,
            method: text(r)?,
            arg: r.bytes()?.to_vec(),
            cycles: Cycles::new(r.u128()?),
            origin: Origin::decode(r)?,
        })
    }
}

impl Response {
    pub fn encode(&self, w: &mut Writer) {
        w.u64(self.originator.get()).u64(self.callback.0);
        self.payload.encode(w);
        w.u128(self.refund.get());
    }
    pub fn decode(r: &mut Reader) -> Result<Response, DecodeError> {
        Ok(Response {
            originator: CanisterId::from_u64(r.u64()?),
            callback: CallbackId(r.u64()?),
            payload: decode_payload(r)?,
            refund: Cycles::new(r.u128()?),
        })
    }
}

impl Input {
    pub fn encode(&self, w: &mut Writer) {
        match self {
            Input::Request(q) => {
                w.u8(0);
                q.encode(w);
            }
            Input::Response(p) => {
                w.u8(1);
                p.encode(w);
            }
        }
    }
    pub fn decode(r: &mut Reader) -> Result<Input, DecodeError> {
        Ok(match r.u8()? {
            0 => Input::Request(Request::decode(r)?),
            1 => Input::Response(Response::decode(r)?),
            _ => return Err(DecodeError),
        })
    }
}

impl CallContext {
    pub fn encode(&self, w: &mut Writer) {
        self.origin.encode(w);
        w.bytes(self.caller.as_slice()).u128(self.available.get()).bool(self.responded).u32(self.outstanding);
    }
    pub fn decode(r: &mut Reader) -> Result<CallContext, DecodeError> {
        Ok(CallContext {
            origin: Origin::decode(r)?,
            caller: principal(r)?,
            available: Cycles::new(r.u128()?),
            responded: r.bool()?,
            outstanding: r.u32()?,
        })
    }
}

impl Callback {
    pub fn encode(&self, w: &mut Writer) {
        w.u64(self.context.0).bytes(self.callee.as_slice());
        encode_closure(&self.on_reply, w);
        encode_closure(&self.on_reject, w);
        crate::partition::encode_closure_opt(w, &self.on_cleanup);
        w.u128(self.cycles_sent.get());
    }
    pub fn decode(r: &mut Reader) -> Result<Callback, DecodeError> {
        Ok(Callback {
            context: CallContextId(r.u64()?),
            callee: principal(r)?,
            on_reply: decode_closure(r)?,
            on_reject: decode_closure(r)?,
            on_cleanup: crate::partition::decode_closure_opt(r)?,
            cycles_sent: Cycles::new(r.u128()?),
        })
    }
}

impl IngressRecord {
    pub fn encode(&self, w: &mut Writer) {
        match &self.status {
            IngressStatus::Received => w.u8(0),
            IngressStatus::Processing => w.u8(1),
            IngressStatus::Replied(b) => w.u8(2).bytes(b),
            IngressStatus::Rejected(e) => w.u8(3).u32(e.code as u32).bytes(e.message.as_bytes()),
            IngressStatus::Done => w.u8(4),
        };
        w.bytes(self.sender.as_slice()).bytes(self.receiver.as_slice()).u64(self.updated.0).u64(self.expiry.0);
    }
    pub fn decode(r: &mut Reader) -> Result<IngressRecord, DecodeError> {
        let status = match r.u8()? {
            0 => IngressStatus::Received,
            1 => IngressStatus::Processing,
            2 => IngressStatus::Replied(r.bytes()?.to_vec()),
            3 => {
                let code = error_code(r.u32()?)?;
                IngressStatus::Rejected(UserError { code, message: text(r)? })
            }
            4 => IngressStatus::Done,
            _ => return Err(DecodeError),
        };
        Ok(IngressRecord {
            status,
            sender: principal(r)?,
            receiver: principal(r)?,
            updated: Time(r.u64()?),
            expiry: Time(r.u64()?),
        })
    }
}
