//! Everything nodes send each other, and its wire format: a version byte, a tag, the body.
//! Artifacts authenticate themselves (maker signatures, votes, threshold shares and
//! signatures); control messages are wrapped in [`SignedControl`], signed by the sender.

use alloc::vec::Vec;

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
const WIRE_MAX_SEGMENT: usize = 1024;
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
        SignedControl { sender, body, signature }
    }

    /// Whether the sender signed it.
    pub fn verify(&self, s: &impl NodeSigner) -> bool {
        s.node_verify(self.sender, &Self::signing_bytes(self.sender, &self.body), &self.signature)
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
}

impl Message {
    /// The wire bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u8(WIRE_VERSION);
        self.encode_to(&mut w);
        w.into_bytes()
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
            1 => Control::BlockRequest { height: Height::decode_from(r)?, hash: BlockHash::decode_from(r)? },
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
            t => return Err(DecodeError::UnknownTag(t)),
        })
    }
}
