//! Telling users what could not be customized: a Warning Event on the WDS object (once per
//! problem and mailbox), and the `Translated` condition of every placement involved.

use super::desired::Reported;
use super::selection::{MailboxEntry, PlacementKey};
use super::{MANAGER, TranslatorController, lock};
use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, Patch, PatchParams, PostParams};
use orrery_api::EdgePlacement;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// The condition type on EdgePlacement status.
pub const TRANSLATED: &str = "Translated";
/// How many problems a condition message lists before "and N more".
const LISTED: usize = 5;

/// The `Translated` condition for a placement with these problems: `(status, reason,
/// message)`.
pub fn condition(problems: &BTreeSet<String>) -> (&'static str, &'static str, String) {
    if problems.is_empty() {
        return ("True", "Translated", "every selected object is customized for every destination".into());
    }
    let mut message: Vec<&str> = problems.iter().map(String::as_str).take(LISTED).collect();
    let more = problems.len().saturating_sub(LISTED);
    let more = format!("and {more} more");
    if problems.len() > LISTED {
        message.push(&more);
    }
    ("False", "CustomizationFailed", message.join("; "))
}

fn now() -> String {
    jiff::Timestamp::now().round(jiff::Unit::Second).map(|t| t.to_string()).unwrap_or_default()
}

fn event_name(object: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("{object}.{nanos:x}")
}

fn meta<'a>(o: &'a Value, field: &str) -> Option<&'a str> {
    o.get("metadata")?.get(field)?.as_str()
}

impl TranslatorController {
    pub(super) async fn report(
        &self,
        mailbox: &str,
        entry: Option<&MailboxEntry>,
        placements: &[PlacementKey],
        problems: &[Reported],
    ) {
        let target = entry.map_or("?", |e| e.sync_target.as_str());
        let described = |r: &Reported| {
            let name = meta(&r.object, "name").unwrap_or_default();
            let kind = r.object.get("kind").and_then(Value::as_str).unwrap_or_default();
            (format!("{kind} {name}"), format!("{} (for SyncTarget {target}, mailbox {mailbox})", r.problem))
        };

        // Events: one per new or changed problem of an object in this mailbox.
        let mut now_reported: BTreeMap<(String, String, String), String> = BTreeMap::new();
        for r in problems {
            let (object, message) = described(r);
            let key = (mailbox.to_owned(), r.space.clone(), object);
            now_reported.entry(key).and_modify(|m| *m = format!("{m}; {message}")).or_insert(message);
        }
        let fresh: Vec<((String, String, String), String)> = {
            let mut reported = lock(&self.reported);
            reported.retain(|k, _| k.0 != mailbox || now_reported.contains_key(k));
            let fresh: Vec<_> = now_reported.into_iter().filter(|(k, m)| reported.get(k) != Some(m)).collect();
            for (k, m) in &fresh {
                reported.insert(k.clone(), m.clone());
            }
            fresh
        };
        for ((_, space, object), message) in fresh {
            let Some(r) = problems.iter().find(|r| r.space == space && described(r).0 == object) else { continue };
            if let Err(e) = self.event(&space, &r.object, &message).await {
                tracing::warn!(%space, %object, error = %e, "recording an Event");
            }
        }

        // Conditions: this mailbox's problems per placement, and every placement's summary.
        let mut changed: BTreeSet<PlacementKey> = placements.iter().cloned().collect();
        {
            let mut by_placement = lock(&self.problems);
            for (p, per_mailbox) in by_placement.iter_mut() {
                if !placements.contains(p) && per_mailbox.remove(mailbox).is_some() {
                    changed.insert(p.clone());
                }
            }
            for p in placements {
                let mine: Vec<String> = problems
                    .iter()
                    .filter(|r| r.placements.contains(p))
                    .map(&described)
                    .map(|(o, m)| format!("{o}: {m}"))
                    .collect();
                let per_mailbox = by_placement.entry(p.clone()).or_default();
                if mine.is_empty() {
                    per_mailbox.remove(mailbox);
                } else {
                    per_mailbox.insert(mailbox.to_owned(), mine);
                }
            }
        }
        for p in changed {
            let all: BTreeSet<String> =
                lock(&self.problems).get(&p).into_iter().flat_map(|m| m.values().flatten().cloned()).collect();
            let (status, reason, message) = condition(&all);
            let summary = format!("{status}/{message}");
            if lock(&self.conditions).get(&p) == Some(&summary) {
                continue;
            }
            match self.write_condition(&p, status, reason, &message).await {
                Ok(true) => {
                    lock(&self.conditions).insert(p, summary);
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(placement = ?p, error = %e, "writing the Translated condition"),
            }
        }
    }

    async fn event(&self, space: &str, object: &Value, message: &str) -> Result<(), kube::Error> {
        let client = self.provider.client(space).await.map_err(|e| kube::Error::Service(Box::new(e)))?;
        let namespace = meta(object, "namespace").unwrap_or("default");
        let name = meta(object, "name").unwrap_or_default();
        let now = now();
        let event: Event = serde_json::from_value(json!({
            // Named as client-go's recorder names them: the object, then a unique suffix.
            "metadata": {"name": event_name(name), "namespace": namespace},
            "involvedObject": {
                "apiVersion": object.get("apiVersion"), "kind": object.get("kind"),
                "name": name, "namespace": meta(object, "namespace"), "uid": meta(object, "uid"),
                "resourceVersion": meta(object, "resourceVersion"),
            },
            "reason": "CustomizationFailed",
            "message": message,
            "type": "Warning",
            "source": {"component": MANAGER},
            "reportingComponent": MANAGER,
            "firstTimestamp": now, "lastTimestamp": now, "count": 1,
        }))
        .map_err(kube::Error::SerdeError)?;
        Api::<Event>::namespaced(client, namespace).create(&PostParams::default(), &event).await?;
        Ok(())
    }

    /// Writes the condition; `false` when the placement has no status yet (the scheduler
    /// writes it first; the status update brings the placement back here).
    async fn write_condition(
        &self,
        p: &PlacementKey,
        status: &str,
        reason: &str,
        message: &str,
    ) -> Result<bool, kube::Error> {
        let has_status = self
            .placements
            .get(&orrery_runtime::Key::new(&p.0, None, &p.1))
            .is_some_and(|o| o.data.get("status").is_some_and(|s| s.get("matchingLocationCount").is_some()));
        if !has_status {
            return Ok(false);
        }
        let client = self.provider.client(&p.0).await.map_err(|e| kube::Error::Service(Box::new(e)))?;
        let condition = json!({"type": TRANSLATED, "status": status, "reason": reason, "message": message, "lastTransitionTime": now()});
        let patch = json!({"status": {"conditions": [condition]}});
        Api::<EdgePlacement>::all(client).patch_status(&p.1, &PatchParams::default(), &Patch::Merge(patch)).await?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_list_a_few_problems_then_count() {
        let set = |n: usize| (0..n).map(|i| format!("p{i}")).collect::<BTreeSet<String>>();
        let cases = [
            (0, "True", "every selected object is customized for every destination".to_owned()),
            (2, "False", "p0; p1".to_owned()),
            (7, "False", "p0; p1; p2; p3; p4; and 2 more".to_owned()),
        ];
        for (n, status, message) in cases {
            let (s, _, m) = condition(&set(n));
            assert_eq!((s, m), (status, message), "{n} problems");
        }
    }
}
