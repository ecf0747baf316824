//! How the syncer's watches come back after losing the center: quickly (it must notice the
//! center's return within seconds, where kube's default waits up to 30 s) and with jitter,
//! so thousands of syncers that lost the same center do not return in step.

use kube::runtime::utils::Backoff;
use std::time::Duration;

const FIRST: Duration = Duration::from_millis(200);
const MOST: Duration = Duration::from_secs(5);

/// 200 ms doubling to 5 s, each delay scaled by a random factor in [0.5, 1]; reset by the
/// watch stream once events flow again.
pub struct Reconnect {
    next: Duration,
}

impl Default for Reconnect {
    fn default() -> Self {
        Self { next: FIRST }
    }
}

impl Iterator for Reconnect {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let delay = self.next;
        self.next = (self.next * 2).min(MOST);
        Some(delay.mul_f64(0.5 + rand::random::<f64>() / 2.0))
    }
}

impl Backoff for Reconnect {
    fn reset(&mut self) {
        self.next = FIRST;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_to_a_cap_with_jitter_and_resets() {
        let mut b = Reconnect::default();
        let delays: Vec<Duration> = b.by_ref().take(8).collect();
        let caps = [200, 400, 800, 1600, 3200, 5000, 5000, 5000].map(Duration::from_millis);
        for (d, cap) in delays.iter().zip(caps) {
            assert!(*d <= cap && *d >= cap / 2, "{d:?} within [{:?}, {cap:?}]", cap / 2);
        }
        b.reset();
        assert!(b.next().is_some_and(|d| d <= FIRST));
    }
}
