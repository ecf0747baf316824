//! The rows of each StatusCollector's table, kept between passes.
//!
//! A row depends only on the WDS object and what one WEC returned, and a pass over an
//! object with 1,000 WECs usually comes after a few of them reported. So each row is kept
//! with the report it was computed from (by identity: a new status is a new `Arc`), and a
//! pass computes only the rows of WECs that reported since; a changed object or collector
//! recomputes them all. Measured with `orrery bench scale` at 1,000 WECs, evaluating every
//! row on every pass was a tenth of the center's CPU.

use super::Returned;
use crate::collector::{Collector, RowOutcome};
use crate::expr::Report;
use orrery_api::NamedStatusCombination;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// One object's kept rows, by (placement, StatusCollector).
pub type ObjectRows = HashMap<(String, String), Rows>;

/// One collector's rows for one object.
pub struct Rows {
    collector: Arc<Collector>,
    /// The digest of the object (without status) the rows were computed over.
    object: u64,
    by_wec: HashMap<String, (Arc<Returned>, RowOutcome)>,
}

impl Rows {
    pub fn new(collector: Arc<Collector>, object: u64) -> Self {
        Self { collector, object, by_wec: HashMap::new() }
    }

    /// The table `collector` makes for `reports` (SyncTarget name and what it returned, in
    /// row order) about an object with digest `object`, whose scope is `root`
    /// ([`crate::expr::root`]); rows kept from an earlier pass are reused when the
    /// collector, the object and the WEC's report are the same.
    pub fn table(
        &mut self,
        name: &str,
        collector: &Arc<Collector>,
        object: u64,
        root: &cel::Context<'_, 'static>,
        reports: &[(&str, &Arc<Returned>)],
    ) -> NamedStatusCombination {
        if !Arc::ptr_eq(&self.collector, collector) || self.object != object {
            *self = Self::new(collector.clone(), object);
        }
        for (wec, returned) in reports {
            let fresh = self.by_wec.get(*wec).is_some_and(|(r, _)| Arc::ptr_eq(r, returned));
            if !fresh {
                let report = Report::new(wec, Some(&returned.status()), Some(&returned.at));
                let row = collector.row(root, &report);
                self.by_wec.insert((*wec).to_owned(), ((*returned).clone(), row));
            }
        }
        if self.by_wec.len() > reports.len() {
            let current: HashSet<&str> = reports.iter().map(|(w, _)| *w).collect();
            self.by_wec.retain(|w, _| current.contains(w.as_str()));
        }
        let by_wec = &self.by_wec;
        collector.table(name, reports.iter().filter_map(|(w, _)| Some((*w, &by_wec.get(*w)?.1))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orrery_api::{NamedExpression, StatusCollectorSpec};
    use serde_json::json;

    fn collector(def: &str) -> Arc<Collector> {
        let spec = StatusCollectorSpec {
            select: Some(vec![NamedExpression { name: "ready".into(), def: def.into() }]),
            limit: 10,
            ..Default::default()
        };
        Arc::new(Collector::compile(&spec).expect("compiles"))
    }

    fn returned(ready: i64) -> Arc<Returned> {
        Arc::new(Returned::new(&json!({"readyReplicas": ready}), "2026-11-22T10:00:00Z".into()))
    }

    fn cells(t: &NamedStatusCombination) -> Vec<String> {
        t.rows.iter().flatten().map(|r| crate::collector::describe(&r.columns[0])).collect()
    }

    /// Kept rows are reused by identity, new reports recomputed, and the table always equals
    /// a fresh evaluation of the same reports.
    #[test]
    fn rows_are_reused_until_their_report_object_or_collector_changes() {
        let sc = collector("returned.status.readyReplicas");
        let obj = crate::expr::to_cel(&json!({"spec": {"replicas": 2}}));
        let root = crate::expr::root(&obj);
        let (a1, b1, b2) = (returned(1), returned(1), returned(2));
        let mut rows = Rows::new(sc.clone(), 7);

        let t = rows.table("sc", &sc, 7, &root, &[("a", &a1), ("b", &b1)]);
        assert_eq!(cells(&t), ["1", "1"]);
        let kept = rows.by_wec["a"].0.clone();

        // b reports anew; a's row is kept as it was.
        let t = rows.table("sc", &sc, 7, &root, &[("a", &a1), ("b", &b2)]);
        assert_eq!(cells(&t), ["1", "2"]);
        assert!(Arc::ptr_eq(&rows.by_wec["a"].0, &kept));

        // A WEC that no longer reports leaves the table and the cache.
        let t = rows.table("sc", &sc, 7, &root, &[("b", &b2)]);
        assert_eq!(cells(&t), ["2"]);
        assert_eq!(rows.by_wec.len(), 1);

        // A changed collector recomputes everything; so does a changed object.
        let plus = collector("returned.status.readyReplicas + obj.spec.replicas");
        let t = rows.table("sc", &plus, 7, &root, &[("a", &a1), ("b", &b2)]);
        assert_eq!(cells(&t), ["3", "4"]);
        let obj = crate::expr::to_cel(&json!({"spec": {"replicas": 5}}));
        let root = crate::expr::root(&obj);
        let t = rows.table("sc", &plus, 8, &root, &[("a", &a1)]);
        assert_eq!(cells(&t), ["6"]);

        // Whatever was reused, the table is the one a fresh evaluation gives.
        let reports = [Report::new("a", Some(&a1.status()), Some(&a1.at))];
        assert_eq!(t, plus.evaluate("sc", &obj, &reports));
    }
}
