//! The node answers the status endpoint the way `ic-agent` expects, and hands out its root
//! key, so an agent can verify everything the node certifies.

use ic_agent::Agent;
use keel_e2e::TestNode;

#[tokio::test(flavor = "multi_thread")]
async fn agent_reads_status_and_fetches_the_root_key() {
    let node = TestNode::start(None).unwrap_or_else(|e| panic!("{e}"));
    let agent = Agent::builder().with_url(&node.url).build().unwrap_or_else(|e| panic!("{e}"));
    let status = agent.status().await.unwrap_or_else(|e| panic!("status: {e}\n{}", node.log()));
    assert!(status.impl_version.is_some(), "{status:?}");
    agent.fetch_root_key().await.unwrap_or_else(|e| panic!("fetch_root_key: {e}\n{}", node.log()));
    let root_key = agent.read_root_key();
    assert_eq!(root_key.len(), 133, "a DER BLS12-381 public key");
}

#[test]
fn a_pvh_booted_node_says_it_has_no_attestation_report() {
    use std::io::{Read, Write};
    let node = TestNode::start(None).unwrap_or_else(|e| panic!("{e}"));
    let mut stream = std::net::TcpStream::connect(node.address()).unwrap_or_else(|e| panic!("{e}"));
    stream
        .write_all(b"GET /api/v2/keel/attestation HTTP/1.1\r\nHost: keel\r\nConnection: close\r\n\r\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap_or_else(|e| panic!("{e}"));
    assert!(response.starts_with("HTTP/1.1 404"), "{response}");
    assert!(response.contains("measured UEFI path"), "{response}");
}

#[test]
fn large_bodies_with_expect_continue_get_an_interim_response() {
    use std::io::{Read, Write};
    let node = TestNode::start(None).unwrap_or_else(|e| panic!("{e}"));
    let mut stream = std::net::TcpStream::connect(node.address()).unwrap_or_else(|e| panic!("{e}"));
    let head = "POST /api/v3/canister/aaaaa-aa/query HTTP/1.1\r\nHost: keel\r\nContent-Type: application/cbor\r\nContent-Length: 4\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n";
    stream.write_all(head.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    let mut interim = [0u8; 25];
    stream.read_exact(&mut interim).unwrap_or_else(|e| panic!("no 100 Continue: {e}"));
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    stream.write_all(b"\xa0\xa0\xa0\xa0").unwrap_or_else(|e| panic!("{e}"));
    let mut rest = String::new();
    stream.read_to_string(&mut rest).unwrap_or_else(|e| panic!("{e}"));
    assert!(rest.starts_with("HTTP/1.1 400"), "garbage CBOR after the 100: {rest}");
}
