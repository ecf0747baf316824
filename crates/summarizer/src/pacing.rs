//! How often objects are summarized.
//!
//! A summary is computed over every WEC that runs the object, so one pass costs in
//! proportion to the number of WECs; when 1,000 WECs report within a few seconds, summarizing
//! after each report is quadratic and starves the rest of the center (measured with
//! `orrery bench scale`: at 1,000 WECs the summarizer took over half of the center's CPU and
//! the translator's copies waited minutes). So an object is summarized at once when it has
//! been quiet, and otherwise at most once per *window*: reports arriving in the meantime are
//! folded into the next pass.
//!
//! The window is a multiple of one *round*: what the last pass of every busy object cost,
//! together. Then the summarizer as a whole, not each object, takes a bounded share of the
//! center, however many objects are reporting at once (paced one by one, ten objects at
//! 10,000 WECs took a fifth of the center's CPU). A pass's cost is the CPU time of its own
//! polls ([`orrery_runtime::cpu_timed`]), which other load does not inflate: paced by wall
//! time, the summaries fell behind exactly when the machine was busiest.
//!
//! A pass that writes a CombinedStatus counts four times ([`WRITE_FACTOR`]): the server's
//! work for the write (reading the request, merging, validating and storing the object,
//! sending it to watchers) costs about three times the CPU of the pass that computed it,
//! and the budget is for both. Measured on the project's machine, each alone: a pass over
//! 10,000 WECs costs 17–19 ms (`orrery bench summarizer`), a server-side apply of its
//! 10,000 rows 48–50 ms; at 1,000 WECs 2 ms and 2.7 ms, where the budget rarely binds.
//! Counted alone, the passes kept their share while their writes took twice as much
//! again, and a cheaper pass would only have meant more writes: the factor is to change
//! with what either costs.
//!
//! The window is for a busy process: it keeps the passes from taking the CPU the rest of
//! the center needs. When the process is idle (less than [`IDLE_CORES`] of a core over the
//! last [`IDLE_TICK`]), the objects waiting out their window that had no report during
//! that tick are summarized at once, so the last reports of a burst are summarized when
//! the burst ends, not up to a window later (measured at 1,000 WECs: the last summary came
//! 1.5–2 s after the last status, with the machine idle in between; at 10,000 the window
//! is at its 30 s cap). Both conditions: hurried on idleness alone, objects still
//! receiving reports were summarized a third more often during a burst at 2,500 WECs,
//! whenever the center's load dipped. The passes' own CPU counts, so passes hurried this
//! way cannot follow one another back to back.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// The shortest window: a single WEC's change is still summarized at once, and a burst to
/// a cheap object is summarized every 50 ms.
pub const MIN_WINDOW: Duration = Duration::from_millis(50);
/// The longest window: a summary is never staler than this while reports keep coming.
pub const MAX_WINDOW: Duration = Duration::from_secs(30);
/// How often the summarizer asks whether its process is idle.
pub const IDLE_TICK: Duration = Duration::from_millis(100);
/// A process using less than this many cores over an [`IDLE_TICK`] is idle. Half a core:
/// above the steady cost of heartbeats at 10,000 WECs, below the center's load while a
/// workload goes out.
pub const IDLE_CORES: f64 = 0.5;
/// Passes, their writes counted, may take at most this share of one core (1/SHARE) while
/// reports keep coming.
const SHARE: u32 = 10;
/// What a pass that writes a CombinedStatus counts for: its own cost and the server's for
/// the write, taken to be about three times as much.
pub const WRITE_FACTOR: u32 = 4;

/// The window after which an object may be summarized again, when one round of passes
/// over every busy object costs `round`.
pub fn window(round: Duration) -> Duration {
    round.saturating_mul(SHARE).clamp(MIN_WINDOW, MAX_WINDOW)
}

/// How long to wait before summarizing an object whose last pass started `since` ago
/// (`None`: never, or long enough ago to be forgotten), when a round costs `round`.
pub fn delay(since: Option<Duration>, round: Duration) -> Duration {
    match since {
        None => Duration::ZERO,
        Some(since) => window(round).saturating_sub(since),
    }
}

