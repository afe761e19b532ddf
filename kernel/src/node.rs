//! The node: what the kernel runs once the platform is up. For now it is the boot banner and
//! an operator console on the serial line; later issues add the network, the IC interface,
//! consensus and execution as tasks of the same event loop.

use crate::boot::BootData;
use crate::executor::{self, Executor};
use crate::time::{self, Calibration, Duration};
use alloc::string::String;
use keel_abi::boot::summarize;
use crate::storage::StateDisk;
use keel_abi::console::Event;
use keel_drivers::virtio::{blk::Disk, rng::Entropy};
use keel_hypervisor::BlockDevice;
use keel_interface::http::{HttpRequest, HttpResponse, Method};
use core::sync::atomic::{AtomicBool, Ordering};
use keel_consensus::NodeIndex;
use keel_node::{Node, NodeConfig, NodeKeys, Reply, Service};

const VERSION: &str = env!("CARGO_PKG_VERSION");
const GIT_REV: &str = env!("KEEL_GIT_REV");

const MIB: u64 = 1 << 20;
/// Console input beyond this is dropped: a command line is short.
const MAX_COMMAND: usize = 128;

/// Prints who we are, what we booted on, and how long each boot phase took.
pub fn banner(boot: &BootData, calibration: &Calibration, phases: &super::Phases) {
    let memory = summarize(boot.memory_map());
    let kernel = crate::mm::layout::kernel();
    crate::println!("Keel {VERSION} (rev {GIT_REV}), booted via {:?}", boot.source);
    crate::println!("  command line: \"{}\"", boot.cmdline().0);
    crate::println!(
        "  memory: {} regions, {} MiB usable up to {:#x}, {} KiB reserved; kernel {} KiB at {:#x}; {} MiB free",
        memory.regions,
        memory.usable_bytes / MIB,
        memory.usable_end,
        memory.reserved_bytes / 1024,
        (kernel.end - kernel.start) / 1024,
        kernel.start,
        crate::mm::free_frames() as u64 * 4096 / MIB,
    );
    crate::println!(
        "  clock: TSC {} MHz, LAPIC timer {} kHz, APIC id {}, unix time {} s",
        calibration.tsc_hz / 1_000_000,
        calibration.lapic_hz / 1000,
        crate::irq::apic::id(),
        time::unix_time_nanos() / 1_000_000_000,
    );
    crate::println!("  ACPI RSDP at {:#x}", boot.rsdp);
    for (name, tsc) in [
        ("console", phases.console),
        ("memory", phases.memory),
        ("interrupts", phases.interrupts),
        ("clock", phases.clock),
    ] {
        let micros = time::ticks_to_duration(tsc.saturating_sub(phases.entry)).as_micros() as u64;
        crate::println!("{}", Event::Phase { name, micros });
    }
}

/// Runs the node's event loop forever.
pub fn run(boot: &BootData) -> ! {
    let mut executor = Executor::new();
    executor::spawn("console", console());
    let devices = crate::devices::discover();
    phase("devices");
    let mut entropy = devices.entropy;
    let mut node = start_replica(&mut entropy, devices.disks.into_iter().next());
    phase("replica");
    let membership = node.keys().membership().cloned();
    if membership.is_none() {
        // Alone, the node certifies by itself; a member needs its peers, so the network first.
        executor.run_until(certify_first_block(&mut node));
        phase("certified");
    }
    crate::println!("  root key (DER): {}", Hex(node.root_key_der()));
    let mut nics = devices.nics.into_iter();
    match nics.next() {
        Some(nic) => {
            let config = crate::attest::config();
            let ip = crate::net::Ipv4Config::for_node(config, boot.cmdline());
            let port = config.map_or(keel_abi::net::HTTP_PORT, |c| c.network.http_port);
            let timeouts = crate::net::http::Timeouts::from_cmdline(boot.cmdline());
            let subnet = membership.as_ref().and_then(|m| subnet_network(m, nics.next(), entropy));
            let service = Attested { replica: node, report: crate::attest::report(), next_report: time::now(), reported_height: None };
            let public = crate::net::Link::new(nic, ip);
            executor.spawn_local("net", crate::net::run(public, port, timeouts, subnet, service));
        }
        None => log::warn!("no network card: the node cannot serve"),
    }
    if membership.is_some() {
        executor.run_until(peers_certify());
        phase("certified");
    }
    crate::println!("{}", Event::Ready { micros: time::since_boot().as_micros() as u64 });
    crate::println!("  type `help` on this console for commands; Ctrl-C in `cargo xtask run` stops QEMU");
    executor.run_until(core::future::pending::<()>());
    unreachable!("the node's main future never completes")
}

