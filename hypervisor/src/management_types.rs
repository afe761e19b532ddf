//! Candid types of the management canister interface (ic-reference §8): decoding of the
//! argument records and encoding of the result records, with every field clients expect.

use alloc::vec::Vec;

use crate::candid::{CandidError, Type, Value, field};
use crate::cycles::Cycles;
use crate::ids::{CanisterId, CanisterIdExt, Principal, PrincipalExt};
use crate::partition::{Change, ChangeDetails, InstallMode, Settings};

/// `canister_settings`: every field optional; `None` = unchanged / default.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct SettingsArg {
    pub controllers: Option<Vec<Principal>>,
    pub compute_allocation: Option<u8>,
    pub memory_allocation: Option<u64>,
    pub freezing_threshold: Option<u64>,
    pub reserved_cycles_limit: Option<u128>,
    pub wasm_memory_limit: Option<u64>,
    pub wasm_memory_threshold: Option<u64>,
}

fn opt_u64(v: &Value, name: &str) -> Result<Option<u64>, CandidError> {
    v.opt_field(name).map(|x| x.as_u64()).transpose()
}

impl SettingsArg {
    pub fn decode(v: Option<&Value>) -> Result<SettingsArg, CandidError> {
        let Some(v) = v else { return Ok(SettingsArg::default()) };
        let controllers = match v.opt_field("controllers") {
            Some(c) => Some(c.as_vec()?.iter().map(|p| p.as_principal()).collect::<Result<Vec<_>, _>>()?),
            None => None,
        };
        let compute_allocation = match opt_u64(v, "compute_allocation")? {
            Some(n) if n <= 100 => Some(n as u8),
            Some(_) => return Err(CandidError("compute_allocation must be at most 100")),
            None => None,
        };
        Ok(SettingsArg {
            controllers,
            compute_allocation,
            memory_allocation: opt_u64(v, "memory_allocation")?,
            freezing_threshold: opt_u64(v, "freezing_threshold")?,
            reserved_cycles_limit: v.opt_field("reserved_cycles_limit").map(|x| x.as_nat()).transpose()?,
            wasm_memory_limit: opt_u64(v, "wasm_memory_limit")?,
            wasm_memory_threshold: opt_u64(v, "wasm_memory_threshold")?,
        })
    }

    /// Applies the present fields to `s`.
    pub fn apply_to(&self, s: &mut Settings) {
        if let Some(x) = self.compute_allocation {
            s.compute_allocation = x;
        }
        if let Some(x) = self.memory_allocation {
            s.memory_allocation = x;
        }
        if let Some(x) = self.freezing_threshold {
            s.freezing_threshold = x;
        }
        if let Some(x) = self.reserved_cycles_limit {
            s.reserved_cycles_limit = x;
        }
        if let Some(x) = self.wasm_memory_limit {
            s.wasm_memory_limit = x;
        }
        if let Some(x) = self.wasm_memory_threshold {
            s.wasm_memory_threshold = x;
        }
    }
}

/// `install_code`'s `mode`.
pub fn decode_mode(v: &Value) -> Result<InstallMode, CandidError> {
    let (id, payload) = v.as_variant()?;
    if id == field("install") {
        Ok(InstallMode::Install)
    } else if id == field("reinstall") {
        Ok(InstallMode::Reinstall)
    } else if id == field("upgrade") {
        let opts = match payload {
            Value::Opt(Some(r)) => Some(&**r),
            Value::Record(_) => Some(payload),
            _ => None,
        };
        let skip_pre_upgrade = match opts.and_then(|r| r.opt_field("skip_pre_upgrade")) {
            Some(b) => b.as_bool()?,
            None => false,
        };
        let keep_heap = match opts.and_then(|r| r.opt_field("wasm_memory_persistence")) {
            Some(p) => p.as_variant()?.0 == field("keep"),
            None => false,
        };
        Ok(InstallMode::Upgrade { skip_pre_upgrade, keep_heap })
    } else {
        Err(CandidError("unknown install mode"))
    }
}

fn principals(ps: &[Principal]) -> Value {
    Value::Vec(ps.iter().map(|p| Value::Principal(*p)).collect())
}

fn nat(n: impl Into<u128>) -> Value {
    Value::Nat(n.into())
}

pub fn canister_id_record(id: CanisterId) -> (Type, Value) {
    (Type::record(&[("canister_id", Type::Principal)]), Value::record(&[("canister_id", Value::Principal(id.to_principal()))]))
}

fn visibility_type() -> Type {
    Type::variant(&[("controllers", Type::Null), ("public", Type::Null), ("allowed_viewers", Type::vec(Type::Principal))])
}

