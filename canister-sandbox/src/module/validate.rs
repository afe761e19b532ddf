//! IC module validation (ic-reference §7 "Module validity"): Wasm features, imports, exports,
//! custom sections and size limits. Produces the facts the rewrite and the engine need.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use wasmparser::{
    CompositeInnerType, DataKind, ExternalKind, FuncType, MemoryType, Operator, Parser, Payload, TableType, TypeRef,
    ValType, Validator, WasmFeatures,
};

use super::compiled::DataSegment;
use super::gzip;
use super::info::{GlobalKind, Metadata, ModuleInfo};
use crate::api;
use crate::error::ValidationError;
use crate::limits::Limits;

const WASM_MAGIC: [u8; 4] = *b"\0asm";
const MAX_FUNCTIONS: u64 = 50_000;
const MAX_GLOBALS: u64 = 1_000;
const MAX_EXPORTED_METHODS: u64 = 1_000;
const MAX_METHOD_NAME_BYTES: u64 = 20_000;
const MAX_ICP_SECTIONS: u64 = 16;
const MAX_ICP_SECTION_BYTES: u64 = 1 << 20;
const MAX_CODE_SECTION_BYTES: u64 = 10 << 20;
const MAX_FUNCTION_INSTRUCTIONS: u64 = 1_000_000;

/// Exports with these prefixes belong to the platform, never to the canister.
const RESERVED_PREFIXES: [&str; 2] = ["canister ", "keel "];
const RESERVED_NAMES: [&str; 1] = ["canister_start"];

/// A validated module and what the rest of the sandbox needs to know about it.
pub(crate) struct Validated {
    /// The raw Wasm (decompressed).
    pub wasm: Vec<u8>,
    pub info: ModuleInfo,
    pub table_import: Option<TableType>,
    pub has_memory: bool,
    /// The type of memory 0 (defined or imported).
    pub memory_type: Option<MemoryType>,
    pub has_table: bool,
    /// Index and type of every mutable global of a persistable type.
    pub mutable_globals: Vec<(u32, GlobalKind)>,
    pub start: Option<u32>,
    pub data: Vec<DataSegment>,
    /// `(module, name, type index)` of the function imports, in order.
    pub function_imports: Vec<(String, String, u32)>,
}

/// The Wasm features the IC enables (ic-reference §7 "Wasm features").
pub(crate) fn ic_features() -> WasmFeatures {
    let mut features = WasmFeatures::empty();
    for feature in [
        WasmFeatures::MUTABLE_GLOBAL,
        WasmFeatures::SATURATING_FLOAT_TO_INT,
        WasmFeatures::SIGN_EXTENSION,
        WasmFeatures::MULTI_VALUE,
        WasmFeatures::BULK_MEMORY,
        WasmFeatures::REFERENCE_TYPES,
        // wasmparser models reference types on top of the GC type system.
        WasmFeatures::GC_TYPES,
        WasmFeatures::SIMD,
        WasmFeatures::MEMORY64,
        WasmFeatures::FLOATS,
    ] {
        features.insert(feature);
    }
    features
}

fn wasm_error(e: wasmparser::BinaryReaderError) -> ValidationError {
    ValidationError::Wasm(e.to_string())
}

/// Validates raw or gzip-compressed Wasm the way the IC does.
pub(crate) fn validate(bytes: &[u8], limits: &Limits) -> Result<Validated, ValidationError> {
    let wasm = if bytes.starts_with(&gzip::MAGIC) {
        gzip::gunzip(bytes, limits.module_bytes)?
    } else if bytes.starts_with(&WASM_MAGIC) {
        bytes.to_vec()
    } else {
        return Err(ValidationError::NotWasm);
    };
    if wasm.len() as u64 > limits.module_bytes {
        return Err(ValidationError::TooLarge { bytes: wasm.len() as u64, limit: limits.module_bytes });
    }
    Validator::new_with_features(ic_features()).validate_all(&wasm).map_err(wasm_error)?;
    let mut walk = Walk::default();
    for payload in Parser::new(0).parse_all(&wasm) {
        walk.payload(payload.map_err(wasm_error)?)?;
    }
    walk.finish(wasm)
}

