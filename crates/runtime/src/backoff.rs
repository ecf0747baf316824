//! How long a failed key waits before it is tried again.
//!
//! Mirrors client-go's `DefaultControllerRateLimiter`: a per-key exponential backoff (a key
//! that keeps failing backs off on its own without slowing the others), optionally combined
//! with one token bucket over all retries (so a burst of failures, e.g. a mailbox space that
//! is unreachable for every key at once, cannot turn into a retry storm). The delay for a
//! retry is the larger of the two.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::Duration;

use tokio::time::Instant;

/// Retry pacing for a [`crate::WorkQueue`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimit {
    /// Delay after the first failure; doubles with every further failure of the same key.
    pub base_delay: Duration,
    /// The per-key delay never grows beyond this.
    pub max_delay: Duration,
    /// An overall limit on retries across all keys; `None` leaves only the per-key backoff.
    pub bucket: Option<TokenBucket>,
}

impl Default for RateLimit {
    /// client-go's per-key backoff: 5 ms doubling to 1000 s, no overall bucket.
    fn default() -> Self {
        Self { base_delay: Duration::from_millis(5), max_delay: Duration::from_secs(1000), bucket: None }
    }
}

impl RateLimit {
    /// Exactly client-go's default controller rate limiter: the per-key backoff plus a
    /// 10 retries/s bucket with a burst of 100.
    pub fn client_go() -> Self {
        Self { bucket: Some(TokenBucket { qps: 10.0, burst: 100 }), ..Self::default() }
    }
}

/// A token bucket: `burst` retries at once, refilled at `qps` per second.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TokenBucket {
    pub qps: f64,
    pub burst: u32,
}

/// The per-key failure counts and the bucket's fill; owned by the queue under its lock.
#[derive(Debug)]
pub(crate) struct RateLimiter<K> {
    config: RateLimit,
    failures: HashMap<K, u32>,
    bucket: Option<Bucket>,
}

impl<K: Eq + Hash + Clone> RateLimiter<K> {
    pub(crate) fn new(config: RateLimit, now: Instant) -> Self {
        let bucket = config.bucket.map(|b| Bucket { tokens: f64::from(b.burst), last: now, config: b });
        Self { config, failures: HashMap::new(), bucket }
    }

    /// The delay before retrying `key` now, counting this as one more failure.
    pub(crate) fn when(&mut self, key: &K, now: Instant) -> Duration {
        let failures = self.failures.entry(key.clone()).or_insert(0);
        let per_key = exponential(self.config.base_delay, self.config.max_delay, *failures);
        *failures = failures.saturating_add(1);
        let overall = self.bucket.as_mut().map_or(Duration::ZERO, |b| b.reserve(now));
        per_key.max(overall)
    }

    /// Forgets `key`'s failures, so its next failure starts again at the base delay.
    pub(crate) fn forget(&mut self, key: &K) {
        self.failures.remove(key);
    }

    /// How many times `key` has failed since it last succeeded.
    pub(crate) fn retries(&self, key: &K) -> u32 {
        self.failures.get(key).copied().unwrap_or(0)
    }
}

/// `base * 2^failures`, capped at `max` (and safe against overflow for any count).
fn exponential(base: Duration, max: Duration, failures: u32) -> Duration {
    let factor = 1u128.checked_shl(failures.min(127)).unwrap_or(u128::MAX);
    let nanos = base.as_nanos().saturating_mul(factor);
    if nanos >= max.as_nanos() { max } else { Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX)) }
}

#[derive(Debug)]
struct Bucket {
    config: TokenBucket,
    /// May go negative: a negative balance is the queue of reservations still to be paid.
    tokens: f64,
    last: Instant,
}

impl Bucket {
    /// Takes one token, returning how long until it exists (like `rate.Limiter.Reserve`).
    fn reserve(&mut self, now: Instant) -> Duration {
        let qps = self.config.qps;
        if !(qps.is_finite() && qps > 0.0) {
            return Duration::ZERO;
        }
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * qps).min(f64::from(self.config.burst));
        self.tokens -= 1.0;
        if self.tokens >= 0.0 { Duration::ZERO } else { Duration::from_secs_f64(-self.tokens / qps) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn doubles_per_failure_up_to_the_cap() {
        let cases = [(0, 5 * MS), (1, 10 * MS), (2, 20 * MS), (10, 5120 * MS), (17, 655_360 * MS)];
        for (failures, want) in cases {
            assert_eq!(exponential(5 * MS, Duration::from_secs(1000), failures), want, "{failures} failures");
        }
        for failures in [18, 40, 64, 200, u32::MAX] {
            assert_eq!(exponential(5 * MS, Duration::from_secs(1000), failures), Duration::from_secs(1000));
        }
    }

    #[test]
    fn keys_back_off_independently_and_forget_resets() {
        let now = Instant::now();
        let mut rl = RateLimiter::new(RateLimit::default(), now);
        assert_eq!(rl.when(&"a", now), 5 * MS);
        assert_eq!(rl.when(&"a", now), 10 * MS);
        assert_eq!(rl.when(&"b", now), 5 * MS);
        assert_eq!(rl.retries(&"a"), 2);
        rl.forget(&"a");
        assert_eq!(rl.retries(&"a"), 0);
        assert_eq!(rl.when(&"a", now), 5 * MS);
    }

    #[test]
    fn the_bucket_spreads_a_burst_of_retries() {
        let now = Instant::now();
        let mut rl = RateLimiter::new(
            RateLimit { bucket: Some(TokenBucket { qps: 10.0, burst: 2 }), ..Default::default() },
            now,
        );
        // Two retries fit in the burst; the third waits for a token (100 ms at 10/s), the
        // fourth for the one after it.
        assert_eq!(rl.when(&1, now), 5 * MS);
        assert_eq!(rl.when(&2, now), 5 * MS);
        assert_eq!(rl.when(&3, now), 100 * MS);
        assert_eq!(rl.when(&4, now), 200 * MS);
        // A second later the bucket has refilled to its burst and no more.
        let later = now + Duration::from_secs(1);
        assert_eq!(rl.when(&5, later), 5 * MS);
        assert_eq!(rl.when(&6, later), 5 * MS);
        assert_eq!(rl.when(&7, later), 100 * MS);
    }
}
