//! A minimal Candid (IDL binary format) codec for the management canister's records.
//! The `candid` crate needs `std`; this covers what `aaaaa-aa` exchanges: the primitive
//! types, `opt`, `vec` (with `vec nat8` as bytes), `record` and `variant`, with the
//! subtyping rules a decoder must honour (unknown fields ignored, missing or mistyped
//! `opt` fields read as `null`). Function and service references are refused.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

use crate::ids::Principal;

/// The argument is not valid Candid or not of the expected type (reject IC0408).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CandidError(pub &'static str);

type R<T> = Result<T, CandidError>;

const MAX_DEPTH: usize = 64;

/// Candid field id of a field name (`idl_hash`).
pub const fn field(name: &str) -> u32 {
    let b = name.as_bytes();
    let mut h: u32 = 0;
    let mut i = 0;
    while i < b.len() {
        h = h.wrapping_mul(223).wrapping_add(b[i] as u32);
        i += 1;
    }
    h
}

/// A Candid type, as needed for encoding replies.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Type {
    Null,
    Bool,
    Nat,
    Nat8,
    Nat64,
    Int,
    Text,
    Reserved,
    Principal,
    Opt(Box<Type>),
    Vec(Box<Type>),
    /// Fields by id; the encoder sorts them.
    Record(Vec<(u32, Type)>),
    Variant(Vec<(u32, Type)>),
}

impl Type {
    pub fn opt(t: Type) -> Type {
        Type::Opt(Box::new(t))
    }
    pub fn vec(t: Type) -> Type {
        Type::Vec(Box::new(t))
    }
    pub fn blob() -> Type {
        Type::vec(Type::Nat8)
    }
    pub fn record(fields: &[(&str, Type)]) -> Type {
        Type::Record(fields.iter().map(|(n, t)| (field(n), t.clone())).collect())
    }
    pub fn variant(fields: &[(&str, Type)]) -> Type {
        Type::Variant(fields.iter().map(|(n, t)| (field(n), t.clone())).collect())
    }
}

/// A decoded (or to-be-encoded) Candid value.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Value {
    Null,
    Bool(bool),
    /// Every unsigned width; `nat` above u128 is refused.
    Nat(u128),
    Int(i128),
    Text(String),
    Reserved,
    Principal(Principal),
    Opt(Option<Box<Value>>),
    /// `vec nat8`.
    Blob(Vec<u8>),
    Vec(Vec<Value>),
    /// Fields sorted by id.
    Record(Vec<(u32, Value)>),
    Variant(u32, Box<Value>),
}

impl Value {
    pub fn some(v: Value) -> Value {
        Value::Opt(Some(Box::new(v)))
    }
    pub fn record(fields: &[(&str, Value)]) -> Value {
        let mut f: Vec<(u32, Value)> = fields.iter().map(|(n, v)| (field(n), v.clone())).collect();
        f.sort_by_key(|(id, _)| *id);
        Value::Record(f)
    }
    pub fn variant(name: &str, v: Value) -> Value {
        Value::Variant(field(name), Box::new(v))
    }

