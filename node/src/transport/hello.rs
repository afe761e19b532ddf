//! The hello both ends send first, unauthenticated: the handshake signatures cover it
//! later, so any change in transit makes the receiving end fail.
//!
//! `magic "KEEL" · version: u16 BE · role: u8 · subnet tag [32] · sender: u32 BE ·
//! X25519 ephemeral public key [32] · nonce [32]` = 107 bytes.

use alloc::vec::Vec;

use keel_consensus::NodeIndex;

use super::{ChannelError, PROTOCOL_VERSION};

/// First bytes of every connection, so a stray client fails at once.
const MAGIC: [u8; 4] = *b"KEEL";
/// Bytes of an encoded hello.
pub(super) const HELLO_LEN: usize = 4 + 2 + 1 + 32 + 4 + 32 + 32;

/// Which end of the TCP connection a hello comes from. It is part of what each end signs,
/// so one end's signature can never be replayed as the other's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Side {
    /// The end that dialled.
    Initiator = 0,
    /// The end that accepted.
    Responder = 1,
}

impl Side {
    /// The other end.
    pub(super) fn opposite(self) -> Side {
        match self {
            Side::Initiator => Side::Responder,
            Side::Responder => Side::Initiator,
        }
    }
}

/// A decoded hello.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Hello {
    pub(super) side: Side,
    pub(super) subnet_tag: [u8; 32],
    pub(super) sender: NodeIndex,
    pub(super) ephemeral: [u8; 32],
    pub(super) nonce: [u8; 32],
}

impl Hello {
    /// The wire bytes, always [`HELLO_LEN`] long.
    pub(super) fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(HELLO_LEN);
        v.extend_from_slice(&MAGIC);
        v.extend_from_slice(&PROTOCOL_VERSION.to_be_bytes());
        v.push(self.side as u8);
        v.extend_from_slice(&self.subnet_tag);
        v.extend_from_slice(&self.sender.get().to_be_bytes());
        v.extend_from_slice(&self.ephemeral);
        v.extend_from_slice(&self.nonce);
        v
    }

    /// Parses exactly one hello; checks only the framing (magic, version, role byte).
    pub(super) fn decode(bytes: &[u8]) -> Result<Hello, ChannelError> {
        let mut r = Cursor(bytes);
        if r.take::<4>()? != MAGIC {
            return Err(ChannelError::Malformed);
        }
        let theirs = u16::from_be_bytes(r.take()?);
        if theirs != PROTOCOL_VERSION {
            return Err(ChannelError::VersionMismatch {
                ours: PROTOCOL_VERSION,
                theirs,
            });
        }
        let side = match r.take::<1>()? {
            [0] => Side::Initiator,
            [1] => Side::Responder,
            _ => return Err(ChannelError::Malformed),
        };
        let hello = Hello {
            side,
            subnet_tag: r.take()?,
            sender: NodeIndex::new(u32::from_be_bytes(r.take()?)),
            ephemeral: r.take()?,
            nonce: r.take()?,
        };
        match r.0 {
            [] => Ok(hello),
            _ => Err(ChannelError::Malformed),
        }
    }
}

/// Reads fixed-size fields off the front of a slice, failing instead of panicking.
struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], ChannelError> {
        let (head, rest) = self
            .0
            .split_first_chunk::<N>()
            .ok_or(ChannelError::Malformed)?;
        self.0 = rest;
        Ok(*head)
    }
}
