//! Fair scheduling within a round: which canister runs next, and the instruction budget.
//! Every pass over the canisters gives each canister with work one message, starting at
//! a point that rotates with the height, so no canister is always first or starved, and
//! the round stops once its instruction budget is spent (the rest waits for the next).

use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::execution::Executor;
use crate::ids::{CanisterId, Height};
use crate::partition::Partition;

/// The instructions a round may still spend.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Budget {
    remaining: u64,
}

impl Budget {
    pub fn new(limit: u64) -> Budget {
        Budget { remaining: limit }
    }

    pub fn exhausted(&self) -> bool {
        self.remaining == 0
    }

    pub fn charge(&mut self, instructions: u64) {
        self.remaining = self.remaining.saturating_sub(instructions);
    }

    pub fn remaining(&self) -> u64 {
        self.remaining
    }
}

/// Canisters with queued input, in this pass's order: rotated by the height so the
/// first canister changes every round.
pub fn pass_order<E: Executor>(canisters: &BTreeMap<CanisterId, Arc<Partition<E>>>, height: Height) -> Vec<CanisterId> {
    let ready: Vec<CanisterId> = canisters.iter().filter(|(_, p)| !p.input.is_empty()).map(|(id, _)| *id).collect();
    rotate(ready, height)
}

/// `ids` rotated to start at position `height mod len`.
pub fn rotate(mut ids: Vec<CanisterId>, height: Height) -> Vec<CanisterId> {
    if !ids.is_empty() {
        let k = (height.0 % ids.len() as u64) as usize;
        ids.rotate_left(k);
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_moves_the_first_canister_each_round() {
        let ids: Vec<CanisterId> = (0..3).map(CanisterId::from_u64).collect();
        let firsts: Vec<u64> = (0..3).map(|h| rotate(ids.clone(), Height(h))[0].get()).collect();
        assert_eq!(firsts, [0, 1, 2]);
        assert!(rotate(Vec::new(), Height(5)).is_empty());
    }

    #[test]
    fn budget_saturates() {
        let mut b = Budget::new(10);
        b.charge(4);
        assert!(!b.exhausted());
        b.charge(100);
        assert!(b.exhausted());
        assert_eq!(b.remaining(), 0);
    }
}
