//! Just enough Candid decoding to find the effective canister id of a management canister
//! call: the `canister_id` (or `target_canister`) principal field of the first argument,
//! which must be a record. Unknown types are skipped structurally; depth and work are
//! bounded so a hostile argument cannot make the node loop or recurse without end.

use alloc::vec::Vec;
use keel_crypto::Principal;

/// Why the argument could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CandidError {
    /// Not Candid, or not the shape needed.
    Malformed,
    /// The first argument is not a record with the field.
    FieldMissing,
    /// Too deep or too much work.
    TooComplex,
}

/// The Candid field id of a name.
pub fn field_hash(name: &str) -> u32 {
    name.bytes().fold(0u32, |h, c| h.wrapping_mul(223).wrapping_add(u32::from(c)))
}

// Type opcodes (negative SLEB128 values).
const NULL: i64 = -1;
const BOOL: i64 = -2;
const NAT: i64 = -3;
const INT: i64 = -4;
const NAT8: i64 = -5;
const INT64: i64 = -12;
const FLOAT32: i64 = -13;
const FLOAT64: i64 = -14;
const TEXT: i64 = -15;
const RESERVED: i64 = -16;
const EMPTY: i64 = -17;
const OPT: i64 = -18;
const VEC: i64 = -19;
const RECORD: i64 = -20;
const VARIANT: i64 = -21;
const FUNC: i64 = -22;
const SERVICE: i64 = -23;
const PRINCIPAL: i64 = -24;

const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone)]
enum Type {
    Opt(i64),
    Vec(i64),
    /// Fields sorted by id, as the wire requires.
    Fields { variant: bool, fields: Vec<(u32, i64)> },
    Func,
    Service,
}

struct Input<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// Values left to skip before giving up.
    fuel: usize,
}

impl<'a> Input<'a> {
    fn byte(&mut self) -> Result<u8, CandidError> {
        let b = *self.bytes.get(self.pos).ok_or(CandidError::Malformed)?;
        self.pos += 1;
        Ok(b)
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], CandidError> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.bytes.len()).ok_or(CandidError::Malformed)?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn uleb(&mut self) -> Result<u64, CandidError> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            n |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(n);
            }
        }
        Err(CandidError::Malformed)
    }
    fn sleb(&mut self) -> Result<i64, CandidError> {
        let mut n = 0i64;
        let mut shift = 0;
        loop {
            let b = self.byte()?;
            n |= i64::from(b & 0x7f) << shift;
            shift += 7;
            if b & 0x80 == 0 {
                if shift < 64 && b & 0x40 != 0 {
                    n |= -1i64 << shift;
                }
                return Ok(n);
            }
            if shift >= 63 {
                return Err(CandidError::Malformed);
            }
        }
    }
    fn len(&mut self) -> Result<usize, CandidError> {
        usize::try_from(self.uleb()?).map_err(|_| CandidError::Malformed)
    }
    fn burn(&mut self) -> Result<(), CandidError> {
        self.fuel = self.fuel.checked_sub(1).ok_or(CandidError::TooComplex)?;
        Ok(())
    }
}

fn type_table(input: &mut Input<'_>) -> Result<Vec<Type>, CandidError> {
    let n = input.len()?;
    let mut table = Vec::new();
    for _ in 0..n {
        input.burn()?;
        let t = match input.sleb()? {
            OPT => Type::Opt(input.sleb()?),
            VEC => Type::Vec(input.sleb()?),
            op @ (RECORD | VARIANT) => {
                let count = input.len()?;
                let mut fields = Vec::new();
                for _ in 0..count {
                    input.burn()?;
                    let id = u32::try_from(input.uleb()?).map_err(|_| CandidError::Malformed)?;
                    fields.push((id, input.sleb()?));
                }
                Type::Fields { variant: op == VARIANT, fields }
            }
            FUNC => {
                for _ in 0..2 {
                    let count = input.len()?;
                    for _ in 0..count {
                        input.burn()?;
                        input.sleb()?;
                    }
                }
                let annotations = input.len()?;
                input.take(annotations)?;
                Type::Func
            }
            SERVICE => {
                let count = input.len()?;
                for _ in 0..count {
                    input.burn()?;
                    let name = input.len()?;
                    input.take(name)?;
                    input.sleb()?;
                }
                Type::Service
            }
            _ => return Err(CandidError::Malformed),
        };
        table.push(t);
    }
    Ok(table)
}

