//! Four `keel-node` members of one subnet in one process: their consensus messages are
//! delivered between them on a virtual clock (as the kernel's P2P layer would), requests are
//! signed by the real ic-agent. Updates sent to any member are executed and certified by
//! all; a member that was down catches up from its journal and its peers' blocks, or by state
//! sync once the subnet has moved past a catch-up package.

mod common;

use candid::{Decode, Encode, Principal as P};
use common::*;
use ic_management_canister_types::CanisterInstallMode;
use keel_hypervisor::block_device::Block;
use keel_hypervisor::{BlockDevice, DeviceError, MemBlockDevice};
use keel_interface::http::HttpResponse;
use keel_node::membership::Membership;
use keel_node::persistence::RESERVED_BLOCKS;
use keel_node::{Node, NodeConfig, NodeKeys, Reply, Service};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Duration;

/// A state device that outlives the node using it (a killed member restarts on it).
#[derive(Clone)]
struct Disk(Rc<RefCell<MemBlockDevice>>);

impl BlockDevice for Disk {
    fn block_count(&self) -> u64 {
        self.0.borrow().block_count()
    }
    fn read_block(&mut self, index: u64, buf: &mut Block) -> Result<(), DeviceError> {
        self.0.borrow_mut().read_block(index, buf)
    }
    fn write_block(&mut self, index: u64, data: &Block) -> Result<(), DeviceError> {
        self.0.borrow_mut().write_block(index, data)
    }
    fn flush(&mut self) -> Result<(), DeviceError> {
        Ok(())
    }
}

struct Subnet {
    config: NodeConfig,
    members: Vec<Membership>,
    disks: Vec<Disk>,
    /// `None`: the member is down.
    nodes: Vec<Option<Harness<Disk>>>,
    clock: u64,
}

impl Subnet {
    fn start(n: u32, config: NodeConfig) -> Subnet {
        let members = Membership::testnet([21; 32], n, [10, 10, 0, 0], 24).unwrap();
        let disks: Vec<Disk> =
            (0..n).map(|_| Disk(Rc::new(RefCell::new(MemBlockDevice::new(RESERVED_BLOCKS + (1 << 16)))))).collect();
        let mut subnet = Subnet { config, members, disks, nodes: Vec::new(), clock: real_now() };
        for i in 0..n as usize {
            let node = subnet.boot(i);
            subnet.nodes.push(Some(node));
        }
        subnet.run_until_certified();
        subnet
    }

    /// Runs until every live member serves certified state.
    fn run_until_certified(&mut self) {
        for _ in 0..100 {
            if self.certified_heights().iter().all(|h| *h > 0) {
                return;
            }
            self.run(Duration::from_millis(100));
        }
        let progress: Vec<_> = self.live().into_iter().map(|i| self.node(i).node.progress()).collect();
        let halted: Vec<_> = self.live().into_iter().map(|i| format!("{:?}", self.node(i).node.halted())).collect();
        panic!("members never certified: {:?}\n{progress:?}\n{halted:?}", self.certified_heights());
    }

    fn boot(&self, i: usize) -> Harness<Disk> {
        let keys = NodeKeys::member(self.members[i].clone()).unwrap();
        let node = Node::new(self.config.clone(), keys, Some(self.disks[i].clone()), self.clock).unwrap();
        Harness { node, clock: self.clock }
    }

    fn kill(&mut self, i: usize) {
        self.nodes[i] = None;
    }

    /// Restarts member `i` on its disk; its connections come up again.
    fn restart(&mut self, i: usize) {
        self.nodes[i] = Some(self.boot(i));
        for j in self.live() {
            if j != i {
                let (a, b, clock) = (index(i), index(j), self.clock);
                self.node(j).node.on_peer_connected(a, clock);
                self.node(i).node.on_peer_connected(b, clock);
            }
        }
    }

