//! Sender authentication (ic-reference §2, §4): the anonymous rule, self-authenticating
//! senders, signatures by Ed25519 / ECDSA P-256 / secp256k1 keys and delegation chains.

use crate::delegation::SignedDelegation;
use crate::envelope::{Content, Envelope};
use crate::expiry::Time;
use alloc::vec::Vec;
use keel_crypto::der::{parse_public_key, DerError, PublicKey};
use keel_crypto::{ecdsa, ed25519, Principal, SignatureError};

/// Why a sender was not authenticated (400, as newer replicas answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// The anonymous sender carried a key, signature or delegation.
    AnonymousWithCredentials,
    /// A non-anonymous sender without both `sender_pubkey` and `sender_sig`.
    MissingCredentials,
    /// `sender` is not the self-authenticating id of `sender_pubkey`.
    SenderMismatch,
    /// A key in the chain is not a supported DER key.
    UnsupportedKey(DerError),
    /// A BLS key was offered as a sender key.
    UnsupportedKeyType,
    /// `sender_sig` does not verify.
    BadSenderSignature(SignatureError),
    /// Delegation `index` has a bad signature.
    BadDelegationSignature { index: usize, error: SignatureError },
    /// Delegation `index` expired before `now`.
    DelegationExpired { index: usize },
    /// A key appears twice in the chain.
    RepeatedDelegationKey,
    /// The chain is longer than allowed.
    DelegationTooLong,
    /// A delegation's `targets` exclude the addressed canister.
    TargetNotAllowed,
    /// A delegation limited to queries was used for a call.
    QueriesOnly,
}

impl core::fmt::Display for AuthError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            AuthError::AnonymousWithCredentials => {
                f.write_str("Invalid signature: anonymous requests must not carry a public key, signature or delegation")
            }
            AuthError::MissingCredentials => f.write_str("Invalid signature: sender_pubkey and sender_sig are required"),
            AuthError::SenderMismatch => f.write_str("Invalid signature: sender is not the principal of sender_pubkey"),
            AuthError::UnsupportedKey(e) => write!(f, "Invalid signature: {e}"),
            AuthError::UnsupportedKeyType => f.write_str("Invalid signature: unsupported public key type"),
            AuthError::BadSenderSignature(e) => write!(f, "Invalid signature: sender_sig: {e}"),
            AuthError::BadDelegationSignature { index, error } => write!(f, "Invalid delegation: delegation {index}: {error}"),
            AuthError::DelegationExpired { index } => write!(f, "Invalid delegation: delegation {index} has expired"),
            AuthError::RepeatedDelegationKey => f.write_str("Invalid delegation: a public key appears twice in the chain"),
            AuthError::DelegationTooLong => f.write_str("Invalid delegation: chain too long"),
            AuthError::TargetNotAllowed => f.write_str("Invalid delegation: canister not among the delegation targets"),
            AuthError::QueriesOnly => f.write_str("Invalid delegation: the delegation only permits queries"),
        }
    }
}

/// Verifies `signature` of `message` by a DER-encoded sender key.
pub fn verify_with_der_key(der: &[u8], message: &[u8], signature: &[u8]) -> Result<(), AuthError> {
    let result = match parse_public_key(der).map_err(AuthError::UnsupportedKey)? {
        PublicKey::Ed25519(k) => ed25519::verify(&k, message, signature),
        PublicKey::EcdsaP256(k) => ecdsa::verify_p256(&k, message, signature),
        PublicKey::EcdsaSecp256k1(k) => ecdsa::verify_secp256k1(&k, message, signature),
        PublicKey::Bls(_) => return Err(AuthError::UnsupportedKeyType),
    };
    result.map_err(AuthError::BadSenderSignature)
}

/// Checks a delegation chain rooted at `root_key`; returns the key that must have signed
/// the request. `target` is the canister the request addresses (for `targets`).
fn check_chain<'a>(
    root_key: &'a [u8],
    chain: &'a [SignedDelegation],
    now: Time,
    target: Option<&Principal>,
    is_call: bool,
) -> Result<&'a [u8], AuthError> {
    if chain.len() > crate::envelope::MAX_DELEGATIONS {
        return Err(AuthError::DelegationTooLong);
    }
    let mut seen: Vec<&[u8]> = alloc::vec![root_key];
    let mut signer = root_key;
    for (index, signed) in chain.iter().enumerate() {
        let d = &signed.delegation;
        verify_with_der_key(signer, &d.signable(), &signed.signature).map_err(|e| match e {
            AuthError::BadSenderSignature(error) => AuthError::BadDelegationSignature { index, error },
            other => other,
        })?;
        if d.expiration < now {
            return Err(AuthError::DelegationExpired { index });
        }
        if seen.contains(&d.pubkey.as_slice()) {
            return Err(AuthError::RepeatedDelegationKey);
        }
        if let Some(t) = target
            && !d.allows_target(t) {
                return Err(AuthError::TargetNotAllowed);
            }
        if is_call && !d.allows_calls() {
            return Err(AuthError::QueriesOnly);
        }
        seen.push(&d.pubkey);
        signer = &d.pubkey;
    }
    Ok(signer)
}

/// Authenticates the sender of `envelope` at time `now`. `target` is the canister the
/// request addresses: `canister_id` for calls and queries, the effective canister id for
/// read_state (`None` on subnet endpoints).
pub fn authenticate(envelope: &Envelope, now: Time, target: Option<&Principal>) -> Result<(), AuthError> {
    let sender: Principal = envelope.content.sender();
    if sender.is_anonymous() {
        let bare = envelope.sender_pubkey.is_none() && envelope.sender_sig.is_none() && envelope.sender_delegation.is_none();
        return if bare { Ok(()) } else { Err(AuthError::AnonymousWithCredentials) };
    }
    let (Some(pubkey), Some(sig)) = (&envelope.sender_pubkey, &envelope.sender_sig) else {
        return Err(AuthError::MissingCredentials);
    };
    if Principal::self_authenticating(pubkey) != sender {
        return Err(AuthError::SenderMismatch);
    }
    let chain = envelope.sender_delegation.as_deref().unwrap_or(&[]);
    let is_call = matches!(envelope.content, Content::Call(_));
    let signer = check_chain(pubkey, chain, now, target, is_call)?;
    verify_with_der_key(signer, &envelope.content.request_id().signable(), sig)
}
