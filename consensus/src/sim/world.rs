//! The simulated world: nodes, their persistent stores and toy execution, the network, the
//! fault schedule, and the event loop that checks invariants after every step.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::vec::Vec;
use core::time::Duration;

use super::byzantine::{Behaviour, Dest, rewrite};
use super::invariants::Checker;
use super::rng::Rng;
use super::state_sync::{StateSync, serve};
use super::{Coverage, SimConfig, SimOutcome};
use crate::block::{Block, IngressMessage};
use crate::codec::Encode;
use crate::config::Config;
use crate::crypto::{GenesisDealing, Scheme};
use crate::cup::CatchUpPackage;
use crate::hash::hash;
use crate::message::Message;
use crate::node::{ConsensusNode, FinalizedBlock, Output, Persisted};
use crate::types::{Height, MessageId, NodeIndex, StateHash, SubnetSize, Time};

/// Simulated wall-clock origin (any fixed value; blocks carry times near it).
const T0_MS: u64 = 1_700_000_000_000;

enum Event {
    Deliver {
        to: usize,
        from: usize,
        bytes: Vec<u8>,
    },
    Timer {
        node: usize,
    },
    Crash {
        node: usize,
    },
    Restart {
        node: usize,
    },
    Partition {
        until: Time,
    },
    PartitionEnd,
    Heal,
    Ingress,
}

struct SimNode<S: Scheme + Clone> {
    behaviour: Behaviour,
    keys: S,
    node: Option<ConsensusNode<S>>,
    store: Persisted,
    exec_height: Height,
    exec_hash: StateHash,
    /// Executed states still held (the node's checkpoints, which it serves to peers).
    history: BTreeMap<Height, StateHash>,
    sync: Option<StateSync>,
    timer: Option<Time>,
}

/// The toy replicated state machine: the state hash chains the executed blocks' contents.
fn execute(prev: &StateHash, b: &Block) -> StateHash {
    StateHash(hash(
        "keel-sim-state",
        &[
            &prev.0,
            &b.payload.to_bytes(),
            &b.time.as_nanos().to_be_bytes(),
            &b.randomness.0,
        ],
    ))
}

pub(crate) struct World<S: Scheme + Clone> {
    cfg: SimConfig,
    node_cfg: Config,
    seed: u64,
    rng: Rng,
    now: Time,
    queue: BTreeMap<(Time, u64), Event>,
    seq: u64,
    nodes: Vec<SimNode<S>>,
    checker: Checker,
    partition: Option<Vec<bool>>,
    chaos_on: bool,
    heal_at: Time,
    liveness_floor: Option<u64>,
    messages: u64,
    steps: u64,
    /// Ingress executed per height (the toy state's ingress history), for nodes that resume
    /// from a catch-up package.
    ingress_history: BTreeMap<Height, Vec<(MessageId, Time)>>,
    coverage: Coverage,
}

