//! The GUID partition table, written with the `gpt` crate.

use super::{ImageError, MIB};
use gpt::partition::Partition;
use gpt::partition_types::{self, OperatingSystem, Type};
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::path::Path;
use uuid::Uuid;

const SECTOR: u64 = 512;

/// Partition type GUID of the Keel state partition ("Keel state" is not a type anyone else
/// uses; the node finds its state by this GUID, not by position).
pub const STATE_TYPE: &str = "8d2c5a9e-4b3f-4e1a-9c6d-6b65656c0001";

fn keel_state_type() -> Type {
    Type { guid: Uuid::from_u128(0x8d2c5a9e_4b3f_4e1a_9c6d_6b65656c0001), os: OperatingSystem::Custom("Keel".into()) }
}

/// A version-4-shaped GUID derived from `seed` and a label, so images are reproducible.
fn derived_guid(seed: &[u8; 32], label: &str) -> Uuid {
    let digest = crate::pcr::sha256(&[&seed[..], label.as_bytes()].concat());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

/// Writes protective MBR, GPT, the ESP contents and a zeroed state partition; returns the
/// image size in bytes.
pub fn write(path: &Path, esp: &[u8], state_bytes: u64, seed: &[u8; 32]) -> Result<u64, ImageError> {
    let esp_start = MIB;
    let state_start = esp_start + esp.len() as u64;
    // One MiB at the end keeps the backup GPT clear of the state partition.
    let total = state_start + state_bytes + MIB;
    let mut file = OpenOptions::new().read(true).write(true).create(true).truncate(true).open(path).map_err(ImageError::Io)?;
    file.set_len(total).map_err(ImageError::Io)?;
    let sectors = u32::try_from(total / SECTOR - 1).unwrap_or(u32::MAX);
    gpt::mbr::ProtectiveMBR::with_lb_size(sectors)
        .overwrite_lba0(&mut file)
        .map_err(|e| ImageError::Gpt(e.to_string()))?;
    let mut disk = gpt::GptConfig::new()
        .writable(true)
        .logical_block_size(gpt::disk::LogicalBlockSize::Lb512)
        .create_from_device(file, Some(derived_guid(seed, "disk")))
        .map_err(|e| ImageError::Gpt(e.to_string()))?;
    let partition = |part_type_guid, label: &str, start: u64, len: u64| Partition {
        part_type_guid,
        part_guid: derived_guid(seed, label),
        first_lba: start / SECTOR,
        last_lba: (start + len) / SECTOR - 1,
        flags: 0,
        name: label.into(),
    };
    let partitions = BTreeMap::from([
        (1, partition(partition_types::EFI, "EFI system", esp_start, esp.len() as u64)),
        (2, partition(keel_state_type(), "Keel state", state_start, state_bytes)),
    ]);
    disk.update_partitions(partitions).map_err(|e| ImageError::Gpt(e.to_string()))?;
    let mut file: File = disk.write().map_err(|e| ImageError::Gpt(e.to_string()))?;
    use std::io::{Seek, SeekFrom, Write};
    file.seek(SeekFrom::Start(esp_start)).map_err(ImageError::Io)?;
    file.write_all(esp).map_err(ImageError::Io)?;
    file.sync_all().map_err(ImageError::Io)?;
    Ok(total)
}

/// (byte offset, byte length) of each partition, in table order (tests and checks).
pub fn read(path: &Path) -> Result<Vec<(u64, u64)>, ImageError> {
    let disk = gpt::GptConfig::new().writable(false).open(path).map_err(|e| ImageError::Gpt(e.to_string()))?;
    Ok(disk
        .partitions()
        .values()
        .map(|p| (p.first_lba * SECTOR, (p.last_lba + 1 - p.first_lba) * SECTOR))
        .collect())
}