fn principal_value<'a>(input: &mut Input<'a>) -> Result<&'a [u8], CandidError> {
    if input.byte()? != 1 {
        return Err(CandidError::Malformed); // opaque references are not used over ingress
    }
    let n = input.len()?;
    input.take(n)
}

fn skip(input: &mut Input<'_>, table: &[Type], t: i64, depth: usize) -> Result<(), CandidError> {
    input.burn()?;
    if depth > MAX_DEPTH {
        return Err(CandidError::TooComplex);
    }
    match t {
        NULL | RESERVED => Ok(()),
        BOOL | NAT8 | -9 => input.take(1).map(drop),
        NAT | INT => {
            while input.byte()? & 0x80 != 0 {}
            Ok(())
        }
        -6 | -10 => input.take(2).map(drop),
        -7 | -11 | FLOAT32 => input.take(4).map(drop),
        -8 | INT64 | FLOAT64 => input.take(8).map(drop),
        TEXT => {
            let n = input.len()?;
            input.take(n).map(drop)
        }
        PRINCIPAL => principal_value(input).map(drop),
        EMPTY => Err(CandidError::Malformed),
        index if index >= 0 => {
            let ty = usize::try_from(index).ok().and_then(|i| table.get(i)).ok_or(CandidError::Malformed)?;
            match ty {
                Type::Opt(inner) => match input.byte()? {
                    0 => Ok(()),
                    1 => skip(input, table, *inner, depth + 1),
                    _ => Err(CandidError::Malformed),
                },
                Type::Vec(inner) => {
                    let n = input.len()?;
                    if *inner == NAT8 {
                        return input.take(n).map(drop);
                    }
                    (0..n).try_for_each(|_| skip(input, table, *inner, depth + 1))
                }
                Type::Fields { variant: false, fields } => {
                    fields.iter().try_for_each(|(_, ft)| skip(input, table, *ft, depth + 1))
                }
                Type::Fields { variant: true, fields } => {
                    let i = input.len()?;
                    let (_, ft) = fields.get(i).ok_or(CandidError::Malformed)?;
                    skip(input, table, *ft, depth + 1)
                }
                Type::Func => {
                    principal_value(input)?;
                    let n = input.len()?;
                    input.take(n).map(drop)
                }
                Type::Service => principal_value(input).map(drop),
            }
        }
        _ => Err(CandidError::Malformed),
    }
}

