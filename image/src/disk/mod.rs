//! The flashable disk image (host only): a GPT disk with an EFI system partition holding the
//! loader, the kernel and the node configuration, and an empty Keel state partition.
//!
//! ```text
//! LBA 0        protective MBR
//! LBA 1..33    primary GPT header and partition array
//! 1 MiB        ESP (FAT, type C12A7328-…)     \EFI\BOOT\BOOTX64.EFI, \KEEL\KERNEL.ELF, \KEEL\NODE.CFG
//! …            Keel state (type STATE_TYPE)   zeroed; the node formats it on first use
//! last 33 LBAs backup GPT
//! ```
//! Partition and disk GUIDs and FAT timestamps are derived from the measured files, so the
//! same inputs give the same image bytes.

mod esp;
mod gpt;

use crate::elf::{Elf, ElfError};
use crate::manifest::Manifest;
use crate::pcr::sha256;
use std::path::Path;

pub use esp::read as read_esp_file;
pub use gpt::{STATE_TYPE, read as partitions};

const MIB: u64 = 1 << 20;

/// Physical memory UEFI firmware (OVMF) occupies during boot and partly keeps (ACPI NVS)
/// afterwards: the kernel's image may not overlap it (see the loader's `load` module). The
/// kernel is linked at 32 MiB, above it, so its size is not bounded by the 1–8 MiB gap.
pub const FIRMWARE_EARLY: core::ops::Range<u64> = 8 * MIB..21 * MIB;

/// The files that go onto the ESP. `config: None` leaves the configuration out (an image
/// the kernel must refuse to run; used by tests).
#[derive(Clone, Debug)]
pub struct EspFiles {
    pub loader: Vec<u8>,
    pub kernel: Vec<u8>,
    pub config: Option<Vec<u8>>,
}

/// Partition sizes.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    /// Size of the state partition in MiB (the node may grow it to the disk later).
    pub state_mib: u64,
}

impl Default for Layout {
    fn default() -> Self {
        Self { state_mib: 32 }
    }
}

/// What [`build`] wrote.
#[derive(Clone, Debug)]
pub struct Built {
    pub manifest: Manifest,
    pub image_bytes: u64,
    pub esp_bytes: u64,
    pub state_bytes: u64,
}

#[derive(Debug)]
pub enum ImageError {
    /// The kernel is not one the loader can start.
    Kernel(ElfError),
    /// The kernel's image (with `.bss`) overlaps [`FIRMWARE_EARLY`].
    KernelOverlapsFirmware { start: u64, end: u64 },
    Io(std::io::Error),
    Gpt(String),
    Fat(std::io::Error),
}

impl std::fmt::Display for ImageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Kernel(e) => write!(f, "kernel: {e}"),
            Self::KernelOverlapsFirmware { start, end } => write!(
                f,
                "kernel image {start:#x}..{end:#x} overlaps the firmware's early memory {:#x}..{:#x}: \
                 link the kernel above it (kernel/linker.ld)",
                FIRMWARE_EARLY.start,
                FIRMWARE_EARLY.end
            ),
            Self::Io(e) => write!(f, "writing the image: {e}"),
            Self::Gpt(e) => write!(f, "partition table: {e}"),
            Self::Fat(e) => write!(f, "EFI system partition: {e}"),
        }
    }
}

impl std::error::Error for ImageError {}

