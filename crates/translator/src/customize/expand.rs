//! Parameter expansion: `%(name)` in string leaves becomes the destination's value of `name`.
//!
//! The rules are KubeStellar v0.14.2's (`pkg/customize/customize.go`) to the character, so
//! a workload written for KubeStellar lands the same way through orrery:
//!
//! - `%(name)` is replaced by the destination Location's label `name`, or failing that its
//!   annotation `name`. The name is every character up to the next `)`, so any label or
//!   annotation key works, `/` and `.` included (`%(example.com/zone)`).
//! - An unknown name is left in place as `%(name)` — and, unlike KubeStellar (which has a
//!   "TODO: report this"), returned to the caller so it can be raised as an Event.
//! - `%` followed by anything but `(` is copied unchanged together with that character, so
//!   `%%` stays `%%` (KubeStellar's doc comment promises `%%` → `%`; its code, which is what
//!   users' objects were tested against, does not do that). A consequence is that `%%(x)`
//!   is NOT expanded: the second `%` is consumed as the character after the first.
//! - A `%` at the very end stays `%`.
//! - An unterminated `%(name` at the end of the string takes the name to the end: a known
//!   name is replaced by its value (as KubeStellar does), an unknown one becomes `%(name)`
//!   (with the `)` added) and is reported.
//! - Only string values are expanded. Map keys are not (KubeStellar assigns back under the
//!   same key), and numbers, booleans and null are left alone.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;
use std::collections::BTreeMap;

/// The values `%(name)` can refer to: the destination Location's labels, then its
/// annotations (a label wins when both have the key).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params {
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
}

impl Params {
    /// Parameters from explicit label and annotation maps.
    pub fn new(labels: BTreeMap<String, String>, annotations: BTreeMap<String, String>) -> Self {
        Self { labels, annotations }
    }

    /// The parameters of a destination: its Location's labels and annotations, all of
    /// them in the Location's `metadata` (which is all the translator keeps of Locations).
    pub fn from_location(metadata: &ObjectMeta) -> Self {
        Self::new(metadata.labels.clone().unwrap_or_default(), metadata.annotations.clone().unwrap_or_default())
    }

    /// The value of parameter `name`: the label if there is one, else the annotation.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.labels.get(name).or_else(|| self.annotations.get(name)).map(String::as_str)
    }
}

/// Pushes `name` unless it is already there, keeping first-seen order (a parameter used
/// ten times is one problem, not ten).
fn note_unknown(unknown: &mut Vec<String>, name: &str) {
    if !unknown.iter().any(|n| n == name) {
        unknown.push(name.to_owned());
    }
}

/// `input` with every `%(name)` replaced (rules in the module doc), and the names that had
/// no value, each once, in order of first use.
pub fn expand_str(input: &str, params: &Params) -> (String, Vec<String>) {
    let mut unknown = Vec::new();
    let out = expand_into(input, params, &mut unknown);
    (out, unknown)
}

fn expand_into(input: &str, params: &Params, unknown: &mut Vec<String>) -> String {
    if !input.contains('%') {
        return input.to_owned();
    }
    let mut out = String::with_capacity(input.len());
    let mut chars = input.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            None => out.push('%'),
            Some('(') => {
                let rest = chars.as_str();
                let (name, after) = match rest.find(')') {
                    Some(close) => (&rest[..close], &rest[close + 1..]),
                    None => (rest, ""),
                };
                chars = after.chars();
                match params.get(name) {
                    Some(value) => out.push_str(value),
                    None => {
                        out.push_str("%(");
                        out.push_str(name);
                        out.push(')');
                        note_unknown(unknown, name);
                    }
                }
            }
            Some(other) => {
                out.push('%');
                out.push(other);
            }
        }
    }
    out
}

/// Expands every string leaf of `value` in place (map keys are left alone) and returns the
/// unknown parameter names, each once, in document order.
pub fn expand_value(value: &mut Value, params: &Params) -> Vec<String> {
    let mut unknown = Vec::new();
    expand_walk(value, params, &mut unknown);
    unknown
}

