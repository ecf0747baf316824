//! `orrery location create|list|delete`: edge clusters in the inventory, the way
//! KubeStellar's `kubectl kubestellar ensure location` makes them — a SyncTarget and a
//! Location of the same name and labels, the Location selecting the SyncTarget by `id`.

use crate::space::{client, for_space, read_kubeconfig};
use anyhow::Context;
use kube::api::{Api, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams};
use orrery_api::SyncTarget;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Where the inventory is: the admin kubeconfig and the inventory space.
#[derive(clap::Args, Clone)]
pub struct Inventory {
    /// The admin kubeconfig of the center (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, global = true, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The inventory space.
    #[arg(long, global = true, default_value = "imw1")]
    pub inventory: String,
}

impl Inventory {
    pub async fn client(&self, space: &str) -> anyhow::Result<kube::Client> {
        client(for_space(read_kubeconfig(self.kubeconfig.as_ref())?, space)?).await
    }
}

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    inventory: Inventory,
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Create (or update the labels of) a SyncTarget and its Location.
    Create {
        name: String,
        /// Labels, `key=value` (placements select Locations by them).
        labels: Vec<String>,
    },
    /// List the Locations, their labels and their syncer's heartbeat.
    List,
    /// Delete a Location and its SyncTarget (and so its mailbox).
    Delete { name: String },
}

/// `key=value` arguments as labels, every one checked.
pub fn parse_labels<'a>(pairs: impl IntoIterator<Item = &'a str>) -> anyhow::Result<BTreeMap<String, String>> {
    let mut labels = BTreeMap::new();
    for pair in pairs.into_iter().map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').with_context(|| format!("label {pair:?} is not KEY=VALUE"))?;
        let problems: Vec<String> = orrery_api::validation::names::qualified_name(k)
            .into_iter()
            .map(|p| format!("key {k:?}: {p}"))
            .chain(orrery_api::validation::names::label_value(v).into_iter().map(|p| format!("value {v:?}: {p}")))
            .collect();
        anyhow::ensure!(problems.is_empty(), "label {pair:?}: {}", problems.join("; "));
        labels.insert(k.to_owned(), v.to_owned());
    }
    Ok(labels)
}

fn edge(kind: &str, plural: &str) -> kube::api::ApiResource {
    kube::api::ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(orrery_api::GROUP, orrery_api::VERSION, kind),
        plural,
    )
}

/// SyncTarget and Location `name` with `labels` (plus `id=<name>`, which the Location
/// selects by). Applied: running it again changes nothing, or updates the labels.
pub async fn ensure_location(
    inventory: &kube::Client,
    name: &str,
    labels: &BTreeMap<String, String>,
) -> anyhow::Result<()> {
    let problems = orrery_api::validation::names::dns1123_subdomain(name);
    anyhow::ensure!(problems.is_empty(), "location name {name:?}: {}", problems.join("; "));
    let mut labels = labels.clone();
    labels.insert("id".into(), name.into());
    let apply = PatchParams::apply("orrery").force();
    let location_spec = json!({"resource": {"group": orrery_api::GROUP, "version": orrery_api::VERSION, "resource": "synctargets"},
                               "instanceSelector": {"matchLabels": {"id": name}}});
    for (kind, plural, spec) in [("SyncTarget", "synctargets", json!({})), ("Location", "locations", location_spec)] {
        let object = json!({"apiVersion": orrery_api::API_VERSION, "kind": kind,
                            "metadata": {"name": name, "labels": labels}, "spec": spec});
        Api::<DynamicObject>::all_with(inventory.clone(), &edge(kind, plural))
            .patch(name, &apply, &Patch::Apply(&object))
            .await
            .with_context(|| format!("{kind} {name}"))?;
    }
    Ok(())
}

