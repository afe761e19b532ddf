//! The request pipeline, sans-IO: an HTTP request in, an [`Action`] out. The kernel owns
//! sockets and timers; the hypervisor owns state and execution (behind [`StateReader`]
//! and [`QueryExecutor`]); consensus owns ordering (update calls come out as
//! [`Action::Submit`]).
//!
//! Order of checks, as the replica does them: route → content type → envelope → request
//! type → effective id → expiry → sender authentication → read_state access.

use crate::envelope::{CallContent, Content, Envelope};
use crate::error::RequestError;
use crate::expiry::Time;
use crate::http::{HttpRequest, HttpResponse, Limits, Method, CBOR};
use crate::management::check_effective_id;
use crate::query::{query_response, NodeSigner, QueryOutcome};
use crate::read_state::{authorize, StateReader};
use crate::request_id::RequestId;
use crate::route::{route, CallVersion, EffectiveId, Route};
use crate::signature::authenticate;
use crate::status::{HealthStatus, Status};
use alloc::string::String;
use alloc::vec::Vec;
use keel_crypto::Principal;

/// Static configuration of the node's interface.
#[derive(Debug, Clone)]
pub struct Config {
    /// HTTP limits.
    pub limits: Limits,
    /// Reported in `/api/v2/status`.
    pub impl_version: String,
    /// DER root key (133 bytes) for `/api/v2/status`.
    pub root_key_der: Vec<u8>,
    /// This node's subnet (for a single-subnet node: `certificate::root_subnet_id`).
    pub subnet_id: Principal,
    /// Signs query responses.
    pub signer: NodeSigner,
}

/// Executes queries on the latest state snapshot (non-replicated; changes discarded).
pub trait QueryExecutor {
    /// Runs `query` (already authenticated) and returns its outcome.
    fn execute_query(&mut self, query: &CallContent) -> QueryOutcome;
}

/// An authenticated update call for the ingress pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngressCall {
    /// Its id (deduplication key, `/request_status/<rid>` label).
    pub request_id: RequestId,
    /// How to answer: v2 answers [`crate::call::accepted`] once in the pool; v3/v4 wait for
    /// the certified status ([`crate::call::certified`]) or time out ([`crate::call::timed_out`]).
    pub version: CallVersion,
    /// The URL's effective id (recorded for read_state access checks).
    pub target: EffectiveId,
    /// The call.
    pub content: CallContent,
}

/// What the kernel must do with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send this response now.
    Respond(HttpResponse),
    /// Submit this call to consensus, then answer according to its version.
    Submit(IngressCall),
}

/// Handles one complete HTTP request at time `now`.
pub fn handle<S: StateReader, Q: QueryExecutor>(
    config: &Config,
    request: &HttpRequest,
    now: Time,
    health: HealthStatus,
    state: &S,
    queries: &mut Q,
) -> Action {
    match dispatch(config, request, now, health, state, queries) {
        Ok(action) => action,
        Err(e) => Action::Respond(e.to_response()),
    }
}

fn dispatch<S: StateReader, Q: QueryExecutor>(
    config: &Config,
    request: &HttpRequest,
    now: Time,
    health: HealthStatus,
    state: &S,
    queries: &mut Q,
) -> Result<Action, RequestError> {
    if request.method == Method::Options {
        return Ok(Action::Respond(HttpResponse::empty(204))); // CORS preflight
    }
    let route = route(request.method, &request.path)?;
    if route == Route::Status {
        let status = Status {
            root_key_der: &config.root_key_der,
            impl_version: &config.impl_version,
            impl_hash: None,
            health,
            certified_height: state.certified_state().map(|s| s.height),
        };
        return Ok(Action::Respond(HttpResponse::cbor(200, status.to_cbor())));
    }
    // Only a healthy node takes requests; clients retry 503 (ic-agent up to 6 times).
    if health != HealthStatus::Healthy {
        return Err(RequestError::Unhealthy(health));
    }
    if request.content_type.as_deref() != Some(CBOR) {
        return Err(RequestError::ContentType);
    }
    let envelope = Envelope::decode(&request.body)?;
    let (expected, target) = match route {
        Route::Call { target, .. } => ("call", target),
        Route::Query { target } => ("query", target),
        Route::ReadState { target } => ("read_state", target),
        Route::Status => return Err(RequestError::Route(crate::route::RouteError::NotFound)),
    };
    let found = envelope.content.request_type();
    if found != expected {
        return Err(RequestError::WrongRequestType { expected, found });
    }
    if let EffectiveId::Subnet(sid) = target
        && sid != config.subnet_id {
            return Err(RequestError::UnknownSubnet);
        }
    // The canister a delegation's `targets` must allow.
    let addressed = match (&envelope.content, &target) {
        (Content::Call(c) | Content::Query(c), _) => {
            check_effective_id(c, &target)?;
            Some(c.canister_id)
        }
        (Content::ReadState(_), EffectiveId::Canister(ecid)) => Some(*ecid),
        (Content::ReadState(_), EffectiveId::Subnet(_)) => None,
    };
    // The spec lets nodes skip the expiry check for anonymous reads; agent-js relies on
    // anonymous read_state to learn the node's time when its own clock is off.
    let anonymous_read = envelope.content.sender().is_anonymous() && !matches!(envelope.content, Content::Call(_));
    if !anonymous_read {
        envelope.content.ingress_expiry().check(now)?;
    }
    authenticate(&envelope, now, addressed.as_ref())?;
    let request_id = envelope.content.request_id();
    match (route, envelope.content) {
        (Route::Call { version, target }, Content::Call(content)) => {
            Ok(Action::Submit(IngressCall { request_id, version, target, content }))
        }
        (Route::Query { .. }, Content::Query(content)) => {
            let outcome = queries.execute_query(&content);
            let body = query_response(&outcome, &request_id, now, &config.signer);
            Ok(Action::Respond(HttpResponse::cbor(200, body)))
        }
        (Route::ReadState { target }, Content::ReadState(content)) => {
            let certified = state.certified_state().ok_or(RequestError::NoCertifiedState)?;
            authorize(&content.paths, &content.sender, &target, state)?;
            Ok(Action::Respond(crate::read_state::response(&certified.certificate(&content.paths))))
        }
        _ => Err(RequestError::Route(crate::route::RouteError::NotFound)),
    }
}
