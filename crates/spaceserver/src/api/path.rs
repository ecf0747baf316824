//! Request paths: which space, and what in it (apiserver's `RequestInfo`, kcp's
//! `/clusters/<space>` prefix). Pure, so every shape is tested in a table.

/// Which space a request addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SpaceRef {
    /// One space by name.
    Named(String),
    /// `/clusters/*`: every space (list and watch only, admin only).
    All,
}

/// The space that paths without a `/clusters/<space>` prefix address.
pub const ROOT_SPACE: &str = "root";

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    Version,
    /// `healthz`, `readyz`, `livez`, possibly with a check name after it.
    Health,
    OpenApiV3Root,
    /// `/openapi/v3/<api/v1 | apis/g/v>`
    OpenApiV3 {
        group: String,
        version: String,
    },
    OpenApiV2,
    /// `/api`
    CoreVersions,
    /// `/apis`
    Groups,
    /// `/apis/<group>`
    Group {
        group: String,
    },
    /// `/api/v1` or `/apis/<group>/<version>`
    GroupVersion {
        group: String,
        version: String,
    },
    Resource(ResourcePath),
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ResourcePath {
    /// `""` for the core group.
    pub group: String,
    pub version: String,
    pub resource: String,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<String>,
}

/// Splits `/clusters/<space>/<rest>` into the space and the rest (`/` for none).
pub fn split_space(path: &str) -> Result<(SpaceRef, &str), String> {
    let Some(after) = path.strip_prefix("/clusters/") else {
        return Ok((SpaceRef::Named(ROOT_SPACE.to_owned()), path));
    };
    let (space, rest) = match after.find('/') {
        Some(i) => (&after[..i], &after[i..]),
        None => (after, "/"),
    };
    match space {
        "" => Err("a space name is required after /clusters/".to_owned()),
        "*" => Ok((SpaceRef::All, rest)),
        s => Ok((SpaceRef::Named(s.to_owned()), rest)),
    }
}

/// Parses the path inside a space. `None` means the server serves nothing there.
pub fn route(path: &str) -> Option<Route> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let owned = |s: &str| s.to_owned();
    match parts.as_slice() {
        ["version"] => Some(Route::Version),
        ["healthz" | "readyz" | "livez", ..] => Some(Route::Health),
        ["openapi", "v3"] => Some(Route::OpenApiV3Root),
        ["openapi", "v3", "api", v] => Some(Route::OpenApiV3 { group: String::new(), version: owned(v) }),
        ["openapi", "v3", "apis", g, v] => Some(Route::OpenApiV3 { group: owned(g), version: owned(v) }),
        ["openapi", "v2"] => Some(Route::OpenApiV2),
        ["api"] => Some(Route::CoreVersions),
        ["apis"] => Some(Route::Groups),
        ["apis", g] => Some(Route::Group { group: owned(g) }),
        ["api", v] => Some(Route::GroupVersion { group: String::new(), version: owned(v) }),
        ["apis", g, v] => Some(Route::GroupVersion { group: owned(g), version: owned(v) }),
        ["api", v, rest @ ..] => resource_path("", v, rest).map(Route::Resource),
        ["apis", g, v, rest @ ..] => resource_path(g, v, rest).map(Route::Resource),
        _ => None,
    }
}

/// Subresources of a namespace, which must not be read as a resource inside it.
const NAMESPACE_SUBRESOURCES: [&str; 2] = ["status", "finalize"];

