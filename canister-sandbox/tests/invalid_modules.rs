//! A corpus of modules the IC refuses: each gets its typed error (IC0505), none panics.
//! Plus byte-level mutations of a real canister, which must never panic the sandbox.

mod common;

use common::*;
use keel_fixtures::{wat_to_wasm, Canister};
use keel_sandbox::{ErrorCode, Limits, RejectCode, Sandbox, ValidationError};

fn wat(source: &str) -> Vec<u8> {
    wat_to_wasm("corpus", source).unwrap_or_else(|e| panic!("{e}"))
}

fn refuse(bytes: &[u8]) -> ValidationError {
    match Sandbox::new(test_limits()).compile(bytes) {
        Ok(_) => panic!("module was accepted"),
        Err(e) => {
            assert_eq!(e.error_code(), ErrorCode::CanisterInvalidWasm);
            assert_eq!(e.reject_code(), RejectCode::CanisterError);
            assert!(e.to_string().starts_with("Wasm module is not valid: "), "{e}");
            e
        }
    }
}

macro_rules! assert_refused {
    ($bytes:expr, $pattern:pat) => {{
        let error = refuse(AsRef::<[u8]>::as_ref(&$bytes));
        assert!(matches!(error, $pattern), "unexpected error: {error:?}");
        error
    }};
}

#[test]
fn not_wasm() {
    assert_refused!(b"", ValidationError::NotWasm);
    assert_refused!(b"hello world", ValidationError::NotWasm);
    assert_refused!(b"\0asm\x01", ValidationError::Wasm(_));
    assert_refused!(b"\0asm\x02\0\0\0", ValidationError::Wasm(_));
}

#[test]
fn the_empty_module_is_valid() {
    let module = Sandbox::new(test_limits()).compile(b"\0asm\x01\0\0\0").unwrap();
    assert!(module.info().updates.is_empty());
}

