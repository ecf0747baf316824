//! What the controller benchmarks share: the inventory's shape (KubeStellar's `ensure
//! location`: one Location per SyncTarget, selecting it by `id`) and a pipeline — a server
//! child process with the controllers running in this process.

use super::common::{Child9, client, rss_bytes, start_server};
use kube::config::Kubeconfig;
use orrery_mailbox::MailboxController;
use orrery_runtime::{Metrics, Shutdown};
use orrery_scheduler::SchedulerController;
use orrery_spaces::{EmbeddedProvider, SpaceProvider};
use orrery_summarizer::Summarizer;
use orrery_translator::TranslatorController;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;

pub const INVENTORY: &str = "imw1";
pub const WDS: &str = "wds1";

/// SyncTarget `st-<i>`, labelled with its id and group.
pub fn target(i: usize, group: usize) -> Value {
    json!({"apiVersion": orrery_api::API_VERSION, "kind": "SyncTarget",
           "metadata": {"name": format!("st-{i}"), "uid": format!("uid-{i}"), "labels": {"id": format!("st-{i}"), "group": format!("g{group}")}},
           "spec": {}})
}

pub fn location(name: &str, labels: Value, selector: Value) -> Value {
    json!({"apiVersion": orrery_api::API_VERSION, "kind": "Location",
           "metadata": {"name": name, "labels": labels},
           "spec": {"resource": {"group": "edge.kubestellar.io", "version": "v2alpha1", "resource": "synctargets"},
                    "instanceSelector": {"matchLabels": selector}}})
}

pub fn site_location(i: usize) -> Value {
    let id = format!("st-{i}");
    location(&id, json!({"id": id, "kind": "site"}), json!({"id": id}))
}

/// Which controllers a pipeline runs: the mailbox controller and the scheduler always.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stages {
    Scheduler,
    /// And the placement translator.
    Translator,
    /// And the translator and the status summarizer.
    Summarizer,
}

/// A server with spaces `imw1` and `wds1`, and the controllers running against it.
pub struct Pipeline {
    server: Child9,
    provider: Arc<dyn SpaceProvider>,
    kubeconfig: PathBuf,
    shutdown: Shutdown,
    controllers: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Pipeline {
    /// Starts the server and the controllers of `stages`.
    pub async fn start(workers: usize, stages: Stages) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let (server, _url, kubeconfig) = start_server(&dir.path().join("data"))?;
        let provider: Arc<dyn SpaceProvider> =
            Arc::new(EmbeddedProvider::new(Kubeconfig::read_from(&kubeconfig)?).await?);
        for space in [INVENTORY, WDS] {
            provider.create(space, &Default::default()).await?;
        }
        let shutdown = Shutdown::new();
        let metrics = Metrics::new();
        let mut running = vec![
            tokio::spawn(MailboxController::new(provider.clone(), &metrics).run(shutdown.clone(), workers)),
            tokio::spawn(SchedulerController::new(provider.clone(), &metrics).run(shutdown.clone(), workers)),
        ];
        if stages >= Stages::Translator {
            let translator = TranslatorController::new(provider.clone(), &metrics);
            if stages == Stages::Summarizer
                && let Some(routes) = translator.subscribe_routes()
            {
                let summarizer = Summarizer::new(provider.clone(), provider.clone(), routes, &metrics);
                running.push(tokio::spawn(summarizer.run(shutdown.clone(), workers)));
            }
            running.push(tokio::spawn(translator.run(shutdown.clone(), workers)));
        }
        let controllers = tokio::spawn(async move {
            futures::future::join_all(running).await;
        });
        Ok(Self { server, provider, kubeconfig, shutdown, controllers, _dir: dir })
    }

    /// Creates one more space (e.g. an embedded one playing a WEC) and waits until it is Ready.
    pub async fn create_space(&self, name: &str) -> anyhow::Result<()> {
        Ok(self.provider.create(name, &Default::default()).await?)
    }

    /// The space's own kubeconfig, whose token opens that space only.
    pub async fn space_kubeconfig(&self, name: &str) -> anyhow::Result<Kubeconfig> {
        Ok(self.provider.kubeconfig(name).await?)
    }

    /// A client for a space from the controllers' pool (cheap: one connection pool serves
    /// every space).
    pub async fn space_client(&self, space: &str) -> anyhow::Result<kube::Client> {
        Ok(self.provider.client(space).await?)
    }

    pub async fn client(&self, space: &str) -> anyhow::Result<kube::Client> {
        client(&self.kubeconfig, space).await
    }

    pub fn server_rss_mib(&self) -> anyhow::Result<f64> {
        Ok(rss_bytes(self.server.0.id())? as f64 / 1048576.0)
    }

    /// Stops the controllers, then the server.
    pub async fn stop(self) {
        self.shutdown.trigger();
        let _ = self.controllers.await;
        drop(self.server);
    }
}
