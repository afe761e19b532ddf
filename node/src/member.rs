//! What a member of a subnet of several nodes does beyond a one-node replica: it exchanges
//! consensus messages with its peers, and fetches or serves checkpoints by state sync
//! ([`crate::sync`]) when it falls behind the subnet's catch-up package.

use keel_consensus::{FinalizedBlock, Height, NodeIndex, StateHash};
use keel_hypervisor::BlockDevice;

use crate::consensus::{Outgoing, Progress, SyncEvent};
use crate::node::{subnet_keys, Node};
use crate::sync::RETRY_NANOS;

impl<D: BlockDevice> Node<D> {
    /// Bytes a peer sent over its authenticated connection.
    pub fn on_peer_message(&mut self, peer: NodeIndex, bytes: &[u8], now: u64) {
        let progress = self.maker.on_message(now, peer, bytes);
        self.apply(progress, now);
    }

    /// A connection to `peer` was (re)established.
    pub fn on_peer_connected(&mut self, peer: NodeIndex, now: u64) {
        let progress = self.maker.on_peer_connected(now, peer);
        self.apply(progress, now);
    }

    /// Messages for peers, in order; everything they depend on is already durable.
    pub fn take_outbox(&mut self) -> alloc::vec::Vec<Outgoing> {
        self.maker.take_outbox()
    }

    /// Whether finalized blocks must wait for a state sync.
    pub(crate) fn syncing(&mut self, fb: &FinalizedBlock) -> bool {
        match self.sync.fetch.as_mut() {
            Some(fetch) => {
                if fb.height > fetch.height {
                    fetch.buffered.push(fb.clone());
                }
                true
            }
            None => false,
        }
    }

    /// Keeps the state at a catch-up package height for peers that need it.
    pub(crate) fn offer_checkpoint(&mut self, height: u64, root: [u8; 32]) {
        if self.keys.membership().is_none() || !height.is_multiple_of(self.cup_interval()) {
            return;
        }
        // A member that cannot export does not serve; the others do.
        if let Ok(device) = self.execution.export() {
            self.sync.offer(Height::new(height), StateHash(root), &device);
        }
    }

    pub(crate) fn on_sync(&mut self, event: SyncEvent, now: u64) -> Progress {
        match event {
            SyncEvent::Required { height, root } => self.start_sync(height, root, now),
            SyncEvent::Serve { peer, request } => match self.sync.serve(&request) {
                Some(chunk) => self.maker.send_chunk(now, peer, chunk),
                None => Progress::default(),
            },
            SyncEvent::Received { chunk, .. } => {
                self.sync.on_chunk(chunk, now);
                self.continue_sync(now)
            }
        }
    }

    /// Starts fetching the checkpoint at `height` unless the state is already there.
    pub(crate) fn start_sync(&mut self, height: Height, root: StateHash, now: u64) -> Progress {
        if self.execution.height() >= height.get() {
            return Progress::default();
        }
        let peer = self.next_peer(self.keys.index());
        let request = self.sync.start(height, root, peer, now);
        self.maker.request_chunk(now, peer, request)
    }

    /// Asks another peer when the last request went unanswered (from `tick`).
    pub(crate) fn retry_sync(&mut self, now: u64) -> Progress {
        match self.sync.fetch.as_ref() {
            Some(f) if now.saturating_sub(f.asked_at) >= RETRY_NANOS => {
                let peer = self.next_peer(f.peer);
                self.ask(peer, now)
            }
            _ => Progress::default(),
        }
    }

    fn continue_sync(&mut self, now: u64) -> Progress {
        let blocks = self.execution.device_mut().map_or(1 << 24, |d| d.block_count());
        match self.sync.assembled(blocks) {
            None => match self.sync.fetch.as_ref() {
                Some(f) => self.ask(f.peer, now),
                None => Progress::default(),
            },
            Some(Err(_)) => self.ask_next(now),
            Some(Ok(device)) => self.install(device, now),
        }
    }

    /// Installs the fetched checkpoint; certification and the buffered blocks follow.
    fn install(&mut self, device: keel_hypervisor::MemBlockDevice, now: u64) -> Progress {
        let Some(fetch) = self.sync.fetch.as_ref() else { return Progress::default() };
        let root = fetch.root.0;
        let keys = match subnet_keys(&self.keys) {
            Ok(keys) => keys,
            Err(e) => {
                self.halted = Some(e);
                return Progress::default();
            }
        };
        match self.execution.install(device, keys, root) {
            Ok(Some(executed)) => {
                let buffered = self.sync.fetch.take().map(|f| f.buffered).unwrap_or_default();
                self.sync.installed += 1;
                self.certifier.executed(executed.height, executed.tree);
                let mut progress = self.maker.executed(now, executed.height, root);
                progress.finalized.extend(buffered);
                progress
            }
            // Not the certified state: fetch it again from someone else.
            Ok(None) => {
                if let Some(f) = self.sync.fetch.as_mut() {
                    f.restart();
                }
                self.ask_next(now)
            }
            Err(e) => {
                self.halted = Some(crate::NodeError::Install(e));
                Progress::default()
            }
        }
    }

    fn ask_next(&mut self, now: u64) -> Progress {
        match self.sync.fetch.as_ref() {
            Some(f) => {
                let peer = self.next_peer(f.peer);
                self.ask(peer, now)
            }
            None => Progress::default(),
        }
    }

    /// Requests the lowest missing chunk from `peer`.
    fn ask(&mut self, peer: NodeIndex, now: u64) -> Progress {
        let Some(f) = self.sync.fetch.as_mut() else { return Progress::default() };
        f.peer = peer;
        f.asked_at = now;
        let request = f.next_request();
        self.maker.request_chunk(now, peer, request)
    }

    /// The member after `after` (cyclically), never this node itself.
    fn next_peer(&self, after: NodeIndex) -> NodeIndex {
        let n = self.keys.public().size.n();
        let me = self.keys.index();
        let mut next = after.get();
        loop {
            next = (next + 1) % n;
            if next != me.get() || n == 1 {
                return NodeIndex::new(next);
            }
        }
    }

    fn cup_interval(&self) -> u64 {
        crate::consensus::protocol_config(&self.config, self.keys.public().size).cup_interval.max(1)
    }
}
