//! The compact binary encoding of every message: big-endian integers, length-prefixed byte
//! strings and lists with explicit upper bounds. Decoding reads hostile bytes, so it never
//! panics, never allocates more than the bounds allow, and rejects trailing bytes.

use alloc::vec::Vec;

use crate::types::{BlockHash, Digest, Height, MessageId, NodeIndex, Rank, StateHash, Time};

/// Why bytes did not decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The input ended inside a value.
    UnexpectedEnd,
    /// A tag byte names no known variant.
    UnknownTag(u8),
    /// A length or count is over its bound.
    TooLong,
    /// Bytes remain after the value.
    TrailingBytes,
    /// A value is out of its domain (e.g. a boolean that is not 0 or 1).
    Invalid,
}

/// Appends encoded values to a buffer.
#[derive(Default)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// An empty writer.
    pub fn new() -> Self {
        Writer { buf: Vec::new() }
    }

    /// The encoded bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// One byte.
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    /// A big-endian `u32`.
    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// A big-endian `u64`.
    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// Raw bytes of a length both sides know.
    pub fn fixed(&mut self, v: &[u8]) {
        self.buf.extend_from_slice(v);
    }

    /// A `u32` length, then the bytes.
    pub fn bytes(&mut self, v: &[u8]) {
        self.len(v.len());
        self.fixed(v);
    }

    /// A list length. Lengths over `u32::MAX` cannot be produced by the protocol (every list
    /// is bounded far below), so saturating keeps the writer total.
    pub fn len(&mut self, n: usize) {
        self.u32(u32::try_from(n).unwrap_or(u32::MAX));
    }

    /// Encodes each item after its count.
    pub fn list<T: Encode>(&mut self, items: &[T]) {
        self.len(items.len());
        for i in items {
            i.encode_to(self);
        }
    }
}

/// Reads encoded values from a byte slice.
pub struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Reader { data }
    }

    /// Takes `n` raw bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.data.len() < n {
            return Err(DecodeError::UnexpectedEnd);
        }
        let (head, tail) = self.data.split_at(n);
        self.data = tail;
        Ok(head)
    }

    /// One byte.
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }

    /// A big-endian `u32`.
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// A big-endian `u64`.
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// A fixed-size array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// A boolean byte.
    pub fn bool(&mut self) -> Result<bool, DecodeError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DecodeError::Invalid),
        }
    }

    /// A length at most `max`.
    pub fn len(&mut self, max: usize) -> Result<usize, DecodeError> {
        let n = self.u32()? as usize;
        if n > max {
            Err(DecodeError::TooLong)
        } else {
            Ok(n)
        }
    }

    /// A length-prefixed byte string of at most `max` bytes.
    pub fn bytes(&mut self, max: usize) -> Result<Vec<u8>, DecodeError> {
        let n = self.len(max)?;
        Ok(self.take(n)?.to_vec())
    }

    /// A list of at most `max` items. The count is also checked against the bytes left (every
    /// item takes at least one byte), so a hostile count cannot make us pre-allocate.
    pub fn list<T: Decode>(&mut self, max: usize) -> Result<Vec<T>, DecodeError> {
        let n = self.len(max)?;
        if n > self.data.len() {
            return Err(DecodeError::UnexpectedEnd);
        }
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            v.push(T::decode_from(self)?);
        }
        Ok(v)
    }

    /// Fails unless all input was consumed.
    pub fn finish(&self) -> Result<(), DecodeError> {
        if self.data.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes)
        }
    }
}

/// A value with a canonical encoding.
pub trait Encode {
    /// Appends the encoding.
    fn encode_to(&self, w: &mut Writer);

    /// The encoding as a fresh buffer.
    fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        self.encode_to(&mut w);
        w.into_bytes()
    }
}

/// A value that decodes from hostile bytes.
pub trait Decode: Sized {
    /// Reads one value.
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError>;

    /// Decodes exactly `bytes`.
    fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let v = Self::decode_from(&mut r)?;
        r.finish()?;
        Ok(v)
    }
}

/// Encoding for newtypes over fixed byte arrays.
macro_rules! array_codec {
    ($($t:ty),*) => {$(
        impl Encode for $t {
            fn encode_to(&self, w: &mut Writer) {
                w.fixed(&self.0);
            }
        }
        impl Decode for $t {
            fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                Ok(Self(r.array()?))
            }
        }
    )*};
}
pub(crate) use array_codec;

array_codec!(BlockHash, StateHash, MessageId, Digest);

impl Encode for Height {
    fn encode_to(&self, w: &mut Writer) {
        w.u64(self.get());
    }
}
impl Decode for Height {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Height::new(r.u64()?))
    }
}
impl Encode for Time {
    fn encode_to(&self, w: &mut Writer) {
        w.u64(self.as_nanos());
    }
}
impl Decode for Time {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Time::from_nanos(r.u64()?))
    }
}
impl Encode for NodeIndex {
    fn encode_to(&self, w: &mut Writer) {
        w.u32(self.get());
    }
}
impl Decode for NodeIndex {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(NodeIndex::new(r.u32()?))
    }
}
impl Encode for Rank {
    fn encode_to(&self, w: &mut Writer) {
        w.u32(self.get());
    }
}
impl Decode for Rank {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Rank::new(r.u32()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_lengths_are_rejected_without_allocating() {
        let mut w = Writer::new();
        w.u32(u32::MAX);
        let bytes = w.into_bytes();
        assert_eq!(Reader::new(&bytes).bytes(1000), Err(DecodeError::TooLong));
        assert_eq!(
            Reader::new(&bytes).list::<Height>(usize::MAX),
            Err(DecodeError::UnexpectedEnd)
        );
    }

    #[test]
    fn trailing_bytes_are_rejected() {
        assert_eq!(Height::from_bytes(&[0; 9]), Err(DecodeError::TrailingBytes));
        assert_eq!(Height::from_bytes(&[0; 7]), Err(DecodeError::UnexpectedEnd));
        assert_eq!(
            Height::from_bytes(&[0, 0, 0, 0, 0, 0, 0, 7]),
            Ok(Height::new(7))
        );
    }
}
