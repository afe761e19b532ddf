//! Blocks and their payload: ingress messages (ids, sizes, expiry), the block's time and
//! randomness for the hypervisor, and an opaque byte field for cross-subnet streams.

use alloc::vec::Vec;

use crate::codec::{Decode, DecodeError, Encode, Reader, Writer};
use crate::config::PayloadLimits;
use crate::crypto::NodeSignature;
use crate::hash::hash;
use crate::types::{BlockHash, Digest, Height, MessageId, NodeIndex, Rank, Time};

/// Wire bound on ingress messages in one payload (the configured limit is lower).
const WIRE_MAX_INGRESS: usize = 100_000;
/// Wire bound on any one byte field.
const WIRE_MAX_BYTES: usize = 16 << 20;
/// Bytes an ingress message costs beyond its content (id and expiry).
const INGRESS_OVERHEAD: usize = 40;

/// A user's message to a canister, already parsed and authenticated by the HTTP interface;
/// consensus only orders it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IngressMessage {
    /// The request id.
    pub id: MessageId,
    /// After this time the message may no longer be included.
    pub expiry: Time,
    /// The signed request, opaque here.
    pub content: Vec<u8>,
}

impl IngressMessage {
    /// Bytes it takes in a block.
    pub fn size(&self) -> usize {
        self.content.len() + INGRESS_OVERHEAD
    }
}

/// What a block carries for execution.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Payload {
    /// Ingress messages in execution order.
    pub ingress: Vec<IngressMessage>,
    /// Cross-subnet stream slices, opaque to consensus.
    pub xnet: Vec<u8>,
}

impl Payload {
    /// Encoded size that counts against the block limit.
    pub fn size(&self) -> usize {
        self.ingress.iter().map(IngressMessage::size).sum::<usize>() + self.xnet.len()
    }
}

/// A block proposal's content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    /// Its height, one above its parent's.
    pub height: Height,
    /// Hash of the notarized parent.
    pub parent: BlockHash,
    /// The maker's rank in this round.
    pub rank: Rank,
    /// The maker.
    pub maker: NodeIndex,
    /// Block time: strictly above the parent's, at most the clock skew ahead of notaries.
    pub time: Time,
    /// Randomness for execution, derived from this height's random beacon.
    pub randomness: Digest,
    /// Content.
    pub payload: Payload,
}

impl Block {
    /// The block's hash.
    pub fn hash(&self) -> BlockHash {
        BlockHash(hash("keel-block", &[&self.to_bytes()]))
    }

    /// The genesis block (also the base of a subnet created at `time`).
    pub fn genesis(time: Time) -> Self {
        Block {
            height: Height::ZERO,
            parent: BlockHash::default(),
            rank: Rank::new(0),
            maker: NodeIndex::new(0),
            time,
            randomness: Digest::default(),
            payload: Payload::default(),
        }
    }

    /// The bytes a maker signs: the hash, domain-separated.
    pub fn signing_bytes(hash: &BlockHash) -> Vec<u8> {
        let mut v = Vec::from(&b"keel-block-proposal"[..]);
        v.extend_from_slice(&hash.0);
        v
    }
}

/// A block with its maker's signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedBlock {
    /// The block.
    pub block: Block,
    /// The maker's node signature over [`Block::signing_bytes`].
    pub signature: NodeSignature,
}

/// Why a payload is invalid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayloadError {
    /// More ingress messages than allowed.
    TooManyIngress,
    /// An ingress message's content is over the size limit.
    IngressTooLarge,
    /// The payload is over the block size limit.
    BlockTooLarge,
    /// The cross-subnet field is over its limit.
    XnetTooLarge,
    /// An ingress message expired before the block's time.
    Expired,
    /// An ingress message expires too far after the block's time.
    ExpiryTooFar,
    /// An ingress message appears twice, or is already in the chain.
    Duplicate,
}

/// Whether an ingress message may go into a block with time `t`.
pub fn ingress_fits(
    m: &IngressMessage,
    t: Time,
    limits: &PayloadLimits,
) -> Result<(), PayloadError> {
    if m.content.len() > limits.max_ingress_bytes {
        return Err(PayloadError::IngressTooLarge);
    }
    if m.expiry < t {
        return Err(PayloadError::Expired);
    }
    if m.expiry > t.plus(limits.max_ingress_ttl) {
        return Err(PayloadError::ExpiryTooFar);
    }
    Ok(())
}

/// Checks a payload for a block with time `t`; `already_in_chain` says whether an id is in a
/// finalized block within the expiry window or in an unfinalized ancestor.
pub fn validate_payload(
    p: &Payload,
    t: Time,
    limits: &PayloadLimits,
    already_in_chain: impl Fn(&MessageId) -> bool,
) -> Result<(), PayloadError> {
    if p.ingress.len() > limits.max_ingress_count {
        return Err(PayloadError::TooManyIngress);
    }
    if p.xnet.len() > limits.max_xnet_bytes {
        return Err(PayloadError::XnetTooLarge);
    }
    if p.size() > limits.max_block_bytes {
        return Err(PayloadError::BlockTooLarge);
    }
    let mut ids: Vec<&MessageId> = Vec::with_capacity(p.ingress.len());
    for m in &p.ingress {
        ingress_fits(m, t, limits)?;
        if already_in_chain(&m.id) {
            return Err(PayloadError::Duplicate);
        }
        ids.push(&m.id);
    }
    ids.sort_unstable();
    if ids.windows(2).any(|w| w[0] == w[1]) {
        return Err(PayloadError::Duplicate);
    }
    Ok(())
}

