//! A virtual Ethernet switch (`vde_switch`, Debian package `vde2`) for a testnet's subnet
//! network: every node's second NIC plugs into it, so nodes exchange frames over Unix
//! sockets without root and without any host IP traffic besides loopback.
//!
//! The switch runs in the foreground as our child with its console on a pipe we hold. It
//! quits and removes its socket directory when that pipe closes, which happens on drop and
//! also when this process dies without running destructors: a switch never outlives us.

use crate::host::{self, Tool};
use crate::process::QemuError;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the switch may take to create its control socket, and to quit on drop.
const SETTLE: Duration = Duration::from_secs(10);

/// A running switch; dropping it stops the switch.
pub struct VdeSwitch {
    child: Child,
    /// The switch's console; closing it is how the switch is asked to quit.
    console: Option<ChildStdin>,
    socket: PathBuf,
}

impl VdeSwitch {
    /// Starts a switch whose socket directory is `socket` (created by the switch; its
    /// parent must exist). Its messages go to `<socket>.log`.
    pub fn start(socket: &Path) -> Result<Self, QemuError> {
        host::ensure(&[Tool::Vde]).map_err(QemuError::Missing)?;
        let log_path = socket.with_extension("log");
        let log = std::fs::File::create(&log_path)
            .map_err(|e| QemuError::Spawn(std::io::Error::other(format!("{}: {e}", log_path.display()))))?;
        let mut child = Command::new("vde_switch")
            .arg("-sock")
            .arg(socket)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(QemuError::Spawn)?;
        let console = child.stdin.take();
        Self { child, console, socket: socket.to_owned() }.wait_for_socket(&log_path)
    }

    /// QEMU refuses to start if the control socket is not there yet. On failure the
    /// switch is dropped, and so stopped.
    fn wait_for_socket(mut self, log_path: &Path) -> Result<Self, QemuError> {
        let deadline = Instant::now() + SETTLE;
        while !self.socket.join("ctl").exists() {
            let exited = self.child.try_wait().ok().flatten();
            if exited.is_some() || Instant::now() > deadline {
                let said = std::fs::read_to_string(log_path).unwrap_or_default();
                let why = match exited {
                    Some(status) => format!("vde_switch exited ({status}) before creating its socket: {said}"),
                    None => format!("vde_switch did not create {} within {SETTLE:?}: {said}", self.socket.display()),
                };
                return Err(QemuError::Spawn(std::io::Error::other(why)));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(self)
    }

    /// The socket directory, for [`crate::Device::VdeNet`] and [`crate::Machine::member`].
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The switch's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for VdeSwitch {
    fn drop(&mut self) {
        // End of input makes the switch remove its sockets and quit; kill it if it lingers.
        drop(self.console.take());
        let deadline = Instant::now() + SETTLE;
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("keel-vde-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        dir
    }

    #[test]
    fn a_switch_serves_its_socket_and_leaves_nothing_behind() {
        let dir = scratch("lifecycle");
        let socket = dir.join("subnet");
        let switch = VdeSwitch::start(&socket).unwrap_or_else(|e| panic!("{e}"));
        let proc_entry = PathBuf::from(format!("/proc/{}", switch.pid()));
        assert!(socket.join("ctl").exists(), "the switch's control socket");
        assert!(proc_entry.exists(), "the switch runs");
        drop(switch);
        assert!(!proc_entry.exists(), "the switch process is gone (and reaped) after drop");
        assert!(!socket.exists(), "the switch removed its socket directory");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_switch_that_cannot_start_says_why() {
        let dir = scratch("broken");
        let socket = dir.join("no-such-parent").join("subnet");
        let err = VdeSwitch::start(&socket).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("no-such-parent"), "a switch without a parent directory names it: {err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
