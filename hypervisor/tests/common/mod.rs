//! A scripted test engine for the hypervisor: "modules" are names of Rust programs that
//! drive the same `Executor` interface the Wasm sandbox implements (entry points in,
//! effects out, copy-on-write paged memory with dirty tracking, rollback on trap). It
//! lets tests pin down hypervisor semantics (actor model, routing, cycles, persistence)
//! independently of Wasm, alongside the tests that run the real `ic-cdk` fixtures.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use keel_hypervisor::block::Block;
use keel_hypervisor::candid::{self, Type, Value};
use keel_hypervisor::codec::{DecodeError, Reader, Writer};
use keel_hypervisor::cycles::Cycles;
use keel_hypervisor::error::{ErrorCode, UserError};
use keel_hypervisor::execution::{
    CanisterMemory, EntryPoint, ExecutionEnvironment, ExecutionError, ExecutionOutcome, Executor, MemorySpace, MessageInput,
    ModuleInfo, OutgoingCall, Response, WasmClosure, may_call, sandbox_principal,
};
use keel_hypervisor::ids::{CanisterId, CanisterIdExt, Height, MessageId, PAGE_SIZE, PageIndex, Principal, PrincipalExt, Time};
use keel_sandbox::NumInstructions;
use keel_hypervisor::message::{Ingress, IngressStatus};
use keel_hypervisor::{Hypervisor, SubnetConfig, SubnetType};

type Page = Arc<[u8; PAGE_SIZE]>;

/// Paged memory: pages behind `Arc`, so clones share them until written.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TestMemory {
    pages: BTreeMap<(MemorySpace, PageIndex), Page>,
    heap_pages: u64,
    stable_pages: u64,
    dirty: BTreeSet<(MemorySpace, PageIndex)>,
}

impl TestMemory {
    pub fn read_u64(&self, space: MemorySpace, addr: u64) -> u64 {
        let page = PageIndex::new(addr / PAGE_SIZE as u64);
        let off = (addr % PAGE_SIZE as u64) as usize;
        self.pages.get(&(space, page)).map_or(0, |p| u64::from_le_bytes(p[off..off + 8].try_into().unwrap()))
    }

    pub fn write_u64(&mut self, space: MemorySpace, addr: u64, v: u64) {
        let page = PageIndex::new(addr / PAGE_SIZE as u64);
        let off = (addr % PAGE_SIZE as u64) as usize;
        let p = self.pages.entry((space, page)).or_insert_with(|| Arc::new([0; PAGE_SIZE]));
        Arc::make_mut(p)[off..off + 8].copy_from_slice(&v.to_le_bytes());
        self.dirty.insert((space, page));
        let n = page.get() + 1;
        match space {
            MemorySpace::Heap => self.heap_pages = self.heap_pages.max(n),
            MemorySpace::Stable => self.stable_pages = self.stable_pages.max(n),
        }
    }

    /// Touches `n` heap pages from page `first` (a big heap for fork/checkpoint tests).
    pub fn fill_heap(&mut self, first: u64, n: u64, v: u64) {
        for i in first..first + n {
            self.write_u64(MemorySpace::Heap, i * PAGE_SIZE as u64, v + i);
        }
    }

    /// Pages physically shared between two memories (copy-on-write not yet broken).
    pub fn shared_pages(&self, other: &TestMemory) -> usize {
        self.pages.iter().filter(|(k, p)| other.pages.get(k).is_some_and(|q| Arc::ptr_eq(p, q))).count()
    }
}

