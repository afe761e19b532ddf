//! A four-node subnet under QEMU, driven through unmodified `ic-agent`/`ic-utils`: every
//! member hands out the same root key; a canister installed through one node is updated
//! through another and read through the rest; with one node killed the other three keep
//! finalizing and certifying; the restarted node catches up and takes updates again.

use candid::{Encode, Principal};
use ic_agent::Agent;
use keel_e2e::Testnet;
use keel_e2e::agent::{agent_for, install, kv_get, kv_put};
use keel_fixtures::Canister;
use std::future::Future;
use std::time::{Duration, Instant};

/// Longest a single call may take before the test gives up and shows the logs.
const CALL_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a node may lag behind a certified update before its queries show it.
const CATCH_UP: Duration = Duration::from_secs(60);

/// `call`, failing the test with every node's log tail if it errs or hangs.
async fn must<T>(net: &Testnet, what: &str, call: impl Future<Output = Result<T, String>>) -> T {
    match tokio::time::timeout(CALL_TIMEOUT, call).await {
        Ok(Ok(value)) => value,
        Ok(Err(e)) => panic!("{what}: {e}\n\n{}", net.tails(40)),
        Err(_) => panic!("{what}: no answer within {CALL_TIMEOUT:?}\n\n{}", net.tails(40)),
    }
}

/// Queries `key` through `agent` until it reads `expected`: a node serves queries from
/// the state it has executed, which may trail the certified update by a block or two.
async fn reads(net: &Testnet, node: usize, agent: &Agent, id: &Principal, key: &str, expected: &str) -> Duration {
    let start = Instant::now();
    let mut last = Err(String::from("no query answered"));
    while start.elapsed() < CATCH_UP {
        last = kv_get(agent, id, key).await;
        if last.as_ref().is_ok_and(|v| v.as_deref() == Some(expected)) {
            return start.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("node {node} still reads {key} = {last:?} {CATCH_UP:?} after it was set to {expected:?}\n\n{}", net.tails(40))
}

#[tokio::test(flavor = "multi_thread")]
async fn four_nodes_agree_survive_a_crash_and_take_the_node_back() {
    let mut net = Testnet::start(4).unwrap_or_else(|e| panic!("{e}"));
    let mut agents = Vec::new();
    for i in 0..net.len() {
        agents.push(must(&net, &format!("agent for node {i}"), agent_for(&net.url(i))).await);
    }

    // One subnet: every member hands out the dealt root key.
    for (i, agent) in agents.iter().enumerate() {
        let status = must(&net, &format!("node {i} status"), async { agent.status().await.map_err(|e| e.to_string()) }).await;
        assert_eq!(status.root_key.as_deref(), Some(net.root_key_der()), "node {i}'s /api/v2/status root key\n\n{}", net.tails(20));
        assert_eq!(agent.read_root_key(), net.root_key_der(), "node {i}'s fetched root key");
    }

    // Install through node 0, update through node 1, read through nodes 2 and 3.
    let arg = Encode!().unwrap_or_default();
    let id = must(&net, "install kv_store through node 0", install(&agents[0], Canister::KvStore, arg, 10_000_000_000_000)).await;
    let old = must(&net, "put through node 1", kv_put(&agents[1], &id, "colour", "blue")).await;
    assert_eq!(old, None, "a fresh store");
    for node in [2, 3, 0, 1] {
        reads(&net, node, &agents[node], &id, "colour", "blue").await;
    }

    // Node 3 goes down: three of four are a quorum, so updates still finalize, and
    // call_and_wait checks each reply's certificate against the root key.
    net.kill(3);
    for round in 0..5 {
        let value = format!("down-{round}");
        must(&net, &format!("put {value} through node 0 with node 3 down"), kv_put(&agents[0], &id, "colour", &value)).await;
    }
    reads(&net, 2, &agents[2], &id, "colour", "down-4").await;

    // Node 3 comes back on its disk: the same member with the latest state.
    net.restart(3).unwrap_or_else(|e| panic!("restarting node 3: {e}"));
    let back = must(&net, "agent for the restarted node 3", agent_for(&net.url(3))).await;
    assert_eq!(back.read_root_key(), net.root_key_der(), "the restarted node kept the subnet's root key");
    let caught_up = reads(&net, 3, &back, &id, "colour", "down-4").await;
    eprintln!("node 3 served the latest state {caught_up:?} after its ready line");
    let old = must(&net, "put through the restarted node 3", kv_put(&back, &id, "colour", "back")).await;
    assert_eq!(old.as_deref(), Some("down-4"), "the restarted node executed on the latest state");
    for node in [0, 1, 2] {
        reads(&net, node, &agents[node], &id, "colour", "back").await;
    }
}
