//! The `cost_*` functions: the IC fee table of ic-reference §9, scaled by subnet size.

use super::host::Host;
use crate::error::ExecutionError;
use crate::ids::Cycles;

type R = Result<u64, ExecutionError>;

/// Fees are quoted for a 13-node application subnet; an n-node subnet pays `fee * n / 13`.
const REFERENCE_SUBNET_SIZE: u128 = 13;
const CREATE_CANISTER_FEE: u128 = 500_000_000_000;
const CALL_FEE: u128 = 260_000;
const CALL_BYTE_FEE: u128 = 1_000;
const HTTP_BASE_FEE: u128 = 3_000_000;
const HTTP_PER_NODE_FEE: u128 = 60_000;
const HTTP_REQUEST_BYTE_FEE: u128 = 400;
const HTTP_RESPONSE_BYTE_FEE: u128 = 800;
/// Threshold signing / key derivation on a 13-node key subnet.
const THRESHOLD_FEE: u128 = 10_000_000_000;

/// Results of the threshold cost functions.
const COST_OK: u64 = 0;
const COST_UNKNOWN_CURVE: u64 = 1;
const COST_UNKNOWN_KEY: u64 = 2;

fn scaled(h: &Host, fee: u128) -> Cycles {
    Cycles::new(fee.saturating_mul(u128::from(h.env.subnet_size)) / REFERENCE_SUBNET_SIZE)
}

fn write(function: &str, heap: &mut [u8], dst: u64, amount: Cycles) -> Result<(), ExecutionError> {
    Host::heap_write(function, heap, dst, &amount.to_le_bytes())
}

pub(super) fn cost_call(h: &mut Host, heap: &mut [u8], a: &[u64]) -> R {
    let bytes = u128::from(a[0]).saturating_add(u128::from(a[1]));
    let fee = CALL_FEE.saturating_add(CALL_BYTE_FEE.saturating_mul(bytes));
    write("cost_call", heap, a[2], scaled(h, fee))?;
    Ok(0)
}

pub(super) fn cost_create_canister(h: &mut Host, heap: &mut [u8], a: &[u64]) -> R {
    write("cost_create_canister", heap, a[0], scaled(h, CREATE_CANISTER_FEE))?;
    Ok(0)
}

/// `(3M + 60k·n)·n + (400·request_bytes + 800·max_response_bytes)·n`.
pub(super) fn cost_http_request(h: &mut Host, heap: &mut [u8], a: &[u64]) -> R {
    let n = u128::from(h.env.subnet_size);
    let base = HTTP_BASE_FEE.saturating_add(HTTP_PER_NODE_FEE.saturating_mul(n)).saturating_mul(n);
    let bytes = HTTP_REQUEST_BYTE_FEE
        .saturating_mul(u128::from(a[0]))
        .saturating_add(HTTP_RESPONSE_BYTE_FEE.saturating_mul(u128::from(a[1])))
        .saturating_mul(n);
    write("cost_http_request", heap, a[2], Cycles::new(base.saturating_add(bytes)))?;
    Ok(0)
}

/// Size of the subnet holding a threshold key, by key name.
fn key_subnet_size(name: &[u8]) -> Option<u128> {
    match name {
        b"test_key_1" => Some(13),
        b"key_1" => Some(34),
        _ => None,
    }
}

/// Shared shape of the three threshold cost functions: `(key_src, key_size, curve, dst) -> i32`.
fn threshold_cost(function: &str, heap: &mut [u8], a: &[u64], known_curves: u32) -> R {
    let name = Host::heap_slice(function, heap, a[0], a[1])?;
    if (a[2] as u32) >= known_curves {
        return Ok(COST_UNKNOWN_CURVE);
    }
    let Some(nodes) = key_subnet_size(name) else { return Ok(COST_UNKNOWN_KEY) };
    write(function, heap, a[3], Cycles::new(THRESHOLD_FEE * nodes / REFERENCE_SUBNET_SIZE))?;
    Ok(COST_OK)
}

/// Curves: 0 = secp256k1.
pub(super) fn cost_sign_with_ecdsa(_: &mut Host, heap: &mut [u8], a: &[u64]) -> R {
    threshold_cost("cost_sign_with_ecdsa", heap, a, 1)
}

/// Algorithms: 0 = bip340secp256k1, 1 = ed25519.
pub(super) fn cost_sign_with_schnorr(_: &mut Host, heap: &mut [u8], a: &[u64]) -> R {
    threshold_cost("cost_sign_with_schnorr", heap, a, 2)
}

/// Curves: 0 = bls12_381_g2.
pub(super) fn cost_vetkd_derive_key(_: &mut Host, heap: &mut [u8], a: &[u64]) -> R {
    threshold_cost("cost_vetkd_derive_key", heap, a, 1)
}