/// The subnet NIC (the second one) with the member's address, and its P2P network.
fn subnet_network(
    membership: &keel_node::membership::Membership,
    nic: Option<crate::devices::Nic>,
    entropy: Entropy,
) -> Option<crate::net::Subnet> {
    let Some(nic) = nic else {
        log::error!("member {} of a subnet has no second network card for its peers", membership.me());
        return None;
    };
    let address = membership.my_address()?;
    let ip = crate::net::Ipv4Config {
        address: address.ip.into(),
        prefix: membership.prefix_len,
        gateway: None,
    };
    let mut link = crate::net::Link::new(nic, ip);
    let p2p = crate::net::p2p::P2p::new(membership, link.sockets_mut(), entropy)?;
    log::info!("subnet: member {} of {}, P2P on port {}", membership.me(), membership.addresses.len(), address.port);
    Some(crate::net::Subnet { link, p2p })
}

/// Set once the replica serves a state its subnet certified.
static CERTIFIED: AtomicBool = AtomicBool::new(false);

/// Waits until the subnet certified a state of this member (peers must be up for that).
async fn peers_certify() {
    let start = time::now();
    let mut next_note = start + Duration::from_secs(10);
    while !CERTIFIED.load(Ordering::Acquire) {
        if time::now() >= next_note {
            log::info!("waiting for the subnet to certify ({} s): are the peers up?", start.elapsed().as_secs());
            next_note = time::now() + Duration::from_secs(10);
        }
        time::timer::sleep(Duration::from_millis(20)).await;
    }
}

/// Reports the end of a boot phase to the console (and so to `cargo xtask bench boot`).
fn phase(name: &str) {
    crate::println!("{}", Event::Phase { name, micros: time::since_boot().as_micros() as u64 });
}

/// Creates or recovers the replica: keys from entropy on first boot, everything from the
/// state disk afterwards (without a disk the node keeps nothing across restarts).
fn start_replica(entropy: &mut Entropy, disk: Option<Disk>) -> Node<StateDisk> {
    let mut seed = [0u8; 32];
    if entropy.fill(&mut seed).is_err() {
        panic!("no entropy source (neither virtio-rng nor RDRAND): cannot create node keys");
    }
    let keys = NodeKeys::generate(seed).unwrap_or_else(|e| panic!("cannot derive node keys: {e:?}"));
    let storage = disk.map(StateDisk::new);
    match &storage {
        Some(disk) => log::info!("state disk: {} MiB", (disk.block_count() * 4096) >> 20),
        None => log::warn!("no state disk: state lives in memory and is lost at shutdown"),
    }
    let config = NodeConfig::dev(VERSION);
    Node::new(config, keys, storage, time::unix_time_nanos()).unwrap_or_else(|e| panic!("the replica cannot start: {e:?}"))
}

/// Drives the replica until it has certified a block of this boot, so that by the time the
/// node says it is ready its certified `/time` is current (clients reject stale certificates).
async fn certify_first_block(node: &mut Node<StateDisk>) {
    let limit = time::now() + Duration::from_secs(30);
    let at_boot = node.certified().map(|c| c.height);
    while node.certified().map(|c| c.height) == at_boot && time::now() < limit {
        let wait = node.tick(time::unix_time_nanos());
        time::timer::sleep(wait.min(Duration::from_millis(10))).await;
    }
    if node.certified().map(|c| c.height) == at_boot {
        log::warn!("no block certified within 30 s of boot: serving the older certified state");
    }
}

/// Where the node serves its attestation report (the bytes `keel_image::attestation`
/// verifies), so NNS onboarding and operators can fetch it.
pub const ATTESTATION_PATH: &str = "/api/v2/keel/attestation";

