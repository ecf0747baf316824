//! What one mailbox should hold: the customized copy of every object the placements
//! reaching it select, and the SyncerConfig `the-one` that tells its syncer about them.
//! Pure: the reconcile gathers the inputs from its caches and writes the difference.

use super::discovery::{Resource, digest};
use super::selection::PlacementKey;
use crate::customize::{CustomizerRef, Params, Problem, customize, customizer_ref, customizes};
use crate::order::ObjectId;
use crate::project::project;
use crate::syncer_config::{Placed, syncer_config};
use orrery_api::downsync::Modulation;
use orrery_api::keys::DOWNSYNC_OVERWRITE;
use orrery_api::{Customizer, SyncerConfigSpec, UpsyncSet};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// One selected WDS object, as a placement reaching the mailbox selects it.
pub struct Source<'a> {
    pub placement: &'a PlacementKey,
    pub id: &'a ObjectId,
    pub resource: &'a Arc<Resource>,
    pub object: &'a Value,
    /// `object`'s projection, made once per version of it.
    pub projection: &'a Projection,
    pub modulation: &'a Modulation,
}

/// A source's mailbox copy before customization ([`project`]) and its digest: the same for
/// every mailbox, so made once per version of the source and shared by every mailbox whose
/// copy nothing customizes (one update reconciles every mailbox the object goes to).
#[derive(Clone, Debug, PartialEq)]
pub struct Projection {
    pub value: Arc<Value>,
    pub digest: u64,
}

impl Projection {
    pub fn of(source: &Value) -> Self {
        let value = project(source);
        Self { digest: digest(&value), value: Arc::new(value) }
    }
}

/// A copy to write, and its digest (what the translator remembers having written).
#[derive(Clone, Debug, PartialEq)]
pub struct Copy {
    pub resource: Arc<Resource>,
    pub value: Arc<Value>,
    pub digest: u64,
}

/// A problem customizing one object for this mailbox.
#[derive(Clone, Debug)]
pub struct Reported {
    /// The WDS and the object (for an Event on it).
    pub space: String,
    pub object: Value,
    /// The placements that carry it here (for their status).
    pub placements: BTreeSet<PlacementKey>,
    pub problem: Problem,
}

/// Which WDS object a copy comes from and through which placements: what the status
/// summarizer needs to carry the copy's status back.
#[derive(Clone, Debug, PartialEq)]
pub struct Carried {
    /// The WDS.
    pub space: String,
    pub resource: Arc<Resource>,
    /// The placements (by name, in `space`) selecting the object, each with how.
    pub placements: BTreeMap<String, Modulation>,
}

#[derive(Debug, Default)]
pub struct Desired {
    pub copies: BTreeMap<ObjectId, Copy>,
    /// Where each copy comes from.
    pub carried: BTreeMap<ObjectId, Carried>,
    pub the_one: SyncerConfigSpec,
    pub problems: Vec<Reported>,
    /// Objects of the same identity from two WDSes: the first placement (in key order)
    /// wins, and these are logged.
    pub conflicts: Vec<(ObjectId, PlacementKey)>,
}

