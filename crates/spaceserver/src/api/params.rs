//! Query parameters of API requests, parsed once into typed values with clear errors.
//! Unknown parameters are ignored, as the apiserver ignores them; kube-rs starts query
//! strings with `&`, and client-go adds `timeout=32s`.

use super::status::{ApiError, Subject};
use orrery_api::selector::{FieldSelector, Selector, parse_label_selector};
use orrery_api::validation::{FieldError, FieldPath};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RvMatch {
    #[default]
    Unset,
    NotOlderThan,
    Exact,
}

#[derive(Clone, Debug, Default)]
pub struct Params {
    pub watch: bool,
    pub label_selector: Option<Selector>,
    pub field_selector: Option<FieldSelector>,
    pub limit: Option<usize>,
    pub continue_token: Option<String>,
    pub resource_version: Option<String>,
    pub resource_version_match: RvMatch,
    pub allow_watch_bookmarks: bool,
    pub send_initial_events: Option<bool>,
    pub timeout_seconds: Option<u64>,
    pub dry_run: bool,
    pub field_manager: Option<String>,
    pub force: Option<bool>,
    pub field_validation: Option<String>,
    pub propagation_policy: Option<String>,
}

fn boolean(name: &str, v: &str) -> Result<bool, ApiError> {
    match v {
        "true" | "1" | "" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(ApiError::bad_request(format!("invalid value {v:?} for {name}: must be true or false"))),
    }
}

/// An option value the apiserver rejects while validating Create/Delete options: 422 with
/// a cause naming the option.
fn invalid_option(options: &str, field: &str, value: &str, supported: &[&str]) -> ApiError {
    let errors = FieldError::not_supported(FieldPath::new(field), value, supported).into();
    ApiError::invalid(
        options,
        &Subject { group: "meta.k8s.io".into(), resource: String::new(), name: String::new() },
        &errors,
    )
}

impl Params {
    pub fn parse(query: Option<&str>) -> Result<Self, ApiError> {
        let mut p = Params::default();
        for (k, v) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            let v = v.as_ref();
            match k.as_ref() {
                "watch" => p.watch = boolean("watch", v)?,
                "labelSelector" if !v.is_empty() => {
                    p.label_selector = Some(parse_label_selector(v).map_err(|e| ApiError::bad_request(e.to_string()))?);
                }
                "fieldSelector" if !v.is_empty() => {
                    p.field_selector = Some(FieldSelector::parse(v).map_err(|e| ApiError::bad_request(e.to_string()))?);
                }
                "limit" if !v.is_empty() => {
                    let n: i64 = v.parse().map_err(|_| ApiError::bad_request(format!("invalid limit {v:?}")))?;
                    p.limit = usize::try_from(n).ok().filter(|&n| n > 0);
                }
                "continue" if !v.is_empty() => p.continue_token = Some(v.to_owned()),
                "resourceVersion" if !v.is_empty() => p.resource_version = Some(v.to_owned()),
                "resourceVersionMatch" => {
                    p.resource_version_match = match v {
                        "" => RvMatch::Unset,
                        "NotOlderThan" => RvMatch::NotOlderThan,
                        "Exact" => RvMatch::Exact,
                        other => {
                            return Err(ApiError::bad_request(format!(
                                "invalid resourceVersionMatch {other:?}: must be NotOlderThan or Exact"
                            )));
                        }
                    }
                }
                "allowWatchBookmarks" => p.allow_watch_bookmarks = boolean("allowWatchBookmarks", v)?,
                "sendInitialEvents" => p.send_initial_events = Some(boolean("sendInitialEvents", v)?),
                "timeoutSeconds" if !v.is_empty() => {
                    p.timeout_seconds =
                        Some(v.parse().map_err(|_| ApiError::bad_request(format!("invalid timeoutSeconds {v:?}")))?);
                }
                "dryRun" => match v {
                    "All" => p.dry_run = true,
                    "" => {}
                    other => {
                        return Err(invalid_option("CreateOptions", "dryRun", other, &["All"]));
                    }
                },
                "fieldManager" if !v.is_empty() => {
                    if v.len() > 128 || v.chars().any(|c| c.is_control()) {
                        return Err(ApiError::invalid_message(format!(
                            "fieldManager {v:?} is invalid: must be at most 128 printable characters"
                        )));
                    }
                    p.field_manager = Some(v.to_owned());
                }
                "force" => p.force = Some(boolean("force", v)?),
                "fieldValidation" if !v.is_empty() => match v {
                    "Ignore" | "Warn" | "Strict" => p.field_validation = Some(v.to_owned()),
                    other => {
                        return Err(invalid_option(
                            "CreateOptions",
                            "fieldValidation",
                            other,
                            &["Ignore", "Warn", "Strict"],
                        ));
                    }
                },
                "propagationPolicy" if !v.is_empty() => match v {
                    "Background" | "Foreground" | "Orphan" => p.propagation_policy = Some(v.to_owned()),
                    other => {
                        return Err(invalid_option(
                            "DeleteOptions",
                            "propagationPolicy",
                            other,
                            &["Background", "Foreground", "Orphan"],
                        ));
                    }
                },
                _ => {}
            }
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_clients_send() {
        let p = Params::parse(Some("&watch=true&timeoutSeconds=290&allowWatchBookmarks=true&resourceVersion=12"))
            .expect("kube-rs watch");
        assert!(p.watch && p.allow_watch_bookmarks);
        assert_eq!((p.timeout_seconds, p.resource_version.as_deref()), (Some(290), Some("12")));
        let p = Params::parse(Some("limit=500&timeout=32s&labelSelector=app%3Dweb%2Ctier+in+%28a%2Cb%29"))
            .expect("kubectl list");
        assert_eq!(p.limit, Some(500));
        assert_eq!(p.label_selector.map(|s| s.to_string()).as_deref(), Some("app=web,tier in (a,b)"));
        let p = Params::parse(Some("fieldSelector=metadata.name%3Dc1&dryRun=All&fieldManager=kubectl")).expect("ok");
        assert!(p.dry_run);
        assert_eq!(p.field_manager.as_deref(), Some("kubectl"));
        assert_eq!(p.field_selector.map(|s| s.to_string()).as_deref(), Some("metadata.name=c1"));
        assert!(Params::parse(None).is_ok());
    }

    #[test]
    fn rejects_bad_values_with_bad_request() {
        for q in [
            "labelSelector=a%20in%20(x",
            "fieldSelector=metadata.name",
            "limit=x",
            "watch=maybe",
            "resourceVersionMatch=Newest",
            "timeoutSeconds=-1",
        ] {
            let err = Params::parse(Some(q)).expect_err(q);
            assert_eq!((err.code, err.reason), (400, "BadRequest"), "{q}: {err}");
        }
        // Option values the apiserver validates as part of Create/DeleteOptions: 422.
        for q in ["dryRun=Some", "propagationPolicy=Now", "fieldValidation=Loud"] {
            let err = Params::parse(Some(q)).expect_err(q);
            assert_eq!((err.code, err.reason), (422, "Invalid"), "{q}: {err}");
        }
    }
}
