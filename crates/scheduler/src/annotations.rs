//! The `validation-error.kubestellar.io/N` annotations that tell a user, on the
//! EdgePlacement itself, why the scheduler is not acting on it.
//!
//! KubeStellar puts each problem of an invalid placement in its own numbered annotation so
//! that `kubectl get -o yaml` shows all of them; orrery keeps that contract.

use orrery_api::keys::VALIDATION_ERROR_PREFIX;
use orrery_api::validation::FieldErrors;
use std::collections::BTreeMap;

/// Annotations of an object, keyed by name.
pub type Annotations = BTreeMap<String, String>;

/// One annotation per error, `validation-error.kubestellar.io/1`, `/2`, … in the order the
/// validator reported them (numbered from 1, as KubeStellar does), each holding the error
/// in Kubernetes' wording (`spec.locationSelectors[0].…: Unsupported value: …`).
pub fn validation_error_annotations(errors: &FieldErrors) -> Annotations {
    errors.iter().enumerate().map(|(i, e)| (format!("{VALIDATION_ERROR_PREFIX}{}", i + 1), e.to_string())).collect()
}

/// Whether an annotation key is one of the numbered validation-error annotations (and so
/// belongs to the scheduler, which may rewrite or drop it).
pub fn is_validation_error_annotation(key: &str) -> bool {
    key.strip_prefix(VALIDATION_ERROR_PREFIX).is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// `existing` with its validation-error annotations replaced by those for `errors`.
///
/// Stale numbers are dropped: a placement that had three problems and now has one must not
/// keep showing the other two, and a fixed placement (`errors` empty) loses them all.
/// Every other annotation is kept as it is, since users and other controllers own those.
pub fn with_validation_error_annotations(existing: &Annotations, errors: &FieldErrors) -> Annotations {
    let mut out: Annotations = existing
        .iter()
        .filter(|(k, _)| !is_validation_error_annotation(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    out.extend(validation_error_annotations(errors));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use orrery_api::validation::{FieldError, FieldPath};

    /// One table row: the paths of the errors, and the annotations wanted.
    type Row<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)]);

    fn errors(paths: &[&str]) -> FieldErrors {
        FieldErrors(paths.iter().map(|p| FieldError::required(FieldPath::new(p), "")).collect())
    }

    fn annotations(pairs: &[(&str, &str)]) -> Annotations {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn one_numbered_annotation_per_error_from_one() {
        let table: [Row; 3] = [
            (&[], &[]),
            (&["spec"], &[("validation-error.kubestellar.io/1", "spec: Required value")]),
            (
                &["metadata.name", "spec.upsync[0].resources"],
                &[
                    ("validation-error.kubestellar.io/1", "metadata.name: Required value"),
                    ("validation-error.kubestellar.io/2", "spec.upsync[0].resources: Required value"),
                ],
            ),
        ];
        for (paths, want) in table {
            assert_eq!(validation_error_annotations(&errors(paths)), annotations(want), "{paths:?}");
        }
    }

    #[test]
    fn recognizes_only_numbered_keys() {
        let table = [
            ("validation-error.kubestellar.io/1", true),
            ("validation-error.kubestellar.io/12", true),
            ("validation-error.kubestellar.io/", false),
            ("validation-error.kubestellar.io/x", false),
            ("validation-error.kubestellar.io/1a", false),
            ("kubestellar.io/executing-count", false),
        ];
        for (key, want) in table {
            assert_eq!(is_validation_error_annotation(key), want, "{key}");
        }
    }

    #[test]
    fn replacing_drops_stale_numbers_and_keeps_other_annotations() {
        let existing = annotations(&[
            ("owner", "team-a"),
            ("validation-error.kubestellar.io/1", "old a"),
            ("validation-error.kubestellar.io/2", "old b"),
            ("validation-error.kubestellar.io/3", "old c"),
        ]);
        let table: [Row; 2] = [
            (&["spec"], &[("owner", "team-a"), ("validation-error.kubestellar.io/1", "spec: Required value")]),
            (&[], &[("owner", "team-a")]),
        ];
        for (paths, want) in table {
            assert_eq!(with_validation_error_annotations(&existing, &errors(paths)), annotations(want), "{paths:?}");
        }
    }
}