    /// A record field; `None` when absent (or this is not a record).
    pub fn get(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Record(f) => f.iter().find(|(id, _)| *id == field(name)).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Reads an `opt` field with Candid's subtyping: absent, `null`, `reserved` → `None`;
    /// a bare value where `opt T` is expected counts as present.
    pub fn opt_field(&self, name: &str) -> Option<&Value> {
        match self.get(name)? {
            Value::Opt(Some(v)) => Some(v),
            Value::Opt(None) | Value::Null | Value::Reserved => None,
            v => Some(v),
        }
    }

    pub fn as_nat(&self) -> R<u128> {
        match self {
            Value::Nat(n) => Ok(*n),
            _ => Err(CandidError("expected nat")),
        }
    }
    pub fn as_u64(&self) -> R<u64> {
        u64::try_from(self.as_nat()?).map_err(|_| CandidError("nat out of range"))
    }
    pub fn as_bool(&self) -> R<bool> {
        match self {
            Value::Bool(b) => Ok(*b),
            _ => Err(CandidError("expected bool")),
        }
    }
    pub fn as_principal(&self) -> R<Principal> {
        match self {
            Value::Principal(p) => Ok(*p),
            _ => Err(CandidError("expected principal")),
        }
    }
    pub fn as_blob(&self) -> R<&[u8]> {
        match self {
            Value::Blob(b) => Ok(b),
            _ => Err(CandidError("expected blob")),
        }
    }
    pub fn as_text(&self) -> R<&str> {
        match self {
            Value::Text(t) => Ok(t),
            _ => Err(CandidError("expected text")),
        }
    }
    pub fn as_vec(&self) -> R<&[Value]> {
        match self {
            Value::Vec(v) => Ok(v),
            // An empty `vec nat8` decodes as a blob; as a vector of anything it is empty.
            Value::Blob(b) if b.is_empty() => Ok(&[]),
            _ => Err(CandidError("expected vec")),
        }
    }
    /// `(field id, payload)` of a variant.
    pub fn as_variant(&self) -> R<(u32, &Value)> {
        match self {
            Value::Variant(id, v) => Ok((*id, v)),
            _ => Err(CandidError("expected variant")),
        }
    }
    /// A required field.
    pub fn req(&self, name: &'static str) -> R<&Value> {
        self.get(name).ok_or(CandidError(name))
    }
}

// ---------------------------------------------------------------- decoding

/// A type-table entry or primitive, as read from the wire.
#[derive(Clone, Debug)]
enum WireType {
    Prim(i64),
    Opt(i64),
    Vec(i64),
    Record(Vec<(u32, i64)>),
    Variant(Vec<(u32, i64)>),
}

struct Decoder<'a> {
    buf: &'a [u8],
    table: Vec<WireType>,
}

