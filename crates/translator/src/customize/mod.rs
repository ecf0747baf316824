//! Per-destination customization of a workload object (KubeStellar v0.14.2
//! `pkg/customize.Customize`, reference §3.1).
//!
//! Two mechanisms, in this order:
//!
//! 1. **Parameter expansion** ([`expand`]) of the whole object when it is annotated
//!    `edge.kubestellar.io/expand-parameters: "true"`.
//! 2. **Customizer replacements** ([`jsonpath`]) from the Customizer its
//!    `edge.kubestellar.io/customizer` annotation names. When the Customizer itself is
//!    annotated `expand-parameters: "true"`, each replacement's `path` and `value` are
//!    expanded first; the value is then parsed as JSON (a string needs its own quotes).
//!    Replacement values are not expanded again after they are put in the object.
//!
//! Every problem is returned as a [`Problem`]; the rest of the work still happens
//! (KubeStellar's behaviour, minus its silence). Looking up the Customizer and the
//! destination Location is the caller's job; [`customizer_ref`] says which Customizer,
//! and [`needs_params`] whether the Location is needed at all.

pub mod expand;
pub mod jsonpath;
mod problem;

pub use expand::{Params, expand_str, expand_value};
pub use problem::{ParamSite, Problem, ReplacementRef};

use crate::object::{annotation, meta_str};
use orrery_api::Customizer;
use orrery_api::keys::{CUSTOMIZER, EXPAND_PARAMETERS};
use orrery_api::validation::names::{dns1123_label, dns1123_subdomain};
use serde_json::Value;

/// Whether an object or Customizer with these annotations asks for parameter expansion:
/// exactly `"true"`, as in KubeStellar (`"True"` or `"yes"` do not count).
fn expansion_requested(value: Option<&str>) -> bool {
    value == Some("true")
}

/// Whether customizing `object` (with `customizer`, if it names one) uses the destination's
/// parameters, i.e. whether the caller must find the destination Location first.
pub fn needs_params(object: &Value, customizer: Option<&Customizer>) -> bool {
    expansion_requested(annotation(object, EXPAND_PARAMETERS)) || customizer.is_some_and(customizer_expands)
}

fn customizer_expands(customizer: &Customizer) -> bool {
    let annotations = customizer.metadata.annotations.as_ref();
    expansion_requested(annotations.and_then(|a| a.get(EXPAND_PARAMETERS)).map(String::as_str))
}

/// Whether [`customize`] would look at `object` at all: it asks for parameter expansion, or
/// names a Customizer that was found. Otherwise its copy is the same in every mailbox.
pub fn customizes(object: &Value, customizer: Option<&Customizer>) -> bool {
    customizer.is_some() || expansion_requested(annotation(object, EXPAND_PARAMETERS))
}

/// Customizes `object` in place for the destination whose parameters are `params`, and
/// returns every problem met (see the module doc).
pub fn customize(object: &mut Value, params: &Params, customizer: Option<&Customizer>) -> Vec<Problem> {
    let mut problems = Vec::new();
    if expansion_requested(annotation(object, EXPAND_PARAMETERS)) {
        for name in expand_value(object, params) {
            problems.push(Problem::UnknownParameter { name, site: ParamSite::Object });
        }
    }
    if let Some(customizer) = customizer {
        apply_customizer(object, params, customizer, &mut problems);
    }
    problems
}

fn apply_customizer(object: &mut Value, params: &Params, customizer: &Customizer, problems: &mut Vec<Problem>) {
    let expand = customizer_expands(customizer);
    let id = format!(
        "{}/{}",
        customizer.metadata.namespace.as_deref().unwrap_or_default(),
        customizer.metadata.name.as_deref().unwrap_or_default()
    );
    for (index, replacement) in customizer.spec.replacements.iter().flatten().enumerate() {
        let at = ReplacementRef { customizer: id.clone(), index };
        let mut expanded = |text: &str, site: ParamSite| {
            if !expand {
                return text.to_owned();
            }
            let (out, unknown) = expand_str(text, params);
            problems.extend(unknown.into_iter().map(|name| Problem::UnknownParameter { name, site: site.clone() }));
            out
        };
        let path_text = expanded(&replacement.path, ParamSite::Path(at.clone()));
        let value_text = expanded(&replacement.value, ParamSite::Value(at.clone()));
        let path = match jsonpath::Path::parse(&path_text) {
            Ok(path) => path,
            Err(error) => {
                problems.push(Problem::BadPath { replacement: at, error });
                continue;
            }
        };
        let value: Value = match serde_json::from_str(&value_text) {
            Ok(value) => value,
            Err(error) => {
                problems.push(Problem::BadValue { replacement: at, value: value_text, error: error.to_string() });
                continue;
            }
        };
        if path.is_root() && !value.is_object() {
            problems.push(Problem::RootNotObject { replacement: at });
            continue;
        }
        if jsonpath::set(object, &path, value) == 0 {
            problems.push(Problem::NothingSelected { replacement: at, path: path_text });
        }
    }
}

/// The Customizer an object names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomizerRef {
    pub namespace: String,
    pub name: String,
}

/// Which Customizer `object`'s `edge.kubestellar.io/customizer` annotation names:
/// `None` when it has none (absent or empty, as KubeStellar reads it); `name` is in the
/// object's own namespace; `namespace/name` is explicit (required for cluster-scoped
/// objects, allowed for namespaced ones, as in KubeStellar).
///
/// KubeStellar would look a bare name up in namespace `""` for a cluster-scoped object
/// and log "not found"; orrery says what is wrong instead.
pub fn customizer_ref(object: &Value) -> Result<Option<CustomizerRef>, Problem> {
    let Some(value) = annotation(object, CUSTOMIZER).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let bad = |reason: String| Problem::BadCustomizerRef { value: value.to_owned(), reason };
    let (namespace, name) = match value.split_once('/') {
        Some((namespace, name)) => (namespace, name),
        None => match meta_str(object, "namespace") {
            Some(namespace) => (namespace, value),
            None => {
                return Err(bad("a cluster-scoped object must name its Customizer as `namespace/name`".to_owned()));
            }
        },
    };
    if let Some(reason) = dns1123_label(namespace).into_iter().next() {
        return Err(bad(format!("namespace {namespace:?}: {reason}")));
    }
    if let Some(reason) = dns1123_subdomain(name).into_iter().next() {
        return Err(bad(format!("name {name:?}: {reason}")));
    }
    Ok(Some(CustomizerRef { namespace: namespace.to_owned(), name: name.to_owned() }))
}

#[cfg(test)]
mod tests;
