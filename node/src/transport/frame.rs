//! Frames after the handshake: `len: u32 BE · payload · tag: [u8; 32]`, where the tag is
//! HMAC-SHA256 under the direction's key over `seq: u64 BE · len · payload`. The sequence
//! number is never sent: each end counts frames, so a replayed, dropped or reordered frame
//! is checked against the wrong number and fails like a tampered one.

use alloc::vec::Vec;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{ChannelError, MAX_FRAME_PAYLOAD};

/// Bytes of the length prefix.
pub const HEADER_LEN: usize = 4;
/// Bytes of the tag after the payload.
pub const TAG_LEN: usize = 32;

/// The keyed MAC of one direction (keyed once, cloned per frame) and its next sequence number.
#[derive(Clone)]
pub(super) struct FrameMac {
    mac: Hmac<Sha256>,
    seq: u64,
}

impl FrameMac {
    /// Starts the direction at sequence number 0.
    pub(super) fn new(mac: Hmac<Sha256>) -> FrameMac {
        FrameMac { mac, seq: 0 }
    }

    /// The MAC state over `seq · header · payload` for the current frame.
    fn tagger(&self, header: [u8; HEADER_LEN], payload: &[u8]) -> Hmac<Sha256> {
        let mut m = self.mac.clone();
        m.update(&self.seq.to_be_bytes());
        m.update(&header);
        m.update(payload);
        m
    }

    /// Moves to the next frame; fails rather than ever reusing a number.
    fn advance(&mut self) -> Result<(), ChannelError> {
        self.seq = self
            .seq
            .checked_add(1)
            .ok_or(ChannelError::SequenceExhausted)?;
        Ok(())
    }
}

/// The length prefix of a payload, if it is within the limit.
fn header_of(len: usize) -> Result<[u8; HEADER_LEN], ChannelError> {
    match u32::try_from(len) {
        Ok(n) if len <= MAX_FRAME_PAYLOAD => Ok(n.to_be_bytes()),
        _ => Err(ChannelError::FrameTooLarge(len as u64)),
    }
}

/// Appends the frame of `payload` to `out` and advances the sending direction.
pub(super) fn seal(
    tx: &mut FrameMac,
    payload: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), ChannelError> {
    let header = header_of(payload.len())?;
    let tag = tx.tagger(header, payload).finalize().into_bytes();
    tx.advance()?;
    out.reserve(HEADER_LEN + payload.len() + TAG_LEN);
    out.extend_from_slice(&header);
    out.extend_from_slice(payload);
    out.extend_from_slice(&tag);
    Ok(())
}

/// Reassembles and verifies incoming frames from arbitrarily split bytes. It holds at most
/// one frame: the header, then the payload and tag, grown only as bytes actually arrive.
pub(super) struct Opener {
    rx: FrameMac,
    header: [u8; HEADER_LEN],
    header_filled: usize,
    /// Payload then tag of the current frame, once its header is known.
    body: Vec<u8>,
    payload_len: usize,
}

impl Opener {
    /// An opener for the receiving direction keyed by `rx`.
    pub(super) fn new(rx: FrameMac) -> Opener {
        Opener {
            rx,
            header: [0; HEADER_LEN],
            header_filled: 0,
            body: Vec::new(),
            payload_len: 0,
        }
    }

    /// Consumes bytes up to the end of the current frame at most. Returns how many were used
    /// and the verified payload if the frame completed.
    pub(super) fn push(&mut self, bytes: &[u8]) -> Result<(usize, Option<Vec<u8>>), ChannelError> {
        if self.header_filled < HEADER_LEN {
            return self.push_header(bytes).map(|n| (n, None));
        }
        let want = self.payload_len + TAG_LEN - self.body.len();
        let n = want.min(bytes.len());
        self.reserve(n);
        self.body.extend_from_slice(&bytes[..n]);
        if self.body.len() < self.payload_len + TAG_LEN {
            return Ok((n, None));
        }
        self.finish().map(|payload| (n, Some(payload)))
    }

    /// Grows the body geometrically as bytes arrive but never past the announced frame, so
    /// memory follows what the peer really sent and a payload carries no slack.
    fn reserve(&mut self, n: usize) {
        let needed = self.body.len() + n;
        if needed > self.body.capacity() {
            let total = self.payload_len + TAG_LEN;
            let target = needed
                .max(self.body.capacity().saturating_mul(2))
                .min(total);
            self.body.reserve_exact(target - self.body.len());
        }
    }

    /// Fills the length prefix and checks it before anything of that size is buffered.
    fn push_header(&mut self, bytes: &[u8]) -> Result<usize, ChannelError> {
        let n = (HEADER_LEN - self.header_filled).min(bytes.len());
        self.header[self.header_filled..self.header_filled + n].copy_from_slice(&bytes[..n]);
        self.header_filled += n;
        if self.header_filled == HEADER_LEN {
            let len = u32::from_be_bytes(self.header) as usize;
            if len > MAX_FRAME_PAYLOAD {
                return Err(ChannelError::FrameTooLarge(len as u64));
            }
            self.payload_len = len;
        }
        Ok(n)
    }

    /// Verifies the complete frame in constant time and hands out its payload.
    fn finish(&mut self) -> Result<Vec<u8>, ChannelError> {
        let (payload, tag) = self.body.split_at(self.payload_len);
        self.rx
            .tagger(self.header, payload)
            .verify_slice(tag)
            .map_err(|_| ChannelError::BadMac)?;
        self.rx.advance()?;
        self.body.truncate(self.payload_len);
        self.header_filled = 0;
        Ok(core::mem::take(&mut self.body))
    }

    /// Bytes reserved for the frame in progress (the test of the length limit reads it).
    #[cfg(test)]
    pub(super) fn buffered_capacity(&self) -> usize {
        self.body.capacity()
    }
}
