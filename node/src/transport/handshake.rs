//! The authenticated key exchange: signed ephemeral Diffie–Hellman in the SIGMA style.
//!
//! Both ends send a [`Hello`] at once; on the peer's hello each end computes the X25519
//! secret, hashes the transcript (initiator's hello, then responder's) and sends its Ed25519
//! node signature over `role · initiator index · responder index · transcript hash`. The
//! signature binds the ephemeral keys to a member's long-term key and names both ends, so
//! it cannot be relayed into another connection or reflected as the other role. Session
//! keys come from HKDF-SHA256 over the DH secret salted with the transcript hash, one per
//! direction, so a frame can never be bounced back to its sender.

use alloc::vec::Vec;

use ed25519_compact::x25519;
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use keel_consensus::NodeIndex;
use keel_crypto::ed25519;
use keel_crypto::hash::domain_separated;
use sha2::{Digest, Sha256};

use super::frame::FrameMac;
use super::hello::{Hello, Side};
use super::{ChannelConfig, ChannelError, Role};

/// Bytes of the auth message: one Ed25519 signature.
pub(super) const AUTH_LEN: usize = ed25519::SIGNATURE_LEN;

/// IC-style separator (length byte first) of the signed auth message; node keys also sign
/// consensus artifacts and query responses, none of which can start like this.
const AUTH_DOMAIN: &str = "keel-p2p-v1-auth";
const TRANSCRIPT_DOMAIN: &[u8] = b"keel-p2p-v1-transcript";
const EPHEMERAL_DOMAIN: &[u8] = b"keel-p2p-v1-ephemeral";
const NONCE_DOMAIN: &[u8] = b"keel-p2p-v1-nonce";
const INITIATOR_TO_RESPONDER: &[u8] = b"keel-p2p-v1 initiator to responder";
const RESPONDER_TO_INITIATOR: &[u8] = b"keel-p2p-v1 responder to initiator";

/// Our half of the handshake, until the peer's hello arrives.
pub(super) struct Handshake {
    side: Side,
    me: NodeIndex,
    dialled: Option<NodeIndex>,
    subnet_tag: [u8; 32],
    members: Vec<[u8; 32]>,
    signing: ed25519::SigningKey,
    ephemeral: x25519::SecretKey,
    hello: Vec<u8>,
}

/// The handshake after the peer's hello: who it claims to be and the keys, held back until
/// its signature proves the claim.
pub(super) struct Pending {
    side: Side,
    peer: NodeIndex,
    peer_key: [u8; 32],
    initiator: NodeIndex,
    responder: NodeIndex,
    transcript: [u8; 32],
    keys: SessionKeys,
}

/// The frame MACs of both directions.
#[derive(Clone)]
pub(super) struct SessionKeys {
    pub(super) send: FrameMac,
    pub(super) recv: FrameMac,
}

impl Handshake {
    /// Checks our configuration and builds our hello from the caller's entropy.
    pub(super) fn start(
        config: &ChannelConfig,
        role: Role,
        entropy: [u8; 32],
    ) -> Result<Handshake, ChannelError> {
        // ed25519-compact panics on the all-zero seed, which is no real key anyway.
        if config.node_secret == [0; 32] {
            return Err(ChannelError::BadConfig);
        }
        let signing = ed25519::SigningKey::from_seed(config.node_secret);
        if config.node_public_keys.get(config.me.as_usize()) != Some(&signing.public_key()) {
            return Err(ChannelError::BadConfig);
        }
        let (side, dialled) = match role {
            Role::Initiator { peer } => (Side::Initiator, Some(check_dialled(config, peer)?)),
            Role::Responder => (Side::Responder, None),
        };
        let ephemeral = x25519::SecretKey::new(derive(EPHEMERAL_DOMAIN, &entropy));
        let public = ephemeral
            .recover_public_key()
            .map_err(|_| ChannelError::KeyExchange)?;
        let hello = Hello {
            side,
            subnet_tag: config.subnet_tag,
            sender: config.me,
            ephemeral: *public,
            nonce: derive(NONCE_DOMAIN, &entropy),
        };
        Ok(Handshake {
            side,
            me: config.me,
            dialled,
            subnet_tag: config.subnet_tag,
            members: config.node_public_keys.clone(),
            signing,
            ephemeral,
            hello: hello.encode(),
        })
    }

    /// Our encoded hello.
    pub(super) fn hello(&self) -> &[u8] {
        &self.hello
    }

    /// Checks the peer's hello, derives the session keys and returns our signature to send.
    pub(super) fn on_hello(&self, bytes: &[u8]) -> Result<(Pending, [u8; AUTH_LEN]), ChannelError> {
        let hello = Hello::decode(bytes)?;
        let peer_key = self.check_peer(&hello)?;
        let shared = x25519::PublicKey::from_slice(&hello.ephemeral)
            .and_then(|pk| pk.dh(&self.ephemeral))
            .map_err(|_| ChannelError::KeyExchange)?;
        let (initiator, responder) = match self.side {
            Side::Initiator => (self.me, hello.sender),
            Side::Responder => (hello.sender, self.me),
        };
        let transcript = self.transcript(bytes);
        let keys = session_keys(&shared[..], &transcript, self.side)?;
        let auth = self
            .signing
            .sign(&auth_message(self.side, initiator, responder, &transcript));
        let pending = Pending {
            side: self.side,
            peer: hello.sender,
            peer_key,
            initiator,
            responder,
            transcript,
            keys,
        };
        Ok((pending, auth))
    }

