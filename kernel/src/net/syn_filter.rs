//! Drops retransmitted SYNs of connections a socket already holds.
//!
//! smoltcp hands a segment to the first socket that accepts it, and a listening socket accepts
//! any SYN. When a client retransmits its SYN (the guest was slow to answer, as under TCG on a
//! loaded host), a listening socket earlier in the set than the one already holding the
//! connection takes the copy and opens a second, half-open connection for the same peer. That
//! socket then answers the peer's next ACK with a reset whose sequence number the peer accepts,
//! and the real connection dies. A SYN from a peer endpoint that already has a socket is
//! dropped here instead; the holding socket retransmits its SYN-ACK on its own timer.

use alloc::vec::Vec;
use smoltcp::iface::SocketSet;
use smoltcp::phy::{self, Device, DeviceCapabilities};
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetFrame, EthernetProtocol, IpEndpoint, IpProtocol, Ipv4Packet, TcpPacket};

/// A connection as a SYN names it: the peer's endpoint and our port.
type Key = (IpEndpoint, u16);

/// The peers that hold a socket, refreshed before each poll, plus the SYNs let through since.
#[derive(Default)]
pub struct Peers(Vec<Key>);

impl Peers {
    /// Records the peer of every socket that has one.
    pub fn refresh(&mut self, sockets: &SocketSet<'_>) {
        self.0.clear();
        for (_, socket) in sockets.iter() {
            if let smoltcp::socket::Socket::Tcp(socket) = socket
                && !matches!(socket.state(), tcp::State::Closed | tcp::State::Listen | tcp::State::TimeWait)
                && let (Some(remote), Some(local)) = (socket.remote_endpoint(), socket.local_endpoint())
            {
                self.0.push((remote, local.port));
            }
        }
    }

    /// Whether `frame` may go on to the sockets: everything but a SYN of a known connection.
    fn admit(&mut self, frame: &[u8]) -> bool {
        match syn_of(frame) {
            Some(key) if self.0.contains(&key) => false,
            Some(key) => {
                self.0.push(key);
                true
            }
            None => true,
        }
    }
}

/// The connection a bare SYN (no ACK) in an Ethernet frame opens, if it is one.
fn syn_of(frame: &[u8]) -> Option<Key> {
    let ethernet = EthernetFrame::new_checked(frame).ok()?;
    if ethernet.ethertype() != EthernetProtocol::Ipv4 {
        return None;
    }
    let ip = Ipv4Packet::new_checked(ethernet.payload()).ok()?;
    if ip.next_header() != IpProtocol::Tcp {
        return None;
    }
    let tcp = TcpPacket::new_checked(ip.payload()).ok()?;
    (tcp.syn() && !tcp.ack()).then(|| (IpEndpoint::new(ip.src_addr().into(), tcp.src_port()), tcp.dst_port()))
}

/// `device` seen through the filter.
pub struct SynFilter<'a, D> {
    pub device: &'a mut D,
    pub peers: &'a mut Peers,
}

pub struct RxToken<'a, R> {
    inner: R,
    peers: &'a mut Peers,
}

impl<R: phy::RxToken> phy::RxToken for RxToken<'_, R> {
    fn consume<T, F: FnOnce(&[u8]) -> T>(self, f: F) -> T {
        let peers = self.peers;
        // smoltcp drops a frame too short to parse, so an empty one is how to drop a frame
        // while still handing the token's result back.
        self.inner.consume(|frame| if peers.admit(frame) { f(frame) } else { f(&[]) })
    }
}

impl<D: Device> Device for SynFilter<'_, D> {
    type RxToken<'a>
        = RxToken<'a, D::RxToken<'a>>
    where
        Self: 'a;
    type TxToken<'a>
        = D::TxToken<'a>
    where
        Self: 'a;

    fn receive(&mut self, timestamp: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        let (rx, tx) = self.device.receive(timestamp)?;
        Some((RxToken { inner: rx, peers: self.peers }, tx))
    }

    fn transmit(&mut self, timestamp: Instant) -> Option<Self::TxToken<'_>> {
        self.device.transmit(timestamp)
    }

    fn capabilities(&self) -> DeviceCapabilities {
        self.device.capabilities()
    }
}

#[cfg(feature = "ktest")]
mod ktests {
    use super::*;
    use crate::ktest;
    use smoltcp::phy::ChecksumCapabilities;
    use smoltcp::wire::{
        EthernetAddress, EthernetRepr, IpAddress, Ipv4Address, Ipv4Repr, TcpControl, TcpRepr, TcpSeqNumber,
    };

    /// An Ethernet frame carrying a TCP segment from 10.0.2.2:`port` to 10.0.2.15:8080.
    fn segment(port: u16, control: TcpControl, ack: bool) -> Vec<u8> {
        let (src, dst) = (Ipv4Address::new(10, 0, 2, 2), Ipv4Address::new(10, 0, 2, 15));
        let tcp = TcpRepr {
            src_port: port,
            dst_port: 8080,
            control,
            seq_number: TcpSeqNumber(1000),
            ack_number: ack.then_some(TcpSeqNumber(1)),
            window_len: 64240,
            window_scale: None,
            max_seg_size: None,
            sack_permitted: false,
            sack_ranges: [None; 3],
            timestamp: None,
            payload: &[],
        };
        let ip = Ipv4Repr { src_addr: src, dst_addr: dst, next_header: IpProtocol::Tcp, payload_len: tcp.buffer_len(), hop_limit: 64 };
        let eth = EthernetRepr { src_addr: EthernetAddress([2, 0, 0, 0, 0, 1]), dst_addr: EthernetAddress([2, 0, 0, 0, 0, 2]), ethertype: EthernetProtocol::Ipv4 };
        let mut frame = alloc::vec![0; eth.buffer_len() + ip.buffer_len() + tcp.buffer_len()];
        let mut ethernet = EthernetFrame::new_unchecked(&mut frame[..]);
        eth.emit(&mut ethernet);
        let mut packet = Ipv4Packet::new_unchecked(ethernet.payload_mut());
        ip.emit(&mut packet, &ChecksumCapabilities::default());
        let mut segment = TcpPacket::new_unchecked(packet.payload_mut());
        tcp.emit(&mut segment, &IpAddress::Ipv4(src), &IpAddress::Ipv4(dst), &ChecksumCapabilities::default());
        frame
    }

    ktest! {
        fn a_retransmitted_syn_is_dropped_and_other_traffic_passes() {
            let mut peers = Peers::default();
            assert!(peers.admit(&segment(40000, TcpControl::Syn, false)), "the first SYN");
            assert!(!peers.admit(&segment(40000, TcpControl::Syn, false)), "its retransmission");
            assert!(peers.admit(&segment(40001, TcpControl::Syn, false)), "another client");
            assert!(peers.admit(&segment(40000, TcpControl::None, true)), "the handshake's ACK");
            assert!(peers.admit(&segment(40000, TcpControl::Syn, true)), "a SYN-ACK is not a new connection");
            assert!(peers.admit(b"not a frame"));
        }
    }

    ktest! {
        fn a_refresh_forgets_peers_without_a_socket() {
            let mut peers = Peers::default();
            assert!(peers.admit(&segment(40000, TcpControl::Syn, false)));
            peers.refresh(&SocketSet::new(alloc::vec![]));
            assert!(peers.admit(&segment(40000, TcpControl::Syn, false)), "a new connection after the old one closed");
        }
    }
}
