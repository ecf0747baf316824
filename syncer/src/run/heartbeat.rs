//! Reporting in to the mailbox: `the-one`'s `status.lastSyncerHeartbeatTime`, which the
//! mailbox controller carries to the SyncTarget.

use super::Syncer;
use super::apply::send_unread;
use kube::api::{Api, Patch, PatchParams};
use orrery_api::keys::SYNCER_CONFIG_NAME;
use orrery_runtime::Shutdown;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// How often to report in: the syncer's own interval, or the one `the-one` grants when
/// that is longer (the mailbox controller spreads a large fleet's heartbeats out).
pub fn interval(own: Duration, granted: Option<Duration>) -> Duration {
    granted.map_or(own, |g| g.max(own))
}

/// Heartbeats missed while one was slow to deliver are not made up for: the next comes an
/// interval after the slow one returns. (Tokio's default bursts them: at 10,000 WECs, with
/// the center taking seconds to answer, syncers reported in every 2 s instead of every 10 s,
/// and loaded it further.)
fn ticks(mut interval: tokio::time::Interval) -> tokio::time::Interval {
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    interval
}

/// Reports in every [`interval`], starting at once; a new grant takes effect from the
/// heartbeat after the next one.
pub(super) async fn heartbeat(me: Arc<Syncer>, shutdown: Shutdown) {
    let api: Api<orrery_api::SyncerConfig> = Api::all(me.mailbox.clone());
    let request = kube::core::Request::new(api.resource_url());
    let mut granted = me.granted.subscribe();
    let mut every = interval(me.settings.heartbeat, *granted.borrow_and_update());
    me.telemetry.heartbeat_interval.set(every.as_secs_f64());
    let mut tick = ticks(tokio::time::interval(every));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            Ok(()) = granted.changed() => {
                let now = interval(me.settings.heartbeat, *granted.borrow_and_update());
                if now != every {
                    tracing::info!(seconds = now.as_secs_f64(), "heartbeat interval");
                    every = now;
                    me.telemetry.heartbeat_interval.set(every.as_secs_f64());
                    tick = ticks(tokio::time::interval_at(tokio::time::Instant::now() + every, every));
                }
                continue;
            }
            () = shutdown.wait() => return,
        }
        let now = jiff::Timestamp::now().round(jiff::Unit::Second).map(|t| t.to_string()).unwrap_or_default();
        let patch = Patch::Merge(json!({"status": {"lastSyncerHeartbeatTime": now}}));
        let write = request.patch_subresource("status", SYNCER_CONFIG_NAME, &PatchParams::default(), &patch);
        match send_unread(&me.mailbox, write).await {
            Ok(()) => {
                me.telemetry.contact();
                tracing::debug!("heartbeat");
            }
            Err(e) => tracing::debug!(error = %e, "heartbeat not delivered"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grant_only_lengthens_the_interval() {
        let s = Duration::from_secs;
        let cases = [(s(10), None, s(10)), (s(10), Some(s(80)), s(80)), (s(30), Some(s(20)), s(30))];
        for (own, granted, want) in cases {
            assert_eq!(interval(own, granted), want, "{own:?} {granted:?}");
        }
    }
}
