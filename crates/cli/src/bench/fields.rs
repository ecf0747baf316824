//! `orrery bench fields`: the space server's field tracking (the `managedFields` every
//! write records, and server-side apply) alone, in this process, for the writes a scale
//! run makes of each copy:
//!
//! - **create**: the syncer creating the workload's Deployment in a WEC;
//! - **copy apply**: the placement translator applying a changed copy over the stored one;
//! - **status update**: a status write by another manager over that copy (the simulated
//!   cluster's in the WEC, the syncer's return to the mailbox);
//! - **list apply**: an apply over an object with a long keyed list (`--list` containers
//!   of a Pod), one element changed: the case where the size of one node of a field set
//!   shows.
//!
//! `orrery bench scale` runs three processes on two cores, and its figures move with the
//! machine's load from hour to hour; a change to field tracking is a few percent of them.
//! These are single-threaded loops over the library, each the fastest and the median of
//! `--rounds` rounds, so such a change shows here on its own. Each write's input is made
//! before the clock starts; dropping its result is timed, as it is part of a write.

use super::common::round;
use super::scale::workload::{REV_ANNOTATION, deployment};
use anyhow::ensure;
use orrery_spaceserver::ssa::{self, BuiltinListTypes, EntryText, ListTypes, ManagedList, Stored, StoredEntries};
use serde_json::{Value, json};
use std::time::Instant;

#[derive(clap::Args, Clone)]
pub struct Args {
    /// Timed writes of each kind per round (list applies: one for every 2,000, at least
    /// one).
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    writes: u64,
    /// Rounds: each kind reports its fastest round and its median one.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=1000))]
    rounds: u64,
    /// Elements of the keyed list in the list apply.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    list: u64,
}

/// When every write of a run is recorded: a fixed clock reading, as the library takes one.
const NOW: &str = "2026-11-25T00:00:00Z";
const SYNCER: &str = "syncer";
const TRANSLATOR: &str = "translator";
const SIMULATED: &str = "simulated-cluster";

/// The workload's Deployment at pod-template revision `rev`.
fn copy(rev: usize) -> Value {
    let mut object = deployment(0);
    object["spec"]["template"]["metadata"]["annotations"][REV_ANNOTATION] = json!(rev.to_string());
    object
}

/// A Deployment's status as a cluster writes it once its replicas are ready.
fn status(generation: usize) -> Value {
    let condition = |kind: &str, reason: &str| json!({"type": kind, "status": "True", "reason": reason, "lastUpdateTime": NOW, "lastTransitionTime": NOW});
    json!({"observedGeneration": generation, "replicas": 1, "readyReplicas": 1, "availableReplicas": 1,
           "updatedReplicas": 1,
           "conditions": [condition("Available", "MinimumReplicasAvailable"),
                          condition("Progressing", "NewReplicaSetAvailable")]})
}

/// A Pod with `len` containers, the one at `changed` (if any) with another image.
fn pod(len: u64, changed: Option<u64>) -> Value {
    let containers: Vec<Value> = (0..len)
        .map(|i| json!({"name": format!("c{i}"), "image": if Some(i) == changed { "app:2" } else { "app:1" }}))
        .collect();
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "bench"},
           "spec": {"containers": containers}})
}

/// The managers a list records, in order.
fn managers(list: &ManagedList) -> anyhow::Result<Vec<String>> {
    let entries = serde_json::to_value(list)?;
    let names = entries.as_array().into_iter().flatten().filter_map(|e| e.get("manager")?.as_str());
    Ok(names.map(str::to_owned).collect())
}

/// A list as the server reads it from a stored object: each entry as its text.
fn stored(list: &ManagedList) -> anyhow::Result<StoredEntries> {
    let entries = serde_json::to_value(list)?;
    let texts = entries.as_array().into_iter().flatten().map(|e| EntryText::from(e.to_string()));
    Ok(StoredEntries::new(texts.collect()))
}

