//! The offline tools of the `trove` binary: `export`, `audit report`,
//! `audit verify`, `verify` and `rebuild`. They open a stopped server's data
//! folder through [`Archive`] (which takes the folder's lock, so they refuse
//! to run next to a server) and only read the journal; what they write
//! (snapshots, the audit projection, an export file) is written so that an
//! interruption leaves the old state or the new, never a mix.
//!
//! Each command is a thin shell: the work is trove-audit's (export, verify,
//! reports) or trove-persistence's (verify, compact, rebuild); this module
//! parses flags, opens the folder, draws progress and prints.

use crate::signals;
use anyhow::Context;
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;
use trove_audit::{self as audit, Filters, Format};
use trove_engine::Seq;
use trove_persistence::Archive;

/// Exit status after an interruption (128 + SIGINT).
pub(crate) const EXIT_INTERRUPTED: i32 = 130;

/// `--data DIR`, the data folder every offline tool works on.
#[derive(Args, Debug, Clone)]
pub struct DataArg {
    /// Data folder [default: ./data] [env: TROVE_DATA]
    #[arg(long, value_name = "DIR")]
    pub(crate) data: Option<PathBuf>,
}

impl DataArg {
    /// The folder: the flag, else `TROVE_DATA`, else `./data`.
    pub(crate) fn dir(&self) -> PathBuf {
        self.data
            .clone()
            .or_else(|| std::env::var_os("TROVE_DATA").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from(crate::config::DEFAULT_DATA))
    }
}

/// The cluster partition a data folder is, if it is one: a folder named
/// `partition-NNNNN` holding an `OWNERS` file (docs/CLUSTER.md). Exports
/// name it in their header.
pub(crate) fn folder_partition(dir: &Path) -> Option<u32> {
    let name = dir.canonicalize().ok()?.file_name()?.to_str()?.to_owned();
    let n = name.strip_prefix("partition-")?;
    if n.len() != 5 || !dir.join("OWNERS").is_file() {
        return None;
    }
    n.parse().ok()
}

/// `trove export`: the journal's records with their proofs (JSONL) or as a flat table (CSV).
#[derive(Args, Debug, Clone)]
pub struct ExportArgs {
    #[command(flatten)]
    pub(crate) data: DataArg,
    /// jsonl (with hash-chain proofs, verifiable with `trove audit verify`) or csv (no proofs)
    #[arg(long, default_value = "jsonl", value_name = "FORMAT")]
    pub(crate) format: String,
    /// Write to FILE (atomically: a temporary file renamed when complete) instead of stdout
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
    /// Records committed at or after this time (RFC 3339, or unix ms)
    #[arg(long, value_name = "TIME")]
    pub(crate) from: Option<String>,
    /// Records committed before this time (RFC 3339, or unix ms)
    #[arg(long, value_name = "TIME")]
    pub(crate) to: Option<String>,
    /// Records of this hunt only
    #[arg(long, value_name = "HUNT")]
    pub(crate) hunt: Option<String>,
    /// Records of this player only (claims and events)
    #[arg(long, value_name = "PLAYER")]
    pub(crate) player: Option<String>,
    /// Record types, comma-separated: claims, events, hunts, stock (or claim,
    /// clue_found, checkin, interaction, hunt_defined, stock_added)
    #[arg(long = "type", value_name = "TYPES")]
    pub(crate) types: Option<String>,
    /// Records with a sequence number greater than this
    #[arg(long, value_name = "SEQ")]
    pub(crate) after_seq: Option<Seq>,
    /// Records with a sequence number at most this
    #[arg(long, value_name = "SEQ")]
    pub(crate) until_seq: Option<Seq>,
    /// Leave out block lines of blocks without matching records (smaller, but
    /// the hash chain is no longer continuous: see docs/AUDIT.md)
    #[arg(long)]
    pub(crate) no_proof: bool,
}

/// `trove compact`: retention of telemetry.
#[derive(Args, Debug, Clone)]
pub struct CompactArgs {
    #[command(flatten)]
    pub(crate) data: DataArg,
    /// Compact telemetry (checkin, interaction) committed longer ago than
    /// this: 7d, 36h, 90m, 45s [default: 7d] [env: TROVE_RETENTION]
    #[arg(long, value_name = "AGE")]
    pub(crate) older_than: Option<String>,
}

