//! A software TPM 2.0 (`swtpm`) for a UEFI machine: one process and state directory per
//! run, so every boot starts from a fresh TPM and PCRs; the process is killed on drop.

use crate::process::QemuError;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Swtpm {
    child: Child,
    socket: PathBuf,
}

impl Swtpm {
    /// Starts `swtpm` with its state and control socket in `dir` (created if needed).
    pub fn start(dir: &Path) -> Result<Self, QemuError> {
        crate::host::ensure(&[crate::host::Tool::Swtpm]).map_err(QemuError::Missing)?;
        std::fs::create_dir_all(dir).map_err(QemuError::Spawn)?;
        let socket = dir.join("swtpm.sock");
        let _ = std::fs::remove_file(&socket);
        let child = Command::new("swtpm")
            .args(["socket", "--tpm2", "--tpmstate"])
            .arg(format!("dir={}", dir.display()))
            .arg("--ctrl")
            .arg(format!("type=unixio,path={}", socket.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(QemuError::Spawn)?;
        let mut tpm = Self { child, socket };
        // QEMU fails at once if the socket is not there yet.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !tpm.socket.exists() {
            if Instant::now() > deadline || tpm.child.try_wait().ok().flatten().is_some() {
                return Err(QemuError::Spawn(std::io::Error::other("swtpm did not create its socket")));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(tpm)
    }

    /// The control socket, for [`crate::Device::Tpm`].
    pub fn socket(&self) -> &Path {
        &self.socket
    }
}

impl Drop for Swtpm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
