//! The consensus journal of a subnet member: the protocol's [`PersistRecord`]s, written
//! durably before anything that follows them is sent, and folded back into a
//! [`Persisted`] on restart. Without it a restarted member could sign a second block or
//! share at a height it already signed at, or lose the chain above its catch-up package.
//!
//! # On-disk format
//! The journal has two halves of [`JOURNAL_HALF_BLOCKS`]. A half is a generation: its first
//! block is a header naming the generation, then records follow, each starting on a block
//! boundary: a header block prefix (magic, generation, sequence number, length, SHA-256 of
//! the payload) and the payload. Reading stops at the first record that does not check out,
//! so a torn append is simply not part of the journal.
//!
//! A new catch-up package (or a full half) starts the next generation in the other half:
//! the folded state is written there as records, flushed, and only then is that half's
//! header written and flushed. Until that header is durable the old half is the journal.

use alloc::vec::Vec;
use keel_consensus::beacon::Beacon;
use keel_consensus::block::{Block as ConsensusBlock, SignedBlock};
use keel_consensus::codec::{Decode, DecodeError, Encode, Reader, Writer};
use keel_consensus::cup::CatchUpPackage;
use keel_consensus::{Height, PersistRecord, Persisted};
use keel_hypervisor::codec::sha256;
use keel_hypervisor::{BLOCK_SIZE, BlockDevice, DeviceError};

use crate::persistence::{JOURNAL_HALF_BLOCKS, KEY_BLOCKS};

const HALF_MAGIC: &[u8; 8] = b"KEELJRNL";
const RECORD_MAGIC: &[u8; 8] = b"KEELJREC";
/// magic, generation, sequence, length, checksum.
const RECORD_HEADER: usize = 8 + 8 + 8 + 4 + 32;

/// Why the journal could not be read or written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JournalError {
    /// The device failed.
    Device(DeviceError),
    /// One record is larger than a half.
    RecordTooLarge,
    /// The folded state does not fit a half.
    Full,
}

impl From<DeviceError> for JournalError {
    fn from(e: DeviceError) -> Self {
        JournalError::Device(e)
    }
}

/// The open journal: where the next record goes, and the folded state (the next
/// generation's first records).
#[derive(Debug)]
pub struct Journal {
    generation: u64,
    /// Next free block within the current half.
    next_block: u64,
    next_sequence: u64,
    state: Persisted,
}

impl Journal {
    /// Opens the journal on `dev` (the whole state device). A device without one starts
    /// the first generation from `genesis`.
    pub fn open<D: BlockDevice>(dev: &mut D, genesis: CatchUpPackage) -> Result<Journal, JournalError> {
        let newest = [0, 1].into_iter().filter_map(|half| read_header(dev, half).transpose()).collect::<Result<Vec<_>, _>>()?;
        match newest.into_iter().max() {
            Some(generation) => {
                let mut journal =
                    Journal { generation, next_block: 1, next_sequence: 0, state: Persisted::genesis(genesis) };
                journal.replay(dev)?;
                Ok(journal)
            }
            None => {
                let mut journal = Journal { generation: 0, next_block: 1, next_sequence: 0, state: Persisted::genesis(genesis) };
                journal.start_generation(dev)?;
                Ok(journal)
            }
        }
    }

    /// What the node restarts from.
    pub fn persisted(&self) -> &Persisted {
        &self.state
    }

    /// Appends `records` and flushes once: after this returns they survive a crash.
    pub fn append<D: BlockDevice>(&mut self, dev: &mut D, records: &[PersistRecord]) -> Result<(), JournalError> {
        if records.is_empty() {
            return Ok(());
        }
        for record in records {
            self.state.apply(record);
        }
        // A new catch-up package lets the folded state drop everything below it.
        let mut compact = records.iter().any(|r| matches!(r, PersistRecord::Cup(_)));
        for record in records.iter().take_while(|_| !compact) {
            let bytes = encode(record);
            if blocks_for(bytes.len()) > JOURNAL_HALF_BLOCKS - 1 {
                return Err(JournalError::RecordTooLarge);
            }
            if self.next_block + blocks_for(bytes.len()) > JOURNAL_HALF_BLOCKS {
                // The folded state, which includes this record, goes to the other half.
                compact = true;
                break;
            }
            self.write_record(dev, &bytes)?;
        }
        if compact {
            self.generation += 1;
            self.start_generation(dev)
        } else {
            dev.flush()?;
            Ok(())
        }
    }

