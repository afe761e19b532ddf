//! Host tests with real keys of a 4-member genesis dealing: the shared pipes and helpers.

mod frames;
mod handshake;

use alloc::vec;
use alloc::vec::Vec;

use keel_consensus::ic_crypto::IcCrypto;
use keel_consensus::{GenesisDealing, NodeIndex};

use super::frame::{HEADER_LEN, TAG_LEN};
use super::*;

const TAG: [u8; 32] = [0x5a; 32];

fn dealing() -> GenesisDealing {
    GenesisDealing::deal::<IcCrypto>([9; 32], 4, 3).unwrap()
}

fn config(d: &GenesisDealing, i: usize) -> ChannelConfig {
    ChannelConfig::from_keys(&d.public, &d.secrets[i], TAG).unwrap()
}

fn idx(i: u32) -> NodeIndex {
    NodeIndex::new(i)
}

/// Member `i` dialling `j`, and `j` accepting; deterministic entropy.
fn pair(d: &GenesisDealing, i: u32, j: u32) -> (Channel, Channel) {
    let a = Channel::new(
        &config(d, i as usize),
        Role::Initiator { peer: idx(j) },
        [i as u8 + 1; 32],
    )
    .unwrap();
    let b = Channel::new(&config(d, j as usize), Role::Responder, [j as u8 + 101; 32]).unwrap();
    (a, b)
}

/// Takes everything `ch` has queued for the socket.
fn take(ch: &mut Channel) -> Vec<u8> {
    let out = ch.outgoing().to_vec();
    ch.consume_outgoing(out.len());
    out
}

/// Moves what `from` has queued into `to`, `chunk` bytes per socket write.
fn pipe(from: &mut Channel, to: &mut Channel, chunk: usize) -> Result<(), ChannelError> {
    while !from.outgoing().is_empty() {
        let n = from.outgoing().len().min(chunk);
        let piece = from.outgoing()[..n].to_vec();
        from.consume_outgoing(n);
        assert_eq!(to.receive(&piece)?, n);
    }
    Ok(())
}

/// Runs both directions until neither end has anything to send.
fn connect(a: &mut Channel, b: &mut Channel) -> Result<(), ChannelError> {
    while !a.outgoing().is_empty() || !b.outgoing().is_empty() {
        pipe(a, b, usize::MAX)?;
        pipe(b, a, usize::MAX)?;
    }
    Ok(())
}

fn established(d: &GenesisDealing) -> (Channel, Channel) {
    let (mut a, mut b) = pair(d, 0, 1);
    connect(&mut a, &mut b).unwrap();
    (a, b)
}

/// Feeds `bytes`, then zeros, until the receiver fails; proves it never delivers anything.
fn feed_until_error(rx: &mut Channel, bytes: &[u8]) -> ChannelError {
    let mut result = rx.receive(bytes);
    let zeros = vec![0u8; 1 << 16];
    let mut fed = 0;
    while result.is_ok() && fed <= MAX_FRAME_PAYLOAD + HEADER_LEN + TAG_LEN {
        result = rx.receive(&zeros);
        fed += zeros.len();
    }
    assert_eq!(rx.next_message(), None);
    result.unwrap_err()
}

/// A small deterministic generator for split points and sizes.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

fn message(i: usize, len: usize) -> Vec<u8> {
    (0..len).map(|k| (i * 31 + k) as u8).collect()
}
