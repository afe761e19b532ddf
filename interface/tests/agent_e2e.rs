//! Unmodified `ic-agent` 0.49 against the interface over loopback TCP: status and
//! `fetch_root_key`, v4 update calls (the agent verifies our BLS certificate), v3 queries
//! (the agent verifies our node signature against the subnet's node keys it reads through
//! read_state), read_state of time and request status, for every kind of identity.

mod common;

use candid::{Decode, Encode, Principal as P};
use common::{canister, serve_http, TestNode};
use ic_agent::agent::{RejectCode, RequestStatusResponse};
use ic_agent::identity::{AnonymousIdentity, BasicIdentity, DelegatedIdentity, Prime256v1Identity, Secp256k1Identity};
use ic_agent::{Agent, AgentError, Identity};
use std::sync::{Arc, Mutex};

fn cid() -> P {
    P::from_slice(canister().as_slice())
}

fn identities() -> Vec<(&'static str, Box<dyn Identity>)> {
    let basic = BasicIdentity::from_raw_key(&[1; 32]);
    let secp = Secp256k1Identity::from_private_key(k256::SecretKey::from_slice(&[2; 32]).unwrap());
    let p256 = Prime256v1Identity::from_private_key(p256::SecretKey::from_slice(&[3; 32]).unwrap());
    // A delegation chain: secp256k1 root key → Ed25519 session key, restricted to our canister.
    let session = BasicIdentity::from_raw_key(&[4; 32]);
    let delegation = ic_transport_types::Delegation {
        pubkey: session.public_key().unwrap(),
        expiration: common::now().0 + 3_600_000_000_000,
        targets: Some(vec![cid()]),
        permissions: None,
    };
    let root = Secp256k1Identity::from_private_key(k256::SecretKey::from_slice(&[5; 32]).unwrap());
    let signature = root.sign_delegation(&delegation).unwrap().signature.unwrap();
    let chain = vec![ic_transport_types::SignedDelegation { delegation, signature }];
    let delegated = DelegatedIdentity::new_unchecked(root.public_key().unwrap(), Box::new(session), chain);
    vec![
        ("anonymous", Box::new(AnonymousIdentity)),
        ("ed25519", Box::new(basic)),
        ("secp256k1", Box::new(secp)),
        ("p256", Box::new(p256)),
        ("delegated", Box::new(delegated)),
    ]
}

async fn agent(url: &str, identity: Box<dyn Identity>) -> Agent {
    let agent = Agent::builder().with_url(url).with_arc_identity(Arc::from(identity)).build().unwrap();
    agent.fetch_root_key().await.unwrap();
    agent
}

#[tokio::test(flavor = "current_thread")]
async fn status_and_root_key() {
    let node = Arc::new(Mutex::new(TestNode::new()));
    let der = node.lock().unwrap().root_key_der();
    let url = serve_http(node);
    let agent = Agent::builder().with_url(&url).build().unwrap();
    let status = agent.status().await.unwrap();
    assert_eq!(status.root_key.as_deref(), Some(der.as_slice()));
    assert_eq!(status.impl_version.as_deref(), Some("keel-test"));
    assert_eq!(status.replica_health_status.as_deref(), Some("healthy"));
    agent.fetch_root_key().await.unwrap();
    assert_eq!(agent.read_root_key(), der);
}

#[tokio::test(flavor = "current_thread")]
async fn updates_queries_and_read_state_for_every_identity() {
    let node = Arc::new(Mutex::new(TestNode::new()));
    let url = serve_http(node.clone());
    for (name, identity) in identities() {
        let agent = agent(&url, identity).await;
        let arg = Encode!(&format!("hello from {name}")).unwrap();

        // v4 call: the agent checks our certificate's BLS signature and request status.
        let reply = agent.update(&cid(), "echo").with_arg(arg.clone()).call_and_wait().await;
        assert_eq!(reply.as_deref().ok(), Some(arg.as_slice()), "{name}: update {reply:?}");

        // v3 query: the agent checks our node signature with keys it read via read_state.
        let reply = agent.query(&cid(), "echo").with_arg(arg.clone()).call().await;
        assert_eq!(reply.as_deref().ok(), Some(arg.as_slice()), "{name}: query {reply:?}");

        // A query rejection is signed too, and decodes as a canister reject.
        match agent.query(&cid(), "reject").with_arg(arg.clone()).call().await {
            Err(AgentError::UncertifiedReject { reject, .. }) => {
                assert_eq!(reject.reject_code, RejectCode::CanisterReject, "{name}");
                assert_eq!(reject.error_code.as_deref(), Some("IC0406"), "{name}");
            }
            other => panic!("{name}: expected a reject, got {other:?}"),
        }

        // A rejected update: certified as rejected.
        match agent.update(&cid(), "reject").with_arg(arg.clone()).call_and_wait().await {
            Err(AgentError::CertifiedReject { reject, .. }) => assert_eq!(reject.reject_message, "no thanks", "{name}"),
            other => panic!("{name}: expected a certified reject, got {other:?}"),
        }

        // read_state of /time through the agent's own certificate verification.
        let cert = agent.read_state_raw(vec![vec!["time".into()]], cid()).await.unwrap();
        agent.verify(&cert, cid()).unwrap();
        let time = ic_agent::lookup_value(&cert, [b"time".as_slice()]).unwrap();
        assert!(!time.is_empty());
    }
}

#[tokio::test(flavor = "current_thread")]
async fn v2_call_then_poll_request_status() {
    let node = Arc::new(Mutex::new(TestNode::new()));
    let url = serve_http(node.clone());
    let agent = agent(&url, Box::new(BasicIdentity::from_raw_key(&[9; 32]))).await;
    let arg = Encode!(&42u64).unwrap();
    let signed = agent.update(&cid(), "echo").with_arg(arg.clone()).sign().unwrap();
    // Post the agent's own signed bytes to the v2 endpoint: 202 and an empty body.
    let resp = raw_post(&url, &format!("/api/v2/canister/{}/call", cid()), &signed.signed_update);
    assert!(resp.starts_with("HTTP/1.1 202 Accepted\r\n"), "{resp}");
    assert!(resp.contains("Content-Length: 0\r\n"), "{resp}");
    let (status, cert) = agent.request_status_raw(&signed.request_id, cid()).await.unwrap();
    agent.verify(&cert, cid()).unwrap();
    match status {
        RequestStatusResponse::Replied(reply) => assert_eq!(Decode!(&reply.arg, u64).unwrap(), 42),
        other => panic!("expected replied, got {other:?}"),
    }
    // Another sender may not read that request's status.
    let stranger = agent_with(&url, BasicIdentity::from_raw_key(&[10; 32])).await;
    let err = stranger.request_status_raw(&signed.request_id, cid()).await.unwrap_err();
    assert!(matches!(err, AgentError::HttpError(ref e) if e.status == 403), "{err:?}");
}

async fn agent_with(url: &str, identity: impl Identity + 'static) -> Agent {
    agent(url, Box::new(identity)).await
}

/// A minimal blocking HTTP/1.1 POST, returning the raw response text.
fn raw_post(url: &str, path: &str, body: &[u8]) -> String {
    use std::io::{Read, Write};
    let addr = url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/cbor\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    String::from_utf8_lossy(&out).into_owned()
}
