//! The node's side of ingress: who sent each accepted call to which effective canister id
//! (read_state's access rule needs it), and the v3/v4 calls parked until their status is
//! certified. Ordering and deduplication for blocks is consensus' own ingress pool.

use alloc::collections::{BTreeMap, BTreeSet};
use keel_interface::call;
use keel_interface::http::HttpResponse;
use keel_interface::read_state::{CertifiedState, RequestOrigin};
use keel_interface::request_id::RequestId;
use keel_interface::route::EffectiveId;
use keel_interface::service::IngressCall;

use crate::certification::is_final;

/// How long after its expiry a request's origin is kept: as long as execution keeps a
/// replied or rejected status readable.
const ORIGIN_RETENTION_NS: u64 = 5 * 60 * 1_000_000_000;

/// How long an answer waits to be collected after its deadline: a ticket whose connection
/// closed is never polled again, and must not hold memory forever.
const UNCOLLECTED_GRACE_NS: u64 = 60 * 1_000_000_000;

/// Identifies a parked request for [`crate::Service::poll`].
pub type Ticket = u64;

#[derive(Debug)]
struct Parked {
    request_id: RequestId,
    deadline: u64,
    ready: Option<HttpResponse>,
}

/// Accepted calls and parked requests.
#[derive(Debug, Default)]
pub struct IngressPool {
    origins: BTreeMap<RequestId, RequestOrigin>,
    /// `origins` by expiry, so pruning costs what it removes.
    by_expiry: BTreeSet<(u64, RequestId)>,
    parked: BTreeMap<Ticket, Parked>,
    next_ticket: Ticket,
}

impl IngressPool {
    /// Records an accepted call; `false` if its request id was already accepted.
    pub fn accept(&mut self, call: &IngressCall) -> bool {
        if self.origins.contains_key(&call.request_id) {
            return false;
        }
        let (EffectiveId::Canister(ecid) | EffectiveId::Subnet(ecid)) = call.target;
        let origin = RequestOrigin { sender: call.content.sender, effective_canister_id: ecid };
        self.origins.insert(call.request_id, origin);
        self.by_expiry.insert((call.content.ingress_expiry.0 .0, call.request_id));
        true
    }

    /// Origins of accepted calls.
    pub fn origins(&self) -> &BTreeMap<RequestId, RequestOrigin> {
        &self.origins
    }

    /// Parks a v3/v4 call until `deadline`; `ready` if its status is already certified.
    pub fn park(&mut self, request_id: RequestId, deadline: u64, ready: Option<HttpResponse>) -> Ticket {
        let ticket = self.next_ticket;
        self.next_ticket = self.next_ticket.wrapping_add(1);
        self.parked.insert(ticket, Parked { request_id, deadline, ready });
        ticket
    }

    /// Whether any parked call still waits.
    pub fn has_parked(&self) -> bool {
        !self.parked.is_empty()
    }

    /// The earliest wait bound after `now` of a parked call still waiting (it must be
    /// answered then). Passed bounds are the poller's business, not a reason to wake.
    pub fn next_deadline(&self, now: u64) -> Option<u64> {
        self.parked.values().filter(|p| p.ready.is_none() && p.deadline > now).map(|p| p.deadline).min()
    }

    /// Prepares the answer of every parked call whose status `state` certifies as final.
    /// The certificate is cut from the cached tree; nothing is signed here.
    pub fn resolve(&mut self, state: &CertifiedState) {
        for p in self.parked.values_mut().filter(|p| p.ready.is_none()) {
            if is_final(&state.tree, &p.request_id) {
                p.ready = Some(call::certified(&state.call_certificate(&p.request_id)));
            }
        }
    }

