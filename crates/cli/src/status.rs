//! `orrery status`: each EdgePlacement of a WDS → its destinations → per WEC, its syncer's
//! heartbeat and what its mailbox holds (whether each object's status came back, and any
//! conflict the syncer reported), with each object's `executing-count` in the WDS. A tree,
//! or `-o json`.

use crate::location::{Inventory, heartbeat};
use anyhow::Context;
use kube::api::{Api, ApiResource, DynamicObject, ListParams};
use orrery_api::keys::{EXECUTING_COUNT, SYNCER_CONFIG_NAME};
use orrery_api::{EdgePlacement, SinglePlacementSlice, SyncTarget, SyncerConfig};
use orrery_translator::{Placed, placed_in};
use serde_json::{Value, json};

/// The annotation the syncer puts on a mailbox copy it cannot sync.
const CONFLICT: &str = "edge.kubestellar.io/syncer-conflict";

#[derive(clap::ValueEnum, Clone, Copy)]
enum Output {
    Tree,
    Json,
}

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    inventory: Inventory,
    /// The workload description space.
    #[arg(long, default_value = "wds1")]
    wds: String,
    #[arg(short = 'o', long, value_enum, default_value = "tree")]
    output: Output,
}

fn api_of(p: &Placed) -> ApiResource {
    let api_version = if p.group.is_empty() { p.version.clone() } else { format!("{}/{}", p.group, p.version) };
    ApiResource {
        group: p.group.clone(),
        version: p.version.clone(),
        api_version,
        kind: String::new(),
        plural: p.resource.clone(),
    }
}

fn objects(client: &kube::Client, p: &Placed) -> Api<DynamicObject> {
    match &p.namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &api_of(p)),
        None => Api::all_with(client.clone(), &api_of(p)),
    }
}

/// One WEC a placement reaches, as JSON.
async fn destination(args: &Args, wds: &kube::Client, d: &orrery_api::SinglePlacement) -> anyhow::Result<Value> {
    let inventory = args.inventory.client(&d.cluster).await?;
    let st = Api::<SyncTarget>::all(inventory).get_opt(&d.sync_target_name).await?;
    let mailbox = orrery_api::mailbox_space_name(&d.cluster, &d.sync_target_uid);
    let mut out = json!({
        "location": d.location_name, "syncTarget": d.sync_target_name, "inventory": d.cluster, "mailbox": mailbox,
        "heartbeat": st.as_ref().map_or_else(|| "no SyncTarget".to_owned(), heartbeat),
        "lastHeartbeat": st.as_ref().and_then(|s| s.status.as_ref()?.last_syncer_heartbeat_time.as_ref().map(|t| t.0.to_string())),
    });
    let client = args.inventory.client(&mailbox).await?;
    let Some(config) = Api::<SyncerConfig>::all(client.clone()).get_opt(SYNCER_CONFIG_NAME).await.unwrap_or(None)
    else {
        out["objects"] = json!([]);
        return Ok(out);
    };
    let mut listed = Vec::new();
    for p in placed_in(&config.spec) {
        let copy = objects(&client, &p).get_opt(&p.name).await.unwrap_or(None);
        let source = objects(wds, &p).get_opt(&p.name).await.unwrap_or(None);
        let annotation = |o: &Option<DynamicObject>, k: &str| {
            o.as_ref().and_then(|o| o.metadata.annotations.as_ref()?.get(k).cloned())
        };
        listed.push(json!({
            "group": p.group, "resource": p.resource, "namespace": p.namespace, "name": p.name,
            "inMailbox": copy.is_some(),
            "statusReturned": copy.as_ref().is_some_and(|c| c.data.get("status").is_some_and(|s| s.as_object().is_some_and(|o| !o.is_empty()))),
            "conflict": annotation(&copy, CONFLICT),
            "executingCount": annotation(&source, EXECUTING_COUNT),
        }));
    }
    out["objects"] = Value::Array(listed);
    Ok(out)
}

