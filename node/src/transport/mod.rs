//! The authenticated, integrity-protected channel between two members of a subnet, sans-IO:
//! the kernel moves bytes between a [`Channel`] and a TCP socket; no I/O, no clock here.
//!
//! # Wire format
//! 1. Both ends send a 107-byte hello at once: `"KEEL" · version u16 · role u8 · subnet tag
//!    [32] · sender index u32 · X25519 ephemeral key [32] · nonce [32]` (integers big-endian).
//! 2. On the peer's hello each end sends 64 bytes: its Ed25519 node signature over
//!    `len · "keel-p2p-v1-auth" · role · initiator index · responder index · SHA-256(transcript)`.
//! 3. Session keys: HKDF-SHA256(salt = transcript hash, ikm = X25519 secret), one per direction.
//! 4. Then frames: `len u32 · payload · HMAC-SHA256(key, seq u64 · len · payload)`, `seq`
//!    counted per direction from 0 and never sent. Payloads are at most [`MAX_FRAME_PAYLOAD`].
//!
//! Only integrity and authenticity are provided: payloads travel in the clear.
//!
//! # Driving it (the kernel)
//! * The lower index dials the higher one, so each pair holds one connection: the dialler
//!   builds `Role::Initiator { peer }` and the accepting side `Role::Responder`, each with 32
//!   fresh bytes of entropy (RDRAND / virtio-rng) per connection.
//! * Write [`Channel::outgoing`] to the socket whenever it is non-empty and report what the
//!   socket took with [`Channel::consume_outgoing`]; the hello is there right after `new`.
//! * Feed what the socket received to [`Channel::receive`] (any split); it returns how many
//!   bytes it used. It stops early only when [`MAX_QUEUED_MESSAGES`] payloads or
//!   [`MAX_QUEUED_BYTES`] bytes wait in [`Channel::next_message`]: leave the rest in the
//!   socket (smoltcp's `recv` closure returns the count) until the caller drained messages.
//!   So memory per channel stays at the queue plus one frame in progress.
//! * [`Channel::send`] only once [`Channel::is_established`]. It does not bound the
//!   outgoing bytes; check `outgoing().len()` before producing more.
//! * Any `Err` from `receive` is final: drop the TCP connection (and, when not established,
//!   dial again later). Handshake timeouts are the kernel's, as it owns the clock.

mod buffer;
mod error;
mod frame;
mod handshake;
mod hello;
#[cfg(test)]
mod tests;

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::fmt;

use keel_consensus::NodeIndex;
use keel_consensus::crypto::{NodeSecrets, SubnetPublicKeys};

use buffer::{OutBuf, fill};
pub use error::ChannelError;
use frame::{FrameMac, Opener};
use handshake::{AUTH_LEN, Handshake, Pending};
use hello::HELLO_LEN;

/// The handshake and frame format version in every hello.
pub const PROTOCOL_VERSION: u16 = 1;
/// Largest frame payload: bounds what one frame can make a receiver buffer.
pub const MAX_FRAME_PAYLOAD: usize = 16 << 20;
/// `receive` stops consuming while this many verified payloads wait to be taken.
pub const MAX_QUEUED_MESSAGES: usize = 64;
/// `receive` stops consuming while this many payload bytes wait to be taken.
pub const MAX_QUEUED_BYTES: usize = MAX_FRAME_PAYLOAD;

/// Who we are and who may connect: the subnet's membership and our node key.
#[derive(Clone)]
pub struct ChannelConfig {
    /// Our index in the membership.
    pub me: NodeIndex,
    /// Seed of our Ed25519 node key (`NodeSecrets::node_secret`).
    pub node_secret: [u8; 32],
    /// Raw Ed25519 node keys of all members, by index.
    pub node_public_keys: Vec<[u8; 32]>,
    /// Identifies the subnet (e.g. a hash of its id); ends with different tags never connect.
    pub subnet_tag: [u8; 32],
}

impl ChannelConfig {
    /// The configuration of the member holding `secrets` in the subnet of `public`.
    pub fn from_keys(
        public: &SubnetPublicKeys,
        secrets: &NodeSecrets,
        subnet_tag: [u8; 32],
    ) -> Result<ChannelConfig, ChannelError> {
        let node_public_keys = public
            .node_public_keys
            .iter()
            .map(|k| <[u8; 32]>::try_from(k.as_slice()).map_err(|_| ChannelError::BadConfig))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ChannelConfig {
            me: secrets.index,
            node_secret: secrets.node_secret,
            node_public_keys,
            subnet_tag,
        })
    }
}

impl fmt::Debug for ChannelConfig {
    // The node secret never reaches logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ChannelConfig({}, {} members)",
            self.me,
            self.node_public_keys.len()
        )
    }
}

/// Which end of the TCP connection we are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// We dialled `peer`; anyone else answering is rejected.
    Initiator {
        /// The member we dialled.
        peer: NodeIndex,
    },
    /// We accepted; any other member may be on the other end.
    Responder,
}

/// An established session: the proven peer and the MAC state of both directions.
struct Session {
    peer: NodeIndex,
    tx: FrameMac,
    rx: Opener,
}

/// Where the channel is.
enum State {
    /// Our hello is queued; waiting for the peer's.
    AwaitingHello(Handshake),
    /// Our signature is queued; waiting for the peer's.
    AwaitingAuth(Pending),
    /// Frames flow both ways.
    Established(Session),
    /// Final; the caller drops the connection.
    Failed(ChannelError),
}

/// One connection's channel; see the [module docs](self) for how to drive it.
pub struct Channel {
    state: State,
    /// A handshake message in progress.
    partial: Vec<u8>,
    out: OutBuf,
    inbox: VecDeque<Vec<u8>>,
    inbox_bytes: usize,
}

