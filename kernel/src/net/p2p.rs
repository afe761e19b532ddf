//! The subnet's P2P network on the subnet NIC: one authenticated connection per pair of
//! members ([`keel_node::transport::Channel`] over a smoltcp TCP socket), carrying the
//! consensus messages of the node's outbox and handing what peers send to the node.
//!
//! * The lower index dials the higher one; the higher one accepts on a small pool of
//!   listening sockets and learns who called from the handshake. A dropped or failed
//!   connection is dialled again after [`REDIAL`].
//! * Messages for a peer without an established connection, or whose channel already holds
//!   [`MAX_BACKLOG`] unsent bytes, are dropped: consensus re-broadcasts its current round
//!   every second and a reconnected peer asks for what it misses, so loss costs latency,
//!   never safety. Queueing more would only put stale re-broadcasts in front of fresh
//!   artifacts on a link slower than the consensus' output (TCG: a few MB/s).

use crate::time::{self, Duration, Instant};
use alloc::vec;
use alloc::vec::Vec;
use keel_consensus::NodeIndex;
use keel_drivers::virtio::rng::Entropy;
use keel_node::Service;
use keel_node::membership::Membership;
use keel_node::transport::{Channel, ChannelConfig, Role};
use smoltcp::iface::{Interface, SocketHandle, SocketSet};
use smoltcp::socket::tcp;
use smoltcp::wire::{IpAddress, IpEndpoint, Ipv4Address};

/// Wait before dialling a peer again.
const REDIAL: Duration = Duration::from_secs(1);
/// A handshake must finish within this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Unsent bytes a channel may hold before new messages to that peer are dropped (a message
/// bigger than this still goes out when the channel is below it).
const MAX_BACKLOG: usize = 1 << 20;
const SOCKET_BUFFER: usize = 256 * 1024;
/// First local port for outgoing connections.
const EPHEMERAL: u16 = 49152;

struct Connection {
    handle: SocketHandle,
    channel: Channel,
    opened: Instant,
    /// Whether the node was told the peer is connected.
    announced: bool,
}

/// One other member.
struct Peer {
    index: NodeIndex,
    endpoint: IpEndpoint,
    /// We dial it (it has the higher index).
    dial: bool,
    connection: Option<Connection>,
    next_dial: Instant,
}

pub struct P2p {
    config: ChannelConfig,
    port: u16,
    peers: Vec<Peer>,
    /// Accepting sockets and the channels of connections whose peer is not known yet.
    inbound: Vec<(SocketHandle, Option<Connection>)>,
    entropy: Entropy,
    next_port: u16,
    /// Aborted sockets to free after the next poll.
    closing: Vec<SocketHandle>,
    next_report: Instant,
}

/// How often connection states are logged.
const REPORT: Duration = Duration::from_secs(10);

impl P2p {
    /// The P2P network of `membership`'s member; listens on its own port.
    pub fn new(membership: &Membership, sockets: &mut SocketSet<'static>, entropy: Entropy) -> Option<P2p> {
        let subnet_tag = keel_crypto::hash::sha256(&membership.public.subnet_public_key);
        let config = ChannelConfig::from_keys(&membership.public, &membership.secrets, subnet_tag).ok()?;
        let me = membership.me();
        let port = membership.my_address()?.port;
        let now = time::now();
        let peers: Vec<Peer> = membership
            .peers()
            .map(|(index, a)| Peer {
                index,
                endpoint: IpEndpoint::new(IpAddress::Ipv4(Ipv4Address::from(a.ip)), a.port),
                dial: index > me,
                connection: None,
                next_dial: now,
            })
            .collect();
        let accepting = peers.iter().filter(|p| !p.dial).count() + 1;
        let inbound = (0..accepting).map(|_| (listener(sockets, port), None)).collect();
        Some(P2p { config, port, peers, inbound, entropy, next_port: EPHEMERAL, closing: Vec::new(), next_report: now })
    }

