//! `cargo xtask`: builds, boots, tests and benchmarks Keel (filled in next).
#![forbid(unsafe_code)]
fn main() {}
