//! Timers for tasks: `sleep(d).await`. Deadlines wait in an ordered queue; the executor
//! wakes the expired ones each turn and arms the LAPIC alarm for the earliest remaining one.

use super::{Duration, Instant};
use alloc::collections::BTreeMap;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};
use spin::Mutex;
use x86_64::instructions::interrupts::without_interrupts;

struct Queue {
    /// Keyed by deadline, then by a sequence number so equal deadlines coexist.
    wakers: BTreeMap<(Instant, u64), Waker>,
    next_seq: u64,
}

static QUEUE: Mutex<Queue> = Mutex::new(Queue { wakers: BTreeMap::new(), next_seq: 0 });

/// A future that completes at its deadline.
pub struct Sleep {
    deadline: Instant,
    key: Option<(Instant, u64)>,
}

/// Completes after `duration`.
pub fn sleep(duration: Duration) -> Sleep {
    sleep_until(super::now() + duration)
}

/// Completes at `deadline`.
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep { deadline, key: None }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if super::now() >= self.deadline {
            self.cancel();
            return Poll::Ready(());
        }
        let deadline = self.deadline;
        let key = without_interrupts(|| {
            let mut q = QUEUE.lock();
            let key = match self.key {
                Some(key) => key,
                None => {
                    q.next_seq += 1;
                    (deadline, q.next_seq)
                }
            };
            q.wakers.insert(key, cx.waker().clone());
            key
        });
        self.key = Some(key);
        Poll::Pending
    }
}

impl Sleep {
    fn cancel(&mut self) {
        if let Some(key) = self.key.take() {
            without_interrupts(|| QUEUE.lock().wakers.remove(&key));
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.cancel();
    }
}

/// Wakes every task whose deadline has passed; returns the earliest deadline still waiting.
pub fn wake_expired() -> Option<Instant> {
    let now = super::now();
    let (expired, next) = without_interrupts(|| {
        let mut q = QUEUE.lock();
        let later = q.wakers.split_off(&(now, u64::MAX));
        let expired = core::mem::replace(&mut q.wakers, later);
        (expired, q.wakers.keys().next().map(|(deadline, _)| *deadline))
    });
    // Wake outside the lock: a waker may re-arm a timer.
    for (_, waker) in expired {
        waker.wake();
    }
    next
}
