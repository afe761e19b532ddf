//! Crash atomicity of checkpoints and the block log, on a toy deterministic state
//! machine (a set of paged memories mutated by "blocks"): the writer loses power at every
//! write index in turn, and recovery (newest valid checkpoint + log replay) must reach
//! exactly the state the uncrashed run had at the recovered height.

use std::collections::{BTreeMap, BTreeSet};

use keel_hypervisor::block_device::{BlockDevice, CrashAfter, CrashMode, MemBlockDevice};
use keel_hypervisor::checkpoint::{CheckpointError, Store};
use keel_hypervisor::codec::sha256;
use keel_hypervisor::{Height, MemoryKey, PAGE_SIZE, PageIndex};

#[derive(Clone, Default, PartialEq, Debug)]
struct Toy {
    height: u64,
    mems: BTreeMap<u64, BTreeMap<u64, Vec<u8>>>,
    dirty: BTreeSet<(u64, u64)>,
}

/// A block: a seed from which the mutation is derived deterministically.
fn block_bytes(h: u64) -> Vec<u8> {
    h.to_le_bytes().repeat(3)
}

impl Toy {
    fn apply(&mut self, h: u64, block: &[u8]) {
        assert_eq!(block, block_bytes(h));
        self.height = h;
        // Memory churn: create a memory every 3rd block, drop one every 7th.
        if h.is_multiple_of(3) {
            self.mems.insert(h, BTreeMap::new());
        }
        if h.is_multiple_of(7) {
            let first = self.mems.keys().next().copied();
            if let Some(k) = first {
                self.mems.remove(&k);
            }
        }
        let keys: Vec<u64> = self.mems.keys().copied().collect();
        for (n, k) in keys.iter().enumerate() {
            let page = (h * 7 + n as u64) % 5;
            let p = self.mems.get_mut(k).unwrap().entry(page).or_insert_with(|| vec![0; PAGE_SIZE]);
            p[(h as usize * 13) % PAGE_SIZE] = h as u8;
            self.dirty.insert((*k, page));
        }
    }

    fn hash(&self) -> [u8; 32] {
        let mut parts: Vec<Vec<u8>> = vec![self.height.to_le_bytes().to_vec()];
        for (k, pages) in &self.mems {
            parts.push(k.to_le_bytes().to_vec());
            for (i, p) in pages {
                parts.push(i.to_le_bytes().to_vec());
                parts.push(p.clone());
            }
        }
        let refs: Vec<&[u8]> = parts.iter().map(|p| &p[..]).collect();
        sha256(&refs)
    }

    fn meta(&self) -> Vec<u8> {
        self.height.to_le_bytes().to_vec()
    }

    fn checkpoint<D: BlockDevice>(&mut self, store: &mut Store<D>) -> Result<(), CheckpointError> {
        let live: BTreeSet<MemoryKey> = self.mems.keys().map(|k| MemoryKey(*k)).collect();
        let dirty: Vec<(MemoryKey, PageIndex, &[u8])> = self
            .dirty
            .iter()
            .filter_map(|(k, i)| self.mems.get(k)?.get(i).map(|p| (MemoryKey(*k), PageIndex::new(*i), &p[..])))
            .collect();
        store.checkpoint(Height(self.height), &self.meta(), &live, dirty)?;
        self.dirty.clear();
        Ok(())
    }

    fn recover<D: BlockDevice>(dev: D) -> (Store<D>, Toy) {
        let (store, rec) = Store::open(dev).expect("a valid checkpoint must survive");
        let mut t = Toy { height: u64::from_le_bytes(rec.meta[..8].try_into().unwrap()), ..Toy::default() };
        assert_eq!(t.height, rec.height.0);
        for (k, pages) in rec.memories {
            let m = t.mems.entry(k.0).or_default();
            for (i, p) in pages {
                m.insert(i.get(), p.to_vec());
            }
        }
        // Pages the replay touches stay dirty: they are not in the checkpoint yet.
        for (h, b) in rec.log {
            t.apply(h.0, &b);
        }
        (store, t)
    }
}

/// The workload: genesis checkpoint, then blocks 1..=N each logged, a checkpoint every 4.
const N: u64 = 22;

fn run<D: BlockDevice>(dev: D, hashes: &mut BTreeMap<u64, [u8; 32]>) -> Result<(), CheckpointError> {
    let mut store = Store::format(dev)?;
    let mut t = Toy::default();
    t.checkpoint(&mut store)?;
    hashes.insert(0, t.hash());
    for h in 1..=N {
        let b = block_bytes(h);
        store.append_log(Height(h), &b)?;
        t.apply(h, &b);
        hashes.insert(h, t.hash());
        if h % 4 == 0 {
            t.checkpoint(&mut store)?;
        }
    }
    Ok(())
}

#[test]
fn uncrashed_run_recovers_to_final_hash() {
    let mut hashes = BTreeMap::new();
    let mut dev = MemBlockDevice::new(512);
    run(&mut dev, &mut hashes).unwrap();
    let (_, t) = Toy::recover(dev);
    assert_eq!(t.height, N);
    assert_eq!(t.hash(), hashes[&N]);
}

