//! `as=Table` answers (what `kubectl get` prints): Name, the kind's columns (a CRD's
//! printer columns, a few built-in ones), Age; each row with the object's metadata.

use super::Ctx;
use super::resources::PrinterColumn;
use jsonpath_rust::JsonPath;
use serde_json::{Value, json};

pub fn wants_table(ctx: &Ctx) -> bool {
    ctx.accept.split(',').next().is_some_and(|first| first.contains("as=Table"))
}

fn include_object(ctx: &Ctx) -> bool {
    ctx.accept.contains("includeObject=Object")
}

/// Built-in columns besides Name and Age: (name, type, jsonPath, priority).
fn builtin_columns(group: &str, resource: &str) -> Vec<PrinterColumn> {
    let col = |name: &str, type_: &str, path: &str, priority: i32| PrinterColumn {
        name: name.into(),
        type_: type_.into(),
        format: None,
        description: None,
        priority,
        json_path: path.into(),
    };
    match (group, resource) {
        ("", "namespaces") => vec![col("Status", "string", ".status.phase", 0)],
        ("", "secrets") => vec![col("Type", "string", ".type", 0)],
        ("", "services") => {
            vec![col("Type", "string", ".spec.type", 0), col("Cluster-IP", "string", ".spec.clusterIP", 0)]
        }
        ("", "pods") => vec![col("Status", "string", ".status.phase", 0), col("Node", "string", ".spec.nodeName", 1)],
        ("", "events") => vec![
            col("Type", "string", ".type", 0),
            col("Reason", "string", ".reason", 0),
            col("Object", "string", ".involvedObject.name", 0),
            col("Message", "string", ".message", 0),
        ],
        ("apps", "deployments" | "replicasets" | "statefulsets") => vec![
            col("Replicas", "integer", ".spec.replicas", 0),
            col("Ready", "integer", ".status.readyReplicas", 0),
            col("Available", "integer", ".status.availableReplicas", 0),
        ],
        ("batch", "jobs") => vec![col("Succeeded", "integer", ".status.succeeded", 0)],
        ("apiextensions.k8s.io", "customresourcedefinitions") => {
            vec![col("Created At", "date", ".metadata.creationTimestamp", 0)]
        }
        _ => vec![],
    }
}

fn columns(ctx: &Ctx) -> Vec<PrinterColumn> {
    if ctx.info.custom {
        ctx.info.printer_columns.clone()
    } else {
        builtin_columns(&ctx.info.group, &ctx.info.resource)
    }
}

/// Evaluates a Kubernetes printer-column JSONPath (`.status.x`, `.metadata.labels['a\.b']`,
/// `.status.conditions[?(@.type=="Ready")].status`) against an object.
pub fn eval(obj: &Value, k8s_path: &str) -> Option<Value> {
    let mut path = String::from("$");
    let mut in_quotes = false;
    let mut chars = k8s_path.trim().trim_start_matches('{').trim_end_matches('}').chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                in_quotes = !in_quotes;
                path.push(c);
            }
            // Kubernetes escapes dots inside bracketed names; RFC 9535 does not.
            '\\' if in_quotes && chars.peek() == Some(&'.') => {}
            c => path.push(c),
        }
    }
    let found = obj.query(&path).ok()?;
    match found.as_slice() {
        [] => None,
        [one] => Some((*one).clone()),
        many => Some(Value::String(many.iter().map(|v| cell_text(v)).collect::<Vec<_>>().join(","))),
    }
}