    /// Writes the folded state as the first records of the next half, then its header.
    fn start_generation<D: BlockDevice>(&mut self, dev: &mut D) -> Result<(), JournalError> {
        self.next_block = 1;
        self.next_sequence = 0;
        for record in folded(&self.state) {
            let bytes = encode(&record);
            if self.next_block + blocks_for(bytes.len()) > JOURNAL_HALF_BLOCKS {
                return Err(JournalError::Full);
            }
            self.write_record(dev, &bytes)?;
        }
        dev.flush()?;
        let mut header = [0u8; BLOCK_SIZE];
        header[..8].copy_from_slice(HALF_MAGIC);
        header[8..16].copy_from_slice(&self.generation.to_be_bytes());
        let checksum = sha256(&[&header[..16]]);
        header[16..48].copy_from_slice(&checksum);
        dev.write_block(half_start(self.generation), &header)?;
        dev.flush()?;
        Ok(())
    }

    fn write_record<D: BlockDevice>(&mut self, dev: &mut D, payload: &[u8]) -> Result<(), JournalError> {
        let mut bytes = Vec::with_capacity(RECORD_HEADER + payload.len());
        bytes.extend_from_slice(RECORD_MAGIC);
        bytes.extend_from_slice(&self.generation.to_be_bytes());
        bytes.extend_from_slice(&self.next_sequence.to_be_bytes());
        bytes.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        bytes.extend_from_slice(&sha256(&[payload]));
        bytes.extend_from_slice(payload);
        let start = half_start(self.generation) + self.next_block;
        for (i, chunk) in bytes.chunks(BLOCK_SIZE).enumerate() {
            let mut block = [0u8; BLOCK_SIZE];
            block[..chunk.len()].copy_from_slice(chunk);
            dev.write_block(start + i as u64, &block)?;
        }
        self.next_block += blocks_for(payload.len());
        self.next_sequence += 1;
        Ok(())
    }

    /// Folds the current half's records into the state. A generation starts with its
    /// catch-up package, which is the base whatever its height.
    fn replay<D: BlockDevice>(&mut self, dev: &mut D) -> Result<(), JournalError> {
        while let Some((record, blocks)) = self.read_record(dev)? {
            match (&record, self.next_sequence) {
                (PersistRecord::Cup(cup), 0) => self.state = Persisted::genesis(cup.clone()),
                _ => self.state.apply(&record),
            }
            self.next_block += blocks;
            self.next_sequence += 1;
        }
        Ok(())
    }

    fn read_record<D: BlockDevice>(&self, dev: &mut D) -> Result<Option<(PersistRecord, u64)>, JournalError> {
        if self.next_block >= JOURNAL_HALF_BLOCKS {
            return Ok(None);
        }
        let start = half_start(self.generation) + self.next_block;
        let mut block = [0u8; BLOCK_SIZE];
        dev.read_block(start, &mut block)?;
        let field = |range: core::ops::Range<usize>| -> [u8; 8] { block[range].try_into().unwrap_or_default() };
        if &block[..8] != RECORD_MAGIC
            || u64::from_be_bytes(field(8..16)) != self.generation
            || u64::from_be_bytes(field(16..24)) != self.next_sequence
        {
            return Ok(None);
        }
        let len = u32::from_be_bytes([block[24], block[25], block[26], block[27]]) as usize;
        let blocks = blocks_for(len);
        if self.next_block + blocks > JOURNAL_HALF_BLOCKS {
            return Ok(None);
        }
        let checksum: [u8; 32] = block[28..60].try_into().unwrap_or_default();
        let mut bytes = block[RECORD_HEADER..].to_vec();
        for i in 1..blocks {
            dev.read_block(start + i, &mut block)?;
            bytes.extend_from_slice(&block);
        }
        bytes.truncate(len);
        if bytes.len() != len || sha256(&[&bytes]) != checksum {
            return Ok(None);
        }
        Ok(decode(&bytes).ok().map(|r| (r, blocks)))
    }
}

