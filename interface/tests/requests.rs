//! Envelopes signed by the real `ic-agent` identities, handled by `service::handle`
//! in-process: what must be accepted is accepted, and every malformed, expired, forged or
//! unauthorised request gets its typed error and status.

mod common;

use candid::{Encode, Principal as P};
use common::{canister, now, post, TestNode};
use ic_agent::identity::{BasicIdentity, DelegatedIdentity, Secp256k1Identity};
use ic_agent::{Agent, Identity};
use ic_transport_types::{Delegation, DelegationPermissions, SignedDelegation};
use keel_crypto::cbor::Writer;
use keel_interface::http::HttpResponse;
use keel_interface::Principal;
use serde_cbor::Value;
use std::time::Duration;

fn cid() -> P {
    P::from_slice(canister().as_slice())
}

fn agent(identity: impl Identity + 'static) -> Agent {
    Agent::builder().with_url("http://127.0.0.1:9").with_identity(identity).build().unwrap()
}

fn call_path() -> String {
    format!("/api/v4/canister/{}/call", cid())
}

fn query_path() -> String {
    format!("/api/v3/canister/{}/query", cid())
}

fn body_text(r: &HttpResponse) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

fn signed_call(agent: &Agent, method: &str) -> Vec<u8> {
    agent.update(&cid(), method).with_arg(Encode!(&1u8).unwrap()).sign().unwrap().signed_update
}

fn signed_query(agent: &Agent) -> Vec<u8> {
    agent.query(&cid(), "echo").with_arg(Encode!(&1u8).unwrap()).sign().unwrap().signed_query
}

/// Re-encodes a signed envelope after `edit` changed it.
fn edit(body: &[u8], edit: impl FnOnce(&mut std::collections::BTreeMap<Value, Value>)) -> Vec<u8> {
    let Value::Map(mut map) = untag(serde_cbor::from_slice::<Value>(body).unwrap()) else { panic!("map") };
    edit(&mut map);
    serde_cbor::to_vec(&Value::Map(map)).unwrap()
}

/// serde_cbor drops tags unless asked to keep them; accept both.
fn untag(v: Value) -> Value {
    match v {
        Value::Tag(_, inner) => *inner,
        other => other,
    }
}

fn text(s: &str) -> Value {
    Value::Text(s.into())
}

#[test]
fn accepts_agent_envelopes_and_computes_the_agents_request_id() {
    let mut node = TestNode::new();
    let agent = agent(Secp256k1Identity::from_private_key(k256::SecretKey::from_slice(&[2; 32]).unwrap()));
    let signed = agent.update(&cid(), "echo").with_arg(vec![1, 2, 3]).sign().unwrap();
    let env = keel_interface::envelope::Envelope::decode(&signed.signed_update).unwrap();
    assert_eq!(env.content.request_id().0, *signed.request_id);
    let r = node.serve(&post(&call_path(), signed.signed_update));
    assert_eq!(r.status, 200, "{}", body_text(&r));
    let r = node.serve(&post(&query_path(), signed_query(&agent)));
    assert_eq!(r.status, 200, "{}", body_text(&r));
}

#[test]
fn expiry_window() {
    let mut node = TestNode::new();
    let agent = agent(BasicIdentity::from_raw_key(&[1; 32]));
    let past = agent.update(&cid(), "echo").expire_at(std::time::SystemTime::now() - Duration::from_secs(60)).sign().unwrap();
    let r = node.serve(&post(&call_path(), past.signed_update));
    assert_eq!(r.status, 400);
    assert!(body_text(&r).starts_with("Invalid request expiry: "), "{}", body_text(&r));
    let far = agent.update(&cid(), "echo").expire_after(Duration::from_secs(3600)).sign().unwrap();
    let r = node.serve(&post(&call_path(), far.signed_update));
    assert_eq!(r.status, 400);
    assert!(body_text(&r).starts_with("Invalid request expiry: "));
    // Anonymous queries may carry any expiry (agent-js syncs its clock this way).
    let anon = Agent::builder().with_url("http://127.0.0.1:9").build().unwrap();
    let q = anon.query(&cid(), "echo").expire_after(Duration::from_secs(3600)).sign().unwrap();
    assert_eq!(node.serve(&post(&query_path(), q.signed_query)).status, 200);
}

