//! The wiring of heartbeats: `the-one` of every mailbox (one multi-space watch) to its
//! SyncTarget's status, and a periodic judgement of who has gone silent. A large fleet's
//! syncers are told, in `the-one`, to report in less often ([`granted_interval`]).

use crate::heartbeat::{HEARTBEAT_HEALTHY, granted_interval, health, refresh_period, timeout_for, transition_time};
use crate::{MailboxController, MailboxError, TargetKey};
use futures::StreamExt;
use jiff::Timestamp;
use kube::ResourceExt;
use kube::api::{Api, ApiResource, Patch, PatchParams};
use orrery_api::keys::{HEARTBEAT_INTERVAL, SYNCER_CONFIG_NAME, heartbeat_interval};
use orrery_api::{SyncTarget, SyncerConfig};
use orrery_spaces::{Fields, MultiEvent};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// What is known of one SyncTarget's syncer.
#[derive(Clone, Debug, Default)]
pub(crate) struct Beat {
    last: Option<Timestamp>,
    /// The condition status last written and its transition time (`None`: not yet).
    written: Option<(&'static str, Timestamp)>,
    /// The heartbeat last written into the SyncTarget.
    written_beat: Option<Timestamp>,
    /// The interval `the-one` granted when the last heartbeat came: until the next one,
    /// the syncer may still be keeping it, however the grant has changed since.
    interval: Option<Duration>,
    /// The mailbox whose `the-one` the syncer reports in.
    mailbox: String,
    /// What `the-one` granted in the newest event seen, and that event's resourceVersion.
    told: Option<Duration>,
    told_at: Option<u64>,
    /// The grant this controller last wrote into `the-one`, and the resourceVersion the
    /// write made.
    grant_written: Option<(Option<Duration>, Option<u64>)>,
}

impl Beat {
    fn status(&self) -> Option<&'static str> {
        self.written.map(|(status, _)| status)
    }

    /// How long this syncer may be silent, when the fleet is granted `granted` now.
    fn timeout(&self, timeout: Duration, granted: Option<Duration>) -> Duration {
        timeout_for(timeout, self.interval.max(granted))
    }

    /// Whether the SyncTarget is due a write at `now`: its condition would change, or the
    /// heartbeat is a `refresh` period newer than the one last copied.
    fn health_due(&self, now: Timestamp, refresh: Duration, timeout: Duration) -> bool {
        let stale = match (self.last, self.written_beat) {
            (Some(last), Some(w)) => {
                last.duration_since(w) >= jiff::SignedDuration::try_from(refresh).unwrap_or(jiff::SignedDuration::MAX)
            }
            (Some(_), None) => true,
            (None, _) => false,
        };
        stale || Some(health(self.last, now, timeout).status) != self.status()
    }
}

/// Whether `the-one` must be told `granted`: it says `told` (in the event at resourceVersion
/// `told_at`), and that event is not older than this controller's own last write of
/// `granted` (`written`: the grant and the resourceVersion it made). Events queued before
/// that write still show the old grant; answering each with another write was 33,000
/// writes at 10,000 WECs. An unreadable resourceVersion counts as newer.
pub(crate) fn grant_due(
    told: Option<Duration>,
    told_at: Option<u64>,
    granted: Option<Duration>,
    written: Option<(Option<Duration>, Option<u64>)>,
) -> bool {
    if told == granted {
        return false;
    }
    match written {
        Some((w, Some(at))) if w == granted => told_at.is_none_or(|t| t > at),
        _ => true,
    }
}

