//! Counter fixture: the smallest useful canister (init argument, update, query).
#![forbid(unsafe_code)]
use std::cell::Cell;

thread_local! {
    static COUNT: Cell<u64> = const { Cell::new(0) };
}

#[ic_cdk::init]
fn init(start: u64) {
    COUNT.with(|c| c.set(start));
}

#[ic_cdk::update]
fn inc() -> u64 {
    COUNT.with(|c| {
        c.set(c.get() + 1);
        c.get()
    })
}

/// Increments in a query: the sandbox must throw the change away.
#[ic_cdk::query]
fn inc_in_query() -> u64 {
    inc()
}

#[ic_cdk::query]
fn get() -> u64 {
    COUNT.with(Cell::get)
}

/// Compute-heavy export for the sandbox benchmarks: `n` rounds of an xorshift mix.
#[ic_cdk::query]
fn work(n: u64) -> u64 {
    let mut x = COUNT.with(Cell::get) | 1;
    for _ in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    x
}
