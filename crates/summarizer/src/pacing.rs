//! How often one object is summarized.
//!
//! A summary is computed over every WEC that runs the object, so one pass costs in
//! proportion to the number of WECs; when 1,000 WECs report within a few seconds, summarizing
//! after each report is quadratic and starves the rest of the center (measured with
//! `orrery bench scale`: at 1,000 WECs the summarizer took over half of the center's CPU and
//! the translator's copies waited minutes). So an object is summarized at once when it has
//! been quiet, and otherwise at most once per *window*: reports arriving in the meantime are
//! folded into the next pass. The window grows with what a pass costs, so that an object
//! with many WECs spends a bounded share of the center on its summary.

use std::time::Duration;

/// The shortest window: a single WEC's change is still summarized at once, and a burst to
/// a cheap object is summarized every 50 ms.
pub const MIN_WINDOW: Duration = Duration::from_millis(50);
/// The longest window: a summary is never staler than this while reports keep coming.
pub const MAX_WINDOW: Duration = Duration::from_secs(5);
/// A pass may take at most this share of the time (1/SHARE) while reports keep coming.
const SHARE: u32 = 10;

/// The window after a pass that took `took`.
pub fn window(took: Duration) -> Duration {
    took.saturating_mul(SHARE).clamp(MIN_WINDOW, MAX_WINDOW)
}

/// How long to wait before summarizing an object whose last pass started `since` ago and
/// took `took` (`None`: never summarized, or long enough ago to be forgotten).
pub fn delay(last: Option<(Duration, Duration)>) -> Duration {
    match last {
        None => Duration::ZERO,
        Some((since, took)) => window(took).saturating_sub(since),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn quiet_objects_go_at_once_and_busy_ones_wait_out_their_window() {
        // (since the last pass started, what it took) → delay
        let cases: &[(Option<(Duration, Duration)>, Duration)] = &[
            (None, Duration::ZERO),
            (Some((MS(1000), MS(5))), Duration::ZERO), // quiet for longer than the window
            (Some((MS(20), MS(2))), MS(30)),           // cheap pass: the minimum window
            (Some((MS(100), MS(60))), MS(500)),        // 60 ms pass: a 600 ms window
            (Some((MS(0), MS(2000))), MAX_WINDOW),     // costly pass: capped
        ];
        for (last, want) in cases {
            assert_eq!(delay(*last), *want, "{last:?}");
        }
    }

    #[test]
    fn the_window_grows_with_the_cost_of_a_pass() {
        assert_eq!(window(Duration::ZERO), MIN_WINDOW);
        assert_eq!(window(MS(40)), MS(400));
        assert_eq!(window(Duration::from_secs(60)), MAX_WINDOW);
    }
}
