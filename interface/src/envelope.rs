//! CBOR request envelopes (ic-reference §2): `#6.55799({content, sender_pubkey?,
//! sender_sig?, sender_delegation?})`, decoded strictly into typed requests.

use crate::delegation::{Delegation, Permissions, SignedDelegation};
use crate::expiry::{Expiry, Time};
use crate::request_id::{hash_of_map, RequestId, Value};
use alloc::string::String;
use alloc::vec::Vec;
use keel_crypto::cbor::{CborError, Reader};
use keel_crypto::Principal;

/// Most paths in one read_state request.
pub const MAX_PATHS: usize = 1000;
/// Most labels in one read_state path.
pub const MAX_PATH_LABELS: usize = 127;
/// Longest nonce.
pub const MAX_NONCE_LEN: usize = 32;
/// Longest delegation chain (the spec's prose; requests.cddl says 4, clients send ≤ 2).
pub const MAX_DELEGATIONS: usize = 20;
/// Most targets in one delegation.
pub const MAX_TARGETS: usize = 1000;

/// A read_state path: labels.
pub type Path = Vec<Vec<u8>>;

/// The content of a call or query (they have the same fields).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallContent {
    /// The canister addressed (`aaaaa-aa` for the management canister).
    pub canister_id: Principal,
    /// Method to invoke.
    pub method_name: String,
    /// Candid argument.
    pub arg: Vec<u8>,
    /// Who sends it.
    pub sender: Principal,
    /// Replay-protection deadline.
    pub ingress_expiry: Expiry,
    /// Optional uniqueness nonce (≤ 32 bytes).
    pub nonce: Option<Vec<u8>>,
}

/// The content of a read_state request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadStateContent {
    /// Who sends it.
    pub sender: Principal,
    /// Replay-protection deadline.
    pub ingress_expiry: Expiry,
    /// Optional nonce.
    pub nonce: Option<Vec<u8>>,
    /// The requested paths.
    pub paths: Vec<Path>,
}

/// A request's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// An update call.
    Call(CallContent),
    /// A query.
    Query(CallContent),
    /// A state read.
    ReadState(ReadStateContent),
}

/// A decoded (not yet authenticated) envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The signed content.
    pub content: Content,
    /// DER public key of the sender (the root of any delegation chain).
    pub sender_pubkey: Option<Vec<u8>>,
    /// Signature over `\x0Aic-request · request id`.
    pub sender_sig: Option<Vec<u8>>,
    /// Delegation chain from `sender_pubkey` to the key that made `sender_sig`.
    pub sender_delegation: Option<Vec<SignedDelegation>>,
}

/// Why an envelope was refused (always a 400).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvelopeError {
    /// Not the CBOR the envelope must be.
    Cbor(CborError),
    /// `request_type` is not one of call / query / read_state.
    UnknownRequestType(String),
}

impl From<CborError> for EnvelopeError {
    fn from(e: CborError) -> Self {
        EnvelopeError::Cbor(e)
    }
}

impl core::fmt::Display for EnvelopeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            EnvelopeError::Cbor(e) => write!(f, "Could not parse body as request: {e}"),
            EnvelopeError::UnknownRequestType(t) => write!(f, "Could not parse body as request: unknown request_type `{t}`"),
        }
    }
}

fn principal(r: &mut Reader<'_>, what: &'static str) -> Result<Principal, CborError> {
    Principal::from_slice(r.bytes()?).map_err(|_| CborError::InvalidValue(what))
}

fn nonce(r: &mut Reader<'_>) -> Result<Vec<u8>, CborError> {
    let n = r.bytes()?;
    if n.len() > MAX_NONCE_LEN {
        return Err(CborError::InvalidValue("nonce longer than 32 bytes"));
    }
    Ok(n.to_vec())
}

