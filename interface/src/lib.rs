//! Interface: the sans-IO IC HTTP interface — HTTP, CBOR envelopes, request ids, certificates (filled in by the interface issue).
#![forbid(unsafe_code)]
#![cfg_attr(target_os = "none", no_std)]
