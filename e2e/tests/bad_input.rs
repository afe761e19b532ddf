//! Hostile and broken clients get the IC's status codes and reject codes, and the node keeps
//! serving everyone else: malformed HTTP and CBOR, bad signatures, expired ingress, bodies
//! over the limit, unknown canisters, a client that never finishes its request, and hundreds
//! of connections at once.

use candid::{Encode, Principal};
use ic_agent::{Agent, AgentError};
use ic_agent::agent::RejectCode;
use ic_agent::identity::BasicIdentity;
use keel_e2e::TestNode;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, SystemTime};

/// Sends raw bytes on a fresh connection and returns the status code of the answer.
fn raw_status(node: &TestNode, request: &[u8]) -> u16 {
    let (status, _) = exchange(node.address(), request, Duration::from_secs(30)).unwrap_or_else(|e| panic!("{e}\n{}", node.log()));
    status
}

/// Opens a connection, sends `request` and reads the answer, waiting at most `patience` for
/// it; returns its status code and the connection.
fn exchange(address: &str, request: &[u8], patience: Duration) -> Result<(u16, TcpStream), String> {
    let mut stream = TcpStream::connect(address).map_err(|e| format!("connect: {e}"))?;
    stream.set_read_timeout(Some(patience)).map_err(|e| e.to_string())?;
    stream.write_all(request).map_err(|e| format!("send: {e}"))?;
    Ok((status_of(&mut stream)?, stream))
}

/// Reads one whole response from `stream` (head and `Content-Length` body, so a keep-alive
/// connection is ready for the next) and returns its status code, or why there was none.
fn status_of(stream: &mut TcpStream) -> Result<u16, String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).map_err(|e| format!("no response: {e}"))?;
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    let status = head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let length = (head.lines())
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).map_err(|e| format!("truncated body: {e}"))?;
    Ok(status)
}

fn post(path: &str, content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: keel\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    request
}

/// Connects and asks for the status on a keep-alive connection; returns the connection, still
/// open, once the answer is a 200.
fn keep_alive_status(address: &str) -> Result<TcpStream, String> {
    match exchange(address, STATUS_KEEP_ALIVE, Duration::from_secs(60))? {
        (200, stream) => Ok(stream),
        (status, _) => Err(format!("status {status}")),
    }
}

const STATUS_KEEP_ALIVE: &[u8] = b"GET /api/v2/status HTTP/1.1\r\nHost: keel\r\n\r\n";

const STATUS: &[u8] = b"GET /api/v2/status HTTP/1.1\r\nHost: keel\r\nConnection: close\r\n\r\n";

fn still_serving(node: &TestNode) {
    assert_eq!(raw_status(node, STATUS), 200, "the node stopped answering\n{}", node.log());
}

fn identity() -> BasicIdentity {
    let key = ic_ed25519::PrivateKey::generate_from_seed(&[7; 32]);
    BasicIdentity::from_raw_key(&key.serialize_raw())
}

#[tokio::test(flavor = "multi_thread")]
async fn broken_and_hostile_requests_are_refused_and_the_node_keeps_serving() {
    let node = TestNode::start_with(None, "http.request_timeout=3").unwrap_or_else(|e| panic!("{e}"));
    let query_path = format!("/api/v3/canister/{}/query", Principal::management_canister());

    // Malformed HTTP, malformed CBOR, a missing content type, a body over the 2 MiB limit.
    assert_eq!(raw_status(&node, b"BLAH\x00\x01 /\r\n\r\n"), 400);
    assert_eq!(raw_status(&node, &post(&query_path, "application/cbor", b"\xd9\xd9\xf7\xa1\x00")), 400);
    assert_eq!(raw_status(&node, &post(&query_path, "text/plain", b"hello")), 400);
    let huge = format!("POST {query_path} HTTP/1.1\r\nHost: keel\r\nContent-Type: application/cbor\r\nContent-Length: {}\r\n\r\n", 3 << 20);
    assert_eq!(raw_status(&node, huge.as_bytes()), 413);
    still_serving(&node);

    let agent = Agent::builder().with_url(&node.url).with_identity(identity()).build().unwrap_or_else(|e| panic!("{e}"));
    agent.fetch_root_key().await.unwrap_or_else(|e| panic!("{e}"));

    // A signature that does not verify: flip the last byte of a signed envelope (the end of
    // `sender_sig`, the envelope's last field).
    let cid = Principal::from_slice(&[0, 0, 0, 0, 0, 0, 0, 99, 1, 1]);
    let mut signed = agent.query(&cid, "get").with_arg(Encode!().unwrap_or_default()).sign().unwrap_or_else(|e| panic!("{e}")).signed_query;
    if let Some(last) = signed.last_mut() {
        *last ^= 0x55;
    }
    let path = format!("/api/v3/canister/{cid}/query");
    let status = raw_status(&node, &post(&path, "application/cbor", &signed));
    assert!(status == 400 || status == 403, "a forged signature got {status}");

    // Expired ingress.
    let past = SystemTime::now() - Duration::from_secs(600);
    match agent.update(&cid, "put").with_arg(vec![]).expire_at(past).call_and_wait().await {
        Err(AgentError::HttpError(e)) => {
            assert_eq!(e.status, 400, "{e:?}");
            assert!(String::from_utf8_lossy(&e.content).contains("Invalid request expiry"), "{e:?}");
        }
        other => panic!("an expired call was not refused: {other:?}"),
    }

    // A canister that does not exist: destination invalid.
    match agent.query(&cid, "get").with_arg(Encode!().unwrap_or_default()).call().await {
        Err(AgentError::UncertifiedReject { reject, .. }) => {
            assert_eq!(reject.reject_code, RejectCode::DestinationInvalid, "{reject:?}")
        }
        other => panic!("a query to a missing canister got {other:?}"),
    }
    still_serving(&node);
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_clients_time_out_and_hundreds_of_connections_are_served() {
    let node = TestNode::start_with(None, "http.request_timeout=3").unwrap_or_else(|e| panic!("{e}"));

    // A client that starts a request and never finishes it holds one connection only.
    let mut slow = TcpStream::connect(node.address()).unwrap_or_else(|e| panic!("{e}"));
    slow.write_all(b"POST /api/v2/status HTTP/1.1\r\nContent-Length: 100\r\n\r\nabc").unwrap_or_else(|e| panic!("{e}"));
    still_serving(&node);
    slow.set_read_timeout(Some(Duration::from_secs(30))).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status_of(&mut slow), Ok(408), "the slow client was not timed out\n{}", node.log());

    // 200 clients at once, each on its own keep-alive connection. They connect one after
    // another (QEMU's user network forwards the port through a listener with a backlog of one,
    // so a burst of connects overflows the host's accept queue before any reaches the node),
    // then all 200 connections, open side by side, send a request before any answer is read.
    let address = node.address();
    let mut clients = Vec::new();
    for i in 0..200 {
        let client = keep_alive_status(address).unwrap_or_else(|e| panic!("client {i} connecting: {e}\n{}", node.log()));
        clients.push(client);
    }
    for client in &mut clients {
        client.write_all(STATUS_KEEP_ALIVE).unwrap_or_else(|e| panic!("send: {e}"));
    }
    let failures: Vec<String> = (clients.iter_mut().enumerate())
        .map(|(i, client)| (i, status_of(client)))
        .filter(|(_, outcome)| *outcome != Ok(200))
        .map(|(i, outcome)| format!("client {i}: {outcome:?}"))
        .collect();
    assert!(failures.is_empty(), "{} of 200 clients failed:\n{}\n{}", failures.len(), failures.join("\n"), node.log());
    still_serving(&node);
}
