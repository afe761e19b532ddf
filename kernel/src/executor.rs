//! A cooperative, single-CPU executor: the node's event loop.
//!
//! Network, consensus and execution work run as async tasks. A task is polled when its
//! waker fires; when nothing is ready the CPU halts until the next interrupt (a device or
//! the LAPIC alarm armed for the earliest sleeping task), so an idle node burns no CPU.
//! Wakers may be called from interrupt handlers: the ready queue is only touched with
//! interrupts off and never allocates there beyond its reserved capacity.

use crate::time::{self, Duration};
use alloc::boxed::Box;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::sync::Arc;
use alloc::task::Wake;
use alloc::vec::Vec;
use core::future::Future;
use core::pin::Pin;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use core::task::{Context, Poll, Waker};
use spin::Mutex;
use x86_64::instructions::interrupts;

/// The longest the CPU halts without looking around (a safety net, not a tick).
const MAX_IDLE: Duration = Duration::from_secs(1);

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct TaskId(u64);

type BoxedTask = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Tasks of this executor need not be `Send`: there is one CPU and tasks never migrate.
struct Task {
    name: &'static str,
    future: Pin<Box<dyn Future<Output = ()>>>,
    waker: Waker,
}

static READY: Mutex<VecDeque<TaskId>> = Mutex::new(VecDeque::new());
static INCOMING: Mutex<Vec<(TaskId, &'static str, BoxedTask)>> = Mutex::new(Vec::new());
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

struct TaskWaker {
    id: TaskId,
    queued: AtomicBool,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            interrupts::without_interrupts(|| READY.lock().push_back(self.id));
        }
    }
}

/// Starts `future` as a task of the running executor.
pub fn spawn(name: &'static str, future: impl Future<Output = ()> + Send + 'static) -> TaskId {
    let id = TaskId(NEXT_ID.fetch_add(1, Ordering::Relaxed));
    interrupts::without_interrupts(|| INCOMING.lock().push((id, name, Box::pin(future))));
    id
}

/// Counters shown by the console's `stats` command.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stats {
    pub polls: u64,
    pub halts: u64,
    pub tasks: usize,
}

static STATS: Mutex<Stats> = Mutex::new(Stats { polls: 0, halts: 0, tasks: 0 });

pub fn stats() -> Stats {
    interrupts::without_interrupts(|| *STATS.lock())
}

#[derive(Default)]
pub struct Executor {
    tasks: BTreeMap<TaskId, Task>,
    wakers: BTreeMap<TaskId, Arc<TaskWaker>>,
}

impl Executor {
    pub fn new() -> Self {
        interrupts::without_interrupts(|| READY.lock().reserve(256));
        Self::default()
    }

    /// Starts a task that may own devices (not `Send`); only the owner of the executor can.
    pub fn spawn_local(&mut self, name: &'static str, future: impl Future<Output = ()> + 'static) -> TaskId {
        let id = TaskId(NEXT_ID.fetch_add(1, Ordering::Relaxed));
        self.admit(id, name, Box::pin(future));
        id
    }

    fn admit(&mut self, id: TaskId, name: &'static str, future: Pin<Box<dyn Future<Output = ()>>>) {
        let raw = Arc::new(TaskWaker { id, queued: AtomicBool::new(false) });
        let waker = Waker::from(raw.clone());
        raw.wake_by_ref();
        self.wakers.insert(id, raw);
        self.tasks.insert(id, Task { name, future, waker });
    }

    fn admit_spawned(&mut self) {
        let incoming = interrupts::without_interrupts(|| core::mem::take(&mut *INCOMING.lock()));
        for (id, name, future) in incoming {
            self.admit(id, name, future);
        }
    }

    /// Polls the tasks that are ready now, once each. Tasks woken meanwhile (a task that
    /// yields wakes itself) wait for the next pass, so one busy task cannot starve the main
    /// future, the timers or the other tasks.
    fn poll_ready(&mut self) {
        let batch = interrupts::without_interrupts(|| READY.lock().len());
        for _ in 0..batch {
            let Some(id) = interrupts::without_interrupts(|| READY.lock().pop_front()) else { break };
            if let Some(w) = self.wakers.get(&id) {
                w.queued.store(false, Ordering::Release);
            }
            let Some(task) = self.tasks.get_mut(&id) else { continue };
            let mut cx = Context::from_waker(&task.waker);
            interrupts::without_interrupts(|| STATS.lock().polls += 1);
            if task.future.as_mut().poll(&mut cx).is_ready() {
                log::debug!("task {} finished", task.name);
                self.tasks.remove(&id);
                self.wakers.remove(&id);
            }
        }
    }