    /// Moves every connection forward: dials, accepts, handshakes, delivers received
    /// messages to `service` and sends its outbox.
    pub fn step(&mut self, iface: &mut Interface, sockets: &mut SocketSet<'static>, service: &mut impl Service) {
        let now = time::now();
        let unix = time::unix_time_nanos();
        self.accept(sockets, now);
        for i in 0..self.peers.len() {
            self.dial(i, iface, sockets, now);
            let peer = &mut self.peers[i];
            if let Some(c) = peer.connection.as_mut()
                && !pump(c, sockets.get_mut::<tcp::Socket>(c.handle), peer.index, service, unix, now)
            {
                log::info!("p2p: connection to member {} lost", peer.index);
                self.closing.extend(abort(sockets, peer.connection.take()));
                peer.next_dial = now + REDIAL;
            }
        }
        self.send(service.take_outbox(), sockets);
        if now >= self.next_report {
            self.next_report = now + REPORT;
            self.report(sockets);
        }
    }

    /// Logs each peer's connection: socket state, bytes waiting to be sent and received.
    fn report(&self, sockets: &SocketSet<'static>) {
        for peer in &self.peers {
            match &peer.connection {
                Some(c) => {
                    let socket = sockets.get::<tcp::Socket>(c.handle);
                    log::info!(
                        "p2p: member {}: {} {}, unsent {} B in channel + {} B in socket, {} B received unread",
                        peer.index,
                        if c.channel.is_established() { "established" } else { "handshaking" },
                        socket.state(),
                        c.channel.outgoing().len(),
                        socket.send_queue(),
                        socket.recv_queue(),
                    );
                }
                None => log::info!("p2p: member {}: not connected", peer.index),
            }
        }
    }

    /// Frees the sockets of connections aborted by an earlier step (their reset is sent
    /// by the poll in between).
    pub fn reap(&mut self, sockets: &mut SocketSet<'static>) {
        for handle in self.closing.drain(..) {
            sockets.remove(handle);
        }
    }

    /// When the next dial falls due (handshake timeouts are checked at the same pace).
    pub fn next_deadline(&self) -> Duration {
        let now = time::now();
        self.peers
            .iter()
            .filter(|p| p.dial && p.connection.is_none())
            .map(|p| p.next_dial.duration_since(now))
            .min()
            .unwrap_or(Duration::from_secs(1))
            .min(Duration::from_secs(1))
    }

    fn dial(&mut self, i: usize, iface: &mut Interface, sockets: &mut SocketSet<'static>, now: Instant) {
        let peer = &self.peers[i];
        if !peer.dial || peer.connection.is_some() || now < peer.next_dial {
            return;
        }
        let (index, endpoint) = (peer.index, peer.endpoint);
        let mut socket = new_socket();
        let local = self.next_port;
        self.next_port = if self.next_port == u16::MAX { EPHEMERAL } else { self.next_port + 1 };
        let channel = self.channel(Role::Initiator { peer: index });
        let peer = &mut self.peers[i];
        peer.next_dial = now + REDIAL;
        match (socket.connect(iface.context(), endpoint, local), channel) {
            (Ok(()), Some(channel)) => {
                let handle = sockets.add(socket);
                peer.connection = Some(Connection { handle, channel, opened: now, announced: false });
            }
            (Err(e), _) => log::warn!("p2p: cannot dial member {index} at {endpoint}: {e}"),
            (_, None) => {}
        }
    }

    /// Starts channels on accepted sockets; hands established ones to their peer.
    fn accept(&mut self, sockets: &mut SocketSet<'static>, now: Instant) {
        for slot in 0..self.inbound.len() {
            let handle = self.inbound[slot].0;
            let socket = sockets.get_mut::<tcp::Socket>(handle);
            if self.inbound[slot].1.is_none() {
                if !socket.is_open() {
                    let _ = socket.listen(self.port);
                }
                if !socket.is_active() {
                    continue;
                }
                let channel = self.channel(Role::Responder);
                self.inbound[slot].1 = channel.map(|channel| Connection { handle, channel, opened: now, announced: false });
            }
            let Some(c) = self.inbound[slot].1.as_mut() else { continue };
            let socket = sockets.get_mut::<tcp::Socket>(handle);
            if !shuttle(c, socket) || now.duration_since(c.opened) >= HANDSHAKE_TIMEOUT {
                socket.abort();
                self.inbound[slot].1 = None;
                continue;
            }
            let Some(index) = c.channel.peer() else { continue };
            // The accepted connection becomes the peer's; a fresh listener takes its place.
            let connection = self.inbound[slot].1.take();
            self.inbound[slot].0 = listener(sockets, self.port);
            if let Some(peer) = self.peers.iter_mut().find(|p| p.index == index) {
                let old = core::mem::replace(&mut peer.connection, connection);
                self.closing.extend(abort(sockets, old));
            }
        }
    }

