use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use trove_sim::{run_in_process, RunOptions, RunOutput, Scenario};

/// A small scenario that still exercises everything: sell-outs, contested
/// last units, a restock, the hunt closing before the run ends, duplicate
/// sends, lost requests and retries.
pub const SMALL: &str = r#"
name = "test hunt"
seed = 7
duration_secs = 150

[hunt]
id = "test-hunt"
closes_at_secs = 130
clues = [
  { id = "a", points = 10, difficulty = 0.0 },
  { id = "b", points = 10, difficulty = 0.2 },
  { id = "c", points = 20, difficulty = 0.4 },
  { id = "d", points = 30, difficulty = 0.6 },
]
products = [
  { sku = "sticker", stock = 60, per_player_limit = 1, min_score = 0 },
  { sku = "mug", stock = 25, per_player_limit = 1, min_score = 20 },
  { sku = "hoodie", stock = 5, per_player_limit = 1, min_score = 40 },
]
restocks = [ { at_secs = 70, sku = "mug", add = 10 } ]

[population]
players = 300
arrival = "front_loaded"

[behaviour]
claim_delay_secs = 5
early_claim_share = 0.2
duplicate_share = 0.1
lost_share = 0.05
retries = 2
retry_after_secs = 1
out_of_stock_retry_share = 0.5
out_of_stock_retry_secs = 20

[behaviour.casual]
session_secs = 60
[behaviour.products]
sticker = { appeal = 0.6, units = 2 }
mug = { appeal = 0.7 }
hoodie = { appeal = 0.9 }
"#;

pub fn small() -> Scenario {
    Scenario::parse(SMALL, "small.toml").expect("the test scenario is valid")
}

pub fn run(sc: &Scenario, seed: u64, opts: &RunOptions) -> RunOutput {
    run_in_process(sc, seed, opts, &mut |_, _| {}).expect("the run completes")
}

pub fn sim_bin() -> &'static str {
    env!("CARGO_BIN_EXE_trove-sim")
}

pub fn sim(args: &[&str]) -> Output {
    Command::new(sim_bin()).args(args).output().expect("trove-sim starts")
}

pub fn write_scenario(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

pub fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}
