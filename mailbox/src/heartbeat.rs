//! Syncer heartbeats, from each mailbox's `the-one` to its SyncTarget: a platform team sees
//! `status.lastSyncerHeartbeatTime` and the condition `HeartbeatHealthy`, which turns False
//! when a syncer has been silent for longer than the timeout — and for how long.

use jiff::{SignedDuration, Timestamp};
use std::time::Duration;

/// The SyncTarget condition type (kcp's).
pub const HEARTBEAT_HEALTHY: &str = "HeartbeatHealthy";

/// What the condition says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Health {
    pub status: &'static str,
    pub reason: &'static str,
    pub message: String,
}

/// The condition for a syncer last heard from at `last` (never: `None`), seen at `now`.
pub fn health(last: Option<Timestamp>, now: Timestamp, timeout: Duration) -> Health {
    let Some(last) = last else {
        return Health {
            status: "Unknown",
            reason: "NoHeartbeat",
            message: "no syncer has reported in to this SyncTarget's mailbox yet".into(),
        };
    };
    let silent = now.duration_since(last).max(SignedDuration::ZERO);
    let timeout = SignedDuration::try_from(timeout).unwrap_or(SignedDuration::MAX);
    if silent <= timeout {
        Health { status: "True", reason: "Heartbeat", message: format!("the syncer reported in at {last}") }
    } else {
        Health {
            status: "False",
            reason: "HeartbeatTimeout",
            message: format!("no heartbeat for {}s (last at {last}, timeout {}s)", silent.as_secs(), timeout.as_secs()),
        }
    }
}

/// SyncTarget refreshes a second the whole fleet may cost when no condition changes.
pub const REFRESHES_PER_SECOND: u32 = 50;

/// How long an unchanged SyncTarget goes between copies of its syncer's heartbeat: a
/// third of the timeout, or longer once the fleet is so large that a third of the timeout
/// would cost more than [`REFRESHES_PER_SECOND`] SyncTarget writes a second (10,000
/// SyncTargets: 200 s). A SyncTarget write is not what keeps a syncer healthy (the mailbox
/// controller judges from the heartbeats in `the-one`, which it follows): it only tells
/// people when the syncer last reported in, so a large fleet's refresh is spread out, as
/// kubelets report an unchanged Node status every 5 minutes while renewing their Lease
/// every 10 s. A change of condition is written at once, whatever the fleet's size.
pub fn refresh_period(targets: usize, timeout: Duration) -> Duration {
    let spread = Duration::from_secs(targets as u64) / REFRESHES_PER_SECOND;
    (timeout / 3).max(spread)
}

/// Heartbeats a second the whole fleet may send by default: past that, syncers are told
/// to report in less often ([`granted_interval`]).
pub const HEARTBEATS_PER_SECOND: f64 = 200.0;

/// The syncers' default interval, and the unit of the intervals granted to a large fleet.
pub const BASE_INTERVAL: Duration = Duration::from_secs(10);

/// The shortest interval the syncers of a fleet of `targets` SyncTargets are told to keep,
/// so that the fleet sends at most `per_second` heartbeats a second (Nomad sizes its
/// clients' heartbeat TTL by the cluster in the same way): none while [`BASE_INTERVAL`]
/// keeps within it (up to 2,000 SyncTargets at the default 200 a second), then
/// [`BASE_INTERVAL`] times the power of two that does (4,000: 20 s; 10,000: 80 s). Powers
/// of two, so that a growing fleet changes the interval a few times, not with every
/// SyncTarget: every change is a write to each mailbox's `the-one`.
pub fn granted_interval(targets: usize, per_second: f64) -> Option<Duration> {
    let base_rate = per_second * BASE_INTERVAL.as_secs_f64();
    if base_rate.is_nan() || base_rate <= 0.0 || targets as f64 <= base_rate {
        return None;
    }
    let doublings = (targets as f64 / base_rate).log2().ceil().clamp(1.0, 16.0) as u32;
    Some(BASE_INTERVAL * 2u32.pow(doublings))
}

/// How long a syncer that may report in every `interval` can be silent before it counts
/// as gone: the configured timeout, or three intervals when that is longer.
pub fn timeout_for(timeout: Duration, interval: Option<Duration>) -> Duration {
    interval.map_or(timeout, |i| timeout.max(i * 3))
}