/// Microseconds per write, `calls` writes per round, each of an input `make` makes
/// before the round's clock starts: the fastest round and the median one.
fn time<T>(
    rounds: u64,
    calls: u64,
    mut make: impl FnMut(u64) -> T,
    mut write: impl FnMut(T) -> anyhow::Result<()>,
) -> anyhow::Result<Value> {
    let mut per_call = Vec::new();
    for _ in 0..rounds {
        let inputs: Vec<T> = (0..calls).map(&mut make).collect();
        let started = Instant::now();
        for input in inputs {
            write(input)?;
        }
        per_call.push(started.elapsed().as_secs_f64() * 1e6 / calls as f64);
    }
    per_call.sort_by(f64::total_cmp);
    Ok(json!({"fastest": round(per_call[0], 2), "median": round(per_call[per_call.len() / 2], 2)}))
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let deployments = BuiltinListTypes::for_kind("apps/v1", "Deployment");
    let pods = BuiltinListTypes::for_kind("v1", "Pod");
    let types: &dyn ListTypes = &deployments;

    // As the server calls it (`api/managed.rs`): the object without `managedFields`,
    // the stored entries as text. Each write is checked once for what it must record, so
    // that no figure is of a write that did nothing.
    let (_, list) = ssa::update_tracked(None, Stored::None, copy(0), SYNCER, None, types, NOW);
    ensure!(managers(&list)? == [SYNCER], "a create records its manager");
    let (copied, list) = ssa::apply_tracked(None, Stored::None, copy(0), TRANSLATOR, None, true, types, NOW)?;
    let copy_entries = stored(&list)?;
    let apply = |rev: usize| {
        let stored = Stored::Text(&copy_entries);
        ssa::apply_tracked(Some(&copied), stored, copy(rev), TRANSLATOR, None, true, types, NOW)
    };
    let (applied, list) = apply(1)?;
    ensure!(managers(&list)? == [TRANSLATOR] && applied != copied, "an apply records its change");
    let with_status = |generation: usize| {
        let mut new = copied.clone();
        new["status"] = status(generation);
        new
    };
    let report_status = |entries: &StoredEntries, generation: usize| {
        let stored = Stored::Text(entries);
        ssa::update_tracked(Some(&copied), stored, with_status(generation), SIMULATED, Some("status"), types, NOW)
    };
    let (reported, list) = report_status(&copy_entries, 1);
    ensure!(managers(&list)? == [TRANSLATOR, SIMULATED], "a status write adds its manager");
    let reported_entries = stored(&list)?;
    let (long, list) =
        ssa::apply_tracked(None, Stored::None, pod(args.list, None), TRANSLATOR, None, true, &pods, NOW)?;
    let long_entries = stored(&list)?;

    let (rounds, writes) = (args.rounds, args.writes);
    let report = json!({
        "writes": writes, "rounds": rounds, "list": args.list,
        "create_us": time(rounds, writes, |i| copy(i as usize), |new| {
            std::hint::black_box(ssa::update_tracked(None, Stored::None, new, SYNCER, None, types, NOW));
            Ok(())
        })?,
        "copy_apply_us": time(rounds, writes, |i| copy(1 + i as usize), |new| {
            let stored = Stored::Text(&copy_entries);
            std::hint::black_box(ssa::apply_tracked(Some(&copied), stored, new, TRANSLATOR, None, true, types, NOW)?);
            Ok(())
        })?,
        "status_update_us": time(rounds, writes, |i| with_status(2 + i as usize), |new| {
            let stored = Stored::Text(&reported_entries);
            std::hint::black_box(ssa::update_tracked(Some(&reported), stored, new, SIMULATED, Some("status"), types, NOW));
            Ok(())
        })?,
        "list_apply_us": time(rounds, (writes / 2000).max(1), |i| pod(args.list, Some(i % args.list)), |changed| {
            let stored = Stored::Text(&long_entries);
            std::hint::black_box(ssa::apply_tracked(Some(&long), stored, changed, TRANSLATOR, None, true, &pods, NOW)?);
            Ok(())
        })?,
    });
    eprintln!("field tracking, µs per write (fastest / median of {rounds} rounds of {writes}):");
    for (kind, label) in [
        ("create_us", "create"),
        ("copy_apply_us", "copy apply"),
        ("status_update_us", "status update"),
        ("list_apply_us", "list apply"),
    ] {
        eprintln!("  {label:<14} {:>12} / {}", report[kind]["fastest"], report[kind]["median"]);
    }
    println!("{report}");
    Ok(())
}
