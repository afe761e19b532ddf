//! Where things live on the EFI system partition. The image builder writes these paths and
//! the loader reads them, so both name them through this one module.

/// The removable-media boot path UEFI firmware starts without any boot variable.
pub const LOADER: &str = "\\EFI\\BOOT\\BOOTX64.EFI";
/// The kernel ELF the loader loads and measures.
pub const KERNEL: &str = "\\KEEL\\KERNEL.ELF";
/// The node configuration in its canonical encoding (`config::codec`).
pub const CONFIG: &str = "\\KEEL\\NODE.CFG";

/// The components of an ESP path, for FAT libraries that create directories one by one.
pub fn components(path: &str) -> impl Iterator<Item = &str> {
    path.split('\\').filter(|c| !c.is_empty())
}
