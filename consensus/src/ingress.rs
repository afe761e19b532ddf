//! The ingress pool: messages waiting to be put into a block, deduplicated by id, bounded in
//! total and per relaying peer, and the memory of recently finalized ids that keeps a message
//! from being executed twice while it has not expired.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use crate::block::{IngressMessage, PayloadError, ingress_fits};
use crate::config::PayloadLimits;
use crate::types::{MessageId, NodeIndex, Time};

/// Why an ingress message was not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IngressError {
    /// Already pooled or already finalized.
    Duplicate,
    /// The pool (or the peer's share of it) is full.
    PoolFull,
    /// Size or expiry rules.
    Invalid(PayloadError),
}

struct Pooled {
    msg: IngressMessage,
    /// The peer it came from; `None` for messages submitted locally.
    from: Option<NodeIndex>,
}

/// Pending and recently finalized ingress.
#[derive(Default)]
pub struct IngressPool {
    pending: BTreeMap<MessageId, Pooled>,
    per_peer: BTreeMap<NodeIndex, usize>,
    finalized: BTreeMap<MessageId, Time>,
    /// Set after a node resumed from a catch-up package without the ingress history below
    /// it: until blocks reach this time, a message finalized before the package might not
    /// have expired, so this node proposes no ingress.
    blind_until: Option<Time>,
}

impl IngressPool {
    /// Adds a message that is valid for a block made at `now`.
    pub fn insert(
        &mut self,
        msg: IngressMessage,
        from: Option<NodeIndex>,
        now: Time,
        limits: &PayloadLimits,
        capacity: usize,
        per_peer: usize,
    ) -> Result<(), IngressError> {
        ingress_fits(&msg, now, limits).map_err(IngressError::Invalid)?;
        if self.pending.contains_key(&msg.id) || self.finalized.contains_key(&msg.id) {
            return Err(IngressError::Duplicate);
        }
        if self.pending.len() >= capacity {
            return Err(IngressError::PoolFull);
        }
        if let Some(p) = from {
            let c = self.per_peer.entry(p).or_insert(0);
            if *c >= per_peer {
                return Err(IngressError::PoolFull);
            }
            *c += 1;
        }
        self.pending.insert(msg.id, Pooled { msg, from });
        Ok(())
    }

    fn remove(&mut self, id: &MessageId) {
        if let Some(Pooled {
            from: Some(peer), ..
        }) = self.pending.remove(id)
            && let Some(c) = self.per_peer.get_mut(&peer)
        {
            *c = c.saturating_sub(1);
        }
    }

    /// Forgets the finalized history: it is incomplete until block time `t`.
    pub fn blind_until(&mut self, t: Time) {
        self.finalized.clear();
        self.blind_until = Some(t);
    }

    /// Restores the finalized history (from the execution state's ingress history) after a
    /// [`IngressPool::blind_until`].
    pub fn restore_history(&mut self, entries: impl IntoIterator<Item = (MessageId, Time)>) {
        for (id, expiry) in entries {
            self.remove(&id);
            self.finalized.insert(id, expiry);
        }
        self.blind_until = None;
    }

    /// Whether `id` was finalized and has not expired yet.
    pub fn is_finalized(&self, id: &MessageId) -> bool {
        self.finalized.contains_key(id)
    }

    /// The pending message `id`.
    pub fn get(&self, id: &MessageId) -> Option<&IngressMessage> {
        self.pending.get(id).map(|p| &p.msg)
    }

    /// Number of pending messages.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Picks messages for a block at time `t`, skipping ids `excluded` (already in the
    /// unfinalized ancestors), within the limits. Id order keeps it deterministic.
    pub fn select(
        &self,
        t: Time,
        limits: &PayloadLimits,
        excluded: impl Fn(&MessageId) -> bool,
    ) -> Vec<IngressMessage> {
        let mut out = Vec::new();
        if self.blind_until.is_some_and(|b| t <= b) {
            return out;
        }
        let mut bytes = 0usize;
        for (id, p) in &self.pending {
            if out.len() >= limits.max_ingress_count {
                break;
            }
            if excluded(id) || ingress_fits(&p.msg, t, limits).is_err() {
                continue;
            }
            if bytes + p.msg.size() > limits.max_block_bytes {
                continue;
            }
            bytes += p.msg.size();
            out.push(p.msg.clone());
        }
        out
    }

