//! Tests of the node state machine driven directly, the way a kernel drives it.

use super::*;
use crate::crypto::{GenesisDealing, NodeSignature};
use crate::hashsig::HashSig;
use crate::types::SubnetSize;
use crate::vote::{Vote, VoteKind};

const T0: u64 = 1_000_000;

fn setup(n: u32) -> (Config, GenesisDealing, CatchUpPackage) {
    let size = SubnetSize::new(n).unwrap();
    let d = GenesisDealing::deal::<HashSig>([9; 32], n, size.quorum()).unwrap();
    let cup = CatchUpPackage::genesis(
        Block::genesis(Time::from_millis(T0)),
        StateHash([1; 32]),
        &d.public.subnet_public_key,
    );
    let mut cfg = Config::new(size);
    cfg.cup_interval = 5;
    (cfg, d, cup)
}

/// Drives a one-node subnet by hand the way a kernel would: timers, execution reports.
/// Returns the finalized blocks, the certified heights and the persisted records.
fn drive_one_node(
    until_ms: u64,
) -> (
    Vec<FinalizedBlock>,
    Vec<Height>,
    Persisted,
    ConsensusNode<HashSig>,
) {
    let (cfg, d, cup) = setup(1);
    let me = NodeIndex::new(0);
    let (mut node, mut outs) = ConsensusNode::new(
        cfg,
        me,
        d.node(me).unwrap(),
        cup.clone(),
        Time::from_millis(T0),
    )
    .unwrap();
    let mut store = Persisted::genesis(cup);
    let (mut finalized, mut certified) = (Vec::new(), Vec::new());
    let mut timer = Time::from_millis(T0);
    let mut state = StateHash([1; 32]);
    while timer < Time::from_millis(T0 + until_ms) {
        let mut queue = core::mem::take(&mut outs);
        while !queue.is_empty() {
            for o in core::mem::take(&mut queue) {
                match o {
                    Output::SetTimer(t) => timer = t,
                    Output::Persist(r) => store.apply(&r),
                    Output::Finalized(fb) => {
                        state = StateHash(crate::hash::hash("test-state", &[&state.0, &fb.hash.0]));
                        queue.extend(node.on_state_executed(timer, fb.height, state));
                        finalized.push(fb);
                    }
                    Output::Certified(c) => certified.push(c.height),
                    _ => {}
                }
            }
        }
        outs = node.on_timer(timer);
    }
    (finalized, certified, store, node)
}

#[test]
fn one_node_subnet_finalizes_and_certifies_in_order() {
    let (finalized, certified, _, node) = drive_one_node(2_000);
    assert!(finalized.len() >= 10, "{} blocks in 2 s", finalized.len());
    for (i, fb) in finalized.iter().enumerate() {
        assert_eq!(fb.height, Height::new(i as u64 + 1));
        assert_eq!(fb.hash, fb.block.hash());
    }
    assert!(certified.len() + 1 >= finalized.len());
    assert!(
        node.cup_height() > Height::ZERO,
        "a catch-up package was made"
    );
}

#[test]
fn restart_replays_persisted_blocks_above_the_cup() {
    let (finalized, _, store, _) = drive_one_node(1_500);
    let cup_h = store.cup.height();
    let (cfg, d, _) = setup(1);
    let me = NodeIndex::new(0);
    let (node, outs) = ConsensusNode::restore(
        cfg,
        me,
        d.node::<HashSig>(me).unwrap(),
        store.clone(),
        Time::from_millis(T0 + 5_000),
    )
    .unwrap();
    let replayed: Vec<Height> = outs
        .iter()
        .filter_map(|o| {
            if let Output::Finalized(fb) = o {
                Some(fb.height)
            } else {
                None
            }
        })
        .collect();
    let expected: Vec<Height> = finalized
        .iter()
        .map(|f| f.height)
        .filter(|h| *h > cup_h)
        .collect();
    assert_eq!(replayed, expected);
    assert_eq!(node.finalized_height(), finalized.last().unwrap().height);
    assert!(
        store.share_fence >= node.finalized_height(),
        "the fence covers every height it voted at"
    );
}

#[test]
fn forged_and_foreign_messages_are_rejected() {
    let (cfg, d, cup) = setup(4);
    let now = Time::from_millis(T0);
    let (mut node, _) = ConsensusNode::new(
        cfg,
        NodeIndex::new(0),
        d.node::<HashSig>(NodeIndex::new(0)).unwrap(),
        cup,
        now,
    )
    .unwrap();
    let k1: HashSig = d.node(NodeIndex::new(1)).unwrap();
    // A vote signed by node 1 but claiming to be node 2's.
    let mut v = Vote::sign(
        VoteKind::Notarization,
        Height::new(1),
        BlockHash([3; 32]),
        NodeIndex::new(1),
        &k1,
    );
    v.signer = NodeIndex::new(2);
    let outs = node.on_message(now, NodeIndex::new(1), &Message::Vote(v).encode());
    assert!(outs.contains(&Output::PeerMisbehaved {
        peer: NodeIndex::new(1),
        reason: Misbehavior::BadSignature
    }));
    // A status signed by node 1 but arriving over node 3's connection.
    let st = SignedControl::sign(NodeIndex::new(1), Control::Status(node.status()), &k1);
    let outs = node.on_message(now, NodeIndex::new(3), &Message::Control(st).encode());
    assert!(outs.contains(&Output::PeerMisbehaved {
        peer: NodeIndex::new(3),
        reason: Misbehavior::SenderMismatch
    }));
    let outs = node.on_message(now, NodeIndex::new(3), &[1, 2, 3]);
    assert!(matches!(
        outs.as_slice(),
        [
            Output::PeerMisbehaved {
                reason: Misbehavior::Undecodable(_),
                ..
            },
            ..
        ]
    ));
    // Non-members and ourselves are ignored outright.
    assert!(node.on_message(now, NodeIndex::new(9), &[1]).is_empty());
    assert!(node.on_message(now, NodeIndex::new(0), &[1]).is_empty());
    let bogus = Vote {
        signature: NodeSignature([0; 64]),
        signer: NodeIndex::new(77),
        ..v
    };
    let outs = node.on_message(now, NodeIndex::new(1), &Message::Vote(bogus).encode());
    assert!(outs.contains(&Output::PeerMisbehaved {
        peer: NodeIndex::new(1),
        reason: Misbehavior::NotAMember
    }));
    assert_eq!(node.stats().rejected, 4);
}

#[test]
fn a_flooding_peer_is_cut_off_by_its_quota() {
    let (mut cfg, d, cup) = setup(4);
    cfg.peer_quota = crate::config::PeerQuota {
        burst: 10,
        per_second: 100,
    };
    let now = Time::from_millis(T0);
    let (mut node, _) = ConsensusNode::new(
        cfg,
        NodeIndex::new(0),
        d.node::<HashSig>(NodeIndex::new(0)).unwrap(),
        cup,
        now,
    )
    .unwrap();
    for _ in 0..50 {
        node.on_message(now, NodeIndex::new(2), &[0]);
    }
    assert_eq!(node.stats().over_quota, 40);
    assert_eq!(node.stats().rejected, 10);
    // Another peer is unaffected, and the flooder's tokens refill with time.
    node.on_message(now, NodeIndex::new(3), &[0]);
    assert_eq!(node.stats().rejected, 11);
    node.on_message(Time::from_millis(T0 + 100), NodeIndex::new(2), &[0]);
    assert_eq!(node.stats().rejected, 12);
}