impl<'a> Decoder<'a> {
    fn byte(&mut self) -> R<u8> {
        let (&b, rest) = self.buf.split_first().ok_or(CandidError("truncated"))?;
        self.buf = rest;
        Ok(b)
    }
    fn take(&mut self, n: usize) -> R<&'a [u8]> {
        if self.buf.len() < n {
            return Err(CandidError("truncated"));
        }
        let (h, t) = self.buf.split_at(n);
        self.buf = t;
        Ok(h)
    }
    fn uleb(&mut self) -> R<u128> {
        let mut v: u128 = 0;
        for shift in (0..128).step_by(7) {
            let b = self.byte()?;
            v |= u128::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(CandidError("leb128 too long"))
    }
    fn sleb(&mut self) -> R<i128> {
        let mut v: i128 = 0;
        let mut shift = 0;
        loop {
            let b = self.byte()?;
            v |= i128::from(b & 0x7f) << shift;
            shift += 7;
            if b & 0x80 == 0 {
                if shift < 128 && b & 0x40 != 0 {
                    v |= -1i128 << shift;
                }
                return Ok(v);
            }
            if shift >= 126 {
                return Err(CandidError("sleb128 too long"));
            }
        }
    }
    fn len(&mut self) -> R<usize> {
        let n = usize::try_from(self.uleb()?).map_err(|_| CandidError("length"))?;
        // Every element takes at least one byte except nulls; bounding by the input
        // stops a forged length from allocating without bound.
        if n > self.buf.len() {
            return Err(CandidError("length exceeds input"));
        }
        Ok(n)
    }
    fn type_ref(&mut self) -> R<i64> {
        let t = i64::try_from(self.sleb()?).map_err(|_| CandidError("type"))?;
        if t >= 0 && t as usize >= self.table.len() {
            return Err(CandidError("type index out of range"));
        }
        Ok(t)
    }
    fn fields(&mut self) -> R<Vec<(u32, i64)>> {
        let n = self.len()?;
        let mut v = Vec::with_capacity(n);
        let mut last: Option<u32> = None;
        for _ in 0..n {
            let id = u32::try_from(self.uleb()?).map_err(|_| CandidError("field id"))?;
            if last.is_some_and(|l| id <= l) {
                return Err(CandidError("field ids not increasing"));
            }
            last = Some(id);
            v.push((id, self.sleb_i64()?));
        }
        Ok(v)
    }
    fn sleb_i64(&mut self) -> R<i64> {
        i64::try_from(self.sleb()?).map_err(|_| CandidError("type"))
    }

    fn resolve(&self, t: i64) -> R<WireType> {
        if t < 0 {
            return Ok(WireType::Prim(t));
        }
        self.table.get(t as usize).cloned().ok_or(CandidError("type index out of range"))
    }

    fn value(&mut self, t: i64, depth: usize) -> R<Value> {
        if depth > MAX_DEPTH {
            return Err(CandidError("nesting too deep"));
        }
        Ok(match self.resolve(t)? {
            WireType::Prim(p) => self.prim(p)?,
            WireType::Opt(inner) => match self.byte()? {
                0 => Value::Opt(None),
                1 => Value::Opt(Some(Box::new(self.value(inner, depth + 1)?))),
                _ => return Err(CandidError("opt tag")),
            },
            WireType::Vec(inner) => {
                let n = self.len()?;
                if inner == -5 {
                    Value::Blob(self.take(n)?.to_vec())
                } else {
                    let mut v = Vec::with_capacity(n);
                    for _ in 0..n {
                        v.push(self.value(inner, depth + 1)?);
                    }
                    Value::Vec(v)
                }
            }
            WireType::Record(fields) => {
                let mut v = Vec::with_capacity(fields.len());
                for (id, ft) in fields {
                    v.push((id, self.value(ft, depth + 1)?));
                }
                Value::Record(v)
            }
            WireType::Variant(fields) => {
                let i = usize::try_from(self.uleb()?).map_err(|_| CandidError("variant index"))?;
                let (id, ft) = *fields.get(i).ok_or(CandidError("variant index"))?;
                Value::Variant(id, Box::new(self.value(ft, depth + 1)?))
            }
        })
    }

    fn fixed<const N: usize>(&mut self) -> R<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn prim(&mut self, p: i64) -> R<Value> {
        Ok(match p {
            -1 => Value::Null,
            -2 => match self.byte()? {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                _ => return Err(CandidError("bool")),
            },
            -3 => Value::Nat(self.uleb()?),
            -4 => Value::Int(self.sleb()?),
            -5 => Value::Nat(u128::from(self.byte()?)),
            -6 => Value::Nat(u128::from(u16::from_le_bytes(self.fixed()?))),
            -7 => Value::Nat(u128::from(u32::from_le_bytes(self.fixed()?))),
            -8 => Value::Nat(u128::from(u64::from_le_bytes(self.fixed()?))),
            -9 => Value::Int(i128::from(self.byte()? as i8)),
            -10 => Value::Int(i128::from(i16::from_le_bytes(self.fixed()?))),
            -11 => Value::Int(i128::from(i32::from_le_bytes(self.fixed()?))),
            -12 => Value::Int(i128::from(i64::from_le_bytes(self.fixed()?))),
            // Floats are skipped as reserved: no management field is a float.
            -13 => {
                self.take(4)?;
                Value::Reserved
            }
            -14 => {
                self.take(8)?;
                Value::Reserved
            }
            -15 => {
                let n = self.len()?;
                let s = core::str::from_utf8(self.take(n)?).map_err(|_| CandidError("utf-8"))?;
                Value::Text(String::from(s))
            }
            -16 => Value::Reserved,
            -24 => {
                if self.byte()? != 1 {
                    return Err(CandidError("opaque principal"));
                }
                let n = self.len()?;
                Value::Principal(Principal::from_slice(self.take(n)?).map_err(|_| CandidError("principal too long"))?)
            }
            _ => return Err(CandidError("unsupported type")),
        })
    }
}

/// Decodes a Candid message into its argument values.
pub fn decode(bytes: &[u8]) -> R<Vec<Value>> {
    let rest = bytes.strip_prefix(b"DIDL").ok_or(CandidError("missing DIDL magic"))?;
    let mut d = Decoder { buf: rest, table: Vec::new() };
    let n = d.len()?;
    let mut raw = Vec::with_capacity(n);
    for _ in 0..n {
        let op = d.sleb_i64()?;
        let t = match op {
            -18 => WireType::Opt(d.sleb_i64()?),
            -19 => WireType::Vec(d.sleb_i64()?),
            -20 => WireType::Record(d.fields()?),
            -21 => WireType::Variant(d.fields()?),
            _ => return Err(CandidError("unsupported type constructor")),
        };
        raw.push(t);
    }
    d.table = raw;
    // Validate references now that the whole table is known.
    for t in &d.table {
        let refs: Vec<i64> = match t {
            WireType::Opt(i) | WireType::Vec(i) => alloc::vec![*i],
            WireType::Record(f) | WireType::Variant(f) => f.iter().map(|(_, t)| *t).collect(),
            WireType::Prim(_) => Vec::new(),
        };
        if refs.iter().any(|&r| r >= d.table.len() as i64 || r < -24) {
            return Err(CandidError("type reference out of range"));
        }
    }
    let argc = d.len()?;
    let mut types = Vec::with_capacity(argc);
    for _ in 0..argc {
        types.push(d.type_ref()?);
    }
    let mut out = Vec::with_capacity(argc);
    for t in types {
        out.push(d.value(t, 0)?);
    }
    if !d.buf.is_empty() {
        return Err(CandidError("trailing bytes"));
    }
    Ok(out)
}

