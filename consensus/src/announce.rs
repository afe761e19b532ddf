//! Block announcements: how a broadcast block travels when it carries ingress. Every member
//! already holds the block's ingress (ingress is gossiped when accepted), so the block goes
//! out with its messages named by id and expiry, and a receiver rebuilds it from its ingress
//! pool. A receiver that lacks a message (or rebuilds a block with another hash) asks the
//! sender for the whole block. Without this a canister install, megabytes of Wasm, would be
//! re-sent inside every proposal, relay and re-broadcast, and swamp the subnet's links.

use alloc::vec::Vec;

use crate::block::{Block, IngressMessage, SignedBlock};
use crate::codec::{Decode, DecodeError, Encode, Reader, Writer};
use crate::crypto::{Crypto, NodeSignature};
use crate::ingress::IngressPool;
use crate::message::Control;
use crate::node::{ConsensusNode, Output};
use crate::types::{BlockHash, MessageId, NodeIndex, Time};

/// Wire bound on ingress references in one announcement (the configured limit is lower).
const WIRE_MAX_REFERENCES: usize = 100_000;

/// A signed block whose ingress is named, not included.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockAnnouncement {
    /// The hash of the whole block, which the maker signed.
    pub hash: BlockHash,
    /// The block with an empty ingress list.
    pub header: Block,
    /// The ingress messages in block order.
    pub ingress: Vec<(MessageId, Time)>,
    /// The maker's signature over the whole block's hash.
    pub signature: NodeSignature,
}

impl BlockAnnouncement {
    /// The announcement of `sb`, or `None` when it carries no ingress (then the block itself
    /// is as small).
    pub fn of(sb: &SignedBlock) -> Option<Self> {
        if sb.block.payload.ingress.is_empty() {
            return None;
        }
        let mut header = sb.block.clone();
        let ingress = core::mem::take(&mut header.payload.ingress);
        Some(BlockAnnouncement {
            hash: sb.block.hash(),
            header,
            ingress: ingress.iter().map(|m| (m.id, m.expiry)).collect(),
            signature: sb.signature,
        })
    }

    /// The whole block from the messages in `pool`, if it holds all of them and they add up
    /// to the announced hash.
    pub fn rebuild(&self, pool: &IngressPool) -> Option<SignedBlock> {
        let mut block = self.header.clone();
        block.payload.ingress = self
            .ingress
            .iter()
            .map(|(id, expiry)| pool.get(id).filter(|m| m.expiry == *expiry).cloned())
            .collect::<Option<Vec<IngressMessage>>>()?;
        (block.hash() == self.hash).then_some(SignedBlock {
            block,
            signature: self.signature,
        })
    }
}

impl Encode for BlockAnnouncement {
    fn encode_to(&self, w: &mut Writer) {
        self.hash.encode_to(w);
        self.header.encode_to(w);
        w.list(&self.ingress);
        self.signature.encode_to(w);
    }
}
impl Decode for BlockAnnouncement {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(BlockAnnouncement {
            hash: BlockHash::decode_from(r)?,
            header: Block::decode_from(r)?,
            ingress: r.list(WIRE_MAX_REFERENCES)?,
            signature: NodeSignature::decode_from(r)?,
        })
    }
}
impl Encode for (MessageId, Time) {
    fn encode_to(&self, w: &mut Writer) {
        self.0.encode_to(w);
        self.1.encode_to(w);
    }
}
impl Decode for (MessageId, Time) {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok((MessageId::decode_from(r)?, Time::decode_from(r)?))
    }
}

impl<C: Crypto> ConsensusNode<C> {
    /// A peer announced a block: take it if its ingress is here, else ask that peer for it.
    pub(crate) fn on_announcement(&mut self, from: NodeIndex, a: BlockAnnouncement) {
        if !self.admits_block(from, &a.header, &a.hash) {
            return;
        }
        match a.rebuild(&self.ingress) {
            // `rebuild` checked the block against the announced hash.
            Some(sb) => self.take_block(from, sb, a.hash),
            None => {
                let request = self.sign_control(Control::BlockRequest {
                    height: a.header.height,
                    hash: a.hash,
                });
                self.out.push(Output::Send {
                    to: from,
                    message: request,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PayloadLimits;
    use core::time::Duration;

    fn message(byte: u8) -> IngressMessage {
        IngressMessage {
            id: MessageId([byte; 32]),
            expiry: Time::from_millis(60_000),
            content: alloc::vec![byte; 1000],
        }
    }

    fn block_with(ingress: Vec<IngressMessage>) -> SignedBlock {
        let mut block = Block::genesis(Time::from_millis(1000));
        block.height = crate::types::Height::new(1);
        block.payload.ingress = ingress;
        SignedBlock {
            block,
            signature: NodeSignature([7; 64]),
        }
    }

    fn pool_of(messages: &[IngressMessage]) -> IngressPool {
        let limits = PayloadLimits {
            max_block_bytes: 1 << 20,
            max_ingress_count: 100,
            max_ingress_bytes: 1 << 16,
            max_xnet_bytes: 1 << 16,
            max_ingress_ttl: Duration::from_secs(300),
        };
        let mut pool = IngressPool::default();
        for m in messages {
            pool.insert(m.clone(), None, Time::from_millis(1000), &limits, 100, 100)
                .unwrap();
        }
        pool
    }

    #[test]
    fn a_block_without_ingress_is_sent_whole() {
        assert_eq!(BlockAnnouncement::of(&block_with(Vec::new())), None);
    }

    #[test]
    fn an_announcement_is_small_and_rebuilds_the_signed_block() {
        let sb = block_with(alloc::vec![message(1), message(2)]);
        let a = BlockAnnouncement::of(&sb).unwrap();
        let wire = crate::message::Message::Block(sb.clone()).encode_broadcast();
        assert!(wire.len() < 400, "{} bytes on the wire", wire.len());
        let crate::message::Message::Announce(decoded) =
            crate::message::Message::decode(&wire).unwrap()
        else {
            panic!("a block with ingress is broadcast as an announcement")
        };
        assert_eq!(decoded, a);
        let pool = pool_of(&[message(2), message(3), message(1)]);
        assert_eq!(decoded.rebuild(&pool), Some(sb));
    }

    #[test]
    fn missing_or_different_ingress_does_not_rebuild() {
        let sb = block_with(alloc::vec![message(1), message(2)]);
        let a = BlockAnnouncement::of(&sb).unwrap();
        assert_eq!(a.rebuild(&pool_of(&[message(1)])), None, "message 2 missing");
        let mut forged = message(2);
        forged.content[0] ^= 1;
        assert_eq!(
            a.rebuild(&pool_of(&[message(1), forged])),
            None,
            "same id, other content: the hash does not match"
        );
    }
}
