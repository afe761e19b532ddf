//! Glue between the replicated state and the checkpoint [`Store`]: which pages are dirty,
//! how the state's metadata is encoded, and how recovery rebuilds partitions (memories
//! from pages, modules recompiled from their persisted Wasm).

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::block_device::{BLOCK_SIZE, Block, BlockDevice};
use crate::checkpoint::{CheckpointError, Recovered, Store};
use crate::codec::{DecodeError, Reader, Writer, sha256};
use crate::cycles::Cycles;
use crate::execution::{CanisterMemory, Executor, MemorySpace};
use crate::ids::{CanisterId, Height, MemoryKey, MessageId, PAGE_SIZE, PageIndex, Time};
use crate::message::{CallContext, CallContextId, Callback, CallbackId, IngressRecord, Input, Origin, Request};
use crate::partition::{
    Change, Code, Memory, Partition, Settings, Snapshot, Status, StopWaiter, decode_principals, encode_principals,
};
use crate::state::{ModuleEntry, ReplicatedState};

/// Why recovery failed.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum RecoverError {
    Checkpoint(CheckpointError),
    /// The checkpoint's metadata does not decode (a format bug, not a torn write:
    /// torn writes fail their checksums first).
    Meta,
    /// A persisted module no longer compiles.
    Module([u8; 32]),
    /// A logged block does not decode.
    Log(Height),
}

impl From<CheckpointError> for RecoverError {
    fn from(e: CheckpointError) -> Self {
        RecoverError::Checkpoint(e)
    }
}

impl From<DecodeError> for RecoverError {
    fn from(_: DecodeError) -> Self {
        RecoverError::Meta
    }
}

/// Spaces share one persisted key: the space is the top bits of the page index.
fn disk_index(space: MemorySpace, index: PageIndex) -> PageIndex {
    PageIndex::new(((space as u64) << 62) | index.get())
}

fn split_index(i: PageIndex) -> Result<(MemorySpace, PageIndex), DecodeError> {
    let space = match i.get() >> 62 {
        0 => MemorySpace::Heap,
        1 => MemorySpace::Stable,
        _ => return Err(DecodeError),
    };
    Ok((space, PageIndex::new(i.get() & ((1 << 62) - 1))))
}

fn encode_memory<M: CanisterMemory>(w: &mut Writer, m: &Memory<M>) {
    w.u64(m.key.0);
    m.pages.encode_meta(w);
}

fn encode_code(w: &mut Writer, c: &Option<Code>) {
    match c {
        Some(c) => w.u8(1).raw(&c.hash),
        None => w.u8(0),
    };
}

fn decode_code(r: &mut Reader) -> Result<Option<Code>, DecodeError> {
    Ok(match r.u8()? {
        0 => None,
        1 => Some(Code { hash: r.array()? }),
        _ => return Err(DecodeError),
    })
}

pub(crate) fn encode_partition<E: Executor>(w: &mut Writer, p: &Partition<E>) {
    w.u64(p.id.get());
    match &p.status {
        Status::Running => {
            w.u8(0);
        }
        Status::Stopping(waiters) => {
            w.u8(1).u32(waiters.len() as u32);
            for s in waiters {
                s.origin.encode(w);
                w.u128(s.cycles.get());
            }
        }
        Status::Stopped => {
            w.u8(2);
        }
    }
    encode_principals(w, &p.controllers);
    p.settings.encode(w);
    w.u128(p.balance.get());
    encode_code(w, &p.code);
    encode_memory(w, &p.memory);
    w.u32(p.input.len() as u32);
    for i in &p.input {
        i.encode(w);
    }
    w.u32(p.contexts.len() as u32);
    for (id, c) in &p.contexts {
        w.u64(id.0);
        c.encode(w);
    }
    w.u32(p.callbacks.len() as u32);
    for (id, c) in &p.callbacks {
        w.u64(id.0);
        c.encode(w);
    }
    w.u64(p.next_id).bytes(&p.certified_data).u64(p.global_timer).u64(p.version);
    w.u32(p.history.len() as u32);
    for c in &p.history {
        c.encode(w);
    }
    w.u64(p.total_changes);
    w.u32(p.snapshots.len() as u32);
    for (id, s) in &p.snapshots {
        w.u64(*id).u64(s.taken_at.0);
        encode_code(w, &s.code);
        encode_memory(w, &s.memory);
        w.bytes(&s.certified_data);
    }
    w.u64(p.created_at.0).u64(p.last_install.0).u64(p.charged_until.0);
}

