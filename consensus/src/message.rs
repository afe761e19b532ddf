//! Everything nodes send each other, and its wire format: a version byte, a tag, the body.
//! Artifacts authenticate themselves (maker signatures, votes, threshold shares and
//! signatures); control messages are wrapped in [`SignedControl`], signed by the sender.

use alloc::vec::Vec;

use crate::announce::BlockAnnouncement;
use crate::beacon::Beacon;
use crate::block::{Block, IngressMessage, SignedBlock};
use crate::certification::Certification;
use crate::codec::{Decode, DecodeError, Encode, Reader, Writer};
use crate::crypto::{NodeSignature, NodeSigner};
use crate::cup::CatchUpPackage;
use crate::share::ThresholdShare;
use crate::types::{BlockHash, Height, NodeIndex, StateHash};
use crate::vote::{Vote, VoteSet};

/// Wire format version.
pub const WIRE_VERSION: u8 = 1;
/// Most blocks in one catch-up segment on the wire.
pub(crate) const WIRE_MAX_SEGMENT: usize = 1024;
/// Most bytes in one state chunk.
pub const MAX_CHUNK_BYTES: usize = 1 << 20;

/// A node's progress, sent periodically and on reconnect so peers can send what it misses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status {
    /// Finalized height.
    pub finalized: Height,
    /// Height of its catch-up package.
    pub cup: Height,
    /// Height of its current round.
    pub round: Height,
}

/// Request for one chunk of the checkpoint at `height` with root `state_hash`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkRequest {
    /// Checkpoint height (a catch-up package height).
    pub height: Height,
    /// Root the chunks must add up to.
    pub state_hash: StateHash,
    /// Which chunk.
    pub index: u32,
}

/// One chunk of a checkpoint; the driver checks it against the manifest under `state_hash`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chunk {
    /// Checkpoint height.
    pub height: Height,
    /// Checkpoint root.
    pub state_hash: StateHash,
    /// Which chunk.
    pub index: u32,
    /// How many chunks the checkpoint has.
    pub total: u32,
    /// Content, at most [`MAX_CHUNK_BYTES`].
    pub data: Vec<u8>,
}

/// Messages about the connection rather than the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Control {
    /// Progress report.
    Status(Status),
    /// "Send me this block" (after seeing its notarization or finalization).
    BlockRequest { height: Height, hash: BlockHash },
    /// An ingress message the sender accepted.
    Ingress(IngressMessage),
    /// State sync request.
    ChunkRequest(ChunkRequest),
    /// State sync response.
    Chunk(Chunk),
}

/// A control message signed by its sender.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedControl {
    /// The sender, which must be the peer it arrived from.
    pub sender: NodeIndex,
    /// Content.
    pub body: Control,
    /// The sender's signature over the encoded body.
    pub signature: NodeSignature,
}

impl SignedControl {
    fn signing_bytes(sender: NodeIndex, body: &Control) -> Vec<u8> {
        let mut w = Writer::new();
        w.fixed(b"keel-control");
        sender.encode_to(&mut w);
        body.encode_to(&mut w);
        w.into_bytes()
    }

    /// Signs `body` as `sender`.
    pub fn sign(sender: NodeIndex, body: Control, s: &impl NodeSigner) -> Self {
        let signature = s.node_sign(&Self::signing_bytes(sender, &body));
        SignedControl {
            sender,
            body,
            signature,
        }
    }

    /// Whether the sender signed it.
    pub fn verify(&self, s: &impl NodeSigner) -> bool {
        s.node_verify(
            self.sender,
            &Self::signing_bytes(self.sender, &self.body),
            &self.signature,
        )
    }
}

/// Finalized blocks a lagging peer is missing: consecutive blocks with their beacons, the
/// last one finalized by `finalization`. The hash chain makes the proof cover all of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FinalizedSegment {
    /// `(block, beacon)` at consecutive heights.
    pub entries: Vec<(Block, Beacon)>,
    /// Finalization of the last block.
    pub finalization: VoteSet,
}

/// Any consensus message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// A block proposal.
    Block(SignedBlock),
    /// A notarization or finalization vote.
    Vote(Vote),
    /// A notarization or finalization.
    VoteSet(VoteSet),
    /// A threshold signature share.
    Share(ThresholdShare),
    /// A random beacon.
    Beacon(Beacon),
    /// A state certification.
    Certification(Certification),
    /// A catch-up package.
    Cup(CatchUpPackage),
    /// Finalized blocks for a lagging peer.
    Segment(FinalizedSegment),
    /// A signed control message.
    Control(SignedControl),
    /// A block carrying ingress, as broadcast: its messages by id ([`crate::announce`]).
    Announce(BlockAnnouncement),
}

