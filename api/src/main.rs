//! `trove`: the Trove server and its offline tools.

/// mimalloc instead of glibc malloc: the server allocates and frees small
/// buffers per frame and per event on several threads, where glibc's arenas
/// and locks showed as ~35 % of its CPU (docs/BENCHMARKS.md, issue 11).
/// The default; `--no-default-features` builds with glibc malloc. Memory per
/// resident player stays within the 2 KB target with either (BENCHMARKS.md).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use trove_api::{ServeArgs, Settings};

#[derive(Parser)]
#[command(
    name = "trove",
    version,
    about = "Trove: a game-state engine for live treasure hunts"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (WebSocket + HTTP) on a data folder.
    Serve(ServeArgs),
    /// Check a data folder offline: checksums, hash chain and gapless
    /// sequence of the whole journal, replay compared with every snapshot,
    /// invariants. The server must not be running. Exit status 1 on any failure.
    Verify {
        #[command(flatten)]
        data: trove_api::tools::DataArg,
    },
    /// Export journal records (offline; the server must not be running).
    Export(trove_api::tools::ExportArgs),
    /// Audit tools: reports over a time window, verifying an export.
    Audit {
        #[command(subcommand)]
        command: trove_api::tools::AuditCommand,
    },
    /// Recreate snapshots and the audit projection from the journal alone
    /// (offline; the server must not be running).
    Rebuild {
        #[command(flatten)]
        data: trove_api::tools::DataArg,
    },
    /// Retention: remove checkins and interactions older than --older-than
    /// (default 7 days) from journal blocks that every snapshot covers,
    /// keeping the hash chain, every other record, and their counts
    /// (offline; the server must not be running).
    Compact(trove_api::tools::CompactArgs),
    /// Cluster mode (docs/CLUSTER.md).
    Cluster {
        #[command(subcommand)]
        command: ClusterCommand,
    },
}

#[derive(Subcommand)]
enum ClusterCommand {
    /// Partitions, owners, epochs and chain heads, as an auditor records
    /// them. Exit status 1 if a chain head could not be read.
    #[cfg(feature = "cluster")]
    Status(trove_api::ClusterStatusArgs),
    /// Partitions, owners, epochs and chain heads (this build has no
    /// cluster support: build with `--features cluster`).
    #[cfg(not(feature = "cluster"))]
    Status,
}

fn init_logging(filter: &str) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .with_context(|| format!("invalid log level or filter {filter:?}"))?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
    Ok(())
}

fn run(cli: Cli) -> anyhow::Result<bool> {
    match cli.command {
        Command::Serve(args) => {
            let settings = Settings::resolve(&args)?;
            init_logging(&settings.log)?;
            tracing::info!(
                version = env!("CARGO_PKG_VERSION"),
                data = %settings.data.display(),
                listen = %settings.listen,
                durability = ?settings.durability,
                "starting trove"
            );
            actix_web::rt::System::new().block_on(trove_api::serve(settings))?;
            Ok(true)
        }
        Command::Verify { data } => {
            init_logging("warn")?;
            exit_with(trove_api::tools::verify(data)?)
        }
        Command::Export(args) => {
            init_logging("warn")?;
            exit_with(trove_api::tools::export(args)?)
        }
        Command::Audit { command } => {
            init_logging("warn")?;
            exit_with(trove_api::tools::audit(command)?)
        }
        Command::Rebuild { data } => {
            init_logging("warn")?;
            exit_with(trove_api::tools::rebuild(data)?)
        }
        Command::Compact(args) => {
            init_logging("warn")?;
            exit_with(trove_api::tools::compact(args)?)
        }
        #[cfg(feature = "cluster")]
        Command::Cluster {
            command: ClusterCommand::Status(args),
        } => {
            init_logging("warn")?;
            exit_with(trove_api::cluster_status(args)?)
        }
        #[cfg(not(feature = "cluster"))]
        Command::Cluster {
            command: ClusterCommand::Status,
        } => anyhow::bail!(
            "this trove was built without cluster support: build it with `--features cluster` (docs/CLUSTER.md)"
        ),
    }
}

/// Ok(true) for status 0, Ok(false) for 1, exits at once with any other.
fn exit_with(code: i32) -> anyhow::Result<bool> {
    match code {
        0 => Ok(true),
        1 => Ok(false),
        other => std::process::exit(other),
    }
}

fn main() {
    let cli = Cli::parse();
    match run(cli) {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("trove: {e:#}");
            std::process::exit(1);
        }
    }
}