#[test]
fn crash_at_every_write_recovers_exact_state() {
    let mut reference = BTreeMap::new();
    let mut counting = MemBlockDevice::new(512);
    run(&mut counting, &mut reference).unwrap();
    let total = counting.writes();
    assert!(total > 40, "the workload must issue many writes, got {total}");
    for mode in [CrashMode::Lost, CrashMode::Torn] {
        // k < 3: the crash hits `format` or the genesis checkpoint, before any
        // checkpoint exists; recovery must say so rather than invent a state.
        for k in 0..total {
            let mut crash = CrashAfter::new(MemBlockDevice::new(512), k, mode);
            let mut hashes = BTreeMap::new();
            assert!(run(&mut crash, &mut hashes).is_err(), "write {k} must crash the run");
            let dev = crash.into_inner();
            let (mut store, mut t) = match Store::open(dev.clone()) {
                Err(CheckpointError::NoValidCheckpoint) => {
                    assert!(hashes.is_empty(), "k={k}: genesis was committed but is lost");
                    continue;
                }
                _ => Toy::recover(dev),
            };
            // Everything the run saw logged is recovered. One more block may be: its
            // record was fully written when the crash made the run's flush fail.
            let logged = hashes.keys().max().copied().unwrap_or(0);
            assert!(t.height == logged || t.height == logged + 1, "k={k} {mode:?}: at {} logged {logged}", t.height);
            assert_eq!(t.hash(), reference[&t.height], "k={k} {mode:?}: state hash differs after recovery");
            // The recovered store keeps working: continue to the end and recover again.
            for h in t.height + 1..=N {
                let b = block_bytes(h);
                store.append_log(Height(h), &b).unwrap();
                t.apply(h, &b);
                if h % 5 == 0 {
                    t.checkpoint(&mut store).unwrap();
                }
            }
            let (_, t2) = Toy::recover(store.into_device());
            assert_eq!(t2.hash(), reference[&N], "k={k} {mode:?}: continuation diverged");
        }
    }
}

#[test]
fn checkpoint_writes_only_dirty_pages() {
    let mut dev = MemBlockDevice::new(4096);
    let mut store = Store::format(&mut dev).unwrap();
    let page = vec![1u8; PAGE_SIZE];
    let live: BTreeSet<MemoryKey> = [MemoryKey(1)].into();
    let all: Vec<(MemoryKey, PageIndex, &[u8])> = (0..1000).map(|i| (MemoryKey(1), PageIndex::new(i), &page[..])).collect();
    store.checkpoint(Height(0), b"m", &live, all).unwrap();
    let before = store.device().writes();
    store.checkpoint(Height(1), b"m", &live, vec![(MemoryKey(1), PageIndex::new(5), &page[..])]).unwrap();
    let delta = store.device().writes() - before;
    // One page, one manifest block, one superblock.
    assert_eq!(delta, 3, "an incremental checkpoint of one dirty page wrote {delta} blocks");
}

#[test]
fn corrupted_page_falls_back_to_previous_generation() {
    let mut dev = MemBlockDevice::new(256);
    let live: BTreeSet<MemoryKey> = [MemoryKey(9)].into();
    let a = vec![0xAAu8; PAGE_SIZE];
    let b = vec![0xBBu8; PAGE_SIZE];
    let mut store = Store::format(&mut dev).unwrap();
    store.checkpoint(Height(0), b"g0", &live, vec![(MemoryKey(9), PageIndex::new(0), &a[..])]).unwrap();
    store.checkpoint(Height(1), b"g1", &live, vec![(MemoryKey(9), PageIndex::new(1), &b[..])]).unwrap();
    drop(store);
    // Find the block holding page 1 (all 0xBB) and flip a byte in it.
    for i in 2..256 {
        let mut blk = [0u8; PAGE_SIZE];
        dev.read_block(i, &mut blk).unwrap();
        if blk.iter().all(|&x| x == 0xBB) {
            blk[100] = 0;
            dev.write_block(i, &blk).unwrap();
        }
    }
    let (_, rec) = Store::open(&mut dev).unwrap();
    assert_eq!(rec.meta, b"g0");
    assert_eq!(rec.memories[&MemoryKey(9)].len(), 1);
}

#[test]
fn other_format_version_is_refused() {
    let mut dev = MemBlockDevice::new(64);
    let mut store = Store::format(&mut dev).unwrap();
    store.checkpoint(Height(0), b"", &BTreeSet::new(), Vec::new()).unwrap();
    drop(store);
    let mut sb = [0u8; PAGE_SIZE];
    dev.read_block(1, &mut sb).unwrap();
    sb[8] = 99; // version field, which the checksum also covers
    let body = sb[..36].to_vec();
    sb[36..68].copy_from_slice(&sha256(&[&body]));
    dev.write_block(1, &sb).unwrap();
    assert_eq!(Store::open(&mut dev).err(), Some(CheckpointError::UnsupportedVersion(99)));
}
