//! `orrery space …`: create, list, delete spaces, and hand out a kubeconfig or a token
//! for one. Talks to the root space of the server the admin kubeconfig points at.

use anyhow::{Context, bail};
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, PostParams};
use kube::config::Kubeconfig;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct Args {
    /// The admin kubeconfig (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, global = true, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Create a space and wait until it serves.
    Create {
        name: String,
        /// How long to wait for the space to become Ready.
        #[arg(long, default_value = "60s", value_parser = parse_duration)]
        timeout: Duration,
    },
    /// List spaces.
    List,
    /// Delete a space and everything in it.
    Delete { name: String },
    /// Print a kubeconfig for one space (with the admin's credentials) to stdout.
    Kubeconfig { name: String },
    /// Issue a bearer token that works in this space only, and print it.
    Token { name: String },
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num.parse().map_err(|_| format!("invalid duration {s:?}: use e.g. 30s, 2m"))?;
    match unit {
        "" | "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        "ms" => Ok(Duration::from_millis(n)),
        _ => Err(format!("invalid duration {s:?}: use e.g. 30s, 2m")),
    }
}

pub(crate) fn read_kubeconfig(path: Option<&PathBuf>) -> anyhow::Result<Kubeconfig> {
    match path {
        Some(p) => Kubeconfig::read_from(p).with_context(|| format!("reading {}", p.display())),
        None => Kubeconfig::read().context("reading the kubeconfig ($KUBECONFIG or ~/.kube/config); pass --kubeconfig"),
    }
}

/// The kubeconfig with its current context's server pointed at `space`.
pub(crate) fn for_space(mut kc: Kubeconfig, space: &str) -> anyhow::Result<Kubeconfig> {
    let context_name = kc.current_context.clone().context("the kubeconfig has no current-context")?;
    let cluster_name = kc
        .contexts
        .iter()
        .find(|c| c.name == context_name)
        .and_then(|c| c.context.as_ref())
        .map(|c| c.cluster.clone())
        .context("the current context names no cluster")?;
    let cluster = kc
        .clusters
        .iter_mut()
        .find(|c| c.name == cluster_name)
        .and_then(|c| c.cluster.as_mut())
        .context("the current context's cluster is not in the kubeconfig")?;
    let server = cluster.server.clone().context("the cluster has no server URL")?;
    let base = match server.find("/clusters/") {
        Some(i) => &server[..i],
        None => server.trim_end_matches('/'),
    };
    cluster.server = Some(format!("{base}/clusters/{space}"));
    Ok(kc)
}

pub(crate) async fn client(kc: Kubeconfig) -> anyhow::Result<kube::Client> {
    Ok(orrery_spaces::client_for(kc).await?)
}

fn spaces(client: kube::Client) -> Api<DynamicObject> {
    Api::all_with(client, &orrery_api::space::api_resource())
}

fn phase(s: &DynamicObject) -> String {
    s.data.pointer("/status/phase").and_then(Value::as_str).unwrap_or("Unknown").to_owned()
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let kc = read_kubeconfig(args.kubeconfig.as_ref())?;
    match args.command {
        Command::Kubeconfig { name } => {
            let root = spaces(client(for_space(kc.clone(), "root")?).await?);
            root.get(&name).await.with_context(|| format!("space {name:?}"))?;
            print!("{}", serde_saphyr::to_string(&for_space(kc, &name)?)?);
        }
        Command::Create { name, timeout } => {
            let api = spaces(client(for_space(kc, "root")?).await?);
            let mut obj = DynamicObject::new(&name, &orrery_api::space::api_resource());
            obj.data = json!({});
            api.create(&PostParams::default(), &obj).await.with_context(|| format!("creating space {name:?}"))?;
            eprintln!("space/{name} created; waiting for it to be ready…");
            let until = Instant::now() + timeout;
            loop {
                let s = api.get(&name).await?;
                if phase(&s) == "Ready" {
                    println!("space/{name} ready");
                    break;
                }
                if Instant::now() > until {
                    bail!("space {name:?} is not Ready after {timeout:?} (phase {})", phase(&s));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Command::List => {
            let api = spaces(client(for_space(kc, "root")?).await?);
            let list = api.list(&ListParams::default()).await?;
            println!("{:<40} {:<12}", "NAME", "PHASE");
            for s in list.items {
                println!("{:<40} {:<12}", s.metadata.name.clone().unwrap_or_default(), phase(&s));
            }
        }
        Command::Delete { name } => {
            let api = spaces(client(for_space(kc, "root")?).await?);
            api.delete(&name, &DeleteParams::default()).await.with_context(|| format!("deleting space {name:?}"))?;
            println!("space/{name} deleted");
        }
        Command::Token { name } => {
            let c = client(for_space(kc, &name)?).await?;
            let req = http::Request::post("/api/v1/namespaces/kube-system/serviceaccounts/default/token")
                .header("content-type", "application/json")
                .body(serde_json::to_vec(
                    &json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}}),
                )?)?;
            let resp: Value = c.request(req).await.with_context(|| format!("requesting a token for space {name:?}"))?;
            let token = resp.pointer("/status/token").and_then(Value::as_str).context("the answer carries no token")?;
            println!("{token}");
        }
    }
    Ok(())
}
