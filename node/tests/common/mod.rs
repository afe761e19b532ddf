//! Test harness: a `keel-node` driven through `Service` on a virtual clock (anchored at the
//! real time, because ic-agent stamps expiries from the real clock), with requests signed
//! by the real ic-agent and arguments encoded with the real management canister types.
#![allow(dead_code)]

use candid::{CandidType, Decode, Encode, Nat, Principal as P};
use ic_agent::identity::BasicIdentity;
use ic_agent::{Agent, Identity};
use ic_management_canister_types::{
    CanisterIdRecord, CanisterInstallMode, InstallCodeArgs, ProvisionalCreateCanisterWithCyclesArgs,
};
use keel_hypervisor::BlockDevice;
use keel_interface::certificate::Certificate;
use keel_interface::http::{HttpRequest, HttpResponse, Method};
use keel_node::{Node, NodeConfig, NodeKeys, Reply, Service};
use serde_cbor::Value;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub fn real_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64
}

pub fn config() -> NodeConfig {
    NodeConfig::dev("keel-node-test")
}

pub fn keys(seed: u8) -> NodeKeys {
    NodeKeys::generate([seed; 32]).unwrap()
}

/// An agent that only signs (never connects).
pub fn signer(identity: impl Identity + 'static) -> Agent {
    Agent::builder().with_url("http://127.0.0.1:9").with_identity(identity).build().unwrap()
}

pub fn user(seed: u8) -> Agent {
    signer(BasicIdentity::from_raw_key(&[seed; 32]))
}

pub fn post(path: &str, body: Vec<u8>) -> HttpRequest {
    HttpRequest { method: Method::Post, path: path.into(), content_type: Some("application/cbor".into()), keep_alive: true, body }
}

pub fn get(path: &str) -> HttpRequest {
    HttpRequest { method: Method::Get, path: path.into(), content_type: None, keep_alive: true, body: vec![] }
}

/// A signed update call.
pub struct Signed {
    pub body: Vec<u8>,
    pub request_id: [u8; 32],
    pub ecid: P,
}

pub fn sign_call(agent: &Agent, canister: P, method: &str, arg: Vec<u8>, ecid: P) -> Signed {
    let s = agent.update(&canister, method).with_arg(arg).with_effective_canister_id(ecid).sign().unwrap();
    Signed { body: s.signed_update, request_id: *s.request_id, ecid }
}

pub fn create_arg() -> Vec<u8> {
    Encode!(&ProvisionalCreateCanisterWithCyclesArgs {
        amount: Some(Nat::from(100_000_000_000_000u64)),
        settings: None,
        specified_id: None,
        sender_canister_version: None,
    })
    .unwrap()
}

pub fn install_arg(canister: P, mode: CanisterInstallMode, wasm: Vec<u8>, arg: Vec<u8>) -> Vec<u8> {
    Encode!(&InstallCodeArgs { mode, canister_id: canister, wasm_module: wasm, arg, sender_canister_version: None }).unwrap()
}

pub fn id_arg(canister: P) -> Vec<u8> {
    Encode!(&CanisterIdRecord { canister_id: canister }).unwrap()
}

pub fn text(r: &HttpResponse) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

/// The fields of a CBOR map body (tag optional).
pub fn cbor_map(body: &[u8]) -> std::collections::BTreeMap<Value, Value> {
    let v: Value = serde_cbor::from_slice(body).unwrap();
    let v = match v {
        Value::Tag(_, inner) => *inner,
        v => v,
    };
    match v {
        Value::Map(m) => m,
        other => panic!("not a map: {other:?}"),
    }
}

pub fn field<'a>(m: &'a std::collections::BTreeMap<Value, Value>, name: &str) -> &'a Value {
    m.get(&Value::Text(name.into())).unwrap_or_else(|| panic!("no field {name} in {m:?}"))
}

pub fn bytes(v: &Value) -> &[u8] {
    match v {
        Value::Bytes(b) => b,
        other => panic!("not bytes: {other:?}"),
    }
}

/// The outcome of a certified call, read from its verified certificate.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Replied(Vec<u8>),
    Rejected { code: u64, message: String, error_code: String },
}

/// A node on a virtual clock.
pub struct Harness<D: BlockDevice> {
    pub node: Node<D>,
    pub clock: u64,
}

