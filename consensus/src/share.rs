//! Threshold signature shares. The subnet key signs three things — the random beacon, each
//! certified state root and each catch-up package — and a share names which, at what height,
//! over what subject digest.

use alloc::vec::Vec;

use crate::codec::{Decode, DecodeError, Encode, Reader, Writer};
use crate::crypto::SigShare;
use crate::types::{Digest, Height, NodeIndex};

/// IC domain separator for state certification (length byte 13, then the name). Signing
/// `\x0Dic-state-root · root_hash` makes the combined signature an IC certificate signature.
pub const STATE_ROOT_DOMAIN: &[u8] = b"\x0Dic-state-root";

/// What a threshold signature is over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ShareKind {
    /// Subject: the previous beacon's digest.
    Beacon,
    /// Subject: the state root hash.
    Certification,
    /// Subject: the catch-up package content digest.
    CatchUp,
}

impl ShareKind {
    /// The exact bytes signed.
    pub fn signing_bytes(self, height: Height, subject: &Digest) -> Vec<u8> {
        match self {
            ShareKind::Beacon => crate::beacon::Beacon::signing_bytes(height, subject),
            ShareKind::Certification => {
                let mut v = Vec::from(STATE_ROOT_DOMAIN);
                v.extend_from_slice(&subject.0);
                v
            }
            ShareKind::CatchUp => {
                let mut v = Vec::from(&b"keel-catch-up-package"[..]);
                v.extend_from_slice(&height.get().to_be_bytes());
                v.extend_from_slice(&subject.0);
                v
            }
        }
    }

    fn tag(self) -> u8 {
        match self {
            ShareKind::Beacon => 0,
            ShareKind::Certification => 1,
            ShareKind::CatchUp => 2,
        }
    }
}

/// One node's share of a threshold signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThresholdShare {
    /// What is signed.
    pub kind: ShareKind,
    /// At which height.
    pub height: Height,
    /// Over which subject.
    pub subject: Digest,
    /// Who signed; the share itself authenticates them.
    pub signer: NodeIndex,
    /// The share.
    pub share: SigShare,
}

impl Encode for ThresholdShare {
    fn encode_to(&self, w: &mut Writer) {
        w.u8(self.kind.tag());
        self.height.encode_to(w);
        self.subject.encode_to(w);
        self.signer.encode_to(w);
        self.share.encode_to(w);
    }
}
impl Decode for ThresholdShare {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let kind = match r.u8()? {
            0 => ShareKind::Beacon,
            1 => ShareKind::Certification,
            2 => ShareKind::CatchUp,
            t => return Err(DecodeError::UnknownTag(t)),
        };
        Ok(ThresholdShare {
            kind,
            height: Height::decode_from(r)?,
            subject: Digest::decode_from(r)?,
            signer: NodeIndex::decode_from(r)?,
            share: SigShare::decode_from(r)?,
        })
    }
}

impl<C: crate::crypto::Crypto> crate::node::ConsensusNode<C> {
    /// A threshold share from a peer: kept if its height is one we still collect for and the
    /// share verifies for its signer.
    pub(crate) fn on_share(&mut self, from: NodeIndex, s: ThresholdShare) {
        if !self.cfg.size.contains(s.signer) {
            return self.misbehaved(from, crate::node::Misbehavior::NotAMember);
        }
        let (floor, ceiling) = match s.kind {
            ShareKind::Beacon => (
                self.finalized_height(),
                self.finalized_height().plus(self.cfg.window),
            ),
            ShareKind::Certification => (
                self.certifier.latest,
                self.certifier.latest.plus(self.cfg.window),
            ),
            ShareKind::CatchUp => (
                self.cup.height(),
                self.finalized_height().plus(self.cfg.window),
            ),
        };
        if s.height <= floor || s.height > ceiling {
            self.stats.over_limit += 1;
            return;
        }
        let collector = match s.kind {
            ShareKind::Beacon => &self.beacon_shares,
            ShareKind::Certification => &self.cert_shares,
            ShareKind::CatchUp => &self.cup_shares,
        };
        if collector.contains(s.height, &s.subject, s.signer) {
            return;
        }
        if !self.crypto.share_verify(
            s.signer,
            &s.kind.signing_bytes(s.height, &s.subject),
            &s.share,
        ) {
            return self.misbehaved(from, crate::node::Misbehavior::BadSignature);
        }
        let collector = match s.kind {
            ShareKind::Beacon => &mut self.beacon_shares,
            ShareKind::Certification => &mut self.cert_shares,
            ShareKind::CatchUp => &mut self.cup_shares,
        };
        if collector.insert(s.height, s.subject, s.signer, s.share)
            == crate::pool::Insert::OverLimit
        {
            self.stats.over_limit += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certification_signs_the_ic_domain() {
        let b = ShareKind::Certification.signing_bytes(Height::new(3), &Digest([9; 32]));
        assert_eq!(&b[..14], b"\x0Dic-state-root");
        assert_eq!(b.len(), 14 + 32);
        assert_ne!(
            ShareKind::CatchUp.signing_bytes(Height::new(3), &Digest([9; 32])),
            ShareKind::CatchUp.signing_bytes(Height::new(4), &Digest([9; 32]))
        );
    }
}
