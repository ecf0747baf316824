//! `orrery`: one binary for the whole control plane.

mod bench;
mod controllers;
mod crds;
mod location;
mod prep;
mod server;
mod space;
mod status;
mod syncer;
mod up;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// mimalloc, not the system allocator: the server and the syncers allocate and free many
/// small JSON values per request, and glibc's malloc spent a quarter of their CPU in its
/// own bookkeeping under load (`orrery bench scale`, docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "orrery", version, about = "A multi-cluster Kubernetes control plane (KubeStellar-compatible)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the version of orrery and of the API it serves.
    Version,
    /// Print or write the CustomResourceDefinitions of orrery's API.
    Crds(crds::Args),
    /// Run the embedded space server: many Kubernetes-compatible spaces under /clusters/<space>.
    Server(server::Args),
    /// Manage spaces: create, list, delete, kubeconfig, token.
    Space(space::Args),
    /// Measure orrery (JSON on stdout, a table on stderr).
    Bench(bench::Args),
    /// Run the controllers (mailbox, scheduler, placement translator, status summarizer)
    /// against a space server.
    Controllers(controllers::Args),
    /// Run a syncer: in a workload execution cluster, dialling inward to its mailbox.
    Syncer(syncer::Args),
    /// Run everything in one process: the space server and the controllers, with an
    /// inventory space (imw1), a workload description space (wds1) and, with --sim-wecs N,
    /// N simulated WECs with their syncers.
    Up(up::UpArgs),
    /// Manage edge clusters in the inventory: a SyncTarget and a Location each.
    Location(location::Args),
    /// Register a real cluster and write the YAML that installs its syncer there.
    PrepForCluster(prep::Args),
    /// Show each EdgePlacement, its destinations and per WEC its sync state.
    Status(status::Args),
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

fn main() -> ExitCode {
    // Warnings and errors by default (a controller that cannot write must say so);
    // `RUST_LOG` overrides.
    let filter = tracing_subscriber::EnvFilter::builder()
        .with_default_directive(tracing_subscriber::filter::LevelFilter::WARN.into())
        .from_env_lossy();
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Version => {
            println!("orrery {} (API {})", env!("CARGO_PKG_VERSION"), orrery_api::API_VERSION);
            Ok(())
        }
        Command::Crds(args) => crds::run(&args),
        Command::Server(args) => runtime().and_then(|rt| rt.block_on(server::run(args))),
        Command::Space(args) => runtime().and_then(|rt| rt.block_on(space::run(args))),
        Command::Bench(args) => runtime().and_then(|rt| rt.block_on(bench::run(args))),
        Command::Controllers(args) => runtime().and_then(|rt| rt.block_on(controllers::controllers(args))),
        Command::Syncer(args) => runtime().and_then(|rt| rt.block_on(syncer::run(args))),
        Command::Up(args) => runtime().and_then(|rt| rt.block_on(up::up(args))),
        Command::Location(args) => runtime().and_then(|rt| rt.block_on(location::run(args))),
        Command::PrepForCluster(args) => runtime().and_then(|rt| rt.block_on(prep::run(args))),
        Command::Status(args) => runtime().and_then(|rt| rt.block_on(status::run(args))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
