//! The hypervisor's view of a finalized block: what consensus agreed on, and all the
//! input execution may depend on besides the state.

use alloc::vec::Vec;

use crate::codec::{DecodeError, Reader, Writer};
use crate::ids::{Height, Time};
use crate::message::Ingress;

/// A finalized block's payload as executed.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Block {
    pub height: Height,
    /// Block time: the only clock execution sees.
    pub time: Time,
    /// Random beacon output for this height (seeds `raw_rand`).
    pub randomness: [u8; 32],
    pub ingress: Vec<Ingress>,
}

impl Block {
    /// The encoding written to the block log.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u64(self.height.0).u64(self.time.0).raw(&self.randomness).u32(self.ingress.len() as u32);
        for i in &self.ingress {
            i.encode(&mut w);
        }
        w.finish()
    }

    pub fn decode(bytes: &[u8]) -> Result<Block, DecodeError> {
        let mut r = Reader::new(bytes);
        let height = Height(r.u64()?);
        let time = Time(r.u64()?);
        let randomness = r.array()?;
        let n = r.count()?;
        let mut ingress = Vec::with_capacity(n);
        for _ in 0..n {
            ingress.push(Ingress::decode(&mut r)?);
        }
        r.end()?;
        Ok(Block { height, time, randomness, ingress })
    }
}
