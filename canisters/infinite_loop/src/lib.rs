//! Loop fixture: never returns, so only the instruction limit can end it.
#![forbid(unsafe_code)]
use std::cell::Cell;

thread_local! {
    static SPINS: Cell<u64> = const { Cell::new(0) };
}

#[ic_cdk::update]
fn spin() {
    loop {
        SPINS.with(|s| s.set(s.get().wrapping_add(1)));
        std::hint::black_box(());
    }
}

#[ic_cdk::query]
fn spins() -> u64 {
    SPINS.with(Cell::get)
}
