//! Driving a node the way IC clients do, with unmodified `ic-agent`/`ic-utils`: the steps
//! the end-to-end tests and the benches share (an agent that trusts the node's root key,
//! a canister created with provisional cycles and installed, the fixtures' methods).
//! Errors come back as text for the caller to add the node logs to.

use candid::{Decode, Encode, Principal};
use ic_agent::Agent;
use ic_utils::interfaces::ManagementCanister;
use ic_utils::interfaces::management_canister::builders::CanisterInstallMode;
use keel_fixtures::Canister;

/// An agent for the node at `url` that has fetched and trusts its root key (what a client
/// does with a local network).
pub async fn agent_for(url: &str) -> Result<Agent, String> {
    let agent = Agent::builder().with_url(url).build().map_err(|e| format!("agent for {url}: {e}"))?;
    agent.fetch_root_key().await.map_err(|e| format!("fetch_root_key from {url}: {e}"))?;
    Ok(agent)
}

/// Creates a canister with `cycles` provisional cycles and installs `canister` with the
/// Candid-encoded `arg`.
pub async fn install(agent: &Agent, canister: Canister, arg: Vec<u8>, cycles: u128) -> Result<Principal, String> {
    let mgmt = ManagementCanister::create(agent);
    let (id,) = mgmt
        .create_canister()
        .as_provisional_create_with_amount(Some(cycles))
        .call_and_wait()
        .await
        .map_err(|e| format!("provisional create_canister: {e}"))?;
    let wasm = canister.wasm().map_err(|e| format!("{canister:?} fixture: {e}"))?;
    mgmt.install_code(&id, &wasm)
        .with_mode(CanisterInstallMode::Install)
        .with_raw_arg(arg)
        .call_and_wait()
        .await
        .map_err(|e| format!("install_code {canister:?} into {id}: {e}"))?;
    Ok(id)
}

/// The `kv_store` fixture's `put` (a certified update): the value it replaced.
pub async fn kv_put(agent: &Agent, id: &Principal, key: &str, value: &str) -> Result<Option<String>, String> {
    let arg = Encode!(&key, &value).map_err(|e| e.to_string())?;
    let reply = agent.update(id, "put").with_arg(arg).call_and_wait().await.map_err(|e| format!("put {key}: {e}"))?;
    Decode!(&reply, Option<String>).map_err(|e| format!("put {key} reply: {e}"))
}

/// The `kv_store` fixture's `get` (a query).
pub async fn kv_get(agent: &Agent, id: &Principal, key: &str) -> Result<Option<String>, String> {
    let arg = Encode!(&key).map_err(|e| e.to_string())?;
    let reply = agent.query(id, "get").with_arg(arg).call().await.map_err(|e| format!("get {key}: {e}"))?;
    Decode!(&reply, Option<String>).map_err(|e| format!("get {key} reply: {e}"))
}

/// The `counter` fixture's `inc` (a certified update): the new count.
pub async fn counter_inc(agent: &Agent, id: &Principal) -> Result<u64, String> {
    let arg = Encode!().map_err(|e| e.to_string())?;
    let reply = agent.update(id, "inc").with_arg(arg).call_and_wait().await.map_err(|e| format!("inc: {e}"))?;
    Decode!(&reply, u64).map_err(|e| format!("inc reply: {e}"))
}

/// The `counter` fixture's `get` (a query).
pub async fn counter_get(agent: &Agent, id: &Principal) -> Result<u64, String> {
    let arg = Encode!().map_err(|e| e.to_string())?;
    let reply = agent.query(id, "get").with_arg(arg).call().await.map_err(|e| format!("get: {e}"))?;
    Decode!(&reply, u64).map_err(|e| format!("get reply: {e}"))
}