#[test]
fn forged_signatures_and_senders() {
    let mut node = TestNode::new();
    let agent = agent(BasicIdentity::from_raw_key(&[1; 32]));
    let good = signed_call(&agent, "echo");
    let flipped = edit(&good, |m| {
        let Some(Value::Bytes(sig)) = m.get_mut(&text("sender_sig")) else { panic!("sig") };
        sig[5] ^= 1;
    });
    let r = node.serve(&post(&call_path(), flipped));
    assert_eq!(r.status, 400);
    assert!(body_text(&r).starts_with("Invalid signature"), "{}", body_text(&r));

    let other_key = BasicIdentity::from_raw_key(&[2; 32]).public_key().unwrap();
    let swapped = edit(&good, |m| {
        m.insert(text("sender_pubkey"), Value::Bytes(other_key));
    });
    let r = node.serve(&post(&call_path(), swapped));
    assert_eq!((r.status, body_text(&r).contains("not the principal")), (400, true), "{}", body_text(&r));

    let unsigned = edit(&good, |m| {
        m.remove(&text("sender_sig"));
    });
    assert_eq!(node.serve(&post(&call_path(), unsigned)).status, 400);

    // Anonymous with a key attached.
    let anon = Agent::builder().with_url("http://127.0.0.1:9").build().unwrap();
    let with_key = edit(&signed_call(&anon, "echo"), |m| {
        m.insert(text("sender_pubkey"), Value::Bytes(vec![1, 2, 3]));
    });
    let r = node.serve(&post(&call_path(), with_key));
    assert_eq!((r.status, body_text(&r).contains("anonymous")), (400, true));
}

#[test]
fn endpoint_mismatches() {
    let mut node = TestNode::new();
    let agent = agent(BasicIdentity::from_raw_key(&[1; 32]));
    let call = signed_call(&agent, "echo");
    let other = format!("/api/v4/canister/{}/call", P::from_slice(Principal::from_canister_index(99).as_slice()));
    let r = node.serve(&post(&other, call.clone()));
    assert_eq!(r.status, 400);
    assert!(body_text(&r).contains("does not match"), "{}", body_text(&r));
    // A call body on the query endpoint.
    assert_eq!(node.serve(&post(&query_path(), call.clone())).status, 400);
    // Missing content type.
    let mut req = post(&call_path(), call.clone());
    req.content_type = Some("text/plain".into());
    assert_eq!(node.serve(&req).status, 400);
    // Unknown subnet.
    let sub = format!("/api/v3/subnet/{}/read_state", P::from_slice(Principal::from_canister_index(1).as_slice()));
    assert_eq!(node.serve(&post(&sub, anonymous_read_state(&[&[b"time"]]))).status, 404);
    // Not CBOR at all.
    assert_eq!(node.serve(&post(&call_path(), b"hello".to_vec())).status, 400);
    // No endpoint.
    assert_eq!(node.serve(&post("/api/v1/nothing", vec![])).status, 404);
}

fn delegated(delegation: Delegation, signer_seed: u8, session_seed: u8) -> DelegatedIdentity {
    let root = BasicIdentity::from_raw_key(&[signer_seed; 32]);
    let session = BasicIdentity::from_raw_key(&[session_seed; 32]);
    let signature = root.sign_delegation(&delegation).unwrap().signature.unwrap();
    let from = BasicIdentity::from_raw_key(&[40; 32]).public_key().unwrap();
    DelegatedIdentity::new_unchecked(from, Box::new(session), vec![SignedDelegation { delegation, signature }])
}

fn delegation_to(session_seed: u8, expiration: u64, targets: Option<Vec<P>>, permissions: Option<DelegationPermissions>) -> Delegation {
    let pubkey = BasicIdentity::from_raw_key(&[session_seed; 32]).public_key().unwrap();
    Delegation { pubkey, expiration, targets, permissions }
}

