//! A canister's whole life on a booted Keel node, through unmodified `ic-agent`/`ic-utils`:
//! create with cycles, install a real ic-cdk canister, certified update calls, queries,
//! read_state of time and request status, upgrade with data kept, stop and delete; and a
//! node restart after which canister, data and root key are still there.

use candid::{Decode, Encode, Principal};
use ic_agent::Agent;
use ic_agent::agent::RequestStatusResponse;
use ic_agent::hash_tree::LookupResult;
use ic_utils::call::AsyncCall;
use ic_utils::interfaces::ManagementCanister;
use ic_utils::interfaces::management_canister::builders::CanisterInstallMode;
use keel_e2e::TestNode;
use keel_e2e::agent::{self as client, kv_get};
use keel_fixtures::Canister;

async fn agent_for(node: &TestNode) -> Agent {
    client::agent_for(&node.url).await.unwrap_or_else(|e| panic!("{e}\n{}", node.log()))
}

async fn create_and_install(agent: &Agent, node: &TestNode) -> Principal {
    let arg = Encode!().unwrap_or_default();
    client::install(agent, Canister::KvStore, arg, 10_000_000_000_000).await.unwrap_or_else(|e| panic!("{e}\n{}", node.log()))
}

async fn put(agent: &Agent, id: &Principal, key: &str, value: &str) -> Option<String> {
    client::kv_put(agent, id, key, value).await.unwrap_or_else(|e| panic!("{e}"))
}

async fn get(agent: &Agent, id: &Principal, key: &str) -> Result<Option<String>, String> {
    kv_get(agent, id, key).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_canister_lives_its_whole_life_on_a_booted_node() {
    let node = TestNode::start(None).unwrap_or_else(|e| panic!("{e}"));
    let agent = agent_for(&node).await;
    let id = create_and_install(&agent, &node).await;

    // Updates are certified: call_and_wait verifies the certificate against the root key.
    assert_eq!(put(&agent, &id, "colour", "blue").await, None);
    assert_eq!(put(&agent, &id, "colour", "green").await, Some("blue".into()));
    assert_eq!(get(&agent, &id, "colour").await.ok().flatten(), Some("green".into()));

    // read_state: the request status of a call we sent ourselves, and the certified time.
    let signed = agent
        .update(&id, "put")
        .with_arg(Encode!(&"shape", &"round").unwrap_or_default())
        .sign()
        .unwrap_or_else(|e| panic!("{e}"));
    agent.update_signed(id, signed.signed_update).await.unwrap_or_else(|e| panic!("{e}"));
    let (status, _certificate) = agent.request_status_raw(&signed.request_id, id).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(status, RequestStatusResponse::Replied(_)), "{status:?}");
    let certificate = agent
        .read_state_raw(vec![vec!["time".into()]], id)
        .await
        .unwrap_or_else(|e| panic!("read_state time: {e}\n{}", node.log()));
    match certificate.tree.lookup_path([b"time".as_ref()]) {
        LookupResult::Found(time) => assert!(!time.is_empty(), "certified time is a LEB128 nat"),
        other => panic!("no certified time: {other:?}"),
    }

    // Upgrade: stable memory is kept, the upgrade hooks ran.
    let mgmt = ManagementCanister::create(&agent);
    let wasm = Canister::KvStore.wasm().unwrap_or_else(|e| panic!("{e}"));
    mgmt.install_code(&id, &wasm)
        .with_mode(CanisterInstallMode::Upgrade(None))
        .call_and_wait()
        .await
        .unwrap_or_else(|e| panic!("upgrade: {e}\n{}", node.log()));
    assert_eq!(get(&agent, &id, "colour").await.ok().flatten(), Some("green".into()));
    let stats = agent.query(&id, "stats").with_arg(Encode!().unwrap_or_default()).call().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(Decode!(&stats, u64, u64).unwrap_or_else(|e| panic!("{e}")), (3, 1), "writes carried over, one upgrade");

    // Stop and delete: the canister is gone afterwards.
    mgmt.stop_canister(&id).call_and_wait().await.unwrap_or_else(|e| panic!("stop: {e}\n{}", node.log()));
    mgmt.delete_canister(&id).call_and_wait().await.unwrap_or_else(|e| panic!("delete: {e}\n{}", node.log()));
    assert!(get(&agent, &id, "colour").await.is_err(), "a deleted canister answers no queries");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restarted_node_keeps_its_canisters_data_and_root_key() {
    let dir = std::env::temp_dir().join(format!("keel-e2e-restart-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let disk = dir.join("state.img");
    let _ = std::fs::remove_file(&disk);
    keel_e2e::ensure_disk(&disk, 1024).unwrap_or_else(|e| panic!("{e}"));

    let (id, root_key) = {
        let node = TestNode::start(Some(&disk)).unwrap_or_else(|e| panic!("{e}"));
        let agent = agent_for(&node).await;
        let id = create_and_install(&agent, &node).await;
        put(&agent, &id, "kept", "across restarts").await;
        (id, agent.read_root_key())
    }; // dropping the node kills QEMU: no orderly shutdown, as in a power cut

    let node = TestNode::start(Some(&disk)).unwrap_or_else(|e| panic!("{e}"));
    let agent = agent_for(&node).await;
    assert_eq!(agent.read_root_key(), root_key, "the node kept its subnet key");
    let value = get(&agent, &id, "kept").await.unwrap_or_else(|e| panic!("query after restart: {e}\n{}", node.log()));
    assert_eq!(value, Some("across restarts".into()));
    let _ = std::fs::remove_dir_all(&dir);
}
