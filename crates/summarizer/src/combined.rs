//! Where a CombinedStatus lives and what it says about itself (reference §1.2): one per
//! (workload object, placement), named `<object UID>.<placement UID>`, in the object's
//! namespace or `kubestellar-report` for a cluster-scoped object, labelled with the
//! object's group, resource, namespace and name and the placement's name.
//!
//! It is owned by the workload object, so the space's garbage collector deletes it with
//! the object.

use orrery_api::NamedStatusCombination;
use orrery_api::keys::combined_status::{API_GROUP, CLUSTER_SCOPED_NAMESPACE, NAME, NAMESPACE, PLACEMENT, RESOURCE};
use orrery_api::validation::names;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The workload object a CombinedStatus describes.
#[derive(Clone, Copy, Debug)]
pub struct Subject<'a> {
    pub api_version: &'a str,
    pub kind: &'a str,
    pub group: &'a str,
    pub resource: &'a str,
    pub namespace: Option<&'a str>,
    pub name: &'a str,
    pub uid: &'a str,
}

pub fn name(object_uid: &str, placement_uid: &str) -> String {
    format!("{object_uid}.{placement_uid}")
}

/// The prefix of every CombinedStatus name about one object.
pub fn name_prefix(object_uid: &str) -> String {
    format!("{object_uid}.")
}

pub fn namespace(subject_namespace: Option<&str>) -> &str {
    subject_namespace.unwrap_or(CLUSTER_SCOPED_NAMESPACE)
}

/// The labels naming the subject and placement. A value that cannot be a label value (a
/// name over 63 characters) is left out; the name and the owner reference still say it.
pub fn labels(subject: &Subject<'_>, placement: &str) -> BTreeMap<String, String> {
    [
        (API_GROUP, subject.group),
        (RESOURCE, subject.resource),
        (NAMESPACE, subject.namespace.unwrap_or("")),
        (NAME, subject.name),
        (PLACEMENT, placement),
    ]
    .into_iter()
    .filter(|(_, v)| names::label_value(v).is_empty())
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// The whole CombinedStatus, for a server-side apply, as the JSON text it is sent as.
///
/// Encoded straight from the tables: with a row per WEC, a CombinedStatus at 10,000 WECs
/// is 560 KB of text, and as a `serde_json::Value` it was about ten times that; the
/// summarizer's workers each building one at once made the center's peak memory.
pub fn object(
    subject: &Subject<'_>,
    placement: &str,
    placement_uid: &str,
    results: &[NamedStatusCombination],
) -> Result<Box<RawValue>, serde_json::Error> {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Body<'a> {
        api_version: &'a str,
        kind: &'a str,
        metadata: Value,
        results: &'a [NamedStatusCombination],
    }
    let metadata = json!({
        "name": name(subject.uid, placement_uid),
        "namespace": namespace(subject.namespace),
        "labels": labels(subject, placement),
        "ownerReferences": [{
            "apiVersion": subject.api_version,
            "kind": subject.kind,
            "name": subject.name,
            "uid": subject.uid,
        }],
    });
    let body = Body { api_version: orrery_api::API_VERSION, kind: "CombinedStatus", metadata, results };
    serde_json::value::to_raw_value(&body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject<'a>(namespace: Option<&'a str>, name: &'a str) -> Subject<'a> {
        Subject {
            api_version: "apps/v1",
            kind: "Deployment",
            group: "apps",
            resource: "deployments",
            namespace,
            name,
            uid: "u-1",
        }
    }

    fn object_value(subject: &Subject<'_>, results: &[NamedStatusCombination]) -> Value {
        let text = object(subject, "ep", "p-9", results).expect("encodes");
        serde_json::from_str(text.get()).expect("JSON")
    }

    #[test]
    fn placement_and_naming() {
        let cs = object_value(&subject(Some("web"), "nginx"), &[]);
        assert_eq!(cs["apiVersion"], orrery_api::API_VERSION);
        assert_eq!(cs["kind"], "CombinedStatus");
        assert_eq!(cs["metadata"]["name"], "u-1.p-9");
        assert_eq!(cs["metadata"]["namespace"], "web");
        assert_eq!(cs["metadata"]["labels"]["status.kubestellar.io/api-group"], "apps");
        assert_eq!(cs["metadata"]["labels"]["status.kubestellar.io/resource"], "deployments");
        assert_eq!(cs["metadata"]["labels"]["status.kubestellar.io/namespace"], "web");
        assert_eq!(cs["metadata"]["labels"]["status.kubestellar.io/name"], "nginx");
        assert_eq!(cs["metadata"]["labels"]["status.kubestellar.io/binding-policy"], "ep");
        assert_eq!(cs["metadata"]["ownerReferences"][0]["uid"], "u-1");

        let cluster_scoped = object_value(&subject(None, "nginx"), &[]);
        assert_eq!(cluster_scoped["metadata"]["namespace"], "kubestellar-report");
        assert_eq!(cluster_scoped["metadata"]["labels"]["status.kubestellar.io/namespace"], "");

        let table = NamedStatusCombination {
            name: "ready".into(),
            column_names: vec!["wec".into()],
            rows: Some(vec![orrery_api::StatusCombinationRow {
                columns: vec![orrery_api::Value {
                    type_: orrery_api::ValueType::String,
                    string: Some("wec1".into()),
                    ..Default::default()
                }],
            }]),
            ..Default::default()
        };
        let with_table = object_value(&subject(Some("web"), "nginx"), std::slice::from_ref(&table));
        assert_eq!(with_table["results"], serde_json::to_value([&table]).expect("encodes"));
        assert_eq!(with_table["results"][0]["rows"][0]["columns"][0]["string"], "wec1");

        let long = "n".repeat(70);
        let labels = labels(&subject(Some("web"), &long), "ep");
        assert!(!labels.contains_key(NAME), "too long for a label value");
        assert_eq!(labels.len(), 4);
    }
}