/// Computes the mailbox's contents. `params` are the destination Location's (`None` when
/// it is not known: parameters then stay unexpanded and are reported); `customizer` finds a
/// Customizer in a WDS.
pub fn desired<'a>(
    sources: impl IntoIterator<Item = Source<'a>>,
    params: Option<&Params>,
    customizer: impl Fn(&str, &CustomizerRef) -> Option<Customizer>,
    upsync: impl IntoIterator<Item = &'a UpsyncSet>,
) -> Desired {
    let no_params = Params::new(BTreeMap::new(), BTreeMap::new());
    let params = params.unwrap_or(&no_params);
    let mut out = Desired::default();
    // Gather first, so an object placed by several placements of one WDS is one copy with
    // the union of their modulations.
    type Gathered<'s, 'a> = (&'s Source<'a>, BTreeMap<PlacementKey, Modulation>, Modulation);
    let mut gathered: BTreeMap<&ObjectId, Gathered<'_, 'a>> = BTreeMap::new();
    let sources: Vec<Source<'a>> = sources.into_iter().collect();
    for s in &sources {
        match gathered.get_mut(s.id) {
            Some((first, placements, m)) if first.placement.0 == s.placement.0 => {
                placements.insert(s.placement.clone(), s.modulation.clone());
                m.create_only |= s.modulation.create_only;
                m.status_collectors.extend(s.modulation.status_collectors.iter().cloned());
            }
            Some(_) => out.conflicts.push((s.id.clone(), s.placement.clone())),
            None => {
                gathered.insert(
                    s.id,
                    (s, BTreeMap::from([(s.placement.clone(), s.modulation.clone())]), s.modulation.clone()),
                );
            }
        }
    }
    let mut placed = Vec::new();
    for (id, (s, by_placement, modulation)) in gathered {
        let placements: BTreeSet<PlacementKey> = by_placement.keys().cloned().collect();
        out.carried.insert(
            id.clone(),
            Carried {
                space: s.placement.0.clone(),
                resource: s.resource.clone(),
                placements: by_placement.into_iter().map(|((_, name), m)| (name, m)).collect(),
            },
        );
        // Shared with every other mailbox until something here changes it.
        let mut value = s.projection.value.clone();
        if modulation.create_only
            && let Some(meta) = Arc::make_mut(&mut value).get_mut("metadata").and_then(Value::as_object_mut)
        {
            let annotations = meta.entry("annotations").or_insert_with(|| Value::Object(Default::default()));
            if let Some(a) = annotations.as_object_mut() {
                a.insert(DOWNSYNC_OVERWRITE.to_owned(), Value::String("false".into()));
            }
        }
        let space = &s.placement.0;
        let mut problems = Vec::new();
        let found = match customizer_ref(s.object) {
            Ok(Some(r)) => {
                let c = customizer(space, &r);
                if c.is_none() {
                    problems.push(Problem::CustomizerNotFound { namespace: r.namespace.clone(), name: r.name.clone() });
                }
                c
            }
            Ok(None) => None,
            Err(p) => {
                problems.push(p);
                None
            }
        };
        if customizes(&value, found.as_ref()) {
            problems.extend(customize(Arc::make_mut(&mut value), params, found.as_ref()));
        }
        for problem in problems {
            out.problems.push(Reported {
                space: space.clone(),
                object: s.object.clone(),
                placements: placements.clone(),
                problem,
            });
        }
        placed.push(Placed {
            group: id.group.clone(),
            version: s.resource.api.version.clone(),
            resource: id.resource.clone(),
            namespace: id.namespace.clone(),
            name: id.name.clone(),
        });
        let digest = if Arc::ptr_eq(&value, &s.projection.value) { s.projection.digest } else { digest(&value) };
        out.copies.insert(id.clone(), Copy { resource: s.resource.clone(), value, digest });
    }
    let upsync: Vec<UpsyncSet> = upsync.into_iter().cloned().collect();
    out.the_one = syncer_config(&placed, &upsync);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::api::ApiResource;
    use serde_json::json;

    fn configmaps() -> Resource {
        Resource { api: ApiResource::erase::<k8s_openapi::api::core::v1::ConfigMap>(&()), namespaced: true }
    }

    fn id(name: &str) -> ObjectId {
        ObjectId {
            group: String::new(),
            resource: "configmaps".into(),
            namespace: Some("ns".into()),
            name: name.into(),
        }
    }

    #[test]
    fn copies_are_projected_customized_and_reported() {
        let r = Arc::new(configmaps());
        let (p1, p2, other) = (
            ("wds".to_owned(), "a".to_owned()),
            ("wds".to_owned(), "b".to_owned()),
            ("wds2".to_owned(), "c".to_owned()),
        );
        let plain = json!({"apiVersion": "v1", "kind": "ConfigMap",
                           "metadata": {"name": "plain", "namespace": "ns", "uid": "u", "resourceVersion": "3"},
                           "data": {"k": "%(env)"}});
        let expanded = json!({"apiVersion": "v1", "kind": "ConfigMap",
                              "metadata": {"name": "exp", "namespace": "ns", "annotations": {"edge.kubestellar.io/expand-parameters": "true"}},
                              "data": {"k": "in %(env), %(zone)"}});
        let broken = json!({"apiVersion": "v1", "kind": "ConfigMap",
                            "metadata": {"name": "broken", "namespace": "ns", "annotations": {"edge.kubestellar.io/customizer": "missing"}},
                            "data": {"k": "v"}});
        let (idp, ide, idb) = (id("plain"), id("exp"), id("broken"));
        let plain_mod = Modulation::default();
        let create_only = Modulation { create_only: true, ..Default::default() };
        let (jp, je, jb) = (Projection::of(&plain), Projection::of(&expanded), Projection::of(&broken));
        let source = |placement, id, object, projection, modulation| Source {
            placement,
            id,
            resource: &r,
            object,
            projection,
            modulation,
        };
        let sources = vec![
            source(&p1, &idp, &plain, &jp, &plain_mod),
            source(&p2, &idp, &plain, &jp, &create_only),
            source(&other, &idp, &plain, &jp, &plain_mod),
            source(&p1, &ide, &expanded, &je, &plain_mod),
            source(&p1, &idb, &broken, &jb, &plain_mod),
        ];
        let params = Params::new([("env".to_owned(), "prod".to_owned())].into(), Default::default());
        let d = desired(sources, Some(&params), |_, _| None, []);

        assert_eq!(d.copies.len(), 3);
        let plain_copy = &d.copies[&idp].value;
        assert_eq!(plain_copy["data"]["k"], "%(env)", "no expansion without the annotation");
        assert_eq!(plain_copy["metadata"]["labels"]["edge.kubestellar.io/projected"], "yes");
        assert!(plain_copy["metadata"].get("uid").is_none() && plain_copy["metadata"].get("resourceVersion").is_none());
        assert_eq!(
            plain_copy["metadata"]["annotations"]["edge.kubestellar.io/downsync-overwrite"], "false",
            "either placement's createOnly"
        );
        assert_eq!(d.copies[&ide].value["data"]["k"], "in prod, %(zone)");
        for (id, projection) in [(&idp, &jp), (&ide, &je)] {
            let copy = &d.copies[id];
            assert!(!Arc::ptr_eq(&copy.value, &projection.value), "{id:?} changed here, so not shared");
            assert_eq!(copy.digest, digest(&copy.value), "{id:?}'s own digest");
            assert_ne!(copy.digest, projection.digest);
        }
        let unchanged = &d.copies[&idb];
        assert!(Arc::ptr_eq(&unchanged.value, &jb.value), "nothing customizes it: the shared projection");
        assert_eq!(unchanged.digest, jb.digest);
        assert_eq!(d.conflicts, vec![(idp.clone(), other)], "the same object from another WDS");

        let mut problems: Vec<String> =
            d.problems.iter().map(|p| format!("{}: {}", p.object["metadata"]["name"], p.problem)).collect();
        problems.sort();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("\"broken\"") && problems[0].contains("missing"), "{problems:?}");
        assert!(problems[1].starts_with("\"exp\"") && problems[1].contains("zone"), "{problems:?}");

        let the_one = serde_json::to_value(&d.the_one).expect("json");
        assert_eq!(
            the_one["namespacedObjects"][0]["objectsByNamespace"][0]["names"],
            json!(["broken", "exp", "plain"])
        );
    }
}
