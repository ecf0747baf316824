//! Which objects a list or watch returns: label and field selectors, with the field
//! labels each kind supports (an unsupported one is a 400, as in Kubernetes).

use super::Ctx;
use super::object;
use super::status::ApiError;
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