    fn live(&self) -> Vec<usize> {
        (0..self.nodes.len()).filter(|i| self.nodes[*i].is_some()).collect()
    }

    fn node(&mut self, i: usize) -> &mut Harness<Disk> {
        self.nodes[i].as_mut().unwrap_or_else(|| panic!("member {i} is down"))
    }

    /// Delivers every queued message (instantly, in order) until all members are quiet.
    fn deliver(&mut self) {
        let mut queue: VecDeque<(usize, usize, Vec<u8>)> = VecDeque::new();
        loop {
            for i in self.live() {
                for out in self.node(i).node.take_outbox() {
                    let to: Vec<usize> = match out.to {
                        Some(j) => vec![j.as_usize()],
                        None => (0..self.nodes.len()).filter(|j| *j != i).collect(),
                    };
                    for j in to {
                        queue.push_back((i, j, out.bytes.clone()));
                    }
                }
            }
            let Some((from, to, bytes)) = queue.pop_front() else { return };
            let clock = self.clock;
            if let Some(h) = self.nodes[to].as_mut() {
                h.clock = clock;
                h.node.on_peer_message(index(from), &bytes, clock);
            }
        }
    }

    /// Runs the subnet for `d` of virtual time, ticking each member when it asks.
    fn run(&mut self, d: Duration) {
        let end = self.clock + d.as_nanos() as u64;
        while self.clock < end {
            let wait = self.step();
            self.clock = (self.clock + wait.as_nanos() as u64).min(end);
        }
    }

    /// One tick of every member and the messages that follow; returns the shortest wait asked.
    fn step(&mut self) -> Duration {
        let mut wait = Duration::from_millis(50);
        for i in self.live() {
            let clock = self.clock;
            let h = self.node(i);
            h.clock = clock;
            wait = wait.min(h.node.tick(clock));
        }
        self.deliver();
        wait.max(Duration::from_micros(100))
    }

    /// A v4 call through member `i`, run until answered; the certificate is verified.
    fn call(&mut self, i: usize, s: &Signed) -> Outcome {
        let path = format!("/api/v4/canister/{}/call", s.ecid);
        let clock = self.clock;
        let reply = self.node(i).node.handle(&post(&path, s.body.clone()), clock);
        self.deliver();
        let resp = match reply {
            Reply::Now(r) => r,
            Reply::Later(ticket) => self.wait(i, ticket),
        };
        assert_eq!(resp.status, 200, "{}", text(&resp));
        let m = cbor_map(&resp.body);
        let cert = keel_interface::certificate::Certificate::from_cbor(bytes(field(&m, "certificate"))).unwrap();
        let h = self.node(i);
        cert.verify(&h.root_key()).unwrap();
        h.outcome(&cert, &s.request_id)
    }

    fn wait(&mut self, i: usize, ticket: u64) -> HttpResponse {
        for _ in 0..200_000 {
            let clock = self.clock;
            if let Some(r) = self.node(i).node.poll(ticket, clock) {
                return r;
            }
            let wait = self.step();
            self.clock += wait.as_nanos() as u64;
        }
        panic!("member {i} never answered ticket {ticket}");
    }

    fn reply(&mut self, i: usize, s: &Signed) -> Vec<u8> {
        match self.call(i, s) {
            Outcome::Replied(b) => b,
            other => panic!("expected a reply from member {i}, got {other:?}"),
        }
    }

    /// The counter's value read by a query through member `i`.
    fn get(&mut self, i: usize, agent: &ic_agent::Agent, cid: P) -> u64 {
        let clock = self.clock;
        let h = self.node(i);
        h.clock = clock;
        Decode!(&h.query(agent, cid, "get", Encode!(&()).unwrap()).unwrap(), u64).unwrap()
    }

    /// Heights each live member has certified.
    fn certified_heights(&mut self) -> Vec<u64> {
        self.live().into_iter().map(|i| self.node(i).node.certified().map_or(0, |c| c.height)).collect()
    }

