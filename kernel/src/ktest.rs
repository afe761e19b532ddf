//! In-kernel tests. `ktest! { fn name() { ... } }` next to the code under test registers a
//! test in a linker-built table (`linkme`); a kernel built with `--features ktest` runs the
//! table instead of the node and reports each test on the console in the
//! [`keel_abi::console`] protocol, then exits through `isa-debug-exit`.
//!
//! A test fails by panicking (or faulting); the panic and fault handlers name the running
//! test before the kernel stops. Tests under a `selftest` module fail on purpose: they run
//! only when the command line selects them (`ktest=selftest::panics`), so the host can prove
//! the harness reports each kind of failure.

use core::sync::atomic::{AtomicUsize, Ordering};
use keel_abi::console::Event;

pub struct KTest {
    pub name: &'static str,
    pub run: fn(),
}

#[linkme::distributed_slice]
pub static KTESTS: [KTest];

/// Index + 1 of the running test in [`KTESTS`], 0 when none runs.
static CURRENT: AtomicUsize = AtomicUsize::new(0);

/// Registers a kernel test; see the module documentation.
#[macro_export]
macro_rules! ktest {
    ($(#[$meta:meta])* fn $name:ident() $body:block) => {
        $(#[$meta])*
        fn $name() $body

        const _: () = {
            #[linkme::distributed_slice($crate::ktest::KTESTS)]
            static TEST: $crate::ktest::KTest = $crate::ktest::KTest {
                name: concat!(module_path!(), "::", stringify!($name)),
                run: $name,
            };
        };
    };
}

fn display_name(test: &KTest) -> &'static str {
    test.name.trim_start_matches("keel_kernel::")
}

/// The name of the running test, for panic and fault reports.
pub fn current() -> Option<&'static str> {
    let index = CURRENT.load(Ordering::SeqCst).checked_sub(1)?;
    KTESTS.get(index).map(display_name)
}

/// Whether `test` runs under `filter`: selftests only when asked for by name.
fn selected(name: &str, filter: Option<&str>) -> bool {
    match filter {
        Some(filter) => name.contains(filter),
        None => !name.contains("selftest::"),
    }
}

/// Runs the selected tests in name order and exits QEMU with the verdict.
pub fn run_all(filter: Option<&str>) -> ! {
    let mut order: alloc::vec::Vec<usize> = (0..KTESTS.len()).collect();
    order.sort_by_key(|&i| display_name(&KTESTS[i]));
    let mut passed = 0u32;
    for index in order {
        let test = &KTESTS[index];
        let name = display_name(test);
        if !selected(name, filter) {
            continue;
        }
        crate::println!("{}", Event::TestStart { name });
        CURRENT.store(index + 1, Ordering::SeqCst);
        let start = crate::time::now();
        (test.run)();
        let micros = start.elapsed().as_micros() as u64;
        CURRENT.store(0, Ordering::SeqCst);
        crate::println!("{}", Event::TestPass { name, micros });
        passed += 1;
    }
    // A failing test never gets here: the panic or fault handler exits with failure.
    crate::println!("{}", Event::TestsDone { passed, failed: 0 });
    crate::arch::qemu::exit(keel_abi::exit::ExitCode::Success)
}

#[cfg(feature = "ktest")]
/// Tests that must fail: the host runs each alone and expects the harness to say so.
mod selftest {

    ktest! {
        fn panics() {
            let answer = core::hint::black_box(41);
            assert_eq!(answer, 42, "deliberate failure to prove panics are reported");
        }
    }

    ktest! {
        fn page_faults() {
            let null = core::hint::black_box(0usize) as *const u64;
            // SAFETY: deliberately unsound: reading the unmapped null page must fault.
            let value = unsafe { core::ptr::read_volatile(null) };
            core::hint::black_box(value);
        }
    }

    ktest! {
        fn overflows_stack() {
            #[inline(never)]
            #[allow(unconditional_recursion)]
            fn recurse(depth: u64) -> u64 {
                let buf = core::hint::black_box([depth; 64]);
                buf[0] + recurse(depth + 1)
            }
            core::hint::black_box(recurse(0));
        }
    }

    ktest! {
        fn hangs() {
            loop {
                x86_64::instructions::hlt();
            }
        }
    }
}

#[cfg(feature = "ktest")]
mod ktests {
    use super::selected;

    ktest! {
        fn selftests_run_only_when_named() {
            assert!(selected("mm::frames::x", None));
            assert!(!selected("ktest::selftest::panics", None));
            assert!(selected("ktest::selftest::panics", Some("selftest::panics")));
            assert!(!selected("mm::frames::x", Some("time::")));
        }
    }
}
