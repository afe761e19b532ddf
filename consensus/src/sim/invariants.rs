//! The invariants the simulator checks after every step, over what honest nodes report.

use alloc::collections::BTreeMap;
use alloc::string::String;
use core::fmt;

use crate::types::{BlockHash, Height, NodeIndex, StateHash, Time};

/// A broken invariant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Violation {
    /// Two honest nodes finalized different blocks at one height.
    Safety {
        height: Height,
        first: BlockHash,
        second: BlockHash,
        node: NodeIndex,
    },
    /// Two honest nodes computed different states at one height.
    StateDivergence { height: Height, node: NodeIndex },
    /// A certified (or catch-up package) root differs from the executed one.
    BadCertification { height: Height, node: NodeIndex },
    /// A node was handed a finalized block out of order.
    DeliveryGap {
        node: NodeIndex,
        expected: Height,
        got: Height,
    },
    /// An honest node proposed two different blocks at one height (e.g. after a restart).
    HonestEquivocation { node: NodeIndex, height: Height },
    /// An honest node rejected a message of an honest peer as invalid.
    HonestPeerBlamed {
        node: NodeIndex,
        peer: NodeIndex,
        reason: String,
    },
    /// Honest nodes did not progress within the bound after the network healed.
    Liveness { detail: String },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::Safety {
                height,
                first,
                second,
                node,
            } => {
                write!(
                    f,
                    "SAFETY: {node} finalized {second:?} at height {height}, another node finalized {first:?}"
                )
            }
            Violation::StateDivergence { height, node } => {
                write!(f, "state of {node} diverged at height {height}")
            }
            Violation::BadCertification { height, node } => {
                write!(
                    f,
                    "{node} saw a certified root that no honest node executed at height {height}"
                )
            }
            Violation::DeliveryGap {
                node,
                expected,
                got,
            } => {
                write!(f, "{node} was delivered height {got}, expected {expected}")
            }
            Violation::HonestEquivocation { node, height } => {
                write!(
                    f,
                    "honest {node} proposed two different blocks at height {height}"
                )
            }
            Violation::HonestPeerBlamed { node, peer, reason } => {
                write!(f, "{node} rejected a message of honest {peer}: {reason}")
            }
            Violation::Liveness { detail } => write!(f, "LIVENESS: {detail}"),
        }
    }
}

/// Global record of what honest nodes finalized, executed and certified.
#[derive(Default)]
pub(crate) struct Checker {
    finalized: BTreeMap<Height, BlockHash>,
    states: BTreeMap<Height, StateHash>,
    certified: BTreeMap<Height, StateHash>,
    proposals: BTreeMap<(NodeIndex, Height), BlockHash>,
    /// The first violation, with the time it happened.
    pub violation: Option<(Time, Violation)>,
}

impl Checker {
    fn fail(&mut self, now: Time, v: Violation) {
        if self.violation.is_none() {
            self.violation = Some((now, v));
        }
    }

    pub fn finalized(&mut self, now: Time, node: NodeIndex, h: Height, hash: BlockHash) {
        match self.finalized.get(&h) {
            Some(first) if *first != hash => {
                let first = *first;
                self.fail(
                    now,
                    Violation::Safety {
                        height: h,
                        first,
                        second: hash,
                        node,
                    },
                )
            }
            Some(_) => {}
            None => {
                self.finalized.insert(h, hash);
            }
        }
    }

    pub fn executed(&mut self, now: Time, node: NodeIndex, h: Height, root: StateHash) {
        match self.states.get(&h) {
            Some(r) if *r != root => self.fail(now, Violation::StateDivergence { height: h, node }),
            Some(_) => {}
            None => {
                self.states.insert(h, root);
            }
        }
        if self.certified.get(&h).is_some_and(|c| *c != root) {
            self.fail(now, Violation::BadCertification { height: h, node });
        }
    }

    /// A certified root (or a catch-up package root) reported to an honest node.
    pub fn certified(&mut self, now: Time, node: NodeIndex, h: Height, root: StateHash) {
        let bad = self.states.get(&h).is_some_and(|r| *r != root)
            || self.certified.get(&h).is_some_and(|r| *r != root);
        if bad {
            self.fail(now, Violation::BadCertification { height: h, node });
        }
        self.certified.entry(h).or_insert(root);
    }

    /// A block an honest node sent as its own proposal.
    pub fn proposed(&mut self, now: Time, node: NodeIndex, h: Height, hash: BlockHash) {
        if *self.proposals.entry((node, h)).or_insert(hash) != hash {
            self.fail(now, Violation::HonestEquivocation { node, height: h });
        }
    }

    pub fn gap(&mut self, now: Time, node: NodeIndex, expected: Height, got: Height) {
        self.fail(
            now,
            Violation::DeliveryGap {
                node,
                expected,
                got,
            },
        );
    }

    pub fn blamed(&mut self, now: Time, node: NodeIndex, peer: NodeIndex, reason: String) {
        self.fail(now, Violation::HonestPeerBlamed { node, peer, reason });
    }

    pub fn liveness(&mut self, now: Time, detail: String) {
        self.fail(now, Violation::Liveness { detail });
    }

    /// Heights finalized by some honest node.
    pub fn finalized_count(&self) -> usize {
        self.finalized.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checker_reports_conflicts() {
        let mut c = Checker::default();
        let (t, n) = (Time::from_millis(1), NodeIndex::new(0));
        c.finalized(t, n, Height::new(1), BlockHash([1; 32]));
        c.finalized(t, n, Height::new(1), BlockHash([1; 32]));
        assert!(c.violation.is_none());
        c.executed(t, n, Height::new(1), StateHash([1; 32]));
        c.certified(t, n, Height::new(1), StateHash([1; 32]));
        assert!(c.violation.is_none());
        c.finalized(t, n, Height::new(1), BlockHash([2; 32]));
        assert!(matches!(c.violation, Some((_, Violation::Safety { .. }))));
        let mut c = Checker::default();
        c.executed(t, n, Height::new(1), StateHash([1; 32]));
        c.executed(t, n, Height::new(1), StateHash([2; 32]));
        assert!(matches!(
            c.violation,
            Some((_, Violation::StateDivergence { .. }))
        ));
        let mut c = Checker::default();
        c.certified(t, n, Height::new(1), StateHash([2; 32]));
        c.executed(t, n, Height::new(1), StateHash([1; 32]));
        assert!(matches!(
            c.violation,
            Some((_, Violation::BadCertification { .. }))
        ));
    }
}
