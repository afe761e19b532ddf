//! Front-end fixture for the multi-canister scale-out pattern: it owns no data itself but
//! creates data-bucket canisters on demand (installing the bucket module it was given at
//! `init`, with cycles attached), routes each key to a bucket by a hash of the key, and
//! forwards reads and writes there. It can also fork itself through Keel's
//! `keel_fork_canister` extension of the management canister, and holds an optional
//! heap ballast so a fork has many pages to share.
//!
//! The management canister is called with `Call::unbounded_wait` and Candid types written
//! out here: ic-cdk 0.20 moved its typed wrappers into a separate crate, and these records
//! are exactly the parts of the interface the fixture needs.
#![forbid(unsafe_code)]
use std::cell::RefCell;

use candid::{CandidType, Deserialize, Principal};
use ic_cdk::call::Call;
use serde_bytes::ByteBuf;

/// Buckets the keys are spread over (a fixed number so a key always maps to one bucket).
const MAX_BUCKETS: usize = 4;
/// Attached to `create_canister`: pays the creation fee, the rest funds the bucket.
const BUCKET_CYCLES: u128 = 2_000_000_000_000;
/// Attached to `keel_fork_canister`: pays the creation fee, the rest funds the fork.
const FORK_CYCLES: u128 = 2_000_000_000_000;

/// A bucket slot. `Busy` covers the awaits of creation and installation, so a put that
/// interleaves with them does not create or install a second time.
#[derive(Clone, Copy)]
enum Slot {
    Empty,
    Busy,
    /// Created but the install failed: the next put retries the install only.
    Created(Principal),
    Ready(Principal),
}

thread_local! {
    static BUCKET_WASM: RefCell<ByteBuf> = RefCell::new(ByteBuf::new());
    static SLOTS: RefCell<[Slot; MAX_BUCKETS]> = const { RefCell::new([Slot::Empty; MAX_BUCKETS]) };
    static BALLAST: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

#[derive(CandidType)]
struct CanisterSettings {
    controllers: Option<Vec<Principal>>,
}

#[derive(CandidType)]
struct CreateCanisterArgs {
    settings: Option<CanisterSettings>,
}

#[derive(CandidType, Deserialize)]
struct CanisterIdRecord {
    canister_id: Principal,
}

/// Candid variant tags are the Rust variant names, hence the lower case.
#[derive(CandidType)]
#[allow(non_camel_case_types)]
enum InstallMode {
    install,
}

#[derive(CandidType)]
struct InstallCodeArgs<'a> {
    mode: InstallMode,
    canister_id: Principal,
    wasm_module: &'a ByteBuf,
    arg: ByteBuf,
}

/// `keel_fork_canister`'s argument (see the hypervisor's management canister docs).
#[derive(CandidType)]
struct ForkArgs {
    canister_id: Principal,
    settings: Option<CanisterSettings>,
}

#[ic_cdk::init]
fn init(bucket_wasm: ByteBuf) {
    BUCKET_WASM.with(|w| *w.borrow_mut() = bucket_wasm);
}

/// FNV-1a: deterministic across builds and replicas (unlike `std`'s randomly seeded hasher).
fn slot_of(key: &str) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    (h % MAX_BUCKETS as u64) as usize
}

fn set_slot(i: usize, slot: Slot) {
    SLOTS.with(|s| s.borrow_mut()[i] = slot);
}

/// The bucket of slot `i`, creating and installing it first if needed.
async fn bucket(i: usize) -> Result<Principal, String> {
    let created = match SLOTS.with(|s| s.borrow()[i]) {
        Slot::Ready(p) => return Ok(p),
        Slot::Busy => return Err(format!("bucket {i} is being set up; retry")),
        Slot::Created(p) => p,
        Slot::Empty => {
            set_slot(i, Slot::Busy);
            match create_bucket().await {
                Ok(p) => p,
                Err(e) => {
                    set_slot(i, Slot::Empty);
                    return Err(e);
                }
            }
        }
    };
    set_slot(i, Slot::Busy);
    match install_bucket(created).await {
        Ok(()) => {
            set_slot(i, Slot::Ready(created));
            Ok(created)
        }
        Err(e) => {
            set_slot(i, Slot::Created(created));
            Err(e)
        }
    }
}

/// `create_canister` with default settings: the front-end becomes the sole controller.
async fn create_bucket() -> Result<Principal, String> {
    let reply = Call::unbounded_wait(Principal::management_canister(), "create_canister")
        .with_arg(CreateCanisterArgs { settings: None })
        .with_cycles(BUCKET_CYCLES)
        .await
        .map_err(|e| format!("create_canister: {e}"))?;
    let record: CanisterIdRecord = reply.candid().map_err(|e| format!("create_canister reply: {e}"))?;
    Ok(record.canister_id)
}