impl<D: BlockDevice> Harness<D> {
    pub fn start(seed: u8, storage: Option<D>) -> Harness<D> {
        Self::start_at(seed, storage, real_now())
    }

    pub fn start_at(seed: u8, storage: Option<D>, clock: u64) -> Harness<D> {
        Self::start_with(config(), seed, storage, clock)
    }

    pub fn start_with(config: NodeConfig, seed: u8, storage: Option<D>, clock: u64) -> Harness<D> {
        let node = Node::new(config, keys(seed), storage, clock).unwrap();
        Harness { node, clock }
    }

    /// The raw 96-byte root key.
    pub fn root_key(&self) -> Vec<u8> {
        keel_crypto::der::parse_bls_public_key(self.node.root_key_der()).unwrap().to_vec()
    }

    /// Advances the clock by `d` and ticks.
    pub fn advance(&mut self, d: Duration) -> Duration {
        self.clock += d.as_nanos() as u64;
        self.node.tick(self.clock)
    }

    /// Ticks at the times the node asks for, at most `limit` in total.
    pub fn run_for(&mut self, limit: Duration) {
        let end = self.clock + limit.as_nanos() as u64;
        while self.clock < end {
            let wait = self.node.tick(self.clock).max(Duration::from_micros(100));
            self.clock = (self.clock + wait.as_nanos() as u64).min(end);
        }
        self.node.tick(self.clock);
    }

    pub fn request(&mut self, r: &HttpRequest) -> Reply {
        self.node.handle(r, self.clock)
    }

    pub fn now(&mut self, r: &HttpRequest) -> HttpResponse {
        match self.request(r) {
            Reply::Now(resp) => resp,
            Reply::Later(t) => panic!("parked as ticket {t}"),
        }
    }

    /// A parked call, driven by ticks until its answer is ready; also returns how much
    /// virtual time that took.
    pub fn wait(&mut self, ticket: u64) -> (HttpResponse, Duration) {
        let start = self.clock;
        for _ in 0..100_000 {
            if let Some(r) = self.node.poll(ticket, self.clock) {
                return (r, Duration::from_nanos(self.clock - start));
            }
            let wait = self.node.tick(self.clock).max(Duration::from_micros(100));
            self.clock += wait.as_nanos() as u64;
        }
        panic!("ticket {ticket} never answered");
    }

    /// A v4 call through to its certified outcome; the certificate is verified against the
    /// root key with keel-crypto and with ic-certification's tree lookup.
    pub fn call(&mut self, s: &Signed) -> Outcome {
        let path = format!("/api/v4/canister/{}/call", s.ecid);
        let resp = match self.request(&post(&path, s.body.clone())) {
            Reply::Later(t) => self.wait(t).0,
            Reply::Now(r) => r,
        };
        assert_eq!(resp.status, 200, "{}", text(&resp));
        let m = cbor_map(&resp.body);
        assert_eq!(field(&m, "status"), &Value::Text("replied".into()));
        let cert = Certificate::from_cbor(bytes(field(&m, "certificate"))).unwrap();
        cert.verify(&self.root_key()).unwrap();
        self.outcome(&cert, &s.request_id)
    }

    pub fn outcome(&self, cert: &Certificate, rid: &[u8; 32]) -> Outcome {
        let enc = cert.to_cbor();
        let theirs: ic_certification::Certificate = serde_cbor::from_slice(&enc).unwrap();
        let look = |f: &str| {
            match theirs.tree.lookup_path([b"request_status".as_slice(), rid.as_slice(), f.as_bytes()]) {
                ic_certification::LookupResult::Found(v) => Some(v.to_vec()),
                _ => None,
            }
        };
        match look("status").as_deref() {
            Some(b"replied") => Outcome::Replied(look("reply").unwrap()),
            Some(b"rejected") => {
                let code = look("reject_code").unwrap();
                Outcome::Rejected {
                    code: code[0] as u64,
                    message: String::from_utf8(look("reject_message").unwrap()).unwrap(),
                    error_code: String::from_utf8(look("error_code").unwrap_or_default()).unwrap(),
                }
            }
            other => panic!("status {other:?}"),
        }
    }

