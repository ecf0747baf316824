//! The check every scale run ends with: read everything back fresh (not from the bench's
//! watches) and compare it with what the workload asked for. A run whose numbers come from
//! a pipeline that lost or mangled objects is not a result.

use super::workload::{self, NAMESPACE};
use anyhow::Context;
use k8s_openapi::api::apps::v1::Deployment;
use kube::ResourceExt;
use kube::api::{Api, ApiResource, DynamicObject, ListParams};
use orrery_spaces::decode::{Decoded, Unmanaged};
use serde_json::Value;
use std::collections::BTreeMap;

/// What the run should have produced.
pub struct Expect {
    pub wecs: usize,
    pub objects: usize,
    pub placements: usize,
    /// The revision of `load-0` after the last update.
    pub rev: String,
}

/// One object as a WEC has it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Applied {
    pub rev: String,
    pub owned: bool,
    pub ready: bool,
}

/// What was read back.
#[derive(Debug, Default)]
pub struct Found {
    /// Per WEC: the copies in its mailbox (object index → revision).
    pub copies: Vec<BTreeMap<usize, String>>,
    /// Per WEC: the objects applied in it.
    pub applied: Vec<BTreeMap<usize, Applied>>,
    /// Per object: its `executing-count` and how many WECs its CombinedStatus lists ready.
    pub wds: BTreeMap<usize, (Option<String>, usize)>,
    /// Per placement: the destinations its slice lists.
    pub destinations: BTreeMap<String, usize>,
}

/// At most this many problems of one kind are listed; the rest are counted.
const SHOWN: usize = 5;

/// Everything that differs from what was asked for, as sentences.
pub fn problems(expect: &Expect, found: &Found, wec_name: impl Fn(usize) -> String) -> Vec<String> {
    let mut kinds: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut note = |kind: &'static str, text: String| kinds.entry(kind).or_default().push(text);
    if found.destinations.len() != expect.placements {
        note("slices", format!("{} slices for {} placements", found.destinations.len(), expect.placements));
    }
    for (placement, &n) in &found.destinations {
        if n != expect.wecs {
            note("slices", format!("slice {placement} lists {n} of {} WECs", expect.wecs));
        }
    }
    for wec in 0..expect.wecs {
        let name = wec_name(wec);
        let copies = found.copies.get(wec).cloned().unwrap_or_default();
        let applied = found.applied.get(wec).cloned().unwrap_or_default();
        if copies.len() != expect.objects {
            note("copies", format!("{name}'s mailbox holds {} of {} copies", copies.len(), expect.objects));
        } else if copies.get(&0) != Some(&expect.rev) {
            note(
                "copies",
                format!("{name}'s mailbox copy of load-0 is at rev {:?}, not {}", copies.get(&0), expect.rev),
            );
        }
        if applied.len() != expect.objects {
            note("applied", format!("{name} runs {} of {} objects", applied.len(), expect.objects));
        }
        for (index, a) in &applied {
            if !a.owned || !a.ready || (*index == 0 && a.rev != expect.rev) {
                note(
                    "applied",
                    format!("{name}'s load-{index} is {a:?} (want owned, ready, load-0 at rev {})", expect.rev),
                );
            }
        }
    }
    for object in 0..expect.objects {
        let (count, ready) = found.wds.get(&object).cloned().unwrap_or_default();
        let want = expect.wecs.to_string();
        if count.as_deref() != Some(want.as_str()) {
            note("wds", format!("load-{object}'s executing-count is {count:?}, not {want}"));
        }
        if ready != expect.wecs {
            note("wds", format!("load-{object}'s CombinedStatus lists {ready} of {} WECs ready", expect.wecs));
        }
    }
    kinds
        .into_values()
        .flat_map(|all| {
            let more = all.len().saturating_sub(SHOWN);
            let mut shown: Vec<String> = all.into_iter().take(SHOWN).collect();
            if more > 0 {
                shown.push(format!("… and {more} more like these"));
            }
            shown
        })
        .collect()
}

/// Lists a resource in namespace `bench` of every space of a server (`client` points at
/// `/clusters/*`), a page at a time, handing `each` every object with its space. Objects
/// are decoded without their `managedFields` and dropped page by page: at 10,000 WECs
/// the two lists hold 200,000 Deployments, and kept whole they were the bench process's
/// peak (heaptrack, 300 WECs: 71 MB of its 179 MB).
async fn list_all(
    client: &kube::Client,
    resource: &ApiResource,
    mut each: impl FnMut(String, DynamicObject),
) -> anyhow::Result<()> {
    let api: Api<Unmanaged> = Api::namespaced_with(client.clone(), NAMESPACE, resource);
    let mut params = ListParams::default().limit(2000);
    loop {
        let page = api.list(&params).await.context("listing across spaces")?;
        for Decoded(o) in page.items {
            let space = o.annotations().get(orrery_spaces::SPACE_ANNOTATION).cloned().unwrap_or_default();
            each(space, o);
        }
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => params = params.continue_token(&token),
            _ => return Ok(()),
        }
    }
}

fn rev(o: &DynamicObject) -> String {
    workload::rev(&o.data).unwrap_or_default().to_owned()
}