/// The generation whose header is valid in `half`, if any.
fn read_header<D: BlockDevice>(dev: &mut D, half: u64) -> Result<Option<u64>, JournalError> {
    let mut block = [0u8; BLOCK_SIZE];
    dev.read_block(KEY_BLOCKS + half * JOURNAL_HALF_BLOCKS, &mut block)?;
    if &block[..8] != HALF_MAGIC || sha256(&[&block[..16]]) != block[16..48] {
        return Ok(None);
    }
    let generation = u64::from_be_bytes(block[8..16].try_into().unwrap_or_default());
    Ok((generation % 2 == half).then_some(generation))
}

fn half_start(generation: u64) -> u64 {
    KEY_BLOCKS + (generation % 2) * JOURNAL_HALF_BLOCKS
}

/// Blocks a record with a `len`-byte payload occupies.
fn blocks_for(len: usize) -> u64 {
    (RECORD_HEADER + len).div_ceil(BLOCK_SIZE) as u64
}

/// The records that rebuild `state` from nothing.
fn folded(state: &Persisted) -> Vec<PersistRecord> {
    let mut records = Vec::with_capacity(2 + state.finalized.len() + state.proposals.len());
    records.push(PersistRecord::Cup(state.cup.clone()));
    records.extend(state.finalized.iter().map(|(block, beacon)| PersistRecord::Finalized { block: block.clone(), beacon: *beacon }));
    records.push(PersistRecord::ShareFence(state.share_fence));
    records.extend(state.proposals.iter().cloned().map(PersistRecord::Proposal));
    records
}

fn encode(record: &PersistRecord) -> Vec<u8> {
    let mut w = Writer::new();
    match record {
        PersistRecord::Cup(cup) => {
            w.u8(0);
            cup.encode_to(&mut w);
        }
        PersistRecord::Finalized { block, beacon } => {
            w.u8(1);
            block.encode_to(&mut w);
            beacon.encode_to(&mut w);
        }
        PersistRecord::ShareFence(height) => {
            w.u8(2);
            height.encode_to(&mut w);
        }
        PersistRecord::Proposal(block) => {
            w.u8(3);
            block.encode_to(&mut w);
        }
    }
    w.into_bytes()
}