impl Channel {
    /// A channel in `role` with our hello already queued in [`Channel::outgoing`]. Fails
    /// only on our own mistakes: a `config` whose key or index is not a member, or dialling
    /// ourselves or a non-member.
    pub fn new(
        config: &ChannelConfig,
        role: Role,
        entropy: [u8; 32],
    ) -> Result<Channel, ChannelError> {
        let handshake = Handshake::start(config, role, entropy)?;
        let mut out = OutBuf::default();
        out.tail().extend_from_slice(handshake.hello());
        Ok(Channel {
            state: State::AwaitingHello(handshake),
            partial: Vec::with_capacity(HELLO_LEN),
            out,
            inbox: VecDeque::new(),
            inbox_bytes: 0,
        })
    }

    /// Feeds bytes from the socket; returns how many were used (fewer only while the queue
    /// of received payloads is full). An error is final: the channel stays failed with it.
    pub fn receive(&mut self, bytes: &[u8]) -> Result<usize, ChannelError> {
        if let State::Failed(e) = self.state {
            return Err(e);
        }
        let mut used = 0;
        while used < bytes.len() && !self.inbox_full() {
            match self.step(&bytes[used..]) {
                Ok(0) => break,
                Ok(n) => used += n,
                Err(e) => return Err(self.fail(e)),
            }
        }
        Ok(used)
    }

    /// The next verified payload, in the order the peer sent them.
    pub fn next_message(&mut self) -> Option<Vec<u8>> {
        let m = self.inbox.pop_front()?;
        self.inbox_bytes = self.inbox_bytes.saturating_sub(m.len());
        Some(m)
    }

    /// Queues `payload` as one authenticated frame. Sending before the handshake finished
    /// or more than [`MAX_FRAME_PAYLOAD`] bytes is refused and leaves the channel as it was.
    pub fn send(&mut self, payload: &[u8]) -> Result<(), ChannelError> {
        let result = match &mut self.state {
            State::Established(s) => frame::seal(&mut s.tx, payload, self.out.tail()),
            State::Failed(e) => Err(*e),
            State::AwaitingHello(_) | State::AwaitingAuth(_) => Err(ChannelError::NotEstablished),
        };
        match result {
            Err(e @ ChannelError::SequenceExhausted) => Err(self.fail(e)),
            other => other,
        }
    }

    /// Bytes to write to the socket.
    pub fn outgoing(&self) -> &[u8] {
        self.out.pending()
    }

    /// Marks the first `n` bytes of [`Channel::outgoing`] as written.
    pub fn consume_outgoing(&mut self, n: usize) {
        self.out.consume(n);
    }

    /// The authenticated peer, once established.
    pub fn peer(&self) -> Option<NodeIndex> {
        match &self.state {
            State::Established(s) => Some(s.peer),
            _ => None,
        }
    }

    /// Whether the handshake finished and frames flow.
    pub fn is_established(&self) -> bool {
        matches!(self.state, State::Established(_))
    }

    /// Whether verified payloads fill the queue, so `receive` takes no more bytes.
    fn inbox_full(&self) -> bool {
        self.inbox.len() >= MAX_QUEUED_MESSAGES || self.inbox_bytes >= MAX_QUEUED_BYTES
    }

    /// Consumes bytes up to the end of the message the state expects and acts on it.
    fn step(&mut self, bytes: &[u8]) -> Result<usize, ChannelError> {
        match &mut self.state {
            State::AwaitingHello(h) => {
                let n = fill(&mut self.partial, HELLO_LEN, bytes);
                if self.partial.len() == HELLO_LEN {
                    let (pending, auth) = h.on_hello(&self.partial)?;
                    self.partial.clear();
                    self.out.tail().extend_from_slice(&auth);
                    self.state = State::AwaitingAuth(pending);
                }
                Ok(n)
            }
            State::AwaitingAuth(p) => {
                let n = fill(&mut self.partial, AUTH_LEN, bytes);
                if self.partial.len() == AUTH_LEN {
                    p.on_auth(&self.partial)?;
                    let keys = p.keys().clone();
                    let peer = p.peer();
                    self.partial = Vec::new();
                    self.state = State::Established(Session {
                        peer,
                        tx: keys.send,
                        rx: Opener::new(keys.recv),
                    });
                }
                Ok(n)
            }
            State::Established(s) => {
                let (n, payload) = s.rx.push(bytes)?;
                if let Some(p) = payload {
                    self.inbox_bytes += p.len();
                    self.inbox.push_back(p);
                }
                Ok(n)
            }
            State::Failed(e) => Err(*e),
        }
    }

    /// Makes the channel final with `e`; nothing more is sent. Payloads verified before the
    /// failure stay readable: they were authentic.
    fn fail(&mut self, e: ChannelError) -> ChannelError {
        self.state = State::Failed(e);
        self.partial = Vec::new();
        self.out = OutBuf::default();
        e
    }
}

impl fmt::Debug for Channel {
    // State and sizes only; keys never reach logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (state, error) = match &self.state {
            State::AwaitingHello(_) => ("awaiting hello", None),
            State::AwaitingAuth(_) => ("awaiting auth", None),
            State::Established(_) => ("established", None),
            State::Failed(e) => ("failed", Some(*e)),
        };
        f.debug_struct("Channel")
            .field("state", &state)
            .field("error", &error)
            .field("peer", &self.peer())
            .field("outgoing", &self.outgoing().len())
            .field("queued", &self.inbox.len())
            .finish()
    }
}
