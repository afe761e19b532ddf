//! Virtual machine descriptions and their QEMU command lines.

use keel_abi::exit::DEBUG_EXIT_PORT;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The fifth MAC octet of a node's public NIC (QEMU's user network)...
const PUBLIC_NIC: u8 = 0x02;
/// ... and of its subnet NIC; the sixth is the node's number, so a frame dump names its node.
const SUBNET_NIC: u8 = 0x01;

/// A locally administered MAC in QEMU's 52:54:00 range.
fn mac(nic: u8, number: u8) -> String {
    format!("52:54:00:00:{nic:02x}:{number:02x}")
}

/// How the machine starts.
#[derive(Clone, Debug)]
pub enum Boot {
    /// `-kernel` through the PVH entry, with a kernel command line.
    Pvh { kernel: PathBuf, cmdline: String },
    /// UEFI firmware (OVMF code + a private copy of its variable store) booting a disk.
    Uefi { code: PathBuf, vars: PathBuf, disk: PathBuf },
}

/// A device beyond the fixed set (serial console and debug-exit port).
#[derive(Clone, Debug)]
pub enum Device {
    /// virtio-net on QEMU's user network, forwarding `host_port` on 127.0.0.1 to the guest.
    UserNet { mac: String, forwards: Vec<(u16, u16)> },
    /// virtio-net on a `vde_switch` at `socket` (the subnet network of a testnet).
    VdeNet { mac: String, socket: PathBuf },
    /// A raw disk image as virtio-blk.
    Disk { path: PathBuf },
    /// virtio-rng backed by the host's /dev/urandom.
    Rng,
    /// A TPM 2.0 (CRB interface) backed by an swtpm control socket.
    Tpm { socket: PathBuf },
}

/// A virtual machine to run.
#[derive(Clone, Debug)]
pub struct Machine {
    pub boot: Boot,
    pub memory_mib: u32,
    pub cpus: u32,
    pub devices: Vec<Device>,
}

impl Machine {
    /// A PVH machine with the defaults the tests use (512 MiB, one CPU, no devices).
    pub fn pvh(kernel: impl Into<PathBuf>, cmdline: impl Into<String>) -> Self {
        Self {
            boot: Boot::Pvh { kernel: kernel.into(), cmdline: cmdline.into() },
            memory_mib: 512,
            cpus: 1,
            devices: Vec::new(),
        }
    }

    /// A one-node Keel: the node kernel, its HTTP port forwarded to `127.0.0.1:host_http`,
    /// virtio-rng for entropy and, if given, a state disk.
    pub fn node(kernel: impl Into<PathBuf>, host_http: u16, state: Option<&Path>) -> Self {
        Self::node_numbered(kernel, host_http, state, 1, None)
    }

    /// Member `number` (1-based: the last octet of its subnet address, 1..=253) of a
    /// testnet: a [`Self::node`] with its state disk, plus a second NIC on the switch at
    /// `switch` (see [`crate::VdeSwitch`]).
    pub fn member(kernel: impl Into<PathBuf>, host_http: u16, state: &Path, switch: &Path, number: u8) -> Self {
        Self::node_numbered(kernel, host_http, Some(state), number, Some(switch))
    }

    /// QEMU assigns PCI slots in command-line order from slot 2, and the kernel takes the
    /// first virtio-net NIC as the public one and the second as the subnet one: so the
    /// public NIC comes first (slot 2) and the subnet NIC right after it (slot 3). Slot 3
    /// also gives the two NICs different INTx lines (the firmware routes slots 2 and 5 to
    /// GSI 10, slots 3 and 4 to GSI 11), so neither waits on the other's interrupts; the
    /// devices behind them (virtio-rng, virtio-blk) are polled.
    fn node_numbered(
        kernel: impl Into<PathBuf>,
        host_http: u16,
        state: Option<&Path>,
        number: u8,
        switch: Option<&Path>,
    ) -> Self {
        let guest_http = keel_abi::net::HTTP_PORT;
        let mut machine = Self::pvh(kernel, "")
            .with_device(Device::UserNet { mac: mac(PUBLIC_NIC, number), forwards: vec![(host_http, guest_http)] });
        if let Some(socket) = switch {
            machine = machine.with_device(Device::VdeNet { mac: mac(SUBNET_NIC, number), socket: socket.to_owned() });
        }
        machine = machine.with_device(Device::Rng);
        if let Some(path) = state {
            machine = machine.with_device(Device::Disk { path: path.to_owned() });
        }
        machine
    }

