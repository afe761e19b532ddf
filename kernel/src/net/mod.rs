//! The node's network: one smoltcp interface per NIC, driven by a task that wakes on the
//! NIC's interrupt or smoltcp's next timer, and the HTTP server on top ([`http`]).

pub mod http;
pub mod p2p;
mod syn_filter;

use crate::devices::Nic;
use crate::time::{self, Duration};
use alloc::vec;
use core::net::IpAddr;
use core::future::Future;
use core::pin::pin;
use core::task::Poll;
use smoltcp::iface::{Config, Interface, SocketSet};
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr, Ipv4Address};

/// Static IPv4 configuration (QEMU's user network by default).
#[derive(Clone, Copy, Debug)]
pub struct Ipv4Config {
    pub address: Ipv4Address,
    pub prefix: u8,
    /// The default route; none on a network with no way out (a subnet's private network).
    pub gateway: Option<Ipv4Address>,
}

impl Ipv4Config {
    /// QEMU's user-mode network: guest 10.0.2.15/24, gateway 10.0.2.2.
    pub const QEMU_USER: Self = Self {
        address: Ipv4Address::new(10, 0, 2, 15),
        prefix: 24,
        gateway: Some(Ipv4Address::new(10, 0, 2, 2)),
    };

    /// The node configuration's address when it has an IPv4 one (UEFI boots), else
    /// [`Self::from_cmdline`].
    pub fn for_node(node: Option<&keel_image::config::NodeConfig>, cmdline: crate::boot::Cmdline<'_>) -> Self {
        let network = node.map(|n| &n.network);
        match network.map(|n| (n.address, n.gateway)) {
            Some((IpAddr::V4(address), gateway)) => Self {
                address,
                prefix: network.map_or(24, |n| n.prefix_len),
                gateway: match gateway {
                    Some(IpAddr::V4(gw)) => Some(gw),
                    _ => None,
                },
            },
            _ => Self::from_cmdline(cmdline),
        }
    }

    /// Reads `ip=a.b.c.d/n` and `gw=a.b.c.d` from the command line, defaulting to QEMU's.
    pub fn from_cmdline(cmdline: crate::boot::Cmdline<'_>) -> Self {
        let mut config = Self::QEMU_USER;
        if let Some((addr, prefix)) = cmdline.get("ip").and_then(|v| v.split_once('/'))
            && let (Ok(addr), Ok(prefix)) = (addr.parse(), prefix.parse())
        {
            config.address = addr;
            config.prefix = prefix;
        }
        if let Some(gw) = cmdline.get("gw").and_then(|v| v.parse().ok()) {
            config.gateway = Some(gw);
        }
        config
    }
}

/// smoltcp's clock: microseconds since boot.
pub fn smoltcp_now() -> smoltcp::time::Instant {
    smoltcp::time::Instant::from_micros(time::since_boot().as_micros() as i64)
}

/// Longest sleep of the network task when nothing is scheduled (interrupts wake it sooner).
const MAX_SLEEP: Duration = Duration::from_millis(500);
/// How often parked requests (calls awaiting certification) are looked at.
const PARKED_POLL: Duration = Duration::from_millis(1);

/// One NIC with its smoltcp interface and sockets.
pub struct Link {
    nic: Nic,
    iface: Interface,
    sockets: SocketSet<'static>,
    peers: syn_filter::Peers,
}

impl Link {
    /// Brings up `nic` with `ip`.
    pub fn new(mut nic: Nic, ip: Ipv4Config) -> Link {
        let mac = nic.device.mac();
        let mut iface = Interface::new(Config::new(HardwareAddress::Ethernet(mac)), &mut nic.device, smoltcp_now());
        iface.update_ip_addrs(|addrs| {
            let _ = addrs.push(IpCidr::new(IpAddress::Ipv4(ip.address), ip.prefix));
        });
        if let Some(gateway) = ip.gateway {
            let _ = iface.routes_mut().add_default_ipv4_route(gateway);
        }
        match ip.gateway {
            Some(gw) => log::info!("network: {mac} at {}/{} via {gw}", ip.address, ip.prefix),
            None => log::info!("network: {mac} at {}/{} (no gateway)", ip.address, ip.prefix),
        }
        Link { nic, iface, sockets: SocketSet::new(vec![]), peers: syn_filter::Peers::default() }
    }

    /// The sockets on this link.
    pub fn sockets_mut(&mut self) -> &mut SocketSet<'static> {
        &mut self.sockets
    }

    /// Moves frames between the NIC and the sockets, through the [`syn_filter`].
    fn poll(&mut self) {
        if self.nic.irq.is_some() {
            self.nic.device.ack_interrupt();
        }
        self.peers.refresh(&self.sockets);
        let mut device = syn_filter::SynFilter { device: &mut self.nic.device, peers: &mut self.peers };
        self.iface.poll(smoltcp_now(), &mut device, &mut self.sockets);
    }

    /// How soon smoltcp needs polling again.
    fn delay(&mut self) -> Duration {
        self.iface.poll_delay(smoltcp_now(), &self.sockets).map_or(MAX_SLEEP, |d| Duration::from_micros(d.total_micros()))
    }
}

/// The subnet side of a member: its NIC and the P2P connections on it.
pub struct Subnet {
    pub link: Link,
    pub p2p: p2p::P2p,
}

/// Serves HTTP on `port` of `public` with `service`, and runs the subnet's P2P network on
/// `subnet` (members only), forever.
pub async fn run(mut public: Link, port: u16, timeouts: http::Timeouts, mut subnet: Option<Subnet>, mut service: impl keel_node::Service) {
    let mut server = http::Server::new(&mut public.sockets, port, timeouts);
    log::info!("HTTP on port {port}");
    loop {
        let next_tick = service.tick(time::unix_time_nanos());
        public.poll();
        server.serve(&mut public.sockets, &mut service);
        if let Some(s) = subnet.as_mut() {
            s.link.poll();
            s.p2p.reap(&mut s.link.sockets);
            s.p2p.step(&mut s.link.iface, &mut s.link.sockets, &mut service);
            s.link.poll();
        }
        public.poll();
        let mut delay = public
            .delay()
            .min(server.next_deadline())
            .min(if service.has_pending() { PARKED_POLL } else { MAX_SLEEP })
            .min(next_tick);
        if let Some(s) = subnet.as_mut() {
            delay = delay.min(s.link.delay()).min(s.p2p.next_deadline());
        }
        if delay.is_zero() {
            crate::executor::yield_now().await;
            continue;
        }
        let irqs = (public.nic.irq.as_ref(), subnet.as_ref().and_then(|s| s.link.nic.irq.as_ref()));
        let sleep = time::timer::sleep(delay);
        match irqs {
            (Some(a), Some(b)) => first_of(first_of(a.wait(), b.wait()), sleep).await,
            (Some(a), None) => first_of(a.wait(), sleep).await,
            // Without interrupts on both NICs, poll at the pace of the timers.
            _ => sleep.await,
        }
    }
}

/// Completes when either future does.
async fn first_of(a: impl Future<Output = ()>, b: impl Future<Output = ()>) {
    let (mut a, mut b) = (pin!(a), pin!(b));
    core::future::poll_fn(|cx| {
        if a.as_mut().poll(cx).is_ready() || b.as_mut().poll(cx).is_ready() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await
}