    /// Who may be on the other end: the opposite role, our subnet, another member, and for
    /// an initiator exactly the member it dialled. Returns that member's public key.
    fn check_peer(&self, hello: &Hello) -> Result<[u8; 32], ChannelError> {
        if hello.side != self.side.opposite() {
            return Err(ChannelError::RoleMismatch);
        }
        if hello.subnet_tag != self.subnet_tag {
            return Err(ChannelError::WrongSubnet);
        }
        if hello.sender == self.me {
            return Err(ChannelError::SelfConnection);
        }
        if let Some(expected) = self.dialled.filter(|d| *d != hello.sender) {
            return Err(ChannelError::UnexpectedPeer {
                expected,
                got: hello.sender,
            });
        }
        self.members
            .get(hello.sender.as_usize())
            .copied()
            .ok_or(ChannelError::NotAMember(hello.sender))
    }

    /// SHA-256 of both hellos, the initiator's first; both are fixed-size, so unambiguous.
    fn transcript(&self, peer_hello: &[u8]) -> [u8; 32] {
        let (first, second) = match self.side {
            Side::Initiator => (&self.hello[..], peer_hello),
            Side::Responder => (peer_hello, &self.hello[..]),
        };
        Sha256::new()
            .chain_update(TRANSCRIPT_DOMAIN)
            .chain_update(first)
            .chain_update(second)
            .finalize()
            .into()
    }
}

impl Pending {
    /// Verifies the peer's signature over the same transcript with the peer's role.
    pub(super) fn on_auth(&self, signature: &[u8]) -> Result<(), ChannelError> {
        let msg = auth_message(
            self.side.opposite(),
            self.initiator,
            self.responder,
            &self.transcript,
        );
        ed25519::verify(&self.peer_key, &msg, signature).map_err(|_| ChannelError::BadSignature)
    }

    /// The member the peer claims to be (proven once [`Pending::on_auth`] succeeds).
    pub(super) fn peer(&self) -> NodeIndex {
        self.peer
    }

    /// The session keys.
    pub(super) fn keys(&self) -> &SessionKeys {
        &self.keys
    }
}

/// An initiator may only dial another member.
fn check_dialled(config: &ChannelConfig, peer: NodeIndex) -> Result<NodeIndex, ChannelError> {
    if peer == config.me {
        return Err(ChannelError::SelfConnection);
    }
    match config.node_public_keys.get(peer.as_usize()) {
        Some(_) => Ok(peer),
        None => Err(ChannelError::NotAMember(peer)),
    }
}

/// What each end signs: the signer's role, both indices, the transcript hash.
fn auth_message(
    signer: Side,
    initiator: NodeIndex,
    responder: NodeIndex,
    transcript: &[u8; 32],
) -> Vec<u8> {
    let mut m = Vec::with_capacity(1 + 4 + 4 + 32);
    m.push(signer as u8);
    m.extend_from_slice(&initiator.get().to_be_bytes());
    m.extend_from_slice(&responder.get().to_be_bytes());
    m.extend_from_slice(transcript);
    domain_separated(AUTH_DOMAIN, &m)
}

/// One HKDF-SHA256 extraction, two expansions: the key of each direction.
fn session_keys(
    shared: &[u8],
    transcript: &[u8; 32],
    side: Side,
) -> Result<SessionKeys, ChannelError> {
    let hk = Hkdf::<Sha256>::new(Some(transcript), shared);
    let i2r = direction_mac(&hk, INITIATOR_TO_RESPONDER)?;
    let r2i = direction_mac(&hk, RESPONDER_TO_INITIATOR)?;
    let (send, recv) = match side {
        Side::Initiator => (i2r, r2i),
        Side::Responder => (r2i, i2r),
    };
    Ok(SessionKeys {
        send: FrameMac::new(send),
        recv: FrameMac::new(recv),
    })
}

/// A 32-byte key for `info`, keyed into HMAC-SHA256 once. Neither step fails at these sizes;
/// the error keeps that a value rather than a panic.
fn direction_mac(hk: &Hkdf<Sha256>, info: &[u8]) -> Result<Hmac<Sha256>, ChannelError> {
    let mut key = [0u8; 32];
    hk.expand(info, &mut key)
        .map_err(|_| ChannelError::KeyExchange)?;
    Hmac::<Sha256>::new_from_slice(&key).map_err(|_| ChannelError::KeyExchange)
}

/// A domain-separated hash of the caller's entropy: the ephemeral secret and the nonce come
/// from one 32-byte draw without one revealing the other.
fn derive(domain: &[u8], entropy: &[u8; 32]) -> [u8; 32] {
    Sha256::new()
        .chain_update(domain)
        .chain_update(entropy)
        .finalize()
        .into()
}
