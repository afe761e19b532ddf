//! A hypervisor node running the real engine (`keel_sandbox::Sandbox`) with the `ic-cdk`
//! fixtures of `canisters/`, shared by the real-fixture test files.
#![allow(dead_code)]

use keel_fixtures::Canister;
use keel_hypervisor::SubnetType;
use keel_hypervisor::candid::{self, Type, Value, field};
use keel_hypervisor::execution::Sandbox;
use keel_sandbox::{Limits, NumInstructions};

use super::common::Node;

pub const T: u128 = 1_000_000_000_000;
/// Per-message instruction limit: large enough for every fixture message under the
/// interpreter, small enough that a runaway message fails fast.
pub const MESSAGE_LIMIT: u64 = 200_000_000;

pub fn engine() -> Sandbox {
    Sandbox::new(Limits {
        update_instructions: NumInstructions::new(MESSAGE_LIMIT),
        query_instructions: NumInstructions::new(MESSAGE_LIMIT),
        ..Limits::default()
    })
}

pub fn node(subnet_type: SubnetType) -> Node<Sandbox> {
    let mut n = Node::new(engine(), subnet_type);
    n.hv.state_mut().config.message_instructions = MESSAGE_LIMIT;
    n.hv.state_mut().config.query_instructions = MESSAGE_LIMIT;
    n
}

pub fn wasm(c: Canister) -> Vec<u8> {
    c.wasm().unwrap_or_else(|e| panic!("fixture {c:?}: {e}"))
}

pub fn no_args() -> Vec<u8> {
    candid::encode(&[]).unwrap()
}

pub fn text(s: &str) -> Vec<u8> {
    candid::encode(&[(Type::Text, Value::Text(s.into()))]).unwrap()
}

pub fn text2(a: &str, b: &str) -> Vec<u8> {
    candid::encode(&[(Type::Text, Value::Text(a.into())), (Type::Text, Value::Text(b.into()))]).unwrap()
}

pub fn reply_u64(b: &[u8]) -> u64 {
    candid::decode(b).unwrap()[0].as_u64().unwrap()
}

/// A single-value reply of Candid type `Result<T, text>`: the `Ok` payload, or the `Err` text.
pub fn result_of(b: &[u8]) -> Result<Value, String> {
    let v = candid::decode(b).unwrap().remove(0);
    let (tag, payload) = v.as_variant().unwrap();
    if tag == field("Ok") { Ok(payload.clone()) } else { Err(payload.as_text().unwrap().to_string()) }
}

/// `opt text` as an `Option<String>`.
pub fn opt_text(v: &Value) -> Option<String> {
    match v {
        Value::Opt(Some(t)) => Some(t.as_text().unwrap().to_string()),
        Value::Opt(None) => None,
        other => panic!("expected opt text, got {other:?}"),
    }
}