impl<S: Scheme + Clone> World<S> {
    pub fn new(seed: u64, cfg: &SimConfig) -> Self {
        let mut rng = Rng::new(seed);
        let n = cfg.nodes.max(1);
        let size = SubnetSize::new(n).unwrap_or_else(|_| unreachable!("n >= 1"));
        let mut node_cfg = Config::new(size);
        node_cfg.cup_interval = cfg.cup_interval;
        node_cfg.broken_rule = cfg.broken_rule;
        let dealing = GenesisDealing::deal::<S>(rng.array32(), n, size.quorum())
            .unwrap_or_else(|e| panic!("simulator dealing failed: {e:?}"));
        let mut behaviours = alloc::vec![Behaviour::Honest; n as usize];
        let mut chosen = 0;
        while chosen < cfg.byzantine.min(n) && !cfg.behaviours.is_empty() {
            let i = rng.index(n as usize);
            if behaviours[i] == Behaviour::Honest {
                behaviours[i] = cfg.behaviours[rng.index(cfg.behaviours.len())];
                chosen += 1;
            }
        }
        let now = Time::from_millis(T0_MS);
        let genesis_state = StateHash(hash("keel-sim-genesis-state", &[]));
        let genesis = CatchUpPackage::genesis(
            Block::genesis(now),
            genesis_state,
            &dealing.public.subnet_public_key,
        );
        let nodes = size
            .nodes()
            .map(|i| SimNode {
                behaviour: behaviours[i.as_usize()],
                keys: dealing
                    .node::<S>(i)
                    .unwrap_or_else(|e| panic!("simulator keys: {e:?}")),
                node: None,
                store: Persisted::genesis(genesis.clone()),
                exec_height: Height::ZERO,
                exec_hash: genesis_state,
                history: BTreeMap::from([(Height::ZERO, genesis_state)]),
                sync: None,
                timer: None,
            })
            .collect();
        let mut w = World {
            cfg: cfg.clone(),
            node_cfg,
            seed,
            rng,
            now,
            queue: BTreeMap::new(),
            seq: 0,
            nodes,
            checker: Checker::default(),
            partition: None,
            chaos_on: cfg.chaos.is_some(),
            heal_at: now,
            liveness_floor: None,
            messages: 0,
            steps: 0,
            ingress_history: BTreeMap::new(),
            coverage: Coverage::default(),
        };
        for i in 0..n as usize {
            w.start(i);
        }
        w.schedule_faults();
        w.schedule(now.plus(Duration::from_millis(50)), Event::Ingress);
        w
    }

    fn honest(&self, i: usize) -> bool {
        self.nodes[i].behaviour == Behaviour::Honest
    }

    fn schedule(&mut self, at: Time, e: Event) {
        self.seq += 1;
        self.queue.insert((at, self.seq), e);
    }

    fn schedule_faults(&mut self) {
        let Some(chaos) = self.cfg.chaos else {
            self.liveness_floor = Some(0);
            return;
        };
        let span = chaos.duration.as_millis() as u64;
        self.heal_at = self.now.plus(chaos.duration);
        self.schedule(self.heal_at, Event::Heal);
        if chaos.partitions {
            let start = self.rng.range(0, span / 2);
            let end = self.rng.range(start + 1, span);
            let until = self.now.plus(Duration::from_millis(end));
            self.schedule(
                self.now.plus(Duration::from_millis(start)),
                Event::Partition { until },
            );
        }
        if chaos.crashes {
            let honest: Vec<usize> = (0..self.nodes.len()).filter(|i| self.honest(*i)).collect();
            for _ in 0..self.rng.range(0, 2) {
                let Some(&node) = honest.get(self.rng.index(honest.len())) else {
                    break;
                };
                let down = self.rng.range(0, span.saturating_sub(1));
                let up = self.rng.range(down + 1, span);
                self.schedule(
                    self.now.plus(Duration::from_millis(down)),
                    Event::Crash { node },
                );
                self.schedule(
                    self.now.plus(Duration::from_millis(up)),
                    Event::Restart { node },
                );
            }
        }
    }

    /// Boots or restarts node `i` from its store.
    fn start(&mut self, i: usize) {
        let n = &mut self.nodes[i];
        if n.node.is_some() {
            return;
        }
        n.exec_height = n.store.cup.height();
        n.exec_hash = n.store.cup.content.state_hash;
        n.history = BTreeMap::from([(n.exec_height, n.exec_hash)]);
        n.sync = None;
        n.timer = None;
        let idx = NodeIndex::new(i as u32);
        let mut cfg = self.node_cfg.clone();
        if n.behaviour == Behaviour::Equivocate {
            // What f Byzantine nodes may do: finalization-share conflicting blocks.
            cfg.broken_rule = Some(crate::config::BrokenRule::FinalizeWithoutNotarization);
        }
        match ConsensusNode::restore(cfg, idx, n.keys.clone(), n.store.clone(), self.now) {
            Ok((node, outs)) => {
                n.node = Some(node);
                let cup = n.store.cup.height();
                self.hand_ingress_history(i, cup);
                self.process(i, outs);
            }
            Err(e) => panic!("simulator node {i} failed to start: {e:?}"),
        }
    }