type Pages = BTreeMap<MemoryKey, BTreeMap<PageIndex, Box<Block>>>;

fn decode_memory<M: CanisterMemory>(r: &mut Reader, pages: &mut Pages) -> Result<Memory<M>, DecodeError> {
    let key = MemoryKey(r.u64()?);
    let mine = pages.remove(&key).unwrap_or_default();
    let mut split = Vec::with_capacity(mine.len());
    for (i, b) in mine {
        let (space, index) = split_index(i)?;
        split.push((space, index, *b));
    }
    let mut it = split.into_iter();
    let m = M::restore(r, &mut it)?;
    Ok(Memory { key, pages: m })
}

fn decode_partition<E: Executor>(r: &mut Reader, pages: &mut Pages) -> Result<Partition<E>, DecodeError> {
    let id = CanisterId::from_u64(r.u64()?);
    let status = match r.u8()? {
        0 => Status::Running,
        1 => {
            let n = r.count()?;
            let mut w = Vec::with_capacity(n);
            for _ in 0..n {
                w.push(StopWaiter { origin: Origin::decode(r)?, cycles: Cycles::new(r.u128()?) });
            }
            Status::Stopping(w)
        }
        2 => Status::Stopped,
        _ => return Err(DecodeError),
    };
    let controllers = decode_principals(r)?;
    let settings = Settings::decode(r)?;
    let balance = Cycles::new(r.u128()?);
    let code = decode_code(r)?;
    let memory = decode_memory(r, pages)?;
    let mut p = Partition::new(id, controllers, memory, Time(0));
    p.status = status;
    p.settings = settings;
    p.balance = balance;
    p.code = code;
    for _ in 0..r.count()? {
        p.input.push_back(Input::decode(r)?);
    }
    for _ in 0..r.count()? {
        let id = CallContextId(r.u64()?);
        p.contexts.insert(id, CallContext::decode(r)?);
    }
    for _ in 0..r.count()? {
        let id = CallbackId(r.u64()?);
        p.callbacks.insert(id, Callback::decode(r)?);
    }
    p.next_id = r.u64()?;
    p.certified_data = r.bytes()?.to_vec();
    p.global_timer = r.u64()?;
    p.version = r.u64()?;
    for _ in 0..r.count()? {
        p.history.push_back(Change::decode(r)?);
    }
    p.total_changes = r.u64()?;
    for _ in 0..r.count()? {
        let sid = r.u64()?;
        let taken_at = Time(r.u64()?);
        let code = decode_code(r)?;
        let memory = decode_memory(r, pages)?;
        let certified_data = r.bytes()?.to_vec();
        p.snapshots.insert(sid, Snapshot { taken_at, code, memory, certified_data });
    }
    p.created_at = Time(r.u64()?);
    p.last_install = Time(r.u64()?);
    p.charged_until = Time(r.u64()?);
    Ok(p)
}

/// Every memory key the state references: partitions, snapshots, module store.
fn live_memories<E: Executor>(state: &ReplicatedState<E>) -> BTreeMap<MemoryKey, Option<&E::Memory>> {
    let mut live = BTreeMap::new();
    for p in state.canisters.values() {
        live.insert(p.memory.key, Some(&p.memory.pages));
        for s in p.snapshots.values() {
            live.insert(s.memory.key, Some(&s.memory.pages));
        }
    }
    for m in state.modules.values() {
        live.insert(m.key, None);
    }
    live
}

/// Writes a checkpoint of `state`. `persisted` is the set of memories already on the
/// store (kept by the caller across checkpoints): those contribute only their dirty
/// pages, new ones all their non-zero pages.
pub fn checkpoint<E: Executor, D: BlockDevice>(
    state: &mut ReplicatedState<E>,
    store: &mut Store<D>,
    persisted: &mut BTreeSet<MemoryKey>,
) -> Result<(), CheckpointError> {
    let keys = write_checkpoint(state, store, persisted)?;
    // Mark clean only memories that were dirty, so partitions a query snapshot shares
    // are not copied for nothing.
    for p in state.canisters.values_mut() {
        let dirty = !p.memory.pages.dirty_pages().is_empty()
            || p.snapshots.values().any(|s| !s.memory.pages.dirty_pages().is_empty());
        if dirty {
            let p = Arc::make_mut(p);
            p.memory.pages.mark_clean();
            for s in p.snapshots.values_mut() {
                s.memory.pages.mark_clean();
            }
        }
    }
    *persisted = keys;
    Ok(())
}