impl MailboxController {
    /// Follows `the-one` in every mailbox, records each heartbeat and grant, and queues the
    /// SyncTargets whose `the-one` or status need a write. The writes are the queue's
    /// (`sync_beat`), never this loop's: awaited here, one after the other, they held back
    /// the events behind them (minutes at 10,000 WECs), and decisions made on old events
    /// were wrong.
    pub(crate) async fn relay_heartbeats(self: Arc<Self>) {
        let mut events = self.mailboxes.watch_all(ApiResource::erase::<SyncerConfig>(&()), Fields::Unmanaged);
        while let Some(event) = events.next().await {
            let t = match event {
                Ok(MultiEvent::Apply(t) | MultiEvent::InitApply(t)) => t,
                Ok(_) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "SyncerConfig watch");
                    continue;
                }
            };
            let Some(key) = self.owners().get(&t.space).cloned() else { continue };
            let last = t
                .object
                .data
                .pointer("/status/lastSyncerHeartbeatTime")
                .and_then(|v| v.as_str())
                .and_then(|v| v.parse::<Timestamp>().ok());
            let Some(last) = last else { continue };
            let told = heartbeat_interval(t.object.annotations().get(HEARTBEAT_INTERVAL).map(String::as_str));
            let told_at = t.object.metadata.resource_version.as_deref().and_then(|v| v.parse().ok());
            let granted = self.granted();
            let due = {
                let mut beats = self.beats();
                // 10,000 syncers beating every 10 s must not mean 1,000 SyncTarget writes a
                // second: see `refresh_period`.
                let refresh = refresh_period(beats.len(), self.heartbeat_timeout);
                let beat = beats.entry(key.clone()).or_default();
                if beat.last != Some(last) {
                    beat.interval = told;
                }
                beat.last = Some(last);
                if beat.mailbox != t.space {
                    beat.mailbox.clone_from(&t.space);
                }
                (beat.told, beat.told_at) = (told, told_at);
                grant_due(told, told_at, granted, beat.grant_written)
                    || beat.health_due(Timestamp::now(), refresh, beat.timeout(self.heartbeat_timeout, granted))
            };
            if due {
                self.beat_queue.add(key);
            }
        }
    }

    /// Every few seconds, queues the SyncTargets of syncers silent past the timeout.
    pub(crate) async fn judge_heartbeats(self: Arc<Self>) {
        let every = (self.heartbeat_timeout / 4)
            .clamp(std::time::Duration::from_millis(100), std::time::Duration::from_secs(5));
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            let now = Timestamp::now();
            let granted = self.granted();
            let due: Vec<TargetKey> = self
                .beats()
                .iter()
                .filter(|(_, b)| {
                    Some(health(b.last, now, b.timeout(self.heartbeat_timeout, granted)).status) != b.status()
                })
                .map(|(k, _)| k.clone())
                .collect();
            for key in due {
                self.beat_queue.add(key);
            }
        }
    }

    /// Writes what one SyncTarget's syncer is due: its grant into `the-one`, its
    /// heartbeat and condition into the SyncTarget.
    pub(crate) async fn sync_beat(&self, key: &TargetKey) -> Result<(), MailboxError> {
        let granted = self.granted();
        let (beat, refresh) = {
            let beats = self.beats();
            let Some(beat) = beats.get(key).cloned() else { return Ok(()) };
            (beat, refresh_period(beats.len(), self.heartbeat_timeout))
        };
        if grant_due(beat.told, beat.told_at, granted, beat.grant_written) {
            let at = self.grant(&beat.mailbox, granted).await?;
            if let Some(b) = self.beats().get_mut(key) {
                b.grant_written = Some((granted, at));
            }
        }
        if beat.health_due(Timestamp::now(), refresh, beat.timeout(self.heartbeat_timeout, granted)) {
            self.write_health(key).await?;
        }
        Ok(())
    }

    async fn write_health(&self, key: &TargetKey) -> Result<(), MailboxError> {
        let Some(beat) = self.beats().get(key).cloned() else { return Ok(()) };
        let now = Timestamp::now().round(jiff::Unit::Second).unwrap_or_else(|_| Timestamp::now());
        let h = health(beat.last, now, beat.timeout(self.heartbeat_timeout, self.granted()));
        let transition = transition_time(beat.written, h.status, now);
        let severity = if h.status == "False" { Some("Error") } else { None };
        let status = json!({
            "lastSyncerHeartbeatTime": beat.last.map(|t| t.round(jiff::Unit::Second).map(|t| t.to_string()).unwrap_or_default()),
            "conditions": [{"type": HEARTBEAT_HEALTHY, "status": h.status, "severity": severity,
                            "reason": h.reason, "message": h.message, "lastTransitionTime": transition.to_string()}],
        });
        Api::<SyncTarget>::all(self.inventory.client(&key.0).await?)
            .patch_status(&key.1, &PatchParams::default(), &Patch::Merge(json!({"status": status})))
            .await?;
        if let Some(b) = self.beats().get_mut(key) {
            b.written = Some((h.status, transition));
            b.written_beat = beat.last;
        }
        Ok(())
    }

    /// The interval the fleet's syncers are granted now ([`granted_interval`]).
    fn granted(&self) -> Option<Duration> {
        granted_interval(self.owners().len(), self.heartbeats_per_second)
    }

    /// Tells the syncer of `mailbox`, in its `the-one`, the interval it is granted (or
    /// that none is); returns the resourceVersion written. Written as its heartbeats come,
    /// so a change of grant reaches the fleet over one heartbeat interval, not in one burst
    /// of writes.
    async fn grant(&self, mailbox: &str, interval: Option<Duration>) -> Result<Option<u64>, MailboxError> {
        let value = interval.map(|i| i.as_secs().to_string());
        let patch = json!({"metadata": {"annotations": {HEARTBEAT_INTERVAL: value}}});
        let params = PatchParams { field_manager: Some(crate::MANAGER.into()), ..Default::default() };
        let written = Api::<SyncerConfig>::all(self.mailboxes.client(mailbox).await?)
            .patch(SYNCER_CONFIG_NAME, &params, &Patch::Merge(patch))
            .await?;
        Ok(written.metadata.resource_version.as_deref().and_then(|v| v.parse().ok()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grant_is_written_once_for_the_events_before_it() {
        let s = |n: u64| Some(Duration::from_secs(n));
        // (told, at resourceVersion, granted now, last written) → due
        let cases = [
            (s(80), Some(5), s(80), None, false),
            (None, Some(5), None, Some((s(80), Some(9))), false),
            (None, Some(5), s(80), None, true),
            // Events from before the write still show the old grant.
            (None, Some(5), s(80), Some((s(80), Some(9))), false),
            (None, Some(9), s(80), Some((s(80), Some(9))), false),
            // After it, someone took the grant away: written again.
            (None, Some(10), s(80), Some((s(80), Some(9))), true),
            (None, None, s(80), Some((s(80), Some(9))), true),
            (None, Some(5), s(80), Some((s(80), None)), true),
            // The fleet grew since the last write.
            (s(40), Some(12), s(80), Some((s(40), Some(9))), true),
            (s(40), Some(5), s(80), Some((s(40), Some(9))), true),
        ];
        for (told, at, granted, written, want) in cases {
            assert_eq!(grant_due(told, at, granted, written), want, "{told:?}@{at:?} {granted:?} {written:?}");
        }
    }

    #[test]
    fn a_syncer_target_is_due_a_write_when_its_condition_changes_or_its_beat_is_stale() {
        let t = |s: i64| Timestamp::from_second(1_800_000_000 + s).expect("time");
        let minute = Duration::from_secs(60);
        let beat = |last: Option<i64>, written: Option<(&'static str, i64)>, written_beat: Option<i64>| Beat {
            last: last.map(t),
            written: written.map(|(s, at)| (s, t(at))),
            written_beat: written_beat.map(t),
            ..Beat::default()
        };
        // (beat, now, refresh) → due
        let cases = [
            (beat(None, None, None), 0, 20, true),
            (beat(None, Some(("Unknown", 0)), None), 0, 20, false),
            (beat(Some(0), None, None), 0, 20, true),
            (beat(Some(10), Some(("True", 0)), Some(0)), 10, 20, false),
            (beat(Some(20), Some(("True", 0)), Some(0)), 20, 20, true),
            (beat(Some(10), Some(("True", 0)), Some(0)), 100, 200, true),
        ];
        for (b, now, refresh, want) in cases {
            let due = b.health_due(t(now), Duration::from_secs(refresh), minute);
            assert_eq!(due, want, "{b:?} at {now}, refresh {refresh}");
        }
    }
}
