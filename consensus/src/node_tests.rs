//! Tests of the node state machine driven directly, the way a kernel drives it.

use super::*;
use crate::crypto::{GenesisDealing, NodeSignature, NodeSigner, ThresholdScheme};
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

/// The subnet's threshold signature on `msg`, combined from the first `quorum` members.
fn threshold_sign(
    keys: &[HashSig],
    quorum: usize,
    msg: &[u8],
) -> crate::crypto::ThresholdSignature {
    let shares: Vec<_> = keys
        .iter()
        .take(quorum)
        .enumerate()
        .map(|(i, k)| (NodeIndex::new(i as u32), k.share_sign(msg)))
        .collect();
    keys[0].combine(msg, &shares).unwrap()
}

/// The random beacon after `prev`, threshold-signed by `keys`.
fn next_beacon(keys: &[HashSig], prev: &crate::beacon::Beacon) -> crate::beacon::Beacon {
    let height = prev.height.next();
    let quorum = SubnetSize::new(keys.len() as u32).unwrap().quorum();
    crate::beacon::Beacon {
        height,
        signature: threshold_sign(keys, quorum, &crate::beacon::Beacon::signing_bytes(height, &prev.digest())),
    }
}

/// The member `beacon` ranks first.
fn rank_zero_maker(beacon: &crate::beacon::Beacon, size: SubnetSize) -> NodeIndex {
    let ranking = crate::beacon::Ranking::from_beacon(beacon, size);
    size.nodes()
        .find(|i| ranking.rank_of(*i) == Some(crate::types::Rank::new(0)))
        .unwrap()
}

/// The rank-0 block `maker` builds on `parent` with `payload`, signed with its node key.
fn signed_block(
    keys: &[HashSig],
    parent: &Block,
    beacon: &crate::beacon::Beacon,
    maker: NodeIndex,
    payload: crate::block::Payload,
) -> SignedBlock {
    let block = Block {
        height: parent.height.next(),
        parent: parent.hash(),
        rank: crate::types::Rank::new(0),
        maker,
        time: parent.time.plus(core::time::Duration::from_millis(10)),
        randomness: beacon.randomness(),
        payload,
    };
    let signature = keys[maker.as_usize()].node_sign(&Block::signing_bytes(&block.hash()));
    SignedBlock { block, signature }
}

/// A catch-up package that arrives while the round runs ahead of the finalized height must
/// not send the round back: the round remembers which blocks this node notarization-shared,
/// and a round restarted from scratch at such a height would vouch — with a finalization
/// share — for a block although the node also shared its equivocating twin. (Seed 661 of
/// the adversarial 4-node sweep: with a Byzantine fourth vote, that share finalized the
/// twin of a block that another honest node had finalized.)
#[test]
fn a_catch_up_jump_does_not_forget_which_blocks_were_shared() {
    use crate::block::Payload;
    use crate::cup::CupContent;
    use crate::share::ShareKind;

    let (cfg, d, genesis) = setup(4);
    let size = cfg.size;
    let quorum = size.quorum();
    let keys: Vec<HashSig> = size.nodes().map(|i| d.node(i).unwrap()).collect();
    let b1 = next_beacon(&keys, &genesis.content.beacon);
    let b2 = next_beacon(&keys, &b1);
    let (m1, m2) = (rank_zero_maker(&b1, size), rank_zero_maker(&b2, size));
    // The node under test makes no block itself at either height.
    let me = size.nodes().find(|i| *i != m1 && *i != m2).unwrap();
    let others: Vec<NodeIndex> = size.nodes().filter(|i| *i != me).collect();
    let block = |parent: &Block, beacon, maker, tag: &[u8]| {
        signed_block(&keys, parent, beacon, maker, Payload { ingress: Vec::new(), xnet: tag.to_vec() })
    };
    let a = block(&genesis.content.block, &b1, m1, b"a");
    // The height-2 maker equivocates: two blocks of the same rank.
    let c = block(&a.block, &b2, m2, b"c");
    let c_twin = block(&a.block, &b2, m2, b"twin");

    let mut now = Time::from_millis(T0);
    let (mut node, _) =
        ConsensusNode::new(cfg, me, keys[me.as_usize()].clone(), genesis, now).unwrap();
    let deliver = |node: &mut ConsensusNode<HashSig>, now: Time, from: NodeIndex, m: Message| {
        node.on_message(now, from, &m.encode())
    };
    let vote = |kind, h: u64, hash, signer: NodeIndex| {
        Message::Vote(Vote::sign(
            kind,
            Height::new(h),
            hash,
            signer,
            &keys[signer.as_usize()],
        ))
    };
    let finalization_votes = |outs: &[Output], h: u64| -> Vec<BlockHash> {
        outs.iter()
            .filter_map(|o| match o {
                Output::Broadcast(Message::Vote(v))
                    if v.kind == VoteKind::Finalization && v.height == Height::new(h) =>
                {
                    Some(v.block)
                }
                _ => None,
            })
            .collect()
    };

    // Height 1: block `a` is notarized (but never finalized).
    deliver(&mut node, now, m1, Message::Beacon(b1));
    deliver(&mut node, now, m1, Message::Block(a.clone()));
    now = now.plus(cfg_notary_wait());
    node.on_timer(now);
    for s in others.iter().take(quorum - 1) {
        deliver(
            &mut node,
            now,
            *s,
            vote(VoteKind::Notarization, 1, a.block.hash(), *s),
        );
    }
    assert_eq!(node.round_height(), Height::new(2));

    // Height 2: the node notarization-shares both twins; `c` gets notarized, so the node may
    // not finalization-share at height 2.
    deliver(&mut node, now, m2, Message::Beacon(b2));
    deliver(&mut node, now, m2, Message::Block(c.clone()));
    deliver(&mut node, now, m2, Message::Block(c_twin.clone()));
    now = now.plus(cfg_notary_wait());
    let outs = node.on_timer(now);
    let shared: Vec<BlockHash> = outs
        .iter()
        .filter_map(|o| match o {
            Output::Broadcast(Message::Vote(v)) if v.kind == VoteKind::Notarization => {
                Some(v.block)
            }
            _ => None,
        })
        .collect();
    assert_eq!(shared.len(), 2, "both twins shared: {shared:?}");
    let mut outs = Vec::new();
    for s in others.iter().take(quorum - 1) {
        outs.extend(deliver(
            &mut node,
            now,
            *s,
            vote(VoteKind::Notarization, 2, c.block.hash(), *s),
        ));
    }
    assert_eq!(node.round_height(), Height::new(3));
    assert_eq!(finalization_votes(&outs, 2), Vec::new());
    assert_eq!(node.finalized_height(), Height::ZERO);

    // Height 3 is running when a catch-up package at height 1 arrives (the others finalized
    // and certified `a`).
    deliver(&mut node, now, m2, Message::Beacon(next_beacon(&keys, &b2)));
    let round = node.round.describe();
    assert!(round.starts_with("running h3"), "{round}");
    let content = CupContent {
        block: a.block.clone(),
        state_hash: StateHash([7; 32]),
        beacon: b1,
    };
    let signature = threshold_sign(
        &keys,
        quorum,
        &ShareKind::CatchUp.signing_bytes(Height::new(1), &content.digest()),
    );
    let cup = CatchUpPackage { content, signature };
    now = now.plus(core::time::Duration::from_millis(1));
    let outs = deliver(&mut node, now, others[0], Message::Cup(cup));
    assert_eq!(node.cup_height(), Height::new(1));
    assert_eq!(
        finalization_votes(&outs, 2),
        Vec::new(),
        "finalization-shared a block at a height where it also shared its twin"
    );
    assert_eq!(node.round.describe(), round, "the round was restarted");

    // The others' finalization of `c` still finalizes it here.
    for s in &others {
        deliver(
            &mut node,
            now,
            *s,
            vote(VoteKind::Finalization, 2, c.block.hash(), *s),
        );
    }
    assert_eq!(node.finalized_height(), Height::new(2));
}