impl Encode for IngressMessage {
    fn encode_to(&self, w: &mut Writer) {
        self.id.encode_to(w);
        self.expiry.encode_to(w);
        w.bytes(&self.content);
    }
}
impl Decode for IngressMessage {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(IngressMessage {
            id: MessageId::decode_from(r)?,
            expiry: Time::decode_from(r)?,
            content: r.bytes(WIRE_MAX_BYTES)?,
        })
    }
}
impl Encode for Payload {
    fn encode_to(&self, w: &mut Writer) {
        w.list(&self.ingress);
        w.bytes(&self.xnet);
    }
}
impl Decode for Payload {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Payload {
            ingress: r.list(WIRE_MAX_INGRESS)?,
            xnet: r.bytes(WIRE_MAX_BYTES)?,
        })
    }
}
impl Encode for Block {
    fn encode_to(&self, w: &mut Writer) {
        self.height.encode_to(w);
        self.parent.encode_to(w);
        self.rank.encode_to(w);
        self.maker.encode_to(w);
        self.time.encode_to(w);
        self.randomness.encode_to(w);
        self.payload.encode_to(w);
    }
}
impl Decode for Block {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Block {
            height: Height::decode_from(r)?,
            parent: BlockHash::decode_from(r)?,
            rank: Rank::decode_from(r)?,
            maker: NodeIndex::decode_from(r)?,
            time: Time::decode_from(r)?,
            randomness: Digest::decode_from(r)?,
            payload: Payload::decode_from(r)?,
        })
    }
}
impl Encode for SignedBlock {
    fn encode_to(&self, w: &mut Writer) {
        self.block.encode_to(w);
        self.signature.encode_to(w);
    }
}
impl Decode for SignedBlock {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(SignedBlock {
            block: Block::decode_from(r)?,
            signature: NodeSignature::decode_from(r)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;

    fn limits() -> PayloadLimits {
        PayloadLimits {
            max_block_bytes: 200,
            max_ingress_count: 3,
            max_ingress_bytes: 50,
            max_xnet_bytes: 10,
            max_ingress_ttl: Duration::from_secs(10),
        }
    }

    fn msg(id: u8, expiry_s: u64, len: usize) -> IngressMessage {
        IngressMessage {
            id: MessageId([id; 32]),
            expiry: Time::from_millis(expiry_s * 1000),
            content: alloc::vec![0; len],
        }
    }

    #[test]
    fn payload_rules() {
        let t = Time::from_millis(100_000);
        let ok = Payload {
            ingress: alloc::vec![msg(1, 101, 10), msg(2, 105, 10)],
            xnet: alloc::vec![1; 10],
        };
        assert_eq!(validate_payload(&ok, t, &limits(), |_| false), Ok(()));
        assert_eq!(
            validate_payload(&ok, t, &limits(), |id| id.0[0] == 2),
            Err(PayloadError::Duplicate)
        );
        let dup = Payload {
            ingress: alloc::vec![msg(1, 101, 1), msg(1, 101, 1)],
            xnet: alloc::vec![],
        };
        assert_eq!(
            validate_payload(&dup, t, &limits(), |_| false),
            Err(PayloadError::Duplicate)
        );
        let expired = Payload {
            ingress: alloc::vec![msg(1, 99, 1)],
            xnet: alloc::vec![],
        };
        assert_eq!(
            validate_payload(&expired, t, &limits(), |_| false),
            Err(PayloadError::Expired)
        );
        let far = Payload {
            ingress: alloc::vec![msg(1, 111, 1)],
            xnet: alloc::vec![],
        };
        assert_eq!(
            validate_payload(&far, t, &limits(), |_| false),
            Err(PayloadError::ExpiryTooFar)
        );
        let big = Payload {
            ingress: alloc::vec![msg(1, 101, 51)],
            xnet: alloc::vec![],
        };
        assert_eq!(
            validate_payload(&big, t, &limits(), |_| false),
            Err(PayloadError::IngressTooLarge)
        );
        let many = Payload {
            ingress: (0..4).map(|i| msg(i, 101, 1)).collect(),
            xnet: alloc::vec![],
        };
        assert_eq!(
            validate_payload(&many, t, &limits(), |_| false),
            Err(PayloadError::TooManyIngress)
        );
        let total = Payload {
            ingress: (0..3).map(|i| msg(i, 101, 40)).collect(),
            xnet: alloc::vec![],
        };
        assert_eq!(
            validate_payload(&total, t, &limits(), |_| false),
            Err(PayloadError::BlockTooLarge)
        );
        let xnet = Payload {
            ingress: alloc::vec![],
            xnet: alloc::vec![0; 11],
        };
        assert_eq!(
            validate_payload(&xnet, t, &limits(), |_| false),
            Err(PayloadError::XnetTooLarge)
        );
    }

    #[test]
    fn block_roundtrips_and_hash_covers_payload() {
        let mut b = Block::genesis(Time::from_millis(5));
        b.payload.ingress.push(msg(3, 9, 4));
        let bytes = b.to_bytes();
        assert_eq!(Block::from_bytes(&bytes), Ok(b.clone()));
        let h = b.hash();
        b.payload.xnet.push(1);
        assert_ne!(h, b.hash());
        for cut in 0..bytes.len() {
            assert!(Block::from_bytes(&bytes[..cut]).is_err());
        }
    }
}