    /// Records a finalized block's messages and forgets what expired before its time `t`.
    pub fn on_finalized(&mut self, msgs: &[IngressMessage], t: Time) {
        for m in msgs {
            self.remove(&m.id);
            self.finalized.insert(m.id, m.expiry);
        }
        self.finalized.retain(|_, expiry| *expiry >= t);
        let expired: Vec<MessageId> = self
            .pending
            .iter()
            .filter(|(_, p)| p.msg.expiry < t)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            self.remove(&id);
        }
    }

    /// Pending messages, for re-gossip to a peer.
    pub fn pending(&self) -> impl Iterator<Item = &IngressMessage> {
        self.pending.values().map(|p| &p.msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;

    fn limits() -> PayloadLimits {
        PayloadLimits {
            max_block_bytes: 1000,
            max_ingress_count: 2,
            max_ingress_bytes: 100,
            max_xnet_bytes: 0,
            max_ingress_ttl: Duration::from_secs(60),
        }
    }

    fn m(id: u8, exp: u64) -> IngressMessage {
        IngressMessage {
            id: MessageId([id; 32]),
            expiry: Time::from_millis(exp),
            content: alloc::vec![id],
        }
    }

    #[test]
    fn dedup_bounds_and_expiry() {
        let l = limits();
        let now = Time::from_millis(1000);
        let mut p = IngressPool::default();
        let peer = Some(NodeIndex::new(1));
        assert_eq!(p.insert(m(1, 5000), peer, now, &l, 10, 2), Ok(()));
        assert_eq!(
            p.insert(m(1, 5000), None, now, &l, 10, 2),
            Err(IngressError::Duplicate)
        );
        assert_eq!(p.insert(m(2, 5000), peer, now, &l, 10, 2), Ok(()));
        assert_eq!(
            p.insert(m(3, 5000), peer, now, &l, 10, 2),
            Err(IngressError::PoolFull)
        );
        assert_eq!(
            p.insert(m(4, 500), None, now, &l, 10, 2),
            Err(IngressError::Invalid(PayloadError::Expired))
        );
        assert_eq!(p.insert(m(5, 3000), None, now, &l, 10, 2), Ok(()));
        assert_eq!(p.select(now, &l, |_| false).len(), 2);
        assert_eq!(
            p.select(now, &l, |id| id.0[0] == 1)[0].id,
            MessageId([2; 32])
        );
        p.on_finalized(&[m(1, 5000)], Time::from_millis(4000));
        assert!(p.is_finalized(&MessageId([1; 32])));
        assert_eq!(p.len(), 1, "message 5 expired, 1 finalized");
        assert_eq!(
            p.insert(m(1, 5000), None, now, &l, 10, 2),
            Err(IngressError::Duplicate)
        );
        // The peer's quota was released by finalization.
        assert_eq!(p.insert(m(6, 5000), peer, now, &l, 10, 2), Ok(()));
        p.on_finalized(&[], Time::from_millis(6000));
        assert!(!p.is_finalized(&MessageId([1; 32])));
        // Without history, nothing is proposed until every forgotten message has expired.
        p.insert(m(7, 65_000), None, Time::from_millis(6000), &l, 10, 2)
            .unwrap();
        p.insert(m(8, 30_000), None, Time::from_millis(6000), &l, 10, 2)
            .unwrap();
        p.blind_until(Time::from_millis(60_000));
        assert!(p.select(Time::from_millis(7000), &l, |_| false).is_empty());
        assert_eq!(
            p.select(Time::from_millis(60_001), &l, |_| false)[0].id,
            MessageId([7; 32])
        );
        p.blind_until(Time::from_millis(60_000));
        p.restore_history([(MessageId([7; 32]), Time::from_millis(65_000))]);
        let picked = p.select(Time::from_millis(7000), &l, |_| false);
        assert_eq!(picked.iter().map(|m| m.id.0[0]).collect::<Vec<_>>(), [8]);
        assert!(p.is_finalized(&MessageId([7; 32])));
    }
}
