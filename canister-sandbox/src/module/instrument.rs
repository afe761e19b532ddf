//! Rewrites a validated module so the sandbox can keep its state between messages.
//!
//! `wasmi` gives the host access only to exported items, and instantiation would re-run
//! data segments and `(start)` on every message. So, before compiling:
//! - memory 0, table 0 and every mutable global are exported under reserved `keel ` names;
//! - `(start)` is removed and exported as `keel start` (run once, at install);
//! - active data segments become empty passive ones (the sandbox applies them once, at install);
//! - memory 0 (defined, or imported as `env.memory`) becomes the import `keel.memory`, so
//!   each execution can hand the instance a memory already of the canister's heap size
//!   (growing a fresh memory would copy it);
//! - an `env.table` import becomes a table definition of the same type.
//!
//! Everything else is copied byte for byte.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use wasmparser::{MemoryType, TableType};

use super::validate::Validated;
use crate::error::ValidationError;

pub(crate) const MEMORY_EXPORT: &str = "keel memory";
pub(crate) const TABLE_EXPORT: &str = "keel table";
pub(crate) const START_EXPORT: &str = "keel start";
/// Module and name of the memory import every rewritten module has (if it has a memory).
pub(crate) const MEMORY_IMPORT: (&str, &str) = ("keel", "memory");

pub(crate) fn export_name_of_global(index: u32) -> String {
    format!("keel global {index}")
}

const IMPORT: u8 = 2;
const TABLE: u8 = 4;
const MEMORY: u8 = 5;
const EXPORT: u8 = 7;
const START: u8 = 8;
const DATA: u8 = 11;

const EXPORT_FUNC: u8 = 0;
const EXPORT_TABLE: u8 = 1;
const EXPORT_MEMORY: u8 = 2;
const EXPORT_GLOBAL: u8 = 3;

/// Position of each known section id in the order the binary format requires.
fn rank(id: u8) -> u8 {
    match id {
        1 => 1,   // type
        2 => 2,   // import
        3 => 3,   // function
        4 => 4,   // table
        5 => 5,   // memory
        13 => 6,  // tag
        6 => 7,   // global
        7 => 8,   // export
        8 => 9,   // start
        9 => 10,  // element
        12 => 11, // data count
        10 => 12, // code
        11 => 13, // data
        _ => 0,   // custom
    }
}

struct Section {
    id: u8,
    payload: Vec<u8>,
}

pub(crate) fn instrument(v: &Validated) -> Result<Vec<u8>, ValidationError> {
    let mut sections = split(&v.wasm)?;
    if v.memory_type.is_some() || v.table_import.is_some() {
        let mut imports = Vec::new();
        leb(&mut imports, (v.function_imports.len() + usize::from(v.memory_type.is_some())) as u64);
        for (module, name, ty) in &v.function_imports {
            encode_name(&mut imports, module);
            encode_name(&mut imports, name);
            imports.push(EXPORT_FUNC);
            leb(&mut imports, u64::from(*ty));
        }
        // Memory imports do not shift the function index space, so the memory goes last.
        if let Some(memory) = v.memory_type {
            encode_name(&mut imports, MEMORY_IMPORT.0);
            encode_name(&mut imports, MEMORY_IMPORT.1);
            imports.push(EXPORT_MEMORY);
            encode_memory_type(&mut imports, &memory);
        }
        upsert(&mut sections, IMPORT, imports);
    }
    if let Some(table) = v.table_import {
        let mut entry = Vec::new();
        encode_table_type(&mut entry, &table);
        let payload = prepend_entry(sections.iter().find(|s| s.id == TABLE).map(|s| s.payload.as_slice()), &entry)?;
        upsert(&mut sections, TABLE, payload);
    }
    // At most one memory exists (multi-memory is off), and it is now imported.
    sections.retain(|s| s.id != MEMORY);
    let mut extra: Vec<(String, u8, u32)> = Vec::new();
    if v.has_memory {
        extra.push((MEMORY_EXPORT.into(), EXPORT_MEMORY, 0));
    }
    if v.has_table {
        extra.push((TABLE_EXPORT.into(), EXPORT_TABLE, 0));
    }
    for (index, _) in &v.mutable_globals {
        extra.push((export_name_of_global(*index), EXPORT_GLOBAL, *index));
    }
    if let Some(start) = v.start {
        extra.push((START_EXPORT.into(), EXPORT_FUNC, start));
        sections.retain(|s| s.id != START);
    }
    let exports = append_exports(sections.iter().find(|s| s.id == EXPORT).map(|s| s.payload.as_slice()), &extra)?;
    upsert(&mut sections, EXPORT, exports);
    if !v.data.is_empty() {
        let mut data = Vec::new();
        leb(&mut data, v.data.len() as u64);
        for segment in &v.data {
            data.push(1); // passive
            // An active segment becomes an *empty* passive one: after instantiation the spec
            // drops active segments, and a dropped segment behaves exactly like an empty one
            // (`memory.init` of length 0 succeeds, anything longer traps). It also spares
            // every instantiation a copy of the module's data.
            let bytes: &[u8] = if segment.offset.is_some() { &[] } else { &segment.bytes };
            leb(&mut data, bytes.len() as u64);
            data.extend_from_slice(bytes);
        }
        upsert(&mut sections, DATA, data);
    }
    let mut out = v.wasm[..8].to_vec();
    for section in sections {
        out.push(section.id);
        leb(&mut out, section.payload.len() as u64);
        out.extend_from_slice(&section.payload);
    }
    Ok(out)
}

