//! The hypervisor's canonical byte encoding (little-endian fixed-width integers,
//! u32-length-prefixed byte strings). One encoding serves the checkpoint metadata, the
//! block log and the state hash, so "equal state" and "equal bytes" are the same thing.

use alloc::vec::Vec;

/// The input ended early or held a value outside its type's domain.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct DecodeError;

#[derive(Default, Debug)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    pub fn new() -> Writer {
        Writer::default()
    }
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }
    pub fn bool(&mut self, v: bool) -> &mut Self {
        self.u8(u8::from(v))
    }
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn u128(&mut self, v: u128) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn raw(&mut self, v: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(v);
        self
    }
    /// Length-prefixed bytes. Lengths beyond u32 cannot occur: every message and module
    /// is bounded far below 4 GiB by the limits of ic-reference §9.
    pub fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.u32(v.len() as u32);
        self.raw(v)
    }
    pub fn len(&self) -> usize {
        self.buf.len()
    }
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}

#[derive(Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf }
    }
    pub fn raw(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.buf.len() < n {
            return Err(DecodeError);
        }
        let (h, t) = self.buf.split_at(n);
        self.buf = t;
        Ok(h)
    }
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.raw(N)?);
        Ok(a)
    }
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }
    pub fn bool(&mut self) -> Result<bool, DecodeError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DecodeError),
        }
    }
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    pub fn u128(&mut self) -> Result<u128, DecodeError> {
        Ok(u128::from_le_bytes(self.array()?))
    }
    pub fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let n = self.u32()? as usize;
        self.raw(n)
    }
    /// A count of items that each take at least one byte: bounding it by the remaining
    /// input stops a corrupted length from driving a huge allocation.
    pub fn count(&mut self) -> Result<usize, DecodeError> {
        let n = self.u32()? as usize;
        if n > self.buf.len() {
            return Err(DecodeError);
        }
        Ok(n)
    }
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
    /// Fails unless every byte was consumed (trailing garbage means a format mismatch).
    pub fn end(&self) -> Result<(), DecodeError> {
        if self.buf.is_empty() { Ok(()) } else { Err(DecodeError) }
    }
}

/// SHA-256, the one hash of the hypervisor (checksums, state hash, module hash).
pub fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = keel_crypto::hash::Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_truncation() {
        let mut w = Writer::new();
        w.u8(1).u32(2).u64(3).u128(4).bytes(b"abc").bool(true);
        let v = w.finish();
        let mut r = Reader::new(&v);
        assert_eq!(r.u8(), Ok(1));
        assert_eq!(r.u32(), Ok(2));
        assert_eq!(r.u64(), Ok(3));
        assert_eq!(r.u128(), Ok(4));
        assert_eq!(r.bytes(), Ok(&b"abc"[..]));
        assert_eq!(r.bool(), Ok(true));
        assert!(r.end().is_ok());
        let mut r = Reader::new(&v[..v.len() - 2]);
        r.raw(v.len() - 3).unwrap();
        assert_eq!(r.u32(), Err(DecodeError));
    }

    #[test]
    fn sha256_known_vector() {
        let h = sha256(&[b"ab", b"c"]);
        assert_eq!(h[..4], [0xba, 0x78, 0x16, 0xbf]);
    }
}