#[test]
fn delegation_rules() {
    let mut node = TestNode::new();
    let hour = now().0 + 3_600_000_000_000;
    let status = |node: &mut TestNode, id: DelegatedIdentity, query: bool| {
        let a = agent(id);
        let (path, body) = if query { (query_path(), signed_query(&a)) } else { (call_path(), signed_call(&a, "echo")) };
        let r = node.serve(&post(&path, body));
        (r.status, body_text(&r))
    };
    // Valid: signed by the root key (seed 40), targets include the canister.
    let ok = delegation_to(41, hour, Some(vec![cid()]), None);
    assert_eq!(status(&mut node, delegated(ok, 40, 41), false).0, 200);
    // Expired.
    let expired = delegation_to(41, now().0 - 1, None, None);
    let (s, t) = status(&mut node, delegated(expired, 40, 41), false);
    assert_eq!((s, t.contains("expired")), (400, true), "{t}");
    // Other target.
    let elsewhere = delegation_to(41, hour, Some(vec![P::from_slice(&[9; 10])]), None);
    let (s, t) = status(&mut node, delegated(elsewhere, 40, 41), false);
    assert_eq!((s, t.contains("targets")), (400, true), "{t}");
    // Queries only: calls refused, queries fine.
    let queries = delegation_to(41, hour, None, Some(DelegationPermissions::Queries));
    let (s, t) = status(&mut node, delegated(queries.clone(), 40, 41), false);
    assert_eq!((s, t.contains("only permits queries")), (400, true), "{t}");
    assert_eq!(status(&mut node, delegated(queries, 40, 41), true).0, 200);
    // Signed by the wrong key.
    let forged = delegation_to(41, hour, None, None);
    let (s, t) = status(&mut node, delegated(forged, 39, 41), false);
    assert_eq!((s, t.starts_with("Invalid delegation")), (400, true), "{t}");
    // Delegating to the root key itself repeats a key.
    let repeated = delegation_to(40, hour, None, None);
    let (s, t) = status(&mut node, delegated(repeated, 40, 40), false);
    assert_eq!((s, t.contains("twice")), (400, true), "{t}");
}

/// An anonymous read_state envelope (needs no signature).
fn anonymous_read_state(paths: &[&[&[u8]]]) -> Vec<u8> {
    let mut w = Writer::self_describing();
    w.map(1).text("content").map(4);
    w.text("request_type").text("read_state");
    w.text("sender").bytes(&[4]);
    w.text("ingress_expiry").nat(now().0 + 60_000_000_000);
    w.text("paths").array(paths.len());
    for p in paths {
        w.array(p.len());
        for l in *p {
            w.bytes(l);
        }
    }
    w.into_bytes()
}