    /// Installs the counter through member 0.
    fn counter(&mut self, agent: &ic_agent::Agent) -> P {
        let create = sign_call(agent, P::management_canister(), "provisional_create_canister_with_cycles", create_arg(), P::management_canister());
        let cid = Decode!(&self.reply(0, &create), ic_management_canister_types::CanisterIdRecord).unwrap().canister_id;
        let install_arg = install_arg(cid, CanisterInstallMode::Install, counter_wasm(), Encode!(&0u64).unwrap());
        let install = sign_call(agent, P::management_canister(), "install_code", install_arg, cid);
        assert!(matches!(self.call(0, &install), Outcome::Replied(_)));
        cid
    }

    fn inc(&mut self, i: usize, agent: &ic_agent::Agent, cid: P) -> u64 {
        let inc = sign_call(agent, cid, "inc", Encode!(&()).unwrap(), cid);
        Decode!(&self.reply(i, &inc), u64).unwrap()
    }
}

fn index(i: usize) -> keel_consensus::NodeIndex {
    keel_consensus::NodeIndex::new(i as u32)
}

#[test]
fn an_update_through_one_member_is_executed_and_certified_by_all() {
    let mut subnet = Subnet::start(4, config());
    subnet.run(Duration::from_secs(2));
    let roots: Vec<Vec<u8>> = (0..4).map(|i| subnet.node(i).node.root_key_der().to_vec()).collect();
    assert!(roots.iter().all(|r| *r == roots[0]), "one subnet key");
    let alice = user(3);
    let cid = subnet.counter(&alice);
    assert_eq!(subnet.inc(1, &alice, cid), 1);
    subnet.run(Duration::from_secs(2));
    for i in 0..4 {
        assert_eq!(subnet.get(i, &alice, cid), 1, "member {i} reads the update");
    }
    let heights = subnet.certified_heights();
    assert!(heights.iter().all(|h| *h + 2 >= heights[0] && *h > 3), "all certify: {heights:?}");
}

#[test]
fn a_restarted_member_catches_up_from_its_journal_and_its_peers() {
    let mut subnet = Subnet::start(4, config());
    let alice = user(4);
    let cid = subnet.counter(&alice);
    subnet.kill(3);
    for expected in 1..=3 {
        assert_eq!(subnet.inc(expected as usize % 3, &alice, cid), expected, "three of four keep finalizing");
    }
    subnet.restart(3);
    subnet.run_until_certified();
    subnet.run(Duration::from_secs(2));
    assert_eq!(subnet.get(3, &alice, cid), 3, "the restarted member has the latest state");
    assert_eq!(subnet.inc(3, &alice, cid), 4, "and takes updates again");
}

#[test]
fn a_member_behind_a_catch_up_package_fetches_the_state_from_its_peers() {
    let mut config = config();
    config.checkpoint_interval = 10;
    let mut subnet = Subnet::start(4, config);
    let alice = user(5);
    let cid = subnet.counter(&alice);
    subnet.kill(2);
    assert_eq!(subnet.inc(0, &alice, cid), 1);
    // Idle blocks carry the subnet past several catch-up packages.
    subnet.run(Duration::from_secs(40));
    let before = subnet.certified_heights();
    assert!(before.iter().all(|h| *h > 30), "the subnet moved on: {before:?}");
    subnet.restart(2);
    subnet.run_until_certified();
    subnet.run(Duration::from_secs(2));
    assert_eq!(subnet.node(2).node.progress().state_syncs, 1, "{:?}", subnet.node(2).node.progress());
    assert_eq!(subnet.get(2, &alice, cid), 1, "state sync brought the counter");
    assert_eq!(subnet.inc(2, &alice, cid), 2);
    let heights = subnet.certified_heights();
    assert!(heights.iter().all(|h| *h + 2 >= heights[0]), "the member certifies with the others: {heights:?}");
}