fn malformed() -> ValidationError {
    ValidationError::Wasm("malformed section header".into())
}

fn split(wasm: &[u8]) -> Result<Vec<Section>, ValidationError> {
    let mut sections = Vec::new();
    let mut at = 8;
    while at < wasm.len() {
        let id = wasm[at];
        let (size, n) = read_leb(wasm.get(at + 1..).ok_or_else(malformed)?)?;
        let start = at + 1 + n;
        let end = usize::try_from(size).ok().and_then(|s| start.checked_add(s)).filter(|e| *e <= wasm.len()).ok_or_else(malformed)?;
        sections.push(Section { id, payload: wasm[start..end].to_vec() });
        at = end;
    }
    Ok(sections)
}

/// Replaces the section with `id`, or inserts it where the binary format's order wants it.
fn upsert(sections: &mut Vec<Section>, id: u8, payload: Vec<u8>) {
    if let Some(existing) = sections.iter_mut().find(|s| s.id == id) {
        existing.payload = payload;
        return;
    }
    let at = sections.iter().position(|s| rank(s.id) > rank(id)).unwrap_or(sections.len());
    sections.insert(at, Section { id, payload });
}

/// A vector-of-entries payload with `entry` added in front.
fn prepend_entry(existing: Option<&[u8]>, entry: &[u8]) -> Result<Vec<u8>, ValidationError> {
    let (count, rest) = match existing {
        Some(payload) => {
            let (count, n) = read_leb(payload)?;
            (count, &payload[n..])
        }
        None => (0, &[][..]),
    };
    let mut out = Vec::new();
    leb(&mut out, count + 1);
    out.extend_from_slice(entry);
    out.extend_from_slice(rest);
    Ok(out)
}

fn append_exports(existing: Option<&[u8]>, extra: &[(String, u8, u32)]) -> Result<Vec<u8>, ValidationError> {
    let (count, rest) = match existing {
        Some(payload) => {
            let (count, n) = read_leb(payload)?;
            (count, &payload[n..])
        }
        None => (0, &[][..]),
    };
    let mut out = Vec::new();
    leb(&mut out, count + extra.len() as u64);
    out.extend_from_slice(rest);
    for (name, kind, index) in extra {
        encode_name(&mut out, name);
        out.push(*kind);
        leb(&mut out, u64::from(*index));
    }
    Ok(out)
}

fn encode_table_type(out: &mut Vec<u8>, table: &TableType) {
    // Without function-references, element types are exactly funcref or externref.
    out.push(if table.element_type.is_func_ref() { 0x70 } else { 0x6f });
    encode_limits(out, table.maximum.is_some(), false, table.table64, table.initial, table.maximum);
}

fn encode_memory_type(out: &mut Vec<u8>, memory: &MemoryType) {
    encode_limits(out, memory.maximum.is_some(), memory.shared, memory.memory64, memory.initial, memory.maximum);
}

fn encode_limits(out: &mut Vec<u8>, has_max: bool, shared: bool, wide: bool, initial: u64, maximum: Option<u64>) {
    out.push(u8::from(has_max) | (u8::from(shared) << 1) | (u8::from(wide) << 2));
    leb(out, initial);
    if let Some(max) = maximum {
        leb(out, max);
    }
}

fn encode_name(out: &mut Vec<u8>, name: &str) {
    leb(out, name.len() as u64);
    out.extend_from_slice(name.as_bytes());
}

fn leb(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// An unsigned LEB128 and its length in bytes.
fn read_leb(bytes: &[u8]) -> Result<(u64, usize), ValidationError> {
    let mut value = 0u64;
    for (i, byte) in bytes.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok((value, i + 1));
        }
    }
    Err(malformed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leb_round_trip() {
        for value in [0u64, 1, 127, 128, 624_485, u64::from(u32::MAX), u64::MAX] {
            let mut out = Vec::new();
            leb(&mut out, value);
            assert_eq!(read_leb(&out).unwrap(), (value, out.len()));
        }
    }
}
