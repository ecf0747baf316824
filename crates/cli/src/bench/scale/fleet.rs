//! The simulated WECs of a scale run: their spaces on the WEC server, their SyncTarget and
//! Location in the center's inventory, their mailbox kubeconfigs, and one real syncer each
//! dialling its mailbox over HTTPS with its own token.

use super::observe::Index;
use super::workload::WEC_LABEL;
use crate::location::ensure_location;
use crate::up::INVENTORY;
use anyhow::Context;
use futures::{StreamExt, TryStreamExt};
use indicatif::ProgressBar;
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use kube::config::Kubeconfig;
use kube::runtime::{WatchStreamExt, watcher};
use orrery_api::SyncTarget;
use orrery_runtime::{Metrics, Shutdown};
use orrery_spaces::{SpaceProvider, client_for};
use orrery_syncer::{Settings, Syncer};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use tokio::task::JoinSet;

pub struct Fleet {
    pub names: Vec<String>,
    pub index: Arc<Index>,
    /// Each WEC's mailbox kubeconfig, as the mailbox controller issued it.
    kubeconfigs: Vec<Kubeconfig>,
}

pub fn wec_name(i: usize) -> String {
    format!("wec{}", i + 1)
}

/// The space a mailbox kubeconfig opens: its server URL's `/clusters/<space>`.
pub fn space_of(kc: &Kubeconfig) -> Option<String> {
    let server = kc.clusters.first()?.cluster.as_ref()?.server.as_deref()?;
    let path = server.parse::<http::Uri>().ok()?.path().to_owned();
    Some(path.strip_prefix("/clusters/")?.trim_end_matches('/').to_owned())
}

/// Makes `n` WECs: a space each on the WEC server and an inventory entry each in the
/// center, `clients` at a time; then waits for every mailbox kubeconfig.
pub async fn register(
    center: &dyn SpaceProvider,
    wecs: &dyn SpaceProvider,
    n: usize,
    clients: usize,
    bar: &ProgressBar,
) -> anyhow::Result<Fleet> {
    let inventory = center.client(INVENTORY).await?;
    let names: Vec<String> = (0..n).map(wec_name).collect();
    bar.set_length(n as u64);
    bar.set_message("WEC spaces and inventory entries");
    futures::stream::iter(names.iter().map(|name| {
        let inventory = inventory.clone();
        async move {
            wecs.create(name, &Default::default()).await.with_context(|| format!("creating WEC space {name}"))?;
            let labels =
                BTreeMap::from([(WEC_LABEL.0.to_owned(), WEC_LABEL.1.to_owned()), ("name".into(), name.clone())]);
            ensure_location(&inventory, name, &labels).await?;
            bar.inc(1);
            anyhow::Ok(())
        }
    }))
    .buffer_unordered(clients.max(1))
    .try_collect::<Vec<()>>()
    .await?;

    bar.set_position(0);
    bar.set_message("mailboxes (their kubeconfig Secrets in the inventory)");
    let by_name = mailbox_kubeconfigs(inventory, &names, bar).await?;
    let mut kubeconfigs = Vec::with_capacity(n);
    let mut mailboxes = HashMap::with_capacity(n);
    for (i, name) in names.iter().enumerate() {
        let kc = by_name.get(name).cloned().with_context(|| format!("no mailbox kubeconfig for {name}"))?;
        let space = space_of(&kc).with_context(|| format!("{name}'s mailbox kubeconfig names no space"))?;
        mailboxes.insert(space, i);
        kubeconfigs.push(kc);
    }
    let wec_index = names.iter().enumerate().map(|(i, n)| (n.clone(), i)).collect();
    Ok(Fleet { names, index: Arc::new(Index { wecs: wec_index, mailboxes }), kubeconfigs })
}

/// Watches the inventory's `kube-system/mailbox-<name>` Secrets until every WEC has one.
async fn mailbox_kubeconfigs(
    inventory: kube::Client,
    names: &[String],
    bar: &ProgressBar,
) -> anyhow::Result<HashMap<String, Kubeconfig>> {
    let wanted: std::collections::HashSet<&str> = names.iter().map(String::as_str).collect();
    let secrets: Api<Secret> = Api::namespaced(inventory, "kube-system");
    let mut events = watcher(secrets, watcher::Config::default()).default_backoff().applied_objects().boxed();
    let mut found = HashMap::with_capacity(names.len());
    while found.len() < names.len() {
        let secret = events.next().await.context("the Secret watch ended")??;
        let Some(target) = secret.metadata.name.as_deref().and_then(|n| n.strip_prefix("mailbox-")) else { continue };
        if !wanted.contains(target) || found.contains_key(target) {
            continue;
        }
        let Some(bytes) = secret.data.as_ref().and_then(|d| d.get("kubeconfig")) else { continue };
        let kc = Kubeconfig::from_yaml(std::str::from_utf8(&bytes.0)?)?;
        found.insert(target.to_owned(), kc);
        bar.inc(1);
    }
    Ok(found)
}

impl Fleet {
    /// Starts one syncer per WEC (mailbox client with the mailbox's own token; WEC client
    /// from the WEC server's shared pool) and waits until every SyncTarget has heard from
    /// its syncer. The syncers run until `shutdown`; the set ends as they do.
    pub async fn start_syncers(
        &self,
        center: &dyn SpaceProvider,
        wecs: &dyn SpaceProvider,
        settings: &Settings,
        shutdown: &Shutdown,
        bar: &ProgressBar,
    ) -> anyhow::Result<JoinSet<()>> {
        let metrics = Metrics::new();
        bar.set_position(0);
        bar.set_message("syncers started");
        let mut syncers = JoinSet::new();
        for (name, kc) in self.names.iter().zip(&self.kubeconfigs) {
            let mailbox = client_for(kc.clone()).await?;
            let wec = wecs.client(name).await?;
            syncers.spawn(Syncer::new(mailbox, wec, settings.clone(), &metrics).run(shutdown.clone()));
            bar.inc(1);
        }
        bar.set_position(0);
        bar.set_message("syncers reporting in (SyncTarget heartbeats)");
        let targets: Api<SyncTarget> = Api::all(center.client(INVENTORY).await?);
        let mut events = watcher(targets, watcher::Config::default()).default_backoff().applied_objects().boxed();
        let mut heard = std::collections::HashSet::with_capacity(self.names.len());
        while heard.len() < self.names.len() {
            let target = events.next().await.context("the SyncTarget watch ended")??;
            let beat = target.status.as_ref().and_then(|s| s.last_syncer_heartbeat_time.as_ref()).is_some();
            if let Some(name) = target.metadata.name.filter(|n| beat && self.index.wecs.contains_key(n))
                && heard.insert(name)
            {
                bar.inc(1);
            }
        }
        Ok(syncers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mailbox_kubeconfig_names_its_space() {
        let kc = |server: &str| {
            Kubeconfig::from_yaml(&format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {server}\n"
            ))
            .expect("kubeconfig")
        };
        assert_eq!(space_of(&kc("https://127.0.0.1:4000/clusters/imw1-mb-abc")).as_deref(), Some("imw1-mb-abc"));
        assert_eq!(space_of(&kc("https://127.0.0.1:4000/clusters/imw1-mb-abc/")).as_deref(), Some("imw1-mb-abc"));
        assert_eq!(space_of(&kc("https://127.0.0.1:4000")), None);
        assert_eq!(wec_name(0), "wec1");
    }
}