/// Writes a self-contained checkpoint of `state` to a fresh `store` without touching the
/// dirty tracking of the node's own store (state sync ships it to peers).
pub fn export<E: Executor, D: BlockDevice>(state: &ReplicatedState<E>, store: &mut Store<D>) -> Result<(), CheckpointError> {
    write_checkpoint(state, store, &BTreeSet::new()).map(|_| ())
}

/// Writes the pages and metadata of a checkpoint; returns the memories it covers.
fn write_checkpoint<E: Executor, D: BlockDevice>(
    state: &ReplicatedState<E>,
    store: &mut Store<D>,
    persisted: &BTreeSet<MemoryKey>,
) -> Result<BTreeSet<MemoryKey>, CheckpointError> {
    let meta = state.encode_meta();
    let live = live_memories(state);
    let mut pages: Vec<(MemoryKey, PageIndex, [u8; PAGE_SIZE])> = Vec::new();
    for (key, mem) in &live {
        let Some(mem) = mem else { continue };
        let list = if persisted.contains(key) { mem.dirty_pages() } else { mem.nonzero_pages() };
        for (space, index) in list {
            pages.push((*key, disk_index(space, index), mem.page(space, index)));
        }
    }
    for m in state.modules.values() {
        if !persisted.contains(&m.key) {
            for (i, chunk) in m.wasm.chunks(PAGE_SIZE).enumerate() {
                let mut page = [0u8; PAGE_SIZE];
                page[..chunk.len()].copy_from_slice(chunk);
                pages.push((m.key, PageIndex::new(i as u64), page));
            }
        }
    }
    let keys: BTreeSet<MemoryKey> = live.keys().copied().collect();
    store.checkpoint(state.height, &meta, &keys, pages.iter().map(|(k, i, p)| (*k, *i, &p[..])))?;
    Ok(keys)
}

/// A restored state, the memories already on the store, and the logged blocks to replay.
pub type Restored<E> = (ReplicatedState<E>, BTreeSet<MemoryKey>, Vec<(Height, Vec<u8>)>);

/// Rebuilds the checkpointed state; returns it with the logged blocks to replay.
pub fn restore<E: Executor>(executor: &E, recovered: Recovered) -> Result<Restored<E>, RecoverError> {
    let Recovered { height, meta, mut memories, log } = recovered;
    let persisted: BTreeSet<MemoryKey> = memories.keys().copied().collect();
    let mut r = Reader::new(&meta);
    let mut state = ReplicatedState::<E>::decode_header(&mut r)?;
    if state.height != height {
        return Err(RecoverError::Meta);
    }
    for _ in 0..r.count()? {
        let hash: [u8; 32] = r.array()?;
        let key = MemoryKey(r.u64()?);
        let len = usize::try_from(r.u64()?).map_err(|_| RecoverError::Meta)?;
        let pages = memories.remove(&key).unwrap_or_default();
        let mut wasm = Vec::with_capacity(len);
        for i in 0..len.div_ceil(BLOCK_SIZE) as u64 {
            match pages.get(&PageIndex::new(i)) {
                Some(p) => wasm.extend_from_slice(&p[..]),
                None => wasm.extend_from_slice(&[0u8; BLOCK_SIZE]),
            }
        }
        wasm.truncate(len);
        if sha256(&[&wasm]) != hash {
            return Err(RecoverError::Module(hash));
        }
        let (module, info) = executor.compile(&wasm).map_err(|_| RecoverError::Module(hash))?;
        state.modules.insert(hash, ModuleEntry { wasm: Arc::new(wasm), module, info: Arc::new(info), key });
    }
    for _ in 0..r.count()? {
        let id = MessageId(r.array()?);
        state.ingress.insert(id, IngressRecord::decode(&mut r)?);
    }
    for _ in 0..r.count()? {
        state.management_queue.push_back(Request::decode(&mut r)?);
    }
    for _ in 0..r.count()? {
        let p = decode_partition::<E>(&mut r, &mut memories)?;
        state.canisters.insert(p.id, Arc::new(p));
    }
    r.end()?;
    state.touched = state.canisters.keys().copied().collect();
    Ok((state, persisted, log))
}
