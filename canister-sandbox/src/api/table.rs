//! The list of every `ic0` function: name, signature, contexts, implementation.

use super::context::ContextSet as C;
use super::host::Host;
use super::{call, canister, cost, cycles, msg, stable};
use crate::error::ExecutionError;

/// A parameter or result type. `Address` is the spec's `I`: i32 for wasm32 modules,
/// i64 for wasm64 (memory64) modules.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ValueKind {
    Address,
    I32,
    I64,
}

impl ValueKind {
    pub fn resolve(self, memory64: bool) -> wasmi::ValType {
        match self {
            ValueKind::I32 => wasmi::ValType::I32,
            ValueKind::I64 => wasmi::ValType::I64,
            ValueKind::Address if memory64 => wasmi::ValType::I64,
            ValueKind::Address => wasmi::ValType::I32,
        }
    }
}

/// Arguments arrive zero-extended to u64; the result is truncated to the result type.
pub(crate) type Implementation = fn(&mut Host, &mut [u8], &[u64]) -> Result<u64, ExecutionError>;

/// One `ic0` import.
pub struct ApiFunction {
    pub name: &'static str,
    pub params: &'static [ValueKind],
    pub results: &'static [ValueKind],
    pub contexts: C,
    /// Deprecated functions that only wasm32 modules may import.
    pub wasm32_only: bool,
    pub(crate) implementation: Implementation,
}

impl core::fmt::Debug for ApiFunction {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ApiFunction").field("name", &self.name).finish()
    }
}

use ValueKind::{Address as A, I32 as W, I64 as D};

const fn f(name: &'static str, params: &'static [ValueKind], results: &'static [ValueKind], contexts: C, implementation: Implementation) -> ApiFunction {
    ApiFunction { name, params, results, contexts, wasm32_only: false, implementation }
}

const fn deprecated(name: &'static str, params: &'static [ValueKind], results: &'static [ValueKind], contexts: C, implementation: Implementation) -> ApiFunction {
    ApiFunction { name, params, results, contexts, wasm32_only: true, implementation }
}

const ARG: C = C::I.or(C::U).or(C::Q).or(C::TQ).or(C::CQ).or(C::RY).or(C::CRY).or(C::F);
const CALLER_INFO: C = C::U.or(C::Q).or(C::CQ).or(C::RY).or(C::RT).or(C::CRY).or(C::CRT).or(C::C).or(C::CC).or(C::F);
const REJECT_CODE: C = C::RY.or(C::RT).or(C::CRY).or(C::CRT).or(C::C);
const REJECT_MSG: C = C::RT.or(C::CRT);
const DEADLINE: C = C::U.or(C::Q).or(C::CQ).or(C::RY).or(C::RT).or(C::CRY).or(C::CRT);
const REPLY: C = C::U.or(C::Q).or(C::TQ).or(C::CQ).or(C::RY).or(C::RT).or(C::CRY).or(C::CRT);
const CYCLES_IN: C = C::U.or(C::RQ).or(C::RT).or(C::RY);
const REFUNDED: C = C::RT.or(C::RY);
const BURN: C = C::I.or(C::G).or(C::U).or(C::RQ).or(C::RY).or(C::RT).or(C::C).or(C::T);
const CALL: C = C::U.or(C::CQ).or(C::RY).or(C::RT).or(C::CRY).or(C::CRT).or(C::T);
const CALL_CYCLES: C = C::U.or(C::RY).or(C::RT).or(C::T);
const ROOT_KEY: C = C::I.or(C::G).or(C::U).or(C::RQ).or(C::RY).or(C::RT).or(C::C).or(C::T);
const CERTIFY: C = C::I.or(C::G).or(C::U).or(C::RY).or(C::RT).or(C::T);
const CERTIFICATE: C = C::NRQ.or(C::CQ);
const TIMER: C = C::I.or(C::G).or(C::U).or(C::RY).or(C::RT).or(C::C).or(C::T);