async fn install_bucket(canister_id: Principal) -> Result<(), String> {
    // The bucket module is cloned because the borrow cannot live across the await.
    let wasm = BUCKET_WASM.with(|w| w.borrow().clone());
    let args = InstallCodeArgs {
        mode: InstallMode::install,
        canister_id,
        wasm_module: &wasm,
        arg: ByteBuf::from(candid::encode_args(()).map_err(|e| e.to_string())?),
    };
    Call::unbounded_wait(Principal::management_canister(), "install_code")
        .with_arg(args)
        .await
        .map_err(|e| format!("install_code: {e}"))?;
    Ok(())
}

/// Stores `value` under `key` in the key's bucket; the bucket's previous value, if any.
#[ic_cdk::update]
async fn put(key: String, value: String) -> Result<Option<String>, String> {
    let target = bucket(slot_of(&key)).await?;
    let reply = Call::unbounded_wait(target, "put")
        .with_args(&(key, value))
        .await
        .map_err(|e| format!("bucket put: {e}"))?;
    reply.candid::<Option<String>>().map_err(|e| format!("bucket put reply: {e}"))
}

/// Reads `key` from its bucket (none when the bucket does not exist yet), as an update
/// that calls the bucket's query method.
#[ic_cdk::update]
async fn get(key: String) -> Result<Option<String>, String> {
    read(key).await
}

/// `get` as a composite query: the read-only path, answered from the certified state.
#[ic_cdk::query(composite = true)]
async fn lookup(key: String) -> Result<Option<String>, String> {
    read(key).await
}

async fn read(key: String) -> Result<Option<String>, String> {
    let Slot::Ready(target) = SLOTS.with(|s| s.borrow()[slot_of(&key)]) else {
        return Ok(None);
    };
    let reply = Call::unbounded_wait(target, "get")
        .with_arg(key)
        .await
        .map_err(|e| format!("bucket get: {e}"))?;
    reply.candid::<Option<String>>().map_err(|e| format!("bucket get reply: {e}"))
}

/// The installed buckets, in slot order.
#[ic_cdk::query]
fn buckets() -> Vec<Principal> {
    SLOTS.with(|s| s.borrow().iter().filter_map(|slot| if let Slot::Ready(p) = slot { Some(*p) } else { None }).collect())
}

/// Forks this canister; the fork's id.
#[ic_cdk::update]
async fn fork_self() -> Result<Principal, String> {
    let reply = Call::unbounded_wait(Principal::management_canister(), "keel_fork_canister")
        .with_arg(ForkArgs { canister_id: ic_cdk::api::canister_self(), settings: None })
        .with_cycles(FORK_CYCLES)
        .await
        .map_err(|e| format!("keel_fork_canister: {e}"))?;
    let record: CanisterIdRecord = reply.candid().map_err(|e| format!("keel_fork_canister reply: {e}"))?;
    Ok(record.canister_id)
}

/// Replaces the heap ballast with `mib` MiB of the non-zero byte `fill` (non-zero so every
/// page is really stored); its length.
#[ic_cdk::update]
fn ballast(mib: u64, fill: u8) -> u64 {
    let fill = fill.max(1);
    BALLAST.with(|b| *b.borrow_mut() = vec![fill; (mib as usize) << 20]);
    BALLAST.with(|b| b.borrow().len() as u64)
}

/// Sets one ballast byte (a write that touches a single page); false when out of range.
#[ic_cdk::update]
fn poke(offset: u64, byte: u8) -> bool {
    BALLAST.with(|b| match b.borrow_mut().get_mut(offset as usize) {
        Some(slot) => {
            *slot = byte;
            true
        }
        None => false,
    })
}

/// (length, sum of one byte per 4 KiB page): cheap enough for an interpreted query yet
/// sees every page of the ballast.
#[ic_cdk::query]
fn ballast_digest() -> (u64, u64) {
    BALLAST.with(|b| {
        let b = b.borrow();
        (b.len() as u64, b.iter().step_by(4096).map(|&x| u64::from(x)).sum())
    })
}

/// The byte at `offset` of the ballast (none beyond its end).
#[ic_cdk::query]
fn ballast_byte(offset: u64) -> Option<u8> {
    BALLAST.with(|b| b.borrow().get(offset as usize).copied())
}
