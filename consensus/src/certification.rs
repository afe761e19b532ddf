//! State certification: after the driver executes a finalized height it reports the state
//! root; every node signs a threshold share over `\x0Dic-state-root · root`, and `n − f`
//! shares combine into the certificate signature clients verify against the subnet key.

use alloc::collections::BTreeMap;

use crate::codec::{Decode, DecodeError, Encode, Reader, Writer};
use crate::crypto::{ThresholdScheme, ThresholdSignature};
use crate::share::ShareKind;
use crate::types::{Digest, Height, StateHash};

/// A certified state root.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Certification {
    /// The executed height.
    pub height: Height,
    /// The state root hash.
    pub state_hash: StateHash,
    /// The subnet's signature over `\x0Dic-state-root · state_hash`.
    pub signature: ThresholdSignature,
}

impl Certification {
    /// The bytes signed.
    pub fn signing_bytes(height: Height, root: &StateHash) -> alloc::vec::Vec<u8> {
        ShareKind::Certification.signing_bytes(height, &Digest(root.0))
    }

    /// Whether the subnet key signed it.
    pub fn verify(&self, t: &impl ThresholdScheme) -> bool {
        t.threshold_verify(
            &Self::signing_bytes(self.height, &self.state_hash),
            &self.signature,
        )
    }
}

/// One node's view of certification: roots it executed but has not yet certified, and
/// certified roots since the last catch-up package (which the next package needs).
#[derive(Default)]
pub(crate) struct Certifier {
    /// Executed, not yet certified.
    pub executed: BTreeMap<Height, StateHash>,
    /// Certifications received before the matching local execution, by height.
    pub received: BTreeMap<Height, Certification>,
    /// Certified roots above the catch-up package height.
    pub certified: BTreeMap<Height, StateHash>,
    /// Highest certified height (or the catch-up package height).
    pub latest: Height,
    /// The certification of `latest`, re-broadcast for peers whose shares were lost.
    pub last: Option<Certification>,
}

impl Certifier {
    /// Starts from a certified height (that of a catch-up package).
    pub fn at(height: Height) -> Self {
        Certifier {
            latest: height,
            ..Default::default()
        }
    }

    /// Records a certification as done and forgets what it supersedes.
    pub fn mark_certified(&mut self, c: &Certification) {
        self.certified.insert(c.height, c.state_hash);
        if c.height > self.latest {
            self.latest = c.height;
            self.last = Some(*c);
        }
        self.executed.retain(|h, _| *h > c.height);
        self.received.retain(|h, _| *h > c.height);
    }

    /// Forgets certified roots at or below a new catch-up package.
    pub fn prune(&mut self, cup: Height) {
        self.certified.retain(|h, _| *h > cup);
        if self.latest < cup {
            self.latest = cup;
        }
        self.executed.retain(|h, _| *h > cup);
        self.received.retain(|h, _| *h > cup);
    }
}

impl Encode for Certification {
    fn encode_to(&self, w: &mut Writer) {
        self.height.encode_to(w);
        self.state_hash.encode_to(w);
        self.signature.encode_to(w);
    }
}
impl Decode for Certification {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Certification {
            height: Height::decode_from(r)?,
            state_hash: StateHash::decode_from(r)?,
            signature: ThresholdSignature::decode_from(r)?,
        })
    }
}

impl<C: crate::crypto::Crypto> crate::node::ConsensusNode<C> {
    /// Records an executed root and shares its certification.
    pub(crate) fn record_execution(&mut self, h: Height, root: StateHash) {
        if h <= self.certifier.latest || self.certifier.executed.contains_key(&h) {
            return;
        }
        self.certifier.executed.insert(h, root);
        let subject = Digest(root.0);
        let share = self
            .crypto
            .share_sign(&Certification::signing_bytes(h, &root));
        self.cert_shares.insert(h, subject, self.me, share);
        let s = crate::share::ThresholdShare {
            kind: ShareKind::Certification,
            height: h,
            subject,
            signer: self.me,
            share,
        };
        self.out.push(crate::node::Output::Broadcast(
            crate::message::Message::Share(s),
        ));
    }

    /// A certification from a peer, used once we executed the same root.
    pub(crate) fn on_certification(&mut self, from: crate::types::NodeIndex, c: Certification) {
        let latest = self.certifier.latest;
        if c.height <= latest
            || c.height > latest.plus(self.cfg.window)
            || self.certifier.received.contains_key(&c.height)
        {
            return;
        }
        if !c.verify(&self.crypto) {
            return self.misbehaved(from, crate::node::Misbehavior::BadSignature);
        }
        self.certifier.received.insert(c.height, c);
    }

    /// Certifies the lowest executed height that has a certification or enough shares.
    pub(crate) fn step_certification(&mut self) -> bool {
        let quorum = self.cfg.size.quorum();
        let executed: alloc::vec::Vec<(Height, StateHash)> = self
            .certifier
            .executed
            .iter()
            .map(|(h, r)| (*h, *r))
            .collect();
        for (h, root) in executed {
            let cert = match self.certifier.received.get(&h) {
                Some(c) if c.state_hash == root => Some(*c),
                _ => {
                    let subject = Digest(root.0);
                    if self.cert_shares.count(h, &subject) < quorum {
                        None
                    } else {
                        let shares = self.cert_shares.shares(h, &subject);
                        self.crypto
                            .combine(&Certification::signing_bytes(h, &root), &shares)
                            .ok()
                            .map(|signature| Certification {
                                height: h,
                                state_hash: root,
                                signature,
                            })
                    }
                }
            };
            if let Some(c) = cert {
                self.certifier.mark_certified(&c);
                self.cert_shares.purge_through(h);
                self.out.push(crate::node::Output::Certified(c));
                return true;
            }
        }
        false
    }
}