fn decode(bytes: &[u8]) -> Result<PersistRecord, DecodeError> {
    let mut r = Reader::new(bytes);
    let record = match r.u8()? {
        0 => PersistRecord::Cup(CatchUpPackage::decode_from(&mut r)?),
        1 => PersistRecord::Finalized { block: ConsensusBlock::decode_from(&mut r)?, beacon: Beacon::decode_from(&mut r)? },
        2 => PersistRecord::ShareFence(Height::decode_from(&mut r)?),
        3 => PersistRecord::Proposal(SignedBlock::decode_from(&mut r)?),
        tag => return Err(DecodeError::UnknownTag(tag)),
    };
    r.finish()?;
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persistence::RESERVED_BLOCKS;
    use keel_consensus::block::{IngressMessage, Payload};
    use keel_consensus::crypto::{NodeSignature, ThresholdSignature};
    use keel_consensus::types::{BlockHash, Digest, Rank};
    use keel_consensus::{MessageId, NodeIndex, StateHash, Time};
    use keel_hypervisor::MemBlockDevice;

    fn block(height: u64, parent: BlockHash, bytes: usize) -> ConsensusBlock {
        let mut payload = Payload::default();
        if bytes > 0 {
            payload.ingress.push(IngressMessage { id: MessageId([height as u8; 32]), expiry: Time::from_nanos(9), content: alloc::vec![7; bytes] });
        }
        ConsensusBlock {
            height: Height::new(height),
            parent,
            rank: Rank::new(0),
            maker: NodeIndex::new(1),
            time: Time::from_nanos(height),
            randomness: Digest::default(),
            payload,
        }
    }

    fn genesis() -> CatchUpPackage {
        CatchUpPackage::genesis(block(0, BlockHash::default(), 0), StateHash([1; 32]), &[2; 96])
    }

    fn finalized(height: u64, parent: BlockHash, bytes: usize) -> PersistRecord {
        let beacon = Beacon { height: Height::new(height), signature: ThresholdSignature([height as u8; 48]) };
        PersistRecord::Finalized { block: block(height, parent, bytes), beacon }
    }

    /// A chain of `count` finalized blocks above height 0 with `bytes` of payload each.
    fn chain(count: u64, bytes: usize) -> Vec<PersistRecord> {
        let mut parent = genesis().content.block.hash();
        (1..=count)
            .map(|h| {
                let r = finalized(h, parent, bytes);
                if let PersistRecord::Finalized { block, .. } = &r {
                    parent = block.hash();
                }
                r
            })
            .collect()
    }

    fn device() -> MemBlockDevice {
        MemBlockDevice::new(RESERVED_BLOCKS + 4)
    }

    #[test]
    fn records_survive_a_restart_in_order() {
        let mut dev = device();
        let mut journal = Journal::open(&mut dev, genesis()).unwrap();
        let mut records = chain(3, 100);
        records.push(PersistRecord::ShareFence(Height::new(4)));
        let proposal = SignedBlock { block: block(4, BlockHash::default(), 0), signature: NodeSignature([3; 64]) };
        records.push(PersistRecord::Proposal(proposal.clone()));
        journal.append(&mut dev, &records[..2]).unwrap();
        journal.append(&mut dev, &records[2..]).unwrap();
        // The package offered on open is only for a device without a journal.
        let elsewhere = CatchUpPackage::genesis(block(5, BlockHash::default(), 0), StateHash([5; 32]), &[2; 96]);
        let reopened = Journal::open(&mut dev, elsewhere).unwrap();
        assert!(reopened.persisted() == journal.persisted(), "the journal lost or changed records");
        let p = reopened.persisted();
        assert_eq!(p.finalized.len(), 3);
        assert_eq!(p.share_fence, Height::new(4));
        assert_eq!(p.proposals, alloc::vec![proposal]);
    }

    #[test]
    fn a_torn_append_is_not_part_of_the_journal() {
        let mut dev = device();
        let mut journal = Journal::open(&mut dev, genesis()).unwrap();
        let records = chain(2, 6000);
        journal.append(&mut dev, &records[..1]).unwrap();
        let before = journal.persisted().clone();
        let second = half_start(journal.generation) + journal.next_block;
        journal.append(&mut dev, &records[1..]).unwrap();
        // Tear the second record: its second block never reached the disk.
        dev.write_block(second + 1, &[0; BLOCK_SIZE]).unwrap();
        let reopened = Journal::open(&mut dev, genesis()).unwrap();
        assert!(reopened.persisted() == &before, "the torn record was replayed");
    }

    #[test]
    fn a_catch_up_package_starts_a_new_generation_without_the_blocks_below_it() {
        let mut dev = device();
        let mut journal = Journal::open(&mut dev, genesis()).unwrap();
        journal.append(&mut dev, &chain(5, 10)).unwrap();
        let tip = match &chain(5, 10)[4] {
            PersistRecord::Finalized { block, .. } => block.clone(),
            _ => unreachable!(),
        };
        let cup = CatchUpPackage::genesis(block(3, BlockHash::default(), 0), StateHash([3; 32]), &[2; 96]);
        journal.append(&mut dev, &[PersistRecord::Cup(cup.clone())]).unwrap();
        let p = Journal::open(&mut dev, genesis()).unwrap().persisted().clone();
        assert_eq!(p.cup, cup);
        assert_eq!(p.finalized.iter().map(|(b, _)| b.height.get()).collect::<Vec<_>>(), [4, 5]);
        assert_eq!(p.finalized[1].0, tip);
        // The old half is intact until the new header is written: erasing the new header
        // falls back to the previous generation.
        dev.write_block(KEY_BLOCKS + JOURNAL_HALF_BLOCKS, &[0; BLOCK_SIZE]).unwrap();
        assert_eq!(Journal::open(&mut dev, genesis()).unwrap().persisted().finalized.len(), 5);
    }

    #[test]
    fn a_full_half_compacts_into_the_other() {
        let mut dev = device();
        let mut journal = Journal::open(&mut dev, genesis()).unwrap();
        // Fences only: every record is a block, the folded state stays one fence.
        for h in 1..JOURNAL_HALF_BLOCKS + 10 {
            journal.append(&mut dev, &[PersistRecord::ShareFence(Height::new(h))]).unwrap();
        }
        let p = Journal::open(&mut dev, genesis()).unwrap().persisted().clone();
        assert_eq!(p.share_fence, Height::new(JOURNAL_HALF_BLOCKS + 9));
    }
}