/// Decodes a message whose first argument is a record (absent arguments read as an
/// empty record, as Candid's subtyping allows for records of optional fields).
pub fn decode_record(bytes: &[u8]) -> R<Value> {
    let mut args = decode(bytes)?;
    if args.is_empty() {
        return Ok(Value::Record(Vec::new()));
    }
    let v = args.swap_remove(0);
    match v {
        Value::Record(_) => Ok(v),
        _ => Err(CandidError("expected a record argument")),
    }
}

// ---------------------------------------------------------------- encoding

fn put_uleb(out: &mut Vec<u8>, mut v: u128) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn put_sleb(out: &mut Vec<u8>, mut v: i128) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        let done = (v == 0 && b & 0x40 == 0) || (v == -1 && b & 0x40 != 0);
        out.push(if done { b } else { b | 0x80 });
        if done {
            return;
        }
    }
}

struct Encoder {
    table: Vec<Vec<u8>>,
}

impl Encoder {
    /// The wire reference of `t`, adding table entries for composite types.
    fn type_ref(&mut self, t: &Type) -> i128 {
        let mut entry = Vec::new();
        match t {
            Type::Null => return -1,
            Type::Bool => return -2,
            Type::Nat => return -3,
            Type::Int => return -4,
            Type::Nat8 => return -5,
            Type::Nat64 => return -8,
            Type::Text => return -15,
            Type::Reserved => return -16,
            Type::Principal => return -24,
            Type::Opt(i) | Type::Vec(i) => {
                let r = self.type_ref(i);
                put_sleb(&mut entry, if matches!(t, Type::Opt(_)) { -18 } else { -19 });
                put_sleb(&mut entry, r);
            }
            Type::Record(f) | Type::Variant(f) => {
                let mut f = f.clone();
                f.sort_by_key(|(id, _)| *id);
                let refs: Vec<(u32, i128)> = f.iter().map(|(id, ft)| (*id, self.type_ref(ft))).collect();
                put_sleb(&mut entry, if matches!(t, Type::Record(_)) { -20 } else { -21 });
                put_uleb(&mut entry, refs.len() as u128);
                for (id, r) in refs {
                    put_uleb(&mut entry, u128::from(id));
                    put_sleb(&mut entry, r);
                }
            }
        }
        self.table.push(entry);
        (self.table.len() - 1) as i128
    }
}

fn put_value(out: &mut Vec<u8>, t: &Type, v: &Value) -> R<()> {
    match (t, v) {
        (Type::Null, Value::Null) | (Type::Reserved, _) => {}
        (Type::Bool, Value::Bool(b)) => out.push(u8::from(*b)),
        (Type::Nat, Value::Nat(n)) => put_uleb(out, *n),
        (Type::Nat8, Value::Nat(n)) => out.push(u8::try_from(*n).map_err(|_| CandidError("nat8"))?),
        (Type::Nat64, Value::Nat(n)) => {
            out.extend_from_slice(&u64::try_from(*n).map_err(|_| CandidError("nat64"))?.to_le_bytes())
        }
        (Type::Int, Value::Int(i)) => put_sleb(out, *i),
        (Type::Text, Value::Text(s)) => {
            put_uleb(out, s.len() as u128);
            out.extend_from_slice(s.as_bytes());
        }
        (Type::Principal, Value::Principal(p)) => {
            out.push(1);
            put_uleb(out, p.as_slice().len() as u128);
            out.extend_from_slice(p.as_slice());
        }
        (Type::Opt(_), Value::Opt(None)) => out.push(0),
        (Type::Opt(i), Value::Opt(Some(x))) => {
            out.push(1);
            put_value(out, i, x)?;
        }
        (Type::Vec(i), Value::Blob(b)) if **i == Type::Nat8 => {
            put_uleb(out, b.len() as u128);
            out.extend_from_slice(b);
        }
        (Type::Vec(i), Value::Vec(items)) => {
            put_uleb(out, items.len() as u128);
            for x in items {
                put_value(out, i, x)?;
            }
        }
        (Type::Record(ft), Value::Record(fv)) => {
            let mut ft = ft.clone();
            ft.sort_by_key(|(id, _)| *id);
            for (id, t) in &ft {
                let x = fv.iter().find(|(vid, _)| vid == id).map(|(_, x)| x).ok_or(CandidError("missing field"))?;
                put_value(out, t, x)?;
            }
        }
        (Type::Variant(ft), Value::Variant(id, x)) => {
            let mut ft = ft.clone();
            ft.sort_by_key(|(id, _)| *id);
            let i = ft.iter().position(|(fid, _)| fid == id).ok_or(CandidError("unknown variant"))?;
            put_uleb(out, i as u128);
            put_value(out, &ft[i].1, x)?;
        }
        _ => return Err(CandidError("value does not match type")),
    }
    Ok(())
}

