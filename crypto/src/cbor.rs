//! Strict CBOR for the IC's wire formats: a small shortest-form writer and a reader over
//! `minicbor`'s decoder that refuses what the IC refuses (floats, indefinite lengths,
//! duplicate map keys, trailing bytes) and never trusts a declared length.

use alloc::string::String;
use alloc::vec::Vec;
use minicbor::data::Type;

/// The self-describe tag (`d9 d9 f7`): optional on input, always written on output.
pub const SELF_DESCRIBE_TAG: u64 = 55799;

/// Why CBOR input was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CborError {
    /// The input ended inside an item.
    UnexpectedEnd,
    /// Not well-formed CBOR.
    Malformed,
    /// A well-formed item of the wrong type; names what was expected.
    UnexpectedType(&'static str),
    /// Floats have no place in IC messages.
    Float,
    /// Indefinite-length strings, arrays and maps are not accepted.
    IndefiniteLength,
    /// A map repeats a key.
    DuplicateKey(String),
    /// A required map field is missing.
    MissingField(&'static str),
    /// A map field that this message does not have.
    UnknownField(String),
    /// A field has the right type but a value out of range (length, variant name, …).
    InvalidValue(&'static str),
    /// Nesting deeper than the reader allows.
    TooDeep,
    /// Bytes after the top-level item.
    TrailingBytes,
}

impl core::fmt::Display for CborError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            CborError::UnexpectedEnd => f.write_str("unexpected end of CBOR input"),
            CborError::Malformed => f.write_str("malformed CBOR"),
            CborError::UnexpectedType(t) => write!(f, "unexpected CBOR type, expected {t}"),
            CborError::Float => f.write_str("floating-point values are not allowed"),
            CborError::IndefiniteLength => f.write_str("indefinite-length items are not allowed"),
            CborError::DuplicateKey(k) => write!(f, "duplicate map key `{k}`"),
            CborError::MissingField(k) => write!(f, "missing field `{k}`"),
            CborError::UnknownField(k) => write!(f, "unknown field `{k}`"),
            CborError::InvalidValue(what) => write!(f, "invalid value: {what}"),
            CborError::TooDeep => f.write_str("CBOR nested too deeply"),
            CborError::TrailingBytes => f.write_str("trailing bytes after CBOR item"),
        }
    }
}

impl From<minicbor::decode::Error> for CborError {
    fn from(e: minicbor::decode::Error) -> Self {
        if e.is_end_of_input() {
            CborError::UnexpectedEnd
        } else if e.is_type_mismatch() {
            CborError::UnexpectedType("another type")
        } else {
            CborError::Malformed
        }
    }
}

/// A strict pull reader over one CBOR item.
pub struct Reader<'b> {
    d: minicbor::Decoder<'b>,
}

impl<'b> Reader<'b> {
    /// A reader at the start of `bytes`.
    pub fn new(bytes: &'b [u8]) -> Self {
        Self { d: minicbor::Decoder::new(bytes) }
    }

    /// The type of the next item, refusing floats and indefinite-length items outright.
    fn peek(&self) -> Result<Type, CborError> {
        let t = self.d.datatype()?;
        match t {
            Type::F16 | Type::F32 | Type::F64 => Err(CborError::Float),
            Type::BytesIndef | Type::StringIndef | Type::ArrayIndef | Type::MapIndef => {
                Err(CborError::IndefiniteLength)
            }
            _ => Ok(t),
        }
    }

    /// Consumes a leading self-describe tag if there is one.
    pub fn skip_self_describe(&mut self) -> Result<(), CborError> {
        if self.peek()? == Type::Tag {
            let p = self.d.position();
            if self.d.tag()?.as_u64() != SELF_DESCRIBE_TAG {
                self.d.set_position(p);
            }
        }
        Ok(())
    }

    /// Whether the next item is a text string.
    pub fn next_is_text(&self) -> Result<bool, CborError> {
        Ok(self.peek()? == Type::String)
    }

    /// Whether the next item is an array.
    pub fn next_is_array(&self) -> Result<bool, CborError> {
        Ok(self.peek()? == Type::Array)
    }

    /// A natural number (major type 0; bignums are not needed by any IC field here).
    pub fn nat(&mut self) -> Result<u64, CborError> {
        match self.peek()? {
            Type::U8 | Type::U16 | Type::U32 | Type::U64 => Ok(self.d.u64()?),
            _ => Err(CborError::UnexpectedType("natural number")),
        }
    }