/// `trove audit SUBCOMMAND`: the offline audit tools.
#[derive(Subcommand, Debug, Clone)]
pub enum AuditCommand {
    /// Counts of claims per hunt, product and outcome, and of events per type,
    /// over a time window (from the audit rollups; no journal scan).
    Report {
        /// The data folder.
        #[command(flatten)]
        data: DataArg,
        /// Window start (RFC 3339 or unix ms; rounded down to the second) [default: the beginning]
        #[arg(long, value_name = "TIME")]
        from: Option<String>,
        /// Window end, exclusive (RFC 3339 or unix ms; rounded up to the second) [default: the end]
        #[arg(long, value_name = "TIME")]
        to: Option<String>,
        /// table or json
        #[arg(long, default_value = "table", value_name = "FORMAT")]
        format: String,
    },
    /// Checks a JSONL export: every line against the hash chain, the chain
    /// itself, order, its start, completeness, the filters and the footer;
    /// with --head, its end against a chain head recorded earlier.
    Verify {
        /// The export (`-` for stdin)
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// A chain head you recorded earlier (`trove verify` prints it as
        /// `chain head: seq SEQ, block hash HASH`; an export's footer as
        /// last_seq, last_hash): the export must hold the block ending at SEQ
        /// with that hash. The only way to detect a cut at the end.
        #[arg(long, value_name = "SEQ:HASH")]
        head: Option<String>,
    },
}

/// SIGINT/SIGTERM set a flag that long loops poll, so they stop cleanly.
fn catch_interrupts() -> anyhow::Result<()> {
    signals::install().context("install SIGINT and SIGTERM handlers")
}

fn interrupted() -> bool {
    signals::interrupted()
}

/// A progress bar on stderr when it is a terminal; hidden otherwise (pipes, CI).
fn progress_bar(total: u64, what: &str, bytes: bool) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    let template = if bytes {
        "{msg} [{bar:40}] {bytes}/{total_bytes} ({binary_bytes_per_sec}, eta {eta})"
    } else {
        "{msg} [{bar:40}] seq {human_pos}/{human_len} ({elapsed}, eta {eta})"
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_owned());
    bar
}

fn open_archive(dir: &Path) -> anyhow::Result<Archive> {
    if !dir.join("journal").exists() {
        anyhow::bail!("{} is not a Trove data folder (no journal/ in it)", dir.display());
    }
    Archive::open(dir).with_context(|| format!("open {}", dir.display()))
}

/// Exports into `path` atomically: a private temporary file next to it,
/// synced, then renamed; removed again on any failure.
fn export_to_file(
    archive: &Archive,
    filters: &Filters,
    format: Format,
    path: &Path,
    progress: &mut dyn FnMut(Seq),
) -> anyhow::Result<audit::ExportSummary> {
    let name = path
        .file_name()
        .ok_or_else(|| anyhow::anyhow!("{} is not a file name", path.display()))?;
    let tmp = path.with_file_name(format!(".{}.tmp-{}", name.to_string_lossy(), std::process::id()));
    // Exports hold customs data (names, addresses): readable by the
    // owner only, whatever the umask. A stale temporary file of an
    // earlier run with this pid is replaced, not reused with its mode.
    let _ = std::fs::remove_file(&tmp);
    let file = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("create {}", tmp.display()))?
    };
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    let r = audit::export(archive, filters, format, Seq::MAX, &mut w, progress, &interrupted);
    let r = r.map_err(anyhow::Error::from).and_then(|sum| {
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path).with_context(|| format!("rename to {}", path.display()))?;
        Ok(sum)
    });
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    r
}

