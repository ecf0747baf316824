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
    clock(rustix::time::ClockId::ThreadCPUTime)
}

/// The CPU time the whole process has consumed so far, all threads together.
pub fn process_cpu_time() -> Duration {
    clock(rustix::time::ClockId::ProcessCPUTime)
}

fn clock(id: rustix::time::ClockId) -> Duration {
    let t = rustix::time::clock_gettime(id);
    Duration::new(u64::try_from(t.tv_sec).unwrap_or(0), u32::try_from(t.tv_nsec).unwrap_or(0))
}

/// Whether `cpu` seconds of work over `wall` seconds is less than `cores` cores' worth.
pub fn used_less_than(cpu: Duration, wall: Duration, cores: f64) -> bool {
    cpu.as_secs_f64() < wall.as_secs_f64() * cores
}

/// Tells, each time it is asked, whether the process was idle since it was last asked:
/// for work that may wait while the process is busy, and need not wait when it is not.
#[derive(Debug)]
pub struct IdleProbe {
    /// Below this many cores' worth of CPU the process counts as idle.
    cores: f64,
    last: (std::time::Instant, Duration),
}

impl IdleProbe {
    pub fn new(cores: f64) -> Self {
        Self { cores, last: (std::time::Instant::now(), process_cpu_time()) }
    }

    /// Whether the process used less than the probe's share of a core since the last call
    /// (or since it was made).
    pub fn idle(&mut self) -> bool {
        let now = (std::time::Instant::now(), process_cpu_time());
        let idle =
            used_less_than(now.1.saturating_sub(self.last.1), now.0.saturating_duration_since(self.last.0), self.cores);
        self.last = now;
        idle
    }
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

    #[test]
    fn idle_is_less_than_the_share_of_a_core() {
        let ms = Duration::from_millis;
        // (CPU used, wall time, cores) → idle
        let cases = [
            (ms(0), ms(100), 0.5, true),
            (ms(49), ms(100), 0.5, true),
            (ms(50), ms(100), 0.5, false),
            (ms(150), ms(100), 0.5, false), // two threads busy
            (ms(150), ms(100), 2.0, true),
            (ms(0), ms(0), 0.5, false), // no time has passed: nothing to tell
        ];
        for (cpu, wall, cores, want) in cases {
            assert_eq!(used_less_than(cpu, wall, cores), want, "{cpu:?} over {wall:?}, {cores} cores");
        }
    }

    #[test]
    fn the_process_clock_counts_every_thread() {
        let before = process_cpu_time();
        std::thread::spawn(|| burn(Duration::from_millis(30))).join().expect("burns");
        assert!(process_cpu_time().saturating_sub(before) >= Duration::from_millis(30));
        // Asked again after busy work, a probe says busy: 30 ms of CPU is more than a
        // hundredth of a core unless the burn took over 3 s of wall time.
        let mut probe = IdleProbe::new(0.01);
        probe.idle();
        burn(Duration::from_millis(30));
        assert!(!probe.idle(), "busy");
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