    /// A UEFI machine booting `disk` with OVMF and a private copy of its variable store
    /// written to `vars` (firmware writes variables; runs must not share or keep them).
    pub fn uefi(disk: impl Into<PathBuf>, vars: impl Into<PathBuf>) -> Result<Self, String> {
        let (code, template) = crate::host::ovmf().ok_or_else(|| "OVMF is not installed (apt-get install ovmf)".to_string())?;
        let vars = vars.into();
        std::fs::copy(&template, &vars).map_err(|e| format!("copying {} to {}: {e}", template.display(), vars.display()))?;
        Ok(Self { boot: Boot::Uefi { code, vars, disk: disk.into() }, memory_mib: 512, cpus: 1, devices: Vec::new() })
    }

    pub fn with_device(mut self, device: Device) -> Self {
        self.devices.push(device);
        self
    }

    /// The QEMU invocation. Output is the serial console on stdout; QEMU's own messages
    /// go to stderr.
    pub fn command(&self, qemu: &Path) -> Command {
        let mut cmd = Command::new(qemu);
        let machine = match self.boot {
            Boot::Pvh { .. } => "pc",
            // q35 for UEFI: OVMF's TPM and secure-boot builds expect it.
            Boot::Uefi { .. } => "q35",
        };
        cmd.args(["-machine", machine, "-cpu", "max", "-nodefaults", "-no-user-config"])
            .args(["-display", "none", "-serial", "stdio", "-no-reboot"])
            .args(["-m", &format!("{}M", self.memory_mib)])
            .args(["-smp", &self.cpus.to_string()])
            .args(["-device", &format!("isa-debug-exit,iobase={DEBUG_EXIT_PORT:#x},iosize=0x04")]);
        match &self.boot {
            Boot::Pvh { kernel, cmdline } => {
                cmd.arg("-kernel").arg(kernel);
                if !cmdline.is_empty() {
                    cmd.args(["-append", cmdline]);
                }
            }
            Boot::Uefi { code, vars, disk } => {
                cmd.arg("-drive").arg(format!("if=pflash,format=raw,readonly=on,file={}", code.display()));
                cmd.arg("-drive").arg(format!("if=pflash,format=raw,file={}", vars.display()));
                // The boot disk is on q35's AHCI controller, not virtio-blk: the kernel takes
                // virtio-blk disks as its state disk and must not write over its own image.
                cmd.arg("-drive").arg(format!("if=none,id=boot,format=raw,file={}", disk.display()));
                cmd.args(["-device", "ide-hd,drive=boot,bus=ide.0,bootindex=0"]);
            }
        }
        for (i, device) in self.devices.iter().enumerate() {
            add_device(&mut cmd, i, device);
        }
        cmd
    }
}

