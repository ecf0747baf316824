//! `orrery prep-for-cluster NAME key=val… -o FILE`: registers a real cluster (its
//! SyncTarget and Location, as `location create`) and writes the YAML bundle that
//! `kubectl apply -f FILE` installs on that cluster to run its syncer: a Namespace, a
//! ServiceAccount with a ClusterRole and binding (the syncer manages whatever its
//! placements send), a Secret with the mailbox kubeconfig (its token opens that mailbox
//! only), and a Deployment running `orrery syncer`.

use crate::location::{Inventory, ensure_location, mailbox_kubeconfig, parse_labels};
use anyhow::Context;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    inventory: Inventory,
    /// The cluster's name in the inventory (SyncTarget and Location).
    name: String,
    /// Its labels, `key=value` (placements select Locations by them).
    labels: Vec<String>,
    /// Where to write the bundle (`-` for stdout).
    #[arg(short = 'o', long, value_name = "FILE")]
    output: PathBuf,
    /// The container image that runs `orrery syncer`.
    #[arg(long, default_value = concat!("ghcr.io/orrery-dev/orrery:", env!("CARGO_PKG_VERSION")))]
    syncer_image: String,
    /// How long to wait for the mailbox controller to issue the mailbox kubeconfig.
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
    timeout: f64,
}

/// The namespace the bundle installs into.
pub fn namespace(name: &str) -> String {
    format!("orrery-syncer-{name}")
}

/// The bundle for cluster `name`, whose syncer uses `mailbox_kubeconfig`.
pub fn bundle(name: &str, mailbox_kubeconfig: &str, image: &str) -> Vec<Value> {
    let ns = namespace(name);
    let labels = json!({"app.kubernetes.io/name": "orrery-syncer", "app.kubernetes.io/instance": name});
    let role = format!("orrery-syncer-{name}");
    vec![
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": labels}}),
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "orrery-syncer", "namespace": ns, "labels": labels}}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": role, "labels": labels},
               "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                         {"nonResourceURLs": ["*"], "verbs": ["get"]}]}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": role, "labels": labels},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
               "subjects": [{"kind": "ServiceAccount", "name": "orrery-syncer", "namespace": ns}]}),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "orrery-mailbox", "namespace": ns, "labels": labels},
               "type": "Opaque", "data": {"kubeconfig": k8s_openapi::ByteString(mailbox_kubeconfig.as_bytes().to_vec())}}),
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "orrery-syncer", "namespace": ns, "labels": labels},
               "spec": {"replicas": 1, "strategy": {"type": "Recreate"}, "selector": {"matchLabels": labels},
                        "template": {"metadata": {"labels": labels},
                                     "spec": {"serviceAccountName": "orrery-syncer",
                                              "containers": [{"name": "syncer", "image": image,
                                                              "args": ["syncer", "--mailbox-kubeconfig", "/etc/orrery/mailbox/kubeconfig",
                                                                       "--metrics-listen", "0.0.0.0:9090"],
                                                              "ports": [{"name": "metrics", "containerPort": 9090}],
                                                              "volumeMounts": [{"name": "mailbox", "mountPath": "/etc/orrery/mailbox", "readOnly": true}]}],
                                              "volumes": [{"name": "mailbox", "secret": {"secretName": "orrery-mailbox"}}]}}}}),
    ]
}

/// YAML documents, `---` between them.
pub fn to_yaml(docs: &[Value]) -> anyhow::Result<String> {
    let mut out = String::new();
    for d in docs {
        out.push_str("---\n");
        out.push_str(&serde_saphyr::to_string(d)?);
    }
    Ok(out)
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let labels = parse_labels(args.labels.iter().map(String::as_str))?;
    let inv = args.inventory.client(&args.inventory.inventory).await?;
    ensure_location(&inv, &args.name, &labels).await?;
    eprintln!("location/{} registered; waiting for its mailbox…", args.name);
    let wait = Duration::try_from_secs_f64(args.timeout).context("--timeout")?;
    let kubeconfig = tokio::time::timeout(wait, mailbox_kubeconfig(&inv, &args.name)).await.map_err(|_| {
        anyhow::anyhow!(
            "no mailbox kubeconfig for {} after {}s: is `orrery controllers` (or `orrery up`) running?",
            args.name,
            args.timeout
        )
    })??;
    let yaml = to_yaml(&bundle(&args.name, &kubeconfig, &args.syncer_image))?;
    if args.output.as_os_str() == "-" {
        print!("{yaml}");
    } else {
        std::fs::write(&args.output, yaml).with_context(|| format!("writing {}", args.output.display()))?;
        eprintln!(
            "wrote {}: `kubectl apply -f {}` on the cluster installs its syncer (namespace {})",
            args.output.display(),
            args.output.display(),
            namespace(&args.name)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundle() {
        let docs = bundle("edge1", "apiVersion: v1\nkind: Config\n", "img:1");
        let kinds: Vec<&str> = docs.iter().filter_map(|d| d["kind"].as_str()).collect();
        assert_eq!(kinds, ["Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Secret", "Deployment"]);
        assert!(
            docs.iter()
                .skip(1)
                .filter(|d| d["kind"] != "ClusterRole" && d["kind"] != "ClusterRoleBinding")
                .all(|d| d["metadata"]["namespace"] == "orrery-syncer-edge1")
        );
        let deployment = &docs[5]["spec"]["template"]["spec"];
        assert_eq!(deployment["containers"][0]["image"], "img:1");
        assert_eq!(deployment["containers"][0]["args"][0], "syncer");
        let secret: k8s_openapi::api::core::v1::Secret = serde_json::from_value(docs[4].clone()).expect("a Secret");
        assert_eq!(secret.data.expect("data")["kubeconfig"].0, b"apiVersion: v1\nkind: Config\n");
        let yaml = to_yaml(&docs).expect("yaml");
        assert_eq!(yaml.matches("---\n").count(), 6);
    }
}
