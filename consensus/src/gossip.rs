//! The sans-IO half of the P2P artifact protocol. Artifacts are pushed to all peers when
//! made (and blocks relayed when notarized); pools deduplicate. On top of that:
//! back-pressure by a token bucket per peer (excess is dropped, never queued), a periodic
//! status and re-broadcast of the current round's artifacts that repairs losses, and answers
//! to a lagging peer's status (a finalized segment or the catch-up package), which is also how
//! a reconnected peer gets what it missed.

use alloc::collections::BTreeMap;

use crate::config::PeerQuota;
use crate::crypto::Crypto;
use crate::message::{Control, Message, Status};
use crate::node::{ConsensusNode, Output};
use crate::share::{ShareKind, ThresholdShare};
use crate::types::{BlockHash, Height, NodeIndex, Time};
use crate::vote::{Vote, VoteKind};

/// Most pending ingress messages re-sent to a reconnected peer.
const INGRESS_ON_RECONNECT: usize = 256;

/// A token bucket in milli-tokens so refills need no floating point.
struct TokenBucket {
    milli: u64,
    last: Time,
}

/// Per-peer gossip state.
pub(crate) struct Gossip {
    quotas: BTreeMap<NodeIndex, TokenBucket>,
    next_rebroadcast: Time,
    last_served: BTreeMap<NodeIndex, Time>,
}

impl Gossip {
    pub fn new(now: Time) -> Self {
        Gossip {
            quotas: BTreeMap::new(),
            next_rebroadcast: now,
            last_served: BTreeMap::new(),
        }
    }

    /// Takes a token for a message from `peer`; false means drop it.
    pub fn admit(&mut self, peer: NodeIndex, now: Time, q: &PeerQuota) -> bool {
        let cap = u64::from(q.burst) * 1000;
        let b = self.quotas.entry(peer).or_insert(TokenBucket {
            milli: cap,
            last: now,
        });
        let elapsed_us = now.since(b.last).as_micros().min(u128::from(u64::MAX)) as u64;
        // per_second tokens per 10^6 µs = per_second milli-tokens per 10^3 µs.
        let refill = elapsed_us.saturating_mul(u64::from(q.per_second)) / 1000;
        b.milli = b.milli.saturating_add(refill).min(cap);
        if now > b.last {
            b.last = now;
        }
        if b.milli >= 1000 {
            b.milli -= 1000;
            true
        } else {
            false
        }
    }

    pub fn rebroadcast_due(&self, now: Time) -> bool {
        now >= self.next_rebroadcast
    }

    pub fn schedule_rebroadcast(&mut self, now: Time, every: core::time::Duration) {
        self.next_rebroadcast = now.plus(every);
    }

    pub fn next_rebroadcast(&self) -> Time {
        self.next_rebroadcast
    }

    /// Rate-limits catch-up answers to one per half interval per peer.
    fn may_serve(&mut self, peer: NodeIndex, now: Time, every: core::time::Duration) -> bool {
        let ok = self
            .last_served
            .get(&peer)
            .is_none_or(|t| now >= t.plus(every / 2));
        if ok {
            self.last_served.insert(peer, now);
        }
        ok
    }
}

impl<C: Crypto> ConsensusNode<C> {
    pub(crate) fn broadcast_status(&mut self) {
        let m = self.sign_control(Control::Status(self.status()));
        self.out.push(Output::Broadcast(m));
    }

    /// A peer's status: if it lags, send it the catch-up package or finalized blocks.
    pub(crate) fn on_status(&mut self, now: Time, from: NodeIndex, s: Status) {
        if s.finalized >= self.finalized_height()
            || !self
                .gossip
                .may_serve(from, now, self.cfg.rebroadcast_interval)
        {
            return;
        }
        let message = if s.finalized < self.cup.height() {
            Message::Cup(self.cup.clone())
        } else {
            match self
                .chain
                .segment_after(s.finalized, self.cfg.segment_batch)
            {
                Some(seg) => Message::Segment(seg),
                None => return,
            }
        };
        self.out.push(Output::Send { to: from, message });
    }

    /// A peer asked for an unfinalized block it saw notarized.
    pub(crate) fn on_block_request(&mut self, from: NodeIndex, height: Height, hash: BlockHash) {
        if let Some(b) = self.pool.at(height).and_then(|p| p.blocks.get(&hash)) {
            let message = Message::Block(b.signed.clone());
            self.out.push(Output::Send { to: from, message });
        }
    }