/// The passes of every object: when each last started and what it last cost.
#[derive(Debug)]
pub struct Pacer<K> {
    passes: HashMap<K, Pass>,
    /// Objects waiting out their window, and when each was last reported on.
    deferred: HashMap<K, Instant>,
    /// The round, and when it was added up: at most every [`MIN_WINDOW`], not for every
    /// report.
    round: Option<(Instant, Duration)>,
}

#[derive(Clone, Copy, Debug)]
struct Pass {
    started: Instant,
    cost: Duration,
    /// Whether the pass under way wrote a CombinedStatus.
    wrote: bool,
}

impl<K> Default for Pacer<K> {
    fn default() -> Self {
        Self { passes: HashMap::new(), deferred: HashMap::new(), round: None }
    }
}

impl<K: Hash + Eq + Clone> Pacer<K> {
    /// How long to wait, at `now`, before summarizing `key`.
    pub fn delay(&mut self, key: &K, now: Instant) -> Duration {
        let since = self.passes.get(key).map(|p| now.saturating_duration_since(p.started));
        if since.is_none_or(|s| s >= MAX_WINDOW) {
            return Duration::ZERO;
        }
        delay(since, self.round(now))
    }

    /// Notes that `key`, reported on at `now`, waits out its window (its delay was not
    /// zero).
    pub fn deferred(&mut self, key: &K, now: Instant) {
        match self.deferred.get_mut(key) {
            Some(last) => *last = now,
            None => {
                self.deferred.insert(key.clone(), now);
            }
        }
    }

    /// The objects waiting out their window with no report for `quiet` before `now`, to
    /// be summarized now: they no longer wait.
    pub fn take_quiet(&mut self, now: Instant, quiet: Duration) -> Vec<K> {
        self.deferred.extract_if(|_, last| now.saturating_duration_since(*last) >= quiet).map(|(k, _)| k).collect()
    }

    /// Notes that a pass over `key` starts at `now`; it keeps the cost of the one before
    /// until [`Self::finished`] says what this one cost.
    pub fn started(&mut self, key: &K, now: Instant) {
        self.deferred.remove(key);
        // Objects quiet for longer than the longest window pace nothing: drop them now and
        // then, so deleted objects do not pile up.
        if self.passes.len() > 4096 {
            self.passes.retain(|_, p| now.saturating_duration_since(p.started) < MAX_WINDOW);
        }
        let cost = self.passes.get(key).map_or(Duration::ZERO, |p| p.cost);
        self.passes.insert(key.clone(), Pass { started: now, cost, wrote: false });
    }

    /// Notes that the pass under way over `key` wrote a CombinedStatus.
    pub fn wrote(&mut self, key: &K) {
        if let Some(p) = self.passes.get_mut(key) {
            p.wrote = true;
        }
    }

    /// Notes what the pass over `key` cost itself: [`WRITE_FACTOR`] times that if it wrote.
    pub fn finished(&mut self, key: &K, cost: Duration) {
        if let Some(p) = self.passes.get_mut(key) {
            p.cost = if p.wrote { cost.saturating_mul(WRITE_FACTOR) } else { cost };
        }
    }

