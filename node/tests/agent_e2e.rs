//! Unmodified `ic-agent` and `ic-utils` against a node served over loopback TCP (a thread
//! per connection stands in for the kernel's event loop): fetch_root_key, provisional
//! canister creation, install of the counter fixture, v4 updates whose certificates the
//! agent verifies, v3 queries whose node signatures it verifies, canister_status as a
//! query, read_state of time, stop and delete.

mod common;

use candid::{Decode, Encode, Principal as P};
use common::{config, counter_wasm, keys, real_now};
use ic_agent::identity::BasicIdentity;
use ic_agent::Agent;
use ic_utils::interfaces::management_canister::CanisterStatusType;
use ic_utils::interfaces::ManagementCanister;
use ic_utils::call::AsyncCall;
use keel_hypervisor::MemBlockDevice;
use keel_interface::http::{HttpParser, HttpResponse, Limits};
use keel_node::{Node, Reply, Service};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Shared = Arc<Mutex<Node<MemBlockDevice>>>;

/// Serves `node` on 127.0.0.1; a ticker thread keeps consensus going like the kernel does.
fn serve(node: Shared) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let ticker = node.clone();
    std::thread::spawn(move || loop {
        let wait = ticker.lock().unwrap().tick(real_now());
        std::thread::sleep(wait.min(Duration::from_millis(5)));
    });
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let node = node.clone();
            std::thread::spawn(move || connection(stream, node));
        }
    });
    url
}

fn connection(mut stream: TcpStream, node: Shared) {
    let mut parser = HttpParser::new(Limits::default());
    let mut buf = [0u8; 64 * 1024];
    loop {
        match parser.next_request() {
            Ok(Some(request)) => {
                let reply = node.lock().unwrap().handle(&request, real_now());
                let response = match reply {
                    Reply::Now(r) => r,
                    Reply::Later(ticket) => loop {
                        if let Some(r) = node.lock().unwrap().poll(ticket, real_now()) {
                            break r;
                        }
                        std::thread::sleep(Duration::from_millis(1));
                    },
                };
                if stream.write_all(&response.to_bytes(request.keep_alive)).is_err() || !request.keep_alive {
                    return;
                }
                continue;
            }
            Ok(None) => {}
            Err(e) => {
                let _ = stream.write_all(&HttpResponse::text(e.status(), &e.to_string()).to_bytes(false));
                return;
            }
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => parser.feed(&buf[..n]),
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn ic_agent_and_ic_utils_against_the_node() {
    let node = Node::new(config(), keys(1), None::<MemBlockDevice>, real_now()).unwrap();
    let root_key = node.root_key_der().to_vec();
    let url = serve(Arc::new(Mutex::new(node)));
    let agent = Agent::builder().with_url(&url).with_identity(BasicIdentity::from_raw_key(&[1; 32])).build().unwrap();
    agent.fetch_root_key().await.unwrap();
    assert_eq!(agent.read_root_key(), root_key);
    let status = agent.status().await.unwrap();
    assert_eq!(status.replica_health_status.as_deref(), Some("healthy"));

    let mgmt = ManagementCanister::create(&agent);
    let (cid,) = mgmt
        .create_canister()
        .as_provisional_create_with_amount(Some(100_000_000_000_000))
        .with_effective_canister_id(P::management_canister())
        .call_and_wait()
        .await
        .unwrap();
    let wasm = counter_wasm();
    mgmt.install_code(&cid, &wasm).with_raw_arg(Encode!(&5u64).unwrap()).call_and_wait().await.unwrap();

    // The agent verifies the certificate of each update against the fetched root key.
    for expected in 6..9u64 {
        let reply = agent.update(&cid, "inc").with_arg(Encode!(&()).unwrap()).call_and_wait().await.unwrap();
        assert_eq!(Decode!(&reply, u64).unwrap(), expected);
    }
    // And the node's signature on each query, with the node key it reads from the subnet.
    let reply = agent.query(&cid, "get").with_arg(Encode!(&()).unwrap()).call().await.unwrap();
    assert_eq!(Decode!(&reply, u64).unwrap(), 8);
    let err = agent.query(&cid, "no_such_method").with_arg(Encode!(&()).unwrap()).call().await.unwrap_err();
    assert!(matches!(err, ic_agent::AgentError::UncertifiedReject { .. }), "{err:?}");

    // canister_status through ic-utils itself, decoded with its own (0.49) types: every field
    // the client expects must be there.
    let (status,) = mgmt.canister_status(&cid).call().await.unwrap();
    assert_eq!(status.status, CanisterStatusType::Running);
    assert_eq!(status.module_hash.as_deref(), Some(keel_crypto::hash::sha256(&wasm).as_slice()));

    let cert = agent.read_state_raw(vec![vec!["time".into()]], cid).await.unwrap();
    agent.verify(&cert, cid).unwrap();

    mgmt.stop_canister(&cid).call_and_wait().await.unwrap();
    mgmt.delete_canister(&cid).call_and_wait().await.unwrap();
    let err = agent.query(&cid, "get").with_arg(Encode!(&()).unwrap()).call().await.unwrap_err();
    assert!(matches!(err, ic_agent::AgentError::UncertifiedReject { .. }), "{err:?}");
}