    /// A byte string, borrowed from the input.
    pub fn bytes(&mut self) -> Result<&'b [u8], CborError> {
        match self.peek()? {
            Type::Bytes => Ok(self.d.bytes()?),
            _ => Err(CborError::UnexpectedType("byte string")),
        }
    }

    /// A text string, borrowed from the input.
    pub fn text(&mut self) -> Result<&'b str, CborError> {
        match self.peek()? {
            Type::String => Ok(self.d.str()?),
            _ => Err(CborError::UnexpectedType("text string")),
        }
    }

    /// The length of a definite-length array.
    pub fn array(&mut self) -> Result<u64, CborError> {
        match self.peek()? {
            Type::Array => self.d.array()?.ok_or(CborError::IndefiniteLength),
            _ => Err(CborError::UnexpectedType("array")),
        }
    }

    /// The number of pairs of a definite-length map.
    pub fn map(&mut self) -> Result<u64, CborError> {
        match self.peek()? {
            Type::Map => self.d.map()?.ok_or(CborError::IndefiniteLength),
            _ => Err(CborError::UnexpectedType("map")),
        }
    }

    /// Reads a map with text keys, calling `field` for each key with the reader positioned
    /// at its value. `field` must consume the value (or fail). Duplicate keys are refused.
    pub fn text_map<E: From<CborError>>(
        &mut self,
        mut field: impl FnMut(&'b str, &mut Self) -> Result<(), E>,
    ) -> Result<(), E> {
        let len = self.map()?;
        let mut seen: Vec<&'b str> = Vec::new();
        for _ in 0..len {
            let key = self.text()?;
            if seen.contains(&key) {
                return Err(CborError::DuplicateKey(String::from(key)).into());
            }
            seen.push(key);
            field(key, self)?;
        }
        Ok(())
    }

    /// Fails unless the whole input has been consumed.
    pub fn finish(&self) -> Result<(), CborError> {
        if self.d.position() == self.d.input().len() { Ok(()) } else { Err(CborError::TrailingBytes) }
    }

    /// The raw bytes between two positions (for callers that keep an encoded sub-item).
    pub fn position(&self) -> usize {
        self.d.position()
    }
}

/// A shortest-form CBOR writer into a `Vec<u8>`. Writing cannot fail.
#[derive(Default, Debug, Clone)]
pub struct Writer {
    out: Vec<u8>,
}

impl Writer {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    /// A writer that starts with the self-describe tag.
    pub fn self_describing() -> Self {
        let mut w = Self::new();
        w.tag(SELF_DESCRIBE_TAG);
        w
    }

    fn head(&mut self, major: u8, n: u64) -> &mut Self {
        let m = major << 5;
        match n {
            0..=23 => self.out.push(m | n as u8),
            24..=0xff => self.out.extend_from_slice(&[m | 24, n as u8]),
            0x100..=0xffff => {
                self.out.push(m | 25);
                self.out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            0x1_0000..=0xffff_ffff => {
                self.out.push(m | 26);
                self.out.extend_from_slice(&(n as u32).to_be_bytes());
            }
            _ => {
                self.out.push(m | 27);
                self.out.extend_from_slice(&n.to_be_bytes());
            }
        }
        self
    }

    /// An unsigned integer.
    pub fn nat(&mut self, n: u64) -> &mut Self {
        self.head(0, n)
    }
    /// A byte string.
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.head(2, b.len() as u64);
        self.out.extend_from_slice(b);
        self
    }
    /// A text string.
    pub fn text(&mut self, s: &str) -> &mut Self {
        self.head(3, s.len() as u64);
        self.out.extend_from_slice(s.as_bytes());
        self
    }
    /// An array header; the caller writes `len` items next.
    pub fn array(&mut self, len: usize) -> &mut Self {
        self.head(4, len as u64)
    }
    /// A map header; the caller writes `len` key/value pairs next.
    pub fn map(&mut self, len: usize) -> &mut Self {
        self.head(5, len as u64)
    }
    /// A tag; the caller writes the tagged item next.
    pub fn tag(&mut self, tag: u64) -> &mut Self {
        self.head(6, tag)
    }
    /// The encoded bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writer_uses_shortest_heads() {
        let mut w = Writer::self_describing();
        w.map(2).text("a").nat(23).text("b").nat(24);
        w.bytes(&[1, 2]).nat(0x1_0000).nat(u64::MAX);
        assert_eq!(
            hex::encode(w.into_bytes()),
            "d9d9f7a2616117616218184201021a000100001bffffffffffffffff"
        );
    }

    #[test]
    fn reader_is_strict() {
        // {"a": 1.5}
        let mut r = Reader::new(&[0xa1, 0x61, 0x61, 0xf9, 0x3e, 0x00]);
        let err = r.text_map::<CborError>(|_, r| r.nat().map(drop)).unwrap_err();
        assert_eq!(err, CborError::Float);
        // {"a": 1, "a": 2}
        let mut r = Reader::new(&[0xa2, 0x61, 0x61, 0x01, 0x61, 0x61, 0x02]);
        let err = r.text_map::<CborError>(|_, r| r.nat().map(drop)).unwrap_err();
        assert_eq!(err, CborError::DuplicateKey("a".into()));
        // indefinite map
        assert_eq!(Reader::new(&[0xbf, 0xff]).map(), Err(CborError::IndefiniteLength));
        // byte string claiming 2^32 bytes
        assert_eq!(Reader::new(&[0x5a, 0xff, 0xff, 0xff, 0xff, 0x00]).bytes(), Err(CborError::UnexpectedEnd));
        assert_eq!(Reader::new(&[]).nat(), Err(CborError::UnexpectedEnd));
        let mut r = Reader::new(&[0x01, 0x02]);
        r.nat().unwrap();
        assert_eq!(r.finish(), Err(CborError::TrailingBytes));
        // self-describe tag is optional; other tags are left in place
        let mut r = Reader::new(&[0xd9, 0xd9, 0xf7, 0x05]);
        r.skip_self_describe().unwrap();
        assert_eq!(r.nat(), Ok(5));
        let mut r = Reader::new(&[0x05]);
        r.skip_self_describe().unwrap();
        assert_eq!(r.nat(), Ok(5));
        let mut r = Reader::new(&[0xc2, 0x41, 0x01]);
        r.skip_self_describe().unwrap();
        assert!(r.nat().is_err());
    }
}
