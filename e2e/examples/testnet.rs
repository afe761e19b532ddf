//! `cargo xtask testnet`: boots a Keel subnet of several nodes under QEMU and keeps it up
//! until Ctrl-C, printing where each node serves the IC HTTP interface and the subnet's
//! root key. Arguments: `--nodes N` (4), `--base-port P` (4943: node i on P + i),
//! `--memory MIB` (512 per node), `--quiet` (no node consoles).

use keel_e2e::{Options, Testnet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

fn options() -> Result<Options, String> {
    let mut options = Options::new(4);
    options.base_port = Some(4943);
    options.echo = true;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match flag.as_str() {
            "--nodes" => options.nodes = value("--nodes")?.parse().map_err(|e| format!("--nodes: {e}"))?,
            "--base-port" => options.base_port = Some(value("--base-port")?.parse().map_err(|e| format!("--base-port: {e}"))?),
            "--memory" => options.memory_mib = value("--memory")?.parse().map_err(|e| format!("--memory: {e}"))?,
            "--quiet" => options.echo = false,
            other => return Err(format!("unknown argument {other}; expected --nodes, --base-port, --memory, --quiet")),
        }
    }
    Ok(options)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn announce(net: &Testnet, booted: Duration) {
    let first = net.url(0);
    println!("\nKeel testnet of {} nodes is up ({:.1} s after the first QEMU started):", net.len(), booted.as_secs_f64());
    for i in 0..net.len() {
        println!("  node {i}  {}   subnet address 10.10.0.{}", net.url(i), i + 1);
    }
    println!("\nroot key (DER, hex): {}", hex(net.root_key_der()));
    println!("\nPoint any IC client at any node, as at a local network:");
    println!("  ic-agent:  let agent = Agent::builder().with_url(\"{first}\").build()?;");
    println!("             agent.fetch_root_key().await?;  // or set_root_key(<the DER above>)");
    println!("  dfx:       dfx deploy --network {first}     (dfx fetches a local network's root key)");
    println!("\nCtrl-C stops every node and deletes the testnet's disks.");
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let options = options()?;
    // Ctrl-C reaches QEMU and the switch too (one process group) and they quit at once;
    // this process must live on to delete what the testnet left behind.
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst)).map_err(|e| e.to_string())?;

    let started = Instant::now();
    let mut net = match Testnet::start_with(options) {
        Ok(net) => net,
        Err(_) if stop.load(Ordering::SeqCst) => {
            eprintln!("\nstopped while booting (Ctrl-C)");
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    announce(&net, started.elapsed());
    while !stop.load(Ordering::SeqCst) {
        for (i, outcome) in net.ended() {
            // A node that quits on Ctrl-C may be seen a moment before the handler runs.
            std::thread::sleep(Duration::from_millis(200));
            if !stop.load(Ordering::SeqCst) {
                eprintln!("\nnode {i} ended: {outcome}; the others keep running");
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(net);
    eprintln!("\nstopped the testnet");
    Ok(())
}