    /// Tells `a` and `b` they are connected again.
    fn reconnect(&mut self, a: usize, b: usize) {
        for (x, y) in [(a, b), (b, a)] {
            let now = self.now;
            if let Some(node) = self.nodes[x].node.as_mut() {
                let outs = node.on_peer_connected(now, NodeIndex::new(y as u32));
                self.process(x, outs);
            }
        }
    }

    fn reconnect_all(&mut self, i: usize) {
        for j in 0..self.nodes.len() {
            if j != i {
                self.reconnect(i, j);
            }
        }
    }

    pub fn run(mut self) -> SimOutcome {
        let deadline_total = self.heal_at.plus(self.cfg.liveness_bound);
        while let Some(((t, _), ev)) = self.queue.pop_first() {
            self.now = t;
            self.steps += 1;
            self.handle(ev);
            if self.checker.violation.is_some() || self.done() {
                break;
            }
            if t > deadline_total {
                let nodes: Vec<_> = self
                    .nodes
                    .iter()
                    .map(|n| {
                        (
                            n.behaviour,
                            n.node
                                .as_ref()
                                .map(|x| (x.status(), x.certified_height().get())),
                        )
                    })
                    .collect();
                let dumps: Vec<alloc::string::String> = self
                    .nodes
                    .iter()
                    .filter_map(|n| n.node.as_ref().map(|x| x.debug_dump()))
                    .collect();
                let detail = format!(
                    "seed {}: honest finalized heights {:?}, certified {:?}, needed {} within {:?} after heal; nodes {:?}\n{}",
                    self.seed,
                    self.progress(|n| n.finalized_height()),
                    self.progress(|n| n.certified_height()),
                    self.required_height(),
                    self.cfg.liveness_bound,
                    nodes,
                    dumps.concat()
                );
                self.checker.liveness(t, detail);
                break;
            }
        }
        let honest_heights = self.progress(|n| n.finalized_height());
        SimOutcome {
            seed: self.seed,
            violation: self.checker.violation.take(),
            min_finalized: honest_heights.iter().copied().min().unwrap_or(0),
            heights: self.checker.finalized_count() as u64,
            sim_time: self.now.since(Time::from_millis(T0_MS)),
            messages: self.messages,
            steps: self.steps,
            byzantine: (0..self.nodes.len())
                .filter(|i| !self.honest(*i))
                .map(|i| (i as u32, self.nodes[i].behaviour))
                .collect(),
            coverage: self.coverage,
        }
    }

    fn progress(&self, f: impl Fn(&ConsensusNode<S>) -> Height) -> Vec<u64> {
        (0..self.nodes.len())
            .filter(|i| self.honest(*i))
            .map(|i| self.nodes[i].node.as_ref().map_or(0, |n| f(n).get()))
            .collect()
    }

    fn required_height(&self) -> u64 {
        self.cfg
            .target_height
            .max(self.liveness_floor.unwrap_or(u64::MAX))
    }

    fn done(&self) -> bool {
        let Some(_) = self.liveness_floor else {
            return false;
        };
        let need = self.required_height();
        (0..self.nodes.len()).filter(|i| self.honest(*i)).all(|i| {
            self.nodes[i].node.as_ref().is_some_and(|n| {
                n.finalized_height().get() >= need
                    && n.certified_height().get() >= self.cfg.target_height
            })
        })
    }