/// `trove export`. Returns the exit status.
pub fn export(a: ExportArgs) -> anyhow::Result<i32> {
    let format = Format::parse(&a.format).map_err(anyhow::Error::msg)?;
    let filters = Filters::parse(
        a.from.as_deref(),
        a.to.as_deref(),
        a.hunt.as_deref(),
        a.player.as_deref(),
        a.types.as_deref(),
        a.after_seq,
        a.until_seq,
        a.no_proof,
    )
    .map_err(anyhow::Error::msg)?;
    let dir = a.data.dir();
    let filters = audit::Filters {
        partition: folder_partition(&dir),
        ..filters
    };
    let archive = open_archive(&dir)?;
    let bar = progress_bar(archive.last_seq()?, "export", false);
    catch_interrupts()?;
    let started = Instant::now();
    let mut progress = |seq: Seq| bar.set_position(seq);
    let output = a.output.filter(|p| p.as_os_str() != "-");
    let result = match &output {
        Some(path) => export_to_file(&archive, &filters, format, path, &mut progress),
        None => {
            let stdout = std::io::stdout();
            let mut w = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
            match audit::export(
                &archive,
                &filters,
                format,
                Seq::MAX,
                &mut w,
                &mut progress,
                &interrupted,
            ) {
                // A reader that stopped early (`| head`) is not an error.
                Err(audit::ExportError::Io(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(0),
                r => r.map_err(anyhow::Error::from),
            }
        }
    };
    bar.finish_and_clear();
    match result {
        Ok(sum) => {
            let secs = started.elapsed().as_secs_f64();
            let range = match (sum.first_seq, sum.last_seq) {
                (Some(a), Some(b)) => format!("seq {a}..{b}"),
                _ => "no records in range".into(),
            };
            let blocks = match format {
                Format::Jsonl => format!("{} blocks, ", sum.blocks),
                Format::Csv => String::new(),
            };
            eprintln!(
                "exported {} records ({blocks}{range}) in {secs:.2} s ({:.0} records/s){}",
                sum.records,
                sum.records as f64 / secs.max(1e-9),
                output.map(|p| format!(" to {}", p.display())).unwrap_or_default()
            );
            Ok(0)
        }
        Err(e)
            if matches!(
                e.downcast_ref::<audit::ExportError>(),
                Some(audit::ExportError::Interrupted)
            ) =>
        {
            eprintln!("export interrupted; no output file was written");
            Ok(EXIT_INTERRUPTED)
        }
        Err(e) => Err(e),
    }
}

/// `trove audit ...`. Returns the exit status.
pub fn audit(cmd: AuditCommand) -> anyhow::Result<i32> {
    match cmd {
        AuditCommand::Report { data, from, to, format } => {
            let parse = |s: Option<String>| s.map(|s| audit::parse_time(&s).map_err(anyhow::Error::msg)).transpose();
            let (from, to) = (parse(from)?, parse(to)?);
            let json = match format.as_str() {
                "json" => true,
                "table" => false,
                other => anyhow::bail!("unknown format {other:?} (expected table or json)"),
            };
            let archive = open_archive(&data.dir())?;
            let (a, b) = audit::report_window(from, to);
            let started = Instant::now();
            let rollup = archive.report(a, b)?;
            let elapsed = started.elapsed();
            if json {
                println!("{}", audit::report_json(&rollup, from, to));
            } else {
                print!("{}", audit::report_table(&rollup, from, to));
                println!("\n(report computed in {:.1} ms)", elapsed.as_secs_f64() * 1e3);
            }
            Ok(0)
        }
        AuditCommand::Verify { file, head } => {
            let head = head
                .map(|h| audit::ChainHead::parse(&h))
                .transpose()
                .map_err(|e| anyhow::anyhow!("--head: {e}"))?;
            let (input, len): (Box<dyn std::io::BufRead>, u64) = if file.as_os_str() == "-" {
                (Box::new(std::io::BufReader::new(std::io::stdin().lock())), 0)
            } else {
                let f = std::fs::File::open(&file).with_context(|| format!("open {}", file.display()))?;
                let len = f.metadata().map(|m| m.len()).unwrap_or(0);
                (Box::new(std::io::BufReader::with_capacity(1 << 20, f)), len)
            };
            let bar = progress_bar(len, "verify", true);
            let outcome = audit::verify_export(input, head, &mut |bytes| bar.set_position(bytes));
            bar.finish_and_clear();
            print!("{}", outcome.render());
            Ok(if outcome.ok() { 0 } else { 1 })
        }
    }
}

/// `trove verify`: the whole journal (checksums, leaf roots, chain, gapless
/// sequence), replay against every snapshot, invariants. Returns the exit status.
pub fn verify(data: DataArg) -> anyhow::Result<i32> {
    let archive = open_archive(&data.dir())?;
    let bar = progress_bar(archive.last_seq()?, "verify", false);
    let report = archive.verify_with_progress(|seq| bar.set_position(seq));
    bar.finish_and_clear();
    let report = report?;
    match report.journal_last_hash {
        Some(h) => {
            println!(
                "journal: {} records in {} blocks",
                report.journal_last_seq, report.journal_blocks
            );
            println!(
                "chain head: seq {}, block hash {}",
                report.journal_last_seq,
                blake3::Hash::from(h).to_hex()
            );
        }
        None => println!(
            "journal: cannot be read past seq {} (see the failed checks)",
            report.journal_last_seq
        ),
    }
    if let Some(w) = &report.replayed {
        println!("digest: {}", w.digest());
    }
    for c in &report.checks {
        println!("[{}] {}: {}", if c.ok { "ok" } else { "FAIL" }, c.name, c.detail);
    }
    let failed = report.checks.iter().filter(|c| !c.ok).count();
    if failed == 0 {
        println!("verify: ok ({} checks passed)", report.checks.len());
        Ok(0)
    } else {
        println!("verify: FAILED ({failed} of {} checks failed)", report.checks.len());
        Ok(1)
    }
}

/// `trove compact`: removes telemetry older than the retention age from the
/// journal blocks every snapshot covers (see `trove_persistence::retention`).
pub fn compact(args: CompactArgs) -> anyhow::Result<i32> {
    catch_interrupts()?;
    let age_text = args
        .older_than
        .clone()
        .or_else(|| std::env::var("TROVE_RETENTION").ok())
        .unwrap_or_else(|| "7d".into());
    let age = trove_persistence::retention::parse_age(&age_text).map_err(|e| anyhow::anyhow!("--older-than: {e}"))?;
    let dir = args.data.dir();
    let archive = open_archive(&dir)?;
    let snapshot_bound = archive.oldest_snapshot_seq()?;
    if snapshot_bound == 0 {
        println!(
            "compact: nothing to do: no valid snapshot covers any of the journal (the server writes them; so does `trove rebuild`)"
        );
        return Ok(0);
    }
    let checkpoint = trove_readmodel::checkpoint::checkpoint_seq(&dir);
    let bound = checkpoint.map_or(snapshot_bound, |c| c.min(snapshot_bound));
    let cutoff = audit::now_ms() - i64::try_from(age.as_millis()).unwrap_or(i64::MAX);
    println!(
        "compact: telemetry committed before {} ({age_text} ago) in blocks ending at or before seq {bound} (oldest snapshot {snapshot_bound}{})",
        audit::format_ms(cutoff),
        checkpoint.map_or(String::new(), |c| format!(", leaderboard checkpoint {c}"))
    );
    let journal_dir = dir.join("journal");
    let disk_before = dir_bytes(&journal_dir);
    let bar = progress_bar(archive.last_seq()?, "compact", false);
    let started = Instant::now();
    let report = archive.compact(bound, cutoff, &mut |seq| bar.set_position(seq), &interrupted);
    bar.finish_and_clear();
    let r = report?;
    if r.interrupted {
        eprintln!("compact: interrupted; the journal is unchanged (the partial copy was removed)");
        return Ok(EXIT_INTERRUPTED);
    }
    if r.blocks == 0 {
        println!(
            "nothing to compact: {}",
            r.stopped_by.as_deref().unwrap_or("no eligible block")
        );
        println!("compact: ok in {:.2} s", started.elapsed().as_secs_f64());
        let _ = std::io::stdout().flush();
        return Ok(0);
    }
    println!(
        "copied {} blocks: compacted {} in {} runs, already compacted {}, kept whole {} (they define a hunt)",
        r.blocks, r.blocks_compacted, r.runs, r.blocks_already_compacted, r.blocks_with_hunt_definitions
    );
    let mb = |b: u64| b as f64 / 1e6;
    println!(
        "removed {} telemetry records, kept {} records in those blocks: {:.1} MB -> {:.1} MB of blocks",
        r.records_removed,
        r.records_kept,
        mb(r.bytes_before),
        mb(r.bytes_after)
    );
    if r.blocks_compacted > 0 {
        println!(
            "journal on disk: {:.1} MB -> {:.1} MB",
            mb(disk_before),
            mb(dir_bytes(&journal_dir))
        );
    }
    if let Some(why) = &r.stopped_by {
        println!("retention reached seq {}: {why}", r.reached_seq);
    }
    println!("compact: ok in {:.2} s", started.elapsed().as_secs_f64());
    let _ = std::io::stdout().flush();
    Ok(0)
}

/// Bytes of the files under `path` (0 if unreadable): what the journal takes on disk.
fn dir_bytes(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// `trove rebuild`: snapshots and the audit projection from the journal alone.
pub fn rebuild(data: DataArg) -> anyhow::Result<i32> {
    let dir = data.dir();
    let archive = open_archive(&dir)?;
    let bar = progress_bar(archive.last_seq()?, "rebuild", false);
    let started = Instant::now();
    let report = archive.rebuild(|seq| bar.set_position(seq));
    bar.finish_and_clear();
    let report = report?;
    let total = started.elapsed().as_secs_f64();
    println!(
        "replayed {} records in {:.3} s: {:.0} records/s",
        report.records,
        report.replay_seconds,
        report.records as f64 / report.replay_seconds.max(1e-9)
    );
    println!("players: {}", report.players);
    println!("digest: {}", report.digest);
    println!("snapshot: {}", report.snapshot.display());
    println!("audit projection: rebuilt");
    // The leaderboard checkpoint is derived data too: drop it, so the next
    // `trove serve` rebuilds the projection from the journal alone.
    match std::fs::remove_file(dir.join(trove_readmodel::checkpoint::CHECKPOINT_FILE)) {
        Ok(()) => println!("leaderboard checkpoint: removed (rebuilt from the journal at the next start)"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => anyhow::bail!("could not remove the leaderboard checkpoint: {e}"),
    }
    println!("rebuild: ok in {total:.2} s");
    let _ = std::io::stdout().flush();
    Ok(0)
}
