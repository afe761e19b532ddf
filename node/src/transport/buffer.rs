//! Byte buffers of a channel: the outgoing queue the caller drains into its socket, and
//! the fill helper that reassembles fixed-size handshake messages from split input.

use alloc::vec::Vec;

/// Outgoing bytes with a read offset, so draining a large frame in socket-sized pieces
/// costs no copying; the consumed prefix is dropped once it outweighs the rest.
#[derive(Default)]
pub(super) struct OutBuf {
    bytes: Vec<u8>,
    start: usize,
}

impl OutBuf {
    /// The bytes not yet handed to the socket.
    pub(super) fn pending(&self) -> &[u8] {
        self.bytes.get(self.start..).unwrap_or_default()
    }

    /// Marks `n` bytes as written (more than pending counts as all of them).
    pub(super) fn consume(&mut self, n: usize) {
        self.start = self.start.saturating_add(n).min(self.bytes.len());
        if self.start == self.bytes.len() {
            self.bytes.clear();
            self.start = 0;
        }
    }

    /// The vector to append to, compacted first when most of it is already written.
    pub(super) fn tail(&mut self) -> &mut Vec<u8> {
        if self.start > 0 && self.start >= self.bytes.len() / 2 {
            self.bytes.drain(..self.start);
            self.start = 0;
        }
        &mut self.bytes
    }
}

/// Appends to `buf` from `bytes` until it holds `want` bytes; returns how many it took.
pub(super) fn fill(buf: &mut Vec<u8>, want: usize, bytes: &[u8]) -> usize {
    let n = want.saturating_sub(buf.len()).min(bytes.len());
    buf.extend_from_slice(&bytes[..n]);
    n
}