    fn handle(&mut self, ev: Event) {
        let now = self.now;
        match ev {
            Event::Deliver { to, from, bytes } => {
                if let Some(node) = self.nodes[to].node.as_mut() {
                    self.messages += 1;
                    let outs = node.on_message(now, NodeIndex::new(from as u32), &bytes);
                    self.process(to, outs);
                }
            }
            Event::Timer { node: i } => {
                if self.nodes[i].timer == Some(now) {
                    self.nodes[i].timer = None;
                    if let Some(node) = self.nodes[i].node.as_mut() {
                        let outs = node.on_timer(now);
                        self.process(i, outs);
                        // A state sync whose request or chunk was lost asks again.
                        if let Some(outs) = self.request_chunk(i) {
                            self.process(i, outs);
                        }
                    }
                }
            }
            Event::Crash { node } => {
                if self.chaos_on && self.nodes[node].node.is_some() {
                    self.nodes[node].node = None;
                    self.nodes[node].timer = None;
                    self.nodes[node].sync = None;
                    self.coverage.crashes += 1;
                }
            }
            Event::Restart { node } => {
                if self.nodes[node].node.is_none() {
                    self.coverage.restarts += 1;
                    self.start(node);
                    self.reconnect_all(node);
                }
            }
            Event::Partition { until } => {
                if self.chaos_on {
                    let mut sides: Vec<bool> = (0..self.nodes.len())
                        .map(|_| self.rng.chance(500))
                        .collect();
                    if let Some(s) = sides.first_mut() {
                        *s = true;
                    }
                    if let Some(s) = sides.last_mut() {
                        *s = false;
                    }
                    self.partition = Some(sides);
                    self.coverage.partitions += 1;
                    self.schedule(until, Event::PartitionEnd);
                }
            }
            Event::PartitionEnd => self.end_partition(),
            Event::Heal => {
                self.chaos_on = false;
                self.end_partition();
                for i in 0..self.nodes.len() {
                    if self.nodes[i].node.is_none() {
                        self.coverage.restarts += 1;
                        self.start(i);
                        self.reconnect_all(i);
                    }
                }
                let best = self
                    .progress(|n| n.finalized_height())
                    .into_iter()
                    .max()
                    .unwrap_or(0);
                self.liveness_floor = Some(best + self.cfg.liveness_heights);
            }
            Event::Ingress => {
                self.submit_ingress();
                let every = 1000 / self.cfg.ingress_per_second.max(1);
                self.schedule(now.plus(Duration::from_millis(every)), Event::Ingress);
            }
        }
    }

    fn end_partition(&mut self) {
        if let Some(sides) = self.partition.take() {
            for a in 0..sides.len() {
                for b in a + 1..sides.len() {
                    if sides[a] != sides[b] {
                        self.reconnect(a, b);
                    }
                }
            }
        }
    }

    fn submit_ingress(&mut self) {
        let i = self.rng.index(self.nodes.len());
        let len = self.rng.range(0, 64) as usize;
        let msg = IngressMessage {
            id: MessageId(self.rng.array32()),
            expiry: self.now.plus(Duration::from_secs(self.rng.range(2, 120))),
            content: self.rng.bytes(len),
        };
        let xnet = self.rng.chance(200).then(|| self.rng.bytes(16));
        let now = self.now;
        let Some(node) = self.nodes[i].node.as_mut() else {
            return;
        };
        if let Some(x) = xnet {
            // Within the configured limit by construction.
            let _ = node.set_xnet_payload(x);
        }
        if let Ok(outs) = node.submit_ingress(now, msg) {
            self.process(i, outs);
        }
    }

    /// Carries out a node's outputs, and the outputs those cause, in order.
    /// Outputs caused by handling an output (execution reports) are handled after the rest
    /// of the batch, first in first out, so persisted records stay in the node's order.
    fn process(&mut self, i: usize, outs: Vec<Output>) {
        let mut work: alloc::collections::VecDeque<Vec<Output>> =
            alloc::collections::VecDeque::from([outs]);
        while let Some(outs) = work.pop_front() {
            for o in outs {
                if let Some(more) = self.apply(i, o) {
                    work.push_back(more);
                }
            }
        }
    }