impl Message {
    /// The wire bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u8(WIRE_VERSION);
        self.encode_to(&mut w);
        w.into_bytes()
    }

    /// The wire bytes for all peers: a block with ingress goes as its announcement, since
    /// every peer already received the ingress itself.
    pub fn encode_broadcast(&self) -> Vec<u8> {
        match self {
            Message::Block(sb) => match BlockAnnouncement::of(sb) {
                Some(a) => Message::Announce(a).encode(),
                None => self.encode(),
            },
            m => m.encode(),
        }
    }

    /// Parses wire bytes; never panics.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        if r.u8()? != WIRE_VERSION {
            return Err(DecodeError::Invalid);
        }
        let m = Message::decode_from(&mut r)?;
        r.finish()?;
        Ok(m)
    }
}

impl Encode for Control {
    fn encode_to(&self, w: &mut Writer) {
        match self {
            Control::Status(s) => {
                w.u8(0);
                s.finalized.encode_to(w);
                s.cup.encode_to(w);
                s.round.encode_to(w);
            }
            Control::BlockRequest { height, hash } => {
                w.u8(1);
                height.encode_to(w);
                hash.encode_to(w);
            }
            Control::Ingress(m) => {
                w.u8(2);
                m.encode_to(w);
            }
            Control::ChunkRequest(c) => {
                w.u8(3);
                c.height.encode_to(w);
                c.state_hash.encode_to(w);
                w.u32(c.index);
            }
            Control::Chunk(c) => {
                w.u8(4);
                c.height.encode_to(w);
                c.state_hash.encode_to(w);
                w.u32(c.index);
                w.u32(c.total);
                w.bytes(&c.data);
            }
        }
    }
}
impl Decode for Control {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(match r.u8()? {
            0 => Control::Status(Status {
                finalized: Height::decode_from(r)?,
                cup: Height::decode_from(r)?,
                round: Height::decode_from(r)?,
            }),
            1 => Control::BlockRequest {
                height: Height::decode_from(r)?,
                hash: BlockHash::decode_from(r)?,
            },
            2 => Control::Ingress(IngressMessage::decode_from(r)?),
            3 => Control::ChunkRequest(ChunkRequest {
                height: Height::decode_from(r)?,
                state_hash: StateHash::decode_from(r)?,
                index: r.u32()?,
            }),
            4 => Control::Chunk(Chunk {
                height: Height::decode_from(r)?,
                state_hash: StateHash::decode_from(r)?,
                index: r.u32()?,
                total: r.u32()?,
                data: r.bytes(MAX_CHUNK_BYTES)?,
            }),
            t => return Err(DecodeError::UnknownTag(t)),
        })
    }
}
impl Encode for SignedControl {
    fn encode_to(&self, w: &mut Writer) {
        self.sender.encode_to(w);
        self.body.encode_to(w);
        self.signature.encode_to(w);
    }
}
impl Decode for SignedControl {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(SignedControl {
            sender: NodeIndex::decode_from(r)?,
            body: Control::decode_from(r)?,
            signature: NodeSignature::decode_from(r)?,
        })
    }
}
impl Encode for (Block, Beacon) {
    fn encode_to(&self, w: &mut Writer) {
        self.0.encode_to(w);
        self.1.encode_to(w);
    }
}
impl Decode for (Block, Beacon) {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok((Block::decode_from(r)?, Beacon::decode_from(r)?))
    }
}
impl Encode for Message {
    fn encode_to(&self, w: &mut Writer) {
        match self {
            Message::Block(b) => {
                w.u8(1);
                b.encode_to(w);
            }
            Message::Vote(v) => {
                w.u8(2);
                v.encode_to(w);
            }
            Message::VoteSet(v) => {
                w.u8(3);
                v.encode_to(w);
            }
            Message::Share(s) => {
                w.u8(4);
                s.encode_to(w);
            }
            Message::Beacon(b) => {
                w.u8(5);
                b.encode_to(w);
            }
            Message::Certification(c) => {
                w.u8(6);
                c.encode_to(w);
            }
            Message::Cup(c) => {
                w.u8(7);
                c.encode_to(w);
            }
            Message::Segment(s) => {
                w.u8(8);
                w.list(&s.entries);
                s.finalization.encode_to(w);
            }
            Message::Control(c) => {
                w.u8(9);
                c.encode_to(w);
            }
            Message::Announce(a) => {
                w.u8(10);
                a.encode_to(w);
            }
        }
    }
}
impl Decode for Message {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(match r.u8()? {
            1 => Message::Block(SignedBlock::decode_from(r)?),
            2 => Message::Vote(Vote::decode_from(r)?),
            3 => Message::VoteSet(VoteSet::decode_from(r)?),
            4 => Message::Share(ThresholdShare::decode_from(r)?),
            5 => Message::Beacon(Beacon::decode_from(r)?),
            6 => Message::Certification(Certification::decode_from(r)?),
            7 => Message::Cup(CatchUpPackage::decode_from(r)?),
            8 => Message::Segment(FinalizedSegment {
                entries: r.list(WIRE_MAX_SEGMENT)?,
                finalization: VoteSet::decode_from(r)?,
            }),
            9 => Message::Control(SignedControl::decode_from(r)?),
            10 => Message::Announce(BlockAnnouncement::decode_from(r)?),
            t => return Err(DecodeError::UnknownTag(t)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{GenesisDealing, NodeSignature, SigShare, ThresholdSignature};
    use crate::hashsig::HashSig;
    use crate::share::ShareKind;
    use crate::sim::Rng;
    use crate::types::{Digest, MessageId, Rank, Time};
    use crate::vote::VoteKind;

    fn samples() -> Vec<Message> {
        let d = GenesisDealing::deal::<HashSig>([2; 32], 4, 3).unwrap();
        let k: HashSig = d.node(NodeIndex::new(1)).unwrap();
        let mut block = Block::genesis(Time::from_millis(9));
        block.height = Height::new(3);
        block.rank = Rank::new(2);
        block.payload.ingress.push(IngressMessage {
            id: MessageId([4; 32]),
            expiry: Time::from_millis(99),
            content: alloc::vec![1, 2],
        });
        block.payload.xnet = alloc::vec![7; 5];
        let beacon = Beacon {
            height: Height::new(3),
            signature: ThresholdSignature([5; 48]),
        };
        let set = VoteSet {
            kind: VoteKind::Finalization,
            height: Height::new(3),
            block: block.hash(),
            signatures: alloc::vec![
                (NodeIndex::new(0), NodeSignature([1; 64])),
                (NodeIndex::new(2), NodeSignature([2; 64]))
            ],
        };
        let ctl = |body| Message::Control(SignedControl::sign(NodeIndex::new(1), body, &k));
        alloc::vec![
            Message::Block(SignedBlock {
                block: block.clone(),
                signature: NodeSignature([3; 64])
            }),
            Message::Vote(Vote::sign(
                VoteKind::Notarization,
                Height::new(3),
                block.hash(),
                NodeIndex::new(1),
                &k
            )),
            Message::VoteSet(set.clone()),
            Message::Share(ThresholdShare {
                kind: ShareKind::CatchUp,
                height: Height::new(8),
                subject: Digest([6; 32]),
                signer: NodeIndex::new(3),
                share: SigShare([8; 48]),
            }),
            Message::Beacon(beacon),
            Message::Certification(Certification {
                height: Height::new(2),
                state_hash: StateHash([9; 32]),
                signature: ThresholdSignature([1; 48])
            }),
            Message::Cup(crate::cup::CatchUpPackage::genesis(
                block.clone(),
                StateHash([3; 32]),
                b"pk"
            )),
            Message::Segment(FinalizedSegment {
                entries: alloc::vec![(block, beacon)],
                finalization: set
            }),
            ctl(Control::Status(Status {
                finalized: Height::new(1),
                cup: Height::ZERO,
                round: Height::new(2)
            })),
            ctl(Control::BlockRequest {
                height: Height::new(1),
                hash: BlockHash([1; 32])
            }),
            ctl(Control::ChunkRequest(ChunkRequest {
                height: Height::new(4),
                state_hash: StateHash([2; 32]),
                index: 7
            })),
            ctl(Control::Chunk(Chunk {
                height: Height::new(4),
                state_hash: StateHash([2; 32]),
                index: 7,
                total: 9,
                data: alloc::vec![0; 33]
            })),
        ]
    }

    #[test]
    fn every_message_roundtrips() {
        for m in samples() {
            assert_eq!(Message::decode(&m.encode()), Ok(m));
        }
    }

    #[test]
    fn control_signatures_bind_the_sender() {
        let d = GenesisDealing::deal::<HashSig>([2; 32], 4, 3).unwrap();
        let k: HashSig = d.node(NodeIndex::new(1)).unwrap();
        let mut c = SignedControl::sign(
            NodeIndex::new(1),
            Control::Status(Status {
                finalized: Height::ZERO,
                cup: Height::ZERO,
                round: Height::ZERO,
            }),
            &k,
        );
        assert!(c.verify(&k));
        c.sender = NodeIndex::new(2);
        assert!(!c.verify(&k));
    }

    #[test]
    fn garbage_and_mutations_never_panic() {
        let mut rng = Rng::new(11);
        let samples: Vec<Vec<u8>> = samples().iter().map(Message::encode).collect();
        for round in 0..20_000 {
            let mut bytes = match samples.get(round % (samples.len() + 1)) {
                Some(s) => s.clone(),
                None => {
                    let len = rng.range(0, 300) as usize;
                    rng.bytes(len)
                }
            };
            for _ in 0..rng.range(1, 4) {
                if bytes.is_empty() {
                    break;
                }
                let i = rng.index(bytes.len());
                match rng.range(0, 2) {
                    0 => bytes[i] = rng.next_u64() as u8,
                    1 => bytes.truncate(i),
                    _ => bytes.insert(i, rng.next_u64() as u8),
                }
            }
            if let Ok(m) = Message::decode(&bytes) {
                // Whatever decodes re-encodes to the same bytes: the format is canonical.
                assert_eq!(m.encode(), bytes);
            }
        }
        assert!(Message::decode(&[]).is_err());
        assert_eq!(
            Message::decode(&[WIRE_VERSION, 200]),
            Err(DecodeError::UnknownTag(200))
        );
    }
}
