//! The node: the replica logic that ties the IC interface, consensus, the hypervisor and
//! persistence together, sans-IO. The kernel owns sockets, timers, devices and entropy and
//! drives a node through the [`Service`] boundary; everything behind it is host-tested.
#![forbid(unsafe_code)]
#![cfg_attr(target_os = "none", no_std)]

extern crate alloc;

use core::time::Duration;
use keel_interface::http::{HttpRequest, HttpResponse};

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
}