fn definite_settings(s: &Settings, controllers: &[Principal]) -> (Type, Value) {
    let env = Type::vec(Type::record(&[("name", Type::Text), ("value", Type::Text)]));
    let t = Type::record(&[
        ("controllers", Type::vec(Type::Principal)),
        ("compute_allocation", Type::Nat),
        ("memory_allocation", Type::Nat),
        ("freezing_threshold", Type::Nat),
        ("reserved_cycles_limit", Type::Nat),
        ("log_visibility", visibility_type()),
        ("log_memory_limit", Type::Nat),
        ("snapshot_visibility", visibility_type()),
        ("status_visibility", visibility_type()),
        ("wasm_memory_limit", Type::Nat),
        ("wasm_memory_threshold", Type::Nat),
        ("environment_variables", env),
        ("minimum_incoming_canister_call_cycles", Type::Nat),
    ]);
    let v = Value::record(&[
        ("controllers", principals(controllers)),
        ("compute_allocation", nat(s.compute_allocation)),
        ("memory_allocation", nat(s.memory_allocation)),
        ("freezing_threshold", nat(s.freezing_threshold)),
        ("reserved_cycles_limit", nat(s.reserved_cycles_limit)),
        ("log_visibility", Value::variant("controllers", Value::Null)),
        // The IC's canister log size (ic-reference §9: logs 4 KiB); clients require the field.
        ("log_memory_limit", nat(LOG_MEMORY_LIMIT)),
        ("snapshot_visibility", Value::variant("controllers", Value::Null)),
        ("status_visibility", Value::variant("controllers", Value::Null)),
        ("wasm_memory_limit", nat(s.wasm_memory_limit)),
        ("wasm_memory_threshold", nat(s.wasm_memory_threshold)),
        ("environment_variables", Value::Vec(Vec::new())),
        ("minimum_incoming_canister_call_cycles", nat(0u8)),
    ]);
    (t, v)
}

/// The inputs of a `canister_status` result.
#[derive(Debug)]
pub struct StatusView<'a> {
    /// 0 running, 1 stopping, 2 stopped.
    pub status: u8,
    pub version: u64,
    pub settings: &'a Settings,
    pub controllers: &'a [Principal],
    pub module_hash: Option<[u8; 32]>,
    pub heap_and_stable: u64,
    pub wasm_binary_size: u64,
    pub snapshots_size: u64,
    pub cycles: Cycles,
    pub idle_cycles_burned_per_day: Cycles,
}

/// Bytes of canister log kept (the IC's 4 KiB); Keel keeps no canister logs yet, so the
/// store is always empty.
const LOG_MEMORY_LIMIT: u64 = 4096;

pub fn canister_status_result(s: &StatusView) -> (Type, Value) {
    let (settings_t, settings_v) = definite_settings(s.settings, s.controllers);
    let metrics = [
        "wasm_memory_size",
        "stable_memory_size",
        "global_memory_size",
        "wasm_binary_size",
        "custom_sections_size",
        "canister_history_size",
        "wasm_chunk_store_size",
        "snapshots_size",
        "log_memory_store_size",
    ];
    let metrics_t = Type::record(&metrics.map(|m| (m, Type::Nat)));
    let metrics_v = Value::record(&metrics.map(|m| {
        let n = match m {
            "wasm_memory_size" => s.heap_and_stable,
            "wasm_binary_size" => s.wasm_binary_size,
            "snapshots_size" => s.snapshots_size,
            _ => 0,
        };
        (m, nat(n))
    }));
    let stats = ["num_calls_total", "num_instructions_total", "request_payload_bytes_total", "response_payload_bytes_total"];
    let status_name = ["running", "stopping", "stopped"][usize::from(s.status.min(2))];
    let t = Type::record(&[
        ("status", Type::variant(&[("running", Type::Null), ("stopping", Type::Null), ("stopped", Type::Null)])),
        ("ready_for_migration", Type::Bool),
        ("version", Type::Nat64),
        ("settings", settings_t),
        ("module_hash", Type::opt(Type::blob())),
        ("memory_size", Type::Nat),
        ("memory_metrics", metrics_t),
        ("cycles", Type::Nat),
        ("reserved_cycles", Type::Nat),
        ("idle_cycles_burned_per_day", Type::Nat),
        ("query_stats", Type::record(&stats.map(|f| (f, Type::Nat)))),
    ]);
    let v = Value::record(&[
        ("status", Value::variant(status_name, Value::Null)),
        ("ready_for_migration", Value::Bool(false)),
        ("version", nat(s.version)),
        ("settings", settings_v),
        ("module_hash", Value::Opt(s.module_hash.map(|h| alloc::boxed::Box::new(Value::Blob(h.to_vec()))))),
        ("memory_size", nat(s.heap_and_stable + s.wasm_binary_size + s.snapshots_size)),
        ("memory_metrics", metrics_v),
        ("cycles", nat(s.cycles.get())),
        ("reserved_cycles", nat(0u8)),
        ("idle_cycles_burned_per_day", nat(s.idle_cycles_burned_per_day.get())),
        ("query_stats", Value::record(&stats.map(|f| (f, nat(0u8))))),
    ]);
    (t, v)
}

