//! Workload objects as JSON values, and their mailbox copies before customization, made
//! once per version of an object rather than once for every mailbox it goes to.
//!
//! A mailbox's reconcile reads every object placed there. One update of an object placed
//! on 1,000 WECs reconciles 1,000 mailboxes, and each turned every object placed there
//! into a value again: a tenth of the center's CPU while updates went out, with as much
//! again to drop the values. Projecting and digesting each of them again, for every
//! mailbox, was as much once more; an object nothing customizes has one copy everywhere.

use super::desired::Projection;
use kube::api::DynamicObject;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Weak};

/// One version of a workload object, prepared for every mailbox it goes to.
#[derive(Debug)]
pub(super) struct Prepared {
    /// The object as a JSON value.
    pub source: Value,
    /// Its mailbox copy before customization.
    pub projection: Projection,
}

/// The preparation of each cached object, by the object's allocation: a watch event replaces an
/// object with a new `Arc`, so a new version is a new entry. The `Weak` keeps the
/// allocation from being reused while its entry lasts; entries of objects the caches have
/// dropped are swept as the map grows.
#[derive(Debug, Default)]
pub(super) struct Values {
    by_object: HashMap<usize, (Weak<DynamicObject>, Arc<Prepared>)>,
    /// How many entries the last sweep left.
    swept: usize,
}

/// No sweep below this many entries.
const SWEEP_FROM: usize = 1024;

impl Values {
    /// `object` prepared.
    pub(super) fn of(&mut self, object: &Arc<DynamicObject>) -> Result<Arc<Prepared>, serde_json::Error> {
        let at = Arc::as_ptr(object) as usize;
        if let Some((held, prepared)) = self.by_object.get(&at)
            && held.strong_count() > 0
        {
            return Ok(prepared.clone());
        }
        let source = serde_json::to_value(&**object)?;
        let prepared = Arc::new(Prepared { projection: Projection::of(&source), source });
        self.by_object.insert(at, (Arc::downgrade(object), prepared.clone()));
        if self.by_object.len() > (2 * self.swept).max(SWEEP_FROM) {
            self.by_object.retain(|_, (held, _)| held.strong_count() > 0);
            self.swept = self.by_object.len();
        }
        Ok(prepared)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.by_object.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::api::ApiResource;
    use serde_json::json;

    fn configmap(data: &str) -> Arc<DynamicObject> {
        let ar = ApiResource::erase::<k8s_openapi::api::core::v1::ConfigMap>(&());
        Arc::new(DynamicObject::new("c", &ar).data(json!({"data": {"k": data}})))
    }

    #[test]
    fn one_value_per_version_and_dropped_versions_are_swept() {
        let mut values = Values::default();
        let v1 = configmap("1");
        let first = values.of(&v1).expect("value");
        assert_eq!(first.source["data"]["k"], "1");
        assert_eq!(first.projection, Projection::of(&first.source));
        assert!(Arc::ptr_eq(&first, &values.of(&v1).expect("value")), "made once");
        let v2 = configmap("2");
        let second = values.of(&v2).expect("value");
        assert_eq!(second.source["data"]["k"], "2", "a new version, a new value");
        assert_ne!(second.projection.digest, first.projection.digest);

        drop((v1, v2));
        let kept: Vec<_> = (0..SWEEP_FROM).map(|i| configmap(&i.to_string())).collect();
        for o in &kept {
            values.of(o).expect("value");
        }
        assert!(values.len() <= SWEEP_FROM, "{} entries: the two dropped versions are swept", values.len());
        let again = values.of(&kept[7]).expect("value");
        assert_eq!(again.source["data"]["k"], "7");
    }
}