    pub fn reply(&mut self, s: &Signed) -> Vec<u8> {
        match self.call(s) {
            Outcome::Replied(b) => b,
            other => panic!("expected a reply, got {other:?}"),
        }
    }

    /// Creates a canister as `agent` (provisional API, sent to aaaaa-aa).
    pub fn create(&mut self, agent: &Agent) -> P {
        let s = sign_call(agent, P::management_canister(), "provisional_create_canister_with_cycles", create_arg(), P::management_canister());
        let reply = self.reply(&s);
        Decode!(&reply, CanisterIdRecord).unwrap().canister_id
    }

    pub fn install(&mut self, agent: &Agent, canister: P, mode: CanisterInstallMode, wasm: Vec<u8>, arg: Vec<u8>) -> Outcome {
        let s = sign_call(agent, P::management_canister(), "install_code", install_arg(canister, mode, wasm, arg), canister);
        self.call(&s)
    }

    /// A v3 query; returns the reply bytes (the node signature is checked).
    pub fn query(&mut self, agent: &Agent, canister: P, method: &str, arg: Vec<u8>) -> Result<Vec<u8>, (u64, String)> {
        let q = agent.query(&canister, method).with_arg(arg).sign().unwrap();
        let resp = self.now(&post(&format!("/api/v3/canister/{canister}/query"), q.signed_query));
        assert_eq!(resp.status, 200, "{}", text(&resp));
        let m = cbor_map(&resp.body);
        let Value::Array(sigs) = field(&m, "signatures") else { panic!("signatures") };
        assert_eq!(sigs.len(), 1);
        match field(&m, "status") {
            Value::Text(s) if s == "replied" => {
                let Value::Map(reply) = field(&m, "reply") else { panic!("reply") };
                Ok(bytes(reply.get(&Value::Text("arg".into())).unwrap()).to_vec())
            }
            _ => {
                let Value::Integer(code) = field(&m, "reject_code") else { panic!("code") };
                let Value::Text(msg) = field(&m, "reject_message") else { panic!("msg") };
                Err((*code as u64, msg.clone()))
            }
        }
    }

    /// Anonymous read_state of `paths` at canister `ecid`; the verified certificate.
    pub fn read_state(&mut self, ecid: P, paths: Vec<Vec<Vec<u8>>>) -> Result<Certificate, HttpResponse> {
        let paths = Value::Array(paths.into_iter().map(|p| Value::Array(p.into_iter().map(Value::Bytes).collect())).collect());
        let mut content = std::collections::BTreeMap::new();
        content.insert(Value::Text("request_type".into()), Value::Text("read_state".into()));
        content.insert(Value::Text("sender".into()), Value::Bytes(vec![4]));
        content.insert(Value::Text("ingress_expiry".into()), Value::Integer((self.clock + 60_000_000_000) as i128));
        content.insert(Value::Text("paths".into()), paths);
        let mut env = std::collections::BTreeMap::new();
        env.insert(Value::Text("content".into()), Value::Map(content));
        self.read_state_body(ecid, serde_cbor::to_vec(&Value::Map(env)).unwrap())
    }

    /// `agent`'s signed read_state of a request's status.
    pub fn request_status(&mut self, agent: &Agent, ecid: P, rid: [u8; 32]) -> Result<Certificate, HttpResponse> {
        let signed = agent.sign_request_status(ecid, ic_agent::RequestId::new(&rid)).unwrap();
        self.read_state_body(ecid, signed.signed_request_status)
    }

    fn read_state_body(&mut self, ecid: P, body: Vec<u8>) -> Result<Certificate, HttpResponse> {
        let resp = self.now(&post(&format!("/api/v3/canister/{ecid}/read_state"), body));
        if resp.status != 200 {
            return Err(resp);
        }
        let m = cbor_map(&resp.body);
        let cert = Certificate::from_cbor(bytes(field(&m, "certificate"))).unwrap();
        cert.verify(&self.root_key()).unwrap();
        Ok(cert)
    }
}

pub fn counter_wasm() -> Vec<u8> {
    keel_fixtures::Canister::Counter.wasm().unwrap()
}

pub fn kv_wasm() -> Vec<u8> {
    keel_fixtures::Canister::KvStore.wasm().unwrap()
}

#[derive(CandidType)]
pub struct Empty {}
