//! CustomResourceDefinitions: validated and established on write, and turned into the
//! resources their space serves (discovery, OpenAPI and routing follow at once).

use super::object::meta_str;
use super::resources::{PrinterColumn, ResourceInfo, ScalePaths, custom_storage};
use super::{ApiServer, crud, spaces};
use crate::store::{ListRequest, Prefix};
use orrery_api::validation::{FieldError, FieldErrors, FieldPath, names};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, Weak};

/// Sets the status a CRD has once its names are accepted: Kubernetes clients (kube-rs's
/// `is_crd_established`, `kubectl wait --for=condition=established`) wait for it.
pub(super) fn establish(crd: &mut Value) {
    let now = super::object::now();
    let names = crd.pointer("/spec/names").cloned().unwrap_or_default();
    let stored: Vec<Value> = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .map(|vs| vs.iter().filter(|v| v["storage"] == json!(true)).filter_map(|v| v.get("name").cloned()).collect())
        .unwrap_or_default();
    let condition = |t: &str, reason: &str, message: &str| json!({"type": t, "status": "True", "lastTransitionTime": now, "reason": reason, "message": message});
    crd["status"] = json!({
        "acceptedNames": names,
        "storedVersions": stored,
        "conditions": [
            condition("NamesAccepted", "NoConflicts", "no conflicts found"),
            condition("Established", "InitialNamesAccepted", "the initial names have been accepted"),
        ],
    });
}

/// Checks what the apiserver checks of a CRD before accepting it.
pub(super) fn validate(crd: &Value) -> FieldErrors {
    let mut errs = FieldErrors::default();
    let spec = FieldPath::new("spec");
    let group = crd.pointer("/spec/group").and_then(Value::as_str).unwrap_or_default();
    let plural = crd.pointer("/spec/names/plural").and_then(Value::as_str).unwrap_or_default();
    let kind = crd.pointer("/spec/names/kind").and_then(Value::as_str).unwrap_or_default();
    if group.is_empty() || !group.contains('.') {
        errs.push(FieldError::invalid(spec.child("group"), group, "should be a domain with at least one dot"));
    }
    for msg in names::dns1123_subdomain(group).into_iter().filter(|_| !group.is_empty()) {
        errs.push(FieldError::invalid(spec.child("group"), group, msg));
    }
    for msg in names::dns1123_label(plural) {
        errs.push(FieldError::invalid(spec.child("names").child("plural"), plural, msg));
    }
    if kind.is_empty() {
        errs.push(FieldError::required(spec.child("names").child("kind"), ""));
    }
    let expected = format!("{plural}.{group}");
    let name = meta_str(crd, "name").unwrap_or_default();
    if name != expected {
        errs.push(FieldError::invalid(
            FieldPath::new("metadata").child("name"),
            name,
            format!("must be spec.names.plural+\".\"+spec.group ({expected})"),
        ));
    }
    match crd.pointer("/spec/scope").and_then(Value::as_str) {
        Some("Namespaced" | "Cluster") => {}
        other => errs.push(FieldError::not_supported(
            spec.child("scope"),
            other.unwrap_or_default(),
            &["Cluster", "Namespaced"],
        )),
    }
    let versions = crd.pointer("/spec/versions").and_then(Value::as_array).cloned().unwrap_or_default();
    if versions.is_empty() {
        errs.push(FieldError::required(spec.child("versions"), "must have at least one version"));
    }
    let storage = versions.iter().filter(|v| v["storage"] == json!(true)).count();
    if !versions.is_empty() && storage != 1 {
        errs.push(FieldError::invalid(
            spec.child("versions"),
            storage.to_string(),
            "must have exactly one version marked as storage version",
        ));
    }
    for (i, v) in versions.iter().enumerate() {
        let p = spec.child("versions").index(i);
        let vname = v.get("name").and_then(Value::as_str).unwrap_or_default();
        for msg in names::dns1123_label(vname) {
            errs.push(FieldError::invalid(p.child("name"), vname, msg));
        }
        match v.pointer("/schema/openAPIV3Schema") {
            Some(s) if s.get("type").and_then(Value::as_str) == Some("object") => {}
            Some(_) => errs.push(FieldError::invalid(
                p.child("schema").child("openAPIV3Schema").child("type"),
                "",
                "must be object at the root",
            )),
            None => errs.push(FieldError::required(p.child("schema").child("openAPIV3Schema"), "schemas are required")),
        }
    }
    errs
}

