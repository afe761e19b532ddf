//! Key-value store fixture: data in `ic-stable-structures`, plus a heap-only counter of
//! writes that survives upgrades only because the upgrade hooks carry it through stable memory.
#![forbid(unsafe_code)]
use std::cell::{Cell, RefCell};

use ic_stable_structures::memory_manager::{MemoryId, MemoryManager, VirtualMemory};
use ic_stable_structures::{DefaultMemoryImpl, StableBTreeMap, StableCell};

type Memory = VirtualMemory<DefaultMemoryImpl>;

thread_local! {
    static MANAGER: RefCell<MemoryManager<DefaultMemoryImpl>> =
        RefCell::new(MemoryManager::init(DefaultMemoryImpl::default()));
    static MAP: RefCell<StableBTreeMap<String, String, Memory>> =
        RefCell::new(StableBTreeMap::init(MANAGER.with(|m| m.borrow().get(MemoryId::new(0)))));
    /// Saved by `pre_upgrade`, read back by `post_upgrade`.
    static SAVED_WRITES: RefCell<StableCell<u64, Memory>> =
        RefCell::new(StableCell::init(MANAGER.with(|m| m.borrow().get(MemoryId::new(1))), 0));
    static WRITES: Cell<u64> = const { Cell::new(0) };
    static UPGRADES: Cell<u64> = const { Cell::new(0) };
}

#[ic_cdk::update]
fn put(key: String, value: String) -> Option<String> {
    WRITES.with(|w| w.set(w.get() + 1));
    MAP.with(|m| m.borrow_mut().insert(key, value))
}

#[ic_cdk::query]
fn get(key: String) -> Option<String> {
    MAP.with(|m| m.borrow().get(&key))
}

#[ic_cdk::query]
fn len() -> u64 {
    MAP.with(|m| m.borrow().len())
}

/// (writes since install, upgrades seen)
#[ic_cdk::query]
fn stats() -> (u64, u64) {
    (WRITES.with(Cell::get), UPGRADES.with(Cell::get))
}

#[ic_cdk::pre_upgrade]
fn pre_upgrade() {
    let writes = WRITES.with(Cell::get);
    SAVED_WRITES.with(|c| c.borrow_mut().set(writes));
}

#[ic_cdk::post_upgrade]
fn post_upgrade() {
    WRITES.with(|w| w.set(SAVED_WRITES.with(|c| *c.borrow().get())));
    UPGRADES.with(|u| u.set(u.get() + 1));
}