fn expand_walk(value: &mut Value, params: &Params, unknown: &mut Vec<String>) {
    match value {
        Value::String(s) => {
            if s.contains('%') {
                *s = expand_into(s, params, unknown);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| expand_walk(v, params, unknown)),
        Value::Object(members) => members.values_mut().for_each(|v| expand_walk(v, params, unknown)),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params() -> Params {
        let map = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Params::new(
            map(&[("env", "prod"), ("loc-name", "florin"), ("example.com/zone", "z1"), ("both", "label"), ("e", "")]),
            map(&[("both", "annotation"), ("owner", "team-a"), ("a)b", "never")]),
        )
    }

    #[test]
    fn expand_str_table() {
        let table: &[(&str, &str, &[&str])] = &[
            // nothing to do
            ("", "", &[]),
            ("plain text", "plain text", &[]),
            // the documented examples
            ("Running in %(loc-name).", "Running in florin.", &[]),
            ("env is %(env)", "env is prod", &[]),
            // labels first, then annotations
            ("%(both)", "label", &[]),
            ("%(owner)", "team-a", &[]),
            // names with `/` and `.` (any label or annotation key)
            ("zone=%(example.com/zone)", "zone=z1", &[]),
            // several, adjacent, repeated
            ("%(env)%(env)-%(loc-name)", "prodprod-florin", &[]),
            // a known parameter with an empty value
            ("[%(e)]", "[]", &[]),
            // unknown: left verbatim and reported once, in order of first use
            ("%(nope)", "%(nope)", &["nope"]),
            ("%(b) %(a) %(b)", "%(b) %(a) %(b)", &["b", "a"]),
            ("%(env) and %(nope)", "prod and %(nope)", &["nope"]),
            // the name stops at the first `)`: `a)b` can never be referenced
            ("%(a)b)", "%(a)b)", &["a"]),
            // empty name
            ("%()", "%()", &[""]),
            // `%` not followed by `(`: copied with the next character
            ("100%", "100%", &[]),
            ("50% off", "50% off", &[]),
            ("%d %s", "%d %s", &[]),
            // `%%` is not collapsed, and the second `%` does not start a parameter
            ("%%", "%%", &[]),
            ("%%(env)", "%%(env)", &[]),
            ("%%%(env)", "%%prod", &[]),
            // unterminated at the end: known is replaced, unknown gets its `)` and is reported
            ("x %(env", "x prod", &[]),
            ("x %(nope", "x %(nope)", &["nope"]),
            ("x %(", "x %()", &[""]),
            // `(` without `%` and `)` alone are plain text
            ("(env) %)", "(env) %)", &[]),
            // non-ASCII around and inside
            ("é%(env)ü", "éprodü", &[]),
            ("%(ñ)", "%(ñ)", &["ñ"]),
            ("%é", "%é", &[]),
        ];
        let p = params();
        for (input, want, want_unknown) in table {
            let (got, unknown) = expand_str(input, &p);
            assert_eq!(&got, want, "expanding {input:?}");
            assert_eq!(unknown, *want_unknown, "unknown names of {input:?}");
        }
    }

    #[test]
    fn no_parameters_means_every_reference_is_unknown() {
        let (got, unknown) = expand_str("%(env)/%(zone", &Params::default());
        assert_eq!(got, "%(env)/%(zone)");
        assert_eq!(unknown, ["env", "zone"]);
    }

    #[test]
    fn from_location_reads_labels_then_annotations() {
        let location: orrery_api::Location = serde_json::from_value(json!({
            "apiVersion": "edge.kubestellar.io/v2alpha1", "kind": "Location",
            "metadata": {"name": "florin", "labels": {"env": "prod", "k": "label"}, "annotations": {"k": "annotation", "note": "n"}},
            "spec": {"resource": {"group": "edge.kubestellar.io", "version": "v2alpha1", "resource": "synctargets"}}
        }))
        .expect("Location literal");
        let p = Params::from_location(&location.metadata);
        assert_eq!(p.get("env"), Some("prod"));
        assert_eq!(p.get("k"), Some("label"));
        assert_eq!(p.get("note"), Some("n"));
        assert_eq!(p.get("name"), None);
    }

    #[test]
    fn expand_value_walks_string_leaves_only() {
        let table: Vec<(Value, Value, &[&str])> = vec![
            (json!("%(env)"), json!("prod"), &[]),
            (json!(42), json!(42), &[]),
            (json!(null), json!(null), &[]),
            (json!(true), json!(true), &[]),
            // map keys are not expanded; values at every depth are
            (
                json!({"%(env)": "%(env)", "spec": {"a": ["%(loc-name)", 1, {"b": "%(owner)"}], "n": 3}}),
                json!({"%(env)": "prod", "spec": {"a": ["florin", 1, {"b": "team-a"}], "n": 3}}),
                &[],
            ),
            // unknown names are collected across the whole value, each once
            (
                json!({"a": "%(x)", "b": ["%(y)", "%(x)"], "c": "%(env)"}),
                json!({"a": "%(x)", "b": ["%(y)", "%(x)"], "c": "prod"}),
                &["x", "y"],
            ),
        ];
        let p = params();
        for (mut value, want, want_unknown) in table {
            let before = value.clone();
            let unknown = expand_value(&mut value, &p);
            assert_eq!(value, want, "expanding {before}");
            assert_eq!(unknown, want_unknown, "unknown names of {before}");
        }
    }
}
