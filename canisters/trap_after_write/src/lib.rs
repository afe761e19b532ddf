//! Trap fixture: changes heap, stable memory and certified data, then traps, so the sandbox
//! must roll every one of those changes back.
#![forbid(unsafe_code)]
use std::cell::Cell;

thread_local! {
    static VALUE: Cell<u64> = const { Cell::new(0) };
}

#[ic_cdk::update]
fn set(v: u64) {
    VALUE.with(|c| c.set(v));
}

#[ic_cdk::query]
fn get() -> u64 {
    VALUE.with(Cell::get)
}

#[ic_cdk::query]
fn stable_byte() -> u8 {
    if ic_cdk::stable::stable_size() == 0 {
        return 0;
    }
    let mut b = [0u8];
    ic_cdk::stable::stable_read(0, &mut b);
    b[0]
}

/// Writes everywhere, then traps.
#[ic_cdk::update]
fn set_then_trap(v: u64) {
    VALUE.with(|c| c.set(v));
    if ic_cdk::stable::stable_size() == 0 {
        ic_cdk::stable::stable_grow(1).ok();
    }
    ic_cdk::stable::stable_write(0, &[v as u8]);
    ic_cdk::api::certified_data_set(v.to_le_bytes());
    ic_cdk::trap("trapped after write");
}

/// Writes, then fails with a Wasm trap (not `ic0.trap`).
#[ic_cdk::update]
fn set_then_unreachable(v: u64) {
    VALUE.with(|c| c.set(v));
    std::process::abort();
}
