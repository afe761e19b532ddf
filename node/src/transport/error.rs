//! Why a channel failed. Every error `Channel::receive` returns is final: the channel stays
//! `Failed` with it and the caller drops the TCP connection. Errors of `Channel::new` and
//! `Channel::send` are the caller's own mistakes and leave an existing channel as it was.

use core::fmt;

use keel_consensus::NodeIndex;

/// A typed reason; coarse where finer detail would only help an attacker probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelError {
    /// Our own configuration is unusable: `me` has no key in the membership, or the node
    /// secret is not the secret of that key.
    BadConfig,
    /// The bytes are not a Keel hello (wrong magic or role byte).
    Malformed,
    /// The peer speaks another protocol version.
    VersionMismatch {
        /// [`super::PROTOCOL_VERSION`].
        ours: u16,
        /// What the peer sent.
        theirs: u16,
    },
    /// The peer belongs to another subnet (different subnet tag).
    WrongSubnet,
    /// Both ends claim the same role: a simultaneous open or a misrouted connection.
    RoleMismatch,
    /// The initiator reached another member than the one it dialled.
    UnexpectedPeer {
        /// The index the initiator dialled.
        expected: NodeIndex,
        /// The index the peer claimed.
        got: NodeIndex,
    },
    /// The index has no key in the membership.
    NotAMember(NodeIndex),
    /// The peer claims our own index (or an initiator was asked to dial itself).
    SelfConnection,
    /// The peer's ephemeral key is not a usable X25519 key (non-canonical or small order).
    KeyExchange,
    /// The peer's handshake signature does not verify under the claimed member's key.
    BadSignature,
    /// A frame length above [`super::MAX_FRAME_PAYLOAD`]; rejected before buffering it.
    FrameTooLarge(u64),
    /// A frame tag does not verify: tampered, replayed, reordered or cut frame.
    BadMac,
    /// 2^64 frames in one direction; the connection must be renewed.
    SequenceExhausted,
    /// `send` before the handshake finished.
    NotEstablished,
}

impl fmt::Display for ChannelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChannelError::BadConfig => f.write_str("own node key or index not in the membership"),
            ChannelError::Malformed => f.write_str("malformed handshake message"),
            ChannelError::VersionMismatch { ours, theirs } => {
                write!(f, "protocol version {theirs}, expected {ours}")
            }
            ChannelError::WrongSubnet => f.write_str("peer belongs to another subnet"),
            ChannelError::RoleMismatch => f.write_str("both ends claim the same role"),
            ChannelError::UnexpectedPeer { expected, got } => {
                write!(f, "dialled {expected}, reached {got}")
            }
            ChannelError::NotAMember(i) => write!(f, "{i} is not a member"),
            ChannelError::SelfConnection => f.write_str("connection to ourselves"),
            ChannelError::KeyExchange => f.write_str("unusable ephemeral key"),
            ChannelError::BadSignature => f.write_str("handshake signature does not verify"),
            ChannelError::FrameTooLarge(n) => write!(f, "frame of {n} bytes is too large"),
            ChannelError::BadMac => f.write_str("frame authentication failed"),
            ChannelError::SequenceExhausted => f.write_str("frame sequence numbers exhausted"),
            ChannelError::NotEstablished => f.write_str("channel not established"),
        }
    }
}
