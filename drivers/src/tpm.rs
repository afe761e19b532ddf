//! TPM 2.0: the Command Response Buffer (CRB) interface ([`crb`]) and the few commands a node
//! needs to attest its boot ([`commands`]): read a PCR, create an attestation key, quote.
//!
//! [`Tpm::quote_pcrs`] is the whole attestation flow: it creates a restricted ECC P-256
//! signing key under the endorsement hierarchy (a primary key, so the same TPM derives the
//! same key on every boot without storing anything), reads the PCRs, quotes them with the
//! caller's qualifying data, and flushes the key.

pub mod commands;
pub mod crb;

use alloc::vec::Vec;
pub use commands::{CommandError, TpmQuote};
pub use crb::{CRB_BASE, Crb, CrbError};

/// Why an attestation through the TPM failed.
#[derive(Debug)]
pub enum TpmError {
    Transport(CrbError),
    Command(CommandError),
}

impl core::fmt::Display for TpmError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Transport(e) => write!(f, "TPM interface: {e}"),
            Self::Command(e) => write!(f, "TPM command: {e}"),
        }
    }
}

/// Something that runs one TPM command and returns its response (the CRB, or a test double).
pub trait Transport {
    fn execute(&mut self, command: &[u8]) -> Result<Vec<u8>, CrbError>;
}

/// A TPM behind a transport.
pub struct Tpm<T: Transport> {
    transport: T,
}

impl<T: Transport> Tpm<T> {
    pub fn new(transport: T) -> Self {
        Self { transport }
    }

    /// Runs a command, repeating it while the TPM answers that it could not start it yet
    /// (`TPM_RC_RETRY`, `TPM_RC_YIELDED`, `TPM_RC_TESTING`: e.g. while it self-tests the ECC
    /// engine on first use).
    fn run(&mut self, command: &[u8]) -> Result<Vec<u8>, TpmError> {
        const RETRIES: usize = 1000;
        let mut response = self.transport.execute(command).map_err(TpmError::Transport)?;
        for _ in 0..RETRIES {
            if !commands::is_retry(&response) {
                break;
            }
            response = self.transport.execute(command).map_err(TpmError::Transport)?;
        }
        Ok(response)
    }

    /// The SHA-256 bank value of `pcr`.
    pub fn read_pcr(&mut self, pcr: u32) -> Result<[u8; 32], TpmError> {
        let response = self.run(&commands::pcr_read(pcr))?;
        commands::parse_pcr_read(&response).map_err(TpmError::Command)
    }

    /// Quotes `pcrs` (SHA-256 bank, given in ascending order) with `qualifying_data`, signed
    /// by the TPM's ECC P-256 endorsement-hierarchy attestation key.
    pub fn quote_pcrs(&mut self, pcrs: &[u32], qualifying_data: &[u8; 32]) -> Result<TpmQuote, TpmError> {
        let response = self.run(&commands::create_primary_attestation_key())?;
        let key = commands::parse_create_primary(&response).map_err(TpmError::Command)?;
        let result = self.quote_with(key.handle, key.public, pcrs, qualifying_data);
        // Transient objects fill the TPM's few slots: free the key whatever happened.
        let flushed = self.run(&commands::flush_context(key.handle)).and_then(|r| commands::check(&r).map_err(TpmError::Command));
        let quote = result?;
        flushed?;
        Ok(quote)
    }

    fn quote_with(&mut self, key: u32, ak_public: [u8; 65], pcrs: &[u32], qualifying_data: &[u8; 32]) -> Result<TpmQuote, TpmError> {
        let pcr_values = pcrs.iter().map(|&pcr| self.read_pcr(pcr)).collect::<Result<Vec<_>, _>>()?;
        let response = self.run(&commands::quote(key, qualifying_data, pcrs))?;
        let (quoted, signature) = commands::parse_quote(&response).map_err(TpmError::Command)?;
        Ok(TpmQuote { ak_public, pcr_values, quoted, signature })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    /// Answers each command code with a canned response and records what it was sent.
    struct Script {
        sent: Vec<u32>,
        retries_left: usize,
        quote_fails: bool,
    }

    fn ok(body: &[u8]) -> Vec<u8> {
        let mut out = vec![0x80, 0x01];
        out.extend_from_slice(&((10 + body.len()) as u32).to_be_bytes());
        out.extend_from_slice(&[0, 0, 0, 0]);
        out.extend_from_slice(body);
        out
    }

    impl Transport for Script {
        fn execute(&mut self, command: &[u8]) -> Result<Vec<u8>, CrbError> {
            let code = u32::from_be_bytes([command[6], command[7], command[8], command[9]]);
            self.sent.push(code);
            let mut public = vec![0, 0x23, 0, 0x0b, 0, 5, 0, 0x72, 0, 0, 0, 0x10, 0, 0x18, 0, 0x0b, 0, 3, 0, 0x10, 0, 1, 7, 0, 1, 8];
            let mut create = vec![0x80, 0, 0, 1, 0, 0, 0, 0];
            create.extend_from_slice(&(public.len() as u16).to_be_bytes());
            create.append(&mut public);
            Ok(match code {
                0x131 if self.retries_left > 0 => {
                    self.retries_left -= 1;
                    let mut r = ok(&[]);
                    r[8..10].copy_from_slice(&[0x09, 0x22]);
                    r
                }
                0x131 => ok(&create),
                0x17e => ok(&[&[0, 0, 0, 1, 0, 0, 0, 1, 0, 0x0b, 3, 0, 2, 0, 0, 0, 0, 1, 0, 32][..], &[0xaa; 32]].concat()),
                0x158 if self.quote_fails => {
                    let mut r = ok(&[]);
                    r[9] = 0x84;
                    r
                }
                0x158 => ok(&[0, 0, 0, 0, 0, 1, 0x42, 0, 0x18, 0, 0x0b, 0, 1, 1, 0, 1, 2]),
                _ => ok(&[]),
            })
        }
    }

    #[test]
    fn quote_creates_reads_quotes_and_flushes_retrying_busy_answers() {
        let mut tpm = Tpm::new(Script { sent: Vec::new(), retries_left: 2, quote_fails: false });
        let q = tpm.quote_pcrs(&[4, 9], &[0; 32]).expect("quote");
        assert_eq!(q.pcr_values, [[0xaa; 32], [0xaa; 32]]);
        assert_eq!(q.quoted, [0x42]);
        assert_eq!((q.ak_public[32], q.ak_public[64], q.signature[31], q.signature[63]), (7, 8, 1, 2));
        assert_eq!(tpm.transport.sent, [0x131, 0x131, 0x131, 0x17e, 0x17e, 0x158, 0x165]);
    }

    #[test]
    fn a_failed_quote_still_flushes_the_key() {
        let mut tpm = Tpm::new(Script { sent: Vec::new(), retries_left: 0, quote_fails: true });
        assert!(matches!(tpm.quote_pcrs(&[9], &[0; 32]), Err(TpmError::Command(CommandError::Tpm(0x84)))));
        assert_eq!(tpm.transport.sent.last(), Some(&0x165));
    }
}
