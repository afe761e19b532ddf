//! Reading files from the EFI system partition the loader was started from.

use crate::LoaderError;
use alloc::vec::Vec;
use uefi::fs::{Error, FileSystem};
use uefi::{CString16, Status, boot};

/// The file at `path` (an ESP path from `keel_image::paths`), or `None` if it does not exist.
pub fn read(path: &'static str) -> Result<Option<Vec<u8>>, LoaderError> {
    let fail = |status| LoaderError::Read { path, status };
    let sfs = boot::get_image_file_system(boot::image_handle()).map_err(|e| fail(e.status()))?;
    let mut fs = FileSystem::new(sfs);
    let name = CString16::try_from(path).map_err(|_| fail(Status::INVALID_PARAMETER))?;
    match fs.read(name.as_ref()) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(Error::Io(io)) if io.uefi_error.status() == Status::NOT_FOUND => Ok(None),
        Err(Error::Io(io)) => Err(fail(io.uefi_error.status())),
        Err(_) => Err(fail(Status::LOAD_ERROR)),
    }
}
