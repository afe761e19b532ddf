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