/// The principal in field `name` of the first argument (a record) of a Candid message.
pub fn principal_field(arg: &[u8], name: &str) -> Result<Principal, CandidError> {
    let mut input = Input { bytes: arg, pos: 0, fuel: 4 * arg.len() + 64 };
    if input.take(4)? != b"DIDL" {
        return Err(CandidError::Malformed);
    }
    let table = type_table(&mut input)?;
    let argc = input.len()?;
    if argc == 0 {
        return Err(CandidError::FieldMissing);
    }
    let arg_types: Vec<i64> = (0..argc).map(|_| {
        input.burn()?;
        input.sleb()
    }).collect::<Result<_, _>>()?;
    let fields = match usize::try_from(arg_types[0]).ok().and_then(|i| table.get(i)) {
        Some(Type::Fields { variant: false, fields }) => fields,
        _ => return Err(CandidError::FieldMissing),
    };
    // Walk the whole message, as a full decoder would, so truncated or padded arguments
    // are refused even when the field itself came early.
    let wanted = field_hash(name);
    let mut found = None;
    for (id, ft) in fields {
        if *id == wanted && *ft == PRINCIPAL {
            found = Some(Principal::from_slice(principal_value(&mut input)?).map_err(|_| CandidError::Malformed)?);
        } else {
            skip(&mut input, &table, *ft, 1)?;
        }
    }
    for t in &arg_types[1..] {
        skip(&mut input, &table, *t, 0)?;
    }
    if input.pos != input.bytes.len() {
        return Err(CandidError::Malformed);
    }
    found.ok_or(CandidError::FieldMissing)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candid::{CandidType, Encode, Principal as P};

    #[derive(CandidType)]
    struct InstallChunked {
        mode: Mode,
        target_canister: P,
        store_canister: Option<P>,
        chunk_hashes_list: Vec<ChunkHash>,
        wasm_module_hash: Vec<u8>,
        arg: Vec<u8>,
        sender_canister_version: Option<u64>,
    }
    #[derive(CandidType)]
    struct ChunkHash {
        hash: Vec<u8>,
    }
    #[derive(CandidType)]
    #[allow(non_camel_case_types)]
    enum Mode {
        install,
        upgrade(Option<Upgrade>),
    }
    #[derive(CandidType)]
    struct Upgrade {
        skip_pre_upgrade: Option<bool>,
    }
    #[derive(CandidType)]
    struct WithId {
        canister_id: P,
        amount: candid::Nat,
        name: String,
        extra: (i64, f64, Vec<Option<u16>>),
    }

    #[test]
    fn finds_fields_after_skipping_others() {
        let target = P::from_slice(&[0, 0, 0, 0, 0, 0, 0, 7, 1, 1]);
        let arg = Encode!(&InstallChunked {
            mode: Mode::upgrade(Some(Upgrade { skip_pre_upgrade: Some(true) })),
            target_canister: target,
            store_canister: Some(P::anonymous()),
            chunk_hashes_list: vec![ChunkHash { hash: vec![1; 32] }],
            wasm_module_hash: vec![2; 32],
            arg: vec![3; 5],
            sender_canister_version: None,
        })
        .unwrap();
        assert_eq!(principal_field(&arg, "target_canister").unwrap().as_slice(), target.as_slice());
        assert_eq!(principal_field(&arg, "canister_id"), Err(CandidError::FieldMissing));
        let _ = Mode::install;

        let arg = Encode!(&WithId {
            canister_id: target,
            amount: candid::Nat::from(1u128 << 100),
            name: "x".into(),
            extra: (-5, 1.5, vec![Some(3), None]),
        })
        .unwrap();
        assert_eq!(principal_field(&arg, "canister_id").unwrap().as_slice(), target.as_slice());
        assert_eq!(principal_field(&Encode!(&()).unwrap(), "canister_id"), Err(CandidError::FieldMissing));
        assert_eq!(principal_field(&Encode!(&5u8).unwrap(), "canister_id"), Err(CandidError::FieldMissing));
    }

    #[test]
    fn hostile_inputs_fail_cleanly() {
        let arg = Encode!(&WithId { canister_id: P::anonymous(), amount: 1u8.into(), name: "n".into(), extra: (1, 2.0, vec![]) }).unwrap();
        for n in 0..arg.len() {
            assert!(principal_field(&arg[..n], "canister_id").is_err());
        }
        assert_eq!(principal_field(b"NOPE", "canister_id"), Err(CandidError::Malformed));
        // Self-referential type: opt of itself, nested values far too deep.
        let mut deep = b"DIDL\x01\x6e\x00\x01\x00".to_vec();
        deep.extend(core::iter::repeat_n(1u8, 1000));
        assert!(principal_field(&deep, "x").is_err());
        // vec null with a huge length: bounded by fuel, not by bytes.
        let huge = b"DIDL\x02\x6c\x01\x00\x01\x6d\x7f\x01\x00\xff\xff\xff\xff\x0f".to_vec();
        assert_eq!(principal_field(&huge, "canister_id"), Err(CandidError::TooComplex));
    }

    #[test]
    fn field_hash_matches_candid() {
        assert_eq!(field_hash("canister_id"), candid::idl_hash("canister_id"));
        assert_eq!(field_hash("target_canister"), candid::idl_hash("target_canister"));
    }
}