#[test]
fn imports() {
    let e = assert_refused!(wat(r#"(module (import "env" "f" (func)))"#), ValidationError::Import { .. });
    assert!(e.to_string().contains("\"ic0\""), "{e}");
    let e = assert_refused!(wat(r#"(module (import "ic0" "no_such_function" (func)))"#), ValidationError::Import { .. });
    assert!(e.to_string().contains("not a function of the System API"), "{e}");
    let e = assert_refused!(wat(r#"(module (import "ic0" "msg_reply" (func (param i32))))"#), ValidationError::Import { .. });
    assert!(e.to_string().contains("wrong signature"), "{e}");
    // wasm64: `I` is i64, so the i32 variant is wrong...
    assert_refused!(
        wat(r#"(module (import "ic0" "msg_reply_data_append" (func (param i32 i32))) (memory i64 1))"#),
        ValidationError::Import { .. }
    );
    // ...and the deprecated 32-bit functions do not exist.
    assert_refused!(wat(r#"(module (import "ic0" "stable_size" (func (result i32))) (memory i64 1))"#), ValidationError::Import { .. });
    // wasm32 modules may not use the i64 variant.
    assert_refused!(wat(r#"(module (import "ic0" "msg_reply_data_append" (func (param i64 i64))) (memory 1))"#), ValidationError::Import { .. });
    assert_refused!(wat(r#"(module (import "ic0" "g" (global i32)))"#), ValidationError::Import { .. });
    assert_refused!(wat(r#"(module (import "ic0" "memory" (memory 1)))"#), ValidationError::Import { .. });
    assert_refused!(wat(r#"(module (import "env" "tbl" (table 1 funcref)))"#), ValidationError::Import { .. });
}

#[test]
fn exports() {
    let unit = |exports: &str| wat(&format!("(module (func $f) {exports})"));
    assert_refused!(unit(r#"(export "canister_foo" (func $f))"#), ValidationError::Export { .. });
    let e = assert_refused!(
        unit(r#"(export "canister_update a" (func $f)) (export "canister_query a" (func $f))"#),
        ValidationError::Export { .. }
    );
    assert!(e.to_string().contains("more than once"), "{e}");
    assert_refused!(unit(r#"(export "canister_start" (func $f))"#), ValidationError::Export { .. });
    assert_refused!(unit(r#"(export "canister counter_instructions" (func $f))"#), ValidationError::Export { .. });
    assert_refused!(unit(r#"(export "keel memory" (func $f))"#), ValidationError::Export { .. });
    assert_refused!(
        wat(r#"(module (func $f (param i32)) (export "canister_update a" (func $f)))"#),
        ValidationError::Export { .. }
    );
    assert_refused!(wat(r#"(module (global $g i32 (i32.const 0)) (export "canister_init" (global $g)))"#), ValidationError::Export { .. });
    // Names outside the canister_ namespace are fine.
    Sandbox::new(test_limits()).compile(&unit(r#"(export "helper" (func $f)) (export "canister_update x" (func $f))"#)).unwrap();
}

#[test]
fn too_many_methods_and_globals() {
    let methods: String = (0..1001).map(|i| format!(r#"(export "canister_update m{i}" (func $f))"#)).collect();
    assert_refused!(wat(&format!("(module (func $f) {methods})")), ValidationError::TooMany { what: "exported methods", .. });
    let long = "x".repeat(10_001);
    let names = format!(r#"(export "canister_update a{long}" (func $f)) (export "canister_update b{long}" (func $f))"#);
    assert_refused!(wat(&format!("(module (func $f) {names})")), ValidationError::TooMany { what: "bytes of method names", .. });
    let globals: String = (0..1001).map(|_| "(global i32 (i32.const 0))").collect();
    assert_refused!(wat(&format!("(module {globals})")), ValidationError::TooMany { what: "globals", .. });
}

#[test]
fn custom_sections() {
    let with_sections = |names: &[&str]| {
        let mut wasm = wat("(module)");
        for name in names {
            let mut payload = vec![name.len() as u8];
            payload.extend_from_slice(name.as_bytes());
            payload.extend_from_slice(b"data");
            wasm.push(0);
            wasm.push(payload.len() as u8);
            wasm.extend_from_slice(&payload);
        }
        wasm
    };
    assert_refused!(with_sections(&["icp:other x"]), ValidationError::CustomSection { .. });
    assert_refused!(with_sections(&["icp:public x", "icp:private x"]), ValidationError::CustomSection { .. });
    let many: Vec<String> = (0..17).map(|i| format!("icp:public n{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    assert_refused!(with_sections(&many), ValidationError::TooMany { .. });
    let module = Sandbox::new(test_limits()).compile(&with_sections(&["icp:public candid:service", "icp:private secret", "other"])).unwrap();
    let metadata = &module.info().metadata;
    assert!(metadata["candid:service"].public);
    assert!(!metadata["secret"].public);
    assert_eq!(metadata["secret"].contents, b"data");
}

#[test]
fn disabled_wasm_features() {
    assert_refused!(wat("(module (memory 1) (memory 1))"), ValidationError::Wasm(_));
    assert_refused!(wat("(module (func $f (return_call $f)))"), ValidationError::Wasm(_));
    assert_refused!(wat("(module (memory 1 1 shared))"), ValidationError::Wasm(_));
    assert_refused!(wat("(module (tag))"), ValidationError::Wasm(_));
}

#[test]
fn size_limit() {
    let limits = Limits { module_bytes: 100, ..test_limits() };
    let big = wat(&format!(r#"(module (memory 1) (data (i32.const 0) "{}"))"#, "a".repeat(200)));
    let e = Sandbox::new(limits).compile(&big).unwrap_err();
    assert!(matches!(e, ValidationError::TooLarge { limit: 100, .. }), "{e:?}");
}

#[test]
fn data_segment_out_of_bounds_fails_install() {
    let sandbox = Sandbox::new(test_limits());
    let module = sandbox.compile(&wat(r#"(module (memory 1) (data (i32.const 65535) "ab"))"#)).unwrap();
    let mut state = keel_sandbox::CanisterState::new();
    let outcome = sandbox.install(&module, &mut state, &env());
    let error = outcome.result.unwrap_err();
    assert_eq!(error.error_code(), ErrorCode::CanisterInvalidWasm);
    assert_eq!(state.heap.len_pages(), 0, "a failed install leaves the state alone");
}

/// Minimal gzip writer for the tests (RFC 1952, no optional fields).
fn gzip(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff];
    out.extend(miniz_oxide::deflate::compress_to_vec(data, 6));
    out.extend(crc32(data).to_le_bytes());
    out.extend((data.len() as u32).to_le_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

#[test]
fn gzip_modules() {
    let wasm = rust_fixture(Canister::Counter);
    let compressed = gzip(&wasm);
    assert!(compressed.len() < wasm.len());
    let mut h = Harness::new(&compressed, candid::encode_one(1u64).unwrap());
    let (n,): (u64,) = h.update_candid("inc", ());
    assert_eq!(n, 2);
    assert_refused!([0x1f, 0x8b, 0x08, 1, 2, 3].as_slice(), ValidationError::Gzip(_));
    let mut corrupt = compressed.clone();
    corrupt.truncate(compressed.len() / 2);
    assert_refused!(corrupt, ValidationError::Gzip(_));
    // A gzip bomb stops at the module size limit.
    let bomb = gzip(&vec![0u8; 2 << 20]);
    let limits = Limits { module_bytes: 1 << 20, ..test_limits() };
    assert!(matches!(Sandbox::new(limits).compile(&bomb), Err(ValidationError::Gzip(_))));
}

/// Deterministic xorshift so failures reproduce.
fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

#[test]
fn mutated_canisters_never_panic() {
    let sandbox = Sandbox::new(test_limits());
    let original = rust_fixture(Canister::Counter);
    let mut seed = 0x5eed_u64;
    let (mut accepted, mut refused) = (0, 0);
    for round in 0..150 {
        let mut bytes = original.clone();
        match round % 3 {
            0 => {
                let cut = (next(&mut seed) as usize) % bytes.len();
                bytes.truncate(cut);
            }
            _ => {
                for _ in 0..1 + next(&mut seed) % 4 {
                    let at = (next(&mut seed) as usize) % bytes.len();
                    bytes[at] ^= 1 << (next(&mut seed) % 8);
                }
            }
        }
        match sandbox.compile(&bytes) {
            Ok(module) => {
                accepted += 1;
                // Whatever survived validation must also run without panicking.
                let mut state = keel_sandbox::CanisterState::new();
                let _ = sandbox.install(&module, &mut state, &env());
            }
            Err(e) => {
                refused += 1;
                assert_eq!(e.error_code(), ErrorCode::CanisterInvalidWasm);
            }
        }
    }
    assert!(refused > 0 && accepted + refused == 150);
}