/// The rank-0 notary delay of [`setup`]'s configuration, and a little more.
fn cfg_notary_wait() -> core::time::Duration {
    let (cfg, _, _) = setup(1);
    cfg.initial_notary_delay + core::time::Duration::from_millis(1)
}

/// A block with ingress is broadcast as an announcement: a member holding the ingress takes
/// (and notarization-shares) the block; one without it asks the sender for the whole block.
#[test]
fn an_announced_block_is_rebuilt_from_the_ingress_pool_or_requested() {
    use crate::block::{IngressMessage, Payload};
    use crate::message::Control;
    use crate::types::MessageId;

    let (cfg, d, genesis) = setup(4);
    let size = cfg.size;
    let keys: Vec<HashSig> = size.nodes().map(|i| d.node(i).unwrap()).collect();
    let b1 = next_beacon(&keys, &genesis.content.beacon);
    let maker = rank_zero_maker(&b1, size);
    let me = size.nodes().find(|i| *i != maker).unwrap();
    let now = Time::from_millis(T0);
    let ingress = IngressMessage {
        id: MessageId([3; 32]),
        expiry: now.plus(core::time::Duration::from_secs(60)),
        content: alloc::vec![5; 100_000],
    };
    let payload = Payload { ingress: alloc::vec![ingress.clone()], xnet: Vec::new() };
    let sb = signed_block(&keys, &genesis.content.block, &b1, maker, payload);
    let (h1, hash) = (sb.block.height, sb.block.hash());
    let announcement = Message::Block(sb).encode_broadcast();
    assert!(announcement.len() < 1000, "the 100 kB message is not on the wire");
    let fresh = || ConsensusNode::new(cfg.clone(), me, keys[me.as_usize()].clone(), genesis.clone(), now).unwrap().0;

    let mut without = fresh();
    without.on_message(now, maker, &Message::Beacon(b1).encode());
    let outs = without.on_message(now, maker, &announcement);
    let asked = outs.iter().any(|o| matches!(o,
        Output::Send { to, message: Message::Control(c) }
            if *to == maker && c.body == Control::BlockRequest { height: h1, hash }));
    assert!(asked, "a member without the ingress asks for the block: {outs:?}");

    let mut with = fresh();
    with.on_message(now, maker, &Message::Beacon(b1).encode());
    let ingress_from_maker = SignedControl::sign(maker, Control::Ingress(ingress), &keys[maker.as_usize()]);
    with.on_message(now, maker, &Message::Control(ingress_from_maker).encode());
    with.on_message(now, maker, &announcement);
    let outs = with.on_timer(now.plus(cfg_notary_wait()));
    let shared = outs.iter().any(|o| matches!(o,
        Output::Broadcast(Message::Vote(v)) if v.kind == VoteKind::Notarization && v.block == hash));
    assert!(shared, "a member with the ingress rebuilds the block and shares it: {outs:?}");
}
