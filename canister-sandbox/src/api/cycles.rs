//! Cycles in messages and the canister's balance (128-bit, and the deprecated 64-bit forms).

use alloc::format;

use super::host::Host;
use crate::error::ExecutionError;
use crate::ids::Cycles;

type R = Result<u64, ExecutionError>;

fn write_cycles(function: &str, heap: &mut [u8], dst: u64, amount: Cycles) -> R {
    Host::heap_write(function, heap, dst, &amount.to_le_bytes())?;
    Ok(0)
}

/// The 64-bit functions trap when the amount does not fit (as the IC does).
fn as_u64(function: &str, amount: Cycles) -> R {
    u64::try_from(amount.get())
        .map_err(|_| ExecutionError::ContractViolation(format!("ic0.{function}: the amount does not fit in 64 bits")))
}

fn available(h: &Host) -> Cycles {
    h.input.cycles_available.saturating_sub(h.effects.cycles_accepted)
}

/// What the canister may spend: the balance above its freezing reserve.
pub(super) fn liquid(h: &Host) -> Cycles {
    h.balance.saturating_sub(h.env.freezing_reserve)
}

fn accept(h: &mut Host, max: Cycles) -> Cycles {
    let taken = available(h).min(max);
    h.effects.cycles_accepted = h.effects.cycles_accepted.saturating_add(taken);
    h.balance = h.balance.saturating_add(taken);
    taken
}

pub(super) fn available128(h: &mut Host, heap: &mut [u8], a: &[u64]) -> R {
    write_cycles("msg_cycles_available128", heap, a[0], available(h))
}

pub(super) fn available64(h: &mut Host, _: &mut [u8], _: &[u64]) -> R {
    as_u64("msg_cycles_available", available(h))
}

pub(super) fn refunded128(h: &mut Host, heap: &mut [u8], a: &[u64]) -> R {
    write_cycles("msg_cycles_refunded128", heap, a[0], h.input.cycles_refunded)
}

pub(super) fn refunded64(h: &mut Host, _: &mut [u8], _: &[u64]) -> R {
    as_u64("msg_cycles_refunded", h.input.cycles_refunded)
}

pub(super) fn accept128(h: &mut Host, heap: &mut [u8], a: &[u64]) -> R {
    let taken = accept(h, Cycles::from_parts(a[0], a[1]));
    write_cycles("msg_cycles_accept128", heap, a[2], taken)
}

pub(super) fn accept64(h: &mut Host, _: &mut [u8], a: &[u64]) -> R {
    let taken = accept(h, Cycles::new(u128::from(a[0])));
    as_u64("msg_cycles_accept", taken)
}

pub(super) fn burn128(h: &mut Host, heap: &mut [u8], a: &[u64]) -> R {
    let burned = liquid(h).min(Cycles::from_parts(a[0], a[1]));
    h.balance = h.balance.saturating_sub(burned);
    h.effects.cycles_burned = h.effects.cycles_burned.saturating_add(burned);
    write_cycles("cycles_burn128", heap, a[2], burned)
}

pub(super) fn balance128(h: &mut Host, heap: &mut [u8], a: &[u64]) -> R {
    write_cycles("canister_cycle_balance128", heap, a[0], h.balance)
}

pub(super) fn balance64(h: &mut Host, _: &mut [u8], _: &[u64]) -> R {
    as_u64("canister_cycle_balance", h.balance)
}

pub(super) fn liquid_balance128(h: &mut Host, heap: &mut [u8], a: &[u64]) -> R {
    write_cycles("canister_liquid_cycle_balance128", heap, a[0], liquid(h))
}

/// Only the cycles minting canister may mint; this node runs none.
pub(super) fn mint_cycles(_: &mut Host, _: &mut [u8], _: &[u64]) -> R {
    Err(ExecutionError::ContractViolation(
        "ic0.mint_cycles can only be executed on the Cycles Minting Canister".into(),
    ))
}