#[derive(Default)]
struct Walk {
    types: Vec<Option<FuncType>>,
    /// Type index of every function (imports first).
    function_types: Vec<u32>,
    imports: Vec<(String, String, u32)>,
    table_import: Option<TableType>,
    memory64: bool,
    has_memory: bool,
    memory_type: Option<MemoryType>,
    has_table: bool,
    mutable_globals: Vec<(u32, GlobalKind)>,
    globals: u64,
    exports: Vec<(String, ExternalKind, u32)>,
    start: Option<u32>,
    data: Vec<DataSegment>,
    icp_sections: u64,
    icp_bytes: u64,
    metadata: BTreeMap<String, Metadata>,
}

impl Walk {
    fn payload(&mut self, payload: Payload<'_>) -> Result<(), ValidationError> {
        match payload {
            Payload::TypeSection(reader) => {
                for group in reader {
                    for sub in group.map_err(wasm_error)?.types() {
                        self.types.push(match &sub.composite_type.inner {
                            CompositeInnerType::Func(ty) => Some(ty.clone()),
                            _ => None,
                        });
                    }
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader {
                    self.import(import.map_err(wasm_error)?)?;
                }
            }
            Payload::FunctionSection(reader) => {
                for ty in reader {
                    self.function_types.push(ty.map_err(wasm_error)?);
                }
                let defined = (self.function_types.len() - self.imports.len()) as u64;
                if defined > MAX_FUNCTIONS {
                    return Err(ValidationError::TooMany { what: "functions", count: defined, limit: MAX_FUNCTIONS });
                }
            }
            Payload::TableSection(reader) => self.has_table |= reader.count() > 0,
            Payload::MemorySection(reader) => {
                for memory in reader {
                    self.memory(memory.map_err(wasm_error)?);
                }
            }
            Payload::GlobalSection(reader) => {
                for global in reader {
                    let global = global.map_err(wasm_error)?;
                    let index = self.globals as u32;
                    self.globals += 1;
                    if let (true, Some(kind)) = (global.ty.mutable, global_kind(global.ty.content_type)) {
                        self.mutable_globals.push((index, kind));
                    }
                }
                if self.globals > MAX_GLOBALS {
                    return Err(ValidationError::TooMany { what: "globals", count: self.globals, limit: MAX_GLOBALS });
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export.map_err(wasm_error)?;
                    self.exports.push((export.name.to_string(), export.kind, export.index));
                }
            }
            Payload::StartSection { func, .. } => self.start = Some(func),
            Payload::DataSection(reader) => {
                for data in reader {
                    let data = data.map_err(wasm_error)?;
                    let offset = match data.kind {
                        DataKind::Passive => None,
                        DataKind::Active { offset_expr, .. } => Some(const_offset(offset_expr)?),
                    };
                    self.data.push(DataSegment { offset, bytes: data.data.to_vec() });
                }
            }
            Payload::CodeSectionStart { size, .. } if u64::from(size) > MAX_CODE_SECTION_BYTES => {
                return Err(ValidationError::TooMany {
                    what: "bytes of code section",
                    count: u64::from(size),
                    limit: MAX_CODE_SECTION_BYTES,
                });
            }
            Payload::CodeSectionEntry(body) => {
                let mut reader = body.get_operators_reader().map_err(wasm_error)?;
                let mut count = 0u64;
                while !reader.eof() {
                    reader.read().map_err(wasm_error)?;
                    count += 1;
                }
                if count > MAX_FUNCTION_INSTRUCTIONS {
                    return Err(ValidationError::TooMany {
                        what: "instructions in one function",
                        count,
                        limit: MAX_FUNCTION_INSTRUCTIONS,
                    });
                }
            }
            Payload::CustomSection(reader) => self.custom_section(reader.name(), reader.data())?,
            _ => {}
        }
        Ok(())
    }

    fn memory(&mut self, memory: MemoryType) {
        self.has_memory = true;
        self.memory_type = Some(memory);
        self.memory64 = memory.memory64;
    }

    fn import(&mut self, import: wasmparser::Import<'_>) -> Result<(), ValidationError> {
        let refuse = |reason: &str| ValidationError::Import {
            module: import.module.to_string(),
            name: import.name.to_string(),
            reason: reason.to_string(),
        };
        match (import.module, import.name, import.ty) {
            ("ic0", _, TypeRef::Func(ty)) => {
                self.imports.push((import.module.to_string(), import.name.to_string(), ty));
                self.function_types.push(ty);
                Ok(())
            }
            (_, _, TypeRef::Func(_)) => Err(refuse("function imports must come from module \"ic0\"")),
            ("env", "memory", TypeRef::Memory(memory)) => {
                self.memory(memory);
                Ok(())
            }
            ("env", "table", TypeRef::Table(table)) => {
                self.table_import = Some(table);
                self.has_table = true;
                Ok(())
            }
            (_, _, TypeRef::Memory(_)) => Err(refuse("a memory may only be imported as \"env\".\"memory\"")),
            (_, _, TypeRef::Table(_)) => Err(refuse("a table may only be imported as \"env\".\"table\"")),
            (_, _, TypeRef::Global(_)) => Err(refuse("global imports are not allowed")),
            (_, _, TypeRef::Tag(_)) => Err(refuse("tag imports are not allowed")),
        }
    }

    /// Function imports are checked once the memory type (and so the width of `I`) is known.
    fn check_function_imports(&self) -> Result<(), ValidationError> {
        for (module, name, ty) in &self.imports {
            let refuse = |reason: String| ValidationError::Import { module: module.clone(), name: name.clone(), reason };
            let function = api::lookup(name).ok_or_else(|| refuse("not a function of the System API".into()))?;
            if function.wasm32_only && self.memory64 {
                return Err(refuse("this deprecated function is only available to wasm32 modules".into()));
            }
            let actual = self.types.get(*ty as usize).and_then(Option::as_ref);
            let expected_params: Vec<ValType> = function.params.iter().map(|k| to_parser(k.resolve(self.memory64))).collect();
            let expected_results: Vec<ValType> = function.results.iter().map(|k| to_parser(k.resolve(self.memory64))).collect();
            let matches = actual.is_some_and(|t| t.params() == expected_params && t.results() == expected_results);
            if !matches {
                return Err(refuse(format!(
                    "wrong signature: expected {expected_params:?} -> {expected_results:?}, found {}",
                    actual.map_or_else(|| "a non-function type".to_string(), |t| format!("{:?} -> {:?}", t.params(), t.results()))
                )));
            }
        }
        Ok(())
    }

    fn custom_section(&mut self, name: &str, data: &[u8]) -> Result<(), ValidationError> {
        let Some(rest) = name.strip_prefix("icp:") else { return Ok(()) };
        let refuse = |reason: &str| ValidationError::CustomSection { name: name.to_string(), reason: reason.to_string() };
        let (public, key) = if let Some(key) = rest.strip_prefix("public ") {
            (true, key)
        } else if let Some(key) = rest.strip_prefix("private ") {
            (false, key)
        } else {
            return Err(refuse("only \"icp:public <name>\" and \"icp:private <name>\" may use the icp: prefix"));
        };
        if self.metadata.contains_key(key) {
            return Err(refuse("a metadata name may appear only once (public or private)"));
        }
        self.icp_sections += 1;
        self.icp_bytes += (name.len() + data.len()) as u64;
        if self.icp_sections > MAX_ICP_SECTIONS {
            return Err(ValidationError::TooMany { what: "icp: custom sections", count: self.icp_sections, limit: MAX_ICP_SECTIONS });
        }
        if self.icp_bytes > MAX_ICP_SECTION_BYTES {
            return Err(ValidationError::TooMany {
                what: "bytes of icp: custom sections",
                count: self.icp_bytes,
                limit: MAX_ICP_SECTION_BYTES,
            });
        }
        self.metadata.insert(key.to_string(), Metadata { public, contents: data.to_vec() });
        Ok(())
    }

    fn check_exports(&self, info: &mut ModuleInfo) -> Result<(), ValidationError> {
        let mut methods = BTreeSet::new();
        let mut method_bytes = 0u64;
        for (name, kind, index) in &self.exports {
            let refuse = |reason: &str| ValidationError::Export { name: name.clone(), reason: reason.to_string() };
            if RESERVED_NAMES.contains(&name.as_str()) || RESERVED_PREFIXES.iter().any(|p| name.starts_with(p)) {
                return Err(refuse("this export name is reserved"));
            }
            if !name.starts_with("canister_") {
                continue;
            }
            if *kind != ExternalKind::Func {
                return Err(refuse("exports named canister_* must be functions"));
            }
            let unit = self
                .function_types
                .get(*index as usize)
                .and_then(|ty| self.types.get(*ty as usize))
                .and_then(Option::as_ref)
                .is_some_and(|t| t.params().is_empty() && t.results().is_empty());
            if !unit {
                return Err(refuse("canister entry points must have type () -> ()"));
            }
            let method = if let Some(m) = name.strip_prefix("canister_update ") {
                info.updates.push(m.to_string());
                m
            } else if let Some(m) = name.strip_prefix("canister_query ") {
                info.queries.push(m.to_string());
                m
            } else if let Some(m) = name.strip_prefix("canister_composite_query ") {
                info.composite_queries.push(m.to_string());
                m
            } else {
                let flag = match name.as_str() {
                    "canister_init" => &mut info.has_init,
                    "canister_pre_upgrade" => &mut info.has_pre_upgrade,
                    "canister_post_upgrade" => &mut info.has_post_upgrade,
                    "canister_inspect_message" => &mut info.has_inspect_message,
                    "canister_heartbeat" => &mut info.has_heartbeat,
                    "canister_global_timer" => &mut info.has_global_timer,
                    "canister_on_low_wasm_memory" => &mut info.has_on_low_wasm_memory,
                    _ => return Err(refuse("not a canister entry point; the canister_ prefix is reserved")),
                };
                *flag = true;
                continue;
            };
            if !methods.insert(method.to_string()) {
                return Err(refuse("the method is exported more than once (with different call types)"));
            }
            method_bytes += method.len() as u64;
        }
        let count = methods.len() as u64;
        if count > MAX_EXPORTED_METHODS {
            return Err(ValidationError::TooMany { what: "exported methods", count, limit: MAX_EXPORTED_METHODS });
        }
        if method_bytes > MAX_METHOD_NAME_BYTES {
            return Err(ValidationError::TooMany { what: "bytes of method names", count: method_bytes, limit: MAX_METHOD_NAME_BYTES });
        }
        Ok(())
    }

    fn finish(self, wasm: Vec<u8>) -> Result<Validated, ValidationError> {
        self.check_function_imports()?;
        let mut info = ModuleInfo { memory64: self.memory64, ..ModuleInfo::default() };
        self.check_exports(&mut info)?;
        info.metadata = self.metadata;
        Ok(Validated {
            wasm,
            info,
            table_import: self.table_import,
            has_memory: self.has_memory,
            memory_type: self.memory_type,
            has_table: self.has_table,
            mutable_globals: self.mutable_globals,
            start: self.start,
            data: self.data,
            function_imports: self.imports,
        })
    }
}

fn global_kind(ty: ValType) -> Option<GlobalKind> {
    match ty {
        ValType::I32 => Some(GlobalKind::I32),
        ValType::I64 => Some(GlobalKind::I64),
        ValType::F32 => Some(GlobalKind::F32),
        ValType::F64 => Some(GlobalKind::F64),
        ValType::V128 => Some(GlobalKind::V128),
        ValType::Ref(_) => None,
    }
}

fn to_parser(ty: wasmi::ValType) -> ValType {
    match ty {
        wasmi::ValType::I64 => ValType::I64,
        _ => ValType::I32,
    }
}

/// Active data segment offsets are constants (no global imports exist to refer to).
fn const_offset(expr: wasmparser::ConstExpr<'_>) -> Result<u64, ValidationError> {
    let mut reader = expr.get_operators_reader();
    match reader.read().map_err(wasm_error)? {
        Operator::I32Const { value } => Ok(u64::from(value as u32)),
        Operator::I64Const { value } => Ok(value as u64),
        other => Err(ValidationError::Wasm(format!("unsupported data segment offset expression {other:?}"))),
    }
}
