//! Annotation and label keys that carry meaning between orrery's components and users.
//! The values are KubeStellar's, so objects written for KubeStellar behave the same here.

/// `"true"` on a workload object: replace every `%(key)` in its string leaves with the
/// destination Location's label (or, failing that, annotation) `key`.
pub const EXPAND_PARAMETERS: &str = "edge.kubestellar.io/expand-parameters";

/// Names the Customizer to apply: `name` (same namespace) or `namespace/name` (for
/// cluster-scoped objects).
pub const CUSTOMIZER: &str = "edge.kubestellar.io/customizer";

/// Label on every object the placement translator writes into a mailbox: `yes`.
pub const PROJECTED: &str = "edge.kubestellar.io/projected";

/// The value of [`PROJECTED`]: KubeStellar selects mailbox copies with `projected=yes`.
pub const PROJECTED_VALUE: &str = "yes";

/// Annotation `kubectl apply` keeps on objects it applied (the last applied JSON). It
/// describes the WDS object, not the copy, so it never travels.
pub const LAST_APPLIED_CONFIGURATION: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Annotation a multi-space (wildcard) list or watch puts on each object to name the space
/// it lives in (kcp's key). It describes where the source object is, so it never travels.
pub const SPACE: &str = "kcp.io/cluster";

/// Label the API server's bootstrap RBAC objects (`cluster-admin`, `system:*`) carry, with
/// value [`RBAC_DEFAULTS`]. Every cluster has its own; orrery never sends the center's.
pub const BOOTSTRAPPING: &str = "kubernetes.io/bootstrapping";

/// The value of [`BOOTSTRAPPING`] on bootstrap RBAC objects.
pub const RBAC_DEFAULTS: &str = "rbac-defaults";

/// The `type` of the Secrets holding orrery space-access tokens. They are credentials for
/// the center, so they never travel to a WEC.
pub const SPACE_TOKEN_SECRET_TYPE: &str = "orrery.io/space-token";

/// Annotation the syncer puts on objects it created in a WEC.
pub const DOWNSYNCED: &str = "edge.kubestellar.io/downsynced";

/// Annotation the syncer puts on objects it copied up from a WEC.
pub const UPSYNCED: &str = "edge.kubestellar.io/upsynced";

/// `"false"` on a workload object: create it in the WEC but never overwrite it there.
pub const DOWNSYNC_OVERWRITE: &str = "edge.kubestellar.io/downsync-overwrite";

/// Annotation on a SinglePlacementSlice naming the EdgePlacement it was computed for.
pub const SOURCE_PLACEMENT: &str = "edge.kubestellar.io/source-placement";

/// Annotation on a mailbox space naming the SyncTarget it serves.
pub const SYNC_TARGET_NAME: &str = "edge.kubestellar.io/sync-target-name";

/// Annotation on a WDS object: how many WECs run it (maintained for singleton status).
pub const EXECUTING_COUNT: &str = "kubestellar.io/executing-count";

/// Annotation on a WDS object whose placements ask for singleton status: where its
/// `.status` comes from, or why it is not returned (e.g. `not returned: 3 qualified WECs`).
/// Maintained by the status summarizer; its presence also means the summarizer owns the
/// object's `.status`, and clears it when singleton status is no longer asked for.
pub const SINGLETON_STATUS: &str = "orrery.io/singleton-status";

/// Prefix of the numbered annotations (`…/1`, `…/2`) that carry validation errors.
pub const VALIDATION_ERROR_PREFIX: &str = "validation-error.kubestellar.io/";

/// The one SyncerConfig a mailbox holds.
pub const SYNCER_CONFIG_NAME: &str = "the-one";

/// Annotation on `the-one`, set by the mailbox controller when the fleet is large: the
/// shortest interval, in whole seconds, at which the mailbox's syncer may report in.
pub const HEARTBEAT_INTERVAL: &str = "orrery.io/heartbeat-interval";

/// The interval a [`HEARTBEAT_INTERVAL`] value grants; `None` when missing, zero or not a
/// whole number of seconds.
pub fn heartbeat_interval(value: Option<&str>) -> Option<std::time::Duration> {
    let seconds: u64 = value?.trim().parse().ok()?;
    (seconds > 0).then(|| std::time::Duration::from_secs(seconds))
}

/// Labels of a CombinedStatus that name the workload object and placement it describes.
pub mod combined_status {
    pub const API_GROUP: &str = "status.kubestellar.io/api-group";
    pub const RESOURCE: &str = "status.kubestellar.io/resource";
    pub const NAMESPACE: &str = "status.kubestellar.io/namespace";
    pub const NAME: &str = "status.kubestellar.io/name";
    pub const PLACEMENT: &str = "status.kubestellar.io/binding-policy";
    /// Where CombinedStatus objects about cluster-scoped workload objects live.
    pub const CLUSTER_SCOPED_NAMESPACE: &str = "kubestellar-report";
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn heartbeat_intervals_are_whole_seconds() {
        let cases = [
            (None, None),
            (Some("80"), Some(Duration::from_secs(80))),
            (Some(" 20 "), Some(Duration::from_secs(20))),
            (Some("0"), None),
            (Some("-5"), None),
            (Some("1.5"), None),
            (Some("80s"), None),
        ];
        for (value, want) in cases {
            assert_eq!(heartbeat_interval(value), want, "{value:?}");
        }
    }
}