/// The mailbox kubeconfig the mailbox controller leaves for SyncTarget `target` (Secret
/// `kube-system/mailbox-<target>` of the inventory), as soon as it is there: watched, not
/// polled. Callers bound the wait.
pub async fn mailbox_kubeconfig(inventory: &kube::Client, target: &str) -> anyhow::Result<String> {
    use k8s_openapi::api::core::v1::Secret;
    let secrets: Api<Secret> = Api::namespaced(inventory.clone(), "kube-system");
    let name = format!("mailbox-{target}");
    let kubeconfig = |s: Option<&Secret>| s?.data.as_ref()?.get("kubeconfig").map(|b| b.0.clone());
    let secret =
        kube::runtime::wait::await_condition(secrets, &name, move |s: Option<&Secret>| kubeconfig(s).is_some())
            .await
            .with_context(|| format!("watching Secret kube-system/{name}"))?;
    let bytes = kubeconfig(secret.as_ref()).with_context(|| format!("Secret kube-system/{name} has no kubeconfig"))?;
    String::from_utf8(bytes).context("the mailbox kubeconfig is not UTF-8")
}

/// How long ago a SyncTarget's syncer last reported, and whether that is healthy.
pub fn heartbeat(st: &SyncTarget) -> String {
    let Some(status) = &st.status else { return "never".into() };
    let Some(at) = status.last_syncer_heartbeat_time.as_ref() else { return "never".into() };
    let age = jiff::Timestamp::now().duration_since(at.0).as_secs_f64().max(0.0);
    let healthy = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "HeartbeatHealthy")
        .map(|c| if c.status == "True" { "healthy" } else { "silent" })
        .unwrap_or("unknown");
    format!("{age:.0}s ago ({healthy})")
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let inv = args.inventory.client(&args.inventory.inventory).await?;
    match args.command {
        Command::Create { name, labels } => {
            let labels = parse_labels(labels.iter().map(String::as_str))?;
            ensure_location(&inv, &name, &labels).await?;
            println!("location/{name} and synctarget/{name} ready in {}", args.inventory.inventory);
        }
        Command::List => {
            let locations = Api::<DynamicObject>::all_with(inv.clone(), &edge("Location", "locations"))
                .list(&ListParams::default())
                .await?;
            let targets: BTreeMap<String, SyncTarget> = Api::<SyncTarget>::all(inv)
                .list(&ListParams::default())
                .await?
                .items
                .into_iter()
                .filter_map(|s| Some((s.metadata.name.clone()?, s)))
                .collect();
            println!("{:<24} {:<48} HEARTBEAT", "NAME", "LABELS");
            for l in locations.items {
                let name = l.metadata.name.clone().unwrap_or_default();
                let labels: Vec<String> = l
                    .metadata
                    .labels
                    .iter()
                    .flatten()
                    .filter(|(k, _)| *k != "id")
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                let beat = targets.get(&name).map_or_else(|| "no SyncTarget".to_owned(), heartbeat);
                println!("{name:<24} {:<48} {beat}", labels.join(","));
            }
        }
        Command::Delete { name } => {
            for (kind, plural) in [("Location", "locations"), ("SyncTarget", "synctargets")] {
                match Api::<DynamicObject>::all_with(inv.clone(), &edge(kind, plural))
                    .delete(&name, &DeleteParams::default())
                    .await
                {
                    Ok(_) => println!("{}/{name} deleted", kind.to_lowercase()),
                    Err(kube::Error::Api(s)) if s.code == 404 => {
                        println!("{}/{name} was not there", kind.to_lowercase())
                    }
                    Err(e) => return Err(e).with_context(|| format!("deleting {kind} {name}")),
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_checked() {
        let ok = parse_labels(["env=prod", " region=eu-west ", ""]).expect("labels");
        assert_eq!(ok.len(), 2);
        assert_eq!(ok.get("region").map(String::as_str), Some("eu-west"));
        for bad in ["env", "=prod", "env=a b", "bad key=v", "k=-x"] {
            let e = parse_labels([bad]).expect_err(bad).to_string();
            assert!(e.contains(bad.trim()), "{bad}: {e}");
        }
    }
}
