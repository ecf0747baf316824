//! Label and field selectors: the structured form (`LabelSelector` in objects) and the string
//! form (`?labelSelector=` / `?fieldSelector=` in requests), with Kubernetes semantics.
//!
//! Matching itself is kube-core's [`Selector`]; this module adds what kube-core leaves out:
//! validation with field paths, the nil-versus-empty distinction, and the string parsers.

mod field;
mod label_string;

pub use field::{FieldOperator, FieldRequirement, FieldSelector, FieldSelectorParseError};
pub use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
pub use kube::core::{Expression, Selector, SelectorExt};
pub use label_string::{LabelSelectorParseError, parse_label_selector};

use crate::validation::{FieldError, FieldErrors, FieldPath, names};
use std::collections::BTreeMap;

/// The labels of an object.
pub type Labels = BTreeMap<String, String>;

/// The empty label set, which is what a cluster-scoped object "has" as namespace labels.
pub fn no_labels() -> &'static Labels {
    static EMPTY: Labels = BTreeMap::new();
    &EMPTY
}

/// Validates a structured selector and turns it into a matcher.
///
/// An empty selector (`{}`) selects everything. Callers that hold an *optional* selector,
/// where absence means "nothing" (as apimachinery's `LabelSelectorAsSelector(nil)`), use
/// [`compile_optional`].
pub fn compile(sel: &LabelSelector, path: &FieldPath) -> Result<Selector, FieldErrors> {
    let mut errs = FieldErrors::default();
    let mut exprs = Vec::new();
    if let Some(labels) = &sel.match_labels {
        let path = path.child("matchLabels");
        for (k, v) in labels {
            check_key(k, &path, &mut errs);
            for msg in names::label_value(v) {
                errs.push(FieldError::invalid(path.key(k), v, msg));
            }
            exprs.push(Expression::Equal(k.clone(), v.clone()));
        }
    }
    for (i, req) in sel.match_expressions.iter().flatten().enumerate() {
        let path = path.child("matchExpressions").index(i);
        match requirement(req, &path) {
            Ok(e) => exprs.push(e),
            Err(e) => errs.extend(e),
        }
    }
    errs.into_result().map(|()| exprs.into_iter().collect())
}

/// Like [`compile`], for a selector whose absence selects nothing (`Ok(None)`).
pub fn compile_optional(sel: Option<&LabelSelector>, path: &FieldPath) -> Result<Option<Selector>, FieldErrors> {
    sel.map(|s| compile(s, path)).transpose()
}

/// Compiles an ORed list of selectors, collecting the problems of every element.
pub fn compile_all(sels: &[LabelSelector], path: &FieldPath) -> Result<Vec<Selector>, FieldErrors> {
    let mut errs = FieldErrors::default();
    let mut out = Vec::with_capacity(sels.len());
    for (i, s) in sels.iter().enumerate() {
        match compile(s, &path.index(i)) {
            Ok(sel) => out.push(sel),
            Err(e) => errs.extend(e),
        }
    }
    errs.into_result().map(|()| out)
}

/// True when any selector of an ORed list matches. An empty list matches nothing.
pub fn any_matches(sels: &[Selector], labels: &Labels) -> bool {
    sels.iter().any(|s| s.matches(labels))
}

fn check_key(key: &str, path: &FieldPath, errs: &mut FieldErrors) {
    for msg in names::qualified_name(key) {
        errs.push(FieldError::invalid(path.key(key), key, msg));
    }
}

fn requirement(req: &LabelSelectorRequirement, path: &FieldPath) -> Result<Expression, FieldErrors> {
    let mut errs = FieldErrors::default();
    for msg in names::qualified_name(&req.key) {
        errs.push(FieldError::invalid(path.child("key"), &req.key, msg));
    }
    let values = req.values.as_deref().unwrap_or_default();
    for (i, v) in values.iter().enumerate() {
        for msg in names::label_value(v) {
            errs.push(FieldError::invalid(path.child("values").index(i), v, msg));
        }
    }
    let set = || values.iter().cloned().collect();
    let key = req.key.clone();
    let expr = match req.operator.as_str() {
        "In" | "NotIn" if values.is_empty() => {
            errs.push(FieldError::required(
                path.child("values"),
                "must be specified when `operator` is 'In' or 'NotIn'",
            ));
            None
        }
        "Exists" | "DoesNotExist" if !values.is_empty() => {
            errs.push(FieldError::invalid(
                path.child("values"),
                values.join(","),
                "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            ));
            None
        }
        "In" => Some(Expression::In(key, set())),
        "NotIn" => Some(Expression::NotIn(key, set())),
        "Exists" => Some(Expression::Exists(key)),
        "DoesNotExist" => Some(Expression::DoesNotExist(key)),
        other => {
            errs.push(FieldError::not_supported(
                path.child("operator"),
                other,
                &["In", "NotIn", "Exists", "DoesNotExist"],
            ));
            None
        }
    };
    match expr {
        Some(e) if errs.is_empty() => Ok(e),
        _ => Err(errs),
    }
}

#[cfg(test)]
mod tests;
