//! `orrery`: one binary for the whole control plane.

mod crds;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

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
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Version => {
            println!("orrery {} (API {})", env!("CARGO_PKG_VERSION"), orrery_api::API_VERSION);
            Ok(())
        }
        Command::Crds(args) => crds::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