    /// A peer came back: it may have missed anything, so tell it where we are (it answers
    /// with what we lack, and we answer its status likewise) and hand it pending ingress.
    pub(crate) fn reconnected(&mut self, peer: NodeIndex) {
        self.gossip.last_served.remove(&peer);
        let status = self.sign_control(Control::Status(self.status()));
        self.out.push(Output::Send {
            to: peer,
            message: status,
        });
        let pending: alloc::vec::Vec<_> = self
            .ingress
            .pending()
            .take(INGRESS_ON_RECONNECT)
            .cloned()
            .collect();
        for m in pending {
            let message = self.sign_control(Control::Ingress(m));
            self.out.push(Output::Send { to: peer, message });
        }
    }

    /// Re-sends what peers need to finish the unfinalized heights: beacons, notarized blocks
    /// with their notarizations, our own votes and shares. Idempotent for receivers.
    pub(crate) fn rebroadcast(&mut self, _now: Time) {
        self.broadcast_status();
        let me = self.me;
        let mut msgs = alloc::vec::Vec::new();
        let mut missing = alloc::collections::BTreeSet::new();
        let mut h = self.finalized_height().next();
        while h <= self.round.height() {
            if let Some(p) = self.pool.at(h) {
                // A notarized block whose ancestors we lack (we followed another block of an
                // equivocating maker) blocks proposals and validation on it: ask for them.
                for hash in p.notarized.keys().filter(|k| p.blocks.contains_key(k)) {
                    if let Err(Some(gap)) = self.ancestry(h, *hash) {
                        missing.insert(gap);
                    }
                }
                if let Some(b) = p.beacon {
                    msgs.push(Message::Beacon(b));
                }
                for (hash, set) in &p.notarized {
                    if let Some(b) = p.blocks.get(hash) {
                        msgs.push(Message::Block(b.signed.clone()));
                    }
                    msgs.push(Message::VoteSet(set.clone()));
                }
                for b in p.blocks.values().filter(|b| b.signed.block.maker == me) {
                    msgs.push(Message::Block(b.signed.clone()));
                }
                for kind in [VoteKind::Notarization, VoteKind::Finalization] {
                    for (block, signature) in p.votes(kind).by_signer(me) {
                        if kind == VoteKind::Notarization
                            && let Some(b) = p.blocks.get(&block)
                        {
                            msgs.push(Message::Block(b.signed.clone()));
                        }
                        msgs.push(Message::Vote(Vote {
                            kind,
                            height: h,
                            block,
                            signer: me,
                            signature,
                        }));
                    }
                }
            }
            for (subject, share) in self.beacon_shares.own(h, me) {
                msgs.push(Message::Share(ThresholdShare {
                    kind: ShareKind::Beacon,
                    height: h,
                    subject,
                    signer: me,
                    share,
                }));
            }
            h = h.next();
        }
        for &h in self.certifier.executed.keys().rev().take(3) {
            for (subject, share) in self.cert_shares.own(h, me) {
                msgs.push(Message::Share(ThresholdShare {
                    kind: ShareKind::Certification,
                    height: h,
                    subject,
                    signer: me,
                    share,
                }));
            }
        }
        if let Some(c) = self.certifier.last {
            msgs.push(Message::Certification(c));
        }
        if let Some(h) = self.pending_cup_height() {
            for (subject, share) in self.cup_shares.own(h, me) {
                msgs.push(Message::Share(ThresholdShare {
                    kind: ShareKind::CatchUp,
                    height: h,
                    subject,
                    signer: me,
                    share,
                }));
            }
        }
        for (height, hash) in missing {
            msgs.push(self.sign_control(Control::BlockRequest { height, hash }));
        }
        // A block can be notarized, our own and voted for at once: send it once. Blocks are
        // the big artifacts (a module install is megabytes), and links are not infinite.
        let mut sent = alloc::collections::BTreeSet::new();
        msgs.retain(|m| match m {
            Message::Block(b) => sent.insert(b.block.hash()),
            _ => true,
        });
        self.out.extend(msgs.into_iter().map(Output::Broadcast));
    }
}
