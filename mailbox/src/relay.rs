//! The wiring of heartbeats: `the-one` of every mailbox (one multi-space watch) to its
//! SyncTarget's status, and a periodic judgement of who has gone silent. A large fleet's
//! syncers are told, in `the-one`, to report in less often ([`granted_interval`]).

use crate::heartbeat::{HEARTBEAT_HEALTHY, granted_interval, health, refresh_period, timeout_for, transition_time};
use crate::{MailboxController, TargetKey};
use futures::StreamExt;
use jiff::Timestamp;
use kube::ResourceExt;
use kube::api::{Api, ApiResource, Patch, PatchParams};
use orrery_api::keys::{HEARTBEAT_INTERVAL, SYNCER_CONFIG_NAME, heartbeat_interval};
use orrery_api::{SyncTarget, SyncerConfig};
use orrery_spaces::{ManagedFields, MultiEvent};
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
}

impl Beat {
    fn status(&self) -> Option<&'static str> {
        self.written.map(|(status, _)| status)
    }

    /// How long this syncer may be silent, when the fleet is granted `granted` now.
    fn timeout(&self, timeout: Duration, granted: Option<Duration>) -> Duration {
        timeout_for(timeout, self.interval.max(granted))
    }
}

impl MailboxController {
    /// Follows `the-one` in every mailbox and records each new heartbeat.
    pub(crate) async fn relay_heartbeats(self: Arc<Self>) {
        let mut events = self.mailboxes.watch_all(ApiResource::erase::<SyncerConfig>(&()), ManagedFields::Skip);
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
            let granted = self.granted();
            if told != granted {
                self.grant(&t.space, granted).await;
            }
            // 10,000 syncers beating every 10 s must not mean 1,000 SyncTarget writes a
            // second: a heartbeat is copied when it is a refresh period newer than the one
            // last copied (and at once when the condition would change).
            let due = {
                let mut beats = self.beats();
                let refresh = refresh_period(beats.len(), self.heartbeat_timeout);
                let beat = beats.entry(key.clone()).or_default();
                if beat.last != Some(last) {
                    beat.interval = told;
                }
                beat.last = Some(last);
                let stale = beat.written_beat.is_none_or(|w| {
                    last.duration_since(w)
                        >= jiff::SignedDuration::try_from(refresh).unwrap_or(jiff::SignedDuration::MAX)
                });
                let timeout = beat.timeout(self.heartbeat_timeout, granted);
                stale || Some(health(beat.last, Timestamp::now(), timeout).status) != beat.status()
            };
            if due {
                self.write_health(&key).await;
            }
        }
    }

    /// Every few seconds, turns the condition False for syncers silent past the timeout.
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
                self.write_health(&key).await;
            }
        }
    }

    async fn write_health(&self, key: &TargetKey) {
        let Some(beat) = self.beats().get(key).cloned() else { return };
        let now = Timestamp::now().round(jiff::Unit::Second).unwrap_or_else(|_| Timestamp::now());
        let h = health(beat.last, now, beat.timeout(self.heartbeat_timeout, self.granted()));
        let transition = transition_time(beat.written, h.status, now);
        let severity = if h.status == "False" { Some("Error") } else { None };
        let status = json!({
            "lastSyncerHeartbeatTime": beat.last.map(|t| t.round(jiff::Unit::Second).map(|t| t.to_string()).unwrap_or_default()),
            "conditions": [{"type": HEARTBEAT_HEALTHY, "status": h.status, "severity": severity,
                            "reason": h.reason, "message": h.message, "lastTransitionTime": transition.to_string()}],
        });
        let result = match self.inventory.client(&key.0).await {
            Ok(client) => Api::<SyncTarget>::all(client)
                .patch_status(&key.1, &PatchParams::default(), &Patch::Merge(json!({"status": status})))
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match result {
            Ok(()) => {
                if let Some(b) = self.beats().get_mut(key) {
                    b.written = Some((h.status, transition));
                    b.written_beat = beat.last;
                }
            }
            Err(e) => tracing::warn!(target = ?key, error = %e, "writing the SyncTarget's heartbeat"),
        }
    }

    /// The interval the fleet's syncers are granted now ([`granted_interval`]).
    fn granted(&self) -> Option<Duration> {
        granted_interval(self.owners().len(), self.heartbeats_per_second)
    }

    /// Tells the syncer of `mailbox`, in its `the-one`, the interval it is granted (or
    /// that none is). Written as its heartbeats come, so a change of grant reaches the
    /// fleet over one heartbeat interval, not in one burst of writes.
    async fn grant(&self, mailbox: &str, interval: Option<Duration>) {
        let value = interval.map(|i| i.as_secs().to_string());
        let patch = json!({"metadata": {"annotations": {HEARTBEAT_INTERVAL: value}}});
        let params = PatchParams { field_manager: Some(crate::MANAGER.into()), ..Default::default() };
        let result = match self.mailboxes.client(mailbox).await {
            Ok(client) => Api::<SyncerConfig>::all(client)
                .patch(SYNCER_CONFIG_NAME, &params, &Patch::Merge(patch))
                .await
                .map(drop)
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = result {
            tracing::warn!(%mailbox, error = %e, "granting a heartbeat interval");
        }
    }
}
