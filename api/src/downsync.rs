//! Which workload objects an EdgePlacement sends out: DownsyncObjectTest semantics exactly
//! as KubeStellar's what-resolver applies them, with upsync taking precedence.
//!
//! A test is compiled once ([`DownsyncMatcher::new`]), which also validates it, and then
//! matched against any number of objects without allocating.

use crate::object::{NameSet, ObjectRef};
use crate::selector::{self, Labels, Selector};
use crate::types::{DownsyncObjectTest, EdgePlacementSpec};
use crate::upsync::UpsyncMatcher;
use crate::validation::{FieldError, FieldErrors, FieldPath, names};
use std::collections::BTreeSet;

/// Matching needs the labels of a namespace that is not known (yet). Controllers retry
/// when the namespace shows up, as KubeStellar's what-resolver does.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("namespace {0:?} is not known")]
pub struct UnknownNamespace(pub String);

/// A compiled [`DownsyncObjectTest`].
#[derive(Clone, Debug)]
pub struct DownsyncMatcher {
    api_group: Option<String>,
    resources: NameSet,
    namespaces: NameSet,
    namespace_selectors: Vec<Selector>,
    object_names: NameSet,
    label_selectors: Vec<Selector>,
    create_only: bool,
    status_collectors: BTreeSet<String>,
}

impl DownsyncMatcher {
    /// Validates and compiles one test; `path` locates it in its object for error messages.
    pub fn new(test: &DownsyncObjectTest, path: &FieldPath) -> Result<Self, FieldErrors> {
        let mut errs = FieldErrors::default();
        let discriminates = test.api_group.is_some()
            || test.resources.is_some()
            || test.namespaces.is_some()
            || test.namespace_selectors.is_some()
            || test.object_names.is_some()
            || test.label_selectors.is_some();
        if !discriminates {
            errs.push(FieldError::required(
                path.clone(),
                "a downsync test must give at least one of apiGroup, resources, namespaces, \
                 namespaceSelectors, objectNames or labelSelectors",
            ));
        }
        if let Some(g) = &test.api_group {
            check_api_group(g, &path.child("apiGroup"), &mut errs);
        }
        check_list(test.resources.as_deref(), &path.child("resources"), check_resource, &mut errs);
        check_list(test.namespaces.as_deref(), &path.child("namespaces"), check_namespace, &mut errs);
        check_list(test.object_names.as_deref(), &path.child("objectNames"), check_object_name, &mut errs);
        let namespace_selectors = collect(
            selector::compile_all(
                test.namespace_selectors.as_deref().unwrap_or_default(),
                &path.child("namespaceSelectors"),
            ),
            &mut errs,
        )
        .unwrap_or_default();
        let label_selectors = collect(
            selector::compile_all(test.label_selectors.as_deref().unwrap_or_default(), &path.child("labelSelectors")),
            &mut errs,
        )
        .unwrap_or_default();
        let mut status_collectors = BTreeSet::new();
        for (i, name) in test.status_collectors.iter().flatten().enumerate() {
            let p = path.child("statusCollectors").index(i);
            for msg in names::dns1123_subdomain(name) {
                errs.push(FieldError::invalid(p.clone(), name, msg));
            }
            if !status_collectors.insert(name.clone()) {
                errs.push(FieldError::duplicate(p, name));
            }
        }
        errs.into_result()?;
        Ok(Self {
            api_group: test.api_group.clone(),
            resources: NameSet::empty_means_any(test.resources.as_deref()),
            namespaces: NameSet::empty_means_any(test.namespaces.as_deref()),
            namespace_selectors,
            object_names: NameSet::empty_means_any(test.object_names.as_deref()),
            label_selectors,
            create_only: test.create_only.unwrap_or(false),
            status_collectors,
        })
    }

    /// Whether the object passes this test. `namespace_labels` gives the labels of a
    /// namespace by name; it is consulted only when the test has namespace selectors and
    /// every cheaper criterion already passed.
    pub fn matches<'l>(
        &self,
        obj: &ObjectRef<'_>,
        namespace_labels: impl Fn(&str) -> Option<&'l Labels>,
    ) -> Result<bool, UnknownNamespace> {
        if self.api_group.as_deref().is_some_and(|g| g != obj.group) || !self.resources.contains(obj.resource) {
            return Ok(false);
        }
        let namespace_ok = match obj.namespace {
            Some(ns) => self.namespaces.contains(ns),
            // A cluster-scoped object has no namespace to list: only "any" admits it.
            None => self.namespaces.is_any(),
        };
        if !namespace_ok || !self.object_names.contains(obj.name) {
            return Ok(false);
        }
        if !self.label_selectors.is_empty() && !selector::any_matches(&self.label_selectors, obj.labels) {
            return Ok(false);
        }
        if self.namespace_selectors.is_empty() {
            return Ok(true);
        }
        let ns_labels = match obj.namespace {
            Some(ns) => namespace_labels(ns).ok_or_else(|| UnknownNamespace(ns.to_owned()))?,
            None => selector::no_labels(),
        };
        Ok(selector::any_matches(&self.namespace_selectors, ns_labels))
    }
}

