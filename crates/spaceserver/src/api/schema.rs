//! Structural schemas of custom resources, applied as the apiserver does before storing:
//! prune fields the schema does not declare, fill in defaults, then validate types,
//! required fields, enums and bounds.

use orrery_api::validation::{FieldError, FieldErrors, FieldPath};
use serde_json::{Map, Value};

/// Removes undeclared fields (returning their paths) and fills in defaults.
pub fn prune_and_default(obj: &mut Value, schema: &Value) -> Vec<String> {
    let mut pruned = Vec::new();
    if let Value::Object(map) = obj {
        walk_object(map, schema, "", true, &mut pruned);
    }
    pruned
}

fn preserves_unknown(schema: &Value) -> bool {
    schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true))
}

fn walk_object(map: &mut Map<String, Value>, schema: &Value, path: &str, root: bool, pruned: &mut Vec<String>) {
    let props = schema.get("properties").and_then(Value::as_object);
    let additional = schema.get("additionalProperties").filter(|a| a.is_object());
    let embedded = schema.get("x-kubernetes-embedded-resource") == Some(&Value::Bool(true));
    let keep_meta = root || embedded;
    // Nulls of fields that are not nullable are dropped, as by the apiserver's decoder.
    map.retain(|k, v| {
        !v.is_null() || props.and_then(|p| p.get(k)).is_some_and(|s| s.get("nullable") == Some(&Value::Bool(true)))
    });
    if !preserves_unknown(schema) && (props.is_some() || additional.is_none()) {
        map.retain(|k, _| {
            let known = props.is_some_and(|p| p.contains_key(k))
                || (keep_meta && matches!(k.as_str(), "apiVersion" | "kind" | "metadata"));
            if !known {
                pruned.push(format!("{path}.{k}"));
            }
            known
        });
    }
    if let Some(props) = props {
        for (k, sub) in props {
            if !map.contains_key(k)
                && let Some(d) = sub.get("default")
            {
                map.insert(k.clone(), d.clone());
            }
            if keep_meta && k == "metadata" {
                continue;
            }
            if let Some(v) = map.get_mut(k) {
                walk(v, sub, &format!("{path}.{k}"), pruned);
            }
        }
    } else if let Some(add) = additional {
        for (k, v) in map.iter_mut() {
            walk(v, add, &format!("{path}.{k}"), pruned);
        }
    }
}

fn walk(v: &mut Value, schema: &Value, path: &str, pruned: &mut Vec<String>) {
    match v {
        Value::Object(map) => walk_object(map, schema, path, false, pruned),
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter_mut().enumerate() {
                    walk(item, item_schema, &format!("{path}[{i}]"), pruned);
                }
            }
        }
        _ => {}
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Checks an object against its schema; every problem with its path.
pub fn validate(obj: &Value, schema: &Value) -> FieldErrors {
    let mut errs = FieldErrors::default();
    if let (Value::Object(map), Some(props)) = (obj, schema.get("properties").and_then(Value::as_object)) {
        for (k, sub) in props {
            if k == "metadata" || k == "apiVersion" || k == "kind" {
                continue;
            }
            if let Some(v) = map.get(k) {
                check(v, sub, &FieldPath::new(k), &mut errs);
            }
        }
        required(map, schema, &FieldPath::default(), &mut errs);
    }
    errs
}

fn required(map: &Map<String, Value>, schema: &Value, path: &FieldPath, errs: &mut FieldErrors) {
    for r in schema.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
        if !map.contains_key(r) {
            errs.push(FieldError::required(path.child(r), ""));
        }
    }
}