/// The replica, plus the one endpoint that is the kernel's own: the attestation report.
struct Attested {
    replica: Node<StateDisk>,
    report: Option<&'static [u8]>,
    /// When the chain's heights are next logged.
    next_report: time::Instant,
    /// The finalized height logged last.
    reported_height: Option<u64>,
}

/// How often the chain's heights are logged.
const PROGRESS_REPORT: Duration = Duration::from_secs(10);

impl Service for Attested {
    fn handle(&mut self, request: &HttpRequest, now_unix_nanos: u64) -> Reply {
        if request.path != ATTESTATION_PATH {
            return self.replica.handle(request, now_unix_nanos);
        }
        Reply::Now(match (request.method, self.report) {
            (Method::Get, Some(report)) => HttpResponse {
                status: 200,
                content_type: Some("application/octet-stream"),
                body: report.to_vec(),
            },
            (Method::Get, None) => HttpResponse::text(404, "no attestation report: this node did not boot through the measured UEFI path"),
            _ => HttpResponse::text(405, "use GET"),
        })
    }

    fn poll(&mut self, ticket: u64, now_unix_nanos: u64) -> Option<HttpResponse> {
        self.replica.poll(ticket, now_unix_nanos)
    }

    fn has_pending(&self) -> bool {
        self.replica.has_pending()
    }

    fn tick(&mut self, now_unix_nanos: u64) -> Duration {
        let wait = self.replica.tick(now_unix_nanos);
        if self.replica.certified().is_some() {
            CERTIFIED.store(true, Ordering::Release);
        }
        if time::now() >= self.next_report {
            self.next_report = time::now() + PROGRESS_REPORT;
            let progress = self.replica.progress();
            log::info!("chain: {progress:?} halted: {:?} consensus: {:?}", self.replica.halted(), self.replica.consensus_stats());
            // The first report has nothing to compare with: a stall needs a full period.
            if self.reported_height == Some(progress.finalized) && self.replica.keys().membership().is_some() {
                log::warn!("no block finalized for {} s:\n{}", PROGRESS_REPORT.as_secs(), self.replica.consensus_dump());
            }
            self.reported_height = Some(progress.finalized);
        }
        wait
    }

    fn cancel(&mut self, ticket: u64) {
        self.replica.cancel(ticket);
    }

    fn on_peer_message(&mut self, peer: NodeIndex, bytes: &[u8], now_unix_nanos: u64) {
        self.replica.on_peer_message(peer, bytes, now_unix_nanos);
    }

    fn on_peer_connected(&mut self, peer: NodeIndex, now_unix_nanos: u64) {
        self.replica.on_peer_connected(peer, now_unix_nanos);
    }

    fn take_outbox(&mut self) -> alloc::vec::Vec<keel_node::consensus::Outgoing> {
        self.replica.take_outbox()
    }
}

/// Lower-case hex of a byte string.
struct Hex<'a>(&'a [u8]);

impl core::fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// The operator console: line commands on the serial port.
async fn console() {
    let mut line = String::new();
    loop {
        while let Some(byte) = crate::console::try_read_byte() {
            match byte {
                b'\r' | b'\n' => {
                    crate::println!();
                    command(line.trim());
                    line.clear();
                }
                0x08 | 0x7f if line.pop().is_some() => crate::print!("\x08 \x08"),
                b if (b.is_ascii_graphic() || b == b' ') && line.len() < MAX_COMMAND => {
                    line.push(b as char);
                    crate::print!("{}", b as char);
                }
                _ => {}
            }
        }
        time::timer::sleep(Duration::from_millis(20)).await;
    }
}

fn command(cmd: &str) {
    match cmd {
        "" => {}
        "help" => crate::println!("commands: uptime, mem, stats, shutdown"),
        "uptime" => crate::println!("up {:.3} s", time::since_boot().as_secs_f64()),
        "mem" => crate::println!("{} MiB of frames free", crate::mm::free_frames() as u64 * 4096 / MIB),
        "stats" => {
            let s = executor::stats();
            crate::println!("tasks {}, polls {}, halts {}", s.tasks, s.polls, s.halts);
        }
        "shutdown" => {
            crate::println!("shutting down");
            crate::arch::qemu::exit(keel_abi::exit::ExitCode::Success)
        }
        other => crate::println!("unknown command `{other}`; try `help`"),
    }
}