/// Writes the disk image to `path` and returns its manifest and sizes.
pub fn build(path: &Path, files: &EspFiles, layout: Layout) -> Result<Built, ImageError> {
    let elf = Elf::parse(&files.kernel).map_err(ImageError::Kernel)?;
    elf.uefi_entry().map_err(ImageError::Kernel)?;
    let (start, end) = elf.phys_span();
    if start < FIRMWARE_EARLY.end && FIRMWARE_EARLY.start < end {
        return Err(ImageError::KernelOverlapsFirmware { start, end });
    }
    let config = files.config.as_deref().unwrap_or_default();
    let manifest = Manifest::of(&files.loader, &files.kernel, config);
    let payload = (files.loader.len() + files.kernel.len() + config.len()) as u64;
    // Room for the files twice over (an in-place update writes the new kernel beside the
    // old one) and FAT overhead; at least 16 MiB so the volume is a proper FAT16.
    let esp_bytes = (2 * payload + 4 * MIB).next_multiple_of(MIB).max(16 * MIB);
    let state_bytes = layout.state_mib.max(1) * MIB;
    let seed = sha256(&[manifest.loader_sha256, manifest.kernel_sha256, manifest.config_sha256].concat());
    let esp = esp::build(files, esp_bytes, &seed)?;
    let image_bytes = gpt::write(path, &esp, state_bytes, &seed)?;
    Ok(Built { manifest, image_bytes, esp_bytes, state_bytes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_a_gpt_disk_with_both_partitions_and_the_files() {
        let dir = std::env::temp_dir().join(format!("keel-image-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("tmp");
        let path = dir.join("disk.img");
        let kernel = crate::elf::tests::tiny_kernel(true);
        let files = EspFiles { loader: b"MZ-loader".to_vec(), kernel: kernel.clone(), config: Some(b"cfg".to_vec()) };
        let built = build(&path, &files, Layout { state_mib: 2 }).expect("image");
        assert_eq!(built.manifest, Manifest::of(b"MZ-loader", &kernel, b"cfg"));
        let bytes = std::fs::read(&path).expect("read");
        assert_eq!(bytes.len() as u64, built.image_bytes);
        assert_eq!(&bytes[510..512], &[0x55, 0xaa], "protective MBR");
        assert_eq!(&bytes[512..520], b"EFI PART", "primary GPT header");
        assert_eq!(&bytes[bytes.len() - 512..][..8], b"EFI PART", "backup GPT header");
        let parts = gpt::read(&path).expect("partitions");
        assert_eq!(parts.len(), 2);
        let (esp_start, esp_len) = parts[0];
        assert_eq!((esp_start, esp_len), (MIB, built.esp_bytes));
        assert_eq!(parts[1].1, 2 * MIB);
        let esp = &bytes[esp_start as usize..(esp_start + esp_len) as usize];
        assert_eq!(esp::read(esp, crate::paths::KERNEL).expect("kernel on ESP"), kernel);
        assert_eq!(esp::read(esp, crate::paths::LOADER).expect("loader on ESP"), b"MZ-loader");
        assert_eq!(esp::read(esp, crate::paths::CONFIG).expect("config on ESP"), b"cfg");
        // Same inputs, same bytes.
        let again = dir.join("again.img");
        build(&again, &files, Layout { state_mib: 2 }).expect("image");
        assert_eq!(std::fs::read(&again).expect("read"), bytes);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn refuses_a_kernel_without_the_uefi_entry() {
        let files = EspFiles { loader: vec![], kernel: crate::elf::tests::tiny_kernel(false), config: None };
        let err = build(Path::new("/nonexistent/x.img"), &files, Layout::default()).expect_err("refused");
        assert!(matches!(err, ImageError::Kernel(ElfError::NoUefiEntry)));
    }

    #[test]
    fn refuses_a_kernel_overlapping_the_firmwares_early_memory() {
        let mut kernel = crate::elf::tests::tiny_kernel(true);
        // The PT_LOAD header (second program header) gets a .bss reaching to 9 MiB.
        let memsz = 64 + 56 + 0x28;
        kernel[memsz..memsz + 8].copy_from_slice(&(8 * MIB).to_le_bytes());
        let files = EspFiles { loader: vec![], kernel, config: None };
        let err = build(Path::new("/nonexistent/x.img"), &files, Layout::default()).expect_err("refused");
        assert!(matches!(err, ImageError::KernelOverlapsFirmware { end, .. } if end == 9 * MIB), "{err}");
    }
}