fn check(v: &Value, schema: &Value, path: &FieldPath, errs: &mut FieldErrors) {
    let int_or_string = schema.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true));
    if let Some(want) = schema.get("type").and_then(Value::as_str) {
        let got = type_name(v);
        let ok = got == want
            || (want == "number" && got == "integer")
            || (v.is_null() && schema.get("nullable") == Some(&Value::Bool(true)))
            || (int_or_string && (got == "integer" || got == "string"));
        if !ok {
            errs.push(FieldError::invalid(path.clone(), v.to_string(), format!("must be of type {want}")));
            return;
        }
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array)
        && !options.contains(v)
    {
        let supported: Vec<String> =
            options.iter().map(|o| o.as_str().map(str::to_owned).unwrap_or_else(|| o.to_string())).collect();
        let refs: Vec<&str> = supported.iter().map(String::as_str).collect();
        errs.push(FieldError::not_supported(
            path.clone(),
            v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string()),
            &refs,
        ));
    }
    let bound = |key: &str| schema.get(key).and_then(Value::as_f64);
    match v {
        Value::Number(n) => {
            let x = n.as_f64().unwrap_or_default();
            if let Some(min) = bound("minimum").filter(|m| x < *m) {
                errs.push(FieldError::invalid(
                    path.clone(),
                    n.to_string(),
                    format!("should be greater than or equal to {min}"),
                ));
            }
            if let Some(max) = bound("maximum").filter(|m| x > *m) {
                errs.push(FieldError::invalid(
                    path.clone(),
                    n.to_string(),
                    format!("should be less than or equal to {max}"),
                ));
            }
        }
        Value::String(s) => {
            let len = s.chars().count() as f64;
            if bound("minLength").is_some_and(|m| len < m) || bound("maxLength").is_some_and(|m| len > m) {
                errs.push(FieldError::invalid(path.clone(), s.clone(), "has a length outside the allowed range"));
            }
        }
        Value::Array(items) => {
            let len = items.len() as f64;
            if bound("minItems").is_some_and(|m| len < m) || bound("maxItems").is_some_and(|m| len > m) {
                errs.push(FieldError::invalid(
                    path.clone(),
                    len.to_string(),
                    "has a number of items outside the allowed range",
                ));
            }
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    check(item, item_schema, &path.index(i), errs);
                }
            }
        }
        Value::Object(map) => {
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (k, sub) in props {
                    if let Some(child) = map.get(k) {
                        check(child, sub, &path.child(k), errs);
                    }
                }
            } else if let Some(add) = schema.get("additionalProperties").filter(|a| a.is_object()) {
                for (k, child) in map {
                    check(child, add, &path.key(k), errs);
                }
            }
            required(map, schema, path, errs);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "default": {},
                    "required": ["size"],
                    "properties": {
                        "size": {"type": "integer", "minimum": 1, "maximum": 10},
                        "mode": {"type": "string", "enum": ["fast", "slow"], "default": "fast"},
                        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2},
                        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                        "port": {"x-kubernetes-int-or-string": true},
                    }
                },
                "status": {"type": "object", "properties": {"phase": {"type": "string"}}}
            }
        })
    }

    #[test]
    fn prunes_unknown_fields_and_fills_defaults() {
        let mut obj = json!({
            "apiVersion": "x.io/v1", "kind": "X", "metadata": {"name": "a", "labels": {"k": "v"}},
            "spec": {"size": 2, "bogus": 1, "labels": {"a": "b"}, "free": {"anything": {"goes": true}}},
            "extra": true,
            "status": {"phase": "Up", "junk": 1}
        });
        let pruned = prune_and_default(&mut obj, &schema());
        assert_eq!(pruned, [".extra", ".spec.bogus", ".status.junk"]);
        assert_eq!(obj["spec"]["mode"], "fast");
        assert_eq!(obj["spec"]["free"]["anything"]["goes"], true);
        assert_eq!(obj["metadata"]["labels"]["k"], "v", "metadata is never pruned");
        let mut bare = json!({"apiVersion": "x.io/v1", "kind": "X", "metadata": {"name": "b"}});
        prune_and_default(&mut bare, &schema());
        assert_eq!(bare["spec"], json!({"mode": "fast"}), "an absent spec takes its default, then its own defaults");
    }

    #[test]
    fn validation_reports_every_problem() {
        let obj = json!({"spec": {"size": 20, "mode": "medium", "tags": ["a", "b", "c"], "labels": {"a": 1}, "port": "http"}});
        let errs: Vec<String> = validate(&obj, &schema()).iter().map(ToString::to_string).collect();
        assert_eq!(errs.len(), 4, "{errs:?}");
        assert!(
            errs.iter().any(|e| e.starts_with("spec.size: Invalid value: \"20\": should be less than or equal to 10"))
        );
        assert!(errs.iter().any(|e| e.starts_with("spec.mode: Unsupported value: \"medium\"")));
        assert!(errs.iter().any(|e| e.starts_with("spec.tags: Invalid value")));
        assert!(errs.iter().any(|e| e.starts_with("spec.labels[a]: Invalid value: \"1\": must be of type string")));
        let missing: Vec<String> = validate(&json!({"spec": {}}), &schema()).iter().map(ToString::to_string).collect();
        assert_eq!(missing, ["spec.size: Required value"]);
        assert!(validate(&json!({"spec": {"size": 3, "port": 8080}}), &schema()).is_empty());
    }
}
