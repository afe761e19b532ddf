//! Certificates (ic-reference §5): `#6.55799({tree, signature, delegation?})`, the subnet's
//! BLS signature over `\x0Dic-state-root · root hash`. A single-subnet node is the root
//! subnet and signs with the root key itself (no delegation).

use alloc::vec::Vec;
use keel_crypto::cbor::{CborError, Reader, Writer};
use keel_crypto::hash_tree::{certification_message, HashTree, LookupResult};
use keel_crypto::{bls, der, Principal};

/// The delegation of a non-root subnet's certificate: the root subnet's certificate for
/// `/subnet/<subnet_id>/public_key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateDelegation {
    /// The delegated subnet.
    pub subnet_id: Vec<u8>,
    /// The encoded root certificate.
    pub certificate: Vec<u8>,
}

/// A certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    /// The (witness) tree.
    pub tree: HashTree,
    /// BLS signature (48 bytes) of the tree's root.
    pub signature: Vec<u8>,
    /// Delegation, for non-root subnets.
    pub delegation: Option<CertificateDelegation>,
}

/// Why a certificate does not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertificateError {
    /// Undecodable.
    Cbor(CborError),
    /// The signature does not verify under the expected key.
    BadSignature,
    /// A delegation's certificate itself has a delegation, or lacks the subnet key.
    BadDelegation,
}

impl From<CborError> for CertificateError {
    fn from(e: CborError) -> Self {
        CertificateError::Cbor(e)
    }
}

impl Certificate {
    /// Signs `tree` with the subnet (here: root) secret key. Real subnets combine threshold
    /// shares instead (see `keel_crypto::bls::threshold`) and build the struct directly.
    pub fn sign(tree: HashTree, key: &bls::SecretKey) -> Certificate {
        let signature = key.sign(&certification_message(&tree.digest())).to_bytes().to_vec();
        Certificate { tree, signature, delegation: None }
    }

    /// The tagged CBOR encoding.
    pub fn to_cbor(&self) -> Vec<u8> {
        let mut w = Writer::self_describing();
        w.map(2 + usize::from(self.delegation.is_some()));
        w.text("tree");
        self.tree.encode(&mut w);
        w.text("signature").bytes(&self.signature);
        if let Some(d) = &self.delegation {
            w.text("delegation").map(2).text("subnet_id").bytes(&d.subnet_id).text("certificate").bytes(&d.certificate);
        }
        w.into_bytes()
    }

    /// Decodes a certificate (self-describe tag optional).
    pub fn from_cbor(bytes: &[u8]) -> Result<Certificate, CborError> {
        let mut r = Reader::new(bytes);
        r.skip_self_describe()?;
        let (mut tree, mut signature, mut delegation) = (None, None, None);
        r.text_map::<CborError>(|key, r| {
            match key {
                "tree" => tree = Some(HashTree::decode(r)?),
                "signature" => signature = Some(r.bytes()?.to_vec()),
                "delegation" => {
                    let (mut subnet_id, mut certificate) = (None, None);
                    r.text_map::<CborError>(|key, r| {
                        match key {
                            "subnet_id" => subnet_id = Some(r.bytes()?.to_vec()),
                            "certificate" => certificate = Some(r.bytes()?.to_vec()),
                            other => return Err(CborError::UnknownField(other.into())),
                        }
                        Ok(())
                    })?;
                    delegation = Some(CertificateDelegation {
                        subnet_id: subnet_id.ok_or(CborError::MissingField("subnet_id"))?,
                        certificate: certificate.ok_or(CborError::MissingField("certificate"))?,
                    });
                }
                other => return Err(CborError::UnknownField(other.into())),
            }
            Ok(())
        })?;
        r.finish()?;
        Ok(Certificate {
            tree: tree.ok_or(CborError::MissingField("tree"))?,
            signature: signature.ok_or(CborError::MissingField("signature"))?,
            delegation,
        })
    }

    /// Verifies the signature chain up to `root_key` (96-byte G2 key). With a delegation,
    /// the inner certificate must be root-signed, delegation-free, and reveal the subnet's
    /// DER key under `/subnet/<subnet_id>/public_key`.
    pub fn verify(&self, root_key: &[u8]) -> Result<(), CertificateError> {
        let key = match &self.delegation {
            None => root_key.to_vec(),
            Some(d) => {
                let inner = Certificate::from_cbor(&d.certificate)?;
                if inner.delegation.is_some() {
                    return Err(CertificateError::BadDelegation);
                }
                inner.verify(root_key)?;
                let path: [&[u8]; 3] = [b"subnet", &d.subnet_id, b"public_key"];
                let LookupResult::Found(der_key) = inner.tree.lookup_path(&path) else {
                    return Err(CertificateError::BadDelegation);
                };
                der::parse_bls_public_key(der_key).map_err(|_| CertificateError::BadDelegation)?.to_vec()
            }
        };
        bls::verify_bytes(&key, &certification_message(&self.tree.digest()), &self.signature)
            .map_err(|_| CertificateError::BadSignature)
    }
}

/// The subnet id of a single-subnet node: clients derive it from the root key as
/// `SHA-224(root_key_der) · 02` (ic-reference §5), so the node must use exactly that.
pub fn root_subnet_id(root_key_der: &[u8]) -> Principal {
    Principal::self_authenticating(root_key_der)
}

#[cfg(test)]
mod tests {
    use super::*;
    use keel_crypto::hash_tree::LabeledTree;

    #[test]
    fn sign_encode_decode_verify() {
        let sk = bls::SecretKey::from_seed(&[1; 32]);
        let mut t = LabeledTree::new();
        t.insert(&["time"], LabeledTree::Leaf(alloc::vec![1])).unwrap();
        let cert = Certificate::sign(t.to_hash_tree(), &sk);
        let bytes = cert.to_cbor();
        assert_eq!(&bytes[..3], &[0xd9, 0xd9, 0xf7]);
        let back = Certificate::from_cbor(&bytes).unwrap();
        assert_eq!(back, cert);
        back.verify(&sk.public_key().to_bytes()).unwrap();
        let other = bls::SecretKey::from_seed(&[2; 32]).public_key().to_bytes();
        assert_eq!(back.verify(&other), Err(CertificateError::BadSignature));
    }

    #[test]
    fn delegated_certificate() {
        let root = bls::SecretKey::from_seed(&[1; 32]);
        let subnet = bls::SecretKey::from_seed(&[2; 32]);
        let sid = b"subnet-id".to_vec();
        let mut inner_tree = LabeledTree::new();
        inner_tree
            .insert(&[&b"subnet"[..], &sid, b"public_key"], LabeledTree::Leaf(subnet.public_key().to_der().to_vec()))
            .unwrap();
        let inner = Certificate::sign(inner_tree.to_hash_tree(), &root);
        let mut outer = Certificate::sign(HashTree::leaf("x"), &subnet);
        outer.delegation = Some(CertificateDelegation { subnet_id: sid.clone(), certificate: inner.to_cbor() });
        outer.verify(&root.public_key().to_bytes()).unwrap();
        let decoded = Certificate::from_cbor(&outer.to_cbor()).unwrap();
        decoded.verify(&root.public_key().to_bytes()).unwrap();
        // Signed by the root instead of the delegated subnet key: refused.
        let mut wrong = Certificate::sign(HashTree::leaf("x"), &root);
        wrong.delegation = outer.delegation.clone();
        assert_eq!(wrong.verify(&root.public_key().to_bytes()), Err(CertificateError::BadSignature));
    }
}