    /// The answer for `ticket` once it has one: the certified status, or 202 when the wait
    /// bound passed (the client then polls read_state). An unknown ticket also gets 202,
    /// so a confused caller never leaves a connection hanging.
    pub fn poll(&mut self, ticket: Ticket, now: u64) -> Option<HttpResponse> {
        let Some(p) = self.parked.get_mut(&ticket) else { return Some(call::timed_out()) };
        let answer = match p.ready.take() {
            Some(r) => r,
            None if now >= p.deadline => call::timed_out(),
            None => return None,
        };
        self.parked.remove(&ticket);
        Some(answer)
    }

    /// Drops a parked call nobody will collect (its connection closed).
    pub fn cancel(&mut self, ticket: Ticket) {
        self.parked.remove(&ticket);
    }

    /// Forgets origins whose statuses execution no longer keeps, and answers nobody
    /// collected long after their deadline.
    pub fn prune(&mut self, now: u64) {
        self.parked.retain(|_, p| p.deadline.saturating_add(UNCOLLECTED_GRACE_NS) >= now);
        while let Some(&(expiry, rid)) = self.by_expiry.first() {
            if expiry.saturating_add(ORIGIN_RETENTION_NS) >= now {
                return;
            }
            self.by_expiry.pop_first();
            self.origins.remove(&rid);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keel_interface::envelope::CallContent;
    use keel_interface::expiry::{Expiry, Time};
    use keel_interface::route::CallVersion;
    use keel_interface::Principal;

    fn call(id: u8, expiry: u64) -> IngressCall {
        let canister = Principal::from_canister_index(1);
        IngressCall {
            request_id: RequestId([id; 32]),
            version: CallVersion::V4,
            target: EffectiveId::Canister(canister),
            content: CallContent {
                canister_id: canister,
                method_name: "m".into(),
                arg: alloc::vec![],
                sender: Principal::anonymous(),
                ingress_expiry: Expiry(Time(expiry)),
                nonce: None,
            },
        }
    }

    #[test]
    fn origins_dedup_and_expire_after_retention() {
        let mut pool = IngressPool::default();
        assert!(pool.accept(&call(1, 100)));
        assert!(!pool.accept(&call(1, 100)), "same request id");
        assert!(pool.accept(&call(2, 200)));
        pool.prune(100 + ORIGIN_RETENTION_NS);
        assert_eq!(pool.origins().len(), 2, "kept through the retention");
        pool.prune(101 + ORIGIN_RETENTION_NS);
        assert_eq!(pool.origins().keys().collect::<alloc::vec::Vec<_>>(), [&RequestId([2; 32])]);
    }

    #[test]
    fn parked_calls_time_out_at_their_deadline() {
        let mut pool = IngressPool::default();
        let t = pool.park(RequestId([1; 32]), 50, None);
        assert!(pool.has_parked());
        assert_eq!(pool.next_deadline(0), Some(50));
        assert_eq!(pool.next_deadline(50), None, "a passed bound is no reason to wake");
        assert_eq!(pool.poll(t, 49), None);
        assert_eq!(pool.poll(t, 50).map(|r| r.status), Some(202));
        assert!(!pool.has_parked());
        // Answered once: the ticket is gone.
        assert_eq!(pool.poll(t, 50).map(|r| r.status), Some(202));
        let ready = pool.park(RequestId([2; 32]), 50, Some(HttpResponse::empty(200)));
        assert_eq!(pool.next_deadline(0), None, "a ready call waits for nothing");
        assert_eq!(pool.poll(ready, 0).map(|r| r.status), Some(200));
        // Uncollected answers go: cancelled at once, or a while after the deadline.
        let a = pool.park(RequestId([3; 32]), 50, None);
        let b = pool.park(RequestId([4; 32]), 50, None);
        pool.cancel(a);
        pool.prune(50 + UNCOLLECTED_GRACE_NS);
        assert!(pool.has_parked(), "b is still within its grace");
        pool.prune(51 + UNCOLLECTED_GRACE_NS);
        assert!(!pool.has_parked());
        let _ = b;
    }
}
