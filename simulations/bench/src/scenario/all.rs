//! Scenario `all`: runs events, claims, memory and recovery, each in its own
//! process (this executable again), each with the options of the command
//! line that it takes.

use crate::cli::child_args;
use anyhow::{bail, Context, Result};

/// Runs the four scenarios; `raw` is the command line after `all`.
pub(crate) fn run(raw: &[String]) -> Result<()> {
    let exe = std::env::current_exe()?;
    let mut failed = Vec::new();
    for s in ["events", "claims", "memory", "recovery"] {
        println!("\n================ {s} ================");
        let status = std::process::Command::new(&exe)
            .arg(s)
            .args(child_args(s, raw))
            .status()
            .with_context(|| format!("run {s}"))?;
        if !status.success() {
            failed.push(s);
        }
    }
    if !failed.is_empty() {
        bail!("scenarios failed to run: {failed:?}");
    }
    Ok(())
}