/// The condition's `lastTransitionTime` when it is written with `status` at `now`, after
/// `written` (the status last written and its transition time): kept while the status stays
/// the same, as Kubernetes conditions do, so that it says since when a syncer has been
/// healthy (or silent), not when the SyncTarget was last refreshed.
pub fn transition_time(written: Option<(&str, Timestamp)>, status: &str, now: Timestamp) -> Timestamp {
    match written {
        Some((was, at)) if was == status => at,
        _ => now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_transition_time_moves_only_when_the_status_changes() {
        let t = |s: i64| Timestamp::from_second(1_800_000_000 + s).expect("time");
        let cases = [
            (None, "Unknown", 5, 5),
            (Some(("Unknown", 0)), "True", 5, 5),
            (Some(("True", 5)), "True", 30, 5),
            (Some(("True", 5)), "False", 90, 90),
            (Some(("False", 90)), "False", 120, 90),
        ];
        for (written, status, now, want) in cases {
            let written = written.map(|(s, at)| (s, t(at)));
            assert_eq!(transition_time(written, status, t(now)), t(want), "{written:?} → {status} at {now}");
        }
    }

    #[test]
    fn a_large_fleet_is_granted_longer_intervals_in_powers_of_two() {
        let s = |n: u64| Some(Duration::from_secs(n));
        // (SyncTargets, heartbeats a second) → granted interval
        let cases = [
            (0, 200.0, None),
            (2_000, 200.0, None),
            (2_001, 200.0, s(20)),
            (4_000, 200.0, s(20)),
            (4_001, 200.0, s(40)),
            (10_000, 200.0, s(80)),
            (100_000, 200.0, s(640)),
            (3, 0.2, s(20)),
            (10, 0.0, None), // no budget: nothing granted, rather than forever
            (10, f64::NAN, None),
        ];
        for (targets, per_second, want) in cases {
            let granted = granted_interval(targets, per_second);
            assert_eq!(granted, want, "{targets} SyncTargets at {per_second}/s");
            if let Some(g) = granted {
                assert!(targets as f64 / g.as_secs_f64() <= per_second, "within the budget");
            }
        }
    }

    #[test]
    fn a_longer_interval_lengthens_the_timeout() {
        let s = Duration::from_secs;
        let cases = [(s(60), None, s(60)), (s(60), Some(s(20)), s(60)), (s(60), Some(s(80)), s(240))];
        for (timeout, interval, want) in cases {
            assert_eq!(timeout_for(timeout, interval), want, "{timeout:?} {interval:?}");
        }
    }

    #[test]
    fn refreshes_spread_out_as_the_fleet_grows() {
        let minute = Duration::from_secs(60);
        let cases = [
            (0, minute, 20),
            (1, minute, 20),
            (1_000, minute, 20),
            (1_500, minute, 30),
            (10_000, minute, 200),
            (10_000, Duration::from_secs(900), 300),
            (3, Duration::from_millis(300), 0),
        ];
        for (targets, timeout, want) in cases {
            let period = refresh_period(targets, timeout);
            assert_eq!(period.as_secs(), want, "{targets} SyncTargets, timeout {timeout:?}");
            if targets > 0 {
                let per_second = targets as f64 / period.as_secs_f64();
                assert!(per_second <= f64::from(REFRESHES_PER_SECOND) || period == timeout / 3, "{per_second}/s");
            }
        }
    }

    #[test]
    fn health_follows_the_last_heartbeat() {
        let t = |s: i64| Timestamp::from_second(1_800_000_000 + s).expect("time");
        let timeout = Duration::from_secs(60);
        let cases = [
            (None, 0, "Unknown", "NoHeartbeat"),
            (Some(0), 0, "True", "Heartbeat"),
            (Some(0), 60, "True", "Heartbeat"),
            (Some(0), 61, "False", "HeartbeatTimeout"),
            (Some(10), 0, "True", "Heartbeat"),
        ];
        for (last, now, status, reason) in cases {
            let h = health(last.map(t), t(now), timeout);
            assert_eq!((h.status, h.reason), (status, reason), "last {last:?}, now {now}");
        }
        let late = health(Some(t(0)), t(95), timeout);
        assert!(late.message.contains("no heartbeat for 95s"), "{}", late.message);
    }
}