fn change_type() -> Type {
    let mode = Type::variant(&[("install", Type::Null), ("reinstall", Type::Null), ("upgrade", Type::Null)]);
    Type::record(&[
        ("timestamp_nanos", Type::Nat64),
        ("canister_version", Type::Nat64),
        (
            "origin",
            Type::variant(&[
                ("from_user", Type::record(&[("user_id", Type::Principal)])),
                ("from_canister", Type::record(&[("canister_id", Type::Principal), ("canister_version", Type::opt(Type::Nat64))])),
            ]),
        ),
        (
            "details",
            Type::variant(&[
                ("creation", Type::record(&[("controllers", Type::vec(Type::Principal))])),
                ("code_uninstall", Type::Null),
                ("code_deployment", Type::record(&[("mode", mode), ("module_hash", Type::blob())])),
                ("controllers_change", Type::record(&[("controllers", Type::vec(Type::Principal))])),
                (
                    "load_snapshot",
                    Type::record(&[
                        ("canister_version", Type::Nat64),
                        ("snapshot_id", Type::blob()),
                        ("taken_at_timestamp", Type::Nat64),
                    ]),
                ),
            ]),
        ),
    ])
}

fn change_value(c: &Change, canister: CanisterId) -> Value {
    let origin = match c.origin.as_canister() {
        Some(_) => Value::variant(
            "from_canister",
            Value::record(&[("canister_id", Value::Principal(c.origin)), ("canister_version", Value::Opt(None))]),
        ),
        None => Value::variant("from_user", Value::record(&[("user_id", Value::Principal(c.origin))])),
    };
    let details = match &c.details {
        ChangeDetails::Creation { controllers } => Value::variant("creation", Value::record(&[("controllers", principals(controllers))])),
        ChangeDetails::CodeUninstall => Value::variant("code_uninstall", Value::Null),
        ChangeDetails::CodeDeployment { mode, module_hash } => {
            let m = match mode {
                InstallMode::Install => "install",
                InstallMode::Reinstall => "reinstall",
                InstallMode::Upgrade { .. } => "upgrade",
            };
            Value::variant(
                "code_deployment",
                Value::record(&[("mode", Value::variant(m, Value::Null)), ("module_hash", Value::Blob(module_hash.to_vec()))]),
            )
        }
        ChangeDetails::ControllersChange { controllers } => {
            Value::variant("controllers_change", Value::record(&[("controllers", principals(controllers))]))
        }
        ChangeDetails::LoadSnapshot { snapshot, taken_at } => Value::variant(
            "load_snapshot",
            Value::record(&[
                ("canister_version", nat(c.version)),
                ("snapshot_id", Value::Blob(snapshot_id(canister, *snapshot))),
                ("taken_at_timestamp", nat(taken_at.0)),
            ]),
        ),
    };
    Value::record(&[
        ("timestamp_nanos", nat(c.time.0)),
        ("canister_version", nat(c.version)),
        ("origin", origin),
        ("details", details),
    ])
}

pub fn canister_info_result<'a>(
    total: u64,
    changes: impl Iterator<Item = &'a Change>,
    canister: CanisterId,
    module_hash: Option<[u8; 32]>,
    controllers: &[Principal],
) -> (Type, Value) {
    let t = Type::record(&[
        ("total_num_changes", Type::Nat64),
        ("recent_changes", Type::vec(change_type())),
        ("module_hash", Type::opt(Type::blob())),
        ("controllers", Type::vec(Type::Principal)),
    ]);
    let v = Value::record(&[
        ("total_num_changes", nat(total)),
        ("recent_changes", Value::Vec(changes.map(|c| change_value(c, canister)).collect())),
        ("module_hash", Value::Opt(module_hash.map(|h| alloc::boxed::Box::new(Value::Blob(h.to_vec()))))),
        ("controllers", principals(controllers)),
    ]);
    (t, v)
}

/// Snapshot ids are the canister id followed by the per-canister snapshot number, so an
/// id names its canister (the IC uses the same shape).
pub fn snapshot_id(canister: CanisterId, n: u64) -> Vec<u8> {
    let mut id = canister.to_principal().to_vec();
    id.extend_from_slice(&n.to_be_bytes());
    id
}

/// The snapshot number in an id, if the id belongs to `canister`.
pub fn parse_snapshot_id(canister: CanisterId, id: &[u8]) -> Option<u64> {
    let prefix = canister.to_principal();
    let rest = id.strip_prefix(prefix.as_slice())?;
    Some(u64::from_be_bytes(rest.try_into().ok()?))
}

pub fn snapshot_type() -> Type {
    Type::record(&[("id", Type::blob()), ("taken_at_timestamp", Type::Nat64), ("total_size", Type::Nat64)])
}

pub fn snapshot_value(canister: CanisterId, n: u64, taken_at: u64, size: u64) -> Value {
    Value::record(&[
        ("id", Value::Blob(snapshot_id(canister, n))),
        ("taken_at_timestamp", nat(taken_at)),
        ("total_size", nat(size)),
    ])
}
