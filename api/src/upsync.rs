//! Which objects come back from the edge: UpsyncSet semantics. Unlike downsync tests, an
//! empty list matches nothing, and `"*"` matches anything.

use crate::downsync::{check_api_group, check_list, check_namespace, check_object_name, check_resource};
use crate::object::{NameSet, ObjectRef};
use crate::types::UpsyncSet;
use crate::validation::{FieldError, FieldErrors, FieldPath};

/// A compiled [`UpsyncSet`].
#[derive(Clone, Debug)]
pub struct UpsyncMatcher {
    api_group: String,
    resources: NameSet,
    namespaces: NameSet,
    names: NameSet,
}

impl UpsyncMatcher {
    /// Validates and compiles one upsync set; `path` locates it for error messages.
    pub fn new(set: &UpsyncSet, path: &FieldPath) -> Result<Self, FieldErrors> {
        let mut errs = FieldErrors::default();
        let api_group = set.api_group.clone().unwrap_or_default();
        check_api_group(&api_group, &path.child("apiGroup"), &mut errs);
        if set.resources.is_empty() {
            errs.push(FieldError::required(
                path.child("resources"),
                "an upsync set with no resources selects nothing; list resources or '*'",
            ));
        }
        check_list(Some(&set.resources), &path.child("resources"), check_resource, &mut errs);
        check_list(set.namespaces.as_deref(), &path.child("namespaces"), check_namespace, &mut errs);
        check_list(set.names.as_deref(), &path.child("names"), check_object_name, &mut errs);
        errs.into_result()?;
        Ok(Self {
            api_group,
            resources: NameSet::empty_means_none(Some(&set.resources)),
            namespaces: NameSet::empty_means_none(set.namespaces.as_deref()),
            names: NameSet::empty_means_none(set.names.as_deref()),
        })
    }

    /// Whether the object is in this set. Namespaces are not consulted for cluster-scoped
    /// objects.
    pub fn matches(&self, obj: &ObjectRef<'_>) -> bool {
        self.api_group == obj.group
            && self.resources.contains(obj.resource)
            && obj.namespace.is_none_or(|ns| self.namespaces.contains(ns))
            && self.names.contains(obj.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::selector::Labels;

    fn set(group: Option<&str>, resources: &[&str], namespaces: Option<&[&str]>, names: Option<&[&str]>) -> UpsyncSet {
        let own = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        UpsyncSet {
            api_group: group.map(str::to_owned),
            resources: own(resources),
            namespaces: namespaces.map(own),
            names: names.map(own),
        }
    }

    #[test]
    fn matching() {
        let none = Labels::new();
        let obj = |group, resource, namespace, name| ObjectRef { group, resource, namespace, name, labels: &none };
        let george = obj("group1.test", "sprockets", Some("orbital"), "george");
        let widget = obj("group3.test", "widgets", None, "w1");
        let table = [
            (
                set(Some("group1.test"), &["sprockets", "flanges"], Some(&["orbital"]), Some(&["george", "cosmo"])),
                george,
                true,
            ),
            (set(Some("group1.test"), &["flanges"], Some(&["orbital"]), Some(&["george"])), george, false),
            (set(Some("group1.test"), &["*"], Some(&["*"]), Some(&["*"])), george, true),
            (set(Some("group2.test"), &["*"], Some(&["*"]), Some(&["*"])), george, false),
            // empty lists select nothing
            (set(Some("group1.test"), &["sprockets"], None, Some(&["george"])), george, false),
            (set(Some("group1.test"), &["sprockets"], Some(&["orbital"]), None), george, false),
            (set(Some("group1.test"), &["sprockets"], Some(&["orbital"]), Some(&[])), george, false),
            // cluster-scoped objects skip the namespace test
            (set(Some("group3.test"), &["widgets"], None, Some(&["*"])), widget, true),
            (set(Some("group3.test"), &["widgets"], None, Some(&["w2"])), widget, false),
            // absent apiGroup is the core group
            (set(None, &["configmaps"], Some(&["*"]), Some(&["*"])), obj("", "configmaps", Some("x"), "c"), true),
            (set(None, &["configmaps"], Some(&["*"]), Some(&["*"])), obj("apps", "configmaps", Some("x"), "c"), false),
        ];
        for (i, (s, o, want)) in table.into_iter().enumerate() {
            let m = UpsyncMatcher::new(&s, &FieldPath::new("u")).expect("valid");
            assert_eq!(m.matches(&o), want, "case {i}: {s:?} on {o:?}");
        }
    }

    #[test]
    fn validation() {
        let table: Vec<(UpsyncSet, Vec<&str>)> = vec![
            (set(Some("g.io"), &["things"], Some(&["ns"]), Some(&["*"])), vec![]),
            (set(Some("g.io"), &[], None, None), vec!["u.resources: Required value"]),
            (
                set(Some("*"), &["things"], None, None),
                vec!["u.apiGroup: Invalid value: \"*\": apiGroup has no wildcard"],
            ),
            (
                set(Some("G"), &["Things", "ok"], Some(&["a_b"]), Some(&["a/b"])),
                vec![
                    "u.apiGroup: Invalid value: \"G\"",
                    "u.resources[0]: Invalid value: \"Things\"",
                    "u.namespaces[0]: Invalid value: \"a_b\"",
                    "u.names[0]: Invalid value: \"a/b\": may not contain '/'",
                ],
            ),
        ];
        for (s, wants) in table {
            let got: Vec<String> = match UpsyncMatcher::new(&s, &FieldPath::new("u")) {
                Ok(_) => vec![],
                Err(e) => e.iter().map(ToString::to_string).collect(),
            };
            assert_eq!(got.len(), wants.len(), "{s:?}: {got:?}");
            for (g, w) in got.iter().zip(&wants) {
                assert!(g.starts_with(w), "got {g:?}, want prefix {w:?}");
            }
        }
    }
}
