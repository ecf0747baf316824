//! `orrery bench`: measurements with JSON output, for docs/benchmarks.md.

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
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        Command::Server(a) => server::run(a).await,
    }
}
