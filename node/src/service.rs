//! The boundary the kernel drives, and the node behind it: requests go through the
//! interface's pipeline against the latest certified state; update calls go to consensus
//! and, for v3/v4, are parked until their status is certified.

use core::time::Duration;
use keel_consensus::block::PayloadError;
use keel_consensus::ingress::IngressError;
use keel_hypervisor::BlockDevice;
use keel_interface::call;
use keel_interface::expiry::Time;
use keel_interface::http::{HttpRequest, HttpResponse};
use keel_interface::route::CallVersion;
use keel_interface::service::{handle, Action, IngressCall};

use alloc::vec::Vec;
use keel_consensus::NodeIndex;

use crate::certification::is_final;
use crate::consensus::Outgoing;
use crate::execution::ingress_message;
use crate::node::Node;
use crate::queries::{reject_of, Queries};
use crate::state_reader::StateView;

/// What an HTTP request gets from the node.
#[derive(Debug)]
pub enum Reply {
    /// Send this now.
    Now(HttpResponse),
    /// The response comes later (a v3/v4 call awaiting certification): ask again with
    /// [`Service::poll`] and this ticket.
    Later(u64),
}

/// The node as the kernel's event loop sees it.
pub trait Service {
    /// Handles one complete HTTP request at wall-clock time `now_unix_nanos`.
    fn handle(&mut self, request: &HttpRequest, now_unix_nanos: u64) -> Reply;
    /// The response for a parked request, once it is ready.
    fn poll(&mut self, ticket: u64, now_unix_nanos: u64) -> Option<HttpResponse>;
    /// Whether any request is parked.
    fn has_pending(&self) -> bool;
    /// Advances consensus, execution and persistence; returns how soon to call again.
    fn tick(&mut self, now_unix_nanos: u64) -> Duration;
    /// The connection waiting on `ticket` closed: its answer will never be collected.
    /// Optional: uncollected answers are dropped a while after their deadline anyway.
    fn cancel(&mut self, ticket: u64) {
        let _ = ticket;
    }
    /// Bytes a peer of the subnet sent over its authenticated connection (members only).
    fn on_peer_message(&mut self, peer: NodeIndex, bytes: &[u8], now_unix_nanos: u64) {
        let _ = (peer, bytes, now_unix_nanos);
    }
    /// A connection to a peer was (re)established.
    fn on_peer_connected(&mut self, peer: NodeIndex, now_unix_nanos: u64) {
        let _ = (peer, now_unix_nanos);
    }
    /// Messages for peers; whatever they depend on is durable already.
    fn take_outbox(&mut self) -> Vec<Outgoing> {
        Vec::new()
    }
}

impl<D: BlockDevice> Service for Node<D> {
    fn handle(&mut self, request: &HttpRequest, now: u64) -> Reply {
        let action = {
            let view = StateView {
                certified: self.certifier.latest(),
                replica: self.execution.replica(),
                origins: self.pool.origins(),
            };
            let mut queries = Queries { replica: self.execution.replica() };
            handle(&self.interface, request, Time(now), self.health(), &view, &mut queries)
        };
        match action {
            Action::Respond(response) => Reply::Now(response),
            Action::Submit(call) => self.submit(call, now),
        }
    }

    fn poll(&mut self, ticket: u64, now: u64) -> Option<HttpResponse> {
        self.pool.poll(ticket, now)
    }

    fn has_pending(&self) -> bool {
        self.pool.has_parked()
    }

    fn cancel(&mut self, ticket: u64) {
        self.pool.cancel(ticket);
    }

    fn on_peer_message(&mut self, peer: NodeIndex, bytes: &[u8], now: u64) {
        Node::on_peer_message(self, peer, bytes, now);
    }

    fn on_peer_connected(&mut self, peer: NodeIndex, now: u64) {
        Node::on_peer_connected(self, peer, now);
    }

    fn take_outbox(&mut self) -> Vec<Outgoing> {
        Node::take_outbox(self)
    }

    fn tick(&mut self, now: u64) -> Duration {
        self.advance(now);
        let wake = match self.maker.wake_at() {
            Some(t) if self.halted.is_none() => t.as_nanos(),
            _ => now.saturating_add(self.config.idle_block_interval.as_nanos() as u64),
        };
        let wake = self.pool.next_deadline(now).map_or(wake, |d| d.min(wake));
        Duration::from_nanos(wake.saturating_sub(now))
    }
}

impl<D: BlockDevice> Node<D> {
    /// An authenticated update call: into consensus (once per request id), then answered
    /// by its version.
    fn submit(&mut self, call: IngressCall, now: u64) -> Reply {
        // A retry of a call that already finished is answered from the certified state.
        if let Some(state) = self.certifier.latest().filter(|s| is_final(&s.tree, &call.request_id)) {
            return Reply::Now(match call.version {
                CallVersion::V2 => call::accepted(),
                CallVersion::V3 | CallVersion::V4 => call::certified(&state.call_certificate(&call.request_id)),
            });
        }
        if self.halted.is_some() {
            return Reply::Now(HttpResponse::text(503, "The node stopped executing: its state device failed"));
        }
        if !self.pool.origins().contains_key(&call.request_id) {
            // `canister_inspect_message` (and the existence of the target) is checked on the
            // certified state before the call may take space in a block.
            let c = &call.content;
            let inspected = self.execution.replica().inspect_ingress(c.sender, c.canister_id, &c.method_name, c.arg.clone());
            if let Err(e) = inspected {
                return Reply::Now(call::rejected_before_consensus(call.version, &reject_of(&e)));
            }
            match self.maker.submit(now, ingress_message(&call)) {
                Ok(progress) => {
                    self.pool.accept(&call);
                    self.apply(progress, now);
                }
                // Pending or executed already: the first submission's outcome answers it.
                Err(IngressError::Duplicate) => {}
                Err(e) => return Reply::Now(refusal(e)),
            }
        }
        // A submitted call need not wait for the kernel's next tick to be proposed.
        self.advance(now);
        match call.version {
            CallVersion::V2 => Reply::Now(call::accepted()),
            CallVersion::V3 | CallVersion::V4 => {
                let deadline = now.saturating_add(self.config.call_timeout.as_nanos() as u64);
                let ticket = self.pool.park(call.request_id, deadline, None);
                if let Some(state) = self.certifier.latest() {
                    self.pool.resolve(state);
                }
                Reply::Later(ticket)
            }
        }
    }
}

/// Why consensus refused a call the interface accepted.
fn refusal(e: IngressError) -> HttpResponse {
    match e {
        IngressError::PoolFull => HttpResponse::text(503, "The ingress pool is full; retry later"),
        IngressError::Invalid(PayloadError::IngressTooLarge) => HttpResponse::text(413, "Ingress message too large"),
        IngressError::Invalid(PayloadError::Expired | PayloadError::ExpiryTooFar) => {
            HttpResponse::text(400, "Invalid request expiry: not within the window of the next block")
        }
        IngressError::Invalid(_) | IngressError::Duplicate => HttpResponse::text(400, "Invalid ingress message"),
    }
}