/// How a selected object is to be handled, combined over every downsync test it matched.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Modulation {
    /// Any matching test asked for create-only.
    pub create_only: bool,
    /// The union of the matching tests' StatusCollectors.
    pub status_collectors: BTreeSet<String>,
}

/// The whole "what" of one EdgePlacement: its downsync tests and upsync sets.
#[derive(Clone, Debug)]
pub struct PlacementMatcher {
    downsync: Vec<DownsyncMatcher>,
    upsync: Vec<UpsyncMatcher>,
}

impl PlacementMatcher {
    /// Validates and compiles the downsync and upsync parts of a placement's spec.
    pub fn new(spec: &EdgePlacementSpec, path: &FieldPath) -> Result<Self, FieldErrors> {
        let mut errs = FieldErrors::default();
        let mut downsync = Vec::new();
        for (i, t) in spec.downsync.iter().flatten().enumerate() {
            if let Some(m) = collect(DownsyncMatcher::new(t, &path.child("downsync").index(i)), &mut errs) {
                downsync.push(m);
            }
        }
        let mut upsync = Vec::new();
        for (i, u) in spec.upsync.iter().flatten().enumerate() {
            if let Some(m) = collect(UpsyncMatcher::new(u, &path.child("upsync").index(i)), &mut errs) {
                upsync.push(m);
            }
        }
        errs.into_result().map(|()| Self { downsync, upsync })
    }

    /// `Some` when the placement downsyncs the object: it matches a downsync test and no
    /// upsync set (upsync takes precedence).
    pub fn downsyncs<'l>(
        &self,
        obj: &ObjectRef<'_>,
        namespace_labels: impl Fn(&str) -> Option<&'l Labels>,
    ) -> Result<Option<Modulation>, UnknownNamespace> {
        let mut selected: Option<Modulation> = None;
        for t in &self.downsync {
            if t.matches(obj, &namespace_labels)? {
                let m = selected.get_or_insert_with(Modulation::default);
                m.create_only |= t.create_only;
                m.status_collectors.extend(t.status_collectors.iter().cloned());
            }
        }
        if selected.is_some() && self.upsyncs(obj) {
            return Ok(None);
        }
        Ok(selected)
    }

    /// Whether the placement upsyncs the object.
    pub fn upsyncs(&self, obj: &ObjectRef<'_>) -> bool {
        self.upsync.iter().any(|u| u.matches(obj))
    }
}

/// Keeps the value of `r`, or moves its errors into `errs`.
pub(crate) fn collect<T>(r: Result<T, FieldErrors>, errs: &mut FieldErrors) -> Option<T> {
    r.map_err(|e| errs.extend(e)).ok()
}

pub(crate) fn check_api_group(g: &str, path: &FieldPath, errs: &mut FieldErrors) {
    if g == "*" {
        errs.push(FieldError::invalid(path.clone(), g, "apiGroup has no wildcard: omit it to match every group"));
    } else if !g.is_empty() {
        for msg in names::dns1123_subdomain(g) {
            errs.push(FieldError::invalid(path.clone(), g, msg));
        }
    }
}

pub(crate) fn check_list(
    list: Option<&[String]>,
    path: &FieldPath,
    check: fn(&str) -> Option<String>,
    errs: &mut FieldErrors,
) {
    for (i, v) in list.unwrap_or_default().iter().enumerate() {
        if v != "*"
            && let Some(msg) = check(v)
        {
            errs.push(FieldError::invalid(path.index(i), v, msg));
        }
    }
}

pub(crate) fn check_resource(r: &str) -> Option<String> {
    let shaped = r.starts_with(|c: char| c.is_ascii_lowercase()) && names::dns1123_label(r).is_empty();
    (!shaped).then(|| "must be a lowercase plural resource name such as 'deployments', or '*'".to_owned())
}

pub(crate) fn check_namespace(ns: &str) -> Option<String> {
    names::dns1123_label(ns).into_iter().next()
}

pub(crate) fn check_object_name(n: &str) -> Option<String> {
    if n.is_empty() {
        return Some("must not be empty".to_owned());
    }
    names::path_segment_name(n).into_iter().next()
}

#[cfg(test)]
mod tests;
