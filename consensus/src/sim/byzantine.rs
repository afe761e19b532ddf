//! Byzantine behaviours. A Byzantine node runs the honest state machine (so it knows what
//! an honest node would send) and these rewrite its outgoing messages.

use alloc::vec::Vec;

use super::rng::Rng;
use crate::block::{Block, SignedBlock};
use crate::crypto::Scheme;
use crate::message::Message;
use crate::types::{BlockHash, NodeIndex};
use crate::vote::Vote;

/// How a simulated node behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    /// Follows the protocol.
    Honest,
    /// As block maker, sends different blocks to different halves of the subnet; and votes
    /// to finalize every block it notarizes (it runs the broken finalization rule).
    Equivocate,
    /// Sends corrupted signatures and shares, and votes for blocks that do not exist.
    InvalidShares,
    /// Sends nothing but its own blocks, and those to one peer only.
    Withhold,
    /// Follows the protocol but also sends random bytes and mangled copies of its messages.
    Garbage,
}

impl Behaviour {
    /// Every Byzantine behaviour.
    pub const BYZANTINE: [Behaviour; 4] = [
        Behaviour::Equivocate,
        Behaviour::InvalidShares,
        Behaviour::Withhold,
        Behaviour::Garbage,
    ];
}

/// Where a message goes.
pub(crate) enum Dest {
    All,
    One(NodeIndex),
}

/// Rewrites one outgoing message of a Byzantine node into what it actually sends.
pub(crate) fn rewrite<S: Scheme>(
    b: Behaviour,
    me: NodeIndex,
    keys: &S,
    peers: &[NodeIndex],
    dest: Dest,
    m: Message,
    rng: &mut Rng,
) -> Vec<(NodeIndex, Vec<u8>)> {
    let targets: Vec<NodeIndex> = match dest {
        Dest::All => peers.to_vec(),
        Dest::One(p) => alloc::vec![p],
    };
    let to_all = |bytes: Vec<u8>| {
        targets
            .iter()
            .map(|p| (*p, bytes.clone()))
            .collect::<Vec<_>>()
    };
    match b {
        Behaviour::Honest => to_all(m.encode()),
        Behaviour::Equivocate => match m {
            Message::Block(sb) if sb.block.maker == me => {
                let twin = twin_block(&sb.block, keys);
                let half = targets.len() / 2;
                targets
                    .iter()
                    .enumerate()
                    .map(|(i, p)| {
                        (
                            *p,
                            if i < half {
                                Message::Block(sb.clone())
                            } else {
                                Message::Block(twin.clone())
                            }
                            .encode(),
                        )
                    })
                    .collect()
            }
            m => to_all(m.encode()),
        },
        Behaviour::InvalidShares => match m {
            Message::Vote(mut v) => {
                if rng.chance(500) {
                    v.signature.0[0] ^= 1;
                } else {
                    v = Vote::sign(v.kind, v.height, BlockHash(rng.array32()), me, keys);
                }
                to_all(Message::Vote(v).encode())
            }
            Message::Share(mut s) => {
                s.share.0[7] ^= 0x40;
                to_all(Message::Share(s).encode())
            }
            m => to_all(m.encode()),
        },
        Behaviour::Withhold => match m {
            Message::Block(sb) if sb.block.maker == me => match targets.first() {
                Some(p) => alloc::vec![(*p, Message::Block(sb).encode())],
                None => Vec::new(),
            },
            _ => Vec::new(),
        },
        Behaviour::Garbage => {
            let bytes = m.encode();
            let mut out = to_all(bytes.clone());
            if let Some(p) = targets.get(rng.index(targets.len())) {
                let mut junk = bytes;
                match rng.range(0, 2) {
                    0 => {
                        let len = rng.range(0, 200) as usize;
                        junk = rng.bytes(len);
                    }
                    1 => junk.truncate(rng.index(junk.len())),
                    _ => {
                        let i = rng.index(junk.len());
                        if let Some(x) = junk.get_mut(i) {
                            *x ^= 1 << rng.range(0, 7);
                        }
                    }
                }
                out.push((*p, junk));
            }
            out
        }
    }
}

/// A second, different block for the same height and rank, properly signed.
fn twin_block<S: Scheme>(b: &Block, keys: &S) -> SignedBlock {
    let mut twin = b.clone();
    twin.payload.xnet.extend_from_slice(b"equivocation");
    let signature = keys.node_sign(&Block::signing_bytes(&twin.hash()));
    SignedBlock {
        block: twin,
        signature,
    }
}
