//! `orrery bench`: measurements with JSON output, for docs/benchmarks.md.

mod common;
mod controllers;
mod server;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// The space server: creates, gets, lists, watch fan-out, memory, and the raw commit
    /// rate of its storage, measured in one run.
    Server(server::Args),
    /// The mailbox controller and the scheduler at inventory scale: time to N mailboxes,
    /// label change to slice latency, and the scheduler's cost per event.
    Controllers(controllers::Args),
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        Command::Server(a) => server::run(a).await,
        Command::Controllers(a) => controllers::run(a).await,
    }
}
