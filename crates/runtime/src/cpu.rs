//! The CPU time a future spends being polled.
//!
//! A controller that paces itself by what its work costs cannot use wall time: on a busy
//! machine a pass waits for the CPU and for the server, and its wall time grows with
//! everyone else's load, so pacing by it slows the controller down exactly when its own
//! cost has not changed. The CPU time of the polls is what the pass itself consumed.

use std::future::Future;
use std::time::Duration;

/// The CPU time the calling thread has consumed so far.
pub fn thread_cpu_time() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(u64::try_from(t.tv_sec).unwrap_or(0), u32::try_from(t.tv_nsec).unwrap_or(0))
}

/// Runs `fut` and returns its output with the CPU time spent inside its polls: the work it
/// did itself, not the time it waited. Each poll runs on one thread from start to end, so
/// the thread's CPU clock measures it even when successive polls run on different threads.
pub async fn cpu_timed<F: Future>(fut: F) -> (F::Output, Duration) {
    let mut fut = std::pin::pin!(fut);
    let mut spent = Duration::ZERO;
    let output = std::future::poll_fn(|cx| {
        let before = thread_cpu_time();
        let polled = fut.as_mut().poll(cx);
        spent += thread_cpu_time().saturating_sub(before);
        polled
    })
    .await;
    (output, spent)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn burn(for_at_least: Duration) -> u64 {
        let start = thread_cpu_time();
        let mut x = 0u64;
        while thread_cpu_time().saturating_sub(start) < for_at_least {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        x
    }

    #[tokio::test]
    async fn counts_the_work_of_the_polls_and_not_what_they_wait_for() {
        let (done, finished) = tokio::sync::oneshot::channel();
        let ((), spent) = cpu_timed(async move {
            burn(Duration::from_millis(20));
            // It waits for another thread's work: 200 ms of CPU that is not its own.
            std::thread::spawn(move || {
                burn(Duration::from_millis(200));
                let _ = done.send(());
            });
            finished.await.expect("the other thread finishes");
            burn(Duration::from_millis(20));
        })
        .await;
        assert!(spent >= Duration::from_millis(40), "both polls' work counted: {spent:?}");
        assert!(spent < Duration::from_millis(200), "the other thread's work not counted: {spent:?}");
    }
}
