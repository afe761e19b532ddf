//! Runs the ic-cdk counter's `get` query in a loop, for profiling the per-message path
//! (`perf record cargo run --release -p keel-sandbox --example profile_counter`).

use std::collections::BTreeMap;

use keel_fixtures::Canister;
use keel_sandbox::execution::CanisterStatus;
use keel_sandbox::{CanisterId, CanisterState, Cycles, EntryPoint, ExecutionEnvironment, Limits, MessageInput, Principal, Sandbox};

fn main() {
    let sandbox = Sandbox::new(Limits::default());
    let module = sandbox.compile(&Canister::Counter.wasm().unwrap_or_else(|e| panic!("{e}"))).unwrap_or_else(|e| panic!("{e}"));
    let env = ExecutionEnvironment {
        canister_id: CanisterId::from_u64(1),
        subnet_id: Principal::anonymous(),
        subnet_size: 13,
        time_nanos: 1,
        balance: Cycles::new(1 << 40),
        freezing_reserve: Cycles::ZERO,
        status: CanisterStatus::Running,
        canister_version: 1,
        controllers: vec![],
        global_timer: 0,
        replicated: true,
        data_certificate: None,
        root_key: vec![],
        env_vars: BTreeMap::new(),
    };
    let mut state = CanisterState::new();
    assert!(sandbox.install(&module, &mut state, &env).is_ok());
    let init = MessageInput { arg: b"DIDL\x00\x01\x78\0\0\0\0\0\0\0\0".to_vec(), ..MessageInput::default() };
    assert!(sandbox.execute(&module, &mut state, &EntryPoint::Init, &init, &env).is_ok());
    let input = MessageInput { arg: b"DIDL\x00\x00".to_vec(), ..MessageInput::default() };
    let entry = EntryPoint::Update(std::env::args().nth(1).unwrap_or_else(|| "inc".into()));
    for _ in 0..20_000 {
        assert!(sandbox.execute(&module, &mut state, &entry, &input, &env).is_ok());
    }
}
