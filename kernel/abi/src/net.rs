//! Network facts the kernel and the host harness agree on.

/// The guest TCP port of the IC HTTP interface; the harness forwards a host port to it
/// (127.0.0.1:4943 for `cargo xtask run`, the port local IC networks use).
pub const HTTP_PORT: u16 = 8080;