#[test]
fn read_state_path_rules() {
    let mut node = TestNode::new();
    let rs = format!("/api/v2/canister/{}/read_state", cid());
    let sid = node.config.subnet_id;
    let subnet_rs = format!("/api/v3/subnet/{sid}/read_state");
    let c = canister();
    let other = Principal::from_canister_index(77);
    let mut check = |path: &str, paths: &[&[&[u8]]], expected: u16| {
        let r = node.serve(&post(path, anonymous_read_state(paths)));
        assert_eq!(r.status, expected, "{paths:?}: {}", body_text(&r));
    };
    check(&rs, &[&[b"time"]], 200);
    check(&rs, &[&[b"subnet"]], 200);
    check(&rs, &[&[b"canister", c.as_slice(), b"module_hash"], &[b"canister", c.as_slice(), b"controllers"]], 200);
    check(&rs, &[&[b"canister", c.as_slice(), b"metadata", b"candid:service"]], 200);
    check(&rs, &[&[b"canister", c.as_slice(), b"metadata", b"secret"]], 403);
    check(&rs, &[&[b"canister", other.as_slice(), b"module_hash"]], 400);
    check(&rs, &[&[b"canister", c.as_slice(), b"certified_data"]], 404);
    check(&rs, &[&[b"request_status", &[1; 31]]], 400);
    check(&rs, &[&[b"request_status", &[1; 32]], &[b"request_status", &[2; 32]]], 400);
    check(&rs, &[&[b"request_status", &[1; 32]], &[b"request_status", &[1; 32], b"status"]], 200);
    check(&rs, &[&[b"subnet", sid.as_slice(), b"metrics"]], 404);
    check(&rs, &[&[b"nonsense"]], 404);
    check(&rs, &[&[]], 404);
    check(&subnet_rs, &[&[b"subnet", sid.as_slice(), b"metrics"]], 200);
    check(&subnet_rs, &[&[b"canister_ranges", sid.as_slice()]], 200);
    check(&subnet_rs, &[&[b"canister", c.as_slice(), b"module_hash"]], 404);
    check(&subnet_rs, &[&[b"request_status", &[1; 32]]], 404);

    // The answer reveals the requested subtree and /time, nothing else.
    let r = node.serve(&post(&rs, anonymous_read_state(&[&[b"subnet", sid.as_slice(), b"public_key"]])));
    assert_eq!(&r.body[..3], &[0xd9, 0xd9, 0xf7]);
    let Value::Map(m) = untag(serde_cbor::from_slice::<Value>(&r.body).unwrap()) else { panic!("map") };
    let Some(Value::Bytes(cert)) = m.get(&text("certificate")) else { panic!() };
    let cert = keel_interface::certificate::Certificate::from_cbor(cert).unwrap();
    cert.verify(&node.root_key.public_key().to_bytes()).unwrap();
    use keel_crypto::hash_tree::LookupResult;
    assert!(matches!(cert.tree.lookup_path(&[&b"time"[..]]), LookupResult::Found(_)));
    assert!(matches!(cert.tree.lookup_path(&[&b"subnet"[..], sid.as_slice(), b"public_key"]), LookupResult::Found(_)));
    assert_eq!(cert.tree.lookup_path(&[&b"subnet"[..], sid.as_slice(), b"type"]), LookupResult::Unknown);
}

#[test]
fn no_certified_state_is_503() {
    let mut node = TestNode::new();
    node.certified = None;
    let rs = format!("/api/v2/canister/{}/read_state", cid());
    assert_eq!(node.serve(&post(&rs, anonymous_read_state(&[&[b"time"]]))).status, 503);
}

#[test]
fn unhealthy_node_answers_503_but_status_still_works() {
    let mut node = TestNode::new();
    node.health = keel_interface::status::HealthStatus::WaitingForCertifiedState;
    let rs = format!("/api/v2/canister/{}/read_state", cid());
    let r = node.serve(&post(&rs, anonymous_read_state(&[&[b"time"]])));
    assert_eq!((r.status, body_text(&r)), (503, "Replica is unhealthy: waiting_for_certified_state".to_string()));
    let status = keel_interface::http::HttpRequest {
        method: keel_interface::http::Method::Get,
        path: "/api/v2/status".into(),
        content_type: None,
        keep_alive: true,
        body: vec![],
    };
    let r = node.serve(&status);
    assert_eq!(r.status, 200);
    let Value::Map(m) = untag(serde_cbor::from_slice(&r.body).unwrap()) else { panic!("map") };
    assert_eq!(m.get(&text("replica_health_status")), Some(&text("waiting_for_certified_state")));
    assert_eq!(m.get(&text("certified_height")), Some(&Value::Integer(1)));
}