impl CanisterMemory for TestMemory {
    fn size_bytes(&self) -> u64 {
        (self.heap_pages + self.stable_pages) * PAGE_SIZE as u64
    }
    fn heap_bytes(&self) -> u64 {
        self.heap_pages * PAGE_SIZE as u64
    }
    fn dirty_pages(&self) -> Vec<(MemorySpace, PageIndex)> {
        self.dirty.iter().copied().collect()
    }
    fn nonzero_pages(&self) -> Vec<(MemorySpace, PageIndex)> {
        self.pages.keys().copied().collect()
    }
    fn page(&self, space: MemorySpace, index: PageIndex) -> [u8; PAGE_SIZE] {
        self.pages.get(&(space, index)).map_or([0; PAGE_SIZE], |p| **p)
    }
    fn mark_clean(&mut self) {
        self.dirty.clear();
    }
    fn encode_meta(&self, w: &mut Writer) {
        w.u64(self.heap_pages).u64(self.stable_pages);
    }
    fn restore(meta: &mut Reader, pages: &mut dyn Iterator<Item = (MemorySpace, PageIndex, [u8; PAGE_SIZE])>) -> Result<Self, DecodeError> {
        let mut m = TestMemory { heap_pages: meta.u64()?, stable_pages: meta.u64()?, ..TestMemory::default() };
        for (s, i, p) in pages {
            m.pages.insert((s, i), Arc::new(p));
        }
        Ok(m)
    }
    fn clear_heap(&mut self) {
        self.pages.retain(|(s, _), _| *s == MemorySpace::Stable);
        self.heap_pages = 0;
    }
}

/// What a program sees and produces in one execution.
pub struct Env<'a> {
    pub entry: &'a EntryPoint,
    pub input: &'a MessageInput,
    pub env: &'a ExecutionEnvironment,
    pub mem: &'a mut TestMemory,
    pub out: ExecutionOutcome,
}

impl Env<'_> {
    pub fn reply(&mut self, bytes: Vec<u8>) {
        self.out.response = Some(Response::Reply(bytes));
    }
    pub fn reply_u64(&mut self, v: u64) {
        self.reply(v.to_le_bytes().to_vec());
    }
    pub fn reject(&mut self, msg: &str) {
        self.out.response = Some(Response::Reject(msg.into()));
    }
    pub fn call(&mut self, callee: Principal, method: &str, arg: Vec<u8>, cycles: u128, fun: u32, env: u64) {
        self.out.calls.push(OutgoingCall {
            callee: sandbox_principal(&callee),
            method: method.into(),
            arg,
            cycles: Cycles::new(cycles),
            on_reply: WasmClosure { fun: u64::from(fun), env },
            on_reject: WasmClosure { fun: u64::from(fun) + 1, env },
            on_cleanup: Some(WasmClosure { fun: 999, env }),
            timeout_seconds: None,
        });
    }
    pub fn heap(&self, addr: u64) -> u64 {
        self.mem.read_u64(MemorySpace::Heap, addr)
    }
    pub fn set_heap(&mut self, addr: u64, v: u64) {
        self.mem.write_u64(MemorySpace::Heap, addr, v)
    }
    pub fn arg_u64(&self) -> u64 {
        self.input.arg.get(..8).map_or(0, |b| u64::from_le_bytes(b.try_into().unwrap()))
    }
}

