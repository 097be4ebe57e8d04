//! `trove`: the Trove server and its offline tools.

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
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
    /// Check a data folder offline: replay the whole journal, compare every
    /// snapshot with it, check invariants. The server must not be running.
    Verify {
        /// Data folder [default: ./data] [env: TROVE_DATA]
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
    },
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
            let data = data
                .or_else(|| std::env::var_os("TROVE_DATA").map(PathBuf::from))
                .unwrap_or_else(|| PathBuf::from(trove_api::config::DEFAULT_DATA));
            init_logging("warn")?;
            let report = trove_persistence::verify(&data)?;
            println!(
                "journal: {} records in {} blocks",
                report.journal_last_seq, report.journal_blocks
            );
            for c in &report.checks {
                println!("[{}] {}: {}", if c.ok { "ok" } else { "FAIL" }, c.name, c.detail);
            }
            println!("{}", if report.ok() { "verify: ok" } else { "verify: FAILED" });
            Ok(report.ok())
        }
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
