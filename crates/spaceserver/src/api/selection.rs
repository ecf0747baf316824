//! Which objects a list or watch returns: label and field selectors, with the field
//! labels each kind supports (an unsupported one is a 400, as in Kubernetes).

use super::Ctx;
use super::object;
use super::status::ApiError;
use crate::store::{Key, ListFilter, Stored};
use orrery_api::selector::{FieldSelector, Selector, SelectorExt};
use serde_json::Value;

/// Field labels beyond `metadata.name` / `metadata.namespace`, per group and resource.
fn kind_fields(group: &str, resource: &str) -> &'static [&'static str] {
    match (group, resource) {
        ("", "events") | ("events.k8s.io", "events") => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        ("", "secrets") => &["type"],
        ("", "pods") => &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ],
        ("", "namespaces") => &["status.phase"],
        ("", "nodes") => &["spec.unschedulable"],
        ("apps", "replicasets") => &["status.replicas"],
        ("batch", "jobs") => &["status.successful"],
        _ => &[],
    }
}

/// A compiled selection for one request.
pub(crate) struct Selection {
    labels: Option<Selector>,
    fields: Option<FieldSelector>,
}

impl Selection {
    pub fn new(ctx: &Ctx) -> Result<Self, ApiError> {
        if let Some(fs) = &ctx.params.field_selector {
            let extra = kind_fields(&ctx.info.group, &ctx.info.resource);
            for r in fs.requirements() {
                let f = r.field.as_str();
                if f != "metadata.name" && f != "metadata.namespace" && !extra.contains(&f) {
                    return Err(ApiError::bad_request(format!(
                        "field label not supported: {f} (supported for {}: metadata.name, metadata.namespace{})",
                        ctx.info.resource,
                        extra.iter().map(|e| format!(", {e}")).collect::<String>()
                    )));
                }
            }
        }
        Ok(Self {
            labels: ctx.params.label_selector.clone().filter(|s| !s.selects_all()),
            fields: ctx.params.field_selector.clone().filter(|f| !f.is_empty()),
        })
    }

    pub fn selects_all(&self) -> bool {
        self.labels.is_none() && self.fields.is_none()
    }

    /// The store's filter for this selection, `None` when everything matches. The key
    /// decides where it can ([`Selection::by_key`]); otherwise the object is decoded.
    pub fn filter(self) -> Option<ListFilter> {
        (!self.selects_all()).then(|| -> ListFilter {
            Box::new(move |key: &Key, stored: &Stored| {
                self.by_key(key.namespace(), key.name())
                    .unwrap_or_else(|| serde_json::from_slice::<Value>(&stored.json).is_ok_and(|o| self.matches(&o)))
            })
        })
    }

    /// Whether an object of this name and namespace is selected, when that alone decides
    /// it: no label selector, and fields only `metadata.name` / `metadata.namespace` (the
    /// usual watch of one object). `None` when the object itself must be read. A watch can
    /// then tell every event's fate from its key, without decoding the object.
    pub fn by_key(&self, namespace: &str, name: &str) -> Option<bool> {
        if self.labels.is_some() {
            return None;
        }
        let Some(f) = &self.fields else { return Some(true) };
        let from_key = |field: &str| match field {
            "metadata.name" => Some(name),
            "metadata.namespace" => Some(namespace),
            _ => None,
        };
        if f.requirements().iter().any(|r| from_key(&r.field).is_none()) {
            return None;
        }
        Some(f.matches(from_key))
    }

    pub fn matches(&self, obj: &Value) -> bool {
        if let Some(l) = &self.labels
            && !l.matches(&object::labels(obj))
        {
            return false;
        }
        if let Some(f) = &self.fields {
            let values: Vec<(String, String)> =
                f.requirements().iter().map(|r| (r.field.clone(), field_value(obj, &r.field))).collect();
            return f.matches(|name| values.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str()));
        }
        true
    }
}

/// A field's value as a field selector sees it: strings as they are, other scalars printed.
fn field_value(obj: &Value, dotted: &str) -> String {
    let mut cur = obj;
    for part in dotted.split('.') {
        match cur.get(part) {
            Some(v) => cur = v,
            None => return String::new(),
        }
    }
    match cur {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn selection(labels: Option<&str>, fields: Option<&str>) -> Selection {
        Selection {
            labels: labels.map(|l| orrery_api::selector::parse_label_selector(l).expect("labels")),
            fields: fields.map(|f| FieldSelector::parse(f).expect("fields")),
        }
    }

    #[test]
    fn the_key_decides_only_name_and_namespace_selections() {
        let cases = [
            (None, None, Some(true)),
            (None, Some("metadata.name=the-one"), Some(true)),
            (None, Some("metadata.name=other"), Some(false)),
            (None, Some("metadata.name!=other,metadata.namespace=ns"), Some(true)),
            (None, Some("metadata.namespace!=ns"), Some(false)),
            (None, Some("metadata.name=the-one,status.phase=Active"), None),
            (Some("app=x"), None, None),
            (Some("app=x"), Some("metadata.name=the-one"), None),
        ];
        for (labels, fields, want) in cases {
            assert_eq!(selection(labels, fields).by_key("ns", "the-one"), want, "{labels:?} {fields:?}");
        }
    }

    /// Where the key decides, it decides as reading the object would.
    #[test]
    fn the_key_agrees_with_the_object() {
        let obj = json!({"metadata": {"name": "the-one", "namespace": "ns"}});
        for fields in ["metadata.name=the-one", "metadata.name=x", "metadata.namespace=ns,metadata.name!=y"] {
            let s = selection(None, Some(fields));
            assert_eq!(s.by_key("ns", "the-one"), Some(s.matches(&obj)), "{fields}");
        }
    }

    #[test]
    fn field_values() {
        let ev = json!({"metadata": {"name": "e"}, "involvedObject": {"name": "p", "kind": "Pod"}, "count": 3, "spec": {"unschedulable": true}});
        assert_eq!(field_value(&ev, "involvedObject.name"), "p");
        assert_eq!(field_value(&ev, "metadata.name"), "e");
        assert_eq!(field_value(&ev, "count"), "3");
        assert_eq!(field_value(&ev, "spec.unschedulable"), "true");
        assert_eq!(field_value(&ev, "missing.x"), "");
    }
}
