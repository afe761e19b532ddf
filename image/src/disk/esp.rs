//! The EFI system partition: a FAT volume built in memory with the `fatfs` crate.

use super::{EspFiles, ImageError};
use crate::paths;
use fatfs::{Date, DateTime, FileSystem, FormatVolumeOptions, FsOptions, Time, TimeProvider};
use std::io::{Cursor, Read, Write};

/// Every file is dated 1980-01-01: timestamps would make equal inputs give different images.
#[derive(Debug)]
struct Epoch;

impl TimeProvider for Epoch {
    fn get_current_date(&self) -> Date {
        Date { year: 1980, month: 1, day: 1 }
    }
    fn get_current_date_time(&self) -> DateTime {
        DateTime { date: self.get_current_date(), time: Time { hour: 0, min: 0, sec: 0, millis: 0 } }
    }
}

static EPOCH: Epoch = Epoch;

/// A formatted FAT volume of `size` bytes holding the loader, kernel and configuration.
pub fn build(files: &EspFiles, size: u64, seed: &[u8; 32]) -> Result<Vec<u8>, ImageError> {
    let mut volume = Cursor::new(vec![0u8; size as usize]);
    let options = FormatVolumeOptions::new()
        .volume_label(*b"KEEL ESP   ")
        .volume_id(u32::from_le_bytes([seed[0], seed[1], seed[2], seed[3]]));
    fatfs::format_volume(&mut volume, options).map_err(ImageError::Fat)?;
    {
        let fs = FileSystem::new(&mut volume, FsOptions::new().time_provider(&EPOCH)).map_err(ImageError::Fat)?;
        put(&fs, paths::LOADER, &files.loader)?;
        put(&fs, paths::KERNEL, &files.kernel)?;
        if let Some(config) = &files.config {
            put(&fs, paths::CONFIG, config)?;
        }
        fs.unmount().map_err(ImageError::Fat)?;
    }
    Ok(volume.into_inner())
}

fn put<T: fatfs::ReadWriteSeek>(fs: &FileSystem<T>, path: &str, data: &[u8]) -> Result<(), ImageError> {
    let parts: Vec<&str> = paths::components(path).collect();
    let (name, dirs) = parts.split_last().ok_or_else(|| ImageError::Fat(std::io::Error::other("empty path")))?;
    let mut dir = fs.root_dir();
    for d in dirs {
        dir = dir.create_dir(d).map_err(ImageError::Fat)?;
    }
    let mut file = dir.create_file(name).map_err(ImageError::Fat)?;
    file.truncate().map_err(ImageError::Fat)?;
    file.write_all(data).map_err(ImageError::Fat)?;
    Ok(())
}

/// Reads a file back from a volume (tests and `xtask image` checks).
pub fn read(volume: &[u8], path: &str) -> std::io::Result<Vec<u8>> {
    let fs = FileSystem::new(Cursor::new(volume.to_vec()), FsOptions::new())?;
    let mut file = fs.root_dir().open_file(path.trim_start_matches('\\').replace('\\', "/").as_str())?;
    let mut out = Vec::new();
    file.read_to_end(&mut out)?;
    Ok(out)
}