/// Reads back the mailboxes (through `center_all`), the WECs (through `wecs_all`) and the
/// WDS.
pub async fn read(
    center_all: &kube::Client,
    wecs_all: &kube::Client,
    wds: &kube::Client,
    index: &super::observe::Index,
) -> anyhow::Result<Found> {
    let n = index.wecs.len();
    let deployments = ApiResource::erase::<Deployment>(&());
    let mut found = Found { copies: vec![BTreeMap::new(); n], applied: vec![BTreeMap::new(); n], ..Default::default() };
    list_all(center_all, &deployments, |space, o| {
        if let (Some(&wec), Some(i)) = (index.mailboxes.get(&space), workload::object_index(&o.name_any())) {
            found.copies[wec].insert(i, rev(&o));
        }
    })
    .await?;
    list_all(wecs_all, &deployments, |space, o| {
        if let (Some(&wec), Some(i)) = (index.wecs.get(&space), workload::object_index(&o.name_any())) {
            let owned = o.annotations().contains_key(orrery_api::keys::DOWNSYNCED);
            found.applied[wec].insert(i, Applied { rev: rev(&o), owned, ready: workload::is_ready(&o.data) });
        }
    })
    .await?;
    let in_wds: Api<DynamicObject> = Api::namespaced_with(wds.clone(), NAMESPACE, &deployments);
    for o in in_wds.list(&ListParams::default()).await? {
        if let Some(i) = workload::object_index(&o.name_any()) {
            let count = o.annotations().get(orrery_api::keys::EXECUTING_COUNT).cloned();
            found.wds.entry(i).or_default().0 = count;
        }
    }
    let combined: Api<orrery_api::CombinedStatus> = Api::namespaced(wds.clone(), NAMESPACE);
    for c in combined.list(&ListParams::default()).await? {
        let object = c.labels().get(orrery_api::keys::combined_status::NAME).and_then(|n| workload::object_index(n));
        if let Some(i) = object {
            let ready: std::collections::BTreeSet<&str> = workload::ready_wecs(&c).collect();
            found.wds.entry(i).or_default().1 = ready.len();
        }
    }
    let slices: Api<DynamicObject> =
        Api::all_with(wds.clone(), &ApiResource::erase::<orrery_api::SinglePlacementSlice>(&()));
    for s in slices.list(&ListParams::default()).await? {
        let n = s.data.get("destinations").and_then(Value::as_array).map_or(0, Vec::len);
        found.destinations.insert(s.name_any(), n);
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good(wecs: usize, objects: usize) -> Found {
        let ok = Applied { rev: "2".into(), owned: true, ready: true };
        Found {
            copies: vec![(0..objects).map(|i| (i, "2".to_owned())).collect(); wecs],
            applied: vec![(0..objects).map(|i| (i, ok.clone())).collect(); wecs],
            wds: (0..objects).map(|i| (i, (Some(wecs.to_string()), wecs))).collect(),
            destinations: [("scale-0".to_owned(), wecs)].into(),
        }
    }

    #[test]
    fn what_was_asked_for_has_no_problems_and_every_loss_is_named() {
        let expect = Expect { wecs: 3, objects: 2, placements: 1, rev: "2".into() };
        let name = |i: usize| format!("wec{}", i + 1);
        assert!(problems(&expect, &good(3, 2), name).is_empty());
        type Break = fn(&mut Found);
        let cases: &[(Break, &str)] = &[
            (|f| _ = f.copies[1].remove(&1), "wec2's mailbox holds 1 of 2 copies"),
            (|f| _ = f.copies[0].insert(0, "1".into()), "wec1's mailbox copy of load-0 is at rev Some(\"1\")"),
            (|f| f.applied[2].clear(), "wec3 runs 0 of 2 objects"),
            (|f| f.applied[0].get_mut(&1).expect("load-1").owned = false, "wec1's load-1 is"),
            (|f| f.applied[0].get_mut(&0).expect("load-0").rev = "1".into(), "wec1's load-0 is"),
            (|f| f.wds.get_mut(&1).expect("load-1").0 = Some("2".into()), "load-1's executing-count is Some(\"2\")"),
            (|f| f.wds.get_mut(&0).expect("load-0").1 = 2, "load-0's CombinedStatus lists 2 of 3"),
            (|f| _ = f.destinations.insert("scale-0".into(), 2), "slice scale-0 lists 2 of 3"),
            (|f| f.destinations.clear(), "0 slices for 1 placements"),
        ];
        for (brk, want) in cases {
            let mut found = good(3, 2);
            brk(&mut found);
            let got = problems(&expect, &found, name);
            assert!(got.iter().any(|p| p.contains(want)), "want {want:?} in {got:?}");
        }
    }

    #[test]
    fn many_problems_of_a_kind_are_counted_not_listed() {
        let expect = Expect { wecs: 20, objects: 1, placements: 1, rev: "2".into() };
        let mut found = good(20, 1);
        found.applied.iter_mut().for_each(BTreeMap::clear);
        let got = problems(&expect, &found, |i| format!("wec{i}"));
        assert_eq!(got.len(), SHOWN + 1);
        assert_eq!(got.last().map(String::as_str), Some("… and 15 more like these"));
    }
}