    fn apply(&mut self, i: usize, o: Output) -> Option<Vec<Output>> {
        let now = self.now;
        let honest = self.honest(i);
        let idx = NodeIndex::new(i as u32);
        match o {
            Output::Broadcast(m) => self.send(i, Dest::All, m),
            Output::Send { to, message } => self.send(i, Dest::One(to), message),
            Output::SetTimer(at) => {
                let at = if at < now { now } else { at };
                let n = &mut self.nodes[i];
                if n.timer.is_none_or(|p| at < p) {
                    n.timer = Some(at);
                    self.schedule(at, Event::Timer { node: i });
                }
            }
            Output::Finalized(fb) => return self.execute(i, fb),
            Output::Certified(c) => {
                if honest {
                    self.checker.certified(now, idx, c.height, c.state_hash);
                }
            }
            Output::Persist(r) => {
                if honest && matches!(r, crate::node::PersistRecord::Cup(_)) {
                    self.coverage.cups += 1;
                }
                self.nodes[i].store.apply(&r)
            }
            Output::StateSyncRequired { height, state_hash } => {
                if honest {
                    // The package's root must be the one honest nodes executed.
                    self.checker.certified(now, idx, height, state_hash);
                    self.coverage.state_syncs += 1;
                }
                let n = &mut self.nodes[i];
                if height > n.exec_height {
                    let mut sync = StateSync::new(height, state_hash);
                    if let Some(old) = n.sync.take() {
                        sync.buffered = old
                            .buffered
                            .into_iter()
                            .filter(|b| b.height > height)
                            .collect();
                    }
                    n.sync = Some(sync);
                    return self.request_chunk(i);
                }
            }
            Output::ServeChunk { peer, request } => {
                let chunk = serve(&self.nodes[i].history, &request)?;
                return self.nodes[i]
                    .node
                    .as_mut()
                    .map(|n| n.send_chunk(peer, chunk));
            }
            Output::ChunkReceived { chunk, .. } => return self.on_chunk(i, chunk),
            Output::PeerMisbehaved { peer, reason } => {
                if honest
                    && self
                        .nodes
                        .get(peer.as_usize())
                        .is_some_and(|p| p.behaviour == Behaviour::Honest)
                {
                    self.checker.blamed(now, idx, peer, format!("{reason:?}"));
                }
                self.coverage.rejected += 1;
            }
        }
        None
    }

    /// Like a real driver after loading a checkpoint, hands the node the checkpoint's ingress
    /// history — except on some seeds, so the node's fallback (no ingress proposals until the
    /// history has expired) runs too.
    fn hand_ingress_history(&mut self, i: usize, upto: Height) {
        if upto == Height::ZERO || self.rng.chance(500) {
            return;
        }
        let entries: Vec<(MessageId, Time)> = self
            .ingress_history
            .range(..=upto)
            .flat_map(|(_, v)| v.iter().copied())
            .collect();
        if let Some(node) = self.nodes[i].node.as_mut() {
            node.restore_ingress_history(entries);
        }
    }

    /// Asks a random peer for the next missing checkpoint chunk.
    fn request_chunk(&mut self, i: usize) -> Option<Vec<Output>> {
        let request = self.nodes[i].sync.as_ref()?.next_request();
        let n = self.nodes.len();
        let peer = (i + 1 + self.rng.index(n.saturating_sub(1))) % n;
        let node = self.nodes[i].node.as_mut()?;
        Some(node.request_chunk(NodeIndex::new(peer as u32), request))
    }