async fn gather(args: &Args) -> anyhow::Result<Value> {
    let wds = args.inventory.client(&args.wds).await?;
    let placements = Api::<EdgePlacement>::all(wds.clone())
        .list(&ListParams::default())
        .await
        .with_context(|| format!("listing the EdgePlacements of {}", args.wds))?;
    let slices = Api::<SinglePlacementSlice>::all(wds.clone());
    let mut out = Vec::new();
    for p in placements.items {
        let name = p.metadata.name.clone().unwrap_or_default();
        let destinations = slices.get_opt(&name).await?.map(|s| s.spec.destinations).unwrap_or_default();
        let mut reached = Vec::new();
        for d in &destinations {
            reached.push(destination(args, &wds, d).await?);
        }
        out.push(json!({
            "name": name,
            "singleton": p.spec.want_singleton_reported_state.unwrap_or(false),
            "matchingLocations": p.status.as_ref().map(|s| s.matching_location_count),
            "destinations": reached,
        }));
    }
    Ok(json!({"wds": args.wds, "placements": out}))
}

/// The tree form of [`gather`]'s answer.
fn tree(status: &Value) -> String {
    let mut out = String::new();
    let placements = status["placements"].as_array().cloned().unwrap_or_default();
    if placements.is_empty() {
        out.push_str(&format!("no EdgePlacements in {}\n", status["wds"].as_str().unwrap_or("")));
    }
    for p in placements {
        let dests = p["destinations"].as_array().cloned().unwrap_or_default();
        out.push_str(&format!(
            "EdgePlacement {} ({} destination{}{})\n",
            p["name"].as_str().unwrap_or(""),
            dests.len(),
            if dests.len() == 1 { "" } else { "s" },
            if p["singleton"] == true { ", singleton status" } else { "" }
        ));
        for (i, d) in dests.iter().enumerate() {
            let last = i + 1 == dests.len();
            out.push_str(&format!(
                "{} {}  heartbeat {}  mailbox {}\n",
                if last { "└─" } else { "├─" },
                d["syncTarget"].as_str().unwrap_or(""),
                d["heartbeat"].as_str().unwrap_or(""),
                d["mailbox"].as_str().unwrap_or("")
            ));
            let objects = d["objects"].as_array().cloned().unwrap_or_default();
            for (j, o) in objects.iter().enumerate() {
                let resource = match o["group"].as_str() {
                    Some("") | None => o["resource"].as_str().unwrap_or("").to_owned(),
                    Some(g) => format!("{}.{g}", o["resource"].as_str().unwrap_or("")),
                };
                let name = match o["namespace"].as_str() {
                    Some(ns) => format!("{ns}/{}", o["name"].as_str().unwrap_or("")),
                    None => o["name"].as_str().unwrap_or("").to_owned(),
                };
                let mut state = Vec::new();
                if o["inMailbox"] != true {
                    state.push("not in the mailbox yet".to_owned());
                } else if o["statusReturned"] == true {
                    state.push("status returned".to_owned());
                }
                if let Some(n) = o["executingCount"].as_str() {
                    state.push(format!("executing-count {n}"));
                }
                if let Some(c) = o["conflict"].as_str() {
                    state.push(format!("CONFLICT: {c}"));
                }
                out.push_str(&format!(
                    "{}  {} {resource} {name}{}{}\n",
                    if last { "  " } else { "│ " },
                    if j + 1 == objects.len() { "└─" } else { "├─" },
                    if state.is_empty() { "" } else { "  " },
                    state.join(", ")
                ));
            }
        }
    }
    out
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let status = gather(&args).await?;
    match args.output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&status)?),
        Output::Tree => print!("{}", tree(&status)),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tree() {
        let status = json!({"wds": "wds1", "placements": [{"name": "web", "singleton": true, "destinations": [
            {"syncTarget": "wec1", "heartbeat": "2s ago (healthy)", "mailbox": "imw1-mb-1", "objects": [
                {"group": "", "resource": "namespaces", "namespace": null, "name": "app", "inMailbox": true, "statusReturned": false},
                {"group": "apps", "resource": "deployments", "namespace": "app", "name": "web", "inMailbox": true,
                 "statusReturned": true, "executingCount": "1"}]},
            {"syncTarget": "wec2", "heartbeat": "never", "mailbox": "imw1-mb-2", "objects": []}]}]});
        let want = "EdgePlacement web (2 destinations, singleton status)\n\
                    ├─ wec1  heartbeat 2s ago (healthy)  mailbox imw1-mb-1\n\
                    │   ├─ namespaces app\n\
                    │   └─ deployments.apps app/web  status returned, executing-count 1\n\
                    └─ wec2  heartbeat never  mailbox imw1-mb-2\n";
        assert_eq!(tree(&status), want);
        assert_eq!(tree(&json!({"wds": "w", "placements": []})), "no EdgePlacements in w\n");
    }
}