/// agent-js 3.x uses v3 call (and v2 query / v2 read_state, covered above): the 200 body
/// is `{status: "replied", certificate}` and the certificate passes ic-agent's checks.
#[test]
fn v3_call_certificate_is_accepted_by_ic_agent() {
    let mut node = TestNode::new();
    let a = agent(BasicIdentity::from_raw_key(&[1; 32]));
    a.set_root_key(node.root_key_der());
    let signed = a.update(&cid(), "echo").with_arg(vec![7]).sign().unwrap();
    let r = node.serve(&post(&format!("/api/v3/canister/{}/call", cid()), signed.signed_update));
    assert_eq!(r.status, 200, "{}", body_text(&r));
    let response: ic_transport_types::TransportCallResponse = serde_cbor::from_slice(&r.body).unwrap();
    let ic_transport_types::TransportCallResponse::Replied { certificate } = response else { panic!("{response:?}") };
    let cert: ic_agent::Certificate = serde_cbor::from_slice(&certificate).unwrap();
    a.verify(&cert, cid()).unwrap();
    let reply = ic_agent::lookup_value(&cert, [b"request_status".as_slice(), signed.request_id.as_slice(), b"reply"]).unwrap();
    assert_eq!(reply, &[7]);
}

#[test]
fn non_replicated_rejections_decode_as_the_agent_expects() {
    use keel_interface::reject::{Reject, RejectCode};
    use keel_interface::route::CallVersion;
    let reject = Reject { code: RejectCode::CanisterReject, message: "refused".into(), error_code: "IC0406".into() };
    let v4 = keel_interface::call::rejected_before_consensus(CallVersion::V4, &reject);
    assert_eq!(v4.status, 200);
    match serde_cbor::from_slice::<ic_transport_types::TransportCallResponse>(&v4.body).unwrap() {
        ic_transport_types::TransportCallResponse::NonReplicatedRejection(r) => {
            assert_eq!((r.reject_message.as_str(), r.error_code.as_deref()), ("refused", Some("IC0406")));
        }
        other => panic!("{other:?}"),
    }
    let v2 = keel_interface::call::rejected_before_consensus(CallVersion::V2, &reject);
    let r: ic_agent::agent::RejectResponse = serde_cbor::from_slice(&v2.body).unwrap();
    assert_eq!(r.reject_code, ic_agent::agent::RejectCode::CanisterReject);
}

#[test]
fn two_link_delegation_chain() {
    let mut node = TestNode::new();
    let hour = now().0 + 3_600_000_000_000;
    let root = BasicIdentity::from_raw_key(&[50; 32]);
    let mid = BasicIdentity::from_raw_key(&[51; 32]);
    let first = delegation_to(51, hour, None, None);
    let second = delegation_to(52, hour, Some(vec![cid()]), None);
    let chain = vec![
        SignedDelegation { signature: root.sign_delegation(&first).unwrap().signature.unwrap(), delegation: first },
        SignedDelegation { signature: mid.sign_delegation(&second).unwrap().signature.unwrap(), delegation: second },
    ];
    let id = DelegatedIdentity::new_unchecked(root.public_key().unwrap(), Box::new(BasicIdentity::from_raw_key(&[52; 32])), chain.clone());
    let r = node.serve(&post(&call_path(), signed_call(&agent(id), "echo")));
    assert_eq!(r.status, 200, "{}", body_text(&r));
    // Swap the links: each signature is now by the wrong key.
    let swapped = vec![chain[1].clone(), chain[0].clone()];
    let id = DelegatedIdentity::new_unchecked(root.public_key().unwrap(), Box::new(BasicIdentity::from_raw_key(&[52; 32])), swapped);
    assert_eq!(node.serve(&post(&call_path(), signed_call(&agent(id), "echo"))).status, 400);
}

/// Our principal text form agrees with the reference implementation on random bytes.
#[test]
fn principal_text_matches_candid() {
    let mut x = 0x1234_5678_9abc_def0u64;
    for _ in 0..2000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let len = (x % 30) as usize;
        let bytes: Vec<u8> = (0..len).map(|i| (x >> (i % 8 * 8)) as u8 ^ i as u8).collect();
        let ours = Principal::from_slice(&bytes).unwrap();
        let theirs = P::from_slice(&bytes);
        assert_eq!(ours.to_text(), theirs.to_text());
        assert_eq!(Principal::from_text(&theirs.to_text()).unwrap(), ours);
    }
}