    /// Queues the node's messages on the peers' channels.
    fn send(&mut self, outbox: Vec<keel_node::consensus::Outgoing>, sockets: &mut SocketSet<'static>) {
        for message in outbox {
            for peer in self.peers.iter_mut().filter(|p| message.to.is_none_or(|to| to == p.index)) {
                let Some(c) = peer.connection.as_mut().filter(|c| c.channel.is_established()) else { continue };
                if c.channel.outgoing().len() > MAX_BACKLOG || c.channel.send(&message.bytes).is_err() {
                    continue;
                }
                write(c, sockets.get_mut::<tcp::Socket>(c.handle));
            }
        }
    }

    fn channel(&mut self, role: Role) -> Option<Channel> {
        let mut entropy = [0u8; 32];
        if self.entropy.fill(&mut entropy).is_err() {
            log::error!("p2p: no entropy for a connection");
            return None;
        }
        Channel::new(&self.config, role, entropy).map_err(|e| log::error!("p2p: {e}")).ok()
    }
}

/// Moves bytes of an established (or establishing) connection and delivers its messages;
/// false when the connection is dead.
fn pump(c: &mut Connection, socket: &mut tcp::Socket<'_>, index: NodeIndex, service: &mut impl Service, unix: u64, now: Instant) -> bool {
    if !shuttle(c, socket) {
        return false;
    }
    if !c.channel.is_established() {
        return now.duration_since(c.opened) < HANDSHAKE_TIMEOUT;
    }
    if !c.announced {
        c.announced = true;
        log::info!("p2p: connected to member {index}");
        service.on_peer_connected(index, unix);
    }
    while let Some(message) = c.channel.next_message() {
        service.on_peer_message(index, &message, unix);
    }
    // Delivering may have freed room in the channel's queue.
    shuttle(c, socket)
}

/// Writes pending bytes and reads what arrived into the channel; false when the socket
/// closed or the channel failed.
fn shuttle(c: &mut Connection, socket: &mut tcp::Socket<'_>) -> bool {
    if !socket.is_open() || matches!(socket.state(), tcp::State::CloseWait | tcp::State::Closing | tcp::State::LastAck) {
        return false;
    }
    write(c, socket);
    let mut ok = true;
    while ok && socket.can_recv() {
        let channel = &mut c.channel;
        match socket.recv(|data| match channel.receive(data) {
            Ok(used) => (used, used),
            Err(e) => {
                log::warn!("p2p: connection dropped: {e}");
                ok = false;
                (data.len(), 0)
            }
        }) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
    ok
}

fn write(c: &mut Connection, socket: &mut tcp::Socket<'_>) {
    while !c.channel.outgoing().is_empty() && socket.can_send() {
        match socket.send_slice(c.channel.outgoing()) {
            Ok(0) | Err(_) => break,
            Ok(n) => c.channel.consume_outgoing(n),
        }
    }
}

/// Resets the connection's socket; returns the handle to free once the reset is out.
fn abort(sockets: &mut SocketSet<'static>, connection: Option<Connection>) -> Option<SocketHandle> {
    let c = connection?;
    sockets.get_mut::<tcp::Socket>(c.handle).abort();
    Some(c.handle)
}

fn new_socket() -> tcp::Socket<'static> {
    let mut socket = tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0; SOCKET_BUFFER]),
        tcp::SocketBuffer::new(vec![0; SOCKET_BUFFER]),
    );
    socket.set_nagle_enabled(false);
    socket.set_keep_alive(Some(smoltcp::time::Duration::from_secs(5)));
    socket.set_timeout(Some(smoltcp::time::Duration::from_secs(15)));
    socket
}

fn listener(sockets: &mut SocketSet<'static>, port: u16) -> SocketHandle {
    let mut socket = new_socket();
    if let Err(e) = socket.listen(port) {
        log::error!("p2p: cannot listen on port {port}: {e}");
    }
    sockets.add(socket)
}
