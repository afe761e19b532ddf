//! Property-style robustness: random bytes and mutations of real agent envelopes through
//! every decoder and through the whole pipeline. Nothing may panic; a mutated envelope is
//! refused with a 4xx unless the mutation left its meaning unchanged.

mod common;

use candid::{Encode, Principal as P};
use common::{canister, post, TestNode};
use ic_agent::identity::Secp256k1Identity;
use ic_agent::Agent;
use keel_crypto::hash_tree::HashTree;
use keel_interface::certificate::Certificate;
use keel_interface::envelope::Envelope;
use keel_interface::http::{HttpParser, Limits};

/// xorshift64*: deterministic, dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..1 + rng.below(3) {
        match rng.below(5) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] ^= 1 << rng.below(8);
            }
            1 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] = rng.next() as u8;
            }
            2 => v.truncate(rng.below(v.len() + 1)),
            3 => {
                let i = rng.below(v.len() + 1);
                let n = 1 + rng.below(4);
                let extra = rng.bytes(n);
                v.splice(i..i, extra);
            }
            _ if !v.is_empty() => {
                let i = rng.below(v.len());
                v.remove(i);
            }
            _ => {}
        }
    }
    v
}

#[test]
fn random_bytes_never_panic_any_decoder() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..20_000 {
        let len = rng.below(if round % 10 == 0 { 4096 } else { 64 });
        let mut data = rng.bytes(len);
        // Bias towards CBOR-looking input: a map or array head up front.
        if round % 3 == 0 && !data.is_empty() {
            data[0] = [0xa1, 0xa4, 0x83, 0xd9][rng.below(4)];
        }
        let _ = Envelope::decode(&data);
        let _ = HashTree::from_cbor(&data);
        let _ = Certificate::from_cbor(&data);
        let _ = keel_interface::candid::principal_field(&[b"DIDL".as_slice(), &data].concat(), "canister_id");
        let mut p = HttpParser::new(Limits::default());
        p.feed(&data);
        let _ = p.next_request();
    }
}

#[test]
fn mutated_agent_envelopes_are_refused_or_equivalent() {
    let mut node = TestNode::new();
    let identity = Secp256k1Identity::from_private_key(k256::SecretKey::from_slice(&[2; 32]).unwrap());
    let agent = Agent::builder().with_url("http://127.0.0.1:9").with_identity(identity).build().unwrap();
    let cid = P::from_slice(canister().as_slice());
    let call = agent.update(&cid, "echo").with_arg(Encode!(&"x").unwrap()).sign().unwrap().signed_update;
    let query = agent.query(&cid, "echo").with_arg(Encode!(&"y").unwrap()).sign().unwrap().signed_query;
    let cases = [(format!("/api/v4/canister/{cid}/call"), call), (format!("/api/v3/canister/{cid}/query"), query)];
    let mut rng = Rng(42);
    let mut refused = 0;
    for round in 0..3000 {
        let (path, original) = &cases[round % 2];
        let mutated = mutate(&mut rng, original);
        let response = node.serve(&post(path, mutated.clone()));
        if response.status >= 400 {
            assert!(response.status < 500, "status {}", response.status);
            refused += 1;
        } else {
            // Accepted: then it must mean exactly what the agent signed.
            assert_eq!(Envelope::decode(&mutated).unwrap(), Envelope::decode(original).unwrap(), "round {round}");
        }
    }
    eprintln!("refused {refused} of 3000");
    assert!(refused > 2500, "only {refused} of 3000 mutations refused");
}

#[test]
fn http_split_at_every_point() {
    let mut node = TestNode::new();
    let cid = P::from_slice(canister().as_slice());
    let agent = Agent::builder().with_url("http://127.0.0.1:9").build().unwrap();
    let body = agent.query(&cid, "echo").with_arg(Encode!(&1u8).unwrap()).sign().unwrap().signed_query;
    let mut raw = format!(
        "POST /api/v2/canister/{cid}/query HTTP/1.1\r\nContent-Type: application/cbor\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    raw.extend_from_slice(&body);
    for split in 0..raw.len() {
        let mut p = HttpParser::new(Limits::default());
        p.feed(&raw[..split]);
        assert_eq!(p.next_request(), Ok(None), "split {split}");
        p.feed(&raw[split..]);
        let request = p.next_request().unwrap().unwrap();
        assert_eq!(node.serve(&request).status, 200);
    }
}
