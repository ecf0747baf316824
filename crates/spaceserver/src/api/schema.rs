//! Structural schemas of custom resources, applied as the apiserver does before storing:
//! prune fields the schema does not declare, fill in defaults, then validate types,
//! required fields, enums and bounds.

use orrery_api::validation::{FieldError, FieldErrors, FieldPath};
use serde_json::{Map, Value};

/// Where a walk is: a chain of steps kept on the walk's own stack, made into text only for
/// a message. (A path formatted at every node was a fifth of checking a 10,000-row
/// CombinedStatus.)
#[derive(Clone, Copy)]
struct At<'p> {
    up: Option<&'p At<'p>>,
    step: Step<'p>,
}

#[derive(Clone, Copy)]
enum Step<'a> {
    Root,
    /// A field the schema declares.
    Field(&'a str),
    /// An entry of a map with `additionalProperties`.
    Key(&'a str),
    Index(usize),
}

impl<'p> At<'p> {
    const ROOT: At<'static> = At { up: None, step: Step::Root };

    fn then(&'p self, step: Step<'p>) -> At<'p> {
        At { up: Some(self), step }
    }

    fn steps(&self) -> Vec<Step<'p>> {
        let mut steps = vec![self.step];
        let mut at = self.up;
        while let Some(a) = at {
            steps.push(a.step);
            at = a.up;
        }
        steps.reverse();
        steps
    }

    /// The path as a validation message names it: `spec.tags[0]`, `spec.labels[a]`.
    fn field_path(&self) -> FieldPath {
        self.steps().into_iter().fold(FieldPath::default(), |path, step| match step {
            Step::Root => path,
            Step::Field(name) => path.child(name),
            Step::Key(key) => path.key(key),
            Step::Index(i) => path.index(i),
        })
    }

    /// The path as pruning reports it: `.spec.tags[0]`.
    fn pruned_path(&self) -> String {
        let mut out = String::new();
        for step in self.steps() {
            match step {
                Step::Root => {}
                Step::Field(name) | Step::Key(name) => {
                    out.push('.');
                    out.push_str(name);
                }
                Step::Index(i) => out.push_str(&format!("[{i}]")),
            }
        }
        out
    }
}

/// The keywords of one schema node that pruning, defaulting and checking read, found in
/// one pass over the node instead of a lookup each.
#[derive(Default)]
struct Node<'s> {
    type_: Option<&'s str>,
    nullable: bool,
    int_or_string: bool,
    preserve_unknown: bool,
    embedded: bool,
    properties: Option<&'s Map<String, Value>>,
    additional: Option<&'s Value>,
    items: Option<&'s Value>,
    required: Option<&'s Vec<Value>>,
    options: Option<&'s Vec<Value>>,
    minimum: Option<f64>,
    maximum: Option<f64>,
    min_length: Option<f64>,
    max_length: Option<f64>,
    min_items: Option<f64>,
    max_items: Option<f64>,
}

impl<'s> Node<'s> {
    fn of(schema: &'s Value) -> Self {
        let mut node = Node::default();
        let Some(map) = schema.as_object() else { return node };
        for (k, v) in map {
            match k.as_str() {
                "type" => node.type_ = v.as_str(),
                "nullable" => node.nullable = v == &Value::Bool(true),
                "x-kubernetes-int-or-string" => node.int_or_string = v == &Value::Bool(true),
                "x-kubernetes-preserve-unknown-fields" => node.preserve_unknown = v == &Value::Bool(true),
                "x-kubernetes-embedded-resource" => node.embedded = v == &Value::Bool(true),
                "properties" => node.properties = v.as_object(),
                "additionalProperties" => node.additional = Some(v).filter(|a| a.is_object()),
                "items" => node.items = Some(v),
                "required" => node.required = v.as_array(),
                "enum" => node.options = v.as_array(),
                "minimum" => node.minimum = v.as_f64(),
                "maximum" => node.maximum = v.as_f64(),
                "minLength" => node.min_length = v.as_f64(),
                "maxLength" => node.max_length = v.as_f64(),
                "minItems" => node.min_items = v.as_f64(),
                "maxItems" => node.max_items = v.as_f64(),
                _ => {}
            }
        }
        node
    }
}

fn is_nullable(schema: &Value) -> bool {
    schema.get("nullable") == Some(&Value::Bool(true))
}

/// Removes undeclared fields (returning their paths) and fills in defaults.
pub fn prune_and_default(obj: &mut Value, schema: &Value) -> Vec<String> {
    let mut pruned = Vec::new();
    if let Value::Object(map) = obj {
        walk_object(map, schema, &At::ROOT, true, &mut pruned);
    }
    pruned
}

