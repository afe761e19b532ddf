use keel_node::{Node, NodeConfig, NodeKeys, Service};
use keel_hypervisor::MemBlockDevice;
#[test]
fn probe() {
    let t0: u64 = 1_795_600_000_000_000_000;
    let mut node: Node<MemBlockDevice> = Node::new(NodeConfig::dev("probe"), NodeKeys::generate([3; 32]).unwrap(), None, t0).unwrap();
    for k in 0..6u64 {
        let now = t0 + k * 1_000_000_000;
        let wait = node.tick(now);
        let c = node.certified().unwrap();
        let time = c.tree.lookup_value(&[b"time".as_ref()]);
        println!("k={k} wait={wait:?} height={:?} time={:?}", c.height, time);
    }
}
