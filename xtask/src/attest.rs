//! `cargo xtask attest verify --report FILE --manifest FILE`: checks a node's attestation
//! report against a blessed image's manifest with the same `no_std` verifier the registry
//! canister uses. The report may be the raw bytes (as served by the node), its hex, or the
//! `keel: attestation …` console line.

use keel_abi::console::Event;
use keel_image::attestation::{Policy, verify};
use keel_image::{Manifest, hex};
use std::path::PathBuf;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Verify a report against a manifest; fails unless it passes.
    Verify {
        #[arg(long)]
        report: PathBuf,
        #[arg(long)]
        manifest: PathBuf,
        /// Accept a report without a TPM quote (machines without a TPM; not for production).
        #[arg(long)]
        allow_no_tpm: bool,
    },
}

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

/// Report bytes from any of the accepted file forms.
pub fn report_bytes(file: &[u8]) -> Result<Vec<u8>, String> {
    if file.starts_with(keel_image::attestation::report::MAGIC) {
        return Ok(file.to_vec());
    }
    let text = std::str::from_utf8(file).map_err(|_| "report file is neither a report nor text".to_string())?;
    let hex_text = text
        .lines()
        .find_map(|line| match Event::parse(line) {
            Some(Event::Attestation { report_hex }) => Some(report_hex),
            _ => None,
        })
        .unwrap_or(text);
    hex::decode(hex_text).map_err(|e| format!("report file: {e}"))
}

pub fn run(args: Args) -> Result<(), String> {
    let Command::Verify { report, manifest, allow_no_tpm } = args.command;
    let bytes = report_bytes(&std::fs::read(&report).map_err(|e| format!("cannot read {}: {e}", report.display()))?)?;
    let text = std::fs::read_to_string(&manifest).map_err(|e| format!("cannot read {}: {e}", manifest.display()))?;
    let manifest = Manifest::from_json(&text)?;
    let verified = verify(&bytes, &manifest, Policy { require_tpm: !allow_no_tpm }).map_err(|e| format!("REJECTED: {e}"))?;
    println!("VERIFIED: the node booted the manifest's kernel and configuration");
    println!("  node public key (Ed25519)  {}", hex::encode(&verified.node_public_key));
    match verified.ak_public {
        Some(ak) => println!(
            "  TPM attestation key (P-256) {}\n  PCRs {:?} quoted at the manifest's values",
            hex::encode(&ak),
            keel_image::pcr::QUOTED_PCRS
        ),
        None => println!("  no TPM quote (allowed by --allow-no-tpm)"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::report_bytes;

    #[test]
    fn reads_raw_hex_and_console_line_forms() {
        let raw = b"KEELATST\x01\x00rest".to_vec();
        assert_eq!(report_bytes(&raw), Ok(raw.clone()));
        let hex = keel_image::hex::encode(&raw);
        assert_eq!(report_bytes(format!("{hex}\n").as_bytes()), Ok(raw.clone()));
        let log = format!("keel: phase clock at 7599 us\nkeel: attestation {hex}\r\nkeel: ready in 1 us\n");
        assert_eq!(report_bytes(log.as_bytes()), Ok(raw));
        assert!(report_bytes(b"not hex").is_err());
    }
}