fn paths(r: &mut Reader<'_>) -> Result<Vec<Path>, CborError> {
    let n = r.array()?;
    if n > MAX_PATHS as u64 {
        return Err(CborError::InvalidValue("more than 1000 paths"));
    }
    (0..n)
        .map(|_| {
            let labels = r.array()?;
            if labels > MAX_PATH_LABELS as u64 {
                return Err(CborError::InvalidValue("path with more than 127 labels"));
            }
            (0..labels).map(|_| r.bytes().map(<[u8]>::to_vec)).collect()
        })
        .collect()
}

/// Reads `content`, whatever its type; fields are checked against the type afterwards.
fn content(r: &mut Reader<'_>) -> Result<Content, EnvelopeError> {
    let mut request_type = None;
    let (mut canister_id, mut method_name, mut arg) = (None, None, None);
    let (mut sender, mut expiry, mut nonce_v, mut paths_v) = (None, None, None, None);
    r.text_map::<EnvelopeError>(|key, r| {
        match key {
            "request_type" => request_type = Some(r.text()?),
            "canister_id" => canister_id = Some(principal(r, "canister_id")?),
            "method_name" => method_name = Some(String::from(r.text()?)),
            "arg" => arg = Some(r.bytes()?.to_vec()),
            "sender" => sender = Some(principal(r, "sender")?),
            "ingress_expiry" => expiry = Some(Expiry(Time(r.nat()?))),
            "nonce" => nonce_v = Some(nonce(r)?),
            "paths" => paths_v = Some(paths(r)?),
            other => return Err(CborError::UnknownField(String::from(other)).into()),
        }
        Ok(())
    })?;
    let request_type = request_type.ok_or(CborError::MissingField("request_type"))?;
    let sender = sender.ok_or(CborError::MissingField("sender"))?;
    let ingress_expiry = expiry.ok_or(CborError::MissingField("ingress_expiry"))?;
    let not_for = |present: bool, field: &'static str| {
        if present { Err(CborError::UnknownField(String::from(field))) } else { Ok(()) }
    };
    match request_type {
        "call" | "query" => {
            not_for(paths_v.is_some(), "paths")?;
            let call = CallContent {
                canister_id: canister_id.ok_or(CborError::MissingField("canister_id"))?,
                method_name: method_name.ok_or(CborError::MissingField("method_name"))?,
                arg: arg.ok_or(CborError::MissingField("arg"))?,
                sender,
                ingress_expiry,
                nonce: nonce_v,
            };
            Ok(if request_type == "call" { Content::Call(call) } else { Content::Query(call) })
        }
        "read_state" => {
            not_for(canister_id.is_some(), "canister_id")?;
            not_for(method_name.is_some(), "method_name")?;
            not_for(arg.is_some(), "arg")?;
            Ok(Content::ReadState(ReadStateContent {
                sender,
                ingress_expiry,
                nonce: nonce_v,
                paths: paths_v.ok_or(CborError::MissingField("paths"))?,
            }))
        }
        other => Err(EnvelopeError::UnknownRequestType(String::from(other))),
    }
}

fn delegation(r: &mut Reader<'_>) -> Result<Delegation, CborError> {
    let (mut pubkey, mut expiration, mut targets, mut permissions) = (None, None, None, None);
    r.text_map::<CborError>(|key, r| {
        match key {
            "pubkey" => pubkey = Some(r.bytes()?.to_vec()),
            "expiration" => expiration = Some(Time(r.nat()?)),
            "targets" => {
                let n = r.array()?;
                if n > MAX_TARGETS as u64 {
                    return Err(CborError::InvalidValue("more than 1000 delegation targets"));
                }
                targets = Some((0..n).map(|_| principal(r, "delegation target")).collect::<Result<Vec<_>, _>>()?);
            }
            "permissions" => {
                permissions = Some(match r.text()? {
                    "queries" => Permissions::Queries,
                    "all" => Permissions::All,
                    _ => return Err(CborError::InvalidValue("delegation permissions")),
                })
            }
            other => return Err(CborError::UnknownField(String::from(other))),
        }
        Ok(())
    })?;
    Ok(Delegation {
        pubkey: pubkey.ok_or(CborError::MissingField("pubkey"))?,
        expiration: expiration.ok_or(CborError::MissingField("expiration"))?,
        targets,
        permissions,
    })
}