fn string_list(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// The resources one CRD adds: one per served version, all on one storage.
pub(super) fn resources_of(crd: &Value) -> Vec<ResourceInfo> {
    let spec = &crd["spec"];
    let group = spec["group"].as_str().unwrap_or_default().to_owned();
    let names = &spec["names"];
    let plural = names["plural"].as_str().unwrap_or_default().to_owned();
    let kind = names["kind"].as_str().unwrap_or_default().to_owned();
    let singular = names["singular"].as_str().map(str::to_owned).unwrap_or_else(|| kind.to_ascii_lowercase());
    let mut out = Vec::new();
    for v in spec["versions"].as_array().into_iter().flatten() {
        if v["served"] == json!(false) {
            continue;
        }
        let scale = v.pointer("/subresources/scale").map(|s| ScalePaths {
            spec_replicas: s["specReplicasPath"].as_str().unwrap_or(".spec.replicas").to_owned(),
            status_replicas: s["statusReplicasPath"].as_str().unwrap_or(".status.replicas").to_owned(),
            label_selector: s["labelSelectorPath"].as_str().map(str::to_owned),
        });
        let printer_columns = v["additionalPrinterColumns"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| PrinterColumn {
                name: c["name"].as_str().unwrap_or_default().to_owned(),
                type_: c["type"].as_str().unwrap_or("string").to_owned(),
                format: c["format"].as_str().map(str::to_owned),
                description: c["description"].as_str().map(str::to_owned),
                priority: c["priority"].as_i64().and_then(|p| i32::try_from(p).ok()).unwrap_or(0),
                json_path: c["jsonPath"].as_str().unwrap_or_default().to_owned(),
            })
            .collect();
        out.push(ResourceInfo {
            group: group.clone(),
            version: v["name"].as_str().unwrap_or_default().to_owned(),
            resource: plural.clone(),
            singular: singular.clone(),
            kind: kind.clone(),
            namespaced: spec["scope"] == json!("Namespaced"),
            short_names: string_list(names.get("shortNames")),
            categories: string_list(names.get("categories")),
            has_status: v.pointer("/subresources/status").is_some(),
            scale,
            storage: custom_storage(&group, &plural),
            schema: v.pointer("/schema/openAPIV3Schema").cloned().map(Arc::new),
            printer_columns,
            custom: true,
        });
    }
    out
}

/// Custom resources' infos, shared by every space whose CRD says the same thing (orrery's
/// own API, bound in every space, is one of them): without sharing, their schemas were most
/// of what a space cost in memory (10,000 mailboxes held 10,000 copies of each).
type Shared = HashMap<(String, String, String), Vec<Weak<ResourceInfo>>>;
static SHARED: LazyLock<Mutex<Shared>> = LazyLock::new(Default::default);

/// The shared info equal to `info`, or `info` made shareable.
pub(super) fn shared(info: ResourceInfo) -> Arc<ResourceInfo> {
    let mut all = SHARED.lock().unwrap_or_else(|e| e.into_inner());
    let bucket = all.entry((info.group.clone(), info.version.clone(), info.resource.clone())).or_default();
    bucket.retain(|w| w.strong_count() > 0);
    if let Some(same) = bucket.iter().filter_map(Weak::upgrade).find(|a| **a == info) {
        return same;
    }
    let info = Arc::new(info);
    bucket.push(Arc::downgrade(&info));
    info
}

/// Rebuilds a space's resources from its stored CRDs.
pub(super) async fn refresh(server: &Arc<ApiServer>, space: &str) {
    let prefix = Prefix {
        resource: "apiextensions.k8s.io/customresourcedefinitions".into(),
        space: Some(space.to_owned()),
        namespace: None,
    };
    let Ok(page) = server.store.list(&prefix, ListRequest::latest()).await else {
        return;
    };
    let mut resources = spaces::base_resources(space);
    for (_, stored) in page.items {
        if let Ok(crd) = crud::parse_stored(&stored) {
            for r in resources_of(&crd) {
                // A CRD may not replace a built-in.
                if resources.get(&r.group, &r.version, &r.resource).is_none_or(|existing| existing.custom) {
                    resources.insert_shared(shared(r));
                }
            }
        }
    }
    server.set_resources(space, resources);
}

/// Deleting a CRD deletes every object of its kind in the space.
pub(super) async fn delete_instances(server: &Arc<ApiServer>, space: &str, crd: &Value) {
    let group = crd.pointer("/spec/group").and_then(Value::as_str).unwrap_or_default();
    let plural = crd.pointer("/spec/names/plural").and_then(Value::as_str).unwrap_or_default();
    let prefix = Prefix { resource: custom_storage(group, plural), space: Some(space.to_owned()), namespace: None };
    super::lifecycle::purge(server, &prefix).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crd() -> Value {
        serde_json::to_value(orrery_api::crds::all().into_iter().find(|c| c.spec.names.kind == "EdgePlacement"))
            .expect("crd")
    }

    #[test]
    fn orrery_crds_are_valid_and_served() {
        for c in orrery_api::crds::all() {
            let v = serde_json::to_value(&c).expect("crd");
            assert!(validate(&v).is_empty(), "{}: {}", c.spec.names.kind, validate(&v));
            let rs = resources_of(&v);
            assert_eq!(rs.len(), 1);
            assert_eq!(rs[0].storage, format!("edge.kubestellar.io/{}", c.spec.names.plural));
        }
        let ep = resources_of(&crd()).remove(0);
        assert!(ep.has_status && !ep.namespaced && ep.custom);
        assert_eq!(ep.short_names, ["epl"]);
        assert_eq!(ep.printer_columns[0].name, "Locations");
    }

    #[test]
    fn spaces_with_the_same_crd_share_one_info_and_a_changed_one_gets_its_own() {
        let a = shared(resources_of(&crd()).remove(0));
        let b = shared(resources_of(&crd()).remove(0));
        assert!(Arc::ptr_eq(&a, &b), "the same CRD in two spaces");
        let mut changed = crd();
        changed["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["description"] = json!("another");
        let c = shared(resources_of(&changed).remove(0));
        assert!(!Arc::ptr_eq(&a, &c), "a CRD with another schema");
        assert_eq!(c.schema.as_deref().and_then(|s| s.get("description")), Some(&json!("another")));
    }

    #[test]
    fn invalid_crds_say_why() {
        let mut bad = crd();
        bad["metadata"]["name"] = json!("wrong");
        bad["spec"]["scope"] = json!("Global");
        bad["spec"]["versions"][0]["storage"] = json!(false);
        let errs: Vec<String> = validate(&bad).iter().map(ToString::to_string).collect();
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert!(errs[0].starts_with("metadata.name: Invalid value: \"wrong\""));
        assert!(errs[1].starts_with("spec.scope: Unsupported value: \"Global\""));
        assert!(errs[2].starts_with("spec.versions: Invalid value: \"0\""));
    }

    #[test]
    fn established_crds_carry_the_conditions_clients_wait_for() {
        let mut c = crd();
        establish(&mut c);
        assert_eq!(c.pointer("/status/conditions/1/type"), Some(&json!("Established")));
        assert_eq!(c.pointer("/status/storedVersions"), Some(&json!(["v2alpha1"])));
    }
}
