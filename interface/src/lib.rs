//! Keel interface: the sans-IO IC HTTP interface (ic-reference §1–§6).
//!
//! Bytes in, bytes out, no sockets: the kernel feeds each connection's bytes into an
//! [`http::HttpParser`], passes complete requests to [`service::handle`], and writes the
//! [`http::HttpResponse`] it gets back (or submits the [`service::IngressCall`] to
//! consensus and answers later with [`call`]'s responses). Everything the interface needs
//! from the replicated state comes through [`read_state::StateReader`] and
//! [`service::QueryExecutor`].
//!
//! The kernel's loop per connection, in outline:
//!
//! ```text
//! parser.feed(bytes_from_socket);
//! if parser.take_continue() { write(http::CONTINUE) }
//! match parser.next_request() {
//!     Ok(None) => wait for more bytes (answer 408 after REQUEST_TIMEOUT_SECS of in_progress()),
//!     Err(e) => write HttpResponse::text(e.status(), …) and close,
//!     Ok(Some(req)) => match service::handle(&config, &req, now, health, &state, &mut queries) {
//!         Action::Respond(resp) => write(resp.to_bytes(req.keep_alive)),
//!         Action::Submit(call) => ingress pool; v2: call::accepted(); v3/v4: when certified,
//!             call::certified(&certified_state.call_certificate(&call.request_id)),
//!             or call::timed_out() after the deadline,
//!     },
//! }
//! ```
//!
//! * [`http`], [`route`]: HTTP/1.1 framing, limits, CORS, the endpoint table.
//! * [`envelope`], [`request_id`]: CBOR envelopes and representation-independent hashing.
//! * [`expiry`], [`signature`], [`delegation`]: the ingress window and sender authentication.
//! * [`management`], [`candid`]: effective canister ids of management canister calls.
//! * [`status`], [`call`], [`query`], [`read_state`], [`certificate`], [`reject`]: responses.
//! * [`state_tree`]: the labels and leaf encodings of the certified state clients read.
#![forbid(unsafe_code)]
#![cfg_attr(target_os = "none", no_std)]
extern crate alloc;

pub mod call;
pub mod candid;
pub mod certificate;
pub mod delegation;
pub mod envelope;
pub mod error;
pub mod expiry;
pub mod http;
pub mod management;
pub mod query;
pub mod read_state;
pub mod reject;
pub mod request_id;
pub mod route;
pub mod service;
pub mod signature;
pub mod state_tree;
pub mod status;

pub use keel_crypto::Principal;
