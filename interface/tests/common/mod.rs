//! A test node: the interface's `service::handle` over a tiny in-memory state machine
//! that executes every call at once and certifies the result with a BLS root key, served
//! over real TCP on loopback so unmodified `ic-agent` can talk to it.
#![allow(dead_code)]

use keel_crypto::bls;
use keel_crypto::hash_tree::LabeledTree;
use keel_interface::certificate::{root_subnet_id, Certificate};
use keel_interface::envelope::CallContent;
use keel_interface::expiry::Time;
use keel_interface::http::{HttpParser, Limits};
use keel_interface::query::{NodeSigner, QueryOutcome};
use keel_interface::read_state::{CertifiedState, RequestOrigin, StateReader};
use keel_interface::reject::{Reject, RejectCode};
use keel_interface::request_id::RequestId;
use keel_interface::route::{CallVersion, EffectiveId};
use keel_interface::service::{handle, Action, Config, IngressCall, QueryExecutor};
use keel_interface::state_tree::{self, RequestStatus};
use keel_interface::status::HealthStatus;
use keel_interface::{call, Principal};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

/// The canister every test talks to (inside the node's range).
pub fn canister() -> Principal {
    Principal::from_canister_index(3)
}

pub fn now() -> Time {
    Time(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64)
}

pub struct TestNode {
    pub root_key: bls::SecretKey,
    pub config: Config,
    pub requests: BTreeMap<RequestId, (RequestOrigin, QueryOutcome)>,
    pub certified: Option<CertifiedState>,
    pub height: u64,
    pub health: HealthStatus,
}

impl TestNode {
    pub fn new() -> TestNode {
        let root_key = bls::SecretKey::from_seed(&[11; 32]);
        let root_key_der = root_key.public_key().to_der().to_vec();
        let subnet_id = root_subnet_id(&root_key_der);
        let config = Config {
            limits: Limits::default(),
            impl_version: "keel-test".into(),
            root_key_der,
            subnet_id,
            signer: NodeSigner::from_seed([12; 32]),
        };
        let mut node = TestNode { root_key, config, requests: BTreeMap::new(), certified: None, height: 0, health: HealthStatus::Healthy };
        node.certify(now());
        node
    }

    pub fn root_key_der(&self) -> Vec<u8> {
        self.config.root_key_der.clone()
    }

    /// Rebuilds the state tree and signs it (what consensus + hypervisor do per round).
    pub fn certify(&mut self, time: Time) {
        let ranges = [(Principal::from_canister_index(0), Principal::from_canister_index(0xfffff))];
        let signer = &self.config.signer;
        let nodes = [(signer.node_id, signer.key.public_key_der().to_vec())];
        let mut t = LabeledTree::new();
        state_tree::insert_time(&mut t, time).unwrap();
        let info = state_tree::SubnetInfo {
            subnet_id: self.config.subnet_id,
            public_key_der: &self.config.root_key_der,
            subnet_type: "application",
            canister_ranges: &ranges,
            nodes: &nodes,
        };
        state_tree::insert_subnet(&mut t, &info).unwrap();
        for (rid, (_, outcome)) in &self.requests {
            let status = match outcome {
                QueryOutcome::Replied(arg) => RequestStatus::Replied(arg.clone()),
                QueryOutcome::Rejected(r) => RequestStatus::Rejected(r.clone()),
            };
            state_tree::insert_request_status(&mut t, rid, &status).unwrap();
        }
        let cert = Certificate::sign(t.to_hash_tree(), &self.root_key);
        self.height += 1;
        let tree = keel_crypto::hash_tree::MerkleTree::new(&cert.tree);
        self.certified = Some(CertifiedState { tree, signature: cert.signature, delegation: None, height: self.height });
    }

    /// Executes a call at once (echo, or a reject for method "reject") and certifies.
    pub fn execute(&mut self, call: &IngressCall) {
        let ecid = match call.target {
            EffectiveId::Canister(p) | EffectiveId::Subnet(p) => p,
        };
        let origin = RequestOrigin { sender: call.content.sender, effective_canister_id: ecid };
        self.requests.insert(call.request_id, (origin, Executor.execute_query(&call.content)));
        self.certify(now());
    }

    /// One request through the interface, with calls executed synchronously.
    pub fn serve(&mut self, request: &keel_interface::http::HttpRequest) -> keel_interface::http::HttpResponse {
        match handle(&self.config, request, now(), self.health, &*self, &mut Executor) {
            Action::Respond(r) => r,
            Action::Submit(call) => {
                self.execute(&call);
                match call.version {
                    CallVersion::V2 => call::accepted(),
                    CallVersion::V3 | CallVersion::V4 => {
                        let state = self.certified.as_ref().unwrap();
                        call::certified(&state.call_certificate(&call.request_id))
                    }
                }
            }
        }
    }
}

impl StateReader for TestNode {
    fn certified_state(&self) -> Option<&CertifiedState> {
        self.certified.as_ref()
    }
    fn request_origin(&self, request_id: &RequestId) -> Option<RequestOrigin> {
        self.requests.get(request_id).map(|(o, _)| *o)
    }
    fn controllers(&self, _canister: &Principal) -> Option<Vec<Principal>> {
        Some(vec![])
    }
    fn is_private_metadata(&self, _canister: &Principal, name: &[u8]) -> bool {
        name == b"secret"
    }
}

/// Echoes the argument; method "reject" rejects like a canister would.
pub struct Executor;

impl QueryExecutor for Executor {
    fn execute_query(&mut self, query: &CallContent) -> QueryOutcome {
        if query.method_name == "reject" {
            QueryOutcome::Rejected(Reject {
                code: RejectCode::CanisterReject,
                message: "no thanks".into(),
                error_code: "IC0406".into(),
            })
        } else {
            QueryOutcome::Replied(query.arg.clone())
        }
    }
}

/// Serves `node` on 127.0.0.1 (a thread per connection, keep-alive); returns the URL.
pub fn serve_http(node: Arc<Mutex<TestNode>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let node = node.clone();
            std::thread::spawn(move || connection(stream, node));
        }
    });
    url
}

fn connection(mut stream: TcpStream, node: Arc<Mutex<TestNode>>) {
    let mut parser = HttpParser::new(Limits::default());
    let mut buf = [0u8; 16 * 1024];
    loop {
        match parser.next_request() {
            Ok(Some(request)) => {
                let response = node.lock().unwrap().serve(&request);
                if stream.write_all(&response.to_bytes(request.keep_alive)).is_err() || !request.keep_alive {
                    return;
                }
                continue;
            }
            Ok(None) => {
                if parser.take_continue() && stream.write_all(keel_interface::http::CONTINUE).is_err() {
                    return;
                }
            }
            Err(e) => {
                let response = keel_interface::http::HttpResponse::text(e.status(), &e.to_string());
                let _ = stream.write_all(&response.to_bytes(false));
                return;
            }
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => parser.feed(&buf[..n]),
        }
    }
}

/// An HTTP request value for `service::handle`.
pub fn post(path: &str, body: Vec<u8>) -> keel_interface::http::HttpRequest {
    keel_interface::http::HttpRequest {
        method: keel_interface::http::Method::Post,
        path: path.into(),
        content_type: Some("application/cbor".into()),
        keep_alive: true,
        body,
    }
}