    /// Halts until an interrupt, unless work arrived meanwhile.
    fn idle(&self, next_deadline: Option<time::Instant>) {
        interrupts::disable();
        let busy = !READY.lock().is_empty() || !INCOMING.lock().is_empty();
        if busy {
            interrupts::enable();
            return;
        }
        let deadline = next_deadline.unwrap_or_else(|| time::now() + MAX_IDLE);
        time::arm_alarm(deadline, MAX_IDLE);
        STATS.lock().halts += 1;
        // Atomically re-enable and halt: an interrupt between the check and `hlt` still
        // wakes us.
        interrupts::enable_and_hlt();
    }

    /// Runs the tasks until `main` completes, and returns its output.
    pub fn run_until<T>(&mut self, main: impl Future<Output = T>) -> T {
        let mut main = core::pin::pin!(main);
        let main_flag = Arc::new(TaskWaker { id: TaskId(0), queued: AtomicBool::new(true) });
        let main_waker = Waker::from(main_flag.clone());
        loop {
            if main_flag.queued.swap(false, Ordering::AcqRel)
                && let Poll::Ready(out) = main.as_mut().poll(&mut Context::from_waker(&main_waker))
            {
                return out;
            }
            time::take_alarm();
            let next = time::timer::wake_expired();
            self.admit_spawned();
            self.poll_ready();
            interrupts::without_interrupts(|| {
                STATS.lock().tasks = self.tasks.len();
                // The main future's waker pushes TaskId(0) like any task; drop it here.
                READY.lock().retain(|id| *id != TaskId(0));
            });
            if !main_flag.queued.load(Ordering::Acquire) {
                self.idle(next);
            }
        }
    }
}

/// Yields once to the executor, letting other tasks run.
pub async fn yield_now() {
    let mut yielded = false;
    core::future::poll_fn(|cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await
}

#[cfg(feature = "ktest")]
mod ktests {
    use super::*;
    use crate::ktest;
    use core::sync::atomic::AtomicUsize;

    ktest! {
        fn spawned_tasks_run_and_sleep() {
            static DONE: AtomicUsize = AtomicUsize::new(0);
            let mut executor = Executor::new();
            for i in 0..4u64 {
                spawn("sleeper", async move {
                    time::timer::sleep(Duration::from_millis(1 + i)).await;
                    DONE.fetch_add(1, Ordering::SeqCst);
                });
            }
            let start = time::now();
            executor.run_until(async {
                while DONE.load(Ordering::SeqCst) < 4 {
                    time::timer::sleep(Duration::from_millis(1)).await;
                }
            });
            assert_eq!(DONE.load(Ordering::SeqCst), 4);
            assert!(start.elapsed() >= Duration::from_millis(4));
        }
    }

    ktest! {
        fn yielding_tasks_interleave() {
            static TRACE: Mutex<Vec<u8>> = Mutex::new(Vec::new());
            let mut executor = Executor::new();
            for tag in [b'a', b'b'] {
                spawn("yielder", async move {
                    for _ in 0..3 {
                        TRACE.lock().push(tag);
                        yield_now().await;
                    }
                });
            }
            executor.run_until(async {
                while TRACE.lock().len() < 6 {
                    yield_now().await;
                }
            });
            assert_eq!(&TRACE.lock()[..], b"ababab");
        }
    }

    ktest! {
        fn a_task_that_always_yields_does_not_starve_sleepers() {
            static STOP: AtomicBool = AtomicBool::new(false);
            let mut executor = Executor::new();
            spawn("spinner", async {
                while !STOP.load(Ordering::SeqCst) {
                    yield_now().await;
                }
            });
            executor.run_until(async {
                time::timer::sleep(Duration::from_millis(5)).await;
            });
            STOP.store(true, Ordering::SeqCst);
            executor.run_until(async { yield_now().await });
        }
    }
}