fn add_device(cmd: &mut Command, i: usize, device: &Device) {
    match device {
        Device::UserNet { mac, forwards } => {
            let fwd: String = forwards
                .iter()
                .map(|(host, guest)| format!(",hostfwd=tcp:127.0.0.1:{host}-:{guest}"))
                .collect();
            cmd.args(["-netdev", &format!("user,id=net{i}{fwd}")]);
            cmd.args(["-device", &format!("virtio-net-pci,netdev=net{i},mac={mac}")]);
        }
        Device::VdeNet { mac, socket } => {
            cmd.args(["-netdev", &format!("vde,id=net{i},sock={}", socket.display())]);
            cmd.args(["-device", &format!("virtio-net-pci,netdev=net{i},mac={mac}")]);
        }
        Device::Disk { path } => {
            cmd.args(["-drive", &format!("if=none,id=disk{i},format=raw,file={}", path.display())]);
            cmd.args(["-device", &format!("virtio-blk-pci,drive=disk{i}")]);
        }
        Device::Rng => {
            cmd.args(["-object", &format!("rng-random,id=rng{i},filename=/dev/urandom")]);
            cmd.args(["-device", &format!("virtio-rng-pci,rng=rng{i}")]);
        }
        Device::Tpm { socket } => {
            cmd.args(["-chardev", &format!("socket,id=chrtpm{i},path={}", socket.display())]);
            cmd.args(["-tpmdev", &format!("emulator,id=tpm{i},chardev=chrtpm{i}")]);
            cmd.args(["-device", &format!("tpm-crb,tpmdev=tpm{i}")]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(machine: &Machine) -> Vec<String> {
        machine
            .command("qemu-system-x86_64".as_ref())
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn pvh_machine_has_exit_device_serial_and_kernel() {
        let a = args(&Machine::pvh("/k", "ktest=mm"));
        let joined = a.join(" ");
        assert!(joined.contains("-device isa-debug-exit,iobase=0xf4,iosize=0x04"), "{joined}");
        assert!(joined.contains("-serial stdio"));
        assert!(joined.contains("-no-reboot"), "a triple fault must end QEMU, not loop");
        assert!(joined.contains("-kernel /k -append ktest=mm"));
        assert!(joined.contains("-machine pc"));
    }

    #[test]
    fn port_forwards_bind_loopback_only() {
        let m = Machine::pvh("/k", "").with_device(Device::UserNet {
            mac: "52:54:00:00:02:01".into(),
            forwards: vec![(4943, 8080)],
        });
        let joined = args(&m).join(" ");
        assert!(joined.contains("hostfwd=tcp:127.0.0.1:4943-:8080"), "{joined}");
        assert!(joined.contains("virtio-net-pci,netdev=net0,mac=52:54:00:00:02:01"));
    }

    #[test]
    fn a_member_has_its_public_nic_first_and_its_subnet_nic_second() {
        let m = Machine::member("/k", 4944, Path::new("/d/node2.img"), Path::new("/d/subnet"), 2);
        let a = args(&m);
        let at = |needle: &str| a.iter().position(|x| x.contains(needle)).unwrap_or_else(|| panic!("no {needle} in {a:?}"));
        assert!(at("virtio-net-pci,netdev=net0,mac=52:54:00:00:02:02") < at("mac=52:54:00:00:01:02"), "{a:?}");
        assert!(at("user,id=net0,hostfwd=tcp:127.0.0.1:4944-:8080") < at("vde,id="), "{a:?}");
        assert!(a.contains(&"vde,id=net1,sock=/d/subnet".to_string()), "{a:?}");
        assert!(a.contains(&"virtio-net-pci,netdev=net1,mac=52:54:00:00:01:02".to_string()), "{a:?}");
        assert!(at("virtio-net-pci,netdev=net1") < at("virtio-rng-pci"), "the subnet NIC takes slot 3: {a:?}");
        assert!(a.contains(&"if=none,id=disk3,format=raw,file=/d/node2.img".to_string()), "{a:?}");
        assert_eq!(a.iter().filter(|x| x.starts_with("virtio-net-pci")).count(), 2, "{a:?}");
    }

    #[test]
    fn member_macs_are_hex_octets() {
        assert_eq!(mac(SUBNET_NIC, 12), "52:54:00:00:01:0c");
        assert_eq!(mac(PUBLIC_NIC, 253), "52:54:00:00:02:fd");
    }

    #[test]
    fn empty_cmdline_is_not_passed() {
        assert!(!args(&Machine::pvh("/k", "")).contains(&"-append".to_string()));
    }
}
