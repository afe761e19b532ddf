//! TPM 2.0: the Command Response Buffer (CRB) interface ([`crb`]) and the few commands a node
//! needs to attest its boot ([`commands`]): read a PCR, create an attestation key, quote.
//!
//! [`Tpm::quote_pcr`] is the whole attestation flow: it creates a restricted ECC P-256
//! signing key under the endorsement hierarchy (a primary key, so the same TPM derives the
//! same key on every boot without storing anything), reads the PCR, quotes it with the
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

    /// Quotes `pcr` (SHA-256 bank) with `qualifying_data`, signed by the TPM's ECC P-256
    /// endorsement-hierarchy attestation key.
    pub fn quote_pcr(&mut self, pcr: u32, qualifying_data: &[u8; 32]) -> Result<TpmQuote, TpmError> {
        let response = self.run(&commands::create_primary_attestation_key())?;
        let key = commands::parse_create_primary(&response).map_err(TpmError::Command)?;
        let result = self.quote_with(key.handle, pcr, qualifying_data).map(|(pcr_value, quoted, signature)| TpmQuote {
            ak_public: key.public,
            pcr_value,
            quoted,
            signature,
        });
        // Transient objects fill the TPM's few slots: free the key whatever happened.
        let flushed = self.run(&commands::flush_context(key.handle)).and_then(|r| commands::check(&r).map_err(TpmError::Command));
        let quote = result?;
        flushed?;
        Ok(quote)
    }

    fn quote_with(&mut self, key: u32, pcr: u32, qualifying_data: &[u8; 32]) -> Result<([u8; 32], Vec<u8>, [u8; 64]), TpmError> {
        let pcr_value = self.read_pcr(pcr)?;
        let response = self.run(&commands::quote(key, qualifying_data, pcr))?;
        let (quoted, signature) = commands::parse_quote(&response).map_err(TpmError::Command)?;
        Ok((pcr_value, quoted, signature))
    }
}