/// Every `ic0` function this node provides (ic-reference §7).
pub static API: &[ApiFunction] = &[
    f("msg_arg_data_size", &[], &[A], ARG, msg::arg_data_size),
    f("msg_arg_data_copy", &[A, A, A], &[], ARG, msg::arg_data_copy),
    f("msg_caller_size", &[], &[A], C::ALL, msg::caller_size),
    f("msg_caller_copy", &[A, A, A], &[], C::ALL, msg::caller_copy),
    f("msg_caller_info_data_size", &[], &[A], CALLER_INFO, msg::caller_info_data_size),
    f("msg_caller_info_data_copy", &[A, A, A], &[], CALLER_INFO, msg::caller_info_data_copy),
    f("msg_caller_info_signer_size", &[], &[A], CALLER_INFO, msg::caller_info_signer_size),
    f("msg_caller_info_signer_copy", &[A, A, A], &[], CALLER_INFO, msg::caller_info_signer_copy),
    f("msg_reject_code", &[], &[W], REJECT_CODE, msg::reject_code),
    f("msg_reject_msg_size", &[], &[A], REJECT_MSG, msg::reject_msg_size),
    f("msg_reject_msg_copy", &[A, A, A], &[], REJECT_MSG, msg::reject_msg_copy),
    f("msg_deadline", &[], &[D], DEADLINE, msg::deadline),
    f("msg_reply_data_append", &[A, A], &[], REPLY, msg::reply_data_append),
    f("msg_reply", &[], &[], REPLY, msg::reply),
    f("msg_reject", &[A, A], &[], REPLY, msg::reject),
    f("msg_cycles_available128", &[A], &[], CYCLES_IN, cycles::available128),
    f("msg_cycles_refunded128", &[A], &[], REFUNDED, cycles::refunded128),
    f("msg_cycles_accept128", &[D, D, A], &[], CYCLES_IN, cycles::accept128),
    f("cycles_burn128", &[D, D, A], &[], BURN, cycles::burn128),
    f("canister_self_size", &[], &[A], C::ALL, canister::self_size),
    f("canister_self_copy", &[A, A, A], &[], C::ALL, canister::self_copy),
    f("subnet_self_size", &[], &[A], C::ALL, canister::subnet_self_size),
    f("subnet_self_copy", &[A, A, A], &[], C::ALL, canister::subnet_self_copy),
    f("canister_cycle_balance128", &[A], &[], C::ALL, cycles::balance128),
    f("canister_liquid_cycle_balance128", &[A], &[], C::ALL, cycles::liquid_balance128),
    f("canister_status", &[], &[W], C::ALL, canister::status),
    f("canister_version", &[], &[D], C::ALL, canister::version),
    f("msg_method_name_size", &[], &[A], C::F, msg::method_name_size),
    f("msg_method_name_copy", &[A, A, A], &[], C::F, msg::method_name_copy),
    f("accept_message", &[], &[], C::F, msg::accept_message),
    f("call_new", &[A, A, A, A, A, A, A, A], &[], CALL, call::call_new),
    f("call_on_cleanup", &[A, A], &[], CALL, call::on_cleanup),
    f("call_data_append", &[A, A], &[], CALL, call::data_append),
    f("call_with_best_effort_response", &[W], &[], CALL, call::best_effort_response),
    f("call_cycles_add128", &[D, D], &[], CALL_CYCLES, call::cycles_add128),
    f("call_perform", &[], &[W], CALL, call::perform),
    f("stable64_size", &[], &[D], C::ALL_S, stable::size64),
    f("stable64_grow", &[D], &[D], C::ALL_S, stable::grow64),
    f("stable64_write", &[D, D, D], &[], C::ALL_S, stable::write64),
    f("stable64_read", &[D, D, D], &[], C::ALL_S, stable::read64),
    f("root_key_size", &[], &[A], ROOT_KEY, canister::root_key_size),
    f("root_key_copy", &[A, A, A], &[], ROOT_KEY, canister::root_key_copy),
    f("certified_data_set", &[A, A], &[], CERTIFY, canister::certified_data_set),
    f("data_certificate_present", &[], &[W], C::ALL, canister::data_certificate_present),
    f("data_certificate_size", &[], &[A], CERTIFICATE, canister::data_certificate_size),
    f("data_certificate_copy", &[A, A, A], &[], CERTIFICATE, canister::data_certificate_copy),
    f("time", &[], &[D], C::ALL, canister::time),
    f("global_timer_set", &[D], &[D], TIMER, canister::global_timer_set),
    f("performance_counter", &[W], &[D], C::ALL_S, canister::performance_counter),
    f("is_controller", &[A, A], &[W], C::ALL_S, canister::is_controller),
    f("in_replicated_execution", &[], &[W], C::ALL_S, canister::in_replicated_execution),
    f("cost_call", &[D, D, A], &[], C::ALL_S, cost::cost_call),
    f("cost_create_canister", &[A], &[], C::ALL_S, cost::cost_create_canister),
    f("cost_http_request", &[D, D, A], &[], C::ALL_S, cost::cost_http_request),
    f("cost_sign_with_ecdsa", &[A, A, W, A], &[W], C::ALL_S, cost::cost_sign_with_ecdsa),
    f("cost_sign_with_schnorr", &[A, A, W, A], &[W], C::ALL_S, cost::cost_sign_with_schnorr),
    f("cost_vetkd_derive_key", &[A, A, W, A], &[W], C::ALL_S, cost::cost_vetkd_derive_key),
    f("env_var_count", &[], &[A], C::ALL, canister::env_var_count),
    f("env_var_name_size", &[A], &[A], C::ALL, canister::env_var_name_size),
    f("env_var_name_copy", &[A, A, A, A], &[], C::ALL, canister::env_var_name_copy),
    f("env_var_name_exists", &[A, A], &[W], C::ALL, canister::env_var_name_exists),
    f("env_var_value_size", &[A, A], &[A], C::ALL, canister::env_var_value_size),
    f("env_var_value_copy", &[A, A, A, A, A], &[], C::ALL, canister::env_var_value_copy),
    f("debug_print", &[A, A], &[], C::ALL_S, canister::debug_print),
    f("trap", &[A, A], &[], C::ALL_S, canister::trap),
    deprecated("msg_cycles_available", &[], &[D], CYCLES_IN, cycles::available64),
    deprecated("msg_cycles_refunded", &[], &[D], REFUNDED, cycles::refunded64),
    deprecated("msg_cycles_accept", &[D], &[D], CYCLES_IN, cycles::accept64),
    deprecated("canister_cycle_balance", &[], &[D], C::ALL, cycles::balance64),
    deprecated("call_cycles_add", &[D], &[], CALL_CYCLES, call::cycles_add64),
    deprecated("stable_size", &[], &[W], C::ALL_S, stable::size32),
    deprecated("stable_grow", &[W], &[W], C::ALL_S, stable::grow32),
    deprecated("stable_write", &[W, W, W], &[], C::ALL_S, stable::write32),
    deprecated("stable_read", &[W, W, W], &[], C::ALL_S, stable::read32),
    deprecated("mint_cycles", &[D], &[D], C::U.or(C::RT).or(C::RY), cycles::mint_cycles),
];

/// The function named `name`, if the System API has one.
pub fn lookup(name: &str) -> Option<&'static ApiFunction> {
    API.iter().find(|function| function.name == name)
}
