//! Memory bomb fixture: allocates without bound, so only the memory limit can stop it.
#![forbid(unsafe_code)]
use std::cell::RefCell;

thread_local! {
    static HOARD: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// Keeps 1 MiB blocks forever (touching each so the pages are really used).
#[ic_cdk::update]
fn explode() -> u64 {
    loop {
        let block = vec![1u8; 1 << 20];
        HOARD.with(|h| h.borrow_mut().push(block));
    }
}

/// Allocates `mib` MiB, which stays within limits for small values.
#[ic_cdk::update]
fn allocate(mib: u64) -> u64 {
    for _ in 0..mib {
        HOARD.with(|h| h.borrow_mut().push(vec![1u8; 1 << 20]));
    }
    HOARD.with(|h| h.borrow().len() as u64)
}

/// Grows stable memory without bound.
#[ic_cdk::update]
fn explode_stable() {
    loop {
        if ic_cdk::stable::stable_grow(16).is_err() {
            ic_cdk::trap("stable memory exhausted");
        }
    }
}