    /// One round: the last cost of every object summarized within the longest window.
    fn round(&mut self, now: Instant) -> Duration {
        if let Some((at, round)) = self.round
            && now.saturating_duration_since(at) < MIN_WINDOW
        {
            return round;
        }
        let round = self
            .passes
            .values()
            .filter(|p| now.saturating_duration_since(p.started) < MAX_WINDOW)
            .map(|p| p.cost)
            .sum();
        self.round = Some((now, round));
        round
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn quiet_objects_go_at_once_and_busy_ones_wait_out_their_window() {
        // (since the last pass started, one round) → delay
        let cases: &[(Option<Duration>, Duration, Duration)] = &[
            (None, MS(5), Duration::ZERO),
            (Some(MS(1000)), MS(5), Duration::ZERO), // quiet for longer than the window
            (Some(MS(20)), MS(1), MS(30)),           // cheap round: the minimum window
            (Some(MS(100)), MS(30), MS(200)),        // a 30 ms round: a 300 ms window
            (Some(MS(0)), Duration::from_secs(10), MAX_WINDOW), // costly: capped
        ];
        for (since, round, want) in cases {
            assert_eq!(delay(*since, *round), *want, "{since:?} {round:?}");
        }
    }

    #[test]
    fn the_window_grows_with_the_cost_of_a_round() {
        assert_eq!(window(Duration::ZERO), MIN_WINDOW);
        assert_eq!(window(MS(40)), MS(400));
        assert_eq!(window(Duration::from_secs(60)), MAX_WINDOW);
    }

    #[test]
    fn quiet_deferred_objects_are_handed_out_once_and_forgotten_when_they_run() {
        let t0 = Instant::now();
        let mut pacer = Pacer::default();
        pacer.deferred(&1, t0);
        pacer.deferred(&2, t0);
        pacer.deferred(&3, t0);
        pacer.deferred(&1, t0 + MS(50));
        pacer.started(&2, t0 + MS(60));
        let mut quiet = pacer.take_quiet(t0 + MS(100), MS(100));
        quiet.sort();
        assert_eq!(quiet, vec![3], "2 ran on its own; 1 was reported on 50 ms ago");
        assert_eq!(pacer.take_quiet(t0 + MS(150), MS(100)), vec![1], "quiet now, and once");
        assert!(pacer.take_quiet(t0 + MS(1000), MS(100)).is_empty());
    }

    /// Ten busy objects share one budget: each waits for the round of all ten, so together
    /// they take the share one object alone would.
    #[test]
    fn busy_objects_share_one_budget() {
        let t0 = Instant::now();
        let mut pacer = Pacer::default();
        assert_eq!(pacer.delay(&0, t0), Duration::ZERO, "never summarized");
        pacer.started(&0, t0);
        pacer.finished(&0, MS(10));
        assert_eq!(pacer.delay(&0, t0 + MS(40)), MS(60), "alone: 10 × 10 ms");

        let mut pacer = Pacer::default();
        for k in 0..10 {
            pacer.started(&k, t0);
            pacer.finished(&k, MS(10));
        }
        assert_eq!(pacer.delay(&3, t0 + MS(100)), MS(900), "ten objects: 10 × 100 ms");
        // The round is added up again once it is older than the shortest window.
        pacer.started(&3, t0 + MS(110));
        pacer.finished(&3, MS(60));
        assert_eq!(pacer.delay(&3, t0 + MS(130)), MS(980), "the round of 30 ms ago: 10 × 100 ms");
        assert_eq!(pacer.delay(&3, t0 + MS(200)), MS(1410), "added up anew: 10 × 150 ms");
        // Quiet past the longest window: at once, and out of the round.
        let later = t0 + MAX_WINDOW + MS(1);
        assert_eq!(pacer.delay(&5, later), Duration::ZERO);
        pacer.started(&5, later);
        pacer.finished(&5, MS(10));
        assert_eq!(pacer.delay(&5, later + MS(100)), MS(600), "10 × (60 + 10) ms: 3 and 5 only");
    }

    /// A pass that writes counts for the server's work as well; the next one, if it writes
    /// nothing, for itself alone.
    #[test]
    fn a_pass_that_writes_counts_four_times() {
        let t0 = Instant::now();
        let mut pacer = Pacer::default();
        pacer.started(&0, t0);
        pacer.wrote(&0);
        pacer.finished(&0, MS(10));
        assert_eq!(pacer.delay(&0, t0 + MS(50)), MS(350), "10 × 4 × 10 ms");
        pacer.started(&0, t0 + MS(200));
        pacer.finished(&0, MS(10));
        assert_eq!(pacer.delay(&0, t0 + MS(260)), MS(40), "10 × 10 ms: nothing written");
        pacer.wrote(&1);
        assert_eq!(pacer.delay(&1, t0 + MS(260)), Duration::ZERO, "a write noted for no pass changes nothing");
    }
}
