//! Events are one storage seen through two APIs: core `v1` Events (what kubectl describe
//! reads) and `events.k8s.io/v1` Events (what kube-runtime's recorder writes). They are
//! stored in the core shape and renamed field by field on the way in and out.

use serde_json::{Map, Value};

/// (events.k8s.io/v1 name, core/v1 name); the remaining fields are shared.
const RENAMES: [(&str, &str); 7] = [
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("reportingController", "reportingComponent"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
];

fn rename(obj: &mut Value, to_core: bool) {
    let Some(map) = obj.as_object_mut() else { return };
    let mut moved = Map::new();
    for (events, core) in RENAMES {
        let (from, to) = if to_core { (events, core) } else { (core, events) };
        if let Some(v) = map.remove(from) {
            moved.insert(to.to_owned(), v);
        }
    }
    map.extend(moved);
}

pub(super) fn is_events_api(group: &str, resource: &str) -> bool {
    group == "events.k8s.io" && resource == "events"
}

/// The stored (core `v1`) shape of an object sent through `group`'s API.
pub fn to_storage(group: &str, resource: &str, obj: &mut Value) {
    if is_events_api(group, resource) {
        rename(obj, true);
        if let Some(map) = obj.as_object_mut() {
            map.insert("apiVersion".into(), Value::String("v1".into()));
        }
    }
}

/// The shape `group`'s API shows of a stored object.
pub fn from_storage(group: &str, resource: &str, obj: &mut Value) {
    if is_events_api(group, resource) {
        rename(obj, false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_round_trip_between_the_two_apis() {
        let new_style = json!({
            "metadata": {"name": "e1"},
            "regarding": {"kind": "Pod", "name": "p"},
            "note": "pulled",
            "reason": "Pulled",
            "type": "Normal",
            "reportingController": "kubelet",
            "reportingInstance": "node-1",
            "eventTime": "2024-01-01T00:00:00.000000Z",
            "deprecatedCount": 3,
        });
        let mut stored = new_style.clone();
        to_storage("events.k8s.io", "events", &mut stored);
        assert_eq!(stored["apiVersion"], "v1", "stored as a core Event");
        stored.as_object_mut().map(|o| o.remove("apiVersion"));
        assert_eq!(stored["involvedObject"]["name"], "p");
        assert_eq!(stored["message"], "pulled");
        assert_eq!(stored["reportingComponent"], "kubelet");
        assert_eq!(stored["count"], 3);
        assert!(stored.get("note").is_none() && stored.get("regarding").is_none());
        from_storage("events.k8s.io", "events", &mut stored);
        assert_eq!(stored, new_style);
        let mut core = json!({"message": "m"});
        from_storage("", "events", &mut core);
        assert_eq!(core, json!({"message": "m"}), "the core API reads the stored shape as it is");
    }
}