pub type Program = fn(&mut Env<'_>) -> Result<(), ExecutionError>;

#[derive(Clone, Debug)]
pub struct TestModule {
    name: String,
    program: Program,
}

/// The scripted engine: knows programs by "module bytes" (their name).
#[derive(Clone, Debug, Default)]
pub struct TestExecutor {
    programs: BTreeMap<Vec<u8>, (Program, ModuleInfo)>,
}

/// Instructions one scripted execution costs (plus one per argument byte).
pub const BASE_INSTRUCTIONS: u64 = 10_000;

impl TestExecutor {
    pub fn with(mut self, name: &str, program: Program, updates: &[&str], queries: &[&str]) -> Self {
        let info = ModuleInfo {
            updates: updates.iter().map(|s| s.to_string()).collect(),
            queries: queries.iter().map(|s| s.to_string()).collect(),
            has_init: true,
            has_post_upgrade: true,
            has_pre_upgrade: true,
            ..ModuleInfo::default()
        };
        self.programs.insert(name.as_bytes().to_vec(), (program, info));
        self
    }

    /// Declares system exports of program `name`.
    pub fn with_hooks(mut self, name: &str, heartbeat: bool, timer: bool, inspect: bool) -> Self {
        if let Some((_, info)) = self.programs.get_mut(name.as_bytes()) {
            info.has_heartbeat = heartbeat;
            info.has_global_timer = timer;
            info.has_inspect_message = inspect;
        }
        self
    }

    pub fn with_composite(mut self, name: &str, methods: &[&str]) -> Self {
        if let Some((_, info)) = self.programs.get_mut(name.as_bytes()) {
            info.composite_queries = methods.iter().map(|s| s.to_string()).collect();
        }
        self
    }
}

impl Executor for TestExecutor {
    type Module = TestModule;
    type Memory = TestMemory;

    fn compile(&self, wasm: &[u8]) -> Result<(TestModule, ModuleInfo), UserError> {
        let (program, info) = self.programs.get(wasm).ok_or_else(|| UserError::new(ErrorCode::CanisterInvalidWasm, "unknown test module"))?;
        Ok((TestModule { name: String::from_utf8_lossy(wasm).into(), program: *program }, info.clone()))
    }

    fn empty_memory(&self) -> TestMemory {
        TestMemory::default()
    }

    fn instantiate(&self, _module: &TestModule, memory: &mut TestMemory, _env: &ExecutionEnvironment) -> ExecutionOutcome {
        memory.clear_heap();
        ok_outcome(100)
    }

    fn execute(
        &self,
        module: &TestModule,
        memory: &mut TestMemory,
        entry: &EntryPoint,
        input: &MessageInput,
        env: &ExecutionEnvironment,
    ) -> ExecutionOutcome {
        // Work on a copy-on-write clone; commit only on success (the engine's rollback),
        // and never for queries.
        let mut work = memory.clone();
        let mut e = Env { entry, input, env, mem: &mut work, out: ok_outcome(BASE_INSTRUCTIONS + input.arg.len() as u64) };
        let r = (module.program)(&mut e);
        let mut out = e.out;
        if !may_call(entry) && !out.calls.is_empty() {
            return failed(ExecutionError::ContractViolation("call_perform not allowed here".into()), out.instructions_used);
        }
        match r {
            Ok(()) => {
                let keeps_state = !matches!(entry, EntryPoint::Query(_) | EntryPoint::CompositeQuery(_))
                    && !matches!(entry, EntryPoint::Callback { composite: true, .. });
                if keeps_state {
                    *memory = work;
                }
                out
            }
            Err(t) => {
                out = failed(t, out.instructions_used);
                out
            }
        }
    }
}

pub fn ok_outcome(instructions: u64) -> ExecutionOutcome {
    ExecutionOutcome {
        result: Ok(()),
        instructions_used: NumInstructions::new(instructions),
        response: None,
        calls: Vec::new(),
        cycles_accepted: Cycles::ZERO,
        cycles_burned: Cycles::ZERO,
        cycles_sent: Cycles::ZERO,
        certified_data: None,
        global_timer: None,
        message_accepted: false,
        logs: Vec::new(),
        dirty_pages: 0,
    }
}

pub fn failed(e: ExecutionError, instructions: NumInstructions) -> ExecutionOutcome {
    ExecutionOutcome { result: Err(e), ..ok_outcome(instructions.get()) }
}

// ----------------------------------------------------------------- test harness

pub const USER: Principal = Principal::anonymous();

pub fn user(n: u8) -> Principal {
    Principal::from_slice(&[n, 0xAA, 2]).unwrap()
}

/// Drives a hypervisor block by block, like consensus would.
pub struct Node<E: Executor = TestExecutor> {
    pub hv: Hypervisor<E>,
    pub blocks: Vec<Block>,
    nonce: u64,
}

impl<E: Executor> Node<E> {
    pub fn new(exec: E, subnet_type: SubnetType) -> Node<E> {
        let config = SubnetConfig::new(Principal::from_slice(&[0x5u8; 29]).unwrap(), subnet_type, 1);
        Node { hv: Hypervisor::new(exec, config), blocks: Vec::new(), nonce: 0 }
    }

    pub fn ingress(&mut self, sender: Principal, receiver: Principal, method: &str, arg: Vec<u8>) -> Ingress {
        self.nonce += 1;
        let mut id = [0u8; 32];
        id[..8].copy_from_slice(&self.nonce.to_le_bytes());
        Ingress { id: MessageId(id), sender, receiver, method: method.into(), arg, expiry: Time(u64::MAX / 2) }
    }

    /// Executes one block holding `ingress`.
    pub fn round(&mut self, ingress: Vec<Ingress>) -> [u8; 32] {
        let h = self.hv.height().next();
        let mut randomness = [0u8; 32];
        randomness[..8].copy_from_slice(&h.0.to_le_bytes());
        let block = Block { height: h, time: Time(1_700_000_000_000_000_000 + h.0 * 1_000_000_000), randomness, ingress };
        self.blocks.push(block.clone());
        self.hv.execute_round(&block).unwrap()
    }

    /// Submits one update and runs rounds until it completes; returns its outcome.
    pub fn update(&mut self, sender: Principal, receiver: Principal, method: &str, arg: Vec<u8>) -> Result<Vec<u8>, UserError> {
        let ing = self.ingress(sender, receiver, method, arg);
        let id = ing.id;
        self.round(vec![ing]);
        for _ in 0..50 {
            match self.status(&id) {
                IngressStatus::Replied(b) => return Ok(b),
                IngressStatus::Rejected(e) => return Err(e),
                _ => self.round(Vec::new()),
            };
        }
        panic!("update {method} did not complete in 50 rounds: {:?}", self.status(&id));
    }

    pub fn status(&self, id: &MessageId) -> IngressStatus {
        self.hv.state().ingress.get(id).map(|r| r.status.clone()).expect("ingress tracked")
    }

    /// Creates a canister (provisional, through `aaaaa-aa`) and installs the scripted
    /// program `module`.
    pub fn install(&mut self, controller: Principal, module: &str, cycles: u128) -> CanisterId {
        self.install_wasm(controller, module.as_bytes().to_vec(), Vec::new(), cycles)
    }

    /// Creates a canister (provisional, through `aaaaa-aa`) and installs `wasm` with
    /// init argument `arg`.
    pub fn install_wasm(&mut self, controller: Principal, wasm: Vec<u8>, arg: Vec<u8>, cycles: u128) -> CanisterId {
        let create = candid::encode(&[(
            Type::record(&[("amount", Type::opt(Type::Nat))]),
            Value::record(&[("amount", Value::some(Value::Nat(cycles)))]),
        )])
        .unwrap();
        let r = self.update(controller, Principal::MANAGEMENT_CANISTER, "provisional_create_canister_with_cycles", create).unwrap();
        let cid = candid::decode_record(&r).unwrap().req("canister_id").unwrap().as_principal().unwrap().as_canister().unwrap();
        self.update(controller, Principal::MANAGEMENT_CANISTER, "install_code", install_wasm_arg(cid, wasm, "install", arg)).unwrap();
        cid
    }

    /// Cycles conservation: Σ held + burned == minted.
    pub fn assert_cycles_conserved(&self) {
        // Σ balances + in flight + burned == minted.
        let s = self.hv.state();
        assert_eq!(s.cycles_held().saturating_add(s.burned), s.minted, "cycles were created or lost");
    }
}

pub fn install_arg(cid: CanisterId, module: &str, mode: &str, arg: Vec<u8>) -> Vec<u8> {
    install_wasm_arg(cid, module.as_bytes().to_vec(), mode, arg)
}

pub fn install_wasm_arg(cid: CanisterId, wasm: Vec<u8>, mode: &str, arg: Vec<u8>) -> Vec<u8> {
    let mode_t = Type::variant(&[("install", Type::Null), ("reinstall", Type::Null), ("upgrade", Type::opt(Type::record(&[])))]);
    let mode_v = if mode == "upgrade" { Value::variant(mode, Value::Opt(None)) } else { Value::variant(mode, Value::Null) };
    candid::encode(&[(
        Type::record(&[("mode", mode_t), ("canister_id", Type::Principal), ("wasm_module", Type::blob()), ("arg", Type::blob())]),
        Value::record(&[
            ("mode", mode_v),
            ("canister_id", Value::Principal(cid.to_principal())),
            ("wasm_module", Value::Blob(wasm)),
            ("arg", Value::Blob(arg)),
        ]),
    )])
    .unwrap()
}

pub fn canister_id_arg(cid: CanisterId) -> Vec<u8> {
    candid::encode(&[(Type::record(&[("canister_id", Type::Principal)]), Value::record(&[("canister_id", Value::Principal(cid.to_principal()))]))]).unwrap()
}

pub fn u64_of(b: &[u8]) -> u64 {
    u64::from_le_bytes(b[..8].try_into().unwrap())
}

pub fn height(n: u64) -> Height {
    Height(n)
}

/// `update_settings` argument that freezes `c`: a freezing threshold (and memory allocation)
/// so large that the canister has no liquid cycles left.
pub fn freeze_settings(c: CanisterId) -> Vec<u8> {
    candid::encode(&[(
        Type::record(&[
            ("canister_id", Type::Principal),
            ("settings", Type::record(&[("freezing_threshold", Type::opt(Type::Nat)), ("memory_allocation", Type::opt(Type::Nat))])),
        ]),
        Value::record(&[
            ("canister_id", Value::Principal(c.to_principal())),
            (
                "settings",
                Value::record(&[
                    ("freezing_threshold", Value::some(Value::Nat(u128::from(u64::MAX / 4)))),
                    ("memory_allocation", Value::some(Value::Nat(1 << 30))),
                ]),
            ),
        ]),
    )])
    .unwrap()
}

/// `provisional_top_up_canister` argument.
pub fn top_up_arg(c: CanisterId, amount: u128) -> Vec<u8> {
    candid::encode(&[(
        Type::record(&[("canister_id", Type::Principal), ("amount", Type::Nat)]),
        Value::record(&[("canister_id", Value::Principal(c.to_principal())), ("amount", Value::Nat(amount))]),
    )])
    .unwrap()
}

impl<E: keel_hypervisor::execution::Executor> Node<E> {
    /// Freezes `c`, checks an update is refused for lack of cycles, tops it up past its
    /// freezing threshold and returns: the caller checks it runs again.
    pub fn freeze_then_thaw(&mut self, c: CanisterId, method: &str, arg: Vec<u8>) {
        let fees = self.hv.state().fees();
        // Every message prepays its maximum fee (base + 40B instructions).
        let prepay = fees.update_message_base().saturating_add(fees.instructions(40_000_000_000));
        self.update(USER, Principal::MANAGEMENT_CANISTER, "update_settings", freeze_settings(c)).unwrap();
        let e = self.update(USER, c.to_principal(), method, arg).unwrap_err();
        assert_eq!((e.code, e.reject_code()), (ErrorCode::CanisterOutOfCycles, keel_hypervisor::error::RejectCode::SysTransient));
        let threshold = self.hv.state().canister(c).unwrap().freezing_threshold(&fees).get();
        let top = top_up_arg(c, threshold + 10 * prepay.get());
        self.update(USER, Principal::MANAGEMENT_CANISTER, "provisional_top_up_canister", top).unwrap();
    }
}