/// Encodes values of the given types as one Candid message. A mismatch between a value
/// and its type is a bug in the caller, reported rather than encoded wrongly.
pub fn encode(args: &[(Type, Value)]) -> R<Vec<u8>> {
    let mut enc = Encoder { table: Vec::new() };
    let refs: Vec<i128> = args.iter().map(|(t, _)| enc.type_ref(t)).collect();
    let mut out = Vec::from(&b"DIDL"[..]);
    put_uleb(&mut out, enc.table.len() as u128);
    for e in &enc.table {
        out.extend_from_slice(e);
    }
    put_uleb(&mut out, refs.len() as u128);
    for r in refs {
        put_sleb(&mut out, r);
    }
    for (t, v) in args {
        put_value(&mut out, t, v)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_hash_matches_candid() {
        // Known ids from the Candid spec / ic.did tooling.
        assert_eq!(field("canister_id"), 1_313_628_723); // as seen in decoded ic.did records
        assert_eq!(field("a"), 97);
    }

    #[test]
    fn empty_args_and_unit() {
        assert_eq!(decode(b"DIDL\x00\x00").unwrap(), Vec::new());
        assert_eq!(encode(&[]).unwrap(), b"DIDL\x00\x00");
    }

    #[test]
    fn roundtrip_nested_record() {
        let t = Type::record(&[
            ("canister_id", Type::Principal),
            ("amount", Type::opt(Type::Nat)),
            ("mode", Type::variant(&[("install", Type::Null), ("reinstall", Type::Null)])),
            ("wasm_module", Type::blob()),
            ("ids", Type::vec(Type::Nat64)),
            ("n", Type::Int),
        ]);
        let p = Principal::from_slice(&[1, 2, 3]).unwrap();
        let v = Value::record(&[
            ("canister_id", Value::Principal(p)),
            ("amount", Value::some(Value::Nat(1u128 << 100))),
            ("mode", Value::variant("reinstall", Value::Null)),
            ("wasm_module", Value::Blob(alloc::vec![0, 97, 115, 109])),
            ("ids", Value::Vec(alloc::vec![Value::Nat(7), Value::Nat(u128::from(u64::MAX))])),
            ("n", Value::Int(-123_456)),
        ]);
        let bytes = encode(&[(t, v.clone())]).unwrap();
        let back = decode_record(&bytes).unwrap();
        assert_eq!(back, v);
        assert_eq!(back.opt_field("amount").unwrap().as_nat().unwrap(), 1u128 << 100);
        assert_eq!(back.opt_field("settings"), None);
        assert_eq!(back.req("mode").unwrap().as_variant().unwrap().0, field("reinstall"));
    }

    #[test]
    fn decodes_candid_crate_output() {
        // `Encode!(&record { canister_id = principal "aaaaa-aa" })` hand-assembled:
        // type table: 1 entry, record with one field (id 2631180839) of type principal.
        let mut b = b"DIDL\x01\x6c\x01".to_vec();
        put_uleb(&mut b, u128::from(field("canister_id")));
        b.extend_from_slice(&[0x68, 0x01, 0x00, 0x01, 0x00]);
        let v = decode_record(&b).unwrap();
        assert!(v.req("canister_id").unwrap().as_principal().unwrap().is_management_canister());
    }

    #[test]
    fn rejects_garbage() {
        assert!(decode(b"DIDX").is_err());
        assert!(decode(b"DIDL\x01\x6c\xff\xff\xff\xff\x0f").is_err());
        assert!(decode(b"DIDL\x00\x01\x71\x05ab").is_err());
        assert!(decode(b"DIDL\x00\x01\x7d\x01\x00").is_err()); // trailing byte
    }
}
