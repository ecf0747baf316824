//! `orrery bench`: measurements with JSON output, for docs/benchmarks.md.

mod common;
mod controllers;
mod fields;
mod inventory;
mod scale;
mod server;
mod summarizer;
mod syncer;
mod translator;

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
    /// The placement translator: a WDS write until every mailbox copy is written, for
    /// 1 to 10,000 destinations.
    Translator(translator::Args),
    /// The syncer: a mailbox change until it is applied in the WEC, and the syncer's memory
    /// idle and with 1,000 synced objects.
    Syncer(syncer::Args),
    /// The status summarizer: a WEC's status in its mailbox until the WDS shows it (the
    /// object's status, its CombinedStatus), one WEC at a time and all at once.
    Summarizer(summarizer::Args),
    /// The space server's field tracking alone, in this process: what a create, an apply
    /// and a status write of a copy, and an apply over a long keyed list, cost it.
    Fields(fields::Args),
    /// The whole pipeline at scale: one workload on N simulated WECs with real syncers
    /// over HTTPS, every stage timed per WEC, the center's CPU and memory, updates, and a
    /// correctness check at the end.
    Scale(scale::Args),
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        Command::Server(a) => server::run(a).await,
        Command::Controllers(a) => controllers::run(a).await,
        Command::Translator(a) => translator::run(a).await,
        Command::Syncer(a) => syncer::run(a).await,
        Command::Summarizer(a) => summarizer::run(a).await,
        Command::Fields(a) => fields::run(a).await,
        Command::Scale(a) => scale::run(a).await,
    }
}