    /// A checkpoint chunk arrived: install the checkpoint when complete, then execute the
    /// blocks buffered meanwhile.
    fn on_chunk(&mut self, i: usize, chunk: crate::message::Chunk) -> Option<Vec<Output>> {
        let sync = self.nodes[i].sync.as_mut()?;
        sync.on_chunk(chunk);
        let Some(root) = sync.complete() else {
            return self.request_chunk(i);
        };
        let sync = self.nodes[i].sync.take()?;
        self.coverage.state_syncs_completed += 1;
        let n = &mut self.nodes[i];
        n.exec_height = sync.height;
        n.exec_hash = root;
        n.history.insert(sync.height, root);
        self.hand_ingress_history(i, sync.height);
        let mut outs = Vec::new();
        for fb in sync.buffered {
            outs.extend(self.execute_now(i, fb).unwrap_or_default());
        }
        Some(outs)
    }

    fn execute(&mut self, i: usize, fb: FinalizedBlock) -> Option<Vec<Output>> {
        if self.honest(i) {
            self.checker
                .finalized(self.now, NodeIndex::new(i as u32), fb.height, fb.hash);
        }
        if let Some(sync) = self.nodes[i].sync.as_mut() {
            if fb.height > sync.height {
                sync.buffered.push(fb);
            }
            return None;
        }
        self.execute_now(i, fb)
    }

    fn execute_now(&mut self, i: usize, fb: FinalizedBlock) -> Option<Vec<Output>> {
        let now = self.now;
        let honest = self.honest(i);
        let idx = NodeIndex::new(i as u32);
        let n = &mut self.nodes[i];
        if fb.height <= n.exec_height {
            return None;
        }
        if fb.height != n.exec_height.next() {
            if honest {
                let expected = n.exec_height.next();
                self.checker.gap(now, idx, expected, fb.height);
            }
            return None;
        }
        let root = execute(&n.exec_hash, &fb.block);
        n.exec_height = fb.height;
        n.exec_hash = root;
        n.history.insert(fb.height, root);
        if honest {
            self.checker.executed(now, idx, fb.height, root);
            if !self.ingress_history.contains_key(&fb.height) {
                self.coverage.ingress_finalized += fb.block.payload.ingress.len() as u64;
                self.ingress_history.insert(
                    fb.height,
                    fb.block
                        .payload
                        .ingress
                        .iter()
                        .map(|m| (m.id, m.expiry))
                        .collect(),
                );
            }
        }
        let node = self.nodes[i].node.as_mut()?;
        Some(node.on_state_executed(now, fb.height, root))
    }

    fn send(&mut self, i: usize, dest: Dest, m: Message) {
        let me = NodeIndex::new(i as u32);
        let peers: Vec<NodeIndex> = (0..self.nodes.len() as u32)
            .map(NodeIndex::new)
            .filter(|p| *p != me)
            .collect();
        let behaviour = self.nodes[i].behaviour;
        if let (Behaviour::Honest, Message::Block(sb)) = (behaviour, &m)
            && sb.block.maker == me
        {
            self.checker
                .proposed(self.now, me, sb.block.height, sb.block.hash());
        }
        let packets = match (behaviour, dest) {
            (Behaviour::Honest, Dest::All) => {
                let bytes = m.encode_broadcast();
                peers.iter().map(|p| (*p, bytes.clone())).collect()
            }
            (Behaviour::Honest, Dest::One(p)) => alloc::vec![(p, m.encode())],
            (b, dest) => rewrite(b, me, &self.nodes[i].keys, &peers, dest, m, &mut self.rng),
        };
        for (to, bytes) in packets {
            self.transmit(i, to.as_usize(), bytes);
        }
    }

    fn transmit(&mut self, from: usize, to: usize, bytes: Vec<u8>) {
        if to >= self.nodes.len() || to == from {
            return;
        }
        if self.chaos_on {
            if self.partition.as_ref().is_some_and(|s| s[from] != s[to]) {
                return;
            }
            let drop = self.cfg.chaos.map_or(0, |c| c.drop_permille);
            if self.rng.chance(drop) {
                return;
            }
        }
        let (lo, hi) = self.cfg.delay_ms;
        let delay = Duration::from_micros(self.rng.range(lo * 1000, hi * 1000));
        self.schedule(self.now.plus(delay), Event::Deliver { to, from, bytes });
    }
}