fn walk_object(map: &mut Map<String, Value>, schema: &Value, at: &At<'_>, root: bool, pruned: &mut Vec<String>) {
    let node = Node::of(schema);
    let props = node.properties;
    let keep_meta = root || node.embedded;
    // Nulls of fields that are not nullable are dropped, as by the apiserver's decoder.
    map.retain(|k, v| !v.is_null() || props.and_then(|p| p.get(k)).is_some_and(is_nullable));
    if !node.preserve_unknown && (props.is_some() || node.additional.is_none()) {
        map.retain(|k, _| {
            let known = props.is_some_and(|p| p.contains_key(k))
                || (keep_meta && matches!(k.as_str(), "apiVersion" | "kind" | "metadata"));
            if !known {
                pruned.push(at.then(Step::Field(k)).pruned_path());
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
                walk(v, sub, &at.then(Step::Field(k)), pruned);
            }
        }
    } else if let Some(add) = node.additional {
        for (k, v) in map.iter_mut() {
            walk(v, add, &at.then(Step::Key(k)), pruned);
        }
    }
}

fn walk(v: &mut Value, schema: &Value, at: &At<'_>, pruned: &mut Vec<String>) {
    match v {
        Value::Object(map) => walk_object(map, schema, at, false, pruned),
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter_mut().enumerate() {
                    walk(item, item_schema, &at.then(Step::Index(i)), pruned);
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
    let node = Node::of(schema);
    if let (Value::Object(map), Some(props)) = (obj, node.properties) {
        for (k, sub) in props {
            if k == "metadata" || k == "apiVersion" || k == "kind" {
                continue;
            }
            if let Some(v) = map.get(k) {
                check(v, sub, &At::ROOT.then(Step::Field(k)), &mut errs);
            }
        }
        required(map, &node, &At::ROOT, &mut errs);
    }
    errs
}

fn required(map: &Map<String, Value>, node: &Node<'_>, at: &At<'_>, errs: &mut FieldErrors) {
    for r in node.required.into_iter().flatten().filter_map(Value::as_str) {
        if !map.contains_key(r) {
            errs.push(FieldError::required(at.field_path().child(r), ""));
        }
    }
}

fn check(v: &Value, schema: &Value, at: &At<'_>, errs: &mut FieldErrors) {
    let node = Node::of(schema);
    if let Some(want) = node.type_ {
        let got = type_name(v);
        let ok = got == want
            || (want == "number" && got == "integer")
            || (v.is_null() && node.nullable)
            || (node.int_or_string && (got == "integer" || got == "string"));
        if !ok {
            errs.push(FieldError::invalid(at.field_path(), v.to_string(), format!("must be of type {want}")));
            return;
        }
    }
    if let Some(options) = node.options
        && !options.contains(v)
    {
        let supported: Vec<String> =
            options.iter().map(|o| o.as_str().map(str::to_owned).unwrap_or_else(|| o.to_string())).collect();
        let refs: Vec<&str> = supported.iter().map(String::as_str).collect();
        errs.push(FieldError::not_supported(
            at.field_path(),
            v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string()),
            &refs,
        ));
    }
    match v {
        Value::Number(n) => {
            let x = n.as_f64().unwrap_or_default();
            if let Some(min) = node.minimum.filter(|m| x < *m) {
                errs.push(FieldError::invalid(
                    at.field_path(),
                    n.to_string(),
                    format!("should be greater than or equal to {min}"),
                ));
            }
            if let Some(max) = node.maximum.filter(|m| x > *m) {
                errs.push(FieldError::invalid(
                    at.field_path(),
                    n.to_string(),
                    format!("should be less than or equal to {max}"),
                ));
            }
        }
        // Characters are counted only when a bound asks.
        Value::String(s) if node.min_length.is_some() || node.max_length.is_some() => {
            let len = s.chars().count() as f64;
            if node.min_length.is_some_and(|m| len < m) || node.max_length.is_some_and(|m| len > m) {
                errs.push(FieldError::invalid(at.field_path(), s.clone(), "has a length outside the allowed range"));
            }
        }
        Value::Array(items) => {
            let len = items.len() as f64;
            if node.min_items.is_some_and(|m| len < m) || node.max_items.is_some_and(|m| len > m) {
                errs.push(FieldError::invalid(
                    at.field_path(),
                    len.to_string(),
                    "has a number of items outside the allowed range",
                ));
            }
            if let Some(item_schema) = node.items {
                for (i, item) in items.iter().enumerate() {
                    check(item, item_schema, &at.then(Step::Index(i)), errs);
                }
            }
        }
        Value::Object(map) => {
            if let Some(props) = node.properties {
                for (k, sub) in props {
                    if let Some(child) = map.get(k) {
                        check(child, sub, &at.then(Step::Field(k)), errs);
                    }
                }
            } else if let Some(add) = node.additional {
                for (k, child) in map {
                    check(child, add, &at.then(Step::Key(k)), errs);
                }
            }
            required(map, &node, at, errs);
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
                        "ports": {"type": "array", "items": {"type": "object", "required": ["port"],
                                  "properties": {"port": {"type": "integer"}}}},
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
            "spec": {"size": 2, "bogus": 1, "labels": {"a": "b"}, "free": {"anything": {"goes": true}},
                     "ports": [{"port": 1, "name": "x"}]},
            "extra": true,
            "status": {"phase": "Up", "junk": 1}
        });
        let pruned = prune_and_default(&mut obj, &schema());
        assert_eq!(pruned, [".extra", ".spec.bogus", ".spec.ports[0].name", ".status.junk"]);
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
        let deep = json!({"spec": {"size": 1, "ports": [{"port": 80}, {"port": "x"}, {}]}});
        let deep: Vec<String> = validate(&deep, &schema()).iter().map(ToString::to_string).collect();
        assert_eq!(deep.len(), 2, "{deep:?}");
        assert!(
            deep[0].starts_with("spec.ports[1].port: Invalid value: \"\\\"x\\\"\": must be of type integer"),
            "{deep:?}"
        );
        assert_eq!(deep[1], "spec.ports[2].port: Required value");
        assert!(validate(&json!({"spec": {"size": 3, "port": 8080}}), &schema()).is_empty());
    }
}
