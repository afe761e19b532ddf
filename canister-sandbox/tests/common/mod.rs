//! Shared helpers of the sandbox's host tests.
#![allow(dead_code)]

use std::collections::BTreeMap;

use candid::utils::{ArgumentDecoder, ArgumentEncoder};
use keel_fixtures::{Canister, WatFixture};
use keel_sandbox::execution::CanisterStatus;
use keel_sandbox::{
    CanisterId, CanisterState, CompiledModule, Cycles, EntryPoint, ExecutionEnvironment, ExecutionOutcome, Limits,
    MessageInput, NumInstructions, Principal, Sandbox,
};

pub const CANISTER: CanisterId = CanisterId::from_u64(7);

pub fn controller() -> Principal {
    Principal::from_slice(&[0xc0, 0x17, 0x01]).unwrap()
}

/// Limits small enough that loops and memory bombs end quickly.
pub fn test_limits() -> Limits {
    Limits {
        update_instructions: NumInstructions::new(200_000_000),
        query_instructions: NumInstructions::new(100_000_000),
        heap_cap_bytes: Some(64 << 20),
        stable_bytes: 256 << 20,
        ..Limits::default()
    }
}

pub fn env() -> ExecutionEnvironment {
    ExecutionEnvironment {
        canister_id: CANISTER,
        subnet_id: Principal::from_slice(&[0x5b; 29]).unwrap(),
        subnet_size: 13,
        time_nanos: 1_700_000_000_000_000_000,
        balance: Cycles::new(10_000_000_000_000),
        freezing_reserve: Cycles::new(1_000_000),
        status: CanisterStatus::Running,
        canister_version: 3,
        controllers: vec![controller()],
        global_timer: 0,
        replicated: true,
        data_certificate: None,
        root_key: vec![0x30; 133],
        env_vars: BTreeMap::from([("MODE".to_string(), "test".to_string())]),
    }
}

pub fn message(arg: Vec<u8>) -> MessageInput {
    MessageInput { caller: controller(), arg, ..MessageInput::default() }
}

pub fn rust_fixture(canister: Canister) -> Vec<u8> {
    canister.wasm().unwrap_or_else(|e| panic!("fixture {canister:?}: {e}"))
}

pub fn wat_fixture(fixture: WatFixture) -> Vec<u8> {
    fixture.wasm().unwrap_or_else(|e| panic!("fixture {fixture:?}: {e}"))
}

/// A sandbox, a compiled module and a canister state that went through install + init.
pub struct Harness {
    pub sandbox: Sandbox,
    pub module: CompiledModule,
    pub state: CanisterState,
    pub env: ExecutionEnvironment,
}

impl Harness {
    pub fn new(wasm: &[u8], init_arg: Vec<u8>) -> Harness {
        Harness::with_limits(wasm, init_arg, test_limits())
    }

    pub fn with_limits(wasm: &[u8], init_arg: Vec<u8>, limits: Limits) -> Harness {
        let sandbox = Sandbox::new(limits);
        let module = sandbox.compile(wasm).unwrap_or_else(|e| panic!("compile: {e}"));
        let mut harness = Harness { sandbox, module, state: CanisterState::new(), env: env() };
        let installed = harness.sandbox.install(&harness.module, &mut harness.state, &harness.env);
        assert!(installed.is_ok(), "install: {:?}", installed.result);
        let init = harness.run(&EntryPoint::Init, message(init_arg));
        assert!(init.is_ok(), "init: {:?}", init.result);
        harness
    }

    pub fn run(&mut self, entry: &EntryPoint, input: MessageInput) -> ExecutionOutcome {
        self.sandbox.execute(&self.module, &mut self.state, entry, &input, &self.env)
    }

    pub fn update(&mut self, method: &str, arg: Vec<u8>) -> ExecutionOutcome {
        self.run(&EntryPoint::Update(method.into()), message(arg))
    }

    pub fn query(&mut self, method: &str, arg: Vec<u8>) -> ExecutionOutcome {
        self.run(&EntryPoint::Query(method.into()), message(arg))
    }

    /// Runs an update and decodes its Candid reply.
    pub fn update_candid<A: ArgumentEncoder, R: for<'a> ArgumentDecoder<'a>>(&mut self, method: &str, args: A) -> R {
        let outcome = self.update(method, candid::encode_args(args).unwrap());
        decode_reply(method, &outcome)
    }

    pub fn query_candid<A: ArgumentEncoder, R: for<'a> ArgumentDecoder<'a>>(&mut self, method: &str, args: A) -> R {
        let outcome = self.query(method, candid::encode_args(args).unwrap());
        decode_reply(method, &outcome)
    }

    /// pre_upgrade on the current module, then install + post_upgrade of `wasm`, all or nothing.
    pub fn upgrade(&mut self, wasm: &[u8]) -> Result<(), String> {
        let mut next = self.state.clone();
        let pre = self.sandbox.execute(&self.module, &mut next, &EntryPoint::PreUpgrade, &message(vec![]), &self.env);
        pre.result.clone().map_err(|e| format!("pre_upgrade: {e}"))?;
        let module = self.sandbox.compile(wasm).map_err(|e| e.to_string())?;
        let installed = self.sandbox.install(&module, &mut next, &self.env);
        installed.result.clone().map_err(|e| format!("install: {e}"))?;
        let post = self.sandbox.execute(&module, &mut next, &EntryPoint::PostUpgrade, &message(candid::encode_args(()).unwrap()), &self.env);
        post.result.clone().map_err(|e| format!("post_upgrade: {e}"))?;
        self.state = next;
        self.module = module;
        Ok(())
    }
}

pub fn decode_reply<R: for<'a> ArgumentDecoder<'a>>(method: &str, outcome: &ExecutionOutcome) -> R {
    assert!(outcome.is_ok(), "{method}: {:?}", outcome.result);
    let bytes = outcome.reply().unwrap_or_else(|| panic!("{method}: no reply: {:?}", outcome.response));
    candid::decode_args(bytes).unwrap_or_else(|e| panic!("{method}: bad reply: {e}"))
}

pub fn u64_le(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap())
}

pub fn u128_le(bytes: &[u8], at: usize) -> u128 {
    u128::from_le_bytes(bytes[at..at + 16].try_into().unwrap())
}