fn delegations(r: &mut Reader<'_>) -> Result<Vec<SignedDelegation>, CborError> {
    let n = r.array()?;
    if n > MAX_DELEGATIONS as u64 {
        return Err(CborError::InvalidValue("delegation chain longer than 20"));
    }
    (0..n)
        .map(|_| {
            let (mut d, mut sig) = (None, None);
            r.text_map::<CborError>(|key, r| {
                match key {
                    "delegation" => d = Some(delegation(r)?),
                    "signature" => sig = Some(r.bytes()?.to_vec()),
                    other => return Err(CborError::UnknownField(String::from(other))),
                }
                Ok(())
            })?;
            Ok(SignedDelegation {
                delegation: d.ok_or(CborError::MissingField("delegation"))?,
                signature: sig.ok_or(CborError::MissingField("signature"))?,
            })
        })
        .collect()
}

impl Envelope {
    /// Decodes an HTTP body. The self-describe tag is optional; nothing may follow the map.
    pub fn decode(body: &[u8]) -> Result<Envelope, EnvelopeError> {
        let mut r = Reader::new(body);
        r.skip_self_describe()?;
        let (mut content_v, mut pubkey, mut sig, mut dels) = (None, None, None, None);
        r.text_map::<EnvelopeError>(|key, r| {
            match key {
                "content" => content_v = Some(content(r)?),
                "sender_pubkey" => pubkey = Some(r.bytes()?.to_vec()),
                "sender_sig" => sig = Some(r.bytes()?.to_vec()),
                "sender_delegation" => dels = Some(delegations(r)?),
                other => return Err(CborError::UnknownField(String::from(other)).into()),
            }
            Ok(())
        })?;
        r.finish()?;
        Ok(Envelope {
            content: content_v.ok_or(CborError::MissingField("content"))?,
            sender_pubkey: pubkey,
            sender_sig: sig,
            sender_delegation: dels,
        })
    }
}