fn resource_path(group: &str, version: &str, mut parts: &[&str]) -> Option<ResourcePath> {
    let mut namespace = None;
    if parts.first() == Some(&"namespaces") && parts.len() > 1 {
        namespace = Some(parts[1].to_owned());
        if parts.len() > 2 && !NAMESPACE_SUBRESOURCES.contains(&parts[2]) {
            parts = &parts[2..];
        } else {
            // `/namespaces/<name>[/status|finalize]`: the Namespace object itself.
            return Some(ResourcePath {
                group: group.to_owned(),
                version: version.to_owned(),
                resource: "namespaces".to_owned(),
                namespace: None,
                name: namespace,
                subresource: parts.get(2).map(|s| (*s).to_owned()),
            });
        }
    }
    let (resource, name, subresource) = match parts {
        [r] => (*r, None, None),
        [r, n] => (*r, Some(*n), None),
        [r, n, s] => (*r, Some(*n), Some(*s)),
        _ => return None,
    };
    Some(ResourcePath {
        group: group.to_owned(),
        version: version.to_owned(),
        resource: resource.to_owned(),
        namespace,
        name: name.map(str::to_owned),
        subresource: subresource.map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(group: &str, resource: &str, ns: Option<&str>, name: Option<&str>, sub: Option<&str>) -> Option<Route> {
        Some(Route::Resource(ResourcePath {
            group: group.into(),
            version: "v1".into(),
            resource: resource.into(),
            namespace: ns.map(Into::into),
            name: name.map(Into::into),
            subresource: sub.map(Into::into),
        }))
    }

    #[test]
    fn spaces() {
        let table = [
            ("/clusters/wds1/api/v1", Ok((SpaceRef::Named("wds1".into()), "/api/v1"))),
            ("/clusters/wds1", Ok((SpaceRef::Named("wds1".into()), "/"))),
            ("/clusters/*/apis/apps/v1/deployments", Ok((SpaceRef::All, "/apis/apps/v1/deployments"))),
            ("/api/v1", Ok((SpaceRef::Named("root".into()), "/api/v1"))),
        ];
        for (path, want) in table {
            assert_eq!(split_space(path), want, "{path}");
        }
        assert!(split_space("/clusters//api").is_err());
    }

    #[test]
    fn routes() {
        let table = [
            ("/version", Some(Route::Version)),
            ("/readyz", Some(Route::Health)),
            ("/healthz/ping", Some(Route::Health)),
            ("/api", Some(Route::CoreVersions)),
            ("/apis", Some(Route::Groups)),
            ("/apis/apps", Some(Route::Group { group: "apps".into() })),
            ("/api/v1", Some(Route::GroupVersion { group: "".into(), version: "v1".into() })),
            ("/apis/apps/v1", Some(Route::GroupVersion { group: "apps".into(), version: "v1".into() })),
            ("/openapi/v3", Some(Route::OpenApiV3Root)),
            ("/openapi/v3/api/v1", Some(Route::OpenApiV3 { group: "".into(), version: "v1".into() })),
            ("/openapi/v3/apis/apps/v1", Some(Route::OpenApiV3 { group: "apps".into(), version: "v1".into() })),
            ("/api/v1/configmaps", res("", "configmaps", None, None, None)),
            ("/api/v1/namespaces", res("", "namespaces", None, None, None)),
            ("/api/v1/namespaces/ns1", res("", "namespaces", None, Some("ns1"), None)),
            ("/api/v1/namespaces/ns1/status", res("", "namespaces", None, Some("ns1"), Some("status"))),
            ("/api/v1/namespaces/ns1/finalize", res("", "namespaces", None, Some("ns1"), Some("finalize"))),
            ("/api/v1/namespaces/ns1/configmaps", res("", "configmaps", Some("ns1"), None, None)),
            ("/api/v1/namespaces/ns1/configmaps/c", res("", "configmaps", Some("ns1"), Some("c"), None)),
            (
                "/apis/apps/v1/namespaces/ns1/deployments/d/scale",
                res("apps", "deployments", Some("ns1"), Some("d"), Some("scale")),
            ),
            ("/apis/apps/v1/deployments", res("apps", "deployments", None, None, None)),
            ("/api/v1/nodes/n1/status", res("", "nodes", None, Some("n1"), Some("status"))),
            ("/api/v1/namespaces/ns1/configmaps/c/x/y", None),
            ("/foo", None),
            ("/", None),
        ];
        for (path, want) in table {
            assert_eq!(route(path), want, "{path}");
        }
    }
}