fn cell_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Age as kubectl shows it: `45s`, `12m`, `5h`, `3d`.
fn age(obj: &Value) -> String {
    let created = obj.pointer("/metadata/creationTimestamp").and_then(Value::as_str);
    let Some(created) = created.and_then(|c| c.parse::<jiff::Timestamp>().ok()) else { return "<unknown>".into() };
    let secs = jiff::Timestamp::now().as_second().saturating_sub(created.as_second()).max(0);
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// Whether the table ends with Age: built-ins do (but CRDs, which show Created At), and
/// custom resources only when their CRD declares no columns of its own (as the apiserver).
fn with_age(ctx: &Ctx) -> bool {
    if ctx.info.custom {
        ctx.info.printer_columns.is_empty()
    } else {
        !(ctx.info.group == "apiextensions.k8s.io" && ctx.info.resource == "customresourcedefinitions")
    }
}

fn column_definitions(cols: &[PrinterColumn], age: bool) -> Vec<Value> {
    let mut defs = vec![
        json!({"name": "Name", "type": "string", "format": "name", "description": "Name must be unique within a namespace.", "priority": 0}),
    ];
    for c in cols {
        defs.push(json!({"name": c.name, "type": c.type_, "format": c.format.clone().unwrap_or_default(), "description": c.description.clone().unwrap_or_default(), "priority": c.priority}));
    }
    if age {
        defs.push(
            json!({"name": "Age", "type": "string", "format": "", "description": "CreationTimestamp", "priority": 0}),
        );
    }
    defs
}

fn row(ctx: &Ctx, cols: &[PrinterColumn], obj: &Value) -> Value {
    let mut cells = vec![obj.pointer("/metadata/name").cloned().unwrap_or(Value::Null)];
    for c in cols {
        let v = eval(obj, &c.json_path);
        cells.push(match (v, c.type_.as_str()) {
            (None, _) => Value::Null,
            (Some(v), "date") => Value::String(age(&json!({"metadata": {"creationTimestamp": v}}))),
            (Some(v), _) => v,
        });
    }
    if with_age(ctx) {
        cells.push(Value::String(age(obj)));
    }
    let object = if include_object(ctx) {
        obj.clone()
    } else {
        json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata").cloned().unwrap_or_default()})
    };
    json!({"cells": cells, "object": object})
}

pub fn list_table(ctx: &Ctx, metadata: Value, items: &[Value]) -> Value {
    let cols = columns(ctx);
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": column_definitions(&cols, with_age(ctx)),
        "rows": items.iter().map(|o| row(ctx, &cols, o)).collect::<Vec<_>>(),
    })
}

/// One object as a one-row Table (what a watch with a Table Accept carries per event).
pub fn row_table(ctx: &Ctx, obj: &Value) -> Value {
    let rv = obj.pointer("/metadata/resourceVersion").cloned().unwrap_or(Value::Null);
    list_table(ctx, json!({"resourceVersion": rv}), std::slice::from_ref(obj))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printer_column_paths() {
        let obj = json!({
            "metadata": {"name": "x", "labels": {"status.kubestellar.io/name": "web"}},
            "spec": {"replicas": 3},
            "status": {"conditions": [{"type": "Progressing", "status": "True"}, {"type": "Ready", "status": "False"}]}
        });
        let table = [
            (".spec.replicas", Some(json!(3))),
            (".metadata.labels['status\\.kubestellar\\.io/name']", Some(json!("web"))),
            (".status.conditions[?(@.type==\"Ready\")].status", Some(json!("False"))),
            (".status.conditions[*].type", Some(json!("Progressing,Ready"))),
            (".status.missing", None),
        ];
        for (path, want) in table {
            assert_eq!(eval(&obj, path), want, "{path}");
        }
    }

    #[test]
    fn ages_read_like_kubectl() {
        let at = |secs_ago: i64| {
            let t = jiff::Timestamp::now().as_second() - secs_ago;
            json!({"metadata": {"creationTimestamp": jiff::Timestamp::from_second(t).map(|t| t.to_string()).unwrap_or_default()}})
        };
        assert_eq!(age(&at(5)), "5s");
        assert_eq!(age(&at(600)), "10m");
        assert_eq!(age(&at(3 * 3600)), "3h");
        assert_eq!(age(&at(5 * 86_400)), "5d");
        assert_eq!(age(&json!({})), "<unknown>");
    }
}