impl Content {
    /// `"call"`, `"query"` or `"read_state"`.
    pub fn request_type(&self) -> &'static str {
        match self {
            Content::Call(_) => "call",
            Content::Query(_) => "query",
            Content::ReadState(_) => "read_state",
        }
    }

    /// The claimed sender.
    pub fn sender(&self) -> Principal {
        match self {
            Content::Call(c) | Content::Query(c) => c.sender,
            Content::ReadState(c) => c.sender,
        }
    }

    /// The ingress expiry.
    pub fn ingress_expiry(&self) -> Expiry {
        match self {
            Content::Call(c) | Content::Query(c) => c.ingress_expiry,
            Content::ReadState(c) => c.ingress_expiry,
        }
    }

    /// The request id: `hash_of_map` of exactly the fields present.
    pub fn request_id(&self) -> RequestId {
        let mut fields: Vec<(&str, Value<'_>)> = alloc::vec![("request_type", Value::Text(self.request_type()))];
        let (sender, expiry, nonce) = match self {
            Content::Call(c) | Content::Query(c) => {
                fields.push(("canister_id", Value::Blob(c.canister_id.as_slice())));
                fields.push(("method_name", Value::Text(&c.method_name)));
                fields.push(("arg", Value::Blob(&c.arg)));
                (&c.sender, c.ingress_expiry, &c.nonce)
            }
            Content::ReadState(c) => {
                let paths = c
                    .paths
                    .iter()
                    .map(|p| Value::Array(p.iter().map(|l| Value::Blob(l)).collect()))
                    .collect();
                fields.push(("paths", Value::Array(paths)));
                (&c.sender, c.ingress_expiry, &c.nonce)
            }
        };
        fields.push(("sender", Value::Blob(sender.as_slice())));
        fields.push(("ingress_expiry", Value::Nat(expiry.0 .0)));
        if let Some(n) = nonce {
            fields.push(("nonce", Value::Blob(n)));
        }
        RequestId(hash_of_map(&fields))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keel_crypto::cbor::Writer;

    /// The spec's request-id example as an envelope body.
    pub(crate) fn spec_example_body(tagged: bool) -> Vec<u8> {
        let mut w = if tagged { Writer::self_describing() } else { Writer::new() };
        w.map(1).text("content").map(6);
        w.text("request_type").text("call");
        w.text("sender").bytes(&[4]);
        w.text("ingress_expiry").nat(1685570400000000000);
        w.text("canister_id").bytes(&[0, 0, 0, 0, 0, 0, 0x04, 0xD2]);
        w.text("method_name").text("hello");
        w.text("arg").bytes(b"DIDL\x00\xFD*");
        w.into_bytes()
    }

    #[test]
    fn decodes_spec_example_with_and_without_tag() {
        for tagged in [true, false] {
            let env = Envelope::decode(&spec_example_body(tagged)).unwrap();
            assert_eq!(
                env.content.request_id().to_string(),
                "1d1091364d6bb8a6c16b203ee75467d59ead468f523eb058880ae8ec80e2b101"
            );
            assert!(env.content.sender().is_anonymous());
            assert_eq!(env.sender_pubkey, None);
        }
    }

    #[test]
    fn rejects_bad_envelopes() {
        let body = spec_example_body(true);
        // Truncations never panic and always fail.
        for n in 0..body.len() {
            assert!(Envelope::decode(&body[..n]).is_err(), "prefix {n}");
        }
        let mut trailing = body.clone();
        trailing.push(0);
        assert_eq!(Envelope::decode(&trailing), Err(EnvelopeError::Cbor(CborError::TrailingBytes)));

        let mut w = Writer::new();
        w.map(1).text("content").map(3).text("request_type").text("explode");
        w.text("sender").bytes(&[4]).text("ingress_expiry").nat(1);
        assert_eq!(Envelope::decode(&w.into_bytes()), Err(EnvelopeError::UnknownRequestType("explode".into())));

        let mut w = Writer::new();
        w.map(1).text("content").map(4).text("request_type").text("read_state");
        w.text("sender").bytes(&[4]).text("ingress_expiry").nat(1).text("paths").array(1).array(1).nat(5);
        assert!(matches!(Envelope::decode(&w.into_bytes()), Err(EnvelopeError::Cbor(CborError::UnexpectedType(_)))));

        let mut w = Writer::new();
        w.map(1).text("content").map(3).text("request_type").text("read_state");
        w.text("sender").bytes(&[4]).text("ingress_expiry").nat(1);
        assert_eq!(Envelope::decode(&w.into_bytes()), Err(EnvelopeError::Cbor(CborError::MissingField("paths"))));

        let mut w = Writer::new();
        w.map(2).text("content").map(0).text("content").map(0);
        assert!(Envelope::decode(&w.into_bytes()).is_err());
    }

    #[test]
    fn read_state_request_id_includes_paths() {
        let mut w = Writer::new();
        w.map(1).text("content").map(4).text("request_type").text("read_state");
        w.text("sender").bytes(&[4]).text("ingress_expiry").nat(7);
        w.text("paths").array(1).array(1).bytes(b"time");
        let env = Envelope::decode(&w.into_bytes()).unwrap();
        let Content::ReadState(rs) = &env.content else { panic!("read_state expected") };
        assert_eq!(rs.paths, alloc::vec![alloc::vec![b"time".to_vec()]]);
        let paths = Value::Array(alloc::vec![Value::Array(alloc::vec![Value::Blob(b"time")])]);
        let expected = hash_of_map(&[
            ("request_type", Value::Text("read_state")),
            ("sender", Value::Blob(&[4])),
            ("ingress_expiry", Value::Nat(7)),
            ("paths", paths),
        ]);
        assert_eq!(env.content.request_id().0, expected);
    }
}
